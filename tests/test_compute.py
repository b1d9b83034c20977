"""Fine-grained checks of the Compute stack per environment and per service: tasks, secrets,
load balancer routes, Service Connect, scaling, deployments, the migration that runs before
its service, and the database and storage wiring."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from config.models import EnvironmentConfig
from config.services import rule_priority, url_variable
from release_tools import migrate
from stacks.compute_stack import LEGACY_IDS, VIEWER_HOST_HEADER
from tests.conftest import NEW_STAGE, SHIPPED_STAGES, Synth
from tests.helpers import ECS_SERVICES_BY_STAGE, only, props, ref_id, resources

STAGES = (*SHIPPED_STAGES, NEW_STAGE)


def _t(synth: Synth, stage: str) -> dict[str, Any]:
    return synth.template(stage, "Compute")


def _services(synth: Synth) -> list[tuple[str, str]]:
    """(stage, service) for every ECS service of every stage (jobs: tests/test_jobs.py)."""
    return [
        (stage, name)
        for stage in STAGES
        for name, s in synth.configs[stage].services.items()
        if s.kind != "job"
    ]


SERVICES = [
    pytest.param(stage, name, id=f"{stage}-{name}")
    for stage, names in ECS_SERVICES_BY_STAGE.items()
    for name in names
]


def test_every_service_is_covered(synth: Synth) -> None:
    """SERVICES lists each stage's services (so the parametrised tests cover them all)."""
    listed = sorted((str(p.values[0]), str(p.values[1])) for p in SERVICES)
    assert sorted(_services(synth)) == listed


def _of(template: dict[str, Any], name: str, type_name: str) -> dict[str, dict[str, Any]]:
    """Resources of `type_name` that belong to service `name` (construct id = its name)."""
    prefix = name.replace("-", "")
    return {k: r for k, r in resources(template, type_name).items() if k.startswith(prefix)}


def _one(template: dict[str, Any], name: str, type_name: str) -> tuple[str, dict[str, Any]]:
    ((logical_id, resource),) = _of(template, name, type_name).items()
    return logical_id, resource


def _task(template: dict[str, Any], name: str) -> dict[str, Any]:
    return props(_one(template, name, "AWS::ECS::TaskDefinition")[1])


def _container(task: dict[str, Any], name: str = "app") -> dict[str, Any]:
    (container,) = [c for c in task["ContainerDefinitions"] if c["Name"] == name]
    return dict(container)


def _environment(container: dict[str, Any]) -> dict[str, Any]:
    return {e["Name"]: e["Value"] for e in container.get("Environment", [])}


def _database_secret(config: EnvironmentConfig) -> str:
    """What names the database secret in the output Compute reads its ARN from: the
    generated secret (its attachment), or the master-user secret RDS manages."""
    if config.database.credentials == "managed_by_rds":
        return "MasterUserSecretSecretArn"
    return "DatabaseInstanceSecret"


def _output_ref(value: Any) -> str:
    """The output name a `Fn::GetStackOutput` reads (cross-stack references)."""
    return str(value["Fn::GetStackOutput"]["OutputName"])


def _statements(template: dict[str, Any], role_id: str) -> list[dict[str, Any]]:
    statements = []
    for policy in [
        *resources(template, "AWS::IAM::Policy").values(),
        *resources(template, "AWS::IAM::ManagedPolicy").values(),
    ]:
        p = props(policy)
        if {"Ref": role_id} in p.get("Roles", []):
            statements.extend(p["PolicyDocument"]["Statement"])
    return statements


def _actions(statement: dict[str, Any]) -> list[str]:
    actions = statement["Action"]
    return [actions] if isinstance(actions, str) else list(actions)


def _owner(config: EnvironmentConfig) -> str:
    return config.migration.service


# --------------------------------------------------------------------------- cluster


@pytest.mark.parametrize("stage", STAGES)
def test_cluster_insights_and_service_connect_namespace(synth: Synth, stage: str) -> None:
    template = _t(synth, stage)
    _, cluster = only(template, "AWS::ECS::Cluster")
    mode = synth.configs[stage].compute.container_insights
    assert {"Name": "containerInsights", "Value": mode} in props(cluster)["ClusterSettings"]
    if mode == "disabled":
        # The control given up for cost is acknowledged, naming the trade-off and the saving.
        reasons = [
            v.get("reason", "")
            for pack in synth.report["pluginReports"]
            for v in pack.get("suppressedViolations", [])
            if v["ruleName"] == "AwsSolutions-ECS4"
            and any(
                c["constructPath"].startswith(f"{stage}/Compute/Cluster/")
                for c in v["violatingConstructs"]
            )
        ]
        assert reasons, "AwsSolutions-ECS4 not acknowledged"
        assert "Container Insights is off" in reasons[0]
        assert re.search(r"Saves about \$\d+\.\d\d a month", reasons[0]), reasons[0]
    # One Cloud Map namespace per environment, HTTP only (no private DNS zone to pay for).
    _, namespace = only(template, "AWS::ServiceDiscovery::HttpNamespace")
    assert props(namespace)["Name"] == synth.configs[stage].namespace


@pytest.mark.parametrize("stage", STAGES)
def test_one_ecs_service_per_configured_service(synth: Synth, stage: str) -> None:
    template = _t(synth, stage)
    services = resources(template, "AWS::ECS::Service")
    ecs_services = [n for n, s in synth.configs[stage].services.items() if s.kind != "job"]
    assert len(services) == len(ecs_services)
    for name in ecs_services:
        _one(template, name, "AWS::ECS::Service")


# --------------------------------------------------------------------------- tasks


