"""Stateful resources keep their logical ids: a changed id makes CloudFormation replace the
resource, and a replaced key, bucket, log group, database or secret loses its data.

If a refactor trips this test, keep the old id (e.g. construct ids and nesting as they were,
or `override_logical_id`). Change the table only for a replacement you actually want.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import NEW_STAGE, SHIPPED_STAGES, Synth
from tests.helpers import resources

STAGES = (*SHIPPED_STAGES, NEW_STAGE)

#: CDK names the generated database secret after its full path (stage included) plus a
#: hash of the password rules, so its id is pinned per stage.
_SECRET_SUFFIX = "3fdaad7efa858a3daf9490cf0a702aeb"
#: Only while the password is CloudFormation's: with `database.credentials: managed_by_rds`
#: (Test, and Dev made from it, since issue 14) RDS keeps the password in a secret of its own
#: and this one is gone on purpose (`test_managed_credentials_leave_no_generated_secret`).
SECRET_IDS = {
    "Stage": f"StageDatabaseInstanceSecretBB7462F0{_SECRET_SUFFIX}",
    "Prod": f"ProdDatabaseInstanceSecret36693E93{_SECRET_SUFFIX}",
}
#: The generated secrets the stages on RDS-managed credentials had before the switch.
RETIRED_SECRET_IDS = {
    "Test": f"TestDatabaseInstanceSecret51B611F4{_SECRET_SUFFIX}",
    NEW_STAGE: f"DevDatabaseInstanceSecret6B065A72{_SECRET_SUFFIX}",
}

#: The RDS instances the stages now on Aurora had before the switch (issue 15: Test's
#: always-on db.t4g.micro was most of its budget; its data is disposable by its config).
RETIRED_INSTANCE_IDS = {"Test": "DatabaseInstanceAA8A5FDE"}

#: (stack, CloudFormation type) -> pinned logical id(s), or stage -> id.
PINNED: dict[tuple[str, str], str | frozenset[str] | dict[str, str]] = {
    ("Network", "AWS::KMS::Key"): "NetworkFlowLogKeyF785E5F9",
    ("Network", "AWS::Logs::LogGroup"): "NetworkFlowLogGroup4F8CEEEF",
    ("Network", "AWS::S3::Bucket"): "NetworkFlowLogBucket879F01A6",
    ("Network", "AWS::EC2::VPC"): "NetworkVpc7FB7348F",
    ("Database", "AWS::KMS::Key"): "DatabaseKey5E5D9547",
    # Test's database moved to Aurora Serverless v2 at 0 ACU for its budget (issue 15): its
    # instance was replaced on purpose (`RETIRED_INSTANCE_IDS`); the cluster is pinned now.
    ("Database", "AWS::RDS::DBInstance"): {
        "Test": "DatabaseClusterWriterD43085C6",
        "Stage": "DatabaseInstanceAA8A5FDE",
        "Prod": "DatabaseInstanceAA8A5FDE",
        NEW_STAGE: "DatabaseInstanceAA8A5FDE",
    },
    ("Database", "AWS::RDS::DBCluster"): {"Test": "DatabaseCluster5B53A178"},
    ("Database", "AWS::SecretsManager::Secret"): SECRET_IDS,
    ("Compute", "AWS::KMS::Key"): "ServiceKeyB2087346",
    # The migration's service keeps the single-service layout's repository and log group;
    # the other services' are named after them (issue 11: workloads).
    ("Compute", "AWS::ECR::Repository"): frozenset(
        {
            "ServiceRepositoryB5DB2931",
            "webRepositoryACCDB201",
            "workerRepository41DC9204",  # issue 12: background work
            "cleanupRepository4B319906",
            "adminRepository6D6EA111",  # Dev
            "jobsRepository9F2308CE",  # Dev
        }
    ),
    ("Compute", "AWS::S3::Bucket"): "ServiceAccessLogBucket010FE97D",
    ("Compute", "AWS::Logs::LogGroup"): frozenset(
        {
            "ServiceLogGroupB910EE76",
            "MigrationLogGroupF62BD9AA",
            "AWSb4cf1abd4e4f4bc699441af7ccd9ec37LogGroup55AC5485",
            "webLogGroup080F5ECF",
            "workerLogGroup763437BA",
            "cleanupLogGroup5C0F1D60",
            "adminLogGroup2E3B1683",  # Dev
            "jobsLogGroup407F5D87",  # Dev
            "ClusterExecLogGroup2AEF0708",  # where a service enables ECS Exec
        }
    ),
    # Replaced, it would get a new value the distribution learns only when Edge deploys.
    ("Compute", "AWS::SecretsManager::Secret"): frozenset(
        {
            "ServiceOriginVerifySecretE8CE134B",
            # An app secret the stack creates (`create: true`; Dev): its value is the operator's.
            "AppSecretsCreateddevapipayment6af1b323D69430F9",
        }
    ),
    ("Edge", "AWS::KMS::Key"): "EdgeKeyF75FA8EB",
    ("Edge", "AWS::S3::Bucket"): frozenset(
        {"EdgeStaticBucket80118D35", "EdgeStaticLogBucket92793E50", "EdgeAccessLogBucket751571A3"}
    ),
    ("Edge", "AWS::Logs::LogGroup"): frozenset(
        {"EdgeWafLogGroup9CABFEE6", "EdgeAccessLogGroup3D2C599C"}
    ),
    # The application's files (Dev has a `storage` section).
    ("Storage", "AWS::KMS::Key"): "StorageKeyBAA9457B",
    ("Storage", "AWS::S3::Bucket"): frozenset(
        {"StorageBucket5CB7C8EA", "StorageAccessLogBucket76E80A12"}
    ),
    # Audit trails: replaced, they would start empty and orphan the old evidence.
    ("Security", "AWS::KMS::Key"): "BaselineKeyF70061C3",
    ("Security", "AWS::Logs::LogGroup"): "BaselineTrailLogGroup4C426608",
    ("Security", "AWS::S3::Bucket"): frozenset(
        {
            "BaselineTrailBucket0F7828CB",
            "BaselineConfigBucket84CCD758",
            "BaselineAccessLogBucket1039C0C9",
        }
    ),
    # The alarm topic's key; the canary's artifacts (expiring) are pinned too.
    ("Monitoring", "AWS::KMS::Key"): "MonitoringKey61F0DC42",
    ("Monitoring", "AWS::S3::Bucket"): "MonitoringCanaryBucket426C3FDE",
    # The key decrypts the retained CodeBuild logs; artifacts are disposable but pinned too.
    ("Pipeline", "AWS::KMS::Key"): "PipelineKeyF48EE773",
    ("Pipeline", "AWS::Logs::LogGroup"): "PipelineLogGroup9DA7DDE7",
    ("Pipeline", "AWS::S3::Bucket"): frozenset(
        {
            "PipelineArtifactBucket5F943F51",
            "PipelineAccessLogBucket4BD8E1ED",
            "PipelineCacheBucket13EB56ED",  # build.cache: s3 (Prod)
        }
    ),
}
STATEFUL_TYPES = {type_name for _, type_name in PINNED}


def _pinned(stage: str, stack: str, type_name: str) -> set[str]:
    pinned = PINNED.get((stack, type_name))
    if isinstance(pinned, dict):
        return {pinned[stage]} if stage in pinned else set()
    if isinstance(pinned, frozenset):
        return set(pinned)
    return {pinned} if pinned else set()


def _kept(template: dict[str, Any], type_name: str) -> set[str]:
    """Resources of `type_name` that hold data: log groups deleted with the stack (those of
    deploy-time functions) hold none worth keeping and may be renamed."""
    return {
        logical_id
        for logical_id, resource in resources(template, type_name).items()
        if type_name != "AWS::Logs::LogGroup" or resource.get("DeletionPolicy") != "Delete"
    }


@pytest.mark.parametrize("stage", STAGES)
def test_stateful_logical_ids_are_pinned(synth: Synth, stage: str) -> None:
    for (stage_name, stack), template in synth.templates.items():
        if stage_name != stage:
            continue
        for type_name in STATEFUL_TYPES:
            found = _kept(template, type_name)
            pinned = _pinned(stage, stack, type_name)
            # Every stateful resource present is pinned; none may appear unpinned.
            assert found <= pinned, f"{stage}/{stack} {type_name}: {found - pinned} not pinned"


def test_every_pinned_id_is_used(synth: Synth) -> None:
    """A pinned id that no longer appears is a table gone stale (or a resource replaced)."""
    for stack, type_name in PINNED:
        used_anywhere: set[str] = set()
        for stage in STAGES:
            if (stage, stack) not in synth.templates:
                continue
            used = _kept(synth.template(stage, stack), type_name)
            used_anywhere |= used
            missing = _pinned(stage, stack, type_name) - used
            if (stack, type_name) not in BY_CONFIG:
                assert not missing, f"{stage}/{stack} {type_name}: {missing} pinned but absent"
        missing = {i for stage in STAGES for i in _pinned(stage, stack, type_name)} - used_anywhere
        assert not missing, f"{stack} {type_name}: {missing} pinned but in no stage"


#: Log destinations differ by config (a log group or a bucket), and so does the pipeline's
#: cache bucket: each pinned id must appear in some stage, not in every one.
BY_CONFIG = {
    (stack, type_name)
    for stack in ("Network", "Edge")
    for type_name in ("AWS::Logs::LogGroup", "AWS::S3::Bucket")
} | {("Pipeline", "AWS::S3::Bucket")}
#: With `data_protection.shared_key` (Test, and Dev made from it) the Database, Compute and
#: Monitoring stacks use the Network stack's key and have none of their own
#: (`test_shared_key_keeps_the_network_key_id`).
BY_CONFIG |= {(stack, "AWS::KMS::Key") for stack in ("Database", "Compute", "Monitoring")}
#: Services, app secrets and ECS Exec differ by config too (Dev has four services).
BY_CONFIG |= {
    ("Compute", "AWS::ECR::Repository"),
    ("Compute", "AWS::Logs::LogGroup"),
    ("Compute", "AWS::SecretsManager::Secret"),
}


@pytest.mark.parametrize("stage", sorted(RETIRED_SECRET_IDS))
def test_managed_credentials_leave_no_generated_secret(synth: Synth, stage: str) -> None:
    """Test (and Dev) moved to RDS-managed credentials: the generated secret is gone, not
    renamed, and nothing else holds the password in the Database stack."""
    assert synth.configs[stage].database.credentials == "managed_by_rds"
    template = synth.template(stage, "Database")
    assert RETIRED_SECRET_IDS[stage] not in template["Resources"]
    assert not resources(template, "AWS::SecretsManager::Secret")
    # The instance's, or (Aurora) the cluster's: one resource holds the master user.
    kind = "AWS::RDS::DBCluster" if synth.configs[stage].database.aurora else "AWS::RDS::DBInstance"
    (owner,) = resources(template, kind).values()
    assert owner["Properties"]["ManageMasterUserPassword"] is True


@pytest.mark.parametrize("stage", sorted(RETIRED_INSTANCE_IDS))
def test_aurora_replaced_the_instance_on_purpose(synth: Synth, stage: str) -> None:
    """Test moved to Aurora Serverless v2 at 0 ACU: the RDS instance is gone (not renamed)
    and the cluster is disposable by config."""
    database = synth.configs[stage].database
    assert database.kind == "aurora"
    assert database.removal_policy == "destroy"
    assert database.deletion_protection is False
    template = synth.template(stage, "Database")
    assert RETIRED_INSTANCE_IDS[stage] not in template["Resources"]
    assert set(resources(template, "AWS::RDS::DBCluster")) == {"DatabaseCluster5B53A178"}


#: The keys `data_protection.shared_key` stands in for, by stack.
SHARED_KEY_REPLACES = {
    "Database": "DatabaseKey5E5D9547",
    "Compute": "ServiceKeyB2087346",
    "Monitoring": "MonitoringKey61F0DC42",
}


@pytest.mark.parametrize("stage", STAGES)
def test_shared_key_keeps_the_network_key_id(synth: Synth, stage: str) -> None:
    """One regional key, the Network stack's under its own pinned id (never renamed to the
    Compute key's legacy id), instead of the Database, Compute and Monitoring keys; without
    `shared_key` each stack keeps its own."""
    shared = synth.configs[stage].data_protection.shared_key
    network = synth.template(stage, "Network")
    assert set(resources(network, "AWS::KMS::Key")) == {"NetworkFlowLogKeyF785E5F9"}
    (key,) = resources(network, "AWS::KMS::Key").values()
    # Retained when shared: retained log groups and repositories elsewhere depend on it.
    if shared:
        assert key["DeletionPolicy"] == "Retain"
    for stack, key_id in SHARED_KEY_REPLACES.items():
        keys = set(resources(synth.template(stage, stack), "AWS::KMS::Key"))
        assert keys == (set() if shared else {key_id}), f"{stage}/{stack}"
