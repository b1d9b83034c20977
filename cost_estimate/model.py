"""What an estimate is made of: line items, gaps ("not priced"), free resources, totals."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

Kind = Literal["fixed", "usage"]
#: Fixed: accrues whatever the traffic (hours, provisioned storage, keys, schedules).
#: Usage: driven by `cost.assumptions` (requests, data, logs, builds, ...).
KINDS: tuple[Kind, ...] = ("fixed", "usage")

#: Areas of the chart, in a stable order.
CATEGORIES = (
    "Network",
    "Load balancer",
    "Compute",
    "Database",
    "Edge",
    "Monitoring",
    "Security",
    "Delivery",
    "Storage",
    "Messaging",
)


@dataclass(frozen=True)
class LineItem:
    """`quantity` x `unit_usd` a month for one thing one resource is billed for."""

    stack: str
    logical_id: str
    resource_type: str
    category: str
    item: str
    quantity: float
    unit: str
    unit_usd: float
    kind: Kind
    #: Where the price comes from: key in the table, the table's region, the public page.
    price_key: str
    price_region: str
    source: str
    #: How the quantity was found (a template property, an assumption, a rule of thumb).
    basis: str = ""

    @property
    def monthly_usd(self) -> float:
        return self.quantity * self.unit_usd

    @property
    def resource(self) -> str:
        return f"{self.stack}/{self.logical_id}"

    def as_json(self) -> dict[str, Any]:
        return {
            "stack": self.stack,
            "logical_id": self.logical_id,
            "type": self.resource_type,
            "category": self.category,
            "item": self.item,
            "quantity": round(self.quantity, 6),
            "unit": self.unit,
            "unit_usd": self.unit_usd,
            "monthly_usd": round(self.monthly_usd, 4),
            "kind": self.kind,
            "basis": self.basis,
            "price": {"key": self.price_key, "region": self.price_region, "source": self.source},
        }


@dataclass(frozen=True)
class Gap:
    """A resource, or part of one, the estimator cannot price: listed, never counted as 0."""

    stack: str
    logical_id: str
    resource_type: str
    reason: str

    def as_json(self) -> dict[str, str]:
        return {
            "stack": self.stack,
            "logical_id": self.logical_id,
            "type": self.resource_type,
            "reason": self.reason,
        }


@dataclass(frozen=True)
class FreeType:
    """Resources of one type that cost nothing of their own, and why."""

    resource_type: str
    count: int
    reason: str

    def as_json(self) -> dict[str, Any]:
        return {"type": self.resource_type, "count": self.count, "reason": self.reason}


@dataclass(frozen=True)
class ResourceTotal:
    stack: str
    logical_id: str
    resource_type: str
    fixed_usd: float
    usage_usd: float

    @property
    def monthly_usd(self) -> float:
        return self.fixed_usd + self.usage_usd


@dataclass(frozen=True)
class Estimate:
    """One stage's monthly estimate."""

    stage: str
    region: str
    prices_as_of: str
    price_files: tuple[str, ...]
    assumptions: Mapping[str, Any]
    #: Rules of thumb the estimator itself uses (printed with the assumptions).
    rules_of_thumb: Mapping[str, str]
    budget_usd: float | None
    items: Sequence[LineItem]
    gaps: Sequence[Gap]
    #: Types that cost nothing of their own, with the reason.
    free: Sequence[FreeType]
    not_included: Sequence[str] = field(default_factory=tuple)

    @property
    def total_usd(self) -> float:
        return sum(i.monthly_usd for i in self.items)

    def kind_usd(self, kind: Kind) -> float:
        return sum(i.monthly_usd for i in self.items if i.kind == kind)

    @property
    def over_budget(self) -> bool:
        return self.budget_usd is not None and self.total_usd > self.budget_usd

    def by_resource(self) -> list[ResourceTotal]:
        """One row per resource, the dearest first (ties by stack and id)."""
        sums: dict[tuple[str, str, str], list[float]] = {}
        for item in self.items:
            key = (item.stack, item.logical_id, item.resource_type)
            row = sums.setdefault(key, [0.0, 0.0])
            row[0 if item.kind == "fixed" else 1] += item.monthly_usd
        rows = [ResourceTotal(s, i, t, f, u) for (s, i, t), (f, u) in sums.items()]
        return sorted(rows, key=lambda r: (-r.monthly_usd, r.stack, r.logical_id))

    def by_category(self) -> dict[str, float]:
        totals = dict.fromkeys(CATEGORIES, 0.0)
        for item in self.items:
            totals[item.category] = totals.get(item.category, 0.0) + item.monthly_usd
        return {c: v for c, v in totals.items() if v > 0}

    def sorted_items(self) -> list[LineItem]:
        return sorted(self.items, key=lambda i: (-i.monthly_usd, i.stack, i.logical_id, i.item))
