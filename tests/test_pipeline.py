"""Fine-grained checks of the Pipeline stack per environment: stage and action order, the
approval, source and trigger, the Build action (every asset-image workload's image: web,
backend, worker and job; the static files), Publish and Retire of the static files,
least-privilege roles of Build, Publish, Retire, Migrate and every Deploy action (a service's
releases to it, a job's only registers its task definition), the smoke test of every web
route (no other kind has one), encryption, notifications and the GitHub deploy role.

Service names are never hard-coded: every check iterates the stage's `config.services` by
kind."""

from __future__ import annotations

import json
import math
import shlex
from dataclasses import dataclass
from typing import Any

import pytest
import yaml
from aws_cdk.assertions import Match

from config.models import EnvironmentConfig
from config.pipeline import Pipeline
from config.services import Service
from l3_constructs.limits import CLOUDFRONT_REGION
from l3_constructs.pipeline import PipelineProps, StaticFiles
from l3_constructs.pipeline_props import validate
from l3_constructs.pipeline_specs import static_command
from tests.conftest import NEW_STAGE, SHIPPED_STAGES, Synth
from tests.helpers import only, props, ref_id, resources

STAGES = (*SHIPPED_STAGES, NEW_STAGE)
ARTIFACT_ACTIONS = {"s3:GetObject*", "s3:GetBucket*", "s3:List*"}


def _any_provider(synth: Synth, stage: str) -> tuple[EnvironmentConfig, Pipeline]:
    """The stage's config and its pipeline; a stage without one has no Pipeline stack."""
    config = synth.configs[stage]
    if config.pipeline is None:
        assert (stage, "Pipeline") not in synth.templates
        pytest.skip(f"{stage} has no pipeline")
    return config, config.pipeline


def _config(synth: Synth, stage: str) -> tuple[EnvironmentConfig, Pipeline]:
    """The stage's config and its CodePipeline; a stage released from GitHub Actions has
    none (tests/test_github_release.py)."""
    config, pipeline = _any_provider(synth, stage)
    if pipeline.provider != "codepipeline":
        assert resources(_t(synth, stage), "AWS::CodePipeline::Pipeline") == {}
        pytest.skip(f"{stage} is released from GitHub Actions")
    return config, pipeline


def _built(config: EnvironmentConfig) -> dict[str, Service]:
    """The workloads the pipeline builds and deploys: those built from a directory, of every
    kind (ECS services and jobs)."""
    return {n: s for n, s in config.services.items() if s.image.source == "asset"}


def _built_services(config: EnvironmentConfig) -> dict[str, Service]:
    """Of those, the ECS services (web, backend, worker): Deploy updates them."""
    return {n: s for n, s in _built(config).items() if s.kind != "job"}


def _built_jobs(config: EnvironmentConfig) -> dict[str, Service]:
    """Of those, the jobs (scheduled tasks): Deploy only registers their task definition."""
    return {n: s for n, s in _built(config).items() if s.kind == "job"}


def _static(config: EnvironmentConfig) -> dict[str, Service]:
    """The web services with static files to publish."""
    return {n: s for n, s in config.services.items() if s.kind == "web" and s.static}


def _key(name: str) -> str:
    return name.upper().replace("-", "_")


def _t(synth: Synth, stage: str) -> dict[str, Any]:
    return synth.template(stage, "Pipeline")


def _pipeline(template: dict[str, Any]) -> dict[str, Any]:
    return props(only(template, "AWS::CodePipeline::Pipeline")[1])


