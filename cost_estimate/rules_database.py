"""Databases: RDS instances (Multi-AZ, storage, backups, read replicas), Aurora clusters and
their provisioned or Serverless v2 instances (ACU-hours, auto-paused time), RDS Proxy, AWS
Backup plans (with copies to another region), RDS-managed master secrets."""

from __future__ import annotations

import re
from typing import Any

from cost_estimate.assembly import Resource, refs, strings
from cost_estimate.context import Context, UnpriceableError, enhanced_monitoring_gb
from cost_estimate.instances import vcpus
from cost_estimate.model import Gap, LineItem
from cost_estimate.prices import RegionNotPricedError
from cost_estimate.schedules import DAYS_PER_MONTH, HOURS_PER_MONTH, runs_per_month

Priced = list[LineItem | Gap]
H = HOURS_PER_MONTH
SERVERLESS = "db.serverless"
_REGION_RE = re.compile(r"\b([a-z]{2}(?:-gov)?-[a-z]+-\d)\b")


def _true(value: Any) -> bool:
    return str(value).lower() == "true"


def _master_secret(res: Resource, ctx: Context) -> Priced:
    if not _true(res.properties.get("ManageMasterUserPassword")):
        return []
    return [
        ctx.item(res, category="Security", item="RDS-managed master secret", quantity=1,
                 price="secretsmanager.secret_month", kind="fixed",
                 basis="ManageMasterUserPassword (a Secrets Manager secret RDS owns)"),
    ]  # fmt: skip


# --- RDS instances ----------------------------------------------------------------------------


def db_instance(res: Resource, ctx: Context) -> Priced:
    props = res.properties
    if props.get("DBClusterIdentifier") is not None:
        return _aurora_instance(res, ctx)
    source = props.get("SourceDBInstanceIdentifier")
    src = ctx.target(res, source, "AWS::RDS::DBInstance") if source is not None else None

    def get(name: str, default: Any = None) -> Any:
        if name in props:
            return props[name]
        return src.properties.get(name, default) if src is not None else default

    engine, cls = get("Engine"), props.get("DBInstanceClass")
    if not isinstance(engine, str) or not isinstance(cls, str):
        raise UnpriceableError("its Engine / DBInstanceClass is not a literal (or its source's)")
    multi_az = _true(props.get("MultiAZ", False))
    factor = 2.0 if multi_az else 1.0
    az = "Multi-AZ" if multi_az else "Single-AZ"
    role = "read replica" if source is not None else "instance"
    storage_type = str(get("StorageType", "gp2"))
    allocated = float(get("AllocatedStorage", 20))
    items: Priced = [
        ctx.item(res, category="Database", item=f"RDS {engine} {cls} {role} ({az})",
                 quantity=H, price=f"rds.{engine}_instance_hour", by=(cls,), factor=factor,
                 kind="fixed", basis=f"{H:g} h" + (" x 2 (Multi-AZ)" if multi_az else "")),
        ctx.item(res, category="Database", item=f"RDS storage {storage_type} ({az})",
                 quantity=allocated, price="rds.storage_gb_month", by=(storage_type,),
                 factor=factor, kind="fixed", basis="AllocatedStorage"
                 + (" x 2 (Multi-AZ)" if multi_az else "")),
    ]  # fmt: skip
    retention = float(props.get("BackupRetentionPeriod", 1 if source is None else 0))
    a = ctx.assumptions
    stored = a.database_data_gb * (1 + a.database_change_percent_per_day / 100 * retention)
    extra = max(0.0, stored - allocated) if retention else 0.0
    if extra:
        items.append(
            ctx.item(res, category="Database", item="RDS backup storage beyond its size",
                     quantity=extra, price="rds.backup_gb_month", kind="usage",
                     basis=f"database_data_gb x (1 + change a day x {retention:g} days) - "
                     "AllocatedStorage (free up to the database's size)")
        )  # fmt: skip
    interval = float(props.get("MonitoringInterval", 0) or 0)
    if interval:
        gb = enhanced_monitoring_gb(interval)
        items.append(
            ctx.item(res, category="Monitoring", item="enhanced monitoring (RDSOSMetrics logs)",
                     quantity=gb, price="cloudwatch.log_ingest_gb", kind="fixed",
                     basis=f"a record every {interval:g} s")
        )  # fmt: skip
    if _true(props.get("EnablePerformanceInsights")):
        days = float(props.get("PerformanceInsightsRetentionPeriod", 7))
        if days > 7:
            items.append(ctx.gap(res, f"Performance Insights kept {days:g} days (beyond the "
                                 "free 7) is not in the price table"))  # fmt: skip
    return items + _master_secret(res, ctx)


