"""UTC time and half-open billing windows."""

from __future__ import annotations

import dataclasses
import datetime as dt
import os
import re

from artifice.exceptions import InputError

UTC = dt.UTC
_MONTH = re.compile(r"^(\d{4})-(\d{2})$")


@dataclasses.dataclass(frozen=True, order=True)
class Window:
    """A half-open UTC interval ``[start, end)``."""

    start: dt.datetime
    end: dt.datetime

    def __post_init__(self) -> None:
        for value in (self.start, self.end):
            if value.tzinfo is None or value.utcoffset() != dt.timedelta(0):
                raise ValueError(f"window bounds must be UTC-aware, got {value!r}")
        if self.end <= self.start:
            raise ValueError(f"empty window [{self.start}, {self.end})")

    @classmethod
    def month(cls, year: int, month: int) -> Window:
        start = dt.datetime(year, month, 1, tzinfo=UTC)
        nxt = dt.datetime(year + month // 12, month % 12 + 1, 1, tzinfo=UTC)
        return cls(start, nxt)

    @property
    def is_month(self) -> bool:
        return self == Window.month(self.start.year, self.start.month)

    def next(self) -> Window:
        """The calendar month after this one (which must be a month)."""
        return Window.month(self.end.year, self.end.month)

    def previous(self) -> Window:
        """The calendar month before this one."""
        before = self.start - dt.timedelta(days=1)
        return Window.month(before.year, before.month)

    @property
    def seconds(self) -> float:
        return (self.end - self.start).total_seconds()

    @property
    def label(self) -> str:
        """``YYYY-MM`` for a calendar month, else the ISO interval."""
        if self.is_month:
            return f"{self.start:%Y-%m}"
        return f"{self.start.isoformat()}/{self.end.isoformat()}"

    @property
    def human(self) -> str:
        """As invoices write a period, its last day included: ``1-31 October 2026``, ``1 Oct-11 Nov 2026``."""
        last = self.end - dt.timedelta(microseconds=1)
        if (self.start.year, self.start.month) == (last.year, last.month):
            return f"{self.start.day}-{last.day} {self.start:%B %Y}"
        if self.start.year == last.year:
            return f"{self.start.day} {self.start:%B}-{last.day} {last:%B %Y}"
        return f"{self.start.day} {self.start:%B %Y}-{last.day} {last:%B %Y}"

    def __str__(self) -> str:
        return f"[{self.start.isoformat()}, {self.end.isoformat()})"


def parse_month(text: str) -> Window:
    """Parse ``YYYY-MM`` into that calendar month's window."""
    match = _MONTH.match(text.strip())
    if not match or not 1 <= int(match.group(2)) <= 12 or not 1970 <= int(match.group(1)) <= 9998:
        raise InputError(f"invalid month {text!r}: expected YYYY-MM from 1970-01 to 9998-12, e.g. 2026-10")
    return Window.month(int(match.group(1)), int(match.group(2)))


def utcnow() -> dt.datetime:
    """Now, in UTC: the calendar Artifice bills by (which months have ended, which one is running).

    ``ARTIFICE_CLOCK_FILE`` (for tests that move the calendar, as libfaketime cannot for a running
    Python) names a file holding an ISO time: the clock reads that time plus the real seconds
    since the file was last written. Leases never use this clock, only the database's.
    """
    path = os.environ.get("ARTIFICE_CLOCK_FILE")
    now = dt.datetime.now(UTC)
    if not path:
        return now
    try:
        written = os.stat(path).st_mtime
        with open(path, encoding="ascii") as handle:
            moved = dt.datetime.fromisoformat(handle.read().strip())
    except (OSError, ValueError, UnicodeDecodeError):
        return now
    return as_utc(moved) + (now - dt.datetime.fromtimestamp(written, UTC))


def as_utc(value: dt.datetime) -> dt.datetime:
    """Treat naive datetimes as UTC (the database and Ceilometer store them so)."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
