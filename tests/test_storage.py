"""The application's file storage (issue: workloads): one bucket per environment that asks
for it, private, SSL-only, KMS-encrypted, versioned, access-logged, CORS from config, and
reached only through the task roles of the services that say so."""

from __future__ import annotations

import json

import pytest

from tests.conftest import NEW_STAGE, SHIPPED_STAGES, Synth
from tests.helpers import props, ref_id, resources

STAGES = (*SHIPPED_STAGES, NEW_STAGE)


@pytest.mark.parametrize("stage", STAGES)
def test_storage_stack_only_where_config_asks(synth: Synth, stage: str) -> None:
    assert ((stage, "Storage") in synth.templates) is (synth.configs[stage].storage is not None)


def test_shipped_environments_have_no_storage_and_dev_has(synth: Synth) -> None:
    assert all(synth.configs[s].storage is None for s in SHIPPED_STAGES)
    assert synth.configs[NEW_STAGE].storage is not None


def test_bucket_is_private_encrypted_versioned_and_logged(synth: Synth) -> None:
    storage = synth.configs[NEW_STAGE].storage
    assert storage is not None
    template = synth.template(NEW_STAGE, "Storage")
    buckets = resources(template, "AWS::S3::Bucket")
    (bucket_id,) = [k for k in buckets if k.startswith("StorageBucket")]
    (log_id,) = [k for k in buckets if k.startswith("StorageAccessLogBucket")]
    bucket = buckets[bucket_id]
    p = props(bucket)
    assert all(p["PublicAccessBlockConfiguration"].values())
    (encryption,) = p["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    assert encryption["ServerSideEncryptionByDefault"]["SSEAlgorithm"] == "aws:kms"
    assert ref_id(encryption["ServerSideEncryptionByDefault"]["KMSMasterKeyID"]).startswith(
        "StorageKey"
    )
    assert encryption["BucketKeyEnabled"] is True
    assert p["VersioningConfiguration"] == {"Status": "Enabled"}
    assert p["OwnershipControls"] == {"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]}
    rules = p["LifecycleConfiguration"]["Rules"]
    assert {"NoncurrentDays": storage.noncurrent_version_days} in [
        r.get("NoncurrentVersionExpiration") for r in rules
    ]
    assert ref_id(p["LoggingConfiguration"]["DestinationBucketName"]) == log_id
    policy = resources(template, "AWS::S3::BucketPolicy")
    statements = json.dumps([props(x)["PolicyDocument"] for x in policy.values()])
    assert '"aws:SecureTransport": "false"' in statements
    assert '"s3:TlsVersion": 1.2' in statements
    # Removal from config (Dev: destroy); Prod refuses anything but retain (test_config).
    expected = "Retain" if storage.removal_policy == "retain" else "Delete"
    assert bucket["DeletionPolicy"] == expected


def test_cors_rules_from_config(synth: Synth) -> None:
    storage = synth.configs[NEW_STAGE].storage
    assert storage is not None
    template = synth.template(NEW_STAGE, "Storage")
    (bucket,) = [
        r
        for k, r in resources(template, "AWS::S3::Bucket").items()
        if k.startswith("StorageBucket")
    ]
    assert props(bucket)["CorsConfiguration"]["CorsRules"] == [
        {
            "AllowedHeaders": list(rule.allowed_headers),
            "AllowedMethods": list(rule.allowed_methods),
            "AllowedOrigins": list(rule.allowed_origins),
            "ExposedHeaders": list(rule.exposed_headers),
            "MaxAge": rule.max_age_seconds,
        }
        for rule in storage.cors
    ]


def test_services_get_the_bucket_name_and_never_keys(synth: Synth) -> None:
    """STORAGE_BUCKET reaches exactly the services that ask; no access key anywhere."""
    config = synth.configs[NEW_STAGE]
    compute = json.dumps(synth.template(NEW_STAGE, "Compute"))
    assert "AWS_SECRET_ACCESS_KEY" not in compute
    assert "AWS::IAM::AccessKey" not in compute
    users = {n for n, s in config.services.items() if s.storage != "none"}
    assert users == {"api", "admin"}
