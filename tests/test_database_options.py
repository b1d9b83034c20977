"""The database options (issue 14) as the session synthesizes them: the serverless-db example
(ServerlessTest: Aurora Serverless v2 pausing at 0 ACUs, RDS-managed credentials;
ServerlessProd: a reader, the rotation function, AWS Backup with a copy in a second region),
Dev (an RDS Proxy in front of its instance) and Test (RDS-managed credentials), each property
against its config. The instance kind's settings are in tests/test_database.py.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from config.database import Database
from l3_constructs.database_props import AURORA_LOG_EXPORTS
from l3_constructs.limits import AURORA_FULL_VERSIONS
from tests.conftest import EXAMPLE_STAGES, NEW_STAGE, Synth
from tests.helpers import only, props, ref_id, resources

EXAMPLE = EXAMPLE_STAGES["serverless-db"]
SERVERLESS_TEST, SERVERLESS_PROD = EXAMPLE
DELETION_POLICY = {"snapshot": "Snapshot", "retain": "Retain", "destroy": "Delete"}
#: Every stage whose database takes an option no other test module covers.
OPTION_STAGES = (*EXAMPLE, NEW_STAGE, "Test")


def _db(synth: Synth, stage: str) -> Database:
    return synth.configs[stage].database


def _cluster(synth: Synth, stage: str) -> tuple[str, dict[str, Any]]:
    return only(synth.template(stage, "Database"), "AWS::RDS::DBCluster")


def _cluster_instances(synth: Synth, stage: str) -> dict[str, dict[str, Any]]:
    """Logical id -> properties of the cluster's instances, writer first."""
    found = {
        k: props(r)
        for k, r in resources(synth.template(stage, "Database"), "AWS::RDS::DBInstance").items()
        if "DBClusterIdentifier" in props(r)
    }
    return dict(sorted(found.items(), key=lambda item: item[1]["PromotionTier"]))


def _output(value: Any) -> str:
    """The Database output a cross-stack value reads (`Fn::GetStackOutput`)."""
    return str(value["Fn::GetStackOutput"]["OutputName"])


def _environments(synth: Synth, stage: str) -> dict[str, dict[str, Any]]:
    """Container name -> its plain environment, of every task that gets DB_HOST."""
    found = {}
    for task in resources(synth.template(stage, "Compute"), "AWS::ECS::TaskDefinition").values():
        container = props(task)["ContainerDefinitions"][0]
        environment = {e["Name"]: e["Value"] for e in container.get("Environment", [])}
        if "DB_HOST" in environment:
            found[f"{props(task).get('Family', container['Name'])}/{container['Name']}"] = (
                environment
            )
    return found


# --------------------------------------------------------------------------- Aurora


@pytest.mark.parametrize("stage", EXAMPLE)
def test_aurora_cluster_from_config(synth: Synth, stage: str) -> None:
    db = _db(synth, stage)
    template = synth.template(stage, "Database")
    (key_id,) = resources(template, "AWS::KMS::Key")
    _, cluster = _cluster(synth, stage)
    p = props(cluster)
    assert p["Engine"] == "aurora-postgresql"
    assert p["EngineVersion"] == AURORA_FULL_VERSIONS[db.engine][db.engine_version]
    assert p["DatabaseName"] == db.database_name
    assert p["Port"] == 5432
    assert p["StorageEncrypted"] is True
    assert ref_id(p["KmsKeyId"]) == key_id
    assert p["EnableIAMDatabaseAuthentication"] is True
    assert p["EnableCloudwatchLogsExports"] == AURORA_LOG_EXPORTS[db.engine]
    assert p["BackupRetentionPeriod"] == db.backup_retention_days
    assert p["PreferredBackupWindow"] == db.backup_window
    assert p["PreferredMaintenanceWindow"] == db.maintenance_window
    assert p["DeletionProtection"] is db.deletion_protection
    assert p["CopyTagsToSnapshot"] is True
    assert cluster["DeletionPolicy"] == DELETION_POLICY[db.removal_policy]
    assert cluster["UpdateReplacePolicy"] == DELETION_POLICY[db.removal_policy]
    # Only the database's own security group, in the isolated subnets of every zone.
    (group_id,) = (ref_id(g) for g in p["VpcSecurityGroupIds"])
    assert group_id.startswith("DatabaseSecurityGroup")
    subnets = props(only(template, "AWS::RDS::DBSubnetGroup")[1])["SubnetIds"]
    assert len(subnets) == len(synth.configs[stage].network.availability_zones)
    assert all("Isolated" in json.dumps(s) for s in subnets)
    # TLS only: the cluster parameter group forces it.
    group_id, group = only(template, "AWS::RDS::DBClusterParameterGroup")
    assert props(group)["Parameters"] == {"rds.force_ssl": "1"}
    assert props(group)["Family"] == "aurora-postgresql16"
    assert ref_id(p["DBClusterParameterGroupName"]) == group_id


