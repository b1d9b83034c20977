"""scripts/compliance.py: per-stage compliance reports from the cdk-nag results.

First on a small fake cloud assembly written here (all three statuses, counts, CSV/JSON
shape, exit codes), with a fake rule catalogue; then the catalogue read from the installed
cdk-nag; then the session's real assembly (every stage reported, nothing unacknowledged).
"""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import pytest

from l3_constructs.compliance import MIN_REASON_LENGTH
from scripts.compliance import (
    COLUMNS,
    Catalogue,
    Rule,
    build_reports,
    installed_catalogue,
    main,
    read_assembly,
    run,
)
from tests.conftest import Synth

REASON = "The role uses the AWS-managed policy the service documents for it."

CATALOGUE = Catalogue(
    version="0.0.0-test",
    packs={
        "AwsSolutions": (
            Rule(
                "AwsSolutions-S1",
                "error",
                "The S3 Bucket has server access logs disabled.",
                frozenset({"aws-cdk-lib.aws_s3.CfnBucket"}),
                conditional=False,
            ),
            Rule(
                "AwsSolutions-S10",
                "error",
                "The S3 Bucket or bucket policy does not require requests to use SSL.",
                frozenset({"aws-cdk-lib.aws_s3.CfnBucket", "aws-cdk-lib.aws_s3.CfnBucketPolicy"}),
                conditional=False,
            ),
            Rule(
                "AwsSolutions-IAM4",
                "error",
                "The IAM user, role, or group uses AWS managed policies.",
                frozenset({"aws-cdk-lib.aws_iam.CfnRole"}),
                conditional=True,
            ),
        ),
        "NIST.800.53.R5": (),
    },
)


def _write(path: Path, document: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document))


def _construct(path: str) -> dict[str, Any]:
    return {"constructPath": path, "constructFqn": "x", "stackTraces": []}


def fake_assembly(root: Path, *, violation: bool) -> Path:
    """One stage (`Test`), one stack (`Test/App`): a bucket, a role, a generic handler."""
    _write(
        root / "manifest.json",
        {
            "version": "55.0.0",
            "artifacts": {
                "assembly-Test": {
                    "type": "cdk:cloud-assembly",
                    "properties": {"directoryName": "assembly-Test", "displayName": "Test"},
                },
                "Tree": {"type": "cdk:tree", "properties": {"file": "tree.json"}},
            },
        },
    )
    resources = {
        "Bucket": ("AWS::S3::Bucket", "aws-cdk-lib.aws_s3.CfnBucket", "BucketA1"),
        "Role": ("AWS::IAM::Role", "aws-cdk-lib.aws_iam.CfnRole", "RoleB2"),
        "Handler": ("AWS::Lambda::Function", "aws-cdk-lib.CfnResource", "HandlerC3"),
    }

    def node(name: str, fqn: str) -> dict[str, Any]:
        resource = {"id": "Resource", "path": f"Test/App/{name}/Resource"}
        return {
            "id": name,
            "path": f"Test/App/{name}",
            "children": {"Resource": {**resource, "constructInfo": {"fqn": fqn}}},
        }

    _write(
        root / "tree.json",
        {
            "version": "tree-0.1",
            "tree": {
                "id": "App",
                "path": "",
                "children": {
                    "Test": {
                        "id": "Test",
                        "path": "Test",
                        "children": {
                            "App": {
                                "id": "App",
                                "path": "Test/App",
                                "children": {n: node(n, f) for n, (_, f, _) in resources.items()},
                            }
                        },
                    }
                },
            },
        },
    )
    stage_dir = root / "assembly-Test"
    _write(
        stage_dir / "manifest.json",
        {
            "version": "55.0.0",
            "artifacts": {
                "TestApp": {
                    "type": "aws:cloudformation:stack",
                    "displayName": "Test/App",
                    "additionalMetadataFile": "TestApp.metadata.json",
                    "properties": {"templateFile": "TestApp.template.json"},
                }
            },
        },
    )
    _write(
        stage_dir / "TestApp.metadata.json",
        {
            f"/Test/App/{name}/Resource": [{"type": "aws:cdk:logicalId", "data": logical_id}]
            for name, (_, _, logical_id) in resources.items()
        },
    )
    template: dict[str, Any] = {
        "Resources": {
            logical_id: {"Type": type_name} for type_name, _, logical_id in resources.values()
        }
    }
    template["Resources"]["HandlerC3"]["Metadata"] = {
        "checkov": {"skip": [{"id": "CKV_AWS_117", "comment": "A deploy-time handler, no VPC."}]}
    }
    _write(stage_dir / "TestApp.template.json", template)
    bucket_finding = {
        "ruleName": "AwsSolutions-S1",
        "description": "The S3 Bucket has server access logs disabled.",
        "severity": "error",
        "violatingConstructs": [_construct("Test/App/Bucket/Resource")],
    }
    role_finding = {
        "ruleName": "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/X]",
        "description": "The IAM user, role, or group uses AWS managed policies.",
        "severity": "error",
        "violatingConstructs": [_construct("Test/App/Role/Resource")],
        "acknowledgedId": "AwsSolutions::AwsSolutions-IAM4[...]",
        "reason": REASON,
        "acknowledgedAt": "Test/App/Role",
    }
    _write(
        root / "validation-report.json",
        {
            "version": "55.0.0",
            "title": "Validation Report",
            "pluginReports": [
                {
                    "pluginName": "AwsSolutions",
                    "conclusion": "failure" if violation else "success",
                    "violations": [bucket_finding] if violation else [],
                    "suppressedViolations": [role_finding]
                    + ([] if violation else [{**bucket_finding, "reason": REASON}]),
                },
                {
                    "pluginName": "NIST.800.53.R5",
                    "conclusion": "success",
                    "violations": [],
                    "suppressedViolations": [],
                },
            ],
        },
    )
    return root


