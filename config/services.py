"""Config of the workloads: `services`, a map of name to service (Copilot's one block per
workload), and the per-environment `storage` bucket they may use.

A service has a `kind`: `web` (routed from the environment's one load balancer by path
and/or host, one of them the default `/*`) or `backend` (no load balancer; reached by the
other services through ECS Service Connect as `http://<name>:<port>`). Workers and scheduled
jobs slot in as further kinds. The rules that span services (routes, names, references)
live in `check_services`, which the environment model calls with the context it holds.
"""

from __future__ import annotations

import re
import zlib
import zoneinfo
from collections.abc import Mapping
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    Field,
    StrictBool,
    StrictInt,
    StrictStr,
    model_validator,
)

from config.primitives import (
    ConfigModel,
    DomainName,
    FieldError,
    RetentionDays,
    pattern,
    read_only,
    unique,
)
from l3_constructs.limits import cloudfront_path_matches

#: A service name: a lower-case DNS label (it becomes the Service Connect name).
_SERVICE_NAME_RE = re.compile(r"^[a-z](?:[a-z0-9-]{0,30}[a-z0-9])?$")
_REPOSITORY_RE = re.compile(r"^[a-z0-9]+(?:[._-][a-z0-9]+)*(?:/[a-z0-9]+(?:[._-][a-z0-9]+)*)*$")
_IMAGE_TAG_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")
_ENV_NAME_RE = re.compile(r"^[A-Z_][A-Z0-9_]*$")
#: Characters an ALB path-pattern condition accepts (plus the * and ? wildcards).
_ALB_PATH_RE = re.compile(r"^/[A-Za-z0-9_\-.$/~\"'@:+&*?]{0,127}$")
_SECRET_NAME_RE = re.compile(r"^[A-Za-z0-9/_+=.@-]{1,512}$")
_SECRET_ARN_RE = re.compile(r"^arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:\d{12}:secret:.+$")
_SSM_NAME_RE = re.compile(r"^/[A-Za-z0-9_.\-/]{1,1010}$")
_KMS_KEY_ARN_RE = re.compile(r"^arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:key/[0-9a-f-]{36}$")
_JSON_KEY_RE = re.compile(r"^[A-Za-z0-9_.-]{1,256}$")
_ABSOLUTE_PATH_RE = re.compile(r"^/[A-Za-z0-9_.\-/]+$")
_RELATIVE_PATH_RE = re.compile(r"^(?!/)(?!.*\.\.)[A-Za-z0-9_.\-/]+$")
_S3_PREFIX_RE = re.compile(r"^(?!/)(?!.*//)(?!.*\.\.)[A-Za-z0-9_.\-/]+(?<!/)$")
_ORIGIN_RE = re.compile(r"^(\*|https?://[a-z0-9.*-]+(:\d{1,5})?)$")
#: Words that make an environment variable's name look like it holds a secret.
SECRET_LIKE_WORDS = ("PASSWORD", "SECRET", "TOKEN", "API_KEY", "PRIVATE_KEY")

Percent = Annotated[StrictInt, Field(ge=1, le=100)]
Seconds = Annotated[StrictInt, Field(ge=0, le=3600)]
ServiceName = Annotated[
    StrictStr, pattern(_SERVICE_NAME_RE, "a lower-case DNS label of at most 32 characters")
]
EnvName = Annotated[StrictStr, pattern(_ENV_NAME_RE, "an environment variable name")]

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
MAX_SERVICES = 20
#: An ALB rule takes at most five condition values; the origin-verify header takes one.
MAX_ROUTE_VALUES = 4
#: The default web service's rule: after every other rule.
DEFAULT_RULE_PRIORITY = 50_000


class ImageSource(ConfigModel):
    """Where the service image comes from."""

    source: Literal["asset", "ecr"] = Field(
        "asset", description="`asset`: build `directory` as a Docker image asset; `ecr`: a tag."
    )
    directory: Annotated[StrictStr, pattern(_RELATIVE_PATH_RE, "a path inside the repository")] | (
        None
    ) = Field(None, description="Asset: directory with a Dockerfile, from the repository root.")
    repository: Annotated[StrictStr, pattern(_REPOSITORY_RE, "an ECR repository name")] | None = (
        Field(None, description="ECR: repository name.")
    )
    tag: Annotated[StrictStr, pattern(_IMAGE_TAG_RE, "an image tag")] | None = Field(
        None, description="ECR: image tag."
    )

    @model_validator(mode="after")
    def _check(self) -> ImageSource:
        if self.source == "asset" and not self.directory:
            raise FieldError("directory", "is required when source is 'asset'", cross_field=True)
        if self.source == "ecr" and not (self.repository and self.tag):
            missing = "repository" if not self.repository else "tag"
            raise FieldError(missing, "is required when source is 'ecr'", cross_field=True)
        return self


