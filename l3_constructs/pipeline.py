"""PlatformPipeline: one environment's delivery pipeline (CodePipeline V2).

Source (GitHub through a CodeConnections connection) -> Build (tests, then every service's
Docker image, each pushed to its own repository as `:<commit>` and the moving
`:<latest_tag>`, then the static files) -> [Publish] (upload the static files; nothing is
deleted or retired) -> [Approve] -> [Migrate] (the migration task with its service's new
image) -> Deploy (one action per service, in parallel: its new task definition, the released
tag recorded in its SSM parameter; a job's registers the revision its next run starts, without
a service to update) -> [Invalidate] (CloudFront paths) -> [Retire] (mark the
static files this release no longer uses) -> Smoke (GET every web service's health URL).
Each CodeBuild action has its own project and least-privilege role; the commit id reaches
every one of them as `IMAGE_TAG`. Optionally, a role GitHub Actions assumes through OIDC to
run `cdk deploy` through the account's CDK bootstrap roles (`github_oidc`).

Knows nothing of environments: every choice arrives in `PipelineProps`. Split along its
seams: the inputs and their validation in `pipeline_props`, the steps' CodeBuild projects and
roles in `pipeline_steps`, their buildspecs and IAM statements in `pipeline_specs`, the
GitHub OIDC provider, deploy role, key and log group (shared with `GitHubRelease`, the
GitHub Actions provider) in `github_oidc`, the wildcard acknowledgments through
`compliance.acknowledge_wildcards`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import jsii
from aws_cdk import RemovalPolicy, Stack
from aws_cdk import aws_codebuild as codebuild
from aws_cdk import aws_codepipeline as codepipeline
from aws_cdk import aws_codepipeline_actions as actions
from aws_cdk import aws_codestarnotifications as notifications
from aws_cdk import aws_ecs as ecs
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from constructs import Construct

from l3_constructs.compliance import (
    acknowledge,
    acknowledge_wildcards,
    resource_finding,
    skip_checkov,
)
from l3_constructs.github_oidc import add_deploy_role, github_provider, retained_key_and_log_group
from l3_constructs.pipeline_props import (
    ApprovalSettings,
    BuildSettings,
    GitHubOidcSettings,
    PipelineProps,
    ReleasedService,
    StaticFiles,
    validate,
    validate_wiring,
)
from l3_constructs.pipeline_specs import PUBLISHED_AT, STATIC_ARTIFACT, environment_variables
from l3_constructs.pipeline_steps import (
    BUILD,
    DEPLOY,
    INVALIDATE,
    MIGRATE,
    PUBLISH,
    RETIRE,
    SMOKE,
    BucketRef,
    StepProjects,
    role_of,
)
from l3_constructs.shared import expiring_log_bucket

__all__ = [
    "BUILD",
    "DEPLOY",
    "INVALIDATE",
    "MIGRATE",
    "PUBLISH",
    "RETIRE",
    "SMOKE",
    "ApprovalSettings",
    "BuildSettings",
    "GitHubOidcSettings",
    "PipelineProps",
    "PlatformPipeline",
    "ReleasedService",
    "StaticFiles",
]

_CODESTAR_NOTIFICATIONS = "codestar-notifications.amazonaws.com"


class PlatformPipeline(Construct):
    """A CodePipeline V2 releasing `repository`'s `branch` to the ECS services and jobs
    (`service` None) of `services`.

    Exposes `pipeline`, `artifact_bucket` (server access logs in `access_log_bucket`),
    `cache_bucket` (cache "s3", else None), `key` (encrypts artifacts, build logs, topics and
    CodeBuild output), `log_group` (every step's logs, one stream prefix per step),
    `projects` (action name -> CodeBuild project), `approval_topic` (the created or imported
    approvers' topic; None without approval), `notification_topic`, `github_role` and
    `github_oidc_provider` (None without `github_oidc`).

    `migration_service` names the ECS service of `services` whose new image the migration task
    runs before Deploy; None: no Migrate step. `static_bucket` receives `static_files` (it
    may live in another region: the bucket's own stack's region is passed to the script).

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
        services: Sequence[ReleasedService],
        cluster: ecs.ICluster,
        migration_service: str | None = None,
        migration_task_definition: ecs.TaskDefinition | None = None,
        static_bucket: s3.IBucket | None = None,
        distribution_id: str | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        validate(props)
        validate_wiring(
            props,
            services,
            migration_service=migration_service,
            migration_task_definition=migration_task_definition,
            static_bucket=static_bucket,
            distribution_id=distribution_id,
        )
        self._props = props
        self.key, self.log_group = retained_key_and_log_group(
            self, log_retention_days=props.log_retention_days
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
        steps = StepProjects(
            self,
            props=props,
            key=self.key,
            log_group=self.log_group,
            cluster=cluster,
            cache_bucket=self.cache_bucket,
        )
        self._steps = steps
        self.projects: dict[str, codebuild.PipelineProject] = steps.projects

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
        self.approval_topic: sns.ITopic | None = None
        stages = [
            codepipeline.StageProps(stage_name="Source", actions=[source]),
            *self._release_stages(
                _Actions(source_output, source.variables.commit_id),
                steps,
                services,
                migration=(migration_service, migration_task_definition),
                static_bucket=BucketRef(static_bucket) if static_bucket is not None else None,
                distribution_id=distribution_id,
            ),
        ]

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
            self.github_oidc_provider = github_provider(
                self, create=props.github_oidc.create_provider
            )
            self.github_role = add_deploy_role(self, self.github_oidc_provider, props.github_oidc)
        self._acknowledge_findings()

    def _release_stages(
        self,
        make: _Actions,
        steps: StepProjects,
        services: Sequence[ReleasedService],
        *,
        migration: tuple[str | None, ecs.TaskDefinition | None],
        static_bucket: BucketRef | None,
        distribution_id: str | None,
    ) -> list[codepipeline.StageProps]:
        """Every stage after Source, in order; a stage per step, named as its action (Deploy:
        one action per service and per job, in parallel)."""
        props = self._props
        static = codepipeline.Artifact(STATIC_ARTIFACT) if props.static_files else None
        build = make.action(BUILD, steps.build(services), outputs=[static] if static else ())
        stages = [_stage(BUILD, build)]
        publish: actions.CodeBuildAction | None = None
        if static is not None and static_bucket is not None:
            publish = make.action(
                PUBLISH,
                steps.static("upload", static_bucket),
                extra_inputs=[static],
                namespace=PUBLISH,
            )
            stages.append(_stage(PUBLISH, publish))
        if props.approval is not None:
            stages.append(self._approval_stage(props.approval, make.commit))
        migration_service, migration_task_definition = migration
        if migration_service is not None and migration_task_definition is not None:
            (service,) = [s for s in services if s.name == migration_service]
            migrate = steps.migrate(service, migration_task_definition)
            stages.append(_stage(MIGRATE, make.action(MIGRATE, migrate)))
        deploys = [make.action(f"{DEPLOY}-{s.name}", steps.deploy(s)) for s in services]
        stages.append(_stage(DEPLOY, *deploys))
        if props.invalidation_paths and distribution_id is not None:
            invalidate = steps.invalidate(distribution_id)
            stages.append(_stage(INVALIDATE, make.action(INVALIDATE, invalidate)))
        if publish is not None and static is not None and static_bucket is not None:
            retire = make.action(
                RETIRE,
                steps.static("retire", static_bucket),
                extra_inputs=[static],
                variables={PUBLISHED_AT: publish.variable(PUBLISHED_AT)},
            )
            stages.append(_stage(RETIRE, retire))
        stages.append(_stage(SMOKE, make.action(SMOKE, steps.smoke())))
        return stages

    # --- Shared resources ---------------------------------------------------------------------

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

    # --- Approval ---------------------------------------------------------------------------

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
            f"({props.branch}): approving migrates the database and deploys its images.",
            external_entity_link=f"https://github.com/{props.repository}/commit/{commit}",
        )
        return codepipeline.StageProps(stage_name="Approve", actions=[action])

    # --- cdk-nag --------------------------------------------------------------------------------

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
            resource_finding(self.artifact_bucket.arn_for_objects("*")): objects,
            "Action::s3:GetObject*": s3_actions,
            "Action::s3:GetBucket*": s3_actions,
            "Action::s3:List*": s3_actions,
            "Action::s3:DeleteObject*": s3_actions,
            "Action::s3:Abort*": s3_actions,
            "Action::kms:GenerateDataKey*": key,
            "Action::kms:ReEncrypt*": key,
        }
        if self.cache_bucket is not None:
            explained[resource_finding(self.cache_bucket.arn_for_objects("*"))] = (
                "CDK's grant of the Build project's S3 cache: the objects of this construct's "
                "own cache bucket, whose names CodeBuild chooses."
            )
        return explained

    def _acknowledge_findings(self) -> None:
        # The pipeline's role, its actions' roles and the projects' roles.
        roles: list[iam.IRole] = [
            c for c in self.pipeline.node.find_all() if isinstance(c, iam.Role)
        ]
        roles += [role_of(project) for project in self.projects.values()]
        shared = self._shared_explanations()
        for role in roles:
            explained = {**shared, **self._steps.explanations.get(role.node.path, {})}
            acknowledge_wildcards(role, explained)
            acknowledge(
                role,
                "NIST.800.53.R5-IAMNoInlinePolicy",
                "CDK adds the grants of this single-purpose pipeline role (artifacts, key, and "
                "its step's own permissions) to its inline default policy.",
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


class _Actions:
    """Makes the CodeBuild actions: each reads the source artifact and gets the commit id as
    `IMAGE_TAG`."""

    def __init__(self, source: codepipeline.Artifact, commit: str) -> None:
        self.source = source
        self.commit = commit

    def action(
        self,
        name: str,
        project: codebuild.PipelineProject,
        *,
        variables: Mapping[str, str] | None = None,
        extra_inputs: Sequence[codepipeline.Artifact] = (),
        outputs: Sequence[codepipeline.Artifact] = (),
        namespace: str | None = None,
    ) -> actions.CodeBuildAction:
        return actions.CodeBuildAction(
            action_name=name,
            project=project,
            input=self.source,
            extra_inputs=list(extra_inputs) or None,
            outputs=list(outputs) or None,
            variables_namespace=namespace,
            environment_variables=environment_variables(
                {"IMAGE_TAG": self.commit, **(variables or {})}
            ),
        )


def _stage(name: str, *stage_actions: codepipeline.IAction) -> codepipeline.StageProps:
    return codepipeline.StageProps(stage_name=name, actions=list(stage_actions))


def _subscribe(topic: sns.ITopic, emails: Sequence[str]) -> None:
    for email in emails:
        topic.add_subscription(subscriptions.EmailSubscription(email))


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
