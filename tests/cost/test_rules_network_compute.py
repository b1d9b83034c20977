"""Unit-price arithmetic of network and compute types on small hand-written templates.

Every expectation is computed by hand from the Tokyo table (cost_estimate/prices/
ap-northeast-1.yaml) and the stated assumptions: 730 hours a month."""

from __future__ import annotations

from typing import Any

from tests.cost.helpers import approx, estimate, items_of, res, total_of

TD = "AWS::ECS::TaskDefinition"


def _task(
    cpu: str, memory: str, arch: str = "ARM64", images: tuple[str, ...] = ("app",)
) -> dict[str, Any]:
    return res(
        TD,
        Cpu=cpu,
        Memory=memory,
        RuntimePlatform={"CpuArchitecture": arch, "OperatingSystemFamily": "LINUX"},
        ContainerDefinitions=[{"Name": f"c{i}", "Image": image} for i, image in enumerate(images)],
    )


def test_nat_gateway_hours_and_its_share_of_the_data() -> None:
    result = estimate(
        {"Nat1": res("AWS::EC2::NatGateway"), "Nat2": res("AWS::EC2::NatGateway")},
        assumptions={"nat_data_gb_per_month": 10},
    )
    items = items_of(result, "Nat1")
    assert items["NAT gateway hours"].monthly_usd == approx(730 * 0.062)  # 45.26
    assert items["NAT gateway hours"].kind == "fixed"
    assert items["NAT data processed"].monthly_usd == approx(5 * 0.062)  # 0.31
    assert items["NAT data processed"].kind == "usage"
    assert result.total_usd == approx(2 * 45.57)


def test_elastic_ip_is_a_public_ipv4_address() -> None:
    result = estimate({"Eip": res("AWS::EC2::EIP", Domain="vpc")})
    assert total_of(result, "Eip") == approx(730 * 0.005)  # 3.65


def test_interface_endpoint_per_zone_and_gateway_endpoint_free() -> None:
    result = estimate(
        {
            "Ecr": res("AWS::EC2::VPCEndpoint", VpcEndpointType="Interface",
                       SubnetIds=["a", "b", "c"]),
            "Logs": res("AWS::EC2::VPCEndpoint", VpcEndpointType="Interface", SubnetIds=["a"]),
            "S3": res("AWS::EC2::VPCEndpoint", VpcEndpointType="Gateway"),
        },
        assumptions={"endpoint_data_gb_per_month": 6},
    )  # fmt: skip
    items = items_of(result, "Ecr")
    assert items["interface endpoint hours (3 zones)"].monthly_usd == approx(3 * 730 * 0.014)
    assert items["interface endpoint data processed"].quantity == 3  # 6 GB over 2 endpoints
    assert total_of(result, "Ecr") == approx(30.66 + 0.03)
    assert total_of(result, "S3") == 0
    assert [(f.resource_type, f.count) for f in result.free] == [("AWS::EC2::VPCEndpoint", 1)]
    assert "gateway endpoints" in result.free[0].reason


def test_load_balancer_hours_lcus_and_an_address_per_zone() -> None:
    # 730 GB through the origin a month = 1 GB an hour = 1 LCU (10 new connections a second
    # would be 0.4 LCU: the larger counts).
    result = estimate(
        {"Alb": res("AWS::ElasticLoadBalancingV2::LoadBalancer", Scheme="internet-facing",
                    Subnets=["a", "b", "c"], Type="application")},
        assumptions={"requests_per_month": 730 * 3600 * 10, "origin_request_percent": 100,
                     "data_out_gb_per_month": 730},
    )  # fmt: skip
    items = items_of(result, "Alb")
    assert items["load balancer hours"].monthly_usd == approx(730 * 0.0243)  # 17.739
    assert items["LCU hours"].quantity == approx(730)
    assert items["LCU hours"].monthly_usd == approx(5.84)
    assert items["public IPv4 addresses (3 zones)"].monthly_usd == approx(10.95)
    assert result.total_usd == approx(17.739 + 5.84 + 10.95)


def test_internal_load_balancer_has_no_public_addresses() -> None:
    result = estimate(
        {"Alb": res("AWS::ElasticLoadBalancingV2::LoadBalancer", Scheme="internal",
                    Subnets=["a", "b"])},
        assumptions={"requests_per_month": 0, "data_out_gb_per_month": 0},
    )  # fmt: skip
    assert set(items_of(result, "Alb")) == {"load balancer hours", "LCU hours"}


