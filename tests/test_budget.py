"""Budgets that page: one monthly AWS Budgets cost budget per environment, in its Monitoring
stack, filtered on the environment's `Environment` tag, notifying the alarm topic at 80 %
forecast and 100 % actual; the topic and its key let AWS Budgets (this account only)
publish. The budget and the usage assumptions also reach the assembly for `make cost`."""

from __future__ import annotations

from typing import Any

import pytest

from config.cost import COST_METADATA_TYPE
from l3_constructs.budget import BudgetProps
from tests.conftest import ALL_STAGES, Synth
from tests.helpers import ALL_STACKS, key_of, only, props, resources

STAGES = ALL_STAGES
BUDGET = "AWS::Budgets::Budget"


def _budget(synth: Synth, stage: str) -> dict[str, Any]:
    _, budget = only(synth.template(stage, "Monitoring"), BUDGET)
    return props(budget)


@pytest.mark.parametrize("stage", STAGES)
def test_one_monthly_cost_budget_on_the_environment_tag(synth: Synth, stage: str) -> None:
    config = synth.configs[stage]
    data = _budget(synth, stage)["Budget"]
    assert data["BudgetType"] == "COST"
    assert data["TimeUnit"] == "MONTHLY"
    assert data["BudgetLimit"] == {"Amount": config.cost.budget_usd, "Unit": "USD"}
    assert data["BudgetName"] == f"{stage}-monthly-cost"
    assert data["CostFilters"] == {"TagKeyValue": [f"user:Environment${config.tags.environment}"]}
    # ... the tag every stack of the environment puts on its resources.
    for (tagged_stage, _stack), artifact in synth.artifacts.items():
        if tagged_stage == stage:
            assert artifact["tags"]["Environment"] == config.tags.environment


@pytest.mark.parametrize("stage", STAGES)
def test_budget_pages_the_alarm_topic_at_80_forecast_and_100_actual(
    synth: Synth, stage: str
) -> None:
    topic_id, _ = only(synth.template(stage, "Monitoring"), "AWS::SNS::Topic")
    notifications = _budget(synth, stage)["NotificationsWithSubscribers"]
    seen = {
        (n["Notification"]["NotificationType"], n["Notification"]["Threshold"]): n
        for n in notifications
    }
    assert set(seen) == {("FORECASTED", 80), ("ACTUAL", 100)}
    for entry in notifications:
        assert entry["Notification"]["ComparisonOperator"] == "GREATER_THAN"
        assert entry["Notification"]["ThresholdType"] == "PERCENTAGE"
        assert entry["Subscribers"] == [{"SubscriptionType": "SNS", "Address": {"Ref": topic_id}}]


@pytest.mark.parametrize("stage", STAGES)
def test_only_this_accounts_budgets_may_publish_to_the_encrypted_topic(
    synth: Synth, stage: str
) -> None:
    config = synth.configs[stage]
    template = synth.template(stage, "Monitoring")
    topic_id, _ = only(template, "AWS::SNS::Topic")
    (policy,) = resources(template, "AWS::SNS::TopicPolicy").values()
    (publish,) = [
        s
        for s in props(policy)["PolicyDocument"]["Statement"]
        if s.get("Principal") == {"Service": "budgets.amazonaws.com"}
    ]
    assert publish["Effect"] == "Allow"
    assert publish["Action"] == "sns:Publish"
    assert publish["Resource"] == {"Ref": topic_id}
    assert publish["Condition"]["StringEquals"] == {"aws:SourceAccount": config.account}
    assert publish["Condition"]["ArnLike"] == {
        "aws:SourceArn": {
            "Fn::Join": ["", ["arn:", {"Ref": "AWS::Partition"}, f":budgets::{config.account}:*"]]
        }
    }
    key_template, key_id = key_of(synth, stage, "Monitoring")
    key = key_template["Resources"][key_id]
    (encrypt,) = [
        s
        for s in props(key)["KeyPolicy"]["Statement"]
        if s.get("Principal") == {"Service": "budgets.amazonaws.com"}
    ]
    assert sorted(encrypt["Action"]) == ["kms:Decrypt", "kms:GenerateDataKey*"]
    assert encrypt["Condition"] == {
        "StringEquals": {"kms:ViaService": f"sns.{config.region}.amazonaws.com"}
    }


@pytest.mark.parametrize("stage", STAGES)
def test_no_other_stack_has_a_budget(synth: Synth, stage: str) -> None:
    for stack in ALL_STACKS:
        if stack != "Monitoring" and (stage, stack) in synth.templates:
            assert not resources(synth.template(stage, stack), BUDGET), stack


@pytest.mark.parametrize("stage", STAGES)
def test_the_assembly_carries_what_make_cost_needs(synth: Synth, stage: str) -> None:
    """Budget, region, tag and assumptions, as metadata of the Monitoring stack (only)."""
    config = synth.configs[stage]
    assembly = synth.stage(stage)
    assert [s.name for s in assembly.stacks.values() if s.metadata_of_type(COST_METADATA_TYPE)] == [
        "Monitoring"
    ]
    assert assembly.metadata_of_type(COST_METADATA_TYPE) == [
        {
            "region": config.region,
            "environment_tag": config.tags.environment,
            "budget_usd": config.cost.budget_usd,
            "assumptions": config.cost.assumptions.model_dump(mode="json", exclude_none=True),
        }
    ]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"amount_usd": 0}, "the amount must be positive"),
        ({"forecast_percent": 0}, "is not a threshold percent"),
        ({"actual_percent": 1001}, "is not a threshold percent"),
    ],
)
def test_budget_props_refuse_nonsense(change: dict[str, Any], message: str) -> None:
    base: dict[str, Any] = {
        "name": "x",
        "amount_usd": 10,
        "tag_key": "Environment",
        "tag_value": "x",
    }
    with pytest.raises(ValueError, match=message):
        BudgetProps(**{**base, **change})