def _stages(template: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    return {s["Name"]: s["Actions"] for s in _pipeline(template)["Stages"]}


def _actions(template: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Action name -> action, over every stage."""
    return {a["Name"]: a for s in _pipeline(template)["Stages"] for a in s["Actions"]}


def _project_id(template: dict[str, Any], action: str) -> str:
    return ref_id(_actions(template)[action]["Configuration"]["ProjectName"])


def _project(template: dict[str, Any], action: str) -> dict[str, Any]:
    return props(template["Resources"][_project_id(template, action)])


def _env(project: dict[str, Any]) -> dict[str, Any]:
    return {e["Name"]: e["Value"] for e in project["Environment"].get("EnvironmentVariables", [])}


def _action_env(action: dict[str, Any]) -> dict[str, str]:
    variables = json.loads(action["Configuration"]["EnvironmentVariables"])
    return {v["name"]: v["value"] for v in variables}


def _buildspec(project: dict[str, Any]) -> dict[str, Any]:
    spec: dict[str, Any] = yaml.safe_load(project["Source"]["BuildSpec"])
    return spec


def _commands(project: dict[str, Any]) -> list[str]:
    phases = _buildspec(project)["phases"]
    return [c for phase in phases.values() for c in phase.get("commands", [])]


def _statements(template: dict[str, Any], role_id: str) -> list[dict[str, Any]]:
    return [
        s
        for p in resources(template, "AWS::IAM::Policy").values()
        if {"Ref": role_id} in props(p)["Roles"]
        for s in props(p)["PolicyDocument"]["Statement"]
    ]


def _role_id(template: dict[str, Any], action: str) -> str:
    return ref_id(_project(template, action)["ServiceRole"])


def _role_statements(template: dict[str, Any], action: str) -> list[dict[str, Any]]:
    return _statements(template, _role_id(template, action))


def _actions_of(statement: dict[str, Any]) -> set[str]:
    actions = statement["Action"]
    return set(actions if isinstance(actions, list) else [actions])


def _listed(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _granting(statements: list[dict[str, Any]], action: str) -> list[dict[str, Any]]:
    return [s for s in statements if action in _actions_of(s)]


def _origin(synth: Synth, stage: str, value: Any) -> Any:
    """`value` with every weak cross-stack reference (`Fn::GetStackOutput`) replaced by what
    it reads: the output's value in the producing stack's template."""
    if isinstance(value, list):
        return [_origin(synth, stage, v) for v in value]
    if not isinstance(value, dict):
        return value
    if "Fn::GetStackOutput" in value:
        ref = value["Fn::GetStackOutput"]
        stack = ref["StackName"].split("-", 1)[1]
        return synth.template(stage, stack)["Outputs"][ref["OutputName"]]["Value"]
    return {k: _origin(synth, stage, v) for k, v in value.items()}


def _refers_to(value: Any, logical_id: str) -> bool:
    text = json.dumps(value)
    return json.dumps({"Ref": logical_id}) in text or f'["{logical_id}", ' in text


@dataclass(frozen=True)
class _Workload:
    """A released workload's resources in the Compute stack (logical ids, its family)."""

    #: Its ECS service; None for a job.
    service: str | None
    repository: str
    family: str
    task_roles: frozenset[str]


def _workloads(synth: Synth, stage: str) -> dict[str, _Workload]:
    """Every workload the pipeline releases -> its Compute resources, found through its
    release record: the Compute parameter that reads the record names the image of exactly
    one task definition's `app` container (the migration's container has another name)."""
    config = synth.configs[stage]
    template = synth.template(stage, "Compute")
    by_record = {p.get("Default"): k for k, p in template.get("Parameters", {}).items()}
    repositories = resources(template, "AWS::ECR::Repository")
    services = resources(template, "AWS::ECS::Service")
    apps = {
        task_id: (props(task), container)
        for task_id, task in resources(template, "AWS::ECS::TaskDefinition").items()
        for container in props(task)["ContainerDefinitions"]
        if container["Name"] == "app"
    }
    found = {}
    for name in _built(config):
        parameter = by_record[config.release_parameter_name(name)]
        ((task_id, (task, container)),) = [
            (k, v) for k, v in apps.items() if _refers_to(v[1]["Image"], parameter)
        ]
        (repository,) = [r for r in repositories if _refers_to(container["Image"], r)]
        serving = [k for k, v in services.items() if props(v)["TaskDefinition"] == {"Ref": task_id}]
        assert len(serving) <= 1, name
        found[name] = _Workload(
            service=serving[0] if serving else None,
            repository=repository,
            family=task["Family"],
            task_roles=frozenset({ref_id(task["TaskRoleArn"]), ref_id(task["ExecutionRoleArn"])}),
        )
    return found


def _task_roles(synth: Synth, stage: str, container: str) -> set[str]:
    """Logical ids of the task role and execution role of the task with `container`."""
    for task in resources(synth.template(stage, "Compute"), "AWS::ECS::TaskDefinition").values():
        p = props(task)
        if p["ContainerDefinitions"][0]["Name"] == container:
            return {ref_id(p["TaskRoleArn"]), ref_id(p["ExecutionRoleArn"])}
    raise AssertionError(f"no task definition with container {container!r}")


def _static_bucket(synth: Synth, stage: str) -> dict[str, Any]:
    """The Edge stack's static bucket, as a `Ref`."""
    value: dict[str, Any] = synth.template(stage, "Edge")["Outputs"]["StaticBucketName"]["Value"]
    return value


def _static_bucket_arn(synth: Synth, stage: str) -> dict[str, Any]:
    return {"Fn::GetAtt": [ref_id(_static_bucket(synth, stage)), "Arn"]}


def _expected_order(synth: Synth, stage: str) -> list[str]:
    config, pipeline = _config(synth, stage)
    return [
        "Source",
        "Build",
        *(["Publish"] if _static(config) else []),
        *(["Approve"] if pipeline.approval else []),
        *(["Migrate"] if config.migration.service in _built(config) else []),
        "Deploy",
        *(["Invalidate"] if pipeline.invalidation_paths else []),
        *(["Retire"] if _static(config) else []),
        "Smoke",
    ]


# --- Stages and actions -------------------------------------------------------------------------


@pytest.mark.parametrize("stage", STAGES)
def test_stage_and_action_order(synth: Synth, stage: str) -> None:
    config, _ = _config(synth, stage)
    pipeline = _pipeline(_t(synth, stage))
    assert pipeline["PipelineType"] == "V2"
    stages = {s["Name"]: s["Actions"] for s in pipeline["Stages"]}
    assert list(stages) == _expected_order(synth, stage)
    providers = {
        name: [(a["ActionTypeId"]["Category"], a["ActionTypeId"]["Provider"]) for a in actions]
        for name, actions in stages.items()
    }
    assert providers.pop("Source") == [("Source", "CodeStarSourceConnection")]
    if "Approve" in providers:
        assert providers.pop("Approve") == [("Approval", "Manual")]
    # Deploy: one CodeBuild action per service and per job the pipeline builds, in parallel.
    deploys = stages.pop("Deploy")
    assert [a["Name"] for a in deploys] == [f"Deploy-{name}" for name in _built(config)]
    assert {a.get("RunOrder", 1) for a in deploys} == {1}
    assert {(a["ActionTypeId"]["Category"], a["ActionTypeId"]["Provider"]) for a in deploys} == {
        ("Build", "CodeBuild")
    }
    # Every other step: one CodeBuild action named as its stage.
    for name, actions in stages.items():
        if name in {"Source", "Approve"}:
            continue
        assert [a["Name"] for a in actions] == [name]
        assert providers[name] == [("Build", "CodeBuild")], name


def test_shipped_order_is_the_issue_order(synth: Synth) -> None:
    assert _expected_order(synth, "Prod") == [
        "Source", "Build", "Publish", "Approve", "Migrate", "Deploy", "Invalidate", "Retire",
        "Smoke",
    ]  # fmt: skip
    # Test and Stage release from GitHub Actions (tests/test_github_release.py).
    providers = {s: _any_provider(synth, s)[1].provider for s in SHIPPED_STAGES}
    assert providers == {
        "Test": "github_actions",
        "Stage": "github_actions",
        "Prod": "codepipeline",
    }
    for stage in SHIPPED_STAGES:
        config = synth.configs[stage]
        # Shipped: more than one service is built and deployed; one of them has static files.
        assert len(_built(config)) > 1
        assert _static(config)
        # ... and every kind but backend is among them (web, api; worker; cleanup, a job).
        assert {s.kind for s in _built(config).values()} >= {"web", "worker", "job"}


@pytest.mark.parametrize("stage", STAGES)
def test_approval_exactly_where_config_says(synth: Synth, stage: str) -> None:
    _, pipeline = _config(synth, stage)
    template = _t(synth, stage)
    manual = [a for a in _actions(template).values() if a["ActionTypeId"]["Provider"] == "Manual"]
    if pipeline.approval is None:
        assert manual == []
        return
    (action,) = manual
    topic_id = ref_id(action["Configuration"]["NotificationArn"])
    topic = props(template["Resources"][topic_id])
    assert "KmsMasterKeyId" in topic
    emails = {
        props(s)["Endpoint"]
        for s in resources(template, "AWS::SNS::Subscription").values()
        if props(s)["TopicArn"] == {"Ref": topic_id}
    }
    assert emails == set(pipeline.approval.emails)
    assert "#{Source.CommitId}" in action["Configuration"]["CustomData"]


@pytest.mark.parametrize("stage", STAGES)
def test_source_branch_and_trigger(synth: Synth, stage: str) -> None:
    _, config = _config(synth, stage)
    template = _t(synth, stage)
    source = _actions(template)["GitHub"]["Configuration"]
    assert source == {
        "ConnectionArn": config.connection_arn,
        "FullRepositoryId": config.repository,
        "BranchName": config.branch,
    }
    assert config.branch == ("main" if stage == "Prod" else "develop")
    (trigger,) = _pipeline(template)["Triggers"]
    assert trigger["ProviderType"] == "CodeStarSourceConnection"
    assert trigger["GitConfiguration"]["SourceActionName"] == "GitHub"
    tags = [{"Tags": {"Includes": list(config.tags)}}] if config.tags else []
    assert trigger["GitConfiguration"]["Push"] == [
        {"Branches": {"Includes": [config.branch]}},
        *tags,
    ]
    assert config.tags == (("v*",) if stage == "Prod" else ())


@pytest.mark.parametrize("stage", STAGES)
def test_the_commit_sha_is_the_image_tag_everywhere(synth: Synth, stage: str) -> None:
    _config(synth, stage)
    for name, action in _actions(_t(synth, stage)).items():
        if action["ActionTypeId"]["Provider"] != "CodeBuild":
            continue
        variables = json.loads(action["Configuration"]["EnvironmentVariables"])
        assert {"name": "IMAGE_TAG", "type": "PLAINTEXT", "value": "#{Source.CommitId}"} in (
            variables
        ), name


# --- Build --------------------------------------------------------------------------------------


@pytest.mark.parametrize("stage", STAGES)
def test_build_runs_the_commands_once_then_pushes_every_workloads_image(
    synth: Synth, stage: str
) -> None:
    config, pipeline = _config(synth, stage)
    build = pipeline.build
    template = _t(synth, stage)
    project = _project(template, "Build")
    environment = project["Environment"]
    assert environment["PrivilegedMode"] is True  # Docker
    (architecture,) = {s.architecture for s in _built(config).values()}
    assert environment["Type"] == (
        "ARM_CONTAINER" if architecture == "ARM64" else "LINUX_CONTAINER"
    )
    assert environment["ComputeType"] == f"BUILD_GENERAL1_{build.compute_type.upper()}"
    assert project["TimeoutInMinutes"] == build.timeout_minutes
    env = _env(project)
    assert env["LATEST_TAG"] == config.latest_image_tag
    commands = _commands(project)
    text = "\n".join(commands)
    for command in (*build.install_commands, *build.test_commands, *build.build_commands):
        assert commands.count(command) == 1  # once, however many services
    compute = _workloads(synth, stage)
    # Every asset-image workload, of every kind (worker and job too), into its own repository.
    for name, service in _built(config).items():
        key = _key(name)
        repository = compute[name].repository
        assert _origin(synth, stage, env[f"REPOSITORY_NAME_{key}"]) == {"Ref": repository}
        assert _refers_to(_origin(synth, stage, env[f"REPOSITORY_URI_{key}"]), repository)
        image, latest = (
            f'"$REPOSITORY_URI_{key}:$IMAGE_TAG"',
            f'"$REPOSITORY_URI_{key}:$LATEST_TAG"',
        )
        context = f'"$CODEBUILD_SRC_DIR"/{service.image.directory}'
        (build_or_reuse,) = [c for c in commands if f"-t {image} {context}" in c]
        # A re-run of the commit finds the tag in the (immutable-tag) repository: reused.
        assert f'--repository-name "$REPOSITORY_NAME_{key}"' in build_or_reuse
        assert f"docker pull {image}" in build_or_reuse
        assert f"docker push {image}" in build_or_reuse
        assert f"docker tag {image} {latest}" in commands
        assert f"docker push {latest}" in commands
        # Install and test come before any Docker build.
        assert text.index(build.test_commands[0]) < text.index(build_or_reuse)
        assert ("--cache-from " + latest in build_or_reuse) == (build.cache == "s3")
    assert {
        k.removeprefix("REPOSITORY_NAME_") for k in env if k.startswith("REPOSITORY_NAME_")
    } == {_key(name) for name in _built(config)}
    cache = project["Cache"]
    if build.cache == "s3":
        assert cache["Type"] == "S3"
    else:
        assert cache["Type"] == "LOCAL"
        assert "LOCAL_DOCKER_LAYER_CACHE" in cache["Modes"]


@pytest.mark.parametrize("stage", STAGES)
def test_build_gathers_the_static_files_into_the_static_artifact(synth: Synth, stage: str) -> None:
    config, _ = _config(synth, stage)
    template = _t(synth, stage)
    assert _actions(template)["Build"]["OutputArtifacts"] == [{"Name": "Static"}]
    project = _project(template, "Build")
    spec = _buildspec(project)
    assert spec["artifacts"] == {"base-directory": ".pipeline-static", "files": ["**/*"]}
    commands = _commands(project)
    built = _built(config)
    for name, service in _static(config).items():
        assert service.static is not None
        (gather,) = [c for c in commands if f'"$CODEBUILD_SRC_DIR/.pipeline-static/{name}"' in c]
        if service.static.from_image and name in built:
            image = f'"$REPOSITORY_URI_{_key(name)}:$IMAGE_TAG"'
            assert f"docker create {image}" in gather
            assert f'docker cp "$container":{service.static.from_image}/. "$target/"' in gather
        else:
            assert f'cp -R "$CODEBUILD_SRC_DIR"/{service.static.directory}/. "$target/"' in gather
        # No files (a wrong path) fails the build before anything is published.
        assert '[ -z "$(ls -A "$target")" ]' in gather
        assert "exit 1" in gather
        # After the images it copies from.
        assert commands.index(gather) > max(
            i for i, c in enumerate(commands) if c.startswith("docker push")
        )


@pytest.mark.parametrize("stage", STAGES)
def test_build_may_push_and_pull_exactly_the_built_workloads_repositories(
    synth: Synth, stage: str
) -> None:
    config, _ = _config(synth, stage)
    statements = _role_statements(_t(synth, stage), "Build")
    compute = _workloads(synth, stage)
    expected = {compute[name].repository for name in _built(config)}
    assert len(expected) == len(_built(config))  # a repository of its own, jobs' too
    for action in ("ecr:PutImage", "ecr:BatchGetImage", "ecr:DescribeImages"):
        granted = {
            ref_id(_origin(synth, stage, r))
            for s in _granting(statements, action)
            for r in _listed(s["Resource"])
        }
        assert granted == expected, action
    (token,) = _granting(statements, "ecr:GetAuthorizationToken")
    assert _actions_of(token) == {"ecr:GetAuthorizationToken"}  # the one action needing "*"
    assert token["Resource"] == "*"
    for statement in statements:
        assert not any(a.startswith(("ecs:", "iam:", "ssm:")) for a in _actions_of(statement))


# --- Publish and Retire -------------------------------------------------------------------------


@pytest.mark.parametrize("stage", STAGES)
def test_publish_uploads_every_prefix_from_the_static_artifact(synth: Synth, stage: str) -> None:
    config, _ = _config(synth, stage)
    template = _t(synth, stage)
    action = _actions(template)["Publish"]
    assert action["InputArtifacts"] == [{"Name": "Source"}, {"Name": "Static"}]
    assert action["Namespace"] == "Publish"
    project = _project(template, "Publish")
    assert _origin(synth, stage, _env(project)["STATIC_BUCKET"]) == _static_bucket(synth, stage)
    assert _buildspec(project)["env"]["exported-variables"] == ["PUBLISHED_AT"]
    commands = _commands(project)
    runs = [c for c in commands if "release_tools.publish_static" in c]
    assert len(runs) == len(_static(config))
    for name, service in _static(config).items():
        assert service.static is not None
        (run,) = [c for c in runs if f"--prefix {service.static.prefix} " in c]
        assert "--phase upload " in run
        assert f'--directory "$CODEBUILD_SRC_DIR_Static/{name}"' in run
        assert f"--region {CLOUDFRONT_REGION} " in run  # the Edge stack's bucket
        assert "--keep-since" not in run
    # The time the upload began is taken before any upload.
    (stamp,) = [c for c in commands if c.startswith("export PUBLISHED_AT=")]
    assert commands.index(stamp) < commands.index(runs[0])


@pytest.mark.parametrize("stage", STAGES)
def test_publish_role_may_only_put_objects_under_the_static_prefixes(
    synth: Synth, stage: str
) -> None:
    config, _ = _config(synth, stage)
    template = _t(synth, stage)
    role_id = _role_id(template, "Publish")
    prefixes = [s.static.prefix for s in _static(config).values() if s.static]
    # The static bucket's ARN, read from the Edge stack (us-east-1), then the prefix.
    bucket_arn = Match.object_equals(
        {
            "Fn::GetStackOutput": Match.object_like(
                {"StackName": f"{stage}-Edge", "Region": CLOUDFRONT_REGION}
            )
        }
    )
    objects = [{"Fn::Join": ["", [bucket_arn, f"/{prefix}/*"]]} for prefix in prefixes]
    synth.assertions(stage, "Pipeline").has_resource_properties(
        "AWS::IAM::Policy",
        {
            "Roles": [{"Ref": role_id}],
            "PolicyDocument": {
                "Statement": Match.array_with(
                    [
                        Match.object_equals(
                            {
                                "Sid": "UploadStaticFiles",
                                "Effect": "Allow",
                                "Action": "s3:PutObject",
                                "Resource": objects[0] if len(objects) == 1 else objects,
                            }
                        )
                    ]
                )
            },
        },
    )
    statements = _statements(template, role_id)
    static = [s for s in statements if s.get("Sid") == "UploadStaticFiles"]
    (upload,) = static
    arn = _static_bucket_arn(synth, stage)
    assert _origin(synth, stage, upload["Resource"]) == (
        {"Fn::Join": ["", [arn, f"/{prefixes[0]}/*"]]}
        if len(prefixes) == 1
        else [{"Fn::Join": ["", [arn, f"/{p}/*"]]} for p in prefixes]
    )
    _assert_only_artifacts_key_and_logs_besides(statements, static)


@pytest.mark.parametrize("stage", STAGES)
def test_retire_marks_superseded_files_only_once_the_release_is_deployed(
    synth: Synth, stage: str
) -> None:
    config, _ = _config(synth, stage)
    template = _t(synth, stage)
    order = _expected_order(synth, stage)
    assert order.index("Deploy") < order.index("Retire") < order.index("Smoke")
    assert order.index("Publish") < min(
        order.index(s) for s in ("Approve", "Migrate", "Deploy") if s in order
    )
    action = _actions(template)["Retire"]
    assert action["InputArtifacts"] == [{"Name": "Source"}, {"Name": "Static"}]
    # Objects modified since this release's upload began belong to a later one: kept.
    assert _action_env(action)["PUBLISHED_AT"] == "#{Publish.PUBLISHED_AT}"
    project = _project(template, "Retire")
    assert _origin(synth, stage, _env(project)["STATIC_BUCKET"]) == _static_bucket(synth, stage)
    runs = [c for c in _commands(project) if "release_tools.publish_static" in c]
    assert len(runs) == len(_static(config))
    for name, service in _static(config).items():
        assert service.static is not None
        (run,) = [c for c in runs if f"--prefix {service.static.prefix} " in c]
        assert "--phase retire " in run
        assert f'--directory "$CODEBUILD_SRC_DIR_Static/{name}"' in run
        assert f"--region {CLOUDFRONT_REGION} " in run
        assert run.endswith('--keep-since "$PUBLISHED_AT"')


@pytest.mark.parametrize("stage", STAGES)
def test_retire_role_may_only_list_read_and_tag_under_the_static_prefixes(
    synth: Synth, stage: str
) -> None:
    config, _ = _config(synth, stage)
    template = _t(synth, stage)
    prefixes = [s.static.prefix for s in _static(config).values() if s.static]
    bucket = _static_bucket_arn(synth, stage)
    objects = [{"Fn::Join": ["", [bucket, f"/{prefix}/*"]]} for prefix in prefixes]
    statements = _role_statements(template, "Retire")
    sids = {"ListStaticPrefixes", "MarkSupersededStaticFiles"}
    static = [s for s in statements if s.get("Sid") in sids]
    assert [_origin(synth, stage, s) for s in static] == [
        {
            "Sid": "ListStaticPrefixes",
            "Effect": "Allow",
            "Action": "s3:ListBucket",
            "Resource": bucket,
            "Condition": {"StringLike": {"s3:prefix": [f"{p}/*" for p in prefixes]}},
        },
        {
            "Sid": "MarkSupersededStaticFiles",
            "Effect": "Allow",
            "Action": ["s3:GetObject", "s3:PutObject", "s3:PutObjectTagging"],
            "Resource": objects[0] if len(objects) == 1 else objects,
        },
    ]
    _assert_only_artifacts_key_and_logs_besides(statements, static)


@pytest.mark.parametrize("stage", STAGES)
def test_no_role_may_delete_a_static_file(synth: Synth, stage: str) -> None:
    _config(synth, stage)
    template = _t(synth, stage)
    bucket_id = ref_id(_static_bucket(synth, stage))
    for policy in resources(template, "AWS::IAM::Policy").values():
        for statement in props(policy)["PolicyDocument"]["Statement"]:
            if any(a.startswith("s3:Delete") for a in _actions_of(statement)):
                resource = _origin(synth, stage, statement["Resource"])
                assert not _refers_to(resource, bucket_id), statement


def _assert_only_artifacts_key_and_logs_besides(
    statements: list[dict[str, Any]], static: list[dict[str, Any]]
) -> None:
    """Every other statement is CDK's: read the input artifacts, the key, the logs."""
    for statement in statements:
        if statement in static:
            continue
        actions = _actions_of(statement)
        assert actions <= ARTIFACT_ACTIONS or all(
            a.split(":")[0] in {"kms", "logs"} for a in actions
        ), statement
        assert not any(a.startswith("s3:Delete") or a == "s3:PutObject" for a in actions)


def _props(*static_files: StaticFiles) -> PipelineProps:
    return PipelineProps(
        connection_arn="arn:aws:codeconnections:eu-west-1:111111111111:connection/x",
        repository="org/repo",
        branch="main",
        latest_tag="test-latest",
        compute_stack_name="Test-Compute",
        stage_label="Test",
        smoke_urls=("https://example.com/healthz",),
        static_files=static_files,
    )


@pytest.mark.parametrize(
    ("static_files", "message"),
    [
        ((StaticFiles(service="web", prefix="assets"),), "name from_image or directory"),
        ((StaticFiles(service="web", prefix="/assets", directory="d"),), "is not a key prefix"),
        ((StaticFiles(service="web", prefix="a", from_image="app/static"),), "must be absolute"),
        ((StaticFiles(service="web", prefix="a", directory="../up"),), "must be a plain path"),
        (
            (
                StaticFiles(service="web", prefix="a", directory="d"),
                StaticFiles(service="docs", prefix="a/docs", directory="e"),
            ),
            "static prefix 'a/docs' lies under 'a'",
        ),
        (
            (
                StaticFiles(service="web", prefix="a", directory="d"),
                StaticFiles(service="web", prefix="b", directory="e"),
            ),
            "one entry per service",
        ),
    ],
)
def test_static_files_are_validated(
    synth: Synth, static_files: tuple[StaticFiles, ...], message: str
) -> None:
    """A retire of one prefix must never see another service's files (no synth needed; the
    fixture only orders it after the session's synth)."""
    del synth  # after the session's synth: see _synth_order in tests/conftest.py
    with pytest.raises(ValueError, match=message):
        validate(_props(*static_files))


def test_static_files_of_an_image_the_pipeline_does_not_build_come_from_the_directory() -> None:
    static = StaticFiles(service="web", prefix="a", from_image="/app/static", directory="out")
    from_image = static_command(static, built=True)
    assert "docker create" in from_image
    assert "cp -R" not in from_image
    fallback = static_command(static, built=False)
    assert "docker" not in fallback
    assert 'cp -R "$CODEBUILD_SRC_DIR"/out/. "$target/"' in fallback


# --- Migrate and Deploy -------------------------------------------------------------------------


@pytest.mark.parametrize("stage", STAGES)
def test_migrate_runs_the_shared_runner_with_the_new_image(synth: Synth, stage: str) -> None:
    config, _ = _config(synth, stage)
    project = _project(_t(synth, stage), "Migrate")
    commands = _commands(project)
    (run,) = [c for c in commands if "release_tools.migrate" in c]
    assert '--stack-name "$COMPUTE_STACK"' in run
    assert '--image "$REPOSITORY_URI:$IMAGE_TAG"' in run
    assert f"--timeout {config.migration.timeout_minutes * 60}" in run
    env = _env(project)
    assert env["COMPUTE_STACK"] == f"{stage}-Compute"
    # The image of the migration's service (migration.service), from its own repository.
    repository = _workloads(synth, stage)[config.migration.service].repository
    assert _refers_to(_origin(synth, stage, env["REPOSITORY_URI"]), repository)
    assert project["Environment"].get("PrivilegedMode") is not True


@pytest.mark.parametrize("stage", STAGES)
def test_migrate_role_is_scoped_to_the_migration_task(synth: Synth, stage: str) -> None:
    _config(synth, stage)
    template = _t(synth, stage)
    statements = _role_statements(template, "Migrate")
    (passing,) = _granting(statements, "iam:PassRole")
    assert passing["Condition"] == {
        "StringEquals": {"iam:PassedToService": "ecs-tasks.amazonaws.com"}
    }
    passed = {ref_id(_origin(synth, stage, r)) for r in _listed(passing["Resource"])}
    assert passed == _task_roles(synth, stage, "migration")
    (run,) = _granting(statements, "ecs:RunTask")
    family = f"{stage}ComputeMigrationTaskDefinition"
    assert f":task-definition/{family}" in run["Resource"]
    assert run["Resource"].endswith(":*")
    cluster = _origin(synth, stage, run["Condition"]["ArnEquals"]["ecs:cluster"])
    assert ref_id(cluster) == only(synth.template(stage, "Compute"), "AWS::ECS::Cluster")[0]
    (stacks,) = _granting(statements, "cloudformation:DescribeStacks")
    assert stacks["Resource"].endswith(f":stack/{stage}-Compute/*")
    assert not _granting(statements, "ecs:UpdateService")
    assert not _granting(statements, "ssm:PutParameter")


@pytest.mark.parametrize("stage", STAGES)
def test_a_deploy_role_of_its_own_for_every_service_and_job(synth: Synth, stage: str) -> None:
    config, _ = _config(synth, stage)
    template = _t(synth, stage)
    roles = {_role_id(template, f"Deploy-{name}") for name in _built(config)}
    assert len(roles) == len(_built(config))


@pytest.mark.parametrize("stage", STAGES)
def test_each_deploy_role_may_update_only_its_own_service(synth: Synth, stage: str) -> None:
    config, _ = _config(synth, stage)
    template = _t(synth, stage)
    compute = _workloads(synth, stage)
    for name in _built_services(config):
        action = f"Deploy-{name}"
        statements = _role_statements(template, action)
        (update,) = _granting(statements, "ecs:UpdateService")
        assert _actions_of(update) == {"ecs:DescribeServices", "ecs:UpdateService"}
        assert _origin(synth, stage, update["Resource"]) == {"Ref": compute[name].service}
        (passing,) = _granting(statements, "iam:PassRole")
        assert passing["Condition"] == {
            "StringEquals": {"iam:PassedToService": "ecs-tasks.amazonaws.com"}
        }
        passed = {ref_id(_origin(synth, stage, r)) for r in _listed(passing["Resource"])}
        assert passed == compute[name].task_roles
        (tagging,) = _granting(statements, "ecs:TagResource")
        assert tagging["Resource"].endswith(f":task-definition/{compute[name].family}:*")
        (record,) = _granting(statements, "ssm:PutParameter")
        assert record["Resource"].endswith(f":parameter{config.release_parameter_name(name)}")
        # "*" only where ECS offers no resource-level permission.
        for statement in statements:
            if statement["Resource"] == "*":
                assert _actions_of(statement) <= {
                    "ecs:DescribeTaskDefinition",
                    "ecs:RegisterTaskDefinition",
                }, statement
        assert not _granting(statements, "ecs:RunTask")
        assert not any(a.startswith("ecr:") for s in statements for a in _actions_of(s))


@pytest.mark.parametrize("stage", STAGES)
def test_deploy_runs_the_release_script_and_records_the_tag(synth: Synth, stage: str) -> None:
    config, _ = _config(synth, stage)
    template = _t(synth, stage)
    compute = _workloads(synth, stage)
    for name in _built_services(config):
        project = _project(template, f"Deploy-{name}")
        (run,) = [c for c in _commands(project) if "release_tools.release" in c]
        for flag in ("--cluster", "--service", "--container", "--repository-uri", "--tag"):
            assert flag in run
        assert "--task-definition-family" not in run
        env = _env(project)
        assert env["RELEASE_PARAMETER"] == config.release_parameter_name(name)
        assert env["CONTAINER"] == "app"
        assert _origin(synth, stage, env["SERVICE"]) == {
            "Fn::GetAtt": [compute[name].service, "Name"]
        }
        assert _refers_to(_origin(synth, stage, env["REPOSITORY_URI"]), compute[name].repository)
        # The release record the Network stack created for this service.
        assert config.release_parameter_name(name) in json.dumps(synth.template(stage, "Network"))
        # The action fails once the script's own deadline (and a margin) has passed.
        timeout = int(run.rsplit("--timeout ", 1)[1])
        assert project["TimeoutInMinutes"] > timeout / 60


@pytest.mark.parametrize("stage", STAGES)
def test_a_jobs_deploy_only_registers_its_task_definition_and_records_the_tag(
    synth: Synth, stage: str
) -> None:
    """A job is no ECS service: its schedule runs the family's latest revision, so Deploy
    registers one with the new image (the next run uses it) and writes its release record."""
    config, _ = _config(synth, stage)
    template = _t(synth, stage)
    compute = _workloads(synth, stage)
    assert _built_jobs(config) or stage not in SHIPPED_STAGES  # shipped: cleanup
    for name in _built_jobs(config):
        assert compute[name].service is None  # no ECS service runs its task definition
        project = _project(template, f"Deploy-{name}")
        (run,) = [c for c in _commands(project) if "release_tools.release" in c]
        assert run == (
            "python3 -m release_tools.release "
            '--task-definition-family "$TASK_DEFINITION_FAMILY" --container "$CONTAINER" '
            '--repository-uri "$REPOSITORY_URI" --tag "$IMAGE_TAG" '
            '--parameter "$RELEASE_PARAMETER"'
        )
        env = _env(project)
        assert env["TASK_DEFINITION_FAMILY"] == compute[name].family
        assert env["CONTAINER"] == "app"
        assert _refers_to(_origin(synth, stage, env["REPOSITORY_URI"]), compute[name].repository)
        assert env["RELEASE_PARAMETER"] == config.release_parameter_name(name)
        assert config.release_parameter_name(name) in json.dumps(synth.template(stage, "Network"))
        assert not {"CLUSTER", "SERVICE"} & set(env)
        assert project["Environment"].get("PrivilegedMode") is not True
        # What its schedule runs: that family by name (its latest revision), no revision.
        assert f'"TaskDefinition":"{compute[name].family}"' in _state_machines(synth, stage)


def _state_machines(synth: Synth, stage: str) -> str:
    """The Compute stack's state machine definitions, their tokens left out."""
    machines = resources(synth.template(stage, "Compute"), "AWS::StepFunctions::StateMachine")
    definitions = [props(m)["DefinitionString"] for m in machines.values()]
    return "\n".join(
        d if isinstance(d, str) else "".join(p for p in d["Fn::Join"][1] if isinstance(p, str))
        for d in definitions
    )


@pytest.mark.parametrize("stage", STAGES)
def test_a_jobs_deploy_role_statements_exactly(synth: Synth, stage: str) -> None:
    """Register a revision of the job's own family (tags copied), passing only its task and
    execution roles to ECS tasks, and write its own record: no service, no task to run."""
    config, _ = _config(synth, stage)
    template = _t(synth, stage)
    compute = _workloads(synth, stage)
    arn = f"arn:aws:{{}}:{config.region}:{config.account}:{{}}"
    for name in _built_jobs(config):
        job = compute[name]
        statements = _role_statements(template, f"Deploy-{name}")
        own = [s for s in statements if "Sid" in s]
        resolved = [_origin(synth, stage, s) for s in own]
        for statement in resolved:
            if statement["Sid"] == "PassTaskRoles":
                statement["Resource"] = sorted(ref_id(r) for r in statement["Resource"])
        assert resolved == [
            {
                "Sid": "ReadAndRegisterTaskDefinitions",
                "Effect": "Allow",
                "Action": ["ecs:DescribeTaskDefinition", "ecs:RegisterTaskDefinition"],
                "Resource": "*",  # neither action has a resource-level form
            },
            {
                "Sid": "TagRegisteredTaskDefinitions",
                "Effect": "Allow",
                "Action": "ecs:TagResource",
                "Resource": arn.format("ecs", f"task-definition/{job.family}:*"),
                "Condition": {"StringEquals": {"ecs:CreateAction": "RegisterTaskDefinition"}},
            },
            {
                "Sid": "PassTaskRoles",
                "Effect": "Allow",
                "Action": "iam:PassRole",
                "Resource": sorted(job.task_roles),
                "Condition": {"StringEquals": {"iam:PassedToService": "ecs-tasks.amazonaws.com"}},
            },
            {
                "Sid": "RecordReleasedTag",
                "Effect": "Allow",
                "Action": ["ssm:GetParameter", "ssm:PutParameter"],
                "Resource": arn.format("ssm", f"parameter{config.release_parameter_name(name)}"),
            },
        ]
        # Besides: CDK's reads of the input artifact, the key, the logs. No UpdateService.
        _assert_only_artifacts_key_and_logs_besides(statements, own)
        assert not _granting(statements, "ecs:UpdateService")
        assert not _granting(statements, "ecs:RunTask")


# --- Invalidate and Smoke -----------------------------------------------------------------------


def _smoke_urls(config: EnvironmentConfig) -> list[str]:
    """Every web service's health path through CloudFront: its first host, else the first
    viewer name (each URL once)."""
    urls = (
        f"https://{s.hosts[0] if s.hosts else config.viewer_names[0]}{s.health_check.path}"
        for s in config.services.values()
        if s.kind == "web"
    )
    return list(dict.fromkeys(urls))


@pytest.mark.parametrize("stage", STAGES)
def test_invalidation(synth: Synth, stage: str) -> None:
    _, pipeline = _config(synth, stage)
    template = _t(synth, stage)
    invalidate = _project(template, "Invalidate")
    (run,) = [c for c in _commands(invalidate) if "release_tools.invalidate" in c]
    for path in pipeline.invalidation_paths:
        assert f"--path '{path}'" in run or f'--path "{path}"' in run or f"--path {path}" in run
    distribution = _env(invalidate)["DISTRIBUTION_ID"]["Fn::GetStackOutput"]
    assert (distribution["StackName"], distribution["Region"]) == (
        f"{stage}-Edge",
        CLOUDFRONT_REGION,
    )
    (cloudfront,) = _granting(
        _role_statements(template, "Invalidate"), "cloudfront:CreateInvalidation"
    )
    assert ":distribution/" in json.dumps(cloudfront["Resource"])


@pytest.mark.parametrize("stage", STAGES)
def test_smoke_test_gets_every_web_route(synth: Synth, stage: str) -> None:
    config, pipeline = _config(synth, stage)
    template = _t(synth, stage)
    smoke = _project(template, "Smoke")
    (run,) = [c for c in _commands(smoke) if "release_tools.smoke" in c]
    urls = _smoke_urls(config)
    web = [n for n, s in config.services.items() if s.kind == "web"]
    assert len(web) > 1 or stage not in SHIPPED_STAGES  # shipped: web and api routes
    # Exactly the web services' URLs: a worker or a job has no route to GET (shipped: both).
    words = shlex.split(run)
    assert [words[i + 1] for i, w in enumerate(words) if w == "--url"] == urls
    assert len(urls) <= len(web)
    unrouted = {s.kind for s in config.services.values()} - {"web"}
    assert unrouted >= {"worker", "job"} or stage not in SHIPPED_STAGES
    for name in web:
        assert config.services[name].health_check.path in run, name
    assert run.startswith("python3 -m release_tools.smoke " + " ".join(f"--url {u}" for u in urls))
    attempts, interval = pipeline.smoke_test.attempts, pipeline.smoke_test.interval_seconds
    assert f"--attempts {attempts} --interval {interval}" in run
    # Long enough for every URL's every attempt, and a margin.
    assert smoke["TimeoutInMinutes"] > math.ceil(len(urls) * attempts * interval / 60)
    # The smoke test needs no AWS permission beyond its logs, key and artifacts.
    for statement in _role_statements(template, "Smoke"):
        assert all(a.split(":")[0] in {"logs", "kms", "s3"} for a in _actions_of(statement))


# --- Shared resources ---------------------------------------------------------------------------


@pytest.mark.parametrize("stage", STAGES)
def test_artifact_bucket_is_encrypted_ssl_only_and_expires(synth: Synth, stage: str) -> None:
    _, pipeline = _config(synth, stage)
    template = _t(synth, stage)
    key_id, key = only(template, "AWS::KMS::Key")
    assert props(key)["EnableKeyRotation"] is True
    store = _pipeline(template)["ArtifactStore"]
    assert store["EncryptionKey"] == {"Id": {"Fn::GetAtt": [key_id, "Arn"]}, "Type": "KMS"}
    bucket_id = ref_id(store["Location"])
    bucket = props(template["Resources"][bucket_id])
    (rule,) = bucket["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    assert rule["ServerSideEncryptionByDefault"] == {
        "SSEAlgorithm": "aws:kms",
        "KMSMasterKeyID": {"Fn::GetAtt": [key_id, "Arn"]},
    }
    assert all(bucket["PublicAccessBlockConfiguration"].values())
    assert "LoggingConfiguration" in bucket
    days = pipeline.artifact_retention_days
    assert days in [r.get("ExpirationInDays") for r in bucket["LifecycleConfiguration"]["Rules"]]
    (policy,) = [
        props(p)["PolicyDocument"]["Statement"]
        for p in resources(template, "AWS::S3::BucketPolicy").values()
        if props(p)["Bucket"] == {"Ref": bucket_id}
    ]
    denies = [s for s in policy if s["Effect"] == "Deny"]
    assert {"Bool": {"aws:SecureTransport": "false"}} in [s["Condition"] for s in denies]
    assert {"NumericLessThan": {"s3:TlsVersion": 1.2}} in [s["Condition"] for s in denies]


@pytest.mark.parametrize("stage", STAGES)
def test_projects_are_encrypted_and_log_to_one_encrypted_group(synth: Synth, stage: str) -> None:
    _, pipeline = _config(synth, stage)
    template = _t(synth, stage)
    key_id, _ = only(template, "AWS::KMS::Key")
    group_id, group = only(template, "AWS::Logs::LogGroup")
    assert ref_id(props(group)["KmsKeyId"]) == key_id
    assert props(group)["RetentionInDays"] == pipeline.log_retention_days
    projects = resources(template, "AWS::CodeBuild::Project")
    code_build = [
        a for a in _actions(template).values() if a["ActionTypeId"]["Provider"] == "CodeBuild"
    ]
    assert {ref_id(a["Configuration"]["ProjectName"]) for a in code_build} == set(projects)
    assert len(code_build) == len(projects)  # a project of its own for every action
    roles = set()
    for project in projects.values():
        p = props(project)
        assert p["EncryptionKey"] == {"Fn::GetAtt": [key_id, "Arn"]}
        assert p["LogsConfig"]["CloudWatchLogs"]["GroupName"] == {"Ref": group_id}
        assert p["LogsConfig"]["CloudWatchLogs"]["Status"] == "ENABLED"
        roles.add(ref_id(p["ServiceRole"]))
    assert len(roles) == len(projects)  # a role of its own for every action


@pytest.mark.parametrize("stage", STAGES)
def test_failed_and_succeeded_executions_are_notified(synth: Synth, stage: str) -> None:
    _, pipeline = _config(synth, stage)
    template = _t(synth, stage)
    _, rule = only(template, "AWS::CodeStarNotifications::NotificationRule")
    assert sorted(props(rule)["EventTypeIds"]) == [
        "codepipeline-pipeline-pipeline-execution-failed",
        "codepipeline-pipeline-pipeline-execution-succeeded",
    ]
    (target,) = props(rule)["Targets"]
    topic_id = ref_id(target["TargetAddress"])
    assert "KmsMasterKeyId" in props(template["Resources"][topic_id])
    emails = {
        props(s)["Endpoint"]
        for s in resources(template, "AWS::SNS::Subscription").values()
        if props(s)["TopicArn"] == {"Ref": topic_id}
    }
    assert emails == set(pipeline.notification_emails)


@pytest.mark.parametrize("stage", STAGES)
def test_github_deploy_role_where_config_asks(synth: Synth, stage: str) -> None:
    """Whichever provider releases the stage (Stage: GitHub Actions, Prod: CodePipeline)."""
    config, pipeline = _any_provider(synth, stage)
    template = _t(synth, stage)
    # Web identity roles but the release role (tests/test_github_release.py).
    roles = {
        k: props(r)
        for k, r in resources(template, "AWS::IAM::Role").items()
        if "sts:AssumeRoleWithWebIdentity" in json.dumps(props(r)["AssumeRolePolicyDocument"])
        and props(r)["RoleName"] != config.release_role_name
    }
    if config.github_role_name is None:
        assert roles == {}
        if config.release_role_name is None:
            assert resources(template, "AWS::IAM::OIDCProvider") == {}
        return
    provider_id, provider = only(template, "AWS::IAM::OIDCProvider")
    assert props(provider)["Url"] == "https://token.actions.githubusercontent.com"
    assert props(provider)["ClientIdList"] == ["sts.amazonaws.com"]
    ((role_id, role),) = roles.items()
    assert role["RoleName"] == config.github_role_name
    (trust,) = role["AssumeRolePolicyDocument"]["Statement"]
    assert trust["Principal"] == {"Federated": {"Ref": provider_id}}
    assert trust["Condition"] == {
        "StringEquals": {
            "token.actions.githubusercontent.com:aud": "sts.amazonaws.com",
            "token.actions.githubusercontent.com:sub": (
                f"repo:{pipeline.repository}:ref:refs/heads/{pipeline.branch}"
            ),
        }
    }
    (statement,) = _statements(template, role_id)
    assert _actions_of(statement) == {"sts:AssumeRole"}
    account = config.account
    assert sorted(statement["Resource"]) == sorted(
        f"arn:aws:iam::{account}:role/cdk-hnb659fds-{kind}-role-{account}-{region}"
        for kind in ("deploy", "file-publishing", "image-publishing")
        for region in (config.region, CLOUDFRONT_REGION)
    )
