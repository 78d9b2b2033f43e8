"""Build Ceilometer v2 wire-format samples for tests."""

from __future__ import annotations

import datetime as dt
import itertools
from typing import Any

import pandas as pd

from artifice.collectors.ceilometer_format import samples_frame
from artifice.timeutil import UTC, Window
from artifice.usage.engine import Usage, rate
from artifice.usage.mapping import parse_mapping

OCTOBER = Window.month(2026, 10)
_ids = itertools.count()
# As Ceilometer publishes them: running totals are cumulative, per-event counts delta, the rest gauges.
COUNTER_TYPES = {
    "network.incoming.bytes": "cumulative", "network.outgoing.bytes": "cumulative", "api.requests": "delta"
}  # fmt: skip


def at(day: int, hour: int = 0, minute: int = 0, month: int = 10) -> dt.datetime:
    return dt.datetime(2026, month, day, hour, minute, tzinfo=UTC)


def sample(
    meter: str,
    when: dt.datetime,
    volume: float = 1,
    *,
    unit: str = "instance",
    resource: str = "r1",
    tenant: str = "t1",
    source: str = "openstack",
    message_id: str | None = None,
    **metadata: Any,
) -> dict[str, Any]:
    return {
        "counter_name": meter,
        "counter_type": COUNTER_TYPES.get(meter, "gauge"),
        "counter_unit": unit,
        "counter_volume": volume,
        "project_id": tenant,
        "resource_id": resource,
        "timestamp": when.replace(tzinfo=None).isoformat(),
        "resource_metadata": {k.replace("__", "."): v for k, v in metadata.items()},
        "source": source,
        "message_id": message_id or f"m{next(_ids)}",
    }


def instance(when: dt.datetime, flavor: str = "m1.small", status: str = "active", **kw: Any) -> dict[str, Any]:
    return sample("instance", when, 1, flavor__name=flavor, status=status, **kw)


def hourly(first: dt.datetime, last: dt.datetime) -> list[dt.datetime]:
    return list(pd.date_range(first, last, freq="h", inclusive="left").to_pydatetime())


MAPPING = parse_mapping(
    {
        "meters": {
            "instance": {"transformer": "uptime", "unit": "hour", "category": "compute"},
            "volume.size": {"transformer": "gauge", "unit": "GB-hour", "category": "storage"},
            "image.size": {"transformer": "gauge", "unit": "GB-hour"},
            "memory.peak": {"transformer": "max", "unit": "GB-hour"},
            "network.outgoing.bytes": {"transformer": "delta", "unit": "GB"},
            "api.requests": {"transformer": "sum", "unit": "request"},
        }
    },
    "tests",
    default_max_gap=7200,
)


def rate_samples(
    samples: list[dict[str, Any]],
    window: Window = OCTOBER,
    region: str = "RegionOne",
    trust: tuple[str, ...] = ("openstack",),
) -> Usage:
    return rate(samples_frame(samples, region), window, MAPPING, trust)


def quantities(usage: Usage) -> dict[str, float]:
    """service -> quantity, for a single tenant and region."""
    return {str(row.service): round(float(row.quantity), 6) for row in usage.lines.itertuples()}
