"""PlatformService: one workload on ECS (Fargate or EC2 instances), with its ECR repository,
encrypted logs, auto scaling and guarded deployments (rolling, or ECS-native blue/green, canary
or linear traffic shifting); a web service also gets a listener rule and target group(s) on the
environment's `PlatformLoadBalancer`, and any service may offer itself, or call others,
through ECS Service Connect. Tasks run on Fargate, on a mix of Fargate and Fargate Spot, or on
the cluster's EC2 instances (`Ec2Capacity`) with awsvpc or bridge networking.

Knows nothing of environments: every choice arrives in `ServiceProps`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal, cast

from aws_cdk import (
    CfnElement,
    Duration,
    Stack,
    Token,
)
from aws_cdk import aws_applicationautoscaling as appscaling
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_ecs as ecs
from aws_cdk import aws_elasticloadbalancingv2 as elbv2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_logs as logs
from constructs import Construct

from l3_constructs.cluster import PlatformCluster
from l3_constructs.compliance import acknowledge
from l3_constructs.ec2_capacity import Ec2Capacity
from l3_constructs.load_balancer import PlatformLoadBalancer
from l3_constructs.shared import https_egress_security_group
from l3_constructs.workload import CONTAINER_NAME, TaskProps, Workload, validate_task

DeploymentStrategyName = Literal["rolling", "blue_green", "canary", "linear"]
CapacityProviderName = Literal["fargate", "fargate_spot", "ec2"]

#: The ECS deployment strategy of each name.
DEPLOYMENT_STRATEGIES: dict[str, ecs.DeploymentStrategy] = {
    "rolling": ecs.DeploymentStrategy.ROLLING,
    "blue_green": ecs.DeploymentStrategy.BLUE_GREEN,
    "canary": ecs.DeploymentStrategy.CANARY,
    "linear": ecs.DeploymentStrategy.LINEAR,
}
#: Strategies that shift a listener rule's weights between two target groups (web only).
TRAFFIC_SHIFTING = frozenset({"blue_green", "canary", "linear"})
#: Step adjustments a step scaling policy takes.
_MAX_STEPS = 20
#: ECS's bounds of a canary's first share and a linear step (percent, multiples of 0.1).
STEP_PERCENT_BOUNDS = {"canary": (0.1, 100.0), "linear": (3.0, 100.0)}


@dataclass(frozen=True)
class WebRoute:
    """A web service's place on the load balancer: one listener rule, its target group."""

    #: Listener rule priority (lower wins); unique on the listener.
    priority: int
    #: ALB path patterns; none and no hosts: every path (`/*`).
    paths: tuple[str, ...] = ()
    #: Viewer host names (matched on the header `CloudFrontOrigin.viewer_host_header`).
    hosts: tuple[str, ...] = ()
    health_check_path: str = "/"
    health_check_interval_seconds: int = 30
    deregistration_delay_seconds: int = 60
    #: Load-balancer cookie stickiness (seconds); None: off.
    stickiness_seconds: int | None = None
    #: Target 5xx responses per 5 minutes above which a deployment rolls back.
    alarm_5xx_threshold: int = 10


@dataclass(frozen=True)
class BacklogScaling:
    """A worker's scaling on its queue: target tracking on visible messages per running
    task (metric math), from `min_count` (0: none while idle) to `max_count`."""

    #: The queue's ApproximateNumberOfMessagesVisible.
    visible_messages: cloudwatch.IMetric
    #: The queue's name (the metric's dimension, for the target tracking policy).
    queue_name: str
    backlog_per_task: int = 10


