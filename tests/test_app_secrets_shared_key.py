"""An application secret created on a key another stack holds (`data_protection.shared_key`):
the key's policy never names the reading role (that would be a reference back from the key's
stack, a dependency cycle), and the role gets kms:Decrypt on the key through Secrets Manager
only. The shipped stages cannot show it (Test creates no app secret; Dev keeps per-stack keys
for its proxy), so a small two-stack app does."""

from __future__ import annotations

import json
from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_ecs as ecs
from aws_cdk import aws_kms as kms

from l3_constructs.app_secrets import AppSecrets, SecretRef
from tests.helpers import resources

ENV = cdk.Environment(account="111111111111", region="ap-northeast-1")
REF = SecretRef(source="secretsmanager", name="dev/api/payment", create=True)


def _synth() -> tuple[dict[str, Any], dict[str, Any], AppSecrets]:
    app = cdk.App()
    network = cdk.Stack(app, "Network", env=ENV)
    key = kms.Key(network, "Key", enable_key_rotation=True)
    compute = cdk.Stack(app, "Compute", env=ENV)
    secrets = AppSecrets(compute, "AppSecrets", key=key)
    task = ecs.FargateTaskDefinition(compute, "Task")
    task.add_container(
        "app",
        image=ecs.ContainerImage.from_registry("public.ecr.aws/docker/library/busybox:latest"),
        secrets={"PAYMENT": secrets.secret(REF)},
    )
    assembly = app.synth()
    return (
        assembly.get_stack_by_name("Network").template,
        assembly.get_stack_by_name("Compute").template,
        secrets,
    )


def test_a_shared_key_is_used_by_arn_and_granted_on_the_role() -> None:
    network, compute, secrets = _synth()  # a cycle would fail here
    ((key_id, key),) = resources(network, "AWS::KMS::Key").items()
    # Nothing of the Compute stack in the key's policy: only the account's own statements.
    assert "Compute" not in json.dumps(key["Properties"]["KeyPolicy"])
    (secret,) = resources(compute, "AWS::SecretsManager::Secret").values()
    assert key_id in json.dumps(secret["Properties"]["KmsKeyId"])
    # The decrypt grant the workload adds to its execution role: the shared key, through
    # Secrets Manager only.
    (grant,) = secrets.decrypt_grants([REF])
    assert grant.via_service == "secretsmanager"
    resolved = cdk.Stack.of(secrets).resolve(grant.key_arn)
    assert key_id in json.dumps(resolved)


def test_an_own_key_needs_no_extra_grant() -> None:
    app = cdk.App()
    stack = cdk.Stack(app, "Compute", env=ENV)
    secrets = AppSecrets(stack, "AppSecrets", key=kms.Key(stack, "Key"))
    assert secrets.decrypt_grants([REF]) == ()
