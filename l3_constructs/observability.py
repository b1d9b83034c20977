"""Observability of one environment: alarms with their thresholds in props, one KMS-encrypted
alarm topic (e-mail, optionally Slack through AWS Chatbot), a golden-signals dashboard and a
health-check canary.

Two constructs, because CloudFront and CLOUDFRONT-scope WAF publish their metrics only in
us-east-1 and a CloudWatch alarm can only notify an SNS topic in its own region:

- `PlatformMonitoring` (here), in the environment's region: the topic, the regional alarms
  (`l3_constructs.alarms`: the load balancer and database environment-wide; ECS, error logs
  and, for web services, their targets, for workers, their queues per service; each job's
  schedule dead-letter queue), the EventBridge rules that report each job's failed runs, the
  dashboard (`l3_constructs.dashboard`; its edge widgets read us-east-1 metrics, a dashboard
  may show any region's), the canary, and the receiving end of the edge-alarm relay.
- `EdgeAlarms` (`l3_constructs.edge_alarms`, re-exported here), in us-east-1 next to the
  distribution: the CloudFront 5xx-rate and WAF blocked-requests alarms, without alarm
  actions, plus the sending end of the relay.

The relay: every alarm publishes a "CloudWatch Alarm State Change" event to the default event
bus of its region. `EdgeAlarms.forward_rule` (us-east-1) matches exactly its alarms' events and
sends them, unchanged, to the default bus of the environment's region (cross-region event bus
target, through a role allowed `events:PutEvents` on that one bus; same account, so the
receiving bus needs no resource policy). There, `PlatformMonitoring`'s relay rule matches those
alarm ARNs and publishes a readable message to the topic. Alarm and relay rule are in one
account, so no credentials or copies cross regions, and an environment in us-east-1 needs no
forwarding at all (the relay rule sees the alarms' own events).

A job's failed run reaches the topic as an event, not an alarm (a run is one event, often
daily, and the message carries what happened). Per job, three rules on the default bus of the
environment's region, each with a message naming the job:

- `TaskFailedRule`: "ECS Task State Change" of a task of the job's task definition family
  (`group` `family:<family>`) that STOPPED with a non-zero container exit code: the exit
  code, the container and ECS's stop reason.
- `TaskNotStartedRule`: the same group, STOPPED with stop code `TaskFailedToStart` (image
  pull, secrets, capacity, network): ECS's reason.
- `ExecutionFailedRule`: "Step Functions Execution Status Change" of the job's state machine
  to FAILED, TIMED_OUT or ABORTED: the status. An overdue run (its timeout) fails the
  execution and Step Functions stops its task, so a timeout reports here (and its stopped
  task, exit code 137/143, in `TaskFailedRule`).

A run that never started because its schedule could not invoke the state machine lands in
the schedule's dead-letter queue: the alarm `SchedulerDeadLetters`.

Every rule publishing to the topic (these and the edge relay) is allowed by one topic policy
statement for events.amazonaws.com, conditioned on those rules' ARNs, and the key lets it
encrypt through SNS only.

Knows nothing of environments: every choice arrives in `MonitoringProps` (with one
`MonitoredService` per service and one `MonitoredJob` per job,
`l3_constructs.monitoring_props`) / `EdgeAlarmsProps`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import jsii
from aws_cdk import ArnFormat, Duration, Names, RemovalPolicy, Stack
from aws_cdk import aws_chatbot as chatbot
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cloudwatch_actions
from aws_cdk import aws_elasticloadbalancingv2 as elbv2
from aws_cdk import aws_events as events
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from aws_cdk import aws_synthetics as synthetics
from aws_cdk.interfaces import aws_events as events_refs
from constructs import Construct

from l3_constructs.alarms import (
    LT,
    AlarmFactory,
    DatabaseSignals,
    JobSignals,
    LoadBalancerSignals,
    ServiceSignals,
    database_alarms,
    error_log_metric_filter,
    five_minutes,
    job_alarms,
    load_balancer_alarms,
    service_alarms,
)
from l3_constructs.compliance import acknowledge, flatten_cfn_reference, skip_checkov
from l3_constructs.dashboard import platform_dashboard
from l3_constructs.edge_alarms import (
    ALARM_STATE_CHANGE,
    CLOUDFRONT_5XX_RATE,
    WAF_BLOCKED_REQUESTS,
    EdgeAlarms,
    EdgeAlarmsProps,
)
from l3_constructs.limits import default_max_connections
from l3_constructs.monitoring_props import (
    MonitoredDatabase,
    MonitoredJob,
    MonitoredQueue,
    MonitoredService,
    MonitoringProps,
    validate,
)
from l3_constructs.shared import expiring_log_bucket

__all__ = [
    "CLOUDFRONT_5XX_RATE",
    "WAF_BLOCKED_REQUESTS",
    "EdgeAlarms",
    "EdgeAlarmsProps",
    "MonitoredJob",
    "MonitoredQueue",
    "MonitoredService",
    "MonitoringProps",
    "PlatformMonitoring",
]

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


def canary_schedule(minutes: int) -> synthetics.Schedule:
    """Every `minutes`: a rate up to an hour (Synthetics' longest); beyond, a UTC cron every
    `minutes / 60` hours from midnight (config allows only whole hours dividing a day)."""
    if minutes <= 60:
        return synthetics.Schedule.rate(Duration.minutes(minutes))
    hours = minutes // 60
    return synthetics.Schedule.cron(minute="0", hour="0" if hours == 24 else f"0/{hours}")


def canary_alarm_runs(minutes: int) -> int:
    """Runs (periods of `minutes`) the canary alarm evaluates: 2, or 1 for a daily canary
    (CloudWatch allows at most a day of periods x evaluation periods)."""
    return 2 if 2 * minutes <= 1440 else 1


class PlatformMonitoring(Construct):
    """Alarms, alarm topic, dashboard and canary of one environment, in its region.

    Exposes `key` (encrypts the topic and the canary artifacts), `topic`, `slack_channel`
    (None without Slack), `alarms` (the environment-wide ones: `Alb5xx`, `RdsCpu`,
    `RdsConnections`, the instance kind's `RdsFreeStorage`, `RdsReplica<n>Lag` or
    `RdsReplicaLag`, `RdsCapacity`, `RdsProxyAvailability` where they apply, `Canary` ->
    alarm), `service_alarms` (service name
    -> `EcsCpu`, `EcsMemory`, `ErrorLogs`, for a web service `Target5xx`,
    `ResponseTimeP95`, `UnhealthyTargets`, for a worker `DeadLetterMessages`,
    `OldestMessageAge` -> alarm), `job_alarms` (job name -> `SchedulerDeadLetters` ->
    alarm), `job_rules` (job name -> `TaskFailed`, `TaskNotStarted`, `ExecutionFailed` ->
    rule), `error_log_metric_filters` (service name -> filter), `canary` and `canary_bucket`
    (None when the canary is off), `relay_rule` (None without `edge_alarm_arns`) and
    `dashboard`.

    `services`: every service to watch, each with the target groups its production traffic
    can be on (none for a backend or worker) and a worker's queue. A service's alarms and
    metric filter live in `Services/<name>`, a job's alarm and rules in `Jobs/<name>`, so
    adding or removing one never renames another's.
    `distribution_id` and `web_acl_metric_name` (the web ACL's VisibilityConfig MetricName:
    WAF's `WebACL` dimension) add the edge widgets; `edge_alarm_arns` are
    `EdgeAlarms.alarm_arns`, whose relayed state changes reach the topic. Every alarm notifies
    the topic on ALARM and OK; CloudFormation names them (`<stack>-<logical id>-<suffix>`), so
    names are unique per stack.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        props: MonitoringProps,
        services: Sequence[MonitoredService],
        jobs: Sequence[MonitoredJob] = (),
        load_balancer: elbv2.ApplicationLoadBalancer,
        database: MonitoredDatabase,
        distribution_id: str | None = None,
        web_acl_metric_name: str | None = None,
        edge_alarm_arns: Sequence[str] = (),
        key: kms.Key | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        validate(props, services, jobs)
        stack = Stack.of(self)
        # `key`: the environment's shared key (`data_protection.shared_key`), else its own.
        self.key = key or kms.Key(
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
        #: Every rule that publishes to the topic: one policy statement allows them all.
        self._topic_rules: list[events.Rule] = []
        factory = AlarmFactory(cloudwatch_actions.SnsAction(self.topic))

        lb = LoadBalancerSignals(load_balancer)
        self.alarms: dict[str, cloudwatch.Alarm] = load_balancer_alarms(factory, self, props, lb)
        self.service_alarms: dict[str, dict[str, cloudwatch.Alarm]] = {}
        self.error_log_metric_filters: dict[str, logs.MetricFilter] = {}
        namespace = props.metric_namespace or f"{stack.stack_name}/{self.node.id}"
        services_scope = Construct(self, "Services")
        signals: list[ServiceSignals] = []
        for service in services:
            service_scope = Construct(services_scope, service.name)
            metric_filter = error_log_metric_filter(
                service_scope, service, pattern=props.error_log_pattern, namespace=namespace
            )
            self.error_log_metric_filters[service.name] = metric_filter
            s = ServiceSignals(
                service,
                load_balancer,
                metric_filter.metric(statistic="Sum", period=five_minutes()),
            )
            signals.append(s)
            self.service_alarms[service.name] = service_alarms(factory, service_scope, props, s)

        self.job_alarms: dict[str, dict[str, cloudwatch.Alarm]] = {}
        self.job_rules: dict[str, dict[str, events.Rule]] = {}
        jobs_scope = Construct(self, "Jobs")
        job_signals: list[JobSignals] = []
        for job in jobs:
            job_scope = Construct(jobs_scope, job.name)
            j = JobSignals(job)
            job_signals.append(j)
            self.job_alarms[job.name] = job_alarms(factory, job_scope, j)
            self.job_rules[job.name] = self._job_rules(job_scope, job)

        max_connections = props.rds_max_connections or default_max_connections(
            database.engine,
            database.instance_class,
            aurora=database.aurora,
            max_acu=database.max_acu,
        )
        db = DatabaseSignals(database)
        self.alarms.update(database_alarms(factory, self, props, db, max_connections))
        self.canary: synthetics.Canary | None = None
        self.canary_bucket: s3.Bucket | None = None
        if props.canary_enabled:
            self._add_canary(props, factory)
        self.relay_rule = self._relay_rule(edge_alarm_arns) if edge_alarm_arns else None
        if self._topic_rules:
            self._allow_publishing(
                "AllowEventRules",
                "events.amazonaws.com",
                rule_arns=[rule.rule_arn for rule in self._topic_rules],
            )
        self.dashboard = (
            None
            if not props.dashboard
            else platform_dashboard(
                self,
                props=props,
                alarms=self.all_alarms,
                load_balancer=lb,
                services=signals,
                jobs=job_signals,
                database=db,
                max_connections=max_connections,
                canary=self.canary,
                distribution_id=distribution_id,
                web_acl_metric_name=web_acl_metric_name,
            )
        )
        self._acknowledge_findings()

    @property
    def all_alarms(self) -> list[cloudwatch.Alarm]:
        """Every alarm: the environment-wide ones, then each service's, then each job's."""
        per_service = [a for alarms in self.service_alarms.values() for a in alarms.values()]
        per_job = [a for alarms in self.job_alarms.values() for a in alarms.values()]
        return [*self.alarms.values(), *per_service, *per_job]

    # --- Topic ------------------------------------------------------------------------------

    def _allow_publishing(
        self, sid: str, service: str, *, alarms: bool = False, rule_arns: Sequence[str] = ()
    ) -> None:
        """Let `service` publish to the topic (this account's alarms, or these rules) and use
        the key for it through SNS only."""
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
        if rule_arns:
            conditions["ArnEquals"] = {"aws:SourceArn": list(rule_arns)}
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

    # --- Canary -----------------------------------------------------------------------------

    def _add_canary(self, props: MonitoringProps, factory: AlarmFactory) -> None:
        if props.canary_url is None:  # validate() refuses this
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
            schedule=canary_schedule(props.canary_interval_minutes),
            environment_variables={"HEALTH_URL": props.canary_url},
            timeout=Duration.minutes(1),
            artifacts_bucket_location=synthetics.ArtifactsBucketLocation(bucket=bucket),
            artifact_s3_encryption_mode=synthetics.ArtifactsEncryptionMode.KMS,
            artifact_s3_kms_key=self.key,
            success_retention_period=retention,
            failure_retention_period=retention,
            provisioned_resource_cleanup=True,
        )
        # One period per interval, so each holds one run: a canary every 3 hours leaves no
        # empty (missing, so breaching) period in the hours between its runs.
        runs = canary_alarm_runs(props.canary_interval_minutes)
        self.alarms["Canary"] = factory.alarm(
            self,
            "Canary",
            canary.metric_success_percent(
                period=Duration.minutes(props.canary_interval_minutes), statistic="Average"
            ),
            props.canary_success_percent,
            f"Health check {props.canary_url} below {props.canary_success_percent:g} % success "
            f"for {'2 runs in a row' if runs == 2 else 'a run'} (or the canary stopped running)",
            comparison=LT,
            evaluation_periods=runs,
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
        message = self._message(
            f"{state}: {name} ({field('$.region')})", f"{description}. {reason}"
        )
        rule = events.Rule(
            self,
            "EdgeAlarmRelay",
            description="State changes of the edge alarms (us-east-1, forwarded) to the topic",
            event_pattern=events.EventPattern(
                source=["aws.cloudwatch"],
                detail_type=[ALARM_STATE_CHANGE],
                resources=list(alarm_arns),
                detail={"state": {"value": ["ALARM", "OK"]}},
            ),
            targets=[_TopicTarget(self.topic, message)],
        )
        self._topic_rules.append(rule)
        return rule

    def _message(self, title: str, description: str) -> events.RuleTargetInput:
        """A rule's notification: AWS Chatbot's "custom notification" JSON with Slack (the
        only input it posts; readable in e-mail too), else one line of text (a text input
        reaches SNS as a JSON string, quoted, escapes kept)."""
        if self.slack_channel is not None:
            return events.RuleTargetInput.from_object(
                {
                    "version": "1.0",
                    "source": "custom",
                    "content": {"title": title, "description": description},
                }
            )
        return events.RuleTargetInput.from_text(f"{title}. {description}")

    # --- Job runs ---------------------------------------------------------------------------

    def _job_rules(self, scope: Construct, job: MonitoredJob) -> dict[str, events.Rule]:
        """`TaskFailed`, `TaskNotStarted` and `ExecutionFailed` (rules `<Name>Rule` in
        `scope`), each publishing a message that names the job to the topic."""
        field = events.EventField.from_path
        who = f"Job {job.name}"
        stopped_task = {"lastStatus": ["STOPPED"], "group": [f"family:{job.family}"]}
        # The first container is the job's own (`app`; a tracing sidecar comes after it).
        container = field("$.detail.containers[0].name")
        exit_code = field("$.detail.containers[0].exitCode")
        reason, stop_code = field("$.detail.stoppedReason"), field("$.detail.stopCode")
        task = field("$.detail.taskArn")
        specs: dict[str, tuple[str, events.EventPattern, events.RuleTargetInput]] = {
            "TaskFailed": (
                f"{who}: a run failed (its task stopped with a non-zero exit code)",
                events.EventPattern(
                    source=["aws.ecs"],
                    detail_type=["ECS Task State Change"],
                    detail={
                        **stopped_task,
                        # Matches when any container's exit code is not 0 (a container that
                        # never ran has none: TaskNotStarted).
                        "containers": {"exitCode": [{"anything-but": 0}]},
                    },
                ),
                self._message(
                    f"{who} failed: exit code {exit_code} ({container})",
                    f"Stop reason: {reason} ({stop_code}). Task {task}",
                ),
            ),
            "TaskNotStarted": (
                f"{who}: a run's task failed to start",
                events.EventPattern(
                    source=["aws.ecs"],
                    detail_type=["ECS Task State Change"],
                    detail={**stopped_task, "stopCode": ["TaskFailedToStart"]},
                ),
                self._message(
                    f"{who} did not start", f"Reason: {reason} ({stop_code}). Task {task}"
                ),
            ),
            "ExecutionFailed": (
                f"{who}: a run's Step Functions execution failed, timed out or was aborted",
                events.EventPattern(
                    source=["aws.states"],
                    detail_type=["Step Functions Execution Status Change"],
                    detail={
                        "status": ["FAILED", "TIMED_OUT", "ABORTED"],
                        "stateMachineArn": [job.state_machine.state_machine_arn],
                    },
                ),
                self._message(
                    f"{who}: run {field('$.detail.name')} {field('$.detail.status')}",
                    "FAILED: its task failed, did not start, or ran past the job's timeout "
                    "(States.Timeout) and was stopped; TIMED_OUT: the overdue run was stopped; "
                    f"ABORTED: stopped by hand. Execution {field('$.detail.executionArn')}",
                ),
            ),
        }
        rules: dict[str, events.Rule] = {}
        for name, (description, pattern, message) in specs.items():
            rules[name] = rule = events.Rule(
                scope,
                f"{name}Rule",
                description=description,
                event_pattern=pattern,
                targets=[_TopicTarget(self.topic, message)],
            )
            self._topic_rules.append(rule)
        return rules

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


# --- Helpers ------------------------------------------------------------------------------------


@jsii.implements(events.IRuleTarget)
class _TopicTarget:
    """`topic` as a rule target, without the unconditioned publish grant CDK's SnsTopic target
    adds (`PlatformMonitoring._allow_publishing` adds one for this stack's rules only)."""

    def __init__(self, topic: sns.ITopic, message: events.RuleTargetInput) -> None:
        self._topic = topic
        self._message = message

    def bind(self, rule: events_refs.IRuleRef, id: str | None = None) -> events.RuleTargetConfig:
        return events.RuleTargetConfig(arn=self._topic.topic_arn, input=self._message)
