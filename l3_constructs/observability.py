"""Observability of one environment: alarms with their thresholds in props, one KMS-encrypted
alarm topic (e-mail, optionally Slack through AWS Chatbot), a golden-signals dashboard and a
health-check canary.

Two constructs, because CloudFront and CLOUDFRONT-scope WAF publish their metrics only in
us-east-1 and a CloudWatch alarm can only notify an SNS topic in its own region:

- `PlatformMonitoring`, in the environment's region: the topic, the regional alarms (ECS, ALB,
  RDS, application error logs, canary), the dashboard (its edge widgets read us-east-1
  metrics; a dashboard may show any region's), the canary, and the receiving end of the
  edge-alarm relay.
- `EdgeAlarms`, in us-east-1 next to the distribution: the CloudFront 5xx-rate and WAF
  blocked-requests alarms, without alarm actions, plus the sending end of the relay.

The relay: every alarm publishes a "CloudWatch Alarm State Change" event to the default event
bus of its region. `EdgeAlarms.forward_rule` (us-east-1) matches exactly its alarms' events and
sends them, unchanged, to the default bus of the environment's region (cross-region event bus
target, through a role allowed `events:PutEvents` on that one bus; same account, so the
receiving bus needs no resource policy). There, `PlatformMonitoring`'s relay rule matches those
alarm ARNs and publishes a readable message to the topic. Alarm and relay rule are in one
account, so no credentials or copies cross regions, and an environment in us-east-1 needs no
forwarding at all (the relay rule sees the alarms' own events).

Knows nothing of environments: every choice arrives in `MonitoringProps` / `EdgeAlarmsProps`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, cast

import jsii
from aws_cdk import ArnFormat, Duration, Names, RemovalPolicy, Stack
from aws_cdk import aws_chatbot as chatbot
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cloudwatch_actions
from aws_cdk import aws_ecs as ecs
from aws_cdk import aws_elasticloadbalancingv2 as elbv2
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as events_targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_rds as rds
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from aws_cdk import aws_synthetics as synthetics
from aws_cdk.interfaces import aws_events as events_refs
from constructs import Construct

from l3_constructs.compliance import acknowledge, flatten_cfn_reference, skip_checkov
from l3_constructs.limits import CLOUDFRONT_REGION, Engine, default_max_connections
from l3_constructs.shared import expiring_log_bucket

# --- Props -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class MonitoringProps:
    #: E-mail addresses subscribed to the alarm topic (each confirms once).
    alarm_emails: tuple[str, ...] = ()
    #: AWS Chatbot: the Slack workspace (authorized once in the Chatbot console) and channel
    #: that receive the topic's notifications. Both or neither.
    slack_workspace_id: str | None = None
    slack_channel_id: str | None = None
    #: ECS service average CPU / memory utilization (%) over 3 consecutive minutes.
    ecs_cpu_percent: float = 80
    ecs_memory_percent: float = 80
    #: 5xx responses of the load balancer (targets' and its own) per 5 minutes.
    alb_5xx_per_5_minutes: int = 10
    #: Target response time, p95 over 5 minutes (seconds).
    p95_response_time_seconds: float = 1.0
    #: Unhealthy targets (maximum) for 3 consecutive minutes.
    unhealthy_targets: int = 0
    #: RDS CPU (%) over 3 consecutive minutes.
    rds_cpu_percent: float = 80
    #: RDS connections above this share (%) of max_connections for 3 consecutive minutes.
    rds_connections_percent: float = 80
    #: max_connections; None: the engine's default for the instance class.
    rds_max_connections: int | None = None
    #: RDS free storage below this (GiB, as RDS allocates storage).
    rds_free_storage_gib: float = 5
    #: CloudWatch Logs filter pattern of application error lines in the container log group.
    error_log_pattern: str = "?ERROR ?Error ?FATAL"
    #: Matching log events per 5 minutes.
    error_logs_per_5_minutes: int = 10
    #: Namespace of the error-log metric; None: "<stack name>/<construct id>".
    metric_namespace: str | None = None
    #: The health-check canary: GETs `canary_url` (through CloudFront) on a schedule; any
    #: answer but 2xx (a redirect included) fails the run.
    canary_enabled: bool = True
    canary_url: str | None = None
    canary_interval_minutes: int = 5
    #: The canary alarm fires when the success rate stays below this (%) for 2 runs.
    canary_success_percent: float = 100
    #: Days the canary's artifacts (S3) and run records are kept.
    canary_retention_days: int = 30
    #: None: CloudFormation names the dashboard (names are unique per account).
    dashboard_name: str | None = None


@dataclass(frozen=True)
class EdgeAlarmsProps:
    #: The environment's region: where `PlatformMonitoring` and its topic are.
    monitoring_region: str
    #: CloudFront 5xx error rate (%, average over 5 minutes).
    cloudfront_5xx_rate_percent: float = 5
    #: Fewer viewer requests than this in 5 minutes never raise the 5xx-rate alarm (a single
    #: failed canary request would be a 100 % rate; the canary alarm reports those).
    cloudfront_min_requests: int = 20
    #: WAF blocked requests (all rules) per 5 minutes.
    waf_blocked_per_5_minutes: int = 1000


#: The edge alarms' ids in `EdgeAlarms.alarms`.
CLOUDFRONT_5XX_RATE = "CloudFront5xxRate"
WAF_BLOCKED_REQUESTS = "WafBlockedRequests"

_FIVE_MINUTES = Duration.minutes(5)
_ONE_MINUTE = Duration.minutes(1)
_GT = cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD
_LT = cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD
_ALARM_STATE_CHANGE = "CloudWatch Alarm State Change"

#: The canary: GET the URL in HEALTH_URL; a non-2xx answer (redirects too) fails the run.
_CANARY_SCRIPT = """\
const synthetics = require('Synthetics');

