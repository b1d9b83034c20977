"""Unit-price arithmetic of the database types on small hand-written templates: RDS
instances (Multi-AZ, backups, replicas, RDS-managed secrets), Aurora (Serverless v2 at 0 ACU
with auto-pause, provisioned, I/O-Optimized), RDS Proxy and AWS Backup with a copy to
another region. Expectations by hand from the Tokyo table (us-west-2 for the copy)."""

from __future__ import annotations

from typing import Any

from tests.cost.helpers import approx, estimate, items_of, res, total_of

DATA = {"database_data_gb": 10, "database_change_percent_per_day": 2}


def _instance(**properties: Any) -> dict[str, Any]:
    base = {"Engine": "postgres", "DBInstanceClass": "db.t4g.micro", "AllocatedStorage": "20",
            "StorageType": "gp3", "BackupRetentionPeriod": 7}  # fmt: skip
    return res("AWS::RDS::DBInstance", **{**base, **properties})


def test_single_az_instance_storage_secret_and_enhanced_monitoring() -> None:
    result = estimate(
        {"Db": _instance(ManageMasterUserPassword=True, MonitoringInterval=60)},
        assumptions={"database_data_gb": 2},
    )
    items = items_of(result, "Db")
    assert items["RDS postgres db.t4g.micro instance (Single-AZ)"].monthly_usd == approx(18.25)
    assert items["RDS storage gp3 (Single-AZ)"].monthly_usd == approx(20 * 0.138)  # 2.76
    secret = items["RDS-managed master secret"]
    assert (secret.monthly_usd, secret.category) == (approx(0.40), "Security")
    # A record a minute, 8 KB each: 43,800 records = 0.334 GB a month.
    monitoring = items["enhanced monitoring (RDSOSMetrics logs)"]
    assert monitoring.quantity == approx(43_800 * 8 / 1024 / 1024)
    assert monitoring.monthly_usd == approx(0.254)
    # 2 GB and 7 days of 2 % changes stay under the 20 GB the instance includes.
    assert "RDS backup storage beyond its size" not in items


def test_multi_az_doubles_instance_and_storage() -> None:
    result = estimate(
        {"Db": _instance(DBInstanceClass="db.t4g.medium", AllocatedStorage="100", MultiAZ=True)}
    )
    items = items_of(result, "Db")
    assert items["RDS postgres db.t4g.medium instance (Multi-AZ)"].monthly_usd == approx(146.0)
    assert items["RDS storage gp3 (Multi-AZ)"].monthly_usd == approx(27.60)


def test_backup_storage_beyond_the_database_size() -> None:
    # 100 GB of data, 10 % a day for 30 days: 400 GB kept, 100 included -> 300 GB x $0.095.
    result = estimate(
        {"Db": _instance(AllocatedStorage="100", BackupRetentionPeriod=30)},
        assumptions={"database_data_gb": 100, "database_change_percent_per_day": 10},
    )
    backup = items_of(result, "Db")["RDS backup storage beyond its size"]
    assert backup.quantity == approx(300)
    assert backup.monthly_usd == approx(28.50)
    assert backup.kind == "usage"


def test_read_replica_takes_engine_and_storage_from_its_source() -> None:
    result = estimate(
        {
            "Primary": _instance(Engine="mysql"),
            "Replica": res("AWS::RDS::DBInstance", DBInstanceClass="db.t4g.small",
                           SourceDBInstanceIdentifier={"Ref": "Primary"}),
        }
    )  # fmt: skip
    items = items_of(result, "Replica")
    assert items["RDS mysql db.t4g.small read replica (Single-AZ)"].monthly_usd == approx(
        730 * 0.049
    )
    assert items["RDS storage gp3 (Single-AZ)"].monthly_usd == approx(2.76)
    assert total_of(result, "Replica") == approx(35.77 + 2.76)


def test_unknown_class_and_long_performance_insights_are_listed_not_zero() -> None:
    result = estimate(
        {"Db": _instance(DBInstanceClass="db.x2g.large", EnablePerformanceInsights=True,
                         PerformanceInsightsRetentionPeriod=31)}
    )  # fmt: skip
    reasons = [g.reason for g in result.gaps]
    assert any("db.x2g.large" in r for r in reasons)
    assert any("Performance Insights kept 31 days" in r for r in reasons)
    assert total_of(result, "Db") == approx(2.76)  # the storage is still priced