def _aurora_instance(res: Resource, ctx: Context) -> Priced:
    props = res.properties
    cluster = ctx.target(res, props.get("DBClusterIdentifier"), "AWS::RDS::DBCluster")
    if cluster is None:
        raise UnpriceableError("its DB cluster is not in the stack")
    engine = props.get("Engine") or cluster.properties.get("Engine")
    cls = props.get("DBInstanceClass")
    if not isinstance(engine, str) or not isinstance(cls, str):
        raise UnpriceableError("its Engine / DBInstanceClass is not a literal")
    io_optimized = cluster.properties.get("StorageType") == "aurora-iopt1"
    factor = ctx.table(res.region).usd("aurora.io_optimized_factor") if io_optimized else 1.0
    note = " (I/O-Optimized)" if io_optimized else ""
    if cls != SERVERLESS:
        return [
            ctx.item(res, category="Database", item=f"Aurora {cls} instance{note}", quantity=H,
                     price="aurora.instance_hour", by=(engine, cls), factor=factor,
                     kind="fixed", basis=f"{H:g} h"),
        ]  # fmt: skip
    low, high, average = acu_range(cluster, ctx)
    if low == 0:
        awake = float(ctx.assumptions.database_awake_hours_per_month)
        pause = cluster.properties.get("ServerlessV2ScalingConfiguration", {}).get(
            "SecondsUntilAutoPause", 300
        )
        return [
            ctx.item(res, category="Database", item=f"Serverless v2 ACU-hours while awake{note}",
                     quantity=average * awake, price="aurora.acu_hour", factor=factor,
                     kind="usage", basis=f"database_awake_hours_per_month {awake:g} h x "
                     f"{average:g} ACU (MinCapacity 0, MaxCapacity {high:g})"),
            ctx.item(res, category="Database", item="Serverless v2 auto-paused (0 ACU)",
                     quantity=0.0, price="aurora.acu_hour", factor=factor, kind="usage",
                     basis=f"{H - awake:g} h paused (after {pause} s idle): no ACU charge, "
                     "storage still billed"),
        ]  # fmt: skip
    items: Priced = [
        ctx.item(res, category="Database", item=f"Serverless v2 minimum capacity{note}",
                 quantity=low * H, price="aurora.acu_hour", factor=factor, kind="fixed",
                 basis=f"MinCapacity {low:g} ACU x {H:g} h"),
    ]  # fmt: skip
    if average > low:
        items.append(
            ctx.item(res, category="Database", item=f"Serverless v2 capacity above the minimum"
                     f"{note}", quantity=(average - low) * H, price="aurora.acu_hour",
                     factor=factor, kind="usage",
                     basis=f"database_average_acu {average:g} - MinCapacity {low:g}, {H:g} h")
        )  # fmt: skip
    return items


def acu_range(cluster: Resource, ctx: Context) -> tuple[float, float, float]:
    """(MinCapacity, MaxCapacity, average ACU while awake) of a Serverless v2 cluster."""
    scaling = cluster.properties.get("ServerlessV2ScalingConfiguration")
    if not isinstance(scaling, dict):
        raise UnpriceableError(
            "db.serverless in a cluster without ServerlessV2ScalingConfiguration"
        )
    low = float(scaling.get("MinCapacity", 0.5))
    high = float(scaling.get("MaxCapacity", max(low, 1)))
    assumed = ctx.assumptions.database_average_acu
    average = float(assumed) if assumed is not None else max(low, 0.5)
    return low, high, min(max(average, low, 0.5), high)


