"""Typed, immutable, validated configuration of one environment.

Every difference between environments is a value here; stacks and constructs read these
objects and nothing else. Models are pydantic v2 (see README "Configuration" for why):
unknown keys are rejected, every value is checked, and cross-field rules run after the
fields parse. Error messages are written for people: the loader prefixes them with the
file and the field path.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping
from types import MappingProxyType
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    EmailStr,
    Field,
    StrictBool,
    StrictInt,
    StrictStr,
    model_validator,
)

from l3_constructs.limits import (
    ENGINE_FULL_VERSIONS,
    LOG_RETENTION_DAYS,
    MYSQL_NO_PERFORMANCE_INSIGHTS,
)

# --------------------------------------------------------------------------- primitives

_ACCOUNT_RE = re.compile(r"^\d{12}$")
_REGION_RE = re.compile(r"^[a-z]{2}(-gov)?-[a-z]+-\d$")
_STAGE_RE = re.compile(r"^[A-Z][A-Za-z0-9]{0,31}$")
_LABEL_RE = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")
_TAG_VALUE_RE = re.compile(r"^[\w\s.:/=+\-@]{0,256}$", re.UNICODE)

MIN_VPC_PREFIX = 16
MAX_VPC_PREFIX = 24


def _account_id(value: str) -> str:
    if not _ACCOUNT_RE.fullmatch(value):
        raise ValueError(f"{value!r} is not an AWS account id (12 digits)")
    return value


def _region(value: str) -> str:
    if not _REGION_RE.fullmatch(value):
        raise ValueError(f"{value!r} is not an AWS region name (e.g. 'ap-northeast-1')")
    return value


def _stage_name(value: str) -> str:
    if not _STAGE_RE.fullmatch(value):
        raise ValueError(
            f"{value!r} is not a valid stage name "
            "(a capital letter, then letters and digits, at most 32 characters)"
        )
    return value


def _ipv4_network(value: str) -> str:
    try:
        net = ipaddress.IPv4Network(value, strict=True)
    except ValueError:
        try:
            loose = ipaddress.IPv4Network(value, strict=False)
        except ValueError:
            raise ValueError(f"{value!r} is not a valid IPv4 network") from None
        raise ValueError(f"{value!r} has host bits set; the network is {str(loose)!r}") from None
    if not MIN_VPC_PREFIX <= net.prefixlen <= MAX_VPC_PREFIX:
        raise ValueError(
            f"{value!r} is a /{net.prefixlen}; a VPC CIDR must be "
            f"/{MIN_VPC_PREFIX} to /{MAX_VPC_PREFIX}"
        )
    return value


def _domain_name(value: str) -> str:
    if "{stage}" in value:
        raise ValueError(f"{value!r} uses {{stage}}, which needs a valid stage_name")
    labels = value.split(".")
    if len(value) > 253 or len(labels) < 2 or not all(_LABEL_RE.fullmatch(x) for x in labels):
        raise ValueError(f"{value!r} is not a valid lower-case domain name")
    return value


def _retention(value: int) -> int:
    if value not in LOG_RETENTION_DAYS:
        allowed = ", ".join(str(x) for x in LOG_RETENTION_DAYS)
        raise ValueError(f"{value} is not a CloudWatch Logs retention period (days: {allowed})")
    return value


def _read_only(value: Mapping[str, str]) -> Mapping[str, str]:
    """A read-only view, so a frozen model's mapping cannot be changed behind validation."""
    return MappingProxyType(dict(value))


def _tag_value(value: str) -> str:
    if not value or not _TAG_VALUE_RE.fullmatch(value):
        raise ValueError(
            f"{value!r} is not a valid tag value "
            "(1-256 letters, digits, spaces and _ . : / = + - @)"
        )
    return value