class Capacity(ConfigModel):
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


class Scaling(ConfigModel):
    """Target tracking on CPU and memory."""

    cpu_target_percent: Percent = Field(70, description="CPU utilisation target.")
    memory_target_percent: Percent = Field(70, description="Memory utilisation target.")
    scale_in_cooldown_seconds: Seconds = Field(300, description="Cool-down after scale-in.")
    scale_out_cooldown_seconds: Seconds = Field(60, description="Cool-down after scale-out.")


class Deployment(ConfigModel):
    """How a new task definition replaces the running one."""

    strategy: Literal["rolling", "blue_green", "canary", "linear"] = Field(
        "rolling",
        description="`rolling`, or ECS-native `blue_green`, `canary` or `linear` with a bake "
        "time (web only: they shift the service's listener rule between two target groups).",
    )
    bake_time_minutes: Annotated[StrictInt, Field(ge=0, le=1440)] = Field(
        5,
        description="Blue/green, canary, linear: minutes both versions stay up after all "
        "traffic has moved, before the old one goes.",
    )
    canary_percent: Annotated[float, Field(ge=0.1, le=100.0)] = Field(
        10.0, description="Canary: share of traffic the new version gets first."
    )
    linear_step_percent: Annotated[float, Field(ge=3.0, le=100.0)] = Field(
        25.0, description="Linear: share of traffic moved at each step."
    )
    step_bake_minutes: Annotated[StrictInt, Field(ge=0, le=1440)] = Field(
        5, description="Canary, linear: minutes between traffic steps (alarms can roll back)."
    )

    @model_validator(mode="after")
    def _check(self) -> Deployment:
        for field in ("canary_percent", "linear_step_percent"):
            value = getattr(self, field)
            if abs(value * 10 - round(value * 10)) > 1e-9:
                raise FieldError(field, f"{value} is not a multiple of 0.1 (ECS's step)")
        return self

    min_healthy_percent: Annotated[StrictInt, Field(ge=0, le=100)] = Field(
        100, description="Rolling: lowest share of desired tasks kept running."
    )
    max_percent: Annotated[StrictInt, Field(ge=100, le=400)] = Field(
        200, description="Rolling: highest share of desired tasks during a deployment."
    )
    alarm_5xx_threshold: Annotated[StrictInt, Field(ge=1)] = Field(
        10, description="Web: target 5xx responses per 5 minutes that roll a deployment back."
    )


#: ECS deployment strategies that shift a listener rule (web services only).
TRAFFIC_SHIFTING = ("blue_green", "canary", "linear")
CapacityProviderName = Literal["fargate", "fargate_spot"]


class SpotMix(ConfigModel):
    """How `fargate_spot` spreads tasks: the first `fargate_base` on regular Fargate, the
    rest in the ratio `fargate_weight` : `spot_weight` (all Spot: 0 / 0 / 1)."""

    fargate_base: Annotated[StrictInt, Field(ge=0, le=100_000)] = Field(
        0, description="Tasks always on regular Fargate (interruption-free)."
    )
    fargate_weight: Annotated[StrictInt, Field(ge=0, le=1000)] = Field(
        0, description="Relative share of the other tasks on regular Fargate."
    )
    spot_weight: Annotated[StrictInt, Field(ge=0, le=1000)] = Field(
        1, description="Relative share of the other tasks on Fargate Spot (up to 70 % less)."
    )

    @model_validator(mode="after")
    def _check(self) -> SpotMix:
        if self.fargate_weight + self.spot_weight == 0:
            raise FieldError(
                "spot_weight",
                "fargate_weight and spot_weight add to zero: ECS would place no task beyond "
                "the base",
                cross_field=True,
            )
        return self


#: The only Linux capability Fargate lets a task add back.
_CAPABILITY = Literal["SYS_PTRACE"]
#: A user (uid[:gid] or names), never root (0 or `root`).
_USER_RE = re.compile(
    r"^(?!0(:|$))(?!root(:|$))[A-Za-z0-9_][A-Za-z0-9_.-]{0,31}(:[A-Za-z0-9_][A-Za-z0-9_.-]{0,31})?$"
)


class HealthCheck(ConfigModel):
    """The load balancer's health check of a web service's tasks."""

    path: Annotated[StrictStr, Field(pattern=r"^/[\x21-\x7e]*$")] = Field(
        "/", description="Path answered with 200 without touching the database."
    )
    interval_seconds: Annotated[StrictInt, Field(ge=5, le=300)] = Field(
        30, description="Seconds between checks."
    )


