"""What the daemon bills, derived from the calendar and the database, never from its memory."""

from __future__ import annotations

import datetime as dt

from oslo_config import cfg

from artifice.timeutil import Window, parse_month

daemon_opts = [
    cfg.StrOpt(
        "first_month",
        default="",
        help="First month the daemon bills (YYYY-MM); earlier months are left to `artifice bill`. "
        "Empty: the month after the newest billed window in the database, or the last due month "
        "when the database holds none.",
    ),
    cfg.IntOpt(
        "bill_delay",
        default=180000,
        min=0,
        help="Seconds after a month ends before it is billed, for late data. The default, "
        "2 days and 2 hours, bills October on 3 November at 02:00 UTC.",
    ),
    cfg.IntOpt("run_interval", default=3600, min=1, help="Seconds between billing passes."),
    cfg.IntOpt(
        "misfire_grace_time",
        default=900,
        min=1,
        help="Seconds a billing pass may start late (a busy or suspended host) before it is skipped "
        "until the next one.",
    ),
    cfg.IntOpt(
        "estimate_interval",
        default=86400,
        min=0,
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


def last_due(now: dt.datetime, delay: dt.timedelta) -> Window:
    """The newest month whose end plus ``delay`` has passed."""
    month = Window.month(now.year, now.month)
    while month.end + delay > now:
        previous = month.start - dt.timedelta(days=1)
        month = Window.month(previous.year, previous.month)
    return month


def next_month(month: Window) -> Window:
    return Window.month(month.end.year, month.end.month)


def due_months(first: Window, now: dt.datetime, delay: dt.timedelta) -> list[Window]:
    """Complete months from ``first`` on whose billing time has come, oldest first."""
    last = last_due(now, delay)
    months = []
    month = first
    while month.start <= last.start:
        months.append(month)
        month = next_month(month)
    return months


def first_month(setting: str, newest_billed: Window | None, now: dt.datetime, delay: dt.timedelta) -> Window:
    """Where catching up starts: the setting, else after the newest billed month, else the last due."""
    if setting:
        return parse_month(setting)
    if newest_billed is not None:
        return next_month(Window.month(newest_billed.start.year, newest_billed.start.month))
    return last_due(now, delay)
