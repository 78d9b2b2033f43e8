"""Vectorised transformers: one meter's samples in, per-resource quantities out.

Each transformer takes a :class:`Block`: samples of one meter for any number
of resources, as flat arrays grouped by resource ("runs") and in time order
within each run, all before the window end, with ``volume`` already in the
billing amount unit. It returns :class:`Sums`, one quantity per (run,
service) in the rule's amount unit times *seconds* for the time-based ones.
Time is int64 nanoseconds; no Python loop runs per sample.

Time weighting (uptime, gauge): a sample's state or value holds from its
timestamp until the next sample of the same resource, if that one comes at
most ``max_gap`` later; otherwise the time between them is not billed. The
last sample holds until the window end if the end is at most ``max_gap``
after it. Only the part inside ``[start, end)`` counts, so a lead-in sample
before the start counts from the start, and without one the time before the
first sample is not billed.

Known lifecycles (``started_at`` / ``ended_at`` from Nova's ``launched_at`` /
``deleted_at`` or Gnocchi's resource): a first sample at most ``max_gap`` from
the resource's start holds from that start, and the last sample holds until the
resource's end (within ``max_gap``), so an instance is billed from launch to
deletion to the second. Without a known end the last stretch ends at the last
sample (or the window end, if that is at most ``max_gap`` later); a sample after
the known end (a deletion notification) holds for no time.

Sums are exact for seconds (integer nanoseconds) and otherwise accurate to
about one unit in the last place whatever the number of samples
(:func:`segment_sums`), like the compensated summation of pandas' groupby.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable

import numpy as np

from artifice.usage.mapping import MeterRule

RESOURCE_KEYS = ["tenant_id", "region", "resource_id"]
NS = 1_000_000_000
NAT = np.iinfo(np.int64).min


@dataclasses.dataclass
class Block:
    """One meter's samples: runs of one resource each, in time order within a run, all before ``end``."""

    t: np.ndarray  # int64 ns
    volume: np.ndarray  # float64, in the rule's amount unit
    starts: np.ndarray  # offset of each run's first sample; starts[0] == 0
    start: int  # window, ns
    end: int
    flavor: np.ndarray | None = None  # uptime: flavor category code per sample
    flavors: np.ndarray | None = None  # uptime: the flavor categories
    status: np.ndarray | None = None  # uptime: status category code per sample
    statuses: np.ndarray | None = None  # uptime: the status categories
    started: np.ndarray | None = None  # per run: the resource's known start, ns (NAT: unknown)
    ended: np.ndarray | None = None  # per run: its known end

    @property
    def runs(self) -> int:
        return len(self.starts)

    def last_of_runs(self) -> np.ndarray:
        last: np.ndarray = np.append(self.starts[1:] - 1, len(self.t) - 1)
        return last

    def held_ns(self, max_gap: int) -> np.ndarray:
        """Nanoseconds of ``[start, end)`` during which each sample's value holds."""
        held = np.empty_like(self.t)
        held[:-1] = self.t[1:]
        last = self.last_of_runs()
        held[last] = self.end  # the next sample's time, or the window end
        begin = np.maximum(self.t, self.start)
        if self.ended is not None:  # a known end: the last value holds until it, to the second, and
            ends = (self.ended != NAT) & (self.ended < self.end)  # nothing after it is billed
            held[last[ends]] = self.ended[ends]
            end_of_sample = np.repeat(
                np.where(ends, self.ended, np.iinfo(np.int64).max), np.diff([*self.starts, len(self.t)])
            )
            np.minimum(held, np.maximum(end_of_sample, self.t), out=held)
        if self.started is not None:  # a known start a poll away: the first value holds from it
            first = self.starts
            near = self.known_start(max_gap)
            begin[first[near]] = np.maximum(self.started[near], self.start)
        gap = held - self.t
        held -= begin  # the next sample is never after the end
        np.maximum(held, 0, out=held)
        held[gap > max_gap * NS] = 0
        return held

    def known_start(self, max_gap: int) -> np.ndarray:
        """Per run: whether the resource is known to have started at most ``max_gap`` from its first sample."""
        if self.started is None:
            return np.zeros(self.runs, dtype=bool)
        known: np.ndarray = (self.started != NAT) & (np.abs(self.t[self.starts] - self.started) <= max_gap * NS)
        return known


@dataclasses.dataclass
class Sums:
    """Quantities per (run, service): ``run`` indexes the block's runs, ``service`` indexes ``services``."""

    run: np.ndarray
    service: np.ndarray
    quantity: np.ndarray
    services: list[str]


