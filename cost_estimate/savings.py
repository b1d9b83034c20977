"""What a cost-saving choice saves a month, at the same list prices `make cost` uses: the
figure an acknowledgment of the control given up for it names (README "Cost").

The app calls these while it builds a stage, from the stage's config: the saving is what the
estimator would price for the option left out (same price keys, same rules of thumb).
"""

from __future__ import annotations

from collections.abc import Callable

from cost_estimate.context import container_insights_usage, enhanced_monitoring_gb
from cost_estimate.prices import MissingPriceError, load_prices
from cost_estimate.schedules import HOURS_PER_MONTH


def note(saving: Callable[[], float], what: str) -> str:
    """The sentence an acknowledgment ends with: what `saving` computes, or nothing when the
    price table lacks a price it needs (`make cost` lists that gap; synth never fails on it)."""
    try:
        usd = saving()
    except MissingPriceError:
        return ""
    return f"Saves about ${usd:,.2f} a month at list prices ({what}; `make cost`)."


def container_insights(region: str, *, services: int, tasks: float, containers: float) -> float:
    """Enhanced Container Insights of a cluster running `services` services (one task
    family each) with `tasks` tasks of `containers` containers in all."""
    table = load_prices(region)
    metrics, log_gb = container_insights_usage(
        "enhanced", services=services, families=services, tasks=tasks, containers=containers
    )
    return metrics * table.usd("cloudwatch.metric_month") + log_gb * table.usd(
        "cloudwatch.log_ingest_gb"
    )


def nat_gateways(region: str, count: int) -> float:
    """The hours of `count` NAT gateways and their public IPv4 addresses (data not counted)."""
    table = load_prices(region)
    hourly = table.usd("vpc.nat_gateway_hour") + table.usd("vpc.public_ipv4_hour")
    return count * hourly * HOURS_PER_MONTH


def enhanced_monitoring(region: str, *, instances: int, interval_seconds: int = 60) -> float:
    """RDS enhanced monitoring of `instances` instances, a record every `interval_seconds`
    (the defaults' 60): the RDSOSMetrics log ingestion the estimator prices."""
    table = load_prices(region)
    return (
        instances * enhanced_monitoring_gb(interval_seconds) * table.usd("cloudwatch.log_ingest_gb")
    )


def rds_standby(region: str, *, engine: str, instance_class: str, storage_gb: int) -> float:
    """What a Multi-AZ standby adds to a single RDS instance: its hours and its gp3 storage
    (Multi-AZ doubles both)."""
    table = load_prices(region)
    hourly = table.usd(f"rds.{engine}_instance_hour", f"db.{instance_class}")
    return hourly * HOURS_PER_MONTH + storage_gb * table.usd("rds.storage_gb_month", "gp3")
