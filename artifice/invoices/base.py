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

A plain seed-000 subclass that defines only ``__init__``, ``add_section``,
``add_line``, ``cost`` and ``commit`` (and need not call ``Invoice.__init__``)
keeps working: ``lookup`` then raises :class:`CannotLookUp`, so an interrupted
commit is handed to an operator instead of being sent again; ``currency`` is
empty and ``external_id`` unknown. Everything an adapter may raise derives from
:class:`~artifice.exceptions.ArtificeError`.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from artifice.exceptions import CannotLookUp, CommitError
from artifice.model import Item, LineValue, Tenant
from artifice.timeutil import Window

__all__ = ["Invoice", "Item", "LineValue", "Tenant"]


class Invoice:
    """Base class of invoice adapters; see the module docstring for the contract."""

    #: The billed month (half-open, UTC); set by Artifice before the first ``add_section``.
    period: Window | None = None
    #: This invoice's deterministic reference (``ART-<tenant>-<start>-<end>-r<revision>``): send it
    #: to the ERP so that ``lookup`` can find the invoice again. Set by Artifice.
    reference: str | None = None
    #: On a re-bill: the reference of the invoice this one adjusts. Set by Artifice.
    adjusts: str | None = None
    #: The invoice's ISO 4217 currency, stored with the billed window ("" when the adapter has none).
    currency: str = ""
    #: The ERP's id of the invoice, set by ``commit`` (stored with the window, shown by ``artifice windows``).
    external_id: str | None = None

    def __init__(self, tenant: Any, config: dict[str, str]) -> None:
        """``tenant``: the :class:`Tenant` billed (``str(tenant)`` is its Keystone id, ``.name`` its name);
        ``config``: the ``[invoice:object]`` section as-is, one string per key.

        Raise ``ConfigError`` for a missing or bad setting: it stops the run before anything is billed.
        """
        self.tenant = tenant
        self.config = config
        self.sections: dict[str, list[Item]] = {}

    def add_section(self, name: str) -> None:
        """Create a subsection of the invoice, one per datacenter."""
        self.sections.setdefault(name, [])

    def add_line(self, item: Item) -> None:
        """Add ``item``, the triple ``(datacenter, name, value)``.

        Refuse a line the ERP would refuse (a unit the rates do not price, a product the ERP
        lacks) here, by raising ``PricingError``: Artifice adds every line before it records
        the invoice as ready to send, so nothing half-built reaches the ERP.
        """
        datacenter = item[0]
        self.sections.setdefault(datacenter, []).append(item)

    def cost(self, datacenter: str, name: str) -> Decimal | float | int | str:
        """The price per unit of service ``name`` in ``datacenter`` for the month.

        Any real number is taken exactly as written (``0.05`` is 0.05); raise ``PricingError`` when
        the service has no price.
        """
        raise NotImplementedError

    def commit(self) -> None:
        """Close the invoice and save it to the ERP, once; set ``external_id`` when the ERP names it.

        Raise ``CommitError`` when the ERP refused it (certainly nothing was saved),
        ``NotSent`` when the request certainly never reached the ERP (connection refused, 429), and
        ``TransientCommitError`` when the outcome is unknown (timeout, lost connection, 5xx). Never
        retry a request that may have reached the ERP: Artifice looks the invoice up first.
        """
        raise NotImplementedError

    @property
    def can_look_up(self) -> bool:
        """Whether ``lookup`` can find invoices in this ERP (true when a subclass defines it)."""
        return type(self).lookup is not Invoice.lookup

    def lookup(self, reference: str) -> str | None:
        """The ERP's id (a non-empty ``str`` or an ``int``) of the invoice sent with ``reference``, or None
        if the ERP has none. Only None means "not there": any other answer is refused as unreadable.

        Must match ``reference`` exactly (an ERP that ignores a filter lists other invoices too).
        Raise ``TransientCommitError`` when the ERP cannot be asked now, ``CommitError`` when it
        refuses the question. The default raises ``CannotLookUp``.
        """
        raise CannotLookUp(f"adapter {type(self).__name__} cannot look invoices up by reference")

    def addressed(self) -> tuple[Window, str]:
        """``(period, reference)``, which every commit needs; CommitError when Artifice set neither."""
        if self.period is None or not self.reference:
            raise CommitError("the invoice has no period or reference; the pipeline sets both before commit")
        return self.period, self.reference
