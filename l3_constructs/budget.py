"""`PlatformBudget`: a monthly AWS Budgets cost budget that pages an alarm topic.

The budget covers the cost of every resource carrying one tag (cost filter
`user:<key>$<value>`: the tag must be activated as a cost allocation tag in the Billing
console once per account), and notifies the topic when the month's forecast reaches
`forecast_percent` and when the actual spend reaches `actual_percent` of the limit.
The topic's policy lets AWS Budgets publish (this account's budgets only), and its key
lets it encrypt the message through SNS. A budget without actions has no charge.
"""

from __future__ import annotations

from dataclasses import dataclass

from aws_cdk import Aws, Stack
from aws_cdk import aws_budgets as budgets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sns as sns
from constructs import Construct

BUDGETS_PRINCIPAL = "budgets.amazonaws.com"


@dataclass(frozen=True)
class BudgetProps:
    name: str
    amount_usd: float
    tag_key: str
    tag_value: str
    forecast_percent: float = 80
    actual_percent: float = 100

    def __post_init__(self) -> None:
        if self.amount_usd <= 0:
            raise ValueError(f"budget {self.name!r}: the amount must be positive")
        for percent in (self.forecast_percent, self.actual_percent):
            if not 0 < percent <= 1000:
                raise ValueError(f"budget {self.name!r}: {percent} is not a threshold percent")


class PlatformBudget(Construct):
    """Exposes `budget` (the `CfnBudget`)."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        props: BudgetProps,
        topic: sns.ITopic,
        key: kms.IKey,
    ) -> None:
        super().__init__(scope, construct_id)
        stack = Stack.of(self)
        subscribers = [
            budgets.CfnBudget.SubscriberProperty(subscription_type="SNS", address=topic.topic_arn)
        ]
        self.budget = budgets.CfnBudget(
            self,
            "Budget",
            budget=budgets.CfnBudget.BudgetDataProperty(
                budget_name=props.name,
                budget_type="COST",
                time_unit="MONTHLY",
                budget_limit=budgets.CfnBudget.SpendProperty(amount=props.amount_usd, unit="USD"),
                cost_filters={"TagKeyValue": [f"user:{props.tag_key}${props.tag_value}"]},
            ),
            notifications_with_subscribers=[
                budgets.CfnBudget.NotificationWithSubscribersProperty(
                    notification=budgets.CfnBudget.NotificationProperty(
                        notification_type=kind,
                        comparison_operator="GREATER_THAN",
                        threshold=percent,
                        threshold_type="PERCENTAGE",
                    ),
                    subscribers=subscribers,
                )
                for kind, percent in (
                    ("FORECASTED", props.forecast_percent),
                    ("ACTUAL", props.actual_percent),
                )
            ],
        )
        principal = iam.ServicePrincipal(BUDGETS_PRINCIPAL)
        topic.add_to_resource_policy(
            iam.PolicyStatement(
                sid="AllowBudgets",
                principals=[principal],
                actions=["sns:Publish"],
                resources=[topic.topic_arn],
                conditions={
                    "StringEquals": {"aws:SourceAccount": stack.account},
                    "ArnLike": {"aws:SourceArn": f"arn:{Aws.PARTITION}:budgets::{stack.account}:*"},
                },
            )
        )
        key.add_to_resource_policy(
            iam.PolicyStatement(
                sid="AllowBudgetsThroughSns",
                principals=[principal],
                actions=["kms:Decrypt", "kms:GenerateDataKey*"],
                resources=["*"],
                conditions={
                    "StringEquals": {"kms:ViaService": f"sns.{stack.region}.amazonaws.com"}
                },
            )
        )