exports.handler = async function () {
  const url = new URL(process.env.HEALTH_URL);
  const expect2xx = (res) => new Promise((resolve, reject) => {
    res.on('data', () => {});
    res.on('end', () => (res.statusCode >= 200 && res.statusCode < 300)
      ? resolve()
      : reject(new Error(`${url.href} answered ${res.statusCode} ${res.statusMessage}`)));
    res.on('error', reject);
  });
  await synthetics.executeHttpStep('GET health check', {
    protocol: url.protocol,
    hostname: url.hostname,
    port: url.port || 443,
    path: url.pathname + url.search,
    method: 'GET',
    headers: { 'User-Agent': synthetics.getCanaryUserAgentString() },
  }, expect2xx);
};
"""


# --- PlatformMonitoring -------------------------------------------------------------------------


class PlatformMonitoring(Construct):
    """Alarms, alarm topic, dashboard and canary of one environment, in its region.

    Exposes `key` (encrypts the topic and the canary artifacts), `topic`, `slack_channel`
    (None without Slack), `alarms` (name -> alarm), `error_log_metric_filter`, `canary` and
    `canary_bucket` (None when the canary is off), `relay_rule` (None without
    `edge_alarm_arns`) and `dashboard`.

    `target_groups`: every group production traffic can be on (both for blue/green); the
    unhealthy-target alarm sums them. `distribution_id` and `web_acl_metric_name` (the web
    ACL's VisibilityConfig MetricName: WAF's `WebACL` dimension) add the edge widgets;
    `edge_alarm_arns` are `EdgeAlarms.alarm_arns`, whose relayed state changes reach the
    topic. Every alarm notifies the topic on ALARM and OK; CloudFormation names them
    (`<stack>-<logical id>-<suffix>`), so names are unique per stack.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        props: MonitoringProps,
        service: ecs.BaseService,
        load_balancer: elbv2.ApplicationLoadBalancer,
        target_groups: Sequence[elbv2.ApplicationTargetGroup],
        log_group: logs.ILogGroup,
        database: rds.IDatabaseInstance,
        database_engine: Engine,
        database_instance_class: str,
        distribution_id: str | None = None,
        web_acl_metric_name: str | None = None,
        edge_alarm_arns: Sequence[str] = (),
    ) -> None:
        super().__init__(scope, construct_id)
        _validate(props, target_groups)
        stack = Stack.of(self)
        self.key = kms.Key(
            self,
            "Key",
            description=f"Encrypts the alarm topic and canary artifacts of {stack.stack_name}",
            enable_key_rotation=True,
            # A retained canary bucket stays readable only while the key exists.
            removal_policy=RemovalPolicy.RETAIN,
        )
        self.topic = sns.Topic(
            self,
            "Topic",
            display_name=f"Alarms of {stack.stack_name}"[:100],
            master_key=self.key,
            enforce_ssl=True,
        )
        for email in props.alarm_emails:
            self.topic.add_subscription(subscriptions.EmailSubscription(email))
        self._allow_publishing("AllowCloudWatchAlarms", "cloudwatch.amazonaws.com", alarms=True)
        self.slack_channel = self._slack_channel(props)
        self._action = cloudwatch_actions.SnsAction(self.topic)
        self.alarms: dict[str, cloudwatch.Alarm] = {}

        max_connections = props.rds_max_connections or default_max_connections(
            database_engine, database_instance_class
        )
        self.error_log_metric_filter = logs.MetricFilter(
            self,
            "ErrorLogMetricFilter",
            log_group=log_group,
            filter_pattern=logs.FilterPattern.literal(props.error_log_pattern),
            metric_namespace=props.metric_namespace or f"{stack.stack_name}/{self.node.id}",
            metric_name="ErrorLogEvents",
            metric_value="1",
            default_value=0,
            unit=cloudwatch.Unit.COUNT,
        )
        signals = _Signals(
            service,
            load_balancer,
            target_groups,
            database,
            self.error_log_metric_filter.metric(statistic="Sum", period=_FIVE_MINUTES),
        )
        self._add_service_alarms(props, signals)
        self._add_database_alarms(props, signals, max_connections)
        self.canary: synthetics.Canary | None = None
        self.canary_bucket: s3.Bucket | None = None
        if props.canary_enabled:
            self._add_canary(props)
        self.relay_rule = self._relay_rule(edge_alarm_arns) if edge_alarm_arns else None
        self.dashboard = self._dashboard(
            props, signals, max_connections, distribution_id, web_acl_metric_name
        )
        self._acknowledge_findings()

    # --- Topic ------------------------------------------------------------------------------

    def _allow_publishing(
        self, sid: str, service: str, *, alarms: bool = False, rule_arn: str | None = None
    ) -> None:
        """Let `service` publish to the topic (this account's alarms, or one rule) and use the
        key for it through SNS only."""
        stack = Stack.of(self)
        conditions: dict[str, Any] = {"StringEquals": {"aws:SourceAccount": stack.account}}
        if alarms:
            conditions["ArnLike"] = {
                "aws:SourceArn": stack.format_arn(
                    service="cloudwatch",
                    resource="alarm",
                    resource_name="*",
                    arn_format=ArnFormat.COLON_RESOURCE_NAME,
                )
            }
        if rule_arn is not None:
            conditions["ArnEquals"] = {"aws:SourceArn": rule_arn}
        principal = iam.ServicePrincipal(service)
        self.topic.add_to_resource_policy(
            iam.PolicyStatement(
                sid=sid,
                principals=[principal],
                actions=["sns:Publish"],
                resources=[self.topic.topic_arn],
                conditions=conditions,
            )
        )
        self.key.add_to_resource_policy(
            iam.PolicyStatement(
                sid=f"{sid}ThroughSns",
                principals=[principal],
                actions=["kms:Decrypt", "kms:GenerateDataKey*"],
                resources=["*"],
                conditions={
                    "StringEquals": {"kms:ViaService": f"sns.{stack.region}.amazonaws.com"}
                },
            )
        )

    def _slack_channel(self, props: MonitoringProps) -> chatbot.SlackChannelConfiguration | None:
        if props.slack_workspace_id is None or props.slack_channel_id is None:
            return None
        # Chatbot renders the alarm notifications (with their graphs) through this role; the
        # guardrail caps whatever a channel member could do with it at CloudWatch reads.
        role = iam.Role(
            self,
            "SlackChannelRole",
            assumed_by=iam.ServicePrincipal("chatbot.amazonaws.com"),
            description="AWS Chatbot: read the CloudWatch alarms and graphs it posts to Slack",
        )
        self._slack_policy = iam.ManagedPolicy(
            self,
            "SlackChannelPolicy",
            description="AWS Chatbot notifications: CloudWatch alarm and metric reads",
            statements=[
                iam.PolicyStatement(
                    actions=[
                        "cloudwatch:DescribeAlarms",
                        "cloudwatch:DescribeAlarmHistory",
                        "cloudwatch:GetMetricData",
                        "cloudwatch:GetMetricStatistics",
                        "cloudwatch:GetMetricWidgetImage",
                        "cloudwatch:ListMetrics",
                    ],
                    resources=["*"],
                )
            ],
            roles=[role],
        )
        return chatbot.SlackChannelConfiguration(
            self,
            "SlackChannel",
            slack_channel_configuration_name=Names.unique_resource_name(
                self, max_length=128, separator="-"
            ),
            slack_workspace_id=props.slack_workspace_id,
            slack_channel_id=props.slack_channel_id,
            notification_topics=[self.topic],
            role=role,
            guardrail_policies=[
                iam.ManagedPolicy.from_aws_managed_policy_name("CloudWatchReadOnlyAccess")
            ],
        )

    # --- Alarms -----------------------------------------------------------------------------

    def _alarm(
        self,
        name: str,
        metric: cloudwatch.IMetric,
        threshold: float,
        description: str,
        *,
        comparison: cloudwatch.ComparisonOperator = _GT,
        evaluation_periods: int = 1,
        missing: cloudwatch.TreatMissingData = cloudwatch.TreatMissingData.NOT_BREACHING,
    ) -> cloudwatch.Alarm:
        """An alarm notifying the topic when it fires and when it recovers."""
        alarm = cloudwatch.Alarm(
            self,
            f"{name}Alarm",
            metric=metric,
            threshold=threshold,
            comparison_operator=comparison,
            evaluation_periods=evaluation_periods,
            treat_missing_data=missing,
            alarm_description=description,
        )
        alarm.add_alarm_action(self._action)
        alarm.add_ok_action(self._action)
        self.alarms[name] = alarm
        return alarm

    def _add_service_alarms(self, props: MonitoringProps, s: _Signals) -> None:
        missing = cloudwatch.TreatMissingData.MISSING
        self._alarm(
            "EcsCpu",
            s.ecs_cpu,
            props.ecs_cpu_percent,
            f"ECS service CPU above {props.ecs_cpu_percent:g} % for 3 minutes",
            evaluation_periods=3,
            missing=missing,
        )
        self._alarm(
            "EcsMemory",
            s.ecs_memory,
            props.ecs_memory_percent,
            f"ECS service memory above {props.ecs_memory_percent:g} % for 3 minutes",
            evaluation_periods=3,
            missing=missing,
        )
        self._alarm(
            "Alb5xx",
            s.alb_5xx,
            props.alb_5xx_per_5_minutes,
            f"More than {props.alb_5xx_per_5_minutes} 5xx responses from the load balancer "
            "(targets' and its own 502/503/504) in 5 minutes",
        )
        self._alarm(
            "ResponseTimeP95",
            s.response_time_p95,
            props.p95_response_time_seconds,
            f"Target response time p95 above {props.p95_response_time_seconds:g} s over 5 minutes",
        )
        self._alarm(
            "UnhealthyTargets",
            s.unhealthy_targets,
            props.unhealthy_targets,
            f"More than {props.unhealthy_targets} unhealthy targets for 3 minutes",
            evaluation_periods=3,
        )
        self._alarm(
            "ErrorLogs",
            s.error_logs,
            props.error_logs_per_5_minutes,
            f"More than {props.error_logs_per_5_minutes} application error log events "
            f"({props.error_log_pattern}) in 5 minutes",
        )

    def _add_database_alarms(
        self, props: MonitoringProps, s: _Signals, max_connections: int
    ) -> None:
        missing = cloudwatch.TreatMissingData.MISSING
        self._alarm(
            "RdsCpu",
            s.rds_cpu,
            props.rds_cpu_percent,
            f"Database CPU above {props.rds_cpu_percent:g} % for 3 minutes",
            evaluation_periods=3,
            missing=missing,
        )
        connections = int(max_connections * props.rds_connections_percent / 100)
        self._alarm(
            "RdsConnections",
            s.rds_connections,
            connections,
            f"More than {connections} database connections ({props.rds_connections_percent:g} "
            f"% of max_connections {max_connections}) for 3 minutes",
            evaluation_periods=3,
            missing=missing,
        )
        self._alarm(
            "RdsFreeStorage",
            s.rds_free_storage,
            props.rds_free_storage_gib * 2**30,
            f"Database free storage below {props.rds_free_storage_gib:g} GiB",
            comparison=_LT,
            missing=missing,
        )

    # --- Canary -----------------------------------------------------------------------------

    def _add_canary(self, props: MonitoringProps) -> None:
        if props.canary_url is None:  # _validate refuses this
            raise ValueError("canary_url is required with canary_enabled")
        self.canary_bucket = bucket = expiring_log_bucket(
            self,
            "CanaryBucket",
            retention_days=props.canary_retention_days,
            removal_policy=RemovalPolicy.RETAIN,
            encryption_key=self.key,
        )
        # Synthetics keeps run records for at most 455 days.
        retention = Duration.days(min(props.canary_retention_days, 455))
        self.canary = canary = synthetics.Canary(
            self,
            "Canary",
            runtime=synthetics.Runtime.SYNTHETICS_NODEJS_PUPPETEER_13_0,
            test=synthetics.Test.custom(
                code=synthetics.Code.from_inline(_CANARY_SCRIPT), handler="index.handler"
            ),
            schedule=synthetics.Schedule.rate(Duration.minutes(props.canary_interval_minutes)),
            environment_variables={"HEALTH_URL": props.canary_url},
            timeout=Duration.minutes(1),
            artifacts_bucket_location=synthetics.ArtifactsBucketLocation(bucket=bucket),
            artifact_s3_encryption_mode=synthetics.ArtifactsEncryptionMode.KMS,
            artifact_s3_kms_key=self.key,
            success_retention_period=retention,
            failure_retention_period=retention,
            provisioned_resource_cleanup=True,
        )
        self._alarm(
            "Canary",
            canary.metric_success_percent(
                period=Duration.minutes(props.canary_interval_minutes), statistic="Average"
            ),
            props.canary_success_percent,
            f"Health check {props.canary_url} below {props.canary_success_percent:g} % success "
            "for 2 runs in a row (or the canary stopped running)",
            comparison=_LT,
            evaluation_periods=2,
            # A canary that stops running is a failure of the check itself.
            missing=cloudwatch.TreatMissingData.BREACHING,
        )

    # --- Edge alarm relay -------------------------------------------------------------------

    def _relay_rule(self, alarm_arns: Sequence[str]) -> events.Rule:
        """Publish the relayed state changes of the edge alarms to the topic."""
        field = events.EventField.from_path
        name, state = field("$.detail.alarmName"), field("$.detail.state.value")
        description = field("$.detail.configuration.description")
        reason = field("$.detail.state.reason")
        message = (
            # AWS Chatbot posts only its "custom notification" JSON (readable in e-mail too).
            events.RuleTargetInput.from_object(
                {
                    "version": "1.0",
                    "source": "custom",
                    "content": {
                        "title": f"{state}: {name} ({field('$.region')})",
                        "description": f"{description}. {reason}",
                    },
                }
            )
            if self.slack_channel is not None
            # One line: a text input reaches SNS as a JSON string (quoted, escapes kept).
            else events.RuleTargetInput.from_text(
                f"{state}: {name} ({field('$.region')}). {description}. {reason}"
            )
        )
        rule = events.Rule(
            self,
            "EdgeAlarmRelay",
            description="State changes of the edge alarms (us-east-1, forwarded) to the topic",
            event_pattern=events.EventPattern(
                source=["aws.cloudwatch"],
                detail_type=[_ALARM_STATE_CHANGE],
                resources=list(alarm_arns),
                detail={"state": {"value": ["ALARM", "OK"]}},
            ),
            targets=[_TopicTarget(self.topic, message)],
        )
        self._allow_publishing(
            "AllowEdgeAlarmRelay", "events.amazonaws.com", rule_arn=rule.rule_arn
        )
        return rule

    # --- Dashboard --------------------------------------------------------------------------

    def _dashboard(
        self,
        props: MonitoringProps,
        s: _Signals,
        max_connections: int,
        distribution_id: str | None,
        web_acl_metric_name: str | None,
    ) -> cloudwatch.Dashboard:
        dashboard = cloudwatch.Dashboard(
            self,
            "Dashboard",
            dashboard_name=props.dashboard_name,
            default_interval=Duration.hours(3),
        )
        dashboard.add_widgets(
            cloudwatch.AlarmStatusWidget(
                title="Alarms", alarms=list(self.alarms.values()), width=24, height=3
            )
        )
        if distribution_id is not None or self.canary is not None:
            dashboard.add_widgets(*self._edge_widgets(distribution_id, web_acl_metric_name))
        lb = s.load_balancer.metrics
        dashboard.add_widgets(
            _header("Service: load balancer and ECS"),
            _graph(
                "Latency: target response time",
                [
                    lb.target_response_time(statistic=stat, period=_FIVE_MINUTES, label=stat)
                    for stat in ("p50", "p95", "p99")
                ],
                threshold=props.p95_response_time_seconds,
            ),
            _graph("Traffic: requests", [lb.request_count(period=_FIVE_MINUTES, label="Requests")]),
            _graph(
                "Errors per 5 minutes",
                [s.alb_5xx, s.error_logs],
                right=[
                    lb.http_code_target(
                        elbv2.HttpCodeTarget.TARGET_4XX_COUNT,
                        period=_FIVE_MINUTES,
                        label="Target 4xx",
                    )
                ],
            ),
            _graph(
                "Saturation: ECS CPU / memory %, targets",
                [s.ecs_cpu, s.ecs_memory],
                right=[s.unhealthy_targets, s.healthy_targets],
                left_max=100,
            ),
        )
        dashboard.add_widgets(
            _header("Database: RDS"),
            _graph(
                "Latency: read / write (s)",
                [
                    s.database.metric("ReadLatency", label="Read", period=_ONE_MINUTE),
                    s.database.metric("WriteLatency", label="Write", period=_ONE_MINUTE),
                ],
            ),
            _graph(
                "Traffic: IOPS",
                [
                    s.database.metric("ReadIOPS", label="Read", period=_ONE_MINUTE),
                    s.database.metric("WriteIOPS", label="Write", period=_ONE_MINUTE),
                ],
            ),
            _graph(
                f"Connections (max_connections {max_connections})",
                [s.rds_connections],
                threshold=int(max_connections * props.rds_connections_percent / 100),
            ),
            _graph(
                "Saturation: CPU %, free storage / memory (bytes)",
                [s.rds_cpu],
                right=[
                    s.rds_free_storage,
                    s.database.metric_freeable_memory(label="Freeable memory"),
                ],
                left_max=100,
            ),
        )
        return dashboard

    def _edge_widgets(
        self, distribution_id: str | None, web_acl_metric_name: str | None
    ) -> list[cloudwatch.IWidget]:
        """CloudFront and WAF publish in us-east-1 only: these widgets read from there."""

        def edge(namespace: str, metric: str, dimensions: Mapping[str, str], **kw: Any) -> Any:
            return cloudwatch.Metric(
                namespace=namespace,
                metric_name=metric,
                dimensions_map=dimensions,
                region=CLOUDFRONT_REGION,
                period=_FIVE_MINUTES,
                **kw,
            )

        latency: list[cloudwatch.IMetric] = (
            [self.canary.metric_duration(period=_FIVE_MINUTES, label="Canary health check")]
            if self.canary is not None
            else []
        )
        traffic: list[cloudwatch.IMetric] = []
        errors: list[cloudwatch.IMetric] = []
        blocked: list[cloudwatch.IMetric] = []
        if distribution_id is not None:
            dims = {"DistributionId": distribution_id, "Region": "Global"}
            traffic.append(edge("AWS/CloudFront", "Requests", dims, statistic="Sum"))
            errors += [
                edge("AWS/CloudFront", f"{kind}ErrorRate", dims, statistic="Average", label=kind)
                for kind in ("5xx", "4xx")
            ]
        if web_acl_metric_name is not None:
            dims = {"WebACL": web_acl_metric_name, "Rule": "ALL"}
            blocked.append(edge("AWS/WAFV2", "BlockedRequests", dims, statistic="Sum"))
            traffic.append(edge("AWS/WAFV2", "AllowedRequests", dims, statistic="Sum"))
        graphs: dict[str, list[cloudwatch.IMetric]] = {
            "Latency: canary run (ms)": latency,
            "Traffic: requests per 5 minutes": traffic,
            "Errors: CloudFront error rate %": errors,
            "WAF blocked requests per 5 minutes": blocked,
        }
        return [
            _header("Edge: CloudFront and WAF (us-east-1), canary"),
            *(_graph(title, metrics) for title, metrics in graphs.items() if metrics),
        ]

    # --- Findings ---------------------------------------------------------------------------

    def _acknowledge_findings(self) -> None:
        if self.canary is not None and self.canary_bucket is not None:
            acknowledge(
                self.canary_bucket,
                ("AwsSolutions-S1", "NIST.800.53.R5-S3BucketLoggingEnabled"),
                "The bucket holds only the health-check canary's own run artifacts, written by "
                "its role and expiring after the configured retention; access logs of it would "
                "need a further log bucket with the same gap.",
            )
            skip_checkov(
                self.canary_bucket,
                "CKV_AWS_18",
                "The bucket holds only the health-check canary's own run artifacts, written by "
                "its role and expiring after the configured retention; access logs of it would "
                "need a further log bucket with the same gap.",
            )
            acknowledge(
                self.canary_bucket,
                "NIST.800.53.R5-S3BucketReplicationEnabled",
                "Canary run artifacts (logs, HAR files) expire after the configured retention "
                "and describe runs already summarized in CloudWatch; a replica aids no recovery.",
            )
            stack = Stack.of(self)
            artifacts = f"{self.canary_bucket.bucket_arn}/*"
            logs_arn = stack.format_arn(
                service="logs",
                resource="log-group",
                resource_name="/aws/lambda/cwsyn-*",
                arn_format=ArnFormat.COLON_RESOURCE_NAME,
            )
            acknowledge(
                self.canary.role,
                (
                    "AwsSolutions-IAM5[Resource::*]",
                    *(
                        f"AwsSolutions-IAM5[Resource::{flatten_cfn_reference(stack.resolve(arn))}]"
                        for arn in (artifacts, logs_arn)
                    ),
                    "AwsSolutions-IAM5[Action::kms:GenerateDataKey*]",
                    "AwsSolutions-IAM5[Action::kms:ReEncrypt*]",
                    "NIST.800.53.R5-IAMNoInlinePolicy",
                ),
                "CDK's canary role: s3:ListAllMyBuckets and cloudwatch:PutMetricData (limited "
                "to the CloudWatchSynthetics namespace) have no resource-level form; it writes "
                "artifacts to its own bucket with this one key (CDK's encrypt/decrypt grant) "
                "and logs to the cwsyn-* groups Synthetics names at run time.",
            )
        if self.slack_channel is not None:
            acknowledge(
                self._slack_policy,
                "AwsSolutions-IAM5[Resource::*]",
                "CloudWatch metric reads that render alarm graphs (GetMetricData, "
                "GetMetricWidgetImage, ListMetrics, GetMetricStatistics) have no resource-level "
                "permissions; the policy holds only those and alarm reads.",
            )


