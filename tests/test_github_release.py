"""The Pipeline stack of an environment released from GitHub Actions (`pipeline.provider:
github_actions`; shipped: Test and Stage): no CodePipeline, the kept key and log group, the
release role (trusted by one GitHub environment, its statements listed exactly per
environment) and the release plan its outputs hold, read back by `release_tools.plan`.

Service names are never hard-coded: the expectations come from each stage's config and the
Compute, Network and Edge templates of the session's one synth."""

from __future__ import annotations

import json
import math
from typing import Any

import pytest

from config.models import EnvironmentConfig
from config.pipeline import GitHubActionsRelease, Pipeline
from l3_constructs.github_release import ECR_PUSH_PULL
from l3_constructs.limits import CLOUDFRONT_REGION
from release_tools import plan as release_plan
from stacks.pipeline_stack import smoke_urls
from tests.conftest import NEW_STAGE, SHIPPED_STAGES, Synth
from tests.helpers import only, props, ref_id, resources
from tests.test_pipeline import _origin, _static_bucket_arn, _workloads

STAGES = (*SHIPPED_STAGES, NEW_STAGE)
GITHUB_HOST = "token.actions.githubusercontent.com"


def _github(synth: Synth, stage: str) -> tuple[EnvironmentConfig, Pipeline, GitHubActionsRelease]:
    config = synth.configs[stage]
    pipeline = config.pipeline
    if pipeline is None or pipeline.github_actions is None:
        pytest.skip(f"{stage} is not released from GitHub Actions")
    return config, pipeline, pipeline.github_actions


def _t(synth: Synth, stage: str) -> dict[str, Any]:
    return synth.template(stage, "Pipeline")


def _release_role(synth: Synth, stage: str) -> tuple[str, dict[str, Any]]:
    config = synth.configs[stage]
    ((role_id, role),) = [
        (k, props(r))
        for k, r in resources(_t(synth, stage), "AWS::IAM::Role").items()
        if props(r)["RoleName"] == config.release_role_name
    ]
    return role_id, role


def test_shipped_split(synth: Synth) -> None:
    """Test and Stage release from GitHub Actions, each from its own GitHub environment;
    Prod from CodePipeline, with its approval."""
    providers = {}
    for stage in SHIPPED_STAGES:
        pipeline = synth.configs[stage].pipeline
        assert pipeline is not None
        providers[stage] = pipeline.provider
    assert providers == {
        "Test": "github_actions",
        "Stage": "github_actions",
        "Prod": "codepipeline",
    }
    assert resources(_t(synth, "Prod"), "AWS::CodePipeline::Pipeline")


# --- What replaces CodePipeline -----------------------------------------------------------------


@pytest.mark.parametrize("stage", STAGES)
def test_no_pipeline_no_projects_only_the_role_and_what_is_kept(synth: Synth, stage: str) -> None:
    config, pipeline, github = _github(synth, stage)
    template = _t(synth, stage)
    types = sorted(r["Type"] for r in template["Resources"].values())
    roles = 2 if config.github_role_name else 1  # the deploy role too, where config asks
    expected = [
        "AWS::IAM::Policy",
        *(["AWS::IAM::OIDCProvider"] if github.create_provider else []),
        "AWS::IAM::Role",
        "AWS::KMS::Key",
        "AWS::Logs::LogGroup",
    ]
    expected = sorted(expected + ["AWS::IAM::Policy", "AWS::IAM::Role"] * (roles - 1))
    assert types == expected
    # No CodePipeline, CodeBuild, artifact or cache bucket, topic or notification rule.
    # The key and the log group (retained, their ids pinned) stay for a switch of provider:
    # CodeBuild's logs of an earlier CodePipeline stay readable until they expire.
    for type_name in ("AWS::KMS::Key", "AWS::Logs::LogGroup"):
        _, resource = only(template, type_name)
        assert resource["DeletionPolicy"] == "Retain"
    _, group = only(template, "AWS::Logs::LogGroup")
    assert props(group)["RetentionInDays"] == pipeline.log_retention_days


@pytest.mark.parametrize("stage", STAGES)
def test_the_resources_a_release_writes_exist_in_the_other_stacks(synth: Synth, stage: str) -> None:
    """The repositories, release records and static bucket do not depend on the provider."""
    config, _, _ = _github(synth, stage)
    compute = _workloads(synth, stage)  # finds every built workload's repository and family
    built = [n for n, s in config.services.items() if s.image.source == "asset"]
    assert sorted(compute) == sorted(built)
    network = json.dumps(synth.template(stage, "Network"))
    for name in built:
        assert config.release_parameter_name(name) in network
    assert "EdgeStaticBucket80118D35" in synth.template(stage, "Edge")["Resources"]


