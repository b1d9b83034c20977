"""PlatformPipeline: one environment's delivery pipeline (CodePipeline V2).

Source (GitHub through a CodeConnections connection) -> Build (tests, then the Docker image,
pushed as `:<commit>` and the moving `:<latest_tag>`) -> [Approve] -> Migrate (the migration
task with the new image) -> Deploy (the service's new task definition; the released tag is
recorded in an SSM parameter) -> [Invalidate] (CloudFront paths) -> Smoke (GET a health URL).
Each step after Source is its own CodeBuild project with its own least-privilege role; the
commit id reaches every one of them as `IMAGE_TAG`. Optionally, a role GitHub Actions assumes
through OIDC to run `cdk deploy` through the account's CDK bootstrap roles.

Knows nothing of environments: every choice arrives in `PipelineProps`.
"""

from __future__ import annotations

import math
import re
import shlex
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import jsii
from aws_cdk import ArnFormat, Aws, Duration, RemovalPolicy, Stack, Token
from aws_cdk import aws_codebuild as codebuild
from aws_cdk import aws_codepipeline as codepipeline
from aws_cdk import aws_codepipeline_actions as actions
from aws_cdk import aws_codestarnotifications as notifications
from aws_cdk import aws_ecr as ecr
from aws_cdk import aws_ecs as ecs
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from aws_cdk import aws_ssm as ssm
from constructs import Construct, IConstruct, IValidation

from l3_constructs.compliance import acknowledge, flatten_cfn_reference, skip_checkov
from l3_constructs.limits import CLOUDFRONT_REGION, LOG_RETENTION_DAYS
from l3_constructs.retention import retention_days
from l3_constructs.shared import allow_cloudwatch_logs, expiring_log_bucket

GITHUB_OIDC_URL = "https://token.actions.githubusercontent.com"
_GITHUB_OIDC_HOST = GITHUB_OIDC_URL.removeprefix("https://")
_STS_AUDIENCE = "sts.amazonaws.com"
_ECS_TASKS = "ecs-tasks.amazonaws.com"
_CODESTAR_NOTIFICATIONS = "codestar-notifications.amazonaws.com"

#: Pipeline steps (also the CodeBuild action names and the keys of `projects`).
BUILD, MIGRATE, DEPLOY, INVALIDATE, SMOKE = "Build", "Migrate", "Deploy", "Invalidate", "Smoke"

_COMPUTE_TYPES: dict[str, codebuild.ComputeType] = {
    "small": codebuild.ComputeType.SMALL,
    "medium": codebuild.ComputeType.MEDIUM,
    "large": codebuild.ComputeType.LARGE,
}
#: What runs the Python steps (migrate, release, invalidate, smoke): x86, Python 3.11.
_SCRIPT_IMAGE = codebuild.LinuxBuildImage.STANDARD_7_0
_PYTHON_VERSION = "3.11"
_INSTALL_SCRIPT_REQUIREMENTS = "python3 -m pip install --quiet -r requirements-pipeline.txt"
#: CodeBuild's limits on a build's timeout (minutes).
_CODEBUILD_MIN_TIMEOUT, _CODEBUILD_MAX_TIMEOUT = 5, 2160
#: Minutes a script step gets beyond its own deadline (start-up, pip install, clean-up).
_STEP_MARGIN_MINUTES = 10
_MAX_STEP_MINUTES = 480

_REPOSITORY_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9-]{0,38}/[A-Za-z0-9._-]{1,100}")
_BRANCH_RE = re.compile(r"(?!-)(?!.*\.\.)(?!.*@\{)[^\s~^:?*\[\\]{1,255}(?<![./])")
_TAG_GLOB_RE = re.compile(r"(?!-)[^\s~^:\[\\]{1,255}")
_IMAGE_TAG_RE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}")
_ROLE_NAME_RE = re.compile(r"[A-Za-z0-9+=,.@_-]{1,64}")
_QUALIFIER_RE = re.compile(r"[A-Za-z0-9_-]{1,10}")
_EMAIL_RE = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
_PATH_RE = re.compile(r"/[\x21-\x7e]*")
#: The CDK bootstrap roles `cdk deploy` assumes (the lookup role is not needed: no look-ups).
_BOOTSTRAP_ROLES = ("deploy", "file-publishing", "image-publishing")


