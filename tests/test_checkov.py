"""checkov, a second checker independent of cdk-nag, runs over every template the session
synthesized as `make checkov` (zero failed checks, part of `make test`). Each skip sits on
the resource it concerns (CloudFormation `Metadata.checkov.skip`, written by
`l3_constructs.compliance.skip_checkov`) with a specific reason; `.checkov.yaml` only says how
checkov runs and may skip nothing.
"""

from __future__ import annotations

import pytest
import yaml

from l3_constructs.compliance import MIN_REASON_LENGTH, skip_checkov
from tests.conftest import ROOT, Synth

#: The Makefile installs checkov into its own venv (requirements-checkov.txt).
CHECKOV = ROOT / ".venv" / "checkov" / "bin" / "checkov"
CONFIG = ROOT / ".checkov.yaml"


# checkov itself runs as `make checkov` (part of `make test`, after pytest, over the
# templates this session wrote): a failed check fails the build there. Here: the skips.


def test_every_skip_is_on_its_resource_with_a_specific_reason(synth: Synth) -> None:
    skips = [
        (stage, stack, logical_id, skip)
        for (stage, stack), template in synth.templates.items()
        for logical_id, resource in template["Resources"].items()
        for skip in resource.get("Metadata", {}).get("checkov", {}).get("skip", [])
    ]
    assert skips, "expected the skips the constructs declare"
    for where in skips:
        skip = where[3]
        assert set(skip) == {"id", "comment"}, where
        assert len(skip["comment"].strip()) >= MIN_REASON_LENGTH, where
    # No skip in a template's top-level metadata: each sits on its resource.
    for template in synth.templates.values():
        assert "checkov" not in template.get("Metadata", {})


def test_the_config_file_skips_nothing() -> None:
    config = yaml.safe_load(CONFIG.read_text())
    assert set(config) <= {"framework", "quiet", "compact", "output", "skip-download"}
    assert config["framework"] == ["cloudformation"]


def test_skip_checkov_refuses_a_skip_without_a_specific_reason(synth: Synth) -> None:
    # `synth`: after the session's synth (see _synth_order in tests/conftest.py).
    from aws_cdk import Stack  # noqa: PLC0415
    from aws_cdk import aws_s3 as s3  # noqa: PLC0415

    bucket = s3.Bucket(Stack(), "Bucket")
    with pytest.raises(ValueError, match="specific reason"):
        skip_checkov(bucket, "CKV_AWS_18", "")
    with pytest.raises(ValueError, match="specific reason"):
        skip_checkov(bucket, "CKV_AWS_18", "not needed")
    with pytest.raises(ValueError, match="not a checkov check id"):
        skip_checkov(bucket, "AwsSolutions-S1", "A reason long enough to be specific here.")


def test_skip_checkov_writes_merged_metadata_on_the_default_child(synth: Synth) -> None:
    from aws_cdk import Stack, assertions  # noqa: PLC0415
    from aws_cdk import aws_s3 as s3  # noqa: PLC0415

    stack = Stack()
    bucket = s3.Bucket(stack, "Bucket")
    first = "This bucket only receives access logs of the other buckets here."
    second = "A second caller sharing the same resource gives its own reason."
    skip_checkov(bucket, "CKV_AWS_18", first)
    skip_checkov(bucket.node.default_child, "CKV_AWS_21", first)  # type: ignore[arg-type]
    skip_checkov(bucket, "CKV_AWS_18", second)
    skip_checkov(bucket, "CKV_AWS_18", second)  # the same reason again: no change
    resources = assertions.Template.from_stack(stack).find_resources("AWS::S3::Bucket")
    (resource,) = resources.values()
    assert resource["Metadata"]["checkov"] == {
        "skip": [
            {"id": "CKV_AWS_18", "comment": f"{first} Also: {second}"},
            {"id": "CKV_AWS_21", "comment": first},
        ]
    }
    with pytest.raises(TypeError, match="no CloudFormation resource"):
        skip_checkov(stack, "CKV_AWS_18", first)
