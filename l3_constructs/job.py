"""PlatformJob: a scheduled task (`kind: job`).

EventBridge Scheduler starts a Step Functions state machine on `schedule` (cron or rate, in
`timezone`, within `flexible_window_minutes`), retrying an invocation that could not start
(`retry_attempts`, `max_event_age_seconds`) and sending one that never could to a KMS-
encrypted dead-letter queue. The state machine runs the job's task (`ecs:RunTask`, run-job
pattern: it waits for the task to stop) in the environment's cluster and subnets, with the
job's image, command, cpu and memory, and the same secrets, database and storage switches as
a service. `timeout_minutes` is the task state's timeout: an overdue run fails the execution,
and Step Functions stops its task (`ecs:StopTask`). A task that exits non-zero fails the
execution too.

The state machine runs the task definition *family* (its latest revision), so after the
pipeline registers a revision with a released image, the next run uses it.

Both roles (the state machine's, the schedule's) get exactly the statements written here, in
a customer managed policy each: CDK's own grants would pin `ecs:RunTask` to the revision
CloudFormation registered (feature flag `fixRunEcsTaskPolicy`), pass the task roles to any
service and use inline policies, so the constructs are handed the roles read-only.

Knows nothing of environments: every choice arrives in `JobProps`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

import jsii
from aws_cdk import Duration, Names, RemovalPolicy, Stack, TimeZone
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_ecs as ecs
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_scheduler as scheduler
from aws_cdk import aws_scheduler_targets as scheduler_targets
from aws_cdk import aws_sqs as sqs
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import aws_stepfunctions_tasks as sfn_tasks
from constructs import Construct, IValidation

from l3_constructs.cluster import PlatformCluster
from l3_constructs.compliance import (
    acknowledge,
    finding_id,
    resource_finding,
    wildcard_findings,
)
from l3_constructs.retention import retention_days
from l3_constructs.shared import allow_cloudwatch_logs, https_egress_security_group
from l3_constructs.workload import CONTAINER_NAME, TaskProps, Workload, validate_task

#: Days an invocation the scheduler could not deliver stays in the dead-letter queue (SQS max).
DEAD_LETTER_RETENTION_DAYS = 14
#: The rule Step Functions manages in the account to hear when a `.sync` ECS task stops.
ECS_SYNC_RULE = "StepFunctionsGetEventsForECSTaskRule"
#: Where the task state puts the app container's exit code: a list, empty when it has none.
EXIT_CODE = "$.ExitCode[0]"
#: What the task state keeps of the stopped task (ResultSelector); `ExitCode` picks the app
#: container by name: with tracing, the X-Ray daemon is a second container.
RESULT_SELECTOR = {
    "ExitCode.$": f"$.Containers[?(@.Name == '{CONTAINER_NAME}')].ExitCode",
    "TaskArn.$": "$.TaskArn",
}


@dataclass(frozen=True)
class JobProps(TaskProps):
    #: A job serves no requests: no port mapping, no PORT.
    port: int | None = None
    #: EventBridge Scheduler expression: `cron(...)` or `rate(...)`.
    schedule: str = "rate(1 day)"
    #: IANA time zone of a cron schedule.
    timezone: str = "UTC"
    #: Start within this many minutes of the scheduled time; 0: on time.
    flexible_window_minutes: int = 0
    #: Retries of an invocation that could not start the run, and for how long.
    retry_attempts: int = 2
    max_event_age_seconds: int = 3600
    #: A run still going after this is stopped.
    timeout_minutes: int = 60
    #: True when tasks run in public subnets (no NAT) and need a public IP to reach AWS APIs.
    assign_public_ip: bool = False


def _validate(props: JobProps) -> None:
    validate_task(props)
    # The name goes into state names and the failure's States.Format text: keep it plain.
    if not re.fullmatch(r"[a-z][a-z0-9-]{0,31}", props.name):
        raise ValueError(f"job name {props.name!r}: lower-case letters, digits, hyphens (<= 32)")
    if props.port is not None:
        raise ValueError(f"job {props.name!r} serves no requests: give port=None")
    if not props.schedule.startswith(("cron(", "rate(")) or not props.schedule.endswith(")"):
        raise ValueError(f"job {props.name!r}: schedule must be 'cron(...)' or 'rate(...)'")
    if not 0 <= props.flexible_window_minutes <= 1440:
        raise ValueError("flexible_window_minutes must be 0-1440 (EventBridge Scheduler)")
    if not 0 <= props.retry_attempts <= 185:
        raise ValueError("retry_attempts must be 0-185 (EventBridge Scheduler)")
    if not 60 <= props.max_event_age_seconds <= 86_400:
        raise ValueError("max_event_age_seconds must be 60-86400 (EventBridge Scheduler)")
    if props.timeout_minutes < 1:
        raise ValueError("timeout_minutes must be at least 1")
    retention_days(props.log_retention_days)  # ValueError for a period CloudWatch lacks


class PlatformJob(Workload):
    """Exposes `name`, `props`, `repository`, `log_group`, `image`, `image_id`,
    `task_definition`, `container`, `security_group`, `state_machine`, `schedule` and
    `dead_letter_queue`.

    The task's security group allows only HTTPS out; the database's
    ``allow_connections_from(job.security_group, ...)`` adds the egress rule to its port.
    Grants on `task_definition.task_role` reach the job's code.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        props: JobProps,
        cluster: PlatformCluster,
        vpc: ec2.IVpc,
        subnets: ec2.SubnetSelection,
        secrets: Mapping[str, ecs.Secret],
    ) -> None:
        super().__init__(scope, construct_id)
        _validate(props)
        self.name = props.name
        self.props = props
        self._build_task(props, key=cluster.key, secrets=secrets)
        self.security_group = https_egress_security_group(
            self,
            "SecurityGroup",
            vpc=vpc,
            description=f"Job {props.name}: HTTPS out; the database adds its own port",
        )
        self.state_machine = self._state_machine(props, cluster, subnets)
        self.dead_letter_queue = sqs.Queue(
            self,
            "DeadLetterQueue",
            encryption=sqs.QueueEncryption.KMS,
            encryption_master_key=cluster.key,
            enforce_ssl=True,
            retention_period=Duration.days(DEAD_LETTER_RETENTION_DAYS),
            # Undelivered invocations: nothing worth keeping once the stack is gone.
            removal_policy=RemovalPolicy.DESTROY,
        )
        acknowledge(
            self.dead_letter_queue,
            "AwsSolutions-SQS3",
            "This is the dead-letter queue of the job's schedule (invocations EventBridge "
            "Scheduler could not deliver); it has none of its own.",
        )
        self.schedule = self._schedule(props, cluster.key)

    # --- The state machine that runs one task -------------------------------------------------

    def _state_machine(
        self, props: JobProps, cluster: PlatformCluster, subnets: ec2.SubnetSelection
    ) -> sfn.StateMachine:
        name = props.name
        run = sfn_tasks.EcsRunTask(
            self,
            "RunTask",
            state_name=f"Run {name}",
            comment=f"Runs the {name} task (latest revision of its family) and waits for it "
            "to stop; Step Functions stops it at the timeout",
            integration_pattern=sfn.IntegrationPattern.RUN_JOB,
            cluster=cluster.cluster,
            # No revision_number: the state names the family, so ECS runs its latest revision.
            task_definition=self.task_definition,
            launch_target=sfn_tasks.EcsFargateLaunchTarget(
                platform_version=ecs.FargatePlatformVersion.LATEST
            ),
            subnets=subnets,
            security_groups=[self.security_group],
            assign_public_ip=props.assign_public_ip,
            task_timeout=sfn.Timeout.duration(Duration.minutes(props.timeout_minutes)),
            result_selector=dict(RESULT_SELECTOR),
        )
        succeeded = sfn.Succeed(self, "Succeeded", state_name=f"{name} succeeded")
        non_zero = sfn.Fail(
            self,
            "FailedExitCode",
            state_name=f"{name} exited non-zero",
            error="NonZeroExitCode",
            cause_path=sfn.JsonPath.format(
                f"Job {name}: container {CONTAINER_NAME} exited with code {{}} (task {{}})",
                sfn.JsonPath.string_at(EXIT_CODE),
                sfn.JsonPath.string_at("$.TaskArn"),
            ),
        )
        no_exit_code = sfn.Fail(
            self,
            "FailedNoExitCode",
            state_name=f"{name} stopped without an exit code",
            error="NoExitCode",
            cause_path=sfn.JsonPath.format(
                f"Job {name}: container {CONTAINER_NAME} stopped without an exit code, so it "
                "never ran to the end (task {}; its stop reason is in the execution history)",
                sfn.JsonPath.string_at("$.TaskArn"),
            ),
        )
        # Rules are tried in order: the comparison only sees an exit code that is there.
        check = (
            sfn.Choice(self, "CheckExitCode", state_name=f"{name} exit code?")
            .when(sfn.Condition.not_(sfn.Condition.is_present(EXIT_CODE)), no_exit_code)
            .when(sfn.Condition.number_equals(EXIT_CODE, 0), succeeded)
            .otherwise(non_zero)
        )
        allow_cloudwatch_logs(cluster.key, "AllowCloudWatchLogsForServiceLogGroup")
        log_group = logs.LogGroup(
            self,
            "StateMachineLogGroup",
            # Step Functions delivers through CloudWatch Logs' vended-log path; a name under
            # /aws/vendedlogs/ keeps it out of the account's size-limited log resource policy.
            log_group_name="/aws/vendedlogs/states/"
            + Names.unique_resource_name(self, max_length=200, separator="-"),
            encryption_key=cluster.key,
            retention=retention_days(props.log_retention_days),
            # Execution records: the task's own output is in the (retained) task log group.
            removal_policy=RemovalPolicy.DESTROY,
        )
        role = self._state_machine_role(cluster.cluster)
        return sfn.StateMachine(
            self,
            "StateMachine",
            comment=f"Runs job {name} once: its ECS task, failing on a non-zero exit code or "
            f"after {props.timeout_minutes} minutes",
            definition_body=sfn.DefinitionBody.from_chainable(run.next(check)),
            state_machine_type=sfn.StateMachineType.STANDARD,
            # Read-only: CDK's grants are replaced by the role's own policy.
            role=role.without_policy_updates(),
            logs=sfn.LogOptions(
                destination=log_group,
                level=sfn.LogLevel.ALL,
                # The states carry task and container descriptions, never a secret's value
                # (ECS injects those into the container).
                include_execution_data=True,
            ),
            tracing_enabled=True,
        )

    def _state_machine_role(self, cluster: ecs.ICluster) -> iam.Role:
        stack = Stack.of(self)
        task_definition = self.task_definition
        task_definitions_arn = stack.format_arn(
            service="ecs", resource="task-definition", resource_name=f"{task_definition.family}:*"
        )
        tasks_arn = stack.format_arn(
            service="ecs", resource="task", resource_name=f"{cluster.cluster_name}/*"
        )
        policy = iam.ManagedPolicy(
            self,
            "StateMachinePolicy",
            description=f"Runs, watches and stops the tasks of job {self.name}",
            statements=[
                iam.PolicyStatement(
                    sid="RunJobTask",
                    actions=["ecs:RunTask"],
                    resources=[task_definitions_arn],
                    conditions={"ArnEquals": {"ecs:cluster": cluster.cluster_arn}},
                ),
                iam.PolicyStatement(
                    sid="WatchAndStopJobTasks",
                    actions=["ecs:DescribeTasks", "ecs:StopTask"],
                    resources=[tasks_arn],
                ),
                iam.PolicyStatement(
                    sid="PassJobTaskRoles",
                    actions=["iam:PassRole"],
                    resources=[
                        task_definition.task_role.role_arn,
                        task_definition.obtain_execution_role().role_arn,
                    ],
                    conditions={"StringEquals": {"iam:PassedToService": "ecs-tasks.amazonaws.com"}},
                ),
                iam.PolicyStatement(
                    sid="HearWhenTasksStop",
                    actions=["events:PutTargets", "events:PutRule", "events:DescribeRule"],
                    resources=[
                        stack.format_arn(
                            service="events", resource="rule", resource_name=ECS_SYNC_RULE
                        )
                    ],
                ),
                iam.PolicyStatement(
                    sid="DeliverExecutionLogs",
                    actions=[
                        "logs:CreateLogDelivery",
                        "logs:GetLogDelivery",
                        "logs:UpdateLogDelivery",
                        "logs:DeleteLogDelivery",
                        "logs:ListLogDeliveries",
                        "logs:PutResourcePolicy",
                        "logs:DescribeResourcePolicies",
                        "logs:DescribeLogGroups",
                    ],
                    resources=["*"],
                ),
                iam.PolicyStatement(
                    sid="XRayTraces",
                    actions=[
                        "xray:PutTraceSegments",
                        "xray:PutTelemetryRecords",
                        "xray:GetSamplingRules",
                        "xray:GetSamplingTargets",
                    ],
                    resources=["*"],
                ),
            ],
        )
        _acknowledge_policy_wildcards(
            policy,
            {
                "Resource::*": "Step Functions log delivery (logs:CreateLogDelivery and "
                "friends) and X-Ray trace uploads have no resource-level permissions; the "
                "state machine logs to its one log group.",
                resource_finding(task_definitions_arn): "ecs:RunTask is allowed on every "
                "revision of this job's one task-definition family (the state runs the "
                "family's latest, which the pipeline may have registered), and only in this "
                "cluster (ecs:cluster condition).",
                resource_finding(tasks_arn): "Task ids are only known once RunTask returns: "
                "DescribeTasks/StopTask (the .sync pattern's polling, and the stop at the "
                "timeout) are allowed on the tasks of this one cluster, the narrowest ARN ECS "
                "offers.",
            },
        )
        return iam.Role(
            self,
            "StateMachineRole",
            assumed_by=iam.ServicePrincipal(
                "states.amazonaws.com",
                conditions={"StringEquals": {"aws:SourceAccount": stack.account}},
            ),
            description=f"Step Functions: runs job {self.name}'s task",
            managed_policies=[policy],
        )

    # --- The schedule that starts it ----------------------------------------------------------

    def _schedule(self, props: JobProps, key: kms.IKey) -> scheduler.Schedule:
        stack = Stack.of(self)
        policy = iam.ManagedPolicy(
            self,
            "SchedulePolicy",
            description=f"Starts job {self.name}'s state machine; dead-letters what cannot",
            statements=[
                iam.PolicyStatement(
                    sid="StartJob",
                    actions=["states:StartExecution"],
                    resources=[self.state_machine.state_machine_arn],
                ),
                iam.PolicyStatement(
                    sid="DeadLetterUnstartedRuns",
                    actions=["sqs:SendMessage"],
                    resources=[self.dead_letter_queue.queue_arn],
                ),
                # The schedule's payload and the dead-letter queue are encrypted with the key.
                iam.PolicyStatement(
                    sid="DecryptWithKey",
                    actions=["kms:Decrypt"],
                    resources=[key.key_arn],
                ),
                iam.PolicyStatement(
                    sid="EncryptDeadLettersThroughSqs",
                    actions=["kms:GenerateDataKey"],
                    resources=[key.key_arn],
                    conditions={
                        "StringEquals": {"kms:ViaService": f"sqs.{stack.region}.amazonaws.com"}
                    },
                ),
            ],
        )
        role = iam.Role(
            self,
            "ScheduleRole",
            assumed_by=iam.ServicePrincipal(
                "scheduler.amazonaws.com",
                conditions={
                    "StringEquals": {
                        "aws:SourceAccount": stack.account,
                        "aws:SourceArn": stack.format_arn(
                            service="scheduler",
                            resource="schedule-group",
                            resource_name="default",
                        ),
                    }
                },
            ),
            description=f"EventBridge Scheduler: starts job {self.name}",
            managed_policies=[policy],
        )
        window = props.flexible_window_minutes
        return scheduler.Schedule(
            self,
            "Schedule",
            description=f"Starts job {self.name}: {props.schedule} ({props.timezone})",
            schedule=scheduler.ScheduleExpression.expression(
                props.schedule, TimeZone.of(props.timezone)
            ),
            time_window=scheduler.TimeWindow.flexible(Duration.minutes(window))
            if window
            else scheduler.TimeWindow.off(),
            target=scheduler_targets.StepFunctionsStartExecution(
                self.state_machine,
                # Read-only: CDK's grants are replaced by the role's own policy.
                role=role.without_policy_updates(),
                dead_letter_queue=self.dead_letter_queue,
                retry_attempts=props.retry_attempts,
                max_event_age=Duration.seconds(props.max_event_age_seconds),
            ),
            key=key,
        )


def _acknowledge_policy_wildcards(policy: iam.ManagedPolicy, reasons: Mapping[str, str]) -> None:
    """`compliance.acknowledge_wildcards` for a customer managed policy: the AwsSolutions-IAM5
    findings `reasons` explains (keys may hold tokens), once references are final."""
    policy.node.add_validation(_AcknowledgePolicyWildcards(policy, reasons))


@jsii.implements(IValidation)
class _AcknowledgePolicyWildcards:
    def __init__(self, policy: iam.ManagedPolicy, reasons: Mapping[str, str]) -> None:
        self._policy = policy
        self._reasons = reasons
        self._acknowledged: set[str] = set()

    def validate(self) -> list[str]:
        stack = Stack.of(self._policy)
        reasons = {finding_id(stack, key): reason for key, reason in self._reasons.items()}
        resource = self._policy.node.default_child
        if not isinstance(resource, iam.CfnManagedPolicy):
            return []
        document = stack.resolve(resource.policy_document)
        for finding in wildcard_findings(document):
            reason = reasons.get(finding)
            rule = f"AwsSolutions-IAM5[{finding}]"
            if reason is not None and rule not in self._acknowledged:
                acknowledge(self._policy, rule, reason)
                self._acknowledged.add(rule)
        return []
