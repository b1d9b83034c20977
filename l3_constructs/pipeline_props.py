"""`PlatformPipeline`'s inputs: its settings (plain data) and their validation, and the
services and jobs it releases (`ReleasedService`, which refers to their constructs).

Split out of `l3_constructs.pipeline`, which re-exports the classes here.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal, Protocol

from aws_cdk import Token
from aws_cdk import aws_ecr as ecr
from aws_cdk import aws_ecs as ecs
from aws_cdk import aws_s3 as s3

from l3_constructs.limits import LOG_RETENTION_DAYS

#: The longest a script step may be given (minutes; CodeBuild allows more).
MAX_STEP_MINUTES = 480

_REPOSITORY_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9-]{0,38}/[A-Za-z0-9._-]{1,100}")
_BRANCH_RE = re.compile(r"(?!-)(?!.*\.\.)(?!.*@\{)[^\s~^:?*\[\\]{1,255}(?<![./])")
_TAG_GLOB_RE = re.compile(r"(?!-)[^\s~^:\[\\]{1,255}")
_IMAGE_TAG_RE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}")
_ROLE_NAME_RE = re.compile(r"[A-Za-z0-9+=,.@_-]{1,64}")
_QUALIFIER_RE = re.compile(r"[A-Za-z0-9_-]{1,10}")
_EMAIL_RE = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
_PATH_RE = re.compile(r"/[\x21-\x7e]*")
#: A service name: a lower-case DNS label (also a CodePipeline action name suffix and,
#: upper-cased, part of an environment variable name).
SERVICE_NAME_RE = re.compile(r"[a-z](?:[a-z0-9-]{0,30}[a-z0-9])?")
#: Paths that reach a shell: no spaces, quotes, `$` or `..` components.
_RELATIVE_PATH_RE = re.compile(r"(?!/)(?!.*(?:^|/)\.\.(?:/|$))[A-Za-z0-9_.\-/]+")
_ABSOLUTE_PATH_RE = re.compile(r"/(?!.*(?:^|/)\.\.(?:/|$))[A-Za-z0-9_.\-/]+")
_S3_PREFIX_RE = re.compile(r"(?!/)(?!.*//)(?!.*\.\.)[A-Za-z0-9_.\-/]+(?<!/)")


@dataclass(frozen=True)
class BuildSettings:
    """The Build step: the app's own commands, then every service's Docker image."""

    install_commands: tuple[str, ...] = ()
    #: A failing command fails the build, and so the execution, before any image is pushed.
    test_commands: tuple[str, ...] = ()
    build_commands: tuple[str, ...] = ()
    compute_type: Literal["small", "medium", "large"] = "medium"
    #: Build on ARM (Graviton); an image's architecture is the build host's, so this must
    #: match the tasks' CPU architecture (every service the pipeline builds shares it).
    arm: bool = True
    #: local: CodeBuild's local Docker-layer, source and custom cache (best effort, per host);
    #: s3: a cache bucket for `cache_paths`, and `--cache-from` each image's `latest_tag`.
    cache: Literal["local", "s3"] = "local"
    #: Extra directories kept between builds (the buildspec's `cache.paths`).
    cache_paths: tuple[str, ...] = ()
    timeout_minutes: int = 60


@dataclass(frozen=True)
class StaticFiles:
    """A web service's static files, which Build collects into the `Static` artifact (one
    directory per service) and Publish uploads to the static bucket under `prefix`."""

    #: The service (a directory of the artifact).
    service: str
    #: Key prefix in the static bucket (= the URL path), e.g. `_next/static`.
    prefix: str
    #: Copy this directory out of the service's freshly built image (the service must be
    #: one the pipeline builds) ...
    from_image: str | None = None
    #: ... else this directory of the build's workspace, relative to the repository root.
    directory: str | None = None


@dataclass(frozen=True)
class ReleasedService:
    """A workload the pipeline builds (from `directory`) and deploys: an ECS service (web,
    backend, worker), or a job (a scheduled task, `service` None)."""

    name: str
    #: Docker build context (holds the Dockerfile), relative to the repository root.
    directory: str
    #: Its own ECR repository: Build pushes `<commit>` and the latest tag to it.
    repository: ecr.IRepository
    #: The ECS service Deploy updates to a new revision of `task_definition`; None: a job,
    #: whose Deploy only registers that revision (its next run starts the family's latest).
    service: ecs.IBaseService | None
    task_definition: ecs.TaskDefinition
    #: The container whose image a release replaces.
    container_name: str
    #: Its release record (an SSM String parameter that Deploy writes).
    release_parameter_name: str
    release_parameter_arn: str


@dataclass(frozen=True)
class ApprovalSettings:
    """A manual approval before Migrate; the approvers hear of it through SNS."""

    #: The approvers' existing SNS topic (if KMS-encrypted, its key must admit this account's
    #: IAM principals); None: this construct creates one.
    topic_arn: str | None = None
    #: e-mail addresses subscribed to that topic; at least one without `topic_arn`.
    emails: tuple[str, ...] = ()


@dataclass(frozen=True)
class GitHubOidcSettings:
    """A role GitHub Actions assumes through OIDC to run `cdk deploy`."""

    repository: str
    #: The only branch whose workflow runs may assume the role.
    branch: str
    role_name: str
    #: False: use the account's existing token.actions.githubusercontent.com provider (there
    #: is one per account).
    create_provider: bool = True
    cdk_qualifier: str = "hnb659fds"
    #: Regions whose CDK bootstrap roles the role may assume; empty: this stack's region and
    #: us-east-1 (where CloudFront's stack lives).
    regions: tuple[str, ...] = ()


@dataclass(frozen=True)
class PipelineProps:
    #: The CodeConnections (CodeStar) connection to GitHub, in this account.
    connection_arn: str
    #: GitHub repository, `owner/name`.
    repository: str
    #: Pushes to this branch start the pipeline.
    branch: str
    #: The moving tag every build also pushes, e.g. "prod-latest" (exempt from the
    #: repositories' tag immutability).
    latest_tag: str
    #: The stack whose outputs `release_tools.migrate` reads the migration task from.
    compute_stack_name: str
    #: What `release_tools.migrate --stage` is given (the stack name above is what it uses).
    stage_label: str
    #: The URLs the Smoke step GETs, in order, until each answers 2xx (may be tokens).
    smoke_urls: tuple[str, ...]
    #: Pushes of git tags matching these patterns (e.g. "v*") also start it.
    tag_patterns: tuple[str, ...] = ()
    build: BuildSettings = field(default_factory=BuildSettings)
    #: Static files to publish (Publish) before the release and retire (Retire) after it;
    #: empty: neither step.
    static_files: tuple[StaticFiles, ...] = ()
    approval: ApprovalSettings | None = None
    #: The migration task is stopped, and the execution fails, after this long.
    migration_timeout_minutes: int = 15
    #: A Deploy action fails when its service's deployment has not completed by then.
    deploy_timeout_minutes: int = 30
    #: CloudFront paths invalidated after Deploy; empty: no Invalidate step.
    invalidation_paths: tuple[str, ...] = ()
    smoke_attempts: int = 10
    smoke_interval_seconds: int = 15
    #: Told of every failed and succeeded execution.
    notification_emails: tuple[str, ...] = ()
    artifact_retention_days: int = 30
    #: CodeBuild logs (CloudWatch); also the S3 access logs of the buckets.
    log_retention_days: int = 30
    github_oidc: GitHubOidcSettings | None = None


def validate(props: PipelineProps) -> None:  # noqa: PLR0912 - one check per field
    if not _REPOSITORY_RE.fullmatch(props.repository):
        raise ValueError(f"repository {props.repository!r} is not a GitHub 'owner/name'")
    if not _BRANCH_RE.fullmatch(props.branch):
        raise ValueError(f"branch {props.branch!r} is not a git branch name")
    if len(props.tag_patterns) > 8 or not all(map(_TAG_GLOB_RE.fullmatch, props.tag_patterns)):
        raise ValueError(f"tag_patterns {props.tag_patterns!r}: at most 8 git tag globs")
    if not _IMAGE_TAG_RE.fullmatch(props.latest_tag):
        raise ValueError(f"latest_tag {props.latest_tag!r} is not an image tag")
    if not props.connection_arn or not props.compute_stack_name or not props.stage_label:
        raise ValueError("connection_arn, compute_stack_name and stage_label must be set")
    if not 5 <= props.build.timeout_minutes <= MAX_STEP_MINUTES:
        raise ValueError(f"build.timeout_minutes must lie in 5..{MAX_STEP_MINUTES}")
    for name in ("migration_timeout_minutes", "deploy_timeout_minutes"):
        if not 1 <= getattr(props, name) <= MAX_STEP_MINUTES:
            raise ValueError(f"{name} must lie in 1..{MAX_STEP_MINUTES}")
    _validate_static_files(props.static_files)
    approval = props.approval
    if approval is not None and approval.topic_arn is None and not approval.emails:
        raise ValueError("approval needs the approvers' topic_arn or their emails")
    emails = (*props.notification_emails, *(approval.emails if approval else ()))
    if bad := [e for e in emails if not _EMAIL_RE.fullmatch(e)]:
        raise ValueError(f"not e-mail addresses: {bad}")
    if len(props.invalidation_paths) > 15 or not all(
        map(_PATH_RE.fullmatch, props.invalidation_paths)
    ):
        raise ValueError("invalidation_paths: at most 15 paths, each starting with '/'")
    if not props.smoke_urls:
        raise ValueError("smoke_urls: at least one URL")
    for url in props.smoke_urls:
        if not Token.is_unresolved(url) and not url.startswith("https://"):
            raise ValueError(f"smoke URL {url!r} must be an https:// URL")
    if not (1 <= props.smoke_attempts <= 60 and 1 <= props.smoke_interval_seconds <= 300):
        raise ValueError("smoke_attempts must lie in 1..60, smoke_interval_seconds in 1..300")
    if not 1 <= props.artifact_retention_days <= 3650:
        raise ValueError("artifact_retention_days must lie in 1..3650")
    if props.log_retention_days not in LOG_RETENTION_DAYS:
        raise ValueError(f"log_retention_days {props.log_retention_days} is no CloudWatch period")
    if props.github_oidc is not None:
        _validate_github(props.github_oidc)


class Releases(Protocol):
    """What both release providers' props say about the static files and invalidation."""

    @property
    def static_files(self) -> tuple[StaticFiles, ...]: ...

    @property
    def invalidation_paths(self) -> tuple[str, ...]: ...


