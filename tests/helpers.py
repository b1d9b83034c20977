"""Small readers over synthesized CloudFormation templates."""

from __future__ import annotations

from typing import Any

from config.models import EnvironmentConfig

Template = dict[str, Any]


def resources(template: Template, type_name: str) -> dict[str, dict[str, Any]]:
    """Logical id -> resource, for every resource of `type_name`."""
    return {k: r for k, r in template["Resources"].items() if r["Type"] == type_name}


def only(template: Template, type_name: str) -> tuple[str, dict[str, Any]]:
    """(logical id, resource) of the one resource of `type_name`; fails if not exactly one."""
    ((logical_id, resource),) = resources(template, type_name).items()
    return logical_id, resource


def props(resource: dict[str, Any]) -> dict[str, Any]:
    properties: dict[str, Any] = resource.get("Properties", {})
    return properties


def tag(resource: dict[str, Any], key: str) -> str | None:
    for item in props(resource).get("Tags", []):
        if item["Key"] == key:
            value: str = item["Value"]
            return value
    return None


def ref_id(value: Any) -> str:
    """The logical id in `{"Ref": id}` or `{"Fn::GetAtt": [id, attr]}`."""
    if "Ref" in value:
        ref: str = value["Ref"]
        return ref
    get_att: str = value["Fn::GetAtt"][0]
    return get_att


def joined(value: Any) -> str:
    """A `Fn::Join` with `Ref`s rendered as `${Name}`, to compare service names and ARNs."""
    if isinstance(value, str):
        return value
    if "Fn::Join" in value:
        sep, parts = value["Fn::Join"]
        return str(sep).join(joined(p) for p in parts)
    if "Ref" in value:
        return f"${{{value['Ref']}}}"
    return str(value)


#: Every stack an environment can have, in deployment order.
ALL_STACKS = (
    "Network",
    "Database",
    "BackupCopy",
    "Backup",
    "Storage",
    "Compute",
    "Edge",
    "Pipeline",
    "Monitoring",
    "Security",
)


def expected_stacks(config: EnvironmentConfig) -> tuple[str, ...]:
    """The stacks `config` asks for: Backup with `database.backup` (BackupCopy with its
    `copy_to_region`), Storage with `storage`, Pipeline with a `pipeline`, Security with a
    switch on."""
    backup = config.database.backup
    optional = {
        "Backup": backup is not None,
        "BackupCopy": backup is not None and backup.copy_to_region is not None,
        "Storage": config.storage is not None,
        "Pipeline": config.pipeline is not None,
        "Security": config.security.enabled,
    }
    return tuple(s for s in ALL_STACKS if optional.get(s, True))


#: Every ECS service (web, backend, worker) of every stage the session synthesizes, for
#: `pytest.mark.parametrize(("stage", "name"), ECS_SERVICES)`; jobs have no ECS service.
ECS_SERVICES_BY_STAGE: dict[str, tuple[str, ...]] = {
    "Test": ("web", "api", "worker"),
    "Stage": ("web", "api", "worker"),
    "Prod": ("web", "api", "worker"),
    "Dev": ("web", "api", "worker", "admin", "jobs"),
}


def standalone_platform(
    stack_id: str,
    *,
    nat_gateways: int,
    app_context: dict[str, Any],
    cluster_options: dict[str, Any] | None = None,
) -> Any:
    """A small stack of its own (a VPC, a `PlatformCluster` with `cluster_options` and a
    `PlatformLoadBalancer` without CloudFront) for construct-level tests: (stack, cluster,
    load balancer, vpc). Tests calling it run after the session's synth (conftest)."""
    from aws_cdk import App, Environment, Stack  # noqa: PLC0415 - CDK only where needed
    from aws_cdk import aws_ec2 as ec2  # noqa: PLC0415

    from l3_constructs.cluster import PlatformCluster  # noqa: PLC0415
    from l3_constructs.load_balancer import LoadBalancerProps, PlatformLoadBalancer  # noqa: PLC0415

    # A region: load balancer access logging needs one. Zones are named: no look-up.
    env = Environment(account="123456789012", region="eu-west-1")
    stack = Stack(App(context=app_context), stack_id, env=env)
    vpc = ec2.Vpc(
        stack, "Vpc", availability_zones=["eu-west-1a", "eu-west-1b"], nat_gateways=nat_gateways
    )
    cluster = PlatformCluster(
        stack,
        "Cluster",
        vpc=vpc,
        namespace_name=f"{stack_id.lower()}.internal",
        enable_execute_command=False,
        **(cluster_options or {}),
    )
    load_balancer = PlatformLoadBalancer(
        stack,
        "LoadBalancer",
        props=LoadBalancerProps(
            domain_name="app.example.org",
            hosted_zone_id="Z0123456789ABCDEFGHIJ",
            zone_name="example.org",
        ),
        vpc=vpc,
        subnets=ec2.SubnetSelection(subnet_type=ec2.SubnetType.PUBLIC),
        key=cluster.key,
    )
    return stack, cluster, load_balancer, vpc


#: The stacks that use the Network stack's key with `data_protection.shared_key`.
SHARED_KEY_STACKS = ("Database", "Compute", "Monitoring")
#: Its logical id there (tests/test_logical_ids.py pins it).
SHARED_KEY_ID = "NetworkFlowLogKeyF785E5F9"


def key_of(synth: Any, stage: str, stack: str) -> tuple[dict[str, Any], str]:
    """(the template holding the key `stack` encrypts with, the key's logical id): the
    stack's own key, or the Network stack's with `data_protection.shared_key`."""
    if synth.configs[stage].data_protection.shared_key and stack in SHARED_KEY_STACKS:
        return synth.template(stage, "Network"), SHARED_KEY_ID
    template = synth.template(stage, stack)
    (key_id,) = resources(template, "AWS::KMS::Key")
    return template, key_id


def is_key_arn(value: Any, key_id: str) -> bool:
    """`value` is the ARN of key `key_id`: in its own stack, or read from the stack holding
    it (a cross-stack output named after the key)."""
    if value == {"Fn::GetAtt": [key_id, "Arn"]}:
        return True
    output = value.get("Fn::GetStackOutput", {}) if isinstance(value, dict) else {}
    return f"FnGetAtt{key_id}Arn" in str(output.get("OutputName", ""))
