"""Rate raw telemetry into billable usage: validate, transform, convert, sum.

The work is done on flat numpy arrays (category codes, int64 nanoseconds,
float64 volumes), never on a copy of the frame. When every sample is good, a
few reductions show it and nothing is copied; otherwise the bad samples are
counted by reason and the good ones taken. The samples are then cut into
blocks of one meter whose resources each form one run in time order: as a
collector returns them (by region and meter, then resource and time) they
already do, and the blocks are views; other orders cost one stable sort.
"""

from __future__ import annotations

import collections
import dataclasses
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
import pandas as pd

from artifice.timeutil import Window
from artifice.usage import blocks
from artifice.usage.blocks import Samples
from artifice.usage.counters import check_counter_types
from artifice.usage.mapping import MeterRule
from artifice.usage.transformers import TRANSFORMERS, Block

LINE_KEYS = ["tenant_id", "region", "service", "unit", "category"]
DETAIL_COLUMNS = [*LINE_KEYS, "description", "resource_id", "quantity"]
_NAT = np.iinfo(np.int64).min
_NEVER = np.iinfo(np.int64).max
_KEYS = ("tenant_id", "region", "resource_id")


@dataclasses.dataclass
class SampleReport:
    """What happened to the samples of one rating run."""

    used: int = 0
    dropped: collections.Counter[str] = dataclasses.field(default_factory=collections.Counter)

    def merge(self, other: SampleReport) -> None:
        self.used += other.used
        self.dropped.update(other.dropped)

    def summary(self) -> str:
        parts = [f"{self.used} samples used"]
        parts += [f"{count} {reason.replace('_', ' ')}" for reason, count in sorted(self.dropped.items())]
        return ", ".join(parts)


@dataclasses.dataclass
class Usage:
    """Billable usage: ``lines`` per (tenant, region, service); ``detail`` per resource."""

    lines: pd.DataFrame
    detail: pd.DataFrame
    report: SampleReport


@dataclasses.dataclass
class _Column:
    """A column as integer codes (-1 for missing) into ``categories``."""

    codes: np.ndarray
    categories: np.ndarray  # object array

    @classmethod
    def of(cls, series: pd.Series) -> _Column:
        if isinstance(series.dtype, pd.CategoricalDtype):
            return cls(np.asarray(series.array.codes), np.asarray(series.cat.categories, dtype=object))
        codes, uniques = pd.factorize(series, sort=True)
        return cls(np.asarray(codes), np.asarray(uniques, dtype=object))

    def table(self, values: list[Any], missing: Any, dtype: type) -> np.ndarray:
        """``values`` (one per category) and ``missing`` last, so that ``table[codes]`` looks rows up."""
        table: np.ndarray = np.array([*values, missing], dtype=dtype)
        return table


class _Dirty(Exception):
    """The optimistic pass met a sample it must drop: rate again, checking every sample."""


@dataclasses.dataclass
class _Context:
    rated: list[MeterRule]
    window: Window
    start: int
    end: int
    factors: np.ndarray  # [rule, unit code] -> amount factor, NaN when the unit does not convert
    columns: dict[str, _Column]


def rate(
    raw: pd.DataFrame,
    window: Window,
    rules: Mapping[str, MeterRule],
    trust_sources: Iterable[str],
) -> Usage:
    """Turn raw samples (``RAW_COLUMNS``) into usage for ``window``."""
    meter = _Column.of(raw["meter"])
    # Meters are rated in the order of the meter column: its categories, else sorted.
    rated = [rules[str(m)] for m in meter.categories if str(m) in rules]
    if not rated:
        return _usage(_empty_detail(), SampleReport())
    if "counter_type" in raw:  # frames built by hand may lack it
        kinds = _Column.of(raw["counter_type"])
        check_counter_types(meter.codes, meter.categories, kinds.codes, kinds.categories, rules)
    columns = {name: _Column.of(raw[name]) for name in (*_KEYS, "source", "unit", "flavor", "status")}
    names = [r.meter for r in rated]
    if len(rated) == len(meter.categories):
        rule = meter.codes  # the same numbering
    else:
        rule = meter.table([names.index(str(m)) if str(m) in rules else -1 for m in meter.categories], -1, np.int16)[
            meter.codes
        ]
    units = columns["unit"].categories
    context = _Context(
        rated=rated,
        window=window,
        start=int(pd.Timestamp(window.start).value),
        end=int(pd.Timestamp(window.end).value),
        factors=np.array([[_factor(r, str(u)) for u in units] + [_factor(r, "")] for r in rated]),
        columns=columns,
    )
    samples = Samples(
        rule=rule,
        tenant=columns["tenant_id"].codes,
        region=columns["region"].codes,
        resource=columns["resource_id"].codes,
        t=_nanoseconds(raw["timestamp"]),
        volume=raw["volume"].to_numpy(dtype=float),
        unit=columns["unit"].codes,
        flavor=columns["flavor"].codes,
        status=columns["status"].codes,
        started=_optional_nanoseconds(raw, "started_at"),
        ended=_optional_nanoseconds(raw, "ended_at"),
    )
    trusted = set(trust_sources)
    source = columns["source"]
    trusted_table = source.table([str(s) in trusted for s in source.categories], False, bool)
    message_ids = raw["message_id"].to_numpy(dtype=object)
    repeated = _repeated(message_ids, np.arange(len(message_ids)))
    if not len(repeated) and _all_good(samples, source.codes, trusted_table, context.end):
        try:
            return _usage(_detail(_rate_blocks(samples, context, strict=True), context), SampleReport(len(samples)))
        except _Dirty:
            pass
    report = SampleReport()
    keep = _clean(samples, trusted_table[source.codes], message_ids, context, report)
    samples = samples.take(np.flatnonzero(keep))
    report.used = len(samples)
    return _usage(_detail(_rate_blocks(samples, context, strict=False), context), report)


