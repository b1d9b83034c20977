"""`PlatformEdge` with the options no shipped environment uses: a geo allow list, an API
header allow-list (Authorization included), a CSP, error pages, count-only WAF rules, cache
keys. Construct-level: one small stack, synthesized once for the module."""

from __future__ import annotations

import json
from typing import Any

import pytest
from aws_cdk import App, Environment, Stack, assertions
from aws_cdk import aws_secretsmanager as secretsmanager

from l3_constructs.edge import (
    CacheTtl,
    EdgeProps,
    ErrorResponse,
    PlatformEdge,
    SecurityHeaders,
)
from l3_constructs.web_acl import GeoMatch, WafProps
from tests.conftest import Synth, cdk_json_context
from tests.helpers import props, ref_id, resources

ACCOUNT = "123456789012"
CSP = "default-src 'self'; img-src 'self' data:"
PROPS = EdgeProps(
    domain_names=("www.example.org",),
    hosted_zone_id="Z0123456789ABCDEFGHIJ",
    zone_name="example.org",
    origin_domain_name="origin.example.org",
    origin_verify_header_name="X-From-Edge",
    price_class="100",
    static_paths=("/_next/static/*", "/assets/*"),
    api_forwarded_headers=("Authorization", "Accept", "X-Request-Id"),
    default_cache_headers=("Accept-Language",),
    default_cache_cookies=("locale",),
    security_headers=SecurityHeaders(
        hsts_preload=True, frame_options="SAMEORIGIN", content_security_policy=CSP
    ),
    error_responses=(
        ErrorResponse(
            http_status=503,
            ttl_seconds=5,
            response_http_status=503,
            response_page_path="/assets/503.html",
        ),
    ),
    waf=WafProps(
        rate_limit=500,
        common_rules_count_only=("SizeRestrictions_BODY",),
        geo=GeoMatch(mode="allow", countries=("JP", "US")),
    ),
)


@pytest.fixture(scope="module")
def template(synth: Synth) -> dict[str, Any]:
    del synth  # after the session's synth: see _synth_order in tests/conftest.py
    app = App(context=cdk_json_context())
    producer = Stack(app, "Producer", env=Environment(account=ACCOUNT, region="eu-west-1"))
    secret = secretsmanager.Secret(producer, "Secret")
    stack = Stack(app, "Edge", env=Environment(account=ACCOUNT, region="us-east-1"))
    PlatformEdge(
        stack,
        "Edge",
        props=PROPS,
        origin_verify_secret_arn=secret.node.default_child.ref,  # type: ignore[union-attr]
    )
    return dict(assertions.Template.from_stack(stack).to_json())


def _distribution(template: dict[str, Any]) -> dict[str, Any]:
    ((_, resource),) = resources(template, "AWS::CloudFront::Distribution").items()
    config: dict[str, Any] = props(resource)["DistributionConfig"]
    return config


def test_every_static_path_goes_to_the_bucket(template: dict[str, Any]) -> None:
    behaviours = {b["PathPattern"]: b for b in _distribution(template)["CacheBehaviors"]}
    origins = {b["TargetOriginId"] for p, b in behaviours.items() if p != "/api/*"}
    assert set(behaviours) == {"/_next/static/*", "/assets/*", "/api/*"}
    assert len(origins) == 1


def test_api_forwards_only_the_listed_headers(template: dict[str, Any]) -> None:
    (api,) = [b for b in _distribution(template)["CacheBehaviors"] if b["PathPattern"] == "/api/*"]
    request = props(template["Resources"][ref_id(api["OriginRequestPolicyId"])])
    config = request["OriginRequestPolicyConfig"]
    assert config["HeadersConfig"] == {
        "HeaderBehavior": "whitelist",
        "Headers": ["Accept", "X-Request-Id"],
    }
    assert config["CookiesConfig"] == {"CookieBehavior": "all"}
    assert config["QueryStringsConfig"] == {"QueryStringBehavior": "all"}
    # CloudFront forwards a listed Authorization only through the cache key: a policy that
    # caches nothing unless the API asks, for one second per credential at most.
    cache = props(template["Resources"][ref_id(api["CachePolicyId"])])["CachePolicyConfig"]
    assert (cache["MinTTL"], cache["DefaultTTL"], cache["MaxTTL"]) == (0, 0, 1)
    key = cache["ParametersInCacheKeyAndForwardedToOrigin"]
    assert key["HeadersConfig"] == {"HeaderBehavior": "whitelist", "Headers": ["Authorization"]}


