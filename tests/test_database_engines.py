"""Every engine version the config accepts is one the database construct can build.

Construct-level (no synth); run after the session's synth (tests/conftest.py).
"""

from __future__ import annotations

import re

import pytest

from config.database import ENGINE_VERSIONS
from l3_constructs.database_props import DatabaseProps, instance_engine
from tests.conftest import Synth

ACCEPTED = [(engine, major) for engine, majors in ENGINE_VERSIONS.items() for major in majors]


@pytest.mark.parametrize(("engine", "major"), ACCEPTED)
def test_accepted_major_becomes_a_full_version(synth: Synth, engine: str, major: str) -> None:
    del synth  # after the session's synth: see _synth_order in tests/conftest.py
    props = DatabaseProps(engine=engine, engine_version=major)  # type: ignore[arg-type]
    version = instance_engine(props).engine_version
    assert version is not None
    assert version.full_version is not None
    # A bare major ("14", "8.0") is no version RDS or CloudFormation can create.
    assert re.fullmatch(rf"{re.escape(major)}\.\d+", version.full_version)
