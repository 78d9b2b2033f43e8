"""The one month loop: ``artifice bill --all``, the daemon's billing passes and its estimates.

A month is billed only once it has ended. Its tenants are listed from telemetry and Keystone and
recorded (``artifice.store.listings``), so that each tenant-month stays due until its invoice is
committed, whatever happens to other tenants or later months. The loop bills the due tenants one
by one, those this process owns on the ring, and goes on past a tenant that fails.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import threading
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

from artifice.billing.calendar import due_months, last_due, refuse_unfinished
from artifice.exceptions import ArtificeError, WindowConflict
from artifice.model import Tenant
from artifice.store.listings import Backoff
from artifice.timeutil import Window, utcnow

if TYPE_CHECKING:  # the loop is handed a pipeline: importing it is its maker's business
    from artifice.billing.pipeline import BillResult, Pipeline

__all__ = ["MonthLoop", "Outcome", "due_months", "last_due"]

LOG = logging.getLogger(__name__)


@dataclasses.dataclass
class Outcome:
    """What billing one tenant-month came to."""

    tenant: Tenant
    window: Window
    result: BillResult | None = None  # committed, or a dry run
    error: ArtificeError | None = None  # it failed: the month stays due
    skipped: str = ""  # another run holds it, or it waits for an operator


class MonthLoop:
    def __init__(
        self,
        pipeline: Pipeline,
        owns: Callable[[str], bool] = lambda tenant_id: True,
        stopping: threading.Event | None = None,
    ) -> None:
        self.pipeline = pipeline
        self.owns = owns
        self.stopping = stopping or threading.Event()
        self.listed = self.due = 0  # of the last month billed: tenants listed, and those due

    def tenants(self, window: Window, relist: bool | dt.timedelta, origin: str = "bill") -> list[Tenant]:
        """The month's tenants (all of them, whatever [tenants] filters): listed now and recorded, or
        as recorded (``relist`` False: any listing; a timedelta: one younger than that)."""
        store = self.pipeline.store
        known = None if relist is True else store.listed(window, None if relist is False else relist)
        if known is not None:
            return known
        tenants = self.pipeline.tenants(window)
        store.record_listing(window, tenants, origin)
        return tenants

    def bill(
        self,
        window: Window,
        *,
        relist: bool | dt.timedelta = True,
        backoff: Backoff | None = None,
        progress: Callable[[int, int, Tenant], None] | None = None,
        origin: str = "bill",
    ) -> Iterator[Outcome]:
        """Bill every due tenant of a month that has ended."""
        refuse_unfinished(window, utcnow())
        store = self.pipeline.store
        listed = self.pipeline.billed(self.tenants(window, relist, origin))
        due = store.due_tenants(window, listed, backoff)
        mine = [t for t in due if self.owns(t.id)]
        self.listed, self.due = len(listed), len(due)
        self.pipeline.plan(window, mine)
        for index, tenant in enumerate(mine):
            if self.stopping.is_set():
                return
            if progress:
                progress(index, len(mine), tenant)
            yield self._bill(tenant, window)

    def _bill(self, tenant: Tenant, window: Window) -> Outcome:
        try:
            return Outcome(tenant, window, result=self.pipeline.bill(tenant, window))
        except WindowConflict as exc:
            return Outcome(tenant, window, skipped=str(exc))
        except ArtificeError as exc:
            return Outcome(tenant, window, error=exc)

    def preview(self, window: Window) -> Iterator[Outcome]:
        """What billing every tenant of ``window`` would send (a dry run: nothing is written)."""
        tenants = [t for t in self.pipeline.billed(self.pipeline.tenants(window)) if self.owns(t.id)]
        yield from self._each(window, tenants, dry_run=True, rebill=False)

    def rebill(self, window: Window, dry_run: bool = False) -> Iterator[Outcome]:
        """Re-bill every tenant whose ``window`` is billed, each on its own (unchanged ones send nothing)."""
        refuse_unfinished(window, utcnow())
        listed = self.pipeline.billed(self.tenants(window, relist=False))
        # Those the listing has and those billed by hand (--force-tenant) that it may not.
        invoiced = {t.id: t for t in self.pipeline.billed(self.pipeline.store.billed_tenants(window))}
        billed = [invoiced.get(t.id, t) for t in listed if t.id in invoiced]
        billed += [t for t in invoiced.values() if t.id not in {x.id for x in listed}]
        billed = [t for t in billed if self.owns(t.id)]
        self.listed, self.due = len({t.id for t in listed} | set(invoiced)), len(billed)
        yield from self._each(window, billed, dry_run, rebill=True)

    def _each(self, window: Window, tenants: list[Tenant], dry_run: bool, rebill: bool) -> Iterator[Outcome]:
        self.pipeline.plan(window, tenants)
        for tenant in tenants:
            if self.stopping.is_set():
                return
            try:
                yield Outcome(tenant, window, result=self.pipeline.bill(tenant, window, dry_run, rebill))
            except WindowConflict as exc:
                yield Outcome(tenant, window, skipped=str(exc))
            except ArtificeError as exc:
                yield Outcome(tenant, window, error=exc)

    def estimate(self, now: dt.datetime) -> Iterator[Outcome]:
        """Rate the running month up to the last full hour, per tenant, and store it as its estimate."""
        month = Window.month(now.year, now.month)
        hour = now.replace(minute=0, second=0, microsecond=0)
        if hour <= month.start:
            return
        window = Window(month.start, hour)
        for outcome in self.preview(window):
            if outcome.result is not None:
                result = outcome.result
                self.pipeline.store.save_estimate(outcome.tenant, window, result.currency, result.lines, now)
            yield outcome