@dataclass(frozen=True)
class BuildSettings:
    """The Build step: the app's own commands, then the Docker image."""

    install_commands: tuple[str, ...] = ()
    #: A failing command fails the build, and so the execution, before any image is pushed.
    test_commands: tuple[str, ...] = ()
    build_commands: tuple[str, ...] = ()
    #: Docker build context (holds the Dockerfile), relative to the repository root.
    docker_directory: str = "app"
    compute_type: Literal["small", "medium", "large"] = "medium"
    #: Build on ARM (Graviton); the image's architecture is the build host's, so this must
    #: match the tasks' CPU architecture.
    arm: bool = True
    #: local: CodeBuild's local Docker-layer, source and custom cache (best effort, per host);
    #: s3: a cache bucket for `cache_paths`, and `--cache-from` the `latest_tag` image.
    cache: Literal["local", "s3"] = "local"
    #: Extra directories kept between builds (the buildspec's `cache.paths`).
    cache_paths: tuple[str, ...] = ()
    timeout_minutes: int = 60


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
    #: repository's tag immutability).
    latest_tag: str
    #: The stack whose outputs `scripts.migrate` reads the migration task from.
    compute_stack_name: str
    #: What `scripts.migrate --stage` is given (the stack name above is what it uses).
    stage_label: str
    #: The URL the Smoke step GETs until it answers 2xx (may be a token).
    smoke_url: str
    #: Pushes of git tags matching these patterns (e.g. "v*") also start it.
    tag_patterns: tuple[str, ...] = ()
    build: BuildSettings = field(default_factory=BuildSettings)
    approval: ApprovalSettings | None = None
    #: The migration task is stopped, and the execution fails, after this long.
    migration_timeout_minutes: int = 15
    #: The Deploy step fails when the service's deployment has not completed by then.
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


