"""PlatformService: one container on ECS Fargate behind an internet-facing HTTPS load balancer,
with its ECR repository, encrypted logs, auto scaling and alarm-guarded deployments.

Knows nothing of environments: every choice arrives in `ServiceProps`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal, cast

from aws_cdk import (
    CfnCondition,
    CfnElement,
    CfnParameter,
    Duration,
    Fn,
    RemovalPolicy,
    Stack,
    Token,
)
from aws_cdk import aws_certificatemanager as acm
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_ecr as ecr
from aws_cdk import aws_ecr_assets as ecr_assets
from aws_cdk import aws_ecs as ecs
from aws_cdk import aws_elasticloadbalancingv2 as elbv2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_route53 as route53
from aws_cdk import aws_route53_targets as route53_targets
from aws_cdk import aws_secretsmanager as secretsmanager
from aws_cdk import custom_resources as cr
from aws_cdk.aws_ecr_assets import Platform
from constructs import Construct

from l3_constructs.compliance import acknowledge, skip_checkov
from l3_constructs.limits import UNRELEASED
from l3_constructs.retention import retention_days
from l3_constructs.shared import (
    Architecture,
    acknowledge_aws_custom_resource_function,
    allow_cloudwatch_logs,
    encrypted_function_log_group,
    expiring_log_bucket,
    fargate_task_definition,
    https_egress_security_group,
)

CONTAINER_NAME = "app"
XRAY_CONTAINER_NAME = "xray-daemon"

#: The platform a Docker asset is built for must match the tasks' architecture.
_ASSET_PLATFORMS: dict[Architecture, Platform] = {
    "X86_64": Platform.LINUX_AMD64,
    "ARM64": Platform.LINUX_ARM64,
}


@dataclass(frozen=True)
class ImageSource:
    kind: Literal["asset", "ecr"] = "asset"
    #: asset: a directory with a Dockerfile (built and published by `cdk deploy`).
    directory: str | None = None
    #: ecr: an existing repository's name and the (immutable) tag to run.
    repository_name: str | None = None
    tag: str | None = None


@dataclass(frozen=True)
class CloudFrontOrigin:
    """Serve only CloudFront: the load balancer admits CloudFront's origin-facing addresses
    alone (port 443) and answers 403 to any request without `header_name` set to a secret
    generated into Secrets Manager (`PlatformService.origin_verify_secret`)."""

    header_name: str
    #: Where the distribution reads the secret: it is replicated there (us-east-1).
    secret_replica_region: str


#: AWS-managed prefix list of CloudFront's origin-facing addresses (IPv4), in every region.
CLOUDFRONT_ORIGIN_FACING_PREFIX_LIST = "com.amazonaws.global.cloudfront.origin-facing"


@dataclass(frozen=True)
class ServiceProps:
    #: The load balancer's HTTPS name, e.g. "origin.example.com", in the zone below.
    domain_name: str
    hosted_zone_id: str
    zone_name: str
    image: ImageSource
    cpu: int = 256
    memory_mib: int = 512
    architecture: Architecture = "ARM64"
    container_port: int = 8080
    #: The server command; None runs the image's default.
    command: tuple[str, ...] | None = None
    #: Plain environment variables (values may be CDK tokens); secrets go in `secrets`.
    environment: Mapping[str, str] = field(default_factory=dict)
    desired_count: int = 2
    min_count: int = 2
    max_count: int = 4
    cpu_target_percent: int = 70
    memory_target_percent: int = 70
    scale_in_cooldown_seconds: int = 300
    scale_out_cooldown_seconds: int = 60
    min_healthy_percent: int = 100
    max_healthy_percent: int = 200
    deployment_strategy: Literal["rolling", "blue_green"] = "rolling"
    #: blue_green: how long both revisions run after production traffic has moved.
    bake_time_minutes: int = 5
    health_check_path: str = "/api/health"
    health_check_interval_seconds: int = 30
    deregistration_delay_seconds: int = 60
    alb_deletion_protection: bool = True
    access_log_retention_days: int = 90
    log_retention_days: int = 30
    enable_execute_command: bool = False
    ecr_keep_images: int = 30
    #: Target 5xx responses per 5 minutes above which a deployment rolls back.
    alarm_5xx_threshold: int = 10
    #: True when tasks run in public subnets (no NAT) and need a public IP to reach AWS APIs.
    assign_public_ip: bool = False
    #: None: the load balancer serves the internet directly (HTTP redirected to HTTPS).
    cloudfront_origin: CloudFrontOrigin | None = None
    #: An SSM parameter (`ReleaseRecord`) naming the tag of `repository` to run, resolved
    #: at every deployment; while it holds `UNRELEASED`, `image` runs. None: `image` always.
    release_parameter_name: str | None = None
    #: Tags of `repository` that may move (e.g. a pipeline's `prod-latest`); others are
    #: immutable.
    mutable_tags: tuple[str, ...] = ()
    #: AWS X-Ray: a daemon sidecar the app sends segments to (AWS_XRAY_DAEMON_ADDRESS) and
    #: the task role's grant to upload them.
    tracing: bool = False
    #: AWS's X-Ray daemon image (the `3.x` tag AWS maintains); pulled through NAT or a public
    #: IP, so tracing needs egress to the internet.
    xray_daemon_image: str = "public.ecr.aws/xray/aws-xray-daemon:3.x"


class PlatformService(Construct):
    """A Fargate service reachable at `url` (https://domain_name) through its own ALB.

    Exposes `key`, `repository`, `cluster`, `log_group`, `image`, `image_id`, `task_definition`,
    `container`, `service`, `security_group`, `load_balancer` (with its
    `load_balancer_security_group` and `access_log_bucket`), `https_listener`, `target_group`
    (for blue/green also `alternate_target_group`), `production_rule` (the rule serving
    traffic; None for a rolling service without `cloudfront_origin`), `certificate`,
    `origin_verify_secret` (with `cloudfront_origin`, else None), `deployment_alarms`,
    `domain_name` and `url`.

    The service's security group allows outbound HTTPS only; admitting it to a database
    through the database's `allow_connections_from` adds the matching egress rule.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        props: ServiceProps,
        vpc: ec2.IVpc,
        load_balancer_subnets: ec2.SubnetSelection,
        task_subnets: ec2.SubnetSelection,
        secrets: Mapping[str, ecs.Secret],
    ) -> None:
        super().__init__(scope, construct_id)
        _validate(props)
        self.domain_name = props.domain_name
        self.url = f"https://{props.domain_name}"
        self.key = self._key()
        self._log_retention_days = props.log_retention_days
        self.repository = ecr.Repository(
            self,
            "Repository",
            image_scan_on_push=True,
            image_tag_mutability=ecr.TagMutability.IMMUTABLE_WITH_EXCLUSION
            if props.mutable_tags
            else ecr.TagMutability.IMMUTABLE,
            image_tag_mutability_exclusion_filters=[
                ecr.ImageTagMutabilityExclusionFilter.wildcard(tag) for tag in props.mutable_tags
            ]
            or None,
            encryption=ecr.RepositoryEncryption.KMS,
            encryption_key=self.key,
            lifecycle_rules=[
                ecr.LifecycleRule(
                    description=f"Keep the last {props.ecr_keep_images} images",
                    max_image_count=props.ecr_keep_images,
                )
            ],
            removal_policy=RemovalPolicy.RETAIN,
        )
        self.log_group = logs.LogGroup(
            self,
            "LogGroup",
            encryption_key=self.key,
            retention=retention_days(props.log_retention_days),
            removal_policy=RemovalPolicy.RETAIN,
        )
        self.cluster = ecs.Cluster(
            self,
            "Cluster",
            vpc=vpc,
            container_insights_v2=ecs.ContainerInsights.ENHANCED,
            # ECS Exec sessions are encrypted with the key and logged next to the app's logs.
            execute_command_configuration=ecs.ExecuteCommandConfiguration(
                kms_key=self.key,
                logging=ecs.ExecuteCommandLogging.OVERRIDE,
                log_configuration=ecs.ExecuteCommandLogConfiguration(
                    cloud_watch_log_group=self.log_group, cloud_watch_encryption_enabled=True
                ),
            )
            if props.enable_execute_command
            else None,
        )
        configured = _image(self, props)
        self.image, self.image_id = configured.image, configured.image_id
        if props.release_parameter_name:
            self.image, self.image_id = self._released_image(
                props.release_parameter_name, configured
            )
        self.task_definition = fargate_task_definition(
            self,
            "TaskDefinition",
            cpu=props.cpu,
            memory_mib=props.memory_mib,
            architecture=props.architecture,
        )
        # Adding the secrets lets the execution role read exactly these secrets (and decrypt
        # them); the image lets it pull exactly this image.
        self.container = self.task_definition.add_container(
            CONTAINER_NAME,
            image=self.image,
            command=list(props.command) if props.command else None,
            port_mappings=[ecs.PortMapping(container_port=props.container_port)],
            logging=ecs.LogDrivers.aws_logs(stream_prefix=CONTAINER_NAME, log_group=self.log_group),
            environment=dict(props.environment),
            secrets=dict(secrets),
        )
        self.tracing_container = self._add_tracing(props) if props.tracing else None

        self._add_load_balancer(props, vpc, load_balancer_subnets)
        self.deployment_alarms = self._add_deployment_alarms(props)
        self.security_group = https_egress_security_group(
            self,
            "SecurityGroup",
            vpc=vpc,
            description="Service tasks: the app port from the load balancer, HTTPS out",
        )
        blue_green = props.deployment_strategy == "blue_green"
        self.service = ecs.FargateService(
            self,
            "Service",
            cluster=self.cluster,
            task_definition=self.task_definition,
            desired_count=props.desired_count,
            vpc_subnets=task_subnets,
            assign_public_ip=props.assign_public_ip,
            security_groups=[self.security_group],
            circuit_breaker=ecs.DeploymentCircuitBreaker(enable=True, rollback=True),
            min_healthy_percent=props.min_healthy_percent,
            max_healthy_percent=props.max_healthy_percent,
            enable_execute_command=props.enable_execute_command,
            deployment_alarms=ecs.DeploymentAlarmConfig(
                alarm_names=[alarm.alarm_name for alarm in self.deployment_alarms],
                behavior=ecs.AlarmBehavior.ROLLBACK_ON_ALARM,
            ),
            deployment_strategy=(
                ecs.DeploymentStrategy.BLUE_GREEN if blue_green else ecs.DeploymentStrategy.ROLLING
            ),
            bake_time=Duration.minutes(props.bake_time_minutes) if blue_green else None,
            propagate_tags=ecs.PropagatedTagSource.SERVICE,
        )
        self._attach_service(props)

        scaling = self.service.auto_scale_task_count(
            min_capacity=props.min_count, max_capacity=props.max_count
        )
        scale_in = Duration.seconds(props.scale_in_cooldown_seconds)
        scale_out = Duration.seconds(props.scale_out_cooldown_seconds)
        scaling.scale_on_cpu_utilization(
            "CpuScaling",
            target_utilization_percent=props.cpu_target_percent,
            scale_in_cooldown=scale_in,
            scale_out_cooldown=scale_out,
        )
        scaling.scale_on_memory_utilization(
            "MemoryScaling",
            target_utilization_percent=props.memory_target_percent,
            scale_in_cooldown=scale_in,
            scale_out_cooldown=scale_out,
        )
        self._acknowledge_findings(props)

    def _key(self) -> kms.Key:
        stack = Stack.of(self)
        key = kms.Key(
            self,
            "Key",
            description=f"Encrypts the service logs and image repository of {stack.stack_name}",
            enable_key_rotation=True,
            # The retained repository and log group stay readable only while the key exists.
            removal_policy=RemovalPolicy.RETAIN,
        )
        allow_cloudwatch_logs(key, "AllowCloudWatchLogsForServiceLogGroup")
        return key

    def _add_load_balancer(
        self, props: ServiceProps, vpc: ec2.IVpc, subnets: ec2.SubnetSelection
    ) -> None:
        # No key: ALB access logs can only be delivered to SSE-S3 buckets.
        self.access_log_bucket = expiring_log_bucket(
            self,
            "AccessLogBucket",
            retention_days=props.access_log_retention_days,
            removal_policy=RemovalPolicy.RETAIN,
        )
        self.load_balancer_security_group = self._load_balancer_security_group(props, vpc)
        self.load_balancer = elbv2.ApplicationLoadBalancer(
            self,
            "LoadBalancer",
            vpc=vpc,
            vpc_subnets=subnets,
            internet_facing=True,
            security_group=self.load_balancer_security_group,
            drop_invalid_header_fields=True,
            deletion_protection=props.alb_deletion_protection,
        )
        self.load_balancer.log_access_logs(self.access_log_bucket)

        zone = route53.HostedZone.from_hosted_zone_attributes(
            self, "HostedZone", hosted_zone_id=props.hosted_zone_id, zone_name=props.zone_name
        )
        self.certificate = acm.Certificate(
            self,
            "Certificate",
            domain_name=props.domain_name,
            validation=acm.CertificateValidation.from_dns(zone),
        )
        route53.ARecord(
            self,
            "AliasRecord",
            zone=zone,
            record_name=props.domain_name,
            target=route53.RecordTarget.from_alias(
                route53_targets.LoadBalancerTarget(self.load_balancer)
            ),
        )

        self.target_group = self._target_group("TargetGroup", props, vpc)
        self.alternate_target_group: elbv2.ApplicationTargetGroup | None = None
        self.production_rule: elbv2.ApplicationListenerRule | None = None
        self.origin_verify_secret: secretsmanager.Secret | None = None
        blue_green = props.deployment_strategy == "blue_green"
        origin = props.cloudfront_origin
        # Requests that match no rule: 403 from CloudFront's origin (they lack the secret
        # header), 404 behind blue/green (all traffic goes through the production rule).
        if origin is not None:
            fallback = elbv2.ListenerAction.fixed_response(
                403, content_type="text/plain", message_body="Forbidden"
            )
        elif blue_green:
            fallback = elbv2.ListenerAction.fixed_response(404)
        else:
            fallback = elbv2.ListenerAction.forward([self.target_group])
        self.https_listener = elbv2.ApplicationListener(
            self,
            "HttpsListener",
            load_balancer=self.load_balancer,
            port=443,
            protocol=elbv2.ApplicationProtocol.HTTPS,
            certificates=[elbv2.ListenerCertificate.from_certificate_manager(self.certificate)],
            ssl_policy=elbv2.SslPolicy.TLS13_12_PQ,
            open=False,
            default_action=fallback,
        )
        if blue_green:
            self.alternate_target_group = self._target_group("AlternateTargetGroup", props, vpc)
            # ECS shifts production traffic by rewriting this rule's weights, so it must
            # name both target groups: the primary at 100, the alternate at 0.
            action = elbv2.ListenerAction.weighted_forward(
                [
                    elbv2.WeightedTargetGroup(target_group=self.target_group, weight=100),
                    elbv2.WeightedTargetGroup(target_group=self.alternate_target_group, weight=0),
                ]
            )
        else:
            action = elbv2.ListenerAction.forward([self.target_group])
        if origin is not None:
            self.origin_verify_secret = self._origin_verify_secret(origin)
            # A dynamic reference: CloudFormation resolves it at deploy time, so the value
            # is in neither the template nor the CDK output.
            secret_value = self.origin_verify_secret.secret_value.unsafe_unwrap()
            condition = elbv2.ListenerCondition.http_header(origin.header_name, [secret_value])
        else:
            condition = elbv2.ListenerCondition.path_patterns(["/*"])
        if blue_green or origin is not None:
            self.production_rule = elbv2.ApplicationListenerRule(
                self,
                "TrafficRule",
                listener=self.https_listener,
                priority=1,
                conditions=[condition],
                action=action,
            )
        if origin is None:
            elbv2.ApplicationListener(
                self,
                "HttpListener",
                load_balancer=self.load_balancer,
                port=80,
                protocol=elbv2.ApplicationProtocol.HTTP,
                open=False,
                default_action=elbv2.ListenerAction.redirect(
                    protocol="HTTPS", port="443", permanent=True
                ),
            )

    def _load_balancer_security_group(
        self, props: ServiceProps, vpc: ec2.IVpc
    ) -> ec2.SecurityGroup:
        origin = props.cloudfront_origin
        group = ec2.SecurityGroup(
            self,
            "LoadBalancerSecurityGroup",
            vpc=vpc,
            description="Internet-facing load balancer: HTTP and HTTPS from anywhere"
            if origin is None
            else "Load balancer: HTTPS from the CloudFront origin-facing prefix list only",
            # Egress is added per target: the service's port, to the service's group.
            allow_all_outbound=False,
        )
        if origin is None:
            for port, description in ((443, "HTTPS"), (80, "HTTP, redirected to HTTPS")):
                group.add_ingress_rule(ec2.Peer.any_ipv4(), ec2.Port.tcp(port), description)
            return group
        # HTTPS only: viewers' HTTP is redirected by CloudFront, which reaches origins over
        # HTTPS. One rule, because a prefix-list rule counts as the list's maximum entries
        # (55) against the group's quota of 60 rules: a second one (port 80) would not fit.
        group.add_ingress_rule(
            ec2.Peer.prefix_list(self._cloudfront_prefix_list_id()),
            ec2.Port.tcp(443),
            "HTTPS from the CloudFront origin-facing prefix list",
        )
        return group

    def _cloudfront_prefix_list_id(self) -> str:
        """The id of CloudFront's origin-facing prefix list in this region, found by name
        at deploy time (ids differ per region; a synth-time look-up cannot run offline)."""
        call = cr.AwsSdkCall(
            service="EC2",
            action="describeManagedPrefixLists",
            parameters={
                "Filters": [
                    {"Name": "prefix-list-name", "Values": [CLOUDFRONT_ORIGIN_FACING_PREFIX_LIST]}
                ]
            },
            physical_resource_id=cr.PhysicalResourceId.of(CLOUDFRONT_ORIGIN_FACING_PREFIX_LIST),
            output_paths=["PrefixLists.0.PrefixListId"],
        )
        lookup = cr.AwsCustomResource(
            self,
            "CloudFrontPrefixList",
            on_create=call,
            on_update=call,
            policy=cr.AwsCustomResourcePolicy.from_sdk_calls(
                resources=cr.AwsCustomResourcePolicy.ANY_RESOURCE
            ),
            install_latest_aws_sdk=False,
            log_group=encrypted_function_log_group(
                self, "PrefixListLookupLogs", key=self.key, retention_days=self._log_retention_days
            ),
        )
        return lookup.get_response_field("PrefixLists.0.PrefixListId")

    def _add_tracing(self, props: ServiceProps) -> ecs.ContainerDefinition:
        """The X-Ray daemon next to the app: not essential (tracing must never stop the app),
        UDP 2000 on the task's loopback, logs next to the app's."""
        daemon = self.task_definition.add_container(
            XRAY_CONTAINER_NAME,
            image=ecs.ContainerImage.from_registry(props.xray_daemon_image),
            essential=False,
            cpu=32,
            memory_reservation_mib=256,
            port_mappings=[
                ecs.PortMapping(container_port=2000, protocol=ecs.Protocol.UDP, name="xray")
            ],
            logging=ecs.LogDrivers.aws_logs(stream_prefix="xray", log_group=self.log_group),
        )
        self.container.add_environment("AWS_XRAY_DAEMON_ADDRESS", "127.0.0.1:2000")
        self.task_definition.add_to_task_role_policy(
            iam.PolicyStatement(
                sid="XRayDaemon",
                actions=[
                    "xray:PutTraceSegments",
                    "xray:PutTelemetryRecords",
                    "xray:GetSamplingRules",
                    "xray:GetSamplingTargets",
                    "xray:GetSamplingStatisticSummaries",
                ],
                resources=["*"],
            )
        )
        acknowledge(
            self.task_definition.task_role,
            "AwsSolutions-IAM5[Resource::*]",
            "The X-Ray daemon's upload and sampling actions have no resource-level "
            "permissions (AWS's own AWSXRayDaemonWriteAccess policy uses * too).",
        )
        acknowledge(
            self.task_definition.task_role,
            "NIST.800.53.R5-IAMNoInlinePolicy",
            "The task role's inline policy holds only the X-Ray daemon's five trace actions; "
            "the role serves this one task definition.",
        )
        return daemon

    def _released_image(
        self, parameter_name: str, configured: _ConfiguredImage
    ) -> tuple[ecs.ContainerImage, str]:
        """The released tag of `repository` (CloudFormation reads the parameter at every
        deployment), or the configured image while nothing has been released."""
        tag = CfnParameter(
            self,
            "ReleasedImageTag",
            type="AWS::SSM::Parameter::Value<String>",
            default=parameter_name,
            description="The image tag the delivery pipeline last released (read from SSM at "
            f"every deployment); '{UNRELEASED}' runs the configured image",
        )
        unreleased = CfnCondition(
            self,
            "Unreleased",
            expression=Fn.condition_equals(tag.value_as_string, UNRELEASED),
        )
        name = Fn.condition_if(
            unreleased.logical_id,
            configured.uri,
            self.repository.repository_uri_for_tag(tag.value_as_string),
        ).to_string()
        return _ReleasedImage(name, (configured.repository, self.repository)), name

    def _origin_verify_secret(self, origin: CloudFrontOrigin) -> secretsmanager.Secret:
        return secretsmanager.Secret(
            self,
            "OriginVerifySecret",
            description="Value of the header CloudFront adds to every request to this "
            "service's load balancer; requests without it get 403",
            encryption_key=self.key,
            # Letters and digits only: ALB header conditions treat * and ? as wildcards.
            generate_secret_string=secretsmanager.SecretStringGenerator(
                password_length=48, exclude_punctuation=True, include_space=False
            ),
            # CloudFormation resolves the distribution's dynamic reference in its own region.
            replica_regions=[
                secretsmanager.ReplicaRegion(region=region)
                for region in replica_regions(origin, Stack.of(self).region)
            ]
            or None,
        )

    def _target_group(
        self, construct_id: str, props: ServiceProps, vpc: ec2.IVpc
    ) -> elbv2.ApplicationTargetGroup:
        interval = props.health_check_interval_seconds
        return elbv2.ApplicationTargetGroup(
            self,
            construct_id,
            vpc=vpc,
            port=props.container_port,
            protocol=elbv2.ApplicationProtocol.HTTP,
            target_type=elbv2.TargetType.IP,
            deregistration_delay=Duration.seconds(props.deregistration_delay_seconds),
            health_check=elbv2.HealthCheck(
                path=props.health_check_path,
                interval=Duration.seconds(interval),
                # The timeout must be shorter than the interval.
                timeout=Duration.seconds(min(5, interval - 1)),
                healthy_threshold_count=2,
                unhealthy_threshold_count=3,
                healthy_http_codes="200",
            ),
        )

    def _serving_target_groups(self) -> list[elbv2.ApplicationTargetGroup]:
        """The target groups production traffic can be on (blue/green alternates them)."""
        if self.alternate_target_group is None:
            return [self.target_group]
        return [self.target_group, self.alternate_target_group]

    def _add_deployment_alarms(self, props: ServiceProps) -> list[cloudwatch.Alarm]:
        groups = self._serving_target_groups()
        errors = _sum(
            [
                group.metrics.http_code_target(
                    elbv2.HttpCodeTarget.TARGET_5XX_COUNT,
                    period=Duration.minutes(5),
                    statistic="Sum",
                )
                for group in groups
            ],
            "Target 5xx responses",
        )
        unhealthy = _sum(
            [
                group.metrics.unhealthy_host_count(period=Duration.minutes(1), statistic="Maximum")
                for group in groups
            ],
            "Unhealthy targets",
        )
        return [
            cloudwatch.Alarm(
                self,
                "Alarm5xx",
                alarm_description=f"More than {props.alarm_5xx_threshold} target 5xx responses "
                f"in 5 minutes behind {props.domain_name}; rolls back a running deployment",
                metric=errors,
                threshold=props.alarm_5xx_threshold,
                evaluation_periods=1,
                comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
                treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
            ),
            cloudwatch.Alarm(
                self,
                "AlarmUnhealthy",
                alarm_description=f"Unhealthy targets behind {props.domain_name} for 2 minutes; "
                "rolls back a running deployment",
                metric=unhealthy,
                threshold=0,
                evaluation_periods=2,
                comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
                treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
            ),
        ]

    def _attach_service(self, props: ServiceProps) -> None:
        if self.alternate_target_group is None or self.production_rule is None:
            self.service.attach_to_application_target_group(self.target_group)
            return
        # ECS-native blue/green: ECS registers the new revision's tasks in the alternate
        # target group, moves the production rule's weights to it, bakes, then retires the
        # old revision; the two groups swap roles on every deployment.
        self.blue_green_role = iam.Role(
            self,
            "BlueGreenRole",
            assumed_by=iam.ServicePrincipal("ecs.amazonaws.com"),
            description="Lets ECS shift the listener rule between the service's target groups",
            managed_policies=[
                iam.ManagedPolicy.from_aws_managed_policy_name(
                    "AmazonECSInfrastructureRolePolicyForLoadBalancers"
                )
            ],
        )
        target = self.service.load_balancer_target(
            container_name=CONTAINER_NAME,
            container_port=props.container_port,
            alternate_target=ecs.AlternateTarget(
                "AlternateTarget",
                alternate_target_group=self.alternate_target_group,
                production_listener=ecs.ListenerRuleConfiguration.application_listener_rule(
                    self.production_rule
                ),
                role=self.blue_green_role,
            ),
        )
        target.attach_to_application_target_group(self.target_group)

    def _acknowledge_findings(self, props: ServiceProps) -> None:
        if props.environment:
            acknowledge(
                self.task_definition,
                "AwsSolutions-ECS2",
                "These environment variables carry plain, non-secret settings (ServiceProps."
                "environment); every credential reaches the container as an ECS secret.",
            )
        execution_role = self.task_definition.obtain_execution_role()
        acknowledge(
            execution_role,
            ("AwsSolutions-IAM5[Resource::*]", "NIST.800.53.R5-IAMNoInlinePolicy"),
            "CDK's grants to the task execution role: pull this one image (ecr:"
            "GetAuthorizationToken has no resource-level form), write this log group and read "
            "these secrets; the role serves this task definition alone.",
        )
        if props.enable_execute_command:
            acknowledge(
                self.task_definition.task_role,
                (
                    "AwsSolutions-IAM5[Resource::*]",
                    _log_streams_finding(self.log_group),
                    "NIST.800.53.R5-IAMNoInlinePolicy",
                ),
                "CDK's ECS Exec grants: ssmmessages channels and logs:DescribeLogGroups have no "
                "resource-level form; session logs go to any stream of this one log group.",
            )
        if self.alternate_target_group is not None:
            acknowledge(
                self.blue_green_role,
                "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/"
                "AmazonECSInfrastructureRolePolicyForLoadBalancers]",
                "AmazonECSInfrastructureRolePolicyForLoadBalancers is the AWS-maintained policy "
                "ECS documents for blue/green traffic shifting on load balancer listener rules.",
            )
        bucket = self.access_log_bucket
        acknowledge(
            bucket,
            ("AwsSolutions-S1", "NIST.800.53.R5-S3BucketLoggingEnabled"),
            "This bucket only receives the load balancer's access logs, which are themselves "
            "access logs; logging access to it would need a further log bucket with the same gap.",
        )
        skip_checkov(
            bucket,
            "CKV_AWS_18",
            "This bucket only receives the load balancer's access logs, which are themselves "
            "access logs; logging access to it would need a further log bucket with the same gap.",
        )
        if props.mutable_tags:
            skip_checkov(
                self.repository,
                "CKV_AWS_51",
                "Every image tag is immutable except the moving tag(s) "
                f"{', '.join(props.mutable_tags)} the pipeline re-points on each release "
                "(IMMUTABLE_WITH_EXCLUSION); checkov accepts only IMMUTABLE.",
            )
        acknowledge(
            bucket,
            "NIST.800.53.R5-S3DefaultEncryptionKMS",
            "Elastic Load Balancing delivers access logs only to buckets encrypted with SSE-S3 "
            "(S3-managed keys); a KMS default key would make every log delivery fail.",
        )
        acknowledge(
            bucket,
            "NIST.800.53.R5-S3BucketReplicationEnabled",
            "Access logs describe this region's load balancer and expire after the configured "
            "retention; a cross-region replica adds cost without aiding recovery.",
        )
        if props.cloudfront_origin is None:
            acknowledge(
                self.load_balancer_security_group,
                "AwsSolutions-EC23",
                "Without a CloudFront origin (ServiceProps.cloudfront_origin) this load "
                "balancer serves viewers directly and must accept HTTP and HTTPS from anywhere.",
            )
            acknowledge(
                self.node.find_child("HttpListener"),
                "NIST.800.53.R5-ELBv2ACMCertificateRequired",
                "The plain HTTP listener serves nothing: its only action is a permanent "
                "redirect to the HTTPS listener, which uses the ACM certificate.",
            )
        elif self.origin_verify_secret is not None:
            self._acknowledge_origin_findings(self.origin_verify_secret)
        if not props.alb_deletion_protection:
            acknowledge(
                self.load_balancer,
                "NIST.800.53.R5-ELBDeletionProtectionEnabled",
                "Deletion protection is a per-deployment setting (ServiceProps."
                "alb_deletion_protection); this one turns it off so the stack can be deleted.",
            )
        acknowledge(
            self.load_balancer,
            "NIST.800.53.R5-ALBWAFEnabled",
            "The web ACL belongs to the edge layer (CloudFront in front of this origin); a "
            "second regional WAF here would duplicate its rules for the same requests.",
        )
        for alarm in self.deployment_alarms:
            acknowledge(
                alarm,
                "NIST.800.53.R5-CloudWatchAlarmAction",
                "A deployment alarm: ECS watches it during each deployment and rolls back when "
                "it fires (DeploymentConfiguration.Alarms), so it needs no alarm action.",
            )

    def _acknowledge_origin_findings(self, secret: secretsmanager.Secret) -> None:
        """Findings on the origin secret and on CDK's prefix-list look-up function."""
        acknowledge(
            secret,
            ("AwsSolutions-SMG4", "NIST.800.53.R5-SecretsManagerRotationEnabled"),
            "The origin secret is set by CloudFormation in two places at once (the "
            "distribution's origin header and this listener rule); a scheduled rotation would "
            "change it behind both and refuse all traffic until the next deployment.",
        )
        acknowledge(
            self.node.find_child("CloudFrontPrefixList"),
            ("AwsSolutions-IAM5[Resource::*]", "NIST.800.53.R5-IAMNoInlinePolicy"),
            "CDK's policy for the prefix-list look-up: ec2:DescribeManagedPrefixLists has no "
            "resource-level permissions, and the role serves this one read-only call.",
        )
        acknowledge_aws_custom_resource_function(
            self,
            calls="the read-only DescribeManagedPrefixLists look-up of a public prefix-list id",
            when="once per deployment",
        )


