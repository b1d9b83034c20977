"""`PlatformDatabase` options no stage of the session uses, in one small app of its own: an
instance with read replicas in the other zones, and a provisioned Aurora cluster with readers
behind an RDS Proxy (whose read-only endpoint serves them); their alarms; cdk-nag (AwsSolutions
and NIST 800-53 rev 5) and cfn-lint over both; and the construct's refusals.
Construct-level: one app for the module, built after the session's synth (conftest).
"""

from __future__ import annotations

import json
import subprocess
from typing import Any

import pytest

from l3_constructs.database_props import DatabaseProps, ServerlessProps
from l3_constructs.limits import default_max_connections
from tests.conftest import ROOT, Synth, cdk_json_context
from tests.helpers import only, props, ref_id, resources

ZONES = ("eu-west-1a", "eu-west-1b", "eu-west-1c")
REPLICAS = DatabaseProps(
    read_replicas=2,
    instance_type="t4g.small",
    availability_zones=ZONES,
    deletion_protection=True,
)
AURORA = DatabaseProps(
    kind="aurora",
    engine="mysql",
    engine_version="8.0",
    instance_type="r7g.large",
    readers=2,
    proxy=True,
    credentials="managed_by_rds",
    availability_zones=ZONES,
)


@pytest.fixture(scope="module")
def built(synth: Synth, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The app, synthesized with cdk-nag's packs (a finding fails the synth), and its
    template, alarms and databases."""
    del synth  # after the session's synth: see _synth_order in tests/conftest.py
    from aws_cdk import App, Environment, Stack, Validations  # noqa: PLC0415
    from aws_cdk import aws_cloudwatch_actions as actions  # noqa: PLC0415
    from aws_cdk import aws_sns as sns  # noqa: PLC0415
    from cdk_nag import AwsSolutionsChecks, NIST80053R5Checks  # noqa: PLC0415

    from l3_constructs.alarms import AlarmFactory, DatabaseSignals, database_alarms  # noqa: PLC0415
    from l3_constructs.compliance import acknowledge  # noqa: PLC0415
    from l3_constructs.database import PlatformDatabase  # noqa: PLC0415
    from l3_constructs.monitoring_props import MonitoredDatabase, MonitoringProps  # noqa: PLC0415
    from l3_constructs.network import NetworkProps, PlatformNetwork  # noqa: PLC0415

    outdir = tmp_path_factory.mktemp("database-standalone")
    app = App(context=cdk_json_context(), outdir=str(outdir))
    stack = Stack(app, "Databases", env=Environment(account="123456789012", region="eu-west-1"))
    network = PlatformNetwork(
        stack,
        "Network",
        props=NetworkProps(
            cidr="10.99.0.0/16",
            availability_zones=ZONES,
            nat="none",
            interface_endpoints=("secretsmanager",),
        ),
    )
    databases = {
        name: PlatformDatabase(
            stack,
            name,
            props=props_,
            vpc=network.vpc,
            subnets=network.isolated_subnets,
        )
        for name, props_ in (("Replicas", REPLICAS), ("Aurora", AURORA))
    }
    topic = sns.Topic(stack, "Topic", enforce_ssl=True)
    acknowledge(
        topic,
        ("AwsSolutions-SNS2", "NIST.800.53.R5-SNSEncryptedKMS"),
        "A test topic that only gives the database alarms an action; it carries no data.",
    )
    factory = AlarmFactory(actions.SnsAction(topic))
    monitored = {
        "Replicas": MonitoredDatabase(
            engine="postgres",
            instance_class="t4g.small",
            instance=databases["Replicas"].instance,
            replicas=tuple(databases["Replicas"].replicas),
        ),
        "Aurora": MonitoredDatabase(
            engine="mysql",
            instance_class="r7g.large",
            cluster_identifier=databases["Aurora"].cluster.cluster_identifier
            if databases["Aurora"].cluster
            else None,
            readers=2,
            proxy_name=databases["Aurora"].proxy.proxy.db_proxy_name
            if databases["Aurora"].proxy
            else None,
        ),
    }
    alarms = {
        name: database_alarms(factory, databases[name], MonitoringProps(), DatabaseSignals(db), 100)
        for name, db in monitored.items()
    }
    Validations.of(app).add_plugins(AwsSolutionsChecks(app), NIST80053R5Checks(app))
    app.synth()  # raises on any unacknowledged finding
    template_file = outdir / "Databases.template.json"
    return {
        "report": json.loads((outdir / "validation-report.json").read_text()),
        "template": json.loads(template_file.read_text()),
        "template_file": template_file,
        "alarms": {n: set(a) for n, a in alarms.items()},
        "hosts": {
            name: {
                "host": stack.resolve(db.host),
                "reader_host": stack.resolve(db.reader_host),
                "writer_host": stack.resolve(db.writer_host),
            }
            for name, db in databases.items()
        },
    }


def _instances(template: dict[str, Any], prefix: str) -> dict[str, dict[str, Any]]:
    return {
        k: r for k, r in resources(template, "AWS::RDS::DBInstance").items() if k.startswith(prefix)
    }


def test_read_replicas_in_the_other_zones(built: dict[str, Any]) -> None:
    template = built["template"]
    instances = _instances(template, "Replicas")
    ((primary_id, primary),) = [
        (k, r) for k, r in instances.items() if "SourceDBInstanceIdentifier" not in props(r)
    ]
    replicas = sorted(
        (k, r) for k, r in instances.items() if "SourceDBInstanceIdentifier" in props(r)
    )
    assert len(replicas) == REPLICAS.read_replicas
    # The single-AZ primary in the first zone, each replica in another.
    assert props(primary)["AvailabilityZone"] == ZONES[0]
    assert [props(r)["AvailabilityZone"] for _, r in replicas] == list(ZONES[1:])
    (key_id,) = (k for k in resources(template, "AWS::KMS::Key") if k.startswith("Replicas"))
    for _, replica in replicas:
        p = props(replica)
        assert json.dumps(p["SourceDBInstanceIdentifier"]).count(primary_id) == 1
        assert p["DBInstanceClass"] == "db.t4g.small"
        # Encrypted with the source's key: RDS (and cfn-lint) take no settings for it.
        assert "KmsKeyId" not in p
        assert "StorageEncrypted" not in p
        assert p["EnableIAMDatabaseAuthentication"] is True
        assert p["PubliclyAccessible"] is False
        assert ref_id(p["DBParameterGroupName"]) == ref_id(props(primary)["DBParameterGroupName"])
        assert p["VPCSecurityGroups"] == props(primary)["VPCSecurityGroups"]
        # A copy of the primary's data: deletable when read_replicas goes down.
        assert p["DeletionProtection"] is False
        assert replica["DeletionPolicy"] == "Delete"
    assert props(primary)["DeletionProtection"] is True
    assert props(primary)["StorageEncrypted"] is True
    assert ref_id(props(primary)["KmsKeyId"]) == key_id


def test_readers_host_is_the_first_replica(built: dict[str, Any]) -> None:
    hosts = built["hosts"]["Replicas"]
    assert hosts["host"] == hosts["writer_host"]
    assert hosts["writer_host"]["Fn::GetAtt"][0].startswith("ReplicasInstance")
    assert hosts["reader_host"]["Fn::GetAtt"][0].startswith("ReplicasReplica1")


def test_provisioned_aurora_readers_and_proxy(built: dict[str, Any]) -> None:
    template = built["template"]
    _, cluster = only(template, "AWS::RDS::DBCluster")
    p = props(cluster)
    assert (p["Engine"], p["EngineVersion"]) == ("aurora-mysql", "8.0.mysql_aurora.3.12.0")
    assert "ServerlessV2ScalingConfiguration" not in p
    assert p["ManageMasterUserPassword"] is True
    writer, *readers = sorted(
        (props(r) for r in _instances(template, "AuroraCluster").values()),
        key=lambda r: (r["PromotionTier"], r["AvailabilityZone"]),
    )
    assert (writer["DBInstanceClass"], writer["AvailabilityZone"]) == ("db.r7g.large", ZONES[0])
    assert [(r["DBInstanceClass"], r["PromotionTier"]) for r in readers] == [
        ("db.r7g.large", 1)
    ] * 2
    assert sorted(r["AvailabilityZone"] for r in readers) == list(ZONES[1:])
    # The cluster parameter group takes ON for the MySQL boolean.
    (group,) = resources(template, "AWS::RDS::DBClusterParameterGroup").values()
    assert props(group)["Parameters"]["require_secure_transport"] == "ON"
    # The proxy targets the cluster, after its instances, and serves the readers read-only.
    _, target = only(template, "AWS::RDS::DBProxyTargetGroup")
    assert props(target)["DBClusterIdentifiers"] == [
        {"Ref": only(template, "AWS::RDS::DBCluster")[0]}
    ]
    assert {d for d in target["DependsOn"] if d.startswith("AuroraCluster")} >= set(
        _instances(template, "AuroraCluster")
    )
    _, endpoint = only(template, "AWS::RDS::DBProxyEndpoint")
    assert props(endpoint)["TargetRole"] == "READ_ONLY"
    _, proxy = only(template, "AWS::RDS::DBProxy")
    assert props(proxy)["EngineFamily"] == "MYSQL"
    assert props(proxy)["Auth"][0]["IAMAuth"] == "REQUIRED"
    hosts = built["hosts"]["Aurora"]
    assert hosts["host"]["Fn::GetAtt"][1] == "Endpoint"
    assert hosts["reader_host"]["Fn::GetAtt"][0].startswith("AuroraProxyReadOnly")
    assert hosts["writer_host"]["Fn::GetAtt"] == [
        only(template, "AWS::RDS::DBCluster")[0],
        "Endpoint.Address",
    ]


def test_alarms_per_replica_and_for_aurora_readers_and_proxy(built: dict[str, Any]) -> None:
    assert built["alarms"]["Replicas"] == {
        "RdsCpu",
        "RdsConnections",
        "RdsFreeStorage",
        "RdsReplica1Lag",
        "RdsReplica2Lag",
    }
    assert built["alarms"]["Aurora"] == {
        "RdsCpu",
        "RdsConnections",
        "RdsReplicaLag",
        "RdsProxyAvailability",
    }
    lags = {
        k: props(r)
        for k, r in resources(built["template"], "AWS::CloudWatch::Alarm").items()
        if "Replica1Lag" in k
    }
    ((_, lag),) = lags.items()
    (metric,) = lag["Metrics"]
    assert metric["MetricStat"]["Metric"]["MetricName"] == "ReplicaLag"
    ((dimension),) = metric["MetricStat"]["Metric"]["Dimensions"]
    assert dimension["Name"] == "DBInstanceIdentifier"
    assert ref_id(dimension["Value"]).startswith("ReplicasReplica1")
    assert lag["Threshold"] == 60


def test_nag_acknowledgments_sit_on_their_constructs(built: dict[str, Any]) -> None:
    """cdk-nag found nothing left (the synth would have failed) and every acknowledgment
    sits on the construct it concerns, never on the stack."""
    acknowledged = [
        (report["pluginName"], ack["ruleName"], ack["acknowledgedAt"])
        for report in built["report"]["pluginReports"]
        for ack in report.get("suppressedViolations", [])
    ]
    assert acknowledged
    assert [a for a in acknowledged if a[2] == "Databases"] == []
    assert all(not report.get("violations") for report in built["report"]["pluginReports"])


def test_cfn_lint_finds_nothing(built: dict[str, Any]) -> None:
    result = subprocess.run(
        [
            str(ROOT / ".venv" / "bin" / "cfn-lint"),
            "--non-zero-exit-code",
            "informational",
            "--",
            str(built["template_file"]),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_aurora_max_connections() -> None:
    # Aurora MySQL: GREATEST(log2(mem/805306368)*45, log2(mem/8187281408)*1000).
    assert default_max_connections("mysql", "r7g.large", aurora=True) == 1069  # 16 GiB
    assert default_max_connections("mysql", "serverless", aurora=True, max_acu=8) == 1069
    assert default_max_connections("postgres", "serverless", aurora=True, max_acu=1) == 225
    with pytest.raises(ValueError, match="max_acu"):
        default_max_connections("postgres", "serverless", aurora=True)


@pytest.mark.parametrize(
    ("props_", "message"),
    [
        (DatabaseProps(kind="aurora", instance_type="t4g.micro"), "no Aurora instance class"),
        (DatabaseProps(readers=1), "Aurora's"),
        (DatabaseProps(read_replicas=1, credentials="managed_by_rds"), "no read replica"),
        (DatabaseProps(proxy=True, read_replicas=1), "not read replicas"),
        (
            DatabaseProps(
                kind="aurora",
                instance_type="serverless",
                proxy=True,
                serverless=ServerlessProps(min_acu=0),
            ),
            "from pausing",
        ),
        (
            DatabaseProps(
                kind="aurora",
                instance_type="serverless",
                serverless=ServerlessProps(min_acu=4, max_acu=2),
            ),
            "min > max",
        ),
        (
            DatabaseProps(
                kind="aurora",
                instance_type="serverless",
                serverless=ServerlessProps(min_acu=1, auto_pause_seconds=600),
            ),
            "auto-pause needs min_acu 0",
        ),
        (DatabaseProps(kind="aurora", instance_type="serverless", multi_az=True), "multi_az"),
    ],
)
def test_the_construct_refuses_what_rds_cannot_build(
    synth: Synth, props_: DatabaseProps, message: str
) -> None:
    del synth  # after the session's synth: see _synth_order in tests/conftest.py
    from aws_cdk import App, Stack  # noqa: PLC0415
    from aws_cdk import aws_ec2 as ec2  # noqa: PLC0415

    from l3_constructs.database import PlatformDatabase  # noqa: PLC0415

    stack = Stack(App(), "Refused")
    vpc = ec2.Vpc(stack, "Vpc", availability_zones=list(ZONES[:2]))
    with pytest.raises(ValueError, match=message):
        PlatformDatabase(
            stack,
            "Database",
            props=props_,
            vpc=vpc,
            subnets=ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_ISOLATED),
        )


def test_zones_go_round_the_others() -> None:
    zones = DatabaseProps(availability_zones=ZONES)
    assert [zones.zone(i) for i in range(5)] == [
        "eu-west-1a",
        "eu-west-1b",
        "eu-west-1c",
        "eu-west-1b",
        "eu-west-1c",
    ]
    assert DatabaseProps().zone(1) is None