def _rows(out: Path, stage: str) -> list[dict[str, str]]:
    with (out / f"{stage}.csv").open(newline="") as handle:
        return list(csv.DictReader(handle))


def test_fake_assembly_all_three_statuses(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assembly, out = fake_assembly(tmp_path / "cdk.out", violation=True), tmp_path / "reports"
    assert run(assembly, out, CATALOGUE) == 1
    assert "AwsSolutions-S1" in capsys.readouterr().err
    assert sorted(p.name for p in out.iterdir()) == [
        "Test.csv",
        "Test.json",
        "Test.md",
        "index.json",
        "index.md",
    ]
    rows = {(r["rule"], r["construct_path"]): r for r in _rows(out, "Test")}
    assert {k: r["status"] for k, r in rows.items()} == {
        ("AwsSolutions-S1", "Test/App/Bucket/Resource"): "violation",
        ("AwsSolutions-IAM4", "Test/App/Role/Resource"): "acknowledged",
        # S10 checks buckets and cdk-nag did not flag this one; the generic handler is
        # checked by no rule, so it has no compliant rows.
        ("AwsSolutions-S10", "Test/App/Bucket/Resource"): "compliant",
    }
    acknowledged = rows[("AwsSolutions-IAM4", "Test/App/Role/Resource")]
    assert acknowledged["reason"] == REASON
    assert acknowledged["finding"].startswith("AwsSolutions-IAM4[Policy::")
    assert acknowledged["logical_id"] == "RoleB2"
    assert acknowledged["stack"] == "Test/App"
    assert acknowledged["resource_type"] == "AWS::IAM::Role"
    assert rows[("AwsSolutions-S1", "Test/App/Bucket/Resource")]["reason"] == ""
    assert rows[("AwsSolutions-S10", "Test/App/Bucket/Resource")]["severity"] == "error"


def test_fake_assembly_csv_and_json_shape(tmp_path: Path) -> None:
    assembly, out = fake_assembly(tmp_path / "cdk.out", violation=False), tmp_path / "reports"
    assert run(assembly, out, CATALOGUE) == 0
    with (out / "Test.csv").open(newline="") as handle:
        header = next(csv.reader(handle))
    assert tuple(header) == COLUMNS
    document = json.loads((out / "Test.json").read_text())
    assert set(document) == {"stage", "sources", "summary", "rows", "checkov_skips"}
    assert document["stage"] == "Test"
    assert document["summary"] == {
        "AwsSolutions": {"violation": 0, "acknowledged": 2, "compliant": 1},
        "total": {"violation": 0, "acknowledged": 2, "compliant": 1},
    }
    assert all(set(row) == set(COLUMNS) for row in document["rows"])
    assert "construct class" in document["sources"]["compliant_basis"]
    assert document["checkov_skips"] == [
        {
            "stage": "Test",
            "stack": "Test/App",
            "construct_path": "Test/App/Handler/Resource",
            "logical_id": "HandlerC3",
            "resource_type": "AWS::Lambda::Function",
            "check_id": "CKV_AWS_117",
            "reason": "A deploy-time handler, no VPC.",
        }
    ]
    markdown = (out / "Test.md").read_text()
    assert "How `compliant` was determined" in markdown
    assert "CKV_AWS_117" in markdown
    assert REASON in markdown
    assert "| Test | 0 | 2 | 1 | 1 |" in (out / "index.md").read_text()


def test_missing_assembly_is_refused_clearly(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--assembly", str(tmp_path / "nowhere")]) == 2
    assert "run `make synth` first" in capsys.readouterr().err


def test_the_installed_cdk_nag_catalogue_is_read_completely() -> None:
    catalogue = installed_catalogue()
    assert catalogue.unread == ()
    assert {"AwsSolutions", "NIST.800.53.R5", "HIPAA.Security", "PCI.DSS.321"} <= set(
        catalogue.packs
    )
    rules = {r.rule_id: r for pack in catalogue.packs.values() for r in pack}
    assert rules["AwsSolutions-S1"].fqns == {"aws-cdk-lib.aws_s3.CfnBucket"}
    assert rules["AwsSolutions-S1"].severity == "error"
    assert rules["NIST.800.53.R5-RDSLoggingEnabled"].conditional  # N/A for Aurora instances
    assert all(rule.fqns for rule in rules.values())


def test_real_assembly_every_stage_reported_nothing_unacknowledged(
    synth: Synth, tmp_path: Path
) -> None:
    out = tmp_path / "compliance"
    assert run(synth.outdir, out) == 0
    for stage in synth.configs:
        assert {p.name for p in out.glob(f"{stage}.*")} == {
            f"{stage}.{s}" for s in ("md", "json", "csv")
        }
        rows = _rows(out, stage)
        assert {r["pack"] for r in rows} >= {"AwsSolutions", "NIST.800.53.R5"}
        assert [r for r in rows if r["status"] == "violation"] == []
        for row in rows:
            if row["status"] == "acknowledged":
                assert len(row["reason"].strip()) >= MIN_REASON_LENGTH, row
            assert row["stack"].startswith(f"{stage}/"), row
            assert row["logical_id"], row
        assert any(r["status"] == "compliant" for r in rows)
    # Every finding of the validation report is a row, in its stage's report.
    reported = sum(
        len(v["violatingConstructs"])
        for plugin in synth.report["pluginReports"]
        for v in plugin["violations"] + plugin["suppressedViolations"]
    )
    listed = sum(
        1 for stage in synth.configs for r in _rows(out, stage) if r["status"] != "compliant"
    )
    assert listed == reported
    # Every checkov skip in the templates is listed.
    skips = sum(
        len(resource.get("Metadata", {}).get("checkov", {}).get("skip", []))
        for template in synth.templates.values()
        for resource in template["Resources"].values()
    )
    assert skips == sum(
        len(json.loads((out / f"{stage}.json").read_text())["checkov_skips"])
        for stage in synth.configs
    )


def test_real_findings_are_on_classes_the_catalogue_says_the_rule_checks(synth: Synth) -> None:
    """The derivation of `compliant` agrees with what cdk-nag actually flagged: no finding of
    a cdk-nag rule sits on a construct class the catalogue says the rule does not check."""
    catalogue = installed_catalogue()
    rules = {r.rule_id: r for pack in catalogue.packs.values() for r in pack}
    assembly = read_assembly(synth.outdir)
    stages = build_reports(assembly, synth.report, catalogue)
    outside = [
        (row.finding, row.construct_path, assembly.resources[row.construct_path].fqn)
        for stage in stages.values()
        for row in stage.rows
        if row.pack in catalogue.packs and row.status != "compliant"
        if assembly.resources[row.construct_path].fqn not in rules[row.rule].fqns
    ]
    assert outside == []