@pytest.mark.parametrize("stage", EXAMPLE)
def test_serverless_capacity_and_auto_pause(synth: Synth, stage: str) -> None:
    capacity = _db(synth, stage).serverless
    scaling = props(_cluster(synth, stage)[1])["ServerlessV2ScalingConfiguration"]
    expected: dict[str, Any] = {"MinCapacity": capacity.min_acu, "MaxCapacity": capacity.max_acu}
    if capacity.auto_pause_seconds is not None:
        expected["SecondsUntilAutoPause"] = capacity.auto_pause_seconds
    assert scaling == expected


def test_idle_test_database_pauses_and_production_never(synth: Synth) -> None:
    test = props(_cluster(synth, SERVERLESS_TEST)[1])["ServerlessV2ScalingConfiguration"]
    prod = props(_cluster(synth, SERVERLESS_PROD)[1])["ServerlessV2ScalingConfiguration"]
    assert (test["MinCapacity"], test["SecondsUntilAutoPause"]) == (0, 600)
    assert prod["MinCapacity"] == 0.5
    assert "SecondsUntilAutoPause" not in prod
    # ... and nothing else of the idle Test costs by the hour on the database's account:
    # no NAT gateway, no interface endpoint, no rotation function.
    network = synth.template(SERVERLESS_TEST, "Network")
    assert resources(network, "AWS::EC2::NatGateway") == {}
    interface = [
        r
        for r in resources(network, "AWS::EC2::VPCEndpoint").values()
        if props(r).get("VpcEndpointType") == "Interface"
    ]
    assert interface == []
    assert (
        resources(synth.template(SERVERLESS_TEST, "Database"), "AWS::Serverless::Application") == {}
    )


@pytest.mark.parametrize("stage", EXAMPLE)
def test_writer_and_readers_in_different_zones(synth: Synth, stage: str) -> None:
    db = _db(synth, stage)
    template = synth.template(stage, "Database")
    (key_id,) = resources(template, "AWS::KMS::Key")
    cluster_id, _ = _cluster(synth, stage)
    zones = synth.configs[stage].network.availability_zones
    instances = list(_cluster_instances(synth, stage).values())
    assert len(instances) == 1 + db.readers
    writer, *readers = instances
    assert (writer["PromotionTier"], writer["AvailabilityZone"]) == (0, zones[0])
    # Readers: failover targets that scale with the writer, each in another zone.
    assert [r["PromotionTier"] for r in readers] == [1] * db.readers
    assert [r["AvailabilityZone"] for r in readers] == list(zones[1 : 1 + db.readers])
    for p in instances:
        assert ref_id(p["DBClusterIdentifier"]) == cluster_id
        assert p["DBInstanceClass"] == "db.serverless"
        assert p["PubliclyAccessible"] is False
        assert p["AutoMinorVersionUpgrade"] is True
        assert p["EnablePerformanceInsights"] is db.performance_insights
        if db.performance_insights:
            assert ref_id(p["PerformanceInsightsKMSKeyId"]) == key_id
        assert p.get("MonitoringInterval", 0) == db.monitoring_interval_seconds


