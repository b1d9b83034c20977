"""Fine-grained checks of every scheduled job (`kind: job`) in the Compute stack, per
environment: the EventBridge Scheduler schedule and its dead-letter queue, the Step Functions
state machine that runs the task (family, not revision; timeout; exit-code check), its
logging, the task definition, both roles' statements, the stack output, and that no ECS
service runs a job.

A job's resources are found by their logical-id prefix, the job's name (its construct id).
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from config.services import DATABASE_VARIABLES, Service
from stacks.compute_stack import LEGACY_IDS
from tests.conftest import NEW_STAGE, SHIPPED_STAGES, Synth
from tests.helpers import is_key_arn, key_of, only, props, ref_id, resources

STAGES = (*SHIPPED_STAGES, NEW_STAGE)
KEY = LEGACY_IDS["key"]
#: The database's credentials reach a task as ECS secrets; host, port and name as plain values.
DB_SECRETS = {"DB_USERNAME", "DB_PASSWORD"}


def _t(synth: Synth, stage: str) -> dict[str, Any]:
    return synth.template(stage, "Compute")


def _jobs(synth: Synth, stage: str) -> dict[str, Service]:
    return {n: s for n, s in synth.configs[stage].services.items() if s.kind == "job"}


def _prefix(name: str) -> str:
    return name.replace("-", "")


def _of(template: dict[str, Any], name: str, type_name: str) -> dict[str, dict[str, Any]]:
    """Resources of `type_name` that belong to job `name` (logical ids start with its name)."""
    return {k: r for k, r in resources(template, type_name).items() if k.startswith(_prefix(name))}


def _one(template: dict[str, Any], name: str, type_name: str) -> tuple[str, dict[str, Any]]:
    ((logical_id, resource),) = _of(template, name, type_name).items()
    return logical_id, resource


def _id(name: str, construct_id: str) -> str:
    """The logical-id stem of a construct directly inside the job (`cleanupStateMachine`)."""
    return f"{_prefix(name)}{construct_id}"


def _named(template: dict[str, Any], name: str, type_name: str, construct_id: str) -> str:
    """The logical id of the job's `construct_id` resource of `type_name` (stem + hash)."""
    stem = _id(name, construct_id)
    (logical_id,) = [
        k for k in _of(template, name, type_name) if re.fullmatch(f"{stem}[0-9A-F]{{8}}", k)
    ]
    return logical_id


#: The hash CDK appends to the name of the Network stack's output of the shared key's ARN.
_SHARED_KEY_OUTPUT_SUFFIX = "56337E81"


def _key(synth: Synth, stage: str) -> str:
    """The logical id of the key the Compute stack encrypts with (the Network stack's when
    `data_protection.shared_key`)."""
    return key_of(synth, stage, "Compute")[1]


def _rendered(value: Any) -> str:
    """A CloudFormation string as text: `${Id}` for a Ref, `${Id.Attr}` for a GetAtt,
    `${Output:Name}` for another stack's output."""
    if isinstance(value, str):
        return value
    if "Fn::Join" in value:
        separator, parts = value["Fn::Join"]
        return str(separator).join(_rendered(p) for p in parts)
    if "Ref" in value:
        return f"${{{value['Ref']}}}"
    if "Fn::GetAtt" in value:
        resource, attribute = value["Fn::GetAtt"]
        return f"${{{resource}.{attribute}}}"
    if "Fn::GetStackOutput" in value:
        return f"${{Output:{value['Fn::GetStackOutput']['OutputName']}}}"
    raise AssertionError(f"unexpected intrinsic {value!r}")


def _definition(template: dict[str, Any], name: str) -> dict[str, Any]:
    _, machine = _one(template, name, "AWS::StepFunctions::StateMachine")
    definition: dict[str, Any] = json.loads(_rendered(props(machine)["DefinitionString"]))
    return definition


def _task(template: dict[str, Any], name: str) -> tuple[str, dict[str, Any]]:
    logical_id, task = _one(template, name, "AWS::ECS::TaskDefinition")
    return logical_id, props(task)


def _container(task: dict[str, Any], container: str = "app") -> dict[str, Any]:
    (found,) = [c for c in task["ContainerDefinitions"] if c["Name"] == container]
    return dict(found)


