"""Which months are due: the calendar rules, light enough for ``artifice status``."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from artifice.exceptions import InputError
from artifice.timeutil import Window, parse_month


def due_months(now: dt.datetime, delay: dt.timedelta, first: str, listed: Sequence[Window]) -> list[Window]:
    """Complete months whose billing time has come, oldest first, from ``first`` (YYYY-MM).

    Without ``first``: from the oldest month a billing pass listed (``listed``), else only the
    newest due month (a new installation does not bill the past by itself; ``artifice bill`` does).
    """
    last = last_due(now, delay)
    start = parse_month(first) if first else min((m for m in listed if m.is_month), default=last)
    months = []
    month = start
    while month.start <= last.start:
        months.append(month)
        month = month.next()
    return months


def last_due(now: dt.datetime, delay: dt.timedelta) -> Window:
    """The newest month whose end plus ``delay`` has passed."""
    month = Window.month(now.year, now.month)
    while month.end + delay > now:
        month = month.previous()
    return month


def refuse_unfinished(window: Window, now: dt.datetime) -> None:
    """A month is billed only once it has ended; the running month is what estimates are for."""
    if window.end > now:
        raise InputError(
            f"{window.label} has not ended: it can be billed from {window.end:%Y-%m-%d %H:%M} UTC "
            "(the daemon bills it after [daemon] bill_delay; --dry-run previews it)"
        )
