"""Artifice's vocabulary: the values every layer passes around, with no behaviour of their own.

Collectors, the usage engine, billing, plugins, the store and the API all import their domain
types from here, so no layer has to import another's machinery to name a tenant or a line.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from decimal import Decimal
from typing import Any

from artifice.timeutil import Window

# -- window states and kinds -------------------------------------------------------------
# A window in any state but FAILED blocks overlapping invoice windows of the same tenant
# (the database enforces it, see the migrations).
CLAIMED = "claimed"  # a run holds its lease and is collecting and pricing
RATED = "rated"  # lines priced, recorded and accepted by the adapter: ready to send, nothing sent
COMMITTING = "committing"  # an attempt may have reached the ERP
COMMITTED = "committed"  # the ERP has it
FAILED = "failed"  # certainly nothing in the ERP: the month is billed again, under the same reference
NEEDS_RECONCILIATION = "needs_reconciliation"  # the ERP may hold it; only a lookup or an operator settles it
ESTIMATED = "estimated"  # a month-to-date estimate: stored, never sent
STATES = (CLAIMED, RATED, COMMITTING, COMMITTED, FAILED, NEEDS_RECONCILIATION, ESTIMATED)
RESUMABLE = (CLAIMED, RATED, COMMITTING)  # a run that died here is resumed by the next one

INVOICE = "invoice"  # the month's invoice (revision 1)
ADJUSTMENT = "adjustment"  # a later re-bill of the month (revision 2, 3, ...)
ESTIMATE = "estimate"  # the running month so far, replaced by the next estimate
KINDS = (INVOICE, ADJUSTMENT, ESTIMATE)

# -- line item types (seed 002) ------------------------------------------------------------
USAGE = "USAGE"
PLUGIN_ITEM_TYPES = ("TAX", "ITEM_ADJ", "EXTERNAL_CHARGE")


def invoice_reference(tenant_id: str, window: Window, revision: int) -> str:
    """The deterministic id of one invoice revision, sent to the ERP so it can be found again.

    ``-r1`` is the month's invoice and ``-r2``, ``-r3``... its adjustments; an attempt the ERP
    refused is retried under the same reference.
    """
    return f"ART-{tenant_id}-{window.start:%Y%m%d}-{window.end:%Y%m%d}-r{revision}"


@dataclasses.dataclass(frozen=True)
class Tenant:
    """A Keystone project. ``str(tenant)`` is its id."""

    id: str
    name: str = ""

    def __str__(self) -> str:
        return self.id

    @property
    def label(self) -> str:
        """How messages name it: ``id (name)``, or the id alone when no name is known."""
        return f"{self.id} ({self.name})" if self.name else self.id


@dataclasses.dataclass(frozen=True)
class LineValue:
    """The value of one invoice line as an adapter receives it: usage, its unit, and its price."""

    quantity: Decimal
    unit: str
    unit_price: Decimal
    amount: Decimal
    currency: str = ""
    category: str = ""
    item_type: str = USAGE  # or TAX, ITEM_ADJ, EXTERNAL_CHARGE from invoice plugins
    description: str = ""  # the service in words, from the meter mapping (or the plugin item's name)

    def __str__(self) -> str:
        return str(self.amount)


Item = tuple[str, str, Any]  # (datacenter, service, LineValue): what add_line receives


@dataclasses.dataclass(frozen=True)
class PricedLine:
    """One priced invoice line, with the per-resource usage behind it."""

    datacenter: str
    service: str
    category: str
    unit: str
    quantity: Decimal
    unit_price: Decimal
    amount: Decimal
    resources: tuple[tuple[str, Decimal], ...] = ()
    item_type: str = USAGE
    resource_names: tuple[tuple[str, str], ...] = ()  # (resource id, display name) where the telemetry has one
    description: str = ""  # the service in words, from the meter mapping


@dataclasses.dataclass(frozen=True)
class Claimed:
    """A billing window as the run holding its lease knows it.

    Every transition of the window takes this value and returns the next one; ``token`` fences
    them: a transition whose token is no longer the window's does nothing and raises
    ``LostWindow``.
    """

    id: int
    tenant: Tenant
    window: Window
    kind: str
    revision: int
    reference: str
    state: str
    token: str
    attempts: int  # send attempts so far, across every run of this window
    uncertain_since: dt.datetime | None  # database time of the newest attempt whose outcome is unknown
    currency: str
    resumed: bool  # taken over from a run that stopped, or re-claimed after a refusal
    now: dt.datetime  # database time of this transition