@pytest.mark.parametrize(("stage", "name"), SERVICES)
def test_task_size_architecture_and_container(synth: Synth, stage: str, name: str) -> None:
    s = synth.configs[stage].services[name]
    template = _t(synth, stage)
    task = _task(template, name)
    assert (task["Cpu"], task["Memory"]) == (str(s.cpu), str(s.memory_mib))
    assert task["RuntimePlatform"]["CpuArchitecture"] == s.architecture
    assert task["RequiresCompatibilities"] == ["FARGATE"]
    container = _container(task)
    assert container["StopTimeout"] == s.stop_timeout_seconds
    if s.kind == "worker":  # serves no requests: no port (tests/test_workers.py)
        assert not container.get("PortMappings")
        assert "PORT" not in _environment(container)
    else:
        # Named, so Service Connect can offer it as http://<name>:<port>.
        assert container["PortMappings"] == [
            {"AppProtocol": "http", "ContainerPort": s.port, "Name": name, "Protocol": "tcp"}
        ]
        assert _environment(container)["PORT"] == str(s.port)
    if s.command:
        assert container["Command"] == list(s.command)
    # The app container runs the server, never the migration.
    assert "migrate" not in json.dumps(container.get("Command", []))
    log_group_id = ref_id(container["LogConfiguration"]["Options"]["awslogs-group"])
    log_group = template["Resources"][log_group_id]
    assert props(log_group)["RetentionInDays"] == s.log_retention_days
    assert "KmsKeyId" in props(log_group)
    assert log_group["DeletionPolicy"] == "Retain"


@pytest.mark.parametrize(("stage", "name"), SERVICES)
def test_container_health_check_from_config(synth: Synth, stage: str, name: str) -> None:
    check = synth.configs[stage].services[name].container_health_check
    container = _container(_task(_t(synth, stage), name))
    if check is None:
        assert "HealthCheck" not in container
        return
    command = ["CMD-SHELL", *check.command] if len(check.command) == 1 else ["CMD", *check.command]
    assert container["HealthCheck"] == {
        "Command": command,
        "Interval": check.interval_seconds,
        "Retries": check.retries,
        "StartPeriod": check.start_period_seconds,
        "Timeout": check.timeout_seconds,
    }


def test_the_shipped_api_has_a_container_health_check(synth: Synth) -> None:
    for stage in SHIPPED_STAGES:
        assert synth.configs[stage].services["api"].container_health_check is not None


@pytest.mark.parametrize(("stage", "name"), SERVICES)
def test_xray_daemon_where_config_enables_tracing(synth: Synth, stage: str, name: str) -> None:
    template = _t(synth, stage)
    task = _task(template, name)
    names = [c["Name"] for c in task["ContainerDefinitions"]]
    app = _container(task)
    role_id = ref_id(task["TaskRoleArn"])
    xray = [s for s in _statements(template, role_id) if "xray:PutTraceSegments" in _actions(s)]
    if not synth.configs[stage].observability.tracing:
        assert names == ["app"]
        assert xray == []
        assert "AWS_XRAY_DAEMON_ADDRESS" not in _environment(app)
        return
    assert names == ["app", "xray-daemon"]
    daemon = _container(task, "xray-daemon")
    assert daemon["Image"].startswith("public.ecr.aws/xray/aws-xray-daemon:")
    assert daemon["Essential"] is False  # tracing never stops the app
    assert (
        daemon["LogConfiguration"]["Options"]["awslogs-group"]
        == app["LogConfiguration"]["Options"]["awslogs-group"]
    )
    assert _environment(app)["AWS_XRAY_DAEMON_ADDRESS"] == "127.0.0.1:2000"
    (statement,) = xray
    assert sorted(statement["Action"]) == [
        "xray:GetSamplingRules",
        "xray:GetSamplingStatisticSummaries",
        "xray:GetSamplingTargets",
        "xray:PutTelemetryRecords",
        "xray:PutTraceSegments",
    ]


@pytest.mark.parametrize(("stage", "name"), SERVICES)
def test_plain_environment_from_config_and_the_platform(
    synth: Synth, stage: str, name: str
) -> None:
    config = synth.configs[stage]
    s = config.services[name]
    environment = _environment(_container(_task(_t(synth, stage), name)))
    for key, value in s.environment.items():
        assert environment[key] == value
    # Service Connect addresses of what it calls: `web` gets API_URL=http://api:8080.
    for target in s.connects_to:
        port = config.services[target].port
        assert environment[url_variable(target)] == f"http://{target}:{port}"
    assert ("STORAGE_BUCKET" in environment) is (s.storage != "none")
    assert ({"DB_HOST", "DB_PORT", "DB_NAME"} <= set(environment)) is s.database
    # No value in plain environment looks like a secret.
    assert not [k for k in environment if "PASSWORD" in k or "SECRET" in k or "TOKEN" in k]


def test_web_reaches_the_api_through_service_connect(synth: Synth) -> None:
    for stage in SHIPPED_STAGES:
        environment = _environment(_container(_task(_t(synth, stage), "web")))
        assert environment["API_URL"] == "http://api:8080"


# --------------------------------------------------------------------------- secrets


