"""The `database` section: one RDS instance with optional read replicas (`kind: instance`) or
an Aurora cluster with Serverless v2 or provisioned instances (`kind: aurora`); who rotates the
master password; an optional RDS Proxy in front of the writer; an optional AWS Backup plan.

Rules that need other sections (the zones, the NAT, data protection) live on the environment
(`config.models`); everything that concerns the database alone is checked here, with the
field a person has to change.
"""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    Field,
    StrictBool,
    StrictFloat,
    StrictInt,
    StrictStr,
    model_validator,
)

from config.primitives import ConfigModel, FieldError, Region, RetentionDays, pattern
from l3_constructs.limits import (
    AURORA_FULL_VERSIONS,
    AUTO_PAUSE_SECONDS,
    ENGINE_FULL_VERSIONS,
    MAX_ACU,
    MIN_ACU,
    MYSQL_NO_PERFORMANCE_INSIGHTS,
    PROXY_ENGINE_VERSIONS,
    SERVERLESS,
    default_max_connections,
    is_aurora_instance_class,
)

_WINDOW_RE = re.compile(r"^([01]\d|2[0-3]):[0-5]\d-([01]\d|2[0-3]):[0-5]\d$")
_MAINTENANCE_RE = re.compile(
    r"^(mon|tue|wed|thu|fri|sat|sun):([01]\d|2[0-3]):[0-5]\d-"
    r"(mon|tue|wed|thu|fri|sat|sun):([01]\d|2[0-3]):[0-5]\d$"
)
_INSTANCE_TYPE_RE = re.compile(rf"^([a-z][a-z0-9-]*\.[a-z0-9]+|{SERVERLESS})$")
_DB_NAME_RE = re.compile(r"^[a-zA-Z][a-zA-Z0-9_]{0,62}$")
#: Engine major versions this platform supports: those the database construct can build.
ENGINE_VERSIONS = {engine: tuple(full) for engine, full in ENGINE_FULL_VERSIONS.items()}
#: The same for Aurora (`kind: aurora`).
AURORA_ENGINE_VERSIONS = {engine: tuple(full) for engine, full in AURORA_FULL_VERSIONS.items()}
#: Most readers (Aurora) or read replicas (instance) the platform builds.
MAX_READERS = 5


def _half_steps(value: float) -> float:
    if not MIN_ACU <= value <= MAX_ACU or (value * 2) % 1:
        raise ValueError(
            f"{value:g} is out of range: Serverless v2 takes {MIN_ACU:g}-{MAX_ACU:g} ACUs "
            "in steps of 0.5"
        )
    return float(value)


Acu = Annotated[StrictFloat | StrictInt, AfterValidator(_half_steps)]


class ServerlessCapacity(ConfigModel):
    """Capacity of each Aurora Serverless v2 instance (writer and readers), in Aurora capacity
    units (ACUs: about 2 GiB of memory each, with CPU and network to match)."""

    min_acu: Acu = Field(
        0.5,
        description="Lowest capacity (0-256 in steps of 0.5). 0: an idle instance pauses "
        "after auto_pause_seconds and costs nothing but storage until a connection wakes it "
        "(about 15 s).",
    )
    max_acu: Acu = Field(
        2, description="Highest capacity (1-256 in steps of 0.5); sets max_connections too."
    )
    auto_pause_seconds: (
        Annotated[StrictInt, Field(ge=AUTO_PAUSE_SECONDS[0], le=AUTO_PAUSE_SECONDS[1])] | None
    ) = Field(
        None,
        description="Idle seconds before an instance at 0 ACUs pauses (300-86400); null: "
        "Aurora's default (300). Only with min_acu 0.",
    )

    @model_validator(mode="after")
    def _check(self) -> ServerlessCapacity:
        if self.max_acu < 1:
            raise FieldError(
                "max_acu",
                f"{self.max_acu:g} is out of range: Serverless v2 scales up to 1-256 ACUs",
            )
        if self.min_acu > self.max_acu:
            raise FieldError(
                "min_acu",
                f"{self.min_acu:g} is above max_acu {self.max_acu:g}",
                cross_field=True,
            )
        if self.auto_pause_seconds is not None and self.min_acu > 0:
            raise FieldError(
                "auto_pause_seconds",
                f"needs min_acu 0: only an instance at 0 ACUs pauses (min_acu is {self.min_acu:g})",
                cross_field=True,
            )
        return self

    @property
    def pauses(self) -> bool:
        """Whether idle instances pause (min_acu 0)."""
        return self.min_acu == 0