def _service(**properties: Any) -> dict[str, Any]:
    return res("AWS::ECS::Service", TaskDefinition={"Ref": "Td"}, Cluster={"Ref": "Cluster"},
               **properties)  # fmt: skip


def test_fargate_service_arm64_at_its_desired_count() -> None:
    result = estimate(
        {"Td": _task("512", "1024"), "Svc": _service(DesiredCount=2, LaunchType="FARGATE")}
    )
    items = items_of(result, "Svc")
    vcpu = items["Fargate vCPU (ARM64, 0.5 vCPU a task)"]
    assert vcpu.quantity == 730  # 2 tasks x 0.5 vCPU x 730 h
    assert vcpu.monthly_usd == approx(730 * 0.04045)  # 29.53
    memory = items["Fargate memory (ARM64, 1 GB a task)"]
    assert memory.monthly_usd == approx(1460 * 0.00442)  # 6.45
    assert total_of(result, "Svc") == approx(35.98)
    assert vcpu.kind == "fixed"
    # The task definition itself: no charge of its own.
    assert [f.resource_type for f in result.free] == [TD]


def test_spot_mix_base_then_weights_and_public_ips() -> None:
    # 3 tasks: the base 1 on Fargate, the other 2 split 1:1 -> 2 on Fargate, 1 on Spot.
    strategy = [
        {"CapacityProvider": "FARGATE", "Base": 1, "Weight": 1},
        {"CapacityProvider": "FARGATE_SPOT", "Weight": 1},
    ]
    network = {"AwsvpcConfiguration": {"AssignPublicIp": "ENABLED", "Subnets": ["a"]}}
    result = estimate(
        {
            "Td": _task("256", "512", arch="X86_64"),
            "Svc": _service(DesiredCount=3, CapacityProviderStrategy=strategy,
                            NetworkConfiguration=network),
        }
    )  # fmt: skip
    items = items_of(result, "Svc")
    assert items["Fargate vCPU (X86_64, 0.25 vCPU a task)"].monthly_usd == approx(
        2 * 0.25 * 730 * 0.05056
    )  # 18.45
    assert items["Fargate memory (X86_64, 0.5 GB a task)"].monthly_usd == approx(
        2 * 0.5 * 730 * 0.00553
    )  # 4.04
    assert items["Fargate Spot vCPU (X86_64, 0.25 vCPU a task)"].monthly_usd == approx(
        0.25 * 730 * 0.015168
    )  # 2.77
    assert items["Fargate Spot memory (X86_64, 0.5 GB a task)"].monthly_usd == approx(
        0.5 * 730 * 0.001659
    )  # 0.61
    assert items["public IPv4 address of each task"].monthly_usd == approx(3 * 730 * 0.005)


def test_service_that_starts_from_zero_runs_the_busy_hours() -> None:
    result = estimate(
        {"Td": _task("256", "512"), "Svc": _service(DesiredCount=0, LaunchType="FARGATE")},
        assumptions={"worker_busy_hours_per_month": 100},
    )
    items = items_of(result, "Svc")
    vcpu = items["Fargate vCPU (ARM64, 0.25 vCPU a task)"]
    assert vcpu.quantity == 25
    assert vcpu.kind == "usage"
    assert total_of(result, "Svc") == approx(25 * 0.04045 + 50 * 0.00442)  # 1.23


def test_service_on_ec2_capacity_is_priced_with_its_instances() -> None:
    result = estimate(
        {
            "Td": _task("256", "512"),
            "Svc": _service(
                DesiredCount=2,
                CapacityProviderStrategy=[{"CapacityProvider": {"Ref": "Cp"}, "Weight": 1}],
            ),
        }
    )
    assert total_of(result, "Svc") == 0
    reasons = {f.resource_type: f.reason for f in result.free}
    assert "Auto Scaling group" in reasons["AWS::ECS::Service"]