@pytest.mark.parametrize("stage", EXAMPLE)
def test_aurora_credentials(synth: Synth, stage: str) -> None:
    db = _db(synth, stage)
    template = synth.template(stage, "Database")
    (key_id,) = resources(template, "AWS::KMS::Key")
    p = props(_cluster(synth, stage)[1])
    schedules = resources(template, "AWS::SecretsManager::RotationSchedule")
    if db.credentials == "managed_by_rds":
        assert p["ManageMasterUserPassword"] is True
        assert ref_id(p["MasterUserSecret"]["KmsKeyId"]) == key_id
        assert "MasterUserPassword" not in p
        assert resources(template, "AWS::SecretsManager::Secret") == {}
        assert schedules == {}
        return
    secret_id, secret = only(template, "AWS::SecretsManager::Secret")
    assert ref_id(props(secret)["KmsKeyId"]) == key_id
    assert "GenerateSecretString" in props(secret)
    # Kept with the final snapshot (the rotated password lives only there).
    assert secret["DeletionPolicy"] == "Retain"
    assert secret_id in json.dumps(p["MasterUserPassword"])
    (schedule,) = schedules.values()
    assert (
        props(schedule)["RotationRules"]["ScheduleExpression"] == f"rate({db.rotation_days} days)"
    )


def test_the_example_runs_aurora_in_both_environments(synth: Synth) -> None:
    for stage in EXAMPLE:
        assert resources(synth.template(stage, "Database"), "AWS::RDS::DBCluster")
    assert _db(synth, SERVERLESS_TEST).serverless.pauses
    assert _db(synth, SERVERLESS_PROD).readers == 1


# --------------------------------------------------------------------------- services


#: The Database outputs (prefixes) each host is read from.
_INSTANCE = "PublishOutputFnGetAttDatabaseInstanceAA8A5FDEEndpointAddress"
_CLUSTER = "PublishOutputFnGetAttDatabaseCluster5B53A178EndpointAddress"
_CLUSTER_READERS = "PublishOutputFnGetAttDatabaseCluster5B53A178ReadEndpointAddress"
_PROXY = "PublishOutputFnGetAttDatabaseProxy2E989011Endpoint"


@pytest.mark.parametrize("stage", OPTION_STAGES)
def test_services_get_the_right_hosts_and_the_migration_the_writer(
    synth: Synth, stage: str
) -> None:
    db = _db(synth, stage)
    environments = _environments(synth, stage)
    migration = {k: v for k, v in environments.items() if k.endswith("/migration")}
    services = {k: v for k, v in environments.items() if k not in migration}
    assert len(migration) == 1
    assert services
    writer = _CLUSTER if db.aurora else _INSTANCE
    host = _PROXY if db.proxy else writer
    reader = _CLUSTER_READERS if db.aurora and db.readers else host
    for name, environment in services.items():
        assert _output(environment["DB_HOST"]).startswith(host), name
        assert _output(environment["DB_READER_HOST"]).startswith(reader), name
        # Behind the proxy, clients authenticate with an IAM token.
        assert environment.get("DB_AUTH") == ("iam" if db.proxy else None), name
    ((_, environment),) = migration.items()
    # The migration: the writer itself, with the password (never the proxy, no DB_AUTH).
    assert _output(environment["DB_HOST"]).startswith(writer)
    assert "DB_AUTH" not in environment
    assert "DB_READER_HOST" not in environment


@pytest.mark.parametrize("stage", ["Test", SERVERLESS_TEST])
def test_rds_managed_rotation_redeploys_every_database_service(synth: Synth, stage: str) -> None:
    """RDS rotates its own secret: the same EventBridge wiring as the rotation function's,
    on the managed secret's ARN, one rule per service that uses the database."""
    config = synth.configs[stage]
    template = synth.template(stage, "Compute")
    users = [n for n, s in config.services.items() if s.database and s.kind != "job"]
    rules = {
        k: props(r)
        for k, r in resources(template, "AWS::Events::Rule").items()
        if k.startswith("RedeployOnRotation")
    }
    assert len(rules) == len(users)
    for rule in rules.values():
        pattern = rule["EventPattern"]
        assert pattern["detail"]["eventName"] == ["RotationSucceeded"]
        (secret,) = pattern["detail"]["additionalEventData"]["SecretId"]
        assert "MasterUserSecretSecretArn" in _output(secret)
        assert '\\"forceNewDeployment\\":true' in json.dumps(rule["Targets"][0]["Input"])


# --------------------------------------------------------------------------- proxy


