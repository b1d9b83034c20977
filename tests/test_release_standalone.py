"""Both release providers with the options no shipped environment uses, in one small stack:
a GitHub Actions release trusting a branch through the account's existing OIDC provider,
releasing only a job (no migration, static files or invalidation); a CodePipeline without
approval, with the local build cache (since Test and Stage release from GitHub Actions, only
Prod's CodePipeline is in the session's synth). Construct-level: one synth for the module."""

from __future__ import annotations

import json
from typing import Any

import pytest
from aws_cdk import App, Environment, Stack
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_ecr as ecr
from aws_cdk import aws_ecs as ecs

from l3_constructs.github_release import GitHubRelease, GitHubReleaseProps
from l3_constructs.pipeline import (
    PipelineProps,
    PlatformPipeline,
    ReleasedService,
)
from release_tools import plan as release_plan
from tests.conftest import Synth, cdk_json_context
from tests.helpers import props, resources

ACCOUNT, REGION = "123456789012", "eu-west-1"
PROVIDER_ARN = f"arn:aws:iam::{ACCOUNT}:oidc-provider/token.actions.githubusercontent.com"


def _job(stack: Stack, name: str) -> ReleasedService:
    task = ecs.FargateTaskDefinition(stack, f"{name}Task", cpu=256, memory_limit_mib=512)
    task.add_container("app", image=ecs.ContainerImage.from_registry("public.ecr.aws/x/y:1"))
    return ReleasedService(
        name=name,
        directory=f"services/{name}",
        repository=ecr.Repository(stack, f"{name}Repository"),
        service=None,
        task_definition=task,
        container_name="app",
        release_parameter_name=f"/Solo/release/{name}-image-tag",
        release_parameter_arn=f"arn:aws:ssm:{REGION}:{ACCOUNT}:parameter/Solo/release/{name}-image-tag",
    )


@pytest.fixture(scope="module")
def stacks(synth: Synth) -> dict[str, dict[str, Any]]:
    del synth  # after the session's synth: see _synth_order in tests/conftest.py
    app = App(context=cdk_json_context())
    env = Environment(account=ACCOUNT, region=REGION)
    templates = {}
    for provider in ("github", "codepipeline"):
        stack = Stack(app, f"Solo{provider}", env=env)
        vpc = ec2.Vpc(stack, "Vpc", availability_zones=[f"{REGION}a"], nat_gateways=0)
        cluster = ecs.Cluster(stack, "Cluster", vpc=vpc)
        services = [_job(stack, "cleanup")]
        if provider == "github":
            release = GitHubRelease(
                stack,
                "Pipeline",
                props=GitHubReleaseProps(
                    repository="org/repo",
                    subject="ref:refs/heads/main",
                    role_name="Solo-github-release",
                    latest_tag="solo-latest",
                    compute_stack_name="Solo-Compute",
                    plan_stack_name="Solo-Pipeline",
                    stage_label="Solo",
                    smoke_urls=("https://solo.example.org/healthz",),
                    create_provider=False,
                    arm=False,
                ),
                services=services,
                cluster=cluster,
            )
            plan, workloads = release.plan_documents()
            stack.export_value(plan, name="plan")
            for i, workload in enumerate(workloads):
                stack.export_value(workload, name=f"workload{i}")
        else:
            PlatformPipeline(
                stack,
                "Pipeline",
                props=PipelineProps(
                    connection_arn=f"arn:aws:codeconnections:{REGION}:{ACCOUNT}:connection/x",
                    repository="org/repo",
                    branch="main",
                    latest_tag="solo-latest",
                    compute_stack_name="Solo-Compute",
                    stage_label="Solo",
                    smoke_urls=("https://solo.example.org/healthz",),
                ),
                services=services,
                cluster=cluster,
            )
    assembly = app.synth()
    for provider in ("github", "codepipeline"):
        templates[provider] = assembly.get_stack_by_name(f"Solo{provider}").template
    return templates


def test_a_branch_trusted_release_through_the_existing_provider(
    stacks: dict[str, dict[str, Any]],
) -> None:
    template = stacks["github"]
    assert resources(template, "AWS::IAM::OIDCProvider") == {}  # reused, not created
    ((_, role),) = [
        (k, props(r))
        for k, r in resources(template, "AWS::IAM::Role").items()
        if props(r).get("RoleName") == "Solo-github-release"
    ]
    (trust,) = role["AssumeRolePolicyDocument"]["Statement"]
    assert trust["Principal"] == {"Federated": PROVIDER_ARN}
    assert (
        trust["Condition"]["StringEquals"]["token.actions.githubusercontent.com:sub"]
        == "repo:org/repo:ref:refs/heads/main"
    )
    assert role["MaxSessionDuration"] == 7200


def test_a_job_only_release_may_not_run_tasks_update_services_or_touch_static_files(
    stacks: dict[str, dict[str, Any]],
) -> None:
    template = stacks["github"]
    (policy,) = [
        props(p)
        for p in resources(template, "AWS::IAM::Policy").values()
        if "ReleaseRole" in json.dumps(props(p)["Roles"])
    ]
    sids = [s["Sid"] for s in policy["PolicyDocument"]["Statement"]]
    assert sids == [
        "ReadReleaseOutputs",
        "LogInToRegistry",
        "PushAndPullReleasedImages",
        "ReadAndRegisterTaskDefinitions",
        "TagRegisteredTaskDefinitions",
        "PassTaskRoles",
        "RecordReleasedTags",
    ]


def test_its_plan_has_no_migration_static_files_or_invalidation(
    stacks: dict[str, dict[str, Any]],
) -> None:
    outputs = stacks["github"]["Outputs"]

    def render(value: Any) -> str:
        if isinstance(value, str):
            return value
        if "Fn::Join" in value:
            return "".join(render(p) for p in value["Fn::Join"][1])
        return "token"

    values = {
        "ReleasePlan": render(outputs["Exportplan"]["Value"]),
        "ReleaseWorkload0": render(outputs["Exportworkload0"]["Value"]),
    }
    plan = release_plan.from_outputs(values)
    assert (plan.migration, plan.static, plan.invalidation) == (None, None, None)
    assert plan.platform == "linux/amd64"
    (job,) = plan.workloads
    assert (job.name, job.service) == ("cleanup", None)


def test_a_codepipeline_without_approval_with_the_local_cache(
    stacks: dict[str, dict[str, Any]],
) -> None:
    template = stacks["codepipeline"]
    (pipeline,) = resources(template, "AWS::CodePipeline::Pipeline").values()
    stages = [s["Name"] for s in props(pipeline)["Stages"]]
    assert stages == ["Source", "Build", "Deploy", "Smoke"]  # no approval, migration, static
    builds = [
        props(p)
        for p in resources(template, "AWS::CodeBuild::Project").values()
        if props(p)["Environment"].get("PrivilegedMode")
    ]
    (build,) = builds
    assert build["Cache"]["Type"] == "LOCAL"
    assert "LOCAL_DOCKER_LAYER_CACHE" in build["Cache"]["Modes"]
    assert build["Environment"]["Type"] == "ARM_CONTAINER"