AccountId = Annotated[StrictStr, AfterValidator(_account_id)]
Region = Annotated[StrictStr, AfterValidator(_region)]
StageName = Annotated[StrictStr, AfterValidator(_stage_name)]
Ipv4Cidr = Annotated[StrictStr, AfterValidator(_ipv4_network)]
DomainName = Annotated[StrictStr, AfterValidator(_domain_name)]
RetentionDays = Annotated[StrictInt, AfterValidator(_retention)]
TagValue = Annotated[StrictStr, AfterValidator(_tag_value)]
SubnetMask = Annotated[StrictInt, Field(ge=16, le=28)]


class FieldError(ValueError):
    """A cross-field problem that belongs to one field below the model that found it.

    The loader appends ``field`` to the error's location, so the message names the field
    a person has to change (``network.availability_zones``), not just the model.
    ``cross_field`` marks a rule over several settings (e.g. the CIDR against the subnet
    masks): such a problem is the environment's, even if one setting is a default.
    """

    def __init__(self, field: str, message: str, *, cross_field: bool = False) -> None:
        super().__init__(message)
        self.field = field
        self.cross_field = cross_field


class _Model(BaseModel):
    """Base of every config model: immutable, strict about keys."""

    model_config = ConfigDict(frozen=True, extra="forbid", validate_default=True)


# --------------------------------------------------------------------------- sections


class Tags(_Model):
    """Tags applied to every taggable resource of the environment."""

    project: TagValue = Field(description="Project tag (`Project`).")
    environment: TagValue = Field(description="Environment tag (`Environment`).")
    owner: EmailStr = Field(description="Owning team's e-mail address (`Owner`).")
    cost_centre: TagValue = Field(description="Cost centre for billing (`CostCentre`).")
    extra: Annotated[Mapping[StrictStr, TagValue], AfterValidator(_read_only)] = Field(
        default_factory=dict, description="Further tags, key to value."
    )

    def as_dict(self) -> dict[str, str]:
        """Tag key to value, in a stable order."""
        return {
            "Project": self.project,
            "Environment": self.environment,
            "Owner": str(self.owner),
            "CostCentre": self.cost_centre,
            **dict(sorted(self.extra.items())),
        }


NatMode = Literal["none", "single", "per_az"]

#: Interface endpoint names (the part after `com.amazonaws.<region>.`) this platform supports.
InterfaceEndpointName = Literal[
    "ecr.api",
    "ecr.dkr",
    "logs",
    "monitoring",
    "ssm",
    "ssmmessages",
    "ec2messages",
    "secretsmanager",
    "kms",
    "sts",
    "ecs",
    "ecs-agent",
    "ecs-telemetry",
    "xray",
    "elasticloadbalancing",
]


class SubnetMasks(_Model):
    """CIDR mask of each subnet group (one subnet per AZ in each group)."""

    public: SubnetMask = Field(24, description="Mask of each public subnet.")
    private: SubnetMask = Field(22, description="Mask of each private (application) subnet.")
    isolated: SubnetMask = Field(24, description="Mask of each isolated (database) subnet.")


class FlowLogs(_Model):
    """VPC flow logs."""

    destination: Literal["cloudwatch", "s3"] = Field(
        "cloudwatch",
        description="`cloudwatch`: a KMS-encrypted log group; `s3`: a KMS-encrypted bucket.",
    )
    retention_days: RetentionDays = Field(
        90, description="Days flow logs are kept (log group retention or bucket expiry)."
    )
    traffic_type: Literal["ALL", "ACCEPT", "REJECT"] = Field(
        "ALL", description="Which traffic is logged."
    )
    retain_on_delete: StrictBool = Field(
        True, description="Keep the flow-log key and log group / bucket when the stack is deleted."
    )


