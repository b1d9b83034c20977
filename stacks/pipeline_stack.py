"""Pipeline stack: thin wiring from config to `PlatformPipeline` (CodePipeline) or
`GitHubRelease` (GitHub Actions), in the environment's region.

It releases every workload built from a directory (`image.source: asset`), of every kind:
its image repository and task definition (and, but for a job, its ECS service) from the
Compute stack, its release record from the Network stack; the migration task from Compute;
the static bucket and the distribution id from the Edge stack (us-east-1, across regions
through CDK's weak references).
"""

from __future__ import annotations

from typing import Any

from aws_cdk import CfnOutput
from constructs import Construct

from config.models import EnvironmentConfig
from config.pipeline import GitHubActionsRelease, Pipeline
from l3_constructs.github_release import GitHubRelease, GitHubReleaseProps
from l3_constructs.limits import CLOUDFRONT_REGION
from l3_constructs.pipeline import (
    ApprovalSettings,
    BuildSettings,
    GitHubOidcSettings,
    PipelineProps,
    PlatformPipeline,
    ReleasedService,
    StaticFiles,
)
from l3_constructs.release import ReleaseRecord
from l3_constructs.workload import CONTAINER_NAME
from release_tools.plan import (
    PLAN_OUTPUT,
    REGION_OUTPUT,
    REGION_VARIABLE,
    ROLE_OUTPUT,
    ROLE_VARIABLE,
    WORKLOAD_OUTPUT,
)
from stacks.base import PlatformStack
from stacks.compute_stack import ComputeStack
from stacks.edge_stack import EdgeStack