def _usage(detail: pd.DataFrame, report: SampleReport) -> Usage:
    # A service's description is its first meter's: two meters billed as one service stay one line.
    grouped = detail.groupby(LINE_KEYS, sort=True)
    lines = grouped.agg(quantity=("quantity", "sum"), description=("description", "first")).reset_index()
    return Usage(lines=lines, detail=detail, report=report)


def _nanoseconds(timestamps: pd.Series) -> np.ndarray:
    """int64 nanoseconds since the epoch, ``_NAT`` for missing."""
    if isinstance(timestamps.dtype, pd.DatetimeTZDtype) and timestamps.dtype.unit != "ns":
        timestamps = timestamps.dt.as_unit("ns")
    return np.asarray(timestamps.array.asi8)


def _optional_nanoseconds(raw: pd.DataFrame, column: str) -> np.ndarray:
    """A lifecycle column as nanoseconds; all unknown where a frame built by hand lacks it."""
    if column in raw:
        return _nanoseconds(raw[column])
    return np.full(len(raw), _NAT, dtype=np.int64)


def _factor(rule: MeterRule, unit: str) -> float:
    factor = rule.amount_factor(unit)
    return np.nan if factor is None else factor


def _all_good(samples: Samples, source: np.ndarray, trusted: np.ndarray, end: int) -> bool:
    """Whether no sample is to be dropped (units and uptime metadata are checked per block), by reductions."""
    if not len(samples):
        return True
    if samples.rule.min() < 0 or source.min() < 0:
        return False
    if not trusted[:-1].all() and not trusted[source].all():
        return False
    if samples.t.min() == _NAT or samples.t.max() >= end:
        return False
    low, high = samples.volume.min(), samples.volume.max()  # NaN if any is NaN
    return bool(low >= 0 and high < np.inf)


def _repeated(message_ids: np.ndarray, candidates: np.ndarray) -> np.ndarray:
    """The candidate rows whose message id (neither missing nor empty) an earlier candidate already has."""
    candidates = candidates[~pd.isna(message_ids[candidates])]  # Gnocchi's rows have none: nothing to hash
    twice = candidates[pd.Series(message_ids[candidates], copy=False).duplicated().to_numpy(dtype=bool)]
    repeated: np.ndarray = twice[message_ids[twice] != ""]
    return repeated


def _clean(
    samples: Samples,
    trusted: np.ndarray,
    message_ids: np.ndarray,
    context: _Context,
    report: SampleReport,
) -> np.ndarray:
    """The rows to rate; what must not be billed is counted by reason.

    Samples of unmapped meters or at or after the window end are left out
    silently; the lead-in is kept.
    """
    t, volume = samples.t, samples.volume
    keep = (samples.rule >= 0) & (t < context.end)  # NaT is the smallest int64: kept here, counted below
    _drop(report, "untrusted_source", keep & ~trusted)
    keep &= trusted
    repeated = _repeated(message_ids, np.flatnonzero(keep))
    _drop(report, "duplicate_message_id", repeated)
    keep[repeated] = False
    checks = {
        "invalid_timestamp": t == _NAT,
        "invalid_volume": ~np.isfinite(volume),
        "negative_volume": volume < 0,
    }
    for reason, mask in checks.items():
        mask &= keep
        _drop(report, reason, mask)
        keep &= ~mask
    rule = np.maximum(samples.rule, 0)
    mismatch = keep & np.isnan(context.factors[rule, samples.unit])
    _drop(report, "unit_mismatch", mismatch)
    keep &= ~mismatch
    uptime = np.array([r.transformer == "uptime" for r in context.rated])
    missing = keep & uptime[rule] & ((samples.flavor < 0) | (samples.status < 0))
    _drop(report, "missing_metadata", missing)
    keep &= ~missing
    return keep


