"""Gnocchi archive policies: which granularity still holds a billing window, and what to read there.

An archive policy keeps each granularity for a timespan only (Ceilometer's stock ``ceilometer-low``
keeps 5 minutes for 30 days: a 31-day month billed after it ended is no longer whole). For each
metric's policy the collector reads the finest granularity whose archive still reaches back to
the start of the window (lead-in included) now; when none does, the tenant-month fails with what
to change, instead of being billed short.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
from collections.abc import Iterable, Mapping
from typing import Any

import pandas as pd

from artifice.exceptions import CollectionError

# The aggregation each transformer would read, when the policy keeps it.
PREFERRED_AGGREGATION = {"delta": "last", "max": "max", "sum": "sum"}


@dataclasses.dataclass(frozen=True)
class Archive:
    granularity: int  # seconds
    timespan: int  # seconds


@dataclasses.dataclass(frozen=True)
class Policy:
    name: str
    archives: tuple[Archive, ...]  # finest first
    methods: frozenset[str]

    @classmethod
    def parse(cls, document: Mapping[str, Any]) -> Policy:
        archives = []
        for definition in document.get("definition") or []:
            granularity = seconds(definition["granularity"])
            timespan = definition.get("timespan")
            span = seconds(timespan) if timespan else granularity * int(definition.get("points") or 0)
            archives.append(Archive(granularity, span))
        methods = frozenset(document.get("aggregation_methods") or ["mean"])
        return cls(str(document["name"]), tuple(sorted(archives, key=lambda a: a.granularity)), methods)

    def granularity(self, since: dt.datetime, now: dt.datetime) -> int | None:
        """The finest granularity that still holds ``since`` at ``now`` (one bucket of margin)."""
        needed = (now - since).total_seconds()
        for archive in self.archives:
            if archive.timespan >= needed + archive.granularity:
                return archive.granularity
        return None

    def aggregation(self, transformer: str) -> str:
        """What to read: the transformer's preferred method if kept, else mean (exact with a sample a bucket)."""
        wanted = PREFERRED_AGGREGATION.get(transformer, "mean")
        if wanted in self.methods:
            return wanted
        return "mean" if "mean" in self.methods else sorted(self.methods)[0]

    def describe(self) -> str:
        return ", ".join(f"{_span(a.granularity)} x {_span(a.timespan)}" for a in self.archives) or "no archive"


def too_short(meter: str, policy: Policy, since: dt.datetime, now: dt.datetime) -> CollectionError:
    """The one-line error of a window that no archive of ``policy`` holds whole any more."""
    days = math.ceil((now - since).total_seconds() / 86400) + 1
    finest = policy.archives[0] if policy.archives else Archive(300, 0)
    others = [f"-d granularity:{a.granularity}s,timespan:{a.timespan}s" for a in policy.archives[1:]]
    update = " ".join([f"gnocchi archive-policy update {policy.name}",
                       f"-d granularity:{finest.granularity}s,timespan:{max(days, 40)}d", *others])  # fmt: skip
    return CollectionError(
        f"metric {meter}: archive policy {policy.name} keeps {policy.describe()}, and none reaches back to "
        f"{since:%Y-%m-%d %H:%M} UTC any more: the month would be billed short, so it is not billed. Keep a month "
        f"plus [daemon] bill_delay: `{update}` (and an archive-policy rule for new metrics; see the README, "
        "What Artifice needs from Gnocchi)"
    )


def seconds(value: Any) -> int:
    """A granularity or timespan: seconds, or Gnocchi's text form ("1:00:00", "30 days, 0:00:00")."""
    if isinstance(value, (int, float)):
        return int(value)
    return int(pd.Timedelta(str(value).replace(",", "")).total_seconds())


def _span(value: int) -> str:
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if value >= size and value % size == 0:
            return f"{value // size} {unit}"
    return f"{value} s"


def policies(documents: Iterable[Mapping[str, Any]]) -> dict[str, Policy]:
    return {str(d["name"]): Policy.parse(d) for d in documents}