# --- The release role ---------------------------------------------------------------------------


@pytest.mark.parametrize("stage", STAGES)
def test_release_role_trusts_one_github_environment(synth: Synth, stage: str) -> None:
    config, pipeline, github = _github(synth, stage)
    template = _t(synth, stage)
    _, role = _release_role(synth, stage)
    (trust,) = role["AssumeRolePolicyDocument"]["Statement"]
    assert trust["Action"] == "sts:AssumeRoleWithWebIdentity"
    subject = (
        f"environment:{github.environment}"
        if github.trust == "environment"
        else f"ref:refs/heads/{pipeline.branch}"
    )
    assert trust["Condition"] == {
        "StringEquals": {
            f"{GITHUB_HOST}:aud": "sts.amazonaws.com",
            f"{GITHUB_HOST}:sub": f"repo:{pipeline.repository}:{subject}",
        }
    }
    assert github.trust == "environment"  # shipped
    assert subject == f"environment:{stage.lower()}"
    # The account's one provider (created here: one per account, config checks it), shared
    # with the deploy role where there is one.
    provider_id, provider = only(template, "AWS::IAM::OIDCProvider")
    assert props(provider)["Url"] == f"https://{GITHUB_HOST}"
    assert trust["Principal"] == {"Federated": {"Ref": provider_id}}
    federated = [
        s["Principal"]
        for r in resources(template, "AWS::IAM::Role").values()
        for s in props(r)["AssumeRolePolicyDocument"]["Statement"]
    ]
    assert federated == [{"Federated": {"Ref": provider_id}}] * len(federated)
    assert len(federated) == (2 if config.github_role_name else 1)
    # The session lasts as long as the workflow's job may.
    assert role["MaxSessionDuration"] == math.ceil(github.timeout_minutes / 60) * 3600
    assert role["RoleName"] == f"{stage}-github-release"
    assert "ManagedPolicyArns" not in role
    assert "Policies" not in role


def _normal(statement: dict[str, Any]) -> dict[str, Any]:
    """A statement with its action and resource lists sorted (CDK may reorder them)."""
    normal = dict(statement)
    for key in ("Action", "Resource"):
        value = normal[key]
        items = value if isinstance(value, list) else [value]
        normal[key] = sorted(items, key=lambda v: json.dumps(v, sort_keys=True))
    return normal


