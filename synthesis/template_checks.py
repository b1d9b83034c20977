"""CDK's template checks, started while Python still imports the constructs.

CDK checks every template with its `CloudFormationValidatePlugin` (the engine behind
`@aws-cdk/core:validateAgainstDefaultRules`). Left to itself, CDK starts that engine when
validation begins: about 0.8 s in Node (`synthesis/jsii-node`) with Python idle. Here the
app creates the same plugin (CDK's defaults: its default rules, nothing added) on a thread
as soon as the CDK is loaded, while this thread imports the `aws_cdk` modules the constructs
use (0.5-0.8 s of pure Python), and registers it on the `App`, where CDK then uses it
instead of starting its own. Same engine, same rules, same report; each core does one job.

The one condition: nothing may call into jsii's Node process while the plugin is being
created, because jsii's pipe serves one call at a time (two threads on it can each take the
other's answer, and the app hangs). So the window covers only jsii-generated `aws_cdk`
modules, which call nothing at import (`CDK_MODULES`; tests/test_template_checks.py proves
both that and that the list is complete), and `create` joins the thread before it returns:
our own modules, which do call at import, are imported after the plugin exists.

CDK-free at import, like the rest of `synthesis`: the CDK is imported by `create`.
"""

from __future__ import annotations

import importlib
import threading
from collections.abc import Mapping
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from aws_cdk import CloudFormationValidatePlugin

#: CDK's own switch for these checks (`CDK_VALIDATION=false`): CDK then skips them, so the
#: app must not register them either.
VALIDATION_ENV = "CDK_VALIDATION"

#: The `aws_cdk` modules `stacks/` and `l3_constructs/` import (tests/test_synthesis.py keeps
#: this complete). Importing them is what the plugin's creation overlaps with.
CDK_MODULES = (
    "aws_applicationautoscaling",
    "aws_autoscaling",
    "aws_backup",
    "aws_budgets",
    "aws_certificatemanager",
    "aws_chatbot",
    "aws_cloudfront",
    "aws_cloudfront_origins",
    "aws_cloudtrail",
    "aws_cloudwatch",
    "aws_cloudwatch_actions",
    "aws_codebuild",
    "aws_codepipeline",
    "aws_codepipeline_actions",
    "aws_codestarnotifications",
    "aws_config",
    "aws_ec2",
    "aws_ecr",
    "aws_ecr_assets",
    "aws_ecs",
    "aws_elasticloadbalancingv2",
    "aws_events",
    "aws_events_targets",
    "aws_guardduty",
    "aws_iam",
    "aws_kms",
    "aws_lambda",
    "aws_logs",
    "aws_rds",
    "aws_route53",
    "aws_route53_targets",
    "aws_s3",
    "aws_s3_deployment",
    "aws_scheduler",
    "aws_scheduler_targets",
    "aws_secretsmanager",
    "aws_servicediscovery",
    "aws_sns",
    "aws_sns_subscriptions",
    "aws_sqs",
    "aws_ssm",
    "aws_stepfunctions",
    "aws_stepfunctions_tasks",
    "aws_synthetics",
    "aws_wafv2",
    "custom_resources",
    "interfaces",
)


class _Creation(threading.Thread):
    """Creates the plugin; `join` it before anything else calls into Node."""

    def __init__(self) -> None:
        super().__init__(name="template-checks")
        self.plugin: CloudFormationValidatePlugin | None = None
        self.error: BaseException | None = None

    def run(self) -> None:
        from aws_cdk import CloudFormationValidatePlugin  # noqa: PLC0415

        try:
            self.plugin = CloudFormationValidatePlugin()
        except BaseException as exc:  # raised again by the caller of create()
            self.error = exc


def create(environ: Mapping[str, str]) -> CloudFormationValidatePlugin | None:
    """Load the CDK, create its template-check plugin on a thread while `CDK_MODULES` are
    imported on this one, and return it once created (None when `CDK_VALIDATION=false`;
    the modules are imported all the same). The thread is joined before this returns, so
    nothing the caller does can call into Node while the plugin is being created."""
    # The CDK's and cdk-nag's jsii assemblies load now: those are calls into Node too.
    import aws_cdk  # noqa: F401, PLC0415
    import cdk_nag  # noqa: F401, PLC0415

    if environ.get(VALIDATION_ENV) == "false":
        _import_cdk_modules()
        return None
    creation = _Creation()
    creation.start()
    try:
        _import_cdk_modules()
    finally:
        creation.join()
    if creation.error is not None:
        raise creation.error
    return creation.plugin


def _import_cdk_modules() -> None:
    for name in CDK_MODULES:
        importlib.import_module(f"aws_cdk.{name}")
