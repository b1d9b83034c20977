"""Read a synthesized cloud assembly (`cdk.out`): its stages, their stacks and resources.

Each stage is a nested assembly `assembly-<Stage>/` whose manifest lists the stack artifacts
(template file, `aws://account/region`, display name `<Stage>/<Stack>`, metadata inline or in
an additional metadata file). Also used by `architecture_diagram`.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


class AssemblyError(Exception):
    """The directory is not a cloud assembly this module can read."""


@dataclass(frozen=True)
class Resource:
    """One resource of one template, with what a reader needs to follow its references."""

    stack: str
    logical_id: str
    type: str
    properties: Mapping[str, Any]
    region: str
    #: Construct path (`/Prod/Compute/web/Service/Service`), when the metadata records it.
    path: str | None = None

    @property
    def key(self) -> tuple[str, str]:
        return (self.stack, self.logical_id)


@dataclass(frozen=True)
class Stack:
    stage: str
    name: str
    stack_name: str
    account: str
    region: str
    template: Mapping[str, Any]
    metadata: Mapping[str, list[Mapping[str, Any]]]
    resources: Mapping[str, Resource] = field(default_factory=dict)

    def metadata_of_type(self, kind: str) -> list[Any]:
        return [e.get("data") for entries in self.metadata.values() for e in entries
                if e.get("type") == kind]  # fmt: skip


@dataclass(frozen=True)
class Stage:
    name: str
    stacks: Mapping[str, Stack]

    def resources(self) -> Iterator[Resource]:
        for stack in self.stacks.values():
            yield from stack.resources.values()

    def resource(self, stack: str, logical_id: str) -> Resource | None:
        found = self.stacks.get(stack)
        return found.resources.get(logical_id) if found else None

    def of_type(self, *types: str) -> list[Resource]:
        return [r for r in self.resources() if r.type in types]

    def metadata_of_type(self, kind: str) -> list[Any]:
        return [d for s in self.stacks.values() for d in s.metadata_of_type(kind)]


def read_assembly(outdir: Path) -> tuple[Stage, ...]:
    """Every stage (`assembly-*`) of the cloud assembly in `outdir`, by name."""
    if not (outdir / "manifest.json").is_file():
        raise AssemblyError(f"{outdir} is not a cloud assembly (no manifest.json): make synth")
    stages = [read_stage(d) for d in sorted(outdir.glob("assembly-*")) if d.is_dir()]
    if not stages:
        raise AssemblyError(f"{outdir} holds no stage (assembly-*): make synth")
    return tuple(stages)


def read_stage(stage_dir: Path) -> Stage:
    name = stage_dir.name.removeprefix("assembly-")
    manifest = _json(stage_dir / "manifest.json")
    stacks: dict[str, Stack] = {}
    for artifact in manifest.get("artifacts", {}).values():
        if artifact.get("type") != "aws:cloudformation:stack":
            continue
        display = str(artifact.get("displayName", ""))
        stack_id = display.split("/", 1)[1] if "/" in display else display
        properties = artifact["properties"]
        _, _, environment = str(artifact["environment"]).partition("aws://")
        account, _, region = environment.partition("/")
        metadata: dict[str, list[Mapping[str, Any]]] = dict(artifact.get("metadata", {}))
        extra = artifact.get("additionalMetadataFile")
        if extra:
            for path, entries in _json(stage_dir / extra).items():
                metadata.setdefault(path, []).extend(entries)
        template = _json(stage_dir / properties["templateFile"])
        paths = {
            str(e["data"]): path
            for path, entries in metadata.items()
            for e in entries
            if e.get("type") == "aws:cdk:logicalId"
        }
        resources = {
            logical_id: Resource(
                stack=stack_id,
                logical_id=logical_id,
                type=str(body.get("Type", "")),
                properties=body.get("Properties") or {},
                region=region,
                path=paths.get(logical_id),
            )
            for logical_id, body in template.get("Resources", {}).items()
        }
        stacks[stack_id] = Stack(
            stage=name,
            name=stack_id,
            stack_name=str(properties.get("stackName", stack_id)),
            account=account,
            region=region,
            template=template,
            metadata=metadata,
            resources=resources,
        )
    return Stage(name=name, stacks=stacks)


def _json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise AssemblyError(f"cannot read {path}: {exc.strerror}") from None
    except json.JSONDecodeError as exc:
        raise AssemblyError(f"{path} is not JSON: {exc}") from None


# --- references inside a template -------------------------------------------------------------


def refs(value: Any) -> Iterator[str]:
    """Every logical id `value` refers to (`Ref`, `Fn::GetAtt`, `${Id}` in `Fn::Sub`)."""
    if isinstance(value, Mapping):
        for key, inner in value.items():
            if key == "Ref" and isinstance(inner, str):
                yield inner
            elif key == "Fn::GetAtt":
                target = inner[0] if isinstance(inner, list) else str(inner).split(".", 1)[0]
                yield str(target)
            elif key == "Fn::Sub":
                text = inner[0] if isinstance(inner, list) else inner
                if isinstance(text, str):
                    yield from _sub_refs(text)
                yield from refs(inner)
            else:
                yield from refs(inner)
    elif isinstance(value, list):
        for inner in value:
            yield from refs(inner)


def _sub_refs(text: str) -> Iterator[str]:
    start = text.find("${")
    while start >= 0:
        end = text.find("}", start)
        if end < 0:
            return
        name = text[start + 2 : end].split(".", 1)[0]
        if name and not name.startswith(("AWS::", "!")):
            yield name
        start = text.find("${", end)


def strings(value: Any) -> Iterator[str]:
    """Every literal string inside `value` (keys excluded)."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, Mapping):
        for inner in value.values():
            yield from strings(inner)
    elif isinstance(value, list):
        for inner in value:
            yield from strings(inner)


def task_definitions_in(stage: Stage, stack: str, value: Any) -> list[Resource]:
    """Task definitions of `stack` that `value` names: by reference, or by family (a state
    machine may run "the latest revision of the family")."""
    ids, text = set(refs(value)), "".join(strings(value))
    found = []
    for res in stage.stacks[stack].resources.values():
        if res.type != "AWS::ECS::TaskDefinition":
            continue
        family = res.properties.get("Family")
        if res.logical_id in ids or (isinstance(family, str) and family and family in text):
            found.append(res)
    return found


def ref_id(value: Any) -> str | None:
    """The logical id of a bare `Ref` / `Fn::GetAtt`, else None."""
    if isinstance(value, Mapping) and len(value) == 1:
        found = list(refs(value))
        if len(found) == 1 and ("Ref" in value or "Fn::GetAtt" in value):
            return found[0]
    return None
