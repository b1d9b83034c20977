"""The estimate of the whole app (the session's one synth): every stage, shipped and Dev,
prices every resource with a charge (nothing "not priced"), carries its budget, and the
shipped environments fit their budgets (not yet: issue 15's second part)."""

from __future__ import annotations

from pathlib import Path

import pytest

from cost_estimate.__main__ import main
from cost_estimate.estimate import estimate_stage
from cost_estimate.model import Estimate
from tests.conftest import ALL_STAGES, Synth

STAGES = ALL_STAGES
_CACHE: dict[str, Estimate] = {}


def _estimate(synth: Synth, stage: str) -> Estimate:
    if stage not in _CACHE:
        _CACHE[stage] = estimate_stage(synth.stage(stage))
    return _CACHE[stage]


@pytest.mark.parametrize("stage", STAGES)
def test_every_resource_with_a_charge_is_priced(synth: Synth, stage: str) -> None:
    result = _estimate(synth, stage)
    assert [(g.logical_id, g.resource_type, g.reason) for g in result.gaps] == []
    assert result.total_usd > 0


@pytest.mark.parametrize("stage", STAGES)
def test_the_estimate_uses_the_stages_budget_region_and_assumptions(
    synth: Synth, stage: str
) -> None:
    config = synth.configs[stage]
    result = _estimate(synth, stage)
    assert result.budget_usd == config.cost.budget_usd
    assert result.region == config.region
    assert result.assumptions == config.cost.assumptions.model_dump(mode="json")
    # The Edge stack's regional resources take us-east-1's prices; a backup copied to
    # another region takes that region's.
    backup = config.database.backup
    copy = backup.copy_to_region if backup is not None else None
    regions = sorted({config.region, "us-east-1", *([copy] if copy else [])})
    assert sorted(result.price_files) == [f"cost_estimate/prices/{r}.yaml" for r in regions]


@pytest.mark.parametrize("stage", STAGES)
def test_what_the_environment_runs_all_month_is_fixed(synth: Synth, stage: str) -> None:
    """Spot checks against the config: the database, the load balancer, every key."""
    config = synth.configs[stage]
    result = _estimate(synth, stage)
    kinds = {(i.resource_type, i.item): i.kind for i in result.items}
    engine, cls = config.database.engine, f"db.{config.database.instance_type}"
    az = "Multi-AZ" if config.database.multi_az else "Single-AZ"
    if config.database.kind == "instance":
        assert kinds[("AWS::RDS::DBInstance", f"RDS {engine} {cls} instance ({az})")] == "fixed"
    elif config.database.serverless_instances:
        # Aurora Serverless v2: capacity is paid while awake (usage), storage all month.
        items = {i.item for i in result.items if i.resource_type.startswith("AWS::RDS::")}
        assert any("Serverless v2" in item for item in items), items
    assert kinds[("AWS::ElasticLoadBalancingV2::LoadBalancer", "load balancer hours")] == "fixed"
    keys = [i for i in result.items if i.resource_type == "AWS::KMS::Key"]
    assert len(keys) == len([t for t in _types(synth, stage) if t == "AWS::KMS::Key"])


def _types(synth: Synth, stage: str) -> list[str]:
    return [
        r["Type"]
        for (s, _), template in synth.templates.items()
        if s == stage
        for r in template["Resources"].values()
    ]


@pytest.mark.parametrize(
    "stage",
    [
        "Test",
        "Stage",
        "Prod",
    ],
)
def test_shipped_environment_fits_its_budget(synth: Synth, stage: str) -> None:
    result = _estimate(synth, stage)
    assert result.budget_usd is not None
    assert not result.over_budget, (
        f"{stage}: ${result.total_usd:.2f} a month over the budget ${result.budget_usd:.2f}"
    )


def test_make_cost_writes_a_report_pair_per_stage(synth: Synth, tmp_path: Path) -> None:
    assert main(["--assembly", str(synth.outdir), "--out", str(tmp_path)]) == 0
    written = sorted(p.name for p in tmp_path.iterdir())
    assert written == sorted(f"{s}.{ext}" for s in STAGES for ext in ("json", "md"))
