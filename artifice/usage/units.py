"""Units of billable quantities: an amount unit, a time unit, or ``amount-time``."""

from __future__ import annotations

import dataclasses
import re

AMOUNT_UNITS = {
    "B": 1.0,
    "KB": 1e3,
    "MB": 1e6,
    "GB": 1e9,
    "TB": 1e12,
    "KiB": 2.0**10,
    "MiB": 2.0**20,
    "GiB": 2.0**30,
    "TiB": 2.0**40,
}
TIME_UNITS = {
    "s": 1.0,
    "sec": 1.0,
    "second": 1.0,
    "min": 60.0,
    "minute": 60.0,
    "h": 3600.0,
    "hr": 3600.0,
    "hour": 3600.0,
    "d": 86400.0,
    "day": 86400.0,
}
_SPLIT = re.compile(r"^\s*([A-Za-z]+)\s*(?:[-*·]\s*([A-Za-z]+))?\s*$")


@dataclasses.dataclass(frozen=True)
class BillingUnit:
    """A parsed billing unit such as ``GB-hour``, ``hour`` or ``GB``."""

    label: str
    amount: str | None  # an AMOUNT_UNITS key, or a counted thing like "request"
    time_seconds: float | None  # seconds in one time unit, None if not time-based

    def amount_factor(self, sample_unit: str) -> float | None:
        """Multiply a sample's value in ``sample_unit`` by this to get ``self.amount``."""
        if self.amount is None or sample_unit == self.amount:
            return 1.0
        if sample_unit in AMOUNT_UNITS and self.amount in AMOUNT_UNITS:
            return AMOUNT_UNITS[sample_unit] / AMOUNT_UNITS[self.amount]
        return None


def parse_unit(label: str, *, time_based: bool, has_amount: bool) -> BillingUnit:
    """Parse ``label``; raise ValueError saying what shape was expected."""
    match = _SPLIT.match(label or "")
    if not match:
        raise ValueError(f"unit {label!r} is not of the form AMOUNT, TIME or AMOUNT-TIME")
    first, second = match.group(1), match.group(2)
    if time_based and not has_amount:
        if second is not None or first not in TIME_UNITS:
            raise ValueError(f"unit {label!r} must be a time unit ({', '.join(TIME_UNITS)})")
        return BillingUnit(label, None, TIME_UNITS[first])
    if time_based:
        if second not in TIME_UNITS:
            raise ValueError(f"unit {label!r} must be AMOUNT-TIME, e.g. GB-hour")
        return BillingUnit(label, first, TIME_UNITS[second])
    if second is not None:
        raise ValueError(f"unit {label!r} must be an amount unit, e.g. GB")
    return BillingUnit(label, first, None)