def _expected_statements(synth: Synth, stage: str) -> list[dict[str, Any]]:
    """Exactly what a release of `stage` needs (issue 16), from config and the templates."""
    config = synth.configs[stage]
    pipeline = config.pipeline
    assert pipeline is not None
    arn = f"arn:aws:{{}}:{config.region}:{config.account}:{{}}"
    compute_template = synth.template(stage, "Compute")
    workloads = _workloads(synth, stage)
    cluster, _ = only(compute_template, "AWS::ECS::Cluster")
    (migration,) = [
        props(t)
        for t in resources(compute_template, "AWS::ECS::TaskDefinition").values()
        if props(t)["ContainerDefinitions"][0]["Name"] == "migration"
    ]
    families = [migration["Family"], *(w.family for w in workloads.values())]
    roles = {ref_id(migration["TaskRoleArn"]), ref_id(migration["ExecutionRoleArn"])}
    roles |= {role for w in workloads.values() for role in w.task_roles}
    bucket = _static_bucket_arn(synth, stage)
    prefixes = [s.static.prefix for s in config.services.values() if s.kind == "web" and s.static]
    objects = [{"Fn::Join": ["", [bucket, f"/{p}/*"]]} for p in prefixes]
    distribution, _ = only(synth.template(stage, "Edge"), "AWS::CloudFront::Distribution")
    return [
        {
            "Sid": "ReadReleaseOutputs",
            "Action": "cloudformation:DescribeStacks",
            "Resource": [
                arn.format("cloudformation", f"stack/{stage}-{s}/*")
                for s in ("Pipeline", "Compute")
            ],
        },
        {"Sid": "LogInToRegistry", "Action": "ecr:GetAuthorizationToken", "Resource": "*"},
        {
            "Sid": "PushAndPullReleasedImages",
            "Action": list(ECR_PUSH_PULL),
            "Resource": [{"Fn::GetAtt": [w.repository, "Arn"]} for w in workloads.values()],
        },
        {"Sid": "UploadStaticFiles", "Action": "s3:PutObject", "Resource": objects},
        {
            "Sid": "ListStaticPrefixes",
            "Action": "s3:ListBucket",
            "Resource": bucket,
            "Condition": {"StringLike": {"s3:prefix": [f"{p}/*" for p in prefixes]}},
        },
        {
            "Sid": "MarkSupersededStaticFiles",
            "Action": ["s3:GetObject", "s3:PutObject", "s3:PutObjectTagging"],
            "Resource": objects,
        },
        {
            "Sid": "RunMigrationTask",
            "Action": "ecs:RunTask",
            "Resource": arn.format("ecs", f"task-definition/{migration['Family']}:*"),
            "Condition": {"ArnEquals": {"ecs:cluster": {"Fn::GetAtt": [cluster, "Arn"]}}},
        },
        {
            "Sid": "WatchMigrationTask",
            "Action": ["ecs:DescribeTasks", "ecs:StopTask"],
            "Resource": {"Fn::Join": ["", [arn.format("ecs", "task/"), {"Ref": cluster}, "/*"]]},
        },
        {
            "Sid": "ReadAndRegisterTaskDefinitions",
            "Action": ["ecs:DescribeTaskDefinition", "ecs:RegisterTaskDefinition"],
            "Resource": "*",  # neither has a resource-level form
        },
        {
            "Sid": "TagRegisteredTaskDefinitions",
            "Action": "ecs:TagResource",
            "Resource": [arn.format("ecs", f"task-definition/{f}:*") for f in families],
            "Condition": {"StringEquals": {"ecs:CreateAction": "RegisterTaskDefinition"}},
        },
        {
            "Sid": "PassTaskRoles",
            "Action": "iam:PassRole",
            "Resource": [{"Fn::GetAtt": [role, "Arn"]} for role in roles],
            "Condition": {"StringEquals": {"iam:PassedToService": "ecs-tasks.amazonaws.com"}},
        },
        {
            "Sid": "UpdateReleasedServices",
            "Action": ["ecs:DescribeServices", "ecs:UpdateService"],
            "Resource": [{"Ref": w.service} for w in workloads.values() if w.service],
        },
        {
            "Sid": "RecordReleasedTags",
            "Action": ["ssm:GetParameter", "ssm:PutParameter"],
            "Resource": [
                arn.format("ssm", f"parameter{config.release_parameter_name(n)}") for n in workloads
            ],
        },
        {
            "Sid": "InvalidateDistribution",
            "Action": ["cloudfront:CreateInvalidation", "cloudfront:GetInvalidation"],
            "Resource": {
                "Fn::Join": [
                    "",
                    [f"arn:aws:cloudfront::{config.account}:distribution/", {"Ref": distribution}],
                ]
            },
        },
    ]


@pytest.mark.parametrize("stage", STAGES)
def test_release_role_may_do_exactly_what_a_release_needs(synth: Synth, stage: str) -> None:
    """Push to this environment's repositories, write the static prefixes, run the migration
    family on this cluster passing only its roles, register the released families and update
    only their services (passing only their roles), write their records, invalidate this
    distribution; read the plan's and the migration's outputs. Nothing else."""
    _github(synth, stage)
    template = _t(synth, stage)
    role_id, _ = _release_role(synth, stage)
    policies = [
        props(p)
        for p in resources(template, "AWS::IAM::Policy").values()
        if {"Ref": role_id} in props(p)["Roles"]
    ]
    (policy,) = policies
    assert policy["Roles"] == [{"Ref": role_id}]
    statements = [_origin(synth, stage, s) for s in policy["PolicyDocument"]["Statement"]]
    assert all(s.pop("Effect") == "Allow" for s in statements)
    expected = _expected_statements(synth, stage)
    assert [s["Sid"] for s in statements] == [s["Sid"] for s in expected]
    for actual, wanted in zip(statements, expected, strict=True):
        assert _normal(actual) == _normal(wanted), wanted["Sid"]
    # Jobs are registered only: no service of theirs to update (shipped: `cleanup`).
    jobs = [n for n, w in _workloads(synth, stage).items() if w.service is None]
    assert jobs or stage not in SHIPPED_STAGES
    # No delete of anything, no wildcard action.
    actions = [a for s in statements for a in _normal(s)["Action"]]
    assert not [a for a in actions if "Delete" in a or "*" in a]


@pytest.mark.parametrize("stage", STAGES)
def test_outputs_give_the_role_and_region_for_gh_variable_set(synth: Synth, stage: str) -> None:
    config, _, github = _github(synth, stage)
    outputs = _t(synth, stage)["Outputs"]
    role_id, _ = _release_role(synth, stage)
    assert outputs[release_plan.ROLE_OUTPUT]["Value"] == {"Fn::GetAtt": [role_id, "Arn"]}
    assert outputs[release_plan.REGION_OUTPUT]["Value"] == config.region
    assert outputs[release_plan.ROLE_OUTPUT]["Description"] == (
        f"gh variable set {release_plan.ROLE_VARIABLE} (GitHub environment '{github.environment}')"
    )
    assert release_plan.REGION_VARIABLE in outputs[release_plan.REGION_OUTPUT]["Description"]
    assert "PipelineName" not in outputs


