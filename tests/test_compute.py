"""Fine-grained checks of the Compute stack per environment: service, load balancer,
scaling, deployments, the migration that runs before them, and the database wiring."""

from __future__ import annotations

import json
from typing import Any

import pytest

from scripts import migrate
from tests.conftest import NEW_STAGE, SHIPPED_STAGES, Synth
from tests.helpers import only, props, ref_id, resources

STAGES = (*SHIPPED_STAGES, NEW_STAGE)


def _t(synth: Synth, stage: str) -> dict[str, Any]:
    return synth.template(stage, "Compute")


def _task_definitions(template: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Container name -> task definition properties."""
    found = {}
    for task in resources(template, "AWS::ECS::TaskDefinition").values():
        # Named after their first container (the app's tasks may add the X-Ray daemon).
        found[props(task)["ContainerDefinitions"][0]["Name"]] = props(task)
    return found


def _container(task: dict[str, Any], name: str) -> dict[str, Any]:
    (container,) = [c for c in task["ContainerDefinitions"] if c["Name"] == name]
    return dict(container)


@pytest.mark.parametrize("stage", STAGES)
def test_xray_daemon_where_config_enables_tracing(synth: Synth, stage: str) -> None:
    template = _t(synth, stage)
    task = _task_definitions(template)["app"]
    names = [c["Name"] for c in task["ContainerDefinitions"]]
    app = _container(task, "app")
    role_id = ref_id(task["TaskRoleArn"])
    xray = [s for s in _statements(template, role_id) if "xray:PutTraceSegments" in s["Action"]]
    if not synth.configs[stage].observability.tracing:
        assert names == ["app"]
        assert xray == []
        assert "AWS_XRAY_DAEMON_ADDRESS" not in json.dumps(app.get("Environment", []))
        return
    assert names == ["app", "xray-daemon"]
    daemon = _container(task, "xray-daemon")
    assert daemon["Image"].startswith("public.ecr.aws/xray/aws-xray-daemon:")
    assert daemon["Essential"] is False  # tracing never stops the app
    assert daemon["PortMappings"] == [{"ContainerPort": 2000, "Name": "xray", "Protocol": "udp"}]
    assert (
        daemon["LogConfiguration"]["Options"]["awslogs-group"]
        == (app["LogConfiguration"]["Options"]["awslogs-group"])
    )
    assert {"Name": "AWS_XRAY_DAEMON_ADDRESS", "Value": "127.0.0.1:2000"} in app["Environment"]
    (statement,) = xray
    assert sorted(statement["Action"]) == [
        "xray:GetSamplingRules",
        "xray:GetSamplingStatisticSummaries",
        "xray:GetSamplingTargets",
        "xray:PutTelemetryRecords",
        "xray:PutTraceSegments",
    ]
    # The migration task traces nothing.
    migration = _task_definitions(template)["migration"]
    assert [c["Name"] for c in migration["ContainerDefinitions"]] == ["migration"]


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


@pytest.mark.parametrize("stage", STAGES)
def test_cluster_has_container_insights(synth: Synth, stage: str) -> None:
    _, cluster = only(_t(synth, stage), "AWS::ECS::Cluster")
    assert {"Name": "containerInsights", "Value": "enhanced"} in props(cluster)["ClusterSettings"]


@pytest.mark.parametrize("stage", STAGES)
def test_task_size_architecture_and_app_container(synth: Synth, stage: str) -> None:
    c = synth.configs[stage].compute
    template = _t(synth, stage)
    task = _task_definitions(template)["app"]
    assert (task["Cpu"], task["Memory"]) == (str(c.cpu), str(c.memory_mib))
    assert task["RuntimePlatform"]["CpuArchitecture"] == c.architecture
    assert task["RequiresCompatibilities"] == ["FARGATE"]
    container = _container(task, "app")
    assert container["PortMappings"] == [{"ContainerPort": c.container_port, "Protocol": "tcp"}]
    # The app container runs the server, never the migration.
    assert "migrate" not in json.dumps(container.get("Command", []))
    log_group_id = ref_id(container["LogConfiguration"]["Options"]["awslogs-group"])
    log_group = template["Resources"][log_group_id]
    assert props(log_group)["RetentionInDays"] == c.log_retention_days
    assert "KmsKeyId" in props(log_group)


@pytest.mark.parametrize("stage", STAGES)
@pytest.mark.parametrize("container_name", ["app", "migration"])
def test_database_credentials_are_ecs_secrets_never_plain_values(
    synth: Synth, stage: str, container_name: str
) -> None:
    task = _task_definitions(_t(synth, stage))[container_name]
    container = _container(task, container_name)
    secrets = {s["Name"]: s["ValueFrom"]["Fn::Join"][1] for s in container["Secrets"]}
    assert set(secrets) == {"DB_USERNAME", "DB_PASSWORD"}
    for name, field in (("DB_USERNAME", ":username::"), ("DB_PASSWORD", ":password::")):
        secret_ref, suffix = secrets[name]
        assert "DatabaseInstanceSecret" in _output_ref(secret_ref)
        assert suffix == field
    plain = {e["Name"] for e in container["Environment"]}
    assert plain >= {"DB_HOST", "DB_PORT", "DB_NAME"}
    assert not {n for n in plain if "PASSWORD" in n or "SECRET" in n}


@pytest.mark.parametrize("stage", STAGES)
def test_execution_role_reads_only_the_database_secret(synth: Synth, stage: str) -> None:
    template = _t(synth, stage)
    task = _task_definitions(template)["app"]
    statements = _statements(template, ref_id(task["ExecutionRoleArn"]))
    secret_reads = [s for s in statements if "secretsmanager:GetSecretValue" in s["Action"]]
    assert secret_reads
    for statement in secret_reads:
        assert "DatabaseInstanceSecret" in _output_ref(statement["Resource"])
    decrypts = [s for s in statements if "kms:Decrypt" in s["Action"]]
    assert decrypts
    for statement in decrypts:
        assert "DatabaseKey" in _output_ref(statement["Resource"])
        assert statement["Condition"]["StringEquals"]["kms:ViaService"]


@pytest.mark.parametrize("stage", STAGES)
def test_service_capacity_subnets_and_exec(synth: Synth, stage: str) -> None:
    c = synth.configs[stage].compute
    _, service = only(_t(synth, stage), "AWS::ECS::Service")
    p = props(service)
    assert p["DesiredCount"] == c.capacity.desired
    assert p["LaunchType"] == "FARGATE"
    assert p["EnableExecuteCommand"] is c.enable_execute_command
    network = p["NetworkConfiguration"]["AwsvpcConfiguration"]
    public = c.subnets == "public"
    assert network["AssignPublicIp"] == ("ENABLED" if public else "DISABLED")
    group = "Public" if public else "Private"
    subnets = [_output_ref(s) for s in network["Subnets"]]
    assert len(subnets) == len(synth.configs[stage].network.availability_zones)
    assert all(f"Vpc{group}Subnet" in s for s in subnets)


@pytest.mark.parametrize("stage", STAGES)
def test_deployment_rolls_back_on_failure_and_on_alarm(synth: Synth, stage: str) -> None:
    d = synth.configs[stage].compute.deployment
    template = _t(synth, stage)
    _, service = only(template, "AWS::ECS::Service")
    config = props(service)["DeploymentConfiguration"]
    assert config["DeploymentCircuitBreaker"] == {"Enable": True, "Rollback": True}
    assert config["MinimumHealthyPercent"] == d.min_healthy_percent
    assert config["MaximumPercent"] == d.max_percent
    alarms = resources(template, "AWS::CloudWatch::Alarm")
    assert config["Alarms"]["Enable"] is True
    assert config["Alarms"]["Rollback"] is True
    assert {ref_id(a) for a in config["Alarms"]["AlarmNames"]} == set(alarms)
    metrics = json.dumps(list(alarms.values()))
    assert "HTTPCode_Target_5XX_Count" in metrics
    assert "UnHealthyHostCount" in metrics
    five_xx = [a for a in alarms.values() if "5XX" in json.dumps(a)]
    assert [props(a)["Threshold"] for a in five_xx] == [d.alarm_5xx_threshold]


@pytest.mark.parametrize("stage", STAGES)
def test_deployment_strategy_from_config(synth: Synth, stage: str) -> None:
    d = synth.configs[stage].compute.deployment
    template = _t(synth, stage)
    _, service = only(template, "AWS::ECS::Service")
    config = props(service)["DeploymentConfiguration"]
    target_groups = resources(template, "AWS::ElasticLoadBalancingV2::TargetGroup")
    if d.strategy == "blue_green":
        assert config["Strategy"] == "BLUE_GREEN"
        assert config["BakeTimeInMinutes"] == d.bake_time_minutes
        (balancer,) = props(service)["LoadBalancers"]
        alternate = ref_id(balancer["AdvancedConfiguration"]["AlternateTargetGroupArn"])
        assert alternate in target_groups
        assert len(target_groups) == 2
    else:
        assert config.get("Strategy", "ROLLING") == "ROLLING"
        assert len(target_groups) == 1


def test_shipped_strategies_cover_rolling_and_blue_green(synth: Synth) -> None:
    strategies = {s: synth.configs[s].compute.deployment.strategy for s in SHIPPED_STAGES}
    assert strategies == {"Test": "rolling", "Stage": "rolling", "Prod": "blue_green"}


@pytest.mark.parametrize("stage", STAGES)
def test_service_updates_only_after_the_migration(synth: Synth, stage: str) -> None:
    template = _t(synth, stage)
    migration_id, _ = only(template, "Custom::DatabaseMigration")
    _, service = only(template, "AWS::ECS::Service")
    assert migration_id in service["DependsOn"]


@pytest.mark.parametrize("stage", STAGES)
def test_migration_task_and_custom_resource(synth: Synth, stage: str) -> None:
    config = synth.configs[stage]
    template = _t(synth, stage)
    tasks = _task_definitions(template)
    app = _container(tasks["app"], "app")
    (migration,) = tasks["migration"]["ContainerDefinitions"]
    assert migration["Image"] == app["Image"]
    assert migration["Command"] == list(config.migration.command)
    assert migration["Secrets"] == app["Secrets"]

    _, resource = only(template, "Custom::DatabaseMigration")
    p = props(resource)
    task_ids = {
        props(t)["ContainerDefinitions"][0]["Name"]: k
        for k, t in resources(template, "AWS::ECS::TaskDefinition").items()
    }
    # The revision ARN: a rollback re-runs the previous revision, not the failing one.
    assert p["TaskDefinition"] == {"Ref": task_ids["migration"]}
    assert p["ContainerName"] == "migration"
    assert p["Command"] == list(config.migration.command)
    assert p["AssignPublicIp"] == ("true" if config.compute.subnets == "public" else "false")
    # Keyed on the image: a new image (or command) re-runs the migration. With a pipeline
    # the image is chosen at deploy time (the release record), and so is the key.
    if config.pipeline:
        assert p["ImageId"] == app["Image"]
    else:
        assert json.dumps(app["Image"]).endswith(f'{p["ImageId"]}"}}')
    # The handler stops the task at TimeoutSeconds; CloudFormation waits longer than that.
    assert p["TimeoutSeconds"] == str(config.migration.timeout_minutes * 60)
    assert int(p["ServiceTimeout"]) > config.migration.timeout_minutes * 60


@pytest.mark.parametrize("stage", STAGES)
def test_migration_runner_may_run_only_this_task(synth: Synth, stage: str) -> None:
    template = _t(synth, stage)
    statements = [
        s
        for policy in resources(template, "AWS::IAM::ManagedPolicy").values()
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


@pytest.mark.parametrize("stage", STAGES)
def test_scaling_on_cpu_and_memory(synth: Synth, stage: str) -> None:
    c = synth.configs[stage].compute
    template = _t(synth, stage)
    _, target = only(template, "AWS::ApplicationAutoScaling::ScalableTarget")
    assert (props(target)["MinCapacity"], props(target)["MaxCapacity"]) == (
        c.capacity.min,
        c.capacity.max,
    )
    policies = {
        props(p)["TargetTrackingScalingPolicyConfiguration"]["PredefinedMetricSpecification"][
            "PredefinedMetricType"
        ]: props(p)["TargetTrackingScalingPolicyConfiguration"]
        for p in resources(template, "AWS::ApplicationAutoScaling::ScalingPolicy").values()
    }
    assert set(policies) == {
        "ECSServiceAverageCPUUtilization",
        "ECSServiceAverageMemoryUtilization",
    }
    s = c.scaling
    for metric, target_value in (
        ("ECSServiceAverageCPUUtilization", s.cpu_target_percent),
        ("ECSServiceAverageMemoryUtilization", s.memory_target_percent),
    ):
        assert policies[metric]["TargetValue"] == target_value
        assert policies[metric]["ScaleInCooldown"] == s.scale_in_cooldown_seconds
        assert policies[metric]["ScaleOutCooldown"] == s.scale_out_cooldown_seconds


def test_shipped_scaling_and_draining(synth: Synth) -> None:
    compute = {s: synth.configs[s].compute for s in SHIPPED_STAGES}
    assert compute["Stage"].scaling.cpu_target_percent == 70
    assert compute["Prod"].scaling.cpu_target_percent == 60
    assert compute["Test"].deregistration_delay_seconds == 30
    assert compute["Prod"].deregistration_delay_seconds == 60


@pytest.mark.parametrize("stage", STAGES)
def test_load_balancer(synth: Synth, stage: str) -> None:
    c = synth.configs[stage].compute
    template = _t(synth, stage)
    _, balancer = only(template, "AWS::ElasticLoadBalancingV2::LoadBalancer")
    p = props(balancer)
    assert p["Scheme"] == "internet-facing"
    assert all("VpcPublicSubnet" in _output_ref(s) for s in p["Subnets"])
    attributes = {a["Key"]: a["Value"] for a in p["LoadBalancerAttributes"]}
    assert attributes["routing.http.drop_invalid_header_fields.enabled"] == "true"
    assert (
        attributes["deletion_protection.enabled"]
        == str(c.load_balancer_deletion_protection).lower()
    )
    assert attributes["access_logs.s3.enabled"] == "true"
    _, bucket = only(template, "AWS::S3::Bucket")
    assert ref_id(attributes["access_logs.s3.bucket"]) == only(template, "AWS::S3::Bucket")[0]
    (rule,) = props(bucket)["LifecycleConfiguration"]["Rules"]
    assert rule["ExpirationInDays"] == c.access_log_retention_days
    assert props(bucket)["PublicAccessBlockConfiguration"]["BlockPublicPolicy"] is True


@pytest.mark.parametrize("stage", STAGES)
def test_https_listener_serves_only_requests_with_the_origin_secret(
    synth: Synth, stage: str
) -> None:
    config = synth.configs[stage]
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
    # A direct hit (no secret header) gets 403.
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
    _, rule = only(template, "AWS::ElasticLoadBalancingV2::ListenerRule")
    (condition,) = props(rule)["Conditions"]
    secret_id, _ = only(template, "AWS::SecretsManager::Secret")
    assert condition == {
        "Field": "http-header",
        "HttpHeaderConfig": {
            "HttpHeaderName": config.edge.origin_verify_header,
            # A dynamic reference: the value is resolved at deploy time, never in the template.
            "Values": [
                {
                    "Fn::Join": [
                        "",
                        ["{{resolve:secretsmanager:", {"Ref": secret_id}, ":SecretString:::}}"],
                    ]
                }
            ],
        },
    }
    (action,) = props(rule)["Actions"]
    assert action["Type"] == "forward"
    if "ForwardConfig" in action:  # blue/green: weights over both target groups
        groups = [g["TargetGroupArn"] for g in action["ForwardConfig"]["TargetGroups"]]
    else:
        groups = [action["TargetGroupArn"]]
    target_groups = resources(template, "AWS::ElasticLoadBalancingV2::TargetGroup")
    assert {ref_id(g) for g in groups} == set(target_groups)


@pytest.mark.parametrize("stage", STAGES)
def test_origin_secret_is_generated_and_replicated_to_the_edge_region(
    synth: Synth, stage: str
) -> None:
    _, secret = only(_t(synth, stage), "AWS::SecretsManager::Secret")
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
        k
        for k, r in resources(template, "AWS::EC2::SecurityGroup").items()
        if "LoadBalancerSecurityGroup" in k
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
    # The prefix list's id is looked up by name at deploy time (ids differ per region).
    lookup_id = ref_id(rule["SourcePrefixListId"])
    lookup = props(template["Resources"][lookup_id])
    assert template["Resources"][lookup_id]["Type"] == "Custom::AWS"
    call = json.loads(lookup["Create"])
    assert call["action"] == "describeManagedPrefixLists"
    assert call["parameters"]["Filters"] == [
        {"Name": "prefix-list-name", "Values": ["com.amazonaws.global.cloudfront.origin-facing"]}
    ]
    assert rule["SourcePrefixListId"]["Fn::GetAtt"][1] == "PrefixLists.0.PrefixListId"


@pytest.mark.parametrize("stage", STAGES)
def test_target_group_health_check_and_draining(synth: Synth, stage: str) -> None:
    c = synth.configs[stage].compute
    for group in resources(_t(synth, stage), "AWS::ElasticLoadBalancingV2::TargetGroup").values():
        p = props(group)
        assert p["HealthCheckPath"] == c.health_check.path
        assert p["HealthCheckIntervalSeconds"] == c.health_check.interval_seconds
        assert p["TargetType"] == "ip"
        attributes = {a["Key"]: a["Value"] for a in p["TargetGroupAttributes"]}
        assert attributes["deregistration_delay.timeout_seconds"] == str(
            c.deregistration_delay_seconds
        )


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
    assert props(record)["HostedZoneId"] == config.dns.hosted_zone_id
    assert "AliasTarget" in props(record)


@pytest.mark.parametrize("stage", STAGES)
def test_ecr_repository(synth: Synth, stage: str) -> None:
    c = synth.configs[stage].compute
    _, repository = only(_t(synth, stage), "AWS::ECR::Repository")
    p = props(repository)
    assert p["ImageScanningConfiguration"] == {"ScanOnPush": True}
    # Immutable, but for the pipeline's moving `<env>-latest` (tests/test_release.py).
    assert p["ImageTagMutability"] == (
        "IMMUTABLE_WITH_EXCLUSION" if synth.configs[stage].pipeline else "IMMUTABLE"
    )
    assert p["EncryptionConfiguration"]["EncryptionType"] == "KMS"
    policy = json.loads(p["LifecyclePolicy"]["LifecyclePolicyText"])
    (rule,) = policy["rules"]
    assert rule["selection"]["countType"] == "imageCountMoreThan"
    assert rule["selection"]["countNumber"] == c.ecr_keep_images


@pytest.mark.parametrize("stage", STAGES)
def test_database_admits_only_the_service_and_the_migration(synth: Synth, stage: str) -> None:
    template = _t(synth, stage)
    port = synth.configs[stage].database.port or 5432
    service_sg = ref_id(
        props(only(template, "AWS::ECS::Service")[1])["NetworkConfiguration"][
            "AwsvpcConfiguration"
        ]["SecurityGroups"][0]
    )
    migration_sg = ref_id(
        props(only(template, "Custom::DatabaseMigration")[1])["SecurityGroups"][0]
    )
    to_database = [
        props(r)
        for r in resources(template, "AWS::EC2::SecurityGroupIngress").values()
        if "DatabaseSecurityGroup" in json.dumps(props(r)["GroupId"])
    ]
    assert {ref_id(r["SourceSecurityGroupId"]) for r in to_database} == {service_sg, migration_sg}
    assert all((r["FromPort"], r["ToPort"]) == (port, port) for r in to_database)
    database = synth.template(stage, "Database")
    for group in resources(database, "AWS::EC2::SecurityGroup").values():
        assert not any("CidrIp" in rule for rule in props(group).get("SecurityGroupIngress", []))


@pytest.mark.parametrize("stage", STAGES)
def test_password_rotation_forces_a_new_deployment(synth: Synth, stage: str) -> None:
    template = _t(synth, stage)
    _, rule = only(template, "AWS::Events::Rule")
    pattern = props(rule)["EventPattern"]
    assert pattern["source"] == ["aws.secretsmanager"]
    assert pattern["detail"]["eventName"] == ["RotationSucceeded"]
    (secret,) = pattern["detail"]["additionalEventData"]["SecretId"]
    assert "DatabaseInstanceSecret" in _output_ref(secret)
    (target,) = props(rule)["Targets"]
    call = json.dumps(target["Input"])
    assert '\\"action\\":\\"updateService\\"' in call
    assert '\\"forceNewDeployment\\":true' in call
    service_id, _ = only(template, "AWS::ECS::Service")
    function_id = ref_id(target["Arn"])
    role_id = ref_id(template["Resources"][function_id]["Properties"]["Role"])
    update = [s for s in _statements(template, role_id) if s["Action"] == "ecs:UpdateService"]
    assert [ref_id(s["Resource"]) for s in update] == [service_id]