def _policy_statements(template: dict[str, Any], role_id: str) -> list[dict[str, Any]]:
    """Every statement of every policy attached to `role_id` (inline and managed)."""
    role = props(template["Resources"][role_id])
    statements = [s for p in role.get("Policies", []) for s in p["PolicyDocument"]["Statement"]]
    for arn in role.get("ManagedPolicyArns", []):
        policy = template["Resources"][ref_id(arn)]
        assert policy["Type"] == "AWS::IAM::ManagedPolicy", "no AWS managed policy on a job role"
        statements.extend(props(policy)["PolicyDocument"]["Statement"])
    for policy in resources(template, "AWS::IAM::Policy").values():
        if {"Ref": role_id} in props(policy)["Roles"]:
            statements.extend(props(policy)["PolicyDocument"]["Statement"])
    return statements


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _by_sid(statements: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Sid -> (sorted actions, rendered resources, condition), every statement an Allow."""
    assert all(s["Effect"] == "Allow" for s in statements)
    assert len({s["Sid"] for s in statements}) == len(statements)
    return {
        s["Sid"]: {
            "actions": sorted(_as_list(s["Action"])),
            "resources": sorted(_rendered(r) for r in _as_list(s["Resource"])),
            "condition": s.get("Condition"),
        }
        for s in statements
    }


def _env(synth: Synth, stage: str) -> tuple[str, str]:
    """(account, region) of the stage's Compute stack (every stage names both)."""
    environment = synth.artifacts[(stage, "Compute")]["environment"]
    account, region = str(environment).removeprefix("aws://").split("/")
    return account, region


def _cluster(template: dict[str, Any]) -> str:
    cluster_id, _ = only(template, "AWS::ECS::Cluster")
    return cluster_id


# --------------------------------------------------------------------------- config


@pytest.mark.parametrize("stage", STAGES)
def test_every_stage_has_the_shipped_cleanup_job(synth: Synth, stage: str) -> None:
    """The shipped defaults define `cleanup`, so every test below checks at least one job."""
    job = _jobs(synth, stage)["cleanup"]
    assert job.schedule == "cron(0 3 * * ? *)"
    assert job.timezone == "Asia/Tokyo"
    assert job.flexible_window_minutes == 15
    assert (job.retry.attempts, job.retry.max_event_age_seconds) == (2, 3600)
    assert job.timeout_minutes == 30
    assert job.database is True
    assert job.image.directory == "services/api"
    assert job.command == ("python", "-m", "sample_api", "cleanup")


# --------------------------------------------------------------------------- schedule


@pytest.mark.parametrize("stage", STAGES)
def test_schedule_expression_window_retries_and_target(synth: Synth, stage: str) -> None:
    template = _t(synth, stage)
    for name, job in _jobs(synth, stage).items():
        _, schedule = _one(template, name, "AWS::Scheduler::Schedule")
        p = props(schedule)
        assert p["ScheduleExpression"] == job.schedule
        assert p["ScheduleExpressionTimezone"] == job.timezone
        assert p["State"] == "ENABLED"
        window = job.flexible_window_minutes
        assert p["FlexibleTimeWindow"] == (
            {"Mode": "FLEXIBLE", "MaximumWindowInMinutes": window} if window else {"Mode": "OFF"}
        )
        # The schedule's payload is encrypted with the cluster's customer-managed key.
        assert is_key_arn(p["KmsKeyArn"], _key(synth, stage))
        assert "GroupName" not in p  # the default group, which the role's trust names
        target = p["Target"]
        machine_id, _ = _one(template, name, "AWS::StepFunctions::StateMachine")
        assert target["Arn"] == {"Ref": machine_id}
        role_id = _named(template, name, "AWS::IAM::Role", "ScheduleRole")
        assert target["RoleArn"] == {"Fn::GetAtt": [role_id, "Arn"]}
        assert target["RetryPolicy"] == {
            "MaximumRetryAttempts": job.retry.attempts,
            "MaximumEventAgeInSeconds": job.retry.max_event_age_seconds,
        }
        queue_id, _ = _one(template, name, "AWS::SQS::Queue")
        assert target["DeadLetterConfig"] == {"Arn": {"Fn::GetAtt": [queue_id, "Arn"]}}
        assert "Input" not in target


@pytest.mark.parametrize("stage", STAGES)
def test_dead_letter_queue_is_encrypted_ssl_only_and_kept_14_days(synth: Synth, stage: str) -> None:
    template = _t(synth, stage)
    for name in _jobs(synth, stage):
        queue_id, queue = _one(template, name, "AWS::SQS::Queue")
        assert queue_id == _named(template, name, "AWS::SQS::Queue", "DeadLetterQueue")
        p = props(queue)
        assert is_key_arn(p["KmsMasterKeyId"], _key(synth, stage))
        assert p["MessageRetentionPeriod"] == 14 * 24 * 3600
        assert "RedrivePolicy" not in p  # it is the dead-letter queue
        _, policy = _one(template, name, "AWS::SQS::QueuePolicy")
        assert props(policy)["Queues"] == [{"Ref": queue_id}]
        (deny,) = props(policy)["PolicyDocument"]["Statement"]
        assert deny["Effect"] == "Deny"
        assert deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}


