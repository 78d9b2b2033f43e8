"""Price usage lines through the adapter's ``cost``; money is Decimal throughout.

Rounding rule: a quantity is rounded half-up to 4 decimal places, its amount
(quantity x unit price) half-up to the currency's minor unit (cents by
default). Subtotals and totals are sums of the rounded line amounts, so the
lines on an invoice always add up to its total.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

import numpy as np
import pandas as pd

from artifice.exceptions import ArtificeError, PricingError, safe_text
from artifice.invoices.base import Invoice
from artifice.model import PricedLine

QUANTITY_STEP = Decimal("0.0001")


def to_decimal(value: object, what: str) -> Decimal:
    """Exact Decimal of a price: any real number by its shortest decimal form (0.1 -> 0.1).

    Python and NumPy floats go through their shortest round-tripping string
    (``np.float32(0.05)`` -> 0.05); ints, Decimals and numeric strings as they are.
    """
    if isinstance(value, bool | np.bool_):
        raise PricingError(f"{what} is a boolean, not a price")
    try:
        if isinstance(value, Decimal):
            number = Decimal(value)  # a subclass's own str() may not be its value
        elif isinstance(value, float | np.floating):
            if not math.isfinite(value):
                raise PricingError(f"{what} is {value}")
            number = Decimal(str(value) if isinstance(value, np.floating) else repr(value))
        elif isinstance(value, numbers.Rational):  # Fraction(1, 20) -> 0.05 (28 significant digits at most)
            number = Decimal(int(value.numerator)) / Decimal(int(value.denominator))
        else:
            number = Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        raise PricingError(f"{what} is {value!r}, not a number") from None
    if not number.is_finite() or number < 0:
        raise PricingError(f"{what} is {value!r}: prices must be finite and >= 0")
    return number


def money(value: Decimal, cent: Decimal) -> Decimal:
    """``value`` rounded half-up to ``cent``; one that no currency can hold is a PricingError."""
    try:
        return value.quantize(cent, rounding=ROUND_HALF_UP)
    except InvalidOperation:
        raise PricingError(f"amount {value} is too large to bill") from None


def quantity(value: float) -> Decimal:
    try:
        return Decimal(repr(float(value))).quantize(QUANTITY_STEP, rounding=ROUND_HALF_UP)
    except InvalidOperation:
        raise PricingError(f"quantity {value} is too large to bill") from None


def price_lines(
    lines: pd.DataFrame,
    detail: pd.DataFrame,
    invoice: Invoice,
    decimals: int,
    names: Mapping[str, str] | None = None,
) -> list[PricedLine]:
    """One PricedLine per usage line, with its per-resource detail (and ``names``: resource id -> display name)."""
    cent = Decimal(1).scaleb(-decimals)
    resources: dict[tuple[str, str], list[tuple[str, Decimal]]] = {}
    for row in detail.itertuples(index=False):
        resources.setdefault((row.region, row.service), []).append((str(row.resource_id), quantity(row.quantity)))
    priced = []
    for row in lines.itertuples(index=False):
        datacenter, service = str(row.region), str(row.service)
        try:
            raw_price = invoice.cost(datacenter, service)
        except ArtificeError:
            raise
        except Exception as exc:  # an adapter's own failure, reported with what was asked
            raise PricingError(f"cost({datacenter!r}, {service!r}) failed: {safe_text(invoice, exc)}") from exc
        unit_price = to_decimal(raw_price, f"cost({datacenter!r}, {service!r})")
        amount_qty = quantity(row.quantity)
        detail_of = resources.get((datacenter, service), [])
        priced.append(
            PricedLine(
                datacenter=datacenter,
                service=service,
                category=str(row.category),
                unit=str(row.unit),
                quantity=amount_qty,
                unit_price=unit_price,
                amount=money(amount_qty * unit_price, cent),
                resources=tuple(sorted(detail_of)),
                resource_names=tuple(sorted((r, (names or {})[r]) for r, _ in detail_of if (names or {}).get(r))),
                description=str(getattr(row, "description", "") or service),
            )
        )
    return priced


def invoice_total(lines: list[PricedLine]) -> Decimal:
    return sum((line.amount for line in lines), Decimal(0))
