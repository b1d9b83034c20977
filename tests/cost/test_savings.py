"""The savings acknowledgments name (cost_estimate/savings.py): the same list prices as
`make cost`, and the controls Test gives up for money say what they save."""

from __future__ import annotations

import re

import pytest

from cost_estimate import savings
from cost_estimate.prices import MissingPriceError
from tests.conftest import Synth

TOKYO = "ap-northeast-1"


def test_a_standby_costs_its_hours_and_its_storage() -> None:
    # db.t4g.micro PostgreSQL: $0.025 an hour x 730 h, and 20 GB of gp3 at $0.138.
    usd = savings.rds_standby(TOKYO, engine="postgres", instance_class="t4g.micro", storage_gb=20)
    assert usd == pytest.approx(0.025 * 730 + 20 * 0.138)


def test_a_nat_gateway_costs_its_hours_and_its_address() -> None:
    # $0.062 an hour for the gateway, $0.005 for its public IPv4 address, 730 hours.
    assert savings.nat_gateways(TOKYO, 1) == pytest.approx((0.062 + 0.005) * 730)


def test_enhanced_container_insights_is_priced_as_its_metrics_and_logs() -> None:
    # 13 cluster + (13 + 10) x 2 services + 10 x 2 tasks + 8 x 2 containers = 95 metrics at
    # $0.30, plus 2 tasks x 150 MB of performance logs at $0.76 a GB.
    usd = savings.container_insights(TOKYO, services=2, tasks=2, containers=2)
    assert usd == pytest.approx(95 * 0.30 + 2 * 150 / 1024 * 0.76)


def test_a_missing_price_leaves_the_sentence_out() -> None:
    def missing() -> float:
        raise MissingPriceError("no price")

    assert savings.note(missing, "x") == ""
    assert savings.note(lambda: 12.345, "a thing") == (
        "Saves about $12.35 a month at list prices (a thing; `make cost`)."
    )


@pytest.mark.parametrize(
    ("rule", "path"),
    [
        ("AwsSolutions-ECS4", "Test/Compute/Cluster/"),
        # Dev: Test's database is Aurora since issue 15, whose single writer no rule flags;
        # Dev keeps Test's former single-AZ instance.
        ("AwsSolutions-RDS3", "Dev/Database/"),
        ("NIST.800.53.R5-RDSEnhancedMonitoringEnabled", "Test/Database/"),
        ("NIST.800.53.R5-VPCNoUnrestrictedRouteToIGW", "Test/Network/"),
    ],
)
def test_test_names_what_each_control_given_up_saves(synth: Synth, rule: str, path: str) -> None:
    reasons = {
        v.get("reason", "")
        for pack in synth.report["pluginReports"]
        for v in pack.get("suppressedViolations", [])
        if v["ruleName"] == rule
        and any(c["constructPath"].startswith(path) for c in v["violatingConstructs"])
    }
    assert reasons, f"{rule} not acknowledged under {path}"
    assert all(re.search(r"Saves about \$\d+\.\d\d a month", r) for r in reasons), reasons