@pytest.mark.parametrize(("stage", "name"), SERVICES)
def test_secrets_are_ecs_secrets_never_plain_values(synth: Synth, stage: str, name: str) -> None:
    s = synth.configs[stage].services[name]
    container = _container(_task(_t(synth, stage), name))
    secrets = {x["Name"]: x["ValueFrom"] for x in container.get("Secrets", [])}
    expected = set(s.secrets) | ({"DB_USERNAME", "DB_PASSWORD"} if s.database else set())
    assert set(secrets) == expected
    if s.database:
        for variable, field in (("DB_USERNAME", ":username::"), ("DB_PASSWORD", ":password::")):
            secret_ref, suffix = secrets[variable]["Fn::Join"][1]
            assert _database_secret(synth.configs[stage]) in _output_ref(secret_ref)
            assert suffix == field
    for variable, secret in s.secrets.items():
        value = json.dumps(secrets[variable])
        if secret.ssm:
            assert f":parameter{secret.ssm}" in value
        elif secret.create:
            assert "AppSecretsCreated" in value
        else:
            assert secret.secrets_manager is not None
            assert secret.secrets_manager.removeprefix("arn:") in value
        if secret.field:
            assert f":{secret.field}::" in value


def _readable_secrets(template: dict[str, Any], name: str) -> set[str]:
    """What `name`'s execution role may read from Secrets Manager and SSM, as text."""
    role_id = ref_id(_task(template, name)["ExecutionRoleArn"])
    readable = set()
    for statement in _statements(template, role_id):
        actions = _actions(statement)
        if any(a.startswith(("secretsmanager:", "ssm:")) for a in actions):
            found = statement["Resource"]
            for resource in found if isinstance(found, list) else [found]:
                readable.add(json.dumps(resource, sort_keys=True))
    return readable


@pytest.mark.parametrize(("stage", "name"), SERVICES)
def test_execution_role_reads_exactly_its_own_secrets(synth: Synth, stage: str, name: str) -> None:
    """Least privilege: each service's execution role may read the secrets and parameters
    it lists (and the database credentials if it uses the database), nothing else."""
    config = synth.configs[stage]
    template = _t(synth, stage)
    mine = _readable_secrets(template, name)
    s = config.services[name]
    assert (any(_database_secret(config) in r for r in mine)) is s.database
    for secret in s.secrets.values():
        key = secret.ssm or ("AppSecretsCreated" if secret.create else str(secret.secrets_manager))
        key = key.removeprefix("arn:aws:secretsmanager:ap-northeast-1:111111111111:secret:")
        assert any(key.split("-AbCdEf")[0] in r for r in mine), (key, mine)
    expected = len(s.secrets) + (1 if s.database else 0)
    assert len(mine) == expected, mine


def test_one_service_cannot_read_another_services_secrets(synth: Synth) -> None:
    """Dev's api, admin and jobs each list secrets: no role can read another's."""
    config = synth.configs[NEW_STAGE]
    template = _t(synth, NEW_STAGE)
    readable = {name: _readable_secrets(template, name) for name in config.services}
    for name, service in config.services.items():
        for other, others in readable.items():
            if other == name:
                continue
            for secret in service.secrets.values():
                key = secret.ssm or str(secret.secrets_manager)
                if secret.create:
                    key = "AppSecretsCreated"
                key = key.split("-AbCdEf")[0].removeprefix(
                    "arn:aws:secretsmanager:ap-northeast-1:111111111111:secret:"
                )
                assert not any(key in r for r in others), f"{other} can read {name}'s {key}"


def test_customer_managed_key_is_decrypted_only_through_its_service(synth: Synth) -> None:
    config = synth.configs[NEW_STAGE]
    template = _t(synth, NEW_STAGE)
    for name, service in config.services.items():
        keys = {s.kms_key_arn for s in service.secrets.values() if s.kms_key_arn}
        role_id = ref_id(_task(template, name)["ExecutionRoleArn"])
        decrypts = [
            s
            for s in _statements(template, role_id)
            if "kms:Decrypt" in _actions(s) and str(s.get("Sid", "")).startswith("DecryptSecrets")
        ]
        if not keys:
            assert decrypts == []
            continue
        (statement,) = decrypts
        assert (
            set(
                statement["Resource"]
                if isinstance(statement["Resource"], list)
                else [statement["Resource"]]
            )
            == keys
        )
        assert statement["Condition"] == {
            "StringEquals": {"kms:ViaService": "secretsmanager.ap-northeast-1.amazonaws.com"}
        }


def test_created_secret_is_retained_and_holds_no_value(synth: Synth) -> None:
    template = _t(synth, NEW_STAGE)
    created = {
        k: r
        for k, r in resources(template, "AWS::SecretsManager::Secret").items()
        if k.startswith("AppSecretsCreated")
    }
    (secret,) = created.values()
    assert props(secret)["Name"] == "dev/api/payment"
    assert "SecretString" not in props(secret)
    assert secret["DeletionPolicy"] == "Retain"
    # None of the shipped environments creates one.
    for stage in SHIPPED_STAGES:
        names = resources(_t(synth, stage), "AWS::SecretsManager::Secret")
        assert not [k for k in names if k.startswith("AppSecrets")]


@pytest.mark.parametrize(("stage", "name"), SERVICES)
def test_database_key_decrypt_only_for_database_services(
    synth: Synth, stage: str, name: str
) -> None:
    template = _t(synth, stage)
    role_id = ref_id(_task(template, name)["ExecutionRoleArn"])
    # The database's key: its own, or the Network stack's (`data_protection.shared_key`).
    key = "NetworkFlowLogKey" if synth.configs[stage].data_protection.shared_key else "DatabaseKey"
    decrypts = [
        s
        for s in _statements(template, role_id)
        if "kms:Decrypt" in _actions(s) and key in json.dumps(s["Resource"])
    ]
    assert bool(decrypts) is synth.configs[stage].services[name].database
    for statement in decrypts:
        assert statement["Condition"]["StringEquals"]["kms:ViaService"]


# --------------------------------------------------------------------------- services


