"""Security: KMS keys, Secrets Manager secrets and replicas, GuardDuty, AWS Config (items
and rule evaluations), CloudTrail."""

from __future__ import annotations

from cost_estimate.assembly import Resource
from cost_estimate.context import (
    CONFIG_PERIODIC_RESOURCES,
    LAMBDA_SECONDS_PER_RUN,
    Context,
    NoChargeError,
    UnpriceableError,
)
from cost_estimate.instances import vcpus
from cost_estimate.model import Gap, LineItem
from cost_estimate.rules_database import SERVERLESS
from cost_estimate.schedules import HOURS_PER_MONTH

Priced = list[LineItem | Gap]

_FREQUENCY_HOURS = {
    "One_Hour": 1,
    "Three_Hours": 3,
    "Six_Hours": 6,
    "Twelve_Hours": 12,
    "TwentyFour_Hours": 24,
}


def kms_key(res: Resource, ctx: Context) -> Priced:
    rotation = str(res.properties.get("EnableKeyRotation")).lower() == "true"
    note = "; each of the first two yearly rotations adds $1 a month later" if rotation else ""
    return [
        ctx.item(res, category="Security", item="KMS key", quantity=1, price="kms.key_month",
                 kind="fixed", basis=f"one customer-managed key{note}"),
    ]  # fmt: skip


def secret(res: Resource, ctx: Context) -> Priced:
    replicas = len(res.properties.get("ReplicaRegions") or [])
    items: Priced = [
        ctx.item(res, category="Security", item="secret", quantity=1,
                 price="secretsmanager.secret_month", kind="fixed", basis="one secret"),
    ]  # fmt: skip
    if replicas:
        items.append(
            ctx.item(res, category="Security", item=f"secret replicas ({replicas})",
                     quantity=replicas, price="secretsmanager.secret_month", kind="fixed",
                     basis="ReplicaRegions")
        )  # fmt: skip
    return items


def guardduty(res: Resource, ctx: Context) -> Priced:
    props = res.properties
    if str(props.get("Enable")).lower() != "true":
        raise NoChargeError("a disabled detector has no charge")
    features = {f.get("Name"): f.get("Status") for f in props.get("Features") or []}
    a = ctx.assumptions
    items: Priced = [
        ctx.item(res, category="Security", item="GuardDuty: management events analysed",
                 quantity=a.management_events_per_month / 1e6,
                 price="guardduty.cloudtrail_million_events", kind="usage",
                 basis="management_events_per_month"),
        ctx.item(res, category="Security", item="GuardDuty: VPC flow and DNS logs analysed",
                 quantity=a.flow_log_gb_per_month, price="guardduty.flow_dns_gb", kind="usage",
                 basis="about flow_log_gb_per_month"),
    ]  # fmt: skip
    if features.get("S3_DATA_EVENTS") == "ENABLED":
        items.append(
            ctx.item(res, category="Security", item="GuardDuty: S3 data events analysed",
                     quantity=a.s3_requests_per_month / 1e6, price="guardduty.s3_million_events",
                     kind="usage", basis="s3_requests_per_month")
        )  # fmt: skip
    if features.get("RDS_LOGIN_EVENTS") == "ENABLED":
        cpus = _database_vcpus(ctx)
        if cpus:
            items.append(
                ctx.item(res, category="Security", item="GuardDuty: RDS login activity",
                         quantity=cpus, price="guardduty.rds_vcpu_month", kind="fixed",
                         basis=f"{cpus:g} vCPU of the stage's databases")
            )  # fmt: skip
    if features.get("LAMBDA_NETWORK_LOGS") == "ENABLED":
        functions = ctx.count("AWS::Lambda::Function")
        gb = functions * a.releases_per_month * LAMBDA_SECONDS_PER_RUN * 1e-4
        items.append(
            ctx.item(res, category="Security", item="GuardDuty: Lambda network activity",
                     quantity=gb, price="guardduty.lambda_network_gb", kind="usage",
                     basis=f"{functions} functions run at deploys: ~0.1 MB a run")
        )  # fmt: skip
    for paid in ("RUNTIME_MONITORING", "EKS_AUDIT_LOGS", "EBS_MALWARE_PROTECTION"):
        if features.get(paid) == "ENABLED":
            items.append(ctx.gap(res, f"GuardDuty {paid} is not in the price table"))
    return items


def _database_vcpus(ctx: Context) -> float:
    total = 0.0
    for instance in ctx.stage.of_type("AWS::RDS::DBInstance"):
        cls = str(instance.properties.get("DBInstanceClass", ""))
        if cls == SERVERLESS:
            total += 1  # billed per ACU; one ACU is counted as one vCPU here
        elif cls:
            multi = str(instance.properties.get("MultiAZ")).lower() == "true"
            total += vcpus(cls) * (2 if multi else 1)
    return total


def config_recorder(res: Resource, ctx: Context) -> Priced:
    mode = (res.properties.get("RecordingMode") or {}).get("RecordingFrequency", "CONTINUOUS")
    if mode != "CONTINUOUS":
        raise UnpriceableError(f"{mode} recording is not in the price table")
    return [
        ctx.item(res, category="Security", item="Config items recorded",
                 quantity=ctx.assumptions.config_items_per_month,
                 price="config.configuration_item", kind="usage",
                 basis="config_items_per_month"),
    ]  # fmt: skip


def config_rule(res: Resource, ctx: Context) -> Priced:
    props = res.properties
    scope = (props.get("Scope") or {}).get("ComplianceResourceTypes")
    frequency = props.get("MaximumExecutionFrequency")
    if scope and not frequency:
        recorded = _recorded_types(ctx)
        per_type = ctx.assumptions.config_items_per_month / max(recorded, 1)
        evaluations = per_type * len(scope)
        basis = (f"config_items_per_month over {recorded} recorded types x {len(scope)} "
                 "type(s) in scope (evaluated on change)")  # fmt: skip
    else:
        hours = _FREQUENCY_HOURS.get(str(frequency or "TwentyFour_Hours"), 24)
        runs = HOURS_PER_MONTH / hours
        evaluations = runs * CONFIG_PERIODIC_RESOURCES
        basis = f"periodic, every {hours} h x {CONFIG_PERIODIC_RESOURCES} resources"
    return [
        ctx.item(res, category="Security", item="Config rule evaluations", quantity=evaluations,
                 price="config.rule_evaluation", kind="usage", basis=basis),
    ]  # fmt: skip


def _recorded_types(ctx: Context) -> int:
    for recorder in ctx.stage.of_type("AWS::Config::ConfigurationRecorder"):
        group = recorder.properties.get("RecordingGroup") or {}
        types = group.get("ResourceTypes") or []
        if types:
            return len(types)
    return 50  # all supported types: a typical account records about this many kinds


def trail(res: Resource, ctx: Context) -> Priced:
    props = res.properties
    items: Priced = []
    selectors = props.get("EventSelectors") or []
    if any(s.get("DataResources") for s in selectors) or props.get("AdvancedEventSelectors"):
        items.append(ctx.gap(res, "CloudTrail data events are not in the price table"))
    if props.get("InsightSelectors"):
        items.append(ctx.gap(res, "CloudTrail Insights are not in the price table"))
    if not items:
        raise NoChargeError(
            "a trail's first copy of management events is free (config allows one trail an "
            "account); its bucket, log group and key are priced"
        )
    return items
