"""CDK's template checks, started while Python still imports the app's modules.

CDK checks every template with its `CloudFormationValidatePlugin` (the engine behind
`@aws-cdk/core:validateAgainstDefaultRules`). Left to itself, CDK starts that engine when
validation begins: about 0.8-1.1 s in Node (`synthesis/jsii-node`) with Python idle. Here the
app creates the same plugin (CDK's defaults: its default rules, nothing added) on a thread
as soon as the CDK is loaded, while this thread imports the app's own modules (`APP_MODULES`:
the stacks, the constructs and the `aws_cdk` modules they use: about 1.2 s of Python),
and registers it on the `App`, where CDK then uses it instead of starting its own. Same
engine, same rules, same report; each core does one job.

The one condition: nothing may call into jsii's Node process while the plugin is being
created, because jsii's pipe serves one call at a time (two threads on it can each take the
other's answer, and the app hangs or fails). So importing `APP_MODULES` must call nothing in
jsii: jsii-generated modules never do, and our modules make no CDK object at import (their
constants are made on first use, e.g. `l3_constructs.alarms.five_minutes()`).
tests/test_template_checks.py proves the window makes no call (with a positive control);
`create` joins the thread before it returns.

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

#: The app's modules, imported while the plugin is created: `stacks.application` and all
#: it imports (the stacks, the constructs, the `aws_cdk` modules they use). Importing them
#: calls nothing in jsii (tests/test_template_checks.py).
APP_MODULES = ("stacks.application",)


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
    """Load the CDK, create its template-check plugin on a thread while `APP_MODULES` are
    imported on this one, and return it once created (None when `CDK_VALIDATION=false`;
    the modules are imported all the same). The thread is joined before this returns, so
    nothing the caller does can call into Node while the plugin is being created."""
    # The CDK's and cdk-nag's jsii assemblies load now: those are calls into Node too.
    import aws_cdk  # noqa: F401, PLC0415
    import cdk_nag  # noqa: F401, PLC0415

    if environ.get(VALIDATION_ENV) == "false":
        _import_app_modules()
        return None
    creation = _Creation()
    creation.start()
    try:
        _import_app_modules()
    finally:
        creation.join()
    if creation.error is not None:
        raise creation.error
    return creation.plugin


def _import_app_modules() -> None:
    for name in APP_MODULES:
        importlib.import_module(name)