@pytest.mark.parametrize(("stage", "name"), SERVICES)
def test_service_capacity_subnets_and_exec(synth: Synth, stage: str, name: str) -> None:
    config = synth.configs[stage]
    s = config.services[name]
    _, service = _one(_t(synth, stage), name, "AWS::ECS::Service")
    p = props(service)
    assert p["DesiredCount"] == s.capacity.desired
    # Plain Fargate: the launch type; Fargate Spot: a capacity provider strategy instead
    # (tests/test_rollouts_capacity.py).
    provider = s.capacity_provider or config.compute.capacity_provider
    assert p.get("LaunchType") == ("FARGATE" if provider == "fargate" else None)
    assert p["EnableExecuteCommand"] is s.enable_execute_command
    network = p["NetworkConfiguration"]["AwsvpcConfiguration"]
    public = config.compute.subnets == "public"
    assert network["AssignPublicIp"] == ("ENABLED" if public else "DISABLED")
    group = "Public" if public else "Private"
    subnets = [_output_ref(x) for x in network["Subnets"]]
    assert len(subnets) == len(config.network.availability_zones)
    assert all(f"Vpc{group}Subnet" in x for x in subnets)


@pytest.mark.parametrize(("stage", "name"), SERVICES)
def test_deployment_rolls_back_on_failure_and_web_on_alarm(
    synth: Synth, stage: str, name: str
) -> None:
    s = synth.configs[stage].services[name]
    template = _t(synth, stage)
    _, service = _one(template, name, "AWS::ECS::Service")
    deployment = props(service)["DeploymentConfiguration"]
    assert deployment["DeploymentCircuitBreaker"] == {"Enable": True, "Rollback": True}
    assert deployment["MinimumHealthyPercent"] == s.deployment.min_healthy_percent
    assert deployment["MaximumPercent"] == s.deployment.max_percent
    alarms = {
        k: a
        for k, a in _of(template, name, "AWS::CloudWatch::Alarm").items()
        if "Alarm5xx" in k or "AlarmUnhealthy" in k
    }
    if s.kind != "web":
        assert "Alarms" not in deployment
        assert alarms == {}
        return
    assert deployment["Alarms"]["Enable"] is True
    assert deployment["Alarms"]["Rollback"] is True
    assert {ref_id(a) for a in deployment["Alarms"]["AlarmNames"]} == set(alarms)
    metrics = json.dumps(list(alarms.values()))
    assert "HTTPCode_Target_5XX_Count" in metrics
    assert "UnHealthyHostCount" in metrics
    five_xx = [a for a in alarms.values() if "5XX" in json.dumps(a)]
    assert [props(a)["Threshold"] for a in five_xx] == [s.deployment.alarm_5xx_threshold]


@pytest.mark.parametrize(("stage", "name"), SERVICES)
def test_deployment_strategy_per_service(synth: Synth, stage: str, name: str) -> None:
    s = synth.configs[stage].services[name]
    template = _t(synth, stage)
    _, service = _one(template, name, "AWS::ECS::Service")
    deployment = props(service)["DeploymentConfiguration"]
    target_groups = _of(template, name, "AWS::ElasticLoadBalancingV2::TargetGroup")
    if s.kind != "web":
        assert target_groups == {}
        assert not props(service).get("LoadBalancers")
        return
    if s.deployment.strategy in ("blue_green", "canary", "linear"):
        # Every traffic-shifting strategy: two groups, ECS moves the rule between them.
        assert deployment["Strategy"] == s.deployment.strategy.upper()
        assert deployment["BakeTimeInMinutes"] == s.deployment.bake_time_minutes
        (balancer,) = props(service)["LoadBalancers"]
        alternate = ref_id(balancer["AdvancedConfiguration"]["AlternateTargetGroupArn"])
        assert alternate in target_groups
        assert len(target_groups) == 2
    else:
        assert deployment.get("Strategy", "ROLLING") == "ROLLING"
        assert len(target_groups) == 1


def test_shipped_strategies_cover_every_strategy(synth: Synth) -> None:
    strategies = {
        (stage, name): s.deployment.strategy
        for stage in SHIPPED_STAGES
        for name, s in synth.configs[stage].services.items()
    }
    assert set(strategies.values()) == {"rolling", "blue_green", "canary", "linear"}
    assert strategies[("Prod", "web")] == strategies[("Prod", "api")] == "blue_green"
    assert strategies[("Stage", "api")] == "canary"
    assert strategies[("Stage", "web")] == "linear"
    assert strategies[("Test", "api")] == "rolling"


@pytest.mark.parametrize(("stage", "name"), SERVICES)
def test_scaling_on_cpu_and_memory(synth: Synth, stage: str, name: str) -> None:
    s = synth.configs[stage].services[name]
    if s.kind == "worker":
        pytest.skip("a worker scales on its queue's backlog (tests/test_workers.py)")
    if s.capacity.min == s.capacity.max:
        pytest.skip("fixed capacity: no scaling (test_fixed_capacity_has_no_scaling)")
    template = _t(synth, stage)
    _, target = _one(template, name, "AWS::ApplicationAutoScaling::ScalableTarget")
    assert (props(target)["MinCapacity"], props(target)["MaxCapacity"]) == (
        s.capacity.min,
        s.capacity.max,
    )
    policies = {
        props(p)["TargetTrackingScalingPolicyConfiguration"]["PredefinedMetricSpecification"][
            "PredefinedMetricType"
        ]: props(p)["TargetTrackingScalingPolicyConfiguration"]
        for p in _of(template, name, "AWS::ApplicationAutoScaling::ScalingPolicy").values()
    }
    assert set(policies) == {
        "ECSServiceAverageCPUUtilization",
        "ECSServiceAverageMemoryUtilization",
    }
    for metric, target_value in (
        ("ECSServiceAverageCPUUtilization", s.scaling.cpu_target_percent),
        ("ECSServiceAverageMemoryUtilization", s.scaling.memory_target_percent),
    ):
        assert policies[metric]["TargetValue"] == target_value
        assert policies[metric]["ScaleInCooldown"] == s.scaling.scale_in_cooldown_seconds
        assert policies[metric]["ScaleOutCooldown"] == s.scaling.scale_out_cooldown_seconds


