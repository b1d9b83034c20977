"""Fine-grained checks of the Edge stack per environment: CloudFront behaviours and viewer
settings, the origin secret, the static bucket behind Origin Access Control, WAF, DNS and
access logging, all against the environment's config."""

from __future__ import annotations

import json
from typing import Any

import pytest

from l3_constructs.static_assets import (
    IMMUTABLE_CACHE_CONTROL,
    SUPERSEDED_TAG_KEY,
    SUPERSEDED_TAG_VALUE,
)
from release_tools import publish_static
from stacks.compute_stack import VIEWER_HOST_HEADER
from tests.conftest import NEW_STAGE, SHIPPED_STAGES, Synth
from tests.helpers import only, props, ref_id, resources

STAGES = (*SHIPPED_STAGES, NEW_STAGE)
#: AWS-managed CloudFront policies (their ids are the same in every account).
CACHING_DISABLED = "4135ea2d-6df8-44a3-9df3-4b5a84be39ad"
ALL_VIEWER_EXCEPT_HOST_HEADER = "b689b0a8-53d0-40ab-baf2-68738e2966ac"
ALL_METHODS = ["GET", "HEAD", "OPTIONS", "PUT", "PATCH", "POST", "DELETE"]


def _t(synth: Synth, stage: str) -> dict[str, Any]:
    return synth.template(stage, "Edge")


def _distribution(template: dict[str, Any]) -> dict[str, Any]:
    config: dict[str, Any] = props(only(template, "AWS::CloudFront::Distribution")[1])[
        "DistributionConfig"
    ]
    return config


