"""Compute stack: thin wiring of the environment's services from config: the shared
`PlatformCluster` and `PlatformLoadBalancer`, one `PlatformService` per service, the
`PlatformMigration` of the service that owns the database schema, and the grants between them
(database, storage, app secrets, Service Connect).

Services that use the database read its credentials as ECS secrets; the migration task (the
owning service's image, same secrets) runs during `cdk deploy` before that service may
change; a rotated password reaches running tasks through a forced new deployment of every
service that uses the database.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from aws_cdk import CfnOutput, CfnResource
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_ecs as ecs
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from constructs import Construct, IConstruct

from config.models import EnvironmentConfig
from config.services import Service, rule_priority, url_variable
from l3_constructs.app_secrets import AppSecrets, SecretRef
from l3_constructs.cluster import PlatformCluster
from l3_constructs.compliance import acknowledge, skip_checkov
from l3_constructs.database import PlatformDatabase
from l3_constructs.limits import CLOUDFRONT_REGION
from l3_constructs.load_balancer import CloudFrontOrigin, LoadBalancerProps, PlatformLoadBalancer
from l3_constructs.migration import MigrationProps, PlatformMigration
from l3_constructs.network import PlatformNetwork
from l3_constructs.service import PlatformService, ServiceProps, WebRoute
from l3_constructs.storage import PlatformStorage
from l3_constructs.workload import ContainerHealthCheck, ImageSource
from stacks.base import PlatformStack

#: Image directories in config are relative to the repository root.
REPO_ROOT = Path(__file__).resolve().parent.parent
#: The header CloudFront's viewer-request function sets to the viewer's Host (CloudFront
#: sends the origin's own name as Host); host-routed services' rules match it.
VIEWER_HOST_HEADER = "X-Forwarded-Host"
#: Logical ids of the single-service layout (before `services`), kept so an existing
#: environment keeps its key, log bucket and origin secret, and the migration's service
#: keeps the image repository and log group it had (tests/test_logical_ids.py).
LEGACY_IDS = {
    "key": "ServiceKeyB2087346",
    "access_logs": "ServiceAccessLogBucket010FE97D",
    "origin_secret": "ServiceOriginVerifySecretE8CE134B",
    "repository": "ServiceRepositoryB5DB2931",
    "log_group": "ServiceLogGroupB910EE76",
}


class ComputeStack(PlatformStack):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: EnvironmentConfig,
        network: PlatformNetwork,
        database: PlatformDatabase,
        storage: PlatformStorage | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(scope, construct_id, config=config, **kwargs)
        c = config.compute
        public = c.subnets == "public"
        task_subnets = network.public_subnets if public else network.private_subnets
        services = config.services
        exec_services = [s for s in services.values() if s.enable_execute_command]
        self.cluster = PlatformCluster(
            self,
            "Cluster",
            vpc=network.vpc,
            namespace_name=config.namespace,
            enable_execute_command=bool(exec_services),
            exec_log_retention_days=max((s.log_retention_days for s in exec_services), default=30),
        )
        self.load_balancer = PlatformLoadBalancer(
            self,
            "LoadBalancer",
            props=LoadBalancerProps(
                domain_name=c.domain_name,
                hosted_zone_id=config.dns.hosted_zone_id,
                zone_name=config.dns.zone_name,
                deletion_protection=c.load_balancer_deletion_protection,
                access_log_retention_days=c.access_log_retention_days,
                # The Edge stack's distribution is the only way in.
                cloudfront_origin=CloudFrontOrigin(
                    header_name=config.edge.origin_verify_header,
                    secret_replica_region=CLOUDFRONT_REGION,
                    viewer_host_header=VIEWER_HOST_HEADER if config.has_host_routes else None,
                ),
                log_retention_days=config.observability.log_retention_days,
            ),
            vpc=network.vpc,
            subnets=network.public_subnets,
            key=self.cluster.key,
        )
        self.app_secrets = AppSecrets(self, "AppSecrets", key=self.cluster.key)
        db_secret = database.secret_for(self, "DatabaseSecret")
        self._db_secrets = {
            "DB_USERNAME": ecs.Secret.from_secrets_manager(db_secret, "username"),
            "DB_PASSWORD": ecs.Secret.from_secrets_manager(db_secret, "password"),
        }
        self._db_environment = {
            "DB_HOST": database.instance.db_instance_endpoint_address,
            "DB_PORT": str(database.port),
            "DB_NAME": config.database.database_name,
        }
        self._storage = storage
        self._rotation_rules: list[Any] = []
        servers = {t for s in services.values() for t in s.connects_to}
        self.services: dict[str, PlatformService] = {
            name: self._service(
                config,
                name,
                service,
                server=name in servers,
                task_subnets=task_subnets,
                public=public,
            )
            for name, service in services.items()
        }
        for name, service in services.items():
            for target in service.connects_to:
                self.services[target].allow_from(self.services[name])

        owner = self.services[config.migration.service]
        self.migration = PlatformMigration(
            self,
            "Migration",
            props=MigrationProps(
                command=config.migration.command,
                timeout_minutes=config.migration.timeout_minutes,
                cpu=owner.props.cpu,
                memory_mib=owner.props.memory_mib,
                architecture=owner.props.architecture,
                log_retention_days=services[config.migration.service].log_retention_days,
            ),
            cluster=self.cluster.cluster,
            image=owner.image,
            image_id=owner.image_id,
            environment=self._db_environment,
            secrets=self._db_secrets,
            vpc=network.vpc,
            subnets=task_subnets,
            assign_public_ip=public,
            log_key=self.cluster.key,
        )
        # CloudFormation changes the owning service (its new task definition) only after the
        # migration of the new image has exited 0; a failed migration fails the deployment
        # and the service stays on its old task definition. Other services do not wait.
        owner.service.node.add_dependency(self.migration.resource)
        database.grant_secret_read(self.migration.task_definition.obtain_execution_role())
        database.allow_connections_from(self.migration.security_group, "The migration task")
        for name, platform_service in self.services.items():
            if services[name].database:
                role = platform_service.task_definition.obtain_execution_role()
                database.grant_secret_read(role)
                database.allow_connections_from(platform_service.security_group, f"Service {name}")
                self._redeploy_on_rotation(database, name, platform_service)
        self._keep_legacy_ids(owner)
        CfnOutput(
            self,
            "ServiceUrl",
            value=self.load_balancer.url,
            description="The origin's URL: answers 403 unless the request comes through "
            "the Edge stack's CloudFront distribution",
        )

    def _service(
        self,
        config: EnvironmentConfig,
        name: str,
        s: Service,
        *,
        server: bool,
        task_subnets: ec2.SubnetSelection,
        public: bool,
    ) -> PlatformService:
        environment: dict[str, str] = {}
        secrets: dict[str, ecs.Secret] = {}
        if s.database:
            environment.update(self._db_environment)
            secrets.update(self._db_secrets)
        if s.storage != "none" and self._storage is not None:
            environment["STORAGE_BUCKET"] = self._storage.bucket.bucket_name
        for target in s.connects_to:
            target_service = config.services[target]
            environment[url_variable(target)] = f"http://{target}:{target_service.port}"
        environment.update(s.environment)
        refs = {
            variable: SecretRef(
                source="ssm" if secret.ssm else "secretsmanager",
                name=secret.ssm or secret.secrets_manager or "",
                field=secret.field,
                kms_key_arn=secret.kms_key_arn,
                create=secret.create,
            )
            for variable, secret in s.secrets.items()
        }
        secrets.update({v: self.app_secrets.secret(ref) for v, ref in refs.items()})
        image = s.image
        route = (
            WebRoute(
                priority=rule_priority(name, s),
                paths=s.paths,
                hosts=s.hosts,
                health_check_path=s.health_check.path,
                health_check_interval_seconds=s.health_check.interval_seconds,
                deregistration_delay_seconds=s.deregistration_delay_seconds,
                stickiness_seconds=s.stickiness.duration_seconds if s.stickiness else None,
                alarm_5xx_threshold=s.deployment.alarm_5xx_threshold,
            )
            if s.kind == "web"
            else None
        )
        check = s.container_health_check
        service = PlatformService(
            self,
            name,
            props=ServiceProps(
                name=name,
                image=ImageSource(
                    kind=image.source,
                    directory=str(REPO_ROOT / image.directory) if image.directory else None,
                    repository_name=image.repository,
                    tag=image.tag,
                ),
                cpu=s.cpu,
                memory_mib=s.memory_mib,
                architecture=s.architecture,
                port=s.port,
                command=s.command,
                environment=environment,
                desired_count=s.capacity.desired,
                min_count=s.capacity.min,
                max_count=s.capacity.max,
                cpu_target_percent=s.scaling.cpu_target_percent,
                memory_target_percent=s.scaling.memory_target_percent,
                scale_in_cooldown_seconds=s.scaling.scale_in_cooldown_seconds,
                scale_out_cooldown_seconds=s.scaling.scale_out_cooldown_seconds,
                min_healthy_percent=s.deployment.min_healthy_percent,
                max_healthy_percent=s.deployment.max_percent,
                deployment_strategy=s.deployment.strategy,
                bake_time_minutes=s.deployment.bake_time_minutes,
                route=route,
                container_health_check=ContainerHealthCheck(
                    command=check.command,
                    interval_seconds=check.interval_seconds,
                    timeout_seconds=check.timeout_seconds,
                    retries=check.retries,
                    start_period_seconds=check.start_period_seconds,
                )
                if check
                else None,
                log_retention_days=s.log_retention_days,
                enable_execute_command=s.enable_execute_command,
                ecr_keep_images=config.compute.ecr_keep_images,
                assign_public_ip=public,
                service_connect_server=server or s.kind == "backend",
                service_connect_client=bool(s.connects_to),
                # With a pipeline, the service runs the tag it released (its release record
                # in the Network stack), and the configured image until the first release.
                release_parameter_name=config.release_parameter_name(name)
                if config.pipeline and image.source == "asset"
                else None,
                mutable_tags=(config.latest_image_tag,) if config.pipeline else (),
                tracing=config.observability.tracing,
                decrypt_grants=AppSecrets.decrypt_grants(list(refs.values())),
            ),
            cluster=self.cluster,
            vpc=self.cluster.cluster.vpc,
            task_subnets=task_subnets,
            secrets=secrets,
            load_balancer=self.load_balancer if s.kind == "web" else None,
        )
        if s.storage != "none" and self._storage is not None:
            self._storage.grant(service.task_definition.task_role, s.storage)
        return service

    def _keep_legacy_ids(self, owner: PlatformService) -> None:
        kept: Mapping[str, IConstruct | None] = {
            "key": self.cluster.key,
            "access_logs": self.load_balancer.access_log_bucket,
            "origin_secret": self.load_balancer.origin_verify_secret,
            "repository": owner.repository,
            "log_group": owner.log_group,
        }
        for what, construct in kept.items():
            if construct is not None:
                resource = construct.node.default_child
                assert isinstance(resource, CfnResource)
                resource.override_logical_id(LEGACY_IDS[what])

    def _redeploy_on_rotation(
        self, database: PlatformDatabase, name: str, platform_service: PlatformService
    ) -> None:
        """ECS injects secrets only when a task starts: after each successful rotation of the
        database password, force a new deployment so every task gets the new one."""
        cluster, service = self.cluster.cluster, platform_service.service
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
        # One rule per service (a rule takes at most five targets).
        rule_id = "RedeployOnRotation" if not self._rotation_rules else f"RedeployOnRotation{name}"
        self._rotation_rules.append(database.add_rotation_listener(rule_id, update, scope=self))
        if len(self._rotation_rules) == 1:
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