def replica_regions(origin: CloudFrontOrigin, region: str) -> list[str]:
    """Where the origin secret needs a replica: the distribution's region, unless the service
    is there already (Secrets Manager refuses a replica in the primary's region)."""
    return [] if origin.secret_replica_region == region else [origin.secret_replica_region]


def _validate(props: ServiceProps) -> None:
    image = props.image
    if image.kind == "asset" and not image.directory:
        raise ValueError("an asset image needs `directory` (a folder with a Dockerfile)")
    if image.kind == "ecr" and not (image.repository_name and image.tag):
        raise ValueError("an ECR image needs `repository_name` and `tag`")
    if not props.min_count <= props.desired_count <= props.max_count:
        raise ValueError("desired_count must lie between min_count and max_count")
    if props.health_check_interval_seconds < 5:
        raise ValueError("health_check_interval_seconds must be at least 5")


@dataclass(frozen=True)
class _ConfiguredImage:
    image: ecs.ContainerImage
    #: Changes exactly when the image does (the asset's content hash, or `repository:tag`).
    image_id: str
    uri: str
    repository: ecr.IRepository


def _image(scope: Construct, props: ServiceProps) -> _ConfiguredImage:
    """The configured container image. A migration keyed on its `image_id` re-runs only for
    a new image."""
    image = props.image
    if image.kind == "asset" and image.directory:
        asset = ecr_assets.DockerImageAsset(
            scope,
            "ImageAsset",
            directory=image.directory,
            platform=_ASSET_PLATFORMS[props.architecture],
        )
        return _ConfiguredImage(
            ecs.ContainerImage.from_docker_image_asset(asset),
            asset.asset_hash,
            asset.image_uri,
            asset.repository,
        )
    if image.repository_name and image.tag:
        repository = ecr.Repository.from_repository_name(
            scope, "ImageRepository", image.repository_name
        )
        return _ConfiguredImage(
            ecs.ContainerImage.from_ecr_repository(repository, image.tag),
            f"{image.repository_name}:{image.tag}",
            repository.repository_uri_for_tag(image.tag),
            repository,
        )
    raise ValueError(f"incomplete image source {image!r}")


