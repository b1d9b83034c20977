"""Acknowledging cdk-nag findings on the construct they concern, always with a reason.

cdk-nag 3 records an acknowledgment (and its reason) under `suppressedViolations` only when
the id carries its pack's namespace, e.g. ``AwsSolutions::AwsSolutions-S1``. Constructs call
`acknowledge(construct, "AwsSolutions-S1", reason)`; this module adds the namespace, so no
caller can get it wrong.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from aws_cdk import Acknowledgment, Validations
from constructs import IConstruct

#: Rule-id prefix -> the pack namespace cdk-nag 3 records acknowledgments under.
_PACKS = ("AwsSolutions", "NIST.800.53.R5", "HIPAA.Security", "PCI.DSS.321")
#: Other validation plugins, whose ids are given already namespaced (`Plugin::Rule`):
#: CDK's own template checks (feature flag validateAgainstDefaultRules).
_PLUGINS = ("CloudFormation-Validate",)

MIN_REASON_LENGTH = 30


def namespaced(rule: str) -> str:
    """`AwsSolutions-S1` -> `AwsSolutions::AwsSolutions-S1` (also for finding ids `X[...]`);
    `CloudFormation-Validate::W3010` stays as it is."""
    if rule.split("::", 1)[0] in _PLUGINS:
        return rule
    for pack in _PACKS:
        if rule.startswith(f"{pack}-"):
            return f"{pack}::{rule}"
    raise ValueError(f"{rule!r} is not a rule id of a known pack {_PACKS} or plugin {_PLUGINS}")


def acknowledge(scope: IConstruct, rules: str | tuple[str, ...], reason: str) -> None:
    """Acknowledge `rules` on `scope` (the construct the finding concerns) with `reason`."""
    if len(reason.strip()) < MIN_REASON_LENGTH:
        raise ValueError(f"acknowledgment of {rules} needs a specific reason, got {reason!r}")
    for rule in (rules,) if isinstance(rules, str) else rules:
        Validations.of(scope).acknowledge(Acknowledgment(id=namespaced(rule), reason=reason))


def flatten_cfn_reference(node: Any) -> str:
    """cdk-nag's flattenCfnReference: a resolved CloudFormation value as one string."""
    if isinstance(node, str):
        return node.replace("${", "<").replace("}", ">")
    if isinstance(node, dict) and len(node) == 1:
        ((function, argument),) = node.items()
        flatten = _FLATTEN_INTRINSICS.get(function)
        if flatten is not None:
            return flatten(argument)
    # cdk-nag falls back to JSON.stringify (compact, non-ASCII kept)
    return json.dumps(node, separators=(",", ":"), ensure_ascii=False)


def _flatten_join(argument: Any) -> str:
    delimiter, items = argument
    return str(delimiter).join(flatten_cfn_reference(item) for item in items)


def _flatten_get_att(argument: Any) -> str:
    resource, attribute = argument
    return f"<{flatten_cfn_reference(resource)}.{flatten_cfn_reference(attribute)}>"


_FLATTEN_INTRINSICS: dict[str, Callable[[Any], str]] = {
    "Fn::Join": _flatten_join,
    "Fn::Sub": flatten_cfn_reference,
    "Fn::GetAtt": _flatten_get_att,
    "Fn::ImportValue": flatten_cfn_reference,
    "Ref": lambda name: f"<{flatten_cfn_reference(name)}>",
}