# --- Aurora clusters ---------------------------------------------------------------------------


def db_cluster(res: Resource, ctx: Context) -> Priced:
    props = res.properties
    engine = str(props.get("Engine", ""))
    if not engine.startswith("aurora"):
        raise UnpriceableError(
            f"a {engine} Multi-AZ DB cluster (not Aurora) is not in the price table"
        )
    storage_type = str(props.get("StorageType", "aurora"))
    a = ctx.assumptions
    items: Priced = [
        ctx.item(res, category="Database", item=f"Aurora storage ({storage_type})",
                 quantity=a.database_data_gb, price="aurora.storage_gb_month", by=(storage_type,),
                 kind="usage", basis="database_data_gb"),
    ]  # fmt: skip
    if storage_type == "aurora":
        items.append(
            ctx.item(res, category="Database", item="Aurora I/O requests",
                     quantity=a.database_io_million_per_month, price="aurora.io_million",
                     kind="usage", basis="database_io_million_per_month")
        )  # fmt: skip
    retention = float(props.get("BackupRetentionPeriod", 1))
    extra = a.database_data_gb * a.database_change_percent_per_day / 100 * retention
    if extra:
        items.append(
            ctx.item(res, category="Database", item="Aurora backup storage beyond its size",
                     quantity=extra, price="aurora.backup_gb_month", kind="usage",
                     basis=f"database_data_gb x change a day x {retention:g} days "
                     "(free up to the cluster's size)")
        )  # fmt: skip
    return items + _master_secret(res, ctx)


# --- RDS Proxy ---------------------------------------------------------------------------------


def db_proxy(res: Resource, ctx: Context) -> Priced:
    groups = ctx.referrers(res, "AWS::RDS::DBProxyTargetGroup")
    if not groups:
        raise UnpriceableError(
            "no DBProxyTargetGroup of the stack names it: what it fronts is unknown"
        )
    cpus, acus, fronts = 0, 0.0, []
    for group in groups:
        for ident in group.properties.get("DBInstanceIdentifiers") or []:
            instance = ctx.target(group, ident, "AWS::RDS::DBInstance")
            if instance is None:
                raise UnpriceableError("a DB instance it fronts is not in the stack")
            cpus += vcpus(str(instance.properties.get("DBInstanceClass")))
            fronts.append(instance.logical_id)
        for ident in group.properties.get("DBClusterIdentifiers") or []:
            cluster = ctx.target(group, ident, "AWS::RDS::DBCluster")
            if cluster is None:
                raise UnpriceableError("a DB cluster it fronts is not in the stack")
            fronts.append(cluster.logical_id)
            for member in ctx.referrers(cluster, "AWS::RDS::DBInstance"):
                cls = str(member.properties.get("DBInstanceClass"))
                if cls == SERVERLESS:
                    acus += acu_range(cluster, ctx)[2]
                else:
                    cpus += vcpus(cls)
    items: Priced = []
    shown = ", ".join(fronts)
    if cpus:
        items.append(
            ctx.item(res, category="Database", item="RDS Proxy (vCPUs behind it)",
                     quantity=max(2, cpus) * H, price="rds_proxy.vcpu_hour", kind="fixed",
                     basis=f"{cpus} vCPU ({shown}; at least 2) x {H:g} h")
        )  # fmt: skip
    if acus:
        items.append(
            ctx.item(res, category="Database", item="RDS Proxy (Serverless v2 capacity)",
                     quantity=max(8.0, acus) * H, price="rds_proxy.acu_hour", kind="fixed",
                     basis=f"{acus:g} ACU ({shown}; billed at least 8, paused or not) x {H:g} h")
        )  # fmt: skip
    if not items:
        raise UnpriceableError("its target group lists no instance or cluster")
    return items


