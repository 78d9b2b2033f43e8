"""Vectorised transformers: one meter's samples in, per-resource quantities out.

Each transformer takes the samples of one meter for any number of resources
(columns of ``artifice.collectors.base.RAW_COLUMNS``; ``volume`` already in
the billing amount unit) and returns one row per (tenant, region, resource,
service) with ``quantity`` in the rule's amount unit times *seconds* for the
time-based ones. Time is int64 nanoseconds; no Python loop runs per sample.

Time weighting (uptime, gauge): a sample's state or value holds from its
timestamp until the next sample of the same resource, if that one comes at
most ``max_gap`` later; otherwise the time between them is not billed. The
last sample holds until the window end if the end is at most ``max_gap``
after it. Only the part inside ``[start, end)`` counts, so a lead-in sample
before the start counts from the start, and without one the time before the
first sample is not billed.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

from artifice.timeutil import Window
from artifice.usage.mapping import MeterRule

RESOURCE_KEYS = ["tenant_id", "region", "resource_id"]
OUTPUT_COLUMNS = [*RESOURCE_KEYS, "service", "quantity"]
NS = 1_000_000_000


class Ordered:
    """One meter's samples sorted by resource then time, as flat arrays."""

    def __init__(self, frame: pd.DataFrame, window: Window) -> None:
        codes = frame.groupby(RESOURCE_KEYS, sort=False, observed=True).ngroup().to_numpy()
        times = frame["timestamp"].array.asi8
        order = np.lexsort((times, codes))
        self.frame = frame.iloc[order].reset_index(drop=True)
        self.codes = codes[order]
        self.t = times[order]
        self.start = _ns(window.start)
        self.end = _ns(window.end)
        # True where the next row is a later sample of the same resource.
        self.has_next = np.zeros(len(self.t), dtype=bool)
        self.has_next[:-1] = self.codes[1:] == self.codes[:-1]

    def held_seconds(self, max_gap: int) -> np.ndarray:
        """Seconds of ``[start, end)`` during which each sample's value holds."""
        following = np.full(len(self.t), self.end, dtype=np.int64)
        following[:-1] = np.where(self.has_next[:-1], self.t[1:], self.end)
        covered = (following - self.t) <= max_gap * NS
        lo = np.maximum(self.t, self.start)
        hi = np.minimum(following, self.end)
        held: np.ndarray = np.where(covered, np.clip(hi - lo, 0, None), 0) / NS
        return held

    def in_window(self) -> np.ndarray:
        inside: np.ndarray = (self.t >= self.start) & (self.t < self.end)
        return inside

    def per_resource(self, values: np.ndarray, service: str | pd.Series) -> pd.DataFrame:
        """Sum ``values`` per resource (and per service when it varies by row)."""
        keys = self.frame[RESOURCE_KEYS].copy()
        keys["service"] = service
        keys["quantity"] = values
        grouped = keys.groupby([*RESOURCE_KEYS, "service"], sort=True, observed=True)
        return grouped["quantity"].sum().reset_index()


def _ns(value: object) -> int:
    return int(pd.Timestamp(value).value)


def uptime(ordered: Ordered, rule: MeterRule) -> pd.DataFrame:
    """Seconds in a billable state, split by flavor (``service`` template)."""
    status = ordered.frame["status"].astype("string").str.lower()
    billable = status.isin(rule.billable_states).to_numpy(dtype=bool)
    held = np.where(billable, ordered.held_seconds(rule.max_gap), 0.0)
    flavors = ordered.frame["flavor"].astype("string")
    services = pd.Series([rule.service.format(flavor=f) for f in flavors.unique()], index=flavors.unique())
    return ordered.per_resource(held, flavors.map(services).to_numpy())


def gauge(ordered: Ordered, rule: MeterRule) -> pd.DataFrame:
    """Time-weighted integral: value x seconds held."""
    values = ordered.frame["volume"].to_numpy(dtype=float)
    return ordered.per_resource(values * ordered.held_seconds(rule.max_gap), rule.service)


def maximum(ordered: Ordered, rule: MeterRule) -> pd.DataFrame:
    """The largest value seen in the window, times the window's seconds."""
    inside = ordered.in_window()
    values = np.where(inside, ordered.frame["volume"].to_numpy(dtype=float), -np.inf)
    keys = ordered.frame[RESOURCE_KEYS].copy()
    keys["quantity"] = values
    peaks = keys[inside].groupby(RESOURCE_KEYS, sort=True, observed=True)["quantity"].max()
    result = peaks.reset_index()
    result["quantity"] *= (ordered.end - ordered.start) / NS
    result.insert(3, "service", rule.service)
    return result


def delta(ordered: Ordered, rule: MeterRule) -> pd.DataFrame:
    """Growth of a cumulative counter, adding back across counter resets.

    An increment belongs to the window of the later of its two samples, so a
    lead-in sample provides the baseline and consecutive windows never count
    the same growth twice. A drop means the counter restarted from zero: the
    later value itself is the growth.
    """
    values = ordered.frame["volume"].to_numpy(dtype=float)
    growth = np.zeros(len(values))
    step = values[1:] - values[:-1]
    growth[1:] = np.where(step >= 0, step, values[1:])
    counted = np.zeros(len(values), dtype=bool)
    counted[1:] = ordered.has_next[:-1]
    counted &= ordered.in_window()
    return ordered.per_resource(np.where(counted, growth, 0.0), rule.service)


def total(ordered: Ordered, rule: MeterRule) -> pd.DataFrame:
    """Sum of the values of samples inside ``[start, end)``."""
    values = ordered.frame["volume"].to_numpy(dtype=float)
    return ordered.per_resource(np.where(ordered.in_window(), values, 0.0), rule.service)


TRANSFORMERS: dict[str, Callable[[Ordered, MeterRule], pd.DataFrame]] = {
    "uptime": uptime,
    "gauge": gauge,
    "max": maximum,
    "delta": delta,
    "sum": total,
}
