"""The regional alarms of `l3_constructs.observability.PlatformMonitoring`, and the metrics
they share with its dashboard (`l3_constructs.dashboard`).

- Environment-wide: the load balancer's 5xx (its targets' and its own 502/503/504, every
  target group), the database writer's CPU and connections (a share of max_connections),
  the instance kind's free storage, the lag of each read replica (or of the Aurora readers),
  a Serverless v2 writer's capacity in use and the proxy's availability.
- Per service (`MonitoredService`): ECS CPU and memory, and application error lines (a metric
  filter on the service's log group); for a web service also its targets' 5xx, their p95
  response time and unhealthy targets, over every target group it can serve from (both
  under blue/green); for a worker also its dead-letter queue (not empty) and the age of its
  queue's oldest message.
- Per job (`MonitoredJob`): its schedule's dead-letter queue (not empty: invocations that
  never started a run). A job's failed runs reach the topic through EventBridge rules
  (`PlatformMonitoring`), not alarms.

Each alarm notifies one action (the alarm topic) when it fires and when it recovers. Counts
treat missing data as not breaching; utilisations as missing, except a worker's (see
`service_alarms`). Callers choose the scope: an environment-wide alarm is `<Name>Alarm` in
it, a service's (job's) alarms and metric filter go in a scope named after it, so adding a
service never renames another's.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import Any

from aws_cdk import Duration
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_elasticloadbalancingv2 as elbv2
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from l3_constructs.monitoring_props import (
    MonitoredDatabase,
    MonitoredJob,
    MonitoredQueue,
    MonitoredService,
    MonitoringProps,
)

GT = cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD
LT = cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD
#: Target response time percentiles graphed; the alarm watches p95.
LATENCY_PERCENTILES = ("p50", "p95", "p99")


@functools.cache
def five_minutes() -> Duration:
    """Five minutes, the period of most alarms and graphs (made on first use, not at
    import: importing the constructs calls nothing in jsii, `synthesis/template_checks`)."""
    return Duration.minutes(5)


@functools.cache
def one_minute() -> Duration:
    """One minute, the period of utilisation and health metrics (made on first use)."""
    return Duration.minutes(1)


_MISSING = cloudwatch.TreatMissingData.MISSING
_NOT_BREACHING = cloudwatch.TreatMissingData.NOT_BREACHING


class AlarmFactory:
    """Makes alarms that notify `action` on ALARM and OK."""

    def __init__(self, action: cloudwatch.IAlarmAction) -> None:
        self._action = action

    def alarm(
        self,
        scope: Construct,
        name: str,
        metric: cloudwatch.IMetric,
        threshold: float,
        description: str,
        *,
        comparison: cloudwatch.ComparisonOperator = GT,
        evaluation_periods: int = 1,
        missing: cloudwatch.TreatMissingData = _NOT_BREACHING,
    ) -> cloudwatch.Alarm:
        """The alarm `<name>Alarm` in `scope`."""
        alarm = cloudwatch.Alarm(
            scope,
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
        return alarm


# --- Signals (metrics shared by alarms and dashboard) ------------------------------------------


class LoadBalancerSignals:
    """The load balancer as a whole (every web service behind it)."""

    def __init__(self, load_balancer: elbv2.ApplicationLoadBalancer) -> None:
        self.load_balancer = load_balancer
        lb = load_balancer.metrics
        # What reaches CloudFront from the origin: the targets' 5xx and the load balancer's own
        # (502/503/504 when targets fail, time out or none is healthy), both load-balancer wide
        # (every target group of every service, so blue/green's two are covered).
        self.http_5xx = sum_metrics(
            [
                lb.http_code_target(
                    elbv2.HttpCodeTarget.TARGET_5XX_COUNT, period=five_minutes(), statistic="Sum"
                ),
                lb.http_code_elb(
                    elbv2.HttpCodeElb.ELB_5XX_COUNT, period=five_minutes(), statistic="Sum"
                ),
            ],
            "5xx (targets + load balancer)",
            "http5xx",
        )
        self.target_4xx = lb.http_code_target(
            elbv2.HttpCodeTarget.TARGET_4XX_COUNT, period=five_minutes(), label="Target 4xx"
        )
        self.requests = lb.request_count(period=five_minutes(), label="Requests")
        self.response_time = [
            lb.target_response_time(statistic=stat, period=five_minutes(), label=stat)
            for stat in LATENCY_PERCENTILES
        ]


class TargetSignals:
    """A web service's target groups (summed, or their maximum for percentiles)."""

    def __init__(
        self,
        load_balancer: elbv2.ApplicationLoadBalancer,
        target_groups: Sequence[elbv2.ApplicationTargetGroup],
    ) -> None:
        # Built here, not with the groups' `metrics`: those derive the LoadBalancer dimension
        # by splitting a listener ARN, which Fn::Split cannot do with a cross-stack reference
        # (Fn::GetStackOutput; cfn-lint E1022).
        def each(metric_name: str, statistic: str, period: Duration) -> list[cloudwatch.Metric]:
            return [
                cloudwatch.Metric(
                    namespace="AWS/ApplicationELB",
                    metric_name=metric_name,
                    dimensions_map={
                        "LoadBalancer": load_balancer.load_balancer_full_name,
                        "TargetGroup": group.target_group_full_name,
                    },
                    statistic=statistic,
                    period=period,
                )
                for group in target_groups
            ]

        self.http_5xx = sum_metrics(
            each("HTTPCode_Target_5XX_Count", "Sum", five_minutes()), "Target 5xx", "target5xx"
        )
        self.http_4xx = sum_metrics(
            each("HTTPCode_Target_4XX_Count", "Sum", five_minutes()), "Target 4xx", "target4xx"
        )
        self.requests = sum_metrics(each("RequestCount", "Sum", five_minutes()), "Requests", "req")
        # Percentiles cannot be summed: the slower group is the service's latency (during a
        # canary or linear shift both groups serve; otherwise one does).
        self.response_time = {
            stat: max_metrics(each("TargetResponseTime", stat, five_minutes()), stat, f"{stat}tg")
            for stat in LATENCY_PERCENTILES
        }
        self.unhealthy = sum_metrics(
            each("UnHealthyHostCount", "Maximum", one_minute()), "Unhealthy targets", "unhealthy"
        )
        self.healthy = sum_metrics(
            each("HealthyHostCount", "Maximum", one_minute()), "Healthy targets", "healthy"
        )


