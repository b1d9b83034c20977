"""The CodeBuild project of each `PlatformPipeline` action, with its own least-privilege
role: Build, Publish and Retire (static files), Migrate, Deploy (one per service or job),
Invalidate, Smoke.

Split out of `l3_constructs.pipeline`. `StepProjects` creates every project in the pipeline
construct's own scope (construct ids `<action>Project`), and collects the reasons for the
wildcard findings of their roles (`explanations`), which the construct acknowledges.
"""

from __future__ import annotations

import math
import shlex
from collections.abc import Mapping, Sequence
from typing import Literal

from aws_cdk import ArnFormat, Duration, Stack, Token
from aws_cdk import aws_codebuild as codebuild
from aws_cdk import aws_ecs as ecs
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from constructs import Construct

from l3_constructs.compliance import acknowledge, resource_finding
from l3_constructs.pipeline_props import PipelineProps, ReleasedService
from l3_constructs.pipeline_specs import (
    PUBLISHED_AT,
    build_spec,
    build_variables,
    environment_variables,
    invalidate_statement,
    publish_commands,
    record_statement,
    register_statements,
    repository_uri,
    run_task_statements,
    script_spec,
    smoke_command,
    smoke_seconds,
    stack_arn,
    static_objects,
    static_statements,
    task_definitions_arn,
)

#: Pipeline steps: the stage names, and the CodeBuild action names and keys of `projects`
#: (Deploy's actions and projects are `Deploy-<service>`).
BUILD, PUBLISH, MIGRATE, DEPLOY = "Build", "Publish", "Migrate", "Deploy"
INVALIDATE, RETIRE, SMOKE = "Invalidate", "Retire", "Smoke"

_COMPUTE_TYPES: dict[str, codebuild.ComputeType] = {
    "small": codebuild.ComputeType.SMALL,
    "medium": codebuild.ComputeType.MEDIUM,
    "large": codebuild.ComputeType.LARGE,
}
#: CodeBuild's limits on a build's timeout (minutes).
_CODEBUILD_MIN_TIMEOUT, _CODEBUILD_MAX_TIMEOUT = 5, 2160
#: Minutes a script step gets beyond its own deadline (start-up, pip install, clean-up).
_STEP_MARGIN_MINUTES = 10
#: `release_tools.publish_static` per service: uploads, or a listing and self-copies.
_PUBLISH_MINUTES = 20


