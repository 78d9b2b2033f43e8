"""The transactional operations that make billing safe.

A run claims a window (one row) before it prices anything; the database
refuses a second non-failed window overlapping it for the same tenant, so
two runs can never both commit. Each later step moves the row forward in its
own transaction, together with the data the step produced.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
from collections.abc import Iterator, Sequence
from decimal import Decimal

from sqlalchemy import Engine, func, select, update
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.orm import Session, selectinload

from artifice.exceptions import StoreError, WindowConflict
from artifice.invoice import Tenant
from artifice.store import db, models, ownership
from artifice.store.models import BillingWindow, InvoiceLine, LineResource
from artifice.timeutil import Window, utcnow


@dataclasses.dataclass(frozen=True)
class PricedLine:
    datacenter: str
    service: str
    category: str
    unit: str
    quantity: Decimal
    unit_price: Decimal
    amount: Decimal
    resources: tuple[tuple[str, Decimal], ...] = ()
    item_type: str = models.USAGE


def external_reference(tenant_id: str, window: Window, revision: int) -> str:
    """Deterministic id of one invoice, sent to the ERP so it can be found again."""
    return f"ART-{tenant_id}-{window.start:%Y%m%d}-{window.end:%Y%m%d}-r{revision}"


class WindowStore:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    @contextlib.contextmanager
    def _session(self) -> Iterator[Session]:
        """A session whose database errors become one-line StoreErrors (IntegrityError stays: claims use it)."""
        try:
            with Session(self.engine, expire_on_commit=False) as session:
                yield session
        except IntegrityError:
            raise
        except SQLAlchemyError as exc:
            raise StoreError(f"billing database: {db.describe(exc)}") from exc

    def claim(
        self,
        tenant: Tenant,
        window: Window,
        adapter: str,
        run_id: str,
        stale_after: dt.timedelta,
        settle: dt.timedelta = dt.timedelta(0),
        kind: str = models.INVOICE,
    ) -> BillingWindow:
        """Own the tenant's window: a new CLAIMED row, or one whose run is gone.

        A window left CLAIMED, RATED or COMMITTING by a run that died is taken
        over as it is (the caller resumes from its state). One left COMMITTING
        waits ``settle`` after the commit began, for the ERP to finish a request
        it may still be handling. Anything else that overlaps raises
        ``WindowConflict`` naming what blocks it. An ADJUSTMENT of a month
        needs its invoice committed, and is blocked only by another
        adjustment of the month in progress.
        """
        now = utcnow()
        try:
            with self._session() as session, session.begin():
                blocking = self._overlapping(session, tenant.id, window)
                if kind == models.ADJUSTMENT:
                    blocking = self._adjustable(session, tenant.id, window)
                for row in blocking:
                    if row.state in RESUMABLE and ownership.is_gone(row.owner, row.updated_at, now, stale_after):
                        if row.state == models.COMMITTING and row.updated_at > now - settle:
                            raise WindowConflict(_settling_message(tenant.id, window, row, settle))
                        row.run_id, row.owner, row.updated_at = run_id, ownership.this_process(), now
                        return row
                    raise WindowConflict(_conflict_message(tenant.id, window, row))
                earlier = session.scalar(
                    select(func.count()).where(
                        BillingWindow.tenant_id == tenant.id,
                        BillingWindow.period_start == window.start,
                        BillingWindow.period_end == window.end,
                    )
                )
                revision = int(earlier or 0) + 1
                row = _new_window(tenant, window, models.CLAIMED, kind, revision, now)
                row.adapter, row.run_id, row.owner = adapter, run_id, ownership.this_process()
                session.add(row)
        except IntegrityError as exc:
            raise WindowConflict(
                f"tenant {tenant.id} {window.label}: another run claimed an overlapping window first"
            ) from exc
        except SQLAlchemyError as exc:
            raise StoreError(f"cannot claim tenant {tenant.id} {window.label}: {db.describe(exc)}") from exc
        return row

    def _overlapping(self, session: Session, tenant_id: str, window: Window) -> Sequence[BillingWindow]:
        return session.scalars(
            select(BillingWindow)
            .where(
                BillingWindow.tenant_id == tenant_id,
                BillingWindow.state != models.FAILED,
                BillingWindow.kind == models.INVOICE,
                BillingWindow.period_start < window.end,
                window.start < BillingWindow.period_end,
            )
            .order_by(BillingWindow.period_start)
        ).all()

    def _adjustable(self, session: Session, tenant_id: str, window: Window) -> Sequence[BillingWindow]:
        """The adjustments of this month still in progress; raises if the month has no invoice to adjust."""
        rows = self._same_period(session, tenant_id, window)
        if not any(r.kind == models.INVOICE and r.state == models.COMMITTED for r in rows):
            raise WindowConflict(
                f"tenant {tenant_id} {window.label}: no committed invoice of exactly this month to re-bill; "
                "bill it first"
            )
        unfinished = (*RESUMABLE, models.NEEDS_RECONCILIATION)
        return [r for r in rows if r.kind == models.ADJUSTMENT and r.state in unfinished]

    def _same_period(self, session: Session, tenant_id: str, window: Window) -> Sequence[BillingWindow]:
        return session.scalars(
            select(BillingWindow)
            .options(selectinload(BillingWindow.lines).selectinload(InvoiceLine.resources))
            .where(
                BillingWindow.tenant_id == tenant_id,
                BillingWindow.period_start == window.start,
                BillingWindow.period_end == window.end,
            )
            .order_by(BillingWindow.revision)
        ).all()

    def billed_lines(self, tenant_id: str, window: Window) -> tuple[str | None, list[PricedLine]]:
        """The committed invoice's reference and every committed line of the month (invoice and adjustments)."""
        with self._session() as session:
            rows = [r for r in self._same_period(session, tenant_id, window) if r.state == models.COMMITTED]
            invoice = next((r.external_reference for r in rows if r.kind == models.INVOICE), None)
            return invoice, [_priced(line) for row in rows for line in row.lines]

    def newest_billed(self) -> Window | None:
        """The period of the newest committed invoice, of any tenant."""
        with self._session() as session:
            row = session.execute(
                select(BillingWindow.period_start, BillingWindow.period_end)
                .where(BillingWindow.kind == models.INVOICE, BillingWindow.state == models.COMMITTED)
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
                        BillingWindow.kind == models.INVOICE,
                        BillingWindow.state.in_((models.COMMITTED, models.NEEDS_RECONCILIATION)),
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
                .where(BillingWindow.kind == models.INVOICE, BillingWindow.state == models.COMMITTED)
                .order_by(BillingWindow.period_end)
            ).all()
            return {tenant: Window(start, end) for tenant, start, end in rows}

    def save_estimate(
        self,
        tenant: Tenant,
        window: Window,
        currency: str,
        lines: Sequence[PricedLine],
        computed_at: dt.datetime,
    ) -> None:
        """Replace the tenant's month-to-date estimate: a window of kind ESTIMATE, never sent."""
        with self._session() as session, session.begin():
            old = select(BillingWindow).where(
                BillingWindow.tenant_id == tenant.id, BillingWindow.kind == models.ESTIMATE
            )
            for row in session.scalars(old):
                session.delete(row)
            session.flush()
            row = _new_window(tenant, window, models.ESTIMATED, models.ESTIMATE, 1, computed_at)
            row.external_reference = "EST-" + row.external_reference.removeprefix("ART-")
            row.currency, row.run_id = currency, "estimate"
            row.total = sum((line.amount for line in lines), Decimal(0))
            row.lines = [_line_row(line) for line in lines]
            session.add(row)

    def blocking(self, tenant_id: str, window: Window) -> BillingWindow | None:
        """The non-failed window that would block billing ``window``, if any."""
        with self._session() as session:
            rows = self._overlapping(session, tenant_id, window)
            return rows[0] if rows else None

    def lines(self, window_id: int) -> list[PricedLine]:
        """The priced lines recorded for a window, to resume it exactly as rated."""
        with self._session() as session:
            rows = session.scalars(
                select(InvoiceLine)
                .options(selectinload(InvoiceLine.resources))
                .where(InvoiceLine.window_id == window_id)
                .order_by(InvoiceLine.id)
            ).all()
            return [_priced(r) for r in rows]

    def record_lines(self, window_id: int, lines: Sequence[PricedLine], currency: str, total: Decimal) -> None:
        """Store the priced lines and move CLAIMED -> RATED, in one transaction."""
        with self._session() as session, session.begin():
            self._advance(session, window_id, models.CLAIMED, models.RATED, currency=currency, total=total)
            for line in lines:
                row = _line_row(line)
                row.window_id = window_id
                session.add(row)

    def mark_committing(self, window_id: int) -> None:
        with self._session() as session, session.begin():
            self._advance(session, window_id, (models.RATED, models.COMMITTING), models.COMMITTING)

    def mark_committed(self, window_id: int, external_id: str | None) -> None:
        with self._session() as session, session.begin():
            self._advance(
                session,
                window_id,
                (models.COMMITTING, models.NEEDS_RECONCILIATION),
                models.COMMITTED,
                external_id=external_id,
                committed_at=utcnow(),
                error=None,
            )

    def mark_failed(self, window_id: int, error: str) -> None:
        """A window whose invoice never reached the ERP: the month may be billed again."""
        with self._session() as session, session.begin():
            self._advance(session, window_id, (*RESUMABLE, models.NEEDS_RECONCILIATION), models.FAILED, error=error)

    def mark_uncertain(self, window_id: int, error: str, can_look_up: bool) -> None:
        """The ERP may or may not have the invoice.

        With an adapter that can look invoices up, the window stays COMMITTING
        and the next run reconciles it; otherwise an operator must.
        """
        new = models.COMMITTING if can_look_up else models.NEEDS_RECONCILIATION
        with self._session() as session, session.begin():
            # Released (no owner): the next run, even in this process, reconciles it.
            self._advance(session, window_id, models.COMMITTING, new, error=error, owner="")

    def reconcile(self, window_id: int, committed: bool, external_id: str | None, note: str) -> BillingWindow:
        """An operator's verdict on a window whose invoice may or may not be in the ERP."""
        with self._session() as session, session.begin():
            row = session.get(BillingWindow, window_id)
            if row is None:
                raise StoreError(f"no billing window {window_id}; `artifice windows` lists them")
            if row.state not in (models.NEEDS_RECONCILIATION, models.COMMITTING):
                raise StoreError(
                    f"billing window {window_id} is {row.state}; only needs_reconciliation or committing "
                    "windows are reconciled by hand"
                )
            if committed:
                values: dict[str, object] = {"external_id": external_id, "committed_at": utcnow(), "error": None}
                self._advance(session, window_id, row.state, models.COMMITTED, **values)
            else:
                self._advance(session, window_id, row.state, models.FAILED, error=note)
            session.refresh(row)
            return row

    def _advance(
        self, session: Session, window_id: int, expected: str | tuple[str, ...], new: str, **values: object
    ) -> None:
        allowed = (expected,) if isinstance(expected, str) else expected
        result = session.execute(
            update(BillingWindow)
            .where(BillingWindow.id == window_id, BillingWindow.state.in_(allowed))
            .values(state=new, updated_at=utcnow(), **values)
        )
        if result.rowcount != 1:  # type: ignore[attr-defined]
            raise StoreError(f"billing window {window_id} is no longer in state {'/'.join(allowed)}")

    def windows(self, tenant_id: str | None = None) -> list[BillingWindow]:
        query = select(BillingWindow).options(selectinload(BillingWindow.lines).selectinload(InvoiceLine.resources))
        if tenant_id:
            query = query.where(BillingWindow.tenant_id == tenant_id)
        with self._session() as session:
            return list(
                session.scalars(query.order_by(BillingWindow.tenant_id, BillingWindow.period_start, BillingWindow.id))
            )


