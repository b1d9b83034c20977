"""Security stack: thin wiring from config to `SecurityBaseline` (the environment's region).

GuardDuty, AWS Config and CloudTrail are account-level services (one detector and one
recorder per account and region, one multi-region trail per account): they guard everything
in the account, not one of the app's stacks, so they get a stack of their own that any
environment can switch on or off without touching the others.
"""

from __future__ import annotations

from typing import Any

from constructs import Construct

from config.models import EnvironmentConfig
from l3_constructs.security import (
    SecurityBaseline,
    SecurityBaselineProps,
    baseline_config_rules,
    real_data_config_rules,
)
from stacks.base import PlatformStack


class SecurityStack(PlatformStack):
    def __init__(
        self, scope: Construct, construct_id: str, *, config: EnvironmentConfig, **kwargs: Any
    ) -> None:
        super().__init__(scope, construct_id, config=config, **kwargs)
        s = config.security
        real_data = config.data_protection.holds_real_data
        self.baseline = SecurityBaseline(
            self,
            "Baseline",
            props=SecurityBaselineProps(
                guardduty=s.guardduty,
                config_recorder=s.config_recorder,
                cloudtrail=s.cloudtrail,
                # Off: GuardDuty's Fargate agent is a sidecar its own ECR repository serves,
                # which the tasks' execution roles may not pull from (README, Security).
                guardduty_runtime_monitoring=False,
                trail_retention_days=s.trail_retention_days,
                log_retention_days=s.log_retention_days,
                config_rules=baseline_config_rules()
                + (real_data_config_rules() if real_data else ()),
            ),
        )