def test_service_without_strategy_takes_the_cluster_default() -> None:
    result = estimate(
        {
            "Td": _task("256", "512"),
            "Assoc": res("AWS::ECS::ClusterCapacityProviderAssociations",
                         Cluster={"Ref": "Cluster"},
                         DefaultCapacityProviderStrategy=[
                             {"CapacityProvider": "FARGATE_SPOT", "Weight": 1}]),
            "Svc": _service(DesiredCount=1),
        }
    )  # fmt: skip
    assert "Fargate Spot vCPU (ARM64, 0.25 vCPU a task)" in items_of(result, "Svc")


def test_xray_traces_of_a_web_service() -> None:
    # 2,000,000 requests, half to the origin, one web service: 1,000,000 requests, under
    # one a second, so every one is traced: 1 M traces x $5.
    result = estimate(
        {
            "Td": _task("256", "512", images=("app", "public.ecr.aws/xray/aws-xray-daemon:3.x")),
            "Svc": _service(DesiredCount=1, LaunchType="FARGATE", LoadBalancers=[{"x": 1}]),
        },
        assumptions={"requests_per_month": 2_000_000, "origin_request_percent": 50},
    )
    traces = items_of(result, "Svc")["X-Ray traces recorded"]
    assert traces.quantity == approx(1.0)
    assert traces.monthly_usd == approx(5.00)


def _cluster(mode: str) -> dict[str, Any]:
    return res("AWS::ECS::Cluster", ClusterSettings=[{"Name": "containerInsights", "Value": mode}])


def test_container_insights_enhanced_counts_tasks_and_containers() -> None:
    result = estimate(
        {
            "Cluster": _cluster("enhanced"),
            "Td": _task("256", "512", images=("app", "sidecar")),
            "Svc": _service(DesiredCount=2, LaunchType="FARGATE"),
        }
    )
    items = items_of(result, "Cluster")
    # 13 cluster + 13 service + 10 family + 10 x 2 tasks + 8 x 4 containers = 88 metrics
    assert items["Container Insights metrics (enhanced)"].quantity == 88
    assert items["Container Insights metrics (enhanced)"].monthly_usd == approx(26.40)
    assert items["Container Insights performance logs"].monthly_usd == approx(2 * 150 / 1024 * 0.76)


def test_container_insights_standard_and_off() -> None:
    enabled = estimate(
        {"Cluster": _cluster("enabled"), "Td": _task("256", "512"),
         "Svc": _service(DesiredCount=2, LaunchType="FARGATE")}
    )  # fmt: skip
    assert items_of(enabled, "Cluster")["Container Insights metrics (enabled)"].quantity == 36
    off = estimate({"Cluster": _cluster("disabled")})
    assert off.items == ()
    assert off.free[0].resource_type == "AWS::ECS::Cluster"


def _launch_template(**data: Any) -> dict[str, Any]:
    return res("AWS::EC2::LaunchTemplate", LaunchTemplateData=data)


def test_auto_scaling_group_instances_volumes_addresses_monitoring() -> None:
    template = _launch_template(
        InstanceType="t4g.small",
        BlockDeviceMappings=[{"DeviceName": "/dev/xvda", "Ebs": {
            "VolumeSize": 40, "VolumeType": "gp3", "Iops": 4000, "Throughput": 250}}],
        NetworkInterfaces=[{"DeviceIndex": 0, "AssociatePublicIpAddress": True}],
        Monitoring={"Enabled": True},
    )  # fmt: skip
    result = estimate(
        {
            "Lt": template,
            "Asg": res("AWS::AutoScaling::AutoScalingGroup", MinSize="1", MaxSize="4",
                       DesiredCapacity="2",
                       LaunchTemplate={"LaunchTemplateId": {"Ref": "Lt"}, "Version": "1"}),
        }
    )  # fmt: skip
    items = items_of(result, "Asg")
    assert items["EC2 t4g.small on-demand"].monthly_usd == approx(2 * 730 * 0.0216)  # 31.54
    assert items["EBS gp3 40 GB an instance"].monthly_usd == approx(80 * 0.096)  # 7.68
    assert items["EBS gp3 IOPS above 3,000"].monthly_usd == approx(2 * 1000 * 0.006)  # 12
    assert items["EBS gp3 throughput above 125 MB/s"].monthly_usd == approx(2 * 125 * 0.048)
    assert items["public IPv4 address of each instance"].monthly_usd == approx(7.30)
    assert items["EC2 detailed monitoring (7 metrics)"].monthly_usd == approx(14 * 0.30)
    assert [f.resource_type for f in result.free] == ["AWS::EC2::LaunchTemplate"]


