"""Pipeline stack: thin wiring from config to `PlatformPipeline` (in the environment's region).

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
from config.pipeline import Pipeline
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
from stacks.base import PlatformStack
from stacks.compute_stack import ComputeStack
from stacks.edge_stack import EdgeStack


class PipelineStack(PlatformStack):
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
        build = pipeline.build
        approval = pipeline.approval
        oidc = pipeline.github_oidc
        role_name = config.github_role_name  # set exactly when `oidc` is
        # Every workload built from a directory (ECS services and jobs); config gives them
        # one architecture.
        built = {n: s for n, s in config.services.items() if s.image.source == "asset"}
        services = tuple(
            _released(name, service.image.directory or "", compute, release_records[name])
            for name, service in built.items()
        )
        architectures = {s.architecture for s in built.values()}
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
        self.pipeline = PlatformPipeline(
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
                    arm=architectures == {"ARM64"},
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
                github_oidc=GitHubOidcSettings(
                    repository=pipeline.repository,
                    branch=oidc.branch or pipeline.branch,
                    role_name=role_name,
                    create_provider=oidc.create_provider,
                    # `cdk deploy '<Stage>/*'` deploys here and, for Edge, in us-east-1.
                    regions=tuple(dict.fromkeys((config.region, CLOUDFRONT_REGION))),
                )
                if oidc and role_name
                else None,
            ),
            services=services,
            cluster=compute.cluster.cluster,
            # The migration runs the new image of its service, when this pipeline builds it.
            migration_service=migration if migration in built else None,
            migration_task_definition=compute.migration.task_definition
            if migration in built
            else None,
            static_bucket=edge.edge.static_bucket if static_files else None,
            distribution_id=edge.edge.distribution.distribution_id
            if pipeline.invalidation_paths
            else None,
        )
        CfnOutput(self, "PipelineName", value=self.pipeline.pipeline.pipeline_name)
        if self.pipeline.github_role is not None:
            CfnOutput(
                self,
                "GitHubDeployRoleArn",
                value=self.pipeline.github_role.role_arn,
                description="The role .github/workflows/deploy.yml assumes (OIDC)",
            )


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
