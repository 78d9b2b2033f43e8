"""Counts and totals remembered per database snapshot, so that an unchanged database is not summed again.

A list's ``meta.total`` and its ``includeTotals`` sums cover every matching row, not one page:
over 100,000 line items that is tens of milliseconds of SQL per request. Between billing runs
the database does not change, so the API keeps each such figure under a key that changes
whenever a committed write could have changed it:

- PostgreSQL: the transaction's snapshot (``txid_current_snapshot()``). Read requests run in
  REPEATABLE READ, READ ONLY transactions, so every statement of a request sees that one
  snapshot; two equal snapshots see the same committed transactions, hence the same rows.
- SQLite: ``data_revisions.revision``, which triggers (migrations 0006, 0007) set to a random
  64-bit value on every insert, update and delete of the invoice tables (random, not counted:
  a restored backup must not bring back numbers already seen), read in the request's own
  transaction. If those triggers are missing (a schema rebuilt by hand), nothing is remembered.

Any other database gets no key, and every figure is computed each time. An entry is only
found again under the same snapshot, so a remembered figure is always the one the request's
own transaction would compute.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import TypeVar

from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

T = TypeVar("T")
ENTRIES = 2048
BUDGET = 64 * 2**20  # bytes of remembered answers and figures
SMALL = 256  # what a count or a tuple of sums is counted as
TRIGGERS = 12  # four tables, three events (migrations 0006, 0007)
LOG = logging.getLogger(__name__)
_KEY = "artifice_snapshot"  # in Session.info: (the transaction, its snapshot's key)


class SnapshotCache:
    """An LRU of figures keyed by (database snapshot, what was asked), bounded in entries and in bytes.

    A figure's weight is its length when it is ``bytes`` (a whole answer), else ``SMALL``.
    """

    def __init__(self, engine: Engine, entries: int = ENTRIES, budget: int = BUDGET) -> None:
        self._entries: OrderedDict[Hashable, object] = OrderedDict()
        self._size, self._budget, self._weight = entries, budget, 0
        self._lock = threading.Lock()
        self._computing: dict[Hashable, threading.Lock] = {}
        self._dialect = engine.dialect.name
        if self._dialect == "sqlite" and _sqlite_triggers(engine) < TRIGGERS:
            LOG.warning("the data_revision triggers are missing: counts and totals are computed on every request")
            self._dialect = "none"

    def figure(self, database: Session, asked: Hashable, compute: Callable[[], T]) -> T:
        """What ``compute`` answers in ``database``'s transaction, remembered for its snapshot."""
        snapshot = self._snapshot(database)
        if snapshot is None:
            return compute()
        key = (snapshot, asked)
        with self._lock:
            if key in self._entries:
                self._entries.move_to_end(key)
                return self._entries[key]  # type: ignore[return-value]
            computing = self._computing.setdefault(key, threading.Lock())
        with computing:  # one request computes a figure; the others asking for it meanwhile wait for it
            with self._lock:
                if key in self._entries:
                    return self._entries[key]  # type: ignore[return-value]
            try:
                value = compute()
            finally:
                with self._lock:
                    self._computing.pop(key, None)
            if _weight(value) > self._budget:
                return value  # larger than all the room there is: not remembered
            with self._lock:
                self._entries[key] = value
                self._weight += _weight(value)
                while len(self._entries) > self._size or self._weight > self._budget:
                    self._weight -= _weight(self._entries.popitem(last=False)[1])
        return value

    def _snapshot(self, database: Session) -> Hashable | None:
        """The key of ``database``'s snapshot, read once per transaction (a request's one snapshot)."""
        transaction = database.get_transaction()
        remembered: tuple[object, Hashable | None] | None = database.info.get(_KEY)
        if transaction is not None and remembered is not None and remembered[0] is transaction:
            return remembered[1]
        key = self._read_snapshot(database)
        database.info[_KEY] = (database.get_transaction(), key)
        return key

    def _read_snapshot(self, database: Session) -> Hashable | None:
        if self._dialect == "postgresql":
            # with the server's start: a server restored from a backup may hand out the same snapshots again
            return str(database.scalar(text("SELECT txid_current_snapshot()::text || pg_postmaster_start_time()")))
        if self._dialect == "sqlite":
            return int(database.scalar(text("SELECT revision FROM data_revisions WHERE id = 1")) or 0)
        return None


def _weight(value: object) -> int:
    return len(value) if isinstance(value, bytes) else SMALL


def _sqlite_triggers(engine: Engine) -> int:
    query = "SELECT count(*) FROM sqlite_master WHERE type = 'trigger' AND name LIKE 'data_revision_%'"
    with engine.connect() as connection:
        return int(connection.scalar(text(query)) or 0)
