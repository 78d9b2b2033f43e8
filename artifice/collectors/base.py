"""The collector interface and the raw-usage schema every collector returns."""

from __future__ import annotations

import abc
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from oslo_config import cfg

from artifice.model import Tenant
from artifice.timeutil import Window

# Column -> dtype of the DataFrame every collector returns, one row per sample.
RAW_COLUMNS: dict[str, str] = {
    "tenant_id": "category",
    "region": "category",
    "meter": "category",
    "resource_id": "category",
    "timestamp": "datetime64[ns, UTC]",
    "volume": "float64",
    "unit": "category",
    "source": "category",
    "message_id": "object",  # str, None where missing: only compared, never computed on
    "flavor": "category",
    "status": "category",
    "counter_type": "category",  # Ceilometer's gauge | cumulative | delta, where the backend keeps it
    "resource_name": "category",  # a resource's display name, where the backend keeps one
    "started_at": "datetime64[ns, UTC]",  # when the resource began (launch, creation), where known
    "ended_at": "datetime64[ns, UTC]",  # when it ended (deletion), where known
}
TIME_COLUMNS = frozenset(name for name, dtype in RAW_COLUMNS.items() if dtype.startswith("datetime"))


def conform(frame: pd.DataFrame) -> pd.DataFrame:
    """Give ``frame`` the raw schema's columns and dtypes (columns that already have theirs are kept)."""
    columns = {}
    for name, dtype in RAW_COLUMNS.items():
        if name not in frame:  # all missing, made so at once (not a column of NA converted)
            columns[name] = pd.Series(_missing(dtype, len(frame)), index=frame.index)
            continue
        column = frame[name]
        if name == "message_id":
            columns[name] = pd.Series(_texts(column), index=frame.index, dtype=object)
        elif str(column.dtype) == dtype:
            columns[name] = column
        elif name in TIME_COLUMNS:
            columns[name] = parse_timestamps(column).astype(dtype)
        elif name == "volume":
            columns[name] = volumes(column)
        else:
            columns[name] = column.astype(dtype)
    return pd.DataFrame(columns, index=frame.index).reset_index(drop=True)


def volumes(values: pd.Series) -> pd.Series:
    """Values as float volumes, NaN where not a number; a number too large for a float raises OverflowError."""
    return pd.to_numeric(values, errors="coerce").astype("float64")


def _missing(dtype: str, rows: int) -> Any:
    """``rows`` missing values of ``dtype``."""
    if dtype == "category":
        return pd.Categorical.from_codes(np.full(rows, -1, dtype=np.int8), categories=[])
    if dtype.startswith("datetime"):
        return pd.array(np.full(rows, np.iinfo(np.int64).min).view("datetime64[ns]")).tz_localize("UTC")
    return np.full(rows, np.nan if dtype == "float64" else None, dtype=dtype)


def concat(frames: Sequence[pd.DataFrame]) -> pd.DataFrame:
    """Raw frames one after the other: categoricals unioned (their codes remapped), nothing parsed again."""
    frames = [frame for frame in frames if len(frame)]
    if len(frames) <= 1:
        return frames[0].reset_index(drop=True) if frames else conform(pd.DataFrame())
    columns = {}
    for name, dtype in RAW_COLUMNS.items():
        parts = [frame[name] for frame in frames]
        if dtype == "category":
            columns[name] = _union(parts)
        else:
            columns[name] = pd.concat(parts, ignore_index=True)
    return pd.DataFrame(columns)


def _union(parts: list[pd.Series]) -> pd.Categorical:
    """Categorical series one after the other, over the sorted union of their categories."""
    categories = sorted({value for part in parts for value in part.cat.categories})
    codes = [part.cat.set_categories(categories).cat.codes.to_numpy() for part in parts]
    return pd.Categorical.from_codes(np.concatenate(codes), categories=categories)


def _texts(column: pd.Series) -> np.ndarray:
    """Each value as text, None where missing (one C pass when they already are)."""
    values: np.ndarray = column.to_numpy(dtype=object, na_value=None, copy=False)
    if pd.api.types.infer_dtype(values, skipna=True) not in ("string", "empty"):
        values = np.array([None if value is None else str(value) for value in values], dtype=object)
    return values


def utc(nanoseconds: np.ndarray) -> pd.Series:
    """A timestamp column of int64 nanoseconds since the epoch (the smallest int64: NaT)."""
    return pd.Series(nanoseconds.view("datetime64[ns]")).dt.tz_localize("UTC")


def parse_timestamps(column: pd.Series) -> pd.Series:
    """UTC timestamps; unparseable ones, and those nanoseconds cannot hold (year 9999), become NaT."""
    stamps = pd.to_datetime(column, utc=True, errors="coerce", format="ISO8601")
    if stamps.dtype != RAW_COLUMNS["timestamp"]:  # a coarser unit: some stamps are out of range
        low, high = pd.Timestamp.min.tz_localize("UTC"), pd.Timestamp.max.tz_localize("UTC")
        stamps = stamps.where((stamps >= low) & (stamps <= high))
    return stamps


class Collector(abc.ABC):
    """Reads raw usage from one telemetry backend. Knows nothing of prices."""

    #: Tenants a billing pass reads in one ``collect_many`` (see ``artifice.billing.batch``).
    tenants_per_read = 1

    def __init__(self, conf: cfg.ConfigOpts) -> None:
        self.conf = conf

    @abc.abstractmethod
    def regions(self) -> Sequence[str]:
        """The regions (datacenters) this collector reads."""

    @abc.abstractmethod
    def tenants(self, window: Window) -> list[Tenant]:
        """Tenants with usage in ``window`` (deleted projects included)."""

    @abc.abstractmethod
    def collect(self, tenant_id: str, window: Window, meters: Sequence[str], lead_in: int) -> pd.DataFrame:
        """Raw samples (``RAW_COLUMNS``) of ``meters`` for the tenant.

        Covers ``[window.start - lead_in seconds, window.end)`` completely or
        raises ``CollectionError``: partial data must never be billed.
        """

    def collect_many(
        self, tenant_ids: Sequence[str], window: Window, meters: Sequence[str], lead_in: int
    ) -> pd.DataFrame:
        """``collect`` for several tenants at once; collectors that can read them together override it."""
        frames = [self.collect(tenant, window, meters, lead_in) for tenant in tenant_ids]
        return conform(pd.concat(frames, ignore_index=True)) if frames else conform(pd.DataFrame())
