"""Compute stack: thin wiring of the environment's services from config: the shared
`PlatformCluster` and `PlatformLoadBalancer`, one `PlatformService` per service, the
`PlatformMigration` of the service that owns the database schema, and the grants between them
(database, storage, app secrets, Service Connect).

Services that use the database read its credentials as ECS secrets and its hosts as
DB_HOST (the proxy, else the writer) and DB_READER_HOST; the migration task (the owning
service's image, same secrets) connects to the writer itself and runs during `cdk deploy`
before that service may change; a rotated password (rotated by the rotation function or by
RDS) reaches running tasks through a forced new deployment of every service that uses the
database.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from aws_cdk import CfnOutput, CfnResource, Stack
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_ecs as ecs
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from constructs import Construct, IConstruct

from config.capacity import Ec2Capacity as Ec2CapacityConfig
from config.models import EnvironmentConfig
from config.service_parts import CapacityProviderName, SpotMix
from config.services import (
    QUEUE_VARIABLE,
    Service,
    queue_variable,
    rule_priority,
    url_variable,
)
from cost_estimate import savings
from l3_constructs.app_secrets import AppSecrets, SecretRef
from l3_constructs.cluster import PlatformCluster
from l3_constructs.compliance import acknowledge, skip_checkov
from l3_constructs.database import PlatformDatabase
from l3_constructs.ec2_capacity import Ec2CapacityProps, SpotInstancesProps
from l3_constructs.job import JobProps, PlatformJob
from l3_constructs.limits import CLOUDFRONT_REGION
from l3_constructs.load_balancer import CloudFrontOrigin, LoadBalancerProps, PlatformLoadBalancer
from l3_constructs.migration import MigrationProps, PlatformMigration
from l3_constructs.network import PlatformNetwork
from l3_constructs.service import BacklogScaling, PlatformService, ServiceProps, WebRoute
from l3_constructs.storage import PlatformStorage
from l3_constructs.worker_queue import WorkerQueue, WorkerQueueProps
from l3_constructs.workload import ContainerHealthCheck, ImageSource
from stacks.base import PlatformStack

#: Image directories in config are relative to the repository root.
REPO_ROOT = Path(__file__).resolve().parent.parent
#: The header CloudFront's viewer-request function sets to the viewer's Host (CloudFront
#: sends the origin's own name as Host); host-routed services' rules match it.
VIEWER_HOST_HEADER = "X-Forwarded-Host"
#: Where ECS Exec's SSM agent writes inside a container (read-only root filesystems).
ECS_EXEC_PATHS = ("/var/lib/amazon/ssm", "/var/log/amazon/ssm")
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
            # The FARGATE / FARGATE_SPOT association only where a service's strategy needs it.
            fargate_capacity_providers=any(
                capacity_provider(config, s)[0] == "fargate_spot"
                for s in services.values()
                if s.kind != "job"
            ),
            # The instances of `capacity_provider: ec2` (config refuses them in public subnets).
            ec2_capacity=_ec2_capacity(c.ec2) if c.ec2 else None,
            ec2_subnets=task_subnets,
            container_insights=c.container_insights,
            cost_note=_container_insights_saving(config)
            if c.container_insights == "disabled"
            else "",
            # `data_protection.shared_key`: the Network stack's key, else one of its own.
            key=network.shared_key,
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
                desync_mitigation_mode=c.load_balancer_desync_mode,
                # The Edge stack's distribution is the only way in.
                cloudfront_origin=CloudFrontOrigin(
                    header_name=config.edge.origin_verify_header,
                    secret_replica_region=CLOUDFRONT_REGION,
                    viewer_host_header=VIEWER_HOST_HEADER if config.has_host_routes else None,
                    vpc_origin=config.edge.vpc_origin,
                ),
                log_retention_days=config.observability.log_retention_days,
            ),
            vpc=network.vpc,
            # Internal behind a VPC origin: no public address, nothing to reach from outside.
            subnets=network.private_subnets if config.edge.vpc_origin else network.public_subnets,
            key=self.cluster.key,
        )
        self.app_secrets = AppSecrets(self, "AppSecrets", key=self.cluster.key)
        db_secret = database.secret_for(self, "DatabaseSecret")
        self._db_secrets = {
            "DB_USERNAME": ecs.Secret.from_secrets_manager(db_secret, "username"),
            "DB_PASSWORD": ecs.Secret.from_secrets_manager(db_secret, "password"),
        }
        # DB_HOST: the proxy where there is one, else the writer; DB_READER_HOST: the
        # readers (DB_HOST when there are none). The migration reaches the writer itself.
        self._db_environment = {
            "DB_HOST": database.host,
            "DB_READER_HOST": database.reader_host,
            "DB_PORT": str(database.port),
            "DB_NAME": config.database.database_name,
            # Through the proxy, clients authenticate with an IAM token, not the password.
            **({"DB_AUTH": "iam"} if database.iam_auth_required else {}),
        }
        migration_environment = {
            "DB_HOST": database.writer_host,
            "DB_PORT": str(database.port),
            "DB_NAME": config.database.database_name,
        }
        self._storage = storage
        self._rotation_rules: list[Any] = []
        # Workers' queues first: any workload may publish to them.
        self.queues: dict[str, WorkerQueue] = {
            name: WorkerQueue(
                self,
                f"{name}Queue",
                props=WorkerQueueProps(
                    visibility_timeout_seconds=s.queue.visibility_timeout_seconds,
                    max_receive_count=s.queue.max_receive_count,
                    retention_days=s.queue.retention_days,
                    dead_letter_retention_days=s.queue.dead_letter_retention_days,
                ),
                key=self.cluster.key,
            )
            for name, s in services.items()
            if s.kind == "worker"
        }
        servers = {t for s in services.values() for t in s.connects_to}
        #: Every ECS service (web, backend, worker), by name; jobs are in `jobs`.
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
            if service.kind != "job"
        }
        self.jobs: dict[str, PlatformJob] = {
            name: self._job(config, name, service, task_subnets=task_subnets, public=public)
            for name, service in services.items()
            if service.kind == "job"
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
                # Locked down like its service's container.
                user=services[config.migration.service].user,
                writable_paths=services[config.migration.service].writable_paths,
                add_capabilities=services[config.migration.service].add_capabilities,
            ),
            cluster=self.cluster.cluster,
            image=owner.image,
            image_id=owner.image_id,
            environment=migration_environment,
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
        database.allow_writer_connections_from(self.migration.security_group, "The migration task")
        for name, platform_service in self.services.items():
            if services[name].database:
                role = platform_service.task_definition.obtain_execution_role()
                database.grant_secret_read(role)
                database.grant_connect(platform_service.task_definition.task_role)
                database.allow_connections_from(platform_service.security_group, f"Service {name}")
                self._redeploy_on_rotation(database, name, platform_service)
        # A job reads the password when each run starts: no redeploy needed.
        for name, job in self.jobs.items():
            if services[name].database:
                database.grant_secret_read(job.task_definition.obtain_execution_role())
                database.grant_connect(job.task_definition.task_role)
                database.allow_connections_from(job.security_group, f"Job {name}")
            CfnOutput(
                self,
                f"{name}JobTaskDefinitionFamily",
                value=job.task_definition.family,
                description=f"Task definition family of the {name} job: run it once with "
                "`aws ecs run-task` (README 'Background work')",
            )
        self._keep_legacy_ids(owner)
        CfnOutput(
            self,
            "ServiceUrl",
            value=self.load_balancer.url,
            description="The origin's URL: answers 403 unless the request comes through "
            "the Edge stack's CloudFront distribution",
        )

    def _task(
        self, config: EnvironmentConfig, name: str, s: Service
    ) -> tuple[dict[str, Any], dict[str, ecs.Secret]]:
        """What every workload's task takes from config (`TaskProps` fields), and its
        secrets: the database's where it says so, then its own."""
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
        for target in s.publishes_to:
            environment[queue_variable(target)] = self.queues[target].queue.queue_url
        if s.kind == "worker":
            environment[QUEUE_VARIABLE] = self.queues[name].queue.queue_url
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
        image, check = s.image, s.container_health_check
        task = {
            "name": name,
            "image": ImageSource(
                kind=image.source,
                directory=str(REPO_ROOT / image.directory) if image.directory else None,
                repository_name=image.repository,
                tag=image.tag,
            ),
            "cpu": s.cpu,
            "memory_mib": s.memory_mib,
            "architecture": s.architecture,
            # Workers and jobs serve no requests: no port, no PORT.
            "port": s.port if s.kind in ("web", "backend") else None,
            "command": s.command,
            "environment": environment,
            "container_health_check": ContainerHealthCheck(
                command=check.command,
                interval_seconds=check.interval_seconds,
                timeout_seconds=check.timeout_seconds,
                retries=check.retries,
                start_period_seconds=check.start_period_seconds,
            )
            if check
            else None,
            "log_retention_days": s.log_retention_days,
            "ecr_keep_images": config.compute.ecr_keep_images,
            "stop_timeout_seconds": s.stop_timeout_seconds,
            # With a pipeline, the workload runs the tag it released (its release record in
            # the Network stack), and the configured image until the first release.
            "release_parameter_name": config.release_parameter_name(name)
            if config.pipeline and image.source == "asset"
            else None,
            "mutable_tags": (config.latest_image_tag,) if config.pipeline else (),
            "tracing": config.observability.tracing,
            "decrypt_grants": self.app_secrets.decrypt_grants(list(refs.values())),
            "user": s.user,
            # ECS Exec's SSM agent writes under these: scratch volumes where exec is on.
            "writable_paths": tuple(
                dict.fromkeys(
                    (*s.writable_paths, *(ECS_EXEC_PATHS if s.enable_execute_command else ()))
                )
            ),
            "add_capabilities": s.add_capabilities,
        }
        return task, secrets

    def _grant(self, task_definition: ecs.TaskDefinition, name: str, s: Service) -> None:
        """The task role's grants: the storage bucket, the queues it publishes to, and a
        worker's own queue."""
        role = task_definition.task_role
        if s.storage != "none" and self._storage is not None:
            self._storage.grant(role, s.storage)
        for target in s.publishes_to:
            self.queues[target].grant_send(role)
        if s.kind == "worker":
            self.queues[name].grant_consume(role)

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
        task, secrets = self._task(config, name, s)
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
        queue = self.queues.get(name)
        provider, mix = capacity_provider(config, s)
        service = PlatformService(
            self,
            name,
            props=ServiceProps(
                **task,
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
                canary_percent=s.deployment.canary_percent,
                linear_step_percent=s.deployment.linear_step_percent,
                step_bake_minutes=s.deployment.step_bake_minutes,
                capacity_provider=provider,
                network_mode=s.network_mode,
                fargate_base=mix.fargate_base,
                fargate_weight=mix.fargate_weight,
                spot_weight=mix.spot_weight,
                route=route,
                enable_execute_command=s.enable_execute_command,
                assign_public_ip=public,
                service_connect_server=server or s.kind == "backend",
                service_connect_client=bool(s.connects_to),
                backlog_scaling=BacklogScaling(
                    visible_messages=queue.visible_messages(),
                    queue_name=queue.queue.queue_name,
                    backlog_per_task=s.queue.backlog_per_task,
                )
                if queue is not None
                else None,
            ),
            cluster=self.cluster,
            vpc=self.cluster.cluster.vpc,
            task_subnets=task_subnets,
            secrets=secrets,
            load_balancer=self.load_balancer if s.kind == "web" else None,
        )
        self._grant(service.task_definition, name, s)
        return service

    def _job(
        self,
        config: EnvironmentConfig,
        name: str,
        s: Service,
        *,
        task_subnets: ec2.SubnetSelection,
        public: bool,
    ) -> PlatformJob:
        task, secrets = self._task(config, name, s)
        assert s.schedule is not None
        job = PlatformJob(
            self,
            name,
            props=JobProps(
                **task,
                schedule=s.schedule,
                timezone=s.timezone,
                flexible_window_minutes=s.flexible_window_minutes,
                retry_attempts=s.retry.attempts,
                max_event_age_seconds=s.retry.max_event_age_seconds,
                timeout_minutes=s.timeout_minutes,
                assign_public_ip=public,
            ),
            cluster=self.cluster,
            vpc=self.cluster.cluster.vpc,
            subnets=task_subnets,
            secrets=secrets,
        )
        self._grant(job.task_definition, name, s)
        return job

    def _keep_legacy_ids(self, owner: PlatformService) -> None:
        kept: Mapping[str, IConstruct | None] = {
            "key": self.cluster.key,
            "access_logs": self.load_balancer.access_log_bucket,
            "origin_secret": self.load_balancer.origin_verify_secret,
            "repository": owner.repository,
            "log_group": owner.log_group,
        }
        for what, construct in kept.items():
            # Only what this stack holds: a shared key (`data_protection.shared_key`) is the
            # Network stack's and keeps the id it has there.
            if construct is not None and Stack.of(construct) is self:
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