# --- EdgeAlarms ---------------------------------------------------------------------------------


class EdgeAlarms(Construct):
    """The edge's alarms, in us-east-1 (where CloudFront and CLOUDFRONT-scope WAF metrics
    are), relayed to the environment region's alarm topic (see the module docstring).

    Exposes `alarms` (`CLOUDFRONT_5XX_RATE`, `WAF_BLOCKED_REQUESTS` -> alarm), `alarm_arns`
    (theirs, readable from the environment's region: `PlatformMonitoring`'s
    `edge_alarm_arns`) and `forward_rule` (None when the environment is in us-east-1 itself).
    `web_acl_metric_name` is the web ACL's VisibilityConfig MetricName (WAF's `WebACL`
    dimension), not its name.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        props: EdgeAlarmsProps,
        distribution_id: str,
        web_acl_metric_name: str,
    ) -> None:
        super().__init__(scope, construct_id)
        if props.cloudfront_5xx_rate_percent <= 0 or props.waf_blocked_per_5_minutes <= 0:
            raise ValueError("edge alarm thresholds must be positive")
        stack = Stack.of(self)
        if stack.region != CLOUDFRONT_REGION:
            raise ValueError(f"EdgeAlarms needs a stack in {CLOUDFRONT_REGION}, not {stack.region}")
        cloudfront = {"DistributionId": distribution_id, "Region": "Global"}

        def metric(namespace: str, name: str, dims: Mapping[str, str], stat: str) -> Any:
            return cloudwatch.Metric(
                namespace=namespace,
                metric_name=name,
                dimensions_map=dims,
                statistic=stat,
                period=_FIVE_MINUTES,
            )

        rate = props.cloudfront_5xx_rate_percent
        five_xx = cloudwatch.MathExpression(
            expression=f"IF(requests >= {props.cloudfront_min_requests}, rate, 0)",
            using_metrics={
                "rate": metric("AWS/CloudFront", "5xxErrorRate", cloudfront, "Average"),
                "requests": metric("AWS/CloudFront", "Requests", cloudfront, "Sum"),
            },
            label="5xx error rate (%)",
            period=_FIVE_MINUTES,
        )
        blocked = props.waf_blocked_per_5_minutes
        waf = metric(
            "AWS/WAFV2",
            "BlockedRequests",
            {"WebACL": web_acl_metric_name, "Rule": "ALL"},
            "Sum",
        )
        missing = cloudwatch.TreatMissingData.NOT_BREACHING
        self.alarms: dict[str, cloudwatch.Alarm] = {
            CLOUDFRONT_5XX_RATE: cloudwatch.Alarm(
                self,
                "CloudFront5xxRateAlarm",
                metric=five_xx,
                threshold=rate,
                comparison_operator=_GT,
                evaluation_periods=1,
                treat_missing_data=missing,
                alarm_description=f"CloudFront 5xx error rate above {rate:g} % over 5 minutes "
                f"(with at least {props.cloudfront_min_requests} requests)",
            ),
            WAF_BLOCKED_REQUESTS: cloudwatch.Alarm(
                self,
                "WafBlockedRequestsAlarm",
                metric=waf,
                threshold=blocked,
                comparison_operator=_GT,
                evaluation_periods=1,
                treat_missing_data=missing,
                alarm_description=f"More than {blocked} requests blocked by WAF in 5 minutes",
            ),
        }
        # The CfnAlarms' Arn attributes: the L2's `alarm_arn` cannot be read from another
        # region (CDK's CannotUseCrossEnvironment for unnamed resources).
        self.alarm_arns = [
            cast("cloudwatch.CfnAlarm", alarm.node.default_child).attr_arn
            for alarm in self.alarms.values()
        ]
        self.forward_rule: events.Rule | None = None
        if props.monitoring_region != stack.region:
            bus_arn = stack.format_arn(
                service="events",
                region=props.monitoring_region,
                resource="event-bus",
                resource_name="default",
            )
            self.forward_rule = events.Rule(
                self,
                "ForwardRule",
                description=f"Forward the edge alarms' state changes to {props.monitoring_region}",
                event_pattern=events.EventPattern(
                    source=["aws.cloudwatch"],
                    detail_type=[_ALARM_STATE_CHANGE],
                    resources=self.alarm_arns,
                ),
                targets=[
                    events_targets.EventBus(
                        events.EventBus.from_event_bus_arn(self, "MonitoringBus", bus_arn)
                    )
                ],
            )
        for alarm in self.alarms.values():
            acknowledge(
                alarm,
                "NIST.800.53.R5-CloudWatchAlarmAction",
                "An alarm cannot notify an SNS topic in another region: its state changes go "
                "through EventBridge (forward_rule) to the environment region's alarm topic.",
            )
        if self.forward_rule is not None:
            acknowledge(
                self.forward_rule,
                "NIST.800.53.R5-IAMNoInlinePolicy",
                "CDK's event-bus target role: its inline policy is events:PutEvents on the "
                "environment region's default bus alone, for this rule alone.",
            )


# --- Helpers ------------------------------------------------------------------------------------


class _Signals:
    """The metrics the alarms and the dashboard share."""

    def __init__(
        self,
        service: ecs.BaseService,
        load_balancer: elbv2.ApplicationLoadBalancer,
        target_groups: Sequence[elbv2.ApplicationTargetGroup],
        database: rds.IDatabaseInstance,
        error_logs: cloudwatch.Metric,
    ) -> None:
        self.load_balancer = load_balancer
        self.database = database
        lb = load_balancer.metrics
        self.ecs_cpu = service.metric_cpu_utilization(period=_ONE_MINUTE, label="CPU")
        self.ecs_memory = service.metric_memory_utilization(period=_ONE_MINUTE, label="Memory")
        # What reaches CloudFront from the origin: the targets' 5xx and the load balancer's own
        # (502/503/504 when targets fail, time out or none is healthy), both load-balancer wide
        # (every target group, so blue/green's two are covered).
        self.alb_5xx = _sum(
            [
                lb.http_code_target(
                    elbv2.HttpCodeTarget.TARGET_5XX_COUNT, period=_FIVE_MINUTES, statistic="Sum"
                ),
                lb.http_code_elb(
                    elbv2.HttpCodeElb.ELB_5XX_COUNT, period=_FIVE_MINUTES, statistic="Sum"
                ),
            ],
            "5xx (targets + load balancer)",
            "http5xx",
        )
        self.response_time_p95 = lb.target_response_time(
            statistic="p95", period=_FIVE_MINUTES, label="p95"
        )

        # Built here, not with the groups' `metrics`: those derive the LoadBalancer dimension
        # by splitting a listener ARN, which Fn::Split cannot do with a cross-stack reference
        # (Fn::GetStackOutput; cfn-lint E1022).
        def targets(metric_name: str, group: elbv2.ApplicationTargetGroup) -> cloudwatch.Metric:
            return cloudwatch.Metric(
                namespace="AWS/ApplicationELB",
                metric_name=metric_name,
                dimensions_map={
                    "LoadBalancer": load_balancer.load_balancer_full_name,
                    "TargetGroup": group.target_group_full_name,
                },
                statistic="Maximum",
                period=_ONE_MINUTE,
            )

        self.unhealthy_targets = _sum(
            [targets("UnHealthyHostCount", group) for group in target_groups],
            "Unhealthy targets",
            "unhealthy",
        )
        self.healthy_targets = _sum(
            [targets("HealthyHostCount", group) for group in target_groups],
            "Healthy targets",
            "healthy",
        )
        self.error_logs = error_logs.with_(label="Error log events")
        self.rds_cpu = database.metric_cpu_utilization(period=_ONE_MINUTE, label="CPU")
        self.rds_connections = database.metric_database_connections(
            period=_ONE_MINUTE, statistic="Maximum", label="Connections"
        )
        self.rds_free_storage = database.metric_free_storage_space(
            period=_FIVE_MINUTES, statistic="Minimum", label="Free storage"
        )


@jsii.implements(events.IRuleTarget)
class _TopicTarget:
    """`topic` as a rule target, without the unconditioned publish grant CDK's SnsTopic target
    adds (`PlatformMonitoring._allow_publishing` adds one for this rule only)."""

    def __init__(self, topic: sns.ITopic, message: events.RuleTargetInput) -> None:
        self._topic = topic
        self._message = message

    def bind(self, rule: events_refs.IRuleRef, id: str | None = None) -> events.RuleTargetConfig:
        return events.RuleTargetConfig(arn=self._topic.topic_arn, input=self._message)


def _sum(metrics: list[cloudwatch.Metric], label: str, prefix: str) -> cloudwatch.IMetric:
    """One metric as it is; several as their sum, a missing data point counting as 0. The
    metrics' ids start with `prefix`: ids must be unique within one graph."""
    if len(metrics) == 1:
        return metrics[0].with_(label=label)
    return cloudwatch.MathExpression(
        expression=" + ".join(f"FILL({prefix}{i}, 0)" for i in range(len(metrics))),
        using_metrics={f"{prefix}{i}": metric for i, metric in enumerate(metrics)},
        label=label,
        period=metrics[0].period,
    )