RESUMABLE = (models.CLAIMED, models.RATED, models.COMMITTING)


def _conflict_message(tenant_id: str, window: Window, row: BillingWindow) -> str:
    existing = Window(row.period_start, row.period_end).label
    what = f"tenant {tenant_id} {window.label}:"
    if row.state == models.COMMITTED:
        when = f"{row.committed_at:%Y-%m-%d %H:%M} UTC"
        return f"{what} already billed ({existing}, committed {when} as {row.external_reference})"
    if row.state == models.NEEDS_RECONCILIATION:
        return (
            f"{what} the ERP may or may not hold invoice {row.external_reference} ({existing}); check it, then "
            f"run `artifice reconcile --window {row.id} --as committed|failed`"
        )
    since = f"{row.updated_at:%Y-%m-%d %H:%M} UTC"
    return f"{what} run {row.run_id} is billing {existing} (state {row.state} since {since})"


def _settling_message(tenant_id: str, window: Window, row: BillingWindow, settle: dt.timedelta) -> str:
    after = row.updated_at + settle
    return (
        f"tenant {tenant_id} {window.label}: run {row.run_id} stopped while committing "
        f"{row.external_reference}; the ERP may still be handling it, so it is looked up and "
        f"resumed after {after:%Y-%m-%d %H:%M:%S} UTC ([billing] commit_settle_time)"
    )


def _new_window(
    tenant: Tenant, window: Window, state: str, kind: str, revision: int, now: dt.datetime
) -> BillingWindow:
    return BillingWindow(
        tenant_id=tenant.id,
        tenant_name=tenant.name,
        period_start=window.start,
        period_end=window.end,
        state=state,
        kind=kind,
        revision=revision,
        adapter="",
        external_reference=external_reference(tenant.id, window, revision),
        currency="",
        run_id="",
        owner="",
        created_at=now,
        updated_at=now,
    )


def _line_row(line: PricedLine) -> InvoiceLine:
    # A line without per-resource detail (a plugin item) is its own detail row, so
    # that every line has line items in the read API.
    resources = line.resources or (("", line.quantity),)
    return InvoiceLine(
        datacenter=line.datacenter,
        service=line.service,
        category=line.category,
        item_type=line.item_type,
        unit=line.unit,
        quantity=line.quantity,
        unit_price=line.unit_price,
        amount=line.amount,
        resources=[LineResource(resource_id=r, quantity=q) for r, q in resources],
    )


def _priced(line: InvoiceLine) -> PricedLine:
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
    )
