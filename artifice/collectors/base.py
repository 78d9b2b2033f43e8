"""The collector interface and the raw-usage schema every collector returns."""

from __future__ import annotations

import abc
from collections.abc import Sequence

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
    "message_id": "string",
    "flavor": "category",
    "status": "category",
    "counter_type": "category",  # Ceilometer's gauge | cumulative | delta, where the backend keeps it
    "resource_name": "category",  # a resource's display name, where the backend keeps one
    "started_at": "datetime64[ns, UTC]",  # when the resource began (launch, creation), where known
    "ended_at": "datetime64[ns, UTC]",  # when it ended (deletion), where known
}
TIME_COLUMNS = frozenset(name for name, dtype in RAW_COLUMNS.items() if dtype.startswith("datetime"))


def conform(frame: pd.DataFrame) -> pd.DataFrame:
    """Give ``frame`` the raw schema's columns and dtypes."""
    out = pd.DataFrame(index=frame.index)
    for name, dtype in RAW_COLUMNS.items():
        column = frame[name] if name in frame else pd.Series(pd.NA, index=frame.index, dtype=object)
        if name in TIME_COLUMNS:
            out[name] = _timestamps(column).astype(dtype)
        elif name == "volume":
            out[name] = pd.to_numeric(column, errors="coerce").astype(dtype)
        else:
            out[name] = column.astype(dtype)
    return out.reset_index(drop=True)


def _timestamps(column: pd.Series) -> pd.Series:
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
