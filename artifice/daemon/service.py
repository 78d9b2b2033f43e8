"""The billing daemon: APScheduler jobs inside a systemd service.

Every ``run_interval`` a billing pass bills, oldest month first, each due
month's tenants that this daemon owns on the ring and that have no committed
invoice yet; what is due comes from the calendar and the database, so a
daemon that was down catches up when it starts. A second job stores
month-to-date estimates. SIGTERM lets the tenant in progress finish (its
commit is never cut in half), stops the scheduler and exits 0; SIGHUP reloads
the configuration files.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Sequence
from types import FrameType

import sdnotify
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.interval import IntervalTrigger
from oslo_config import cfg

from artifice import config
from artifice.bootstrap import common_cli_opts, run, setup_logging
from artifice.daemon import metrics
from artifice.daemon.passes import BillingPasses
from artifice.exceptions import ArtificeError
from artifice.timeutil import UTC

LOG = logging.getLogger("artifice.daemon")


class Daemon:
    def __init__(self, argv: Sequence[str], conf: cfg.ConfigOpts) -> None:
        self.argv = list(argv)
        self.stopping = threading.Event()
        self.reload_requested = threading.Event()
        self.stall_reported = False
        # Before joining the ring: a stop during start-up is a clean stop too.
        signal.signal(signal.SIGTERM, self._on_signal)
        signal.signal(signal.SIGINT, self._on_signal)
        signal.signal(signal.SIGHUP, self._on_signal)
        self.notifier = sdnotify.SystemdNotifier()
        self.passes = BillingPasses(conf, self.stopping)
        self.scheduler = BackgroundScheduler(
            timezone=UTC,
            job_defaults={
                "coalesce": True,  # a pass missed several times runs once
                "max_instances": 1,  # never two passes at once in one daemon
                "misfire_grace_time": conf.daemon.misfire_grace_time,
            },
        )

    def serve(self) -> int:
        metrics.serve(self.passes.conf)
        self._schedule(self.passes.conf)
        self.scheduler.start()
        LOG.info("artifice-daemon ready: member %s", self.passes.partition.member)
        self.notifier.notify("READY=1")
        watchdog = _watchdog_interval()
        while not self.stopping.wait(watchdog or 1.0):
            if watchdog:
                self._answer_watchdog()
            if self.reload_requested.is_set():
                self.reload_requested.clear()
                self._reload()
        self.notifier.notify("STOPPING=1")
        LOG.info("stopping: finishing the tenant in progress")
        self.scheduler.shutdown(wait=True)  # the running pass returns after its current tenant
        self.passes.partition.leave()
        LOG.info("stopped")
        return 0

    def _answer_watchdog(self) -> None:
        """Tell systemd all is well, unless a pass has stalled: then let systemd restart the daemon."""
        limit = self.passes.conf.daemon.stall_timeout
        if not self.passes.stalled():
            self.notifier.notify("WATCHDOG=1")
            self.stall_reported = False
        elif not self.stall_reported:
            LOG.error("a pass made no progress for %s s ([daemon] stall_timeout): not answering the watchdog", limit)
            self.stall_reported = True

    def _schedule(self, conf: cfg.ConfigOpts) -> None:
        now = dt.datetime.now(UTC)  # the scheduler runs on the real clock, whatever the calendar says
        billing = IntervalTrigger(seconds=conf.daemon.run_interval, timezone=UTC)
        self.scheduler.add_job(self._bill, billing, id="bill", next_run_time=now, replace_existing=True)
        if conf.daemon.estimate_interval:
            estimates = IntervalTrigger(seconds=conf.daemon.estimate_interval, timezone=UTC)
            self.scheduler.add_job(self._estimate, estimates, id="estimate", next_run_time=now, replace_existing=True)
        elif self.scheduler.get_job("estimate"):
            self.scheduler.remove_job("estimate")

    def _bill(self) -> None:
        self.passes.bill_due()

    def _estimate(self) -> None:
        self.passes.estimate()

    def _reload(self) -> None:
        self.notifier.notify("RELOADING=1")
        try:
            conf = config.load(self.argv, common_cli_opts)
            setup_logging(conf, "artifice-daemon", service=True)
            config.warn_unknown(conf)
            passes = self.passes.reconfigured(conf)
            self._schedule(conf)
            self.passes = passes
            LOG.info("configuration reloaded from %s", ", ".join(config.config_files(conf)) or "defaults")
        except ArtificeError as exc:
            LOG.error("configuration not reloaded, keeping the running one: %s", exc)
        except Exception as exc:  # noqa: BLE001 - whatever is wrong with the new config, keep serving the old one
            LOG.error("configuration not reloaded, keeping the running one: %s: %s", exc.__class__.__name__, exc)
        self.notifier.notify("READY=1")

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        if signum == signal.SIGHUP:
            self.reload_requested.set()
        else:
            self.stopping.set()


def _watchdog_interval() -> float:
    """Half of systemd's WatchdogSec, or 0 when no watchdog is set."""
    usec = os.environ.get("WATCHDOG_USEC", "")
    return int(usec) / 2e6 if usec.isdigit() and int(usec) > 0 else 0.0


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)

    def serve(conf: cfg.ConfigOpts) -> int:
        started = time.monotonic()
        code = Daemon(args, conf).serve()
        LOG.info("ran %.0f s", time.monotonic() - started)
        return code

    return run("artifice-daemon", args, [], serve, service=True)


if __name__ == "__main__":
    sys.exit(main())
