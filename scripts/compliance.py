"""Compliance reports, per stage, from the cdk-nag results of a synthesized cloud assembly.

    python -m scripts.compliance [--assembly cdk.out] [--out cdk.out/compliance]

Reads `<assembly>/validation-report.json` (what the CDK Validations plugins found: cdk-nag's
packs and CDK's own template checks), the nested assemblies `assembly-<Stage>` (stacks,
templates, construct path -> logical id) and `tree.json` (each resource's construct class),
and writes for each stage `<Stage>.md` (for people), `<Stage>.json` and `<Stage>.csv` (for
tools), plus `index.md` / `index.json` over all stages. Each row is one rule x resource:

* `violation`: cdk-nag reported it and nothing acknowledges it;
* `acknowledged`: reported, and acknowledged on the construct with the reason given;
* `compliant`: see `COMPLIANT_BASIS` (cdk-nag 3 reports findings only, never passes).

Each report also lists the checkov skips declared on the stage's resources
(`Metadata.checkov.skip`, written by `l3_constructs.compliance.skip_checkov`).

Exits 1, after writing the reports, when any finding is unacknowledged (or a plugin did not
conclude `success`); 2 when the assembly or its validation report is missing.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import re
import sys
import tarfile
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass, field, fields
from importlib import metadata, util
from pathlib import Path
from typing import Any, Literal

Status = Literal["violation", "acknowledged", "compliant"]
#: Order of rows and of summary columns: what needs attention first.
STATUSES: tuple[Status, ...] = ("violation", "acknowledged", "compliant")

REPORT_FILE = "validation-report.json"

COMPLIANT_BASIS = (
    "cdk-nag 3 reports only findings (violations and acknowledged ones), not the rules a "
    "resource passed. A row is `compliant` when the pack's rule checks this resource's "
    "construct class (the `node instanceof Cfn...` guards of the rule in the installed "
    "cdk-nag {version}, read from its package) and cdk-nag reported no finding of that rule "
    "on the resource. Rules marked `may-be-n/a` can also find a resource of a checked class "
    "not applicable (e.g. an engine they do not cover): for them `compliant` means checked "
    "and not flagged. Resources CDK writes as a generic `CfnResource` (custom-resource "
    "handlers) are checked by no rule and get no compliant rows. Plugins other than cdk-nag "
    "packs (e.g. CDK's `CloudFormation Validate`) publish no rule list: only their findings "
    "are listed."
)


# --- cdk-nag's rule catalogue, read from the installed package ----------------------------


@dataclass(frozen=True)
class Rule:
    """One rule of a cdk-nag pack, as the pack applies it."""

    rule_id: str
    severity: str
    info: str
    #: Construct classes (jsii fqn, e.g. `aws-cdk-lib.aws_s3.CfnBucket`) the rule checks.
    fqns: frozenset[str]
    #: The rule can return "not applicable" for a resource of a checked class too.
    conditional: bool


@dataclass(frozen=True)
class Catalogue:
    version: str
    #: Pack name (the plugin name in the report) -> its rules.
    packs: dict[str, tuple[Rule, ...]]
    #: Rules whose checked classes could not be read (they get no compliant rows).
    unread: tuple[str, ...] = ()


_PACK_NAME = re.compile(r"this\.name = '([^']+)';")
_RULES_IMPORT = re.compile(r'const (\w+) = require\("\.\./rules/([\w-]+)"\);')
_APPLY_RULE = re.compile(r"this\.applyRule\(\{(.*?)\n\s*\}\);", re.S)
_CDK_IMPORT = re.compile(r'const (\w+) = require\("aws-cdk-lib(?:/([\w-]+))?"\);')
_ARROW_RULE = re.compile(
    r"exports\.default = Object\.defineProperty\(\((\w+)\) => \{(.*?)\n\}", re.S
)
_NAMED_RULE = re.compile(r"exports\.default = (\w+);")
# A guard combined with another condition: the rule may skip a resource of that class.
_GUARD_WITH_CONDITION = r"\b{var} instanceof [\w.]+\s*&&|&&\s*{var} instanceof\b"


def _js_string(fields_text: str, key: str) -> str | None:
    match = re.search(rf"\b{key}: '((?:[^'\\]|\\.)*)'", fields_text)
    return match.group(1).replace("\\'", "'") if match else None


def _rule_body(source: str) -> tuple[str, str] | None:
    """(parameter name, body) of the function a rule module exports."""
    arrow = _ARROW_RULE.search(source)
    if arrow:
        return arrow.group(1), arrow.group(2)
    named = _NAMED_RULE.search(source)
    if named:
        function = re.search(rf"function {named.group(1)}\((\w+)\) \{{(.*?)\n\}}", source, re.S)
        if function:
            return function.group(1), function.group(2)
    return None


def _checked_classes(source: str) -> tuple[frozenset[str], bool] | None:
    """The construct classes a rule module's function checks, and whether it may still
    return "not applicable" for one of them; None if the function cannot be read."""
    found = _rule_body(source)
    if found is None:
        return None
    var, body = found
    modules = {
        alias: "aws-cdk-lib" + (f".{sub.replace('-', '_')}" if sub else "")
        for alias, sub in _CDK_IMPORT.findall(source)
    }
    fqns = frozenset(
        f"{modules[alias]}.{cls}"
        for alias, cls in re.findall(rf"\b{var} instanceof (\w+)\.(Cfn\w+)", body)
        if alias in modules
    )
    if not fqns:
        return None
    guard = _GUARD_WITH_CONDITION.format(var=re.escape(var))
    conditional = body.count("NOT_APPLICABLE") > 1 or re.search(guard, body) is not None
    return fqns, conditional


def read_catalogue(bundle: Path) -> Catalogue:
    """The packs and rules of cdk-nag's jsii bundle (`cdk-nag@<version>.jsii.tgz`)."""
    with tarfile.open(bundle) as tar:
        sources = {
            member.name.removeprefix("package/"): tar.extractfile(member)
            for member in tar.getmembers()
            if member.isfile() and (member.name.endswith(".js") or member.name.endswith(".json"))
        }
        files = {name: handle.read().decode() for name, handle in sources.items() if handle}
    version = str(json.loads(files["package.json"])["version"])
    packs: dict[str, tuple[Rule, ...]] = {}
    unread: set[str] = set()
    for name, source in sorted(files.items()):
        if not re.fullmatch(r"lib/packs/[\w-]+\.js", name):
            continue
        pack = _PACK_NAME.search(source)
        if pack is None:
            continue
        rule_dirs = dict(_RULES_IMPORT.findall(source))
        rules: list[Rule] = []
        for block in _APPLY_RULE.findall(source):
            rule_ref = re.search(r"\brule: (\w+)\.(\w+),", block)
            level = re.search(r"level: nag_rules_1\.NagMessageLevel\.(\w+)", block)
            if rule_ref is None or level is None:
                continue
            alias, function = rule_ref.groups()
            rule_id = f"{pack.group(1)}-{_js_string(block, 'ruleSuffixOverride') or function}"
            module = files.get(f"lib/rules/{rule_dirs.get(alias, '?')}/{function}.js", "")
            checked = _checked_classes(module)
            if checked is None:
                unread.add(rule_id)
            rules.append(
                Rule(
                    rule_id=rule_id,
                    # cdk-nag reports ERROR as "error" and anything else as "warning".
                    severity="error" if level.group(1) == "ERROR" else "warning",
                    info=_js_string(block, "info") or "",
                    fqns=checked[0] if checked else frozenset(),
                    conditional=checked[1] if checked else False,
                )
            )
        packs[pack.group(1)] = tuple(rules)
    return Catalogue(version=version, packs=packs, unread=tuple(sorted(unread)))


