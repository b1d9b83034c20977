"""The committed JSON Schema matches the config models, and the shipped files satisfy it."""

from __future__ import annotations

import json

import jsonschema
import pytest
import yaml

from scripts.schema import SCHEMA_PATH, render
from tests.conftest import ROOT


def test_committed_schema_is_current() -> None:
    assert SCHEMA_PATH.read_text(encoding="utf-8") == render(), "run `make schema`"


@pytest.mark.parametrize("name", ["defaults", "test", "stage", "prod"])
def test_shipped_files_satisfy_the_schema(name: str) -> None:
    data = yaml.safe_load((ROOT / "config" / f"{name}.yaml").read_text())
    jsonschema.validate(data, json.loads(SCHEMA_PATH.read_text()))


def test_schema_rejects_unknown_keys_for_editors() -> None:
    with pytest.raises(jsonschema.ValidationError, match="bogus"):
        jsonschema.validate({"network": {"bogus": 1}}, json.loads(SCHEMA_PATH.read_text()))
