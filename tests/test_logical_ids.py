"""Stateful resources keep their logical ids: a changed id makes CloudFormation replace the
resource, and a replaced key, bucket, log group, database or secret loses its data.

If a refactor trips this test, keep the old id (e.g. construct ids and nesting as they were,
or `override_logical_id`). Change the table only for a replacement you actually want.
"""

from __future__ import annotations

import pytest

from tests.conftest import NEW_STAGE, SHIPPED_STAGES, Synth
from tests.helpers import resources

STAGES = (*SHIPPED_STAGES, NEW_STAGE)

#: CDK names the generated database secret after its full path (stage included) plus a
#: hash of the password rules, so its id is pinned per stage.
_SECRET_SUFFIX = "3fdaad7efa858a3daf9490cf0a702aeb"
SECRET_IDS = {
    "Test": f"TestDatabaseInstanceSecret51B611F4{_SECRET_SUFFIX}",
    "Stage": f"StageDatabaseInstanceSecretBB7462F0{_SECRET_SUFFIX}",
    "Prod": f"ProdDatabaseInstanceSecret36693E93{_SECRET_SUFFIX}",
    NEW_STAGE: f"DevDatabaseInstanceSecret6B065A72{_SECRET_SUFFIX}",
}

#: (stack, CloudFormation type) -> pinned logical id, or stage -> id.
PINNED: dict[tuple[str, str], str | dict[str, str]] = {
    ("Network", "AWS::KMS::Key"): "NetworkFlowLogKeyF785E5F9",
    ("Network", "AWS::Logs::LogGroup"): "NetworkFlowLogGroup4F8CEEEF",
    ("Network", "AWS::S3::Bucket"): "NetworkFlowLogBucket879F01A6",
    ("Network", "AWS::EC2::VPC"): "NetworkVpc7FB7348F",
    ("Database", "AWS::KMS::Key"): "DatabaseKey5E5D9547",
    ("Database", "AWS::RDS::DBInstance"): "DatabaseInstanceAA8A5FDE",
    ("Database", "AWS::SecretsManager::Secret"): SECRET_IDS,
}
STATEFUL_TYPES = {type_name for _, type_name in PINNED}


def _pinned(stage: str, stack: str, type_name: str) -> str | None:
    pinned = PINNED.get((stack, type_name))
    return pinned.get(stage) if isinstance(pinned, dict) else pinned


@pytest.mark.parametrize("stage", STAGES)
def test_stateful_logical_ids_are_pinned(synth: Synth, stage: str) -> None:
    for (stage_name, stack), template in synth.templates.items():
        if stage_name != stage:
            continue
        for type_name in STATEFUL_TYPES:
            found = set(resources(template, type_name))
            pinned = _pinned(stage, stack, type_name)
            # Every stateful resource present is pinned; none may appear unpinned.
            assert found <= {pinned}, f"{stage}/{stack} {type_name}: {found} not pinned"


def test_every_pinned_id_is_used_somewhere(synth: Synth) -> None:
    used = {
        (stack, type_name)
        for (_, stack), template in synth.templates.items()
        for type_name in STATEFUL_TYPES
        if resources(template, type_name)
    }
    assert used == set(PINNED)