@pytest.mark.parametrize(("stage", "name"), SERVICES)
def test_fixed_capacity_has_no_scaling(synth: Synth, stage: str, name: str) -> None:
    """min = max (and no backlog scaling): no scalable target, no target-tracking policies
    (their four alarms could never change the count); the service runs `desired` tasks."""
    s = synth.configs[stage].services[name]
    template = _t(synth, stage)
    targets = _of(template, name, "AWS::ApplicationAutoScaling::ScalableTarget")
    policies = _of(template, name, "AWS::ApplicationAutoScaling::ScalingPolicy")
    fixed = s.capacity.min == s.capacity.max and s.kind != "worker"
    assert (not targets and not policies) is fixed
    if fixed:
        _, service = _one(template, name, "AWS::ECS::Service")
        assert props(service)["DesiredCount"] == s.capacity.desired


def test_test_web_and_api_run_one_fixed_task(synth: Synth) -> None:
    """Issue 15 (cost): Test's web and api are fixed at one task: no scaling policies."""
    template = _t(synth, "Test")
    for name in ("web", "api"):
        assert not _of(template, name, "AWS::ApplicationAutoScaling::ScalableTarget"), name
        assert not _of(template, name, "AWS::ApplicationAutoScaling::ScalingPolicy"), name
        _, service = _one(template, name, "AWS::ECS::Service")
        assert props(service)["DesiredCount"] == 1
    # Prod still scales its web service on CPU and memory.
    assert len(_of(_t(synth, "Prod"), "web", "AWS::ApplicationAutoScaling::ScalingPolicy")) == 2


@pytest.mark.parametrize(("stage", "name"), SERVICES)
def test_service_connect(synth: Synth, stage: str, name: str) -> None:
    """Servers (backends, and whatever another service connects to) are offered as
    http://<name>:<port>; clients join the namespace; others stay out of it."""
    config = synth.configs[stage]
    s = config.services[name]
    template = _t(synth, stage)
    _, service = _one(template, name, "AWS::ECS::Service")
    found = props(service).get("ServiceConnectConfiguration")
    server = s.kind == "backend" or any(name in o.connects_to for o in config.services.values())
    if not (server or s.connects_to):
        assert found is None
        return
    assert found is not None
    connect: dict[str, Any] = found
    assert connect["Enabled"] is True
    namespace_id, _ = only(template, "AWS::ServiceDiscovery::HttpNamespace")
    assert connect["Namespace"] == {"Fn::GetAtt": [namespace_id, "Arn"]}
    if server:
        assert connect["Services"] == [
            {
                "ClientAliases": [{"DnsName": name, "Port": s.port}],
                "DiscoveryName": name,
                "PortName": name,
            }
        ]
    else:
        assert "Services" not in connect


@pytest.mark.parametrize(("stage", "name"), SERVICES)
def test_service_connect_clients_are_admitted_on_the_port(
    synth: Synth, stage: str, name: str
) -> None:
    config = synth.configs[stage]
    s = config.services[name]
    template = _t(synth, stage)

    def group_of(service_name: str) -> str:
        _, service = _one(template, service_name, "AWS::ECS::Service")
        network = props(service)["NetworkConfiguration"]["AwsvpcConfiguration"]
        return ref_id(network["SecurityGroups"][0])

    mine = group_of(name)
    admitted = {
        ref_id(props(r)["SourceSecurityGroupId"])
        for r in resources(template, "AWS::EC2::SecurityGroupIngress").values()
        if props(r)["GroupId"] == {"Fn::GetAtt": [mine, "GroupId"]}
        and props(r)["FromPort"] == s.port
        and "SourceSecurityGroupId" in props(r)
    }
    clients = {group_of(o) for o, other in config.services.items() if name in other.connects_to}
    load_balancer = {
        k for k in resources(template, "AWS::EC2::SecurityGroup") if "LoadBalancer" in k
    }
    expected = clients | (load_balancer if s.kind == "web" else set())
    assert admitted == expected


# --------------------------------------------------------------------------- migration


@pytest.mark.parametrize("stage", STAGES)
def test_only_the_owning_service_waits_for_the_migration(synth: Synth, stage: str) -> None:
    config = synth.configs[stage]
    template = _t(synth, stage)
    migration_id, _ = only(template, "Custom::DatabaseMigration")
    for name in (n for n, s in config.services.items() if s.kind != "job"):
        _, service = _one(template, name, "AWS::ECS::Service")
        waits = migration_id in service.get("DependsOn", [])
        assert waits is (name == _owner(config)), name


@pytest.mark.parametrize("stage", STAGES)
def test_migration_runs_the_owning_services_image(synth: Synth, stage: str) -> None:
    config = synth.configs[stage]
    template = _t(synth, stage)
    owner = _container(_task(template, _owner(config)))
    (migration,) = props(only_migration_task(template))["ContainerDefinitions"]
    assert migration["Name"] == "migration"
    assert migration["Image"] == owner["Image"]
    assert migration["Command"] == list(config.migration.command)
    db_secrets = [x for x in owner["Secrets"] if x["Name"].startswith("DB_")]
    assert migration["Secrets"] == db_secrets

    _, resource = only(template, "Custom::DatabaseMigration")
    p = props(resource)
    assert p["ContainerName"] == "migration"
    assert p["Command"] == list(config.migration.command)
    assert p["AssignPublicIp"] == ("true" if config.compute.subnets == "public" else "false")
    if config.pipeline:
        assert p["ImageId"] == owner["Image"]
    else:
        assert json.dumps(owner["Image"]).endswith(f'{p["ImageId"]}"}}')
    assert p["TimeoutSeconds"] == str(config.migration.timeout_minutes * 60)
    assert int(p["ServiceTimeout"]) > config.migration.timeout_minutes * 60