def validate_wiring(
    props: Releases,
    services: Sequence[ReleasedService],
    *,
    migration_service: str | None,
    migration_task_definition: ecs.TaskDefinition | None,
    static_bucket: s3.IBucket | None,
    distribution_id: str | None,
) -> None:
    """What the construct's inputs must agree on (`validate` checks `props` alone)."""
    names = [service.name for service in services]
    if not names:
        raise ValueError("the pipeline needs at least one service to build and deploy")
    if len(set(names)) != len(names):
        raise ValueError(f"services are named twice: {names}")
    for service in services:
        if not SERVICE_NAME_RE.fullmatch(service.name):
            raise ValueError(f"service {service.name!r} is not a lower-case DNS label")
        validate_relative_directory(f"the directory of {service.name!r}", service.directory)
    if (migration_service is None) != (migration_task_definition is None):
        raise ValueError("migration_service and migration_task_definition go together")
    if migration_service is not None and migration_service not in names:
        raise ValueError(f"migration_service {migration_service!r} is not among {names}")
    jobs = [service.name for service in services if service.service is None]
    if migration_service in jobs:
        raise ValueError(
            f"migration_service {migration_service!r} is a job: the migration runs before an "
            "ECS service's update"
        )
    for static in props.static_files:
        if static.directory is None and static.service not in names:
            raise ValueError(
                f"static files of {static.service!r} come from its image, which this "
                "pipeline does not build: name a directory too"
            )
    if props.static_files and static_bucket is None:
        raise ValueError("static_files need a static_bucket")
    if props.invalidation_paths and distribution_id is None:
        raise ValueError("invalidation_paths need a distribution_id")