@dataclass(frozen=True)
class ServiceProps(TaskProps):
    """A service: its task (`TaskProps`), how many run, how they deploy and are reached."""

    desired_count: int = 1
    #: Scaling bounds; `min_count == max_count` (and no backlog scaling): fixed capacity,
    #: no scalable target or scaling policies.
    min_count: int = 1
    max_count: int = 2
    cpu_target_percent: int = 70
    memory_target_percent: int = 70
    scale_in_cooldown_seconds: int = 300
    scale_out_cooldown_seconds: int = 60
    min_healthy_percent: int = 100
    max_healthy_percent: int = 200
    #: blue_green, canary and linear need a `route`: ECS shifts its listener rule's weights
    #: between two target groups (all at once, a first share then the rest, or in steps).
    deployment_strategy: DeploymentStrategyName = "rolling"
    #: blue_green, canary, linear: how long both revisions run after all production traffic
    #: has moved, before the old one goes.
    bake_time_minutes: int = 5
    #: canary: the share of production traffic (percent) the new revision gets first.
    canary_percent: float = 10.0
    #: linear: the share of production traffic (percent) moved at each step.
    linear_step_percent: float = 25.0
    #: canary, linear: minutes between traffic steps (the deployment alarms can roll back).
    step_bake_minutes: int = 5
    #: "fargate": LaunchType FARGATE. "fargate_spot": a capacity provider strategy, the first
    #: `fargate_base` tasks on Fargate, the rest `fargate_weight` : `spot_weight` between
    #: Fargate and Fargate Spot; the cluster must have the Fargate capacity providers.
    #: "ec2": the cluster's EC2 capacity provider (an EC2 task definition, `network_mode`).
    capacity_provider: CapacityProviderName = "fargate"
    fargate_base: int = 0
    fargate_weight: int = 0
    spot_weight: int = 1
    #: A web service's listener rule; None: no load balancer (a backend, a worker).
    route: WebRoute | None = None
    enable_execute_command: bool = False
    #: True when tasks run in public subnets (no NAT) and need a public IP to reach AWS APIs.
    assign_public_ip: bool = False
    #: Offer the service to the namespace as http://<name>:<port> (Service Connect).
    service_connect_server: bool = False
    #: Call other services through Service Connect (a client-only proxy).
    service_connect_client: bool = False
    #: A worker: scale on its queue's backlog instead of CPU and memory.
    backlog_scaling: BacklogScaling | None = None