# --------------------------------------------------------------------------- state machine


@pytest.mark.parametrize("stage", STAGES)
def test_state_machine_runs_the_family_with_a_timeout(synth: Synth, stage: str) -> None:
    config = synth.configs[stage]
    template = _t(synth, stage)
    for name, job in _jobs(synth, stage).items():
        definition = _definition(template, name)
        run = definition["States"][definition["StartAt"]]
        assert definition["StartAt"] == f"Run {name}"
        assert run["Type"] == "Task"
        # Run a job (.sync): the state waits for the task to stop.
        assert run["Resource"] == "arn:${AWS::Partition}:states:::ecs:runTask.sync"
        # Step Functions stops the task when the state times out.
        assert run["TimeoutSeconds"] == job.timeout_minutes * 60
        assert "Retry" not in run  # a half-done run is never started again by the machine
        p = run["Parameters"]
        assert p["Cluster"] == f"${{{_cluster(template)}.Arn}}"
        # The family, not a revision: ECS runs its latest revision (e.g. the pipeline's).
        _, task = _task(template, name)
        assert p["TaskDefinition"] == task["Family"]
        assert ":" not in p["TaskDefinition"]
        assert p["LaunchType"] == "FARGATE"
        assert p["PlatformVersion"] == "LATEST"
        assert "Overrides" not in p  # the task definition's command, cpu and memory
        network = p["NetworkConfiguration"]["AwsvpcConfiguration"]
        public = config.compute.subnets == "public"
        assert network.get("AssignPublicIp", "DISABLED") == ("ENABLED" if public else "DISABLED")
        group = "Public" if public else "Private"
        assert len(network["Subnets"]) == len(config.network.availability_zones)
        assert all(
            s.startswith(f"${{Output:PublishOutputRefNetworkVpc{group}Subnet")
            for s in network["Subnets"]
        )
        group_id, _ = _one(template, name, "AWS::EC2::SecurityGroup")
        assert network["SecurityGroups"] == [f"${{{group_id}.GroupId}}"]


@pytest.mark.parametrize("stage", STAGES)
def test_state_machine_fails_on_a_nonzero_or_missing_exit_code(synth: Synth, stage: str) -> None:
    template = _t(synth, stage)
    for name in _jobs(synth, stage):
        definition = _definition(template, name)
        states = definition["States"]
        run = states[f"Run {name}"]
        # The app container picked by name: with tracing, the X-Ray daemon is a second one.
        assert run["ResultSelector"] == {
            "ExitCode.$": "$.Containers[?(@.Name == 'app')].ExitCode",
            "TaskArn.$": "$.TaskArn",
        }
        check = states[run["Next"]]
        assert check["Type"] == "Choice"
        missing, zero = check["Choices"]
        assert missing == {
            "Not": {"Variable": "$.ExitCode[0]", "IsPresent": True},
            "Next": f"{name} stopped without an exit code",
        }
        assert zero == {
            "Variable": "$.ExitCode[0]",
            "NumericEquals": 0,
            "Next": f"{name} succeeded",
        }
        assert check["Default"] == f"{name} exited non-zero"
        assert states[f"{name} succeeded"] == {"Type": "Succeed"}
        non_zero = states[f"{name} exited non-zero"]
        assert non_zero["Type"] == "Fail"
        assert non_zero["Error"] == "NonZeroExitCode"
        assert non_zero["CausePath"] == (
            f"States.Format('Job {name}: container app exited with code {{}} (task {{}})', "
            "$.ExitCode[0], $.TaskArn)"
        )
        no_code = states[f"{name} stopped without an exit code"]
        assert no_code["Type"] == "Fail"
        assert no_code["Error"] == "NoExitCode"
        assert no_code["CausePath"].startswith(f"States.Format('Job {name}: container app ")
        assert set(states) == {
            f"Run {name}",
            f"{name} exit code?",
            f"{name} succeeded",
            f"{name} exited non-zero",
            f"{name} stopped without an exit code",
        }


