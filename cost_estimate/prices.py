"""The checked-in unit-price tables, one YAML file per region (`prices/<region>.yaml`).

Each file holds public on-demand list prices in USD as of its `as_of` date; each price has
its unit and the public page it comes from. A price is either one number (`usd`) or a table
of numbers by a key such as the instance class (`usd_by`, one or two levels deep). Asking
for a price the table does not have raises `MissingPriceError`, which the estimator reports as
"not priced": never a silent zero.
"""

from __future__ import annotations

import datetime
import functools
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

PRICES_DIR = Path(__file__).resolve().parent / "prices"


class PriceTableError(Exception):
    """A price file that does not follow the format (names the file and the key)."""


class RegionNotPricedError(Exception):
    """No price table for a region the assembly uses."""


class MissingPriceError(Exception):
    """The table has no price for what a rule asked (e.g. an instance class)."""


@dataclass(frozen=True)
class Price:
    """One price: `usd`, or `usd_by` (key -> usd, or key -> key -> usd)."""

    key: str
    unit: str
    source: str
    usd: float | None = None
    usd_by: Mapping[str, Any] | None = None


@dataclass(frozen=True)
class PriceTable:
    region: str
    name: str
    as_of: datetime.date
    currency: str
    path: Path
    prices: Mapping[str, Price]

    def price(self, key: str) -> Price:
        try:
            return self.prices[key]
        except KeyError:
            raise MissingPriceError(f"{self.path.name} has no price {key!r}") from None

    def usd(self, key: str, *by: str) -> float:
        """The price `key`, looked up by `by` (e.g. the instance class) where it is a table."""
        price = self.price(key)
        if not by:
            if price.usd is None:
                raise MissingPriceError(f"{key} in {self.path.name} is a table; say which entry")
            return price.usd
        node: Any = price.usd_by
        for part in by:
            if not isinstance(node, Mapping) or part not in node:
                shown = " / ".join(by)
                raise MissingPriceError(f"{self.path.name} has no {key} price for {shown}")
            node = node[part]
        if not isinstance(node, int | float):
            raise MissingPriceError(f"{key} {' / '.join(by)} in {self.path.name} is not one price")
        return float(node)


@functools.cache
def priced_regions() -> tuple[str, ...]:
    """The regions with a price table, sorted."""
    return tuple(sorted(p.stem for p in PRICES_DIR.glob("*.yaml")))


def load_prices(region: str, directory: Path = PRICES_DIR) -> PriceTable:
    """The price table of `region`; `RegionNotPricedError` if there is none."""
    path = directory / f"{region}.yaml"
    if not path.is_file():
        regions = ", ".join(sorted(p.stem for p in directory.glob("*.yaml")))
        raise RegionNotPricedError(
            f"region {region!r} has no price table ({path.name} in {directory}; priced: "
            f"{regions}): add one (README 'Cost')"
        )
    return _load(path)


@functools.cache
def _load(path: Path) -> PriceTable:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    where = path.name
    if not isinstance(data, dict):
        raise PriceTableError(f"{where}: must hold a mapping")
    for field in ("region", "name", "as_of", "currency", "prices"):
        if field not in data:
            raise PriceTableError(f"{where}: {field} is missing")
    if data["region"] != path.stem:
        raise PriceTableError(f"{where}: region {data['region']!r} is not the file's name")
    if data["currency"] != "USD":
        raise PriceTableError(f"{where}: currency must be USD")
    try:
        as_of = datetime.date.fromisoformat(str(data["as_of"]))
    except ValueError:
        raise PriceTableError(f"{where}: as_of {data['as_of']!r} is not a date") from None
    prices: dict[str, Price] = {}
    for service, entries in data["prices"].items():
        if not isinstance(entries, dict):
            raise PriceTableError(f"{where}: prices.{service} must be a mapping")
        for name, entry in entries.items():
            key = f"{service}.{name}"
            prices[key] = _price(key, entry, where)
    return PriceTable(
        region=data["region"],
        name=str(data["name"]),
        as_of=as_of,
        currency="USD",
        path=path,
        prices=prices,
    )


def _price(key: str, entry: Any, where: str) -> Price:
    if not isinstance(entry, dict):
        raise PriceTableError(f"{where}: {key} must be a mapping")
    unit, source = entry.get("unit"), entry.get("source")
    if not isinstance(unit, str) or not unit:
        raise PriceTableError(f"{where}: {key}.unit is missing")
    if not isinstance(source, str) or not source.startswith("https://"):
        raise PriceTableError(f"{where}: {key}.source must be the https:// page of the price")
    has_usd, has_table = "usd" in entry, "usd_by" in entry
    if has_usd == has_table:
        raise PriceTableError(f"{where}: {key} needs exactly one of usd, usd_by")
    if has_usd:
        return Price(key, unit, source, usd=_amount(entry["usd"], f"{where}: {key}.usd"))
    table = entry["usd_by"]
    if not isinstance(table, dict) or not table:
        raise PriceTableError(f"{where}: {key}.usd_by must be a non-empty mapping")
    for name, value in table.items():
        if isinstance(value, dict):
            for inner, amount in value.items():
                _amount(amount, f"{where}: {key}.usd_by.{name}.{inner}")
        else:
            _amount(value, f"{where}: {key}.usd_by.{name}")
    return Price(key, unit, source, usd_by=table)


def _amount(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        raise PriceTableError(f"{where}: {value!r} is not a price (a number >= 0)")
    return float(value)
