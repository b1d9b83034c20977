"""Edge: CloudFront (requests, data out), the WAF web ACL (ACL, rules, requests) and its logs,
Route 53 hosted zones. CloudFront and WAF are priced at the environment's own region's table
(the viewers are near it), though the Edge stack lives in us-east-1."""

from __future__ import annotations

from cost_estimate.assembly import Resource, refs, strings
from cost_estimate.context import (
    CLOUDFRONT_LOG_KB_PER_REQUEST,
    WAF_LOG_KB_PER_REQUEST,
    Context,
    UnpriceableError,
)
from cost_estimate.model import Gap, LineItem

Priced = list[LineItem | Gap]

#: AWS managed rule groups with a subscription and request fee of their own.
PAID_RULE_GROUPS = (
    "AWSManagedRulesBotControlRuleSet",
    "AWSManagedRulesATPRuleSet",
    "AWSManagedRulesACFPRuleSet",
    "AWSManagedRulesAntiDDoSRuleSet",
)


def distribution(res: Resource, ctx: Context) -> Priced:
    a = ctx.assumptions
    config = res.properties.get("DistributionConfig") or {}
    home = ctx.home_region
    items: Priced = [
        ctx.item(res, category="Edge", item="CloudFront data out to viewers",
                 quantity=a.data_out_gb_per_month, price="cloudfront.gb_out", kind="usage",
                 region=home, basis="data_out_gb_per_month (viewers near the environment)"),
        ctx.item(res, category="Edge", item="CloudFront HTTPS requests",
                 quantity=a.requests_per_month / 10_000, price="cloudfront.https_10k",
                 kind="usage", region=home, basis="requests_per_month"),
    ]  # fmt: skip
    behaviors = [config.get("DefaultCacheBehavior") or {}, *(config.get("CacheBehaviors") or [])]
    functions = sum(len(b.get("FunctionAssociations") or []) for b in behaviors)
    if functions:
        items.append(
            ctx.item(res, category="Edge", item=f"CloudFront Functions ({functions})",
                     quantity=functions * a.requests_per_month / 1e6, kind="usage", region=home,
                     price="cloudfront.function_million_invocations",
                     basis="requests_per_month, every request running each function (at most)")
        )  # fmt: skip
    text = str(config)
    if "LambdaFunctionAssociations" in text:
        items.append(ctx.gap(res, "Lambda@Edge is not in the price table"))
    origins = config.get("Origins") or []
    if any(str((o.get("OriginShield") or {}).get("Enabled")).lower() == "true" for o in origins):
        items.append(ctx.gap(res, "Origin Shield requests are not in the price table"))
    return items


def web_acl(res: Resource, ctx: Context) -> Priced:
    rules = res.properties.get("Rules") or []
    home = ctx.home_region
    items: Priced = [
        ctx.item(res, category="Edge", item="WAF web ACL", quantity=1, price="waf.web_acl_month",
                 kind="fixed", region=home, basis="one web ACL"),
        ctx.item(res, category="Edge", item=f"WAF rules ({len(rules)})", quantity=len(rules),
                 price="waf.rule_month", kind="fixed", region=home,
                 basis="each rule or managed rule group"),
        ctx.item(res, category="Edge", item="WAF requests",
                 quantity=ctx.assumptions.requests_per_month / 1e6, price="waf.million_requests",
                 kind="usage", region=home, basis="requests_per_month"),
    ]  # fmt: skip
    paid = [name for name in PAID_RULE_GROUPS if name in set(strings(rules))]
    for name in paid:
        items.append(ctx.gap(res, f"{name} has fees of its own, not in the price table"))
    return items


def waf_logging(res: Resource, ctx: Context) -> Priced:
    gb = ctx.assumptions.requests_per_month * WAF_LOG_KB_PER_REQUEST / 1024 / 1024
    to = destination_kind(res, ctx, res.properties.get("LogDestinationConfigs"))
    basis = f"requests_per_month x {WAF_LOG_KB_PER_REQUEST} KB"
    return [vended(res, ctx, gb=gb, what="WAF logs", basis=basis, to=to)]


def log_delivery(res: Resource, ctx: Context) -> Priced:
    """A CloudWatch Logs delivery (e.g. CloudFront's access logs, v2) to its destination."""
    source = ctx.target(res, {"Ref": _named(res, ctx, "DeliverySourceName")},
                        "AWS::Logs::DeliverySource")  # fmt: skip
    destination = ctx.target(res, {"Ref": _named(res, ctx, "DeliveryDestinationArn")},
                             "AWS::Logs::DeliveryDestination")  # fmt: skip
    if source is None or destination is None:
        raise UnpriceableError("its delivery source or destination is not in the stack")
    if "cloudfront" not in "".join(strings(source.properties.get("ResourceArn"))):
        raise UnpriceableError("only CloudFront access-log deliveries are priced")
    gb = ctx.assumptions.requests_per_month * CLOUDFRONT_LOG_KB_PER_REQUEST / 1024 / 1024
    to = destination_kind(destination, ctx, destination.properties.get("DestinationResourceArn"))
    basis = f"requests_per_month x {CLOUDFRONT_LOG_KB_PER_REQUEST} KB"
    return [vended(res, ctx, gb=gb, what="CloudFront access logs", basis=basis, to=to)]


def _named(res: Resource, ctx: Context, field: str) -> str:
    """The logical id `field` (a `Ref`, `Fn::GetAtt` or a name) points to, if any."""
    value = res.properties.get(field)
    found = list(refs(value))
    if found:
        return found[0]
    for other in ctx.stage.stacks[res.stack].resources.values():
        if other.properties.get("Name") == value:
            return other.logical_id
    return ""


def destination_kind(res: Resource, ctx: Context, destination: object) -> str:
    """`s3` or `logs`: where a vended log delivery (a `Ref`, an ARN) sends its logs."""
    text = "".join(strings(destination))
    targets = [ctx.stage.resource(res.stack, i) for i in refs(destination)]
    types = {t.type for t in targets if t is not None}
    if "AWS::S3::Bucket" in types or ":s3:" in text:
        return "s3"
    if "AWS::Logs::LogGroup" in types or ":logs:" in text:
        return "logs"
    raise UnpriceableError("its logs go to a destination that is not priced (Firehose?)")


def vended(
    res: Resource, ctx: Context, *, gb: float, what: str, basis: str, to: str
) -> LineItem | Gap:
    """Vended-log delivery of `gb` a month to S3 (`to="s3"`) or CloudWatch Logs."""
    if to == "s3":
        price, where = "cloudwatch.vended_log_s3_gb", "to S3"
    else:
        price, where = "cloudwatch.vended_log_cloudwatch_gb", "to CloudWatch Logs"
    return ctx.item(res, category="Monitoring", item=f"{what} delivered {where}", quantity=gb,
                    price=price, kind="usage", basis=basis)  # fmt: skip


def hosted_zone(res: Resource, ctx: Context) -> Priced:
    return [
        ctx.item(res, category="Edge", item="Route 53 hosted zone", quantity=1,
                 price="route53.hosted_zone_month", kind="fixed", basis="one zone"),
    ]  # fmt: skip
