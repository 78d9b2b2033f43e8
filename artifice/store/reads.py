"""What the billing database says: windows, their lines, what is billed and what is due."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from artifice import model
from artifice.model import PricedLine, Tenant
from artifice.store.base import StoreBase, plan, same_period
from artifice.store.models import BillingWindow, InvoiceLine
from artifice.timeutil import Window


class Reads(StoreBase):
    def windows(self, tenant_id: str | None = None) -> list[BillingWindow]:
        query = select(BillingWindow).options(selectinload(BillingWindow.lines).selectinload(InvoiceLine.resources))
        if tenant_id:
            query = query.where(BillingWindow.tenant_id == tenant_id)
        with self._session() as session:
            return list(
                session.scalars(query.order_by(BillingWindow.tenant_id, BillingWindow.period_start, BillingWindow.id))
            )

    def lines(self, window_id: int) -> list[PricedLine]:
        """The priced lines recorded for a window, to resume it exactly as rated."""
        with self._session() as session:
            return _lines(session, [window_id])

    def billed_tenants(self, window: Window) -> list[Tenant]:
        """Every tenant with a committed invoice for exactly ``window`` (however it was billed)."""
        query = select(BillingWindow.tenant_id, BillingWindow.tenant_name).where(
            BillingWindow.period_start == window.start, BillingWindow.period_end == window.end,
            BillingWindow.kind == model.INVOICE, BillingWindow.state == model.COMMITTED,
        )  # fmt: skip
        with self._session() as session:
            return [
                Tenant(tenant_id, name or "")
                for tenant_id, name in session.execute(query.order_by(BillingWindow.tenant_id))
            ]

    def billed_lines(self, tenant_id: str, window: Window) -> tuple[str | None, list[PricedLine]]:
        """The committed invoice's reference and every committed line of the month (invoice and adjustments)."""
        with self._session() as session:
            rows = [r for r in same_period(session, tenant_id, window) if r.state == model.COMMITTED]
            invoice = next((r.external_reference for r in rows if r.kind == model.INVOICE), None)
            return invoice, _lines(session, [r.id for r in rows])

    def next_reference(self, tenant_id: str, window: Window, kind: str) -> str:
        """The reference a real run of this window would send (what a dry run shows)."""
        with self._session() as session:
            where = plan(session, tenant_id, window, kind)
        for row in (where.blocking, where.reusable):
            if row is not None and (row.period_start, row.period_end) == (window.start, window.end):
                return row.external_reference
        return model.invoice_reference(tenant_id, window, where.revision)

    def newest_billed(self) -> Window | None:
        """The period of the newest committed invoice, of any tenant."""
        with self._session() as session:
            row = session.execute(
                select(BillingWindow.period_start, BillingWindow.period_end)
                .where(BillingWindow.kind == model.INVOICE, BillingWindow.state == model.COMMITTED)
                .order_by(BillingWindow.period_end.desc())
                .limit(1)
            ).first()
            return None if row is None else Window(row[0], row[1])

    def settled_tenants(self, window: Window) -> set[str]:
        """Tenants whose invoice for ``window`` is committed or waits for an operator: nothing to run."""
        with self._session() as session:
            return set(
                session.scalars(
                    select(BillingWindow.tenant_id).where(
                        BillingWindow.kind == model.INVOICE,
                        BillingWindow.state.in_((model.COMMITTED, model.NEEDS_RECONCILIATION)),
                        BillingWindow.period_start < window.end,
                        window.start < BillingWindow.period_end,
                    )
                )
            )

    def last_billed(self) -> dict[str, Window]:
        """Each tenant's newest committed invoice period."""
        with self._session() as session:
            rows = session.execute(
                select(BillingWindow.tenant_id, BillingWindow.period_start, BillingWindow.period_end)
                .where(BillingWindow.kind == model.INVOICE, BillingWindow.state == model.COMMITTED)
                .order_by(BillingWindow.period_end)
            ).all()
            return {tenant: Window(start, end) for tenant, start, end in rows}

    def blocking(self, tenant_id: str, window: Window) -> BillingWindow | None:
        """The non-failed invoice window that would block billing ``window``, if any."""
        with self._session() as session:
            return plan(session, tenant_id, window, model.INVOICE).blocking


def _lines(session: Session, window_ids: list[int]) -> list[PricedLine]:
    rows = session.scalars(
        select(InvoiceLine)
        .options(selectinload(InvoiceLine.resources))
        .where(InvoiceLine.window_id.in_(window_ids))
        .order_by(InvoiceLine.window_id, InvoiceLine.id)
    ).all()
    return [priced(r) for r in rows]


def priced(line: InvoiceLine) -> PricedLine:
    return PricedLine(
        line.datacenter,
        line.service,
        line.category,
        line.unit,
        line.quantity,
        line.unit_price,
        line.amount,
        tuple((x.resource_id, x.quantity) for x in line.resources if x.resource_id),
        line.item_type,
        tuple((x.resource_id, x.resource_name) for x in line.resources if x.resource_id and x.resource_name),
    )
