"""One Stage per config file; stack ids, names, accounts, protection and tags from config."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from cfnlint.schema import PROVIDER_SCHEMA_MANAGER

from l3_constructs.limits import CLOUDFRONT_REGION
from tests.conftest import ALL_STAGES, NEW_STAGE, ROOT, SHIPPED_STAGES, Synth
from tests.helpers import ALL_STACKS, expected_stacks, props

STAGES = (*SHIPPED_STAGES, NEW_STAGE)
#: CloudFront takes certificates and web ACLs only from us-east-1.
REGIONAL_EXCEPTIONS = {"Edge": CLOUDFRONT_REGION}


def test_one_stage_per_config_file_with_every_stack(synth: Synth) -> None:
    assert set(synth.templates) == {
        (stage, stack) for stage in ALL_STAGES for stack in expected_stacks(synth.configs[stage])
    }
    # Optional stacks follow config: a pipeline in every shipped stage (not Dev, whose
    # `cdk deploy` publishes static files itself), the security baseline in Stage and Prod
    # only, app-file storage in Dev only.
    assert {s for s in STAGES if (s, "Security") in synth.templates} == {"Stage", "Prod"}
    assert {s for s in STAGES if (s, "Pipeline") in synth.templates} == set(SHIPPED_STAGES)
    assert {s for s in STAGES if (s, "Storage") in synth.templates} == {NEW_STAGE}


def _present(synth: Synth, stage: str, stack: str) -> bool:
    return stack in expected_stacks(synth.configs[stage])


@pytest.mark.parametrize("stage", STAGES)
@pytest.mark.parametrize("stack", ALL_STACKS)
def test_stack_name_environment_and_termination_protection(
    synth: Synth, stage: str, stack: str
) -> None:
    if not _present(synth, stage, stack):
        assert (stage, stack) not in synth.artifacts
        return
    config = synth.configs[stage]
    artifact = synth.artifacts[(stage, stack)]
    assert artifact["stackName"] == f"{stage}-{stack}"
    region = REGIONAL_EXCEPTIONS.get(stack, config.region)
    assert artifact["environment"] == f"aws://{config.account}/{region}"
    assert artifact.get("terminationProtection", False) is config.termination_protection


def test_only_prod_ships_with_termination_protection(synth: Synth) -> None:
    protected = {s for s in SHIPPED_STAGES if synth.configs[s].termination_protection}
    assert protected == {"Prod"}


@pytest.mark.parametrize("stage", STAGES)
@pytest.mark.parametrize("stack", ALL_STACKS)
def test_config_tags_on_the_stack_and_every_taggable_resource(
    synth: Synth, stage: str, stack: str
) -> None:
    if not _present(synth, stage, stack):
        return
    expected = synth.configs[stage].tags.as_dict()
    # Stack tags: CloudFormation also propagates these to every resource at deploy time.
    assert synth.artifacts[(stage, stack)]["tags"] == expected
    region = synth.configs[stage].region
    untagged = []
    for logical_id, resource in synth.template(stage, stack)["Resources"].items():
        if resource["Type"].startswith("Custom::"):
            continue
        schema = PROVIDER_SCHEMA_MANAGER.get_resource_schema(region, resource["Type"]).schema
        if "Tags" not in schema.get("properties", {}):
            continue
        raw = props(resource).get("Tags", [])
        # Most types list {Key, Value} pairs; a few (e.g. AWS::Serverless::Application) a map.
        tags = raw if isinstance(raw, dict) else {t["Key"]: t["Value"] for t in raw}
        if not expected.items() <= tags.items():
            untagged.append(logical_id)
    # Only CDK's CfnResource-based custom-resource providers (handler + role) carry no
    # template tags; they get the stack tags above from CloudFormation.
    assert all(re.fullmatch(r"Custom\w+Provider(Role|Handler)[0-9A-F]{8}", i) for i in untagged)


ENV_NAME = re.compile(r"[\"'](prod|Prod|production|stage|staging|test|Test|dev|Dev)[\"']")


@pytest.mark.parametrize("package", ["stacks", "l3_constructs"])
def test_no_environment_names_in_code(package: str) -> None:
    hits = [
        f"{path.relative_to(ROOT)}:{n}: {line.strip()}"
        for path in sorted((ROOT / package).rglob("*.py"))
        for n, line in enumerate(Path(path).read_text().splitlines(), 1)
        if ENV_NAME.search(line)
    ]
    assert hits == []
