"""The `database` section: the RDS instance, its credentials and their rotation."""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import Field, StrictBool, StrictInt, StrictStr, model_validator

from config.primitives import ConfigModel, FieldError, RetentionDays, pattern
from l3_constructs.limits import ENGINE_FULL_VERSIONS, MYSQL_NO_PERFORMANCE_INSIGHTS

_WINDOW_RE = re.compile(r"^([01]\d|2[0-3]):[0-5]\d-([01]\d|2[0-3]):[0-5]\d$")
_MAINTENANCE_RE = re.compile(
    r"^(mon|tue|wed|thu|fri|sat|sun):([01]\d|2[0-3]):[0-5]\d-"
    r"(mon|tue|wed|thu|fri|sat|sun):([01]\d|2[0-3]):[0-5]\d$"
)
_INSTANCE_TYPE_RE = re.compile(r"^[a-z][a-z0-9-]*\.[a-z0-9]+$")
_DB_NAME_RE = re.compile(r"^[a-zA-Z][a-zA-Z0-9_]{0,62}$")
#: Engine major versions this platform supports: those the database construct can build.
ENGINE_VERSIONS = {engine: tuple(full) for engine, full in ENGINE_FULL_VERSIONS.items()}


class Database(ConfigModel):
    """RDS instance, its credentials and their rotation."""

    engine: Literal["postgres", "mysql"] = Field("postgres", description="Database engine.")
    engine_version: StrictStr = Field(
        "16", description="Major version: postgres 14-17, mysql 8.0 / 8.4."
    )
    instance_type: Annotated[
        StrictStr, pattern(_INSTANCE_TYPE_RE, "an instance type like 't4g.micro'")
    ] = Field("t4g.micro", description="Instance class without the `db.` prefix.")
    allocated_storage_gb: Annotated[StrictInt, Field(ge=20, le=65536)] = Field(
        20, description="Initial gp3 storage (GiB)."
    )
    max_allocated_storage_gb: Annotated[StrictInt, Field(ge=20, le=65536)] = Field(
        100, description="Storage autoscaling ceiling (GiB)."
    )
    multi_az: StrictBool = Field(False, description="Standby in a second zone.")
    backup_retention_days: Annotated[StrictInt, Field(ge=1, le=35)] = Field(
        7, description="Automated backup retention (days)."
    )
    backup_window: Annotated[StrictStr, pattern(_WINDOW_RE, "a window like '17:00-17:30'")] = Field(
        "17:00-17:30", description="Daily backup window (UTC)."
    )
    maintenance_window: Annotated[
        StrictStr, pattern(_MAINTENANCE_RE, "a window like 'sun:18:00-sun:18:30'")
    ] = Field("sun:18:00-sun:18:30", description="Weekly maintenance window (UTC).")
    deletion_protection: StrictBool = Field(True, description="RDS deletion protection.")
    removal_policy: Literal["snapshot", "retain", "destroy"] = Field(
        "snapshot", description="What a stack delete does to the instance."
    )
    port: Annotated[StrictInt, Field(ge=1150, le=65535)] | None = Field(
        None, description="Listener port; the engine's default (5432 / 3306) when unset."
    )
    database_name: Annotated[
        StrictStr, pattern(_DB_NAME_RE, "a database name (letter, then letters, digits, _)")
    ] = Field("app", description="Database created at launch.")
    rotation_days: Annotated[StrictInt, Field(ge=1, le=365)] = Field(
        30, description="Rotate the master password every N days."
    )
    performance_insights: StrictBool = Field(True, description="Performance Insights.")
    monitoring_interval_seconds: Literal[0, 1, 5, 10, 15, 30, 60] = Field(
        60, description="Enhanced monitoring interval; 0 turns it off."
    )
    log_retention_days: RetentionDays = Field(30, description="Exported database logs.")

    @model_validator(mode="after")
    def _check(self) -> Database:
        if self.engine_version not in ENGINE_VERSIONS[self.engine]:
            raise FieldError(
                "engine_version",
                f"{self.engine_version!r} is not a supported {self.engine} version "
                f"({', '.join(ENGINE_VERSIONS[self.engine])})",
                cross_field=True,
            )
        if self.max_allocated_storage_gb < self.allocated_storage_gb:
            raise FieldError(
                "max_allocated_storage_gb",
                f"{self.max_allocated_storage_gb} is below allocated_storage_gb "
                f"{self.allocated_storage_gb}",
                cross_field=True,
            )
        if (
            self.engine == "mysql"
            and self.performance_insights
            and self.instance_type in MYSQL_NO_PERFORMANCE_INSIGHTS
        ):
            raise FieldError(
                "performance_insights",
                f"RDS for MySQL has no Performance Insights on {self.instance_type}",
                cross_field=True,
            )
        return self
