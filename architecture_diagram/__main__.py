"""`python -m architecture_diagram [--assembly cdk.out] [--out cdk.out/diagrams]`: writes
`<Stage>.md` (a Mermaid diagram) for every stage. Exit 2 when the assembly cannot be read."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from architecture_diagram.graph import build
from architecture_diagram.mermaid import render_markdown
from cost_estimate.assembly import AssemblyError, read_assembly


def write_diagrams(assembly: Path, out: Path) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for stage in read_assembly(assembly):
        path = out / f"{stage.name}.md"
        path.write_text(render_markdown(build(stage)), encoding="utf-8")
        written.append(path)
    return written


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m architecture_diagram", description=__doc__)
    parser.add_argument("--assembly", type=Path, default=Path("cdk.out"))
    parser.add_argument("--out", type=Path, default=None, help="default: <assembly>/diagrams")
    args = parser.parse_args(argv)
    out = args.out or args.assembly / "diagrams"
    try:
        written = write_diagrams(args.assembly, out)
    except AssemblyError as exc:
        print(f"diagrams: {exc}", file=sys.stderr)
        return 2
    print(f"{len(written)} diagrams in {out}/")
    return 0


if __name__ == "__main__":
    sys.exit(main())
