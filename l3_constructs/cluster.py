"""PlatformCluster: what an environment's services share besides the load balancer: the ECS
cluster (Container Insights, ECS Exec logging), its Service Connect namespace and the key
that encrypts the services' logs, image repositories and ECS Exec sessions.

Knows nothing of environments: every choice arrives as arguments.
"""

from __future__ import annotations

from aws_cdk import RemovalPolicy, Stack
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_ecs as ecs
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_servicediscovery as servicediscovery
from constructs import Construct

from l3_constructs.retention import retention_days
from l3_constructs.shared import allow_cloudwatch_logs


class PlatformCluster(Construct):
    """Exposes `key`, `cluster`, `namespace` (Cloud Map HTTP namespace every service joins
    for Service Connect) and `exec_log_group` (ECS Exec sessions; None when exec is off)."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        vpc: ec2.IVpc,
        namespace_name: str,
        enable_execute_command: bool,
        exec_log_retention_days: int = 30,
    ) -> None:
        super().__init__(scope, construct_id)
        stack = Stack.of(self)
        self.key = kms.Key(
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
            container_insights_v2=ecs.ContainerInsights.ENHANCED,
            execute_command_configuration=exec_configuration,
        )
        # HTTP namespace: Service Connect needs no DNS zone, so nothing is paid per zone.
        self.namespace = servicediscovery.HttpNamespace(
            self,
            "Namespace",
            name=namespace_name,
            description=f"Service Connect names of {stack.stack_name}",
        )