class ContainerHealthCheck(ConfigModel):
    """ECS's own health check of the container (any kind): a command run inside it."""

    command: Annotated[tuple[StrictStr, ...], Field(min_length=1)] = Field(
        description="Run with `CMD-SHELL` when one string, else as `CMD` with its arguments; "
        "exit 0 is healthy."
    )
    interval_seconds: Annotated[StrictInt, Field(ge=5, le=300)] = Field(30)
    timeout_seconds: Annotated[StrictInt, Field(ge=2, le=60)] = Field(5)
    retries: Annotated[StrictInt, Field(ge=1, le=10)] = Field(3)
    start_period_seconds: Annotated[StrictInt, Field(ge=0, le=300)] = Field(
        0, description="Grace period in which failures do not count."
    )

    @model_validator(mode="after")
    def _check(self) -> ContainerHealthCheck:
        if self.timeout_seconds >= self.interval_seconds:
            raise FieldError(
                "timeout_seconds",
                f"{self.timeout_seconds} must be shorter than interval_seconds "
                f"{self.interval_seconds}",
                cross_field=True,
            )
        return self


class Stickiness(ConfigModel):
    """Load-balancer cookie stickiness of a web service's target group."""

    type: Literal["lb_cookie"] = Field("lb_cookie", description="The ALB's own cookie.")
    duration_seconds: Annotated[StrictInt, Field(ge=1, le=604_800)] = Field(
        86_400, description="How long a client sticks to one task."
    )


class StaticFiles(ConfigModel):
    """Static files a web service's build produces, published to the Edge stack's bucket
    under `prefix` (CloudFront serves `/<prefix>/*` from there)."""

    from_image: Annotated[StrictStr, pattern(_ABSOLUTE_PATH_RE, "an absolute path")] | None = Field(
        None, description="Pipeline: copy this directory out of the built image."
    )
    directory: Annotated[StrictStr, pattern(_RELATIVE_PATH_RE, "a path inside the repository")] | (
        None
    ) = Field(
        None,
        description="A build output directory (from the repository root); what `cdk deploy` "
        "publishes without a pipeline, and what the pipeline publishes without `from_image`.",
    )
    prefix: Annotated[StrictStr, pattern(_S3_PREFIX_RE, "an S3 key prefix like '_next/static'")] = (
        Field("_next/static", description="Key prefix in the bucket = the URL path.")
    )

    @model_validator(mode="after")
    def _check(self) -> StaticFiles:
        if not (self.from_image or self.directory):
            raise FieldError("from_image", "name `from_image` or `directory` (or both)")
        return self


class AppSecret(ConfigModel):
    """One secret a service reads as an environment variable (injected by ECS at start)."""

    secrets_manager: (
        Annotated[StrictStr, pattern(_SECRET_NAME_RE, "a secret name")]
        | Annotated[StrictStr, pattern(_SECRET_ARN_RE, "a secret ARN")]
        | None
    ) = Field(None, description="A Secrets Manager secret's name or ARN.")
    field: Annotated[StrictStr, pattern(_JSON_KEY_RE, "a JSON key")] | None = Field(
        None, description="Secrets Manager: a key of the secret's JSON value; null: the value."
    )
    ssm: Annotated[StrictStr, pattern(_SSM_NAME_RE, "a parameter name like '/app/x'")] | None = (
        Field(None, description="An SSM Parameter Store parameter (String or SecureString).")
    )
    create: StrictBool = Field(
        False,
        description="Secrets Manager, by name: the stack creates the secret (a generated "
        "placeholder value, retained on delete); the operator sets the real value.",
    )
    kms_key_arn: Annotated[StrictStr, pattern(_KMS_KEY_ARN_RE, "a KMS key ARN")] | None = Field(
        None,
        description="Customer-managed key the secret or parameter is encrypted with; the "
        "service may decrypt with it only through Secrets Manager / SSM. Null: AWS-managed.",
    )

    @model_validator(mode="after")
    def _check(self) -> AppSecret:
        if (self.secrets_manager is None) == (self.ssm is None):
            raise FieldError("secrets_manager", "name exactly one of `secrets_manager` or `ssm`")
        if self.ssm is not None and self.field is not None:
            raise FieldError("field", "is for Secrets Manager JSON secrets, not SSM parameters")
        if self.create and self.ssm is not None:
            raise FieldError(
                "create",
                "CloudFormation cannot create SecureString parameters: create it once with "
                "`aws ssm put-parameter --type SecureString` (README), or use secrets_manager",
            )
        if self.create and self.secrets_manager and self.secrets_manager.startswith("arn:"):
            raise FieldError("create", "needs a secret name, not an ARN (the ARN is generated)")
        return self

    @property
    def is_arn(self) -> bool:
        return bool(self.secrets_manager and self.secrets_manager.startswith("arn:"))


