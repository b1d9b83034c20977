"""Config of cost: the environment's monthly budget and the usage `make cost` assumes.

`cost.budget_usd` becomes an AWS Budgets budget (the Monitoring stack) that pages the alarm
topic; `cost.assumptions` are the usage figures the estimator (`cost_estimate/`) prices the
usage-driven line items with. The app hands both to the estimator inside the cloud assembly
(`cost_metadata`, written on the Monitoring stack), so `make cost` prices exactly what was
synthesized, from any assembly, without reading config files again.

Every region an environment may use must have a price table (`cost_estimate/prices/`):
`check_region_priced` is the config rule that says so.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BeforeValidator, Field

from config.primitives import ConfigModel, FieldError
from cost_estimate.prices import priced_regions

#: Metadata entry type, on the Monitoring stack, that carries `cost_metadata`.
COST_METADATA_TYPE = "web-platform:cost"


def _number(value: object) -> object:
    """A YAML number (int or float): not a string, not a boolean."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"{value!r} is not a number")
    return value


Number = Annotated[float, BeforeValidator(_number)]
Amount = Annotated[Number, Field(ge=0, le=1_000_000_000)]
Share = Annotated[Number, Field(ge=0, le=100)]
Hours = Annotated[Number, Field(ge=0, le=730)]


class CostAssumptions(ConfigModel):
    """Usage a month, for the usage-driven line items (printed at the top of each report).
    Free tiers are never assumed."""

    requests_per_month: Amount = Field(
        300_000, description="Viewer requests (CloudFront, WAF, edge logs)."
    )
    origin_request_percent: Share = Field(
        50,
        description="Share of the viewer requests CloudFront forwards to the load balancer "
        "(cache misses and uncached API calls): load balancer LCUs and X-Ray traces.",
    )
    data_out_gb_per_month: Amount = Field(5, description="Data CloudFront serves (GB).")
    app_log_gb_per_month: Amount = Field(
        1,
        description="Log data the services and jobs write (GB), split evenly over their log "
        "groups.",
    )
    other_log_gb_per_month: Amount = Field(
        0.5,
        description="Log data of every other log group in the templates (pipeline, state "
        "machines, migration, ...), split evenly (GB).",
    )
    flow_log_gb_per_month: Amount = Field(
        1, description="VPC flow log data (GB); GuardDuty analyses about as much."
    )
    nat_data_gb_per_month: Amount = Field(
        5, description="Data through the NAT gateways (GB), split evenly over them."
    )
    endpoint_data_gb_per_month: Amount = Field(
        5,
        description="Data through the interface endpoints (GB: image pulls, logs, secrets), "
        "split evenly over them.",
    )
    build_minutes_per_month: Amount = Field(
        300,
        description="CodeBuild minutes of all projects together, split evenly over them; "
        "also the pipeline's action minutes.",
    )
    releases_per_month: Amount = Field(
        20, description="Deployments: custom-resource handler and pipeline source runs."
    )
    s3_storage_gb: Amount = Field(
        5, description="Data kept in all the environment's buckets together (GB), split evenly."
    )
    s3_requests_per_month: Amount = Field(
        100_000,
        description="Requests to all buckets together, priced at the PUT rate (the dearer one).",
    )
    queue_messages_per_month: Amount = Field(
        10_000, description="Messages sent to the worker queues, split evenly over them."
    )
    worker_busy_hours_per_month: Hours = Field(
        20,
        description="Hours each service that scales from zero runs a task (queue workers).",
    )
    job_run_minutes: Amount = Field(5, description="Minutes one scheduled job run lasts.")
    image_gb_per_repository: Amount = Field(
        1, description="Image data each ECR repository keeps (GB)."
    )
    database_data_gb: Amount = Field(
        2, description="Data in the database (GB): Aurora storage, backups and their copies."
    )
    database_change_percent_per_day: Share = Field(
        2, description="Share of the data that changes a day (incremental backups)."
    )
    database_awake_hours_per_month: Hours = Field(
        730,
        description="Hours a database that pauses (Aurora Serverless v2 at 0 ACU) is awake.",
    )
    database_average_acu: Annotated[Number, Field(ge=0.5, le=256)] | None = Field(
        None,
        description="Aurora Serverless v2 capacity while awake (ACU); null: the configured "
        "minimum (0.5 when that is 0).",
    )
    database_io_million_per_month: Amount = Field(
        2, description="Aurora I/O requests (millions; Aurora Standard storage only)."
    )
    management_events_per_month: Amount = Field(
        100_000,
        description="CloudTrail management events of the account and region (the trail keeps "
        "them, GuardDuty analyses them).",
    )
    config_items_per_month: Amount = Field(
        2_000, description="AWS Config configuration items recorded."
    )


class Cost(ConfigModel):
    """The environment's monthly budget and the usage its cost estimate assumes."""

    budget_usd: Annotated[Number, Field(gt=0, le=1_000_000)] = Field(
        description="Monthly budget (USD): an AWS Budgets budget on the environment's "
        "`Environment` tag pages the alarm topic at 80 % forecast and 100 % actual; "
        "`make cost` marks an estimate above it."
    )
    assumptions: CostAssumptions = Field(
        default_factory=CostAssumptions, description="Usage a month the estimate assumes."
    )


def cost_metadata(cost: Cost, *, region: str, environment_tag: str) -> dict[str, Any]:
    """What the app writes into the assembly for the estimator (plain JSON; unset optional
    assumptions are left out, as the CDK drops nulls from metadata)."""
    return {
        "region": region,
        "environment_tag": environment_tag,
        "budget_usd": cost.budget_usd,
        "assumptions": cost.assumptions.model_dump(mode="json", exclude_none=True),
    }


def check_region_priced(region: str) -> None:
    """A `FieldError` on `region` unless `cost_estimate/prices/` has the region's table:
    every region config accepts can be estimated (README "Cost")."""
    regions = priced_regions()
    if region not in regions:
        raise FieldError(
            "region",
            f"{region!r} has no price table in cost_estimate/prices/ (priced: "
            f"{', '.join(regions)}); add <region>.yaml there to use it (README 'Cost')",
        )