class Network(_Model):
    """The VPC: CIDR, zones, subnets, NAT, endpoints, flow logs."""

    cidr: Ipv4Cidr = Field(description="VPC CIDR, /16 to /24, unique across environments.")
    availability_zones: tuple[StrictStr, ...] = Field(
        description="2 or 3 zone names in the environment's region, e.g. `ap-northeast-1a`.",
    )
    nat: NatMode = Field(
        "single",
        description="`none`: no NAT, private subnets have no egress; `single`: one NAT "
        "gateway; `per_az`: one per zone.",
    )
    subnet_masks: SubnetMasks = Field(default_factory=SubnetMasks)
    interface_endpoints: tuple[InterfaceEndpointName, ...] = Field(
        (),
        description="Interface endpoints (private DNS on, 443 from the VPC only). "
        "The S3 gateway endpoint is always created.",
    )
    flow_logs: FlowLogs = Field(default_factory=FlowLogs)

    @model_validator(mode="after")
    def _check(self) -> Network:
        zones = self.availability_zones
        if not 2 <= len(zones) <= 3:
            raise FieldError(
                "availability_zones",
                f"lists {len(zones)} zone(s); the platform spans 2 or 3",
            )
        if len(set(zones)) != len(zones):
            raise FieldError("availability_zones", f"lists a zone twice: {list(zones)}")
        if len(set(self.interface_endpoints)) != len(self.interface_endpoints):
            raise FieldError("interface_endpoints", "lists an endpoint twice")
        vpc = ipaddress.IPv4Network(self.cidr)
        masks = self.subnet_masks
        too_wide = [
            f"{name} /{mask}"
            for name, mask in (
                ("public", masks.public),
                ("private", masks.private),
                ("isolated", masks.isolated),
            )
            if mask < vpc.prefixlen
        ]
        if too_wide:
            verb = "is" if len(too_wide) == 1 else "are"
            raise FieldError(
                "subnet_masks",
                f"{', '.join(too_wide)} {verb} wider than the VPC CIDR {self.cidr}",
                cross_field=True,
            )
        needed = sum(2 ** (32 - m) for m in (masks.public, masks.private, masks.isolated))
        needed *= len(zones)
        if needed > vpc.num_addresses:
            raise FieldError(
                "subnet_masks",
                f"need {needed} addresses over {len(zones)} zones; "
                f"the VPC CIDR {self.cidr} has {vpc.num_addresses}",
                cross_field=True,
            )
        return self


_WINDOW_RE = re.compile(r"^([01]\d|2[0-3]):[0-5]\d-([01]\d|2[0-3]):[0-5]\d$")
_MAINTENANCE_RE = re.compile(
    r"^(mon|tue|wed|thu|fri|sat|sun):([01]\d|2[0-3]):[0-5]\d-"
    r"(mon|tue|wed|thu|fri|sat|sun):([01]\d|2[0-3]):[0-5]\d$"
)
_INSTANCE_TYPE_RE = re.compile(r"^[a-z][a-z0-9-]*\.[a-z0-9]+$")
_DB_NAME_RE = re.compile(r"^[a-zA-Z][a-zA-Z0-9_]{0,62}$")
#: Engine major versions this platform supports: those the database construct can build.
ENGINE_VERSIONS = {engine: tuple(full) for engine, full in ENGINE_FULL_VERSIONS.items()}


def _pattern(regex: re.Pattern[str], what: str) -> AfterValidator:
    def check(value: str) -> str:
        if not regex.fullmatch(value):
            raise ValueError(f"{value!r} is not {what}")
        return value

    return AfterValidator(check)