class WorkerQueue(ConfigModel):
    """A worker's SQS queue (KMS-encrypted, SSL-only) and its dead-letter queue."""

    visibility_timeout_seconds: Annotated[StrictInt, Field(ge=0, le=43_200)] = Field(
        300,
        description="How long a received message stays hidden; at least the worker's "
        "stop_timeout_seconds, so a message in flight at a stop is finished or returned.",
    )
    max_receive_count: Annotated[StrictInt, Field(ge=1, le=1000)] = Field(
        5, description="Receives before a message moves to the dead-letter queue."
    )
    retention_days: Annotated[StrictInt, Field(ge=1, le=14)] = Field(
        4, description="Days an unprocessed message is kept."
    )
    dead_letter_retention_days: Annotated[StrictInt, Field(ge=1, le=14)] = Field(
        14, description="Days a dead-lettered message is kept (for a person to look at)."
    )
    backlog_per_task: Annotated[StrictInt, Field(ge=1, le=100_000)] = Field(
        10, description="Target of visible messages per running task (target tracking)."
    )
    oldest_message_alarm_seconds: Annotated[StrictInt, Field(ge=60, le=1_209_600)] = Field(
        900, description="Alarm when the oldest message is older than this."
    )


_RATE_RE = re.compile(r"^rate\((\d{1,6}) (minute|minutes|hour|hours|day|days)\)$")
_CRON_FIELD_RE = re.compile(r"^[0-9A-Za-z*?,/#L\-]+$")


def _schedule(value: str) -> str:
    """EventBridge Scheduler's `rate(n unit)` or six-field `cron(...)` (one of day-of-month
    and day-of-week must be `?`); `at(...)` one-off runs are not jobs."""
    rate = _RATE_RE.fullmatch(value)
    if rate:
        count, unit = int(rate.group(1)), rate.group(2)
        if count < 1 or (count == 1) != (not unit.endswith("s")):
            raise ValueError(
                f"{value!r} is not a valid rate: 'rate(1 hour)', 'rate(5 minutes)' (n >= 1, "
                "singular unit for 1)"
            )
        return value
    if value.startswith("cron(") and value.endswith(")"):
        fields = value[5:-1].split(" ")
        if (
            len(fields) == 6
            and all(_CRON_FIELD_RE.fullmatch(f) for f in fields)
            and "?" in (fields[2], fields[4])
            and not fields[2] == fields[4] == "?"
        ):
            return value
        raise ValueError(
            f"{value!r} is not a valid cron expression: six fields, minutes hours "
            "day-of-month month day-of-week year, one of the two days '?' (e.g. "
            "'cron(0 3 * * ? *)')"
        )
    raise ValueError(f"{value!r} is not a schedule: 'cron(...)' or 'rate(...)'")


def _time_zone(value: str) -> str:
    if value not in zoneinfo.available_timezones():
        raise ValueError(f"{value!r} is not an IANA time zone (e.g. 'Asia/Tokyo', 'UTC')")
    return value


class JobRetry(ConfigModel):
    """How EventBridge Scheduler retries an invocation that could not start the run."""

    attempts: Annotated[StrictInt, Field(ge=0, le=185)] = Field(2, description="Retries.")
    max_event_age_seconds: Annotated[StrictInt, Field(ge=60, le=86_400)] = Field(
        3600, description="Give up (to the dead-letter queue) after this long."
    )


ServiceKind = Literal["web", "backend", "worker", "job"]
StorageAccess = Literal["none", "read", "read_write"]


