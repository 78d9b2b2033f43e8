#!/usr/bin/env python3
"""Write the demo month: Ceilometer v2 samples for October 2026, two regions.

Deterministic (same bytes every run), so the shipped files can be checked
against this script. Usage: ``python tools/make_demo.py [OUTPUT_DIR]``
(default ``etc/artifice/demo``). What it contains, per tenant:

- acme, RegionOne: web-1 m1.small active all month; db-1 m1.large resized to
  m1.xlarge at 2026-10-15 12:00; volume data-1 100 GB; volume logs-1 growing
  from 50 to 80 GB at 2026-10-20; traffic counters on web-1, whose
  outgoing counter resets (a reboot) on 2026-10-12.
- acme, RegionTwo: batch-1 m1.medium, shut off from 2026-10-10 to 2026-10-20.
- globex, RegionOne: app-1 m1.small created 2026-10-05 09:00 and deleted
  2026-10-25 00:00; a 2 GiB image (reported in bytes) all month.
- initech, RegionTwo: vm-1 m1.small active all month, plus one sample the
  tenant posted itself (untrusted source) and one sample sent twice.
"""

from __future__ import annotations

import datetime as dt
import gzip
import json
import os
import random
import sys
import uuid
from collections.abc import Callable, Iterator

UTC = dt.UTC
START = dt.datetime(2026, 9, 30, 22, 0, tzinfo=UTC)  # includes the lead-in
END = dt.datetime(2026, 11, 1, 0, 0, tzinfo=UTC)
STEP = dt.timedelta(hours=1)
OFFSET = dt.timedelta(minutes=7, seconds=13)  # polling is never exactly on the hour


def _stamps(first: dt.datetime, last: dt.datetime) -> Iterator[dt.datetime]:
    moment = first
    while moment < last:
        yield moment
        moment += STEP


def _sample(
    meter: str,
    kind: str,
    unit: str,
    volume: float,
    tenant: str,
    resource: str,
    when: dt.datetime,
    metadata: dict[str, str],
    source: str = "openstack",
) -> dict[str, object]:
    stamp = when.strftime("%Y-%m-%dT%H:%M:%S.%f") if when.second % 2 else when.strftime("%Y-%m-%dT%H:%M:%S")
    return {
        "counter_name": meter,
        "counter_type": kind,
        "counter_unit": unit,
        "counter_volume": volume,
        "project_id": tenant,
        "user_id": f"user-{tenant}",
        "resource_id": resource,
        "timestamp": stamp,  # naive UTC, with or without microseconds, as the API returns them
        "resource_metadata": metadata,
        "source": source,
        "message_id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"{meter}/{resource}/{stamp}/{source}")),
    }


def instance(
    tenant: str,
    name: str,
    first: dt.datetime,
    last: dt.datetime,
    flavor: Callable[[dt.datetime], str],
    status: Callable[[dt.datetime], str],
) -> list[dict[str, object]]:
    resource = str(uuid.uuid5(uuid.NAMESPACE_DNS, f"{tenant}.{name}"))
    return [
        _sample(
            "instance",
            "gauge",
            "instance",
            1,
            tenant,
            resource,
            t + OFFSET,
            {"display_name": name, "flavor.name": flavor(t), "status": status(t), "state": "None"},
        )
        for t in _stamps(first, last)
    ]


def gauge(
    meter: str, unit: str, tenant: str, name: str, size: Callable[[dt.datetime], float]
) -> list[dict[str, object]]:
    resource = str(uuid.uuid5(uuid.NAMESPACE_DNS, f"{tenant}.{name}"))
    return [
        _sample(meter, "gauge", unit, size(t), tenant, resource, t + OFFSET, {"display_name": name})
        for t in _stamps(START, END)
    ]


def counter(
    meter: str, tenant: str, name: str, rng: random.Random, reset_at: dt.datetime | None
) -> list[dict[str, object]]:
    resource = str(uuid.uuid5(uuid.NAMESPACE_DNS, f"{tenant}.{name}.{meter}"))
    value, out = 5_000_000_000.0, []
    for t in _stamps(START, END):
        value += rng.randrange(50_000_000, 400_000_000)
        if reset_at is not None and t == reset_at:
            value = float(rng.randrange(1_000_000, 9_000_000))
        out.append(_sample(meter, "cumulative", "B", value, tenant, resource, t + OFFSET, {"display_name": name}))
    return out


def _at(when: dt.datetime, before: str, after: str) -> Callable[[dt.datetime], str]:
    return lambda t: before if t < when else after


def regions() -> dict[str, list[dict[str, object]]]:
    rng = random.Random(20261001)
    day = lambda d, h=0: dt.datetime(2026, 10, d, h, tzinfo=UTC)  # noqa: E731
    always = lambda value: lambda t: value  # noqa: E731
    one = [
        *instance("acme", "web-1", START, END, always("m1.small"), always("active")),
        *instance("acme", "db-1", START, END, _at(day(15, 12), "m1.large", "m1.xlarge"), always("active")),
        *gauge("volume.size", "GB", "acme", "data-1", always(100.0)),
        *gauge("volume.size", "GB", "acme", "logs-1", lambda t: 50.0 if t < day(20) else 80.0),
        *counter("network.incoming.bytes", "acme", "web-1", rng, None),
        *counter("network.outgoing.bytes", "acme", "web-1", rng, day(12)),
        *instance("globex", "app-1", day(5, 9), day(25), always("m1.small"), always("active")),
        *gauge("image.size", "B", "globex", "image-base", always(2 * 2**30)),
    ]
    shutoff = lambda t: "shutoff" if day(10) <= t < day(20) else "active"  # noqa: E731
    two = [
        *instance("acme", "batch-1", START, END, always("m1.medium"), shutoff),
        *instance("initech", "vm-1", START, END, always("m1.small"), always("active")),
    ]
    injected = _sample(
        "instance",
        "gauge",
        "instance",
        1,
        "initech",
        "forged",
        day(3),
        {"flavor.name": "m1.xlarge", "status": "active"},
        source="tenant",
    )
    two += [injected, dict(two[-1])]  # an untrusted sample, and the last sample delivered twice
    # The API returns samples newest first.
    return {"RegionOne": sorted(one, key=_newest_first), "RegionTwo": sorted(two, key=_newest_first)}


def _newest_first(sample: dict[str, object]) -> tuple[str, str]:
    return (str(sample["timestamp"])[:19], str(sample["message_id"]))


def write(directory: str) -> list[str]:
    os.makedirs(directory, exist_ok=True)
    paths = []
    for region, samples in regions().items():
        path = os.path.join(directory, f"{region}.json.gz")
        samples.reverse()
        body = json.dumps(samples, indent=None, sort_keys=True).encode()
        with open(path, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=0, filename="") as handle:
            handle.write(body)
        paths.append(path)
    return paths


if __name__ == "__main__":
    for written in write(sys.argv[1] if len(sys.argv) > 1 else "etc/artifice/demo"):
        print(written)