def _rate_blocks(samples: Samples, context: _Context, strict: bool) -> list[_Part]:
    """Each block through its transformer: quantities per (rule, tenant, region, resource, service)."""
    parts = []
    for index, rows, starts in blocks.blocks(samples):
        rule = context.rated[index]
        units = samples.unit[rows]
        factors = context.factors[index]
        if not len(units):
            continue
        first_unit = units[0]
        if (units == first_unit).all():
            factor: float | np.ndarray = float(factors[first_unit])
        else:
            factor = factors[units]
        if strict and np.isnan(factor).any():
            raise _Dirty
        volume = samples.volume[rows]
        if not isinstance(factor, float) or factor != 1.0:
            volume = volume * factor
        block = Block(t=samples.t[rows], volume=volume, starts=starts, start=context.start, end=context.end)
        block.started, block.ended = _lives(samples.started[rows], samples.ended[rows], starts)
        if rule.transformer == "uptime":
            block.flavor, block.status = samples.flavor[rows], samples.status[rows]
            if strict and (block.flavor.min() < 0 or block.status.min() < 0):
                raise _Dirty
            block.flavors = context.columns["flavor"].categories
            block.statuses = context.columns["status"].categories
        sums = TRANSFORMERS[rule.transformer](block, rule)
        quantity = sums.quantity / rule.unit.time_seconds if rule.unit.time_seconds else sums.quantity
        first = starts[sums.run] if isinstance(rows, slice) else rows[starts[sums.run]]
        if isinstance(rows, slice):
            first = first + rows.start
        keys = (samples.tenant[first], samples.region[first], samples.resource[first])
        parts.append(_Part(index, keys, np.asarray(sums.services, dtype=object)[sums.service], quantity))
    return parts


def _lives(started: np.ndarray, ended: np.ndarray, starts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per run, the earliest known start and the latest known end of its samples (_NAT: unknown)."""
    if not len(started):
        return started, ended
    latest_end: np.ndarray = np.maximum.reduceat(ended, starts)  # _NAT is the smallest int64
    first_start: np.ndarray = np.minimum.reduceat(np.where(started == _NAT, _NEVER, started), starts)
    first_start[first_start == _NEVER] = _NAT
    return first_start, latest_end


@dataclasses.dataclass
class _Part:
    rule: int
    keys: tuple[np.ndarray, np.ndarray, np.ndarray]  # tenant, region, resource codes per quantity
    services: np.ndarray
    quantity: np.ndarray


def _detail(parts: list[_Part], context: _Context) -> pd.DataFrame:
    """Per-resource rows with a positive quantity, by meter, then tenant, region, resource and service."""
    if not parts:
        return _empty_detail()
    rule = np.concatenate([np.full(len(p.quantity), p.rule) for p in parts])
    codes = [np.concatenate([p.keys[i] for p in parts]).astype(np.int64) for i in range(3)]
    services = np.concatenate([p.services for p in parts])
    quantity = np.concatenate([p.quantity for p in parts]).astype(float)
    known = (quantity > 0) & (codes[0] >= 0) & (codes[1] >= 0) & (codes[2] >= 0)
    service_rank = np.unique(services.astype(str), return_inverse=True)[1]
    order = np.lexsort((service_rank, codes[2], codes[1], codes[0], rule))
    order = order[known[order]]
    rated = context.rated
    tenant, region, resource = (context.columns[k].categories for k in _KEYS)
    frame = pd.DataFrame(
        {
            "tenant_id": tenant[codes[0][order]],
            "region": region[codes[1][order]],
            "service": services[order],
            "unit": np.array([rated[i].unit.label for i in rule[order]], dtype=object),
            "category": np.array([rated[i].category for i in rule[order]], dtype=object),
            "description": np.array(
                [rated[i].describe(str(s)) for i, s in zip(rule[order], services[order], strict=True)], dtype=object
            ),
            "resource_id": resource[codes[2][order]],
            "quantity": quantity[order],
        }
    )
    for column in DETAIL_COLUMNS[:-1]:
        frame[column] = frame[column].astype(object)
    return frame


def _empty_detail() -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype=float if c == "quantity" else object) for c in DETAIL_COLUMNS})


def _drop(report: SampleReport, reason: str, mask: np.ndarray) -> None:
    count = int(np.count_nonzero(mask)) if mask.dtype == bool else len(mask)
    if count:
        report.dropped[reason] += count
