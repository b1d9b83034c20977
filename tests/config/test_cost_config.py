"""`cost` in config: the budget every environment states, the usage assumptions (defaults
merged key by key), and the rule that a region must have a price table. Each problem is one
line naming the file and the field."""

from __future__ import annotations

from pathlib import Path

import pytest

from config.cost import CostAssumptions
from config.loader import load_environments
from cost_estimate.prices import priced_regions
from tests.config.helpers import Mutation, combine, drop, edit_yaml, problems_of, put

PRICED = ", ".join(priced_regions())


@pytest.mark.parametrize(
    ("file", "change", "expected"),
    [
        pytest.param(
            "prod.yaml",
            drop("cost"),
            "config/prod.yaml: cost.budget_usd: required setting is missing",
            id="budget-missing",
        ),
        pytest.param(
            "prod.yaml",
            put("cost.budget_usd", 0),
            "config/prod.yaml: cost.budget_usd: 0: Input should be greater than 0",
            id="budget-zero",
        ),
        pytest.param(
            "stage.yaml",
            put("cost.budget_usd", "200"),
            "config/stage.yaml: cost.budget_usd: '200' is not a number",
            id="budget-a-string",
        ),
        pytest.param(
            "prod.yaml",
            put("cost.assumptions.requests", 5),
            "config/prod.yaml: cost.assumptions.requests: unknown key (allowed: "
            "requests_per_month, ",
            id="assumption-unknown",
        ),
        pytest.param(
            "test.yaml",
            put("cost.assumptions.data_out_gb_per_month", -1),
            "config/test.yaml: cost.assumptions.data_out_gb_per_month: -1: Input should be "
            "greater than or equal to 0",
            id="assumption-negative",
        ),
        pytest.param(
            "test.yaml",
            put("cost.assumptions.worker_busy_hours_per_month", 800),
            "config/test.yaml: cost.assumptions.worker_busy_hours_per_month: 800: Input should "
            "be less than or equal to 730",
            id="more-hours-than-a-month",
        ),
        pytest.param(
            "test.yaml",
            put("cost.assumptions.database_average_acu", 0.25),
            "config/test.yaml: cost.assumptions.database_average_acu: 0.25: Input should be "
            "greater than or equal to 0.5",
            id="acu-below-half",
        ),
        pytest.param(
            "defaults.yaml",
            put("cost.assumptions.releases_per_month", True),
            "config/defaults.yaml (as used by config/test.yaml): "
            "cost.assumptions.releases_per_month: True is not a number",
            id="assumption-a-boolean-in-defaults",  # Stage and Prod set their own
        ),
        pytest.param(
            "prod.yaml",
            combine(
                put("region", "sa-east-1"),
                put("network.availability_zones", ["sa-east-1a", "sa-east-1b", "sa-east-1c"]),
            ),
            f"config/prod.yaml: region: 'sa-east-1' has no price table in cost_estimate/prices/ "
            f"(priced: {PRICED}); add <region>.yaml there to use it (README 'Cost')",
            id="region-without-prices",
        ),
    ],
)
def test_bad_cost_config_is_one_line(
    config_dir: Path, file: str, change: Mutation, expected: str
) -> None:
    edit_yaml(config_dir / file, change)
    problems = problems_of(config_dir)
    assert len(problems) == 1, problems
    assert problems[0].startswith(expected), problems


def test_every_shipped_region_has_prices_and_edge_region_too() -> None:
    """The shipped environments' region, and us-east-1 (every Edge stack), are priced."""
    regions = {env.config.region for env in load_environments()}
    assert regions | {"us-east-1"} <= set(priced_regions())


def test_assumptions_merge_key_by_key_over_the_defaults() -> None:
    envs = {env.config.stage_name: env.config for env in load_environments()}
    defaults = CostAssumptions()
    prod = envs["Prod"].cost
    assert prod.budget_usd == 500
    assert prod.assumptions.requests_per_month == 10_000_000  # prod.yaml
    assert prod.assumptions.job_run_minutes == 5  # defaults.yaml
    # defaults.yaml states the model's own; test.yaml: the paused database's waking hours.
    test = envs["Test"].cost.assumptions
    assert test.database_awake_hours_per_month == 80
    assert test.model_copy(update={"database_awake_hours_per_month": 730}) == defaults
    assert {n: e.cost.budget_usd for n, e in envs.items()} == {
        "Test": 60,
        "Stage": 200,
        "Prod": 500,
    }