class _ReleasedImage(ecs.ContainerImage):
    """An image chosen at deploy time among `repositories` (a CloudFormation condition):
    every task definition using it may pull from each of them, and from nothing else."""

    def __init__(self, image_name: str, repositories: tuple[ecr.IRepository, ...]) -> None:
        super().__init__()
        self._image_name = image_name
        self._repositories = repositories

    def bind(
        self, scope: Construct, container_definition: ecs.ContainerDefinition
    ) -> ecs.ContainerImageConfig:
        role = container_definition.task_definition.obtain_execution_role()
        for repository in self._repositories:
            repository.grant_pull(role)
        return ecs.ContainerImageConfig(image_name=self._image_name)


def _log_streams_finding(log_group: logs.LogGroup) -> str:
    """The AwsSolutions-IAM5 finding id, as cdk-nag renders it, of a grant on every stream of
    `log_group` (`arn:...:log-group:<LogicalId>:*`)."""
    stack = Stack.of(log_group)

    def rendered(value: str, pseudo: str) -> str:
        return f"<AWS::{pseudo}>" if Token.is_unresolved(value) else value

    logical_id = stack.get_logical_id(cast("CfnElement", log_group.node.default_child))
    arn = (
        f"arn:{rendered(stack.partition, 'Partition')}:logs:{rendered(stack.region, 'Region')}"
        f":{rendered(stack.account, 'AccountId')}:log-group:<{logical_id}>:*"
    )
    return f"AwsSolutions-IAM5[Resource::{arn}]"


def _sum(metrics: list[cloudwatch.Metric], label: str) -> cloudwatch.IMetric:
    """One metric as it is; several as their sum, a missing data point counting as 0."""
    if len(metrics) == 1:
        return metrics[0]
    return cloudwatch.MathExpression(
        expression=" + ".join(f"FILL(m{i}, 0)" for i in range(len(metrics))),
        using_metrics={f"m{i}": metric for i, metric in enumerate(metrics)},
        label=label,
        period=metrics[0].period,
    )
