"""Rate raw telemetry into billable usage: validate, transform, convert, sum."""

from __future__ import annotations

import collections
import dataclasses
from collections.abc import Iterable, Mapping

import numpy as np
import pandas as pd

from artifice.timeutil import Window
from artifice.usage.mapping import MeterRule
from artifice.usage.transformers import RESOURCE_KEYS, TRANSFORMERS, Ordered

LINE_KEYS = ["tenant_id", "region", "service", "unit", "category"]
DETAIL_COLUMNS = [*LINE_KEYS, "resource_id", "quantity"]


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


def rate(
    raw: pd.DataFrame,
    window: Window,
    rules: Mapping[str, MeterRule],
    trust_sources: Iterable[str],
) -> Usage:
    """Turn raw samples (``RAW_COLUMNS``) into usage for ``window``."""
    report = SampleReport()
    frame = _clean(raw, window, rules, set(trust_sources), report)
    parts = []
    for meter, samples in frame.groupby("meter", sort=True, observed=True):
        rule = rules[str(meter)]
        usable = _convert(samples, rule, report)
        if usable.empty:
            continue
        report.used += len(usable)
        per_resource = TRANSFORMERS[rule.transformer](Ordered(usable, window), rule)
        if rule.unit.time_seconds:
            per_resource["quantity"] = per_resource["quantity"] / rule.unit.time_seconds
        per_resource["unit"] = rule.unit.label
        per_resource["category"] = rule.category
        parts.append(per_resource)
    detail = (
        pd.concat(parts, ignore_index=True)[DETAIL_COLUMNS]
        if parts
        else pd.DataFrame({c: pd.Series(dtype=float if c == "quantity" else object) for c in DETAIL_COLUMNS})
    )
    for column in [*LINE_KEYS, "resource_id"]:
        detail[column] = detail[column].astype(object)
    detail = detail[detail["quantity"] > 0].reset_index(drop=True)
    lines = detail.groupby(LINE_KEYS, sort=True)["quantity"].sum().reset_index()
    return Usage(lines=lines, detail=detail, report=report)


def _clean(
    raw: pd.DataFrame,
    window: Window,
    rules: Mapping[str, MeterRule],
    trusted: set[str],
    report: SampleReport,
) -> pd.DataFrame:
    """Drop (and count) what must not be billed; keep the lead-in."""
    frame = raw[raw["meter"].isin(list(rules))]
    frame = frame[(frame["timestamp"] < pd.Timestamp(window.end)) | frame["timestamp"].isna()]
    _drop(report, "untrusted_source", ~frame["source"].isin(list(trusted)))
    frame = frame[frame["source"].isin(list(trusted))]
    message_ids = frame["message_id"].astype("string")
    repeated = message_ids.notna() & (message_ids != "") & message_ids.duplicated()
    _drop(report, "duplicate_message_id", repeated)
    frame = frame[~repeated.to_numpy()]
    checks = {
        "invalid_timestamp": frame["timestamp"].isna(),
        "invalid_volume": ~np.isfinite(frame["volume"].to_numpy(dtype=float)),
        "negative_volume": frame["volume"].to_numpy(dtype=float) < 0,
    }
    bad = np.zeros(len(frame), dtype=bool)
    for reason, mask in checks.items():
        mask = np.asarray(mask, dtype=bool) & ~bad
        _drop(report, reason, mask)
        bad |= mask
    return frame[~bad]


def _convert(samples: pd.DataFrame, rule: MeterRule, report: SampleReport) -> pd.DataFrame:
    """Keep the samples this rule can bill, with ``volume`` in its amount unit."""
    units = samples["unit"].astype("string").fillna("")
    factors = {u: rule.unit.amount_factor(u) for u in units.unique()}
    known = {u: f for u, f in factors.items() if f is not None}
    factor = units.map(known).to_numpy(dtype=float, na_value=np.nan)
    bad_unit = np.isnan(factor)
    _drop(report, "unit_mismatch", bad_unit)
    keep = ~bad_unit
    if rule.transformer == "uptime":
        missing = (samples["flavor"].isna() | samples["status"].isna()).to_numpy() & keep
        _drop(report, "missing_metadata", missing)
        keep &= ~missing
    usable = samples[keep].copy()
    usable["volume"] = usable["volume"].to_numpy(dtype=float) * factor[keep]
    return usable[[*RESOURCE_KEYS, "timestamp", "volume", "flavor", "status"]]


def _drop(report: SampleReport, reason: str, mask: object) -> None:
    count = int(np.count_nonzero(np.asarray(mask, dtype=bool)))
    if count:
        report.dropped[reason] += count
