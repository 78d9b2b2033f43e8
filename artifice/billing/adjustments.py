"""Re-billing: what changed since a month was billed, as adjustment lines (Kill Bill's approach).

A committed month is never billed twice in full. Re-rating it gives the month's usage today;
this module compares it with everything already committed for the month (its invoice and
earlier adjustments) and returns only the differences, for a new invoice revision.

Usage (``rebill_lines``): quantities already billed keep the unit price they were billed at;
only new quantities take today's price, and a credit takes back the most recently billed
quantities first, each at its own price (one ITEM_ADJ line per price it takes back). Each
service's billed quantities form price layers; its cumulative amount is always the exact value
of its layers rounded once, so many small re-bills never drift by a cent, and an invoice with
its adjustments adds up to each hour at the price it was billed at. A rate change alone
changes nothing.

Plugin items (tax, discounts) are adjusted by what the usage change changes in them: today's
plugins run on the month's usage as billed before and as billed now (billed prices kept), and
the difference of their items is sent. A plugin setting changed since (a new tax rate) applies
to the new usage, never by itself to what was billed.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Sequence
from decimal import Decimal

from artifice.billing.pricing import money
from artifice.model import USAGE, PricedLine

Key = tuple[str, str]  # (datacenter, service or plugin item name)
Plugins = Callable[[list[PricedLine]], list[PricedLine]]  # usage lines -> plugin items


@dataclasses.dataclass
class _Layer:
    quantity: Decimal
    unit_price: Decimal


def rebill_lines(billed: Sequence[PricedLine], rated: Sequence[PricedLine], cent: Decimal,
                 plugins: Plugins) -> list[PricedLine]:  # fmt: skip
    """The adjustment lines that bring ``billed`` to the usage ``rated`` today; empty when nothing changed."""
    history = _history(billed)
    now = {(x.datacenter, x.service): x for x in rated if _is_usage(x)}
    lines: list[PricedLine] = []
    before, after = [], []
    for key in sorted(history.keys() | now.keys()):
        earlier, line = history.get(key, []), now.get(key)
        layers = _open_layers(earlier)
        model = line or earlier[-1]
        billed_amount = sum((x.amount for x in earlier), Decimal(0))
        quantity = line.quantity if line else Decimal(0)
        changes = _changes(layers, quantity, model.unit_price if line else Decimal(0))
        value = _value(layers)
        for change in changes:
            amount = money(value + change.quantity * change.unit_price, cent) - money(value, cent)
            value += change.quantity * change.unit_price
            lines.append(_adjustment(model, change, amount))
        if earlier:
            before.append(_kept(earlier[0], layers, billed_amount))
        if quantity:
            after.append(_kept(earlier[0] if earlier else model, _apply(layers, changes), money(value, cent)))
    if not lines:  # the usage did not change: neither do the plugin items computed from it
        return []
    return lines + _differences(plugins(before), plugins(after))


def _is_usage(line: PricedLine) -> bool:
    return line.item_type in (USAGE, "ITEM_ADJ") and line.unit != "item"


def _history(billed: Iterable[PricedLine]) -> dict[Key, list[PricedLine]]:
    history: dict[Key, list[PricedLine]] = {}
    for line in billed:
        if _is_usage(line):
            history.setdefault((line.datacenter, line.service), []).append(line)
    return history


def _open_layers(lines: Sequence[PricedLine]) -> list[_Layer]:
    """The billed quantities still standing, oldest first, after the credits issued so far."""
    layers: list[_Layer] = []
    for line in lines:
        if line.quantity > 0:
            layers.append(_Layer(line.quantity, line.unit_price))
        else:
            _take_latest(layers, -line.quantity)
    return layers


def _take_latest(layers: list[_Layer], quantity: Decimal) -> list[_Layer]:
    """Remove ``quantity`` from the latest layers (in place); what was taken, latest first."""
    taken = []
    while quantity > 0 and layers:
        layer = layers[-1]
        part = min(layer.quantity, quantity)
        layer.quantity -= part
        if not layer.quantity:
            layers.pop()
        taken.append(_Layer(part, layer.unit_price))
        quantity -= part
    return taken


def _changes(layers: list[_Layer], quantity: Decimal, price_today: Decimal) -> list[_Layer]:
    """The signed quantities (with their prices) that bring ``layers`` to ``quantity``."""
    more = quantity - sum((x.quantity for x in layers), Decimal(0))
    if more > 0:
        return [_Layer(more, price_today)]
    copy = [_Layer(x.quantity, x.unit_price) for x in layers]
    return [_Layer(-x.quantity, x.unit_price) for x in _take_latest(copy, -more)]


def _apply(layers: list[_Layer], changes: list[_Layer]) -> list[_Layer]:
    result = [_Layer(x.quantity, x.unit_price) for x in layers]
    for change in changes:
        if change.quantity > 0:
            result.append(change)
        else:
            _take_latest(result, -change.quantity)
    return result


def _value(layers: Iterable[_Layer]) -> Decimal:
    return sum((x.quantity * x.unit_price for x in layers), Decimal(0))


def _adjustment(model: PricedLine, change: _Layer, amount: Decimal) -> PricedLine:
    return dataclasses.replace(model, item_type="ITEM_ADJ", quantity=change.quantity, unit_price=change.unit_price,
                               amount=amount, resources=(), resource_names=())  # fmt: skip


def _kept(first: PricedLine, layers: list[_Layer], amount: Decimal) -> PricedLine:
    """The service's usage as billed (prices kept), as plugins see it: priced at the first billed price."""
    quantity = sum((x.quantity for x in layers), Decimal(0))
    return dataclasses.replace(first, item_type=USAGE, quantity=quantity, amount=amount, resources=())


def _differences(before: Sequence[PricedLine], after: Sequence[PricedLine]) -> list[PricedLine]:
    """Plugin items that changed, each adjusted as its own type by the difference of its amount."""
    amounts: dict[tuple[str, str, str], Decimal] = {}
    models: dict[tuple[str, str, str], PricedLine] = {}
    for sign, items in ((-1, before), (1, after)):
        for item in items:
            key = (item.datacenter, item.service, item.item_type)
            amounts[key] = amounts.get(key, Decimal(0)) + sign * item.amount
            if sign > 0 or key not in models:
                models[key] = item
    return [
        dataclasses.replace(models[key], quantity=Decimal(1), unit_price=amount, amount=amount)
        for key, amount in amounts.items()
        if amount
    ]
