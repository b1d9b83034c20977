"""CDK's template checks started early (`synthesis/template_checks.py`): the window in which
the plugin is created on a thread (the import of the app's modules) calls nothing in jsii's
Node process, and the app registers the plugin where CDK would have added its own (the
session's report)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from synthesis import template_checks
from tests.conftest import ROOT, Synth

#: Where the app's own modules live: the window must import every one of them (so all their
#: import-time code runs inside it).
APP_PACKAGES = ("stacks", "l3_constructs")

#: Records every call into jsii's Node process while `APP_MODULES` are imported (after the
#: CDK and cdk-nag loaded, as in `create`), then during one call made on purpose (the proof
#: that the recording sees calls), and which modules of the packages named in its arguments
#: (`APP_PACKAGES`) the window imported.
_RECORD_CALLS = """
import importlib, json, os, sys
from synthesis import node, template_checks
node.use_synth_node(os.environ)
import aws_cdk
import cdk_nag
from jsii._kernel.providers.process import _NodeProcess
calls = []
send = _NodeProcess.send
def recorded(self, request, response_type):
    calls.append(type(request).__name__)
    return send(self, request, response_type)
_NodeProcess.send = recorded
for name in template_checks.APP_MODULES:
    importlib.import_module(name)
window = list(calls)
packages = tuple(f"{name}." for name in sys.argv[1:])
imported = sorted(m for m in sys.modules if m.startswith(packages))
aws_cdk.Duration.minutes(1)
print(json.dumps({"window": window, "after": calls[len(window):], "imported": imported}))
"""


def test_the_window_calls_nothing_in_node_and_the_recording_would_see_it() -> None:
    result = subprocess.run(
        [sys.executable, "-c", _RECORD_CALLS, *APP_PACKAGES],
        cwd=ROOT,
        env=dict(os.environ),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    recorded = json.loads(result.stdout.splitlines()[-1])
    assert recorded["window"] == []
    assert recorded["after"] == ["StaticInvokeRequest"]
    on_disk = sorted(
        f"{package}.{path.stem}"
        for package in APP_PACKAGES
        for path in (ROOT / package).glob("*.py")
        if path.stem != "__init__"
    )
    assert "l3_constructs.network" in on_disk
    assert recorded["imported"] == on_disk


def test_cdk_validation_false_starts_no_checks() -> None:
    assert template_checks.create({template_checks.VALIDATION_ENV: "false"}) is None


def test_the_session_report_has_cdks_template_checks_once_and_first(synth: Synth) -> None:
    """`app.py` registered the early plugin before the cdk-nag packs, so the report lists
    the plugins in the order CDK's own plugin gave (CDK reports it first: it adds it to the
    nested stages, which come before the app)."""
    names = [r["pluginName"] for r in synth.report["pluginReports"]]
    assert names == [
        "CloudFormation Validate",
        "AwsSolutions",
        "NIST.800.53.R5",
        "HIPAA.Security",
        "PCI.DSS.321",
    ]
