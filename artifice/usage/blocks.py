"""Cutting rated samples into blocks of one meter, each resource one run in time order.

As a collector returns samples (by region and meter, then resource and time) they already
are: the blocks are then views. Other orders are gathered by meter, or cost one stable sort.
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Iterator

import numpy as np

FEW_SEGMENTS = 1024  # a frame in fewer same-meter stretches is rated stretch by stretch, without copies


@dataclasses.dataclass
class Samples:
    """The columns the engine reads, as arrays; ``rule`` indexes the rated meters (-1: not rated)."""

    rule: np.ndarray
    tenant: np.ndarray
    region: np.ndarray
    resource: np.ndarray
    t: np.ndarray
    volume: np.ndarray
    unit: np.ndarray
    flavor: np.ndarray
    status: np.ndarray
    started: np.ndarray  # int64 ns of the resource's known start, _NAT when unknown
    ended: np.ndarray

    def __len__(self) -> int:
        return len(self.t)

    def take(self, rows: np.ndarray) -> Samples:
        return Samples(**{f.name: getattr(self, f.name)[rows] for f in dataclasses.fields(self)})


Blocks = Iterator[tuple[int, slice | np.ndarray, np.ndarray]]


def blocks(samples: Samples) -> Blocks:
    """(rule, rows, run starts within the rows) per block of one meter.

    Cheapest way first: a frame in few same-meter stretches (as collectors
    return them) is cut into views (rows is a slice); one whose resources are
    each a single run in time order, with meters interleaved, is gathered by
    meter; anything else is sorted.
    """
    if not len(samples):
        return
    rule, t = samples.rule, samples.t
    new_rule = rule[1:] != rule[:-1]
    new_run = new_rule.copy()
    for codes in (samples.tenant, samples.region, samples.resource):
        new_run |= codes[1:] != codes[:-1]
    backwards = ~new_run & (t[1:] < t[:-1])
    segments = np.flatnonzero(np.r_[True, new_rule])
    if len(segments) <= FEW_SEGMENTS:
        yield from _stretches(samples, segments, new_run, backwards)
        return
    run_starts = np.flatnonzero(np.r_[True, new_run])
    if not backwards.any() and _distinct(samples, run_starts):
        yield from _gathered(samples, run_starts)
    else:
        yield from _sorted_blocks(samples)


def _stretches(samples: Samples, segments: np.ndarray, new_run: np.ndarray, backwards: np.ndarray) -> Blocks:
    """Per meter, its same-meter stretches as views, or sorted together when their runs are not clean."""
    bounds = [*segments.tolist(), len(samples)]
    by_rule: dict[int, list[tuple[int, int]]] = {}
    for lo, hi in itertools.pairwise(bounds):
        by_rule.setdefault(int(samples.rule[lo]), []).append((lo, hi))
    for index, spans in sorted(by_rule.items()):
        if index < 0:
            continue
        runs = [np.r_[lo, np.flatnonzero(new_run[lo : hi - 1]) + lo + 1] for lo, hi in spans]
        in_order = not any(backwards[lo : hi - 1].any() for lo, hi in spans)
        if in_order and _distinct(samples, np.concatenate(runs)):
            for (lo, hi), starts in zip(spans, runs, strict=True):
                yield index, slice(lo, hi), starts - lo
        else:
            rows = np.concatenate([np.arange(lo, hi) for lo, hi in spans])
            yield index, *_sorted(samples, rows)


def _gathered(samples: Samples, run_starts: np.ndarray) -> Blocks:
    """Clean runs with meters interleaved: the runs of each meter gathered, in order, without sorting samples."""
    n = len(samples)
    run_rule = samples.rule[run_starts]
    by_rule_order = np.argsort(run_rule, kind="stable")
    lengths = np.diff(np.append(run_starts, n))[by_rule_order]
    new_starts = np.cumsum(lengths) - lengths
    positions = np.arange(n, dtype=np.int64) + np.repeat(run_starts[by_rule_order] - new_starts, lengths)
    rule_of_run = run_rule[by_rule_order]
    edges = np.flatnonzero(np.r_[True, rule_of_run[1:] != rule_of_run[:-1], True])
    for first, last in itertools.pairwise(edges):
        index = int(rule_of_run[first])
        hi = int(new_starts[last]) if last < len(new_starts) else n
        if index >= 0:
            yield index, positions[new_starts[first] : hi], new_starts[first:last] - new_starts[first]


def _sorted_blocks(samples: Samples) -> Blocks:
    """Any order: one stable sort of all samples, then cut by meter."""
    n, rule = len(samples), samples.rule
    order, starts = _sorted(samples, np.arange(n))
    edges = np.flatnonzero(np.r_[True, rule[order[starts[1:]]] != rule[order[starts[:-1]]], True])
    for first, last in itertools.pairwise(edges):
        lo = int(starts[first])
        hi = int(starts[last]) if last < len(starts) else n
        index = int(rule[order[lo]])
        if index >= 0:
            yield index, order[lo:hi], starts[first:last] - lo


def _distinct(samples: Samples, run_starts: np.ndarray) -> bool:
    """Whether no two runs starting at ``run_starts`` belong to the same meter and resource."""
    keys = np.stack([c[run_starts].astype(np.int64) for c in (samples.rule, samples.tenant, samples.region,
                                                              samples.resource)])  # fmt: skip
    return len(np.unique(keys, axis=1).T) == len(run_starts)


def _sorted(samples: Samples, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``rows`` in (meter, tenant, region, resource, time) order, stable, and where each run starts."""
    codes = [samples.rule[rows], samples.tenant[rows], samples.region[rows], samples.resource[rows]]
    order = np.lexsort((samples.t[rows], *reversed(codes)))
    changed = np.zeros(max(len(rows) - 1, 0), dtype=bool)
    for column in codes:
        ordered = column[order]
        changed |= ordered[1:] != ordered[:-1]
    return rows[order], np.flatnonzero(np.r_[True, changed])
