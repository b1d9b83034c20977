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
    "Storage",
    "Compute",
    "Edge",
    "Pipeline",
    "Monitoring",
    "Security",
)


def expected_stacks(config: EnvironmentConfig) -> tuple[str, ...]:
    """The stacks `config` asks for: Storage with `storage`, Pipeline with a `pipeline`,
    Security with a switch on."""
    optional = {
        "Storage": config.storage is not None,
        "Pipeline": config.pipeline is not None,
        "Security": config.security.enabled,
    }
    return tuple(s for s in ALL_STACKS if optional.get(s, True))