class Service(ConfigModel):
    """One workload: a container image run as an ECS service."""

    kind: ServiceKind = Field(
        description="`web`: routed from the load balancer (`paths`, `hosts` or `default`); "
        "`backend`: no load balancer, reached through Service Connect only."
    )
    image: ImageSource
    cpu: Literal[256, 512, 1024, 2048, 4096, 8192, 16384] = Field(256, description="CPU units.")
    memory_mib: StrictInt = Field(512, description="Memory (MiB), valid for `cpu` on Fargate.")
    architecture: Literal["X86_64", "ARM64"] = Field("ARM64", description="CPU architecture.")
    port: Annotated[StrictInt, Field(ge=1, le=65535)] = Field(
        8080, description="Port the container listens on (also `PORT` in its environment)."
    )
    command: tuple[StrictStr, ...] | None = Field(
        None, description="Server command; the image's default when unset. Never migrations."
    )
    environment: Annotated[Mapping[EnvName, StrictStr], AfterValidator(read_only)] = Field(
        default_factory=dict, description="Plain environment variables (no secrets)."
    )
    secrets: Annotated[Mapping[EnvName, AppSecret], AfterValidator(read_only)] = Field(
        default_factory=dict, description="Environment variable -> secret or parameter."
    )
    capacity: Capacity = Field(default_factory=Capacity)
    scaling: Scaling = Field(default_factory=Scaling)
    deployment: Deployment = Field(default_factory=Deployment)
    health_check: HealthCheck = Field(default_factory=HealthCheck)
    container_health_check: ContainerHealthCheck | None = Field(
        None, description="ECS health check inside the container; null: none."
    )
    deregistration_delay_seconds: Seconds = Field(60, description="Web: connection draining.")
    stickiness: Stickiness | None = Field(None, description="Web: sticky sessions; null: off.")
    enable_execute_command: StrictBool = Field(False, description="ECS Exec into tasks.")
    log_retention_days: RetentionDays = Field(30, description="Container logs.")
    database: StrictBool = Field(
        False, description="Credentials (DB_*) and a security-group rule to the database."
    )
    storage: StorageAccess = Field(
        "none", description="Access to the `storage` bucket through the task role."
    )
    connects_to: Annotated[tuple[ServiceName, ...], unique()] = Field(
        (), description="Services it calls through Service Connect (`<NAME>_URL`)."
    )
    default: StrictBool = Field(
        False, description="Web: the default route (`/*`); exactly one web service has it."
    )
    paths: Annotated[
        tuple[
            Annotated[StrictStr, pattern(_ALB_PATH_RE, "an ALB path pattern like '/api/*'")], ...
        ],
        unique(),
    ] = Field((), description="Web: ALB path patterns routed here, e.g. `/api/*`.")
    hosts: Annotated[tuple[DomainName, ...], unique()] = Field(
        (),
        description="Web: viewer host names routed here (also CloudFront aliases, certificate "
        "names and DNS records), in the zone.",
    )
    priority: Annotated[StrictInt, Field(ge=1, le=DEFAULT_RULE_PRIORITY - 1)] | None = Field(
        None, description="Web: listener rule priority; null: derived from the route."
    )
    static: StaticFiles | None = Field(
        None, description="Web: static files published to the CloudFront bucket; null: none."
    )
    stop_timeout_seconds: Annotated[StrictInt, Field(ge=2, le=120)] = Field(
        30,
        description="Seconds between SIGTERM and SIGKILL when a task stops (Fargate allows "
        "up to 120): time to finish or return the message in hand.",
    )
    publishes_to: Annotated[tuple[ServiceName, ...], unique()] = Field(
        (),
        description="Workers it sends messages to: sqs:SendMessage on their queues only, and "
        "`<WORKER>_QUEUE_URL`.",
    )
    capacity_provider: CapacityProviderName | None = Field(
        None,
        description="`fargate` or `fargate_spot` for this service; null: "
        "compute.capacity_provider.",
    )
    spot_mix: SpotMix | None = Field(
        None, description="With fargate_spot: the base/weight mix; null: compute.spot_mix."
    )
    user: Annotated[StrictStr, pattern(_USER_RE, "a non-root user like '10001:10001'")] = Field(
        "10001:10001",
        description="User (uid[:gid] or name) the container runs as; never root. The "
        "samples' images define 10001.",
    )
    writable_paths: Annotated[
        tuple[Annotated[StrictStr, pattern(_ABSOLUTE_PATH_RE, "an absolute path")], ...],
        unique(),
    ] = Field(
        ("/tmp",),  # noqa: S108 - a path in the container, not on this machine
        description="Writable scratch volumes (the root filesystem is read-only), e.g. "
        "`/tmp`, Next.js's `/app/.next/cache`.",
    )
    add_capabilities: Annotated[tuple[_CAPABILITY, ...], unique()] = Field(
        (),
        description="Linux capabilities added back (every other one is dropped); Fargate "
        "allows only SYS_PTRACE.",
    )
    queue: WorkerQueue = Field(
        default_factory=WorkerQueue, description="Worker: its queue and backlog scaling."
    )
    schedule: Annotated[StrictStr, AfterValidator(_schedule)] | None = Field(
        None, description="Job: `cron(...)` or `rate(...)` (EventBridge Scheduler)."
    )
    timezone: Annotated[StrictStr, AfterValidator(_time_zone)] = Field(
        "UTC", description="Job: the time zone of a cron schedule, e.g. `Asia/Tokyo`."
    )
    flexible_window_minutes: Annotated[StrictInt, Field(ge=0, le=1440)] = Field(
        0, description="Job: start within this many minutes of the schedule; 0: on time."
    )
    retry: JobRetry = Field(default_factory=JobRetry, description="Job: retries to start.")
    timeout_minutes: Annotated[StrictInt, Field(ge=1, le=1440)] = Field(
        60, description="Job: a run still going after this is stopped (and reported)."
    )

    @model_validator(mode="after")
    def _check(self) -> Service:  # noqa: PLR0912 - one rule per field
        self._check_kind_fields()
        if self.memory_mib not in FARGATE_MEMORY[self.cpu]:
            allowed = FARGATE_MEMORY[self.cpu]
            raise FieldError(
                "memory_mib",
                f"{self.memory_mib} is not a Fargate size for cpu {self.cpu} "
                f"({allowed[0]}-{allowed[-1]} in steps of {allowed[1] - allowed[0]})",
                cross_field=True,
            )
        for name in self.environment:
            if looks_secret(name):
                raise FieldError(
                    f"environment.{name}",
                    "looks like a secret: put it in `secrets` (Secrets Manager or SSM), "
                    "never in plain environment variables",
                )
        for name in self.environment:
            if name in self.secrets:
                raise FieldError(f"environment.{name}", "is also in `secrets`")
        if self.kind != "web":
            web_only = {
                "paths": bool(self.paths),
                "hosts": bool(self.hosts),
                "default": self.default,
                "priority": self.priority is not None,
                "static": self.static is not None,
                "stickiness": self.stickiness is not None,
            }
            for field, given in web_only.items():
                if given:
                    raise FieldError(
                        field,
                        f"is for web services; a {self.kind} has no load balancer route"
                        + _REACHED_BY[self.kind],
                        cross_field=True,
                    )
            if self.deployment.strategy in TRAFFIC_SHIFTING:
                raise FieldError(
                    "deployment.strategy",
                    f"{self.deployment.strategy} shifts a load balancer rule; a {self.kind} "
                    "has none: use rolling",
                    cross_field=True,
                )
            if self.kind == "worker" and self.queue.visibility_timeout_seconds < (
                self.stop_timeout_seconds
            ):
                raise FieldError(
                    "queue.visibility_timeout_seconds",
                    f"{self.queue.visibility_timeout_seconds} is shorter than "
                    f"stop_timeout_seconds {self.stop_timeout_seconds}: a message in flight "
                    "when the task stops would be delivered twice at once",
                    cross_field=True,
                )
            if self.kind == "job" and self.schedule is None:
                raise FieldError("schedule", "a job needs a schedule: 'cron(...)' or 'rate(...)'")
            return self
        if self.default and (self.paths or self.hosts):
            raise FieldError(
                "paths" if self.paths else "hosts",
                "the default service takes every request no other rule claims (`/*`): "
                "drop its paths and hosts",
                cross_field=True,
            )
        if self.default and self.priority is not None:
            raise FieldError("priority", "the default rule is always last", cross_field=True)
        if not (self.default or self.paths or self.hosts):
            raise FieldError(
                "paths", "a web service needs `paths`, `hosts` or `default: true`", cross_field=True
            )
        if len(self.paths) + len(self.hosts) > MAX_ROUTE_VALUES:
            raise FieldError(
                "paths",
                f"paths and hosts together may list at most {MAX_ROUTE_VALUES} values "
                "(an ALB rule takes five, one of them the origin-verify header)",
                cross_field=True,
            )
        if self.paths and not any(alb_path_matches(p, self.health_check.path) for p in self.paths):
            raise FieldError(
                "health_check.path",
                f"{self.health_check.path!r} is not under the service's paths "
                f"({', '.join(self.paths)}): the smoke test and canary reach it through them",
                cross_field=True,
            )
        return self

    def _check_kind_fields(self) -> None:
        """Settings a kind does not take are refused when given (defaults do not count)."""
        for field, kinds in _KIND_FIELDS.items():
            if self.kind not in kinds and field in self.model_fields_set:
                raise FieldError(
                    field,
                    f"is not a setting of a {self.kind} (only of {' and '.join(kinds)})"
                    + (": a job runs one task per schedule" if self.kind == "job" else ""),
                    cross_field=True,
                )


