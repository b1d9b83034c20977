"""What `PlatformDatabase` is built from (`DatabaseProps`), and the engine facts its instance,
cluster and proxy parts share: ports, log exports, TLS-only parameters, engine versions.

Knows nothing of environments: every choice arrives in `DatabaseProps`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from aws_cdk import aws_rds as rds

from l3_constructs.limits import (
    AURORA_FULL_VERSIONS,
    AUTO_PAUSE_SECONDS,
    ENGINE_FULL_VERSIONS,
    MAX_ACU,
    MYSQL_NO_PERFORMANCE_INSIGHTS,
    PROXY_ENGINE_VERSIONS,
    SERVERLESS,
    DatabaseKind,
    Engine,
    is_aurora_instance_class,
)

#: Characters kept out of generated passwords (CDK's RDS default): they need quoting in
#: connection URLs, shells or JSON. Used when generating and on every rotation.
EXCLUDE_CHARACTERS = " %+~`#$&*()|[]{}:;<>?!'/@\"\\"

DEFAULT_PORTS: dict[Engine, int] = {"postgres": 5432, "mysql": 3306}

#: Every log type each engine can export (cdk-nag NIST RDSLoggingEnabled wants them all),
#: including failed IAM database authentications, as IAM authentication is on.
LOG_EXPORTS: dict[Engine, list[str]] = {
    "postgres": ["postgresql", "upgrade", "iam-db-auth-error"],
    "mysql": ["error", "general", "slowquery", "audit", "iam-db-auth-error"],
}
#: The same for Aurora clusters (Aurora PostgreSQL has no `upgrade` log).
AURORA_LOG_EXPORTS: dict[Engine, list[str]] = {
    "postgres": ["postgresql", "iam-db-auth-error"],
    "mysql": ["audit", "error", "general", "slowquery", "iam-db-auth-error"],
}

#: Parameters that refuse unencrypted connections, plus (MySQL) log files to export.
PARAMETERS: dict[Engine, dict[str, str]] = {
    "postgres": {"rds.force_ssl": "1"},
    # Instance parameter groups take 1/0 for this boolean ("ON" is for cluster groups).
    # The slow-query log goes to FILE so it can be exported; the general log (every
    # statement) stays off and the audit log needs the MARIADB_AUDIT_PLUGIN option group,
    # so those two streams stay empty until someone turns them on.
    "mysql": {"require_secure_transport": "1", "slow_query_log": "1", "log_output": "FILE"},
}
#: The same in an Aurora cluster parameter group (which takes ON for the MySQL boolean; the
#: audit log there is Aurora's own `server_audit_logging`, off until someone turns it on).
AURORA_PARAMETERS: dict[Engine, dict[str, str]] = {
    "postgres": {"rds.force_ssl": "1"},
    "mysql": {"require_secure_transport": "ON", "slow_query_log": "1", "log_output": "FILE"},
}

MONITORING_INTERVALS = (0, 1, 5, 10, 15, 30, 60)

Credentials = Literal["rotated_by_lambda", "managed_by_rds"]


@dataclass(frozen=True)
class ServerlessProps:
    """Capacity of each Aurora Serverless v2 instance, in ACUs (steps of 0.5)."""

    min_acu: float = 0.5
    max_acu: float = 2
    #: Idle seconds before an instance at 0 ACUs pauses; None: Aurora's default (300).
    auto_pause_seconds: int | None = None


@dataclass(frozen=True)
class DatabaseProps:
    #: `instance`: one RDS instance (and `read_replicas`); `aurora`: an Aurora cluster.
    kind: DatabaseKind = "instance"
    #: Appended to the acknowledgment of a control this deployment gives up for money (a
    #: single-AZ instance): what it saves a month.
    cost_note: str = ""
    #: Appended to the acknowledgment of enhanced monitoring turned off
    #: (`monitoring_interval_seconds` 0): what it saves a month.
    monitoring_cost_note: str = ""
    engine: Engine = "postgres"
    #: Major version ("16" / "17" for PostgreSQL, "8.0" / "8.4" for MySQL; see
    #: ENGINE_FULL_VERSIONS and AURORA_FULL_VERSIONS) or a full version such as "16.9".
    engine_version: str = "16"
    #: Class without `db.`; `serverless` for Aurora Serverless v2.
    instance_type: str = "t4g.micro"
    allocated_storage_gb: int = 20
    max_allocated_storage_gb: int = 100
    multi_az: bool = False
    #: Instance kind: read replicas, in the zones after the first.
    read_replicas: int = 0
    #: Aurora: reader instances like the writer, in the zones after the first.
    readers: int = 0
    serverless: ServerlessProps = field(default_factory=ServerlessProps)
    #: The database subnets' zones, in order: the writer (and a single-AZ primary with
    #: replicas) goes in the first, readers and replicas in the others, in turn. Empty:
    #: RDS places every instance.
    availability_zones: tuple[str, ...] = ()
    backup_retention_days: int = 7
    backup_window: str = "17:00-17:30"
    maintenance_window: str = "sun:18:00-sun:18:30"
    deletion_protection: bool = True
    removal_policy: Literal["snapshot", "retain", "destroy"] = "snapshot"
    #: None: the engine's default port.
    port: int | None = None
    database_name: str = "app"
    username: str = "app_admin"
    #: `rotated_by_lambda`: a generated secret and AWS's hosted rotation function;
    #: `managed_by_rds`: RDS's own master-user secret (ManageMasterUserPassword).
    credentials: Credentials = "rotated_by_lambda"
    rotation_days: int = 30
    #: RDS Proxy in front of the writer (and, for Aurora, a read-only endpoint to readers).
    proxy: bool = False
    performance_insights: bool = True
    #: Enhanced monitoring granularity; 0 turns it off.
    monitoring_interval_seconds: int = 60
    log_retention_days: int = 30

    @property
    def aurora(self) -> bool:
        return self.kind == "aurora"

    @property
    def serverless_instances(self) -> bool:
        return self.aurora and self.instance_type == SERVERLESS

    @property
    def managed_credentials(self) -> bool:
        return self.credentials == "managed_by_rds"

    @property
    def major_version(self) -> str:
        versions = (AURORA_FULL_VERSIONS if self.aurora else ENGINE_FULL_VERSIONS)[self.engine]
        if self.engine_version in versions:
            return self.engine_version
        parts = self.engine_version.split(".")
        return parts[0] if self.engine == "postgres" else ".".join(parts[:2])

    def zone(self, index: int) -> str | None:
        """Zone of the `index`-th instance (0: writer or pinned primary, then readers or
        replicas over the other zones in turn); None without zones."""
        zones = self.availability_zones
        if not zones:
            return None
        if index == 0 or len(zones) == 1:
            return zones[0]
        others = zones[1:]
        return others[(index - 1) % len(others)]


def validate(props: DatabaseProps) -> None:
    """What RDS refuses, refused before a resource exists (config refuses it first)."""
    if props.monitoring_interval_seconds not in MONITORING_INTERVALS:
        raise ValueError(f"monitoring interval must be one of {MONITORING_INTERVALS}")
    if props.performance_insights and (
        not props.aurora
        and props.engine == "mysql"
        and props.instance_type in MYSQL_NO_PERFORMANCE_INSIGHTS
    ):
        raise ValueError(
            f"RDS for MySQL has no Performance Insights on {props.instance_type}: "
            "choose a larger class or set performance_insights=False"
        )
    if props.aurora:
        _validate_aurora(props)
    elif props.readers or props.instance_type == SERVERLESS:
        raise ValueError("readers and serverless instances are Aurora's (kind 'aurora')")
    if props.read_replicas and props.managed_credentials:
        raise ValueError("RDS makes no read replica of an instance with managed credentials")
    if props.proxy:
        if props.major_version not in PROXY_ENGINE_VERSIONS[(props.kind, props.engine)]:
            raise ValueError(f"RDS Proxy does not support {props.engine} {props.engine_version}")
        if props.read_replicas:
            raise ValueError("RDS Proxy fronts an instance's writer only, not read replicas")
        if props.serverless_instances and props.serverless.min_acu == 0:
            raise ValueError("RDS Proxy keeps Serverless v2 instances at 0 ACUs from pausing")


def _validate_aurora(props: DatabaseProps) -> None:
    if props.read_replicas or props.multi_az:
        raise ValueError("an Aurora cluster takes readers, not read replicas or multi_az")
    if props.instance_type != SERVERLESS and not is_aurora_instance_class(props.instance_type):
        raise ValueError(f"{props.instance_type!r} is no Aurora instance class")
    capacity = props.serverless
    if props.serverless_instances and not (
        0 <= capacity.min_acu <= capacity.max_acu <= MAX_ACU and capacity.max_acu >= 1
    ):
        raise ValueError(f"Serverless v2 capacity {capacity} is out of range or min > max")
    pause = capacity.auto_pause_seconds
    if pause is not None and (
        capacity.min_acu > 0 or not AUTO_PAUSE_SECONDS[0] <= pause <= AUTO_PAUSE_SECONDS[1]
    ):
        raise ValueError("auto-pause needs min_acu 0 and 300-86400 seconds")


def instance_engine(props: DatabaseProps) -> rds.IInstanceEngine:
    """The RDS instance engine at the full version the major pins (ENGINE_FULL_VERSIONS)."""
    full = ENGINE_FULL_VERSIONS[props.engine].get(props.engine_version, props.engine_version)
    if props.engine == "postgres":
        postgres = rds.PostgresEngineVersion.of(full, full.split(".")[0])
        return rds.DatabaseInstanceEngine.postgres(version=postgres)
    mysql = rds.MysqlEngineVersion.of(full, ".".join(full.split(".")[:2]))
    return rds.DatabaseInstanceEngine.mysql(version=mysql)


def cluster_engine(props: DatabaseProps) -> rds.IClusterEngine:
    """The Aurora engine at the full version the major pins (AURORA_FULL_VERSIONS)."""
    full = AURORA_FULL_VERSIONS[props.engine].get(props.engine_version, props.engine_version)
    if props.engine == "postgres":
        postgres = rds.AuroraPostgresEngineVersion.of(full, full.split(".")[0])
        return rds.DatabaseClusterEngine.aurora_postgres(version=postgres)
    mysql = rds.AuroraMysqlEngineVersion.of(full, ".".join(full.split(".")[:2]))
    return rds.DatabaseClusterEngine.aurora_mysql(version=mysql)


def managed_policy_finding(policy: str) -> str:
    """The AwsSolutions-IAM4 finding id for one AWS managed service-role policy."""
    return f"AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/{policy}]"
