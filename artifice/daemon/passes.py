"""One billing pass and one estimate pass, as the daemon's jobs run them.

The two jobs may run at the same time, so each has a pipeline of its own (its own batch reader).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import threading
import time
from collections.abc import Iterator

from oslo_config import cfg

from artifice.billing.months import MonthLoop, Outcome, due_months
from artifice.billing.pipeline import Pipeline
from artifice.daemon import metrics
from artifice.daemon.partition import Partition
from artifice.exceptions import ArtificeError
from artifice.model import Tenant
from artifice.timeutil import Window, utcnow

LOG = logging.getLogger("artifice.daemon")


@dataclasses.dataclass
class PassReport:
    months: list[Window] = dataclasses.field(default_factory=list)
    committed: int = 0
    failed: int = 0
    skipped: int = 0


class Progress:
    """When a pass last moved: the watchdog stops answering systemd when a pass stalls."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._running = 0
        self._moved = time.monotonic()

    def started(self) -> None:
        with self._lock:
            self._running += 1
            self._moved = time.monotonic()

    def moved(self) -> None:
        with self._lock:
            self._moved = time.monotonic()

    def finished(self) -> None:
        with self._lock:
            self._running -= 1
            self._moved = time.monotonic()

    def stalled(self, seconds: float) -> bool:
        with self._lock:
            return self._running > 0 and time.monotonic() - self._moved > seconds


class BillingPasses:
    """The daemon's two jobs. Their ``Progress`` outlives a reload: a pass that hung before it still counts."""

    def __init__(
        self,
        conf: cfg.ConfigOpts,
        stopping: threading.Event,
        partition: Partition | None = None,
        progress: tuple[Progress, Progress] | None = None,
    ) -> None:
        self.conf = conf
        self.stopping = stopping
        self.billing = Pipeline.from_config(conf)
        self.estimates = Pipeline.from_config(conf)
        self.partition = partition or Partition(conf.daemon.coordination_url, conf.daemon.coordination_group)
        self.billing_progress, self.estimate_progress = progress or (Progress(), Progress())

    def stalled(self) -> bool:
        """A job has finished no tenant for ``stall_timeout`` seconds."""
        limit = self.conf.daemon.stall_timeout
        return self.billing_progress.stalled(limit) or self.estimate_progress.stalled(limit)

    def reconfigured(self, conf: cfg.ConfigOpts) -> BillingPasses:
        """The passes of a reloaded configuration; coordination is kept unless its settings changed."""
        same = (conf.daemon.coordination_url, conf.daemon.coordination_group) == (
            self.conf.daemon.coordination_url,
            self.conf.daemon.coordination_group,
        )
        progress = (self.billing_progress, self.estimate_progress)
        passes = BillingPasses(conf, self.stopping, self.partition if same else None, progress)
        if not same:
            self.partition.leave()
        return passes

    def months(self, now: dt.datetime) -> list[Window]:
        delay = dt.timedelta(seconds=self.conf.daemon.bill_delay)
        listed = self.billing.store.listed_months(origin="daemon")
        return due_months(now, delay, self.conf.daemon.first_month, listed)

    def relist(self, window: Window, now: dt.datetime) -> bool | dt.timedelta:
        """How old a listing of ``window`` may be: recent months are listed again, for tenants whose data came late."""
        if window.end + dt.timedelta(days=self.conf.daemon.relist_days) <= now:
            return False
        return dt.timedelta(seconds=6 * self.conf.daemon.run_interval)

    def backoff(self, failures: int) -> dt.timedelta:
        """How long a tenant-month that failed ``failures`` times waits before the next try."""
        seconds = self.conf.daemon.run_interval * 2 ** min(max(failures - 1, 0), 30)
        return dt.timedelta(seconds=min(seconds, self.conf.daemon.retry_backoff_max))

    def bill_due(self) -> PassReport:
        """Bill every due tenant-month this daemon owns, oldest month first; stop between tenants when asked."""
        report = PassReport()
        started = time.monotonic()
        self.billing_progress.started()
        try:
            ring = self.partition.ring()
            loop = MonthLoop(self.billing, lambda t: self.partition.owns(ring, t), self.stopping)
            now = utcnow()
            for window in self.months(now):
                if self.stopping.is_set():
                    break
                self._bill_month(loop, window, now, report)
        except ArtificeError as exc:  # the calendar or the database cannot say what is due: the next pass tries
            LOG.error("billing pass: %s", exc)
            report.failed += 1
        finally:
            self.billing_progress.finished()
        metrics.PASS_SECONDS.observe(time.monotonic() - started)
        self._record_lag()
        months = ", ".join(m.label for m in report.months) or "none"
        LOG.info("billing pass: months with tenants due %s: %s committed, %s failed, %s skipped (%.1f s)", months,
                 report.committed, report.failed, report.skipped, time.monotonic() - started)  # fmt: skip
        return report

    def _bill_month(self, loop: MonthLoop, window: Window, now: dt.datetime, report: PassReport) -> None:
        try:
            outcomes = list(self._outcomes(loop, window, now, report))
        except ArtificeError as exc:  # the month's tenants could not be listed: the next pass tries again
            LOG.error("run %s: %s: cannot list tenants: %s", self.billing.run_id, window.label, exc)
            metrics.FAILURES.inc()
            report.failed += 1
            return
        if outcomes:
            report.months.append(window)

    def _outcomes(self, loop: MonthLoop, window: Window, now: dt.datetime, report: PassReport) -> Iterator[Outcome]:
        for outcome in loop.bill(window, relist=self.relist(window, now), backoff=self.backoff, origin="daemon"):
            self.billing_progress.moved()
            self._count(outcome, report)
            yield outcome

    def _count(self, outcome: Outcome, report: PassReport) -> None:
        what = f"run {self.billing.run_id}: tenant {outcome.tenant.label} {outcome.window.label}"
        if outcome.error is not None:
            LOG.error("%s failed: %s", what, outcome.error)
            metrics.FAILURES.inc()
            report.failed += 1
        elif outcome.skipped:
            LOG.info("%s skipped: %s", what, outcome.skipped)
            report.skipped += 1
        else:
            metrics.BILLED.inc()
            report.committed += 1

    def _record_lag(self) -> None:
        if not metrics.ENABLED:
            return
        try:
            statuses = self.billing.store.tenant_status(self.months(utcnow()))
        except ArtificeError as exc:
            LOG.warning("lag metric not updated: %s", exc)
            return
        metrics.LAG.clear()
        billed = {t.id for t in self.billing.billed([Tenant(s.tenant_id, s.tenant_name) for s in statuses])}
        for status in (s for s in statuses if s.tenant_id in billed):
            metrics.LAG.labels(tenant=status.tenant_id).set(status.lag)

    def estimate(self) -> int:
        """Store month-to-date estimates of this daemon's tenants; nothing is sent to the ERP."""
        self.estimate_progress.started()
        stored = 0
        try:
            ring = self.partition.ring()
            loop = MonthLoop(self.estimates, lambda t: self.partition.owns(ring, t), self.stopping)
            for outcome in loop.estimate(utcnow()):
                self.estimate_progress.moved()
                if outcome.error is not None:
                    LOG.warning("estimate of tenant %s %s failed: %s", outcome.tenant.id, outcome.window, outcome.error)
                else:
                    stored += 1
        except ArtificeError as exc:
            LOG.error("estimates: %s", exc)
        finally:
            self.estimate_progress.finished()
        LOG.info("month-to-date estimates stored for %s tenant(s)", stored)
        return stored
