"""The regional alarms of `l3_constructs.observability.PlatformMonitoring`, and the metrics
they share with its dashboard (`l3_constructs.dashboard`).

- Environment-wide: the load balancer's 5xx (its targets' and its own 502/503/504, every
  target group), the database's CPU, connections (a share of max_connections) and free
  storage.
- Per service (`MonitoredService`): ECS CPU and memory, and application error lines (a metric
  filter on the service's log group); for a web service also its targets' 5xx, their p95
  response time and unhealthy targets, over every target group it can serve from (both
  under blue/green).

Each alarm notifies one action (the alarm topic) when it fires and when it recovers. Counts
treat missing data as not breaching; utilisations as missing. Callers choose the scope: an
environment-wide alarm is `<Name>Alarm` in it, a service's alarms and metric filter go in a
scope named after the service, so adding a service never renames another's.
"""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import Duration
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_elasticloadbalancingv2 as elbv2
from aws_cdk import aws_logs as logs
from aws_cdk import aws_rds as rds
from constructs import Construct

from l3_constructs.monitoring_props import MonitoredService, MonitoringProps

FIVE_MINUTES = Duration.minutes(5)
ONE_MINUTE = Duration.minutes(1)
GT = cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD
LT = cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD
#: Target response time percentiles graphed; the alarm watches p95.
LATENCY_PERCENTILES = ("p50", "p95", "p99")

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
                    elbv2.HttpCodeTarget.TARGET_5XX_COUNT, period=FIVE_MINUTES, statistic="Sum"
                ),
                lb.http_code_elb(
                    elbv2.HttpCodeElb.ELB_5XX_COUNT, period=FIVE_MINUTES, statistic="Sum"
                ),
            ],
            "5xx (targets + load balancer)",
            "http5xx",
        )
        self.target_4xx = lb.http_code_target(
            elbv2.HttpCodeTarget.TARGET_4XX_COUNT, period=FIVE_MINUTES, label="Target 4xx"
        )
        self.requests = lb.request_count(period=FIVE_MINUTES, label="Requests")
        self.response_time = [
            lb.target_response_time(statistic=stat, period=FIVE_MINUTES, label=stat)
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
            each("HTTPCode_Target_5XX_Count", "Sum", FIVE_MINUTES), "Target 5xx", "target5xx"
        )
        self.http_4xx = sum_metrics(
            each("HTTPCode_Target_4XX_Count", "Sum", FIVE_MINUTES), "Target 4xx", "target4xx"
        )
        self.requests = sum_metrics(each("RequestCount", "Sum", FIVE_MINUTES), "Requests", "req")
        # Under blue/green only one group has production traffic at a time: the slower one
        # is the service's latency.
        self.response_time = {
            stat: max_metrics(each("TargetResponseTime", stat, FIVE_MINUTES), stat, f"{stat}tg")
            for stat in LATENCY_PERCENTILES
        }
        self.unhealthy = sum_metrics(
            each("UnHealthyHostCount", "Maximum", ONE_MINUTE), "Unhealthy targets", "unhealthy"
        )
        self.healthy = sum_metrics(
            each("HealthyHostCount", "Maximum", ONE_MINUTE), "Healthy targets", "healthy"
        )


class ServiceSignals:
    """One service: ECS utilisation, its error-log count, and (web) its targets."""

    def __init__(
        self,
        service: MonitoredService,
        load_balancer: elbv2.ApplicationLoadBalancer,
        error_logs: cloudwatch.Metric,
    ) -> None:
        self.name = service.name
        self.cpu = service.service.metric_cpu_utilization(period=ONE_MINUTE, label="CPU")
        self.memory = service.service.metric_memory_utilization(period=ONE_MINUTE, label="Memory")
        self.error_logs = error_logs.with_(label="Error log events")
        self.targets = TargetSignals(load_balancer, service.target_groups) if service.web else None


class DatabaseSignals:
    """The database instance."""

    def __init__(self, database: rds.IDatabaseInstance) -> None:
        self.database = database
        self.cpu = database.metric_cpu_utilization(period=ONE_MINUTE, label="CPU")
        self.connections = database.metric_database_connections(
            period=ONE_MINUTE, statistic="Maximum", label="Connections"
        )
        self.free_storage = database.metric_free_storage_space(
            period=FIVE_MINUTES, statistic="Minimum", label="Free storage"
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
    `ResponseTimeP95` and `UnhealthyTargets`. Every description names the service."""
    who = f"Service {s.name}:"
    cpu, memory = props.ecs_cpu_percent, props.ecs_memory_percent
    errors = props.error_logs_per_5_minutes
    alarms = {
        "EcsCpu": factory.alarm(
            scope,
            "EcsCpu",
            s.cpu,
            cpu,
            f"{who} ECS CPU above {cpu:g} % for 3 minutes",
            evaluation_periods=3,
            missing=_MISSING,
        ),
        "EcsMemory": factory.alarm(
            scope,
            "EcsMemory",
            s.memory,
            memory,
            f"{who} ECS memory above {memory:g} % for 3 minutes",
            evaluation_periods=3,
            missing=_MISSING,
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


def database_alarms(
    factory: AlarmFactory,
    scope: Construct,
    props: MonitoringProps,
    db: DatabaseSignals,
    max_connections: int,
) -> dict[str, cloudwatch.Alarm]:
    """`RdsCpu`, `RdsConnections` (a share of `max_connections`), `RdsFreeStorage`."""
    connections = connections_threshold(props, max_connections)
    return {
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
        "RdsFreeStorage": factory.alarm(
            scope,
            "RdsFreeStorage",
            db.free_storage,
            props.rds_free_storage_gib * 2**30,
            f"Database free storage below {props.rds_free_storage_gib:g} GiB",
            comparison=LT,
            missing=_MISSING,
        ),
    }


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