def test_proxy_in_front_of_the_writer(synth: Synth) -> None:
    template = synth.template(NEW_STAGE, "Database")
    (key_id,) = resources(template, "AWS::KMS::Key")
    instance_id, _ = only(template, "AWS::RDS::DBInstance")
    proxy_id, proxy = only(template, "AWS::RDS::DBProxy")
    p = props(proxy)
    assert p["RequireTLS"] is True
    assert p["EngineFamily"] == "POSTGRESQL"
    assert p["DebugLogging"] is False
    ((auth),) = p["Auth"]
    # Clients: IAM only; the proxy signs in with RDS's managed master-user secret.
    assert (auth["AuthScheme"], auth["IAMAuth"]) == ("SECRETS", "REQUIRED")
    assert auth["SecretArn"] == {"Fn::GetAtt": [instance_id, "MasterUserSecret.SecretArn"]}
    assert all("Isolated" in json.dumps(s) for s in p["VpcSubnetIds"])
    (group,) = p["VpcSecurityGroupIds"]
    proxy_group = ref_id(group)
    assert proxy_group.startswith("DatabaseProxySecurityGroup")
    _, target = only(template, "AWS::RDS::DBProxyTargetGroup")
    t = props(target)
    assert t["DBInstanceIdentifiers"] == [{"Ref": instance_id}]
    assert t["DBProxyName"] == {"Ref": proxy_id}
    assert t["ConnectionPoolConfigurationInfo"] == {"MaxConnectionsPercent": 90}
    # The proxy reaches the database's port and nothing else; the database admits it.
    egress = [
        props(r)
        for r in resources(template, "AWS::EC2::SecurityGroupEgress").values()
        if ref_id(props(r)["GroupId"]) == proxy_group
    ]
    assert [(e["FromPort"], e["ToPort"]) for e in egress] == [(5432, 5432)]
    assert ref_id(egress[0]["DestinationSecurityGroupId"]).startswith("DatabaseSecurityGroup")
    # No other way out, and no way in but the rules the users add (in their own stack).
    group_props = props(resources(template, "AWS::EC2::SecurityGroup")[proxy_group])
    assert "SecurityGroupIngress" not in group_props
    assert "SecurityGroupEgress" not in group_props
    # Its role reads this one secret and decrypts it with this key, nothing else.
    (policy,) = (
        props(r)
        for k, r in resources(template, "AWS::IAM::Policy").items()
        if k.startswith("DatabaseProxyIAMRole")
    )
    statements = policy["PolicyDocument"]["Statement"]
    assert {json.dumps(s["Resource"]) for s in statements} == {
        json.dumps({"Fn::GetAtt": [instance_id, "MasterUserSecret.SecretArn"]}),
        json.dumps({"Fn::GetAtt": [key_id, "Arn"]}),
    }


def test_only_the_database_users_reach_the_proxy_with_iam(synth: Synth) -> None:
    config = synth.configs[NEW_STAGE]
    template = synth.template(NEW_STAGE, "Compute")
    to_proxy = {
        ref_id(props(r)["SourceSecurityGroupId"])
        for r in resources(template, "AWS::EC2::SecurityGroupIngress").values()
        if "DatabaseProxySecurityGroup" in json.dumps(props(r)["GroupId"])
    }
    users = {n for n, s in config.services.items() if s.database}
    assert {g.split("Security")[0] for g in to_proxy} == users
    # Each user's task role: rds-db:connect as the master user through this proxy only.
    connects: dict[str, Any] = {}
    for policy in resources(template, "AWS::IAM::Policy").values():
        for statement in props(policy)["PolicyDocument"]["Statement"]:
            if statement["Action"] == "rds-db:connect":
                for role in props(policy)["Roles"]:
                    connects[ref_id(role)] = statement["Resource"]
    assert {r.split("TaskDefinition")[0] for r in connects} == users
    for resource in connects.values():
        prefix, output, user = resource["Fn::Join"][1]
        assert prefix == "arn:aws:rds-db:ap-northeast-1:111111111111:dbuser:"
        assert _output(output).startswith("DatabaseProxyResourceId")
        assert user == "/app_admin"
    outputs = synth.template(NEW_STAGE, "Database")["Outputs"]
    (resource_id,) = (v for k, v in outputs.items() if k.startswith("DatabaseProxyResourceId"))
    assert resource_id["Value"]["Fn::Select"][0] == 6


# --------------------------------------------------------------------------- backup


