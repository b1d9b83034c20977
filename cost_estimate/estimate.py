"""One stage's estimate: every resource through its rule, the gaps and free types listed."""

from __future__ import annotations

from collections import Counter
from typing import Any

from pydantic import ValidationError

from config.cost import COST_METADATA_TYPE, CostAssumptions
from cost_estimate.assembly import Stage
from cost_estimate.catalogue import RULES, free_reason
from cost_estimate.context import (
    NOT_INCLUDED,
    RULES_OF_THUMB,
    Context,
    NoChargeError,
    UnpriceableError,
)
from cost_estimate.model import Estimate, FreeType, Gap, LineItem
from cost_estimate.prices import MissingPriceError, RegionNotPricedError
from cost_estimate.schedules import ScheduleError

NO_RULE = "no pricing rule for this type"


class EstimateError(Exception):
    """A stage that cannot be estimated at all (one line, naming the stage)."""


def cost_metadata(stage: Stage) -> dict[str, Any]:
    found = stage.metadata_of_type(COST_METADATA_TYPE)
    if not found or not isinstance(found[0], dict):
        raise EstimateError(
            f"stage {stage.name}: the assembly carries no {COST_METADATA_TYPE!r} metadata "
            "(synthesize it with this app: make synth)"
        )
    data: dict[str, Any] = found[0]
    return data


def budget_usd(stage: Stage, metadata: dict[str, Any]) -> float | None:
    """The budget the stage deploys (its AWS::Budgets::Budget), else the configured one."""
    for budget in stage.of_type("AWS::Budgets::Budget"):
        limit = (budget.properties.get("Budget") or {}).get("BudgetLimit") or {}
        if "Amount" in limit:
            return float(limit["Amount"])
    value = metadata.get("budget_usd")
    return float(value) if value is not None else None


def estimate_stage(stage: Stage) -> Estimate:
    metadata = cost_metadata(stage)
    try:
        assumptions = CostAssumptions.model_validate(metadata.get("assumptions", {}))
    except ValidationError as exc:
        raise EstimateError(
            f"stage {stage.name}: bad cost assumptions in the assembly: {exc}"
        ) from None
    home = str(metadata.get("region", ""))
    context = Context(stage=stage, assumptions=assumptions, home_region=home)
    regions = sorted({home, *(s.region for s in stage.stacks.values())})
    try:
        tables = [context.table(region) for region in regions]
    except RegionNotPricedError as exc:
        raise EstimateError(f"stage {stage.name}: {exc}") from None

    items: list[LineItem] = []
    gaps: list[Gap] = []
    free: Counter[tuple[str, str]] = Counter()
    for res in stage.resources():
        rule = RULES.get(res.type)
        if rule is None:
            reason = free_reason(res.type)
            if reason is None:
                gaps.append(Context.gap(res, NO_RULE))
            else:
                free[(res.type, reason)] += 1
            continue
        try:
            priced = rule(res, context)
        except NoChargeError as exc:
            free[(res.type, exc.reason)] += 1
            continue
        except (UnpriceableError, MissingPriceError, ScheduleError) as exc:
            gaps.append(Context.gap(res, str(exc)))
            continue
        items.extend(e for e in priced if isinstance(e, LineItem))
        gaps.extend(e for e in priced if isinstance(e, Gap))

    return Estimate(
        stage=stage.name,
        region=home,
        prices_as_of=min(t.as_of for t in tables).isoformat(),
        price_files=tuple(f"cost_estimate/prices/{t.path.name}" for t in tables),
        assumptions=assumptions.model_dump(mode="json"),
        rules_of_thumb=RULES_OF_THUMB,
        budget_usd=budget_usd(stage, metadata),
        items=tuple(items),
        gaps=tuple(gaps),
        free=tuple(
            FreeType(t, n, reason) for (t, reason), n in sorted(free.items(), key=lambda x: x[0])
        ),
        not_included=NOT_INCLUDED,
    )
