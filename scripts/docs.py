"""Regenerate README.md's generated parts from a synthesized assembly (`make docs`).

    python -m scripts.docs [--assembly cdk.out] [--readme README.md] [--stage Prod]

Each part sits between `<!-- BEGIN GENERATED <name> (make docs) -->` and
`<!-- END GENERATED <name> -->`: `prod-diagram` (the Mermaid architecture diagram of the
stage) and `prod-cost` (its monthly cost summary). `tests/test_docs.py` fails when README's
copies differ from what the session's synth generates.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

from architecture_diagram.graph import build
from architecture_diagram.mermaid import render
from cost_estimate.assembly import AssemblyError, read_assembly
from cost_estimate.estimate import EstimateError, estimate_stage
from cost_estimate.report import breakdown, headline

README = Path(__file__).resolve().parent.parent / "README.md"
STAGE = "Prod"
_BLOCK_RE = re.compile(
    r"(<!-- BEGIN GENERATED (?P<name>[a-z-]+) \(make docs\) -->\n)(?P<body>.*?)"
    r"(<!-- END GENERATED (?P=name) -->)",
    re.DOTALL,
)


class DocsError(Exception):
    """README or the assembly is not as expected (one line)."""


def generated_blocks(assembly: Path, stage: str = STAGE) -> dict[str, str]:
    """Block name -> its Markdown, from the assembly's `stage`."""
    found = {s.name: s for s in read_assembly(assembly)}
    if stage not in found:
        raise DocsError(f"{assembly} has no stage {stage!r}: make synth")
    estimate = estimate_stage(found[stage])
    lower = stage.lower()
    return {
        f"{lower}-diagram": f"```mermaid\n{render(build(found[stage]))}```\n",
        f"{lower}-cost": "\n".join(
            [
                f"{stage} at its assumptions (`cost` in `config/{lower}.yaml`), list prices of "
                f"{estimate.prices_as_of}; the whole report: `cdk.out/cost/{stage}.md`.",
                "",
                *headline(estimate),
                "",
                *breakdown(estimate, top=10),
            ]
        )
        + "\n",
    }


def current_blocks(text: str) -> dict[str, str]:
    return {m.group("name"): m.group("body") for m in _BLOCK_RE.finditer(text)}


def update(text: str, blocks: Mapping[str, str]) -> str:
    """`text` with each generated block replaced; every block must have its markers."""
    missing = sorted(set(blocks) - set(current_blocks(text)))
    if missing:
        raise DocsError(f"README has no markers for {', '.join(missing)}")

    def replace(match: re.Match[str]) -> str:
        body = blocks.get(match.group("name"), match.group("body"))
        return f"{match.group(1)}{body}{match.group(4)}"

    return _BLOCK_RE.sub(replace, text)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m scripts.docs", description=__doc__)
    parser.add_argument("--assembly", type=Path, default=Path("cdk.out"))
    parser.add_argument("--readme", type=Path, default=README)
    parser.add_argument("--stage", default=STAGE)
    args = parser.parse_args(argv)
    try:
        blocks = generated_blocks(args.assembly, args.stage)
        text = args.readme.read_text(encoding="utf-8")
        updated = update(text, blocks)
    except (AssemblyError, EstimateError, DocsError) as exc:
        print(f"docs: {exc}", file=sys.stderr)
        return 2
    if updated != text:
        args.readme.write_text(updated, encoding="utf-8")
        print(f"updated {args.readme} ({', '.join(sorted(blocks))})")
    else:
        print(f"{args.readme} is current")
    return 0


if __name__ == "__main__":
    sys.exit(main())
