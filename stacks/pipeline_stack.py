"""Pipeline stack: thin wiring from config to `PlatformPipeline` (in the environment's region).

It reads the service, its image repository, the migration task and the release record from
the Compute and Network stacks, and the distribution id from the Edge stack (us-east-1,
across regions through CDK's weak references).
"""

from __future__ import annotations

from typing import Any

from aws_cdk import CfnOutput
from aws_cdk import aws_ssm as ssm
from constructs import Construct

from config.models import EnvironmentConfig, Pipeline
from l3_constructs.limits import CLOUDFRONT_REGION
from l3_constructs.pipeline import (
    ApprovalSettings,
    BuildSettings,
    GitHubOidcSettings,
    PipelineProps,
    PlatformPipeline,
)
from l3_constructs.release import ReleaseRecord
from l3_constructs.service import CONTAINER_NAME
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
        release_record: ReleaseRecord,
        compute: ComputeStack,
        edge: EdgeStack,
        **kwargs: Any,
    ) -> None:
        super().__init__(scope, construct_id, config=config, **kwargs)
        service = compute.service
        build = pipeline.build
        approval = pipeline.approval
        oidc = pipeline.github_oidc
        role_name = config.github_role_name  # set exactly when `oidc` is
        smoke_path = pipeline.smoke_test.path or config.compute.health_check.path
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
                    docker_directory=build.docker_directory,
                    compute_type=build.compute_type,
                    arm=config.compute.architecture == "ARM64",
                    cache=build.cache,
                    cache_paths=build.cache_paths,
                    timeout_minutes=build.timeout_minutes,
                ),
                latest_tag=config.latest_image_tag,
                approval=ApprovalSettings(topic_arn=approval.topic_arn, emails=approval.emails)
                if approval
                else None,
                stage_label=config.stage_name,
                compute_stack_name=compute.stack_name,
                migration_timeout_minutes=config.migration.timeout_minutes,
                invalidation_paths=pipeline.invalidation_paths,
                smoke_url=f"{edge.edge.url}{smoke_path}",
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
            repository=service.repository,
            cluster=service.cluster,
            service=service.service,
            service_container_name=CONTAINER_NAME,
            service_task_definition=service.task_definition,
            migration_task_definition=compute.migration.task_definition,
            # The record lives in the Network stack; imported by name (same account/region).
            release_parameter=ssm.StringParameter.from_string_parameter_name(
                self, "ReleaseRecord", release_record.parameter_name
            ),
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
