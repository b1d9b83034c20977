"""Fixtures of the config tests: a private, writable copy of the shipped config files."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.config.helpers import copy_config


@pytest.fixture
def config_dir(tmp_path: Path) -> Path:
    """`tmp_path/config/` with a copy of every shipped `config/*.yaml`."""
    return copy_config(tmp_path)
