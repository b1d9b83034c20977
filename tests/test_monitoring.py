"""Alarms that page, per environment: each threshold from config, one encrypted topic, the
dashboard, the canary, and the edge alarms relayed from us-east-1."""

from __future__ import annotations

import json
from typing import Any

import pytest

from l3_constructs.limits import CLOUDFRONT_REGION, default_max_connections
from tests.conftest import NEW_STAGE, SHIPPED_STAGES, Synth
from tests.helpers import only, props, ref_id, resources

STAGES = (*SHIPPED_STAGES, NEW_STAGE)


def _t(synth: Synth, stage: str) -> dict[str, Any]:
    return synth.template(stage, "Monitoring")


def _alarms(template: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Alarm construct id (e.g. `EcsCpu`) -> properties."""
    found = {}
    for logical_id, alarm in resources(template, "AWS::CloudWatch::Alarm").items():
        name = logical_id.removeprefix("Monitoring").removeprefix("Alarms")
        found[name[: name.index("Alarm")]] = props(alarm)
    return found


@pytest.mark.parametrize("stage", STAGES)
def test_every_alarm_has_its_configured_threshold(synth: Synth, stage: str) -> None:
    config = synth.configs[stage]
    t = config.observability.thresholds
    alarms = _alarms(_t(synth, stage))
    max_connections = default_max_connections(config.database.engine, config.database.instance_type)
    expected = {
        "EcsCpu": (t.ecs_cpu_percent, "GreaterThanThreshold"),
        "EcsMemory": (t.ecs_memory_percent, "GreaterThanThreshold"),
        "Alb5xx": (t.alb_5xx_per_5_minutes, "GreaterThanThreshold"),
        "ResponseTimeP95": (t.response_time_p95_ms / 1000, "GreaterThanThreshold"),
        "UnhealthyTargets": (t.unhealthy_targets, "GreaterThanThreshold"),
        "ErrorLogs": (t.error_logs_per_5_minutes, "GreaterThanThreshold"),
        "RdsCpu": (t.rds_cpu_percent, "GreaterThanThreshold"),
        "RdsConnections": (
            max_connections * t.rds_connections_percent // 100,
            "GreaterThanThreshold",
        ),
        "RdsFreeStorage": (t.rds_free_storage_gb * 2**30, "LessThanThreshold"),
        "Canary": (100, "LessThanThreshold"),
    }
    assert set(alarms) == set(expected)
    for name, (threshold, operator) in expected.items():
        assert alarms[name]["Threshold"] == threshold, name
        assert alarms[name]["ComparisonOperator"] == operator, name


def test_shipped_thresholds_are_the_design_values(synth: Synth) -> None:
    alarms = _alarms(_t(synth, "Prod"))
    assert alarms["EcsCpu"]["Threshold"] == 80
    assert alarms["Alb5xx"]["Threshold"] == 10
    periods = {m["MetricStat"]["Period"] for m in alarms["Alb5xx"]["Metrics"] if "MetricStat" in m}
    assert periods == {300}  # targets' and the load balancer's own 5xx, per 5 minutes
    (p95,) = alarms["ResponseTimeP95"]["Metrics"]
    assert (p95["MetricStat"]["Stat"], p95["MetricStat"]["Period"]) == ("p95", 300)
    assert p95["MetricStat"]["Metric"]["MetricName"] == "TargetResponseTime"
    assert alarms["ResponseTimeP95"]["Threshold"] == 1
    assert alarms["RdsFreeStorage"]["Threshold"] == 5 * 2**30
    # Prod's t4g.medium PostgreSQL: max_connections 450, alarm above 80 % of it.
    assert alarms["RdsConnections"]["Threshold"] == 360


@pytest.mark.parametrize("stage", STAGES)
def test_all_alarms_notify_one_encrypted_topic(synth: Synth, stage: str) -> None:
    template = _t(synth, stage)
    topic_id, topic = only(template, "AWS::SNS::Topic")
    key_id, key = only(template, "AWS::KMS::Key")
    assert props(key)["EnableKeyRotation"] is True
    assert props(topic)["KmsMasterKeyId"] == {"Fn::GetAtt": [key_id, "Arn"]}
    for name, alarm in _alarms(template).items():
        assert alarm["AlarmActions"] == [{"Ref": topic_id}], name
        assert alarm.get("OKActions") in (None, [{"Ref": topic_id}]), name
    emails = {
        props(s)["Endpoint"]
        for s in resources(template, "AWS::SNS::Subscription").values()
        if props(s)["Protocol"] == "email"
    }
    assert emails == set(synth.configs[stage].observability.alarm_emails)
    (policy,) = resources(template, "AWS::SNS::TopicPolicy").values()
    statements = props(policy)["PolicyDocument"]["Statement"]
    assert any(s["Effect"] == "Deny" and "aws:SecureTransport" in json.dumps(s) for s in statements)


@pytest.mark.parametrize("stage", STAGES)
def test_error_logs_are_counted_on_the_service_log_group(synth: Synth, stage: str) -> None:
    template = _t(synth, stage)
    _, metric_filter = only(template, "AWS::Logs::MetricFilter")
    p = props(metric_filter)
    assert p["FilterPattern"] == synth.configs[stage].observability.error_log_pattern
    reference = p["LogGroupName"]["Fn::GetStackOutput"]
    assert reference["StackName"] == f"{stage}-Compute"
    compute = synth.template(stage, "Compute")
    assert compute["Outputs"][reference["OutputName"]]["Value"] == {
        "Ref": "ServiceLogGroupB910EE76"
    }


@pytest.mark.parametrize("stage", STAGES)
def test_canary_calls_the_health_path_through_cloudfront(synth: Synth, stage: str) -> None:
    config = synth.configs[stage]
    template = _t(synth, stage)
    _, canary = only(template, "AWS::Synthetics::Canary")
    p = props(canary)
    interval = config.observability.canary.interval_minutes
    assert p["Schedule"]["Expression"] == f"rate({interval} minutes)"
    assert p["StartCanaryAfterCreation"] is True
    url = f"https://{config.edge.domain_names[0]}/api/health"
    assert p["RunConfig"]["EnvironmentVariables"] == {"HEALTH_URL": url}
    assert "statusCode >= 200 && res.statusCode < 300" in p["Code"]["Script"]
    bucket = template["Resources"][ref_id(p["ArtifactS3Location"]["Fn::Join"][1][1])]
    encryption = props(bucket)["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    assert encryption[0]["ServerSideEncryptionByDefault"]["SSEAlgorithm"] == "aws:kms"
    assert all(props(bucket)["PublicAccessBlockConfiguration"].values())


@pytest.mark.parametrize("stage", STAGES)
def test_dashboard_shows_edge_service_and_database(synth: Synth, stage: str) -> None:
    _, dashboard = only(_t(synth, stage), "AWS::CloudWatch::Dashboard")
    body = json.dumps(props(dashboard)["DashboardBody"])
    for namespace in ("AWS/CloudFront", "AWS/WAFV2", "AWS/ApplicationELB", "AWS/ECS", "AWS/RDS"):
        assert namespace in body, namespace
    # Edge metrics live in us-east-1, whatever the environment's region.
    assert f'\\"region\\":\\"{CLOUDFRONT_REGION}\\"' in body


@pytest.mark.parametrize("stage", STAGES)
def test_edge_alarms_are_relayed_to_the_environments_topic(synth: Synth, stage: str) -> None:
    config = synth.configs[stage]
    t = config.observability.thresholds
    edge = synth.template(stage, "Edge")
    alarms = {k: props(a) for k, a in resources(edge, "AWS::CloudWatch::Alarm").items()}
    (rate,) = [a for k, a in alarms.items() if "CloudFront5xxRate" in k]
    (waf,) = [a for k, a in alarms.items() if "WafBlocked" in k]
    assert rate["Threshold"] == t.cloudfront_5xx_rate_percent
    assert waf["Threshold"] == t.waf_blocked_per_5_minutes
    assert {"Name": "WebACL", "Value": f"{stage}-Edge-WebAcl"} in waf["Dimensions"]
    # No SNS action across regions: an EventBridge rule forwards the state changes.
    assert all("AlarmActions" not in a for a in alarms.values())
    _, forward = only(edge, "AWS::Events::Rule")
    (target,) = props(forward)["Targets"]
    assert f":events:{config.region}:{config.account}:event-bus/default" in json.dumps(target)
    # In the environment's region, the relay rule matches exactly those alarms.
    monitoring = _t(synth, stage)
    _, relay = only(monitoring, "AWS::Events::Rule")
    pattern = props(relay)["EventPattern"]
    read = {r["Fn::GetStackOutput"]["OutputName"] for r in pattern["resources"]}
    assert {edge["Outputs"][o]["Value"]["Fn::GetAtt"][0] for o in read} == set(alarms)
    topic_id, _ = only(monitoring, "AWS::SNS::Topic")
    assert [t["Arn"] for t in props(relay)["Targets"]] == [{"Ref": topic_id}]


@pytest.mark.parametrize("stage", STAGES)
def test_slack_through_chatbot_where_config_asks(synth: Synth, stage: str) -> None:
    slack = synth.configs[stage].observability.slack
    template = _t(synth, stage)
    channels = resources(template, "AWS::Chatbot::SlackChannelConfiguration")
    if slack is None:
        assert channels == {}
        return
    assert stage == NEW_STAGE  # the session's Dev stage is the one that asks
    ((_, channel),) = channels.items()
    p = props(channel)
    assert (p["SlackWorkspaceId"], p["SlackChannelId"]) == (slack.workspace_id, slack.channel_id)
    topic_id, _ = only(template, "AWS::SNS::Topic")
    assert p["SnsTopicArns"] == [{"Ref": topic_id}]
    assert p.get("GuardrailPolicies")