def only_migration_task(template: dict[str, Any]) -> dict[str, Any]:
    ((_, task),) = [
        (k, t)
        for k, t in resources(template, "AWS::ECS::TaskDefinition").items()
        if props(t)["ContainerDefinitions"][0]["Name"] == "migration"
    ]
    return task


@pytest.mark.parametrize("stage", STAGES)
def test_migration_runner_may_run_only_this_task(synth: Synth, stage: str) -> None:
    template = _t(synth, stage)
    statements = [
        s
        for logical_id, policy in resources(template, "AWS::IAM::ManagedPolicy").items()
        if logical_id.startswith("Migration")
        for s in props(policy)["PolicyDocument"]["Statement"]
    ]
    (run,) = [s for s in statements if s["Action"] == "ecs:RunTask"]
    assert "task-definition/" in json.dumps(run["Resource"])
    assert "ArnEquals" in run["Condition"]
    (pass_role,) = [s for s in statements if s["Action"] == "iam:PassRole"]
    assert pass_role["Condition"] == {
        "StringEquals": {"iam:PassedToService": "ecs-tasks.amazonaws.com"}
    }
    assert all(s["Resource"] != "*" for s in statements)


@pytest.mark.parametrize("stage", STAGES)
def test_outputs_the_migration_cli_reads(synth: Synth, stage: str) -> None:
    outputs = set(_t(synth, stage)["Outputs"])
    assert set(migrate.OUTPUT_KEYS) <= outputs
    assert "ServiceUrl" in outputs


# --------------------------------------------------------------------------- load balancer


@pytest.mark.parametrize("stage", STAGES)
def test_one_load_balancer(synth: Synth, stage: str) -> None:
    c = synth.configs[stage].compute
    template = _t(synth, stage)
    _, balancer = only(template, "AWS::ElasticLoadBalancingV2::LoadBalancer")
    p = props(balancer)
    # Behind a VPC origin (`edge.vpc_origin`, Test): internal, in the private subnets, no
    # public address; else internet-facing in the public subnets.
    internal = synth.configs[stage].edge.vpc_origin
    assert p["Scheme"] == ("internal" if internal else "internet-facing")
    subnets = "VpcPrivateSubnet" if internal else "VpcPublicSubnet"
    assert all(subnets in _output_ref(s) for s in p["Subnets"])
    attributes = {a["Key"]: a["Value"] for a in p["LoadBalancerAttributes"]}
    assert attributes["routing.http.drop_invalid_header_fields.enabled"] == "true"
    assert (
        attributes["deletion_protection.enabled"]
        == str(c.load_balancer_deletion_protection).lower()
    )
    assert attributes["access_logs.s3.enabled"] == "true"
    _, bucket = only(template, "AWS::S3::Bucket")
    assert ref_id(attributes["access_logs.s3.bucket"]) == LEGACY_IDS["access_logs"]
    (rule,) = props(bucket)["LifecycleConfiguration"]["Rules"]
    assert rule["ExpirationInDays"] == c.access_log_retention_days
    assert props(bucket)["PublicAccessBlockConfiguration"]["BlockPublicPolicy"] is True


@pytest.mark.parametrize("stage", STAGES)
def test_https_listener_answers_403_by_default(synth: Synth, stage: str) -> None:
    template = _t(synth, stage)
    (listener,) = [
        props(r) for r in resources(template, "AWS::ElasticLoadBalancingV2::Listener").values()
    ]
    # HTTPS only: CloudFront redirects viewers' HTTP and reaches the origin over HTTPS.
    assert listener["Port"] == 443
    assert listener["Protocol"] == "HTTPS"
    assert listener["SslPolicy"].startswith("ELBSecurityPolicy-TLS13-1-2")
    (certificate,) = listener["Certificates"]
    assert (
        ref_id(certificate["CertificateArn"])
        == only(template, "AWS::CertificateManager::Certificate")[0]
    )
    assert listener["DefaultActions"] == [
        {
            "FixedResponseConfig": {
                "ContentType": "text/plain",
                "MessageBody": "Forbidden",
                "StatusCode": "403",
            },
            "Type": "fixed-response",
        }
    ]


