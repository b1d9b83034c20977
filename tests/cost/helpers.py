"""Small hand-written stages for the estimator's unit tests: a few resources, the cost
metadata the app writes, and a region; no CDK, no synth."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest

from config.cost import COST_METADATA_TYPE, CostAssumptions
from cost_estimate.assembly import Resource, Stack, Stage
from cost_estimate.estimate import estimate_stage
from cost_estimate.model import Estimate, LineItem

TOKYO = "ap-northeast-1"
H = 730.0


def stage(
    resources: Mapping[str, Mapping[str, Any]],
    *,
    region: str = TOKYO,
    assumptions: Mapping[str, Any] | None = None,
    budget: float = 100,
    extra: Mapping[str, tuple[str, Mapping[str, Mapping[str, Any]]]] | None = None,
) -> Stage:
    """A stage `Fix` with one stack `Main` in `region` holding `resources` (logical id ->
    {"Type", "Properties"}), plus `extra` stacks (name -> (region, resources))."""
    metadata = {
        "region": region,
        "environment_tag": "fix",
        "budget_usd": budget,
        "assumptions": dict(assumptions or {}),
    }
    stacks = {"Main": (region, resources), **(extra or {})}
    built = {}
    for name, (stack_region, body) in stacks.items():
        built[name] = Stack(
            stage="Fix",
            name=name,
            stack_name=f"Fix-{name}",
            account="123456789012",
            region=stack_region,
            template={"Resources": dict(body)},
            metadata={"/Fix/Main": [{"type": COST_METADATA_TYPE, "data": metadata}]}
            if name == "Main"
            else {},
            resources={
                logical_id: Resource(
                    stack=name,
                    logical_id=logical_id,
                    type=str(r["Type"]),
                    properties=r.get("Properties", {}),
                    region=stack_region,
                )
                for logical_id, r in body.items()
            },
        )
    return Stage(name="Fix", stacks=built)


def estimate(resources: Mapping[str, Mapping[str, Any]], **kwargs: Any) -> Estimate:
    return estimate_stage(stage(resources, **kwargs))


def items_of(result: Estimate, logical_id: str) -> dict[str, LineItem]:
    """The line items of one resource, by item name."""
    found = {i.item: i for i in result.items if i.logical_id == logical_id}
    assert len(found) == len([i for i in result.items if i.logical_id == logical_id])
    return found


def total_of(result: Estimate, logical_id: str) -> float:
    return sum(i.monthly_usd for i in result.items if i.logical_id == logical_id)


def approx(value: float) -> Any:
    return pytest.approx(value, abs=0.005)


def res(type_: str, **properties: Any) -> dict[str, Any]:
    return {"Type": type_, "Properties": properties}


DEFAULTS = CostAssumptions()