def _ec2_capacity(ec2_config: Ec2CapacityConfig) -> Ec2CapacityProps:
    spot = ec2_config.spot
    return Ec2CapacityProps(
        instance_types=ec2_config.instance_types,
        architecture=ec2_config.architecture,
        min_instances=ec2_config.min_instances,
        max_instances=ec2_config.max_instances,
        target_capacity_percent=ec2_config.target_capacity_percent,
        spot=SpotInstancesProps(
            on_demand_base=spot.on_demand_base, on_demand_percent=spot.on_demand_percent
        )
        if spot
        else None,
        root_volume_gib=ec2_config.root_volume_gib,
        detailed_monitoring=ec2_config.detailed_monitoring,
    )


def _container_insights_saving(config: EnvironmentConfig) -> str:
    running = [s for s in config.services.values() if s.kind != "job" and s.capacity.desired]
    tasks = sum(s.capacity.desired for s in running)
    per_task = 2 if config.observability.tracing else 1
    return savings.note(
        lambda: savings.container_insights(
            config.region, services=len(running), tasks=tasks, containers=tasks * per_task
        ),
        f"enhanced Container Insights for {tasks} running tasks",
    )


def capacity_provider(
    config: EnvironmentConfig, s: Service
) -> tuple[CapacityProviderName, SpotMix]:
    """Where a service's tasks run, and the Fargate / Fargate Spot mix of `fargate_spot`: the
    service's own settings, else the environment's (`compute`). Jobs always run on Fargate."""
    return (
        s.capacity_provider or config.compute.capacity_provider,
        s.spot_mix or config.compute.spot_mix,
    )


#: Construct id of the function `aws_events_targets.AwsApi` creates once per stack
#: ("AWS" + the SingletonFunction uuid in aws-cdk-lib).
AWS_API_FUNCTION_ID = "AWSb4cf1abd4e4f4bc699441af7ccd9ec37"