@pytest.mark.parametrize(("stage", "name"), SERVICES)
def test_listener_rule_per_web_service(synth: Synth, stage: str, name: str) -> None:
    """Path and host routes (hosts on the header CloudFront sets), always with the origin
    secret; the default service takes `/*` last; priorities from config."""
    config = synth.configs[stage]
    s = config.services[name]
    template = _t(synth, stage)
    rules = _of(template, name, "AWS::ElasticLoadBalancingV2::ListenerRule")
    if s.kind != "web":
        assert rules == {}
        return
    ((_, rule),) = rules.items()
    p = props(rule)
    assert p["Priority"] == rule_priority(name, s)
    conditions = {
        (c["Field"], c.get("HttpHeaderConfig", {}).get("HttpHeaderName")): c
        for c in p["Conditions"]
    }
    paths = conditions.pop(("path-pattern", None))
    assert paths["PathPatternConfig"]["Values"] == list(s.paths or ("/*",))
    if s.hosts:
        hosts = conditions.pop(("http-header", VIEWER_HOST_HEADER))
        assert hosts["HttpHeaderConfig"]["Values"] == list(s.hosts)
    secret = conditions.pop(("http-header", config.edge.origin_verify_header))
    assert secret["HttpHeaderConfig"]["Values"] == [
        {
            "Fn::Join": [
                "",
                [
                    "{{resolve:secretsmanager:",
                    {"Ref": LEGACY_IDS["origin_secret"]},
                    ":SecretString:::}}",
                ],
            ]
        }
    ]
    assert conditions == {}
    (action,) = p["Actions"]
    assert action["Type"] == "forward"
    if "ForwardConfig" in action:  # blue/green, canary, linear: weights over both groups
        groups = [g["TargetGroupArn"] for g in action["ForwardConfig"]["TargetGroups"]]
    else:
        groups = [action["TargetGroupArn"]]
    target_groups = _of(template, name, "AWS::ElasticLoadBalancingV2::TargetGroup")
    assert {ref_id(g) for g in groups} == set(target_groups)


@pytest.mark.parametrize("stage", STAGES)
def test_rule_priorities_are_unique_and_the_default_is_last(synth: Synth, stage: str) -> None:
    template = _t(synth, stage)
    priorities = [
        props(r)["Priority"]
        for r in resources(template, "AWS::ElasticLoadBalancingV2::ListenerRule").values()
    ]
    assert len(priorities) == len(set(priorities))
    config = synth.configs[stage]
    assert max(priorities) == rule_priority(config.default_service, config.services["web"])


@pytest.mark.parametrize(("stage", "name"), SERVICES)
def test_target_group_health_check_draining_and_stickiness(
    synth: Synth, stage: str, name: str
) -> None:
    s = synth.configs[stage].services[name]
    groups = _of(_t(synth, stage), name, "AWS::ElasticLoadBalancingV2::TargetGroup")
    assert bool(groups) is (s.kind == "web")
    for group in groups.values():
        p = props(group)
        assert p["HealthCheckPath"] == s.health_check.path
        assert p["HealthCheckIntervalSeconds"] == s.health_check.interval_seconds
        assert p["Port"] == s.port
        assert p["TargetType"] == "ip"
        attributes = {a["Key"]: a["Value"] for a in p["TargetGroupAttributes"]}
        assert attributes["deregistration_delay.timeout_seconds"] == str(
            s.deregistration_delay_seconds
        )
        if s.stickiness:
            assert attributes["stickiness.enabled"] == "true"
            assert attributes["stickiness.type"] == "lb_cookie"
            assert attributes["stickiness.lb_cookie.duration_seconds"] == str(
                s.stickiness.duration_seconds
            )
        else:
            assert attributes.get("stickiness.enabled", "false") == "false"


@pytest.mark.parametrize("stage", STAGES)
def test_origin_secret_is_generated_and_replicated_to_the_edge_region(
    synth: Synth, stage: str
) -> None:
    secret = _t(synth, stage)["Resources"][LEGACY_IDS["origin_secret"]]
    p = props(secret)
    assert p["GenerateSecretString"] == {
        "ExcludePunctuation": True,
        "IncludeSpace": False,
        "PasswordLength": 48,
    }
    assert "SecretString" not in p
    assert p["ReplicaRegions"] == [{"Region": "us-east-1"}]
    assert "KmsKeyId" in p


@pytest.mark.parametrize("stage", STAGES)
def test_load_balancer_admits_only_cloudfront(synth: Synth, stage: str) -> None:
    template = _t(synth, stage)
    group_id = next(
        k for k in resources(template, "AWS::EC2::SecurityGroup") if "LoadBalancer" in k
    )
    assert "SecurityGroupIngress" not in props(
        resources(template, "AWS::EC2::SecurityGroup")[group_id]
    )
    ingress = [
        props(r)
        for r in resources(template, "AWS::EC2::SecurityGroupIngress").values()
        if props(r)["GroupId"] == {"Fn::GetAtt": [group_id, "GroupId"]}
    ]
    (rule,) = ingress
    assert (rule["IpProtocol"], rule["FromPort"], rule["ToPort"]) == ("tcp", 443, 443)
    lookup_id = ref_id(rule["SourcePrefixListId"])
    lookup = props(template["Resources"][lookup_id])
    assert template["Resources"][lookup_id]["Type"] == "Custom::AWS"
    call = json.loads(lookup["Create"])
    assert call["action"] == "describeManagedPrefixLists"
    assert call["parameters"]["Filters"] == [
        {"Name": "prefix-list-name", "Values": ["com.amazonaws.global.cloudfront.origin-facing"]}
    ]


@pytest.mark.parametrize("stage", STAGES)
def test_certificate_and_alias_record_in_the_named_zone(synth: Synth, stage: str) -> None:
    config = synth.configs[stage]
    template = _t(synth, stage)
    _, certificate = only(template, "AWS::CertificateManager::Certificate")
    p = props(certificate)
    assert p["DomainName"] == config.compute.domain_name
    assert p["ValidationMethod"] == "DNS"
    assert p["DomainValidationOptions"] == [
        {"DomainName": config.compute.domain_name, "HostedZoneId": config.dns.hosted_zone_id}
    ]
    _, record = only(template, "AWS::Route53::RecordSet")
    assert props(record)["Type"] == "A"
    assert props(record)["Name"] == f"{config.compute.domain_name}."
    assert "AliasTarget" in props(record)


# --------------------------------------------------------------------------- images


