"""PlatformMigration: the one-shot database-migration task and the custom resource that runs it
during `cdk deploy`, before the service update.

CloudFormation creates/updates the custom resource (`Resource`) after the migration task
definition and before anything the caller makes depend on it (the service). Its provider
starts the task (`migration_runner/handler.on_event`) and polls it
(`handler.is_complete`); a failed or timed-out migration fails the resource and so the
deployment, before the service runs the new image.

Knows nothing of environments: every choice arrives in `MigrationProps`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import jsii
from aws_cdk import (
    CfnElement,
    CfnOutput,
    CustomResource,
    Duration,
    Fn,
    Names,
    RemovalPolicy,
    Stack,
)
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_ecs as ecs
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import custom_resources as cr
from constructs import Construct, IConstruct, IValidation

from l3_constructs.compliance import acknowledge, flatten_cfn_reference, skip_checkov
from l3_constructs.retention import retention_days
from l3_constructs.shared import (
    CPU_ARCHITECTURES,
    Architecture,
    fargate_task_definition,
    https_egress_security_group,
)
from l3_constructs.workload import add_locked_down_container

#: The Lambda code root of the provider's handlers: `handler.py` + `runner.py`.
RUNNER_CODE = Path(__file__).resolve().parent / "migration_runner"

CONTAINER_NAME = "migration"

#: CloudFormation waits at most one hour for a custom resource (ServiceTimeout 1..3600 s);
#: 55 minutes leaves it the margin below to hear the handler's own timeout first.
_CLOUDFORMATION_MAX_WAIT_SECONDS = 3600
MAX_TIMEOUT_MINUTES = 55

#: How long CloudFormation waits beyond the provider's own timeout, so the provider's
#: "Operation timed out" (rather than CloudFormation's) is what the deployment reports.
_SERVICE_TIMEOUT_MARGIN_SECONDS = 300

#: Stack output keys read by `release_tools/migrate.py` (its OUTPUT_KEYS).
OUTPUT_CLUSTER = "MigrationClusterName"
OUTPUT_TASK_DEFINITION = "MigrationTaskDefinitionArn"
OUTPUT_SUBNETS = "MigrationSubnetIds"
OUTPUT_SECURITY_GROUPS = "MigrationSecurityGroupIds"
OUTPUT_ASSIGN_PUBLIC_IP = "MigrationAssignPublicIp"
OUTPUT_CONTAINER_NAME = "MigrationContainerName"


@dataclass(frozen=True)
class MigrationProps:
    #: The migration command, e.g. ("python", "-m", "sample_api", "migrate").
    command: tuple[str, ...]
    #: How long the deployment waits for the migration (the Provider's total timeout).
    timeout_minutes: int = 15
    #: Seconds between checks of the task (the Provider's query interval); must divide
    #: the timeout.
    poll_seconds: int = 15
    cpu: int = 256
    memory_mib: int = 512
    architecture: Architecture = "ARM64"
    log_retention_days: int = 30
    #: The owning service's lock-down (its `user`, `writable_paths`, `add_capabilities`):
    #: the container runs its image with a read-only root filesystem, never as root.
    user: str = "10001:10001"
    writable_paths: tuple[str, ...] = ("/tmp",)  # noqa: S108 - a path in the container
    add_capabilities: tuple[str, ...] = ()


def _validate(props: MigrationProps) -> None:
    if not props.command:
        raise ValueError("MigrationProps.command must name the migration command")
    if not 1 <= props.timeout_minutes <= MAX_TIMEOUT_MINUTES:
        raise ValueError(
            f"MigrationProps.timeout_minutes must be 1..{MAX_TIMEOUT_MINUTES}: CloudFormation "
            f"waits at most one hour for a custom resource, got {props.timeout_minutes}"
        )
    total_seconds = props.timeout_minutes * 60
    if props.poll_seconds < 1 or total_seconds % props.poll_seconds:
        raise ValueError(
            "MigrationProps.poll_seconds must be a positive divisor of the timeout "
            f"({total_seconds} s), got {props.poll_seconds}"
        )
    if props.architecture not in CPU_ARCHITECTURES:
        raise ValueError(f"MigrationProps.architecture must be one of {sorted(CPU_ARCHITECTURES)}")
    retention_days(props.log_retention_days)  # ValueError for a period CloudWatch lacks


class PlatformMigration(Construct):
    """Runs `props.command` once per deployment that changes the image or the command.

    Exposes `task_definition`, `container_name`, `security_group` (admit the database port
    from it), `log_group`, `provider` and `resource` (make the service depend on it:
    ``service.node.add_dependency(migration.resource)``).

    The task's security group allows only HTTPS out (ECR, S3 image layers, CloudWatch Logs,
    Secrets Manager, through NAT, public IPs or VPC endpoints); the database's
    ``allow_connections_from(migration.security_group, ...)`` adds the egress rule to the
    database port. Adds the stack outputs `release_tools/migrate.py` reads, under fixed logical
    ids, so a stack holds at most one PlatformMigration.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        props: MigrationProps,
        cluster: ecs.ICluster,
        image: ecs.ContainerImage,
        image_id: str,
        environment: Mapping[str, str],
        secrets: Mapping[str, ecs.Secret],
        vpc: ec2.IVpc,
        subnets: ec2.SubnetSelection,
        assign_public_ip: bool,
        log_key: kms.IKey,
    ) -> None:
        super().__init__(scope, construct_id)
        _validate(props)
        self.container_name = CONTAINER_NAME
        self._log_key = log_key
        self._retention = retention_days(props.log_retention_days)

        # --- The migration task -------------------------------------------------------------
        self.log_group = logs.LogGroup(
            self, "LogGroup", encryption_key=log_key, retention=self._retention
        )
        self.task_definition = fargate_task_definition(
            self,
            "TaskDefinition",
            cpu=props.cpu,
            memory_mib=props.memory_mib,
            architecture=props.architecture,
        )
        # Locked down like the service whose image it runs (l3_constructs.workload).
        self.container = add_locked_down_container(
            self.task_definition,
            CONTAINER_NAME,
            user=props.user,
            writable_paths=props.writable_paths,
            add_capabilities=props.add_capabilities,
            image=image,
            command=list(props.command),
            environment=dict(environment),
            secrets=dict(secrets),
            logging=ecs.LogDrivers.aws_logs(stream_prefix=CONTAINER_NAME, log_group=self.log_group),
            essential=True,
        )
        self.security_group = https_egress_security_group(
            self,
            "SecurityGroup",
            vpc=vpc,
            description="Migration task: HTTPS out; the database adds its own port",
        )

        # --- The runner: user handlers, Provider framework, custom resource -------------------
        stack = Stack.of(self)
        family = self.task_definition.family
        task_definitions_arn = stack.format_arn(
            service="ecs", resource="task-definition", resource_name=f"{family}:*"
        )
        tasks_arn = stack.format_arn(
            service="ecs", resource="task", resource_name=f"{cluster.cluster_name}/*"
        )
        passed_roles = [
            self.task_definition.task_role.role_arn,
            self.task_definition.obtain_execution_role().role_arn,
        ]

        self.on_event_handler = self._handler(
            "OnEventHandler",
            entry="handler.on_event",
            description="Starts the database migration task (custom resource onEvent)",
            statements=[
                iam.PolicyStatement(
                    sid="RunMigrationTask",
                    actions=["ecs:RunTask"],
                    resources=[task_definitions_arn],
                    conditions={"ArnEquals": {"ecs:cluster": cluster.cluster_arn}},
                ),
                iam.PolicyStatement(
                    sid="PassMigrationTaskRoles",
                    actions=["iam:PassRole"],
                    resources=passed_roles,
                    conditions={"StringEquals": {"iam:PassedToService": "ecs-tasks.amazonaws.com"}},
                ),
            ],
        )
        self.is_complete_handler = self._handler(
            "IsCompleteHandler",
            entry="handler.is_complete",
            description="Reports whether the database migration task has succeeded",
            statements=[
                iam.PolicyStatement(
                    sid="WatchMigrationTasks",
                    actions=["ecs:DescribeTasks", "ecs:StopTask"],
                    resources=[tasks_arn],
                )
            ],
        )
        self.provider = self._provider(props)

        subnet_ids = _select(vpc, subnets).subnet_ids
        security_group_ids = [self.security_group.security_group_id]
        public_ip = "true" if assign_public_ip else "false"
        total_seconds = props.timeout_minutes * 60
        self.resource = CustomResource(
            self,
            "Resource",
            service_token=self.provider.service_token,
            resource_type="Custom::DatabaseMigration",
            service_timeout=Duration.seconds(
                min(
                    total_seconds + _SERVICE_TIMEOUT_MARGIN_SECONDS,
                    _CLOUDFORMATION_MAX_WAIT_SECONDS,
                )
            ),
            properties={
                "Cluster": cluster.cluster_name,
                # The revision CloudFormation registered in this deployment, not the family:
                # on a rollback CloudFormation re-sends the previous properties, and the
                # family's latest ACTIVE revision would still be the new (failing) one.
                "TaskDefinition": self.task_definition.task_definition_arn,
                "Subnets": subnet_ids,
                "SecurityGroups": security_group_ids,
                "AssignPublicIp": public_ip,
                "ContainerName": CONTAINER_NAME,
                "Command": list(props.command),
                "ImageId": image_id,
                # The handler stops the task and fails the resource at this deadline.
                "TimeoutSeconds": str(total_seconds),
            },
        )
        self.resource.node.add_dependency(self.task_definition)

        # --- What the operator CLI (release_tools/migrate.py) reads ------------------------
        self._output(OUTPUT_CLUSTER, cluster.cluster_name, "ECS cluster of the migration task")
        self._output(
            OUTPUT_TASK_DEFINITION,
            self.task_definition.task_definition_arn,
            "Task definition of the migration task",
        )
        self._output(
            OUTPUT_SUBNETS, Fn.join(",", subnet_ids), "Subnets of the migration task (comma-joined)"
        )
        self._output(
            OUTPUT_SECURITY_GROUPS,
            Fn.join(",", security_group_ids),
            "Security groups of the migration task (comma-joined)",
        )
        self._output(OUTPUT_ASSIGN_PUBLIC_IP, public_ip, "Whether the task gets a public IP")
        self._output(OUTPUT_CONTAINER_NAME, CONTAINER_NAME, "Container that runs the migration")

        self._acknowledge_findings(environment, task_definitions_arn, tasks_arn)

    def _log_group(self, construct_id: str, **kwargs: Any) -> logs.LogGroup:
        """A log group of the runner: deploy-time diagnostics that go with the stack."""
        return logs.LogGroup(
            self,
            construct_id,
            encryption_key=self._log_key,
            retention=self._retention,
            removal_policy=RemovalPolicy.DESTROY,
            **kwargs,
        )

    def _handler(
        self,
        construct_id: str,
        *,
        entry: str,
        description: str,
        statements: list[iam.PolicyStatement],
    ) -> lambda_.Function:
        """One of the two user handlers, with its own role and a customer managed policy."""
        log_group = self._log_group(f"{construct_id}LogGroup")
        policy = iam.ManagedPolicy(
            self,
            f"{construct_id}Policy",
            description=description,
            statements=[
                *statements,
                iam.PolicyStatement(
                    sid="WriteOwnLogs",
                    actions=["logs:CreateLogStream", "logs:PutLogEvents"],
                    resources=[log_group.log_group_arn],
                ),
            ],
        )
        role = iam.Role(
            self,
            f"{construct_id}Role",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description=description,
            managed_policies=[policy],
        )
        function = lambda_.Function(
            self,
            construct_id,
            description=description,
            # Newest Python runtime aws-cdk-lib knows (cdk-nag AwsSolutions-L1 wants it).
            runtime=lambda_.Runtime.PYTHON_3_14,
            architecture=lambda_.Architecture.ARM_64,
            handler=entry,
            code=lambda_.Code.from_asset(str(RUNNER_CODE), exclude=["__pycache__", "*.pyc"]),
            timeout=Duration.minutes(1),
            role=role,
            log_group=log_group,
        )
        _acknowledge_deploy_time_function(
            function,
            calls="the ECS API",
            dlq_reason="The Provider framework invokes it synchronously and reports its errors "
            "to CloudFormation; a DLQ only catches asynchronous invocations.",
        )
        return function

    def _provider(self, props: MigrationProps) -> cr.Provider:
        """The Provider framework: its three functions log to one log group, their roles
        write only that group, and its waiter state machine logs ALL events."""
        framework_logs = self._log_group("ProviderLogGroup")
        on_event_role = iam.Role(
            self,
            "ProviderOnEventRole",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description="Provider framework onEvent: invokes the handlers, starts the waiter",
        )
        complete_role = iam.Role(
            self,
            "ProviderIsCompleteRole",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description="Provider framework isComplete/onTimeout: invokes the handlers",
        )
        for role in (on_event_role, complete_role):
            framework_logs.grant_write(role)
        # Step Functions delivers logs through CloudWatch Logs' vended-log path; a name under
        # /aws/vendedlogs/ keeps it out of the account's size-limited log resource policy.
        waiter_logs = self._log_group(
            "WaiterLogGroup",
            log_group_name="/aws/vendedlogs/states/"
            + Names.unique_resource_name(self, max_length=200, separator="-"),
        )
        provider = cr.Provider(
            self,
            "Provider",
            on_event_handler=self.on_event_handler,
            is_complete_handler=self.is_complete_handler,
            query_interval=Duration.seconds(props.poll_seconds),
            # A backstop two polls after the handler's own deadline (TimeoutSeconds), which
            # also stops the task; the framework's timeout alone would leave it running.
            total_timeout=Duration.seconds(props.timeout_minutes * 60 + 2 * props.poll_seconds),
            log_group=framework_logs,
            framework_on_event_role=on_event_role,
            framework_complete_and_timeout_role=complete_role,
            disable_waiter_state_machine_logging=False,
            waiter_state_machine_log_options=cr.LogOptions(
                destination=waiter_logs,
                level=sfn.LogLevel.ALL,
                # The events carry CloudFormation's pre-signed response URL: keep them out.
                include_execution_data=False,
            ),
        )
        for role in (on_event_role, complete_role):
            self._acknowledge_framework_role(role)
        _acknowledge_deploy_time_function(
            provider.node.find_child("framework-onEvent"),
            calls="the Lambda and Step Functions APIs and CloudFormation's S3 response URL",
            dlq_reason="CloudFormation invokes it asynchronously, but it answers CloudFormation "
            "itself on any error and ServiceTimeout bounds a lost event; a DLQ has no reader.",
        )
        for function_id in ("framework-isComplete", "framework-onTimeout"):
            _acknowledge_deploy_time_function(
                provider.node.find_child(function_id),
                calls="the Lambda API and CloudFormation's S3 response URL",
                dlq_reason="The waiter state machine invokes it synchronously and handles its "
                "errors (Retry/Catch); a DLQ only catches asynchronous invocations.",
            )
        for function_id in ("framework-onEvent", "framework-isComplete", "framework-onTimeout"):
            skip_checkov(
                provider.node.find_child(function_id),
                "CKV_AWS_173",
                "The Provider framework's environment holds only the ARNs of the two migration "
                "handlers (and of its waiter), no secrets; Lambda encrypts it at rest anyway.",
            )
        return provider

    def _acknowledge_framework_role(self, role: iam.Role) -> None:
        for handler in (self.on_event_handler, self.is_complete_handler):
            acknowledge(
                role,
                f"AwsSolutions-IAM5[Resource::<{_logical_id(handler)}.Arn>:*]",
                "CDK Provider framework's grantInvoke of a migration handler covers that "
                "function's versions and aliases (:*), and no other function.",
            )
        acknowledge(
            role,
            "NIST.800.53.R5-IAMNoInlinePolicy",
            "The Provider framework adds its grants (invoke and get the two handlers, start its "
            "waiter) to this single-purpose role's inline policy, beside writing its log group.",
        )

    def _output(self, logical_id: str, value: str, description: str) -> None:
        output = CfnOutput(self, logical_id, value=value, description=description)
        output.override_logical_id(logical_id)

    def _acknowledge_findings(
        self, environment: Mapping[str, str], task_definitions_arn: str, tasks_arn: str
    ) -> None:
        if environment:
            acknowledge(
                self.task_definition,
                "AwsSolutions-ECS2",
                "These environment variables carry plain, non-secret settings (the caller's "
                "environment); every credential reaches the container as an ECS secret.",
            )
        acknowledge(
            self.task_definition.obtain_execution_role(),
            ("AwsSolutions-IAM5[Resource::*]", "NIST.800.53.R5-IAMNoInlinePolicy"),
            "CDK's grants to the migration task's execution role: pull this one image (ecr:"
            "GetAuthorizationToken has no resource-level form), write this log group and read "
            "these secrets; the role serves this task definition alone.",
        )
        # The policies name the cluster, which may be another stack's: its reference (and so
        # the finding id cdk-nag derives from it) is only final after CDK's prepare phase.
        self.node.add_validation(
            _AcknowledgeWildcardResource(
                self.node.find_child("OnEventHandlerPolicy"),
                task_definitions_arn,
                "ecs:RunTask is allowed on every revision of this one task-definition family "
                "(the custom resource names the revision CloudFormation just registered), and "
                "only on this cluster (ecs:cluster condition).",
            )
        )
        self.node.add_validation(
            _AcknowledgeWildcardResource(
                self.node.find_child("IsCompleteHandlerPolicy"),
                tasks_arn,
                "Task ids are only known once RunTask returns: DescribeTasks/StopTask are "
                "allowed on the tasks of this one cluster, the narrowest ARN ECS offers.",
            )
        )
        waiter = self.provider.node.find_child("waiter-state-machine")
        acknowledge(
            waiter,
            "AwsSolutions-IAM5[Resource::*]",
            "Step Functions log delivery (logs:CreateLogDelivery and friends, granted by CDK) "
            "has no resource-level permissions; the state machine logs to one log group.",
        )
        skip_checkov(
            waiter.node.find_child("Role").node.find_child("DefaultPolicy"),
            "CKV_AWS_111",
            "The write actions on '*' are CDK's Step Functions log-delivery grants "
            "(logs:CreateLogDelivery and friends), which have no resource-level form.",
        )
        for function_id in ("framework-isComplete", "framework-onTimeout"):
            function = self.provider.node.find_child(function_id)
            acknowledge(
                waiter,
                f"AwsSolutions-IAM5[Resource::<{_logical_id(function)}.Arn>:*]",
                "CDK's grantInvoke on the waiter's role covers the versions and aliases (:*) "
                f"of the Provider's own {function_id} function, nothing else.",
            )
        acknowledge(
            waiter,
            "NIST.800.53.R5-IAMNoInlinePolicy",
            "The waiter state machine's role is created inside CDK's Provider framework with "
            "an inline policy (invoke its two functions, deliver logs); it cannot be replaced.",
        )
        acknowledge(
            waiter,
            "AwsSolutions-SF2",
            "The waiter only retries one framework Lambda function until the migration task "
            "stops; X-Ray traces would add nothing to its ALL-level execution log.",
        )


