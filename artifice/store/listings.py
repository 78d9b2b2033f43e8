"""Which tenants each month must bill, and which of them are still due.

A month's tenants are listed (telemetry and Keystone) once it is complete, by the daemon's
first pass over it or by ``artifice bill``, and recorded here; a listed tenant-month is due until
its invoice is committed. What is due therefore comes from the database, per tenant: a tenant
whose month failed stays due however many other tenants, or later months, were billed since.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable, Iterable, Sequence

from sqlalchemy import ColumnElement, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from artifice import model
from artifice.exceptions import StoreError
from artifice.model import Tenant
from artifice.store import db
from artifice.store.base import StoreBase
from artifice.store.models import BillingMonth, BillingWindow, TenantMonth
from artifice.timeutil import Window

Backoff = Callable[[int], dt.timedelta]  # failures so far -> how long the daemon waits before retrying


@dataclasses.dataclass(frozen=True)
class TenantStatus:
    """What ``artifice status`` and the lag metric say of one tenant."""

    tenant_id: str
    tenant_name: str
    last_billed: Window | None
    lag: int  # complete months due and not billed
    error: str  # the newest error of a month not billed yet, with its month


class Listings(StoreBase):
    def record_listing(self, window: Window, tenants: Sequence[Tenant], origin: str = "bill") -> None:
        """Record the tenants listed for ``window`` (adding to any listed before), in one transaction.

        Daemons list a month at the same time: one that meets another's rows reads them and adds its own.
        ``origin`` is ``daemon`` for a billing pass: only those listings set where the daemon starts.
        """
        for attempt in range(5):
            try:
                self._record_listing(window, tenants, origin)
                return
            except IntegrityError as exc:
                if attempt == 4:
                    raise StoreError(f"{window.label}: cannot record its tenants: {db.describe(exc)}") from exc

    def _record_listing(self, window: Window, tenants: Sequence[Tenant], origin: str) -> None:
        with self._write() as session:
            now = self.database_now(session)
            known = {
                row.tenant_id: row for row in session.scalars(select(TenantMonth).where(*_period(TenantMonth, window)))
            }
            for tenant in tenants:
                row = known.get(tenant.id)
                if row is None:
                    start, end = window.start, window.end
                    session.add(TenantMonth(tenant_id=tenant.id, period_start=start, period_end=end,
                                            tenant_name=tenant.name, listed_at=now))  # fmt: skip
                elif tenant.name and row.tenant_name != tenant.name:
                    row.tenant_name = tenant.name
            session.flush()
            count = len(known.keys() | {t.id for t in tenants})
            month = session.get(BillingMonth, (window.start, window.end))
            if month is None:
                session.add(BillingMonth(period_start=window.start, period_end=window.end, listed_at=now,
                                         tenants=count, origin=origin))  # fmt: skip
            else:
                month.listed_at, month.tenants = now, count
                month.origin = "daemon" if "daemon" in (month.origin, origin) else origin

    def named(self, tenant: Tenant) -> Tenant:
        """``tenant`` with the newest name a listing or a window recorded for it, if it came without one."""
        if tenant.name:
            return tenant
        with self._session() as session:
            for column, table in ((TenantMonth.tenant_name, TenantMonth), (BillingWindow.tenant_name, BillingWindow)):
                order = table.period_start.desc()
                query = select(column).where(table.tenant_id == tenant.id, column != "").order_by(order).limit(1)
                name = session.scalar(query)
                if name:
                    return Tenant(tenant.id, name)
        return tenant

    def listed(self, window: Window, younger_than: dt.timedelta | None = None) -> list[Tenant] | None:
        """The tenants listed for ``window``; None if never listed (or, with ``younger_than``, listed longer ago)."""
        with self._session() as session:
            month = session.get(BillingMonth, (window.start, window.end))
            if month is None:
                return None
            if younger_than is not None and month.listed_at < self.database_now(session) - younger_than:
                return None
            query = select(TenantMonth).where(*_period(TenantMonth, window)).order_by(TenantMonth.tenant_id)
            return [Tenant(r.tenant_id, r.tenant_name) for r in session.scalars(query)]

    def listed_months(self, origin: str | None = None) -> list[Window]:
        """The months whose tenants were listed (by ``origin`` only, when given)."""
        query = select(BillingMonth.period_start, BillingMonth.period_end)
        if origin is not None:
            query = query.where(BillingMonth.origin == origin)
        with self._session() as session:
            return sorted(Window(start, end) for start, end in session.execute(query))

    def due_tenants(self, window: Window, tenants: Iterable[Tenant], backoff: Backoff | None = None) -> list[Tenant]:
        """Those of ``tenants`` whose invoice for ``window`` is not committed, and worth a run now.

        Left out: a committed invoice, another billed period overlapping it and, with ``backoff``,
        one that failed or waits for reconciliation and was last tried less than
        ``backoff(failures)`` ago on the database's clock. (A window needing reconciliation is
        tried again because a lookup may find it now.)
        """
        with self._session() as session:
            now = self.database_now(session)
            rows = _invoice_windows(session, window)
        waiting = {row.tenant_id for row in rows if _waits(row, window, backoff, now)}
        return [t for t in tenants if t.id not in waiting]

    def tenant_status(self, due: Sequence[Window]) -> list[TenantStatus]:
        """Per tenant the database knows: its newest billed month, and the due months it was not billed for."""
        with self._session() as session:
            listed = session.scalars(select(TenantMonth)).all()
            months = {(m.period_start, m.period_end) for m in session.scalars(select(BillingMonth))}
            windows = session.scalars(
                select(BillingWindow).where(BillingWindow.kind == model.INVOICE).order_by(BillingWindow.updated_at)
            ).all()
        return _Lag(listed, months, windows, due).statuses()


class _Lag:
    """``tenant_status`` worked out: listed months not committed, plus due months no pass listed yet.

    A month not listed yet counts for the tenants listed in the newest listed month (active ones);
    a project deleted after its final bill is listed no more, so it has no lag.
    """

    def __init__(self, listed: Sequence[TenantMonth], months: set[tuple[dt.datetime, dt.datetime]],
                 windows: Sequence[BillingWindow], due: Sequence[Window]) -> None:  # fmt: skip
        self.listed, self.windows = listed, windows
        self.last_due = due[-1].end if due else None
        self.unlisted = [m for m in due if (m.start, m.end) not in months]
        self.newest = max(months, default=None)
        self.committed = {(w.tenant_id, w.period_start, w.period_end) for w in windows if w.state == model.COMMITTED}

    def statuses(self) -> list[TenantStatus]:
        tenants = sorted({r.tenant_id for r in self.listed} | {w.tenant_id for w in self.windows})
        return [self.status(t) for t in tenants]

    def status(self, tenant_id: str) -> TenantStatus:
        mine = [r for r in self.listed if r.tenant_id == tenant_id]
        windows = [w for w in self.windows if w.tenant_id == tenant_id]
        unbilled = [
            r for r in mine
            if (tenant_id, r.period_start, r.period_end) not in self.committed
            and (self.last_due is None or r.period_end <= self.last_due)
        ]  # fmt: skip
        active = any((r.period_start, r.period_end) == self.newest for r in mine)
        first = min((r.period_start for r in mine), default=None)
        not_listed = [m for m in self.unlisted if active and first is not None and m.start > first]
        billed = [w for w in windows if w.state == model.COMMITTED]
        last = max(billed, key=lambda w: w.period_start, default=None)
        failing = [w for w in windows if w.state != model.COMMITTED and w.error]
        error = f"{_label(failing[-1])}: {failing[-1].error}" if failing else ""
        names = [r.tenant_name for r in mine] + [w.tenant_name for w in windows]
        return TenantStatus(
            tenant_id,
            next((n for n in names if n), ""),
            Window(last.period_start, last.period_end) if last else None,
            len(unbilled) + len(not_listed),
            error,
        )


def _label(row: BillingWindow) -> str:
    return Window(row.period_start, row.period_end).label


def _waits(row: BillingWindow, window: Window, backoff: Backoff | None, now: dt.datetime) -> bool:
    """Whether ``row`` keeps its tenant out of a pass over ``window`` now."""
    if (row.period_start, row.period_end) != (window.start, window.end):
        return row.state != model.FAILED  # another period overlaps: the claim would be refused
    if row.state == model.COMMITTED:
        return True
    if row.state in (model.FAILED, model.NEEDS_RECONCILIATION) and backoff is not None:
        return row.updated_at + backoff(max(row.failures, 1)) > now
    return False


def _period(table: type[TenantMonth] | type[BillingMonth], window: Window) -> tuple[ColumnElement[bool], ...]:
    return table.period_start == window.start, table.period_end == window.end


def _invoice_windows(session: Session, window: Window) -> Sequence[BillingWindow]:
    """Every invoice window overlapping ``window``, of any tenant."""
    return session.scalars(
        select(BillingWindow).where(
            BillingWindow.kind == model.INVOICE,
            BillingWindow.period_start < window.end,
            window.start < BillingWindow.period_end,
        )
    ).all()
