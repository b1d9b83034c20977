"""`python -m cost_estimate [--assembly cdk.out] [--out cdk.out/cost] [--fail-over-budget]`

Writes `<Stage>.md` and `<Stage>.json` for every stage of the assembly and prints one line
a stage (total, budget, OVER BUDGET). Exit codes: 0 written (over-budget stages are marked,
not failed, unless `--fail-over-budget`); 1 a stage over its budget with `--fail-over-budget`;
2 the assembly cannot be read or a stage cannot be estimated (e.g. a region without prices).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from cost_estimate.assembly import AssemblyError, read_assembly
from cost_estimate.estimate import EstimateError, estimate_stage
from cost_estimate.model import Estimate
from cost_estimate.prices import PriceTableError
from cost_estimate.report import money, render_json, render_markdown


def write_reports(assembly: Path, out: Path) -> list[Estimate]:
    """Estimate every stage of `assembly` and write its reports into `out`."""
    estimates = [estimate_stage(stage) for stage in read_assembly(assembly)]
    out.mkdir(parents=True, exist_ok=True)
    for estimate in estimates:
        (out / f"{estimate.stage}.md").write_text(render_markdown(estimate), encoding="utf-8")
        (out / f"{estimate.stage}.json").write_text(render_json(estimate), encoding="utf-8")
    return estimates


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m cost_estimate", description=__doc__)
    parser.add_argument("--assembly", type=Path, default=Path("cdk.out"))
    parser.add_argument("--out", type=Path, default=None, help="default: <assembly>/cost")
    parser.add_argument("--fail-over-budget", action="store_true")
    args = parser.parse_args(argv)
    out = args.out or args.assembly / "cost"
    try:
        estimates = write_reports(args.assembly, out)
    except (AssemblyError, EstimateError, PriceTableError) as exc:
        print(f"cost: {exc}", file=sys.stderr)
        return 2
    for e in estimates:
        budget = f"budget {money(e.budget_usd)}" if e.budget_usd is not None else "no budget"
        mark = "  OVER BUDGET" if e.over_budget else ""
        gaps = f"  ({len(e.gaps)} not priced)" if e.gaps else ""
        print(f"{e.stage:<12} {money(e.total_usd):>12} a month, {budget}{mark}{gaps}")
    print(f"reports in {out}/")
    over = [e.stage for e in estimates if e.over_budget]
    return 1 if over and args.fail_over_budget else 0


if __name__ == "__main__":
    sys.exit(main())
