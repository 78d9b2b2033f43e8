"""One billing pass and one estimate pass, as the daemon's jobs run them."""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import threading
import time

from oslo_config import cfg

from artifice.daemon import metrics
from artifice.daemon.partition import Partition
from artifice.daemon.schedule import due_months, first_month, last_due
from artifice.exceptions import ArtificeError, WindowConflict
from artifice.pipeline import Pipeline
from artifice.timeutil import Window, utcnow

LOG = logging.getLogger("artifice.daemon")


@dataclasses.dataclass
class PassReport:
    committed: int = 0
    failed: int = 0
    skipped: int = 0


class BillingPasses:
    def __init__(self, conf: cfg.ConfigOpts, stopping: threading.Event, partition: Partition | None = None) -> None:
        self.conf = conf
        self.stopping = stopping
        self.pipeline = Pipeline.from_config(conf)
        self.partition = partition or Partition(conf.daemon.coordination_url, conf.daemon.coordination_group)

    def reconfigured(self, conf: cfg.ConfigOpts) -> BillingPasses:
        """The passes of a reloaded configuration; coordination is kept unless its settings changed."""
        same = (conf.daemon.coordination_url, conf.daemon.coordination_group) == (
            self.conf.daemon.coordination_url,
            self.conf.daemon.coordination_group,
        )
        passes = BillingPasses(conf, self.stopping, self.partition if same else None)
        if not same:
            self.partition.leave()
        return passes

    def months(self, now: dt.datetime) -> list[Window]:
        delay = dt.timedelta(seconds=self.conf.daemon.bill_delay)
        first = first_month(self.conf.daemon.first_month, self.pipeline.store.newest_billed(), now, delay)
        return due_months(first, now, delay)

    def bill_due(self) -> PassReport:
        """Bill every due month, oldest first; stop between tenants when asked to."""
        report = PassReport()
        started = time.monotonic()
        for window in self.months(utcnow()):
            if self.stopping.is_set():
                break
            self._bill_month(window, report)
        metrics.PASS_SECONDS.observe(time.monotonic() - started)
        self._record_lag()
        if report.committed or report.failed:
            LOG.info(
                "billing pass: %s committed, %s failed, %s skipped", report.committed, report.failed, report.skipped
            )
        return report

    def _bill_month(self, window: Window, report: PassReport) -> None:
        try:
            tenants = self.pipeline.tenants(window)
        except ArtificeError as exc:
            LOG.error("run %s: %s: cannot list tenants: %s", self.pipeline.run_id, window.label, exc)
            metrics.FAILURES.inc()
            report.failed += 1
            return
        settled = self.pipeline.store.settled_tenants(window)
        ring = self.partition.ring()
        mine = [t for t in tenants if t.id not in settled and self.partition.owns(ring, t.id)]
        self.pipeline.plan(window, mine)
        for tenant in mine:
            if self.stopping.is_set():
                return
            try:
                result = self.pipeline.bill(tenant, window)
            except WindowConflict as exc:  # another daemon holds it, or an operator must act
                LOG.info("run %s: tenant %s %s skipped: %s", self.pipeline.run_id, tenant.id, window.label, exc)
                report.skipped += 1
            except ArtificeError as exc:
                LOG.error("run %s: tenant %s %s failed: %s", self.pipeline.run_id, tenant.id, window.label, exc)
                metrics.FAILURES.inc()
                report.failed += 1
            else:
                metrics.BILLED.inc()
                report.committed += 1
                LOG.info(
                    "run %s: tenant %s %s committed %s total %s %s",
                    self.pipeline.run_id,
                    tenant.id,
                    window.label,
                    result.reference,
                    result.total,
                    result.currency,
                )

    def _record_lag(self) -> None:
        if not metrics.ENABLED:
            return
        due = last_due(utcnow(), dt.timedelta(seconds=self.conf.daemon.bill_delay))
        for tenant_id, billed in self.pipeline.store.last_billed().items():
            metrics.LAG.labels(tenant=tenant_id).set(_months_between(billed, due))

    def estimate(self) -> int:
        """Store month-to-date estimates of this daemon's tenants; nothing is sent to the ERP."""
        now = utcnow()
        month = Window.month(now.year, now.month)
        hour = now.replace(minute=0, second=0, microsecond=0)
        if hour <= month.start:
            return 0
        window = Window(month.start, hour)
        ring = self.partition.ring()
        stored = 0
        mine = [t for t in self.pipeline.tenants(window) if self.partition.owns(ring, t.id)]
        self.pipeline.plan(window, mine)
        for tenant in mine:
            if self.stopping.is_set():
                break
            try:
                result = self.pipeline.bill(tenant, window, dry_run=True)
            except ArtificeError as exc:
                LOG.warning("estimate of tenant %s %s failed: %s", tenant.id, window, exc)
                continue
            self.pipeline.store.save_estimate(tenant, window, result.currency, result.lines, now)
            stored += 1
        LOG.info("month-to-date estimates stored for %s tenant(s) up to %s", stored, hour.isoformat())
        return stored


def _months_between(billed: Window, due: Window) -> int:
    return max(0, (due.start.year - billed.start.year) * 12 + due.start.month - billed.start.month)
