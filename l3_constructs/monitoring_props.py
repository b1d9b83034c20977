"""What `l3_constructs.observability.PlatformMonitoring` is told: `MonitoringProps` (the
recipients, thresholds, canary and dashboard choices), one `MonitoredService` per ECS service
it watches (a worker's with its `MonitoredQueue`), one `MonitoredJob` per scheduled job and the
`MonitoredDatabase`.
Shared by the alarm and dashboard modules, so none of them imports the construct.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from aws_cdk import aws_ecs as ecs
from aws_cdk import aws_elasticloadbalancingv2 as elbv2
from aws_cdk import aws_logs as logs
from aws_cdk import aws_rds as rds
from aws_cdk import aws_sqs as sqs
from aws_cdk import aws_stepfunctions as sfn

from l3_constructs.limits import Engine, canary_interval

#: A service name as it appears in construct ids, metric names and descriptions.
_SERVICE_NAME_RE = re.compile(r"^[a-z](?:[a-z0-9-]{0,30}[a-z0-9])?$")


@dataclass(frozen=True)
class MonitoringProps:
    #: E-mail addresses subscribed to the alarm topic (each confirms once).
    alarm_emails: tuple[str, ...] = ()
    #: The golden-signals dashboard (a flat monthly charge per dashboard); False: none.
    dashboard: bool = True
    #: AWS Chatbot: the Slack workspace (authorized once in the Chatbot console) and channel
    #: that receive the topic's notifications. Both or neither.
    slack_workspace_id: str | None = None
    slack_channel_id: str | None = None
    #: Each service's average CPU / memory utilization (%) over 3 consecutive minutes.
    ecs_cpu_percent: float = 80
    ecs_memory_percent: float = 80
    #: 5xx responses per 5 minutes: of the whole load balancer (targets' and its own), and
    #: of each web service's targets.
    alb_5xx_per_5_minutes: int = 10
    #: Each web service's target response time, p95 over 5 minutes (seconds).
    p95_response_time_seconds: float = 1.0
    #: Each web service's unhealthy targets (maximum) for 3 consecutive minutes.
    unhealthy_targets: int = 0
    #: RDS CPU (%) over 3 consecutive minutes.
    rds_cpu_percent: float = 80
    #: RDS connections above this share (%) of max_connections for 3 consecutive minutes.
    rds_connections_percent: float = 80
    #: max_connections; None: the engine's default for the instance class.
    rds_max_connections: int | None = None
    #: RDS free storage below this (GiB, as RDS allocates storage; the instance kind).
    rds_free_storage_gib: float = 5
    #: Each read replica's (or the Aurora readers' highest) lag above this (seconds) for 3
    #: consecutive minutes.
    rds_replica_lag_seconds: float = 60
    #: Aurora Serverless v2: the writer's capacity in use (% of its max ACUs) for 15 minutes.
    rds_capacity_percent: float = 90
    #: CloudWatch Logs filter pattern of application error lines, applied to each service's
    #: log group.
    error_log_pattern: str = "?ERROR ?Error ?FATAL"
    #: Matching log events of one service per 5 minutes.
    error_logs_per_5_minutes: int = 10
    #: Namespace of the error-log metrics (`ErrorLogEvents-<service>`); None:
    #: "<stack name>/<construct id>".
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
class MonitoredDatabase:
    """The database: an instance (and its read replicas), or an Aurora cluster's writer (and
    readers), and the proxy in front of it."""

    engine: Engine
    #: The writer's instance class without `db.`, or `serverless` (Aurora Serverless v2).
    instance_class: str
    #: The instance kind's instance; None for a cluster.
    instance: rds.IDatabaseInstance | None = None
    replicas: tuple[rds.IDatabaseInstance, ...] = ()
    #: An Aurora cluster's identifier (its metrics' `DBClusterIdentifier`); None for an
    #: instance.
    cluster_identifier: str | None = None
    readers: int = 0
    #: Aurora Serverless v2: the most ACUs an instance scales to (its max_connections).
    max_acu: float | None = None
    #: The RDS Proxy's name (its metrics' `ProxyName`); None without one.
    proxy_name: str | None = None

    @property
    def aurora(self) -> bool:
        return self.cluster_identifier is not None


@dataclass(frozen=True)
class MonitoredQueue:
    """The SQS queue a worker drains, and its dead-letter queue."""

    queue: sqs.IQueue
    dead_letter_queue: sqs.IQueue
    #: Alarm when the queue's oldest message is older than this.
    oldest_message_alarm_seconds: int = 900


@dataclass(frozen=True)
class MonitoredService:
    """One ECS service to watch."""

    #: Its name: part of its alarms' and metric filter's construct ids, its error-log metric's
    #: name and every description, so adding a service never renames another's.
    name: str
    service: ecs.BaseService
    #: Its container log group: the error-log metric filter reads it.
    log_group: logs.ILogGroup
    #: Every target group its production traffic can be on (both for blue/green); empty for
    #: a backend (no load balancer: no target 5xx, latency or unhealthy-target alarms).
    target_groups: tuple[elbv2.ApplicationTargetGroup, ...] = ()
    #: A worker's queue (its dead-letter and oldest-message alarms, its dashboard row's
    #: backlog); None for any other service.
    queue: MonitoredQueue | None = None

    @property
    def web(self) -> bool:
        """Behind the load balancer (it has target groups)."""
        return bool(self.target_groups)

    @property
    def kind(self) -> str:
        """`web`, `worker` (it has a queue) or `backend`."""
        return "web" if self.web else "worker" if self.queue is not None else "backend"


@dataclass(frozen=True)
class MonitoredJob:
    """One scheduled job: EventBridge Scheduler starts `state_machine`, which runs a task of
    the task definition family `family` and waits for it to stop."""

    #: Its name: part of its alarm's and rules' construct ids, every description and message.
    name: str
    #: The task definition family: its tasks' ECS group is `family:<family>`.
    family: str
    state_machine: sfn.IStateMachine
    #: The schedule's dead-letter queue: invocations that never started a run.
    dead_letter_queue: sqs.IQueue


def validate(
    props: MonitoringProps,
    services: Sequence[MonitoredService],
    jobs: Sequence[MonitoredJob] = (),
) -> None:
    if not props.alarm_emails and props.slack_channel_id is None:
        raise ValueError("alarms need a recipient: alarm_emails, or a Slack channel")
    if (props.slack_workspace_id is None) != (props.slack_channel_id is None):
        raise ValueError("slack_workspace_id and slack_channel_id go together")
    _validate_names(services, jobs)
    for service in services:
        if service.queue is not None and service.web:
            raise ValueError(f"service {service.name}: a worker (queue) has no target groups")
        if service.queue is not None and service.queue.oldest_message_alarm_seconds < 1:
            raise ValueError(f"service {service.name}: oldest_message_alarm_seconds must be >= 1")
    if props.canary_enabled:
        if not props.canary_url or not props.canary_url.startswith("https://"):
            raise ValueError("the canary needs an https:// canary_url")
        canary_interval(props.canary_interval_minutes)
    for name in (
        "ecs_cpu_percent",
        "ecs_memory_percent",
        "rds_cpu_percent",
        "rds_capacity_percent",
    ):
        if not 0 < getattr(props, name) <= 100:
            raise ValueError(f"{name} must be a percentage above 0")
    if not 0 < props.rds_connections_percent <= 100:
        raise ValueError("rds_connections_percent must be a percentage above 0")
    if props.rds_max_connections is not None and props.rds_max_connections < 1:
        raise ValueError("rds_max_connections must be positive")


def _validate_names(services: Sequence[MonitoredService], jobs: Sequence[MonitoredJob]) -> None:
    if not services:
        raise ValueError("services needs at least one service to monitor")
    names = [s.name for s in services] + [j.name for j in jobs]
    for name in names:
        if not _SERVICE_NAME_RE.match(name):
            raise ValueError(f"service name {name!r} is not a lower-case DNS label (<= 32)")
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise ValueError(f"services and jobs are named once each: {', '.join(duplicates)} repeated")
