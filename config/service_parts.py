"""The parts a service is configured from (image, capacity, scaling, deployment, health
checks, static files, secrets, a worker's queue, a job's retries, the capacity mix) and the
environment's `storage` bucket: the building blocks `config.services.Service` is made of.
"""

from __future__ import annotations

import functools
import re
import zoneinfo
from typing import Annotated, Literal

from pydantic import AfterValidator, Field, StrictBool, StrictInt, StrictStr, model_validator

from config.primitives import ConfigModel, FieldError, pattern, unique

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
CapacityProviderName = Literal["fargate", "fargate_spot", "ec2"]


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
Capability = Literal["SYS_PTRACE"]
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


@functools.cache
def _time_zones() -> frozenset[str]:
    """The IANA names (read from the tz database once: it walks the files, ~15 ms a call)."""
    return frozenset(zoneinfo.available_timezones())


def _time_zone(value: str) -> str:
    if value not in _time_zones():
        raise ValueError(f"{value!r} is not an IANA time zone (e.g. 'Asia/Tokyo', 'UTC')")
    return value


class JobRetry(ConfigModel):
    """How EventBridge Scheduler retries an invocation that could not start the run."""

    attempts: Annotated[StrictInt, Field(ge=0, le=185)] = Field(2, description="Retries.")
    max_event_age_seconds: Annotated[StrictInt, Field(ge=60, le=86_400)] = Field(
        3600, description="Give up (to the dead-letter queue) after this long."
    )


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


#: Types of the `Service` fields defined here (with the checks and messages they carry).
AlbPathPattern = Annotated[StrictStr, pattern(_ALB_PATH_RE, "an ALB path pattern like '/api/*'")]
AbsolutePath = Annotated[StrictStr, pattern(_ABSOLUTE_PATH_RE, "an absolute path")]
ContainerUser = Annotated[StrictStr, pattern(_USER_RE, "a non-root user like '10001:10001'")]
ScheduleExpression = Annotated[StrictStr, AfterValidator(_schedule)]
TimeZoneName = Annotated[StrictStr, AfterValidator(_time_zone)]
