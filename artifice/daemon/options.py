"""The daemon's options: when it bills, how it splits tenants, what it exports.

What is due comes from the calendar and the database (``artifice.billing.months``), never from
the daemon's memory.
"""

from __future__ import annotations

from oslo_config import cfg

daemon_opts = [
    cfg.StrOpt(
        "first_month",
        default="",
        regex=r"^(\d{4}-(0[1-9]|1[0-2]))?$",
        help="First month the daemon bills (YYYY-MM); earlier months are left to `artifice bill`. "
        "Empty: the oldest month already listed in the database (by a pass or `artifice bill`), or only "
        "the newest due month when it holds none.",
    ),
    cfg.IntOpt(
        "bill_delay",
        default=180000,
        min=0,
        max=366 * 86400,
        help="Seconds after a month ends before it is billed, for late data. The default, "
        "2 days and 2 hours, bills October on 3 November at 02:00 UTC.",
    ),
    cfg.IntOpt("run_interval", default=3600, min=1, max=31 * 86400, help="Seconds between billing passes."),
    cfg.IntOpt(
        "relist_days",
        default=35,
        min=0,
        max=366,
        help="Days after a month ended during which billing passes list its tenants again (at most every "
        "6 run_interval), so that a tenant whose data arrived late (a region that was down) is billed too. "
        "Older months keep their listing; `artifice bill --all` always lists anew.",
    ),
    cfg.IntOpt(
        "retry_backoff_max",
        default=86400,
        min=1,
        max=31 * 86400,
        help="Longest wait in seconds before a failed tenant-month is tried again. The wait is "
        "run_interval after the first failure and doubles with each failure up to this.",
    ),
    cfg.IntOpt(
        "stall_timeout",
        default=3600,
        min=10,
        max=7 * 86400,
        help="Seconds a billing pass may go without finishing a tenant before the daemon stops "
        "answering systemd's watchdog, so that systemd restarts it (with WatchdogSec set).",
    ),
    cfg.IntOpt(
        "misfire_grace_time",
        default=900,
        min=1,
        max=86400,
        help="Seconds a billing pass may start late (a busy or suspended host) before it is skipped "
        "until the next one.",
    ),
    cfg.IntOpt(
        "estimate_interval",
        default=86400,
        min=0,
        max=31 * 86400,
        help="Seconds between month-to-date estimates (0: none). Estimates are stored, never sent.",
    ),
    cfg.StrOpt(
        "coordination_url",
        default="",
        secret=True,
        help="tooz backend shared by the daemons that split the tenants, e.g. "
        "file:///var/lib/artifice/coordination?timeout=30 (one host), redis://host:6379?timeout=30 "
        "or etcd3+http://host:2379. Empty: this daemon bills every tenant.",
    ),
    cfg.StrOpt("coordination_group", default="artifice-billing", help="tooz group of the billing daemons."),
    cfg.IntOpt(
        "prometheus_port", default=0, min=0, max=65535, help="Port of the Prometheus metrics endpoint (0: none)."
    ),
    cfg.HostAddressOpt("prometheus_host", default="127.0.0.1", help="Address the metrics endpoint listens on."),
]
