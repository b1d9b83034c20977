"""Helpers for the config tests: copy the shipped `config/*.yaml`, change one file, load."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from config.loader import ConfigError, load_environments

REPO_ROOT = Path(__file__).resolve().parents[2]
SHIPPED_CONFIG = REPO_ROOT / "config"

#: libyaml's parser and emitter where PyYAML has them (as config/loader.py reads): the config
#: tests parse and write a few hundred files, several times faster this way.
_LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_DUMPER: Any = getattr(yaml, "CSafeDumper", yaml.SafeDumper)

#: A change to one environment file, applied to its parsed YAML in place.
Mutation = Callable[[dict[str, Any]], None]


def copy_config(target: Path) -> Path:
    """`target/config/` holding a copy of every shipped `config/*.yaml` (no Python files)."""
    config_dir = target / "config"
    config_dir.mkdir()
    for path in sorted(SHIPPED_CONFIG.glob("*.yaml")):
        shutil.copyfile(path, config_dir / path.name)
    return config_dir


def read_yaml(path: Path) -> dict[str, Any]:
    data = yaml.load(path.read_text(encoding="utf-8"), Loader=_LOADER)
    assert isinstance(data, dict), f"{path} does not hold a mapping"
    return data


def write_yaml(path: Path, data: dict[str, Any]) -> None:
    path.write_text(yaml.dump(data, Dumper=_DUMPER, sort_keys=False), encoding="utf-8")


def edit_yaml(path: Path, change: Mutation) -> None:
    """Parse `path`, apply `change` to the mapping, dump it back (comments are lost)."""
    data = read_yaml(path)
    change(data)
    write_yaml(path, data)


def put(dotted: str, value: Any) -> Mutation:
    """Set `a.b.c` to `value`, creating missing mappings on the way."""
    *parents, last = dotted.split(".")

    def change(data: dict[str, Any]) -> None:
        node = data
        for key in parents:
            node = node.setdefault(key, {})
        node[last] = value

    return change


def drop(dotted: str) -> Mutation:
    """Remove the key `a.b.c` (which must exist)."""
    *parents, last = dotted.split(".")

    def change(data: dict[str, Any]) -> None:
        node = data
        for key in parents:
            node = node[key]
        del node[last]

    return change


def combine(*changes: Mutation) -> Mutation:
    """Apply several changes to the same file, in order."""

    def change(data: dict[str, Any]) -> None:
        for one in changes:
            one(data)

    return change


#: test.yaml's database as the RDS instance it was before issue 15 (the defaults' kind and
#: class): the starting point of the cases about the instance kind.
TEST_AS_INSTANCE = combine(
    drop("database.kind"), drop("database.serverless"), drop("database.instance_type")
)


def problems_of(config_dir: Path) -> tuple[str, ...]:
    """The problem lines of the `ConfigError` that loading `config_dir` must raise."""
    with pytest.raises(ConfigError) as info:
        load_environments(config_dir)
    problems = info.value.problems
    assert problems, "ConfigError raised without any problem line"
    assert str(info.value) == "\n".join(problems)
    return problems
