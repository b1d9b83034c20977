"""Whole-template snapshots of every stack in every shipped stage.

Asset hashes (64-hex S3 keys, image tags) are replaced by a placeholder, so a CDK upgrade or
a change to bundled code does not churn every snapshot; a real property change does.
Update on purpose only, after reading the diff: `pytest --snapshot-update`.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from syrupy.assertion import SnapshotAssertion
from syrupy.extensions.json import JSONSnapshotExtension
from syrupy.types import PropertyPath, SerializableData

from config.loader import load_environments
from tests.conftest import SHIPPED_STAGES, Synth
from tests.helpers import ALL_STACKS, expected_stacks

ASSET_HASH = re.compile(r"\b[0-9a-f]{64}\b")
PLACEHOLDER = "<asset-hash>"
_SHIPPED = {e.config.stage_name: e.config for e in load_environments()}
#: (stack, stage) of every shipped stack, ids `Network-Test` as before.
PAIRS = [
    pytest.param(stack, stage, id=f"{stack}-{stage}")
    for stack in ALL_STACKS
    for stage in SHIPPED_STAGES
    if stack in expected_stacks(_SHIPPED[stage])
]


def scrub_asset_hashes(*, data: SerializableData, path: PropertyPath) -> SerializableData:
    """syrupy matcher: every 64-hex asset hash inside a string becomes `<asset-hash>`."""
    del path  # same rule everywhere in the template
    if isinstance(data, str):
        return ASSET_HASH.sub(PLACEHOLDER, data)
    return data


@pytest.fixture
def snapshot_json(snapshot: SnapshotAssertion) -> SnapshotAssertion:
    return snapshot.use_extension(JSONSnapshotExtension).with_defaults(matcher=scrub_asset_hashes)


@pytest.mark.parametrize(("stack", "stage"), PAIRS)
def test_template_snapshot(
    synth: Synth, snapshot_json: SnapshotAssertion, stage: str, stack: str
) -> None:
    assert synth.template(stage, stack) == snapshot_json


def test_matcher_scrubs_hashes_and_nothing_else() -> None:
    digest = "0123456789abcdef" * 4
    data: dict[str, Any] = {"S3Key": f"{digest}.zip", "Image": f"repo:{digest}", "Name": "a1b2"}
    scrubbed = {k: scrub_asset_hashes(data=v, path=()) for k, v in data.items()}
    assert scrubbed == {"S3Key": "<asset-hash>.zip", "Image": "repo:<asset-hash>", "Name": "a1b2"}