def _acknowledge_deploy_time_function(function: IConstruct, *, calls: str, dlq_reason: str) -> None:
    """The NIST Lambda findings of a function that runs only during deployments."""
    acknowledge(
        function,
        "NIST.800.53.R5-LambdaInsideVPC",
        f"This deploy-time function calls only {calls}, never anything in the VPC, which may "
        "have no NAT gateway or endpoints for those APIs.",
    )
    skip_checkov(
        function,
        "CKV_AWS_117",
        f"This deploy-time function calls only {calls}; it needs nothing inside the VPC.",
    )
    acknowledge(
        function,
        "NIST.800.53.R5-LambdaConcurrency",
        "This function runs only while CloudFormation deploys a migration, a few invocations "
        "at a time; reserved concurrency would only take capacity from other functions.",
    )
    skip_checkov(
        function,
        "CKV_AWS_115",
        "This function runs only while CloudFormation deploys a migration, a few invocations "
        "at a time; reserved concurrency would only take capacity from other functions.",
    )
    acknowledge(function, "NIST.800.53.R5-LambdaDLQ", dlq_reason)
    skip_checkov(function, "CKV_AWS_116", dlq_reason)


def _logical_id(construct: IConstruct) -> str:
    """The logical id of `construct`'s CloudFormation resource (its default child)."""
    child = construct.node.default_child
    if child is None:
        raise ValueError(f"{construct.node.path} has no CloudFormation resource")
    stack = Stack.of(construct)
    return str(stack.resolve(stack.get_logical_id(cast("CfnElement", child))))


