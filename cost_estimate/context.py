"""What a pricing rule may ask: the stage, the assumptions, prices, and stage-wide facts.

A rule is `(resource, context) -> list[LineItem | Gap]`. It raises `NoChargeError(reason)` for a
resource that costs nothing of its own (e.g. a gateway endpoint), and the `MissingPriceError`
of a price the table lacks becomes a gap. Shares of an assumption (logs, buckets, build
minutes) are split over the resources that take part, so each rule can price its part.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from config.cost import CostAssumptions
from cost_estimate.assembly import Resource, Stage, ref_id, refs
from cost_estimate.model import Gap, Kind, LineItem
from cost_estimate.prices import MissingPriceError, PriceTable, load_prices
from cost_estimate.schedules import HOURS_PER_MONTH

#: Rules of thumb (printed in every report with the assumptions).
WAF_LOG_KB_PER_REQUEST = 1.5
CLOUDFRONT_LOG_KB_PER_REQUEST = 0.5
TRAIL_LOG_KB_PER_EVENT = 1.5
LOG_COMPRESSION = 0.15
LOG_STORAGE_MONTHS_CAP = 12
ENHANCED_MONITORING_KB_PER_RECORD = 8
LAMBDA_SECONDS_PER_RUN = 10
CANARY_SECONDS_PER_RUN = 10
CANARY_DEFAULT_MEMORY_MB = 1000
SQS_REQUESTS_PER_MESSAGE = 3
SQS_POLLS_PER_BUSY_HOUR = 180
CONFIG_PERIODIC_RESOURCES = 10
STATE_TRANSITIONS_PER_STATE = 1
CONTAINER_INSIGHTS_METRICS = {
    "cluster": 13,
    "service": 13,
    "family": 10,
    "task": 10,
    "container": 8,
}
CONTAINER_INSIGHTS_LOG_MB_PER_TASK = {"enabled": 50, "enhanced": 150}


def container_insights_usage(
    mode: str, *, services: int, families: int, tasks: float, containers: float
) -> tuple[float, float]:
    """(custom metrics, GB of performance logs a month) of a cluster's Container Insights
    in `mode` (`enabled` or `enhanced`; task and container metrics with `enhanced` only)."""
    m = CONTAINER_INSIGHTS_METRICS
    metrics = float(m["cluster"] + m["service"] * services + m["family"] * families)
    if mode == "enhanced":
        metrics += m["task"] * tasks + m["container"] * containers
    return metrics, tasks * CONTAINER_INSIGHTS_LOG_MB_PER_TASK[mode] / 1024


def enhanced_monitoring_gb(interval_seconds: float) -> float:
    """GB of RDSOSMetrics logs a month an instance ingests with enhanced monitoring every
    `interval_seconds` (one record each time)."""
    records = HOURS_PER_MONTH * 3600 / interval_seconds
    return records * ENHANCED_MONITORING_KB_PER_RECORD / 1024 / 1024


XRAY_RESERVOIR_PER_SECOND = 1
XRAY_SAMPLED_SHARE = 0.05
EBS_DEFAULT_ROOT_GB = 30

RULES_OF_THUMB: dict[str, str] = {
    "hours a month": f"{HOURS_PER_MONTH:g}",
    "WAF log record": f"{WAF_LOG_KB_PER_REQUEST:g} KB a request",
    "CloudFront access-log line": f"{CLOUDFRONT_LOG_KB_PER_REQUEST:g} KB a request",
    "CloudTrail record (to CloudWatch Logs)": f"{TRAIL_LOG_KB_PER_EVENT:g} KB an event",
    "stored log size": f"{LOG_COMPRESSION:.0%} of what was ingested (gzip); at most "
    f"{LOG_STORAGE_MONTHS_CAP} months' worth (the first year)",
    "RDS enhanced monitoring": f"{ENHANCED_MONITORING_KB_PER_RECORD} KB a record",
    "Lambda handler runs": f"one per release, {LAMBDA_SECONDS_PER_RUN} s each",
    "canary run": f"{CANARY_SECONDS_PER_RUN} s of its Lambda function",
    "SQS requests": f"{SQS_REQUESTS_PER_MESSAGE} a message (send, receive, delete) + "
    f"{SQS_POLLS_PER_BUSY_HOUR} long polls an hour a worker runs",
    "AWS Config periodic rule": f"{CONFIG_PERIODIC_RESOURCES} resources checked a run",
    "Container Insights metrics": ", ".join(
        f"{n} a {k}" for k, n in CONTAINER_INSIGHTS_METRICS.items()
    )
    + " (task and container metrics with enhanced observability only)",
    "Container Insights performance logs": ", ".join(
        f"{mb} MB a running task ({mode})"
        for mode, mb in CONTAINER_INSIGHTS_LOG_MB_PER_TASK.items()
    ),
    "X-Ray sampling": f"{XRAY_RESERVOIR_PER_SECOND} request a second + "
    f"{XRAY_SAMPLED_SHARE:.0%} of the rest (the default rule)",
    "EC2 root volume without a mapping": f"{EBS_DEFAULT_ROOT_GB} GB gp3",
    "services": "run at their desired count (scale-out above it is not estimated); one that "
    "starts from 0 runs worker_busy_hours_per_month",
}

#: What no estimate here includes, said once in every report.
NOT_INCLUDED = (
    "Taxes, support plans, Savings Plans / reservations / credits, free tiers.",
    "API request charges of KMS, Secrets Manager, SSM, ECR and CloudWatch (cents at these "
    "volumes).",
    "Data transfer between zones and to the internet other than through CloudFront (the "
    "load balancer, NAT gateways and endpoints are priced per GB processed).",
    "The Route 53 hosted zone (named in config, not created by this app) and queries to "
    "alias records (free).",
    "Scale-out above each service's desired count.",
)


class NoChargeError(Exception):
    """The resource costs nothing of its own; `reason` says why."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class UnpriceableError(Exception):
    """The rule cannot price this resource (a property it does not know); listed as a gap."""