class PlatformPipeline(Construct):
    """A CodePipeline V2 releasing `repository`'s `branch` to one ECS service.

    Exposes `pipeline`, `artifact_bucket` (server access logs in `access_log_bucket`),
    `cache_bucket` (cache "s3", else None), `key` (encrypts artifacts, build logs, topics and
    CodeBuild output), `log_group` (every step's logs, one stream prefix per step),
    `projects` (step name -> CodeBuild project), `approval_topic` (the created or imported
    approvers' topic; None without approval), `notification_topic`, `github_role` and
    `github_oidc_provider` (None without `github_oidc`).

    The artifact (and cache) bucket is deleted with the stack, as artifacts are disposable;
    with no custom resource to empty it, CloudFormation can delete it only once it is empty,
    which lifecycle expiry ensures after `artifact_retention_days` (+ 1 day).
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        props: PipelineProps,
        repository: ecr.IRepository,
        cluster: ecs.ICluster,
        service: ecs.IBaseService,
        service_task_definition: ecs.TaskDefinition,
        service_container_name: str,
        migration_task_definition: ecs.TaskDefinition,
        release_parameter: ssm.IStringParameter,
        distribution_id: str | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        _validate(props)
        if props.invalidation_paths and distribution_id is None:
            raise ValueError("invalidation_paths need a distribution_id")
        self._props = props
        self._repository = repository
        # Not `repository.repository_uri`: from another stack, that splits the ARN the stack
        # exports, and Fn::Split refuses Fn::GetStackOutput (cfn-lint E1022).
        self._repository_uri = (
            f"{repository.env.account}.dkr.ecr.{repository.env.region}.{Aws.URL_SUFFIX}/"
            f"{repository.repository_name}"
        )
        self._cluster = cluster
        self.key = self._key()
        self.log_group = logs.LogGroup(
            self,
            "LogGroup",
            encryption_key=self.key,
            retention=retention_days(props.log_retention_days),
            removal_policy=RemovalPolicy.RETAIN,
        )
        self.access_log_bucket = expiring_log_bucket(
            self,
            "AccessLogBucket",
            retention_days=props.log_retention_days,
            removal_policy=RemovalPolicy.RETAIN,
        )
        self.artifact_bucket = self._bucket("ArtifactBucket", props.artifact_retention_days)
        self.cache_bucket = (
            self._bucket("CacheBucket", props.artifact_retention_days)
            if props.build.cache == "s3"
            else None
        )
        self.projects: dict[str, codebuild.PipelineProject] = {}
        # Role path -> wildcard finding -> reason (see `_explain`); by path, as jsii may hand
        # out more than one Python object for the same role.
        self._explanations: dict[str, dict[str, str]] = {}

        source_output = codepipeline.Artifact("Source")
        owner, repo = props.repository.split("/")
        source = actions.CodeStarConnectionsSourceAction(
            action_name="GitHub",
            connection_arn=props.connection_arn,
            owner=owner,
            repo=repo,
            branch=props.branch,
            output=source_output,
            variables_namespace="Source",
        )
        commit = source.variables.commit_id

        def step(name: str, project: codebuild.PipelineProject) -> codepipeline.StageProps:
            return codepipeline.StageProps(
                stage_name=name,
                actions=[
                    actions.CodeBuildAction(
                        action_name=name,
                        project=project,
                        input=source_output,
                        environment_variables={
                            "IMAGE_TAG": codebuild.BuildEnvironmentVariable(value=commit)
                        },
                    )
                ],
            )

        stages = [
            codepipeline.StageProps(stage_name="Source", actions=[source]),
            step(BUILD, self._build_project()),
        ]
        self.approval_topic: sns.ITopic | None = None
        if props.approval is not None:
            stages.append(self._approval_stage(props.approval, commit))
        stages.append(step(MIGRATE, self._migrate_project(migration_task_definition)))
        stages.append(
            step(
                DEPLOY,
                self._deploy_project(
                    service, service_task_definition, service_container_name, release_parameter
                ),
            )
        )
        if props.invalidation_paths and distribution_id is not None:
            stages.append(step(INVALIDATE, self._invalidate_project(distribution_id)))
        stages.append(step(SMOKE, self._smoke_project()))

        push_filters = [codepipeline.GitPushFilter(branches_includes=[props.branch])]
        if props.tag_patterns:
            push_filters.append(codepipeline.GitPushFilter(tags_includes=list(props.tag_patterns)))
        self.pipeline = codepipeline.Pipeline(
            self,
            "Pipeline",
            pipeline_type=codepipeline.PipelineType.V2,
            artifact_bucket=self.artifact_bucket,
            cross_account_keys=False,
            restart_execution_on_update=False,
            stages=stages,
            triggers=[
                codepipeline.TriggerProps(
                    provider_type=codepipeline.ProviderType.CODE_STAR_SOURCE_CONNECTION,
                    git_configuration=codepipeline.GitConfiguration(
                        source_action=source, push_filter=push_filters
                    ),
                )
            ],
        )
        self.notification_topic = self._topic(
            "NotificationTopic",
            f"Pipeline {props.repository}@{props.branch}",
            props.notification_emails,
        )
        self._allow_notifications()
        rule = self.pipeline.notify_on(
            "Notifications",
            _TopicTarget(self.notification_topic),
            events=[
                codepipeline.PipelineNotificationEvents.PIPELINE_EXECUTION_FAILED,
                codepipeline.PipelineNotificationEvents.PIPELINE_EXECUTION_SUCCEEDED,
            ],
        )
        # The rule is created once the topic policy admits CodeStar Notifications.
        rule.node.add_dependency(self.notification_topic)
        self.github_oidc_provider: iam.IOidcProvider | None = None
        self.github_role: iam.Role | None = None
        if props.github_oidc is not None:
            self._add_github_role(props.github_oidc)
        self._acknowledge_findings()

    # --- Shared resources ---------------------------------------------------------------------

    def _key(self) -> kms.Key:
        key = kms.Key(
            self,
            "Key",
            description=f"Encrypts the artifacts, build logs and topics of {self.node.path}",
            enable_key_rotation=True,
            # The retained log group stays readable only while the key exists.
            removal_policy=RemovalPolicy.RETAIN,
        )
        allow_cloudwatch_logs(key, "AllowCloudWatchLogsForPipelineLogGroup")
        return key

    def _bucket(self, construct_id: str, expiry_days: int) -> s3.Bucket:
        """A private, SSL-only, KMS-encrypted, access-logged bucket of disposable objects:
        a deleted stack loses nothing a new execution cannot rebuild."""
        return expiring_log_bucket(
            self,
            construct_id,
            retention_days=expiry_days,
            removal_policy=RemovalPolicy.DESTROY,
            encryption_key=self.key,
            access_logs_bucket=self.access_log_bucket,
        )

    def _topic(self, construct_id: str, display_name: str, emails: Sequence[str]) -> sns.Topic:
        topic = sns.Topic(
            self,
            construct_id,
            display_name=display_name[:100],
            master_key=self.key,
            enforce_ssl=True,
        )
        _subscribe(topic, emails)
        return topic

    def _allow_notifications(self) -> None:
        """Let CodeStar Notifications publish to the notification topic for this account's
        rules only, and use the key for it through SNS only (what CDK's own grant, made when
        a Topic itself is the target, leaves unconditioned)."""
        stack = Stack.of(self)
        self.notification_topic.add_to_resource_policy(
            iam.PolicyStatement(
                sid="AllowCodeStarNotificationsOfThisAccount",
                principals=[iam.ServicePrincipal(_CODESTAR_NOTIFICATIONS)],
                actions=["sns:Publish"],
                resources=[self.notification_topic.topic_arn],
                conditions={"StringEquals": {"aws:SourceAccount": stack.account}},
            )
        )
        self.key.add_to_resource_policy(
            iam.PolicyStatement(
                sid="AllowCodeStarNotificationsThroughSns",
                principals=[iam.ServicePrincipal(_CODESTAR_NOTIFICATIONS)],
                actions=["kms:GenerateDataKey*", "kms:Decrypt"],
                resources=["*"],
                conditions={
                    "StringEquals": {"kms:ViaService": f"sns.{stack.region}.amazonaws.com"}
                },
            )
        )

    def _project(
        self,
        name: str,
        *,
        description: str,
        build_spec: codebuild.BuildSpec,
        variables: Mapping[str, str],
        timeout_minutes: int,
        build_image: codebuild.IBuildImage = _SCRIPT_IMAGE,
        compute_type: codebuild.ComputeType = codebuild.ComputeType.SMALL,
        privileged: bool = False,
        cache: codebuild.Cache | None = None,
    ) -> codebuild.PipelineProject:
        """A CodeBuild project of one step: its own role, the construct's key, logs to the
        shared log group under the step's prefix."""
        project = codebuild.PipelineProject(
            self,
            f"{name}Project",
            description=f"{description} ({self.node.path})"[:255],
            build_spec=build_spec,
            environment=codebuild.BuildEnvironment(
                build_image=build_image, compute_type=compute_type, privileged=privileged
            ),
            environment_variables={
                key: codebuild.BuildEnvironmentVariable(value=value)
                for key, value in variables.items()
            },
            encryption_key=self.key,
            logging=codebuild.LoggingOptions(
                cloud_watch=codebuild.CloudWatchLoggingOptions(
                    log_group=self.log_group, prefix=name.lower()
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
        default_log_streams = Stack.of(self).format_arn(
            service="logs",
            resource="log-group",
            resource_name=f"/aws/codebuild/{project.project_name}:*",
            arn_format=ArnFormat.COLON_RESOURCE_NAME,
        )
        self._explain(
            _role(project),
            {
                _resource(default_log_streams): "CDK always grants a project its default "
                "/aws/codebuild/<project> log group's streams; this project logs to the "
                "construct's encrypted log group instead, so the grant stays unused.",
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

    def _build_project(self) -> codebuild.PipelineProject:
        build = self._props.build
        s3_cache = self.cache_bucket is not None
        image, latest = '"$REPOSITORY_URI:$IMAGE_TAG"', '"$REPOSITORY_URI:$LATEST_TAG"'
        # s3 cache: the previous image's layers, through BuildKit's inline cache.
        cache_from = (
            f" --cache-from {latest} --build-arg BUILDKIT_INLINE_CACHE=1" if s3_cache else ""
        )
        # Absolute: build_commands may have changed the directory (one shell for all phases).
        context = '"$CODEBUILD_SRC_DIR/$DOCKER_DIRECTORY"'
        # The repository's tags are immutable: a re-run of a commit reuses its image.
        build_or_reuse = "\n".join(
            (
                'if out=$(aws ecr describe-images --repository-name "$REPOSITORY_NAME" '
                '--image-ids imageTag="$IMAGE_TAG" 2>&1); then',
                f"  echo {image} exists: reusing it",
                f"  docker pull {image}",
                'elif [[ "$out" == *ImageNotFoundException* ]]; then',
                f"  docker build{cache_from} -t {image} {context}",
                f"  docker push {image}",
                "else",
                '  echo "$out" >&2; exit 1',
                "fi",
            )
        )
        phases: dict[str, Any] = {
            "install": {
                "commands": [
                    "aws ecr get-login-password | docker login --username AWS "
                    '--password-stdin "${REPOSITORY_URI%%/*}"',
                    *build.install_commands,
                ]
            }
        }
        if build.test_commands:
            phases["pre_build"] = {"commands": list(build.test_commands)}
        phases["build"] = {
            "commands": [
                *build.build_commands,
                build_or_reuse,
                f"docker tag {image} {latest}",
                f"docker push {latest}",
            ]
        }
        spec: dict[str, Any] = {"version": "0.2", "env": {"shell": "bash"}, "phases": phases}
        if build.cache_paths:
            spec["cache"] = {"paths": list(build.cache_paths)}

        if self.cache_bucket is not None:
            cache = codebuild.Cache.bucket(self.cache_bucket, prefix="build")
        else:
            cache = codebuild.Cache.local(
                codebuild.LocalCacheMode.DOCKER_LAYER,
                codebuild.LocalCacheMode.SOURCE,
                codebuild.LocalCacheMode.CUSTOM,
            )
        project = self._project(
            BUILD,
            description="Tests the app, builds and pushes its image",
            build_spec=codebuild.BuildSpec.from_object(spec),
            variables={
                "REPOSITORY_URI": self._repository_uri,
                "REPOSITORY_NAME": self._repository.repository_name,
                "LATEST_TAG": self._props.latest_tag,
                "DOCKER_DIRECTORY": build.docker_directory,
                "DOCKER_BUILDKIT": "1",
            },
            timeout_minutes=build.timeout_minutes,
            build_image=codebuild.LinuxArmBuildImage.AMAZON_LINUX_2023_STANDARD_3_0
            if build.arm
            else codebuild.LinuxBuildImage.STANDARD_7_0,
            compute_type=_COMPUTE_TYPES[build.compute_type],
            privileged=True,
            cache=cache,
        )
        role = _role(project)
        self._repository.grant_pull_push(role)
        self._repository.grant(role, "ecr:DescribeImages")
        self._explain(
            role,
            {
                "Resource::*": "ecr:GetAuthorizationToken (the Docker login to ECR) has no "
                "resource-level form; every other ECR action is on this one repository.",
            },
        )
        return project

    def _approval_stage(self, approval: ApprovalSettings, commit: str) -> codepipeline.StageProps:
        props = self._props
        if approval.topic_arn is not None:
            topic: sns.ITopic = sns.Topic.from_topic_arn(self, "ApprovalTopic", approval.topic_arn)
            _subscribe(topic, approval.emails)
        else:
            topic = self._topic(
                "ApprovalTopic", f"Approve releases of {props.repository}", approval.emails
            )
        self.approval_topic = topic
        action = actions.ManualApprovalAction(
            action_name="Approve",
            notification_topic=topic,
            additional_information=f"Release commit {commit} of {props.repository} "
            f"({props.branch}): approving migrates the database and deploys its image.",
            external_entity_link=f"https://github.com/{props.repository}/commit/{commit}",
        )
        return codepipeline.StageProps(stage_name="Approve", actions=[action])

    def _migrate_project(self, task_definition: ecs.TaskDefinition) -> codebuild.PipelineProject:
        props = self._props
        stack = Stack.of(self)
        seconds = props.migration_timeout_minutes * 60
        project = self._project(
            MIGRATE,
            description="Runs the database migration task with the new image",
            build_spec=_script_spec(
                'python3 -m scripts.migrate --stage "$STAGE" --stack-name "$COMPUTE_STACK" '
                f'--image "$REPOSITORY_URI:$IMAGE_TAG" --timeout {seconds}'
            ),
            variables={
                "STAGE": props.stage_label,
                "COMPUTE_STACK": props.compute_stack_name,
                "REPOSITORY_URI": self._repository_uri,
            },
            timeout_minutes=props.migration_timeout_minutes + _STEP_MARGIN_MINUTES,
        )
        role = _role(project)
        family_arn = _task_definitions_arn(stack, task_definition)
        tasks_arn = stack.format_arn(
            service="ecs", resource="task", resource_name=f"{self._cluster.cluster_name}/*"
        )
        stack_arn = stack.format_arn(
            service="cloudformation",
            resource="stack",
            resource_name=f"{props.compute_stack_name}/*",
        )
        for statement in (
            iam.PolicyStatement(
                sid="ReadComputeStackOutputs",
                actions=["cloudformation:DescribeStacks"],
                resources=[stack_arn],
            ),
            *_register_statements(family_arn, task_definition),
            iam.PolicyStatement(
                sid="RunMigrationTask",
                actions=["ecs:RunTask"],
                resources=[family_arn],
                conditions={"ArnEquals": {"ecs:cluster": self._cluster.cluster_arn}},
            ),
            iam.PolicyStatement(
                sid="WatchMigrationTask",
                actions=["ecs:DescribeTasks", "ecs:StopTask"],
                resources=[tasks_arn],
            ),
        ):
            role.add_to_principal_policy(statement)
        self._explain(
            role,
            {
                "Resource::*": _UNSCOPED_TASK_DEFINITION_CALLS,
                _resource(stack_arn): "DescribeStacks on the compute stack by name: the ARN's "
                "last part is the stack id CloudFormation generates at creation.",
                _resource(family_arn): "RunTask and TagResource (at registration only) on "
                "every revision of the migration task definition's one family: the revision "
                "is registered by this step; RunTask only on this cluster (ecs:cluster).",
                _resource(tasks_arn): "Task ids are only known once RunTask returns: "
                "DescribeTasks/StopTask on the tasks of this one cluster, the narrowest ARN "
                "ECS offers.",
            },
        )
        return project

    def _deploy_project(
        self,
        service: ecs.IBaseService,
        task_definition: ecs.TaskDefinition,
        container_name: str,
        release_parameter: ssm.IStringParameter,
    ) -> codebuild.PipelineProject:
        props = self._props
        stack = Stack.of(self)
        seconds = props.deploy_timeout_minutes * 60
        project = self._project(
            DEPLOY,
            description="Releases the new image to the service and records its tag",
            build_spec=_script_spec(
                'python3 -m scripts.release --cluster "$CLUSTER" --service "$SERVICE" '
                '--container "$CONTAINER" --repository-uri "$REPOSITORY_URI" --tag "$IMAGE_TAG" '
                f'--parameter "$RELEASE_PARAMETER" --timeout {seconds}'
            ),
            variables={
                "CLUSTER": self._cluster.cluster_name,
                "SERVICE": service.service_name,
                "CONTAINER": container_name,
                "REPOSITORY_URI": self._repository_uri,
                "RELEASE_PARAMETER": release_parameter.parameter_name,
            },
            timeout_minutes=props.deploy_timeout_minutes + _STEP_MARGIN_MINUTES,
        )
        role = _role(project)
        family_arn = _task_definitions_arn(stack, task_definition)
        for statement in (
            iam.PolicyStatement(
                sid="UpdateService",
                actions=["ecs:DescribeServices", "ecs:UpdateService"],
                resources=[service.service_arn],
            ),
            *_register_statements(family_arn, task_definition),
            iam.PolicyStatement(
                sid="RecordReleasedTag",
                actions=["ssm:GetParameter", "ssm:PutParameter"],
                resources=[release_parameter.parameter_arn],
            ),
        ):
            role.add_to_principal_policy(statement)
        self._explain(
            role,
            {
                "Resource::*": _UNSCOPED_TASK_DEFINITION_CALLS,
                _resource(family_arn): "ecs:TagResource only while registering (ecs:"
                "CreateAction) a revision of the service's one task-definition family, to "
                "copy the current revision's tags.",
            },
        )
        return project

    def _invalidate_project(self, distribution_id: str) -> codebuild.PipelineProject:
        paths = " ".join(f"--path {shlex.quote(path)}" for path in self._props.invalidation_paths)
        project = self._project(
            INVALIDATE,
            description="Invalidates the released pages in CloudFront",
            build_spec=_script_spec(
                f'python3 -m scripts.invalidate --distribution-id "$DISTRIBUTION_ID" {paths}'
            ),
            variables={"DISTRIBUTION_ID": distribution_id},
            # scripts.invalidate waits up to 15 minutes by default.
            timeout_minutes=15 + _STEP_MARGIN_MINUTES,
        )
        _role(project).add_to_principal_policy(
            iam.PolicyStatement(
                sid="InvalidateDistribution",
                actions=["cloudfront:CreateInvalidation", "cloudfront:GetInvalidation"],
                resources=[
                    Stack.of(self).format_arn(
                        service="cloudfront",
                        region="",
                        resource="distribution",
                        resource_name=distribution_id,
                    )
                ],
            )
        )
        return project

    def _smoke_project(self) -> codebuild.PipelineProject:
        props = self._props
        attempts, interval = props.smoke_attempts, props.smoke_interval_seconds
        return self._project(
            SMOKE,
            description="GETs the health URL until it answers 2xx",
            build_spec=_script_spec(
                f'python3 -m scripts.smoke --url "$SMOKE_URL" --attempts {attempts} '
                f"--interval {interval}"
            ),
            variables={"SMOKE_URL": props.smoke_url},
            timeout_minutes=math.ceil(attempts * interval / 60) + _STEP_MARGIN_MINUTES,
        )

    # --- GitHub Actions deploy role -----------------------------------------------------------

    def _add_github_role(self, github: GitHubOidcSettings) -> None:
        stack = Stack.of(self)
        if github.create_provider:
            provider: iam.IOidcProvider = iam.OidcProviderNative(
                self, "GitHubOidcProvider", url=GITHUB_OIDC_URL, client_ids=[_STS_AUDIENCE]
            )
        else:
            provider = iam.OidcProviderNative.from_oidc_provider_arn(
                self,
                "GitHubOidcProvider",
                stack.format_arn(
                    service="iam",
                    region="",
                    resource="oidc-provider",
                    resource_name=_GITHUB_OIDC_HOST,
                ),
            )
        self.github_oidc_provider = provider
        self.github_role = iam.Role(
            self,
            "GitHubRole",
            role_name=github.role_name,
            description=f"GitHub Actions of {github.repository}@{github.branch}: cdk deploy "
            "through the CDK bootstrap roles",
            assumed_by=iam.WebIdentityPrincipal(
                provider.oidc_provider_arn,
                conditions={
                    "StringEquals": {
                        f"{_GITHUB_OIDC_HOST}:aud": _STS_AUDIENCE,
                        f"{_GITHUB_OIDC_HOST}:sub": f"repo:{github.repository}:ref:refs/heads/"
                        f"{github.branch}",
                    }
                },
            ),
            max_session_duration=Duration.hours(1),
        )
        regions = github.regions or tuple(dict.fromkeys((stack.region, CLOUDFRONT_REGION)))
        self.github_role.add_to_principal_policy(
            iam.PolicyStatement(
                sid="AssumeCdkBootstrapRoles",
                actions=["sts:AssumeRole"],
                resources=[
                    stack.format_arn(
                        service="iam",
                        region="",
                        resource="role",
                        resource_name=f"cdk-{github.cdk_qualifier}-{kind}-role-{stack.account}"
                        f"-{region}",
                    )
                    for region in regions
                    for kind in _BOOTSTRAP_ROLES
                ],
            )
        )

    # --- cdk-nag --------------------------------------------------------------------------------

    def _explain(self, role: iam.IRole, explained: Mapping[str, str]) -> None:
        """Reasons for wildcard findings (AwsSolutions-IAM5 `Action::...`, or `_resource(arn)`)
        of `role`'s policy, beyond the ones every role here shares (`_shared_explanations`)."""
        self._explanations.setdefault(role.node.path, {}).update(explained)

    def _shared_explanations(self) -> dict[str, str]:
        objects = (
            "CDK's grant on the objects of this pipeline's own artifact bucket, which each "
            "execution names anew; no other bucket."
        )
        s3_actions = (
            "CDK's S3 grant action families (read, or read-write for who writes artifacts or "
            "the build cache), on this construct's own artifact and cache buckets only."
        )
        key = (
            "CDK's grant on this construct's own KMS key (artifacts, logs, build output): "
            "kms:GenerateDataKey*/ReEncrypt* are the action families S3 and CodeBuild need."
        )
        explained = {
            _resource(self.artifact_bucket.arn_for_objects("*")): objects,
            "Action::s3:GetObject*": s3_actions,
            "Action::s3:GetBucket*": s3_actions,
            "Action::s3:List*": s3_actions,
            "Action::s3:DeleteObject*": s3_actions,
            "Action::s3:Abort*": s3_actions,
            "Action::kms:GenerateDataKey*": key,
            "Action::kms:ReEncrypt*": key,
        }
        if self.cache_bucket is not None:
            explained[_resource(self.cache_bucket.arn_for_objects("*"))] = (
                "CDK's grant of the Build project's S3 cache: the objects of this construct's "
                "own cache bucket, whose names CodeBuild chooses."
            )
        return explained

    def _acknowledge_findings(self) -> None:
        # The pipeline's role, its actions' roles and the projects' roles.
        roles: list[iam.IRole] = [
            c for c in self.pipeline.node.find_all() if isinstance(c, iam.Role)
        ]
        roles += [_role(project) for project in self.projects.values()]
        shared = self._shared_explanations()
        for role in roles:
            explained = {**shared, **self._explanations.get(role.node.path, {})}
            self.node.add_validation(_AcknowledgeWildcards(role, explained))
            acknowledge(
                role,
                "NIST.800.53.R5-IAMNoInlinePolicy",
                "CDK adds the grants of this single-purpose pipeline role (artifacts, key, and "
                "its step's own permissions) to its inline default policy.",
            )
        if self.github_role is not None:
            acknowledge(
                self.github_role,
                "NIST.800.53.R5-IAMNoInlinePolicy",
                "The deploy role's only permission, sts:AssumeRole on the named CDK bootstrap "
                "roles, lives in its inline default policy; nothing else shares it.",
            )
        buckets = [self.artifact_bucket, *([self.cache_bucket] if self.cache_bucket else [])]
        for bucket in buckets:
            acknowledge(
                bucket,
                "NIST.800.53.R5-S3BucketReplicationEnabled",
                "Pipeline artifacts and build caches are disposable and expire: a new "
                "execution rebuilds them from the repository, so a replica would add nothing.",
            )
        log_bucket = self.access_log_bucket
        skip_checkov(
            log_bucket,
            "CKV_AWS_18",
            "This bucket only receives the S3 server access logs of the pipeline's buckets; "
            "logging access to it would need a further log bucket with the same gap.",
        )
        acknowledge(
            log_bucket,
            "NIST.800.53.R5-S3DefaultEncryptionKMS",
            "S3 server access logging delivers only to buckets encrypted with SSE-S3; the logs "
            "hold request metadata, no artifact content.",
        )
        acknowledge(
            log_bucket,
            "NIST.800.53.R5-S3BucketReplicationEnabled",
            "Access logs of disposable pipeline buckets, expiring after the log retention; a "
            "cross-region replica adds cost without aiding recovery.",
        )


_UNSCOPED_TASK_DEFINITION_CALLS = (
    "ecs:DescribeTaskDefinition and ecs:RegisterTaskDefinition have no resource-level "
    "permissions; passing roles is limited to the task's own two roles (iam:PassRole)."
)


def _validate(props: PipelineProps) -> None:  # noqa: PLR0912 - one check per field
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
    build = props.build
    directory = build.docker_directory
    if not directory or directory.startswith("/") or ".." in directory.split("/"):
        raise ValueError(f"docker_directory {directory!r} must be relative to the repository")
    if not 5 <= build.timeout_minutes <= _MAX_STEP_MINUTES:
        raise ValueError(f"build.timeout_minutes must lie in 5..{_MAX_STEP_MINUTES}")
    for name in ("migration_timeout_minutes", "deploy_timeout_minutes"):
        if not 1 <= getattr(props, name) <= _MAX_STEP_MINUTES:
            raise ValueError(f"{name} must lie in 1..{_MAX_STEP_MINUTES}")
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
    if not Token.is_unresolved(props.smoke_url) and not props.smoke_url.startswith("https://"):
        raise ValueError(f"smoke_url {props.smoke_url!r} must be an https:// URL")
    if not (1 <= props.smoke_attempts <= 60 and 1 <= props.smoke_interval_seconds <= 300):
        raise ValueError("smoke_attempts must lie in 1..60, smoke_interval_seconds in 1..300")
    if not 1 <= props.artifact_retention_days <= 3650:
        raise ValueError("artifact_retention_days must lie in 1..3650")
    if props.log_retention_days not in LOG_RETENTION_DAYS:
        raise ValueError(f"log_retention_days {props.log_retention_days} is no CloudWatch period")
    github = props.github_oidc
    if github is not None:
        if not _REPOSITORY_RE.fullmatch(github.repository):
            raise ValueError(f"github_oidc.repository {github.repository!r} is not 'owner/name'")
        if not _BRANCH_RE.fullmatch(github.branch):
            raise ValueError(f"github_oidc.branch {github.branch!r} is not a git branch name")
        if not _ROLE_NAME_RE.fullmatch(github.role_name):
            raise ValueError(f"github_oidc.role_name {github.role_name!r} is not a role name")
        if not _QUALIFIER_RE.fullmatch(github.cdk_qualifier):
            raise ValueError(f"github_oidc.cdk_qualifier {github.cdk_qualifier!r} is invalid")


def _subscribe(topic: sns.ITopic, emails: Sequence[str]) -> None:
    for email in emails:
        topic.add_subscription(subscriptions.EmailSubscription(email))


def _script_spec(command: str) -> codebuild.BuildSpec:
    """A step running one `scripts.*` module from the source artifact."""
    return codebuild.BuildSpec.from_object(
        {
            "version": "0.2",
            "env": {"shell": "bash"},
            "phases": {
                "install": {
                    "runtime-versions": {"python": _PYTHON_VERSION},
                    "commands": [_INSTALL_SCRIPT_REQUIREMENTS],
                },
                "build": {"commands": [command]},
            },
        }
    )


def _role(project: codebuild.PipelineProject) -> iam.IRole:
    role = project.role
    if role is None:  # PipelineProject always creates one when none is given
        raise ValueError(f"{project.node.path} has no role")
    return role


def _task_definitions_arn(stack: Stack, task_definition: ecs.TaskDefinition) -> str:
    """Every revision of `task_definition`'s family."""
    return stack.format_arn(
        service="ecs", resource="task-definition", resource_name=f"{task_definition.family}:*"
    )


def _register_statements(
    family_arn: str, task_definition: ecs.TaskDefinition
) -> list[iam.PolicyStatement]:
    """Describe a task definition and register a revision of it (tags copied), passing
    exactly its own task and execution roles to ECS tasks."""
    roles = [task_definition.task_role, task_definition.execution_role]
    return [
        iam.PolicyStatement(
            sid="ReadAndRegisterTaskDefinitions",
            actions=["ecs:DescribeTaskDefinition", "ecs:RegisterTaskDefinition"],
            resources=["*"],
        ),
        iam.PolicyStatement(
            sid="TagRegisteredTaskDefinitions",
            actions=["ecs:TagResource"],
            resources=[family_arn],
            conditions={"StringEquals": {"ecs:CreateAction": "RegisterTaskDefinition"}},
        ),
        iam.PolicyStatement(
            sid="PassTaskRoles",
            actions=["iam:PassRole"],
            resources=[role.role_arn for role in roles if role is not None],
            conditions={"StringEquals": {"iam:PassedToService": _ECS_TASKS}},
        ),
    ]


#: A `Resource::` finding id waiting for its value to be resolved (see `_AcknowledgeWildcards`).
_RESOURCE_PREFIX = "Resource::"


def _resource(arn: str) -> str:
    """The finding key of a wildcard resource; resolved to cdk-nag's rendering at validation."""
    return f"{_RESOURCE_PREFIX}{arn}"


@jsii.implements(notifications.INotificationRuleTarget)
class _TopicTarget:
    """`topic` as a notification rule target, without the unconditioned grants CDK adds when
    the Topic itself is the target (`PlatformPipeline._allow_notifications` adds scoped ones)."""

    def __init__(self, topic: sns.ITopic) -> None:
        self._topic = topic

    def bind_as_notification_rule_target(
        self, _scope: Construct
    ) -> notifications.NotificationRuleTargetConfig:
        return notifications.NotificationRuleTargetConfig(
            target_type="SNS", target_address=self._topic.topic_arn
        )


@jsii.implements(IValidation)
class _AcknowledgeWildcards:
    """Acknowledges the AwsSolutions-IAM5 findings of `role`'s default policy that `explained`
    gives a reason for, and no others (an unexplained wildcard stays a finding).

    Runs as construct validation: after CDK's prepare phase has turned cross-stack references
    into their final form (which the finding ids cdk-nag derives embed), before cdk-nag.
    """

    def __init__(self, role: iam.IRole, explained: Mapping[str, str]) -> None:
        self._role = role
        self._explained = explained
        self._acknowledged: set[str] = set()

    def validate(self) -> list[str]:
        policy = self._role.node.try_find_child("DefaultPolicy")
        if policy is None:
            return []
        stack = Stack.of(self._role)
        reasons = {_finding(stack, key): reason for key, reason in self._explained.items()}
        document = stack.resolve(_cfn_policy(policy).policy_document)
        for finding in _wildcard_findings(document):
            rule = f"AwsSolutions-IAM5[{finding}]"
            reason = reasons.get(finding)
            if reason is not None and rule not in self._acknowledged:
                acknowledge(self._role, rule, reason)
                self._acknowledged.add(rule)
        return []


def _cfn_policy(policy: IConstruct) -> iam.CfnPolicy:
    child = policy.node.default_child
    if not isinstance(child, iam.CfnPolicy):
        raise TypeError(f"{policy.node.path} has no AWS::IAM::Policy")
    return child


def _finding(stack: Stack, key: str) -> str:
    """`Resource::<arn>` with the ARN rendered as cdk-nag does; action ids as they are."""
    if key.startswith(_RESOURCE_PREFIX):
        return _RESOURCE_PREFIX + flatten_cfn_reference(
            stack.resolve(key.removeprefix(_RESOURCE_PREFIX))
        )
    return key


def _wildcard_findings(document: Mapping[str, Any]) -> list[str]:
    """cdk-nag's IAMNoWildcardPermissions analysis of an Allow policy document."""
    findings: dict[str, None] = {}
    for statement in document.get("Statement", []):
        if statement.get("Effect") != "Allow":
            continue
        for action in _as_list(statement.get("Action")):
            if isinstance(action, str) and "*" in action:
                findings[f"Action::{action}"] = None
        for resource in _as_list(statement.get("Resource")):
            flat = flatten_cfn_reference(resource)
            if "*" in flat:
                findings[f"Resource::{flat}"] = None
    return list(findings)


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]