# --- AWS Backup ----------------------------------------------------------------------------------


def backup_plan(res: Resource, ctx: Context) -> Priced:
    plan = res.properties.get("BackupPlan") or {}
    price = _snapshot_price(res, ctx)
    a = ctx.assumptions
    change = a.database_change_percent_per_day / 100
    items: Priced = []
    for rule in plan.get("BackupPlanRule") or []:
        name = rule.get("RuleName", "rule")
        expression = rule.get("ScheduleExpression") or "cron(0 5 ? * * *)"
        runs = runs_per_month(expression)
        keep = _keep_days(rule.get("Lifecycle"))
        stored = a.database_data_gb * (1 + change * keep)
        items.append(
            ctx.item(res, category="Database", item=f"backups kept ({name})", quantity=stored,
                     price=price, kind="usage",
                     basis=f"database_data_gb, then daily changes for {keep:g} days "
                     f"({runs:.1f} backups a month; incremental)")
        )  # fmt: skip
        for copy in rule.get("CopyActions") or []:
            items.extend(_copy(res, ctx, copy=copy, keep=keep, price=price, name=name))
    if not items:
        raise UnpriceableError("a backup plan without rules")
    return items


def _copy(
    res: Resource, ctx: Context, *, copy: dict[str, Any], keep: float, price: str, name: str
) -> Priced:
    a = ctx.assumptions
    change = a.database_change_percent_per_day / 100
    found = [m.group(1) for s in strings(copy.get("DestinationBackupVaultArn")) for m in
             _REGION_RE.finditer(s)]  # fmt: skip
    region, note = res.region, "the destination region is not a literal: priced at the source's"
    if found:
        region, note = found[0], f"in {found[0]}"
        try:
            ctx.table(region)
        except RegionNotPricedError:
            region, note = res.region, f"{found[0]} has no price table: priced at the source's"
    copy_keep = _keep_days(copy.get("Lifecycle"), default=keep)
    stored = a.database_data_gb * (1 + change * copy_keep)
    moved = a.database_data_gb * change * DAYS_PER_MONTH
    return [
        ctx.item(res, category="Database", item=f"backup copies kept in another region ({name})",
                 quantity=stored, price=price, kind="usage", region=region,
                 basis=f"database_data_gb, then daily changes for {copy_keep:g} days; {note}"),
        ctx.item(res, category="Database", item=f"backup copy transfer between regions ({name})",
                 quantity=moved, price="data_transfer.inter_region_gb", kind="usage",
                 basis="a month of daily changes (incremental copies; the first copy moves "
                 "database_data_gb once)"),
    ]  # fmt: skip


def _keep_days(lifecycle: Any, default: float = 365.0) -> float:
    if isinstance(lifecycle, dict) and lifecycle.get("DeleteAfterDays") is not None:
        return min(float(lifecycle["DeleteAfterDays"]), 365.0)
    return default


def _snapshot_price(res: Resource, ctx: Context) -> str:
    """Aurora or RDS snapshot prices, from what the plan's selections cover."""
    kinds = set()
    for selection in ctx.referrers(res, "AWS::Backup::BackupSelection"):
        body = selection.properties.get("BackupSelection") or {}
        for logical_id in refs(body):
            target = ctx.stage.resource(selection.stack, logical_id)
            if target is not None and target.type.startswith("AWS::RDS::DB"):
                kinds.add(target.type)
        for text in strings(body):
            if ":rds:" in text and ":cluster:" in text:
                kinds.add("AWS::RDS::DBCluster")
            elif ":rds:" in text and ":db:" in text:
                kinds.add("AWS::RDS::DBInstance")
    if "AWS::RDS::DBCluster" in kinds:
        return "backup.aurora_snapshot_gb_month"
    if "AWS::RDS::DBInstance" in kinds:
        return "backup.rds_snapshot_gb_month"
    raise UnpriceableError("none of its selections names a database of the stack (what it backs up "
                      "is unknown)")  # fmt: skip
