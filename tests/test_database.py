"""Fine-grained checks of every Database property, per environment, against its config."""

from __future__ import annotations

from typing import Any

import pytest
from aws_cdk.assertions import Match

from tests.conftest import NEW_STAGE, SHIPPED_STAGES, Synth
from tests.helpers import props, ref_id, resources

#: The stages on an RDS instance (`database.kind: instance`). Test runs Aurora Serverless v2
#: at 0 ACU since issue 15: tests/test_database_options.py checks it with the serverless
#: example's stages.
STAGES = tuple(s for s in (*SHIPPED_STAGES, NEW_STAGE) if s != "Test")
DELETION_POLICY = {"snapshot": "Snapshot", "retain": "Retain", "destroy": "Delete"}


def _instance(synth: Synth, stage: str) -> tuple[str, dict[str, Any]]:
    ((logical_id, instance),) = resources(
        synth.template(stage, "Database"), "AWS::RDS::DBInstance"
    ).items()
    return logical_id, instance


@pytest.mark.parametrize("stage", STAGES)
def test_engine_size_storage_and_availability(synth: Synth, stage: str) -> None:
    db = synth.configs[stage].database
    _, instance = _instance(synth, stage)
    p = props(instance)
    assert p["Engine"] == db.engine
    assert p["EngineVersion"].split(".")[0] == db.engine_version.split(".")[0]
    assert p["DBInstanceClass"] == f"db.{db.instance_type}"
    assert p["StorageType"] == "gp3"
    assert p["AllocatedStorage"] == str(db.allocated_storage_gb)
    assert p["MaxAllocatedStorage"] == db.max_allocated_storage_gb
    assert p["MultiAZ"] is db.multi_az
    assert p["PubliclyAccessible"] is False
    assert p["DBName"] == db.database_name


@pytest.mark.parametrize("stage", STAGES)
def test_backups_maintenance_and_data_protection(synth: Synth, stage: str) -> None:
    db = synth.configs[stage].database
    _, instance = _instance(synth, stage)
    p = props(instance)
    assert p["BackupRetentionPeriod"] == db.backup_retention_days
    assert p["PreferredBackupWindow"] == db.backup_window
    assert p["PreferredMaintenanceWindow"] == db.maintenance_window
    assert p["DeletionProtection"] is db.deletion_protection
    assert instance["DeletionPolicy"] == DELETION_POLICY[db.removal_policy]
    assert instance["UpdateReplacePolicy"] == DELETION_POLICY[db.removal_policy]
    assert p["CopyTagsToSnapshot"] is True
    assert p["AutoMinorVersionUpgrade"] is True


def test_shipped_prod_and_test_database_settings(synth: Synth) -> None:
    prod, test = synth.configs["Prod"].database, synth.configs["Test"].database
    assert (prod.multi_az, prod.deletion_protection, prod.removal_policy) == (
        True,
        True,
        "snapshot",
    )
    assert prod.backup_retention_days >= 30
    assert (test.multi_az, test.deletion_protection, test.removal_policy) == (
        False,
        False,
        "destroy",
    )
    # Test: RDS rotates its own secret (no rotation function); Stage and Prod keep theirs.
    assert test.credentials == "managed_by_rds"
    assert prod.credentials == synth.configs["Stage"].database.credentials == "rotated_by_lambda"
    assert not any(synth.configs[s].database.proxy for s in SHIPPED_STAGES)


@pytest.mark.parametrize("stage", STAGES)
def test_encryption_iam_auth_insights_monitoring_logs(synth: Synth, stage: str) -> None:
    db = synth.configs[stage].database
    template = synth.template(stage, "Database")
    (key_id,) = resources(template, "AWS::KMS::Key")
    _, instance = _instance(synth, stage)
    p = props(instance)
    assert p["StorageEncrypted"] is True
    assert ref_id(p["KmsKeyId"]) == key_id
    assert p["EnableIAMDatabaseAuthentication"] is True
    assert p.get("EnablePerformanceInsights", False) is db.performance_insights
    if db.performance_insights:
        assert ref_id(p["PerformanceInsightsKMSKeyId"]) == key_id
    assert p.get("MonitoringInterval", 0) == db.monitoring_interval_seconds
    assert p["EnableCloudwatchLogsExports"]
    log_groups = resources(template, "Custom::LogRetention") or resources(
        template, "AWS::Logs::LogGroup"
    )
    assert log_groups


@pytest.mark.parametrize("stage", STAGES)
def test_parameter_group_forces_tls(synth: Synth, stage: str) -> None:
    db = synth.configs[stage].database
    parameter = (
        {"rds.force_ssl": "1"} if db.engine == "postgres" else {"require_secure_transport": "1"}
    )
    template = synth.template(stage, "Database")
    ((group_id, group),) = resources(template, "AWS::RDS::DBParameterGroup").items()
    assert parameter.items() <= props(group)["Parameters"].items()
    _, instance = _instance(synth, stage)
    assert ref_id(props(instance)["DBParameterGroupName"]) == group_id


@pytest.mark.parametrize("stage", STAGES)
def test_credentials_in_secrets_manager_with_the_key_and_rotation(synth: Synth, stage: str) -> None:
    db = synth.configs[stage].database
    template = synth.template(stage, "Database")
    (key_id,) = resources(template, "AWS::KMS::Key")
    _, instance = _instance(synth, stage)
    if db.credentials == "managed_by_rds":
        # RDS's own master-user secret, encrypted with the database's key and rotated by RDS:
        # no secret, password, rotation function or schedule in the template.
        p = props(instance)
        assert p["ManageMasterUserPassword"] is True
        assert ref_id(p["MasterUserSecret"]["KmsKeyId"]) == key_id
        assert "MasterUserPassword" not in p
        for absent in (
            "AWS::SecretsManager::Secret",
            "AWS::SecretsManager::RotationSchedule",
            "AWS::SecretsManager::SecretTargetAttachment",
            "AWS::Serverless::Application",
        ):
            assert resources(template, absent) == {}, absent
        assert not [k for k in template["Resources"] if "Rotation" in k]
        return
    ((secret_id, secret),) = resources(template, "AWS::SecretsManager::Secret").items()
    assert ref_id(props(secret)["KmsKeyId"]) == key_id
    assert "GenerateSecretString" in props(secret)
    synth.assertions(stage, "Database").has_resource_properties(
        "AWS::SecretsManager::RotationSchedule",
        {
            "SecretId": {"Ref": Match.any_value()},
            "RotationRules": {"ScheduleExpression": f"rate({db.rotation_days} days)"},
        },
    )
    (schedule,) = resources(template, "AWS::SecretsManager::RotationSchedule").values()
    assert ref_id(props(schedule)["SecretId"]) in {
        secret_id,
        *resources(template, "AWS::SecretsManager::SecretTargetAttachment"),
    }


@pytest.mark.parametrize("stage", STAGES)
def test_instance_sits_in_isolated_subnets_behind_its_own_security_group(
    synth: Synth, stage: str
) -> None:
    template = synth.template(stage, "Database")
    ((group_id, group),) = resources(template, "AWS::RDS::DBSubnetGroup").items()
    assert len(props(group)["SubnetIds"]) == len(synth.configs[stage].network.availability_zones)
    for subnet in props(group)["SubnetIds"]:
        # Imported from the Network stack; the export name names the Isolated group.
        assert "Isolated" in str(subnet)
    _, instance = _instance(synth, stage)
    assert ref_id(props(instance)["DBSubnetGroupName"]) == group_id
    assert len(props(instance)["VPCSecurityGroups"]) == 1