# --- The release plan in the outputs ------------------------------------------------------------


class _Tokens:
    """Renders output values: every reference becomes a placeholder string that remembers
    what it reads (through `_origin`: the producing stack's resource)."""

    def __init__(self, synth: Synth, stage: str) -> None:
        self._synth, self._stage = synth, stage
        self.origins: dict[str, Any] = {}

    def render(self, value: Any) -> str:
        if isinstance(value, str):
            return value
        if "Fn::Join" in value:
            separator, parts = value["Fn::Join"]
            return str(separator).join(self.render(p) for p in parts)
        if value == {"Ref": "AWS::URLSuffix"}:
            return "amazonaws.com"
        placeholder = f"token-{len(self.origins)}"
        self.origins[placeholder] = _origin(self._synth, self._stage, value)
        return placeholder


def _plan(synth: Synth, stage: str) -> tuple[release_plan.ReleasePlan, _Tokens]:
    tokens = _Tokens(synth, stage)
    outputs = {k: tokens.render(o["Value"]) for k, o in _t(synth, stage)["Outputs"].items()}
    return release_plan.from_outputs(outputs), tokens


@pytest.mark.parametrize("stage", STAGES)
def test_the_plan_in_the_outputs_is_what_config_and_the_stacks_say(
    synth: Synth, stage: str
) -> None:
    """`release_tools.plan` reads back what the stack wrote: every built workload (config
    order) with its own repository, service or job family and record; the migration, static
    files, invalidation and smoke test. The workflow has no list of its own to drift."""
    config, pipeline, _ = _github(synth, stage)
    plan, tokens = _plan(synth, stage)
    workloads = _workloads(synth, stage)
    built = {n: s for n, s in config.services.items() if s.image.source == "asset"}
    assert [w.name for w in plan.workloads] == list(built)
    compute_template = synth.template(stage, "Compute")
    cluster, _ = only(compute_template, "AWS::ECS::Cluster")
    assert tokens.origins[plan.cluster] == {"Ref": cluster}
    for workload in plan.workloads:
        resources_of = workloads[workload.name]
        assert workload.directory == built[workload.name].image.directory
        assert tokens.origins[workload.repository_name] == {"Ref": resources_of.repository}
        registry, name = workload.repository_uri.split("/", 1)
        assert (
            registry == plan.registry == (f"{config.account}.dkr.ecr.{config.region}.amazonaws.com")
        )
        assert tokens.origins[name] == {"Ref": resources_of.repository}
        if resources_of.service is None:
            assert workload.service is None
            assert built[workload.name].kind == "job"
        else:
            assert workload.service is not None
            assert tokens.origins[workload.service] == {
                "Fn::GetAtt": [resources_of.service, "Name"]
            }
        assert workload.family == resources_of.family
        assert workload.container == "app"
        assert workload.parameter == config.release_parameter_name(workload.name)
    assert plan.stage_name == stage
    assert plan.compute_stack == f"{stage}-Compute"
    assert plan.latest_tag == config.latest_image_tag == f"{stage.lower()}-latest"
    (architecture,) = {s.architecture for s in built.values()}
    assert plan.platform == ("linux/arm64" if architecture == "ARM64" else "linux/amd64")
    assert plan.migration == release_plan.Migration(
        workload=config.migration.service,
        timeout_seconds=config.migration.timeout_minutes * 60,
    )
    assert plan.static is not None
    assert (
        tokens.origins[plan.static.bucket]
        == synth.template(stage, "Edge")["Outputs"]["StaticBucketName"]["Value"]
    )
    assert plan.static.region == CLOUDFRONT_REGION
    assert [(f.service, f.prefix, f.from_image, f.directory) for f in plan.static.files] == [
        (n, s.static.prefix, s.static.from_image, s.static.directory)
        for n, s in config.services.items()
        if s.kind == "web" and s.static
    ]
    assert plan.invalidation is not None
    distribution, _ = only(synth.template(stage, "Edge"), "AWS::CloudFront::Distribution")
    assert tokens.origins[plan.invalidation.distribution_id] == {"Ref": distribution}
    assert plan.invalidation.paths == pipeline.invalidation_paths
    assert plan.smoke == release_plan.Smoke(
        urls=smoke_urls(config),
        attempts=pipeline.smoke_test.attempts,
        interval_seconds=pipeline.smoke_test.interval_seconds,
        timeout_seconds=10,
    )
    # The plan file the workflow's steps read round-trips.
    assert release_plan.ReleasePlan.from_json(plan.to_json()) == plan
