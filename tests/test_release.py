"""The one source of truth for the running image: the release record (Network stack) and how
the Compute stack resolves it at every deployment, per environment."""

from __future__ import annotations

import json
from typing import Any

import pytest

from l3_constructs.limits import UNRELEASED
from tests.conftest import NEW_STAGE, SHIPPED_STAGES, Synth
from tests.helpers import only, props, resources

STAGES = (*SHIPPED_STAGES, NEW_STAGE)


def _record(synth: Synth, stage: str) -> dict[str, Any]:
    (record,) = [
        r
        for r in resources(synth.template(stage, "Network"), "Custom::AWS").values()
        if "putParameter" in json.dumps(props(r).get("Create", ""))
    ]
    return props(record)


def _call(value: Any) -> dict[str, Any]:
    """An AwsCustomResource call (a JSON string, or a Fn::Join of one with tokens)."""
    if isinstance(value, dict):
        value = "".join(p if isinstance(p, str) else "0" for p in value["Fn::Join"][1])
    call: dict[str, Any] = json.loads(value)
    return call


@pytest.mark.parametrize("stage", STAGES)
def test_record_is_created_once_and_never_rewritten(synth: Synth, stage: str) -> None:
    record = _record(synth, stage)
    create = _call(record["Create"])
    name = synth.configs[stage].release_parameter_name
    assert name == f"/{stage}/release/api-image-tag"
    assert create["action"] == "putParameter"
    assert create["parameters"]["Name"] == name
    assert create["parameters"]["Value"] == UNRELEASED
    assert create["parameters"]["Type"] == "String"
    # Never overwrites what the pipeline wrote (a re-created stack keeps the record)...
    assert create["parameters"]["Overwrite"] is False
    assert create["ignoreErrorCodesMatching"] == "ParameterAlreadyExists"
    # ... and no update call: CloudFormation never writes the value again.
    assert "Update" not in record
    delete = _call(record["Delete"])
    assert (delete["action"], delete["parameters"]["Name"]) == ("deleteParameter", name)


@pytest.mark.parametrize("stage", STAGES)
def test_record_function_may_write_only_the_record(synth: Synth, stage: str) -> None:
    template = synth.template(stage, "Network")
    name = synth.configs[stage].release_parameter_name
    account = synth.configs[stage].account
    statements = [
        s
        for p in resources(template, "AWS::IAM::Policy").values()
        for s in props(p)["PolicyDocument"]["Statement"]
        if any(str(a).startswith("ssm:") for a in _list(s["Action"]))
    ]
    assert statements
    for statement in statements:
        assert sorted(_list(statement["Action"])) == ["ssm:DeleteParameter", "ssm:PutParameter"]
        assert statement["Resource"] == f"arn:aws:ssm:ap-northeast-1:{account}:parameter{name}"


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _released_tag_parameter(template: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    ((logical_id, parameter),) = [
        (k, p)
        for k, p in template.get("Parameters", {}).items()
        if p["Type"] == "AWS::SSM::Parameter::Value<String>" and "release" in p["Default"]
    ]
    return logical_id, parameter


@pytest.mark.parametrize("stage", STAGES)
def test_compute_resolves_the_record_at_every_deployment(synth: Synth, stage: str) -> None:
    template = synth.template(stage, "Compute")
    logical_id, parameter = _released_tag_parameter(template)
    # An SSM-typed parameter: CloudFormation reads the current value at every deployment,
    # so `cdk deploy` runs what the pipeline released instead of reverting it.
    assert parameter["Default"] == synth.configs[stage].release_parameter_name
    ((condition_id, condition),) = template["Conditions"].items()
    assert condition == {"Fn::Equals": [{"Ref": logical_id}, UNRELEASED]}

    tasks = resources(template, "AWS::ECS::TaskDefinition").values()
    images = {
        c["Name"]: c["Image"]
        for t in tasks
        for c in props(t)["ContainerDefinitions"]
        if c["Name"] != "xray-daemon"
    }
    assert set(images) == {"app", "migration"}
    # The service and its migration run the same image.
    assert images["app"] == images["migration"]
    chosen, unreleased, released = images["app"]["Fn::If"]
    assert chosen == condition_id
    # Before the first release: the configured image (the CDK asset of app/).
    assert "cdk-hnb659fds-container-assets" in json.dumps(unreleased)
    # After: <the service's repository>:<released tag>.
    repo_id, _ = only(template, "AWS::ECR::Repository")
    text = json.dumps(released)
    assert repo_id in text
    assert f'":", {{"Ref": "{logical_id}"}}' in text


@pytest.mark.parametrize("stage", STAGES)
def test_both_execution_roles_may_pull_either_image(synth: Synth, stage: str) -> None:
    template = synth.template(stage, "Compute")
    repo_id, _ = only(template, "AWS::ECR::Repository")
    for task in resources(template, "AWS::ECS::TaskDefinition").values():
        role = props(task)["ExecutionRoleArn"]["Fn::GetAtt"][0]
        pulls = [
            json.dumps(s["Resource"])
            for p in resources(template, "AWS::IAM::Policy").values()
            if {"Ref": role} in props(p)["Roles"]
            for s in props(p)["PolicyDocument"]["Statement"]
            if "ecr:BatchGetImage" in _list(s["Action"])
        ]
        assert any(repo_id in r for r in pulls), pulls
        assert any("cdk-hnb659fds-container-assets" in r for r in pulls), pulls


@pytest.mark.parametrize("stage", STAGES)
def test_only_the_latest_tag_is_mutable(synth: Synth, stage: str) -> None:
    _, repository = only(synth.template(stage, "Compute"), "AWS::ECR::Repository")
    p = props(repository)
    assert p["ImageTagMutability"] == "IMMUTABLE_WITH_EXCLUSION"
    assert p["ImageTagMutabilityExclusionFilters"] == [
        {
            "ImageTagMutabilityExclusionFilterType": "WILDCARD",
            "ImageTagMutabilityExclusionFilterValue": f"{stage.lower()}-latest",
        }
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