class Database(_Model):
    """RDS instance, its credentials and their rotation."""

    engine: Literal["postgres", "mysql"] = Field("postgres", description="Database engine.")
    engine_version: StrictStr = Field(
        "16", description="Major version: postgres 14-17, mysql 8.0 / 8.4."
    )
    instance_type: Annotated[
        StrictStr, _pattern(_INSTANCE_TYPE_RE, "an instance type like 't4g.micro'")
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
    backup_window: Annotated[StrictStr, _pattern(_WINDOW_RE, "a window like '17:00-17:30'")] = (
        Field("17:00-17:30", description="Daily backup window (UTC).")
    )
    maintenance_window: Annotated[
        StrictStr, _pattern(_MAINTENANCE_RE, "a window like 'sun:18:00-sun:18:30'")
    ] = Field("sun:18:00-sun:18:30", description="Weekly maintenance window (UTC).")
    deletion_protection: StrictBool = Field(True, description="RDS deletion protection.")
    removal_policy: Literal["snapshot", "retain", "destroy"] = Field(
        "snapshot", description="What a stack delete does to the instance."
    )
    port: Annotated[StrictInt, Field(ge=1150, le=65535)] | None = Field(
        None, description="Listener port; the engine's default (5432 / 3306) when unset."
    )
    database_name: Annotated[
        StrictStr, _pattern(_DB_NAME_RE, "a database name (letter, then letters, digits, _)")
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


#: Fargate task sizes: cpu units -> allowed memory (MiB).
FARGATE_MEMORY: dict[int, tuple[int, ...]] = {
    256: (512, 1024, 2048),
    512: tuple(range(1024, 4097, 1024)),
    1024: tuple(range(2048, 8193, 1024)),
    2048: tuple(range(4096, 16385, 1024)),
    4096: tuple(range(8192, 30721, 1024)),
    8192: tuple(range(16384, 61441, 4096)),
    16384: tuple(range(32768, 122881, 8192)),
}
#: Endpoints a Fargate task needs in subnets without NAT (with the S3 gateway endpoint).
NO_NAT_TASK_ENDPOINTS = ("ecr.api", "ecr.dkr", "logs", "secretsmanager")
_ZONE_ID_RE = re.compile(r"^Z[A-Z0-9]{1,31}$")
_REPOSITORY_RE = re.compile(r"^[a-z0-9]+(?:[._-][a-z0-9]+)*(?:/[a-z0-9]+(?:[._-][a-z0-9]+)*)*$")
_IMAGE_TAG_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")
_ENV_NAME_RE = re.compile(r"^[A-Z_][A-Z0-9_]*$")
Percent = Annotated[StrictInt, Field(ge=1, le=100)]
Seconds = Annotated[StrictInt, Field(ge=0, le=3600)]


class Dns(_Model):
    """The Route 53 hosted zone the environment's names live in (named, never looked up)."""

    zone_name: DomainName = Field(description="Hosted zone name, e.g. `example.com`.")
    hosted_zone_id: Annotated[
        StrictStr, _pattern(_ZONE_ID_RE, "a Route 53 hosted zone id like 'Z0123456789ABC'")
    ] = Field(description="Hosted zone id.")


class ImageSource(_Model):
    """Where the service image comes from."""

    source: Literal["asset", "ecr"] = Field(
        "asset", description="`asset`: build `directory` as a Docker image asset; `ecr`: a tag."
    )
    directory: StrictStr = Field("app", description="Asset: directory with a Dockerfile.")
    repository: Annotated[StrictStr, _pattern(_REPOSITORY_RE, "an ECR repository name")] | None = (
        Field(None, description="ECR: repository name.")
    )
    tag: Annotated[StrictStr, _pattern(_IMAGE_TAG_RE, "an image tag")] | None = Field(
        None, description="ECR: image tag."
    )

    @model_validator(mode="after")
    def _check(self) -> ImageSource:
        if self.source == "ecr" and not (self.repository and self.tag):
            missing = "repository" if not self.repository else "tag"
            raise FieldError(missing, "is required when source is 'ecr'", cross_field=True)
        return self


class Capacity(_Model):
    """Number of tasks."""

    min: Annotated[StrictInt, Field(ge=0, le=1000)] = Field(1, description="Fewest tasks.")
    desired: Annotated[StrictInt, Field(ge=0, le=1000)] = Field(1, description="Tasks at deploy.")
    max: Annotated[StrictInt, Field(ge=1, le=1000)] = Field(2, description="Most tasks.")

    @model_validator(mode="after")
    def _check(self) -> Capacity:
        if not self.min <= self.desired <= self.max:
            raise FieldError(
                "desired",
                f"needs min <= desired <= max, got {self.min} / {self.desired} / {self.max}",
                cross_field=True,
            )
        return self


class Scaling(_Model):
    """Target tracking on CPU and memory."""

    cpu_target_percent: Percent = Field(70, description="CPU utilisation target.")
    memory_target_percent: Percent = Field(70, description="Memory utilisation target.")
    scale_in_cooldown_seconds: Seconds = Field(300, description="Cool-down after scale-in.")
    scale_out_cooldown_seconds: Seconds = Field(60, description="Cool-down after scale-out.")


class Deployment(_Model):
    """How a new task definition replaces the running one."""

    strategy: Literal["rolling", "blue_green"] = Field(
        "rolling", description="`rolling`, or ECS-native `blue_green` with a bake time."
    )
    bake_time_minutes: Annotated[StrictInt, Field(ge=0, le=1440)] = Field(
        5, description="Blue/green: minutes both versions stay up before the old one goes."
    )
    min_healthy_percent: Annotated[StrictInt, Field(ge=0, le=100)] = Field(
        100, description="Rolling: lowest share of desired tasks kept running."
    )
    max_percent: Annotated[StrictInt, Field(ge=100, le=400)] = Field(
        200, description="Rolling: highest share of desired tasks during a deployment."
    )
    alarm_5xx_threshold: Annotated[StrictInt, Field(ge=1)] = Field(
        10, description="Target 5xx responses per 5 minutes that roll a deployment back."
    )


class HealthCheck(_Model):
    """The load balancer's health check of the tasks."""

    path: Annotated[StrictStr, Field(pattern=r"^/[\x21-\x7e]*$")] = Field(
        "/api/health", description="Path answered with 200 without touching the database."
    )
    interval_seconds: Annotated[StrictInt, Field(ge=5, le=300)] = Field(
        30, description="Seconds between checks."
    )


class Compute(_Model):
    """ECS Fargate service behind an HTTPS load balancer, and its ECR repository."""

    domain_name: DomainName = Field(
        description="The load balancer's HTTPS name (certificate + alias record), in the zone. "
        "`{stage}` stands for the lower-cased stage name, e.g. `origin-{stage}.example.com`."
    )
    image: ImageSource = Field(default_factory=ImageSource)
    cpu: Literal[256, 512, 1024, 2048, 4096, 8192, 16384] = Field(256, description="CPU units.")
    memory_mib: StrictInt = Field(512, description="Memory (MiB), valid for `cpu` on Fargate.")
    architecture: Literal["X86_64", "ARM64"] = Field("ARM64", description="CPU architecture.")
    container_port: Annotated[StrictInt, Field(ge=1, le=65535)] = Field(
        8080, description="Port the container listens on."
    )
    command: tuple[StrictStr, ...] | None = Field(
        None, description="Server command; the image's default when unset. Never migrations."
    )
    environment: Annotated[
        Mapping[
            Annotated[StrictStr, _pattern(_ENV_NAME_RE, "an environment variable name")],
            StrictStr,
        ],
        AfterValidator(_read_only),
    ] = Field(default_factory=dict, description="Plain environment variables (no secrets).")
    capacity: Capacity = Field(default_factory=Capacity)
    subnets: Literal["private", "public"] = Field(
        "private",
        description="Where tasks run; `public` (with a public IP) only for `network.nat: none`.",
    )
    scaling: Scaling = Field(default_factory=Scaling)
    deployment: Deployment = Field(default_factory=Deployment)
    health_check: HealthCheck = Field(default_factory=HealthCheck)
    deregistration_delay_seconds: Seconds = Field(60, description="Connection draining.")
    load_balancer_deletion_protection: StrictBool = Field(
        True, description="Deletion protection on the load balancer."
    )
    access_log_retention_days: Annotated[StrictInt, Field(ge=1, le=3650)] = Field(
        90, description="Days load balancer access logs are kept."
    )
    log_retention_days: RetentionDays = Field(30, description="Container logs.")
    enable_execute_command: StrictBool = Field(False, description="ECS Exec into tasks.")
    ecr_keep_images: Annotated[StrictInt, Field(ge=1, le=1000)] = Field(
        30, description="Images the ECR lifecycle rule keeps."
    )

    @model_validator(mode="after")
    def _check(self) -> Compute:
        if self.memory_mib not in FARGATE_MEMORY[self.cpu]:
            allowed = FARGATE_MEMORY[self.cpu]
            raise FieldError(
                "memory_mib",
                f"{self.memory_mib} is not a Fargate size for cpu {self.cpu} "
                f"({allowed[0]}-{allowed[-1]} in steps of {allowed[1] - allowed[0]})",
                cross_field=True,
            )
        return self


class Migration(_Model):
    """The one-shot migration task run before every service update."""

    command: tuple[StrictStr, ...] = Field(
        ("python", "-m", "sample_api", "migrate"),
        min_length=1,
        description="Command of the `migration` container (same image as the service).",
    )
    timeout_minutes: Annotated[StrictInt, Field(ge=1, le=55)] = Field(
        15,
        description="A migration still running after this is stopped and fails the "
        "deployment (CloudFormation waits at most an hour for a custom resource).",
    )


# --------------------------------------------------------------------------- environment


class EnvironmentConfig(_Model):
    """Everything that describes one environment (one CDK Stage)."""

    stage_name: StageName = Field(
        description="CDK Stage id and stack-name prefix, e.g. `Prod` (stacks `Prod-Network`)."
    )
    account: AccountId = Field(description="AWS account id (12 digits).")
    region: Region = Field(description="AWS region of the environment's regional stacks.")
    termination_protection: StrictBool = Field(
        False, description="CloudFormation termination protection on every stack."
    )
    tags: Tags
    network: Network
    database: Database
    dns: Dns
    compute: Compute
    migration: Migration = Field(default_factory=Migration)

    @model_validator(mode="before")
    @classmethod
    def _expand_stage_placeholder(cls, data: object) -> object:
        """`{stage}` in compute.domain_name -> the lower-cased stage name, so an environment
        file copied from another gets its own name without editing it."""
        if not isinstance(data, Mapping):
            return data
        stage, compute = data.get("stage_name"), data.get("compute")
        if not (isinstance(stage, str) and isinstance(compute, Mapping)):
            return data
        domain = compute.get("domain_name")
        if isinstance(domain, str) and "{stage}" in domain:
            compute = {**compute, "domain_name": domain.replace("{stage}", stage.lower())}
            return {**data, "compute": compute}
        return data

    @model_validator(mode="after")
    def _zones_in_region(self) -> EnvironmentConfig:
        for zone in self.network.availability_zones:
            if not re.fullmatch(re.escape(self.region) + "[a-z]", zone):
                raise FieldError(
                    "network.availability_zones",
                    f"{zone!r} is not a zone of region {self.region!r}",
                    cross_field=True,
                )
        domain, zone = self.compute.domain_name, self.dns.zone_name
        if not domain.endswith(f".{zone}"):
            raise FieldError(
                "compute.domain_name",
                f"{domain!r} is not inside the hosted zone {zone!r}",
                cross_field=True,
            )
        nat, subnets = self.network.nat, self.compute.subnets
        if subnets == "public" and nat != "none":
            raise FieldError(
                "compute.subnets",
                f"'public' is for network.nat 'none'; with nat {nat!r} tasks belong in "
                "'private' subnets",
                cross_field=True,
            )
        missing = [e for e in NO_NAT_TASK_ENDPOINTS if e not in self.network.interface_endpoints]
        if nat == "none" and subnets == "private" and missing:
            raise FieldError(
                "network.interface_endpoints",
                f"must include {', '.join(missing)}: tasks in private subnets without NAT "
                "pull images, write logs and read secrets only through them",
                cross_field=True,
            )
        if self.network.nat == "none" and "secretsmanager" not in self.network.interface_endpoints:
            raise FieldError(
                "network.interface_endpoints",
                "must include 'secretsmanager' when nat is 'none': the password-rotation "
                "function has no other way to reach Secrets Manager",
                cross_field=True,
            )
        return self
