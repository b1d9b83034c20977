"""Fine-grained checks of every Network property, per environment, against its config."""

from __future__ import annotations

import ipaddress
from typing import Any

import pytest
from aws_cdk.assertions import Match

from tests.conftest import NEW_STAGE, SHIPPED_STAGES, Synth
from tests.helpers import joined, props, ref_id, resources, tag

STAGES = (*SHIPPED_STAGES, NEW_STAGE)
GROUPS = ("Public", "Private", "Isolated")


def _template(synth: Synth, stage: str) -> dict[str, Any]:
    return synth.template(stage, "Network")


def _subnets(template: dict[str, Any], group: str) -> dict[str, dict[str, Any]]:
    return {
        k: r
        for k, r in resources(template, "AWS::EC2::Subnet").items()
        if tag(r, "aws-cdk:subnet-name") == group
    }


def _route_table_of(template: dict[str, Any], subnet_id: str) -> str:
    for assoc in resources(template, "AWS::EC2::SubnetRouteTableAssociation").values():
        if ref_id(props(assoc)["SubnetId"]) == subnet_id:
            return ref_id(props(assoc)["RouteTableId"])
    raise AssertionError(f"subnet {subnet_id} has no route table")


def _routes_of(template: dict[str, Any], route_table: str) -> list[dict[str, Any]]:
    return [
        props(r)
        for r in resources(template, "AWS::EC2::Route").values()
        if ref_id(props(r)["RouteTableId"]) == route_table
    ]


@pytest.mark.parametrize("stage", STAGES)
def test_vpc_cidr_and_dns(synth: Synth, stage: str) -> None:
    synth.assertions(stage, "Network").has_resource_properties(
        "AWS::EC2::VPC",
        {
            "CidrBlock": synth.configs[stage].network.cidr,
            "EnableDnsHostnames": True,
            "EnableDnsSupport": True,
        },
    )


@pytest.mark.parametrize("stage", STAGES)
@pytest.mark.parametrize("group", GROUPS)
def test_subnet_groups_span_the_named_zones_with_configured_masks(
    synth: Synth, stage: str, group: str
) -> None:
    net = synth.configs[stage].network
    mask = {
        "Public": net.subnet_masks.public,
        "Private": net.subnet_masks.private,
        "Isolated": net.subnet_masks.isolated,
    }[group]
    subnets = _subnets(_template(synth, stage), group)
    assert sorted(props(s)["AvailabilityZone"] for s in subnets.values()) == sorted(
        net.availability_zones
    )
    vpc = ipaddress.IPv4Network(net.cidr)
    for subnet in subnets.values():
        cidr = ipaddress.IPv4Network(props(subnet)["CidrBlock"])
        assert cidr.prefixlen == mask
        assert cidr.subnet_of(vpc)
        # Nothing in any subnet gets a public address just by launching there.
        assert props(subnet)["MapPublicIpOnLaunch"] is False


@pytest.mark.parametrize("stage", STAGES)
def test_no_placeholder_zones_and_no_context_lookups(synth: Synth, stage: str) -> None:
    assert "dummy" not in str(_template(synth, stage))
    assert synth.missing_context == []


@pytest.mark.parametrize("stage", STAGES)
def test_nat_gateways_follow_nat_mode(synth: Synth, stage: str) -> None:
    net = synth.configs[stage].network
    template = _template(synth, stage)
    expected = {"none": 0, "single": 1, "per_az": len(net.availability_zones)}[net.nat]
    nats = resources(template, "AWS::EC2::NatGateway")
    assert len(nats) == expected
    public_ids = set(_subnets(template, "Public"))
    assert {ref_id(props(n)["SubnetId"]) for n in nats.values()} <= public_ids


@pytest.mark.parametrize("stage", STAGES)
def test_private_egress_only_through_nat_and_isolated_never(synth: Synth, stage: str) -> None:
    net = synth.configs[stage].network
    template = _template(synth, stage)
    nat_ids = set(resources(template, "AWS::EC2::NatGateway"))
    used_nats = set()
    for subnet_id in _subnets(template, "Private"):
        routes = _routes_of(template, _route_table_of(template, subnet_id))
        if net.nat == "none":
            assert routes == [], "without NAT, private subnets have no egress route"
        else:
            assert len(routes) == 1
            assert routes[0]["DestinationCidrBlock"] == "0.0.0.0/0"
            used_nats.add(ref_id(routes[0]["NatGatewayId"]))
    if net.nat == "per_az":
        assert used_nats == nat_ids, "each zone's private subnet uses its own NAT gateway"
    for subnet_id in _subnets(template, "Isolated"):
        assert _routes_of(template, _route_table_of(template, subnet_id)) == []


@pytest.mark.parametrize("stage", STAGES)
def test_public_subnets_route_to_the_internet_gateway(synth: Synth, stage: str) -> None:
    template = _template(synth, stage)
    (igw,) = resources(template, "AWS::EC2::InternetGateway")
    for subnet_id in _subnets(template, "Public"):
        (route,) = _routes_of(template, _route_table_of(template, subnet_id))
        assert route["DestinationCidrBlock"] == "0.0.0.0/0"
        assert ref_id(route["GatewayId"]) == igw


@pytest.mark.parametrize("stage", STAGES)
def test_s3_gateway_endpoint(synth: Synth, stage: str) -> None:
    template = _template(synth, stage)
    gateways = [
        props(e)
        for e in resources(template, "AWS::EC2::VPCEndpoint").values()
        if props(e).get("VpcEndpointType") == "Gateway"
    ]
    assert [joined(g["ServiceName"]) for g in gateways] == ["com.amazonaws.${AWS::Region}.s3"]
    # Every route table (public, private, isolated) reaches S3 through it.
    assert len(gateways[0]["RouteTableIds"]) == len(resources(template, "AWS::EC2::RouteTable"))