@pytest.mark.parametrize("stage", STAGES)
def test_state_machine_logs_all_to_an_encrypted_expiring_group_and_traces(
    synth: Synth, stage: str
) -> None:
    template = _t(synth, stage)
    for name, job in _jobs(synth, stage).items():
        machine_id, machine = _one(template, name, "AWS::StepFunctions::StateMachine")
        p = props(machine)
        assert p["StateMachineType"] == "STANDARD"
        assert p["TracingConfiguration"] == {"Enabled": True}
        logging = p["LoggingConfiguration"]
        assert logging["Level"] == "ALL"
        assert logging["IncludeExecutionData"] is True
        (destination,) = logging["Destinations"]
        group_id = _named(template, name, "AWS::Logs::LogGroup", "StateMachineLogGroup")
        assert destination["CloudWatchLogsLogGroup"]["LogGroupArn"] == {
            "Fn::GetAtt": [group_id, "Arn"]
        }
        group = props(template["Resources"][group_id])
        assert is_key_arn(group["KmsKeyId"], _key(synth, stage))
        assert group["RetentionInDays"] == job.log_retention_days
        assert group["LogGroupName"].startswith("/aws/vendedlogs/states/")
        role_id = _named(template, name, "AWS::IAM::Role", "StateMachineRole")
        assert p["RoleArn"] == {"Fn::GetAtt": [role_id, "Arn"]}
        assert machine_id == _named(
            template, name, "AWS::StepFunctions::StateMachine", "StateMachine"
        )


# --------------------------------------------------------------------------- task


@pytest.mark.parametrize("stage", STAGES)
def test_task_definition_and_container(synth: Synth, stage: str) -> None:
    template = _t(synth, stage)
    config = synth.configs[stage]
    for name, job in _jobs(synth, stage).items():
        _, task = _task(template, name)
        assert (task["Cpu"], task["Memory"]) == (str(job.cpu), str(job.memory_mib))
        assert task["RuntimePlatform"]["CpuArchitecture"] == job.architecture
        assert task["RequiresCompatibilities"] == ["FARGATE"]
        app = _container(task)
        assert app["Command"] == list(job.command or ())
        assert app["Essential"] is True
        # A job serves no requests: no port mapping, no PORT.
        assert "PortMappings" not in app
        environment = {e["Name"] for e in app.get("Environment", [])}
        assert "PORT" not in environment
        secrets = {s["Name"] for s in app.get("Secrets", [])}
        assert secrets == (DB_SECRETS if job.database else set()) | set(job.secrets)
        db_plain = set(DATABASE_VARIABLES) - DB_SECRETS
        assert (db_plain <= environment) is job.database
        log = app["LogConfiguration"]
        assert log["LogDriver"] == "awslogs"
        log_group_id = _named(template, name, "AWS::Logs::LogGroup", "LogGroup")
        assert log["Options"]["awslogs-group"] == {"Ref": log_group_id}
        _assert_image(template, name, job, app["Image"], bool(config.pipeline))
        daemons = [c for c in task["ContainerDefinitions"] if c["Name"] != "app"]
        assert [c["Name"] for c in daemons] == (
            ["xray-daemon"] if config.observability.tracing else []
        )


def _assert_image(
    template: dict[str, Any], name: str, job: Service, image: Any, pipeline: bool
) -> None:
    """The configured image (an asset: the content-addressed asset repository; ECR: the
    repository and tag), or with a pipeline the tag it released to the job's own repository
    while released (the ReleasedImageTag parameter)."""
    configured = image
    if pipeline and job.image.source == "asset":
        condition, configured, released = image["Fn::If"]
        assert condition.startswith(_id(name, "Unreleased"))
        repository_id, _ = _one(template, name, "AWS::ECR::Repository")
        text = json.dumps(released)
        assert {"Ref": repository_id} in released["Fn::Join"][1]
        assert f'"{_id(name, "ReleasedImageTag")}' in text
    if job.image.source == "asset":
        assert "container-assets" in configured["Fn::Sub"]
    else:
        assert _rendered(configured).endswith(f"/{job.image.repository}:{job.image.tag}")


