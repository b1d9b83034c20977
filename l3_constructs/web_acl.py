"""The CloudFront-scope WAF web ACL of `PlatformEdge`: AWS managed rule groups (IP reputation,
common rules, known bad inputs), a per-IP rate limit and an optional country rule, every
rule with CloudWatch metrics, logged to a KMS-encrypted `aws-waf-logs-*` group with the
`authorization` and `cookie` headers redacted.

`add_web_acl` takes the `PlatformEdge` as scope, so construct paths (and logical ids) are
the ones they always had.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from aws_cdk import ArnFormat, RemovalPolicy, Stack
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_wafv2 as wafv2
from constructs import Construct

from l3_constructs.retention import retention_days


@dataclass(frozen=True)
class GeoMatch:
    """`block`: refuse requests from `countries`; `allow`: refuse requests from anywhere else.
    Countries are ISO 3166-1 alpha-2 codes."""

    mode: Literal["block", "allow"]
    countries: tuple[str, ...]


@dataclass(frozen=True)
class WafProps:
    #: Requests per 5 minutes from one IP address above which the address is blocked.
    rate_limit: int = 2000
    #: Rules of AWSManagedRulesCommonRuleSet switched to count (e.g. SizeRestrictions_BODY
    #: for an API taking bodies over 8 KB).
    common_rules_count_only: tuple[str, ...] = ()
    geo: GeoMatch | None = None
    log_retention_days: int = 90


@dataclass(frozen=True)
class WebAcl:
    web_acl: wafv2.CfnWebACL
    log_group: logs.LogGroup
    #: The web ACL's CloudWatch metric name (the `WebACL` dimension of its metrics), unique
    #: per stack so environments sharing an account never share metrics.
    metric_name: str


_Statement = wafv2.CfnWebACL.StatementProperty
#: A web ACL rule before its priority: name, statement, and whether it blocks on its own
#: (False: a managed rule group, whose rules keep their actions).
_Rule = tuple[str, _Statement, bool]


def add_web_acl(scope: Construct, waf: WafProps, *, key: kms.IKey) -> WebAcl:
    """The CLOUDFRONT-scope web ACL (ids in `scope`, the `PlatformEdge`) and its logging."""
    rules: list[_Rule] = []
    if waf.geo is not None:
        geo = _Statement(
            geo_match_statement=wafv2.CfnWebACL.GeoMatchStatementProperty(
                country_codes=list(waf.geo.countries)
            )
        )
        if waf.geo.mode == "allow":
            geo = _Statement(not_statement=wafv2.CfnWebACL.NotStatementProperty(statement=geo))
        rules.append((f"Geo{waf.geo.mode.title()}List", geo, True))
    rate = wafv2.CfnWebACL.RateBasedStatementProperty(
        limit=waf.rate_limit, evaluation_window_sec=300, aggregate_key_type="IP"
    )
    rules += [
        _managed("AWSManagedRulesAmazonIpReputationList"),
        ("RateLimitPerIp", _Statement(rate_based_statement=rate), True),
        _managed("AWSManagedRulesCommonRuleSet", count_only=waf.common_rules_count_only),
        _managed("AWSManagedRulesKnownBadInputsRuleSet"),
    ]
    # The web ACL's CloudWatch metric name (the `WebACL` dimension of its metrics),
    # unique per stack so environments sharing an account never share metrics.
    metric_name = f"{Stack.of(scope).stack_name}-WebAcl"
    web_acl = wafv2.CfnWebACL(
        scope,
        "WebAcl",
        scope="CLOUDFRONT",
        default_action=wafv2.CfnWebACL.DefaultActionProperty(allow={}),
        visibility_config=_visibility(metric_name),
        rules=[
            wafv2.CfnWebACL.RuleProperty(
                name=name,
                priority=priority,
                statement=statement,
                action=wafv2.CfnWebACL.RuleActionProperty(block={}) if blocks else None,
                override_action=None if blocks else wafv2.CfnWebACL.OverrideActionProperty(none={}),
                visibility_config=_visibility(name),
            )
            for priority, (name, statement, blocks) in enumerate(rules)
        ],
    )
    log_group = logs.LogGroup(
        scope,
        "WafLogGroup",
        # WAF delivers only to log groups named aws-waf-logs-*; the stack name and this
        # construct's id keep the name unique in the account's us-east-1.
        log_group_name=f"aws-waf-logs-{Stack.of(scope).stack_name}-{scope.node.id}",
        encryption_key=key,
        retention=retention_days(waf.log_retention_days),
        removal_policy=RemovalPolicy.RETAIN,
    )
    wafv2.CfnLoggingConfiguration(
        scope,
        "WafLogging",
        resource_arn=web_acl.attr_arn,
        # WAF refuses the `:*` form that the log group's Arn attribute carries.
        log_destination_configs=[log_group_arn(log_group)],
        redacted_fields=[
            wafv2.CfnLoggingConfiguration.FieldToMatchProperty(single_header={"Name": name})
            for name in ("authorization", "cookie")
        ],
    )
    return WebAcl(web_acl=web_acl, log_group=log_group, metric_name=metric_name)


def _visibility(metric_name: str) -> wafv2.CfnWebACL.VisibilityConfigProperty:
    return wafv2.CfnWebACL.VisibilityConfigProperty(
        cloud_watch_metrics_enabled=True, metric_name=metric_name, sampled_requests_enabled=True
    )


def _managed(name: str, *, count_only: tuple[str, ...] = ()) -> _Rule:
    """A rule running the AWS managed rule group `name`, its rules `count_only` set to count."""
    overrides = [
        wafv2.CfnWebACL.RuleActionOverrideProperty(
            name=rule, action_to_use=wafv2.CfnWebACL.RuleActionProperty(count={})
        )
        for rule in count_only
    ]
    group = wafv2.CfnWebACL.ManagedRuleGroupStatementProperty(
        vendor_name="AWS", name=name, rule_action_overrides=overrides or None
    )
    return name, _Statement(managed_rule_group_statement=group), False


def log_group_arn(group: logs.ILogGroup, suffix: str = "") -> str:
    """The log group's ARN without the `:*` its Arn attribute ends in, plus `suffix`."""
    return Stack.of(group).format_arn(
        service="logs",
        resource="log-group",
        resource_name=f"{group.log_group_name}{suffix}",
        arn_format=ArnFormat.COLON_RESOURCE_NAME,
    )
