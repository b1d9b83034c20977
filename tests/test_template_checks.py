"""CDK's template checks started early (`synthesis/template_checks.py`): the window in which
the plugin is created on a thread calls nothing in jsii's Node process, the window covers
every `aws_cdk` module the constructs use, and the app registers the plugin where CDK would
have added its own (the session's report)."""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys

from synthesis import template_checks
from tests.conftest import ROOT, Synth

#: Where the app's constructs live: their `aws_cdk` imports are what the window must cover.
CONSTRUCT_PACKAGES = ("stacks", "l3_constructs")

#: Records every call into jsii's Node process while `CDK_MODULES` are imported, then during
#: one call made on purpose (the proof that the recording sees calls).
_RECORD_CALLS = """
import importlib, json, os
from synthesis import node, template_checks
node.use_synth_node(os.environ)
import aws_cdk
from jsii._kernel.providers.process import _NodeProcess
calls = []
send = _NodeProcess.send
def recorded(self, request, response_type):
    calls.append(type(request).__name__)
    return send(self, request, response_type)
_NodeProcess.send = recorded
for name in template_checks.CDK_MODULES:
    importlib.import_module("aws_cdk." + name)
window = list(calls)
aws_cdk.Duration.minutes(1)
print(json.dumps({"window": window, "after": calls[len(window):]}))
"""


def _aws_cdk_modules(tree: ast.Module) -> set[str]:
    """The `aws_cdk` submodules a module imports: `from aws_cdk import aws_x`,
    `from aws_cdk.aws_x import ...`, `import aws_cdk.aws_x`."""
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            parts = node.module.split(".")
            if parts[0] != "aws_cdk":
                continue
            if len(parts) > 1:
                found.add(parts[1])
            else:
                found |= {a.name for a in node.names if a.name.islower()}
        elif isinstance(node, ast.Import):
            found |= {a.name.split(".")[1] for a in node.names if a.name.startswith("aws_cdk.")}
    return found


def test_the_window_covers_every_aws_cdk_module_the_constructs_import() -> None:
    used: set[str] = set()
    for package in CONSTRUCT_PACKAGES:
        for path in sorted((ROOT / package).glob("*.py")):
            used |= _aws_cdk_modules(ast.parse(path.read_text(), str(path)))
    assert "aws_ec2" in used
    assert set(template_checks.CDK_MODULES) == used
    assert list(template_checks.CDK_MODULES) == sorted(template_checks.CDK_MODULES)


def test_the_window_calls_nothing_in_node_and_the_recording_would_see_it() -> None:
    result = subprocess.run(
        [sys.executable, "-c", _RECORD_CALLS],
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