class PlatformService(Workload):
    """One ECS service in `cluster` (Fargate, or EC2 with `capacity_provider="ec2"`).

    Exposes `name`, `repository`, `log_group`, `image`, `image_id`, `task_definition`,
    `container`, `service`, `security_group`, `deployment_alarms`; for a web service also
    `target_group` (blue/green, canary, linear: `alternate_target_group` too) and
    `production_rule`; None for a backend.

    The security group allows outbound HTTPS only; `allow_from` admits a client on the
    service's port, and admitting it to a database (the database's `allow_connections_from`)
    adds the matching egress rule.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        props: ServiceProps,
        cluster: PlatformCluster,
        vpc: ec2.IVpc,
        task_subnets: ec2.SubnetSelection,
        secrets: Mapping[str, ecs.Secret],
        load_balancer: PlatformLoadBalancer | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        # The task definition is EC2's exactly when the tasks run on EC2 instances.
        props = dataclasses.replace(props, ec2=props.capacity_provider == "ec2")
        _validate(props, load_balancer)
        self.name = props.name
        self.props = props
        self._cluster = cluster
        self._build_task(props, key=cluster.key, secrets=secrets)
        ec2_capacity = cluster.ec2_capacity if props.ec2 else None
        if props.ec2 and ec2_capacity is None:
            raise ValueError(
                f"service {props.name!r} runs on EC2 but the cluster has no EC2 capacity "
                "(PlatformCluster(ec2_capacity=...))"
            )
        self.bridge = props.network_mode == "bridge"
        if self.bridge:
            assert ec2_capacity is not None
            # Bridge tasks use the instance's network: its security group is theirs.
            self.security_group = ec2_capacity.security_group
        else:
            self.security_group = https_egress_security_group(
                self,
                "SecurityGroup",
                vpc=vpc,
                description=f"Service {props.name}: its port from the load balancer and its "
                "Service Connect clients, HTTPS out",
            )

        self.target_group: elbv2.ApplicationTargetGroup | None = None
        self.alternate_target_group: elbv2.ApplicationTargetGroup | None = None
        self.production_rule: elbv2.ApplicationListenerRule | None = None
        if props.route is not None and load_balancer is not None:
            self._add_route(props, props.route, load_balancer, vpc)
            if self.bridge:
                assert ec2_capacity is not None
                # The instances' one way in: the dynamic host ports, from this load balancer.
                ec2_capacity.allow_load_balancer(load_balancer.load_balancer)
        self.deployment_alarms = self._add_deployment_alarms(props)
        strategy = props.deployment_strategy
        capacity_provider_strategies = _capacity_provider_strategies(props, ec2_capacity)
        options: dict[str, Any] = {
            "cluster": cluster.cluster,
            "task_definition": self.task_definition,
            "desired_count": props.desired_count,
            "circuit_breaker": ecs.DeploymentCircuitBreaker(enable=True, rollback=True),
            "min_healthy_percent": props.min_healthy_percent,
            "max_healthy_percent": props.max_healthy_percent,
            "enable_execute_command": props.enable_execute_command,
            "deployment_alarms": ecs.DeploymentAlarmConfig(
                alarm_names=[alarm.alarm_name for alarm in self.deployment_alarms],
                behavior=ecs.AlarmBehavior.ROLLBACK_ON_ALARM,
            )
            if self.deployment_alarms
            else None,
            "deployment_strategy": DEPLOYMENT_STRATEGIES[strategy],
            "bake_time": Duration.minutes(props.bake_time_minutes)
            if strategy in TRAFFIC_SHIFTING
            else None,
            "canary_configuration": _traffic_shift(props.canary_percent, props)
            if strategy == "canary"
            else None,
            "linear_configuration": _traffic_shift(props.linear_step_percent, props)
            if strategy == "linear"
            else None,
            # With a strategy CDK omits the launch type (ECS takes one or the other).
            "capacity_provider_strategies": capacity_provider_strategies,
            "propagate_tags": ecs.PropagatedTagSource.SERVICE,
            "service_connect_configuration": self._service_connect(props),
        }
        # awsvpc: each task's own interface in the task subnets, with the service's group.
        networking: dict[str, Any] = (
            {}
            if self.bridge
            else {
                "vpc_subnets": task_subnets,
                "security_groups": [self.security_group],
                "assign_public_ip": props.assign_public_ip,
            }
        )
        self.service: ecs.BaseService
        if props.ec2:
            self.service = ecs.Ec2Service(
                self,
                "Service",
                **options,
                **networking,
                # Spread over the zones, then fill instances before using another (fewer
                # instances for managed scaling to keep).
                placement_strategies=[
                    ecs.PlacementStrategy.spread_across(ecs.BuiltInAttributes.AVAILABILITY_ZONE),
                    ecs.PlacementStrategy.packed_by_memory(),
                ],
            )
        else:
            self.service = ecs.FargateService(self, "Service", **options, **networking)
        if capacity_provider_strategies is not None:
            # ECS refuses a strategy naming a provider the cluster lacks: the service is
            # created after the cluster's capacity provider association.
            cluster.use_capacity_providers(self.service)
        self._attach_service(props)

        self._add_scaling(props, cluster)
        self._acknowledge_findings(props)

    # --- Scaling ------------------------------------------------------------------------------

    def _add_scaling(self, props: ServiceProps, cluster: PlatformCluster) -> None:
        """Target tracking on CPU and memory, or on the queue's backlog (a worker)."""
        if props.min_count == props.max_count and props.backlog_scaling is None:
            # Fixed capacity: target tracking could never move the count, yet each policy
            # keeps two CloudWatch alarms ($0.10 each a month). No scalable target either:
            # with no policy or scheduled action to act on it, it would change nothing (the
            # service's DesiredCount holds the count); whatever first needs one (a scheduled
            # action, a policy) adds it.
            return
        scaling = self.service.auto_scale_task_count(
            min_capacity=props.min_count, max_capacity=props.max_count
        )
        scale_in = Duration.seconds(props.scale_in_cooldown_seconds)
        scale_out = Duration.seconds(props.scale_out_cooldown_seconds)
        if props.backlog_scaling is not None and not cluster.container_insights:
            self._scale_on_backlog_steps(scaling, props)
        elif props.backlog_scaling is not None:
            self._scale_on_backlog(scaling, props.backlog_scaling, props.min_count == 0)
        else:
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

    # --- Scaling on a queue's backlog ---------------------------------------------------------

    def _scale_on_backlog(
        self, scaling: ecs.ScalableTaskCount, backlog: BacklogScaling, from_zero: bool
    ) -> None:
        """Target tracking on visible messages per running task (CloudWatch metric math;
        with no task running, the backlog itself). Target tracking scales in proportion to
        the running tasks, so from zero it has nothing to multiply: with `from_zero`, one
        step policy starts the first task when messages wait and none runs, and target
        tracking takes over from there (and scales back to zero when the queue is empty)."""
        one_minute = Duration.minutes(1)
        running = cloudwatch.Metric(
            namespace="ECS/ContainerInsights",
            metric_name="RunningTaskCount",
            dimensions_map={
                "ClusterName": self._cluster.cluster.cluster_name,
                "ServiceName": self.service.service_name,
            },
            statistic="Average",
            period=one_minute,
        )
        using = {"visible": backlog.visible_messages, "tasks": running}
        # CDK's target tracking takes a single metric; the policy itself takes metric math.
        policy = appscaling.CfnScalingPolicy
        task_count = cast("Construct", self.service.node.find_child("TaskCount"))
        target = task_count.node.find_child("Target")
        assert isinstance(target, appscaling.ScalableTarget)

        def stat(
            query_id: str, namespace: str, metric: str, dimensions: dict[str, str], statistic: str
        ) -> appscaling.CfnScalingPolicy.TargetTrackingMetricDataQueryProperty:
            return policy.TargetTrackingMetricDataQueryProperty(
                id=query_id,
                return_data=False,
                metric_stat=policy.TargetTrackingMetricStatProperty(
                    stat=statistic,
                    metric=policy.TargetTrackingMetricProperty(
                        namespace=namespace,
                        metric_name=metric,
                        dimensions=[
                            policy.TargetTrackingMetricDimensionProperty(name=k, value=v)
                            for k, v in dimensions.items()
                        ],
                    ),
                ),
            )

        policy(
            task_count,
            "BacklogScaling",
            policy_name=f"{Stack.of(self).stack_name}-{self.name}-backlog-per-task",
            policy_type="TargetTrackingScaling",
            scaling_target_id=target.scalable_target_id,
            target_tracking_scaling_policy_configuration=policy.TargetTrackingScalingPolicyConfigurationProperty(
                target_value=backlog.backlog_per_task,
                scale_in_cooldown=300,
                scale_out_cooldown=60,
                customized_metric_specification=policy.CustomizedMetricSpecificationProperty(
                    metrics=[
                        stat(
                            "visible",
                            "AWS/SQS",
                            "ApproximateNumberOfMessagesVisible",
                            {"QueueName": backlog.queue_name},
                            "Maximum",
                        ),
                        stat(
                            "tasks",
                            "ECS/ContainerInsights",
                            "RunningTaskCount",
                            {
                                "ClusterName": self._cluster.cluster.cluster_name,
                                "ServiceName": self.service.service_name,
                            },
                            "Average",
                        ),
                        policy.TargetTrackingMetricDataQueryProperty(
                            id="backlog",
                            expression="IF(tasks > 0, visible / tasks, visible)",
                            label="Visible messages per running task",
                            return_data=True,
                        ),
                    ]
                ),
            ),
        )
        if from_zero:
            scaling.scale_on_metric(
                "StartFromZero",
                metric=cloudwatch.MathExpression(
                    expression="IF(tasks > 0, 0, visible)",
                    using_metrics=using,
                    label="Visible messages while no task runs",
                    period=one_minute,
                ),
                scaling_steps=[
                    appscaling.ScalingInterval(upper=0, change=0),
                    appscaling.ScalingInterval(lower=1, change=1),
                ],
                adjustment_type=appscaling.AdjustmentType.CHANGE_IN_CAPACITY,
                cooldown=one_minute,
                evaluation_periods=1,
            )

    def _scale_on_backlog_steps(self, scaling: ecs.ScalableTaskCount, props: ServiceProps) -> None:
        """Without Container Insights there is no running-task metric to divide the backlog
        by: step scaling sets the task count from the backlog alone, one task per
        `backlog_per_task` visible messages (rounded up), `min_count` when the queue is
        empty, at most `max_count` (ExactCapacity steps; the last step takes the rest)."""
        backlog = props.backlog_scaling
        assert backlog is not None
        per_task, low, high = backlog.backlog_per_task, props.min_count, props.max_count
        # One step per task count, at most 19 above the empty queue's (a policy's limit).
        counts = list(range(max(low, 1), high + 1))[: _MAX_STEPS - 1]
        steps = [appscaling.ScalingInterval(upper=1, change=low)]
        for i, count in enumerate(counts):
            lower = (count - 1) * per_task + 1 if i else 1
            last = i == len(counts) - 1
            steps.append(
                appscaling.ScalingInterval(
                    lower=lower,
                    upper=None if last else count * per_task + 1,
                    change=high if last else count,
                )
            )
        scaling.scale_on_metric(
            "BacklogSteps",
            metric=backlog.visible_messages,
            scaling_steps=steps,
            adjustment_type=appscaling.AdjustmentType.EXACT_CAPACITY,
            cooldown=Duration.minutes(1),
            evaluation_periods=1,
        )

    # --- Service Connect ----------------------------------------------------------------------

    @property
    def service_connect_url(self) -> str:
        """How other services of the namespace reach this one (Service Connect)."""
        return f"http://{self.name}:{self.props.port}"

    def allow_from(self, client: PlatformService) -> None:
        """Let `client`'s tasks call this service's port (Service Connect goes task to task)."""
        if self.props.port is None:
            raise ValueError(f"service {self.name!r} listens on no port")
        if self.bridge:
            raise ValueError(
                f"service {self.name!r} is on a bridge network: its tasks share the instances' "
                "security group, which admits the load balancer only; use awsvpc"
            )
        self.security_group.connections.allow_from(
            client.security_group,
            ec2.Port.tcp(self.props.port),
            f"Service Connect from {client.name}",
        )

    def _service_connect(self, props: ServiceProps) -> ecs.ServiceConnectProps | None:
        if not (props.service_connect_server or props.service_connect_client):
            return None
        return ecs.ServiceConnectProps(
            namespace=self._cluster.namespace.namespace_arn,
            services=[
                ecs.ServiceConnectService(
                    port_mapping_name=props.name,
                    discovery_name=props.name,
                    dns_name=props.name,
                    port=props.port,
                )
            ]
            if props.service_connect_server
            else None,
            log_driver=ecs.LogDrivers.aws_logs(
                stream_prefix="service-connect", log_group=self.log_group
            ),
        )

    # --- Load balancer route ------------------------------------------------------------------

    def _add_route(
        self,
        props: ServiceProps,
        route: WebRoute,
        load_balancer: PlatformLoadBalancer,
        vpc: ec2.IVpc,
    ) -> None:
        self.target_group = self._target_group("TargetGroup", props, route, vpc)
        if props.deployment_strategy in TRAFFIC_SHIFTING:
            self.alternate_target_group = self._target_group(
                "AlternateTargetGroup", props, route, vpc
            )
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
        self.production_rule = elbv2.ApplicationListenerRule(
            self,
            "TrafficRule",
            listener=load_balancer.https_listener,
            priority=route.priority,
            conditions=load_balancer.route_conditions(paths=route.paths, hosts=route.hosts),
            action=action,
        )

    def _target_group(
        self, construct_id: str, props: ServiceProps, route: WebRoute, vpc: ec2.IVpc
    ) -> elbv2.ApplicationTargetGroup:
        interval = route.health_check_interval_seconds
        return elbv2.ApplicationTargetGroup(
            self,
            construct_id,
            vpc=vpc,
            port=props.port,
            protocol=elbv2.ApplicationProtocol.HTTP,
            # Bridge tasks register as instance + dynamic port; awsvpc tasks by their IP.
            target_type=elbv2.TargetType.INSTANCE if self.bridge else elbv2.TargetType.IP,
            deregistration_delay=Duration.seconds(route.deregistration_delay_seconds),
            stickiness_cookie_duration=Duration.seconds(route.stickiness_seconds)
            if route.stickiness_seconds
            else None,
            health_check=elbv2.HealthCheck(
                # Bridge: each target's own dynamic port.
                port="traffic-port" if self.bridge else None,
                path=route.health_check_path,
                interval=Duration.seconds(interval),
                # The timeout must be shorter than the interval.
                timeout=Duration.seconds(min(5, interval - 1)),
                healthy_threshold_count=2,
                unhealthy_threshold_count=3,
                healthy_http_codes="200",
            ),
        )

    def serving_target_groups(self) -> list[elbv2.ApplicationTargetGroup]:
        """The target groups production traffic can be on (blue/green, canary and linear
        alternate them, and split it between them while shifting)."""
        return [g for g in (self.target_group, self.alternate_target_group) if g is not None]

    def _add_deployment_alarms(self, props: ServiceProps) -> list[cloudwatch.Alarm]:
        groups = self.serving_target_groups()
        if not groups or props.route is None:
            return []
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
        threshold = props.route.alarm_5xx_threshold
        return [
            cloudwatch.Alarm(
                self,
                "Alarm5xx",
                alarm_description=f"More than {threshold} target 5xx responses in 5 minutes "
                f"from service {props.name}; rolls back a running deployment",
                metric=errors,
                threshold=threshold,
                evaluation_periods=1,
                comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
                treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
            ),
            cloudwatch.Alarm(
                self,
                "AlarmUnhealthy",
                alarm_description=f"Unhealthy targets of service {props.name} for 2 minutes; "
                "rolls back a running deployment",
                metric=unhealthy,
                threshold=0,
                evaluation_periods=2,
                comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
                treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
            ),
        ]

    def _attach_service(self, props: ServiceProps) -> None:
        if self.target_group is None:
            return
        if self.alternate_target_group is None or self.production_rule is None:
            self.service.attach_to_application_target_group(self.target_group)
            return
        # ECS-native traffic shifting: ECS registers the new revision's tasks in the
        # alternate target group, moves the production rule's weights to it (blue/green: all
        # at once; canary: a first share, then the rest; linear: in equal steps), bakes, then
        # retires the old revision; the two groups swap roles on every deployment. The role
        # keeps its blue/green-era id whatever the strategy (a stable logical id).
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
            container_port=props.port,
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

    # --- Task details -------------------------------------------------------------------------

    def _acknowledge_findings(self, props: ServiceProps) -> None:
        if props.enable_execute_command:
            exec_log_group = self._cluster.exec_log_group
            findings: tuple[str, ...] = (
                "AwsSolutions-IAM5[Resource::*]",
                "NIST.800.53.R5-IAMNoInlinePolicy",
            )
            if exec_log_group is not None:
                findings = (*findings, _log_streams_finding(exec_log_group))
            acknowledge(
                self.task_definition.task_role,
                findings,
                "CDK's ECS Exec grants: ssmmessages channels and logs:DescribeLogGroups have no "
                "resource-level form; session logs go to any stream of the cluster's one exec "
                "log group.",
            )
        if self.alternate_target_group is not None:
            acknowledge(
                self.blue_green_role,
                "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/"
                "AmazonECSInfrastructureRolePolicyForLoadBalancers]",
                "AmazonECSInfrastructureRolePolicyForLoadBalancers is the AWS-maintained policy "
                "ECS documents for blue/green, canary and linear traffic shifting on load "
                "balancer listener rules.",
            )
        for alarm in self.deployment_alarms:
            acknowledge(
                alarm,
                "NIST.800.53.R5-CloudWatchAlarmAction",
                "A deployment alarm: ECS watches it during each deployment and rolls back when "
                "it fires (DeploymentConfiguration.Alarms), so it needs no alarm action.",
            )


