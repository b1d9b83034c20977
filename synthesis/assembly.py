"""Merge cloud assemblies that each hold some stages of the app into the app's one assembly.

Each worker writes a complete cloud assembly (the documented `aws-cdk.cloud-assembly-schema`
format) of its stages: a nested assembly per stage (`assembly-<Stage>/`, self-contained
apart from the `asset.*` directories beside it), and at the top `manifest.json`, `tree.json`,
`validation-report.json` and `cdk.out`. The stages share nothing else, so the merged assembly
is what one process building every stage writes:

- `manifest.json`: the stages' `cdk:cloud-assembly` artifacts in the app's stage order, then
  the other artifacts (the tree, the feature-flag report), which must be the same in every
  part; context look-ups (`missing`) joined.
- `tree.json`: the App node with every stage's subtree (a part's tree split over
  `trees-N.json` files is read back whole).
- `validation-report.json`: one report per plugin; its findings and acknowledgments are the
  parts' together (each part holds only its own stages' findings), `failure` if any failed.
- `asset.*`: content-addressed, so one copy of each.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

MANIFEST = "manifest.json"
REPORT = "validation-report.json"
VERSION_FILE = "cdk.out"
NESTED_ASSEMBLY = "cdk:cloud-assembly"
TREE_ARTIFACT = "cdk:tree"


class AssemblyMergeError(Exception):
    """The parts disagree where one app's assembly cannot (a bug, not a user error)."""


@dataclass(frozen=True)
class _Part:
    directory: Path
    manifest: dict[str, Any]

    @property
    def stages(self) -> Iterator[tuple[str, dict[str, Any]]]:
        for artifact_id, artifact in self.manifest["artifacts"].items():
            if artifact["type"] == NESTED_ASSEMBLY:
                yield artifact_id, artifact