@pytest.mark.parametrize("stage", STAGES)
def test_interface_endpoints_from_config(synth: Synth, stage: str) -> None:
    net = synth.configs[stage].network
    template = _template(synth, stage)
    (sg_id,) = resources(template, "AWS::EC2::SecurityGroup")
    private_ids = set(_subnets(template, "Private"))
    interfaces = [
        props(e)
        for e in resources(template, "AWS::EC2::VPCEndpoint").values()
        if props(e).get("VpcEndpointType") == "Interface"
    ]
    services = sorted(joined(e["ServiceName"]) for e in interfaces)
    region = synth.configs[stage].region
    assert services == sorted(f"com.amazonaws.{region}.{n}" for n in net.interface_endpoints)
    for endpoint in interfaces:
        assert endpoint["PrivateDnsEnabled"] is True
        assert [ref_id(g) for g in endpoint["SecurityGroupIds"]] == [sg_id]
        assert {ref_id(s) for s in endpoint["SubnetIds"]} == private_ids


@pytest.mark.parametrize("stage", STAGES)
def test_endpoint_security_group_admits_443_from_the_vpc_only(synth: Synth, stage: str) -> None:
    synth.assertions(stage, "Network").has_resource_properties(
        "AWS::EC2::SecurityGroup",
        {
            "SecurityGroupIngress": [
                {
                    "CidrIp": synth.configs[stage].network.cidr,
                    "IpProtocol": "tcp",
                    "FromPort": 443,
                    "ToPort": 443,
                    "Description": Match.any_value(),
                }
            ],
            # CDK's "no egress" marker rule: nothing leaves the endpoint network interfaces.
            "SecurityGroupEgress": [Match.object_like({"CidrIp": "255.255.255.255/32"})],
        },
    )


@pytest.mark.parametrize("stage", STAGES)
def test_default_security_group_is_locked_down(synth: Synth, stage: str) -> None:
    template = _template(synth, stage)
    (vpc_id,) = resources(template, "AWS::EC2::VPC")
    (restrict,) = resources(template, "Custom::VpcRestrictDefaultSG").values()
    assert props(restrict)["DefaultSecurityGroupId"] == {
        "Fn::GetAtt": [vpc_id, "DefaultSecurityGroup"]
    }


@pytest.mark.parametrize("stage", STAGES)
def test_flow_logs_are_encrypted_and_kept_as_configured(synth: Synth, stage: str) -> None:
    flow = synth.configs[stage].network.flow_logs
    template = _template(synth, stage)
    assertions = synth.assertions(stage, "Network")
    (key_id,) = resources(template, "AWS::KMS::Key")
    assertions.has_resource_properties("AWS::KMS::Key", {"EnableKeyRotation": True})
    (log,) = resources(template, "AWS::EC2::FlowLog").values()
    assert props(log)["TrafficType"] == flow.traffic_type
    assert props(log)["ResourceType"] == "VPC"
    # Retained whatever the flow logs' policy when other stacks share it.
    shared = synth.configs[stage].data_protection.shared_key
    policy = "Retain" if flow.retain_on_delete else "Delete"
    key_policy = "Retain" if shared else policy
    assert template["Resources"][key_id]["DeletionPolicy"] == key_policy

    if flow.destination == "cloudwatch":
        (group_id, group) = next(iter(_flow_log_groups(template).items()))
        assert props(log)["LogDestinationType"] == "cloud-watch-logs"
        assert ref_id(props(log)["LogGroupName"]) == group_id
        assert ref_id(props(group)["KmsKeyId"]) == key_id
        assert props(group)["RetentionInDays"] == flow.retention_days
        assert group["DeletionPolicy"] == policy
        assert resources(template, "AWS::S3::Bucket") == {}
    else:
        (bucket_id, bucket) = next(iter(resources(template, "AWS::S3::Bucket").items()))
        assert props(log)["LogDestinationType"] == "s3"
        assert ref_id(props(log)["LogDestination"]) == bucket_id
        (rule,) = props(bucket)["BucketEncryption"]["ServerSideEncryptionConfiguration"]
        assert rule["ServerSideEncryptionByDefault"]["SSEAlgorithm"] == "aws:kms"
        assert ref_id(rule["ServerSideEncryptionByDefault"]["KMSMasterKeyID"]) == key_id
        assert props(bucket)["PublicAccessBlockConfiguration"] == {
            "BlockPublicAcls": True,
            "BlockPublicPolicy": True,
            "IgnorePublicAcls": True,
            "RestrictPublicBuckets": True,
        }
        (expiry,) = props(bucket)["LifecycleConfiguration"]["Rules"]
        assert expiry["ExpirationInDays"] == flow.retention_days
        assert bucket["DeletionPolicy"] == policy
        assert _flow_log_groups(template) == {}
        assertions.has_resource_properties(
            "AWS::S3::BucketPolicy",
            {
                "PolicyDocument": {
                    "Statement": Match.array_with(
                        [
                            Match.object_like(
                                {
                                    "Effect": "Deny",
                                    "Condition": {"Bool": {"aws:SecureTransport": "false"}},
                                }
                            )
                        ]
                    )
                }
            },
        )


def test_shipped_configs_cover_both_flow_log_destinations(synth: Synth) -> None:
    destinations = {synth.configs[s].network.flow_logs.destination for s in SHIPPED_STAGES}
    assert destinations == {"cloudwatch", "s3"}


def _flow_log_groups(template: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Log groups other than the one of the release record's custom-resource function."""
    return {
        k: r
        for k, r in resources(template, "AWS::Logs::LogGroup").items()
        if not k.startswith("ReleaseRecord")
    }
