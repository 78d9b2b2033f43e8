"""Re-billing: what changed since a month was billed, as adjustment lines (Kill Bill's approach).

A committed month is never billed twice in full. Re-rating it gives the lines
the month should have had; this module compares them with everything already
committed for the month (its invoice and earlier adjustments) and returns only
the differences, for a new invoice revision. Usage differences become ITEM_ADJ
lines (the quantity and amount not yet billed, at today's unit price); a plugin
item that changed (tax on the new usage, a discount) is adjusted as its own
type. Amounts are exact differences of rounded amounts, so the invoice plus its
adjustments always add up to what a first invoice of the new usage would total.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence
from decimal import Decimal

from artifice.model import USAGE, PricedLine

Key = tuple[str, str]  # (datacenter, service or plugin item name)


@dataclasses.dataclass
class _Billed:
    quantity: Decimal = Decimal(0)
    amount: Decimal = Decimal(0)
    line: PricedLine | None = None


def adjustments(billed: Iterable[PricedLine], rated: Sequence[PricedLine]) -> list[PricedLine]:
    """The lines that bring ``billed`` to ``rated``; empty when nothing changed."""
    before = _sums(billed)
    after = _sums(rated)
    lines = []
    for key in sorted(before.keys() | after.keys()):
        old, new = before.get(key, _Billed()), after.get(key, _Billed())
        model = new.line or old.line
        assert model is not None  # every key comes from a line
        amount = new.amount - old.amount
        usage = model.item_type in (USAGE, "ITEM_ADJ") and model.unit != "item"
        quantity = new.quantity - old.quantity if usage else Decimal(1)
        if not amount and (not usage or not quantity):
            continue
        lines.append(
            dataclasses.replace(
                model,
                item_type="ITEM_ADJ" if model.item_type == USAGE else model.item_type,
                quantity=quantity,
                unit_price=model.unit_price if usage else amount,
                amount=amount,
                resources=(),
            )
        )
    return lines


def _sums(lines: Iterable[PricedLine]) -> dict[Key, _Billed]:
    sums: dict[Key, _Billed] = {}
    for line in lines:
        entry = sums.setdefault((line.datacenter, line.service), _Billed())
        entry.quantity += line.quantity
        entry.amount += line.amount
        if entry.line is None or line.item_type == USAGE:
            entry.line = line  # the usage line names the unit and price
    return sums
