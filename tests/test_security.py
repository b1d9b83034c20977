"""The security baseline (`<Stage>/Security`): GuardDuty, AWS Config and CloudTrail where
config switches them on (shipped: Stage and Prod), with the guards the issue names."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.conftest import EXAMPLE_STAGES, Synth
from tests.helpers import only, props, ref_id, resources

ON = ("Stage", "Prod")


def _t(synth: Synth, stage: str) -> dict[str, Any]:
    return synth.template(stage, "Security")


def test_only_where_config_switches_it_on(synth: Synth) -> None:
    with_baseline = {stage for stage in synth.configs if (stage, "Security") in synth.templates}
    assert with_baseline == {s for s, c in synth.configs.items() if c.security.enabled}
    examples = {stage for stages in EXAMPLE_STAGES.values() for stage in stages}
    assert with_baseline - examples == set(ON)


@pytest.mark.parametrize("stage", ON)
def test_guardduty_detector(synth: Synth, stage: str) -> None:
    _, detector = only(_t(synth, stage), "AWS::GuardDuty::Detector")
    p = props(detector)
    assert p["Enable"] is True
    assert p["FindingPublishingFrequency"] == "FIFTEEN_MINUTES"
    features = {f["Name"]: f["Status"] for f in p["Features"]}
    assert features["S3_DATA_EVENTS"] == "ENABLED"
    # The Fargate agent is off: the tasks' roles may not pull GuardDuty's agent image.
    assert features.get("RUNTIME_MONITORING", "DISABLED") == "DISABLED"


@pytest.mark.parametrize("stage", ON)
def test_cloudtrail_multi_region_validated_encrypted(synth: Synth, stage: str) -> None:
    template = _t(synth, stage)
    key_id, key = only(template, "AWS::KMS::Key")
    assert props(key)["EnableKeyRotation"] is True
    _, trail = only(template, "AWS::CloudTrail::Trail")
    p = props(trail)
    assert p["IsMultiRegionTrail"] is True
    assert p["IncludeGlobalServiceEvents"] is True
    assert p["EnableLogFileValidation"] is True
    assert p["IsLogging"] is True
    assert p["KMSKeyId"] == {"Fn::GetAtt": [key_id, "Arn"]}
    group = template["Resources"][ref_id(p["CloudWatchLogsLogGroupArn"])]
    assert ref_id(props(group)["KmsKeyId"]) == key_id
    assert props(group)["RetentionInDays"] == synth.configs[stage].security.log_retention_days
    bucket_id = ref_id(p["S3BucketName"])
    _assert_audit_bucket(synth, stage, bucket_id)


@pytest.mark.parametrize("stage", ON)
def test_config_recorder_rules_and_delivery(synth: Synth, stage: str) -> None:
    template = _t(synth, stage)
    recorder_id, recorder = only(template, "AWS::Config::ConfigurationRecorder")
    assert "AWSServiceRoleForConfig" in json.dumps(props(recorder)["RoleARN"])
    _, channel = only(template, "AWS::Config::DeliveryChannel")
    _assert_audit_bucket(synth, stage, ref_id(props(channel)["S3BucketName"]))
    rules = {
        props(r)["Source"]["SourceIdentifier"]: r
        for r in resources(template, "AWS::Config::ConfigRule").values()
    }
    assert {
        "S3_BUCKET_SSL_REQUESTS_ONLY",
        "S3_BUCKET_LEVEL_PUBLIC_ACCESS_PROHIBITED",
        "RDS_STORAGE_ENCRYPTED",
        "CLOUD_TRAIL_ENABLED",
        "CLOUDWATCH_LOG_GROUP_ENCRYPTED",
        "VPC_FLOW_LOGS_ENABLED",
        "ECR_PRIVATE_IMAGE_SCANNING_ENABLED",
    } <= set(rules)
    # Deletion protection is a rule only where the environment holds real data.
    real = synth.configs[stage].data_protection.holds_real_data
    assert ("RDS_INSTANCE_DELETION_PROTECTION_ENABLED" in rules) is real
    for rule in rules.values():
        assert recorder_id in rule.get("DependsOn", []), rule


def _assert_audit_bucket(synth: Synth, stage: str, bucket_id: str) -> None:
    template = _t(synth, stage)
    bucket = template["Resources"][bucket_id]
    p = props(bucket)
    assert bucket["DeletionPolicy"] == "Retain"
    assert all(p["PublicAccessBlockConfiguration"].values())
    assert p["VersioningConfiguration"] == {"Status": "Enabled"}
    (rule,) = p["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    assert rule["ServerSideEncryptionByDefault"]["SSEAlgorithm"] == "aws:kms"
    days = synth.configs[stage].security.trail_retention_days
    assert days in [r.get("ExpirationInDays") for r in p["LifecycleConfiguration"]["Rules"]]
    (policy,) = [
        props(bp)["PolicyDocument"]["Statement"]
        for bp in resources(template, "AWS::S3::BucketPolicy").values()
        if props(bp)["Bucket"] == {"Ref": bucket_id}
    ]
    assert any(
        s["Effect"] == "Deny" and s.get("Condition") == {"Bool": {"aws:SecureTransport": "false"}}
        for s in policy
    )
