"""What the store's readers and writers share: sessions, one-line errors, and the database clock."""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
from collections.abc import Iterator, Sequence

from sqlalchemy import Engine, select, text
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.orm import Session

from artifice import model
from artifice.exceptions import StoreError, WindowConflict
from artifice.store import db
from artifice.store.models import BillingWindow
from artifice.timeutil import Window, as_utc

_NOW = {
    "sqlite": "SELECT strftime('%Y-%m-%d %H:%M:%f', 'now')",
    "postgresql": "SELECT clock_timestamp()",
}


FIVE_MINUTES = dt.timedelta(minutes=5)


class StoreBase:
    """``lease`` is how long a claim lasts unless renewed; ``settle`` how long after an attempt of
    unknown outcome the window may be sent again (the ERP may still be handling it)."""

    def __init__(self, engine: Engine, lease: dt.timedelta = FIVE_MINUTES, settle: dt.timedelta = FIVE_MINUTES) -> None:
        self.engine = engine
        self.lease = lease
        self.settle = settle

    @contextlib.contextmanager
    def _session(self) -> Iterator[Session]:
        """A read session whose database errors become one-line StoreErrors."""
        try:
            with Session(self.engine, expire_on_commit=False) as session:
                yield session
        except IntegrityError:
            raise
        except SQLAlchemyError as exc:
            raise StoreError(f"billing database: {db.describe(exc)}") from exc

    @contextlib.contextmanager
    def _write(self) -> Iterator[Session]:
        """One write transaction (on SQLite, holding the write lock from its first statement).

        IntegrityError is left to the caller: claims turn it into a WindowConflict.
        """
        try:
            with self.engine.connect() as connection:
                connection.execution_options(**{db.WRITE_OPTION: True})
                with Session(bind=connection, expire_on_commit=False) as session, session.begin():
                    yield session
        except IntegrityError:
            raise
        except SQLAlchemyError as exc:
            raise StoreError(f"billing database: {db.describe(exc)}") from exc

    def database_now(self, session: Session) -> dt.datetime:
        """The database server's clock: the one clock every host agrees on for leases."""
        value = session.scalar(text(_NOW.get(self.engine.dialect.name, "SELECT CURRENT_TIMESTAMP")))
        moment = dt.datetime.fromisoformat(value) if isinstance(value, str) else value
        if not isinstance(moment, dt.datetime):
            raise StoreError(f"billing database: the clock answered {value!r}")
        return as_utc(moment)


@dataclasses.dataclass(frozen=True)
class Plan:
    """Where a claim of a tenant's window of one kind stands."""

    blocking: BillingWindow | None  # a window that must be resumed or that refuses the claim
    reusable: BillingWindow | None  # a failed window of exactly this period, re-claimed under its reference
    revision: int  # the revision of a new window when neither exists


def plan(session: Session, tenant_id: str, window: Window, kind: str) -> Plan:
    """What a claim of ``window`` would do: resume, be refused, re-claim a failed window, or insert."""
    same = same_period(session, tenant_id, window)
    revision = max((row.revision for row in same), default=0) + 1
    if kind == model.ADJUSTMENT:
        if not any(r.kind == model.INVOICE and r.state == model.COMMITTED for r in same):
            raise WindowConflict(
                f"tenant {tenant_id} {window.label}: no committed invoice of exactly this month to re-bill; "
                "bill it first"
            )
        unfinished = [r for r in same if r.kind == kind and r.state in (*model.RESUMABLE, model.NEEDS_RECONCILIATION)]
        blocking = unfinished[0] if unfinished else None
    else:
        overlapping = session.scalars(
            select(BillingWindow)
            .where(
                BillingWindow.tenant_id == tenant_id,
                BillingWindow.state != model.FAILED,
                BillingWindow.kind == model.INVOICE,
                BillingWindow.period_start < window.end,
                window.start < BillingWindow.period_end,
            )
            .order_by(BillingWindow.period_start)
        ).all()
        blocking = overlapping[0] if overlapping else None
    ours = [r for r in same if r.kind == kind]
    reusable = ours[-1] if ours and ours[-1].state == model.FAILED else None
    return Plan(blocking, reusable, revision)


def same_period(session: Session, tenant_id: str, window: Window) -> Sequence[BillingWindow]:
    """The tenant's windows of exactly this period (invoice, adjustments), by revision."""
    return session.scalars(
        select(BillingWindow)
        .where(
            BillingWindow.tenant_id == tenant_id,
            BillingWindow.period_start == window.start,
            BillingWindow.period_end == window.end,
            BillingWindow.kind != model.ESTIMATE,
        )
        .order_by(BillingWindow.revision)
    ).all()
