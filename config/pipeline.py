"""Config of the delivery pipeline (`pipeline` in a config file): who releases (`provider`:
CodePipeline, or GitHub Actions with its release role), source, build, approval, smoke test,
notifications and the GitHub Actions deploy role."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Annotated, Literal

from pydantic import (
    EmailStr,
    Field,
    StrictBool,
    StrictInt,
    StrictStr,
    model_validator,
)

from config.primitives import (
    ConfigModel,
    FieldError,
    RetentionDays,
    pattern,
    unique,
)

CONNECTION_ARN_RE = re.compile(
    r"^arn:aws[a-z-]*:(codestar-connections|codeconnections):([a-z0-9-]+):(\d{12}):"
    r"connection/[0-9a-f-]{36}$"
)
_GITHUB_REPOSITORY_RE = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})/[A-Za-z0-9._-]{1,100}$")
# A git ref name, without the parts git refuses (`..`, `@{`, spaces, `~^:?*[\`, leading `-`).
_GIT_REF_RE = re.compile(r"^(?!-)(?!.*\.\.)(?!.*@\{)[^\s~^:?*\[\\]{1,255}(?<![./])$")
# A tag glob for the pipeline trigger: the ref characters plus `*` and `?`.
_GIT_TAG_GLOB_RE = re.compile(r"^(?!-)[^\s~^:\[\\]{1,255}$")
_SNS_TOPIC_ARN_RE = re.compile(r"^arn:aws[a-z-]*:sns:[a-z0-9-]+:\d{12}:[A-Za-z0-9_-]{1,256}$")
_IAM_ROLE_NAME_RE = re.compile(r"^[A-Za-z0-9+=,.@_-]{1,64}$")
_INVALIDATION_PATH_RE = re.compile(r"^/[\x21-\x7e]*$")
# GitHub environment names end up in the OIDC subject `repo:<o>/<r>:environment:<name>`:
# no spaces or other characters that would need quoting in the trust policy or `gh`.
_GITHUB_ENVIRONMENT_RE = re.compile(r"^[A-Za-z0-9._-]{1,255}$")
_RUNNER_LABEL_RE = re.compile(r"^[A-Za-z0-9._-]{1,100}$")


class PipelineBuild(ConfigModel):
    """The Build action: the app's own commands, then the Docker image of every service
    built from a directory (`services.<name>.image.directory`) and its static files."""

    @model_validator(mode="before")
    @classmethod
    def _moved(cls, data: object) -> object:
        if isinstance(data, Mapping) and "docker_directory" in data:
            raise FieldError(
                "docker_directory",
                "moved to services.<name>.image.directory: every asset-image service is built",
            )
        return data

    install_commands: tuple[StrictStr, ...] = Field(
        (), description="Commands that install the build's tools (e.g. `pnpm install`)."
    )
    test_commands: tuple[StrictStr, ...] = Field(
        (), description="Commands that test the app; a failure stops the pipeline."
    )
    build_commands: tuple[StrictStr, ...] = Field(
        (), description="Commands run before the Docker build (e.g. `turbo build`)."
    )
    compute_type: Literal["small", "medium", "large"] = Field(
        "medium", description="CodeBuild compute size of the Build action."
    )
    cache: Literal["local", "s3"] = Field(
        "local",
        description="`local`: CodeBuild's local Docker-layer and source cache (best effort, "
        "per host); `s3`: a cache bucket plus `--cache-from` the previous image.",
    )
    cache_paths: tuple[StrictStr, ...] = Field(
        (), description="Extra directories kept between builds (e.g. `/root/.cache/pip/**/*`)."
    )
    timeout_minutes: Annotated[StrictInt, Field(ge=5, le=480)] = Field(
        60, description="The Build action fails after this long."
    )


class PipelineApproval(ConfigModel):
    """A manual approval before the migration (the approvers are told through SNS)."""

    topic_arn: Annotated[StrictStr, pattern(_SNS_TOPIC_ARN_RE, "an SNS topic ARN")] | None = Field(
        None, description="The approvers' existing SNS topic."
    )
    emails: Annotated[tuple[EmailStr, ...], unique()] = Field(
        (), description="Approvers subscribed by e-mail to a topic the stack creates."
    )

    @model_validator(mode="after")
    def _check(self) -> PipelineApproval:
        if not self.topic_arn and not self.emails:
            raise FieldError(
                "emails", "name the approvers (`emails`) or their SNS topic (`topic_arn`)"
            )
        return self


class SmokeTest(ConfigModel):
    """The last action: GET every web service's health path through CloudFront (its first
    host, or the first `edge.domain_names`) until each answers 2xx."""

    attempts: Annotated[StrictInt, Field(ge=1, le=60)] = Field(
        10, description="Tries before the execution fails."
    )
    interval_seconds: Annotated[StrictInt, Field(ge=1, le=300)] = Field(
        15, description="Pause between tries."
    )


class GitHubOidc(ConfigModel):
    """A role GitHub Actions (deploy.yml) assumes through OIDC to run `cdk deploy`."""

    role_name: Annotated[StrictStr, pattern(_IAM_ROLE_NAME_RE, "an IAM role name")] | None = Field(
        None, description="The role's name; default `<stage>-github-deploy`."
    )
    branch: Annotated[StrictStr, pattern(_GIT_REF_RE, "a git branch name")] | None = Field(
        None,
        description="The only branch whose workflow runs may assume it; default `pipeline.branch`.",
    )
    create_provider: StrictBool = Field(
        True,
        description="Create the account's GitHub OIDC provider (one per account: set false "
        "where another environment of the same account creates it).",
    )


class GitHubActionsRelease(ConfigModel):
    """How GitHub Actions releases the environment (`provider: github_actions`): the release
    role the Pipeline stack creates and the workflow (.github/workflows/release.yml) assumes."""

    environment: (
        Annotated[StrictStr, pattern(_GITHUB_ENVIRONMENT_RE, "a GitHub environment name")] | None
    ) = Field(
        None,
        description="The GitHub environment the release job runs in (its protection rules and "
        "variables); with trust `environment`, the only subject the role trusts.",
    )
    trust: Literal["environment", "branch"] = Field(
        "environment",
        description="`environment`: the role trusts `repo:<repository>:environment:<environment>`"
        "; `branch`: `repo:<repository>:ref:refs/heads/<pipeline.branch>` (no GitHub "
        "environment: for plans without environments; weaker, one per repository).",
    )
    role_name: Annotated[StrictStr, pattern(_IAM_ROLE_NAME_RE, "an IAM role name")] | None = Field(
        None, description="The release role's name; default `<stage>-github-release`."
    )
    create_provider: StrictBool = Field(
        True,
        description="Create the account's GitHub OIDC provider (one per account: set false "
        "where another environment of the same account creates it).",
    )
    runs_on: Annotated[StrictStr, pattern(_RUNNER_LABEL_RE, "a runner label")] = Field(
        "ubuntu-latest",
        description="Runner of the release job (e.g. `ubuntu-24.04-arm` builds ARM images "
        "natively, without QEMU).",
    )
    timeout_minutes: Annotated[StrictInt, Field(ge=15, le=720)] = Field(
        120,
        description="The release job's timeout, and the longest session of its role (rounded "
        "up to hours).",
    )

    @property
    def session_hours(self) -> int:
        """The release role's longest session, and what the workflow asks for: the job's
        timeout, rounded up to hours (IAM's unit)."""
        return math.ceil(self.timeout_minutes / 60)

    @model_validator(mode="after")
    def _subject(self) -> GitHubActionsRelease:
        if self.trust == "environment" and self.environment is None:
            raise FieldError(
                "environment",
                "required with trust 'environment': name the GitHub environment whose jobs "
                "may assume the release role",
            )
        if self.trust == "branch" and self.environment is not None:
            raise FieldError(
                "environment",
                "not used with trust 'branch': a job in a GitHub environment gets the subject "
                "'environment:<name>', which a branch-trusted role refuses",
            )
        return self


class Pipeline(ConfigModel):
    """The environment's delivery pipeline (CodePipeline V2, or a GitHub Actions workflow)
    and GitHub deploy access."""

    provider: Literal["codepipeline", "github_actions"] = Field(
        "codepipeline",
        description="Who releases: `codepipeline` (CodePipeline V2 and CodeBuild in the "
        "account) or `github_actions` (.github/workflows/release.yml with a release role).",
    )
    connection_arn: (
        Annotated[
            StrictStr, pattern(CONNECTION_ARN_RE, "a CodeConnections (CodeStar) connection ARN")
        ]
        | None
    ) = Field(
        None,
        description="The GitHub connection, in this environment's account (codepipeline only).",
    )
    repository: Annotated[
        StrictStr, pattern(_GITHUB_REPOSITORY_RE, "a GitHub repository 'owner/name'")
    ] = Field(description="GitHub repository (`owner/name`) holding app/ and this CDK app.")
    branch: Annotated[StrictStr, pattern(_GIT_REF_RE, "a git branch name")] = Field(
        description="Pushes to this branch start the pipeline."
    )
    tags: Annotated[
        tuple[Annotated[StrictStr, pattern(_GIT_TAG_GLOB_RE, "a git tag pattern")], ...],
        Field(max_length=8),
        unique(),
    ] = Field((), description="Git tag patterns (e.g. `v*`) whose push also starts it.")
    build: PipelineBuild = Field(default_factory=PipelineBuild)
    approval: PipelineApproval | None = Field(
        None, description="Manual approval before the migration; null: none."
    )
    invalidation_paths: Annotated[
        tuple[Annotated[StrictStr, pattern(_INVALIDATION_PATH_RE, "a path like '/'")], ...],
        Field(max_length=15),
        unique(),
    ] = Field(
        (),
        description="CloudFront paths invalidated after a deploy (HTML only: static assets "
        "are content-hashed); empty: no Invalidate action.",
    )
    smoke_test: SmokeTest = Field(default_factory=SmokeTest)
    notification_emails: Annotated[tuple[EmailStr, ...], unique()] = Field(
        (), description="Told of every failed and succeeded execution."
    )
    artifact_retention_days: Annotated[StrictInt, Field(ge=1, le=3650)] = Field(
        30, description="Days pipeline artifacts are kept."
    )
    log_retention_days: RetentionDays = Field(30, description="CodeBuild logs.")
    github_oidc: GitHubOidc | None = Field(
        None, description="Create the GitHub Actions deploy role; null: none."
    )
    github_actions: GitHubActionsRelease | None = Field(
        None, description="The GitHub Actions release (provider `github_actions` only)."
    )

    @model_validator(mode="after")
    def _provider_settings(self) -> Pipeline:
        if self.provider == "codepipeline":
            if self.connection_arn is None:
                raise FieldError(
                    "connection_arn",
                    "required with provider 'codepipeline': the GitHub connection its source "
                    "action uses",
                )
            if self.github_actions is not None:
                raise FieldError("github_actions", "only with provider 'github_actions'")
            return self
        if self.github_actions is None:
            raise FieldError(
                "github_actions",
                "required with provider 'github_actions': name the GitHub environment "
                "(`environment: <name>`) the release runs in",
            )
        if self.connection_arn is not None:
            raise FieldError(
                "connection_arn",
                "is CodePipeline's source connection; provider 'github_actions' does not use "
                "it: remove it",
            )
        oidc = self.github_oidc
        if oidc is not None and oidc.create_provider != self.github_actions.create_provider:
            raise FieldError(
                "github_actions.create_provider",
                "must equal github_oidc.create_provider: the deploy role and the release role "
                "share the account's one GitHub OIDC provider",
            )
        if self.approval is not None:
            raise FieldError(
                "approval",
                "is CodePipeline's manual approval; with provider 'github_actions' protect the "
                "GitHub environment with required reviewers instead (README)",
            )
        return self

    def release_role_name(self, stage_name: str) -> str | None:
        """Name of the GitHub Actions release role (provider `github_actions`), else None."""
        if self.github_actions is None:
            return None
        return self.github_actions.role_name or f"{stage_name}-github-release"

    @property
    def creates_github_provider(self) -> bool:
        """Whether this environment's Pipeline stack creates the account's GitHub OIDC
        provider (for its deploy role, its release role, or both: they share it)."""
        return any(
            section is not None and section.create_provider
            for section in (self.github_oidc, self.github_actions)
        )