def installed_catalogue() -> Catalogue:
    """The catalogue of the cdk-nag the app runs (found without importing it: no jsii)."""
    spec = util.find_spec("cdk_nag")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("cdk-nag is not installed")
    version = metadata.version("cdk-nag")
    for location in spec.submodule_search_locations:
        bundle = Path(location) / "_jsii" / f"cdk-nag@{version}.jsii.tgz"
        if bundle.is_file():
            return read_catalogue(bundle)
    raise FileNotFoundError(f"no jsii bundle of cdk-nag {version}")


# --- the cloud assembly ---------------------------------------------------------------------


@dataclass(frozen=True)
class Resource:
    stage: str
    stack: str
    path: str
    logical_id: str
    type: str
    fqn: str
    template: str
    checkov_skips: tuple[dict[str, str], ...] = ()


@dataclass
class Assembly:
    root: Path
    stages: list[str] = field(default_factory=list)
    #: Construct path (no leading slash) -> resource.
    resources: dict[str, Resource] = field(default_factory=dict)
    #: (template path relative to the root, logical id) -> construct path.
    by_template: dict[tuple[str, str], str] = field(default_factory=dict)
    #: Stack display names (`Prod/Database`), longest first.
    stacks: list[str] = field(default_factory=list)


def _load(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def _tree_nodes(node: dict[str, Any], directory: Path) -> Iterator[dict[str, Any]]:
    """Every node of tree.json, following the references CDK writes when it splits a large
    tree over several files (`{"fileName": ..., "treeId": ...}`)."""
    if "fileName" in node and "treeId" in node:
        node = _load(directory / node["fileName"])["forest"][node["treeId"]]
    yield node
    for child in node.get("children", {}).values():
        yield from _tree_nodes(child, directory)


def _construct_classes(root: Path, manifest: dict[str, Any]) -> dict[str, str]:
    tree_files = [
        a["properties"]["file"] for a in manifest["artifacts"].values() if a["type"] == "cdk:tree"
    ]
    fqns: dict[str, str] = {}
    for tree_file in tree_files:
        for node in _tree_nodes(_load(root / tree_file)["tree"], root):
            fqn = node.get("constructInfo", {}).get("fqn")
            if fqn and node.get("path"):
                fqns[node["path"]] = fqn
    return fqns


def _stack_metadata(directory: Path, artifact: dict[str, Any]) -> dict[str, Any]:
    entries: dict[str, Any] = dict(artifact.get("metadata", {}))
    if "additionalMetadataFile" in artifact:
        entries.update(_load(directory / artifact["additionalMetadataFile"]))
    return entries


def read_assembly(root: Path) -> Assembly:
    """Stages, stacks and CloudFormation resources of a cloud assembly (nested ones too)."""
    manifest = _load(root / "manifest.json")
    fqns = _construct_classes(root, manifest)
    assembly = Assembly(root=root)
    directories: list[tuple[str, str]] = [("", "")]  # (directory, stage); "" = the root
    for artifact in manifest["artifacts"].values():
        if artifact["type"] == "cdk:cloud-assembly":
            properties = artifact["properties"]
            directories.append((properties["directoryName"], properties["displayName"]))
            assembly.stages.append(properties["displayName"])
    for directory, stage in directories:
        nested = _load(root / directory / "manifest.json") if directory else manifest
        for artifact in nested["artifacts"].values():
            if artifact["type"] == "aws:cloudformation:stack":
                _read_stack(assembly, root / directory, directory, artifact, stage=stage, fqns=fqns)
    assembly.stages.sort()
    assembly.stacks.sort(key=len, reverse=True)
    return assembly


def _read_stack(
    assembly: Assembly,
    directory: Path,
    relative: str,
    artifact: dict[str, Any],
    *,
    stage: str,
    fqns: dict[str, str],
) -> None:
    stack = str(artifact.get("displayName", ""))
    template_file = artifact["properties"]["templateFile"]
    template_path = f"{relative}/{template_file}" if relative else template_file
    template_resources: dict[str, Any] = _load(directory / template_file).get("Resources", {})
    assembly.stacks.append(stack)
    for construct_path, entries in _stack_metadata(directory, artifact).items():
        for entry in entries:
            logical_id = entry.get("data")
            if entry.get("type") != "aws:cdk:logicalId" or logical_id not in template_resources:
                continue
            path = construct_path.lstrip("/")
            resource = template_resources[logical_id]
            skips = resource.get("Metadata", {}).get("checkov", {}).get("skip", [])
            assembly.resources[path] = Resource(
                stage=stage or path.split("/", 1)[0],
                stack=stack,
                path=path,
                logical_id=logical_id,
                type=str(resource.get("Type", "")),
                fqn=fqns.get(path, ""),
                template=template_path,
                checkov_skips=tuple(
                    {"id": str(s.get("id", "")), "comment": str(s.get("comment", ""))}
                    for s in skips
                ),
            )
            assembly.by_template[(template_path, logical_id)] = path


# --- rows -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Row:
    stage: str
    pack: str
    rule: str
    #: The finding as reported: the rule id, with `[finding]` for per-finding rules.
    finding: str
    status: Status
    severity: str
    stack: str
    construct_path: str
    logical_id: str
    resource_type: str
    reason: str
    description: str
    note: str = ""


COLUMNS = tuple(f.name for f in fields(Row))


@dataclass(frozen=True)
class CheckovSkip:
    stage: str
    stack: str
    construct_path: str
    logical_id: str
    resource_type: str
    check_id: str
    reason: str


@dataclass
class StageReport:
    stage: str
    rows: list[Row] = field(default_factory=list)
    checkov_skips: list[CheckovSkip] = field(default_factory=list)

    def summary(self) -> dict[str, dict[str, int]]:
        """Pack -> status -> count (every status present, zeros included), plus `total`."""
        counts: dict[str, Counter[str]] = {}
        for row in self.rows:
            counts.setdefault(row.pack, Counter())[row.status] += 1
        table: dict[str, dict[str, int]] = {
            pack: {status: counter[status] for status in STATUSES}
            for pack, counter in sorted(counts.items())
        }
        table["total"] = {s: sum(c[s] for c in table.values()) for s in STATUSES}
        return table


def _base_rule(finding: str) -> str:
    return finding.split("[", 1)[0]


def _locate(assembly: Assembly, construct: dict[str, Any]) -> Resource:
    path = str(construct.get("constructPath", "")).lstrip("/")
    if path in assembly.resources:
        return assembly.resources[path]
    cfn = construct.get("cloudFormationResource") or {}
    known = assembly.by_template.get((cfn.get("templatePath", ""), cfn.get("logicalId", "")))
    if known is not None:
        return assembly.resources[known]
    # Not a resource of any template (should not happen): keep the finding, never drop it.
    stack = next((s for s in assembly.stacks if path.startswith(f"{s}/")), "")
    return Resource(
        stage=path.split("/", 1)[0],
        stack=stack,
        path=path,
        logical_id=str(cfn.get("logicalId", "")),
        type="",
        fqn=str(construct.get("constructFqn", "")),
        template=str(cfn.get("templatePath", "")),
    )


def _finding_rows(assembly: Assembly, report: dict[str, Any]) -> Iterator[Row]:
    for plugin in report.get("pluginReports", []):
        pack = str(plugin["pluginName"])
        entries: list[tuple[Status, dict[str, Any]]] = [
            ("violation", v) for v in plugin.get("violations", [])
        ]
        entries += [("acknowledged", v) for v in plugin.get("suppressedViolations", [])]
        for status, entry in entries:
            for construct in entry.get("violatingConstructs", []):
                resource = _locate(assembly, construct)
                yield Row(
                    stage=resource.stage,
                    pack=pack,
                    rule=_base_rule(str(entry["ruleName"])),
                    finding=str(entry["ruleName"]),
                    status=status,
                    severity=str(entry.get("severity", "")),
                    stack=resource.stack,
                    construct_path=resource.path,
                    logical_id=resource.logical_id,
                    resource_type=resource.type,
                    reason=str(entry.get("reason", "")) if status == "acknowledged" else "",
                    description=str(entry.get("description", "")),
                )


def _compliant_rows(
    assembly: Assembly,
    packs: Iterable[str],
    catalogue: Catalogue,
    flagged: set[tuple[str, str, str]],
) -> Iterator[Row]:
    for pack in packs:
        for rule in catalogue.packs.get(pack, ()):
            for resource in assembly.resources.values():
                if resource.fqn not in rule.fqns:
                    continue
                if (pack, rule.rule_id, resource.path) in flagged:
                    continue
                yield Row(
                    stage=resource.stage,
                    pack=pack,
                    rule=rule.rule_id,
                    finding=rule.rule_id,
                    status="compliant",
                    severity=rule.severity,
                    stack=resource.stack,
                    construct_path=resource.path,
                    logical_id=resource.logical_id,
                    resource_type=resource.type,
                    reason="",
                    description=rule.info,
                    note="may-be-n/a" if rule.conditional else "",
                )


def build_reports(
    assembly: Assembly, report: dict[str, Any], catalogue: Catalogue
) -> dict[str, StageReport]:
    """One report per stage: every finding of every plugin, the derived compliant rows of
    every cdk-nag pack that ran, and the checkov skips."""
    findings = list(_finding_rows(assembly, report))
    flagged = {(r.pack, r.rule, r.construct_path) for r in findings}
    ran = [str(p["pluginName"]) for p in report.get("pluginReports", [])]
    rows = findings + list(_compliant_rows(assembly, ran, catalogue, flagged))
    stages = {stage: StageReport(stage) for stage in assembly.stages}
    for row in rows:
        stages.setdefault(row.stage, StageReport(row.stage)).rows.append(row)
    for resource in assembly.resources.values():
        for skip in resource.checkov_skips:
            stages.setdefault(resource.stage, StageReport(resource.stage)).checkov_skips.append(
                CheckovSkip(
                    stage=resource.stage,
                    stack=resource.stack,
                    construct_path=resource.path,
                    logical_id=resource.logical_id,
                    resource_type=resource.type,
                    check_id=skip["id"],
                    reason=skip["comment"],
                )
            )
    order = {status: i for i, status in enumerate(STATUSES)}
    for stage in stages.values():
        stage.rows.sort(
            key=lambda r: (order[r.status], r.pack, r.rule, r.construct_path, r.finding)
        )
        stage.checkov_skips.sort(key=lambda s: (s.construct_path, s.check_id))
    return dict(sorted(stages.items()))


# --- rendering ------------------------------------------------------------------------------


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|") or " "


def _table(header: Sequence[str], rows: Iterable[Sequence[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in rows]
    return lines


def _resource(row: Row | CheckovSkip) -> str:
    return f"`{row.construct_path}` ({row.logical_id})" if row.logical_id else row.construct_path


def render_markdown(stage: StageReport, sources: dict[str, str]) -> str:
    summary = stage.summary()
    lines = [
        f"# Compliance report: {stage.stage}",
        "",
        f"Generated from `{sources['validation_report']}` (cdk-nag {sources['cdk_nag']}); "
        "statuses: `violation` (reported, not acknowledged), `acknowledged` (reported, "
        "acknowledged on the construct with the reason shown), `compliant`.",
        "",
        f"How `compliant` was determined: {sources['compliant_basis']}",
        "",
        "## Summary",
        "",
        *_table(
            ["Pack", *STATUSES],
            [[pack, *(str(c[s]) for s in STATUSES)] for pack, c in summary.items()],
        ),
    ]
    sections: list[tuple[Status, str]] = [
        ("violation", "Violations (unacknowledged: synth fails)"),
        ("acknowledged", "Acknowledged findings"),
    ]
    for status, title in sections:
        chosen = [r for r in stage.rows if r.status == status]
        lines += ["", f"## {title}", ""]
        if not chosen:
            lines.append("None.")
            continue
        lines += _table(
            [
                "Pack",
                "Finding",
                "Severity",
                "Resource",
                "Reason" if status != "violation" else "Description",
            ],
            [
                [r.pack, r.finding, r.severity, _resource(r), r.reason or r.description]
                for r in chosen
            ],
        )
    compliant: dict[tuple[str, str], list[Row]] = {}
    for row in stage.rows:
        if row.status == "compliant":
            compliant.setdefault((row.pack, row.rule), []).append(row)
    lines += ["", "## Compliant (rule x resources)", ""]
    lines += (
        _table(
            ["Pack", "Rule", "Severity", "Fails when", "Resources"],
            [
                [
                    pack,
                    rule + (" (may-be-n/a)" if rows[0].note else ""),
                    rows[0].severity,
                    rows[0].description,
                    "<br>".join(_resource(r) for r in rows),
                ]
                for (pack, rule), rows in sorted(compliant.items())
            ],
        )
        if compliant
        else ["None."]
    )
    lines += [
        "",
        "## checkov skips",
        "",
        "Declared on the resource (`Metadata.checkov.skip`, through "
        "`l3_constructs.compliance.skip_checkov`), each with its reason.",
        "",
    ]
    lines += (
        _table(
            ["Check", "Resource", "Type", "Reason"],
            [[s.check_id, _resource(s), s.resource_type, s.reason] for s in stage.checkov_skips],
        )
        if stage.checkov_skips
        else ["None."]
    )
    return "\n".join(lines) + "\n"


def render_json(stage: StageReport, sources: dict[str, str]) -> str:
    document = {
        "stage": stage.stage,
        "sources": sources,
        "summary": stage.summary(),
        "rows": [asdict(r) for r in stage.rows],
        "checkov_skips": [asdict(s) for s in stage.checkov_skips],
    }
    return json.dumps(document, indent=2) + "\n"


def render_csv(stage: StageReport) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(asdict(r) for r in stage.rows)
    return buffer.getvalue()


def render_index(stages: dict[str, StageReport], sources: dict[str, str]) -> str:
    lines = [
        "# Compliance reports",
        "",
        f"From `{sources['validation_report']}` (cdk-nag {sources['cdk_nag']}). "
        "Per stage: Markdown, JSON and CSV.",
        "",
        *_table(
            ["Stage", *STATUSES, "checkov skips", "Files"],
            [
                [
                    name,
                    *(str(stage.summary()["total"][s]) for s in STATUSES),
                    str(len(stage.checkov_skips)),
                    f"[md]({name}.md) [json]({name}.json) [csv]({name}.csv)",
                ]
                for name, stage in stages.items()
            ],
        ),
    ]
    return "\n".join(lines) + "\n"


# --- command line ---------------------------------------------------------------------------


def failures(report: dict[str, Any], stages: dict[str, StageReport]) -> list[str]:
    """Why the compliance gate fails: unacknowledged findings, plugins that did not pass."""
    problems = [
        f"{r.stage}: {r.pack} {r.finding} ({r.severity}) at {r.construct_path}: {r.description}"
        for stage in stages.values()
        for r in stage.rows
        if r.status == "violation"
    ]
    problems += [
        f"plugin {p['pluginName']} concluded {p.get('conclusion')!r}"
        for p in report.get("pluginReports", [])
        if p.get("conclusion") != "success"
    ]
    return problems


def write_reports(out: Path, stages: dict[str, StageReport], sources: dict[str, str]) -> None:
    out.mkdir(parents=True, exist_ok=True)
    index = out / "index.json"
    previous = _load(index).get("stages", []) if index.is_file() else []
    for name in set(previous) - set(stages):  # a stage that is gone: drop its old reports
        for suffix in (".md", ".json", ".csv"):
            (out / f"{name}{suffix}").unlink(missing_ok=True)
    for name, stage in stages.items():
        (out / f"{name}.md").write_text(render_markdown(stage, sources), encoding="utf-8")
        (out / f"{name}.json").write_text(render_json(stage, sources), encoding="utf-8")
        (out / f"{name}.csv").write_text(render_csv(stage), encoding="utf-8")
    (out / "index.md").write_text(render_index(stages, sources), encoding="utf-8")
    summary = {name: stage.summary()["total"] for name, stage in stages.items()}
    index.write_text(json.dumps({"stages": summary, "sources": sources}, indent=2) + "\n")


def run(assembly_dir: Path, out: Path, catalogue: Catalogue | None = None) -> int:
    report_path = assembly_dir / REPORT_FILE
    if not (assembly_dir / "manifest.json").is_file() or not report_path.is_file():
        print(
            f"compliance: no cloud assembly with {REPORT_FILE} in {assembly_dir}/: "
            "run `make synth` first",
            file=sys.stderr,
        )
        return 2
    catalogue = catalogue or installed_catalogue()
    report = _load(report_path)
    stages = build_reports(read_assembly(assembly_dir), report, catalogue)
    sources = {
        "validation_report": str(report_path),
        "cdk_nag": catalogue.version,
        "compliant_basis": COMPLIANT_BASIS.format(version=catalogue.version)
        + (f" Rules not read: {', '.join(catalogue.unread)}." if catalogue.unread else ""),
    }
    write_reports(out, stages, sources)
    problems = failures(report, stages)
    totals = Counter({s: sum(st.summary()["total"][s] for st in stages.values()) for s in STATUSES})
    print(
        f"compliance: {len(stages)} stage reports in {out}/ "
        + ", ".join(f"{totals[s]} {s}" for s in STATUSES)
    )
    if problems:
        print(f"compliance: FAILED, {len(problems)} unacknowledged:", file=sys.stderr)
        for problem in problems:
            print(f"  {problem}", file=sys.stderr)
        return 1
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m scripts.compliance", description=__doc__)
    parser.add_argument("--assembly", type=Path, default=Path("cdk.out"))
    parser.add_argument("--out", type=Path, help="default: <assembly>/compliance")
    args = parser.parse_args(argv)
    return run(args.assembly, args.out or args.assembly / "compliance")


if __name__ == "__main__":
    sys.exit(main())
