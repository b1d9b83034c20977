"""The one source of truth for the running image: the release record (Network stack) and how
the Compute stack resolves it at every deployment, per environment."""

from __future__ import annotations

import json
from typing import Any

import pytest

from l3_constructs.limits import UNRELEASED
from stacks.compute_stack import LEGACY_IDS
from tests.conftest import NEW_STAGE, SHIPPED_STAGES, Synth
from tests.helpers import props, resources

STAGES = (*SHIPPED_STAGES, NEW_STAGE)
#: Stages with a pipeline, and so release records (Dev has none: `cdk deploy` only).
RELEASED = [
    pytest.param(stage, name, id=f"{stage}-{name}")
    for stage in SHIPPED_STAGES
    for name in ("web", "api")
]


def _records(synth: Synth, stage: str) -> dict[str, dict[str, Any]]:
    """Parameter name -> the custom resource creating it."""
    records = {}
    for r in resources(synth.template(stage, "Network"), "Custom::AWS").values():
        if "putParameter" in json.dumps(props(r).get("Create", "")):
            records[_call(props(r)["Create"])["parameters"]["Name"]] = props(r)
    return records


def _call(value: Any) -> dict[str, Any]:
    """An AwsCustomResource call (a JSON string, or a Fn::Join of one with tokens)."""
    if isinstance(value, dict):
        value = "".join(p if isinstance(p, str) else "0" for p in value["Fn::Join"][1])
    call: dict[str, Any] = json.loads(value)
    return call


@pytest.mark.parametrize("stage", STAGES)
def test_one_record_per_service_the_pipeline_builds(synth: Synth, stage: str) -> None:
    config = synth.configs[stage]
    expected = (
        {
            config.release_parameter_name(name)
            for name, s in config.services.items()
            if s.image.source == "asset"
        }
        if config.pipeline
        else set()
    )
    assert set(_records(synth, stage)) == expected
    if config.pipeline:
        # The API keeps the record of the single-service layout, under the same construct id.
        assert f"/{stage}/release/api-image-tag" in expected
        assert any(
            k.startswith("ReleaseRecord") and not k.startswith("ReleaseRecordweb")
            for k in synth.template(stage, "Network")["Resources"]
        )


@pytest.mark.parametrize(("stage", "name"), RELEASED)
def test_record_is_created_once_and_never_rewritten(synth: Synth, stage: str, name: str) -> None:
    parameter = synth.configs[stage].release_parameter_name(name)
    assert parameter == f"/{stage}/release/{name}-image-tag"
    record = _records(synth, stage)[parameter]
    create = _call(record["Create"])
    assert create["action"] == "putParameter"
    assert create["parameters"]["Value"] == UNRELEASED
    assert create["parameters"]["Type"] == "String"
    # Never overwrites what the pipeline wrote (a re-created stack keeps the record)...
    assert create["parameters"]["Overwrite"] is False
    assert create["ignoreErrorCodesMatching"] == "ParameterAlreadyExists"
    # ... and no update call: CloudFormation never writes the value again.
    assert "Update" not in record
    delete = _call(record["Delete"])
    assert (delete["action"], delete["parameters"]["Name"]) == ("deleteParameter", parameter)


@pytest.mark.parametrize("stage", SHIPPED_STAGES)
def test_record_function_may_write_only_the_records(synth: Synth, stage: str) -> None:
    template = synth.template(stage, "Network")
    config = synth.configs[stage]
    account = config.account
    statements = [
        s
        for p in resources(template, "AWS::IAM::Policy").values()
        for s in props(p)["PolicyDocument"]["Statement"]
        if any(str(a).startswith("ssm:") for a in _list(s["Action"]))
    ]
    assert statements
    allowed = {
        f"arn:aws:ssm:ap-northeast-1:{account}:parameter{config.release_parameter_name(n)}"
        for n in config.services
    }
    for statement in statements:
        assert sorted(_list(statement["Action"])) == ["ssm:DeleteParameter", "ssm:PutParameter"]
        assert statement["Resource"] in allowed


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _released_tag_parameter(template: dict[str, Any], name: str) -> tuple[str, dict[str, Any]]:
    ((logical_id, parameter),) = [
        (k, p)
        for k, p in template.get("Parameters", {}).items()
        if p["Type"] == "AWS::SSM::Parameter::Value<String>" and k.startswith(name)
    ]
    return logical_id, parameter


def _images(template: dict[str, Any]) -> dict[str, Any]:
    """First container name of each task definition (`app` of a service, `migration`) ->
    the image, keyed by the task definition's logical id prefix for the services."""
    images = {}
    for logical_id, task in resources(template, "AWS::ECS::TaskDefinition").items():
        (first, *_) = props(task)["ContainerDefinitions"]
        images[logical_id] = first["Image"]
    return images


