"""The checked-in price tables (one per region, dated, each price with its page) and the
schedule arithmetic (how often a `rate()` / `cron()` expression fires in a month)."""

from __future__ import annotations

import datetime
from pathlib import Path

import pytest
import yaml

from cost_estimate.prices import (
    PRICES_DIR,
    MissingPriceError,
    PriceTableError,
    RegionNotPricedError,
    load_prices,
    priced_regions,
)
from cost_estimate.schedules import ScheduleError, runs_per_month

REGIONS = priced_regions()


def test_the_tables_cover_the_shipped_region_and_us_east_1() -> None:
    assert {"ap-northeast-1", "us-east-1"} <= set(REGIONS)


@pytest.mark.parametrize("region", REGIONS)
def test_every_table_prices_the_same_things_dated_with_sources(region: str) -> None:
    table = load_prices(region)
    reference = load_prices("us-east-1")
    assert set(table.prices) == set(reference.prices)
    assert table.as_of <= datetime.date.today()
    assert table.currency == "USD"
    for key, price in table.prices.items():
        assert price.source.startswith("https://aws.amazon.com/"), key
        assert price.unit, key
        if price.usd_by is not None:
            assert reference.prices[key].usd_by is not None
            assert set(price.usd_by) == set(reference.prices[key].usd_by or {}), key


@pytest.mark.parametrize(
    "key",
    [
        "vpc.nat_gateway_hour",
        "vpc.interface_endpoint_zone_hour",
        "vpc.public_ipv4_hour",
        "elb.alb_hour",
        "elb.alb_lcu_hour",
        "fargate.vcpu_hour",
        "fargate.spot_vcpu_hour",
        "ec2.instance_hour",
        "ebs.gb_month",
        "rds.postgres_instance_hour",
        "rds.mysql_instance_hour",
        "rds.storage_gb_month",
        "aurora.acu_hour",
        "aurora.instance_hour",
        "rds_proxy.vcpu_hour",
        "kms.key_month",
        "secretsmanager.secret_month",
        "waf.web_acl_month",
        "waf.rule_month",
        "waf.million_requests",
        "cloudfront.gb_out",
        "cloudfront.https_10k",
        "synthetics.canary_run",
        "cloudwatch.alarm_metric_month",
        "cloudwatch.dashboard_month",
        "cloudwatch.log_ingest_gb",
        "cloudwatch.log_storage_gb_month",
        "cloudwatch.metric_month",
        "guardduty.cloudtrail_million_events",
        "config.configuration_item",
        "config.rule_evaluation",
        "sqs.million_requests",
        "scheduler.million_invocations",
        "codepipeline.v2_action_minute",
        "codebuild.minute",
        "s3.standard_gb_month",
        "route53.hosted_zone_month",
        "backup.rds_snapshot_gb_month",
        "backup.aurora_snapshot_gb_month",
    ],
)
def test_every_billable_kind_the_issue_names_has_a_price(key: str) -> None:
    assert key in load_prices("ap-northeast-1").prices


def test_lookup_by_class_and_missing_prices() -> None:
    tokyo = load_prices("ap-northeast-1")
    assert tokyo.usd("rds.postgres_instance_hour", "db.t4g.micro") == 0.025
    assert tokyo.usd("aurora.instance_hour", "aurora-postgresql", "db.r6g.large") == 0.313
    with pytest.raises(MissingPriceError, match=r"no ec2\.instance_hour price for x1\.mega"):
        tokyo.usd("ec2.instance_hour", "x1.mega")
    with pytest.raises(MissingPriceError, match=r"has no price 'nope\.thing'"):
        tokyo.usd("nope.thing")
    with pytest.raises(MissingPriceError, match="is a table; say which entry"):
        tokyo.usd("ec2.instance_hour")
    with pytest.raises(RegionNotPricedError, match="region 'eu-south-2' has no price table"):
        load_prices("eu-south-2")


def _write(directory: Path, region: str, change: dict[str, object]) -> Path:
    data = yaml.safe_load((PRICES_DIR / "us-east-1.yaml").read_text())
    data["region"] = region
    data.update(change)
    path = directory / f"{region}.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"as_of": "soon"}, "as_of 'soon' is not a date"),
        ({"currency": "JPY"}, "currency must be USD"),
        ({"prices": {"kms": {"key_month": {"usd": 1, "unit": "key-month"}}}},
         "kms.key_month.source must be the https:// page"),
        ({"prices": {"kms": {"key_month": {"usd": -1, "unit": "u", "source": "https://x"}}}},
         "kms.key_month.usd: -1 is not a price"),
        ({"prices": {"kms": {"key_month": {"usd": 1, "usd_by": {"a": 1}, "unit": "u",
                                           "source": "https://x"}}}},
         "kms.key_month needs exactly one of usd, usd_by"),
    ],
)  # fmt: skip
def test_a_malformed_table_names_file_and_key(
    tmp_path: Path, change: dict[str, object], message: str
) -> None:
    region = "xx-test-1"  # each case its own tmp_path: no cached table is reused
    _write(tmp_path, region, change)
    with pytest.raises(PriceTableError, match=message):
        load_prices(region, tmp_path)


@pytest.mark.parametrize(
    ("expression", "runs"),
    [
        ("rate(5 minutes)", 8760),
        ("rate(1 hour)", 730),
        ("rate(2 days)", 730 / 48),
        ("cron(0 3 * * ? *)", 730 / 24),
        ("cron(0/15 * * * ? *)", 4 * 730),
        ("cron(0 9 ? * MON-FRI *)", 5 * 730 / 24 / 7),
        ("cron(0 0 1 * ? *)", 1),
        ("cron(0 5 ? * SUN *)", 730 / 24 / 7),
        ("cron(0 0,12 * * ? *)", 730 / 12),
        # The canary's schedules beyond an hour (l3_constructs.observability.canary_schedule).
        ("cron(0 0/2 * * ? *)", 730 / 2),
        ("cron(0 0/3 * * ? *)", 730 / 3),
        ("cron(0 0/8 * * ? *)", 730 / 8),
        ("cron(0 0/12 * * ? *)", 730 / 12),
        ("cron(0 0 * * ? *)", 730 / 24),
        ("at(2026-01-01T00:00:00)", 0),
    ],
)
def test_runs_a_month(expression: str, runs: float) -> None:
    assert runs_per_month(expression) == pytest.approx(runs)


@pytest.mark.parametrize("expression", ["every day", "cron(0 3 * *)", "rate(0 minutes)"])
def test_unreadable_schedules(expression: str) -> None:
    with pytest.raises(ScheduleError):
        runs_per_month(expression)
