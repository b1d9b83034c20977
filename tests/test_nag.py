"""cdk-nag as a test: AwsSolutions and NIST 800-53 rev 5 over every stage, zero findings left.

Every acknowledgment must carry a specific reason and sit on the construct it concerns
(never on a stack), so it survives renaming or adding a stage; the Dev stage, added the
way a user adds an environment, is checked like the shipped ones.
"""

from __future__ import annotations

from typing import Any

import pytest

from l3_constructs.compliance import MIN_REASON_LENGTH
from tests.conftest import ALL_STAGES, Synth

#: The packs every app runs, and the two the session's Dev stage selects (config
#: compliance.extra_packs), which then check the whole app.
PACKS = ("AwsSolutions", "NIST.800.53.R5", "HIPAA.Security", "PCI.DSS.321")
#: Report name -> the namespace its acknowledgment ids carry.
NAMESPACES = {
    "AwsSolutions": "AwsSolutions",
    "NIST.800.53.R5": "NIST.800.53.R5",
    "HIPAA.Security": "HIPAA.Security",
    "PCI.DSS.321": "PCI.DSS.321",
    # CDK's own template checks (the validateAgainstDefaultRules feature flag).
    "CloudFormation Validate": "CloudFormation-Validate",
}


def _report(synth: Synth, pack: str) -> dict[str, Any]:
    (report,) = [r for r in synth.report["pluginReports"] if r["pluginName"] == pack]
    found: dict[str, Any] = report
    return found


@pytest.mark.parametrize("pack", PACKS)
def test_no_unacknowledged_findings(synth: Synth, pack: str) -> None:
    report = _report(synth, pack)
    findings = [
        f"{v['ruleName']} at {c['constructPath']}"
        for v in report["violations"]
        for c in v["violatingConstructs"]
    ]
    assert findings == []
    assert report["conclusion"] == "success"


def test_no_finding_of_any_validation_plugin_warnings_included(synth: Synth) -> None:
    plugins = {r["pluginName"] for r in synth.report["pluginReports"]}
    assert plugins == set(NAMESPACES)
    findings = [
        (r["pluginName"], v["severity"], v["description"])
        for r in synth.report["pluginReports"]
        for v in r.get("violations", [])
    ]
    assert findings == []
    assert {r["conclusion"] for r in synth.report["pluginReports"]} == {"success"}


@pytest.mark.parametrize("plugin", NAMESPACES)
def test_acknowledgments_are_specific_and_on_the_construct(synth: Synth, plugin: str) -> None:
    stacks = {f"{stage}/{stack}" for stage, stack in synth.templates}
    for ack in _report(synth, plugin)["suppressedViolations"]:
        assert ack["acknowledgedId"] == f"{NAMESPACES[plugin]}::{ack['ruleName']}"
        assert len(ack["reason"].strip()) >= MIN_REASON_LENGTH, ack
        where = ack["acknowledgedAt"]
        assert where not in stacks, f"stack-level acknowledgment of {ack['ruleName']}"
        for construct in ack["violatingConstructs"]:
            assert construct["constructPath"].startswith(f"{where}/"), ack


def test_every_stage_was_checked_including_the_new_one(synth: Synth) -> None:
    checked = {
        c["constructPath"].split("/", 1)[0]
        for pack in PACKS
        for ack in _report(synth, pack)["suppressedViolations"]
        for c in ack["violatingConstructs"]
    }
    # ... and the examples' stages (examples/): every stage of the app.
    assert checked == set(ALL_STAGES)