def segment_sums(values: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """The sum of each contiguous segment of non-negative ``values`` beginning at ``starts``, accurately.

    Each value is split into a high part, a multiple of a power-of-two quantum
    (2**-40 of the grand total), whose sums are exact in any order, and a
    remainder below half the quantum, whose naive sum adds an error far below
    an ulp of the total. So each result is within about an ulp of its exact
    sum, as with compensated summation, at the cost of a few passes.
    """
    if not len(values):
        return np.zeros(len(starts))
    grand = float(np.add.reduce(values))
    if not math.isfinite(grand) or grand <= 0:
        naive: np.ndarray = np.add.reduceat(values, starts)
        return naive
    quantum = math.ldexp(1.0, math.frexp(grand)[1] - 40)
    shift = 1.5 * 2.0**52 * quantum  # adding it rounds to a multiple of the quantum
    high = values + shift
    high -= shift
    low = values - high
    total: np.ndarray = np.add.reduceat(high, starts)
    total += np.add.reduceat(low, starts)
    return total


def _per_run(block: Block, rule: MeterRule, values: np.ndarray) -> Sums:
    runs = np.arange(block.runs)
    return Sums(runs, np.zeros(block.runs, dtype=np.int64), segment_sums(values, block.starts), [rule.service])


def uptime(block: Block, rule: MeterRule) -> Sums:
    """Seconds in a billable state, split by flavor (``service`` template)."""
    assert block.flavor is not None and block.flavors is not None
    assert block.status is not None and block.statuses is not None
    billable = np.array([str(s).lower() in rule.billable_states for s in block.statuses] + [False])
    held = block.held_ns(rule.max_gap)
    held *= billable[block.status]
    names = [rule.service.format(flavor=str(f)) for f in block.flavors]
    services = sorted(set(names))
    service_of_flavor = np.array([services.index(n) for n in names] + [0], dtype=np.int64)
    # Stretches of one run with one flavor: integer sums, exact.
    pieces = np.union1d(block.starts, np.flatnonzero(block.flavor[1:] != block.flavor[:-1]) + 1)
    nanoseconds = np.add.reduceat(held, pieces).astype(np.float64)  # whole numbers below 2**53: exact
    run = np.searchsorted(block.starts, pieces, side="right") - 1
    labels = run * len(services) + service_of_flavor[block.flavor[pieces]]
    per_label = np.bincount(labels, nanoseconds, minlength=block.runs * len(services)) / NS
    found = np.flatnonzero(per_label)
    return Sums(found // len(services), found % len(services), per_label[found], services)


def gauge(block: Block, rule: MeterRule) -> Sums:
    """Time-weighted integral: value x seconds held."""
    weighted = block.held_ns(rule.max_gap) / NS
    weighted *= block.volume
    return _per_run(block, rule, weighted)


def maximum(block: Block, rule: MeterRule) -> Sums:
    """The largest value seen in the window, times the window's seconds."""
    values = np.where(block.t >= block.start, block.volume, -np.inf)
    peaks = np.maximum.reduceat(values, block.starts) if len(values) else np.zeros(0)
    found = np.flatnonzero(peaks > -np.inf)
    quantity = peaks[found] * ((block.end - block.start) / NS)
    return Sums(found, np.zeros(len(found), dtype=np.int64), quantity, [rule.service])


def delta(block: Block, rule: MeterRule) -> Sums:
    """Growth of a cumulative counter, adding back across counter resets.

    An increment belongs to the window of the later of its two samples, so a
    lead-in sample provides the baseline and consecutive windows never count
    the same growth twice. A drop means the counter restarted from zero: the
    later value itself is the growth. A resource known to have started inside
    the window, at most ``max_gap`` before its first sample (and with no
    lead-in sample), counted from zero: its first value is growth.
    """
    values = block.volume
    growth = np.empty(len(values))
    growth[:1] = 0.0
    np.subtract(values[1:], values[:-1], out=growth[1:])
    np.copyto(growth, values, where=growth < 0)
    growth[block.starts] = 0.0  # a run's first sample is its baseline,
    if block.started is not None:  # unless the resource began in the window, a poll before it: growth from 0
        new = block.known_start(rule.max_gap) & (block.started >= block.start)
        new &= block.t[block.starts] >= block.start
        growth[block.starts[new]] = values[block.starts[new]]
    growth[block.t < block.start] = 0.0  # growth before the window is the previous window's
    return _per_run(block, rule, growth)


def total(block: Block, rule: MeterRule) -> Sums:
    """Sum of the values of samples inside ``[start, end)``."""
    return _per_run(block, rule, np.where(block.t >= block.start, block.volume, 0.0))


TRANSFORMERS: dict[str, Callable[[Block, MeterRule], Sums]] = {
    "uptime": uptime,
    "gauge": gauge,
    "max": maximum,
    "delta": delta,
    "sum": total,
}
