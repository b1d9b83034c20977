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

#: (stack, CloudFormation type) -> pinned logical id.
PINNED = {
    ("Network", "AWS::KMS::Key"): "NetworkFlowLogKeyF785E5F9",
    ("Network", "AWS::Logs::LogGroup"): "NetworkFlowLogGroup4F8CEEEF",
    ("Network", "AWS::S3::Bucket"): "NetworkFlowLogBucket879F01A6",
    ("Network", "AWS::EC2::VPC"): "NetworkVpc7FB7348F",
}
STATEFUL_TYPES = {type_name for _, type_name in PINNED}


@pytest.mark.parametrize("stage", STAGES)
def test_stateful_logical_ids_are_pinned(synth: Synth, stage: str) -> None:
    for (stage_name, stack), template in synth.templates.items():
        if stage_name != stage:
            continue
        for type_name in STATEFUL_TYPES:
            found = set(resources(template, type_name))
            pinned = PINNED.get((stack, type_name))
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