class PipelineStack(PlatformStack):
    """`pipeline.provider` decides what releases: `codepipeline`, a `PlatformPipeline`
    (`pipeline`); `github_actions`, a `GitHubRelease` (`release`: the release role and plan
    for .github/workflows/release.yml). Either is the construct `Pipeline`, so the resources
    both keep (key, log group, GitHub OIDC provider, deploy role) keep their logical ids when
    an environment switches."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: EnvironmentConfig,
        pipeline: Pipeline,
        release_records: dict[str, ReleaseRecord],
        compute: ComputeStack,
        edge: EdgeStack,
        **kwargs: Any,
    ) -> None:
        super().__init__(scope, construct_id, config=config, **kwargs)
        # Every workload built from a directory (ECS services and jobs); config gives them
        # one architecture.
        built = {n: s for n, s in config.services.items() if s.image.source == "asset"}
        services = tuple(
            _released(name, service.image.directory or "", compute, release_records[name])
            for name, service in built.items()
        )
        static_files = tuple(
            StaticFiles(
                service=name,
                prefix=s.static.prefix,
                from_image=s.static.from_image,
                directory=s.static.directory,
            )
            for name, s in config.services.items()
            if s.kind == "web" and s.static is not None
        )
        migration = config.migration.service
        oidc = pipeline.github_oidc
        role_name = config.github_role_name  # set exactly when `oidc` is
        deploy_role = (
            GitHubOidcSettings(
                repository=pipeline.repository,
                branch=oidc.branch or pipeline.branch,
                role_name=role_name,
                create_provider=oidc.create_provider,
                # `cdk deploy '<Stage>/*'` deploys here and, for Edge, in us-east-1.
                regions=tuple(dict.fromkeys((config.region, CLOUDFRONT_REGION))),
            )
            if oidc and role_name
            else None
        )
        wiring: dict[str, Any] = {
            "services": services,
            "cluster": compute.cluster.cluster,
            # The migration runs the new image of its service, when the release builds it.
            "migration_service": migration if migration in built else None,
            "migration_task_definition": compute.migration.task_definition
            if migration in built
            else None,
            "static_bucket": edge.edge.static_bucket if static_files else None,
            "distribution_id": edge.edge.distribution.distribution_id
            if pipeline.invalidation_paths
            else None,
        }
        arm = {s.architecture for s in built.values()} == {"ARM64"}
        self.pipeline: PlatformPipeline | None = None
        self.release: GitHubRelease | None = None
        if pipeline.github_actions is not None:
            self.release = self._github_release(
                config,
                pipeline=pipeline,
                github=pipeline.github_actions,
                static_files=static_files,
                deploy_role=deploy_role,
                arm=arm,
                compute=compute,
                wiring=wiring,
            )
            deploy = self.release.deploy_role
        else:
            self.pipeline = self._codepipeline(
                config,
                pipeline=pipeline,
                static_files=static_files,
                deploy_role=deploy_role,
                arm=arm,
                compute=compute,
                wiring=wiring,
            )
            deploy = self.pipeline.github_role
            CfnOutput(self, "PipelineName", value=self.pipeline.pipeline.pipeline_name)
        if deploy is not None:
            CfnOutput(
                self,
                "GitHubDeployRoleArn",
                value=deploy.role_arn,
                description="The role .github/workflows/deploy.yml assumes (OIDC)",
            )

    def _codepipeline(
        self,
        config: EnvironmentConfig,
        *,
        pipeline: Pipeline,
        static_files: tuple[StaticFiles, ...],
        deploy_role: GitHubOidcSettings | None,
        arm: bool,
        compute: ComputeStack,
        wiring: dict[str, Any],
    ) -> PlatformPipeline:
        build, approval = pipeline.build, pipeline.approval
        assert pipeline.connection_arn is not None  # config: required with codepipeline
        return PlatformPipeline(
            self,
            "Pipeline",
            props=PipelineProps(
                connection_arn=pipeline.connection_arn,
                repository=pipeline.repository,
                branch=pipeline.branch,
                tag_patterns=pipeline.tags,
                build=BuildSettings(
                    install_commands=build.install_commands,
                    test_commands=build.test_commands,
                    build_commands=build.build_commands,
                    compute_type=build.compute_type,
                    arm=arm,
                    cache=build.cache,
                    cache_paths=build.cache_paths,
                    timeout_minutes=build.timeout_minutes,
                ),
                static_files=static_files,
                latest_tag=config.latest_image_tag,
                approval=ApprovalSettings(topic_arn=approval.topic_arn, emails=approval.emails)
                if approval
                else None,
                stage_label=config.stage_name,
                compute_stack_name=compute.stack_name,
                migration_timeout_minutes=config.migration.timeout_minutes,
                invalidation_paths=pipeline.invalidation_paths,
                smoke_urls=smoke_urls(config),
                smoke_attempts=pipeline.smoke_test.attempts,
                smoke_interval_seconds=pipeline.smoke_test.interval_seconds,
                notification_emails=pipeline.notification_emails,
                artifact_retention_days=pipeline.artifact_retention_days,
                log_retention_days=pipeline.log_retention_days,
                github_oidc=deploy_role,
            ),
            **wiring,
        )

    def _github_release(
        self,
        config: EnvironmentConfig,
        *,
        pipeline: Pipeline,
        github: GitHubActionsRelease,
        static_files: tuple[StaticFiles, ...],
        deploy_role: GitHubOidcSettings | None,
        arm: bool,
        compute: ComputeStack,
        wiring: dict[str, Any],
    ) -> GitHubRelease:
        role_name = config.release_role_name
        assert role_name is not None  # set exactly when `github_actions` is
        subject = (
            f"environment:{github.environment}"
            if github.trust == "environment"
            else f"ref:refs/heads/{pipeline.branch}"
        )
        release = GitHubRelease(
            self,
            "Pipeline",
            props=GitHubReleaseProps(
                repository=pipeline.repository,
                subject=subject,
                role_name=role_name,
                latest_tag=config.latest_image_tag,
                compute_stack_name=compute.stack_name,
                plan_stack_name=self.stack_name,
                stage_label=config.stage_name,
                smoke_urls=smoke_urls(config),
                arm=arm,
                create_provider=github.create_provider,
                session_hours=github.session_hours,
                static_files=static_files,
                migration_timeout_minutes=config.migration.timeout_minutes,
                invalidation_paths=pipeline.invalidation_paths,
                smoke_attempts=pipeline.smoke_test.attempts,
                smoke_interval_seconds=pipeline.smoke_test.interval_seconds,
                log_retention_days=pipeline.log_retention_days,
                deploy_role=deploy_role,
            ),
            **wiring,
        )
        # What the workflow needs: the role and region (`gh variable set`, README), and the
        # plan `release_tools.plan` reads.
        where = f"GitHub environment {github.environment!r}" if github.environment else "repo"
        CfnOutput(
            self,
            ROLE_OUTPUT,
            value=release.release_role.role_arn,
            description=f"gh variable set {ROLE_VARIABLE} ({where})",
        )
        CfnOutput(
            self,
            REGION_OUTPUT,
            value=self.region,
            description=f"gh variable set {REGION_VARIABLE} ({where})",
        )
        plan, workloads = release.plan_documents()
        CfnOutput(self, PLAN_OUTPUT, value=plan, description="Read by release_tools.plan")
        for i, workload in enumerate(workloads):
            CfnOutput(self, WORKLOAD_OUTPUT.format(i), value=workload)
        return release


def _released(
    name: str, directory: str, compute: ComputeStack, record: ReleaseRecord
) -> ReleasedService:
    """Workload `name` of the Compute stack: an ECS service (web, backend, worker), else a
    job (no service: its Deploy registers the revision its next run starts)."""
    service = compute.services.get(name)
    workload = service if service is not None else compute.jobs[name]
    return ReleasedService(
        name=name,
        directory=directory,
        repository=workload.repository,
        service=service.service if service is not None else None,
        task_definition=workload.task_definition,
        container_name=CONTAINER_NAME,
        release_parameter_name=record.parameter_name,
        release_parameter_arn=record.parameter_arn,
    )


def smoke_urls(config: EnvironmentConfig) -> tuple[str, ...]:
    """Every web service's health check through CloudFront: its first host, else the first
    viewer name (path-routed services are reached on every name), and its health path."""
    urls = (
        f"https://{service.hosts[0] if service.hosts else config.viewer_names[0]}"
        f"{service.health_check.path}"
        for service in config.services.values()
        if service.kind == "web"
    )
    return tuple(dict.fromkeys(urls))
