"""`ReleaseRecord`: the one place that says which image tag an environment runs.

An SSM parameter holds the tag the delivery pipeline last released. The pipeline writes it
after the service runs the new image; the Compute stack resolves it at every deployment
(a CloudFormation parameter of type `AWS::SSM::Parameter::Value<String>`), so a later
`cdk deploy` runs the released tag and never reverts it.

The parameter is created once, holding `UNRELEASED`, by a custom resource that never writes
it again: an `AWS::SSM::Parameter` would be rewritten with its template value whenever
CloudFormation updated it (a tag change is enough) and so undo the last release. It must
exist before a stack that resolves it is deployed, so it lives in an earlier stack.
"""

from __future__ import annotations

from aws_cdk import ArnFormat, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import custom_resources as cr
from constructs import Construct

from l3_constructs.compliance import acknowledge
from l3_constructs.limits import UNRELEASED
from l3_constructs.shared import (
    acknowledge_aws_custom_resource_function,
    encrypted_function_log_group,
)


class ReleaseRecord(Construct):
    """The SSM String parameter `parameter_name` (ARN `parameter_arn`), created holding
    `UNRELEASED` if it does not exist yet, left alone on updates, deleted with the stack."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        parameter_name: str,
        log_key: kms.Key,
        log_retention_days: int,
        log_group: logs.ILogGroup | None = None,
    ) -> None:
        """`log_group`: the function's log group, when another record of the stack made it
        (CDK's AwsCustomResource function is one per stack, and so is its log group)."""
        super().__init__(scope, construct_id)
        self.log_group = log_group or encrypted_function_log_group(
            self, "Logs", key=log_key, retention_days=log_retention_days
        )
        if not parameter_name.startswith("/") or len(parameter_name) > 1011:
            raise ValueError(f"{parameter_name!r} is not a hierarchical SSM parameter name")
        self.parameter_name = parameter_name
        self.parameter_arn = Stack.of(self).format_arn(
            service="ssm",
            resource="parameter",
            resource_name=parameter_name.lstrip("/"),
            arn_format=ArnFormat.SLASH_RESOURCE_NAME,
        )
        create = cr.AwsSdkCall(
            service="SSM",
            action="putParameter",
            parameters={
                "Name": parameter_name,
                "Value": UNRELEASED,
                "Type": "String",
                "Overwrite": False,
                "Description": "Image tag the delivery pipeline last released; the Compute "
                "stack runs it (written by the pipeline only)",
            },
            physical_resource_id=cr.PhysicalResourceId.of(parameter_name),
            # The record of an earlier deployment of this stack survives: keep it.
            ignore_error_codes_matching="ParameterAlreadyExists",
        )
        delete = cr.AwsSdkCall(
            service="SSM",
            action="deleteParameter",
            parameters={"Name": parameter_name},
            ignore_error_codes_matching="ParameterNotFound",
        )
        self.resource = cr.AwsCustomResource(
            self,
            "Parameter",
            on_create=create,
            on_delete=delete,
            policy=cr.AwsCustomResourcePolicy.from_statements(
                [
                    iam.PolicyStatement(
                        actions=["ssm:PutParameter", "ssm:DeleteParameter"],
                        resources=[self.parameter_arn],
                    )
                ]
            ),
            install_latest_aws_sdk=False,
            log_group=self.log_group,
        )
        self._acknowledge_findings()

    def _acknowledge_findings(self) -> None:
        acknowledge(
            self.resource,
            "NIST.800.53.R5-IAMNoInlinePolicy",
            "CDK's inline policy for the release record: ssm:PutParameter and "
            "ssm:DeleteParameter on this one parameter, for a single-purpose role.",
        )
        acknowledge_aws_custom_resource_function(
            self,
            calls="PutParameter and DeleteParameter of the release record (a parameter name "
            "and the word 'unreleased')",
            when="when the stack is created or deleted",
        )
