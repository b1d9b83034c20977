"""Monitoring: CloudWatch alarms, dashboards, custom metrics, log groups (ingestion and
storage), VPC flow logs, Synthetics canaries."""

from __future__ import annotations

from cost_estimate.assembly import Resource
from cost_estimate.context import (
    CANARY_DEFAULT_MEMORY_MB,
    CANARY_SECONDS_PER_RUN,
    LOG_COMPRESSION,
    LOG_STORAGE_MONTHS_CAP,
    TRAIL_LOG_KB_PER_EVENT,
    Context,
    UnpriceableError,
)
from cost_estimate.model import Gap, LineItem
from cost_estimate.rules_edge import vended
from cost_estimate.schedules import DAYS_PER_MONTH, runs_per_month

Priced = list[LineItem | Gap]


def alarm(res: Resource, ctx: Context) -> Priced:
    props = res.properties
    metrics = props.get("Metrics")
    if metrics:
        stats = [m["MetricStat"] for m in metrics if "MetricStat" in m]
        periods = [float(s.get("Period", 60)) for s in stats]
        count = len(stats)
    else:
        periods = [float(props.get("Period", 60))]
        count = 1
    if "ThresholdMetricId" in props:
        count *= 3  # an anomaly-detection band is billed as three metrics
    high_res = any(p < 60 for p in periods)
    price = (
        "cloudwatch.high_res_alarm_metric_month" if high_res else "cloudwatch.alarm_metric_month"
    )
    return [
        ctx.item(res, category="Monitoring", item=f"alarm ({count} metric{'s' * (count > 1)})",
                 quantity=count, price=price, kind="fixed",
                 basis="each metric the alarm evaluates"),
    ]  # fmt: skip


def composite_alarm(res: Resource, ctx: Context) -> Priced:
    return [
        ctx.item(res, category="Monitoring", item="composite alarm", quantity=1,
                 price="cloudwatch.composite_alarm_month", kind="fixed", basis="one alarm"),
    ]  # fmt: skip


def dashboard(res: Resource, ctx: Context) -> Priced:
    return [
        ctx.item(res, category="Monitoring", item="dashboard", quantity=1,
                 price="cloudwatch.dashboard_month", kind="fixed", basis="one dashboard"),
    ]  # fmt: skip


def metric_filter(res: Resource, ctx: Context) -> Priced:
    count = len(res.properties.get("MetricTransformations") or [1])
    return [
        ctx.item(res, category="Monitoring", item="custom metric from logs", quantity=count,
                 price="cloudwatch.metric_month", kind="fixed",
                 basis="one metric a transformation (no dimensions)"),
    ]  # fmt: skip


def log_group_ingest_gb(res: Resource, ctx: Context) -> tuple[float, str, bool]:
    """(GB a month, how, ingestion priced here) of what lands in a log group."""
    a = ctx.assumptions
    role = ctx.log_group_roles.get(res.key, "other")
    if role == "app":
        return ctx.share(a.app_log_gb_per_month, "app"), "app_log_gb_per_month, split", True
    if role == "trail":
        gb = a.management_events_per_month * TRAIL_LOG_KB_PER_EVENT / 1024 / 1024
        return gb, f"management_events_per_month x {TRAIL_LOG_KB_PER_EVENT} KB", True
    if role == "vended":
        return _vended_gb(res, ctx), "delivered by the resource that sends it (priced there)", False
    return ctx.share(a.other_log_gb_per_month, "other"), "other_log_gb_per_month, split", True


def _vended_gb(res: Resource, ctx: Context) -> float:
    """GB a month the vended source writing to `res` delivers (for its storage)."""
    for sender in ctx.referrers(res):
        for item in _sender_items(sender, ctx):
            if isinstance(item, LineItem):
                return item.quantity
    return 0.0


def _sender_items(sender: Resource, ctx: Context) -> Priced:
    from cost_estimate.rules_edge import log_delivery, waf_logging  # noqa: PLC0415

    if sender.type == "AWS::EC2::FlowLog":
        return flow_log(sender, ctx)
    if sender.type == "AWS::WAFv2::LoggingConfiguration":
        return waf_logging(sender, ctx)
    if sender.type == "AWS::Logs::DeliveryDestination":
        for delivery in ctx.referrers(sender, "AWS::Logs::Delivery"):
            return log_delivery(delivery, ctx)
    return []


def log_group(res: Resource, ctx: Context) -> Priced:
    props = res.properties
    if props.get("LogGroupClass", "STANDARD") != "STANDARD":
        raise UnpriceableError(f"the {props['LogGroupClass']} log class is not in the price table")
    gb, basis, ingest_here = log_group_ingest_gb(res, ctx)
    days = props.get("RetentionInDays")
    months = min(float(days) / DAYS_PER_MONTH if days else LOG_STORAGE_MONTHS_CAP,
                 LOG_STORAGE_MONTHS_CAP)  # fmt: skip
    kept = f"{days} days" if days else "never expires"
    items: Priced = []
    if ingest_here:
        items.append(
            ctx.item(res, category="Monitoring", item="log ingestion", quantity=gb,
                     price="cloudwatch.log_ingest_gb", kind="usage", basis=basis)
        )  # fmt: skip
    items.append(
        ctx.item(res, category="Monitoring", item=f"log storage (kept {kept})",
                 quantity=gb * LOG_COMPRESSION * months, price="cloudwatch.log_storage_gb_month",
                 kind="usage", basis=f"{basis}; {LOG_COMPRESSION:.0%} compressed x "
                 f"{months:.2f} months kept")
    )  # fmt: skip
    return items


def flow_log(res: Resource, ctx: Context) -> Priced:
    props = res.properties
    gb = ctx.assumptions.flow_log_gb_per_month / max(ctx.count("AWS::EC2::FlowLog"), 1)
    kind = props.get("LogDestinationType", "cloud-watch-logs")
    if kind not in ("s3", "cloud-watch-logs"):
        raise UnpriceableError(f"flow logs to {kind} are not in the price table")
    to = "s3" if kind == "s3" else "logs"
    return [
        vended(res, ctx, gb=gb, what="VPC flow logs", basis="flow_log_gb_per_month, split", to=to)
    ]


def canary(res: Resource, ctx: Context) -> Priced:
    props = res.properties
    expression = (props.get("Schedule") or {}).get("Expression")
    if not isinstance(expression, str):
        raise UnpriceableError("no literal schedule expression")
    runs = runs_per_month(expression)
    memory_gb = float((props.get("RunConfig") or {}).get("MemoryInMB", CANARY_DEFAULT_MEMORY_MB))
    memory_gb /= 1024
    basis = f"{runs:g} runs a month ({expression})"
    return [
        ctx.item(res, category="Monitoring", item="canary runs", quantity=runs,
                 price="synthetics.canary_run", kind="fixed", basis=basis),
        ctx.item(res, category="Monitoring", item="canary Lambda duration",
                 quantity=runs * CANARY_SECONDS_PER_RUN * memory_gb, price="lambda.gb_second",
                 by=("x86_64",), kind="fixed",
                 basis=f"{basis} x {CANARY_SECONDS_PER_RUN} s x {memory_gb * 1024:g} MB"),
        ctx.item(res, category="Monitoring", item="canary Lambda requests", quantity=runs / 1e6,
                 price="lambda.million_requests", kind="fixed", basis=basis),
    ]  # fmt: skip