def _serverless_cluster(**scaling: Any) -> dict[str, dict[str, Any]]:
    return {
        "Cluster": res("AWS::RDS::DBCluster", Engine="aurora-postgresql", BackupRetentionPeriod=7,
                       ManageMasterUserPassword=True, ServerlessV2ScalingConfiguration=scaling),
        "Writer": res("AWS::RDS::DBInstance", DBClusterIdentifier={"Ref": "Cluster"},
                      DBInstanceClass="db.serverless", Engine="aurora-postgresql"),
    }  # fmt: skip


def test_aurora_serverless_v2_at_zero_acu_pauses() -> None:
    result = estimate(
        _serverless_cluster(MinCapacity=0, MaxCapacity=4, SecondsUntilAutoPause=600),
        assumptions={**DATA, "database_awake_hours_per_month": 200, "database_average_acu": 1,
                     "database_io_million_per_month": 2},
    )  # fmt: skip
    writer = items_of(result, "Writer")
    awake = writer["Serverless v2 ACU-hours while awake"]
    assert (awake.quantity, awake.kind) == (200, "usage")
    assert awake.monthly_usd == approx(200 * 0.15)  # 30.00
    paused = writer["Serverless v2 auto-paused (0 ACU)"]
    assert paused.monthly_usd == 0
    assert "530 h paused (after 600 s idle)" in paused.basis
    cluster = items_of(result, "Cluster")
    assert cluster["Aurora storage (aurora)"].monthly_usd == approx(10 * 0.12)  # 1.20
    assert cluster["Aurora I/O requests"].monthly_usd == approx(2 * 0.24)  # 0.48
    # 10 GB x 2 % x 7 days = 1.4 GB beyond the cluster's size.
    assert cluster["Aurora backup storage beyond its size"].monthly_usd == approx(1.4 * 0.023)
    assert cluster["RDS-managed master secret"].monthly_usd == approx(0.40)


def test_aurora_serverless_v2_minimum_is_fixed() -> None:
    result = estimate(_serverless_cluster(MinCapacity=0.5, MaxCapacity=2), assumptions=DATA)
    floor = items_of(result, "Writer")["Serverless v2 minimum capacity"]
    assert (floor.quantity, floor.kind) == (365, "fixed")
    assert floor.monthly_usd == approx(54.75)


def test_aurora_provisioned_io_optimized() -> None:
    result = estimate(
        {
            "Cluster": res("AWS::RDS::DBCluster", Engine="aurora-postgresql",
                           StorageType="aurora-iopt1"),
            "Writer": res("AWS::RDS::DBInstance", DBClusterIdentifier={"Ref": "Cluster"},
                          DBInstanceClass="db.r6g.large"),
        },
        assumptions=DATA,
    )  # fmt: skip
    writer = items_of(result, "Writer")["Aurora db.r6g.large instance (I/O-Optimized)"]
    assert writer.monthly_usd == approx(730 * 0.313 * 1.3)  # 297.04
    cluster = items_of(result, "Cluster")
    assert cluster["Aurora storage (aurora-iopt1)"].monthly_usd == approx(2.70)
    assert "Aurora I/O requests" not in cluster


def test_rds_proxy_bills_at_least_two_vcpus_or_eight_acus() -> None:
    instance = estimate(
        {
            "Db": _instance(),
            "Proxy": res("AWS::RDS::DBProxy", EngineFamily="POSTGRESQL"),
            "Targets": res("AWS::RDS::DBProxyTargetGroup", DBProxyName={"Ref": "Proxy"},
                           DBInstanceIdentifiers=[{"Ref": "Db"}], TargetGroupName="default"),
        }
    )  # fmt: skip
    assert total_of(instance, "Proxy") == approx(2 * 730 * 0.018)  # 26.28
    serverless = estimate(
        {
            **_serverless_cluster(MinCapacity=0, MaxCapacity=4),
            "Proxy": res("AWS::RDS::DBProxy", EngineFamily="POSTGRESQL"),
            "Targets": res("AWS::RDS::DBProxyTargetGroup", DBProxyName={"Ref": "Proxy"},
                           DBClusterIdentifiers=[{"Ref": "Cluster"}], TargetGroupName="default"),
        },
        assumptions={"database_average_acu": 1},
    )  # fmt: skip
    item = items_of(serverless, "Proxy")["RDS Proxy (Serverless v2 capacity)"]
    assert item.quantity == 8 * 730
    assert item.monthly_usd == approx(105.12)
    # The target group is priced with its proxy.
    assert "AWS::RDS::DBProxyTargetGroup" in {f.resource_type for f in serverless.free}


