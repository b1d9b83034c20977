"""The environment's golden-signals dashboard (latency, traffic, errors, saturation), built by
`l3_constructs.observability.PlatformMonitoring` in its own scope:

1. the status of every alarm;
2. the edge: CloudFront and WAF (widgets read us-east-1, where those metrics are) and the
   canary;
3. the load balancer as a whole (every web service);
4. one row per service: ECS CPU / memory and its error-log count, for a web service its
   targets' latency, requests, 5xx and health, for a worker its queue's backlog, oldest
   message age, dead-letter queue and running tasks;
5. one row per job: its runs (Step Functions executions succeeded / failed / timed out),
   their duration and its schedule's dead-letter queue;
6. the database (RDS).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from aws_cdk import Duration
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_synthetics as synthetics
from constructs import Construct

from l3_constructs.alarms import (
    DatabaseSignals,
    JobSignals,
    LoadBalancerSignals,
    ServiceSignals,
    connections_threshold,
    five_minutes,
    one_minute,
)
from l3_constructs.limits import CLOUDFRONT_REGION
from l3_constructs.monitoring_props import MonitoringProps

#: The dashboard is 24 units wide; a graph is 6 (four to a row), a header 1 high.
_WIDTH = 24
_GRAPH_WIDTH = 6
_GRAPH_HEIGHT = 6
#: Alarm tiles the status widget fits on one line of its height.
_ALARMS_PER_LINE = 6


def platform_dashboard(
    scope: Construct,
    *,
    props: MonitoringProps,
    alarms: Sequence[cloudwatch.IAlarm],
    load_balancer: LoadBalancerSignals,
    services: Sequence[ServiceSignals],
    jobs: Sequence[JobSignals] = (),
    database: DatabaseSignals,
    max_connections: int,
    canary: synthetics.Canary | None,
    distribution_id: str | None,
    web_acl_metric_name: str | None,
) -> cloudwatch.Dashboard:
    """The dashboard `Dashboard` in `scope`."""
    dashboard = cloudwatch.Dashboard(
        scope,
        "Dashboard",
        dashboard_name=props.dashboard_name,
        default_interval=Duration.hours(3),
    )
    dashboard.add_widgets(
        cloudwatch.AlarmStatusWidget(
            title="Alarms",
            alarms=list(alarms),
            width=_WIDTH,
            height=2 + -(-len(alarms) // _ALARMS_PER_LINE),
        )
    )
    if distribution_id is not None or canary is not None:
        dashboard.add_widgets(*_edge_row(canary, distribution_id, web_acl_metric_name))
    dashboard.add_widgets(*_load_balancer_row(props, load_balancer))
    for service in services:
        dashboard.add_widgets(*service_row(props, service))
    for job in jobs:
        dashboard.add_widgets(*job_row(job))
    dashboard.add_widgets(*_database_row(props, database, max_connections))
    return dashboard


def service_row(props: MonitoringProps, s: ServiceSignals) -> list[cloudwatch.IWidget]:
    """A header and four graphs (web), six (worker, each two thirds as wide) or two
    (backend, each twice as wide)."""
    if s.queue is not None:
        q, width = s.queue, _WIDTH // 6
        return [
            _header(f"Service {s.name} (worker: its SQS queue, ECS)"),
            _graph("Backlog: visible messages", [q.visible], width=width),
            _graph("Running tasks", [s.running_tasks], width=width),
            _graph(
                "Latency: oldest message age (s)",
                [q.oldest_message_age],
                threshold=q.oldest_message_alarm_seconds,
                width=width,
            ),
            _graph("Dead-letter queue: messages", [q.dead_letters], threshold=0, width=width),
            _graph(
                "Errors: error log events per 5 minutes",
                [s.error_logs],
                threshold=props.error_logs_per_5_minutes,
                width=width,
            ),
            _graph("Saturation: ECS CPU / memory %", [s.cpu, s.memory], left_max=100, width=width),
        ]
    if s.targets is None:
        return [
            _header(f"Service {s.name} (backend: ECS, Service Connect only)"),
            _graph(
                "Errors: error log events per 5 minutes",
                [s.error_logs],
                threshold=props.error_logs_per_5_minutes,
                width=2 * _GRAPH_WIDTH,
            ),
            _graph(
                "Saturation: ECS CPU / memory %",
                [s.cpu, s.memory],
                left_max=100,
                width=2 * _GRAPH_WIDTH,
            ),
        ]
    t = s.targets
    return [
        _header(f"Service {s.name} (web: load balancer targets and ECS)"),
        _graph(
            "Latency: target response time (s)",
            [t.response_time[stat] for stat in t.response_time],
            threshold=props.p95_response_time_seconds,
        ),
        _graph("Traffic: requests per 5 minutes", [t.requests]),
        _graph(
            "Errors per 5 minutes: target 5xx, error logs",
            [t.http_5xx, s.error_logs],
            right=[t.http_4xx],
            threshold=props.alb_5xx_per_5_minutes,
        ),
        _graph(
            "Saturation: ECS CPU / memory %, targets",
            [s.cpu, s.memory],
            right=[t.unhealthy, t.healthy],
            left_max=100,
        ),
    ]


def job_row(j: JobSignals) -> list[cloudwatch.IWidget]:
    """A header and three graphs: runs, run time and the schedule's dead-letter queue."""
    width = _WIDTH // 3
    return [
        _header(f"Job {j.name} (scheduled: EventBridge Scheduler, Step Functions, ECS task)"),
        _graph(
            "Runs per 5 minutes: succeeded / failed / timed out",
            [j.succeeded, j.failed, j.timed_out],
            width=width,
        ),
        _graph("Run time (ms)", [j.duration], width=width),
        _graph(
            "Schedule dead-letter queue: runs that never started",
            [j.dead_letters],
            threshold=0,
            width=width,
        ),
    ]