@pytest.mark.parametrize(("stage", "name"), SERVICES)
def test_ecr_repository_per_service(synth: Synth, stage: str, name: str) -> None:
    config = synth.configs[stage]
    template = _t(synth, stage)
    repository_id = (
        LEGACY_IDS["repository"]
        if name == _owner(config)
        else _one(template, name, "AWS::ECR::Repository")[0]
    )
    repository = template["Resources"][repository_id]
    p = props(repository)
    assert repository["DeletionPolicy"] == "Retain"
    assert p["ImageScanningConfiguration"] == {"ScanOnPush": True}
    # Immutable, but for the pipeline's moving `<env>-latest` (tests/test_release.py).
    assert p["ImageTagMutability"] == (
        "IMMUTABLE_WITH_EXCLUSION" if config.pipeline else "IMMUTABLE"
    )
    assert p["EncryptionConfiguration"]["EncryptionType"] == "KMS"
    policy = json.loads(p["LifecyclePolicy"]["LifecyclePolicyText"])
    (rule,) = policy["rules"]
    assert rule["selection"]["countNumber"] == config.compute.ecr_keep_images


@pytest.mark.parametrize("stage", STAGES)
def test_the_migrations_service_keeps_the_single_service_ids(synth: Synth, stage: str) -> None:
    """An existing environment's repository (its images) and log group (its logs) stay the
    API's: the service that owns the migration keeps the single-service layout's ids."""
    config = synth.configs[stage]
    template = _t(synth, stage)
    owner = _container(_task(template, _owner(config)))
    assert ref_id(owner["LogConfiguration"]["Options"]["awslogs-group"]) == LEGACY_IDS["log_group"]
    assert LEGACY_IDS["repository"] in template["Resources"]
    # The key too, unless the environment shares the Network stack's (tests/test_logical_ids.py).
    shared = config.data_protection.shared_key
    assert (LEGACY_IDS["key"] in template["Resources"]) is not shared


# --------------------------------------------------------------------------- database


@pytest.mark.parametrize("stage", STAGES)
def test_database_admits_only_its_services_and_the_migration(synth: Synth, stage: str) -> None:
    config = synth.configs[stage]
    template = _t(synth, stage)
    port = config.database.port or 5432

    def group_of(name: str) -> str:
        _, service = _one(template, name, "AWS::ECS::Service")
        return ref_id(
            props(service)["NetworkConfiguration"]["AwsvpcConfiguration"]["SecurityGroups"][0]
        )

    users = {group_of(n) for n, s in config.services.items() if s.database and s.kind != "job"}
    # A job's task runs with its own security group.
    users |= {
        next(
            k
            for k in resources(template, "AWS::EC2::SecurityGroup")
            if k.startswith(f"{n}Security")
        )
        for n, s in config.services.items()
        if s.database and s.kind == "job"
    }
    migration_sg = ref_id(
        props(only(template, "Custom::DatabaseMigration")[1])["SecurityGroups"][0]
    )

    def admitted(group: str) -> list[dict[str, Any]]:
        return [
            props(r)
            for r in resources(template, "AWS::EC2::SecurityGroupIngress").values()
            if f"{group}SecurityGroup" in json.dumps(props(r)["GroupId"])
        ]

    # The migration reaches the writer itself; the services go through the proxy, where
    # there is one (which the database admits in its own stack), else to the database.
    to_database, to_proxy = admitted("Database"), admitted("DatabaseProxy")
    if config.database.proxy:
        assert {ref_id(r["SourceSecurityGroupId"]) for r in to_database} == {migration_sg}
        assert {ref_id(r["SourceSecurityGroupId"]) for r in to_proxy} == users
    else:
        assert {ref_id(r["SourceSecurityGroupId"]) for r in to_database} == users | {migration_sg}
        assert to_proxy == []
    assert all((r["FromPort"], r["ToPort"]) == (port, port) for r in to_database + to_proxy)


@pytest.mark.parametrize("stage", STAGES)
def test_password_rotation_redeploys_every_database_service(synth: Synth, stage: str) -> None:
    config = synth.configs[stage]
    template = _t(synth, stage)
    rules = resources(template, "AWS::Events::Rule")
    # Jobs read the password at each run's start: only services are redeployed.
    users = [n for n, s in config.services.items() if s.database and s.kind != "job"]
    rules = {k: r for k, r in rules.items() if k.startswith("RedeployOnRotation")}
    assert len(rules) == len(users)
    updated = set()
    for rule in rules.values():
        pattern = props(rule)["EventPattern"]
        assert pattern["source"] == ["aws.secretsmanager"]
        assert pattern["detail"]["eventName"] == ["RotationSucceeded"]
        (target,) = props(rule)["Targets"]
        call = json.dumps(target["Input"])
        assert '\\"action\\":\\"updateService\\"' in call
        assert '\\"forceNewDeployment\\":true' in call
        for name in users:
            service_id, _ = _one(template, name, "AWS::ECS::Service")
            if service_id in call:
                updated.add(name)
    assert updated == set(users)


# --------------------------------------------------------------------------- storage


@pytest.mark.parametrize(("stage", "name"), SERVICES)
def test_storage_access_through_the_task_role_only(synth: Synth, stage: str, name: str) -> None:
    s = synth.configs[stage].services[name]
    template = _t(synth, stage)
    role_id = ref_id(_task(template, name)["TaskRoleArn"])
    s3 = [a for st in _statements(template, role_id) for a in _actions(st) if a.startswith("s3:")]
    if s.storage == "none":
        assert s3 == []
        return
    assert "s3:GetObject*" in s3
    assert ("s3:PutObject" in s3) is (s.storage == "read_write")
    # Never the bucket's policy or its versions' deletion by key.
    assert not [a for a in s3 if a.startswith(("s3:PutBucket", "s3:DeleteBucket"))]
