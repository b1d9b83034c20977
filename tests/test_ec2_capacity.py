"""ECS on EC2 capacity providers (issue: capacity): the example configuration of design
document 002 (examples/ec2-capacity), synthesized in the session, and the construct's options
the example does not use (ARM instances, Spot)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.conftest import EXAMPLE_STAGES, Synth
from tests.helpers import only, props, ref_id, resources, standalone_platform

STAGES = EXAMPLE_STAGES["ec2-capacity"]
#: stage -> (instance type, min instances, max instances)
GROUPS = {
    "Ec2Dev": ("t3.small", 0, 3),
    "Ec2Staging": ("t3.medium", 1, 5),
    "Ec2Prod": ("t3.large", 2, 10),
}
AMI_PARAMETER = "/aws/service/ecs/optimized-ami/amazon-linux-2023/recommended/image_id"
EPHEMERAL = (32768, 65535)


def _compute(synth: Synth, stage: str) -> dict[str, Any]:
    return synth.template(stage, "Compute")


def _by_prefix(template: dict[str, Any], type_name: str, prefix: str) -> dict[str, Any]:
    (resource,) = [r for k, r in resources(template, type_name).items() if k.startswith(prefix)]
    return resource


@pytest.mark.parametrize("stage", STAGES)
def test_launch_template_is_hardened(synth: Synth, stage: str) -> None:
    template = _compute(synth, stage)
    _, launch_template = only(template, "AWS::EC2::LaunchTemplate")
    data = props(launch_template)["LaunchTemplateData"]
    # The latest ECS-optimized AL2023 image, resolved by CloudFormation at deploy time.
    parameter = template["Parameters"][data["ImageId"]["Ref"]]
    assert parameter["Type"] == "AWS::SSM::Parameter::Value<AWS::EC2::Image::Id>"
    assert parameter["Default"] == AMI_PARAMETER
    assert data["InstanceType"] == GROUPS[stage][0]
    assert data["MetadataOptions"] == {"HttpTokens": "required", "HttpPutResponseHopLimit": 1}
    assert data["Monitoring"] == {"Enabled": True}
    assert "KeyName" not in data
    (device,) = data["BlockDeviceMappings"]
    ebs = device["Ebs"]
    assert (ebs["VolumeType"], ebs["Encrypted"], ebs["VolumeSize"]) == ("gp3", True, 30)
    key_id, _ = only(template, "AWS::KMS::Key")
    assert ref_id(ebs["KmsKeyId"]) == key_id
    user_data = json.dumps(data["UserData"])
    assert "ECS_CLUSTER=" in user_data
    assert "ECS_AWSVPC_BLOCK_IMDS=true" in user_data
    assert "NetworkInterfaces" not in data  # no public IP


@pytest.mark.parametrize("stage", STAGES)
def test_auto_scaling_group_and_capacity_provider(synth: Synth, stage: str) -> None:
    template = _compute(synth, stage)
    instance_type, low, high = GROUPS[stage]
    group_id, group = only(template, "AWS::AutoScaling::AutoScalingGroup")
    p = props(group)
    assert (p["MinSize"], p["MaxSize"]) == (str(low), str(high))
    assert "DesiredCapacity" not in p  # managed scaling decides
    assert p["NewInstancesProtectedFromScaleIn"] is True
    policy = p["MixedInstancesPolicy"]
    assert policy["LaunchTemplate"]["Overrides"] == [{"InstanceType": instance_type}]
    assert policy["InstancesDistribution"]["OnDemandPercentageAboveBaseCapacity"] == 100
    # Private subnets only.
    network = synth.template(stage, "Network")
    private = {k for k, r in resources(network, "AWS::EC2::Subnet").items() if "Private" in k}
    assert len(p["VPCZoneIdentifier"]) == len(synth.configs[stage].network.availability_zones)
    assert all("Private" in json.dumps(s) for s in p["VPCZoneIdentifier"]), private
    _, provider = only(template, "AWS::ECS::CapacityProvider")
    asg = props(provider)["AutoScalingGroupProvider"]
    assert ref_id(asg["AutoScalingGroupArn"]) == group_id
    assert asg["ManagedScaling"] == {"Status": "ENABLED", "TargetCapacity": 100}
    assert asg["ManagedTerminationProtection"] == "ENABLED"
    assert asg["ManagedDraining"] == "ENABLED"
    _, association = only(template, "AWS::ECS::ClusterCapacityProviderAssociations")
    (named,) = props(association)["CapacityProviders"]
    assert ref_id(named) == only(template, "AWS::ECS::CapacityProvider")[0]
    # No drain-hook function: managed draining does it.
    assert not resources(template, "AWS::AutoScaling::LifecycleHook")


@pytest.mark.parametrize("stage", STAGES)
def test_services_run_on_the_instances(synth: Synth, stage: str) -> None:
    template = _compute(synth, stage)
    provider_id, _ = only(template, "AWS::ECS::CapacityProvider")
    config = synth.configs[stage]
    for name in ("web", "api", "worker"):
        service = props(_by_prefix(template, "AWS::ECS::Service", f"{name}Service"))
        (strategy,) = service["CapacityProviderStrategy"]
        assert ref_id(strategy["CapacityProvider"]) == provider_id
        assert "LaunchType" not in service
        task = props(_by_prefix(template, "AWS::ECS::TaskDefinition", f"{name}TaskDefinition"))
        assert task["RequiresCompatibilities"] == ["EC2"]
        assert task["NetworkMode"] == config.services[name].network_mode
        assert "RuntimePlatform" not in task
        assert service["PlacementStrategies"] == [
            {"Field": "attribute:ecs.availability-zone", "Type": "spread"},
            {"Field": "MEMORY", "Type": "binpack"},
        ]
    # Jobs and the migration stay on Fargate.
    for prefix in ("cleanupTaskDefinition", "MigrationTaskDefinition"):
        task = props(_by_prefix(template, "AWS::ECS::TaskDefinition", prefix))
        assert task["RequiresCompatibilities"] == ["FARGATE"]


@pytest.mark.parametrize("stage", STAGES)
def test_bridge_web_service_uses_dynamic_host_ports(synth: Synth, stage: str) -> None:
    template = _compute(synth, stage)
    web_task = props(_by_prefix(template, "AWS::ECS::TaskDefinition", "webTaskDefinition"))
    containers = {c["Name"]: c for c in web_task["ContainerDefinitions"]}
    (mapping,) = containers["app"]["PortMappings"]
    assert (mapping["ContainerPort"], mapping["HostPort"]) == (3000, 0)
    if synth.configs[stage].observability.tracing:
        # No shared loopback on a bridge network: the app reaches the daemon by a link,
        # and the daemon has no host port.
        assert containers["app"]["Links"] == ["xray-daemon"]
        variables = {e["Name"]: e["Value"] for e in containers["app"]["Environment"]}
        assert variables["AWS_XRAY_DAEMON_ADDRESS"] == "xray-daemon:2000"
        assert "PortMappings" not in containers["xray-daemon"]
    else:
        assert set(containers) == {"app"}
    web_service = props(_by_prefix(template, "AWS::ECS::Service", "webService"))
    assert "NetworkConfiguration" not in web_service
    web_group = props(_by_prefix(template, "AWS::ElasticLoadBalancingV2::TargetGroup", "webTarget"))
    assert web_group["TargetType"] == "instance"
    assert web_group["HealthCheckPort"] == "traffic-port"
    api_group = props(_by_prefix(template, "AWS::ElasticLoadBalancingV2::TargetGroup", "apiTarget"))
    assert api_group["TargetType"] == "ip"
    api_service = props(_by_prefix(template, "AWS::ECS::Service", "apiService"))
    assert "AwsvpcConfiguration" in api_service["NetworkConfiguration"]


@pytest.mark.parametrize("stage", STAGES)
def test_only_the_load_balancer_reaches_the_instances(synth: Synth, stage: str) -> None:
    template = _compute(synth, stage)
    groups = resources(template, "AWS::EC2::SecurityGroup")
    (instances_id,) = [k for k in groups if k.startswith("ClusterEc2CapacitySecurityGroup")]
    (lb_id,) = [k for k in groups if k.startswith("LoadBalancerSecurityGroup")]
    instances = props(groups[instances_id])
    assert "SecurityGroupIngress" not in instances
    assert instances["SecurityGroupEgress"] == [
        {
            "CidrIp": "0.0.0.0/0",
            "Description": "HTTPS to the ECS, ECR, SSM and logs APIs",
            "FromPort": 443,
            "IpProtocol": "tcp",
            "ToPort": 443,
        }
    ]
    ingress = [
        props(r)
        for r in resources(template, "AWS::EC2::SecurityGroupIngress").values()
        if props(r)["GroupId"] == {"Fn::GetAtt": [instances_id, "GroupId"]}
    ]
    assert len(ingress) == 1
    (rule,) = ingress
    assert ref_id(rule["SourceSecurityGroupId"]) == lb_id
    assert (rule["FromPort"], rule["ToPort"], rule["IpProtocol"]) == (*EPHEMERAL, "tcp")
    # Nothing else opens the instances: no CIDR ingress anywhere on them.
    assert all("CidrIp" not in r for r in ingress)


@pytest.mark.parametrize("stage", STAGES)
def test_instance_role_does_only_the_agents_work(synth: Synth, stage: str) -> None:
    template = _compute(synth, stage)
    (policy,) = [
        props(r)
        for k, r in resources(template, "AWS::IAM::Policy").items()
        if k.startswith("ClusterEc2CapacityInstanceRole")
    ]
    actions = sorted(
        a
        for statement in policy["PolicyDocument"]["Statement"]
        for a in (
            statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        )
    )
    assert actions == sorted(
        [
            "ecs:DeregisterContainerInstance",
            "ecs:RegisterContainerInstance",
            "ecs:Submit*",
            "ecs:Poll",
            "ecs:StartTelemetrySession",
            "ecs:DiscoverPollEndpoint",
            "ecr:GetAuthorizationToken",
            "logs:CreateLogStream",
            "logs:PutLogEvents",
            "ssm:UpdateInstanceInformation",
            "ssmmessages:CreateControlChannel",
            "ssmmessages:CreateDataChannel",
            "ssmmessages:OpenControlChannel",
            "ssmmessages:OpenDataChannel",
            "ec2messages:AcknowledgeMessage",
            "ec2messages:DeleteMessage",
            "ec2messages:FailMessage",
            "ec2messages:GetEndpoint",
            "ec2messages:GetMessages",
            "ec2messages:SendReply",
        ]
    )
    roles = resources(template, "AWS::IAM::Role")
    (role,) = [r for k, r in roles.items() if k.startswith("ClusterEc2CapacityInstanceRole")]
    assert "ManagedPolicyArns" not in props(role)


@pytest.mark.parametrize("stage", STAGES)
def test_key_lets_auto_scaling_encrypt_the_volumes_only(synth: Synth, stage: str) -> None:
    template = _compute(synth, stage)
    _, key = only(template, "AWS::KMS::Key")
    statements = {
        s.get("Sid"): s
        for s in props(key)["KeyPolicy"]["Statement"]
        if "AutoScaling" in s.get("Sid", "")
    }
    role = (
        f"arn:aws:iam::{synth.configs[stage].account}:role/aws-service-role/"
        "autoscaling.amazonaws.com/AWSServiceRoleForAutoScaling"
    )
    for statement in statements.values():
        assert statement["Principal"] == {"AWS": "*"}
        assert statement["Condition"]["ArnEquals"] == {"aws:PrincipalArn": role}
        assert statement["Condition"]["StringEquals"] == {
            "kms:CallerAccount": synth.configs[stage].account
        }
    grant = statements["AllowAutoScalingToGrantKeyForEncryptedVolumes"]
    assert grant["Action"] == "kms:CreateGrant"
    assert grant["Condition"]["Bool"] == {"kms:GrantIsForAWSResource": "true"}
    assert "kms:Decrypt" in statements["AllowAutoScalingToUseKeyForEncryptedVolumes"]["Action"]


@pytest.mark.parametrize("stage", STAGES)
def test_containers_on_instances_stay_locked_down(synth: Synth, stage: str) -> None:
    template = _compute(synth, stage)
    for task in resources(template, "AWS::ECS::TaskDefinition").values():
        for container in props(task)["ContainerDefinitions"]:
            assert container["ReadonlyRootFilesystem"] is True
            assert container["Privileged"] is False
            assert not container["User"].startswith(("0", "root"))
            linux = container["LinuxParameters"]
            assert linux["InitProcessEnabled"] is True
            assert linux["Capabilities"]["Drop"] == ["ALL"]


# --- What the example does not use: ARM instances, Spot, the construct's refusals ----------


@pytest.fixture(scope="module")
def arm_spot_platform(synth: Synth) -> tuple[Any, Any, Any, Any]:
    del synth  # after the session's synth: see _synth_order in tests/conftest.py
    from l3_constructs.ec2_capacity import Ec2CapacityProps, SpotInstancesProps  # noqa: PLC0415

    platform: tuple[Any, Any, Any, Any] = standalone_platform(
        "ArmSpot",
        nat_gateways=1,
        app_context={},
        cluster_options={
            "ec2_capacity": Ec2CapacityProps(
                instance_types=("t4g.medium", "m7g.medium"),
                architecture="ARM64",
                min_instances=1,
                max_instances=4,
                target_capacity_percent=80,
                spot=SpotInstancesProps(on_demand_base=1, on_demand_percent=25),
                root_volume_gib=40,
                detailed_monitoring=False,
            )
        },
    )
    return platform


def test_arm_spot_instances(arm_spot_platform: tuple[Any, Any, Any, Any]) -> None:
    from aws_cdk import assertions  # noqa: PLC0415

    stack = arm_spot_platform[0]
    template = dict(assertions.Template.from_stack(stack).to_json())
    data = props(only(template, "AWS::EC2::LaunchTemplate")[1])["LaunchTemplateData"]
    assert template["Parameters"][data["ImageId"]["Ref"]]["Default"] == (
        "/aws/service/ecs/optimized-ami/amazon-linux-2023/arm64/recommended/image_id"
    )
    assert data["Monitoring"] == {"Enabled": False}
    assert data["BlockDeviceMappings"][0]["Ebs"]["VolumeSize"] == 40
    assert "ECS_ENABLE_SPOT_INSTANCE_DRAINING=true" in json.dumps(data["UserData"])
    group = props(only(template, "AWS::AutoScaling::AutoScalingGroup")[1])
    policy = group["MixedInstancesPolicy"]
    assert policy["LaunchTemplate"]["Overrides"] == [
        {"InstanceType": "t4g.medium"},
        {"InstanceType": "m7g.medium"},
    ]
    assert policy["InstancesDistribution"] == {
        "OnDemandAllocationStrategy": "prioritized",
        "OnDemandBaseCapacity": 1,
        "OnDemandPercentageAboveBaseCapacity": 25,
        "SpotAllocationStrategy": "price-capacity-optimized",
    }
    assert group["CapacityRebalance"] is True
    provider = props(only(template, "AWS::ECS::CapacityProvider")[1])
    assert provider["AutoScalingGroupProvider"]["ManagedScaling"]["TargetCapacity"] == 80


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        pytest.param(
            {"network_mode": "bridge"}, "bridge networking needs EC2", id="bridge-on-fargate"
        ),
        pytest.param(
            {"capacity_provider": "ec2"}, "the cluster has no EC2 capacity", id="no-instances"
        ),
    ],
)
def test_the_service_refuses_without_instances(
    arm_spot_platform: tuple[Any, Any, Any, Any], changes: dict[str, Any], message: str
) -> None:
    from aws_cdk import aws_ec2 as ec2  # noqa: PLC0415

    from l3_constructs.service import PlatformService, ServiceProps  # noqa: PLC0415
    from l3_constructs.workload import ImageSource  # noqa: PLC0415

    del arm_spot_platform  # built first (module order), after the session's synth
    # A platform without EC2 capacity.
    stack, cluster, _, vpc = standalone_platform(
        f"Refuse{changes.get('network_mode', 'ec2').title()}", nat_gateways=0, app_context={}
    )
    with pytest.raises(ValueError, match=message):
        PlatformService(
            stack,
            "bad",
            props=ServiceProps(
                name="bad",
                image=ImageSource(kind="ecr", repository_name="web/app", tag="v1"),
                port=3000,
                **changes,
            ),
            cluster=cluster,
            vpc=vpc,
            task_subnets=ec2.SubnetSelection(subnet_type=ec2.SubnetType.PUBLIC),
            secrets={},
        )
