"""The estimate around the rules: what is not priced is listed (never zero), what costs
nothing is listed with its reason, a region without prices or an assembly without the cost
metadata is a clear error; the reports (Markdown, JSON) and `python -m cost_estimate`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from config.cost import COST_METADATA_TYPE
from cost_estimate.__main__ import main
from cost_estimate.estimate import NO_RULE, EstimateError, estimate_stage
from cost_estimate.model import CATEGORIES
from cost_estimate.report import render_json, render_markdown
from tests.cost.helpers import approx, estimate, res, stage

MIXED: dict[str, dict[str, Any]] = {
    "Nat": res("AWS::EC2::NatGateway"),
    "Key": res("AWS::KMS::Key"),
    "Files": res("AWS::EFS::FileSystem"),
    "Role": res("AWS::IAM::Role"),
    "Role2": res("AWS::IAM::Role"),
    "Hook": res("Custom::Anything", ServiceToken="x"),
    "Budget": res("AWS::Budgets::Budget", Budget={"BudgetLimit": {"Amount": 40, "Unit": "USD"}}),
}


def test_an_unknown_type_is_not_priced_never_zero() -> None:
    result = estimate(MIXED)
    assert [(g.logical_id, g.resource_type, g.reason) for g in result.gaps] == [
        ("Files", "AWS::EFS::FileSystem", NO_RULE)
    ]
    assert not [i for i in result.items if i.logical_id == "Files"]


def test_free_types_are_listed_with_count_and_reason() -> None:
    result = estimate(MIXED)
    free = {f.resource_type: (f.count, f.reason) for f in result.free}
    assert free["AWS::IAM::Role"] == (2, "IAM has no charge")
    assert "handler function" in free["Custom::Anything"][1]
    assert "without actions" in free["AWS::Budgets::Budget"][1]


def test_budget_comes_from_the_budget_resource_and_marks_over() -> None:
    result = estimate(MIXED, budget=999)  # the deployed budget wins over the metadata
    assert result.budget_usd == 40
    assert result.total_usd == approx(730 * 0.062 + 5 * 0.062 + 1.00)
    assert result.over_budget
    under = estimate({"Key": res("AWS::KMS::Key")}, budget=5)
    assert (under.budget_usd, under.over_budget) == (5, False)


def test_fixed_and_usage_add_up_to_the_total() -> None:
    result = estimate(MIXED)
    assert result.kind_usd("fixed") == approx(730 * 0.062 + 1.00)
    assert result.kind_usd("usage") == approx(5 * 0.062)
    assert result.kind_usd("fixed") + result.kind_usd("usage") == approx(result.total_usd)
    assert [r.logical_id for r in result.by_resource()] == ["Nat", "Key"]


def test_a_stack_in_a_region_without_prices_is_an_error() -> None:
    broken = stage({"Key": res("AWS::KMS::Key")}, extra={"Far": ("eu-central-1", {})})
    with pytest.raises(EstimateError, match=r"stage Fix: region 'eu-central-1' has no price "):
        estimate_stage(broken)
    with pytest.raises(EstimateError, match="sa-east-1"):
        estimate({}, region="sa-east-1")


def test_an_assembly_without_cost_metadata_is_an_error() -> None:
    fixture = stage({})
    fixture.stacks["Main"].metadata.clear()  # type: ignore[attr-defined]
    with pytest.raises(EstimateError, match=f"no '{COST_METADATA_TYPE}' metadata"):
        estimate_stage(fixture)


def test_assumptions_left_out_take_the_defaults() -> None:
    result = estimate({}, assumptions={"requests_per_month": 7})
    assert result.assumptions["requests_per_month"] == 7
    assert result.assumptions["job_run_minutes"] == 5


# --- reports ---------------------------------------------------------------------------------


def test_markdown_puts_total_and_assumptions_at_the_top_then_biggest_first() -> None:
    text = render_markdown(estimate(MIXED, assumptions={"nat_data_gb_per_month": 10}))
    lines = text.splitlines()
    assert lines[0] == "# Fix: estimated monthly cost"
    assert "ap-northeast-1.yaml" in lines[2]
    assert "as of 2026-" in lines[2]
    assert text.index("a month**") < text.index("## Assumptions") < text.index("## Where the")
    assert "| nat_data_gb_per_month | 10 |" in text
    assert "**OVER BUDGET** by $6.88" in text  # 45.26 + 0.62 + 1.00 - 40
    # The chart: the largest area gets the full bar.
    chart = text[text.index("```") : text.index("```", text.index("```") + 3)]
    assert "Network" in chart.splitlines()[1]
    assert "█" * 30 in chart.splitlines()[1]
    items = text[text.index("## Line items") :]
    assert items.index("NAT gateway hours") < items.index("KMS key") < items.index("NAT data")
    assert "[$0.062](https://aws.amazon.com/vpc/pricing/)" in items
    assert "| Main/Files | AWS::EFS::FileSystem | no pricing rule for this type |" in text
    assert "| AWS::IAM::Role | 2 | IAM has no charge |" in text


def test_json_report_has_every_part() -> None:
    data = json.loads(render_json(estimate(MIXED)))
    assert data["total_usd"] == round(data["fixed_usd"] + data["usage_usd"], 2)
    assert data["budget_usd"] == 40
    assert data["over_budget"] is True
    assert data["currency"] == "USD"
    assert data["prices"]["files"] == ["cost_estimate/prices/ap-northeast-1.yaml"]
    assert data["not_priced"] == [
        {"stack": "Main", "logical_id": "Files", "type": "AWS::EFS::FileSystem", "reason": NO_RULE}
    ]
    first = data["items"][0]
    assert first["item"] == "NAT gateway hours"
    assert first["price"]["source"] == "https://aws.amazon.com/vpc/pricing/"
    assert first["monthly_usd"] == approx(45.26)
    assert set(data["by_category"]) <= set(CATEGORIES)
    assert data["resources"][0]["logical_id"] == "Nat"


def _write_assembly(
    root: Path, resources: dict[str, Any], *, region: str = "ap-northeast-1"
) -> Path:
    """A one-stage, one-stack cloud assembly on disk, as `cdk synth` lays it out."""
    out = root / "cdk.out"
    stage_dir = out / "assembly-Fix"
    stage_dir.mkdir(parents=True)
    (out / "manifest.json").write_text(json.dumps({"version": "1", "artifacts": {}}))
    (stage_dir / "Main.template.json").write_text(json.dumps({"Resources": resources}))
    metadata = {"region": region, "environment_tag": "fix", "budget_usd": 1, "assumptions": {}}
    manifest = {
        "artifacts": {
            "FixMain": {
                "type": "aws:cloudformation:stack",
                "environment": f"aws://123456789012/{region}",
                "displayName": "Fix/Main",
                "properties": {"templateFile": "Main.template.json", "stackName": "Fix-Main"},
                "metadata": {"/Fix/Main": [{"type": COST_METADATA_TYPE, "data": metadata}]},
            }
        }
    }
    (stage_dir / "manifest.json").write_text(json.dumps(manifest))
    return out


def test_cli_writes_both_reports_and_marks_over_budget(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = _write_assembly(tmp_path, {"Key": res("AWS::KMS::Key"), "Key2": res("AWS::KMS::Key")})
    assert main(["--assembly", str(out)]) == 0
    assert (out / "cost" / "Fix.md").read_text().startswith("# Fix: estimated monthly cost")
    assert json.loads((out / "cost" / "Fix.json").read_text())["total_usd"] == 2.0
    printed = capsys.readouterr().out
    assert printed.startswith("Fix ")
    assert "$2.00 a month, budget $1.00  OVER BUDGET" in printed
    assert main(["--assembly", str(out), "--fail-over-budget"]) == 1


def test_cli_errors_are_one_line_and_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--assembly", str(tmp_path / "nothing")]) == 2
    assert "is not a cloud assembly (no manifest.json): make synth" in capsys.readouterr().err
    out = _write_assembly(tmp_path, {}, region="me-south-1")
    assert main(["--assembly", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("cost: stage Fix: region 'me-south-1' has no price table")
    assert len(err.splitlines()) == 1