def _select(vpc: ec2.IVpc, selection: ec2.SubnetSelection) -> ec2.SelectedSubnets:
    """`vpc.select_subnets(selection)` (jsii takes the selection's fields as keywords)."""
    return vpc.select_subnets(
        availability_zones=selection.availability_zones,
        one_per_az=selection.one_per_az,
        subnet_filters=selection.subnet_filters,
        subnet_group_name=selection.subnet_group_name,
        subnets=selection.subnets,
        subnet_type=selection.subnet_type,
    )


@jsii.implements(IValidation)
class _AcknowledgeWildcardResource:
    """Acknowledges AwsSolutions-IAM5 for one wildcard resource of `policy` once references
    are resolved: construct validation runs after CDK's prepare phase (which turns
    cross-stack references into imports or `Fn::GetStackOutput`) and before cdk-nag."""

    def __init__(self, policy: IConstruct, arn: str, reason: str) -> None:
        self._policy = policy
        self._arn = arn
        self._reason = reason
        self._acknowledged: set[str] = set()

    def validate(self) -> list[str]:
        resolved = Stack.of(self._policy).resolve(self._arn)
        rule = f"AwsSolutions-IAM5[Resource::{flatten_cfn_reference(resolved)}]"
        if rule not in self._acknowledged:  # validation may run more than once
            acknowledge(self._policy, rule, self._reason)
            self._acknowledged.add(rule)
        return []
