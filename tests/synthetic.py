"""A synthetic month for the integration tests, with its expected usage worked out.

October 2026, hourly samples exactly on the hour (so Gnocchi's hourly buckets
hold the same values as Ceilometer's samples), for ``tenants`` tenants in two
regions. Per tenant and region:

- ``vm-a``: m1.small, a sample every hour plus a lead-in at 30 Sep 23:00:
  744 h.
- ``vm-b``: m1.medium, created on day 2 + tenant index at 00:00, silent (shut
  off) from 10 Oct 00:00 to 15 Oct 00:00, deleted on 25 Oct 00:00 (its samples
  carry Nova's ``launched_at`` and ``deleted_at``; Gnocchi has them as
  ``started_at`` / ``ended_at``). A silence longer than max_gap is not billed,
  nor is the last sample before it; the last one before the deletion holds
  until it: billed [created, 9 Oct 23:00) and [15 Oct 00:00, 25 Oct 00:00).
- ``vol``: a volume of 10 x (index + 1) GB all month.
- ``img``: a 1 GiB image reported in bytes all month.
- ``nic``: vm-a's outgoing traffic counter, +1 GB per hour, reset to 0.5 GB
  at 12 Oct 12:00: 743 increments of 1 GB plus 0.5 GB after the reset.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import uuid
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

from artifice.timeutil import UTC

REGIONS = ("RegionOne", "RegionTwo")
LEAD_IN = dt.datetime(2026, 9, 30, 23, tzinfo=UTC)
START = dt.datetime(2026, 10, 1, tzinfo=UTC)
END = dt.datetime(2026, 11, 1, tzinfo=UTC)
HOUR = dt.timedelta(hours=1)
SOURCE = "openstack"
RATES = {
    "m1.small": "0.05",
    "m1.medium": "0.10",
    "volume.size": "0.0002",
    "image.size": "0.0001",
    "network.outgoing.bytes": "0.09",
}


def tenant_id(index: int) -> str:
    return uuid.uuid5(uuid.NAMESPACE_DNS, f"tenant-{index}.artifice.test").hex


def resource_id(tenant: str, region: str, name: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_DNS, f"{name}.{region}.{tenant}"))


def _hours(first: dt.datetime, last: dt.datetime) -> list[dt.datetime]:
    out, moment = [], first
    while moment < last:
        out.append(moment)
        moment += HOUR
    return out


@dataclasses.dataclass
class Series:
    """One resource's samples of one meter."""

    tenant: str
    region: str
    meter: str
    unit: str
    resource: str
    kind: str  # gauge | cumulative
    points: list[tuple[dt.datetime, float]]
    metadata: dict[str, str]

    def samples(self, source: str = SOURCE) -> list[dict[str, Any]]:
        return [
            {
                "counter_name": self.meter,
                "counter_type": self.kind,
                "counter_unit": self.unit,
                "counter_volume": value,
                "project_id": self.tenant,
                "user_id": "u-" + self.tenant[:8],
                "resource_id": self.resource,
                "timestamp": when.replace(tzinfo=None).isoformat(),
                "resource_metadata": self.metadata,
                "source": source,
            }
            for when, value in self.points
        ]


def month(tenants: int) -> list[Series]:
    series = []
    for index in range(tenants):
        tenant = tenant_id(index)
        for region in REGIONS:
            rid = functools.partial(resource_id, tenant, region)
            vm_a = {"flavor.name": "m1.small", "status": "active", "display_name": "vm-a"}
            created = START + dt.timedelta(days=1 + index % 5)
            deleted = START + dt.timedelta(days=24)
            vm_b = {"flavor.name": "m1.medium", "status": "active", "display_name": "vm-b",
                    "launched_at": created.isoformat(), "deleted_at": deleted.isoformat()}  # fmt: skip
            b_times = _hours(created, START + dt.timedelta(days=9)) + _hours(
                START + dt.timedelta(days=14), START + dt.timedelta(days=24)
            )
            counter, points = 0.0, []
            for when in _hours(LEAD_IN, END):
                counter = 0.5e9 if when == dt.datetime(2026, 10, 12, 12, tzinfo=UTC) else counter + 1e9
                points.append((when, counter))
            series += [
                Series(
                    tenant,
                    region,
                    "instance",
                    "instance",
                    rid("vm-a"),
                    "gauge",
                    [(t, 1.0) for t in _hours(LEAD_IN, END)],
                    vm_a,
                ),
                Series(tenant, region, "instance", "instance", rid("vm-b"), "gauge", [(t, 1.0) for t in b_times], vm_b),
                Series(
                    tenant,
                    region,
                    "volume.size",
                    "GB",
                    rid("vol"),
                    "gauge",
                    [(t, 10.0 * (index + 1)) for t in _hours(LEAD_IN, END)],
                    {"display_name": "vol"},
                ),
                Series(
                    tenant,
                    region,
                    "image.size",
                    "B",
                    rid("img"),
                    "gauge",
                    [(t, float(2**30)) for t in _hours(LEAD_IN, END)],
                    {"display_name": "img"},
                ),
                Series(
                    tenant,
                    region,
                    "network.outgoing.bytes",
                    "B",
                    rid("nic"),
                    "cumulative",
                    points,
                    {"display_name": "vm-a-nic"},
                ),
            ]
    return series


def expected_quantities(index: int) -> dict[str, float]:
    """Per region: service -> quantity for tenant ``index``, worked out by hand."""
    created_day = 2 + index % 5  # vm-b's first sample, 00:00 on that day of October
    medium_hours = (9 * 24 - 1 - (created_day - 1) * 24) + (24 * 24 - 14 * 24)
    return {
        "m1.small": 744.0,
        "m1.medium": float(medium_hours),
        "volume.size": 10.0 * (index + 1) * 744,
        "image.size": 2**30 / 1e9 * 744,
        "network.outgoing.bytes": 743.5,
    }


UNITS = {"volume.size": "GiB-hour", "image.size": "GB-hour", "network.outgoing.bytes": "GB"}


def write_rates(path: Path) -> Path:
    """A CSV adapter rates file with :data:`RATES`, in EUR."""
    lines = [f"*,{service},{UNITS.get(service, 'hour')},{price},EUR\n" for service, price in RATES.items()]
    path.write_text("datacenter,service,unit,price,currency\n" + "".join(lines), encoding="utf-8")
    return path


def expected_total(index: int) -> Decimal:
    """Tenant ``index``'s invoice total, worked from :func:`expected_quantities` by the rounding rule."""
    total = Decimal(0)
    for _region in REGIONS:
        for service, quantity in expected_quantities(index).items():
            rounded = Decimal(repr(quantity)).quantize(Decimal("0.0001"), ROUND_HALF_UP)
            total += (rounded * Decimal(RATES[service])).quantize(Decimal("0.01"), ROUND_HALF_UP)
    return total
