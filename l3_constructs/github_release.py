"""GitHubRelease: an environment released from GitHub Actions (.github/workflows/release.yml)
instead of CodePipeline: no pipeline, no CodeBuild projects, no artifact bucket.

What it creates:
- the release role, assumed through the account's GitHub OIDC provider (created, or the
  existing one) by exactly one subject, `repo:<owner>/<name>:environment:<name>` (or a
  branch), allowed exactly what a release does and nothing else: read the release plan and
  the migration's outputs, push to the released workloads' repositories, write the static
  prefixes, run the migration task definition family on this cluster and pass only its
  roles, register the workloads' task definitions and update only their services (passing
  only their roles), write their release records, invalidate this distribution;
- the release plan (`plan_documents`): what to build and deploy, as small JSON documents the
  stack outputs and `release_tools.plan` reads back, made from the same `ReleasedService`
  objects CodePipeline's buildspecs are made from;
- the deploy role (`github_oidc`, `cdk deploy`), when asked, on the same provider;
- the key and log group every Pipeline stack keeps (see `github_oidc`), under the same ids
  as `PlatformPipeline`'s, so switching provider leaves them (and the deploy role and
  provider) in place.

The ECR repositories, release records and static bucket are not here: they live in the
Compute, Network and Edge stacks, for either provider.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from aws_cdk import Duration, Stack, Token
from aws_cdk import aws_ecs as ecs
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3
from constructs import Construct

from l3_constructs.compliance import acknowledge, acknowledge_wildcards, resource_finding
from l3_constructs.github_oidc import (
    add_deploy_role,
    github_principal,
    github_provider,
    retained_key_and_log_group,
)
from l3_constructs.limits import LOG_RETENTION_DAYS
from l3_constructs.pipeline_props import (
    MAX_STEP_MINUTES,
    GitHubOidcSettings,
    ReleasedService,
    StaticFiles,
    validate_wiring,
)
from l3_constructs.pipeline_specs import (
    SMOKE_REQUEST_TIMEOUT_SECONDS,
    invalidate_statement,
    register_all_statements,
    registry,
    repository_uri,
    run_task_statements,
    stack_arn,
    static_objects,
    static_statements,
    task_definitions_arn,
)
from l3_constructs.pipeline_steps import UNSCOPED_TASK_DEFINITION_CALLS, BucketRef
from release_tools.plan import PLAN_VERSION

#: The ECR actions of a `docker push` and `docker pull` (and the `<sha>` look-up and the
#: `<env>-latest` re-tag of `release_tools.images`) on the released repositories.
ECR_PUSH_PULL = (
    "ecr:BatchCheckLayerAvailability",
    "ecr:BatchGetImage",
    "ecr:CompleteLayerUpload",
    "ecr:DescribeImages",
    "ecr:GetDownloadUrlForLayer",
    "ecr:InitiateLayerUpload",
    "ecr:PutImage",
    "ecr:UploadLayerPart",
)


@dataclass(frozen=True)
class GitHubReleaseProps:
    #: GitHub repository, `owner/name`.
    repository: str
    #: What follows `repo:<repository>:` in the only token subject the release role trusts:
    #: `environment:<GitHub environment>` or `ref:refs/heads/<branch>`.
    subject: str
    role_name: str
    #: The moving tag every release also pushes, e.g. "test-latest".
    latest_tag: str
    #: The stack whose outputs `release_tools.migrate` reads the migration task from ...
    compute_stack_name: str
    #: ... and this one's, whose outputs hold the release plan.
    plan_stack_name: str
    #: What `release_tools.migrate --stage` is given.
    stage_label: str
    #: The URLs the smoke test GETs, in order, until each answers 2xx (may be tokens).
    smoke_urls: tuple[str, ...]
    #: Images for ARM (Graviton) tasks, else x86.
    arm: bool = True
    #: False: use the account's existing GitHub OIDC provider (one per account).
    create_provider: bool = True
    #: The longest session of the release role (the workflow's job timeout, rounded up).
    session_hours: int = 2
    static_files: tuple[StaticFiles, ...] = ()
    migration_timeout_minutes: int = 15
    deploy_timeout_minutes: int = 30
    invalidation_paths: tuple[str, ...] = ()
    smoke_attempts: int = 10
    smoke_interval_seconds: int = 15
    #: The log group every Pipeline stack keeps (CodeBuild's logs of an earlier provider).
    log_retention_days: int = 30
    #: The `cdk deploy` role (deploy.yml), on the same OIDC provider; None: none.
    deploy_role: GitHubOidcSettings | None = None


def _validate(props: GitHubReleaseProps) -> None:
    if not props.subject.startswith(("environment:", "ref:refs/heads/")):
        raise ValueError(f"subject {props.subject!r}: 'environment:<name>' or a branch ref")
    if not 1 <= props.session_hours <= 12:
        raise ValueError("session_hours must lie in 1..12 (IAM's limit)")
    for name in ("migration_timeout_minutes", "deploy_timeout_minutes"):
        if not 1 <= getattr(props, name) <= MAX_STEP_MINUTES:
            raise ValueError(f"{name} must lie in 1..{MAX_STEP_MINUTES}")
    if not props.smoke_urls:
        raise ValueError("smoke_urls: at least one URL")
    if props.log_retention_days not in LOG_RETENTION_DAYS:
        raise ValueError(f"log_retention_days {props.log_retention_days} is no CloudWatch period")


class GitHubRelease(Construct):
    """The release role, plan and kept resources of a GitHub Actions environment.

    Exposes `release_role`, `provider` (the GitHub OIDC provider, created or imported),
    `deploy_role` (None without `props.deploy_role`), `key` and `log_group` (kept, see the
    module), and `plan_documents()`: `(plan, workloads)`, JSON strings (with tokens) for the
    stack's `ReleasePlan` and `ReleaseWorkload<i>` outputs.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        props: GitHubReleaseProps,
        services: Sequence[ReleasedService],
        cluster: ecs.ICluster,
        migration_service: str | None = None,
        migration_task_definition: ecs.TaskDefinition | None = None,
        static_bucket: s3.IBucket | None = None,
        distribution_id: str | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        _validate(props)
        validate_wiring(
            props,
            services,
            migration_service=migration_service,
            migration_task_definition=migration_task_definition,
            static_bucket=static_bucket,
            distribution_id=distribution_id,
        )
        self._props = props
        self._services = tuple(services)
        self._cluster = cluster
        self._migration = migration_service
        self._bucket = BucketRef(static_bucket) if static_bucket is not None else None
        self._distribution_id = distribution_id
        self.key, self.log_group = retained_key_and_log_group(
            self, log_retention_days=props.log_retention_days
        )
        self.provider = github_provider(self, create=props.create_provider)
        self.deploy_role = (
            add_deploy_role(self, self.provider, props.deploy_role)
            if props.deploy_role is not None
            else None
        )
        self.release_role = iam.Role(
            self,
            "ReleaseRole",
            role_name=props.role_name,
            description=f"GitHub Actions release of {props.repository} ({props.subject}): "
            "build, push, migrate, deploy"[:1000],
            assumed_by=github_principal(self.provider, f"repo:{props.repository}:{props.subject}"),
            max_session_duration=Duration.hours(props.session_hours),
        )
        explained: dict[str, str] = {}
        for statement in self._statements(migration_task_definition, explained):
            self.release_role.add_to_principal_policy(statement)
        acknowledge_wildcards(self.release_role, explained)
        acknowledge(
            self.release_role,
            "NIST.800.53.R5-IAMNoInlinePolicy",
            "The release role's statements (each scoped to this environment's resources, a "
            "test lists them) live in its inline default policy; nothing else shares it.",
        )

    # --- The release role ---------------------------------------------------------------------

    def _statements(
        self, migration_task_definition: ecs.TaskDefinition | None, explained: dict[str, str]
    ) -> list[iam.PolicyStatement]:
        """Exactly what `release_tools.plan`, `images`, `publish_static`, `migrate`,
        `release` and `invalidate` call; `explained` gets the reason of each wildcard."""
        props, stack = self._props, Stack.of(self)
        stacks = [
            stack_arn(stack, props.plan_stack_name),
            stack_arn(stack, props.compute_stack_name),
        ]
        statements = [
            iam.PolicyStatement(
                sid="ReadReleaseOutputs",
                actions=["cloudformation:DescribeStacks"],
                resources=stacks,
            ),
            iam.PolicyStatement(
                sid="LogInToRegistry", actions=["ecr:GetAuthorizationToken"], resources=["*"]
            ),
            iam.PolicyStatement(
                sid="PushAndPullReleasedImages",
                actions=list(ECR_PUSH_PULL),
                resources=[s.repository.repository_arn for s in self._services],
            ),
        ]
        for arn in stacks:
            explained[resource_finding(arn)] = (
                "DescribeStacks on the release plan's and the migration's stacks, by name: "
                "the ARN's last part is the stack id CloudFormation generates at creation."
            )
        explained["Resource::*"] = (
            "ecr:GetAuthorizationToken (the registry login) and ecs:DescribeTaskDefinition / "
            "ecs:RegisterTaskDefinition have no resource-level form; passing roles is limited "
            "to the released tasks' own roles (iam:PassRole). "
            f"{UNSCOPED_TASK_DEFINITION_CALLS}"
        )
        if self._bucket is not None:
            phases: tuple[Literal["upload", "retire"], ...] = ("upload", "retire")
            for phase in phases:
                statements += static_statements(phase, self._bucket.arn, props.static_files)
            prefixes = ", ".join(f"{s.prefix}/" for s in props.static_files)
            for objects in static_objects(self._bucket.arn, props.static_files):
                explained[resource_finding(objects)] = (
                    f"PutObject, and the retire phase's HeadObject and tagged CopyObject onto "
                    f"itself, on the keys under the static prefix(es) {prefixes} of the static "
                    "bucket only: file names are content hashes, unknown until built."
                )
        families: list[tuple[str, ecs.TaskDefinition]] = []
        if migration_task_definition is not None:
            family_arn = task_definitions_arn(stack, migration_task_definition)
            run_task, tasks_arn = run_task_statements(stack, family_arn, self._cluster)
            statements += run_task
            families.append((family_arn, migration_task_definition))
            explained[resource_finding(tasks_arn)] = (
                "Task ids are only known once RunTask returns: DescribeTasks/StopTask on the "
                "tasks of this one cluster, the narrowest ARN ECS offers."
            )
        families += [
            (task_definitions_arn(stack, s.task_definition), s.task_definition)
            for s in self._services
        ]
        statements += register_all_statements(families)
        for family_arn, _ in families:
            explained[resource_finding(family_arn)] = (
                "Every revision of one released task-definition family: RunTask (the "
                "migration's, on this cluster only) and TagResource while registering "
                "(ecs:CreateAction) a revision, whose number is not known before."
            )
        updated = [s.service.service_arn for s in self._services if s.service is not None]
        if updated:
            statements.append(
                iam.PolicyStatement(
                    sid="UpdateReleasedServices",
                    actions=["ecs:DescribeServices", "ecs:UpdateService"],
                    resources=updated,
                )
            )
        statements.append(
            iam.PolicyStatement(
                sid="RecordReleasedTags",
                actions=["ssm:GetParameter", "ssm:PutParameter"],
                resources=[s.release_parameter_arn for s in self._services],
            )
        )
        if self._distribution_id is not None and props.invalidation_paths:
            statements.append(invalidate_statement(stack, self._distribution_id))
        return statements

    # --- The release plan ---------------------------------------------------------------------

    def plan_documents(self) -> tuple[str, list[str]]:
        """The `ReleasePlan` document and one document per workload (JSON, with tokens),
        in the shape `release_tools.plan.parse` reads."""
        props, stack = self._props, Stack.of(self)
        migration = None
        if self._migration is not None:
            migration = {
                "workload": self._migration,
                "timeout_seconds": props.migration_timeout_minutes * 60,
            }
        static = None
        if self._bucket is not None and props.static_files:
            static = {
                "bucket": self._bucket.name,
                "region": self._bucket.region,
                "files": [
                    {
                        "service": s.service,
                        "prefix": s.prefix,
                        "from_image": s.from_image,
                        "directory": s.directory,
                    }
                    for s in props.static_files
                ],
            }
        invalidation = None
        if self._distribution_id is not None and props.invalidation_paths:
            invalidation = {
                "distribution_id": self._distribution_id,
                "paths": list(props.invalidation_paths),
            }
        plan: dict[str, Any] = {
            "version": PLAN_VERSION,
            "stage_name": props.stage_label,
            "compute_stack": props.compute_stack_name,
            "cluster": self._cluster.cluster_name,
            "registry": registry(self._services[0].repository),
            "latest_tag": props.latest_tag,
            "platform": "linux/arm64" if props.arm else "linux/amd64",
            "deploy_timeout_seconds": props.deploy_timeout_minutes * 60,
            "workloads": len(self._services),
            "migration": migration,
            "static": static,
            "invalidation": invalidation,
            "smoke": {
                "urls": list(props.smoke_urls),
                "attempts": props.smoke_attempts,
                "interval_seconds": props.smoke_interval_seconds,
                "timeout_seconds": SMOKE_REQUEST_TIMEOUT_SECONDS,
            },
        }
        workloads = [
            {
                "name": s.name,
                "directory": s.directory,
                "repository_name": s.repository.repository_name,
                "repository_uri": repository_uri(s.repository),
                "service": s.service.service_name if s.service is not None else None,
                "family": s.task_definition.family,
                "container": s.container_name,
                "parameter": s.release_parameter_name,
            }
            for s in self._services
        ]
        return _json(stack, plan), [_json(stack, w) for w in workloads]


def _json(stack: Stack, value: dict[str, Any]) -> str:
    """`value` as JSON; with tokens, a CloudFormation expression rendering it."""
    text: str = stack.to_json_string(value)
    assert Token.is_unresolved(text) or text.startswith("{")
    return text