#: How a kind without a load balancer route is reached, for the refusal above.
_REACHED_BY = {
    "backend": " (others reach it through Service Connect)",
    "worker": " (others reach it through its queue: `publishes_to`)",
    "job": " (it runs on its schedule)",
}
#: Settings only some kinds take: field -> the kinds.
_KIND_FIELDS: dict[str, tuple[str, ...]] = {
    "queue": ("worker",),
    **dict.fromkeys(
        ("schedule", "timezone", "flexible_window_minutes", "retry", "timeout_minutes"), ("job",)
    ),
    **dict.fromkeys(
        ("capacity", "scaling", "deployment", "connects_to", "capacity_provider", "spot_mix"),
        ("web", "backend", "worker"),
    ),
}


def url_variable(name: str) -> str:
    """The variable a client of service `name` finds its address in: `api` -> `API_URL`."""
    return f"{name.upper().replace('-', '_')}_URL"


def queue_variable(name: str) -> str:
    """The variable a publisher finds worker `name`'s queue in: `mail` -> `MAIL_QUEUE_URL`."""
    return f"{name.upper().replace('-', '_')}_QUEUE_URL"


#: What a worker finds its own queue's URL in.
QUEUE_VARIABLE = "QUEUE_URL"


def looks_secret(name: str) -> bool:
    upper = name.upper()
    return any(word in upper for word in SECRET_LIKE_WORDS)


