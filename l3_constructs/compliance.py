"""Acknowledging cdk-nag findings on the construct they concern, always with a reason.

cdk-nag 3 records an acknowledgment (and its reason) under `suppressedViolations` only when
the id carries its pack's namespace, e.g. ``AwsSolutions::AwsSolutions-S1``. Constructs call
`acknowledge(construct, "AwsSolutions-S1", reason)`; this module adds the namespace, so no
caller can get it wrong.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from typing import Any

import jsii
from aws_cdk import Acknowledgment, CfnResource, Stack, Validations
from constructs import IConstruct, IValidation

#: Rule-id prefix -> the pack namespace cdk-nag 3 records acknowledgments under.
_PACKS = ("AwsSolutions", "NIST.800.53.R5", "HIPAA.Security", "PCI.DSS.321")
#: Other validation plugins, whose ids are given already namespaced (`Plugin::Rule`):
#: CDK's own template checks (feature flag validateAgainstDefaultRules).
_PLUGINS = ("CloudFormation-Validate",)

MIN_REASON_LENGTH = 30

_NIST = "NIST.800.53.R5-"
#: Config names of the optional packs -> their rule-id prefix. These packs share rule
#: implementations with NIST 800-53 rev5 (same rule name, same check).
EXTRA_PACKS = {"hipaa": "HIPAA.Security-", "pci_dss": "PCI.DSS.321-"}
#: Every NIST acknowledgment made (scope, rule, reason), for `mirror_nist_acknowledgments`.
_NIST_ACKNOWLEDGED: list[tuple[IConstruct, str, str]] = []


def namespaced(rule: str) -> str:
    """`AwsSolutions-S1` -> `AwsSolutions::AwsSolutions-S1` (also for finding ids `X[...]`);
    `CloudFormation-Validate::W3010` stays as it is."""
    if rule.split("::", 1)[0] in _PLUGINS:
        return rule
    for pack in _PACKS:
        if rule.startswith(f"{pack}-"):
            return f"{pack}::{rule}"
    raise ValueError(f"{rule!r} is not a rule id of a known pack {_PACKS} or plugin {_PLUGINS}")


def with_cost_note(reason: str, cost_note: str) -> str:
    """`reason` for a control given up for money, followed by `cost_note` (what it saves a
    month, `cost_estimate.savings.note`) when there is one."""
    return f"{reason} {cost_note}" if cost_note else reason


def acknowledge(scope: IConstruct, rules: str | tuple[str, ...], reason: str) -> None:
    """Acknowledge `rules` on `scope` (the construct the finding concerns) with `reason`."""
    if len(reason.strip()) < MIN_REASON_LENGTH:
        raise ValueError(f"acknowledgment of {rules} needs a specific reason, got {reason!r}")
    for rule in (rules,) if isinstance(rules, str) else rules:
        Validations.of(scope).acknowledge(Acknowledgment(id=namespaced(rule), reason=reason))
        if rule.startswith(_NIST):
            _NIST_ACKNOWLEDGED.append((scope, rule, reason))


def mirror_nist_acknowledgments(stage: IConstruct, packs: tuple[str, ...]) -> None:
    """Acknowledge, inside `stage`, the same-named rule of each extra pack (`hipaa`,
    `pci_dss`) wherever a NIST 800-53 rev5 rule was acknowledged, with the same reason: the
    packs run the same check, so the same evidence answers it. Done once per stage that
    enables them (after its constructs exist), so stages without them pay nothing."""
    root, prefix = stage.node.root, f"{stage.node.path}/"
    for scope, rule, reason in _NIST_ACKNOWLEDGED:
        if scope.node.root is not root or not f"{scope.node.path}/".startswith(prefix):
            continue
        name = rule.removeprefix(_NIST)
        for pack in packs:
            mirrored = namespaced(f"{EXTRA_PACKS[pack]}{name}")
            Validations.of(scope).acknowledge(Acknowledgment(id=mirrored, reason=reason))


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


#: checkov check ids: CKV_AWS_18, CKV2_AWS_5, ...
_CHECKOV_ID = re.compile(r"CKV2?_[A-Z0-9]+_\d+")


def skip_checkov(construct: IConstruct, check_id: str, reason: str) -> None:
    """Skip checkov's `check_id` on the resource `construct` (a CfnResource, or an L2 whose
    default child is one), with `reason`. checkov reads the skip from the resource's
    CloudFormation metadata (`Metadata.checkov.skip: [{id, comment}]`), so it sits on the
    resource it concerns; the compliance report lists it. A second skip of the same check on
    the same resource (a shared CDK singleton) adds its reason to the first."""
    if not _CHECKOV_ID.fullmatch(check_id):
        raise ValueError(f"{check_id!r} is not a checkov check id (CKV_AWS_18, CKV2_AWS_5, ...)")
    if len(reason.strip()) < MIN_REASON_LENGTH:
        raise ValueError(f"checkov skip of {check_id} needs a specific reason, got {reason!r}")
    resource = construct if isinstance(construct, CfnResource) else construct.node.default_child
    if not isinstance(resource, CfnResource):
        raise TypeError(
            f"{construct.node.path} is no CloudFormation resource and has none as default child"
        )
    checkov: dict[str, Any] = dict(resource.get_metadata("checkov") or {})
    skips: list[dict[str, str]] = list(checkov.get("skip", []))
    for skip in skips:
        if skip["id"] == check_id:
            if reason not in skip["comment"]:
                skip["comment"] = f"{skip['comment']} Also: {reason}"
            break
    else:
        skips.append({"id": check_id, "comment": reason})
    resource.add_metadata("checkov", {**checkov, "skip": skips})


#: Gives the reason for one AwsSolutions-IAM5 finding id (e.g. `Action::s3:List*`,
#: `Resource::<Bucket.Arn>/*`), or None to leave it a finding.
Explain = Callable[[str], str | None]


def acknowledge_wildcards(role: IConstruct, explain: Explain | Mapping[str, str]) -> None:
    """Acknowledge the AwsSolutions-IAM5 findings of `role`'s default policy that `explain`
    gives a reason for, and no others (an unexplained wildcard stays a finding).

    A mapping's keys are finding ids whose `Resource::` part may hold tokens (resolved as
    cdk-nag renders them). Runs as construct validation: after CDK's prepare phase has turned
    cross-stack references into their final form (which the finding ids embed), before
    cdk-nag."""
    role.node.add_validation(_AcknowledgeWildcards(role, explain))


@jsii.implements(IValidation)
class _AcknowledgeWildcards:
    def __init__(self, role: IConstruct, explain: Explain | Mapping[str, str]) -> None:
        self._role = role
        self._explain = explain
        self._acknowledged: set[str] = set()

    def validate(self) -> list[str]:
        policy = self._role.node.try_find_child("DefaultPolicy")
        if policy is None:
            return []
        stack = Stack.of(self._role)
        explain = self._explain
        if isinstance(explain, Mapping):
            reasons = {finding_id(stack, key): reason for key, reason in explain.items()}
            explain = reasons.get
        resource = policy.node.default_child
        if not isinstance(resource, CfnResource):
            return []
        document = stack.resolve(_policy_document(resource))
        for finding in wildcard_findings(document):
            rule = f"AwsSolutions-IAM5[{finding}]"
            reason = explain(finding)
            if reason is not None and rule not in self._acknowledged:
                acknowledge(self._role, rule, reason)
                self._acknowledged.add(rule)
        return []


def _policy_document(resource: CfnResource) -> Any:
    document = getattr(resource, "policy_document", None)
    if document is None:
        raise TypeError(f"{resource.node.path} has no policy document")
    return document


def resource_finding(arn: str) -> str:
    """The finding key of a wildcard resource for `acknowledge_wildcards`, resolved to
    cdk-nag's rendering when validation runs (the ARN may hold tokens)."""
    return f"Resource::{arn}"


def finding_id(stack: Stack, key: str) -> str:
    """`Resource::<arn>` with the ARN rendered as cdk-nag does; action ids as they are."""
    prefix = "Resource::"
    if key.startswith(prefix):
        return prefix + flatten_cfn_reference(stack.resolve(key.removeprefix(prefix)))
    return key


def wildcard_findings(document: Mapping[str, Any]) -> list[str]:
    """cdk-nag's IAMNoWildcardPermissions analysis of an Allow policy document."""
    findings: dict[str, None] = {}
    for statement in document.get("Statement", []):
        if statement.get("Effect") != "Allow":
            continue
        for action in _as_list(statement.get("Action")):
            if isinstance(action, str) and "*" in action:
                findings[f"Action::{action}"] = None
        for resource in _as_list(statement.get("Resource")):
            flat = flatten_cfn_reference(resource)
            if "*" in flat:
                findings[f"Resource::{flat}"] = None
    return list(findings)


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]
