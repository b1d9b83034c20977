"""AppSecrets: the application's own secrets and settings, as ECS secrets.

A reference names a Secrets Manager secret (by name or ARN, optionally one JSON key) or an
SSM Parameter Store parameter (String or SecureString). ECS reads it with the service's
execution role when a task starts, so the value is never in a template, an asset or
`cdk.out`. The execution role that `ecs.Secret` is added to may read exactly the secrets of
its own task definition (CDK's grants); a customer-managed key is decrypted only through
the service that holds the secret (`DecryptGrant`).

With `create`, the stack creates a Secrets Manager secret of that name holding a generated
placeholder: the operator then sets the real value (README), and the secret is retained
when the stack is deleted.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from typing import Literal

from aws_cdk import RemovalPolicy, Stack
from aws_cdk import aws_ecs as ecs
from aws_cdk import aws_kms as kms
from aws_cdk import aws_secretsmanager as secretsmanager
from aws_cdk import aws_ssm as ssm
from constructs import Construct

from l3_constructs.compliance import acknowledge, skip_checkov
from l3_constructs.workload import DecryptGrant

#: A complete secret ARN ends in the six characters Secrets Manager appends to the name.
_COMPLETE_ARN_RE = re.compile(r"^arn:[^:]+:secretsmanager:[^:]+:\d{12}:secret:.+-[A-Za-z0-9]{6}$")


@dataclass(frozen=True)
class SecretRef:
    source: Literal["secretsmanager", "ssm"]
    #: Secrets Manager: a secret name or ARN; SSM: a parameter name (`/app/x`).
    name: str
    #: Secrets Manager: one key of the secret's JSON value; None: the whole value.
    field: str | None = None
    #: The customer-managed key the value is encrypted with; None: the AWS-managed key.
    kms_key_arn: str | None = None
    #: Secrets Manager, by name: create the secret (placeholder value) in this stack.
    create: bool = False


class AppSecrets(Construct):
    """Resolves `SecretRef`s into `ecs.Secret`s; each created or imported secret once.

    Exposes `created` (secret name -> the `secretsmanager.Secret` this stack created).
    """

    def __init__(self, scope: Construct, construct_id: str, *, key: kms.IKey) -> None:
        super().__init__(scope, construct_id)
        #: A key of another stack (an environment's shared key) is used by ARN: a grant on it
        #: would write the reading roles into its key policy, a reference back to this stack
        #: that the key's stack cannot take; `decrypt_grants` grants on the roles instead.
        self._shared_key_arn: str | None = None
        if Stack.of(key) is not Stack.of(self):
            self._shared_key_arn = key.key_arn
            key = kms.Key.from_key_arn(self, "SharedKey", key.key_arn)
        self._key = key
        self.created: dict[str, secretsmanager.Secret] = {}
        self._imported: dict[str, secretsmanager.ISecret] = {}
        self._parameters: dict[str, ssm.IStringParameter] = {}

    def secret(self, ref: SecretRef) -> ecs.Secret:
        if ref.source == "ssm":
            return ecs.Secret.from_ssm_parameter(self._parameter(ref.name))
        return ecs.Secret.from_secrets_manager(self._secret(ref), ref.field)

    def decrypt_grants(self, refs: list[SecretRef]) -> tuple[DecryptGrant, ...]:
        """The customer-managed keys of `refs`, each usable only through its service (and a
        shared key for the secrets created here with it)."""
        return tuple(
            DecryptGrant(key_arn=ref.kms_key_arn, via_service=ref.source)
            for ref in refs
            if ref.kms_key_arn is not None and not ref.create
        ) + tuple(
            DecryptGrant(key_arn=self._shared_key_arn, via_service="secretsmanager")
            for ref in refs
            if ref.create and ref.kms_key_arn is None and self._shared_key_arn is not None
        )

    def _secret(self, ref: SecretRef) -> secretsmanager.ISecret:
        if ref.create:
            return self._created(ref)
        found = self._imported.get(ref.name)
        if found is None:
            construct_id = f"Secret{_suffix(ref.name)}"
            if ref.name.startswith("arn:"):
                found = secretsmanager.Secret.from_secret_attributes(
                    self,
                    construct_id,
                    secret_complete_arn=ref.name if _COMPLETE_ARN_RE.match(ref.name) else None,
                    secret_partial_arn=None if _COMPLETE_ARN_RE.match(ref.name) else ref.name,
                )
            else:
                found = secretsmanager.Secret.from_secret_name_v2(self, construct_id, ref.name)
            self._imported[ref.name] = found
        return found

    def _created(self, ref: SecretRef) -> secretsmanager.Secret:
        secret = self.created.get(ref.name)
        if secret is not None:
            return secret
        key = (
            kms.Key.from_key_arn(self, f"Key{_suffix(ref.name)}", ref.kms_key_arn)
            if ref.kms_key_arn
            else self._key
        )
        secret = secretsmanager.Secret(
            self,
            f"Created{_suffix(ref.name)}",
            secret_name=ref.name,
            description="Application secret: created with a placeholder; set its value with "
            "`aws secretsmanager put-secret-value` (README 'App secrets and settings')",
            encryption_key=key,
            removal_policy=RemovalPolicy.RETAIN,
        )
        reason = (
            "An application secret whose value the operator sets (an API key of another "
            "company, a signing key): it is rotated by that procedure, not by a function here."
        )
        acknowledge(
            secret, ("AwsSolutions-SMG4", "NIST.800.53.R5-SecretsManagerRotationEnabled"), reason
        )
        skip_checkov(secret, "CKV2_AWS_57", reason)
        self.created[ref.name] = secret
        return secret

    def _parameter(self, name: str) -> ssm.IStringParameter:
        found = self._parameters.get(name)
        if found is None:
            found = ssm.StringParameter.from_secure_string_parameter_attributes(
                self, f"Parameter{_suffix(name)}", parameter_name=name
            )
            self._parameters[name] = found
        return found


def _suffix(name: str) -> str:
    """A stable construct id part for a secret or parameter name (its letters, then a
    short hash so names differing only in punctuation stay apart)."""
    letters = re.sub(r"[^A-Za-z0-9]", "", name.rsplit(":", 1)[-1])[:40]
    return f"{letters}{hashlib.sha256(name.encode()).hexdigest()[:8]}"