#: ALB path patterns match as CloudFront's do: `*` any run of characters, `?` exactly one,
#: case-sensitive, everything else literal.
alb_path_matches = cloudfront_path_matches


def _literal_prefix(path: str) -> str:
    cut = min((i for i, c in enumerate(path) if c in "*?"), default=len(path))
    return path[:cut]


def rule_priority(name: str, service: Service) -> int:
    """The listener rule priority of web service `name`, from its own route only, so adding
    or removing another service never moves it. Lower wins: host and path rules first, then
    host rules, then path rules, each the longer literal path prefix first; the name's
    checksum breaks ties. `check_services` refuses two equal priorities."""
    if service.default:
        return DEFAULT_RULE_PRIORITY
    if service.priority is not None:
        return service.priority
    band = 0 if service.hosts and service.paths else 10_000 if service.hosts else 20_000
    longest = max((len(_literal_prefix(p)) for p in service.paths), default=0)
    return band + 1 + (99 - min(longest, 99)) * 100 + zlib.crc32(name.encode()) % 100


class CorsRule(ConfigModel):
    """A CORS rule of the storage bucket (browser uploads with presigned URLs)."""

    allowed_origins: Annotated[
        tuple[Annotated[StrictStr, pattern(_ORIGIN_RE, "an origin like 'https://x.com'")], ...],
        Field(min_length=1),
        unique(),
    ]
    allowed_methods: Annotated[
        tuple[Literal["GET", "PUT", "POST", "HEAD", "DELETE"], ...], Field(min_length=1), unique()
    ] = Field(("GET", "PUT"))
    allowed_headers: Annotated[tuple[StrictStr, ...], unique()] = Field(("*",))
    exposed_headers: Annotated[tuple[StrictStr, ...], unique()] = Field(("ETag",))
    max_age_seconds: Annotated[StrictInt, Field(ge=0, le=86_400)] = Field(3000)


class Storage(ConfigModel):
    """One S3 bucket for the application's files (uploads, documents), per environment."""

    cors: tuple[CorsRule, ...] = Field((), description="CORS rules; none: no CORS.")
    removal_policy: Literal["retain", "destroy"] = Field(
        "retain", description="`destroy` empties and deletes the bucket with its stack."
    )
    noncurrent_version_days: Annotated[StrictInt, Field(ge=1, le=3650)] = Field(
        30, description="Days an overwritten or deleted object's old version is kept."
    )
    access_log_retention_days: Annotated[StrictInt, Field(ge=1, le=3650)] = Field(
        90, description="Days the bucket's server access logs are kept."
    )


def drop_removed_services(data: object) -> object:
    """`services: {name: null}` in an environment file removes a service of defaults.yaml."""
    if isinstance(data, Mapping):
        return {k: v for k, v in data.items() if v is not None}
    return data


Services = Annotated[
    Mapping[ServiceName, Service],
    AfterValidator(read_only),
]


#: Variables the platform sets in a service's container; config may not set them too.
DATABASE_VARIABLES = ("DB_HOST", "DB_PORT", "DB_NAME", "DB_USERNAME", "DB_PASSWORD")
STORAGE_VARIABLE = "STORAGE_BUCKET"
PLATFORM_VARIABLES = ("PORT", "AWS_XRAY_DAEMON_ADDRESS")


def platform_variables(service: Service) -> tuple[str, ...]:
    """Names the platform sets in `service`'s container."""
    names = [
        *PLATFORM_VARIABLES,
        *(url_variable(n) for n in service.connects_to),
        *(queue_variable(n) for n in service.publishes_to),
    ]
    if service.kind == "worker":
        names.append(QUEUE_VARIABLE)
    if service.database:
        names += DATABASE_VARIABLES
    if service.storage != "none":
        names.append(STORAGE_VARIABLE)
    return tuple(names)


