"""Unit-price arithmetic of edge, monitoring, security, delivery, storage and messaging types
on small hand-written templates. CloudFront and WAF take the environment's (Tokyo) prices
though their stack is in us-east-1; a regional resource takes its own stack's region."""

from __future__ import annotations

from typing import Any

from cost_estimate.model import Estimate
from tests.cost.helpers import TOKYO, approx, estimate, items_of, res, total_of

US = "us-east-1"
REQUESTS = {"requests_per_month": 2_000_000}


def _edge(resources: dict[str, dict[str, Any]], **kwargs: Any) -> Estimate:
    """`resources` in an Edge stack in us-east-1; the environment in Tokyo."""
    return estimate({}, extra={"Edge": (US, resources)}, **kwargs)


def test_cloudfront_at_the_environments_viewer_prices() -> None:
    result = _edge(
        {"Cdn": res("AWS::CloudFront::Distribution", DistributionConfig={"Enabled": True})},
        assumptions={**REQUESTS, "data_out_gb_per_month": 100},
    )
    items = items_of(result, "Cdn")
    out = items["CloudFront data out to viewers"]
    assert (out.monthly_usd, out.price_region) == (approx(11.40), TOKYO)
    assert items["CloudFront HTTPS requests"].monthly_usd == approx(200 * 0.012)  # 2.40


def test_cloudfront_functions_per_request_lambda_at_edge_not_priced() -> None:
    config = {
        "DefaultCacheBehavior": {"FunctionAssociations": [{"EventType": "viewer-request"}]},
        "CacheBehaviors": [{"LambdaFunctionAssociations": [{"EventType": "origin-request"}]}],
    }
    result = _edge(
        {"Cdn": res("AWS::CloudFront::Distribution", DistributionConfig=config),
         "Fn": res("AWS::CloudFront::Function", AutoPublish=True)},
        assumptions=REQUESTS,
    )  # fmt: skip
    assert items_of(result, "Cdn")["CloudFront Functions (1)"].monthly_usd == approx(0.20)
    assert [g.reason for g in result.gaps] == ["Lambda@Edge is not in the price table"]
    assert [f.resource_type for f in result.free] == ["AWS::CloudFront::Function"]


def test_web_acl_rules_and_requests_and_paid_rule_groups() -> None:
    rules = [
        {"Name": "Common", "Statement": {"ManagedRuleGroupStatement": {
            "VendorName": "AWS", "Name": "AWSManagedRulesCommonRuleSet"}}},
        {"Name": "Rate", "Statement": {"RateBasedStatement": {"Limit": 2000}}},
        {"Name": "Bots", "Statement": {"ManagedRuleGroupStatement": {
            "VendorName": "AWS", "Name": "AWSManagedRulesBotControlRuleSet"}}},
    ]  # fmt: skip
    result = _edge({"Acl": res("AWS::WAFv2::WebACL", Scope="CLOUDFRONT", Rules=rules)},
                   assumptions=REQUESTS)  # fmt: skip
    items = items_of(result, "Acl")
    assert items["WAF web ACL"].monthly_usd == approx(5.00)
    assert items["WAF rules (3)"].monthly_usd == approx(3.00)
    assert items["WAF requests"].monthly_usd == approx(1.20)
    assert [g.logical_id for g in result.gaps] == ["Acl"]
    assert "AWSManagedRulesBotControlRuleSet" in result.gaps[0].reason