def _load(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def _write(path: Path, data: Any, *, indent: int | None = 2) -> None:
    # CDK's own layout (manifest and report indented, the tree compact) keeps the merged files
    # diffable against a one-process synth; written to a temporary name first so a reader
    # never sees half a file.
    tmp = path.with_name(f".{path.name}.tmp")
    separators = None if indent else (",", ":")
    tmp.write_text(json.dumps(data, indent=indent, separators=separators), encoding="utf-8")
    tmp.replace(path)


def merge_reports(parts: Sequence[Path], outdir: Path) -> None:
    """`validation-report.json` of every part that wrote one, merged into `outdir`: also
    after a failed synth, where the report says what failed."""
    reports = [_load(p / REPORT) for p in parts if (p / REPORT).is_file()]
    if not reports:
        return
    plugins: dict[str, dict[str, Any]] = {}
    for report in reports:
        for plugin in report.get("pluginReports", []):
            name = plugin["pluginName"]
            if name not in plugins:
                plugins[name] = {**plugin, "violations": list(plugin.get("violations", []))}
                if "suppressedViolations" in plugin:
                    plugins[name]["suppressedViolations"] = list(plugin["suppressedViolations"])
                continue
            target = plugins[name]
            target["violations"] += plugin.get("violations", [])
            if "suppressedViolations" in plugin:
                target["suppressedViolations"] = [
                    *target.get("suppressedViolations", []),
                    *plugin["suppressedViolations"],
                ]
            if plugin.get("conclusion") != "success":
                target["conclusion"] = plugin.get("conclusion")
    merged = {**reports[0], "pluginReports": list(plugins.values())}
    outdir.mkdir(parents=True, exist_ok=True)
    _write(outdir / REPORT, merged)


def _inline_tree(node: dict[str, Any], directory: Path) -> dict[str, Any]:
    """`node` with subtrees CDK wrote to `trees-N.json` (very large apps) read back in."""
    if "fileName" in node and "treeId" in node:
        node = _load(directory / node["fileName"])["forest"][node["treeId"]]
    children = node.get("children")
    if not children:
        return node
    return {**node, "children": {k: _inline_tree(v, directory) for k, v in children.items()}}


def _tree_file(manifest: dict[str, Any]) -> str | None:
    for artifact in manifest["artifacts"].values():
        if artifact["type"] == TREE_ARTIFACT:
            file: str = artifact["properties"]["file"]
            return file
    return None


def _merge_trees(parts: Sequence[_Part], stage_order: Sequence[str]) -> dict[str, Any] | None:
    """The tree file: the first part's, its App node holding every part's stages."""
    files = []
    for part in parts:
        file = _tree_file(part.manifest)
        if file is not None:
            data = _load(part.directory / file)
            files.append({**data, "tree": _inline_tree(data["tree"], part.directory)})
    if not files:
        return None
    trees = [f["tree"] for f in files]
    stages = {n: c for t in trees for n, c in t.get("children", {}).items() if n in stage_order}
    children = {name: stages[name] for name in stage_order if name in stages}
    for tree in trees:  # the App's other children (the Tree construct): one of each
        for name, child in tree.get("children", {}).items():
            children.setdefault(name, child)
    return {**files[0], "tree": {**trees[0], "children": children}}


def _move(source: Path, target: Path, *, replace: bool) -> None:
    if target.exists() or target.is_symlink():
        if not replace:
            return
        if target.is_dir() and not target.is_symlink():
            shutil.rmtree(target)
        else:
            target.unlink()
    source.replace(target)


def _merge_manifests(parts: Sequence[_Part], stage_order: Sequence[str]) -> dict[str, Any]:
    stage_artifacts: dict[str, tuple[str, dict[str, Any]]] = {}
    for part in parts:
        for artifact_id, artifact in part.stages:
            name = artifact["properties"].get("displayName", artifact_id)
            stage_artifacts[name] = (artifact_id, artifact)
    absent = [s for s in stage_order if s not in stage_artifacts]
    if absent:
        raise AssemblyMergeError(f"no worker wrote the stages {absent}")
    artifacts: dict[str, Any] = dict(stage_artifacts[s] for s in stage_order)
    for part in parts:
        for artifact_id, artifact in part.manifest["artifacts"].items():
            if artifact["type"] == NESTED_ASSEMBLY:
                continue
            if artifacts.setdefault(artifact_id, artifact) != artifact:
                raise AssemblyMergeError(f"workers wrote different artifacts {artifact_id!r}")
    manifest: dict[str, Any] = {}
    for part in parts:
        for key, value in part.manifest.items():
            if key in ("artifacts", "missing"):
                continue
            if manifest.setdefault(key, value) != value:
                raise AssemblyMergeError(f"workers wrote different manifest {key!r}")
    manifest["artifacts"] = artifacts
    missing = [m for part in parts for m in part.manifest.get("missing", [])]
    if missing:
        manifest["missing"] = list({json.dumps(m, sort_keys=True): m for m in missing}.values())
    return manifest


def merge_assemblies(parts: Sequence[Path], outdir: Path, stage_order: Sequence[str]) -> None:
    """Merge the cloud assemblies in `parts` (each a complete assembly of some stages) into
    `outdir`, stages in `stage_order` (display names). The parts are consumed (moved)."""
    loaded = [_Part(p, _load(p / MANIFEST)) for p in parts]
    manifest = _merge_manifests(loaded, stage_order)
    tree = _merge_trees(loaded, stage_order)
    outdir.mkdir(parents=True, exist_ok=True)
    merge_reports(parts, outdir)
    tree_file = _tree_file(loaded[0].manifest)
    skipped = {MANIFEST, REPORT, VERSION_FILE, tree_file}
    for part in loaded:
        stage_dirs = {a["properties"]["directoryName"] for _, a in part.stages}
        for entry in sorted(part.directory.iterdir()):
            if entry.name in skipped or entry.name.startswith("trees-"):
                continue
            # A stage's nested assembly replaces an older one; anything else (the
            # content-addressed asset.* directories) is the same in every part: one copy.
            _move(entry, outdir / entry.name, replace=entry.name in stage_dirs)
    if tree is not None and tree_file is not None:
        _write(outdir / tree_file, tree, indent=None)
    shutil.copyfile(loaded[0].directory / VERSION_FILE, outdir / VERSION_FILE)
    # The manifest last: the CDK CLI reads the assembly through it.
    _write(outdir / MANIFEST, manifest)