class QueueSignals:
    """A worker's queue: its backlog, the age of its oldest message, its dead-letter queue."""

    def __init__(self, queue: MonitoredQueue) -> None:
        self.oldest_message_alarm_seconds = queue.oldest_message_alarm_seconds
        self.visible = queue.queue.metric_approximate_number_of_messages_visible(
            period=one_minute(), statistic="Maximum", label="Visible messages"
        )
        self.oldest_message_age = queue.queue.metric_approximate_age_of_oldest_message(
            period=one_minute(), statistic="Maximum", label="Oldest message age"
        )
        self.dead_letters = dead_letter_messages(queue.dead_letter_queue)


class ServiceSignals:
    """One service: ECS utilisation and running tasks, its error-log count, and (web) its
    targets or (worker) its queue."""

    def __init__(
        self,
        service: MonitoredService,
        load_balancer: elbv2.ApplicationLoadBalancer,
        error_logs: cloudwatch.Metric,
    ) -> None:
        self.name = service.name
        self.kind = service.kind
        self.cpu = service.service.metric_cpu_utilization(period=one_minute(), label="CPU")
        self.memory = service.service.metric_memory_utilization(period=one_minute(), label="Memory")
        # Container Insights (the cluster's): the tasks running, 0 included (ECS's own
        # utilisation metrics stop when none runs).
        self.running_tasks = cloudwatch.Metric(
            namespace="ECS/ContainerInsights",
            metric_name="RunningTaskCount",
            dimensions_map={
                "ClusterName": service.service.cluster.cluster_name,
                "ServiceName": service.service.service_name,
            },
            statistic="Maximum",
            period=one_minute(),
            label="Running tasks",
        )
        self.error_logs = error_logs.with_(label="Error log events")
        self.targets = TargetSignals(load_balancer, service.target_groups) if service.web else None
        self.queue = QueueSignals(service.queue) if service.queue is not None else None


class JobSignals:
    """One scheduled job: its state machine's executions, its schedule's dead-letter queue."""

    def __init__(self, job: MonitoredJob) -> None:
        self.name = job.name
        machine = job.state_machine
        self.succeeded = machine.metric_succeeded(
            period=five_minutes(), statistic="Sum", label="Succeeded"
        )
        self.failed = machine.metric_failed(period=five_minutes(), statistic="Sum", label="Failed")
        self.timed_out = machine.metric_timed_out(
            period=five_minutes(), statistic="Sum", label="Timed out"
        )
        self.duration = machine.metric_time(
            period=five_minutes(), statistic="Maximum", label="Run time (ms)"
        )
        self.dead_letters = dead_letter_messages(job.dead_letter_queue)