def test_waf_logs_and_cloudfront_access_logs_are_vended_logs() -> None:
    result = _edge(
        {
            "WafLogs": res("AWS::Logs::LogGroup", RetentionInDays=30),
            "Logging": res("AWS::WAFv2::LoggingConfiguration", ResourceArn={"Ref": "Acl"},
                           LogDestinationConfigs=[{"Fn::Join": ["", [
                               "arn:aws:logs:us-east-1:1:log-group:", {"Ref": "WafLogs"}]]}]),
            "Bucket": res("AWS::S3::Bucket"),
            "Source": res("AWS::Logs::DeliverySource", Name="src", LogType="ACCESS_LOGS",
                          ResourceArn={"Fn::Join": ["", ["arn:aws:cloudfront::1:distribution/",
                                                         {"Ref": "Cdn"}]]}),
            "Destination": res("AWS::Logs::DeliveryDestination", Name="dst",
                               DestinationResourceArn={"Fn::GetAtt": ["Bucket", "Arn"]}),
            "Delivery": res("AWS::Logs::Delivery", DeliverySourceName="src",
                            DeliveryDestinationArn={"Fn::GetAtt": ["Destination", "Arn"]}),
        },
        assumptions={**REQUESTS, "s3_storage_gb": 0, "s3_requests_per_month": 0},
    )  # fmt: skip
    waf_gb = 2_000_000 * 1.5 / 1024 / 1024  # 2.86 GB
    waf = items_of(result, "Logging")["WAF logs delivered to CloudWatch Logs"]
    assert (waf.quantity, waf.monthly_usd) == (approx(waf_gb), approx(waf_gb * 0.50))
    # The group keeps them (stored at 15 %) but does not charge their ingestion again.
    group = items_of(result, "WafLogs")
    assert set(group) == {"log storage (kept 30 days)"}
    assert group["log storage (kept 30 days)"].quantity == approx(waf_gb * 0.15 * 30 / (730 / 24))
    cdn = items_of(result, "Delivery")["CloudFront access logs delivered to S3"]
    assert cdn.monthly_usd == approx(2_000_000 * 0.5 / 1024 / 1024 * 0.25)


def test_hosted_zone_and_private_dns_namespace() -> None:
    result = estimate(
        {"Zone": res("AWS::Route53::HostedZone", Name="example.com"),
         "Ns": res("AWS::ServiceDiscovery::PrivateDnsNamespace", Name="x.internal")}
    )  # fmt: skip
    assert total_of(result, "Zone") == approx(0.50)
    assert total_of(result, "Ns") == approx(0.50)


def test_alarms_by_metrics_and_resolution() -> None:
    two = [{"Id": "a", "MetricStat": {"Period": 300}}, {"Id": "b", "MetricStat": {"Period": 300}},
           {"Id": "e", "Expression": "a/b"}]  # fmt: skip
    result = estimate(
        {
            "One": res("AWS::CloudWatch::Alarm", MetricName="CPU", Period=60),
            "Math": res("AWS::CloudWatch::Alarm", Metrics=two),
            "Fast": res("AWS::CloudWatch::Alarm", MetricName="CPU", Period=10),
            "Band": res("AWS::CloudWatch::Alarm", Metrics=two[:1], ThresholdMetricId="band"),
            "Composite": res("AWS::CloudWatch::CompositeAlarm", AlarmRule="ALARM(One)"),
            "Board": res("AWS::CloudWatch::Dashboard"),
            "Filter": res("AWS::Logs::MetricFilter", MetricTransformations=[{"MetricName": "x"}]),
        }
    )
    assert total_of(result, "One") == approx(0.10)
    assert total_of(result, "Math") == approx(0.20)
    assert total_of(result, "Fast") == approx(0.30)
    assert total_of(result, "Band") == approx(0.30)
    assert total_of(result, "Composite") == approx(0.50)
    assert total_of(result, "Board") == approx(3.00)
    assert total_of(result, "Filter") == approx(0.30)


def test_log_groups_ingest_and_keep_their_share() -> None:
    result = estimate(
        {
            "AppLogs": res("AWS::Logs::LogGroup", RetentionInDays=30),
            "Td": res("AWS::ECS::TaskDefinition", ContainerDefinitions=[{"LogConfiguration": {
                "LogDriver": "awslogs", "Options": {"awslogs-group": {"Ref": "AppLogs"}}}}]),
            "Other": res("AWS::Logs::LogGroup"),
        },
        assumptions={"app_log_gb_per_month": 10, "other_log_gb_per_month": 2},
    )  # fmt: skip
    app = items_of(result, "AppLogs")
    assert app["log ingestion"].monthly_usd == approx(10 * 0.76)
    months = 30 / (730 / 24)
    assert app["log storage (kept 30 days)"].monthly_usd == approx(10 * 0.15 * months * 0.033)
    other = items_of(result, "Other")
    assert other["log ingestion"].monthly_usd == approx(2 * 0.76)
    # Never expiring: a year's worth at most (the first year).
    assert other["log storage (kept never expires)"].quantity == approx(2 * 0.15 * 12)