def test_auto_scaling_group_mixed_instances_with_spot() -> None:
    # 4 instances: 1 on-demand base, the other 3 half on-demand -> 2.5 on-demand, 1.5 Spot.
    result = estimate(
        {
            "Lt": _launch_template(InstanceType="t3.small"),
            "Asg": res("AWS::AutoScaling::AutoScalingGroup", MinSize="4", MaxSize="8",
                       MixedInstancesPolicy={
                           "LaunchTemplate": {
                               "LaunchTemplateSpecification": {"LaunchTemplateId": {"Ref": "Lt"}},
                               "Overrides": [{"InstanceType": "t3.medium"}]},
                           "InstancesDistribution": {"OnDemandBaseCapacity": 1,
                                                     "OnDemandPercentageAboveBaseCapacity": 50}}),
        }
    )  # fmt: skip
    items = items_of(result, "Asg")
    assert items["EC2 t3.medium on-demand"].monthly_usd == approx(2.5 * 730 * 0.0544)  # 99.28
    assert items["EC2 t3.medium Spot"].monthly_usd == approx(1.5 * 730 * 0.0544 * 0.35)
    # No block device mapping: the 30 GB gp3 root volume of each of the 4 instances.
    assert items["EBS gp3 30 GB an instance"].monthly_usd == approx(120 * 0.096)


def test_group_at_min_zero_is_sized_by_the_tasks_of_its_capacity_provider() -> None:
    """Managed scaling launches what the tasks placed on the provider reserve: 3 tasks of
    1 vCPU / 2 GiB on t3.medium (2 vCPU, 4 GiB, 90 % usable) -> 2 instances."""
    result = estimate(
        {
            "Lt": _launch_template(InstanceType="t3.medium"),
            "Asg": res("AWS::AutoScaling::AutoScalingGroup", MinSize="0", MaxSize="10",
                       LaunchTemplate={"LaunchTemplateId": {"Ref": "Lt"}, "Version": "1"}),
            "Cp": res("AWS::ECS::CapacityProvider", AutoScalingGroupProvider={
                "AutoScalingGroupArn": {"Ref": "Asg"}, "ManagedScaling": {"Status": "ENABLED"}}),
            "Td": res(TD, ContainerDefinitions=[{"Name": "app", "Cpu": 1024, "Memory": 2048}]),
            "Svc": _service(DesiredCount=3,
                            CapacityProviderStrategy=[{"CapacityProvider": {"Ref": "Cp"},
                                                       "Weight": 1}]),
        }
    )  # fmt: skip
    instances = items_of(result, "Asg")["EC2 t3.medium on-demand"]
    assert instances.quantity == 2 * 730
    assert "2 instances to place the tasks of its capacity provider" in instances.basis
    assert instances.monthly_usd == approx(2 * 730 * 0.0544)
    # The service's tasks are on the instances: nothing of their own.
    assert total_of(result, "Svc") == 0


def test_instance_sizes_from_their_names() -> None:
    from cost_estimate.instances import memory_gb, vcpus  # noqa: PLC0415

    assert [vcpus(c) for c in ("db.t4g.micro", "m7g.large", "r6g.xlarge", "c7g.4xlarge")] == [
        2,
        2,
        4,
        16,
    ]
    assert [memory_gb(c) for c in ("t3.medium", "t4g.micro", "m7g.large", "c6g.xlarge")] == [
        4,
        1,
        8,
        8,
    ]


def test_ec2_instance_volume_and_unknown_instance_type() -> None:
    result = estimate(
        {
            "Vm": res("AWS::EC2::Instance", InstanceType="t3.medium"),
            "Disk": res("AWS::EC2::Volume", VolumeType="gp3", Size=100),
            "Odd": res("AWS::EC2::Instance", InstanceType="z9.huge"),
        }
    )
    assert total_of(result, "Vm") == approx(730 * 0.0544 + 30 * 0.096)  # 42.59
    assert total_of(result, "Disk") == approx(9.60)
    # The unknown class is listed, its volume still priced; never a silent zero.
    (gap,) = [g for g in result.gaps if g.logical_id == "Odd"]
    assert "z9.huge" in gap.reason
    assert total_of(result, "Odd") == approx(2.88)


