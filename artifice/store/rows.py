"""Rows of the billing tables built from the billing model, and the messages that describe a window."""

from __future__ import annotations

import datetime as dt

from artifice import model
from artifice.model import PricedLine, Tenant
from artifice.store.models import BillingWindow, InvoiceLine, LineResource
from artifice.timeutil import Window


def conflict_message(tenant_id: str, window: Window, row: BillingWindow) -> str:
    existing = Window(row.period_start, row.period_end).label
    what = f"tenant {tenant_id} {window.label}:"
    if row.state == model.COMMITTED:
        when = f"{row.committed_at:%Y-%m-%d %H:%M} UTC"
        return f"{what} already billed ({existing}, committed {when} as {row.external_reference})"
    if row.state == model.NEEDS_RECONCILIATION:
        return (
            f"{what} the ERP may or may not hold invoice {row.external_reference} ({existing}); check it, then "
            f"run `artifice reconcile --window {row.id} --as committed|failed`"
        )
    until = f"; its lease runs until {row.lease_expires_at:%Y-%m-%d %H:%M:%S} UTC" if row.lease_expires_at else ""
    return f"{what} run {row.run_id} is billing {existing} (state {row.state}{until})"


def settling_message(tenant_id: str, window: Window, row: BillingWindow, after: dt.datetime) -> str:
    return (
        f"tenant {tenant_id} {window.label}: run {row.run_id} stopped while committing "
        f"{row.external_reference}; the ERP may still be handling it, so it is looked up and "
        f"resumed after {after:%Y-%m-%d %H:%M:%S} UTC ([billing] commit_settle_time)"
    )


def new_window(tenant: Tenant, window: Window, state: str, kind: str, revision: int, now: dt.datetime) -> BillingWindow:
    return BillingWindow(
        tenant_id=tenant.id,
        tenant_name=tenant.name,
        period_start=window.start,
        period_end=window.end,
        state=state,
        kind=kind,
        revision=revision,
        adapter="",
        external_reference=model.invoice_reference(tenant.id, window, revision),
        currency="",
        run_id="",
        owner="",
        owner_proof="",
        attempts=0,
        failures=0,
        created_at=now,
        updated_at=now,
    )


def line_row(line: PricedLine) -> InvoiceLine:
    # A line without per-resource detail (a plugin item) is its own detail row, so
    # that every line has line items in the read API.
    resources = line.resources or (("", line.quantity),)
    names = dict(line.resource_names)
    return InvoiceLine(
        datacenter=line.datacenter,
        service=line.service,
        category=line.category,
        item_type=line.item_type,
        unit=line.unit,
        quantity=line.quantity,
        unit_price=line.unit_price,
        amount=line.amount,
        resources=[LineResource(resource_id=r, quantity=q, resource_name=names.get(r, "")) for r, q in resources],
    )