class DatabaseBackup(ConfigModel):
    """AWS Backup of the database, besides RDS's own automated backups: a daily plan into a
    vault encrypted with a key of its own, optionally copied to a vault in a second region."""

    retention_days: Annotated[StrictInt, Field(ge=1, le=36500)] = Field(
        35, description="Days each daily recovery point (and its copy) is kept."
    )
    start_hour_utc: Annotated[StrictInt, Field(ge=0, le=23)] = Field(
        19,
        description="Hour (UTC) the daily backup starts, within an hour; keep it clear of "
        "database.backup_window and maintenance_window.",
    )
    copy_to_region: Region | None = Field(
        None,
        description="A second region each recovery point is copied to (a vault of its own "
        "there, the `<Stage>-BackupCopy` stack); null: no copy.",
    )


class Database(ConfigModel):
    """The database: an RDS instance (`kind: instance`, optional read replicas) or an Aurora
    cluster (`kind: aurora`), its credentials and their rotation, an optional RDS Proxy and
    an optional AWS Backup plan."""

    kind: Literal["instance", "aurora"] = Field(
        "instance",
        description="`instance`: one RDS instance (Multi-AZ by `multi_az`, `read_replicas`); "
        "`aurora`: an Aurora cluster (a writer and `readers`, Serverless v2 or provisioned).",
    )
    engine: Literal["postgres", "mysql"] = Field(
        "postgres",
        description="Database engine (`aurora`: Aurora PostgreSQL or Aurora MySQL).",
    )
    engine_version: StrictStr = Field(
        "16", description="Major version: postgres 14-17, mysql 8.0 / 8.4 (Aurora MySQL: 8.0)."
    )
    instance_type: Annotated[
        StrictStr,
        pattern(_INSTANCE_TYPE_RE, "an instance type like 't4g.micro' (or 'serverless')"),
    ] = Field(
        "t4g.micro",
        description="Instance class without the `db.` prefix; `aurora`: `serverless` "
        "(Serverless v2) or a provisioned Aurora class such as `r7g.large` or `t4g.medium`.",
    )
    allocated_storage_gb: Annotated[StrictInt, Field(ge=20, le=65536)] = Field(
        20, description="Initial gp3 storage (GiB); `instance` only (Aurora storage grows)."
    )
    max_allocated_storage_gb: Annotated[StrictInt, Field(ge=20, le=65536)] = Field(
        100, description="Storage autoscaling ceiling (GiB); `instance` only."
    )
    multi_az: StrictBool = Field(
        False, description="Standby in a second zone; `instance` only (Aurora: `readers`)."
    )
    read_replicas: Annotated[StrictInt, Field(ge=0, le=MAX_READERS)] = Field(
        0,
        description="`instance`: read replicas (0-5), each in a zone other than the "
        "primary's; the first is DB_READER_HOST.",
    )
    readers: Annotated[StrictInt, Field(ge=0, le=MAX_READERS)] = Field(
        0,
        description="`aurora`: reader instances (0-5) like the writer, in the other zones, "
        "failover targets; the cluster's reader endpoint is DB_READER_HOST.",
    )
    serverless: ServerlessCapacity = Field(
        default_factory=ServerlessCapacity,
        description="`aurora` with instance_type `serverless`: capacity of each instance.",
    )
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
    credentials: Literal["rotated_by_lambda", "managed_by_rds"] = Field(
        "rotated_by_lambda",
        description="`rotated_by_lambda`: a generated secret rotated every rotation_days by "
        "AWS's hosted rotation function; `managed_by_rds`: RDS's own master-user secret "
        "(rotated by RDS, every 7 days by default; no function, no route to Secrets Manager).",
    )
    rotation_days: Annotated[StrictInt, Field(ge=1, le=365)] = Field(
        30, description="Rotate the master password every N days (`rotated_by_lambda`)."
    )
    proxy: StrictBool = Field(
        False,
        description="RDS Proxy in front of the writer (TLS and IAM authentication required, "
        "the services' security groups its only sources); DB_HOST is then the proxy.",
    )
    backup: DatabaseBackup | None = Field(
        None, description="AWS Backup plan (the `<Stage>-Backup` stack); null: none."
    )
    performance_insights: StrictBool = Field(True, description="Performance Insights.")
    monitoring_interval_seconds: Literal[0, 1, 5, 10, 15, 30, 60] = Field(
        60, description="Enhanced monitoring interval; 0 turns it off."
    )
    log_retention_days: RetentionDays = Field(30, description="Exported database logs.")

    @property
    def aurora(self) -> bool:
        return self.kind == "aurora"

    @property
    def serverless_instances(self) -> bool:
        """Whether the writer and readers are Aurora Serverless v2 instances."""
        return self.aurora and self.instance_type == SERVERLESS

    def default_max_connections(self) -> int:
        """The engine's default max_connections on the writer (raises ValueError for a class
        of unknown memory)."""
        return default_max_connections(
            self.engine,
            self.instance_type,
            aurora=self.aurora,
            max_acu=self.serverless.max_acu if self.serverless_instances else None,
        )

    @model_validator(mode="after")
    def _check(self) -> Database:
        self._check_version()
        self._check_instances()
        self._check_readers()
        if self.max_allocated_storage_gb < self.allocated_storage_gb:
            raise FieldError(
                "max_allocated_storage_gb",
                f"{self.max_allocated_storage_gb} is below allocated_storage_gb "
                f"{self.allocated_storage_gb}",
                cross_field=True,
            )
        if (
            not self.aurora
            and self.engine == "mysql"
            and self.performance_insights
            and self.instance_type in MYSQL_NO_PERFORMANCE_INSIGHTS
        ):
            raise FieldError(
                "performance_insights",
                f"RDS for MySQL has no Performance Insights on {self.instance_type}",
                cross_field=True,
            )
        self._check_proxy()
        return self

    def _check_version(self) -> None:
        versions = (AURORA_ENGINE_VERSIONS if self.aurora else ENGINE_VERSIONS)[self.engine]
        if self.engine_version not in versions:
            edition = f"Aurora {self.engine}" if self.aurora else self.engine
            raise FieldError(
                "engine_version",
                f"{self.engine_version!r} is not a supported {edition} version "
                f"({', '.join(versions)})",
                cross_field=True,
            )

    def _check_instances(self) -> None:
        kind, instance_type = self.kind, self.instance_type
        if instance_type == SERVERLESS and not self.aurora:
            raise FieldError(
                "instance_type",
                "'serverless' (Aurora Serverless v2) needs kind 'aurora'",
                cross_field=True,
            )
        if (
            self.aurora
            and instance_type != SERVERLESS
            and not is_aurora_instance_class(instance_type)
        ):
            raise FieldError(
                "instance_type",
                f"{instance_type!r} is no Aurora instance class: 'serverless' (Serverless v2) "
                "or a provisioned class such as 'r7g.large' or 't4g.medium'",
                cross_field=True,
            )
        if "serverless" in self.model_fields_set and not self.serverless_instances:
            raise FieldError(
                "serverless",
                f"applies to kind 'aurora' with instance_type 'serverless', not {kind} "
                f"{instance_type!r}",
                cross_field=True,
            )
        if self.multi_az and self.aurora:
            raise FieldError(
                "multi_az",
                "is the instance kind's standby: an Aurora cluster's standby is a reader in "
                "another zone (readers)",
                cross_field=True,
            )

    def _check_readers(self) -> None:
        if self.readers and not self.aurora:
            raise FieldError(
                "readers",
                "are the instances of an Aurora cluster (kind 'aurora'); the instance kind "
                "takes read_replicas",
                cross_field=True,
            )
        if self.read_replicas and self.aurora:
            raise FieldError(
                "read_replicas",
                "are the instance kind's; an Aurora cluster takes readers",
                cross_field=True,
            )
        if self.read_replicas and self.credentials == "managed_by_rds":
            raise FieldError(
                "read_replicas",
                "RDS makes no read replica of an instance whose master password it manages "
                "(credentials 'managed_by_rds'): use 'rotated_by_lambda', or kind 'aurora' "
                "with readers",
                cross_field=True,
            )

    def _check_proxy(self) -> None:
        if not self.proxy:
            return
        supported = PROXY_ENGINE_VERSIONS[(self.kind, self.engine)]
        if self.engine_version not in supported:
            edition = f"Aurora {self.engine}" if self.aurora else f"RDS for {self.engine}"
            raise FieldError(
                "proxy",
                f"RDS Proxy does not support {edition} {self.engine_version} "
                f"(it takes {', '.join(supported)})",
                cross_field=True,
            )
        if self.read_replicas:
            raise FieldError(
                "proxy",
                "RDS Proxy fronts an instance's writer only, not its read replicas: use "
                "read_replicas 0, or kind 'aurora' (whose readers the proxy serves)",
                cross_field=True,
            )
        if self.serverless_instances and self.serverless.pauses:
            raise FieldError(
                "proxy",
                "RDS Proxy keeps connections to the writer open, so an instance at "
                "serverless.min_acu 0 would never pause: raise min_acu or drop the proxy",
                cross_field=True,
            )