def test_rds_proxy_without_a_target_group_is_not_priced() -> None:
    result = estimate({"Proxy": res("AWS::RDS::DBProxy", EngineFamily="POSTGRESQL")})
    (gap,) = result.gaps
    assert "no DBProxyTargetGroup" in gap.reason


def _plan(destination: str) -> dict[str, dict[str, Any]]:
    return {
        **_serverless_cluster(MinCapacity=0.5, MaxCapacity=2),
        "Vault": res("AWS::Backup::BackupVault", BackupVaultName="main"),
        "Plan": res("AWS::Backup::BackupPlan", BackupPlan={
            "BackupPlanName": "daily",
            "BackupPlanRule": [{
                "RuleName": "Daily", "TargetBackupVault": {"Ref": "Vault"},
                "ScheduleExpression": "cron(0 5 ? * * *)",
                "Lifecycle": {"DeleteAfterDays": 35},
                "CopyActions": [{"DestinationBackupVaultArn": destination,
                                 "Lifecycle": {"DeleteAfterDays": 7}}],
            }],
        }),
        "Selection": res("AWS::Backup::BackupSelection", BackupPlanId={"Ref": "Plan"},
                         BackupSelection={"SelectionName": "db", "IamRoleArn": "arn:x",
                                          "Resources": [{"Fn::Join": ["", [
                                              "arn:aws:rds:ap-northeast-1:123456789012:cluster:",
                                              {"Ref": "Cluster"}]]}]}),
    }  # fmt: skip


def test_backup_plan_with_a_copy_to_another_region() -> None:
    result = estimate(
        _plan("arn:aws:backup:us-west-2:123456789012:backup-vault:dr"), assumptions=DATA
    )
    items = items_of(result, "Plan")
    # 10 GB, then 2 % a day for 35 days: 17 GB of Aurora snapshots in Tokyo.
    kept = items["backups kept (Daily)"]
    assert kept.quantity == approx(17)
    assert kept.monthly_usd == approx(17 * 0.023)
    # The copy keeps 7 days in us-west-2 (its own price) ...
    copy = items["backup copies kept in another region (Daily)"]
    assert (copy.quantity, copy.price_region) == (approx(11.4), "us-west-2")
    assert copy.monthly_usd == approx(11.4 * 0.021)
    # ... and a month of daily changes crosses regions at Tokyo's rate.
    moved = items["backup copy transfer between regions (Daily)"]
    assert moved.quantity == approx(10 * 0.02 * 730 / 24)
    assert moved.monthly_usd == approx(6.0833 * 0.09)
    free = {f.resource_type for f in result.free}
    assert {"AWS::Backup::BackupVault", "AWS::Backup::BackupSelection"} <= free


def test_backup_copy_to_a_region_without_prices_uses_the_source_price() -> None:
    result = estimate(_plan("arn:aws:backup:sa-east-1:123456789012:backup-vault:dr"))
    copy = items_of(result, "Plan")["backup copies kept in another region (Daily)"]
    assert copy.price_region == "ap-northeast-1"
    assert "sa-east-1 has no price table" in copy.basis


def test_backup_plan_selecting_nothing_known_is_not_priced() -> None:
    plan = _plan("arn:aws:backup:us-west-2:123456789012:backup-vault:dr")
    del plan["Selection"]
    result = estimate(plan)
    assert [g.logical_id for g in result.gaps] == ["Plan"]


def test_rds_snapshot_price_for_an_instance_plan() -> None:
    plan = _plan("arn:aws:backup:us-west-2:123456789012:backup-vault:dr")
    plan["Db"] = _instance()
    plan["Selection"]["Properties"]["BackupSelection"]["Resources"] = [
        {"Fn::Join": ["", ["arn:aws:rds:ap-northeast-1:123456789012:db:", {"Ref": "Db"}]]}
    ]
    result = estimate(plan, assumptions=DATA)
    assert items_of(result, "Plan")["backups kept (Daily)"].unit_usd == 0.095