def test_daily_backup_into_a_vault_with_its_own_key(synth: Synth) -> None:
    backup = _db(synth, SERVERLESS_PROD).backup
    assert backup is not None
    template = synth.template(SERVERLESS_PROD, "Backup")
    key_id, key = only(template, "AWS::KMS::Key")
    assert props(key)["EnableKeyRotation"] is True
    assert key["DeletionPolicy"] == "Retain"
    vault_id, vault = only(template, "AWS::Backup::BackupVault")
    assert vault["DeletionPolicy"] == "Retain"
    assert ref_id(props(vault)["EncryptionKeyArn"]) == key_id
    (deny,) = props(vault)["AccessPolicy"]["Statement"]
    assert deny["Effect"] == "Deny"
    assert "backup:DeleteRecoveryPoint" in deny["Action"]
    _, plan = only(template, "AWS::Backup::BackupPlan")
    (rule,) = props(plan)["BackupPlan"]["BackupPlanRule"]
    assert props(plan)["BackupPlan"]["BackupPlanName"] == f"{SERVERLESS_PROD}-Backup-database"
    assert rule["ScheduleExpression"] == f"cron(0 {backup.start_hour_utc} * * ? *)"
    assert rule["Lifecycle"] == {"DeleteAfterDays": backup.retention_days}
    assert rule["TargetBackupVault"] == {"Fn::GetAtt": [vault_id, "BackupVaultName"]}
    (copy,) = rule["CopyActions"]
    assert copy["Lifecycle"] == {"DeleteAfterDays": backup.retention_days}
    assert copy["DestinationBackupVaultArn"]["Fn::GetStackOutput"]["StackName"] == (
        f"{SERVERLESS_PROD}-BackupCopy"
    )
    assert copy["DestinationBackupVaultArn"]["Fn::GetStackOutput"]["Region"] == (
        backup.copy_to_region
    )
    # The selection: the cluster, by its ARN.
    _, selection = only(template, "AWS::Backup::BackupSelection")
    (arn,) = props(selection)["BackupSelection"]["Resources"]
    prefix, cluster = arn["Fn::Join"][1]
    assert prefix == "arn:aws:rds:ap-northeast-1:888888888888:cluster:"
    assert _output(cluster).startswith("PublishOutputRefDatabaseCluster")


def test_copies_go_to_a_vault_of_their_own_in_the_second_region(synth: Synth) -> None:
    backup = _db(synth, SERVERLESS_PROD).backup
    assert backup is not None
    artifact = synth.artifacts[(SERVERLESS_PROD, "BackupCopy")]
    assert artifact["environment"] == f"aws://888888888888/{backup.copy_to_region}"
    template = synth.template(SERVERLESS_PROD, "BackupCopy")
    key_id, _ = only(template, "AWS::KMS::Key")
    _, vault = only(template, "AWS::Backup::BackupVault")
    assert ref_id(props(vault)["EncryptionKeyArn"]) == key_id
    assert vault["DeletionPolicy"] == "Retain"
    # No backup stack where config has no backup.
    assert (SERVERLESS_TEST, "Backup") not in synth.templates
    assert (SERVERLESS_TEST, "BackupCopy") not in synth.templates


# --------------------------------------------------------------------------- monitoring


def _alarms(synth: Synth, stage: str) -> dict[str, dict[str, Any]]:
    found = {}
    for logical_id, alarm in resources(
        synth.template(stage, "Monitoring"), "AWS::CloudWatch::Alarm"
    ).items():
        if logical_id.startswith("MonitoringRds"):
            name = logical_id.removeprefix("Monitoring")
            found[name[: name.index("Alarm")]] = props(alarm)
    return found


def _metric(alarm: dict[str, Any], name: str) -> dict[str, Any]:
    (stat,) = (m["MetricStat"] for m in alarm["Metrics"] if m.get("MetricStat"))
    assert stat["Metric"]["MetricName"] == name
    return dict(stat)


