"""The Invoice contract (seed 000): what every ERP adapter implements.

An adapter is created once per tenant and billing window::

    invoice = MyInvoice(tenant, config)   # config: its [invoice:object] section
    invoice.add_section("Wellington")     # one section per datacenter
    invoice.add_line(("Wellington", "m1.small", value))
    invoice.cost("Wellington", "m1.small")  # price per unit for the month
    invoice.commit()                      # save it in the ERP

``value`` is a :class:`LineValue` (quantity, unit, unit price, amount);
``str(value)`` is the amount. Before the first ``add_section`` Artifice sets
``invoice.period`` (the billed :class:`~artifice.timeutil.Window`) and
``invoice.reference`` (a deterministic id of this invoice, for the ERP); on a
re-bill, ``invoice.adjusts`` is the reference of the invoice being adjusted.
Subclasses need not call ``Invoice.__init__``; Artifice calls only the five
contract methods and sets those two attributes.
"""

from __future__ import annotations

import dataclasses
from decimal import Decimal
from typing import Any

from artifice.timeutil import Window


@dataclasses.dataclass(frozen=True)
class Tenant:
    """A Keystone project. ``str(tenant)`` is its id."""

    id: str
    name: str = ""

    def __str__(self) -> str:
        return self.id


@dataclasses.dataclass(frozen=True)
class LineValue:
    """The value of one invoice line: usage, its unit, and its price."""

    quantity: Decimal
    unit: str
    unit_price: Decimal
    amount: Decimal
    currency: str = ""
    category: str = ""
    item_type: str = "USAGE"  # or TAX, ITEM_ADJ, EXTERNAL_CHARGE from invoice plugins

    def __str__(self) -> str:
        return str(self.amount)


Item = tuple[str, str, Any]


class Invoice:
    """Base class of invoice adapters; see the module docstring for the contract."""

    period: Window | None = None
    reference: str | None = None
    adjusts: str | None = None  # on a re-bill: the reference of the invoice this one adjusts

    def __init__(self, tenant: Any, config: dict[str, str]) -> None:
        self.tenant = tenant
        self.config = config
        self.sections: dict[str, list[Item]] = {}

    def add_section(self, name: str) -> None:
        """Create a subsection of the invoice, one per datacenter."""
        self.sections.setdefault(name, [])

    def add_line(self, item: Item) -> None:
        """Add ``item``, the triple ``(datacenter, name, value)``."""
        datacenter = item[0]
        self.sections.setdefault(datacenter, []).append(item)

    def cost(self, datacenter: str, name: str) -> Decimal | float | int | str:
        """The price per unit of service ``name`` in ``datacenter`` for the month."""
        raise NotImplementedError

    def commit(self) -> None:
        """Close the invoice and save it to the ERP."""
        raise NotImplementedError