def test_default_cache_key_has_the_configured_header_and_cookie(template: dict[str, Any]) -> None:
    default = _distribution(template)["DefaultCacheBehavior"]
    cache = props(template["Resources"][ref_id(default["CachePolicyId"])])["CachePolicyConfig"]
    key = cache["ParametersInCacheKeyAndForwardedToOrigin"]
    assert key["HeadersConfig"] == {"HeaderBehavior": "whitelist", "Headers": ["Accept-Language"]}
    assert key["CookiesConfig"] == {"CookieBehavior": "whitelist", "Cookies": ["locale"]}


def test_csp_frame_options_and_preload(template: dict[str, Any]) -> None:
    ((_, policy),) = resources(template, "AWS::CloudFront::ResponseHeadersPolicy").items()
    security = props(policy)["ResponseHeadersPolicyConfig"]["SecurityHeadersConfig"]
    assert security["ContentSecurityPolicy"] == {"ContentSecurityPolicy": CSP, "Override": True}
    assert security["FrameOptions"]["FrameOption"] == "SAMEORIGIN"
    assert security["StrictTransportSecurity"]["Preload"] is True


def test_error_page_and_price_class(template: dict[str, Any]) -> None:
    config = _distribution(template)
    assert config["CustomErrorResponses"] == [
        {
            "ErrorCode": 503,
            "ErrorCachingMinTTL": 5,
            "ResponseCode": 503,
            "ResponsePagePath": "/assets/503.html",
        }
    ]
    assert config["PriceClass"] == "PriceClass_100"


def test_geo_allow_list_comes_first_and_count_only_rules(template: dict[str, Any]) -> None:
    ((_, acl),) = resources(template, "AWS::WAFv2::WebACL").items()
    rules = sorted(props(acl)["Rules"], key=lambda r: r["Priority"])
    assert rules[0]["Name"] == "GeoAllowList"
    assert rules[0]["Action"] == {"Block": {}}
    assert rules[0]["Statement"] == {
        "NotStatement": {"Statement": {"GeoMatchStatement": {"CountryCodes": ["JP", "US"]}}}
    }
    (common,) = [r for r in rules if r["Name"] == "AWSManagedRulesCommonRuleSet"]
    assert common["Statement"]["ManagedRuleGroupStatement"]["RuleActionOverrides"] == [
        {"Name": "SizeRestrictions_BODY", "ActionToUse": {"Count": {}}}
    ]
    (rate,) = [r for r in rules if r["Name"] == "RateLimitPerIp"]
    assert rate["Statement"]["RateBasedStatement"]["Limit"] == 500


def test_origin_header_reads_the_replica_in_the_edge_region(template: dict[str, Any]) -> None:
    ((_, resource),) = resources(template, "AWS::CloudFront::Distribution").items()
    text = json.dumps(props(resource))
    assert '"HeaderName": "X-From-Edge"' in text
    assert '"Region": "eu-west-1"' in text  # the primary's ARN, read across regions
    assert ":secretsmanager:" in text
    assert '{"Ref": "AWS::Region"}' in text  # ... rebuilt for the replica in us-east-1


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"api_path": "/assets/*"}, "is also a static path"),
        ({"static_ttl": CacheTtl(10, 5, 20)}, "must satisfy 0 <= min <= default <= max"),
        ({"default_ttl": CacheTtl(0, 0, 0)}, "max > 0"),
        ({"default_cache_headers": ("Accept-Encoding",)}, "may not list Accept-Encoding"),
        (
            {"error_responses": (ErrorResponse(503, 5, 503, "/errors/503.html"),)},
            "is not under a static path",
        ),
        (
            {"error_responses": (ErrorResponse(503, 5, None, "/assets/503.html"),)},
            "together",
        ),
    ],
)
def test_bad_props_are_refused_before_any_resource(
    synth: Synth, change: dict[str, Any], message: str
) -> None:
    del synth  # after the session's synth: see _synth_order in tests/conftest.py
    stack = Stack(App(), "Bad", env=Environment(account=ACCOUNT, region="us-east-1"))
    bad = EdgeProps(**{**PROPS.__dict__, **change})
    with pytest.raises(ValueError, match=message):
        PlatformEdge(stack, "Edge", props=bad, origin_verify_secret_arn="arn")


def test_edge_outside_us_east_1_is_refused(synth: Synth) -> None:
    del synth  # after the session's synth: see _synth_order in tests/conftest.py
    stack = Stack(App(), "Wrong", env=Environment(account=ACCOUNT, region="eu-west-1"))
    with pytest.raises(ValueError, match="needs a stack in us-east-1"):
        PlatformEdge(stack, "Edge", props=PROPS, origin_verify_secret_arn="arn")
