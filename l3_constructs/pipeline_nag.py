"""Acknowledging the IAM wildcard findings (AwsSolutions-IAM5) of `PlatformPipeline`'s roles,
each with its reason, and no others.

Split out of `l3_constructs.pipeline`. A finding id embeds the rendered resource, which is
only final once CDK's prepare phase has turned cross-stack references into imports or
`Fn::GetStackOutput`: so the acknowledging runs as construct validation, before cdk-nag.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import jsii
from aws_cdk import Stack
from aws_cdk import aws_iam as iam
from constructs import IConstruct, IValidation

from l3_constructs.compliance import acknowledge, flatten_cfn_reference

#: A `Resource::` finding id waiting for its value to be resolved (see `AcknowledgeWildcards`).
_RESOURCE_PREFIX = "Resource::"


def resource_finding(arn: str) -> str:
    """The finding key of a wildcard resource; resolved to cdk-nag's rendering at validation."""
    return f"{_RESOURCE_PREFIX}{arn}"


@jsii.implements(IValidation)
class AcknowledgeWildcards:
    """Acknowledges the AwsSolutions-IAM5 findings of `role`'s default policy that `explained`
    gives a reason for, and no others (an unexplained wildcard stays a finding)."""

    def __init__(self, role: iam.IRole, explained: Mapping[str, str]) -> None:
        self._role = role
        self._explained = explained
        self._acknowledged: set[str] = set()

    def validate(self) -> list[str]:
        policy = self._role.node.try_find_child("DefaultPolicy")
        if policy is None:
            return []
        stack = Stack.of(self._role)
        reasons = {_finding(stack, key): reason for key, reason in self._explained.items()}
        document = stack.resolve(_cfn_policy(policy).policy_document)
        for finding in wildcard_findings(document):
            rule = f"AwsSolutions-IAM5[{finding}]"
            reason = reasons.get(finding)
            if reason is not None and rule not in self._acknowledged:
                acknowledge(self._role, rule, reason)
                self._acknowledged.add(rule)
        return []


def _cfn_policy(policy: IConstruct) -> iam.CfnPolicy:
    child = policy.node.default_child
    if not isinstance(child, iam.CfnPolicy):
        raise TypeError(f"{policy.node.path} has no AWS::IAM::Policy")
    return child


def _finding(stack: Stack, key: str) -> str:
    """`Resource::<arn>` with the ARN rendered as cdk-nag does; action ids as they are."""
    if key.startswith(_RESOURCE_PREFIX):
        return _RESOURCE_PREFIX + flatten_cfn_reference(
            stack.resolve(key.removeprefix(_RESOURCE_PREFIX))
        )
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