def _validate(props: ServiceProps, load_balancer: PlatformLoadBalancer | None) -> None:
    validate_task(props)
    if props.port is None and (props.route or props.service_connect_server):
        raise ValueError(f"service {props.name!r} is reached on a port: give `port`")
    if not props.min_count <= props.desired_count <= props.max_count:
        raise ValueError("desired_count must lie between min_count and max_count")
    if props.route is not None:
        if load_balancer is None:
            raise ValueError(f"service {props.name!r} has a route but no load balancer")
        if props.route.health_check_interval_seconds < 5:
            raise ValueError("health_check_interval_seconds must be at least 5")
    elif props.deployment_strategy in TRAFFIC_SHIFTING:
        raise ValueError(
            f"{props.deployment_strategy} needs a route: {props.name!r} has no listener rule"
        )
    strategy = props.deployment_strategy
    if strategy in STEP_PERCENT_BOUNDS:
        percent = props.canary_percent if strategy == "canary" else props.linear_step_percent
        low, high = STEP_PERCENT_BOUNDS[strategy]
        if not low <= percent <= high or abs(percent * 10 - round(percent * 10)) > 1e-9:
            raise ValueError(
                f"{strategy} percent of {props.name!r} must be a multiple of 0.1 from {low} "
                f"to {high}, not {percent}"
            )
    if not 0 <= props.step_bake_minutes <= 1440 or not 0 <= props.bake_time_minutes <= 1440:
        raise ValueError("bake times must lie between 0 and 1440 minutes")
    if props.capacity_provider == "fargate_spot":
        if min(props.fargate_base, props.fargate_weight, props.spot_weight) < 0:
            raise ValueError("fargate_base, fargate_weight and spot_weight must not be negative")
        if props.fargate_weight + props.spot_weight == 0:
            raise ValueError(
                f"service {props.name!r}: fargate_weight and spot_weight add to zero, so ECS "
                "would place no task beyond the base"
            )


