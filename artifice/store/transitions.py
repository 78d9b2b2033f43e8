"""The window state machine: every transition is one conditional UPDATE, fenced by a lease token.

    claimed -> rated -> committing -> committed
                  \\          \\-> needs_reconciliation -> committed (found by a lookup, or an operator)
                   \\-> failed (certainly nothing in the ERP) -> claimed again, under the same reference

A claim gives the run a lease (expiry on the database's clock) and a fresh token. Every later
transition names the token in its WHERE clause; zero rows means another run took the window over
after the lease expired, and this run gets ``LostWindow``: it stops touching the window and
sends nothing more. Each transition renews the lease, and a run renews it between transitions
(``renew``), so only a run that stopped (or was cut off for longer than the lease) loses it.

Uncertainty is sticky: ``begin_attempt`` sets ``uncertain_since`` before anything is sent, and
``failed`` refuses a window whose ``uncertain_since`` is set, so once an attempt's outcome is
unknown the window can only end committed (a lookup found it) or by an operator's word.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import uuid
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.orm import Session

from artifice import model
from artifice.exceptions import LostWindow, StoreError, WindowConflict
from artifice.model import Claimed, PricedLine, Tenant
from artifice.store import db, ownership
from artifice.store.base import StoreBase, plan
from artifice.store.models import BillingWindow, InvoiceLine
from artifice.store.rows import conflict_message, line_row, new_window, settling_message
from artifice.timeutil import Window

LOG = logging.getLogger(__name__)
NOW: Any = object()  # a value of _advance: the database's time of the transition


class Transitions(StoreBase):
    # -- claiming ----------------------------------------------------------------------

    def claim(self, tenant: Tenant, window: Window, kind: str, adapter: str, run_id: str) -> Claimed:
        """Take the lease of the tenant's window of ``kind``: resume it, re-claim it, or create it.

        A window left claimed, rated, committing or needs_reconciliation is taken over once its
        lease has expired (or its holder is proven gone); one left committing also waits
        ``settle`` after its last attempt. Anything else that overlaps raises ``WindowConflict``
        naming what blocks it.
        """
        try:
            with self._write() as session:
                now = self.database_now(session)
                where = plan(session, tenant.id, window, kind)
                if where.blocking is not None:
                    return self._take_over(session, where.blocking, tenant, window, run_id, now)
                if where.reusable is not None:
                    return self._reclaim(session, where.reusable, tenant, run_id, adapter, now)
                row = new_window(tenant, window, model.CLAIMED, kind, where.revision, now)
                row.adapter, row.run_id = adapter, run_id
                token = self._hold(row, run_id, now)
                session.add(row)
                session.flush()
                return _claimed(row, tenant, token, now, resumed=False)
        except IntegrityError as exc:
            raise WindowConflict(
                f"tenant {tenant.id} {window.label}: another run claimed an overlapping window first"
            ) from exc

    def _take_over(
        self, session: Session, row: BillingWindow, tenant: Tenant, window: Window, run_id: str, now: dt.datetime
    ) -> Claimed:
        exact = (row.period_start, row.period_end) == (window.start, window.end)
        if not exact or row.state not in (*model.RESUMABLE, model.NEEDS_RECONCILIATION):
            raise WindowConflict(conflict_message(tenant.id, window, row))
        if self._held(row, now):
            raise WindowConflict(conflict_message(tenant.id, window, row))
        if row.state == model.COMMITTING and row.uncertain_since and row.uncertain_since + self.settle > now:
            raise WindowConflict(settling_message(tenant.id, window, row, row.uncertain_since + self.settle))
        token = uuid.uuid4().hex
        taken = session.execute(
            update(BillingWindow)
            .where(*_unchanged_since_read(row))  # a holder that renewed or moved on meanwhile wins
            .values(self._lease_values(token, run_id, now))
        )
        if taken.rowcount != 1:  # type: ignore[attr-defined]
            raise WindowConflict(f"tenant {tenant.id} {window.label}: another run took window {row.id} over first")
        LOG.info("run %s took over window %s (%s, left by run %s)", run_id, row.id, row.state, row.run_id)
        return _claimed(row, tenant, token, now, resumed=True)

    def _reclaim(
        self, session: Session, row: BillingWindow, tenant: Tenant, run_id: str, adapter: str, now: dt.datetime
    ) -> Claimed:
        """A failed window (nothing in the ERP) claimed again under the same reference; re-rated from scratch."""
        token = uuid.uuid4().hex
        values = {**self._lease_values(token, run_id, now), "state": model.CLAIMED, "adapter": adapter}
        values.update(total=None, currency="", uncertain_since=None, tenant_name=tenant.name or row.tenant_name)
        taken = session.execute(
            update(BillingWindow).where(BillingWindow.id == row.id, BillingWindow.state == model.FAILED).values(values)
        )
        if taken.rowcount != 1:  # type: ignore[attr-defined]
            raise WindowConflict(f"tenant {tenant.id}: another run re-claimed failed window {row.id} first")
        session.execute(delete(InvoiceLine).where(InvoiceLine.window_id == row.id))
        session.expire(row)
        return _claimed(row, tenant, token, now, resumed=True)

    def _held(self, row: BillingWindow, now: dt.datetime) -> bool:
        """Whether a live run holds the window: a lease not expired, of a holder not proven gone."""
        if row.lease_token is None or row.lease_expires_at is None or row.lease_expires_at <= now:
            return False
        return not ownership.proven_gone(row.owner_proof)

    def _hold(self, row: BillingWindow, run_id: str, now: dt.datetime) -> str:
        token = uuid.uuid4().hex
        for key, value in self._lease_values(token, run_id, now).items():
            setattr(row, key, value)
        return token

    def _lease_values(self, token: str, run_id: str, now: dt.datetime) -> dict[str, Any]:
        return {
            "lease_token": token,
            "lease_expires_at": now + self.lease,
            "run_id": run_id,
            "owner": ownership.display(),
            "owner_proof": ownership.proof(),
            "updated_at": now,
        }

    # -- the holder's transitions ------------------------------------------------------

    def renew(self, window_id: int, token: str) -> bool:
        """Extend the lease; False when it is no longer ours."""
        with self._write() as session:
            now = self.database_now(session)
            renewed = session.execute(
                update(BillingWindow)
                .where(BillingWindow.id == window_id, BillingWindow.lease_token == token)
                .values(lease_expires_at=now + self.lease)
            )
            return bool(renewed.rowcount == 1)  # type: ignore[attr-defined]

    def hold(self, claimed: Claimed) -> Claimed:
        """Renew the lease and read the database's time; raises ``LostWindow`` when it is no longer ours."""
        return self._advance(claimed, (claimed.state,), claimed.state, {})

    def record_lines(self, claimed: Claimed, lines: Sequence[PricedLine], currency: str) -> Claimed:
        """Store the priced lines and move CLAIMED -> RATED, in one transaction."""
        total = sum((line.amount for line in lines), Decimal(0))

        def add_lines(session: Session) -> None:
            for line in lines:
                row = line_row(line)
                row.window_id = claimed.id
                session.add(row)

        moved = self._advance(claimed, (model.CLAIMED,), model.RATED, {"currency": currency, "total": total}, add_lines)
        return dataclasses.replace(moved, currency=currency)

    def begin_attempt(self, claimed: Claimed) -> Claimed:
        """About to send: COMMITTING, one more attempt, and uncertain from now until an answer says otherwise."""
        values = {"attempts": BillingWindow.attempts + 1, "uncertain_since": NOW}
        moved = self._advance(claimed, (model.RATED, model.COMMITTING), model.COMMITTING, values)
        return dataclasses.replace(moved, attempts=claimed.attempts + 1, uncertain_since=moved.now)

    def not_sent(self, claimed: Claimed, uncertain_since: dt.datetime | None) -> Claimed:
        """The attempt certainly never reached the ERP: the uncertainty is what it was before it."""
        moved = self._advance(claimed, (model.COMMITTING,), model.COMMITTING, {"uncertain_since": uncertain_since})
        return dataclasses.replace(moved, uncertain_since=uncertain_since)

    def committed(self, claimed: Claimed, external_id: str | None) -> Claimed:
        """The ERP has it (it answered, or a lookup found it, also for a window re-claimed after a refusal)."""
        expected = (model.RATED, model.COMMITTING, model.NEEDS_RECONCILIATION)
        values = {"external_id": external_id, "error": None, **_released()}
        return self._advance(claimed, expected, model.COMMITTED, values, committed_at=True)

    def nothing_to_send(self, claimed: Claimed) -> Claimed:
        """A month without lines: recorded as billed (total 0), nothing sent."""
        values = {"error": None, **_released()}
        return self._advance(claimed, (model.RATED,), model.COMMITTED, values, committed_at=True)

    def failed(self, claimed: Claimed, error: str) -> Claimed:
        """Nothing reached the ERP: FAILED, and the month is billed again under the same reference.

        Refused (``StoreError``) once an attempt's outcome is unknown: uncertainty is sticky.
        """
        values = {"error": error, "failures": BillingWindow.failures + 1, **_released()}
        return self._advance(claimed, model.RESUMABLE, model.FAILED, values, certain=True)

    def unsettled(self, claimed: Claimed, error: str) -> Claimed:
        """The ERP may hold the invoice and a lookup cannot tell: a lookup or an operator must settle it."""
        expected = (model.COMMITTING, model.NEEDS_RECONCILIATION)
        return self._advance(claimed, expected, model.NEEDS_RECONCILIATION, {"error": error, **_released()})

    def release_lease(self, window_id: int, token: str) -> bool:
        """Give the lease up whatever the state (after an unexpected error); False if it was not ours."""
        with self._write() as session:
            released = session.execute(
                update(BillingWindow)
                .where(BillingWindow.id == window_id, BillingWindow.lease_token == token)
                .values(_released())
            )
            return bool(released.rowcount == 1)  # type: ignore[attr-defined]

    def release(self, claimed: Claimed, error: str | None) -> Claimed:
        """Give the lease up, state unchanged, so that the next run (in any process) resumes at once."""
        values: dict[str, Any] = _released() if error is None else {"error": error, **_released()}
        return self._advance(claimed, (claimed.state,), claimed.state, values)

    def _advance(
        self,
        claimed: Claimed,
        expected: tuple[str, ...],
        new: str,
        values: dict[str, Any],
        also: Any = None,
        *,
        committed_at: bool = False,
        certain: bool = False,
    ) -> Claimed:
        with self._write() as session:
            now = self.database_now(session)
            conditions = [
                BillingWindow.id == claimed.id,
                BillingWindow.state.in_(expected),
                BillingWindow.lease_token == claimed.token,
            ]
            if certain:
                conditions.append(BillingWindow.uncertain_since.is_(None))
            changes = {"lease_expires_at": now + self.lease, **values, "state": new, "updated_at": now}
            changes = {key: now if value is NOW else value for key, value in changes.items()}
            if committed_at:
                changes["committed_at"] = now
            moved = session.execute(update(BillingWindow).where(*conditions).values(changes))
            if moved.rowcount != 1:  # type: ignore[attr-defined]
                raise self._lost(session, claimed, expected, new)
            if also is not None:
                also(session)
        return dataclasses.replace(claimed, state=new, now=now)

    def _lost(self, session: Session, claimed: Claimed, expected: tuple[str, ...], new: str) -> StoreError:
        row = session.get(BillingWindow, claimed.id)
        what = f"tenant {claimed.tenant.id} {claimed.window.label}: window {claimed.id}"
        if row is None:
            return LostWindow(f"{what} no longer exists")
        if row.lease_token != claimed.token:
            return LostWindow(
                f"{what} was taken over by run {row.run_id} (this run's lease had expired); "
                "this run stopped and sends nothing more"
            )
        if new == model.FAILED and row.uncertain_since is not None:
            return StoreError(f"{what} may be in the ERP, so it cannot be marked failed")
        return StoreError(f"{what} is {row.state}, not {'/'.join(expected)}: nothing was changed")

    # -- an operator's word ------------------------------------------------------------

    def reconcile(self, window_id: int, committed: bool, external_id: str | None, note: str) -> BillingWindow:
        """An operator's verdict after checking the ERP: it holds the invoice, or it does not."""
        # The operator has looked: "it is there" settles any window not being rated; "it is not" any unfinished one.
        there = (model.RATED, model.COMMITTING, model.NEEDS_RECONCILIATION, model.FAILED)
        allowed = there if committed else (*model.RESUMABLE, model.NEEDS_RECONCILIATION)
        with self._write() as session:
            now = self.database_now(session)
            row = session.get(BillingWindow, window_id)
            if row is None:
                raise StoreError(f"no billing window {window_id}; `artifice windows` lists them")
            if row.state not in allowed:
                raise StoreError(
                    f"billing window {window_id} is {row.state}; --as {'committed' if committed else 'failed'} "
                    f"settles only {', '.join(allowed)} windows"
                )
            if self._held(row, now):
                raise StoreError(
                    f"billing window {window_id} is held by run {row.run_id} on {row.owner} until "
                    f"{row.lease_expires_at:%Y-%m-%d %H:%M:%S} UTC; reconcile it after that"
                )
            values: dict[str, Any] = {**_released(), "updated_at": now}
            if committed:
                values.update(state=model.COMMITTED, external_id=external_id, committed_at=now, error=None)
            else:
                values.update(state=model.FAILED, error=note, uncertain_since=None)
            try:
                moved = session.execute(update(BillingWindow).where(*_unchanged_since_read(row)).values(values))
            except IntegrityError as exc:
                raise StoreError(
                    f"billing window {window_id}: another window of this tenant overlaps it and is not failed; "
                    "`artifice windows` shows it"
                ) from exc
            if moved.rowcount != 1:  # type: ignore[attr-defined]
                raise StoreError(f"billing window {window_id} changed meanwhile; look at it again")
            session.refresh(row)
            return row

    # -- estimates ---------------------------------------------------------------------

    def save_estimate(
        self, tenant: Tenant, window: Window, currency: str, lines: Sequence[PricedLine], computed_at: dt.datetime
    ) -> None:
        """Replace the tenant's month-to-date estimate: a window of kind ESTIMATE, never sent."""
        try:
            with self._write() as session:
                old = select(BillingWindow).where(
                    BillingWindow.tenant_id == tenant.id, BillingWindow.kind == model.ESTIMATE
                )
                for row in session.scalars(old):
                    session.delete(row)
                session.flush()
                row = new_window(tenant, window, model.ESTIMATED, model.ESTIMATE, 1, computed_at)
                row.external_reference = "EST-" + row.external_reference.removeprefix("ART-")
                row.currency, row.run_id = currency, "estimate"
                row.total = sum((line.amount for line in lines), Decimal(0))
                row.lines = [line_row(line) for line in lines]
                session.add(row)
        except SQLAlchemyError as exc:
            raise StoreError(f"cannot store the estimate of tenant {tenant.id}: {db.describe(exc)}") from exc


def _unchanged_since_read(row: BillingWindow) -> tuple[Any, ...]:
    """WHERE clauses true only if nobody moved or renewed the window since ``row`` was read."""
    return (
        BillingWindow.id == row.id,
        BillingWindow.state == row.state,
        BillingWindow.lease_token.is_not_distinct_from(row.lease_token),
        BillingWindow.lease_expires_at.is_not_distinct_from(row.lease_expires_at),
    )


def _released() -> dict[str, Any]:
    return {"lease_token": None, "lease_expires_at": None}


def _claimed(row: BillingWindow, tenant: Tenant, token: str, now: dt.datetime, resumed: bool) -> Claimed:
    return Claimed(
        id=row.id,
        tenant=tenant,
        window=Window(row.period_start, row.period_end),
        kind=row.kind,
        revision=row.revision,
        reference=row.external_reference,
        state=row.state if resumed else model.CLAIMED,
        token=token,
        attempts=row.attempts or 0,
        uncertain_since=row.uncertain_since,
        currency=row.currency,
        resumed=resumed,
        now=now,
    )
