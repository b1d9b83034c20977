"""The database options in config (issue 14): each impossible combination is one problem
line naming the file and the field, before any construct exists; the shipped and example
files load with the options they show."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from config import database as database_config
from config.loader import ConfigError, LoadedEnvironment, load_environments, load_from
from l3_constructs.limits import PROXY_ENGINE_VERSIONS
from tests.config.helpers import (
    REPO_ROOT,
    TEST_AS_INSTANCE,
    Mutation,
    combine,
    drop,
    edit_yaml,
    problems_of,
    put,
)

EXAMPLE = REPO_ROOT / "examples" / "serverless-db"
#: Test as an Aurora Serverless v2 cluster: the starting point of the Aurora cases.
AURORA = combine(put("database.kind", "aurora"), put("database.instance_type", "serverless"))


def _aurora(*changes: Mutation) -> Mutation:
    return combine(AURORA, *changes)


def _instance(*changes: Mutation) -> Mutation:
    return combine(TEST_AS_INSTANCE, *changes)


CASES = [
    # ---- Serverless v2 capacity
    (
        "capacity-above-256",
        _aurora(put("database.serverless.max_acu", 300)),
        "config/test.yaml: database.serverless.max_acu: 300 is out of range: Serverless v2 "
        "takes 0-256 ACUs in steps of 0.5",
    ),
    (
        "capacity-not-a-half-step",
        _aurora(put("database.serverless.min_acu", 0.3)),
        "config/test.yaml: database.serverless.min_acu: 0.3 is out of range: Serverless v2 "
        "takes 0-256 ACUs in steps of 0.5",
    ),
    (
        "capacity-max-below-one",
        _aurora(put("database.serverless.max_acu", 0.5), put("database.serverless.min_acu", 0)),
        "config/test.yaml: database.serverless.max_acu: 0.5 is out of range: Serverless v2 "
        "scales up to 1-256 ACUs",
    ),
    (
        "capacity-min-above-max",
        _aurora(put("database.serverless.min_acu", 8), put("database.serverless.max_acu", 4)),
        "config/test.yaml: database.serverless.min_acu: 8 is above max_acu 4",
    ),
    (
        "auto-pause-with-min-above-zero",
        _aurora(
            put("database.serverless.min_acu", 0.5),
            put("database.serverless.auto_pause_seconds", 600),
        ),
        "config/test.yaml: database.serverless.auto_pause_seconds: needs min_acu 0: only an "
        "instance at 0 ACUs pauses (min_acu is 0.5)",
    ),
    (
        "serverless-section-on-an-instance",
        _instance(put("database.serverless", {"min_acu": 0, "max_acu": 2})),
        "config/test.yaml: database.serverless: applies to kind 'aurora' with instance_type "
        "'serverless', not instance 't4g.micro'",
    ),
    # ---- kinds and instance classes
    (
        "serverless-class-on-an-instance",
        _instance(put("database.instance_type", "serverless")),
        "config/test.yaml: database.instance_type: 'serverless' (Aurora Serverless v2) needs "
        "kind 'aurora'",
    ),
    (
        "aurora-on-a-class-aurora-lacks",
        _instance(put("database.kind", "aurora")),
        "config/test.yaml: database.instance_type (set in config/defaults.yaml): 't4g.micro' is "
        "no Aurora instance class: 'serverless' (Serverless v2) or a provisioned class such as "
        "'r7g.large' or 't4g.medium'",
    ),
    (
        "aurora-mysql-8.4",
        _aurora(put("database.engine", "mysql"), put("database.engine_version", "8.4")),
        "config/test.yaml: database.engine_version: '8.4' is not a supported Aurora mysql "
        "version (8.0)",
    ),
    (
        "aurora-multi-az",
        _aurora(put("database.multi_az", True)),
        "config/test.yaml: database.multi_az: is the instance kind's standby: an Aurora "
        "cluster's standby is a reader in another zone (readers)",
    ),
    # ---- readers and replicas
    (
        "readers-with-the-instance-kind",
        _instance(put("database.readers", 1)),
        "config/test.yaml: database.readers: are the instances of an Aurora cluster (kind "
        "'aurora'); the instance kind takes read_replicas",
    ),
    (
        "read-replicas-with-aurora",
        _aurora(put("database.read_replicas", 1)),
        "config/test.yaml: database.read_replicas: are the instance kind's; an Aurora cluster "
        "takes readers",
    ),
    (
        "read-replicas-of-managed-credentials",
        _instance(put("database.credentials", "managed_by_rds"), put("database.read_replicas", 1)),
        "config/test.yaml: database.read_replicas: RDS makes no read replica of an instance "
        "whose master password it manages (credentials 'managed_by_rds'): use "
        "'rotated_by_lambda', or kind 'aurora' with readers",
    ),
    (
        "read-replicas-without-a-zone-beside-the-multi-az-pair",
        _instance(
            put("database.credentials", "rotated_by_lambda"),
            put("database.multi_az", True),
            put("database.read_replicas", 1),
        ),
        "config/test.yaml: database.read_replicas: a Multi-AZ primary and its standby take "
        "both zones of network.availability_zones: replicas in other zones need a third zone "
        "(or multi_az false)",
    ),
    (
        "too-many-readers",
        _aurora(put("database.readers", 6)),
        "config/test.yaml: database.readers: 6: Input should be less than or equal to 5",
    ),
    # ---- proxy
    (
        "proxy-with-read-replicas",
        _instance(
            put("database.credentials", "rotated_by_lambda"),
            put("database.read_replicas", 1),
            put("database.proxy", True),
        ),
        "config/test.yaml: database.proxy: RDS Proxy fronts an instance's writer only, not its "
        "read replicas: use read_replicas 0, or kind 'aurora' (whose readers the proxy serves)",
    ),
    (
        "proxy-with-auto-pause",
        _aurora(put("database.serverless.min_acu", 0), put("database.proxy", True)),
        "config/test.yaml: database.proxy: RDS Proxy keeps connections to the writer open, so "
        "an instance at serverless.min_acu 0 would never pause: raise min_acu or drop the proxy",
    ),
    # ---- credentials, backup
    (
        "credentials-unknown",
        put("database.credentials", "rotated_by_rds"),
        "config/test.yaml: database.credentials: 'rotated_by_rds': Input should be "
        "'rotated_by_lambda' or 'managed_by_rds'",
    ),
    (
        "backup-copy-to-its-own-region",
        put("database.backup", {"copy_to_region": "ap-northeast-1"}),
        "config/test.yaml: database.backup.copy_to_region: 'ap-northeast-1' is the "
        "environment's own region: a copy that survives the region needs another one",
    ),
    (
        "backup-start-hour",
        put("database.backup", {"start_hour_utc": 24}),
        "config/test.yaml: database.backup.start_hour_utc: 24: Input should be less than or "
        "equal to 23",
    ),
    (
        "real-data-aurora-without-deletion-protection",
        _aurora(
            put("data_protection.holds_real_data", True),
            drop("data_protection.shared_key"),
            put("database.removal_policy", "snapshot"),
            put("database.backup_retention_days", 7),
        ),
        "config/test.yaml: database.deletion_protection: must be true: "
        "data_protection.holds_real_data is true",
    ),
]


@pytest.mark.parametrize(("change", "line"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_impossible_database_options_are_one_line_each(
    config_dir: Path, change: Mutation, line: str
) -> None:
    edit_yaml(config_dir / "test.yaml", change)
    assert problems_of(config_dir) == (line,)


def test_proxy_with_an_engine_version_it_does_not_support(
    config_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every version config accepts is one RDS Proxy takes today (limits.py); a version
    added before the proxy supports it is refused with the proxy, by file and field."""
    table = dict(PROXY_ENGINE_VERSIONS)
    table[("instance", "postgres")] = ("14", "15")
    monkeypatch.setattr("config.database.PROXY_ENGINE_VERSIONS", table)
    edit_yaml(
        config_dir / "test.yaml",
        _instance(put("database.proxy", True), put("data_protection.shared_key", False)),
    )
    assert problems_of(config_dir) == (
        "config/test.yaml: database.proxy: RDS Proxy does not support RDS for postgres 16 "
        "(it takes 14, 15)",
    )


