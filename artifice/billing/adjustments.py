"""Re-billing: what changed since a month was billed, as adjustment lines (Kill Bill's approach).

A committed month is never billed twice in full. Re-rating it gives the lines
the month should have had; this module compares them with everything already
committed for the month (its invoice and earlier adjustments) and returns only
the differences, for a new invoice revision. Usage differences become ITEM_ADJ
lines; a plugin item that changed (tax on the new usage, a discount) is
adjusted as its own type.

Prices: quantities already billed keep the unit price they were billed at
(``keep_billed_prices``); only new quantities take today's price. A credit
takes back the most recently billed quantities first, at their own prices, so
a month's invoice and adjustments always add up to what was used, each hour at
the price it was billed at, and a changed rate alone never sends anything.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence
from decimal import ROUND_HALF_UP, Decimal

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


def keep_billed_prices(billed: Iterable[PricedLine], rated: Sequence[PricedLine], cent: Decimal) -> list[PricedLine]:
    """``rated`` usage lines (at today's prices) with what is already billed kept at its billed price.

    Each line's amount becomes the billed amount plus the new quantity at today's
    price, or less the most recently billed quantities it no longer has (a credit),
    each at the price it was billed at; its unit price is that of the difference (a
    credit over several prices shows the latest).
    """
    billed_by_key: dict[Key, list[PricedLine]] = {}
    for line in billed:
        if line.item_type in (USAGE, "ITEM_ADJ") and line.unit != "item":
            billed_by_key.setdefault((line.datacenter, line.service), []).append(line)
    kept = []
    for line in rated:
        earlier = billed_by_key.get((line.datacenter, line.service))
        if line.item_type != USAGE or not earlier:
            kept.append(line)
            continue
        layers = _open_layers(earlier, cent)
        amount = sum((b.amount for b in earlier), Decimal(0))
        more, price = line.quantity - sum((q for q, _, _ in layers), Decimal(0)), line.unit_price
        if more > 0:
            amount += _money(more * price, cent)
        taken = _take_latest(layers, -more, cent)
        if taken:  # a credit, shown at the price of the latest quantity it takes back
            price = taken[0][1]
            amount -= sum((a for _, _, a in taken), Decimal(0))
        kept.append(dataclasses.replace(line, unit_price=price, amount=amount))
    return kept


Layer = tuple[Decimal, Decimal, Decimal]  # quantity still billed, its unit price, its amount


def _open_layers(lines: Sequence[PricedLine], cent: Decimal) -> list[Layer]:
    """The billed quantities still standing, oldest first, after the credits issued so far."""
    layers: list[Layer] = []
    for line in lines:
        if line.quantity > 0:
            layers.append((line.quantity, line.unit_price, line.amount))
        else:
            _take_latest(layers, -line.quantity, cent)
    return layers


def _take_latest(layers: list[Layer], quantity: Decimal, cent: Decimal) -> list[Layer]:
    """Remove ``quantity`` from the latest layers (in place); what was taken, at its own prices."""
    taken: list[Layer] = []
    while quantity > 0 and layers:
        left, price, amount = layers.pop()
        part = min(left, quantity)
        part_amount = amount if part == left else _money(part * price, cent)
        if part < left:
            layers.append((left - part, price, amount - part_amount))
        taken.append((part, price, part_amount))
        quantity -= part
    return taken


def _money(value: Decimal, cent: Decimal) -> Decimal:
    return value.quantize(cent, rounding=ROUND_HALF_UP)


def _sums(lines: Iterable[PricedLine]) -> dict[Key, _Billed]:
    sums: dict[Key, _Billed] = {}
    for line in lines:
        entry = sums.setdefault((line.datacenter, line.service), _Billed())
        entry.quantity += line.quantity
        entry.amount += line.amount
        if entry.line is None or line.item_type == USAGE:
            entry.line = line  # the usage line names the unit and price
    return sums
