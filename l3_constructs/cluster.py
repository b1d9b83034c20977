"""PlatformCluster: what an environment's services share besides the load balancer: the ECS
cluster (Container Insights, ECS Exec logging, the Fargate capacity providers when a service
runs on Fargate Spot, the EC2 capacity when one runs on instances), its Service Connect
namespace and the key that encrypts the services' logs, image repositories, ECS Exec sessions
and the instances' volumes.

Knows nothing of environments: every choice arrives as arguments.
"""

from __future__ import annotations

from typing import Literal, cast

import jsii
from aws_cdk import AspectPriority, Aspects, CfnResource, IAspect, RemovalPolicy, Stack
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_ecs as ecs
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_servicediscovery as servicediscovery
from constructs import Construct, IConstruct

from l3_constructs.compliance import acknowledge, skip_checkov, with_cost_note
from l3_constructs.ec2_capacity import Ec2Capacity, Ec2CapacityProps
from l3_constructs.retention import retention_days
from l3_constructs.shared import allow_cloudwatch_logs

ContainerInsightsMode = Literal["enhanced", "enabled", "disabled"]
_CONTAINER_INSIGHTS = {
    "enhanced": ecs.ContainerInsights.ENHANCED,
    "enabled": ecs.ContainerInsights.ENABLED,
    "disabled": ecs.ContainerInsights.DISABLED,
}


class PlatformCluster(Construct):
    """Exposes `key`, `cluster`, `namespace` (Cloud Map HTTP namespace every service joins
    for Service Connect), `exec_log_group` (ECS Exec sessions; None when exec is off) and
    `fargate_capacity_providers` and `ec2_capacity` (`Ec2Capacity`, or None).

    `fargate_capacity_providers`: associate FARGATE and FARGATE_SPOT with the cluster, which
    a service's capacity provider strategy needs (ECS refuses a provider the cluster lacks);
    such a service calls `use_capacity_providers`. Only when some service runs on Fargate
    Spot: services on plain Fargate use the launch type, which needs no association, so an
    all-Fargate environment's cluster stays as it was (no association resource to create,
    review or keep).
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        vpc: ec2.IVpc,
        namespace_name: str,
        enable_execute_command: bool,
        exec_log_retention_days: int = 30,
        fargate_capacity_providers: bool = False,
        ec2_capacity: Ec2CapacityProps | None = None,
        ec2_subnets: ec2.SubnetSelection | None = None,
        container_insights: ContainerInsightsMode = "enhanced",
        cost_note: str = "",
        key: kms.Key | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        stack = Stack.of(self)
        # `key`: the environment's shared key (`data_protection.shared_key`), else its own.
        self.key = key or kms.Key(
            self,
            "Key",
            description="Encrypts the service logs, image repositories and ECS Exec sessions "
            f"of {stack.stack_name}",
            enable_key_rotation=True,
            # Retained repositories and log groups stay readable only while the key exists.
            removal_policy=RemovalPolicy.RETAIN,
        )
        allow_cloudwatch_logs(self.key, "AllowCloudWatchLogsForServiceLogGroup")
        self.exec_log_group: logs.LogGroup | None = None
        exec_configuration = None
        if enable_execute_command:
            self.exec_log_group = logs.LogGroup(
                self,
                "ExecLogGroup",
                encryption_key=self.key,
                retention=retention_days(exec_log_retention_days),
                removal_policy=RemovalPolicy.RETAIN,
            )
            # ECS Exec sessions are encrypted with the key and logged.
            exec_configuration = ecs.ExecuteCommandConfiguration(
                kms_key=self.key,
                logging=ecs.ExecuteCommandLogging.OVERRIDE,
                log_configuration=ecs.ExecuteCommandLogConfiguration(
                    cloud_watch_log_group=self.exec_log_group,
                    cloud_watch_encryption_enabled=True,
                ),
            )
        self.cluster = ecs.Cluster(
            self,
            "Cluster",
            vpc=vpc,
            container_insights_v2=_CONTAINER_INSIGHTS[container_insights],
            execute_command_configuration=exec_configuration,
        )
        #: Container Insights runs (its ECS/ContainerInsights metrics, RunningTaskCount among
        #: them, exist) in `enhanced` and `enabled` mode.
        self.container_insights = container_insights != "disabled"
        if not self.container_insights:
            reason = with_cost_note(
                "Container Insights is off for this environment to save its metric charges: "
                "no per-service and per-task CPU, memory, network and running-task metrics or "
                "performance logs (ECS's own service CPU and memory metrics, the alarms on "
                "them and the logs remain).",
                cost_note,
            )
            acknowledge(self.cluster, "AwsSolutions-ECS4", reason)
            skip_checkov(self.cluster, "CKV_AWS_65", reason)
        self.fargate_capacity_providers = fargate_capacity_providers
        self._provider_users: list[Construct] = []
        if fargate_capacity_providers:
            self.cluster.enable_fargate_capacity_providers()
        self.ec2_capacity: Ec2Capacity | None = None
        if ec2_capacity is not None:
            self.ec2_capacity = Ec2Capacity(
                self,
                "Ec2Capacity",
                props=ec2_capacity,
                cluster=self.cluster,
                vpc=vpc,
                subnets=ec2_subnets
                or ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS),
                key=self.key,
            )
        if fargate_capacity_providers or ec2_capacity is not None:
            # An AWS::ECS::ClusterCapacityProviderAssociations (the Fargate providers and
            # the EC2 one), with no default strategy (each service names its launch type or
            # strategy). CDK adds it in an aspect at synthesis; a later aspect makes the
            # services that use it depend on it.
            Aspects.of(self.cluster).add(
                _DependOnCapacityProviders(self.cluster, self._provider_users),
                priority=AspectPriority.READONLY,
            )
        # HTTP namespace: Service Connect needs no DNS zone, so nothing is paid per zone.
        self.namespace = servicediscovery.HttpNamespace(
            self,
            "Namespace",
            name=namespace_name,
            description=f"Service Connect names of {stack.stack_name}",
        )

    def use_capacity_providers(self, user: Construct) -> None:
        """`user` (a service with a capacity provider strategy) is created only once the
        cluster has its Fargate capacity providers."""
        if not (self.fargate_capacity_providers or self.ec2_capacity):
            raise ValueError(
                f"{user.node.path} uses a capacity provider strategy but the cluster has no "
                "capacity providers (PlatformCluster(fargate_capacity_providers=True) or "
                "ec2_capacity)"
            )
        self._provider_users.append(user)


ASSOCIATION_TYPE = "AWS::ECS::ClusterCapacityProviderAssociations"


@jsii.implements(IAspect)
class _DependOnCapacityProviders:
    """Once CDK's own aspect has added the cluster's capacity provider association (it runs
    at a mutating priority, this one read-only, so later), make each user depend on exactly
    that resource (a dependency on the whole cluster construct would repeat the one its
    `Ref` to the cluster already gives)."""

    def __init__(self, cluster: ecs.Cluster, users: list[Construct]) -> None:
        self._cluster = cluster
        self._users = users

    def visit(self, node: IConstruct) -> None:
        if node is not self._cluster:
            return
        associations = [
            child
            for child in self._cluster.node.children
            if CfnResource.is_cfn_resource(child)
            and cast("CfnResource", child).cfn_resource_type == ASSOCIATION_TYPE
        ]
        if len(associations) != 1:
            raise ValueError(
                f"expected one {ASSOCIATION_TYPE} in {self._cluster.node.path}, "
                f"found {len(associations)}"
            )
        for user in self._users:
            user.node.add_dependency(associations[0])
