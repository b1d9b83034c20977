"""Config of the workloads: `services`, a map of name to service (Copilot's one block per
workload; the parts a service is made of are in `config.service_parts`).

A service has a `kind`: `web` (routed from the environment's one load balancer by path
and/or host, one of them the default `/*`), `backend` (no load balancer; reached by the
other services through ECS Service Connect as `http://<name>:<port>`), `worker` (drains its
queue) or `job` (runs on a schedule). The rules that span services (routes, names, references)
live in `check_services`, which the environment model calls with the context it holds.
"""

from __future__ import annotations

import zlib
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

from config.capacity import NetworkMode
from config.primitives import (
    ConfigModel,
    DomainName,
    FieldError,
    RetentionDays,
    read_only,
    unique,
)
from config.service_parts import (
    DEFAULT_RULE_PRIORITY,
    FARGATE_MEMORY,
    MAX_ROUTE_VALUES,
    MAX_SERVICES,
    SECRET_LIKE_WORDS,
    TRAFFIC_SHIFTING,
    AbsolutePath,
    AlbPathPattern,
    AppSecret,
    Capability,
    Capacity,
    CapacityProviderName,
    ContainerHealthCheck,
    ContainerUser,
    Deployment,
    EnvName,
    HealthCheck,
    ImageSource,
    JobRetry,
    Scaling,
    ScheduleExpression,
    Seconds,
    ServiceName,
    SpotMix,
    StaticFiles,
    Stickiness,
    Storage,
    TimeZoneName,
    WorkerQueue,
)
from l3_constructs.limits import cloudfront_path_matches

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
        tuple[AlbPathPattern, ...],
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
        description="`fargate`, `fargate_spot` or `ec2` for this service; null: "
        "compute.capacity_provider.",
    )
    network_mode: NetworkMode = Field(
        "awsvpc",
        description="`awsvpc`: each task its own network interface and security group; "
        "`bridge` (EC2 only; a web service no other service calls): dynamic host ports on "
        "the instance, registered by instance, admitted from the load balancer only.",
    )
    spot_mix: SpotMix | None = Field(
        None, description="With fargate_spot: the base/weight mix; null: compute.spot_mix."
    )
    user: ContainerUser = Field(
        "10001:10001",
        description="User (uid[:gid] or name) the container runs as; never root. The "
        "samples' images define 10001.",
    )
    writable_paths: Annotated[
        tuple[AbsolutePath, ...],
        unique(),
    ] = Field(
        ("/tmp",),  # noqa: S108 - a path in the container, not on this machine
        description="Writable scratch volumes (the root filesystem is read-only), e.g. "
        "`/tmp`, Next.js's `/app/.next/cache`.",
    )
    add_capabilities: Annotated[tuple[Capability, ...], unique()] = Field(
        (),
        description="Linux capabilities added back (every other one is dropped); Fargate "
        "allows only SYS_PTRACE.",
    )
    queue: WorkerQueue = Field(
        default_factory=WorkerQueue, description="Worker: its queue and backlog scaling."
    )
    schedule: ScheduleExpression | None = Field(
        None, description="Job: `cron(...)` or `rate(...)` (EventBridge Scheduler)."
    )
    timezone: TimeZoneName = Field(
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
        (
            "capacity",
            "scaling",
            "deployment",
            "connects_to",
            "capacity_provider",
            "spot_mix",
            "network_mode",
        ),
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