class StepProjects:
    """Creates the actions' CodeBuild projects in `scope`: encrypted with `key`, logging to
    `log_group` (one stream prefix per action), each with a role of its own."""

    def __init__(
        self,
        scope: Construct,
        *,
        props: PipelineProps,
        key: kms.IKey,
        log_group: logs.ILogGroup,
        cluster: ecs.ICluster,
        cache_bucket: s3.IBucket | None,
    ) -> None:
        self._scope = scope
        self._props = props
        self._key = key
        self._log_group = log_group
        self._cluster = cluster
        self._cache_bucket = cache_bucket
        #: Action name -> its project.
        self.projects: dict[str, codebuild.PipelineProject] = {}
        #: Role path -> wildcard finding -> reason (see `explain`); by path, as jsii may hand
        #: out more than one Python object for the same role.
        self.explanations: dict[str, dict[str, str]] = {}

    def explain(self, role: iam.IRole, explained: Mapping[str, str]) -> None:
        """Reasons for wildcard findings (AwsSolutions-IAM5 `Action::...`, or
        `resource_finding(arn)`) of `role`'s policy."""
        self.explanations.setdefault(role.node.path, {}).update(explained)

    def project(
        self,
        name: str,
        *,
        description: str,
        build_spec: codebuild.BuildSpec,
        variables: Mapping[str, str],
        timeout_minutes: int,
        build_image: codebuild.IBuildImage | None = None,
        compute_type: codebuild.ComputeType = codebuild.ComputeType.SMALL,
        privileged: bool = False,
        cache: codebuild.Cache | None = None,
    ) -> codebuild.PipelineProject:
        """A CodeBuild project of one action: its own role, the construct's key, logs to the
        shared log group under the action's prefix. The image defaults to what runs the
        Python steps (publish, migrate, release, invalidate, smoke): CodeBuild's standard x86
        image."""
        project = codebuild.PipelineProject(
            self._scope,
            f"{name}Project",
            description=f"{description} ({self._scope.node.path})"[:255],
            build_spec=build_spec,
            environment=codebuild.BuildEnvironment(
                build_image=build_image or codebuild.LinuxBuildImage.STANDARD_7_0,
                compute_type=compute_type,
                privileged=privileged,
            ),
            environment_variables=environment_variables(variables),
            encryption_key=self._key,
            logging=codebuild.LoggingOptions(
                cloud_watch=codebuild.CloudWatchLoggingOptions(
                    log_group=self._log_group, prefix=name.lower()
                )
            ),
            timeout=Duration.minutes(
                min(max(timeout_minutes, _CODEBUILD_MIN_TIMEOUT), _CODEBUILD_MAX_TIMEOUT)
            ),
            cache=cache,
            # No test reports: the role gets no codebuild:*Report* permissions.
            grant_report_group_permissions=False,
        )
        self.projects[name] = project
        default_log_streams = Stack.of(self._scope).format_arn(
            service="logs",
            resource="log-group",
            resource_name=f"/aws/codebuild/{project.project_name}:*",
            arn_format=ArnFormat.COLON_RESOURCE_NAME,
        )
        self.explain(
            role_of(project),
            {
                resource_finding(default_log_streams): "CDK always grants a project its "
                "default /aws/codebuild/<project> log group's streams; this project logs to "
                "the construct's encrypted log group instead, so the grant stays unused.",
            },
        )
        # In the HIPAA and PCI DSS packs only (the config's compliance.extra_packs).
        acknowledge(
            project,
            (
                "HIPAA.Security-CodeBuildProjectSourceRepoUrl",
                "PCI.DSS.321-CodeBuildProjectSourceRepoUrl",
            ),
            "The project's source is the pipeline's artifact (source type CODEPIPELINE), which "
            "the CodeConnections connection fetched: no repository URL or credentials here.",
        )
        return project

    # --- Steps --------------------------------------------------------------------------------

    def build(self, services: Sequence[ReleasedService]) -> codebuild.PipelineProject:
        props = self._props
        build = props.build
        if self._cache_bucket is not None:
            cache = codebuild.Cache.bucket(self._cache_bucket, prefix="build")
        else:
            cache = codebuild.Cache.local(
                codebuild.LocalCacheMode.DOCKER_LAYER,
                codebuild.LocalCacheMode.SOURCE,
                codebuild.LocalCacheMode.CUSTOM,
            )
        spec = build_spec(
            build, services, props.static_files, s3_cache=self._cache_bucket is not None
        )
        project = self.project(
            BUILD,
            description="Tests the app, builds and pushes every service's image, gathers the "
            "static files",
            build_spec=codebuild.BuildSpec.from_object(spec),
            variables=build_variables(services, props.latest_tag),
            timeout_minutes=build.timeout_minutes,
            build_image=codebuild.LinuxArmBuildImage.AMAZON_LINUX_2023_STANDARD_3_0
            if build.arm
            else codebuild.LinuxBuildImage.STANDARD_7_0,
            compute_type=_COMPUTE_TYPES[build.compute_type],
            privileged=True,
            cache=cache,
        )
        role = role_of(project)
        for service in services:
            service.repository.grant_pull_push(role)
            service.repository.grant(role, "ecr:DescribeImages")
        self.explain(
            role,
            {
                "Resource::*": "ecr:GetAuthorizationToken (the Docker login to ECR) has no "
                "resource-level form; every other ECR action is on the repositories of the "
                "services this pipeline builds.",
            },
        )
        return project

    def static(
        self, phase: Literal["upload", "retire"], bucket: BucketRef
    ) -> codebuild.PipelineProject:
        """Publish (`upload`: put the release's files) or Retire (`retire`: mark the files
        under each prefix that this release does not use), with `release_tools.publish_static`."""
        props = self._props
        upload = phase == "upload"
        project = self.project(
            PUBLISH if upload else RETIRE,
            description="Uploads the release's static files, deleting and retiring nothing"
            if upload
            else "Marks the static files no release since this one uses as superseded",
            build_spec=script_spec(
                publish_commands(phase, props.static_files, bucket.region),
                exported_variables=(PUBLISHED_AT,) if upload else (),
            ),
            variables={"STATIC_BUCKET": bucket.name},
            timeout_minutes=_PUBLISH_MINUTES * len(props.static_files) + _STEP_MARGIN_MINUTES,
        )
        role = role_of(project)
        for statement in static_statements(phase, bucket.arn, props.static_files):
            role.add_to_principal_policy(statement)
        prefixes = ", ".join(f"{s.prefix}/" for s in props.static_files)
        reason = (
            f"PutObject on the keys under the static prefix(es) {prefixes} of the static "
            "bucket only: the release's file names are content hashes, unknown until built."
            if upload
            else f"HeadObject and a tagged CopyObject onto itself (GetObject, PutObject, "
            f"PutObjectTagging) of the keys under {prefixes} of the static bucket only, "
            "whichever files earlier releases left there."
        )
        self.explain(
            role,
            {
                resource_finding(objects): reason
                for objects in static_objects(bucket.arn, props.static_files)
            },
        )
        return project

    def migrate(
        self, service: ReleasedService, task_definition: ecs.TaskDefinition
    ) -> codebuild.PipelineProject:
        props = self._props
        stack = Stack.of(self._scope)
        seconds = props.migration_timeout_minutes * 60
        project = self.project(
            MIGRATE,
            description=f"Runs the database migration task with {service.name}'s new image",
            build_spec=script_spec(
                [
                    'python3 -m release_tools.migrate --stage "$STAGE" '
                    '--stack-name "$COMPUTE_STACK" '
                    f'--image "$REPOSITORY_URI:$IMAGE_TAG" --timeout {seconds}'
                ]
            ),
            variables={
                "STAGE": props.stage_label,
                "COMPUTE_STACK": props.compute_stack_name,
                "REPOSITORY_URI": repository_uri(service.repository),
            },
            timeout_minutes=props.migration_timeout_minutes + _STEP_MARGIN_MINUTES,
        )
        role = role_of(project)
        family_arn = task_definitions_arn(stack, task_definition)
        run_task, tasks_arn = run_task_statements(stack, family_arn, self._cluster)
        compute_arn = stack_arn(stack, props.compute_stack_name)
        for statement in (
            iam.PolicyStatement(
                sid="ReadComputeStackOutputs",
                actions=["cloudformation:DescribeStacks"],
                resources=[compute_arn],
            ),
            *register_statements(family_arn, task_definition),
            *run_task,
        ):
            role.add_to_principal_policy(statement)
        self.explain(
            role,
            {
                "Resource::*": UNSCOPED_TASK_DEFINITION_CALLS,
                resource_finding(compute_arn): "DescribeStacks on the compute stack by name: "
                "the ARN's last part is the stack id CloudFormation generates at creation.",
                resource_finding(family_arn): "RunTask and TagResource (at registration only) "
                "on every revision of the migration task definition's one family: the "
                "revision is registered by this step; RunTask only on this cluster "
                "(ecs:cluster).",
                resource_finding(tasks_arn): "Task ids are only known once RunTask returns: "
                "DescribeTasks/StopTask on the tasks of this one cluster, the narrowest ARN "
                "ECS offers.",
            },
        )
        return project

    def deploy(self, service: ReleasedService) -> codebuild.PipelineProject:
        """`Deploy-<name>`: release the new image to the ECS service and record its tag; for
        a job (`service.service` None), `register_job`."""
        if service.service is None:
            return self.register_job(service)
        props = self._props
        stack = Stack.of(self._scope)
        seconds = props.deploy_timeout_minutes * 60
        project = self.project(
            f"{DEPLOY}-{service.name}",
            description=f"Releases the new image to the service {service.name} and records its tag",
            build_spec=script_spec(
                [
                    'python3 -m release_tools.release --cluster "$CLUSTER" --service "$SERVICE" '
                    '--container "$CONTAINER" --repository-uri "$REPOSITORY_URI" '
                    f'--tag "$IMAGE_TAG" --parameter "$RELEASE_PARAMETER" --timeout {seconds}'
                ]
            ),
            variables={
                "CLUSTER": self._cluster.cluster_name,
                "SERVICE": service.service.service_name,
                "CONTAINER": service.container_name,
                "REPOSITORY_URI": repository_uri(service.repository),
                "RELEASE_PARAMETER": service.release_parameter_name,
            },
            timeout_minutes=props.deploy_timeout_minutes + _STEP_MARGIN_MINUTES,
        )
        role = role_of(project)
        family_arn = task_definitions_arn(stack, service.task_definition)
        for statement in (
            iam.PolicyStatement(
                sid="UpdateService",
                actions=["ecs:DescribeServices", "ecs:UpdateService"],
                resources=[service.service.service_arn],
            ),
            *register_statements(family_arn, service.task_definition),
            record_statement(service.release_parameter_arn),
        ):
            role.add_to_principal_policy(statement)
        self.explain(
            role,
            {
                "Resource::*": UNSCOPED_TASK_DEFINITION_CALLS,
                resource_finding(family_arn): "ecs:TagResource only while registering (ecs:"
                "CreateAction) a revision of the service's one task-definition family, to "
                "copy the current revision's tags.",
            },
        )
        return project

    def register_job(self, job: ReleasedService) -> codebuild.PipelineProject:
        """`Deploy-<name>` of a job: register a revision of its task definition family with
        the new image (the state machine runs the family's latest revision, so the next run
        uses it), then record its tag. No service to update, nothing to wait for."""
        stack = Stack.of(self._scope)
        project = self.project(
            f"{DEPLOY}-{job.name}",
            description=f"Registers the job {job.name}'s task definition with the new image "
            "(its next run uses it) and records its tag",
            build_spec=script_spec(
                [
                    "python3 -m release_tools.release "
                    '--task-definition-family "$TASK_DEFINITION_FAMILY" '
                    '--container "$CONTAINER" --repository-uri "$REPOSITORY_URI" '
                    '--tag "$IMAGE_TAG" --parameter "$RELEASE_PARAMETER"'
                ]
            ),
            variables={
                "TASK_DEFINITION_FAMILY": job.task_definition.family,
                "CONTAINER": job.container_name,
                "REPOSITORY_URI": repository_uri(job.repository),
                "RELEASE_PARAMETER": job.release_parameter_name,
            },
            # Three API calls: the margin (start-up, pip install) is all it needs.
            timeout_minutes=_STEP_MARGIN_MINUTES,
        )
        role = role_of(project)
        family_arn = task_definitions_arn(stack, job.task_definition)
        for statement in (
            *register_statements(family_arn, job.task_definition),
            record_statement(job.release_parameter_arn),
        ):
            role.add_to_principal_policy(statement)
        self.explain(
            role,
            {
                "Resource::*": UNSCOPED_TASK_DEFINITION_CALLS,
                resource_finding(family_arn): "ecs:TagResource only while registering (ecs:"
                "CreateAction) a revision of the job's one task-definition family, to copy "
                "the current revision's tags.",
            },
        )
        return project

    def invalidate(self, distribution_id: str) -> codebuild.PipelineProject:
        paths = " ".join(f"--path {shlex.quote(path)}" for path in self._props.invalidation_paths)
        project = self.project(
            INVALIDATE,
            description="Invalidates the released pages in CloudFront",
            build_spec=script_spec(
                [
                    "python3 -m release_tools.invalidate "
                    f'--distribution-id "$DISTRIBUTION_ID" {paths}'
                ]
            ),
            variables={"DISTRIBUTION_ID": distribution_id},
            # release_tools.invalidate waits up to 15 minutes by default.
            timeout_minutes=15 + _STEP_MARGIN_MINUTES,
        )
        role_of(project).add_to_principal_policy(
            invalidate_statement(Stack.of(self._scope), distribution_id)
        )
        return project

    def smoke(self) -> codebuild.PipelineProject:
        props = self._props
        urls, attempts = props.smoke_urls, props.smoke_attempts
        interval = props.smoke_interval_seconds
        return self.project(
            SMOKE,
            description="GETs every web service's health URL until each answers 2xx",
            build_spec=script_spec([smoke_command(urls, attempts, interval)]),
            variables={},
            timeout_minutes=math.ceil(smoke_seconds(urls, attempts, interval) / 60)
            + _STEP_MARGIN_MINUTES,
        )


UNSCOPED_TASK_DEFINITION_CALLS = (
    "ecs:DescribeTaskDefinition and ecs:RegisterTaskDefinition have no resource-level "
    "permissions; passing roles is limited to the task's own two roles (iam:PassRole)."
)


class BucketRef:
    """Name, ARN and region of a bucket that may live in another region's stack. From the
    L1: the L2's `bucket_name` refuses to be read from another environment unless named."""

    def __init__(self, bucket: s3.IBucket) -> None:
        child = bucket.node.default_child
        if isinstance(child, s3.CfnBucket):
            self.name, self.arn = child.ref, child.attr_arn
        else:
            self.name, self.arn = bucket.bucket_name, bucket.bucket_arn
        self.region = bucket.env.region
        if Token.is_unresolved(self.region):
            raise ValueError(f"{bucket.node.path}: the static bucket's region must be known")


def role_of(project: codebuild.PipelineProject) -> iam.IRole:
    role = project.role
    if role is None:  # PipelineProject always creates one when none is given
        raise ValueError(f"{project.node.path} has no role")
    return role