def _origins(template: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """(the load balancer origin, the static bucket origin)."""
    found = _distribution(template)["Origins"]
    (app,) = [o for o in found if "CustomOriginConfig" in o or "VpcOriginConfig" in o]
    (static,) = [o for o in found if "S3OriginConfig" in o]
    return app, static


def _behaviours(template: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Path pattern -> behaviour; the default behaviour under `*`."""
    config = _distribution(template)
    return {
        **{b["PathPattern"]: b for b in config["CacheBehaviors"]},
        "*": config["DefaultCacheBehavior"],
    }


def _cache_policy(template: dict[str, Any], policy_id: Any) -> dict[str, Any]:
    policy: dict[str, Any] = props(template["Resources"][ref_id(policy_id)])["CachePolicyConfig"]
    return policy


def _ttls(policy: dict[str, Any]) -> tuple[int, int, int]:
    return policy["MinTTL"], policy["DefaultTTL"], policy["MaxTTL"]


def _bucket_id(template: dict[str, Any], name: str) -> str:
    (found,) = [k for k in resources(template, "AWS::S3::Bucket") if k.startswith(f"Edge{name}")]
    return found


@pytest.mark.parametrize("stage", STAGES)
def test_static_paths_go_to_the_bucket_cached_for_the_configured_ttls(
    synth: Synth, stage: str
) -> None:
    edge = synth.configs[stage].edge
    template = _t(synth, stage)
    behaviours = _behaviours(template)
    _, static_origin = _origins(template)
    assert ref_id(static_origin["DomainName"]) == _bucket_id(template, "StaticBucket")
    for path in edge.static.paths:
        behaviour = behaviours[path]
        assert behaviour["TargetOriginId"] == static_origin["Id"]
        assert behaviour["AllowedMethods"] == ["GET", "HEAD"]
        assert behaviour["Compress"] is True
        policy = _cache_policy(template, behaviour["CachePolicyId"])
        cache = edge.static.cache
        assert _ttls(policy) == (cache.min_seconds, cache.default_seconds, cache.max_seconds)
        key = policy["ParametersInCacheKeyAndForwardedToOrigin"]
        assert key["HeadersConfig"] == {"HeaderBehavior": "none"}
        assert key["CookiesConfig"] == {"CookieBehavior": "none"}
        assert key["QueryStringsConfig"] == {"QueryStringBehavior": "none"}
        assert key["EnableAcceptEncodingGzip"] is key["EnableAcceptEncodingBrotli"] is True
        assert "OriginRequestPolicyId" not in behaviour


def test_shipped_static_assets_are_cached_a_year(synth: Synth) -> None:
    for stage in SHIPPED_STAGES:
        behaviour = _behaviours(_t(synth, stage))["/_next/static/*"]
        policy = _cache_policy(_t(synth, stage), behaviour["CachePolicyId"])
        assert _ttls(policy) == (31_536_000, 31_536_000, 31_536_000)


@pytest.mark.parametrize("stage", STAGES)
def test_api_is_never_cached_and_gets_every_method_header_cookie_and_query(
    synth: Synth, stage: str
) -> None:
    edge = synth.configs[stage].edge
    assert edge.api.forwarded_headers is None  # the shipped choice; variants: test_edge_props
    template = _t(synth, stage)
    behaviour = _behaviours(template)[edge.api.path]
    app_origin, _ = _origins(template)
    assert behaviour["TargetOriginId"] == app_origin["Id"]
    assert behaviour["CachePolicyId"] == CACHING_DISABLED
    assert behaviour["OriginRequestPolicyId"] == ALL_VIEWER_EXCEPT_HOST_HEADER
    assert behaviour["AllowedMethods"] == ALL_METHODS


@pytest.mark.parametrize("stage", STAGES)
def test_default_behaviour_goes_to_the_origin_keyed_on_configured_headers_and_cookies(
    synth: Synth, stage: str
) -> None:
    default = synth.configs[stage].edge.default
    template = _t(synth, stage)
    behaviour = _behaviours(template)["*"]
    app_origin, _ = _origins(template)
    assert behaviour["TargetOriginId"] == app_origin["Id"]
    assert behaviour["AllowedMethods"] == ALL_METHODS
    assert behaviour["OriginRequestPolicyId"] == ALL_VIEWER_EXCEPT_HOST_HEADER
    policy = _cache_policy(template, behaviour["CachePolicyId"])
    cache = default.cache
    assert _ttls(policy) == (cache.min_seconds, cache.default_seconds, cache.max_seconds)
    assert cache.default_seconds == 0
    key = policy["ParametersInCacheKeyAndForwardedToOrigin"]
    # Pages of host-routed services differ by host (Dev's admin): the host is in the key.
    headers = [*default.cache_headers]
    if synth.configs[stage].has_host_routes:
        headers.append(VIEWER_HOST_HEADER)
    expected_headers: dict[str, Any] = (
        {"HeaderBehavior": "whitelist", "Headers": headers}
        if headers
        else {"HeaderBehavior": "none"}
    )
    assert key["HeadersConfig"] == expected_headers
    expected_cookies: dict[str, Any] = (
        {"CookieBehavior": "whitelist", "Cookies": list(default.cache_cookies)}
        if default.cache_cookies
        else {"CookieBehavior": "none"}
    )
    assert key["CookiesConfig"] == expected_cookies
    assert key["QueryStringsConfig"] == {"QueryStringBehavior": "all"}


@pytest.mark.parametrize("stage", STAGES)
def test_viewer_settings(synth: Synth, stage: str) -> None:
    edge = synth.configs[stage].edge
    template = _t(synth, stage)
    config = _distribution(template)
    # The configured names, then host-routed services' hosts (Dev's admin).
    assert config["Aliases"] == list(synth.configs[stage].viewer_names)
    assert config["HttpVersion"] == "http2and3"
    assert config["IPV6Enabled"] is True
    assert config["PriceClass"] == {"100": "PriceClass_100", "200": "PriceClass_200"}.get(
        edge.price_class, "PriceClass_All"
    )
    viewer = config["ViewerCertificate"]
    assert viewer["MinimumProtocolVersion"] == "TLSv1.2_2021"
    assert viewer["SslSupportMethod"] == "sni-only"
    assert (
        ref_id(viewer["AcmCertificateArn"])
        == only(template, "AWS::CertificateManager::Certificate")[0]
    )
    policy_id = only(template, "AWS::CloudFront::ResponseHeadersPolicy")[0]
    for behaviour in _behaviours(template).values():
        assert behaviour["ViewerProtocolPolicy"] == "redirect-to-https"
        assert ref_id(behaviour["ResponseHeadersPolicyId"]) == policy_id
    assert ref_id(config["WebACLId"]) == only(template, "AWS::WAFv2::WebACL")[0]


def test_shipped_price_class_is_200(synth: Synth) -> None:
    for stage in SHIPPED_STAGES:
        assert _distribution(_t(synth, stage))["PriceClass"] == "PriceClass_200"


@pytest.mark.parametrize("stage", STAGES)
def test_certificate_in_us_east_1_covers_every_name_validated_in_the_zone(
    synth: Synth, stage: str
) -> None:
    config = synth.configs[stage]
    names = list(config.viewer_names)
    _, certificate = only(_t(synth, stage), "AWS::CertificateManager::Certificate")
    p = props(certificate)
    assert p["DomainName"] == names[0]
    assert p.get("SubjectAlternativeNames", []) == names[1:]
    assert p["ValidationMethod"] == "DNS"
    assert p["DomainValidationOptions"] == [
        {"DomainName": name, "HostedZoneId": config.dns.hosted_zone_id} for name in names
    ]
    assert synth.artifacts[(stage, "Edge")]["environment"].endswith("/us-east-1")


@pytest.mark.parametrize("stage", STAGES)
def test_a_and_aaaa_alias_records_for_every_name(synth: Synth, stage: str) -> None:
    config = synth.configs[stage]
    template = _t(synth, stage)
    distribution_id, _ = only(template, "AWS::CloudFront::Distribution")
    records = {
        (props(r)["Name"], props(r)["Type"]): props(r)
        for r in resources(template, "AWS::Route53::RecordSet").values()
    }
    expected = {(f"{n}.", kind) for n in config.viewer_names for kind in ("A", "AAAA")}
    assert set(records) == expected
    for record in records.values():
        assert record["HostedZoneId"] == config.dns.hosted_zone_id
        assert record["AliasTarget"]["DNSName"] == {"Fn::GetAtt": [distribution_id, "DomainName"]}


@pytest.mark.parametrize("stage", STAGES)
def test_security_response_headers(synth: Synth, stage: str) -> None:
    headers = synth.configs[stage].edge.security_headers
    _, policy = only(_t(synth, stage), "AWS::CloudFront::ResponseHeadersPolicy")
    security = props(policy)["ResponseHeadersPolicyConfig"]["SecurityHeadersConfig"]
    assert security["StrictTransportSecurity"] == {
        "AccessControlMaxAgeSec": headers.hsts_max_age_seconds,
        "IncludeSubdomains": headers.hsts_include_subdomains,
        "Preload": headers.hsts_preload,
        "Override": True,
    }
    assert security["ContentTypeOptions"] == {"Override": True}
    assert security["FrameOptions"] == {"FrameOption": headers.frame_options, "Override": True}
    assert security["ReferrerPolicy"] == {
        "ReferrerPolicy": headers.referrer_policy,
        "Override": True,
    }
    assert ("ContentSecurityPolicy" in security) is (headers.content_security_policy is not None)


@pytest.mark.parametrize("stage", STAGES)
def test_origin_is_the_load_balancer_over_https_with_the_secret_header(
    synth: Synth, stage: str
) -> None:
    config = synth.configs[stage]
    app_origin, _ = _origins(_t(synth, stage))
    # The load balancer's own name: the one on its certificate.
    assert app_origin["DomainName"] == config.compute.domain_name
    tls = {"OriginProtocolPolicy": "https-only", "OriginSSLProtocols": ["TLSv1.2"]}
    if config.edge.vpc_origin:
        # The internal load balancer through a VPC origin: HTTPS and TLS 1.2 are the VPC
        # origin's, its endpoint the load balancer's ARN from the Compute stack.
        ((origin_id, vpc_origin),) = resources(
            _t(synth, stage), "AWS::CloudFront::VpcOrigin"
        ).items()
        assert app_origin["VpcOriginConfig"] == {"VpcOriginId": {"Fn::GetAtt": [origin_id, "Id"]}}
        endpoint = props(vpc_origin)["VpcOriginEndpointConfig"]
        assert {k: endpoint[k] for k in tls} == tls
        assert endpoint["Arn"]["Fn::GetStackOutput"]["StackName"] == f"{stage}-Compute"
        assert "CustomOriginConfig" not in app_origin
    else:
        assert app_origin["CustomOriginConfig"] == tls
        assert not resources(_t(synth, stage), "AWS::CloudFront::VpcOrigin")
    (header,) = app_origin["OriginCustomHeaders"]
    assert header["HeaderName"] == config.edge.origin_verify_header
    value = json.dumps(header["HeaderValue"])
    # Never the secret itself: a dynamic reference to the us-east-1 replica of the secret
    # the Compute stack generated, whose ARN comes across regions from that stack.
    assert value.startswith('{"Fn::Join": ["", ["{{resolve:secretsmanager:arn:"')
    assert value.endswith('":SecretString:::}}"]]}')
    (reference,) = _stack_outputs_read(header["HeaderValue"])
    compute = synth.template(stage, "Compute")
    secret_id = next(iter(resources(compute, "AWS::SecretsManager::Secret")))
    assert reference == {
        "StackName": f"{stage}-Compute",
        "Region": config.region,
        "OutputName": next(
            name
            for name, output in compute["Outputs"].items()
            if output["Value"] == {"Ref": secret_id}
        ),
    }


def _stack_outputs_read(value: Any) -> list[dict[str, Any]]:
    """Every `Fn::GetStackOutput` inside `value`."""
    if isinstance(value, dict):
        if "Fn::GetStackOutput" in value:
            return [value["Fn::GetStackOutput"]]
        return [x for v in value.values() for x in _stack_outputs_read(v)]
    if isinstance(value, list):
        return [x for v in value for x in _stack_outputs_read(v)]
    return []


@pytest.mark.parametrize("stage", STAGES)
def test_edge_deploys_after_compute_and_reads_only_it(synth: Synth, stage: str) -> None:
    manifest = json.loads((synth.outdir / f"assembly-{stage}" / "manifest.json").read_text())
    by_name = {
        a["displayName"]: (artifact_id, a)
        for artifact_id, a in manifest["artifacts"].items()
        if a["type"] == "aws:cloudformation:stack"
    }
    compute_id, _ = by_name[f"{stage}/Compute"]
    _, edge = by_name[f"{stage}/Edge"]
    stack_dependencies = [d for d in edge["dependencies"] if not d.endswith(".assets")]
    assert stack_dependencies == [compute_id]
    read = _stack_outputs_read(_t(synth, stage))
    assert read
    assert {r["StackName"] for r in read} == {f"{stage}-Compute"}


@pytest.mark.parametrize("stage", STAGES)
def test_static_bucket_is_private_and_readable_only_by_this_distribution(
    synth: Synth, stage: str
) -> None:
    static = synth.configs[stage].edge.static
    template = _t(synth, stage)
    bucket_id = _bucket_id(template, "StaticBucket")
    bucket = template["Resources"][bucket_id]
    p = props(bucket)
    assert all(p["PublicAccessBlockConfiguration"].values())
    assert p["BucketEncryption"]["ServerSideEncryptionConfiguration"] == [
        {"ServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}
    ]
    assert p["VersioningConfiguration"] == {"Status": "Enabled"}
    rules = {r.get("Id", "versions"): r for r in p["LifecycleConfiguration"]["Rules"]}
    assert rules["versions"]["NoncurrentVersionExpiration"] == {
        "NoncurrentDays": static.noncurrent_version_days
    }
    # Files a release no longer uses (tagged by the publish step) expire; nothing else does.
    assert rules["ExpireSupersededStaticFiles"] == {
        "Id": "ExpireSupersededStaticFiles",
        "Status": "Enabled",
        "ExpirationInDays": static.superseded_days,
        "TagFilters": [{"Key": SUPERSEDED_TAG_KEY, "Value": SUPERSEDED_TAG_VALUE}],
    }
    assert rules["RemoveExpiredDeleteMarkers"]["ExpiredObjectDeleteMarker"] is True
    assert set(rules) == {"versions", "ExpireSupersededStaticFiles", "RemoveExpiredDeleteMarkers"}
    assert ref_id(p["LoggingConfiguration"]["DestinationBucketName"]) == _bucket_id(
        template, "StaticLogBucket"
    )
    expected_policy = "Retain" if static.removal_policy == "retain" else "Delete"
    assert bucket["DeletionPolicy"] == bucket["UpdateReplacePolicy"] == expected_policy

    (policy,) = [
        props(r)
        for r in resources(template, "AWS::S3::BucketPolicy").values()
        if props(r)["Bucket"] == {"Ref": bucket_id}
    ]
    statements = policy["PolicyDocument"]["Statement"]
    assert {"Bool": {"aws:SecureTransport": "false"}} in [s.get("Condition") for s in statements]
    (read,) = [
        s for s in statements if s.get("Principal") == {"Service": "cloudfront.amazonaws.com"}
    ]
    assert read["Effect"] == "Allow"
    assert read["Action"] == "s3:GetObject"
    distribution_id, _ = only(template, "AWS::CloudFront::Distribution")
    source_arn = json.dumps(read["Condition"]["StringEquals"]["AWS:SourceArn"])
    assert f'{{"Ref": "{distribution_id}"}}' in source_arn
    assert ":distribution/" in source_arn
    # Nobody else is allowed anything (CDK's auto-delete role may empty a destroyable bucket).
    others = [
        s
        for s in statements
        if s["Effect"] == "Allow" and s is not read and "AutoDeleteObjects" not in json.dumps(s)
    ]
    assert others == []
    _, static_origin = _origins(template)
    oac_id, oac = only(template, "AWS::CloudFront::OriginAccessControl")
    assert static_origin["OriginAccessControlId"] == {"Fn::GetAtt": [oac_id, "Id"]}
    assert props(oac)["OriginAccessControlConfig"]["SigningBehavior"] == "always"


def test_shipped_static_bucket_removal(synth: Synth) -> None:
    policies = {
        stage: _t(synth, stage)["Resources"][_bucket_id(_t(synth, stage), "StaticBucket")][
            "DeletionPolicy"
        ]
        for stage in SHIPPED_STAGES
    }
    assert policies == {"Test": "Delete", "Stage": "Retain", "Prod": "Retain"}


@pytest.mark.parametrize("stage", STAGES)
def test_custom_error_responses_from_config(synth: Synth, stage: str) -> None:
    expected = [
        {
            "ErrorCode": e.http_status,
            "ErrorCachingMinTTL": e.ttl_seconds,
            **({"ResponseCode": e.response_http_status} if e.response_http_status else {}),
            **({"ResponsePagePath": e.response_page_path} if e.response_page_path else {}),
        }
        for e in synth.configs[stage].edge.error_responses
    ]
    assert _distribution(_t(synth, stage)).get("CustomErrorResponses", []) == expected


@pytest.mark.parametrize("stage", STAGES)
def test_web_acl_rules_and_limits(synth: Synth, stage: str) -> None:
    waf = synth.configs[stage].edge.waf
    _, acl = only(_t(synth, stage), "AWS::WAFv2::WebACL")
    p = props(acl)
    assert p["Scope"] == "CLOUDFRONT"
    assert p["DefaultAction"] == {"Allow": {}}
    rules = sorted(p["Rules"], key=lambda r: r["Priority"])
    names = [r["Name"] for r in rules]
    geo = [] if waf.geo is None else [f"Geo{waf.geo.mode.title()}List"]
    assert names == [
        *geo,
        "AWSManagedRulesAmazonIpReputationList",
        "RateLimitPerIp",
        "AWSManagedRulesCommonRuleSet",
        "AWSManagedRulesKnownBadInputsRuleSet",
    ]
    by_name = {r["Name"]: r for r in rules}
    rate = by_name["RateLimitPerIp"]
    assert rate["Statement"]["RateBasedStatement"] == {
        "AggregateKeyType": "IP",
        "EvaluationWindowSec": 300,
        "Limit": waf.rate_limit,
    }
    assert rate["Action"] == {"Block": {}}
    for name in names[len(geo) :]:
        if name == "RateLimitPerIp":
            continue
        assert by_name[name]["OverrideAction"] == {"None": {}}
        statement = by_name[name]["Statement"]["ManagedRuleGroupStatement"]
        assert (statement["VendorName"], statement["Name"]) == ("AWS", name)
    # Per-rule CloudWatch metrics, each under its own name.
    metrics = [r["VisibilityConfig"] for r in rules]
    assert all(m["CloudWatchMetricsEnabled"] and m["SampledRequestsEnabled"] for m in metrics)
    assert len({m["MetricName"] for m in metrics}) == len(rules)


def test_shipped_rate_limit_is_2000_per_5_minutes(synth: Synth) -> None:
    for stage in SHIPPED_STAGES:
        _, acl = only(_t(synth, stage), "AWS::WAFv2::WebACL")
        (rate,) = [r for r in props(acl)["Rules"] if "RateBasedStatement" in r["Statement"]]
        assert rate["Statement"]["RateBasedStatement"]["Limit"] == 2000
        assert rate["Statement"]["RateBasedStatement"]["EvaluationWindowSec"] == 300


@pytest.mark.parametrize("stage", STAGES)
def test_waf_logs_to_an_encrypted_aws_waf_logs_group_with_secrets_redacted(
    synth: Synth, stage: str
) -> None:
    waf = synth.configs[stage].edge.waf
    template = _t(synth, stage)
    acl_id, _ = only(template, "AWS::WAFv2::WebACL")
    _, logging = only(template, "AWS::WAFv2::LoggingConfiguration")
    p = props(logging)
    assert p["ResourceArn"] == {"Fn::GetAtt": [acl_id, "Arn"]}
    assert p["RedactedFields"] == [
        {"SingleHeader": {"Name": "authorization"}},
        {"SingleHeader": {"Name": "cookie"}},
    ]
    (destination,) = p["LogDestinationConfigs"]
    group_id = ref_id(destination["Fn::Join"][1][1])
    group = props(template["Resources"][group_id])
    assert group["LogGroupName"].startswith("aws-waf-logs-")
    assert group["RetentionInDays"] == waf.log_retention_days
    assert "KmsKeyId" in group
    # WAF refuses the `:*` form of the ARN.
    assert not destination["Fn::Join"][1][0].endswith(":*")


@pytest.mark.parametrize("stage", STAGES)
def test_access_logs_delivered_to_the_configured_destination(synth: Synth, stage: str) -> None:
    logs = synth.configs[stage].edge.access_logs
    template = _t(synth, stage)
    distribution_id, _ = only(template, "AWS::CloudFront::Distribution")
    _, source = only(template, "AWS::Logs::DeliverySource")
    assert props(source)["LogType"] == "ACCESS_LOGS"
    assert f'{{"Ref": "{distribution_id}"}}' in json.dumps(props(source)["ResourceArn"])
    _, destination = only(template, "AWS::Logs::DeliveryDestination")
    target = json.dumps(props(destination)["DestinationResourceArn"])
    _, delivery = only(template, "AWS::Logs::Delivery")
    assert props(delivery)["DeliverySourceName"] == props(source)["Name"]
    groups = {
        k: props(r)
        for k, r in resources(template, "AWS::Logs::LogGroup").items()
        if not props(r).get("LogGroupName", "").startswith("aws-waf-logs-")
        and not k.startswith("EdgePublishLogs")  # the BucketDeployment function's (Dev)
    }
    if logs.destination == "s3":
        bucket_id = _bucket_id(template, "AccessLogBucket")
        assert target == json.dumps({"Fn::GetAtt": [bucket_id, "Arn"]})
        (rule,) = props(template["Resources"][bucket_id])["LifecycleConfiguration"]["Rules"]
        assert rule["ExpirationInDays"] == logs.retention_days
        assert groups == {}
    else:
        ((group_id, group),) = groups.items()
        assert f'{{"Ref": "{group_id}"}}' in target
        assert group["RetentionInDays"] == logs.retention_days
        assert "KmsKeyId" in group
        assert not [k for k in resources(template, "AWS::S3::Bucket") if "AccessLog" in k]


def test_shipped_access_logs_cover_both_destinations(synth: Synth) -> None:
    kinds = {s: synth.configs[s].edge.access_logs.destination for s in SHIPPED_STAGES}
    assert kinds == {"Test": "cloudwatch", "Stage": "s3", "Prod": "s3"}


@pytest.mark.parametrize("stage", STAGES)
def test_outputs_the_pipeline_needs(synth: Synth, stage: str) -> None:
    template = _t(synth, stage)
    outputs = template["Outputs"]
    distribution_id, _ = only(template, "AWS::CloudFront::Distribution")
    assert outputs["DistributionId"]["Value"] == {"Ref": distribution_id}
    assert outputs["StaticBucketName"]["Value"] == {"Ref": _bucket_id(template, "StaticBucket")}
    assert outputs["SiteUrl"]["Value"] == f"https://{synth.configs[stage].edge.domain_names[0]}"


def test_superseded_tag_is_the_one_the_publish_step_sets() -> None:
    assert (SUPERSEDED_TAG_KEY, SUPERSEDED_TAG_VALUE) == (
        publish_static.SUPERSEDED_TAG_KEY,
        publish_static.SUPERSEDED_TAG_VALUE,
    )
    assert (
        publish_static.CACHE_CONTROL_TEMPLATE.format(max_age=publish_static.DEFAULT_MAX_AGE)
        == IMMUTABLE_CACHE_CONTROL
    )


@pytest.mark.parametrize("stage", STAGES)
def test_viewer_host_reaches_the_origin_only_where_services_route_by_host(
    synth: Synth, stage: str
) -> None:
    """CloudFront sends the origin's name as Host: a viewer-request function copies the
    viewer's Host into X-Forwarded-Host on the origin's behaviours, and pages are cached per
    host, where a service routes by host (Dev's admin)."""
    config = synth.configs[stage]
    template = _t(synth, stage)
    functions = resources(template, "AWS::CloudFront::Function")
    behaviours = _behaviours(template)
    app_behaviours = [behaviours["*"], behaviours[config.edge.api.path]]
    if not config.has_host_routes:
        assert functions == {}
        assert all("FunctionAssociations" not in b for b in app_behaviours)
        return
    ((function_id, function),) = functions.items()
    code = props(function)["FunctionCode"]
    assert "request.headers['x-forwarded-host'] = {value: request.headers.host.value}" in code
    assert props(function)["FunctionConfig"]["Runtime"] == "cloudfront-js-2.0"
    for behaviour in app_behaviours:
        assert behaviour["FunctionAssociations"] == [
            {
                "EventType": "viewer-request",
                "FunctionARN": {"Fn::GetAtt": [function_id, "FunctionARN"]},
            }
        ]
    for path in config.edge.static.paths:
        assert "FunctionAssociations" not in behaviours[path]
    key = _cache_policy(template, behaviours["*"]["CachePolicyId"])[
        "ParametersInCacheKeyAndForwardedToOrigin"
    ]
    assert VIEWER_HOST_HEADER in key["HeadersConfig"]["Headers"]


@pytest.mark.parametrize("stage", STAGES)
def test_static_files_published_by_cdk_deploy_only_without_a_pipeline(
    synth: Synth, stage: str
) -> None:
    """Without a pipeline, `cdk deploy` uploads each service's static directory under its
    prefix, never pruning, with the immutable cache header."""
    config = synth.configs[stage]
    template = _t(synth, stage)
    deployments = resources(template, "Custom::CDKBucketDeployment")
    if config.pipeline is not None:
        assert deployments == {}
        return
    expected = {
        s.static.prefix for s in config.services.values() if s.static and s.static.directory
    }
    assert expected
    bucket_id = _bucket_id(template, "StaticBucket")
    published = set()
    for deployment in deployments.values():
        p = props(deployment)
        assert p["DestinationBucketName"] == {"Ref": bucket_id}
        assert p["Prune"] is False
        assert p["RetainOnDelete"] is True
        assert p["SystemMetadata"] == {"cache-control": IMMUTABLE_CACHE_CONTROL}
        published.add(p["DestinationBucketKeyPrefix"].rstrip("/"))
    assert published == expected