def check_services(  # noqa: PLR0912, PLR0915 - one rule per finding, all reported together
    services: Mapping[str, Service],
    *,
    migration_service: str,
    origin_domain: str,
    zone_name: str,
    static_paths: tuple[str, ...],
    storage: Storage | None,
    has_pipeline: bool,
) -> list[FieldError]:
    """Every problem that spans services, each naming its field below the environment."""
    problems: list[FieldError] = []

    def problem(field: str, message: str) -> None:
        problems.append(FieldError(field, message, cross_field=True))

    if not 1 <= len(services) <= MAX_SERVICES:
        problem("services", f"lists {len(services)} services; an environment runs 1-{MAX_SERVICES}")
        return problems
    if migration_service not in services:
        problem(
            "migration.service",
            f"{migration_service!r} is not a service of this environment "
            f"({', '.join(sorted(services))})",
        )
    elif services[migration_service].kind == "job":
        problem(
            "migration.service",
            f"{migration_service!r} is a job: the migration runs before a service's update",
        )
    elif not services[migration_service].database:
        problem(
            "migration.service",
            f"{migration_service!r} must say `database: true`: the migration runs with its "
            "image and database credentials",
        )
    web = {n: s for n, s in services.items() if s.kind == "web"}
    defaults = sorted(n for n, s in web.items() if s.default)
    if not defaults:
        problem("services", "no web service is the default (`default: true` on exactly one)")
    for name in defaults[1:]:
        problem(
            f"services.{name}.default",
            f"{defaults[0]!r} is the default web service already; only one takes `/*`",
        )
    claims: dict[tuple[str | None, str | None], str] = {}
    priorities: dict[int, str] = {}
    prefixes: dict[str, str] = {}
    for name, service in services.items():
        where = f"services.{name}"
        for i, target in enumerate(service.connects_to):
            if target not in services:
                problem(f"{where}.connects_to.{i}", f"{target!r} is not a service")
            elif target == name:
                problem(f"{where}.connects_to.{i}", "a service does not connect to itself")
            elif services[target].kind in ("worker", "job"):
                problem(
                    f"{where}.connects_to.{i}",
                    f"{target!r} is a {services[target].kind}, which serves no requests: "
                    + (
                        "publish to its queue (`publishes_to`)"
                        if services[target].kind == "worker"
                        else "it runs on its schedule"
                    ),
                )
        for i, target in enumerate(service.publishes_to):
            if target not in services or services[target].kind != "worker":
                what = "not a service" if target not in services else f"a {services[target].kind}"
                problem(
                    f"{where}.publishes_to.{i}",
                    f"{target!r} is {what}; `publishes_to` names workers (their queues)",
                )
            elif target == name:
                problem(f"{where}.publishes_to.{i}", "a worker does not publish to itself")
        reserved = set(platform_variables(service))
        for variable in (*service.environment, *service.secrets):
            if variable in reserved:
                section = "environment" if variable in service.environment else "secrets"
                problem(
                    f"{where}.{section}.{variable}",
                    "is set by the platform for this service (database, storage, Service "
                    "Connect, queues or port): choose another name",
                )
        if service.storage != "none" and storage is None:
            problem(f"{where}.storage", f"{service.storage!r} needs the `storage` section")
        if service.kind != "web":
            continue
        for i, host in enumerate(service.hosts):
            if not host.endswith(f".{zone_name}"):
                problem(
                    f"{where}.hosts.{i}", f"{host!r} is not inside the hosted zone {zone_name!r}"
                )
            if host == origin_domain:
                problem(
                    f"{where}.hosts.{i}",
                    f"{host!r} is compute.domain_name, the origin's own name; viewers use "
                    "CloudFront's names",
                )
        hosts: tuple[str | None, ...] = service.hosts or (None,)
        paths: tuple[str | None, ...] = service.paths or (None,)
        for claim in ((h, p) for h in hosts for p in paths if not service.default):
            other = claims.setdefault(claim, name)
            if other != name:
                what = " and ".join(repr(x) for x in claim if x is not None)
                field = "paths" if claim[1] else "hosts"
                problem(f"{where}.{field}", f"{what} is claimed by {other!r} too")
        priority = rule_priority(name, service)
        other = priorities.setdefault(priority, name)
        if other != name and not service.default:
            problem(
                f"{where}.priority",
                f"rule priority {priority} is {other!r}'s too: set `priority` on one of them",
            )
        if service.static is not None:
            prefix = service.static.prefix
            sample = f"/{prefix}/file"
            if not any(cloudfront_path_matches(p, sample) for p in static_paths):
                problem(
                    f"{where}.static.prefix",
                    f"'/{prefix}/*' is not served from the static bucket "
                    f"(edge.static.paths: {', '.join(static_paths)})",
                )
            other = prefixes.setdefault(prefix, name)
            if other != name:
                problem(f"{where}.static.prefix", f"{prefix!r} is {other!r}'s prefix too")
            if not has_pipeline and service.static.directory is None:
                problem(
                    f"{where}.static.directory",
                    "is needed without a pipeline: `cdk deploy` publishes a directory, it "
                    "cannot copy files out of an image",
                )
    built = {s.architecture for s in services.values() if s.image.source == "asset"}
    if has_pipeline and len(built) > 1:
        problem(
            "services",
            "the pipeline builds every asset image on one CodeBuild host: give the services "
            f"built from a directory one architecture (found {', '.join(sorted(built))})",
        )
    for name in defaults[:1]:
        health = services[name].health_check.path
        for other_name, other_web in web.items():
            if (
                other_name != name
                and not other_web.hosts
                and any(alb_path_matches(p, health) for p in other_web.paths)
            ):
                problem(
                    f"services.{name}.health_check.path",
                    f"{health!r} is routed to {other_name!r} (its paths)",
                )
    return problems
