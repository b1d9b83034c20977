"""Fine-grained checks of the Pipeline stack per environment: stage and action order, the
approval, source and trigger, the Build action, least-privilege roles of Migrate and Deploy,
encryption, notifications and the GitHub deploy role."""

from __future__ import annotations

import json
from typing import Any

import pytest
import yaml

from l3_constructs.limits import CLOUDFRONT_REGION
from tests.conftest import NEW_STAGE, SHIPPED_STAGES, Synth
from tests.helpers import only, props, ref_id, resources

STAGES = (*SHIPPED_STAGES, NEW_STAGE)


def _t(synth: Synth, stage: str) -> dict[str, Any]:
    return synth.template(stage, "Pipeline")


def _pipeline(template: dict[str, Any]) -> dict[str, Any]:
    return props(only(template, "AWS::CodePipeline::Pipeline")[1])


def _actions(template: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Action name -> action (every stage of the shipped pipeline holds one action)."""
    return {a["Name"]: a for s in _pipeline(template)["Stages"] for a in s["Actions"]}


def _project(template: dict[str, Any], action: str) -> dict[str, Any]:
    project_id = ref_id(_actions(template)[action]["Configuration"]["ProjectName"])
    return props(template["Resources"][project_id])


def _env(project: dict[str, Any]) -> dict[str, Any]:
    return {e["Name"]: e["Value"] for e in project["Environment"].get("EnvironmentVariables", [])}


def _buildspec(project: dict[str, Any]) -> dict[str, Any]:
    spec: dict[str, Any] = yaml.safe_load(project["Source"]["BuildSpec"])
    return spec


def _commands(project: dict[str, Any]) -> list[str]:
    phases = _buildspec(project)["phases"]
    return [c for phase in phases.values() for c in phase.get("commands", [])]


def _statements(template: dict[str, Any], role_id: str) -> list[dict[str, Any]]:
    return [
        s
        for p in resources(template, "AWS::IAM::Policy").values()
        if {"Ref": role_id} in props(p)["Roles"]
        for s in props(p)["PolicyDocument"]["Statement"]
    ]


def _role_statements(template: dict[str, Any], action: str) -> list[dict[str, Any]]:
    return _statements(template, ref_id(_project(template, action)["ServiceRole"]))


def _actions_of(statement: dict[str, Any]) -> set[str]:
    actions = statement["Action"]
    return set(actions if isinstance(actions, list) else [actions])


def _listed(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _granting(statements: list[dict[str, Any]], action: str) -> list[dict[str, Any]]:
    return [s for s in statements if action in _actions_of(s)]


def _origin(synth: Synth, stage: str, value: Any) -> Any:
    """What a weak cross-stack reference (`Fn::GetStackOutput`) reads: the output's value in
    the producing stack's template."""
    if not (isinstance(value, dict) and "Fn::GetStackOutput" in value):
        return value
    ref = value["Fn::GetStackOutput"]
    stack = ref["StackName"].split("-", 1)[1]
    return synth.template(stage, stack)["Outputs"][ref["OutputName"]]["Value"]


def _task_roles(synth: Synth, stage: str, container: str) -> set[str]:
    """Logical ids of the task role and execution role of the task with `container`."""
    for task in resources(synth.template(stage, "Compute"), "AWS::ECS::TaskDefinition").values():
        p = props(task)
        if p["ContainerDefinitions"][0]["Name"] == container:
            return {ref_id(p["TaskRoleArn"]), ref_id(p["ExecutionRoleArn"])}
    raise AssertionError(f"no task definition with container {container!r}")


def _expected_order(synth: Synth, stage: str) -> list[str]:
    pipeline = synth.configs[stage].pipeline
    assert pipeline is not None
    return [
        "Source",
        "Build",
        *(["Approve"] if pipeline.approval else []),
        "Migrate",
        "Deploy",
        *(["Invalidate"] if pipeline.invalidation_paths else []),
        "Smoke",
    ]


@pytest.mark.parametrize("stage", STAGES)
def test_stage_and_action_order(synth: Synth, stage: str) -> None:
    pipeline = _pipeline(_t(synth, stage))
    assert pipeline["PipelineType"] == "V2"
    stages = pipeline["Stages"]
    assert [s["Name"] for s in stages] == _expected_order(synth, stage)
    providers = {
        s["Name"]: [
            (a["ActionTypeId"]["Category"], a["ActionTypeId"]["Provider"]) for a in s["Actions"]
        ]
        for s in stages
    }
    assert providers.pop("Source") == [("Source", "CodeStarSourceConnection")]
    if "Approve" in providers:
        assert providers.pop("Approve") == [("Approval", "Manual")]
    # Build, Migrate, Deploy, Invalidate and Smoke: one CodeBuild project each.
    for name, actions in providers.items():
        assert actions == [("Build", "CodeBuild")], name


def test_shipped_order_is_the_issue_order(synth: Synth) -> None:
    assert _expected_order(synth, "Prod") == [
        "Source", "Build", "Approve", "Migrate", "Deploy", "Invalidate", "Smoke",
    ]  # fmt: skip
    assert "Approve" not in _expected_order(synth, "Test")


@pytest.mark.parametrize("stage", STAGES)
def test_approval_exactly_where_config_says(synth: Synth, stage: str) -> None:
    template = _t(synth, stage)
    approval = synth.configs[stage].pipeline.approval  # type: ignore[union-attr]
    manual = [a for a in _actions(template).values() if a["ActionTypeId"]["Provider"] == "Manual"]
    if approval is None:
        assert manual == []
        return
    (action,) = manual
    topic_id = ref_id(action["Configuration"]["NotificationArn"])
    topic = props(template["Resources"][topic_id])
    assert "KmsMasterKeyId" in topic
    emails = {
        props(s)["Endpoint"]
        for s in resources(template, "AWS::SNS::Subscription").values()
        if props(s)["TopicArn"] == {"Ref": topic_id}
    }
    assert emails == set(approval.emails)
    assert "#{Source.CommitId}" in action["Configuration"]["CustomData"]


@pytest.mark.parametrize("stage", STAGES)
def test_source_branch_and_trigger(synth: Synth, stage: str) -> None:
    config = synth.configs[stage].pipeline
    assert config is not None
    template = _t(synth, stage)
    source = _actions(template)["GitHub"]["Configuration"]
    assert source == {
        "ConnectionArn": config.connection_arn,
        "FullRepositoryId": config.repository,
        "BranchName": config.branch,
    }
    assert config.branch == ("main" if stage == "Prod" else "develop")
    (trigger,) = _pipeline(template)["Triggers"]
    assert trigger["ProviderType"] == "CodeStarSourceConnection"
    assert trigger["GitConfiguration"]["SourceActionName"] == "GitHub"
    tags = [{"Tags": {"Includes": list(config.tags)}}] if config.tags else []
    assert trigger["GitConfiguration"]["Push"] == [
        {"Branches": {"Includes": [config.branch]}},
        *tags,
    ]
    assert config.tags == (("v*",) if stage == "Prod" else ())


@pytest.mark.parametrize("stage", STAGES)
def test_the_commit_sha_is_the_image_tag_everywhere(synth: Synth, stage: str) -> None:
    for name, action in _actions(_t(synth, stage)).items():
        if action["ActionTypeId"]["Provider"] != "CodeBuild":
            continue
        variables = json.loads(action["Configuration"]["EnvironmentVariables"])
        assert {"name": "IMAGE_TAG", "type": "PLAINTEXT", "value": "#{Source.CommitId}"} in (
            variables
        ), name


@pytest.mark.parametrize("stage", STAGES)
def test_build_runs_the_configured_commands_and_pushes_both_tags(synth: Synth, stage: str) -> None:
    config = synth.configs[stage]
    build = config.pipeline.build  # type: ignore[union-attr]
    template = _t(synth, stage)
    project = _project(template, "Build")
    environment = project["Environment"]
    assert environment["PrivilegedMode"] is True  # Docker
    arm = config.compute.architecture == "ARM64"
    assert environment["Type"] == ("ARM_CONTAINER" if arm else "LINUX_CONTAINER")
    assert environment["ComputeType"] == f"BUILD_GENERAL1_{build.compute_type.upper()}"
    assert project["TimeoutInMinutes"] == build.timeout_minutes
    env = _env(project)
    assert env["LATEST_TAG"] == config.latest_image_tag
    assert env["DOCKER_DIRECTORY"] == build.docker_directory
    commands = "\n".join(_commands(project))
    for command in (*build.install_commands, *build.test_commands, *build.build_commands):
        assert command in commands
    # Install and test come before the Docker build; both tags are pushed.
    assert commands.index(build.test_commands[0]) < commands.index("docker build")
    assert '"$REPOSITORY_URI:$IMAGE_TAG"' in commands
    assert '"$REPOSITORY_URI:$LATEST_TAG"' in commands
    assert commands.count("docker push") >= 2
    cache = project["Cache"]
    if build.cache == "s3":
        assert cache["Type"] == "S3"
        assert "--cache-from" in commands
    else:
        assert cache["Type"] == "LOCAL"
        assert "LOCAL_DOCKER_LAYER_CACHE" in cache["Modes"]


@pytest.mark.parametrize("stage", STAGES)
def test_build_may_push_only_to_this_environments_repository(synth: Synth, stage: str) -> None:
    template = _t(synth, stage)
    statements = _role_statements(template, "Build")
    (push,) = _granting(statements, "ecr:PutImage")
    repository = _origin(synth, stage, push["Resource"])
    repo_id, _ = only(synth.template(stage, "Compute"), "AWS::ECR::Repository")
    assert ref_id(repository) == repo_id
    (token,) = _granting(statements, "ecr:GetAuthorizationToken")
    assert _actions_of(token) == {"ecr:GetAuthorizationToken"}  # the one action needing "*"


@pytest.mark.parametrize("stage", STAGES)
def test_migrate_runs_the_shared_runner_with_the_new_image(synth: Synth, stage: str) -> None:
    project = _project(_t(synth, stage), "Migrate")
    commands = _commands(project)
    (run,) = [c for c in commands if "scripts.migrate" in c]
    assert '--stack-name "$COMPUTE_STACK"' in run
    assert '--image "$REPOSITORY_URI:$IMAGE_TAG"' in run
    assert f"--timeout {synth.configs[stage].migration.timeout_minutes * 60}" in run
    assert _env(project)["COMPUTE_STACK"] == f"{stage}-Compute"
    assert project["Environment"].get("PrivilegedMode") is not True


@pytest.mark.parametrize("stage", STAGES)
def test_migrate_role_is_scoped_to_the_migration_task(synth: Synth, stage: str) -> None:
    template = _t(synth, stage)
    statements = _role_statements(template, "Migrate")
    (passing,) = _granting(statements, "iam:PassRole")
    assert passing["Condition"] == {
        "StringEquals": {"iam:PassedToService": "ecs-tasks.amazonaws.com"}
    }
    passed = {ref_id(_origin(synth, stage, r)) for r in _listed(passing["Resource"])}
    assert passed == _task_roles(synth, stage, "migration")
    (run,) = _granting(statements, "ecs:RunTask")
    family = f"{stage}ComputeMigrationTaskDefinition"
    assert f":task-definition/{family}" in run["Resource"]
    assert run["Resource"].endswith(":*")
    cluster = _origin(synth, stage, run["Condition"]["ArnEquals"]["ecs:cluster"])
    assert ref_id(cluster) == only(synth.template(stage, "Compute"), "AWS::ECS::Cluster")[0]
    (stacks,) = _granting(statements, "cloudformation:DescribeStacks")
    assert stacks["Resource"].endswith(f":stack/{stage}-Compute/*")
    assert not _granting(statements, "ecs:UpdateService")
    assert not _granting(statements, "ssm:PutParameter")


@pytest.mark.parametrize("stage", STAGES)
def test_deploy_role_may_update_only_this_service(synth: Synth, stage: str) -> None:
    template = _t(synth, stage)
    statements = _role_statements(template, "Deploy")
    (update,) = _granting(statements, "ecs:UpdateService")
    service_id, _ = only(synth.template(stage, "Compute"), "AWS::ECS::Service")
    assert _origin(synth, stage, update["Resource"]) == {"Ref": service_id}
    (passing,) = _granting(statements, "iam:PassRole")
    assert passing["Condition"] == {
        "StringEquals": {"iam:PassedToService": "ecs-tasks.amazonaws.com"}
    }
    passed = {ref_id(_origin(synth, stage, r)) for r in _listed(passing["Resource"])}
    assert passed == _task_roles(synth, stage, "app")
    (record,) = _granting(statements, "ssm:PutParameter")
    name = synth.configs[stage].release_parameter_name
    assert record["Resource"].endswith(f":parameter{name}")
    # "*" only where ECS offers no resource-level permission.
    for statement in statements:
        if statement["Resource"] == "*":
            assert _actions_of(statement) <= {
                "ecs:DescribeTaskDefinition",
                "ecs:RegisterTaskDefinition",
            }, statement
    assert not _granting(statements, "ecs:RunTask")


@pytest.mark.parametrize("stage", STAGES)
def test_deploy_runs_the_release_script_and_records_the_tag(synth: Synth, stage: str) -> None:
    project = _project(_t(synth, stage), "Deploy")
    (run,) = [c for c in _commands(project) if "scripts.release" in c]
    for flag in ("--cluster", "--service", "--container", "--repository-uri", "--tag"):
        assert flag in run
    env = _env(project)
    assert env["RELEASE_PARAMETER"] == synth.configs[stage].release_parameter_name
    assert env["CONTAINER"] == "app"


@pytest.mark.parametrize("stage", STAGES)
def test_invalidation_and_smoke_test(synth: Synth, stage: str) -> None:
    config = synth.configs[stage]
    pipeline = config.pipeline
    assert pipeline is not None
    template = _t(synth, stage)
    invalidate = _project(template, "Invalidate")
    (run,) = [c for c in _commands(invalidate) if "scripts.invalidate" in c]
    for path in pipeline.invalidation_paths:
        assert f"--path '{path}'" in run or f'--path "{path}"' in run or f"--path {path}" in run
    distribution = _env(invalidate)["DISTRIBUTION_ID"]["Fn::GetStackOutput"]
    assert (distribution["StackName"], distribution["Region"]) == (
        f"{stage}-Edge",
        CLOUDFRONT_REGION,
    )
    (cloudfront,) = _granting(
        _role_statements(template, "Invalidate"), "cloudfront:CreateInvalidation"
    )
    assert ":distribution/" in json.dumps(cloudfront["Resource"])

    smoke = _project(template, "Smoke")
    assert _env(smoke)["SMOKE_URL"] == f"https://{config.edge.domain_names[0]}/api/health"
    (run,) = [c for c in _commands(smoke) if "scripts.smoke" in c]
    assert f"--attempts {pipeline.smoke_test.attempts}" in run
    # The smoke test needs no AWS permission beyond its logs, key and artifacts.
    for statement in _role_statements(template, "Smoke"):
        assert all(a.split(":")[0] in {"logs", "kms", "s3"} for a in _actions_of(statement))


@pytest.mark.parametrize("stage", STAGES)
def test_artifact_bucket_is_encrypted_ssl_only_and_expires(synth: Synth, stage: str) -> None:
    template = _t(synth, stage)
    key_id, key = only(template, "AWS::KMS::Key")
    assert props(key)["EnableKeyRotation"] is True
    store = _pipeline(template)["ArtifactStore"]
    assert store["EncryptionKey"] == {"Id": {"Fn::GetAtt": [key_id, "Arn"]}, "Type": "KMS"}
    bucket_id = ref_id(store["Location"])
    bucket = props(template["Resources"][bucket_id])
    (rule,) = bucket["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    assert rule["ServerSideEncryptionByDefault"] == {
        "SSEAlgorithm": "aws:kms",
        "KMSMasterKeyID": {"Fn::GetAtt": [key_id, "Arn"]},
    }
    assert all(bucket["PublicAccessBlockConfiguration"].values())
    assert "LoggingConfiguration" in bucket
    days = synth.configs[stage].pipeline.artifact_retention_days  # type: ignore[union-attr]
    assert days in [r.get("ExpirationInDays") for r in bucket["LifecycleConfiguration"]["Rules"]]
    (policy,) = [
        props(p)["PolicyDocument"]["Statement"]
        for p in resources(template, "AWS::S3::BucketPolicy").values()
        if props(p)["Bucket"] == {"Ref": bucket_id}
    ]
    denies = [s for s in policy if s["Effect"] == "Deny"]
    assert {"Bool": {"aws:SecureTransport": "false"}} in [s["Condition"] for s in denies]
    assert {"NumericLessThan": {"s3:TlsVersion": 1.2}} in [s["Condition"] for s in denies]


@pytest.mark.parametrize("stage", STAGES)
def test_projects_are_encrypted_and_log_to_one_encrypted_group(synth: Synth, stage: str) -> None:
    template = _t(synth, stage)
    key_id, _ = only(template, "AWS::KMS::Key")
    group_id, group = only(template, "AWS::Logs::LogGroup")
    assert ref_id(props(group)["KmsKeyId"]) == key_id
    days = synth.configs[stage].pipeline.log_retention_days  # type: ignore[union-attr]
    assert props(group)["RetentionInDays"] == days
    projects = resources(template, "AWS::CodeBuild::Project")
    assert len(projects) == len(_expected_order(synth, stage)) - 1 - (
        1 if "Approve" in _expected_order(synth, stage) else 0
    )
    roles = set()
    for project in projects.values():
        p = props(project)
        assert p["EncryptionKey"] == {"Fn::GetAtt": [key_id, "Arn"]}
        assert p["LogsConfig"]["CloudWatchLogs"]["GroupName"] == {"Ref": group_id}
        assert p["LogsConfig"]["CloudWatchLogs"]["Status"] == "ENABLED"
        roles.add(ref_id(p["ServiceRole"]))
    assert len(roles) == len(projects)  # a role of its own for every action


@pytest.mark.parametrize("stage", STAGES)
def test_failed_and_succeeded_executions_are_notified(synth: Synth, stage: str) -> None:
    template = _t(synth, stage)
    _, rule = only(template, "AWS::CodeStarNotifications::NotificationRule")
    assert sorted(props(rule)["EventTypeIds"]) == [
        "codepipeline-pipeline-pipeline-execution-failed",
        "codepipeline-pipeline-pipeline-execution-succeeded",
    ]
    (target,) = props(rule)["Targets"]
    topic_id = ref_id(target["TargetAddress"])
    assert "KmsMasterKeyId" in props(template["Resources"][topic_id])
    emails = {
        props(s)["Endpoint"]
        for s in resources(template, "AWS::SNS::Subscription").values()
        if props(s)["TopicArn"] == {"Ref": topic_id}
    }
    assert emails == set(synth.configs[stage].pipeline.notification_emails)  # type: ignore[union-attr]


@pytest.mark.parametrize("stage", STAGES)
def test_github_deploy_role_where_config_asks(synth: Synth, stage: str) -> None:
    config = synth.configs[stage]
    template = _t(synth, stage)
    roles = {
        k: props(r)
        for k, r in resources(template, "AWS::IAM::Role").items()
        if "sts:AssumeRoleWithWebIdentity" in json.dumps(props(r)["AssumeRolePolicyDocument"])
    }
    if config.github_role_name is None:
        assert roles == {}
        assert resources(template, "AWS::IAM::OIDCProvider") == {}
        return
    pipeline = config.pipeline
    assert pipeline is not None
    provider_id, provider = only(template, "AWS::IAM::OIDCProvider")
    assert props(provider)["Url"] == "https://token.actions.githubusercontent.com"
    assert props(provider)["ClientIdList"] == ["sts.amazonaws.com"]
    ((role_id, role),) = roles.items()
    assert role["RoleName"] == config.github_role_name
    (trust,) = role["AssumeRolePolicyDocument"]["Statement"]
    assert trust["Principal"] == {"Federated": {"Ref": provider_id}}
    assert trust["Condition"] == {
        "StringEquals": {
            "token.actions.githubusercontent.com:aud": "sts.amazonaws.com",
            "token.actions.githubusercontent.com:sub": (
                f"repo:{pipeline.repository}:ref:refs/heads/{pipeline.branch}"
            ),
        }
    }
    (statement,) = _statements(template, role_id)
    assert _actions_of(statement) == {"sts:AssumeRole"}
    account = config.account
    assert sorted(statement["Resource"]) == sorted(
        f"arn:aws:iam::{account}:role/cdk-hnb659fds-{kind}-role-{account}-{region}"
        for kind in ("deploy", "file-publishing", "image-publishing")
        for region in (config.region, CLOUDFRONT_REGION)
    )