def validate_relative_directory(what: str, directory: str) -> None:
    """`directory` must be a plain path inside the repository (it reaches a shell)."""
    if not _RELATIVE_PATH_RE.fullmatch(directory):
        raise ValueError(f"{what} {directory!r} must be a plain path relative to the repository")


def _validate_static_files(static_files: tuple[StaticFiles, ...]) -> None:
    services = [s.service for s in static_files]
    prefixes = [s.prefix for s in static_files]
    if len(set(services)) != len(services) or len(set(prefixes)) != len(prefixes):
        raise ValueError("static_files: one entry per service, and one service per prefix")
    for static in static_files:
        where = f"static_files of {static.service!r}"
        if not SERVICE_NAME_RE.fullmatch(static.service):
            raise ValueError(f"{where}: the service name is not a lower-case DNS label")
        if not _S3_PREFIX_RE.fullmatch(static.prefix):
            raise ValueError(f"{where}: prefix {static.prefix!r} is not a key prefix like 'a/b'")
        if static.from_image is None and static.directory is None:
            raise ValueError(f"{where}: name from_image or directory")
        if static.from_image is not None and not _ABSOLUTE_PATH_RE.fullmatch(static.from_image):
            raise ValueError(f"{where}: from_image {static.from_image!r} must be absolute")
        if static.directory is not None:
            validate_relative_directory(f"{where}: directory", static.directory)
    for a in prefixes:
        for b in prefixes:
            if a != b and b.startswith(f"{a}/"):
                # The retire step of `a` would mark `b`'s files as not part of its release.
                raise ValueError(f"static prefix {b!r} lies under {a!r}")


def _validate_github(github: GitHubOidcSettings) -> None:
    if not _REPOSITORY_RE.fullmatch(github.repository):
        raise ValueError(f"github_oidc.repository {github.repository!r} is not 'owner/name'")
    if not _BRANCH_RE.fullmatch(github.branch):
        raise ValueError(f"github_oidc.branch {github.branch!r} is not a git branch name")
    if not _ROLE_NAME_RE.fullmatch(github.role_name):
        raise ValueError(f"github_oidc.role_name {github.role_name!r} is not a role name")
    if not _QUALIFIER_RE.fullmatch(github.cdk_qualifier):
        raise ValueError(f"github_oidc.cdk_qualifier {github.cdk_qualifier!r} is invalid")
