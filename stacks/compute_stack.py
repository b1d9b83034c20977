"""Compute stack: thin wiring of `PlatformService` and `PlatformMigration` from config.

The service reads the database credentials as ECS secrets; the migration task (same image,
same secrets) runs during `cdk deploy` before the service may change; a rotated password
reaches running tasks through a forced new deployment.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from aws_cdk import CfnOutput
from aws_cdk import aws_ecs as ecs
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from constructs import Construct

from config.models import EnvironmentConfig
from l3_constructs.compliance import acknowledge, skip_checkov
from l3_constructs.database import PlatformDatabase
from l3_constructs.limits import CLOUDFRONT_REGION
from l3_constructs.migration import MigrationProps, PlatformMigration
from l3_constructs.network import PlatformNetwork
from l3_constructs.service import CloudFrontOrigin, ImageSource, PlatformService, ServiceProps
from stacks.base import PlatformStack

#: Image directories in config are relative to the repository root.
REPO_ROOT = Path(__file__).resolve().parent.parent


class ComputeStack(PlatformStack):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: EnvironmentConfig,
        network: PlatformNetwork,
        database: PlatformDatabase,
        **kwargs: Any,
    ) -> None:
        super().__init__(scope, construct_id, config=config, **kwargs)
        c = config.compute
        public = c.subnets == "public"
        task_subnets = network.public_subnets if public else network.private_subnets
        db_secret = database.secret_for(self, "DatabaseSecret")
        secrets = {
            "DB_USERNAME": ecs.Secret.from_secrets_manager(db_secret, "username"),
            "DB_PASSWORD": ecs.Secret.from_secrets_manager(db_secret, "password"),
        }
        environment = {
            "DB_HOST": database.instance.db_instance_endpoint_address,
            "DB_PORT": str(database.port),
            "DB_NAME": config.database.database_name,
            **c.environment,
        }
        image = c.image
        self.service = PlatformService(
            self,
            "Service",
            props=ServiceProps(
                domain_name=c.domain_name,
                hosted_zone_id=config.dns.hosted_zone_id,
                zone_name=config.dns.zone_name,
                image=ImageSource(
                    kind=image.source,
                    directory=str(REPO_ROOT / image.directory) if image.source == "asset" else None,
                    repository_name=image.repository,
                    tag=image.tag,
                ),
                cpu=c.cpu,
                memory_mib=c.memory_mib,
                architecture=c.architecture,
                container_port=c.container_port,
                command=c.command,
                environment=environment,
                desired_count=c.capacity.desired,
                min_count=c.capacity.min,
                max_count=c.capacity.max,
                cpu_target_percent=c.scaling.cpu_target_percent,
                memory_target_percent=c.scaling.memory_target_percent,
                scale_in_cooldown_seconds=c.scaling.scale_in_cooldown_seconds,
                scale_out_cooldown_seconds=c.scaling.scale_out_cooldown_seconds,
                min_healthy_percent=c.deployment.min_healthy_percent,
                max_healthy_percent=c.deployment.max_percent,
                deployment_strategy=c.deployment.strategy,
                bake_time_minutes=c.deployment.bake_time_minutes,
                health_check_path=c.health_check.path,
                health_check_interval_seconds=c.health_check.interval_seconds,
                deregistration_delay_seconds=c.deregistration_delay_seconds,
                alb_deletion_protection=c.load_balancer_deletion_protection,
                access_log_retention_days=c.access_log_retention_days,
                log_retention_days=c.log_retention_days,
                enable_execute_command=c.enable_execute_command,
                ecr_keep_images=c.ecr_keep_images,
                alarm_5xx_threshold=c.deployment.alarm_5xx_threshold,
                assign_public_ip=public,
                # The Edge stack's distribution is the only way in.
                cloudfront_origin=CloudFrontOrigin(
                    header_name=config.edge.origin_verify_header,
                    secret_replica_region=CLOUDFRONT_REGION,
                ),
                # With a pipeline, the service runs the tag it released (the release record
                # in the Network stack), and the configured image until the first release.
                release_parameter_name=config.release_parameter_name if config.pipeline else None,
                mutable_tags=(config.latest_image_tag,) if config.pipeline else (),
                tracing=config.observability.tracing,
            ),
            vpc=network.vpc,
            load_balancer_subnets=network.public_subnets,
            task_subnets=task_subnets,
            secrets=secrets,
        )
        self.migration = PlatformMigration(
            self,
            "Migration",
            props=MigrationProps(
                command=config.migration.command,
                timeout_minutes=config.migration.timeout_minutes,
                cpu=c.cpu,
                memory_mib=c.memory_mib,
                architecture=c.architecture,
                log_retention_days=c.log_retention_days,
            ),
            cluster=self.service.cluster,
            image=self.service.image,
            image_id=self.service.image_id,
            environment=environment,
            secrets=secrets,
            vpc=network.vpc,
            subnets=task_subnets,
            assign_public_ip=public,
            log_key=self.service.key,
        )
        # CloudFormation changes the service (its new task definition) only after the
        # migration of the new image has exited 0; a failed migration fails the deployment
        # and the service stays on its old task definition.
        self.service.service.node.add_dependency(self.migration.resource)

        for task in (self.service.task_definition, self.migration.task_definition):
            database.grant_secret_read(task.obtain_execution_role())
        database.allow_connections_from(self.service.security_group, "The API service")
        database.allow_connections_from(self.migration.security_group, "The migration task")
        self._redeploy_on_rotation(database)
        CfnOutput(
            self,
            "ServiceUrl",
            value=self.service.url,
            description="The origin's URL: answers 403 unless the request comes through "
            "the Edge stack's CloudFront distribution",
        )

    def _redeploy_on_rotation(self, database: PlatformDatabase) -> None:
        """ECS injects secrets only when a task starts: after each successful rotation of the
        database password, force a new deployment so every task gets the new one."""
        cluster, service = self.service.cluster, self.service.service
        update = targets.AwsApi(
            service="ECS",
            action="updateService",
            parameters={
                "cluster": cluster.cluster_name,
                "service": service.service_name,
                "forceNewDeployment": True,
            },
            policy_statement=iam.PolicyStatement(
                actions=["ecs:UpdateService"], resources=[service.service_arn]
            ),
        )
        database.add_rotation_listener("RedeployOnRotation", update, scope=self)
        self._acknowledge_aws_api_function()

    def _acknowledge_aws_api_function(self) -> None:
        """Findings on the one function `targets.AwsApi` shares across the stack."""
        function = self.node.find_child(AWS_API_FUNCTION_ID)
        acknowledge(
            function,
            (
                "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/"
                "AWSLambdaBasicExecutionRole]",
            ),
            "CDK's AwsApi target function writes only its own logs through the AWS-managed "
            "basic execution policy; its one permission is ecs:UpdateService on this service.",
        )
        acknowledge(
            function,
            "NIST.800.53.R5-IAMNoInlinePolicy",
            "The inline policy is CDK's grant of ecs:UpdateService on this one service to the "
            "AwsApi target's single-purpose role.",
        )
        acknowledge(
            function,
            "NIST.800.53.R5-LambdaInsideVPC",
            "The function only calls the ECS API to force a new deployment; it reaches no "
            "resource inside the VPC, which may have neither NAT nor an ECS endpoint.",
        )
        acknowledge(
            function,
            "NIST.800.53.R5-LambdaConcurrency",
            "Invoked once per successful password rotation (days apart); reserved "
            "concurrency would only withhold capacity from other functions.",
        )
        acknowledge(
            function,
            "NIST.800.53.R5-LambdaDLQ",
            "EventBridge retries delivery for up to 24 hours and Lambda retries the async "
            "invocation twice; a failure is in the function's log group and the next "
            "deployment starts tasks with the new password anyway.",
        )
        acknowledge(
            function,
            "NIST.800.53.R5-CloudWatchLogGroupEncrypted",
            "The log group CDK creates for the AwsApi function holds only the UpdateService "
            "call and its response (cluster and service names), no data or secrets.",
        )
        skip_checkov(
            function,
            "CKV_AWS_117",
            "The AwsApi target function only calls the ECS API (UpdateService); it needs "
            "nothing inside the VPC, which may have neither NAT nor an ECS endpoint.",
        )
        skip_checkov(
            function,
            "CKV_AWS_115",
            "Invoked once per successful password rotation (days apart); reserved "
            "concurrency would only withhold capacity from other functions.",
        )
        skip_checkov(
            function,
            "CKV_AWS_116",
            "EventBridge retries delivery for up to 24 hours and Lambda retries the async "
            "invocation twice; a failure is in the function's log group.",
        )
        skip_checkov(
            function.node.find_child("LogGroup"),
            "CKV_AWS_158",
            "The log group CDK creates for the AwsApi function holds only the UpdateService "
            "call and its response (cluster and service names), no data or secrets.",
        )


#: Construct id of the function `aws_events_targets.AwsApi` creates once per stack
#: ("AWS" + the SingletonFunction uuid in aws-cdk-lib).
AWS_API_FUNCTION_ID = "AWSb4cf1abd4e4f4bc699441af7ccd9ec37"