def _repository_id(template: dict[str, Any], name: str, owner: str) -> str:
    if name == owner:
        return LEGACY_IDS["repository"]
    ((logical_id, _),) = [
        (k, r) for k, r in resources(template, "AWS::ECR::Repository").items() if k.startswith(name)
    ]
    return logical_id


@pytest.mark.parametrize(("stage", "name"), RELEASED)
def test_compute_resolves_the_record_at_every_deployment(
    synth: Synth, stage: str, name: str
) -> None:
    config = synth.configs[stage]
    template = synth.template(stage, "Compute")
    logical_id, parameter = _released_tag_parameter(template, name)
    # An SSM-typed parameter: CloudFormation reads the current value at every deployment,
    # so `cdk deploy` runs what the pipeline released instead of reverting it.
    assert parameter["Default"] == config.release_parameter_name(name)
    conditions = {
        k: c
        for k, c in template["Conditions"].items()
        if c == {"Fn::Equals": [{"Ref": logical_id}, UNRELEASED]}
    }
    ((condition_id, _),) = conditions.items()
    images = _images(template)
    ((_, image),) = [(k, i) for k, i in images.items() if k.startswith(f"{name}TaskDefinition")]
    chosen, unreleased, released = image["Fn::If"]
    assert chosen == condition_id
    # Before the first release: the configured image (the CDK asset of services/<name>).
    assert "cdk-hnb659fds-container-assets" in json.dumps(unreleased)
    # After: <the service's own repository>:<released tag>.
    text = json.dumps(released)
    assert _repository_id(template, name, config.migration.service) in text
    assert f'":", {{"Ref": "{logical_id}"}}' in text
    if name == config.migration.service:
        # The migration runs the same image as its service.
        ((_, migration),) = [
            (k, i) for k, i in images.items() if k.startswith("MigrationTaskDefinition")
        ]
        assert migration == image


@pytest.mark.parametrize(("stage", "name"), RELEASED)
def test_execution_role_may_pull_either_image_of_its_service(
    synth: Synth, stage: str, name: str
) -> None:
    config = synth.configs[stage]
    template = synth.template(stage, "Compute")
    mine = _repository_id(template, name, config.migration.service)
    others = {
        _repository_id(template, other, config.migration.service)
        for other in config.services
        if other != name
    }
    ((_, task),) = [
        (k, t)
        for k, t in resources(template, "AWS::ECS::TaskDefinition").items()
        if k.startswith(f"{name}TaskDefinition")
    ]
    role = props(task)["ExecutionRoleArn"]["Fn::GetAtt"][0]
    pulls = [
        json.dumps(s["Resource"])
        for p in resources(template, "AWS::IAM::Policy").values()
        if {"Ref": role} in props(p)["Roles"]
        for s in props(p)["PolicyDocument"]["Statement"]
        if "ecr:BatchGetImage" in _list(s["Action"])
    ]
    assert any(mine in r for r in pulls), pulls
    assert any("cdk-hnb659fds-container-assets" in r for r in pulls), pulls
    # Never another service's repository.
    assert not [r for r in pulls for other in others if other in r]


@pytest.mark.parametrize(("stage", "name"), RELEASED)
def test_only_the_latest_tag_is_mutable(synth: Synth, stage: str, name: str) -> None:
    template = synth.template(stage, "Compute")
    repository = template["Resources"][
        _repository_id(template, name, synth.configs[stage].migration.service)
    ]
    p = props(repository)
    assert p["ImageTagMutability"] == "IMMUTABLE_WITH_EXCLUSION"
    assert p["ImageTagMutabilityExclusionFilters"] == [
        {
            "ImageTagMutabilityExclusionFilterType": "WILDCARD",
            "ImageTagMutabilityExclusionFilterValue": f"{stage.lower()}-latest",
        }
    ]


def test_without_a_pipeline_every_service_runs_its_configured_image(synth: Synth) -> None:
    template = synth.template(NEW_STAGE, "Compute")
    assert not [
        p for p in template.get("Parameters", {}).values() if "release" in p.get("Default", "")
    ]


@pytest.mark.parametrize("stage", STAGES)
def test_compute_deploys_after_the_record(synth: Synth, stage: str) -> None:
    manifest = json.loads((synth.outdir / f"assembly-{stage}" / "manifest.json").read_text())
    ids = {
        a["displayName"]: artifact_id
        for artifact_id, a in manifest["artifacts"].items()
        if a["type"] == "aws:cloudformation:stack"
    }
    compute = manifest["artifacts"][ids[f"{stage}/Compute"]]
    assert ids[f"{stage}/Network"] in compute["dependencies"]