def test_every_accepted_version_has_its_proxy_answer() -> None:
    for (kind, engine), proxied in PROXY_ENGINE_VERSIONS.items():
        accepted = (
            database_config.AURORA_ENGINE_VERSIONS
            if kind == "aurora"
            else database_config.ENGINE_VERSIONS
        )[engine]
        assert set(proxied) <= set(accepted), (kind, engine)


def test_managed_credentials_need_no_secrets_manager_route_without_nat(config_dir: Path) -> None:
    """Test (no NAT, public subnets) with RDS-managed credentials loads without the
    secretsmanager endpoint; with the rotation function it may not."""
    endpoints = put("network.interface_endpoints", ["ecr.api", "ecr.dkr", "logs"])
    edit_yaml(
        config_dir / "test.yaml",
        combine(put("database.credentials", "managed_by_rds"), endpoints),
    )
    (test,) = [e.config for e in _load(config_dir) if e.config.stage_name == "Test"]
    assert test.database.credentials == "managed_by_rds"
    assert "secretsmanager" not in test.network.interface_endpoints
    edit_yaml(config_dir / "test.yaml", put("database.credentials", "rotated_by_lambda"))
    (line,) = problems_of(config_dir)
    assert line.startswith("config/test.yaml: network.interface_endpoints: must include")


def test_the_example_loads_with_its_options(tmp_path: Path) -> None:
    configs = {e.config.stage_name: e.config for e in load_from(EXAMPLE)}
    test, prod = configs["ServerlessTest"].database, configs["ServerlessProd"].database
    assert (test.kind, test.instance_type, test.credentials) == (
        "aurora",
        "serverless",
        "managed_by_rds",
    )
    assert (test.serverless.min_acu, test.serverless.auto_pause_seconds) == (0, 600)
    assert test.serverless.pauses
    assert "secretsmanager" not in configs["ServerlessTest"].network.interface_endpoints
    assert (prod.readers, prod.serverless.min_acu, prod.credentials) == (
        1,
        0.5,
        "rotated_by_lambda",
    )
    assert prod.backup is not None
    assert prod.backup.copy_to_region == "ap-northeast-3"
    # The example's files are checked like the shipped ones: a broken one says where.
    broken = tmp_path / "serverless-db"
    shutil.copytree(EXAMPLE, broken)
    edit_yaml(broken / "test.yaml", put("database.proxy", True))
    with pytest.raises(ConfigError) as info:
        load_from(broken)
    assert info.value.problems[0].endswith(
        "test.yaml: database.proxy: RDS Proxy keeps connections to the writer open, so an "
        "instance at serverless.min_acu 0 would never pause: raise min_acu or drop the proxy"
    )


def _load(config_dir: Path) -> tuple[LoadedEnvironment, ...]:
    return load_environments(config_dir)