@dataclass
class Context:
    stage: Stage
    assumptions: CostAssumptions
    #: The environment's own region (CloudFront's and WAF's prices are taken from it: the
    #: viewers are near it).
    home_region: str

    def __post_init__(self) -> None:
        self._tables: dict[str, PriceTable] = {}

    # --- prices -------------------------------------------------------------------------

    def table(self, region: str) -> PriceTable:
        if region not in self._tables:
            self._tables[region] = load_prices(region)
        return self._tables[region]

    def item(
        self,
        res: Resource,
        *,
        category: str,
        item: str,
        quantity: float,
        price: str,
        by: tuple[str, ...] = (),
        kind: Kind,
        basis: str = "",
        region: str | None = None,
        factor: float = 1.0,
        unit: str | None = None,
    ) -> LineItem | Gap:
        """A line item at `price` (looked up `by`), times `factor` (e.g. Multi-AZ's 2); a
        gap naming the item when the table has no such price."""
        table = self.table(region or res.region)
        try:
            entry = table.price(price)
            unit_usd = table.usd(price, *by) * factor
        except MissingPriceError as exc:
            return self.gap(res, f"{item}: {exc}")
        return LineItem(
            stack=res.stack,
            logical_id=res.logical_id,
            resource_type=res.type,
            category=category,
            item=item,
            quantity=quantity,
            unit=unit or entry.unit,
            unit_usd=unit_usd,
            kind=kind,
            price_key=f"{price}{''.join(f'[{b}]' for b in by)}",
            price_region=table.region,
            source=entry.source,
            basis=basis,
        )

    @staticmethod
    def gap(res: Resource, reason: str) -> Gap:
        return Gap(res.stack, res.logical_id, res.type, reason)

    # --- following references -------------------------------------------------------------

    def target(self, res: Resource, value: Any, *types: str) -> Resource | None:
        """The resource of the same stack that `value` (a `Ref` / `Fn::GetAtt`) names."""
        logical_id = ref_id(value)
        if logical_id is None:
            return None
        found = self.stage.resource(res.stack, logical_id)
        if found is None or (types and found.type not in types):
            return None
        return found

    def referrers(self, res: Resource, *types: str) -> list[Resource]:
        """Resources of the same stack (of `types`) whose properties refer to `res`."""
        return [
            r
            for r in self.stage.stacks[res.stack].resources.values()
            if (not types or r.type in types) and res.logical_id in set(refs(r.properties))
        ]

    # --- stage-wide facts ------------------------------------------------------------------

    @functools.cached_property
    def log_group_roles(self) -> dict[tuple[str, str], str]:
        """(stack, id) of each log group -> what writes to it: `app` (a task definition's
        awslogs group), `vended` (flow logs, WAF, CloudFront logs: their delivery is priced
        on the resource that sends them), `trail`, or `other`."""
        roles: dict[tuple[str, str], str] = {}
        for res in self.stage.of_type("AWS::Logs::LogGroup"):
            roles[res.key] = "other"
        for res in self.stage.resources():
            role = _writer_role(res)
            if role is None:
                continue
            for logical_id in refs(res.properties):
                key = (res.stack, logical_id)
                if roles.get(key) == "other":
                    roles[key] = role
        return roles

    def share(self, total: float, role: str) -> float:
        """`total` split evenly over the log groups of `role`."""
        count = sum(1 for r in self.log_group_roles.values() if r == role)
        return total / count if count else 0.0

    def count(self, *types: str) -> int:
        return len(self.stage.of_type(*types))

    @functools.cached_property
    def schedule_runs(self) -> dict[tuple[str, str], float]:
        """(stack, id) of each scheduled target (state machine, ...) -> runs a month."""
        from cost_estimate.schedules import runs_per_month  # noqa: PLC0415

        runs: dict[tuple[str, str], float] = {}
        for res in self.stage.of_type("AWS::Scheduler::Schedule", "AWS::Events::Rule"):
            expression = res.properties.get("ScheduleExpression")
            if not isinstance(expression, str):
                continue
            targets = res.properties.get("Target") or res.properties.get("Targets") or []
            for target in targets if isinstance(targets, list) else [targets]:
                logical_id = ref_id(target.get("Arn")) if isinstance(target, Mapping) else None
                if logical_id:
                    key = (res.stack, logical_id)
                    runs[key] = runs.get(key, 0.0) + runs_per_month(expression)
        return runs


def _writer_role(res: Resource) -> str | None:
    writers: dict[str, Callable[[Resource], str | None]] = {
        "AWS::ECS::TaskDefinition": lambda _: "app",
        "AWS::EC2::FlowLog": lambda _: "vended",
        "AWS::WAFv2::LoggingConfiguration": lambda _: "vended",
        "AWS::Logs::DeliveryDestination": lambda _: "vended",
        "AWS::CloudTrail::Trail": lambda _: "trail",
    }
    writer = writers.get(res.type)
    return writer(res) if writer else None