@pytest.mark.parametrize("stage", STAGES)
def test_security_group_only_https_out_and_the_database(synth: Synth, stage: str) -> None:
    template = _t(synth, stage)
    for name, job in _jobs(synth, stage).items():
        group_id, group = _one(template, name, "AWS::EC2::SecurityGroup")
        p = props(group)
        assert "SecurityGroupIngress" not in p
        assert p["SecurityGroupEgress"] == [
            {
                "CidrIp": "0.0.0.0/0",
                "Description": "HTTPS to AWS APIs",
                "FromPort": 443,
                "IpProtocol": "tcp",
                "ToPort": 443,
            }
        ]
        egress = [
            props(r)
            for r in resources(template, "AWS::EC2::SecurityGroupEgress").values()
            if props(r)["GroupId"] == {"Fn::GetAtt": [group_id, "GroupId"]}
        ]
        if not job.database:
            assert egress == []
            continue
        # The database (its proxy, where there is one) admits the job on its port, the one
        # the task is given as DB_PORT.
        _, task = _task(template, name)
        environment = {e["Name"]: e["Value"] for e in _container(task)["Environment"]}
        port = int(environment["DB_PORT"])
        (rule,) = egress
        assert (rule["IpProtocol"], rule["FromPort"], rule["ToPort"]) == ("tcp", port, port)
        destination = (
            "DatabaseProxySecurityGroup"
            if synth.configs[stage].database.proxy
            else "DatabaseSecurityGroup"
        )
        assert destination in _rendered(rule["DestinationSecurityGroupId"])


# --------------------------------------------------------------------------- roles


@pytest.mark.parametrize("stage", STAGES)
def test_state_machine_role_least_privilege(synth: Synth, stage: str) -> None:
    template = _t(synth, stage)
    account, region = _env(synth, stage)
    cluster = _cluster(template)
    for name in _jobs(synth, stage):
        role_id = _named(template, name, "AWS::IAM::Role", "StateMachineRole")
        role = props(template["Resources"][role_id])
        (trust,) = role["AssumeRolePolicyDocument"]["Statement"]
        assert trust["Principal"] == {"Service": "states.amazonaws.com"}
        assert trust["Condition"] == {"StringEquals": {"aws:SourceAccount": account}}
        assert "Policies" not in role  # no inline policy: one customer managed policy
        _, task = _task(template, name)
        family = task["Family"]
        task_role, execution_role = (
            task["TaskRoleArn"]["Fn::GetAtt"][0],
            task["ExecutionRoleArn"]["Fn::GetAtt"][0],
        )
        arn = f"arn:aws:{{}}:{region}:{account}:{{}}"
        assert _by_sid(_policy_statements(template, role_id)) == {
            "RunJobTask": {
                "actions": ["ecs:RunTask"],
                "resources": [arn.format("ecs", f"task-definition/{family}:*")],
                "condition": {"ArnEquals": {"ecs:cluster": {"Fn::GetAtt": [cluster, "Arn"]}}},
            },
            "WatchAndStopJobTasks": {
                "actions": ["ecs:DescribeTasks", "ecs:StopTask"],
                "resources": [arn.format("ecs", f"task/${{{cluster}}}/*")],
                "condition": None,
            },
            "PassJobTaskRoles": {
                "actions": ["iam:PassRole"],
                "resources": sorted([f"${{{task_role}.Arn}}", f"${{{execution_role}.Arn}}"]),
                "condition": {"StringEquals": {"iam:PassedToService": "ecs-tasks.amazonaws.com"}},
            },
            "HearWhenTasksStop": {
                "actions": ["events:DescribeRule", "events:PutRule", "events:PutTargets"],
                "resources": [arn.format("events", "rule/StepFunctionsGetEventsForECSTaskRule")],
                "condition": None,
            },
            "DeliverExecutionLogs": {
                "actions": [
                    "logs:CreateLogDelivery",
                    "logs:DeleteLogDelivery",
                    "logs:DescribeLogGroups",
                    "logs:DescribeResourcePolicies",
                    "logs:GetLogDelivery",
                    "logs:ListLogDeliveries",
                    "logs:PutResourcePolicy",
                    "logs:UpdateLogDelivery",
                ],
                "resources": ["*"],
                "condition": None,
            },
            "XRayTraces": {
                "actions": [
                    "xray:GetSamplingRules",
                    "xray:GetSamplingTargets",
                    "xray:PutTelemetryRecords",
                    "xray:PutTraceSegments",
                ],
                "resources": ["*"],
                "condition": None,
            },
        }