def test_lambda_function_runs_at_each_release() -> None:
    result = estimate(
        {"Fn": res("AWS::Lambda::Function", MemorySize=512, Architectures=["arm64"])},
        assumptions={"releases_per_month": 100},
    )
    items = items_of(result, "Fn")
    assert items["Lambda requests"].monthly_usd == approx(100 / 1e6 * 0.20)
    duration = items["Lambda duration (arm64, 512 MB)"]
    assert duration.quantity == 500  # 100 runs x 10 s x 0.5 GB
    assert duration.unit_usd == 0.0000133334


def test_ecr_repository_images() -> None:
    result = estimate(
        {"Repo": res("AWS::ECR::Repository")}, assumptions={"image_gb_per_repository": 3}
    )
    assert total_of(result, "Repo") == approx(0.30)


def test_scheduled_job_invocations_and_its_fargate_time() -> None:
    definition = {
        "Fn::Join": [
            "",
            [
                '{"States":{"Run":{"Type":"Task","Resource":"',
                {"Ref": "JobTd"},
                '"},"Ok":{"Type":"Succeed"},"No":{"Type":"Fail"}}}',
            ],
        ]
    }
    result = estimate(
        {
            "JobTd": _task("1024", "2048"),
            "Machine": res("AWS::StepFunctions::StateMachine", DefinitionString=definition),
            "Schedule": res("AWS::Scheduler::Schedule", ScheduleExpression="cron(0 3 * * ? *)",
                            Target={"Arn": {"Ref": "Machine"}}),
        },
        assumptions={"job_run_minutes": 30},
    )  # fmt: skip
    runs = 730 / 24  # daily
    items = items_of(result, "Schedule")
    assert items["scheduler invocations"].quantity == approx(runs / 1e6)
    hours = runs * 0.5
    assert items["job on Fargate: vCPU (ARM64, 1)"].monthly_usd == approx(hours * 0.04045)
    assert items["job on Fargate: memory (ARM64, 2 GB)"].monthly_usd == approx(2 * hours * 0.00442)
    # 3 states -> 4 transitions a run.
    transitions = items_of(result, "Machine")["state transitions (3 states)"]
    assert transitions.quantity == approx(runs * 4 / 1000)


def test_scheduled_job_found_by_its_family_name() -> None:
    """A state machine running "the latest revision of the family" names it as a string."""
    definition = '{"States":{"Run":{"Type":"Task","Parameters":{"TaskDefinition":"fam-job"}}}}'
    task = {**_task("256", "512")}
    task["Properties"] = {**task["Properties"], "Family": "fam-job"}
    result = estimate(
        {
            "JobTd": task,
            "Machine": res("AWS::StepFunctions::StateMachine", DefinitionString=definition),
            "Schedule": res("AWS::Scheduler::Schedule", ScheduleExpression="rate(1 day)",
                            Target={"Arn": {"Ref": "Machine"}}),
        },
        assumptions={"job_run_minutes": 60},
    )  # fmt: skip
    vcpu = items_of(result, "Schedule")["job on Fargate: vCPU (ARM64, 0.25)"]
    assert vcpu.quantity == approx(730 / 24 * 0.25)


def test_unscheduled_state_machine_runs_once_a_release() -> None:
    result = estimate(
        {"Machine": res("AWS::StepFunctions::StateMachine",
                        DefinitionString='{"States":{"A":{"Type":"Pass","End":true}}}')},
        assumptions={"releases_per_month": 40},
    )  # fmt: skip
    assert items_of(result, "Machine")["state transitions (1 states)"].quantity == approx(0.08)


def test_target_tracking_policies_and_managed_scaling_make_two_alarms() -> None:
    result = estimate(
        {
            "Tracking": res("AWS::ApplicationAutoScaling::ScalingPolicy",
                            PolicyType="TargetTrackingScaling"),
            "Steps": res("AWS::ApplicationAutoScaling::ScalingPolicy", PolicyType="StepScaling"),
            "Cp": res("AWS::ECS::CapacityProvider", AutoScalingGroupProvider={
                "AutoScalingGroupArn": {"Ref": "Asg"}, "ManagedScaling": {"Status": "ENABLED"}}),
        }
    )  # fmt: skip
    assert total_of(result, "Tracking") == approx(0.20)
    assert total_of(result, "Cp") == approx(0.20)
    assert total_of(result, "Steps") == 0