class DatabaseSignals:
    """The database: the instance (and its read replicas), or an Aurora cluster's writer (and
    readers, and Serverless v2 capacity), and the proxy in front of it."""

    def __init__(self, database: MonitoredDatabase) -> None:
        self.database = database
        #: A metric of the writer (the instance, or the cluster's WRITER role), by name.
        self.metric = _writer_metric(database)
        metric = self.metric
        self.cpu = metric("CPUUtilization", statistic="Average", period=one_minute(), label="CPU")
        self.connections = metric(
            "DatabaseConnections", period=one_minute(), statistic="Maximum", label="Connections"
        )
        # Aurora storage grows by itself: no free storage to watch.
        self.free_storage = (
            None
            if database.aurora
            else metric(
                "FreeStorageSpace", period=five_minutes(), statistic="Minimum", label="Free storage"
            )
        )
        # Serverless v2: the share of max_acu in use (a paused instance reports nothing).
        self.capacity = (
            metric(
                "ACUUtilization",
                statistic="Average",
                period=five_minutes(),
                label="Capacity (% of max ACUs)",
            )
            if database.max_acu is not None
            else None
        )
        #: (alarm name, lag in seconds) of each replica, or of the Aurora readers together.
        self.replica_lags: list[tuple[str, cloudwatch.IMetric]] = [
            (
                f"RdsReplica{i}Lag",
                replica.metric(
                    "ReplicaLag", statistic="Maximum", period=one_minute(), label=f"Replica {i} lag"
                ),
            )
            for i, replica in enumerate(database.replicas, start=1)
        ]
        if database.aurora and database.readers:
            milliseconds = cloudwatch.Metric(
                namespace=RDS_NAMESPACE,
                metric_name="AuroraReplicaLagMaximum",
                dimensions_map={"DBClusterIdentifier": str(database.cluster_identifier)},
                statistic="Maximum",
                period=one_minute(),
            )
            self.replica_lags.append(
                (
                    "RdsReplicaLag",
                    cloudwatch.MathExpression(
                        expression="lag / 1000",
                        using_metrics={"lag": milliseconds},
                        label="Reader lag (s)",
                        period=one_minute(),
                    ),
                )
            )
        # The proxy's target group: the share of time it could reach the writer.
        self.proxy_availability = (
            cloudwatch.Metric(
                namespace=RDS_NAMESPACE,
                metric_name="AvailabilityPercentage",
                dimensions_map={
                    "ProxyName": database.proxy_name,
                    "TargetGroup": "default",
                    "TargetRole": "READ_WRITE",
                },
                statistic="Minimum",
                period=five_minutes(),
                label="Proxy availability",
            )
            if database.proxy_name
            else None
        )


RDS_NAMESPACE = "AWS/RDS"


def _writer_metric(database: MonitoredDatabase) -> Callable[..., cloudwatch.Metric]:
    """`metric(name, **options)` of the instance, or of an Aurora cluster's writer (its
    metrics by `DBClusterIdentifier` and `Role` WRITER)."""
    if database.instance is not None:
        return database.instance.metric
    dimensions = {"DBClusterIdentifier": str(database.cluster_identifier), "Role": "WRITER"}

    def metric(name: str, **options: Any) -> cloudwatch.Metric:
        return cloudwatch.Metric(
            namespace=RDS_NAMESPACE, metric_name=name, dimensions_map=dimensions, **options
        )

    return metric


def dead_letter_messages(queue: sqs.IQueue) -> cloudwatch.Metric:
    """Messages waiting in a dead-letter queue (the most seen in 5 minutes)."""
    return queue.metric_approximate_number_of_messages_visible(
        period=five_minutes(), statistic="Maximum", label="Dead-letter messages"
    )


# --- Alarms -------------------------------------------------------------------------------------


def error_log_metric_filter(
    scope: Construct, service: MonitoredService, *, pattern: str, namespace: str
) -> logs.MetricFilter:
    """`ErrorLogMetricFilter` in `scope`: lines of `service`'s log group matching `pattern`,
    counted as `<namespace>` / `ErrorLogEvents-<service>` (a literal pattern yields no
    dimensions, so the metric's name tells the services apart)."""
    return logs.MetricFilter(
        scope,
        "ErrorLogMetricFilter",
        log_group=service.log_group,
        filter_pattern=logs.FilterPattern.literal(pattern),
        metric_namespace=namespace,
        metric_name=f"ErrorLogEvents-{service.name}",
        metric_value="1",
        default_value=0,
        unit=cloudwatch.Unit.COUNT,
    )