def test_flow_logs_to_s3_and_to_cloudwatch() -> None:
    result = estimate(
        {
            "ToS3": res("AWS::EC2::FlowLog", LogDestinationType="s3",
                        LogDestination="arn:aws:s3:::b"),
            "Group": res("AWS::Logs::LogGroup", RetentionInDays=30),
            "ToLogs": res("AWS::EC2::FlowLog", LogDestinationType="cloud-watch-logs",
                          LogGroupName={"Ref": "Group"}),
        },
        assumptions={"flow_log_gb_per_month": 8},
    )  # fmt: skip
    assert total_of(result, "ToS3") == approx(4 * 0.38)
    assert total_of(result, "ToLogs") == approx(4 * 0.76)
    assert set(items_of(result, "Group")) == {"log storage (kept 30 days)"}


def test_canary_runs_and_its_function() -> None:
    result = estimate(
        {"Canary": res("AWS::Synthetics::Canary", Schedule={"Expression": "rate(10 minutes)"})}
    )
    items = items_of(result, "Canary")
    assert items["canary runs"].quantity == 4380
    assert items["canary runs"].monthly_usd == approx(4380 * 0.0017)  # 7.45
    assert items["canary Lambda duration"].quantity == approx(4380 * 10 * 1000 / 1024)
    assert items["canary runs"].kind == "fixed"


def test_canary_on_a_cron_is_priced_by_its_runs_a_month() -> None:
    """A canary beyond an hour runs on a UTC cron (every 3 hours: 8 runs a day)."""
    result = estimate(
        {"Canary": res("AWS::Synthetics::Canary", Schedule={"Expression": "cron(0 0/3 * * ? *)"})}
    )
    items = items_of(result, "Canary")
    runs = 8 * 730 / 24  # 243.3
    assert items["canary runs"].quantity == approx(runs)
    assert items["canary runs"].monthly_usd == approx(runs * 0.0017)  # 0.41
    assert items["canary Lambda duration"].quantity == approx(runs * 10 * 1000 / 1024)
    assert items["canary Lambda requests"].quantity == approx(runs / 1e6)
    assert "cron(0 0/3 * * ? *)" in items["canary runs"].basis


def test_keys_and_secrets_with_replicas() -> None:
    result = estimate(
        {
            "Key": res("AWS::KMS::Key", EnableKeyRotation=True),
            "Secret": res("AWS::SecretsManager::Secret",
                          ReplicaRegions=[{"Region": "us-east-1"}, {"Region": "us-west-2"}]),
        }
    )  # fmt: skip
    assert total_of(result, "Key") == approx(1.00)
    assert total_of(result, "Secret") == approx(0.40 + 0.80)


def test_guardduty_by_what_it_analyses() -> None:
    features = [
        {"Name": "S3_DATA_EVENTS", "Status": "ENABLED"},
        {"Name": "RDS_LOGIN_EVENTS", "Status": "ENABLED"},
        {"Name": "RUNTIME_MONITORING", "Status": "ENABLED"},
    ]
    result = estimate(
        {
            "Detector": res("AWS::GuardDuty::Detector", Enable=True, Features=features),
            "Db": res("AWS::RDS::DBInstance", Engine="postgres", DBInstanceClass="db.t4g.micro",
                      MultiAZ=True),
        },
        assumptions={"management_events_per_month": 1_000_000, "flow_log_gb_per_month": 10,
                     "s3_requests_per_month": 1_000_000},
    )  # fmt: skip
    items = items_of(result, "Detector")
    assert items["GuardDuty: management events analysed"].monthly_usd == approx(4.72)
    assert items["GuardDuty: VPC flow and DNS logs analysed"].monthly_usd == approx(11.80)
    assert items["GuardDuty: S3 data events analysed"].monthly_usd == approx(0.94)
    # 2 vCPU, twice for Multi-AZ.
    assert items["GuardDuty: RDS login activity"].monthly_usd == approx(4 * 1.18)
    assert [g.reason for g in result.gaps] == [
        "GuardDuty RUNTIME_MONITORING is not in the price table"
    ]


