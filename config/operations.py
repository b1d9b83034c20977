"""Config of operations: alarms and their thresholds, the dashboard's canary, tracing, the
account-level security baseline, data-protection rules and the extra cdk-nag packs."""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    EmailStr,
    Field,
    StrictBool,
    StrictInt,
    StrictStr,
    model_validator,
)

from config.primitives import ConfigModel, FieldError, RetentionDays, pattern, unique
from config.service_parts import Percent
from l3_constructs.limits import canary_interval

_SLACK_WORKSPACE_RE = re.compile(r"^T[A-Z0-9]{8,}$")
_SLACK_CHANNEL_RE = re.compile(r"^[CG][A-Z0-9]{8,}$")
Count = Annotated[StrictInt, Field(ge=1, le=1_000_000)]


class AlarmThresholds(ConfigModel):
    """What pages: each alarm's threshold (shipped values follow the design notes)."""

    ecs_cpu_percent: Percent = Field(80, description="ECS service CPU utilisation above this.")
    ecs_memory_percent: Percent = Field(80, description="ECS service memory utilisation.")
    alb_5xx_per_5_minutes: Count = Field(10, description="5xx answers per 5 minutes above this.")
    response_time_p95_ms: Annotated[StrictInt, Field(ge=10, le=60_000)] = Field(
        1000, description="Target response time p95 (milliseconds) above this."
    )
    unhealthy_targets: Annotated[StrictInt, Field(ge=0, le=1000)] = Field(
        0, description="Unhealthy targets above this."
    )
    rds_cpu_percent: Percent = Field(80, description="Database CPU utilisation above this.")
    rds_connections_percent: Percent = Field(
        80, description="Connections above this share of the instance class's max_connections."
    )
    rds_max_connections: Annotated[StrictInt, Field(ge=1, le=100_000)] | None = Field(
        None,
        description="max_connections the share is of; null: the engine's default for "
        "database.instance_type.",
    )
    rds_free_storage_gb: Annotated[StrictInt, Field(ge=1, le=65536)] = Field(
        5, description="Free storage below this (GiB)."
    )
    rds_replica_lag_seconds: Annotated[StrictInt, Field(ge=1, le=86_400)] = Field(
        60, description="Read replica or Aurora reader lag above this (seconds)."
    )
    rds_capacity_percent: Percent = Field(
        90, description="Aurora Serverless v2 capacity in use (% of max_acu) above this."
    )
    error_logs_per_5_minutes: Count = Field(
        10, description="Application error-log lines per 5 minutes above this."
    )
    waf_blocked_per_5_minutes: Count = Field(
        1000, description="Requests the web ACL blocked per 5 minutes above this (a spike)."
    )
    cloudfront_5xx_rate_percent: Percent = Field(
        5, description="CloudFront 5xx error rate (%) above this."
    )


class Slack(ConfigModel):
    """AWS Chatbot delivery of the alarm topic to one Slack channel (workspace authorised
    once in the Chatbot console)."""

    workspace_id: Annotated[StrictStr, pattern(_SLACK_WORKSPACE_RE, "a Slack workspace id")]
    channel_id: Annotated[StrictStr, pattern(_SLACK_CHANNEL_RE, "a Slack channel id")]


class Canary(ConfigModel):
    """A CloudWatch Synthetics canary calling the health path through CloudFront."""

    enabled: StrictBool = Field(True, description="Run the canary (and alarm on it).")
    interval_minutes: Annotated[
        StrictInt, Field(ge=1, le=1440), AfterValidator(canary_interval)
    ] = Field(
        5,
        description="Minutes between runs: 1 to 60 (a rate), or 120, 180, 240, 360, 480, 720 "
        "or 1440 (a UTC cron every 2 to 24 hours, from midnight).",
    )
    path: Annotated[StrictStr, Field(pattern=r"^/[\x21-\x7e]*$")] | None = Field(
        None,
        description="Path on the first `edge.domain_names`; default: the default web "
        "service's health check path.",
    )


class Observability(ConfigModel):
    """Alarms, their topic, the dashboard, the canary and tracing."""

    alarm_emails: Annotated[tuple[EmailStr, ...], unique()] = Field(
        (), description="Subscribed by e-mail to the environment's alarm topic."
    )
    slack: Slack | None = Field(None, description="Also deliver alarms to Slack; null: no.")
    thresholds: AlarmThresholds = Field(default_factory=AlarmThresholds)
    error_log_pattern: Annotated[StrictStr, Field(min_length=1, max_length=1024)] = Field(
        "?ERROR ?Error ?FATAL",
        description="CloudWatch Logs filter pattern counting application error lines.",
    )
    canary: Canary = Field(default_factory=Canary)
    dashboard: StrictBool = Field(
        True, description="The golden-signals dashboard (a flat monthly charge); false: none."
    )
    tracing: StrictBool = Field(
        False, description="AWS X-Ray: a daemon sidecar in the service's tasks, and the grant."
    )
    log_retention_days: RetentionDays = Field(30, description="Canary and Chatbot logs.")


class SecurityBaseline(ConfigModel):
    """Account-level guards in the environment's region (the `<Stage>/Security` stack)."""

    guardduty: StrictBool = Field(False, description="A GuardDuty detector.")
    config_recorder: StrictBool = Field(
        False, description="An AWS Config recorder with the platform's managed rules."
    )
    cloudtrail: StrictBool = Field(
        False, description="A multi-region CloudTrail trail (KMS, validated, SSL-only bucket)."
    )
    trail_retention_days: Annotated[StrictInt, Field(ge=1, le=3650)] = Field(
        365, description="Days trail and Config files are kept in S3."
    )
    log_retention_days: RetentionDays = Field(365, description="The trail's CloudWatch logs.")

    @property
    def enabled(self) -> bool:
        return self.guardduty or self.config_recorder or self.cloudtrail


class DataProtection(ConfigModel):
    """Rules for an environment holding real data, checked when the config loads."""

    holds_real_data: StrictBool = Field(
        False,
        description="Real data: the database must be deletion-protected, snapshotted on "
        "delete and backed up at least `min_backup_retention_days`; data buckets retained.",
    )
    min_backup_retention_days: Annotated[StrictInt, Field(ge=1, le=35)] = Field(
        7, description="Fewest days of automated backups for real data."
    )
    shared_key: StrictBool = Field(
        False,
        description="One customer-managed key in the environment's region (the Network "
        "stack's) for the flow logs, the database and its secret, the services' logs, "
        "repositories and secrets, and the alarm topic, instead of one key each: $1 a month "
        "per key saved. Each use is still gated by its own resource's permissions, but a role "
        "granted the key for one use could decrypt another's data if it could also read it, "
        "and every use shares one rotation and one deletion. Refused with holds_real_data.",
    )

    @model_validator(mode="after")
    def _check(self) -> DataProtection:
        if self.shared_key and self.holds_real_data:
            raise FieldError(
                "shared_key",
                "an environment that holds real data keeps one key per use (separate key "
                "policies and deletion): drop shared_key or holds_real_data",
                cross_field=True,
            )
        return self


class Compliance(ConfigModel):
    """cdk-nag packs beyond AwsSolutions and NIST 800-53 rev5 (always on)."""

    extra_packs: Annotated[tuple[Literal["hipaa", "pci_dss"], ...], unique()] = Field(
        (),
        description="`hipaa` (HIPAA Security), `pci_dss` (PCI DSS 3.2.1). cdk-nag 3 runs a "
        "pack over the whole app, so a pack one environment selects checks them all.",
    )