def load_balancer_alarms(
    factory: AlarmFactory, scope: Construct, props: MonitoringProps, lb: LoadBalancerSignals
) -> dict[str, cloudwatch.Alarm]:
    """`Alb5xx`: the load balancer's 5xx, every web service's and its own."""
    limit = props.alb_5xx_per_5_minutes
    return {
        "Alb5xx": factory.alarm(
            scope,
            "Alb5xx",
            lb.http_5xx,
            limit,
            f"More than {limit} 5xx responses from the load balancer (every web service's "
            "targets' and its own 502/503/504) in 5 minutes",
        )
    }


def service_alarms(
    factory: AlarmFactory, scope: Construct, props: MonitoringProps, s: ServiceSignals
) -> dict[str, cloudwatch.Alarm]:
    """`EcsCpu`, `EcsMemory`, `ErrorLogs`; for a web service also `Target5xx`,
    `ResponseTimeP95` and `UnhealthyTargets`, for a worker `DeadLetterMessages` and
    `OldestMessageAge`. Every description names the service.

    A worker's task count follows its queue, down to 0 when it is idle, and with no task
    there is no CPU or memory data. Its utilisation alarms treat missing data as not
    breaching: as "missing" they would go to INSUFFICIENT_DATA whenever the worker idles and
    send an OK each time it starts again. A worker that should run but does not shows in
    its oldest-message alarm instead."""
    who = f"Service {s.name}:"
    cpu, memory = props.ecs_cpu_percent, props.ecs_memory_percent
    errors = props.error_logs_per_5_minutes
    utilisation_missing = _MISSING if s.queue is None else _NOT_BREACHING
    alarms = {
        "EcsCpu": factory.alarm(
            scope,
            "EcsCpu",
            s.cpu,
            cpu,
            f"{who} ECS CPU above {cpu:g} % for 3 minutes",
            evaluation_periods=3,
            missing=utilisation_missing,
        ),
        "EcsMemory": factory.alarm(
            scope,
            "EcsMemory",
            s.memory,
            memory,
            f"{who} ECS memory above {memory:g} % for 3 minutes",
            evaluation_periods=3,
            missing=utilisation_missing,
        ),
        "ErrorLogs": factory.alarm(
            scope,
            "ErrorLogs",
            s.error_logs,
            errors,
            f"{who} more than {errors} application error log events "
            f"({props.error_log_pattern}) in 5 minutes",
        ),
    }
    if s.queue is not None:
        alarms.update(queue_alarms(factory, scope, s.name, s.queue))
    if s.targets is None:
        return alarms
    http_5xx, p95 = props.alb_5xx_per_5_minutes, props.p95_response_time_seconds
    unhealthy = props.unhealthy_targets
    alarms["Target5xx"] = factory.alarm(
        scope,
        "Target5xx",
        s.targets.http_5xx,
        http_5xx,
        f"{who} more than {http_5xx} 5xx responses from its targets in 5 minutes",
    )
    alarms["ResponseTimeP95"] = factory.alarm(
        scope,
        "ResponseTimeP95",
        s.targets.response_time["p95"],
        p95,
        f"{who} target response time p95 above {p95:g} s over 5 minutes",
    )
    alarms["UnhealthyTargets"] = factory.alarm(
        scope,
        "UnhealthyTargets",
        s.targets.unhealthy,
        unhealthy,
        f"{who} more than {unhealthy} unhealthy targets for 3 minutes",
        evaluation_periods=3,
    )
    return alarms


def queue_alarms(
    factory: AlarmFactory, scope: Construct, name: str, q: QueueSignals
) -> dict[str, cloudwatch.Alarm]:
    """A worker's `DeadLetterMessages` (any message in its dead-letter queue) and
    `OldestMessageAge` (above `oldest_message_alarm_seconds`). An idle queue publishes no
    data after a while: missing data is not breaching."""
    age = q.oldest_message_alarm_seconds
    return {
        "DeadLetterMessages": factory.alarm(
            scope,
            "DeadLetterMessages",
            q.dead_letters,
            0,
            f"Service {name}: messages in its dead-letter queue (received the maximum number "
            "of times without being processed)",
        ),
        "OldestMessageAge": factory.alarm(
            scope,
            "OldestMessageAge",
            q.oldest_message_age,
            age,
            f"Service {name}: the oldest message in its queue has waited more than {age} s",
        ),
    }