def _load_balancer_row(props: MonitoringProps, lb: LoadBalancerSignals) -> list[cloudwatch.IWidget]:
    width = _WIDTH // 3
    return [
        _header("Load balancer (every web service)"),
        _graph("Latency: target response time (s)", lb.response_time, width=width),
        _graph("Traffic: requests per 5 minutes", [lb.requests], width=width),
        _graph(
            "Errors per 5 minutes",
            [lb.http_5xx],
            right=[lb.target_4xx],
            threshold=props.alb_5xx_per_5_minutes,
            width=width,
        ),
    ]


def _database_row(
    props: MonitoringProps, db: DatabaseSignals, max_connections: int
) -> list[cloudwatch.IWidget]:
    metric = db.metric
    saturation: list[cloudwatch.IMetric] = [db.cpu]
    if db.capacity is not None:
        saturation.append(db.capacity)
    right: list[cloudwatch.IMetric] = [] if db.free_storage is None else [db.free_storage]
    right.append(metric("FreeableMemory", statistic="Average", label="Freeable memory"))
    title = "Saturation: CPU %, free storage / memory (bytes)"
    if db.database.aurora:
        title = "Saturation: CPU %, capacity %, freeable memory (bytes)"
    return [
        _header("Database: Aurora (writer)" if db.database.aurora else "Database: RDS"),
        _graph(
            "Latency: read / write (s)",
            [
                metric("ReadLatency", label="Read", period=one_minute()),
                metric("WriteLatency", label="Write", period=one_minute()),
            ],
        ),
        _graph(
            "Traffic: IOPS",
            [
                metric("ReadIOPS", label="Read", period=one_minute()),
                metric("WriteIOPS", label="Write", period=one_minute()),
            ],
        ),
        _graph(
            f"Connections (max_connections {max_connections})",
            [db.connections],
            threshold=connections_threshold(props, max_connections),
        ),
        _graph(title, saturation, right=right, left_max=100),
    ]


def _edge_row(
    canary: synthetics.Canary | None,
    distribution_id: str | None,
    web_acl_metric_name: str | None,
) -> list[cloudwatch.IWidget]:
    """CloudFront and WAF publish in us-east-1 only: these widgets read from there."""

    def edge(namespace: str, metric: str, dimensions: Mapping[str, str], **kw: Any) -> Any:
        return cloudwatch.Metric(
            namespace=namespace,
            metric_name=metric,
            dimensions_map=dimensions,
            region=CLOUDFRONT_REGION,
            period=five_minutes(),
            **kw,
        )

    latency: list[cloudwatch.IMetric] = (
        [canary.metric_duration(period=five_minutes(), label="Canary health check")]
        if canary is not None
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


def _header(text: str) -> cloudwatch.TextWidget:
    return cloudwatch.TextWidget(markdown=f"### {text}", width=_WIDTH, height=1)


def _graph(
    title: str,
    left: Sequence[cloudwatch.IMetric],
    *,
    right: Sequence[cloudwatch.IMetric] = (),
    threshold: float | None = None,
    left_max: float | None = None,
    width: int = _GRAPH_WIDTH,
) -> cloudwatch.GraphWidget:
    return cloudwatch.GraphWidget(
        title=title,
        left=list(left),
        right=list(right) or None,
        left_annotations=[cloudwatch.HorizontalAnnotation(value=threshold, label="Alarm")]
        if threshold is not None
        else None,
        left_y_axis=cloudwatch.YAxisProps(min=0, max=left_max),
        width=width,
        height=_GRAPH_HEIGHT,
    )
