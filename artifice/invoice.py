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
Subclasses need not call ``Invoice.__init__``; Artifice calls the five
contract methods, ``lookup`` where an adapter can look invoices up, and sets
those attributes.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from artifice.exceptions import CannotLookUp
from artifice.model import Item, LineValue, Tenant
from artifice.timeutil import Window

__all__ = ["Invoice", "Item", "LineValue", "Tenant"]


class Invoice:
    """Base class of invoice adapters; see the module docstring for the contract."""

    period: Window | None = None
    reference: str | None = None
    adjusts: str | None = None  # on a re-bill: the reference of the invoice this one adjusts
    currency: str = ""  # the invoice's currency, stored with the window
    external_id: str | None = None  # set by commit(): the ERP's id of the invoice

    def __init__(self, tenant: Any, config: dict[str, str]) -> None:
        self.tenant = tenant
        self.config = config
        self.sections: dict[str, list[Item]] = {}

    def add_section(self, name: str) -> None:
        """Create a subsection of the invoice, one per datacenter."""
        self.sections.setdefault(name, [])

    def add_line(self, item: Item) -> None:
        """Add ``item``, the triple ``(datacenter, name, value)``.

        Refuse a line the ERP would refuse (a unit the rates do not price, a product the ERP
        lacks) here, by raising an ``ArtificeError``: Artifice adds every line before it records
        the invoice as ready to send.
        """
        datacenter = item[0]
        self.sections.setdefault(datacenter, []).append(item)

    def cost(self, datacenter: str, name: str) -> Decimal | float | int | str:
        """The price per unit of service ``name`` in ``datacenter`` for the month."""
        raise NotImplementedError

    def commit(self) -> None:
        """Close the invoice and save it to the ERP.

        Raise ``CommitError`` when the ERP refused it (nothing was saved) and
        ``TransientCommitError`` when the outcome is unknown (timeout, lost connection, 5xx);
        ``NotSent`` when the request certainly never reached the ERP.
        """
        raise NotImplementedError

    @property
    def can_look_up(self) -> bool:
        """Whether ``lookup`` can find invoices in this ERP (true when a subclass defines it)."""
        return type(self).lookup is not Invoice.lookup

    def lookup(self, reference: str) -> str | None:
        """The ERP's id of the invoice sent with ``reference``, or None if the ERP has none.

        Must match ``reference`` exactly. Raise ``TransientCommitError`` when the ERP cannot be
        asked now, ``CommitError`` when it refuses the question.
        """
        raise CannotLookUp(f"adapter {type(self).__name__} cannot look invoices up by reference")