def job_alarms(
    factory: AlarmFactory, scope: Construct, j: JobSignals
) -> dict[str, cloudwatch.Alarm]:
    """`SchedulerDeadLetters`: an invocation of the job's schedule that never started a run
    (EventBridge Scheduler gave up after its retries)."""
    return {
        "SchedulerDeadLetters": factory.alarm(
            scope,
            "SchedulerDeadLetters",
            j.dead_letters,
            0,
            f"Job {j.name}: scheduled runs that never started (EventBridge Scheduler gave up "
            "after its retries) are in the schedule's dead-letter queue",
        )
    }


def database_alarms(
    factory: AlarmFactory,
    scope: Construct,
    props: MonitoringProps,
    db: DatabaseSignals,
    max_connections: int,
) -> dict[str, cloudwatch.Alarm]:
    """`RdsCpu`, `RdsConnections` (a share of `max_connections`) of the writer; the instance
    kind's `RdsFreeStorage`; each replica's `RdsReplica<n>Lag` or the Aurora readers'
    `RdsReplicaLag`; Serverless v2 `RdsCapacity`; the proxy's `RdsProxyAvailability`."""
    connections = connections_threshold(props, max_connections)
    alarms = {
        "RdsCpu": factory.alarm(
            scope,
            "RdsCpu",
            db.cpu,
            props.rds_cpu_percent,
            f"Database CPU above {props.rds_cpu_percent:g} % for 3 minutes",
            evaluation_periods=3,
            missing=_MISSING,
        ),
        "RdsConnections": factory.alarm(
            scope,
            "RdsConnections",
            db.connections,
            connections,
            f"More than {connections} database connections ({props.rds_connections_percent:g} "
            f"% of max_connections {max_connections}) for 3 minutes",
            evaluation_periods=3,
            missing=_MISSING,
        ),
    }
    if db.free_storage is not None:
        alarms["RdsFreeStorage"] = factory.alarm(
            scope,
            "RdsFreeStorage",
            db.free_storage,
            props.rds_free_storage_gib * 2**30,
            f"Database free storage below {props.rds_free_storage_gib:g} GiB",
            comparison=LT,
            missing=_MISSING,
        )
    lag = props.rds_replica_lag_seconds
    for name, metric in db.replica_lags:
        alarms[name] = factory.alarm(
            scope,
            name,
            metric,
            lag,
            f"Database {'readers' if name == 'RdsReplicaLag' else name[3:-3].lower()} more "
            f"than {lag:g} s behind the writer for 3 minutes",
            evaluation_periods=3,
            missing=_MISSING,
        )
    if db.capacity is not None:
        alarms["RdsCapacity"] = factory.alarm(
            scope,
            "RdsCapacity",
            db.capacity,
            props.rds_capacity_percent,
            f"Database writer above {props.rds_capacity_percent:g} % of its maximum ACUs for "
            "15 minutes: raise database.serverless.max_acu",
            evaluation_periods=3,
            missing=_MISSING,
        )
    if db.proxy_availability is not None:
        alarms["RdsProxyAvailability"] = factory.alarm(
            scope,
            "RdsProxyAvailability",
            db.proxy_availability,
            100,
            "The database proxy could not reach the writer for part of 10 minutes",
            comparison=LT,
            evaluation_periods=2,
            missing=_MISSING,
        )
    return alarms


def connections_threshold(props: MonitoringProps, max_connections: int) -> int:
    """Connections above which `RdsConnections` fires."""
    return int(max_connections * props.rds_connections_percent / 100)


# --- Metric math ----------------------------------------------------------------------------


def sum_metrics(
    metrics: Sequence[cloudwatch.Metric], label: str, prefix: str
) -> cloudwatch.IMetric:
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


def max_metrics(
    metrics: Sequence[cloudwatch.Metric], label: str, prefix: str
) -> cloudwatch.IMetric:
    """One metric as it is; several as their maximum at each time (a percentile cannot be
    summed). The metrics' ids start with `prefix`."""
    if len(metrics) == 1:
        return metrics[0].with_(label=label)
    ids = [f"{prefix}{i}" for i in range(len(metrics))]
    return cloudwatch.MathExpression(
        expression=f"MAX([{', '.join(ids)}])",
        using_metrics=dict(zip(ids, metrics, strict=True)),
        label=label,
        period=metrics[0].period,
    )