def _header(text: str) -> cloudwatch.TextWidget:
    return cloudwatch.TextWidget(markdown=f"### {text}", width=24, height=1)


def _graph(
    title: str,
    left: Sequence[cloudwatch.IMetric],
    *,
    right: Sequence[cloudwatch.IMetric] = (),
    threshold: float | None = None,
    left_max: float | None = None,
) -> cloudwatch.GraphWidget:
    return cloudwatch.GraphWidget(
        title=title,
        left=list(left),
        right=list(right) or None,
        left_annotations=[cloudwatch.HorizontalAnnotation(value=threshold, label="Alarm")]
        if threshold is not None
        else None,
        left_y_axis=cloudwatch.YAxisProps(min=0, max=left_max),
        width=6,
        height=6,
    )


def _validate(props: MonitoringProps, target_groups: Sequence[Any]) -> None:
    if not props.alarm_emails and props.slack_channel_id is None:
        raise ValueError("alarms need a recipient: alarm_emails, or a Slack channel")
    if (props.slack_workspace_id is None) != (props.slack_channel_id is None):
        raise ValueError("slack_workspace_id and slack_channel_id go together")
    if not target_groups:
        raise ValueError("target_groups needs at least one target group")
    if props.canary_enabled:
        if not props.canary_url or not props.canary_url.startswith("https://"):
            raise ValueError("the canary needs an https:// canary_url")
        if not 1 <= props.canary_interval_minutes <= 60:
            raise ValueError("canary_interval_minutes must be between 1 and 60")
    for name in ("ecs_cpu_percent", "ecs_memory_percent", "rds_cpu_percent"):
        if not 0 < getattr(props, name) <= 100:
            raise ValueError(f"{name} must be a percentage above 0")
    if not 0 < props.rds_connections_percent <= 100:
        raise ValueError("rds_connections_percent must be a percentage above 0")
    if props.rds_max_connections is not None and props.rds_max_connections < 1:
        raise ValueError("rds_max_connections must be positive")
