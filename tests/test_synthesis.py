"""How app.py synthesizes: one stage on its own (`-c stage=...`), checked and built exactly as
in the whole app; the whole app's parts merged into one assembly (`synthesis/`).

The session also builds `ALONE_STAGE` on its own from the same directories (conftest), so
what a deploy of one stage synthesizes is compared here with the whole app's.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from synthesis.assembly import AssemblyMergeError, merge_assemblies
from synthesis.parallel import WORKERS_ENV, WorkersError, plan, worker_count
from synthesis.selection import SelectionError, cli_context, selected_stages
from tests.conftest import ALONE_STAGE, ROOT, Assembly, Synth, cdk_json_context

STAGES = ["Prod", "Stage", "Test"]


# --------------------------------------------------------------------------- one stage alone


def test_a_stage_built_alone_has_the_templates_it_has_in_the_whole_app(
    synth: Synth, stage_alone: Assembly
) -> None:
    expected = {k: v for k, v in synth.templates.items() if k[0] == ALONE_STAGE}
    assert expected
    assert set(stage_alone.templates) == set(expected)
    for key, template in expected.items():
        assert stage_alone.templates[key] == template, key
        assert stage_alone.artifacts[key] == synth.artifacts[key], key
    assert stage_alone.missing_context == []


def _findings(report: dict[str, Any], stage: str) -> dict[str, set[tuple[str, ...]]]:
    """Plugin -> (rule, construct, acknowledgment, reason) of every finding in `stage`."""
    found: dict[str, set[tuple[str, ...]]] = {}
    for plugin in report["pluginReports"]:
        rows = found.setdefault(plugin["pluginName"], set())
        for status in ("violations", "suppressedViolations"):
            for finding in plugin.get(status, []):
                for construct in finding["violatingConstructs"]:
                    if construct["constructPath"].startswith(f"{stage}/"):
                        rows.add(
                            (
                                status,
                                finding["ruleName"],
                                construct["constructPath"],
                                finding.get("acknowledgedId", ""),
                                finding.get("reason", ""),
                            )
                        )
    return found


def test_a_stage_built_alone_is_checked_as_in_the_whole_app(
    synth: Synth, stage_alone: Assembly
) -> None:
    """Every pack, Dev's HIPAA and PCI DSS too (a pack any environment selects checks every
    stage), finds and acknowledges the same in the stage alone as in the whole app."""
    alone = _findings(stage_alone.report, ALONE_STAGE)
    whole = _findings(synth.report, ALONE_STAGE)
    assert set(alone) == set(whole) >= {"AwsSolutions", "HIPAA.Security", "PCI.DSS.321"}
    for plugin, rows in whole.items():
        assert rows, plugin
        assert alone[plugin] == rows, plugin
    assert {r["conclusion"] for r in stage_alone.report["pluginReports"]} == {"success"}


def _run_app(
    context: dict[str, Any], tmp_path: Path, **extra_env: str
) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PLATFORM_CONFIG", WORKERS_ENV)}
    env |= {"CDK_CONTEXT_JSON": json.dumps(context), "CDK_OUTDIR": str(tmp_path / "out")}
    env |= extra_env
    return subprocess.run(
        [sys.executable, "app.py"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("Prdo", "error: context stage: 'Prdo' is not a stage of this app (stages: "),
        ("Prod,Nope", "error: context stage: 'Nope' is not a stage of this app (stages: "),
    ],
)
def test_app_refuses_an_unknown_stage_in_one_line(tmp_path: Path, value: str, message: str) -> None:
    """Before the CDK loads: one line naming the stages there are, exit 1."""
    result = _run_app({**cdk_json_context(), "stage": value}, tmp_path)
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    (line,) = result.stderr.splitlines()
    assert line.startswith(message)
    assert line.endswith("Prod, Stage, Test)")
    assert not (tmp_path / "out").exists()


def test_app_refuses_a_bad_worker_count_in_one_line(tmp_path: Path) -> None:
    result = _run_app(cdk_json_context(), tmp_path, **{WORKERS_ENV: "two"})
    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        f"error: {WORKERS_ENV}: expected a whole number >= 1, got 'two'"
    ]


# --------------------------------------------------------------------------- selection


def test_cli_context_is_the_json_overlaid_by_the_overflow_file(tmp_path: Path) -> None:
    overflow = tmp_path / "context.json"
    overflow.write_text(json.dumps({"stage": "Prod", "big": [1, 2]}))
    environ = {
        "CDK_CONTEXT_JSON": json.dumps({"stage": "Test", "flag": True}),
        "CONTEXT_OVERFLOW_LOCATION_ENV": str(overflow),
    }
    assert cli_context(environ) == {"stage": "Prod", "flag": True, "big": [1, 2]}
    assert cli_context({}) == {}


@pytest.mark.parametrize(
    ("value", "selected"),
    [
        (None, None),
        ("", None),
        ("Prod", ["Prod"]),
        ("prod", ["Prod"]),
        ("Test, Prod", ["Prod", "Test"]),
        ("Test,Test", ["Test"]),
    ],
)
def test_selected_stages_keep_the_apps_order(value: str | None, selected: list[str]) -> None:
    context = {} if value is None else {"stage": value}
    assert selected_stages(context, STAGES) == selected


@pytest.mark.parametrize("value", ["Dev", ",", ["Prod"], 3])
def test_selected_stages_refuse_what_names_no_stage(value: Any) -> None:
    with pytest.raises(SelectionError, match=r"context stage: .*(Prod, Stage, Test|got)"):
        selected_stages({"stage": value}, STAGES)


# --------------------------------------------------------------------------- workers


def test_worker_count_is_one_unless_asked_and_never_more_than_the_stages() -> None:
    assert worker_count({}, 3) == 1
    assert worker_count({WORKERS_ENV: "2"}, 3) == 2
    assert worker_count({WORKERS_ENV: "8"}, 3) == 3
    for bad in ("0", "-1", "two", "1.5"):
        with pytest.raises(WorkersError):
            worker_count({WORKERS_ENV: bad}, 3)


def test_plan_spreads_the_costliest_stages_first_and_keeps_the_apps_order() -> None:
    stages = [("Prod", 10.0), ("Stage", 8.0), ("Test", 7.0), ("Dev", 11.0)]
    assert plan(stages, 1) == [["Prod", "Stage", "Test", "Dev"]]
    # Dev (11) and Prod (10) first, one each; Stage (8) to Prod's, Test (7) to Dev's.
    assert plan(stages, 2) == [["Prod", "Stage"], ["Test", "Dev"]]
    assert plan(stages, 8) == [["Prod"], ["Stage"], ["Test"], ["Dev"]]


# --------------------------------------------------------------------------- merge


def _write(path: Path, data: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data))


def _part(root: Path, stages: list[str], report: dict[str, list[str]]) -> Path:
    """A cloud assembly of `stages` as a worker writes one (report: plugin -> stages found)."""
    artifacts: dict[str, Any] = {
        f"assembly-{s}": {
            "type": "cdk:cloud-assembly",
            "properties": {"directoryName": f"assembly-{s}", "displayName": s},
        }
        for s in stages
    }
    artifacts["Tree"] = {"type": "cdk:tree", "properties": {"file": "tree.json"}}
    artifacts["flags"] = {"type": "cdk:feature-flag-report", "properties": {"flags": {}}}
    _write(root / "manifest.json", {"version": "55.0.0", "artifacts": artifacts})
    children = {s: {"id": s, "path": s} for s in stages} | {"Tree": {"id": "Tree"}}
    _write(root / "tree.json", {"version": "tree-0.1", "tree": {"id": "App", "children": children}})
    (root / "cdk.out").write_text('{"version":"55.0.0"}')
    plugins = [
        {
            "pluginName": name,
            "conclusion": "success",
            "violations": [],
            "suppressedViolations": [
                {"ruleName": "R1", "violatingConstructs": [{"constructPath": f"{s}/X"}]}
                for s in found
            ],
        }
        for name, found in report.items()
    ]
    _write(root / "validation-report.json", {"version": "55.0.0", "pluginReports": plugins})
    for stage in stages:
        _write(root / f"assembly-{stage}" / "manifest.json", {"stage": stage})
    _write(root / "asset.abc" / "file.txt", "shared")
    return root


def test_merged_assembly_holds_every_stage_in_the_apps_order(tmp_path: Path) -> None:
    first = _part(tmp_path / "a", ["Prod", "Test"], {"Nag": ["Prod", "Test"], "Cfn": ["Prod"]})
    second = _part(tmp_path / "b", ["Stage"], {"Nag": ["Stage"], "Cfn": []})
    outdir = tmp_path / "out"
    (outdir / "assembly-Stage").mkdir(parents=True)
    (outdir / "assembly-Stage" / "stale.json").write_text("{}")

    merge_assemblies([first, second], outdir, ["Prod", "Stage", "Test"])

    manifest = json.loads((outdir / "manifest.json").read_text())
    assert list(manifest["artifacts"]) == [
        "assembly-Prod",
        "assembly-Stage",
        "assembly-Test",
        "Tree",
        "flags",
    ]
    tree = json.loads((outdir / "tree.json").read_text())
    assert list(tree["tree"]["children"]) == ["Prod", "Stage", "Test", "Tree"]
    report = json.loads((outdir / "validation-report.json").read_text())
    found = {
        p["pluginName"]: [
            v["violatingConstructs"][0]["constructPath"] for v in p["suppressedViolations"]
        ]
        for p in report["pluginReports"]
    }
    assert found == {"Nag": ["Prod/X", "Test/X", "Stage/X"], "Cfn": ["Prod/X"]}
    for stage in ("Prod", "Stage", "Test"):
        assert json.loads((outdir / f"assembly-{stage}" / "manifest.json").read_text()) == {
            "stage": stage
        }
    assert not (outdir / "assembly-Stage" / "stale.json").exists()
    assert (outdir / "asset.abc" / "file.txt").read_text() == '"shared"'
    assert (outdir / "cdk.out").read_text() == '{"version":"55.0.0"}'


def test_merge_refuses_parts_that_disagree(tmp_path: Path) -> None:
    first = _part(tmp_path / "a", ["Prod"], {})
    second = _part(tmp_path / "b", ["Stage"], {})
    manifest = json.loads((second / "manifest.json").read_text())
    manifest["artifacts"]["flags"]["properties"]["flags"] = {"x": 1}
    _write(second / "manifest.json", manifest)
    with pytest.raises(AssemblyMergeError, match="different artifacts 'flags'"):
        merge_assemblies([first, second], tmp_path / "out", ["Prod", "Stage"])
    with pytest.raises(AssemblyMergeError, match="no worker wrote the stages"):
        merge_assemblies([first], tmp_path / "out", ["Prod", "Test"])