def test_config_items_and_rule_evaluations() -> None:
    types = [f"AWS::X::T{i}" for i in range(10)]
    result = estimate(
        {
            "Recorder": res("AWS::Config::ConfigurationRecorder",
                            RecordingGroup={"ResourceTypes": types}),
            "Scoped": res("AWS::Config::ConfigRule",
                          Scope={"ComplianceResourceTypes": types[:2]}),
            "Daily": res("AWS::Config::ConfigRule"),
            "Hourly": res("AWS::Config::ConfigRule", MaximumExecutionFrequency="One_Hour"),
        },
        assumptions={"config_items_per_month": 10_000},
    )  # fmt: skip
    assert total_of(result, "Recorder") == approx(30.00)
    assert total_of(result, "Scoped") == approx(2.00)  # 1,000 items a type x 2 types
    assert total_of(result, "Daily") == approx(730 / 24 * 10 * 0.001)  # 0.30
    assert total_of(result, "Hourly") == approx(7.30)


def test_trail_first_copy_is_free_data_events_are_not_priced() -> None:
    result = estimate(
        {
            "Trail": res("AWS::CloudTrail::Trail", IsLogging=True),
            "Data": res("AWS::CloudTrail::Trail", IsLogging=True,
                        EventSelectors=[{"DataResources": [{"Type": "AWS::S3::Object"}]}]),
        }
    )  # fmt: skip
    assert result.items == ()
    assert "first copy" in result.free[0].reason
    assert [g.logical_id for g in result.gaps] == ["Data"]


def test_parameters_standard_free_advanced_not_priced() -> None:
    result = estimate(
        {"Std": res("AWS::SSM::Parameter", Type="String", Value="x"),
         "Adv": res("AWS::SSM::Parameter", Type="String", Value="x", Tier="Advanced")}
    )  # fmt: skip
    assert [g.logical_id for g in result.gaps] == ["Adv"]
    assert result.free[0].resource_type == "AWS::SSM::Parameter"


def test_pipeline_v2_minutes_v1_monthly_and_build_projects() -> None:
    result = estimate(
        {
            "V2": res("AWS::CodePipeline::Pipeline", PipelineType="V2"),
            "V1": res("AWS::CodePipeline::Pipeline"),
            "Build": res("AWS::CodeBuild::Project", Environment={
                "Type": "ARM_CONTAINER", "ComputeType": "BUILD_GENERAL1_MEDIUM"}),
            "Smoke": res("AWS::CodeBuild::Project", Environment={
                "Type": "LINUX_CONTAINER", "ComputeType": "BUILD_GENERAL1_SMALL"}),
            "Huge": res("AWS::CodeBuild::Project", Environment={
                "Type": "LINUX_CONTAINER", "ComputeType": "BUILD_GENERAL1_2XLARGE"}),
        },
        assumptions={"build_minutes_per_month": 600, "releases_per_month": 20},
    )  # fmt: skip
    assert total_of(result, "V2") == approx((600 + 20) * 0.002)  # 1.24
    assert total_of(result, "V1") == approx(1.00)
    assert total_of(result, "Build") == approx(200 * 0.0096)  # 600 minutes over 3 projects
    assert total_of(result, "Smoke") == approx(200 * 0.007)
    assert [g.logical_id for g in result.gaps] == ["Huge"]


def test_buckets_share_storage_and_requests() -> None:
    result = estimate(
        {"A": res("AWS::S3::Bucket"), "B": res("AWS::S3::Bucket")},
        assumptions={"s3_storage_gb": 100, "s3_requests_per_month": 1_000_000},
    )
    items = items_of(result, "A")
    assert items["S3 Standard storage"].monthly_usd == approx(50 * 0.025)
    assert items["S3 requests"].monthly_usd == approx(500 * 0.0047)


def test_work_queue_requests_and_dead_letter_queue_free() -> None:
    result = estimate(
        {
            "Dlq": res("AWS::SQS::Queue"),
            "Work": res("AWS::SQS::Queue", RedrivePolicy={
                "deadLetterTargetArn": {"Fn::GetAtt": ["Dlq", "Arn"]}, "maxReceiveCount": 5}),
        },
        assumptions={"queue_messages_per_month": 100_000, "worker_busy_hours_per_month": 100},
    )  # fmt: skip
    # 100,000 x 3 + 100 h x 180 long polls = 318,000 requests.
    assert total_of(result, "Work") == approx(0.318 * 0.40)
    assert "dead-letter" in result.free[0].reason