@pytest.mark.parametrize("stage", EXAMPLE)
def test_aurora_alarms_watch_the_writer_its_capacity_and_readers(synth: Synth, stage: str) -> None:
    db = _db(synth, stage)
    t = synth.configs[stage].observability.thresholds
    alarms = _alarms(synth, stage)
    expected = {"RdsCpu", "RdsConnections", "RdsCapacity"} | (
        {"RdsReplicaLag"} if db.readers else set()
    )
    assert set(alarms) == expected  # no free storage: Aurora's grows by itself
    max_connections = db.default_max_connections()
    assert alarms["RdsConnections"]["Threshold"] == (
        max_connections * t.rds_connections_percent // 100
    )
    assert alarms["RdsCapacity"]["Threshold"] == t.rds_capacity_percent
    for name, metric in (
        ("RdsCpu", "CPUUtilization"),
        ("RdsConnections", "DatabaseConnections"),
        ("RdsCapacity", "ACUUtilization"),
    ):
        dimensions = {
            d["Name"]: d["Value"] for d in _metric(alarms[name], metric)["Metric"]["Dimensions"]
        }
        assert dimensions["Role"] == "WRITER"
        assert _output(dimensions["DBClusterIdentifier"]).startswith(
            "PublishOutputRefDatabaseCluster"
        )
    if db.readers:
        lag = alarms["RdsReplicaLag"]
        _metric(lag, "AuroraReplicaLagMaximum")
        # Aurora reports milliseconds; the alarm compares seconds.
        assert [m["Expression"] for m in lag["Metrics"] if "Expression" in m] == ["lag / 1000"]
        assert lag["Threshold"] == t.rds_replica_lag_seconds


def test_serverless_max_connections_follow_max_acu(synth: Synth) -> None:
    # PostgreSQL: LEAST(memory / 9531392, 5000), memory 2 GiB per ACU.
    assert _db(synth, SERVERLESS_TEST).default_max_connections() == 450  # 2 ACUs
    assert _db(synth, SERVERLESS_PROD).default_max_connections() == 3604  # 16 ACUs


def test_proxy_availability_alarm(synth: Synth) -> None:
    alarms = _alarms(synth, NEW_STAGE)
    assert set(alarms) == {
        "RdsCpu",
        "RdsConnections",
        "RdsFreeStorage",
        "RdsProxyAvailability",
    }
    alarm = alarms["RdsProxyAvailability"]
    stat = _metric(alarm, "AvailabilityPercentage")
    dimensions = {d["Name"]: d["Value"] for d in stat["Metric"]["Dimensions"]}
    assert _output(dimensions["ProxyName"]).startswith("PublishOutputRefDatabaseProxy")
    assert (dimensions["TargetGroup"], dimensions["TargetRole"]) == ("default", "READ_WRITE")
    assert (alarm["Threshold"], alarm["ComparisonOperator"]) == (100, "LessThanThreshold")


# --------------------------------------------------------------------------- stateful ids

#: The example's stateful resources, pinned like tests/test_logical_ids.py pins the
#: shipped stages': replaced, a cluster, key, secret or vault loses its data.
EXAMPLE_PINS: dict[tuple[str, str], dict[str, frozenset[str]]] = {
    ("Database", "AWS::RDS::DBCluster"): {
        s: frozenset({"DatabaseCluster5B53A178"}) for s in EXAMPLE
    },
    ("Database", "AWS::KMS::Key"): {s: frozenset({"DatabaseKey5E5D9547"}) for s in EXAMPLE},
    ("Database", "AWS::SecretsManager::Secret"): {
        SERVERLESS_TEST: frozenset(),
        SERVERLESS_PROD: frozenset(
            {"ServerlessProdDatabaseClusterSecret4504F7473fdaad7efa858a3daf9490cf0a702aeb"}
        ),
    },
    ("Backup", "AWS::KMS::Key"): {SERVERLESS_PROD: frozenset({"VaultKeyCB88EF1A"})},
    ("Backup", "AWS::Backup::BackupVault"): {SERVERLESS_PROD: frozenset({"Vault645BC77C"})},
    ("BackupCopy", "AWS::KMS::Key"): {SERVERLESS_PROD: frozenset({"VaultKeyCB88EF1A"})},
    ("BackupCopy", "AWS::Backup::BackupVault"): {SERVERLESS_PROD: frozenset({"Vault645BC77C"})},
}


@pytest.mark.parametrize(("stack", "type_name"), EXAMPLE_PINS)
def test_example_stateful_ids_are_pinned(synth: Synth, stack: str, type_name: str) -> None:
    for stage, pinned in EXAMPLE_PINS[(stack, type_name)].items():
        assert set(resources(synth.template(stage, stack), type_name)) == pinned, stage