def _traffic_shift(percent: float, props: ServiceProps) -> ecs.TrafficShiftConfig:
    """A canary's first share or a linear step, and the wait after each step. The percent
    (checked to be a multiple of 0.1) is rounded to its tenth, so a value computed in
    floating point (0.30000000000000004) reaches ECS as the tenth it means."""
    return ecs.TrafficShiftConfig(
        step_percent=round(percent, 1),
        step_bake_time=Duration.minutes(props.step_bake_minutes),
    )


def _capacity_provider_strategies(
    props: ServiceProps, ec2_capacity: Ec2Capacity | None
) -> list[ecs.CapacityProviderStrategy] | None:
    """fargate_spot's strategy: regular Fargate for the base and its weight, Fargate Spot for
    the rest; an entry that could place no task (weight 0, no base) is left out. None for
    plain Fargate, which keeps LaunchType FARGATE."""
    if props.capacity_provider == "fargate":
        return None
    if props.capacity_provider == "ec2":
        assert ec2_capacity is not None
        return [
            ecs.CapacityProviderStrategy(
                capacity_provider=ec2_capacity.capacity_provider.capacity_provider_name, weight=1
            )
        ]
    strategies = []
    if props.fargate_base or props.fargate_weight:
        strategies.append(
            ecs.CapacityProviderStrategy(
                capacity_provider="FARGATE",
                base=props.fargate_base or None,
                weight=props.fargate_weight,
            )
        )
    if props.spot_weight:
        strategies.append(
            ecs.CapacityProviderStrategy(capacity_provider="FARGATE_SPOT", weight=props.spot_weight)
        )
    return strategies


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
