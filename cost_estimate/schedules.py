"""How often a schedule expression fires in an average month (`rate()`, `cron()`, `at()`).

Good enough for a monthly estimate: a cron's minutes x hours x days, with days-of-month or
days-of-week counted over an average month (30.42 days, 4.35 weeks).
"""

from __future__ import annotations

import re

HOURS_PER_MONTH = 730.0
DAYS_PER_MONTH = HOURS_PER_MONTH / 24
WEEKS_PER_MONTH = DAYS_PER_MONTH / 7

_RATE_RE = re.compile(r"^rate\((\d+)\s+(minutes?|hours?|days?)\)$")
_UNIT_MINUTES = {"minute": 1, "hour": 60, "day": 1440}
_FIELD_SIZES = {"minutes": 60, "hours": 24, "dom": 31, "month": 12, "dow": 7}
_MONTHS = ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"]
_DAYS = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"]


class ScheduleError(ValueError):
    """An expression this module cannot count."""


def runs_per_month(expression: str) -> float:
    """Average runs a month of an EventBridge / Scheduler / Synthetics expression."""
    text = expression.strip()
    rate = _RATE_RE.match(text)
    if rate:
        every = int(rate.group(1)) * _UNIT_MINUTES[rate.group(2).rstrip("s")]
        if every <= 0:
            raise ScheduleError(f"{expression!r}: a rate must be positive")
        return HOURS_PER_MONTH * 60 / every
    if text.startswith("at(") and text.endswith(")"):
        return 0.0  # a one-off run
    if text.startswith("cron(") and text.endswith(")"):
        return _cron_runs(text[5:-1].split(), expression)
    raise ScheduleError(f"{expression!r} is not a rate(), cron() or at() expression")


def _cron_runs(fields: list[str], expression: str) -> float:
    if len(fields) != 6:
        raise ScheduleError(f"{expression!r}: a cron() needs six fields")
    minutes, hours, dom, month, dow, _year = fields
    per_day = _count(minutes, "minutes", expression) * _count(hours, "hours", expression)
    months = _count(month, "month", expression) / 12
    if dom not in ("*", "?"):
        days = _count(dom.replace("L", "31").replace("W", ""), "dom", expression)
        days_per_month = min(days, DAYS_PER_MONTH)
    elif dow not in ("*", "?"):
        days_per_month = _count(dow.split("#")[0].replace("L", ""), "dow", expression)
        days_per_month *= 1 if "#" in dow else WEEKS_PER_MONTH
    else:
        days_per_month = DAYS_PER_MONTH
    return per_day * days_per_month * months


def _count(field: str, kind: str, expression: str) -> int:
    """How many values a cron field matches."""
    size = _FIELD_SIZES[kind]
    names = _MONTHS if kind == "month" else _DAYS if kind == "dow" else []
    total = 0
    for item in field.split(","):
        part, step = item, 1
        if "/" in item:
            part, step_text = item.split("/", 1)
            step = _int(step_text, expression)
            if step <= 0:
                raise ScheduleError(f"{expression!r}: a step must be positive")
        if part in ("*", "?"):
            span = size
        elif "-" in part:
            low, high = (_value(x, names, expression) for x in part.split("-", 1))
            span = high - low + 1 if high >= low else size - low + high + 1
        elif "/" in field:
            span = size - _value(part, names, expression)
        else:
            span = 1
        total += -(-span // step)
    return min(total, size)


def _value(text: str, names: list[str], expression: str) -> int:
    if text.upper() in names:
        return names.index(text.upper())
    return _int(text, expression)


def _int(text: str, expression: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise ScheduleError(f"{expression!r}: {text!r} is not a number") from None