@pytest.mark.parametrize("stage", STAGES)
def test_schedule_role_only_starts_this_machine_and_dead_letters(synth: Synth, stage: str) -> None:
    template = _t(synth, stage)
    account, region = _env(synth, stage)
    for name in _jobs(synth, stage):
        role_id = _named(template, name, "AWS::IAM::Role", "ScheduleRole")
        role = props(template["Resources"][role_id])
        (trust,) = role["AssumeRolePolicyDocument"]["Statement"]
        assert trust["Principal"] == {"Service": "scheduler.amazonaws.com"}
        assert trust["Condition"] == {
            "StringEquals": {
                "aws:SourceAccount": account,
                "aws:SourceArn": f"arn:aws:scheduler:{region}:{account}:schedule-group/default",
            }
        }
        assert "Policies" not in role
        machine_id, _ = _one(template, name, "AWS::StepFunctions::StateMachine")
        queue_id, _ = _one(template, name, "AWS::SQS::Queue")
        key_id = _key(synth, stage)
        # Its own key's ARN, or the Network stack's output of the shared one.
        key = (
            f"${{{key_id}.Arn}}"
            if key_id == KEY
            else f"${{Output:PublishOutputFnGetAtt{key_id}Arn{_SHARED_KEY_OUTPUT_SUFFIX}}}"
        )
        assert _by_sid(_policy_statements(template, role_id)) == {
            "StartJob": {
                "actions": ["states:StartExecution"],
                "resources": [f"${{{machine_id}}}"],
                "condition": None,
            },
            "DeadLetterUnstartedRuns": {
                "actions": ["sqs:SendMessage"],
                "resources": [f"${{{queue_id}.Arn}}"],
                "condition": None,
            },
            "DecryptWithKey": {"actions": ["kms:Decrypt"], "resources": [key], "condition": None},
            "EncryptDeadLettersThroughSqs": {
                "actions": ["kms:GenerateDataKey"],
                "resources": [key],
                "condition": {"StringEquals": {"kms:ViaService": f"sqs.{region}.amazonaws.com"}},
            },
        }


@pytest.mark.parametrize("stage", STAGES)
def test_task_roles_hold_only_the_jobs_own_grants(synth: Synth, stage: str) -> None:
    template = _t(synth, stage)
    config = synth.configs[stage]
    for name, job in _jobs(synth, stage).items():
        _, task = _task(template, name)
        task_role = task["TaskRoleArn"]["Fn::GetAtt"][0]
        actions = {
            a for s in _policy_statements(template, task_role) for a in _as_list(s["Action"])
        }
        # Nothing of ECS, IAM or Step Functions: the code cannot start or pass anything.
        assert not {a for a in actions if a.split(":")[0] in ("ecs", "iam", "states")}
        assert any(a.startswith("xray:") for a in actions) is config.observability.tracing
        assert any(a.startswith("s3:") for a in actions) is (job.storage != "none")
        execution_role = task["ExecutionRoleArn"]["Fn::GetAtt"][0]
        statements = _policy_statements(template, execution_role)
        reads = [s for s in statements if "secretsmanager:GetSecretValue" in _as_list(s["Action"])]
        assert bool(reads) is (job.database or bool(job.secrets))


# --------------------------------------------------------------------------- output, no service


@pytest.mark.parametrize("stage", STAGES)
def test_output_names_the_task_definition_family(synth: Synth, stage: str) -> None:
    template = _t(synth, stage)
    for name in _jobs(synth, stage):
        _, task = _task(template, name)
        output = template["Outputs"][f"{_prefix(name)}JobTaskDefinitionFamily"]
        assert output["Value"] == task["Family"]


@pytest.mark.parametrize("stage", STAGES)
def test_no_ecs_service_runs_a_job(synth: Synth, stage: str) -> None:
    template = _t(synth, stage)
    for name in _jobs(synth, stage):
        assert _of(template, name, "AWS::ECS::Service") == {}
        task_id, _ = _task(template, name)
        for service in resources(template, "AWS::ECS::Service").values():
            assert props(service)["TaskDefinition"] != {"Ref": task_id}
