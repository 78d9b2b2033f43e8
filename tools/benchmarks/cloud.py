"""A deterministic synthetic cloud: tenants, regions, resources and a month of their samples.

    cloud = Cloud(tenants=170)                  # about 10 M samples at 10-minute polling
    frame = cloud.frame()                       # RAW_COLUMNS, as a collector returns it
    pages = cloud.wire_pages(range(0, 5))       # Ceilometer v2 JSON, as GET /v2/meters/<name> returns it

Every tenant has ``resources`` resources in the two regions; with the default
ten: three instances (some created or deleted mid-month, a quarter resized, a
quarter stopped and started again, so they report ``shutoff`` for a while), three
volumes (a fifth extended mid-month), two network interfaces (incoming and
outgoing byte counters that grow at their own rate and sometimes reset to
zero), an image (its size in bytes and, in the ``full`` profile, its
downloads) and, in the ``full`` profile, a floating IP. Polled meters report
every ``interval`` seconds (10 minutes by default) from ``lead_in`` seconds
before the month to its end, a few seconds late (jitter), and about one poll
in a thousand is missed. The ``full`` profile exercises all five transformers
(:data:`FULL_MAPPING`); the ``shipped`` profile only has the meters of
``etc/artifice/meters.yaml`` (what the end-to-end benchmark loads into real
servers).

Everything is a function of ``seed`` and of each item's own key (tenant,
resource slot, meter, poll index) through a counter-based hash, never of a
sequential random stream, so tenant 7 looks the same whether the cloud has 10
or 10,000 tenants, and any range of tenants can be generated on its own.
Generation is vectorised: 10 M samples take a few seconds.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import os
import time
import uuid
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from oslo_config import cfg

from artifice.collectors.base import RAW_COLUMNS, Collector
from artifice.invoice import Tenant
from artifice.timeutil import Window
from artifice.usage.mapping import MeterRule, parse_mapping

MONTH = Window.month(2026, 10)
REGIONS = ("RegionOne", "RegionTwo")
FLAVORS = ("m1.tiny", "m1.small", "m1.medium", "m1.large", "m1.xlarge")
STATUSES = ("active", "shutoff")
VOLUME_SIZES = (10.0, 20.0, 50.0, 100.0, 250.0, 500.0)
SOURCE = "openstack"
NS = 1_000_000_000

# meter -> (sample unit, Ceilometer counter type)
METERS: dict[str, tuple[str, str]] = {
    "instance": ("instance", "gauge"),
    "volume.size": ("GB", "gauge"),
    "image.size": ("B", "gauge"),
    "image.download": ("B", "delta"),
    "network.incoming.bytes": ("B", "cumulative"),
    "network.outgoing.bytes": ("B", "cumulative"),
    "ip.floating": ("ip", "gauge"),
}
METER_NAMES = tuple(METERS)
KINDS = ("instance", "volume", "nic", "image", "floating_ip")
KIND_METERS: dict[str, dict[str, tuple[str, ...]]] = {
    "full": {
        "instance": ("instance",),
        "volume": ("volume.size",),
        "nic": ("network.incoming.bytes", "network.outgoing.bytes"),
        "image": ("image.size", "image.download"),
        "floating_ip": ("ip.floating",),
    },
    "shipped": {
        "instance": ("instance",),
        "volume": ("volume.size",),
        "nic": ("network.incoming.bytes", "network.outgoing.bytes"),
        "image": ("image.size",),
        "floating_ip": (),
    },
}
# The kind of each resource slot of a tenant, repeated when a tenant has more than ten.
SLOTS: dict[str, tuple[str, ...]] = {
    "full": ("instance", "volume", "nic", "instance", "volume", "nic", "image", "instance", "volume", "floating_ip"),
    "shipped": ("instance", "volume", "nic", "instance", "volume", "nic", "image", "instance", "volume", "volume"),
}
# The meter mapping of the full profile: etc/artifice/meters.yaml plus a max and a sum meter.
FULL_MAPPING_DOCUMENT: dict[str, Any] = {
    "meters": {
        "instance": {
            "transformer": "uptime",
            "service": "{flavor}",
            "unit": "hour",
            "category": "compute",
            "billable_states": ["active", "paused", "rescued", "resized", "verify_resize", "migrating"],
        },
        "volume.size": {
            "transformer": "gauge",
            "unit": "GiB-hour",
            "sample_units": {"GB": "GiB"},
            "category": "storage",
        },
        "image.size": {"transformer": "gauge", "unit": "GB-hour", "category": "storage"},
        "network.incoming.bytes": {"transformer": "delta", "unit": "GB", "category": "network"},
        "network.outgoing.bytes": {"transformer": "delta", "unit": "GB", "category": "network"},
        "ip.floating": {"transformer": "max", "unit": "ip-hour", "category": "network"},
        "image.download": {"transformer": "sum", "unit": "GB", "category": "network"},
    }
}
FULL_MAPPING: dict[str, MeterRule] = parse_mapping(
    FULL_MAPPING_DOCUMENT, "tools.benchmarks.cloud", default_max_gap=7200
)
# Prices per service for the CSV adapter (any datacenter).
RATES: dict[str, tuple[str, str]] = {
    **{flavor: ("hour", f"{0.01 * 2**i:.2f}") for i, flavor in enumerate(FLAVORS)},
    "volume.size": ("GiB-hour", "0.0002"),
    "image.size": ("GB-hour", "0.0001"),
    "network.incoming.bytes": ("GB", "0.01"),
    "network.outgoing.bytes": ("GB", "0.09"),
    "ip.floating": ("ip-hour", "0.005"),
    "image.download": ("GB", "0.02"),
}

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)


def _mix(x: np.ndarray) -> np.ndarray:
    """splitmix64's finaliser: a well-spread 64-bit hash of each element."""
    x = (x ^ (x >> np.uint64(30))) * _M1
    x = (x ^ (x >> np.uint64(27))) * _M2
    out: np.ndarray = x ^ (x >> np.uint64(31))
    return out


def uniform(keys: np.ndarray, salt: int) -> np.ndarray:
    """A deterministic number in [0, 1) per key, independent for each ``salt``."""
    with np.errstate(over="ignore"):
        mixed = _mix(keys.astype(np.uint64) * _GOLDEN + np.uint64(salt) * _M2)
    out: np.ndarray = (mixed >> np.uint64(11)).view(np.int64).astype(np.float64) * 2.0**-53
    return out


@functools.cache
def tenant_id(seed: int, index: int) -> str:
    return uuid.uuid5(uuid.NAMESPACE_DNS, f"tenant-{index}.seed-{seed}.bench.artifice").hex


@functools.cache
def resource_id(seed: int, tenant: int, slot: int, kind: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_DNS, f"{kind}-{slot}.tenant-{tenant}.seed-{seed}.bench.artifice"))


@dataclasses.dataclass
class Series:
    """One row per (resource, meter) of a range of tenants, and what it does during the month."""

    tenant: np.ndarray  # tenant index
    slot: np.ndarray  # resource slot within the tenant
    kind: np.ndarray  # index into KINDS
    meter: np.ndarray  # index into METER_NAMES
    region: np.ndarray  # index into the cloud's regions
    key: np.ndarray  # uint64 hash key of the series
    created: np.ndarray  # ns: first moment the resource exists
    deleted: np.ndarray  # ns: the resource is gone from here (past the window end if never)
    flavor: np.ndarray  # instances: flavor index before the resize
    resized: np.ndarray  # ns: flavor index + 1 from here (past the end if never)
    stopped: np.ndarray  # ns: shut off from here ...
    started: np.ndarray  # ns: ... until here
    value: np.ndarray  # gauges: the value (GB, bytes, IPs); counters: mean bytes per second
    changed: np.ndarray  # ns: volumes extended to twice the size, counters reset, from here
    count: np.ndarray  # samples of the series

    def __len__(self) -> int:
        return len(self.tenant)

    def take(self, rows: np.ndarray) -> Series:
        return Series(**{f.name: getattr(self, f.name)[rows] for f in dataclasses.fields(self)})


@dataclasses.dataclass
class Samples:
    """Flat per-sample arrays of a range of tenants, series after series, each in time order."""

    series: Series
    index: np.ndarray  # the sample's row in ``series``
    time: np.ndarray  # int64 ns since the epoch, UTC
    volume: np.ndarray  # float64, in the meter's sample unit
    flavor: np.ndarray  # int8 index into FLAVORS, -1 when not an instance
    status: np.ndarray  # int8 index into STATUSES, -1 when not an instance
    poll: np.ndarray  # int64 poll number (for hashing message ids)

    def __len__(self) -> int:
        return len(self.time)


@dataclasses.dataclass(frozen=True)
class Cloud:
    """``tenants`` tenants of ``resources`` resources each, polled every ``interval`` seconds for ``window``."""

    tenants: int
    resources: int = 10
    interval: int = 600
    profile: str = "full"
    seed: int = 2026
    regions: tuple[str, ...] = REGIONS
    window: Window = MONTH
    lead_in: int = 7200
    jitter: float = 20.0  # seconds, at most; below the interval
    missed_polls: float = 0.001
    downloads_per_day: float = 4.0

    def __post_init__(self) -> None:
        if self.profile not in KIND_METERS:
            raise ValueError(f"profile must be one of {', '.join(KIND_METERS)}")
        if not 0 <= self.jitter < self.interval:
            raise ValueError("jitter must be below the interval")

    @property
    def mapping(self) -> dict[str, MeterRule]:
        meters = {m for kind in KIND_METERS[self.profile].values() for m in kind}
        return {meter: rule for meter, rule in FULL_MAPPING.items() if meter in meters}

    @property
    def start_ns(self) -> int:
        return int(pd.Timestamp(self.window.start).value)

    @property
    def end_ns(self) -> int:
        return int(pd.Timestamp(self.window.end).value)

    @property
    def grid_start_ns(self) -> int:
        """The first poll: ``lead_in`` before the window start, rounded down to the interval."""
        return self.start_ns - (self.lead_in // self.interval) * self.interval * NS

    def tenant_ids(self, tenants: Sequence[int] | range | None = None) -> list[str]:
        return [tenant_id(self.seed, i) for i in (range(self.tenants) if tenants is None else tenants)]

    def series(self, tenants: range | None = None) -> Series:
        """Every (resource, meter) of ``tenants`` (default: all), with its behaviour."""
        tenants = range(self.tenants) if tenants is None else tenants
        slots_kind = np.array([KINDS.index(k) for k in SLOTS[self.profile]], dtype=np.int64)
        t_idx = np.repeat(np.arange(tenants.start, tenants.stop, dtype=np.int64), self.resources)
        slot = np.tile(np.arange(self.resources, dtype=np.int64), len(tenants))
        kind = slots_kind[slot % len(slots_kind)]
        meters_of_kind = [
            [METER_NAMES.index(m) for m in KIND_METERS[self.profile][k]] for k in KINDS
        ]  # kind -> meter indexes
        per_resource = np.array([len(m) for m in meters_of_kind])[kind]
        tenant = np.repeat(t_idx, per_resource)
        slot = np.repeat(slot, per_resource)
        kind = np.repeat(kind, per_resource)
        nth = np.arange(len(kind)) - np.repeat(np.cumsum(per_resource) - per_resource, per_resource)
        table = np.full((len(KINDS), 2), -1, dtype=np.int64)
        for k, meters in enumerate(meters_of_kind):
            table[k, : len(meters)] = meters
        meter = table[kind, nth]
        resource_key = (np.uint64(self.seed) << np.uint64(40)) + (tenant * 4096 + slot).astype(np.uint64)
        key = resource_key * np.uint64(8) + meter.astype(np.uint64)

        def u(salt: int) -> np.ndarray:  # per resource (all meters of a resource agree)
            return uniform(resource_key, salt)

        first, start, end = self.grid_start_ns, self.start_ns, self.end_ns
        month = end - start
        late = u(1) < 0.2
        created = np.where(late, start + (u(2) * month).astype(np.int64), first)
        gone = u(3) < 0.1
        deleted = np.where(gone, created + ((end - created) * u(4)).astype(np.int64), end + 1)
        life = deleted - created
        is_instance = kind == KINDS.index("instance")
        flavor = (u(5) * (len(FLAVORS) - 1)).astype(np.int64)
        resized = np.where(is_instance & (u(6) < 0.25), created + (life * u(7)).astype(np.int64), end + 1)
        stops = is_instance & (u(8) < 0.25)
        stopped = np.where(stops, created + (life * u(9)).astype(np.int64), end + 1)
        started = stopped + ((1 + 71 * u(10)) * 3600 * NS).astype(np.int64)
        sizes = np.array(VOLUME_SIZES)[(u(11) * len(VOLUME_SIZES)).astype(np.int64)]
        image_bytes = np.floor(2e8 + u(12) * 8e9)
        byte_rate = 10.0 ** (3 + 3 * uniform(key, 13))  # per counter: 1 kB/s to 1 MB/s
        value = np.select(
            [kind == KINDS.index("volume"), kind == KINDS.index("image"), kind == KINDS.index("nic")],
            [sizes, image_bytes, byte_rate],
            default=1.0,
        )
        extends = (kind == KINDS.index("volume")) & (u(14) < 0.2)
        resets = (kind == KINDS.index("nic")) & (uniform(key, 15) < 0.3)
        changed = np.where(extends | resets, created + (life * uniform(key, 16)).astype(np.int64), end + 1)
        region = (tenant + slot) % len(self.regions)
        series = Series(
            tenant, slot, kind, meter, region, key, created, deleted, flavor, resized, stopped, started, value, changed,
            np.zeros(len(tenant), dtype=np.int64),
        )  # fmt: skip
        series.count = self._counts(series)
        return series

    def _is_sparse(self, series: Series) -> np.ndarray:
        sparse: np.ndarray = series.meter == METER_NAMES.index("image.download")
        return sparse

    def _grid_span(self, series: Series) -> tuple[np.ndarray, np.ndarray]:
        """First poll index and (exclusive) last poll index of each polled series."""
        step = self.interval * NS
        polls = (self.end_ns - self.grid_start_ns) // step
        first = np.clip(-((self.grid_start_ns - series.created) // step), 0, polls)  # ceil division
        last = np.clip(-((self.grid_start_ns - series.deleted) // step), 0, polls)
        return first, np.maximum(last, first)

    def _counts(self, series: Series) -> np.ndarray:
        first, last = self._grid_span(series)
        days = (np.minimum(series.deleted, self.end_ns) - np.maximum(series.created, self.start_ns)) / (86400 * NS)
        downloads = np.floor(np.clip(days, 0, None) * self.downloads_per_day * 2 * uniform(series.key, 17))
        counts: np.ndarray = np.where(self._is_sparse(series), downloads, last - first).astype(np.int64)
        return counts

    def samples(self, tenants: range | None = None, order: str = "collector") -> Samples:
        """Every sample of ``tenants`` (default: all), missed polls left out, each series in time order.

        ``order`` of the series: ``collector`` by region, meter, tenant and
        resource, as the Gnocchi collector returns them; ``tenant`` resource
        after resource of each tenant, meters interleaved.
        """
        series = self.series(tenants)
        if order == "collector":
            series = series.take(np.lexsort((series.slot, series.tenant, series.meter, series.region)))
        elif order != "tenant":
            raise ValueError("order must be collector or tenant")
        n = series.count
        total = int(n.sum())
        index = np.repeat(np.arange(len(series), dtype=np.int64), n)
        first, _ = self._grid_span(series)
        poll = np.arange(total, dtype=np.int64)
        poll += np.repeat(first - (np.cumsum(n) - n), n)  # poll number within the month's grid
        # One 64-bit hash per sample, cut into independent fractions: jitter, missed poll, counter growth.
        with np.errstate(over="ignore"):
            bits = _mix(np.repeat(series.key * np.uint64(1 << 20), n) + poll.astype(np.uint64)).view(np.int64)
        low = 1 << 20
        time = poll * (self.interval * NS) + self.grid_start_ns
        time += ((bits & (low - 1)) * (self.jitter * 1e6 / low)).astype(np.int64) * 1000  # whole microseconds
        keep = ((bits >> 20) & (low - 1)) >= self.missed_polls * low
        volume = series.value[index]
        # Downloads (sparse): spread over the resource's life in the window, none missed.
        at = np.flatnonzero(self._is_sparse(series)[index])
        if len(at):
            row = index[at]
            lo = np.maximum(series.created, self.start_ns)[row]
            hi = np.minimum(series.deleted, self.end_ns)[row]
            place = (poll[at] - first[row] + ((bits[at] >> 40) & (low - 1)) / low) / n[row]
            time[at] = (lo + ((hi - lo) * place).astype(np.int64)) // 1000 * 1000
            keep[at] = True
        kind = series.kind[index]
        at = np.flatnonzero(kind == KINDS.index("volume"))
        volume[at] *= np.where(time[at] >= series.changed[index[at]], 2.0, 1.0)
        # Counters: the running sum of each poll's bytes, restarting from zero at a reset.
        at = np.flatnonzero(kind == KINDS.index("nic"))
        if len(at):
            row = index[at]
            grow = (volume[at] * self.interval * (0.5 + ((bits[at] >> 40) & (low - 1)) / low)).round()
            segment = row * 2 + (time[at] >= series.changed[row])  # a reset starts a new segment
            starts = np.flatnonzero(np.r_[True, segment[1:] != segment[:-1]])
            running = np.cumsum(grow)
            volume[at] = running - np.repeat(running[starts] - grow[starts], np.diff(np.r_[starts, len(at)]))
        flavor = np.full(total, -1, dtype=np.int8)
        status = np.full(total, -1, dtype=np.int8)
        at = np.flatnonzero(kind == KINDS.index("instance"))
        if len(at):
            row, when = index[at], time[at]
            flavor[at] = series.flavor[row] + (when >= series.resized[row])
            status[at] = (when >= series.stopped[row]) & (when < series.started[row])
        return Samples(series, index[keep], time[keep], volume[keep], flavor[keep], status[keep], poll[keep])

    def frame(self, tenants: range | None = None, message_ids: bool = False, order: str = "collector") -> pd.DataFrame:
        """The samples of ``tenants`` as the raw-usage frame (``RAW_COLUMNS``) a collector returns.

        Without ``message_ids`` the column is all missing, as from the Gnocchi collector
        (10 M distinct Python strings would take about 1 GB). ``order`` as for :meth:`samples`.
        """
        return self.to_frame(self.samples(tenants, order), message_ids)

    def to_frame(self, samples: Samples, message_ids: bool = False) -> pd.DataFrame:
        series, index = samples.series, samples.index
        all_tenants = np.unique(series.tenant)
        t_code = np.searchsorted(all_tenants, series.tenant)
        resources = np.unique(series.tenant * 4096 + series.slot)
        r_code = np.searchsorted(resources, series.tenant * 4096 + series.slot)
        names = [resource_id(self.seed, int(r) // 4096, int(r) % 4096, self._kind_of(int(r) % 4096)) for r in resources]
        units = sorted({unit for unit, _ in METERS.values()})
        unit_code = np.array([units.index(METERS[m][0]) for m in METER_NAMES])

        def categorical(codes: np.ndarray, categories: Sequence[str]) -> pd.Categorical:
            return pd.Categorical.from_codes(codes, categories=list(categories))

        n = len(samples)
        columns: dict[str, Any] = {
            "tenant_id": categorical(t_code[index], self.tenant_ids(all_tenants.tolist())),
            "region": categorical(series.region[index], self.regions),
            "meter": categorical(series.meter[index], METER_NAMES),
            "resource_id": categorical(r_code[index], names),
            "timestamp": pd.DatetimeIndex(samples.time.view("datetime64[ns]")).tz_localize("UTC"),
            "volume": samples.volume,
            "unit": categorical(unit_code[series.meter[index]], units),
            "source": categorical(np.zeros(n, dtype=np.int8), [SOURCE]),
            "message_id": (
                pd.array(self.message_ids(samples), dtype="string")
                if message_ids
                else pd.Series(pd.NA, index=pd.RangeIndex(n), dtype="string").array
            ),
            "flavor": categorical(samples.flavor, FLAVORS),
            "status": categorical(samples.status, STATUSES),
        }
        frame = pd.DataFrame(columns)
        for name, dtype in RAW_COLUMNS.items():
            if name in ("timestamp", "volume", "message_id"):
                frame[name] = frame[name].astype(dtype)
        return frame

    def _kind_of(self, slot: int) -> str:
        slots = SLOTS[self.profile]
        return slots[slot % len(slots)]

    def message_ids(self, samples: Samples) -> list[str]:
        sample_key = samples.series.key[samples.index] * np.uint64(1 << 20) + samples.poll.astype(np.uint64)
        parts = [(uniform(sample_key, salt) * 2.0**48).astype(np.int64).tolist() for salt in (30, 31, 32)]
        hexes = (f"{a:012x}{b:012x}{c & 0xFFFFFFFF:08x}" for a, b, c in zip(*parts, strict=True))
        return [f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}" for h in hexes]

    def tenants_for(self, samples: int) -> int:
        """How many tenants (each like this cloud's) make about ``samples`` samples."""
        probe = 64
        per_tenant = len(dataclasses.replace(self, tenants=probe).samples().time) / probe
        return max(1, round(samples / per_tenant))

    def api_samples(self, tenants: range) -> Iterator[tuple[str, str, str, list[dict[str, Any]]]]:
        """(tenant id, region, meter, samples) with the samples as ``GET /v2/meters/<meter>`` returns them.

        Newest first, timestamps naive UTC (microseconds when not zero), the
        metadata flattened to strings as the API does.
        """
        samples = self.samples(tenants)
        series, index = samples.series, samples.index
        stamps = np.datetime_as_string(samples.time.view("datetime64[ns]"), unit="us")
        stamps = np.char.replace(stamps, ".000000", "").tolist()  # the API drops zero microseconds
        recorded = np.datetime_as_string((samples.time + 30 * NS).view("datetime64[ns]"), unit="us").tolist()
        ids = self.message_ids(samples)
        volumes = samples.volume.tolist()
        flavors, statuses = samples.flavor.tolist(), samples.status.tolist()
        bounds = np.flatnonzero(np.r_[True, index[1:] != index[:-1], True])
        order = np.lexsort((series.meter, series.region, series.tenant))
        groups: dict[tuple[int, int, int], list[int]] = {}
        for row in order.tolist():
            group = (int(series.tenant[row]), int(series.region[row]), int(series.meter[row]))
            groups.setdefault(group, []).append(row)
        first_of = dict(zip(index[bounds[:-1]].tolist(), bounds[:-1].tolist(), strict=True))
        for (tenant, region, meter), rows in groups.items():
            name = METER_NAMES[meter]
            unit, counter_type = METERS[name]
            project = tenant_id(self.seed, tenant)
            out: list[dict[str, Any]] = []
            for row in rows:
                if row not in first_of:
                    continue
                slot = int(series.slot[row])
                rid = resource_id(self.seed, tenant, slot, self._kind_of(slot))
                lo = first_of[row]
                hi = int(bounds[np.searchsorted(bounds, lo, side="right")])
                base = _metadata(self._kind_of(slot), slot, rid)
                for i in range(lo, hi):
                    metadata = dict(base)
                    if flavors[i] >= 0:
                        metadata.update(
                            {
                                "flavor.name": FLAVORS[flavors[i]],
                                "instance_type": FLAVORS[flavors[i]],
                                "status": STATUSES[statuses[i]],
                                "state": "running" if statuses[i] == 0 else "stopped",
                            }
                        )
                    out.append(
                        {
                            "counter_name": name,
                            "counter_type": counter_type,
                            "counter_unit": unit,
                            "counter_volume": volumes[i],
                            "message_id": ids[i],
                            "project_id": project,
                            "recorded_at": recorded[i],
                            "resource_id": rid,
                            "resource_metadata": metadata,
                            "source": SOURCE,
                            "timestamp": stamps[i],
                            "user_id": "u-" + project[:8],
                        }
                    )
            out.sort(key=lambda s: s["timestamp"], reverse=True)
            yield project, self.regions[region], name, out

    def wire_pages(self, tenants: range, page_size: int = 10_000) -> list[tuple[str, str, bytes]]:
        """(tenant id, region, JSON page) as the collector receives them, ``page_size`` samples a page."""
        pages = []
        for project, region, _meter, samples in self.api_samples(tenants):
            for first in range(0, max(len(samples), 1), page_size):
                pages.append((project, region, json.dumps(samples[first : first + page_size]).encode()))
        return pages


def _metadata(kind: str, slot: int, rid: str) -> dict[str, str]:
    """Static resource metadata, stringified as the v2 API returns it."""
    if kind == "instance":
        return {
            "display_name": f"vm-{slot}",
            "host": f"compute-{slot % 7}",
            "image_ref": "5b1d1e27-6a3d-4d4c-8d33-bench-image",
            "memory_mb": "2048",
            "vcpus": "1",
            "disk_gb": "20",
            "instance_id": rid,
        }
    if kind == "volume":
        return {"display_name": f"vol-{slot}", "volume_type": "ssd", "status": "in-use"}
    if kind == "nic":
        return {"name": f"tap{rid[:11]}", "instance_id": rid, "mac": "fa:16:3e:00:00:01", "fref": "None"}
    if kind == "image":
        return {"name": f"image-{slot}", "container_format": "bare", "disk_format": "qcow2"}
    return {"floating_ip_address": "203.0.113.7", "status": "ACTIVE"}


def write_rates(path: Any, regions: Sequence[str] = ("*",)) -> Any:
    """A CSV adapter rates file with :data:`RATES` in EUR."""
    rows = [f"{dc},{service},{unit},{price},EUR\n" for dc in regions for service, (unit, price) in RATES.items()]
    path.write_text("datacenter,service,unit,price,currency\n" + "".join(rows), encoding="utf-8")
    return path


def csv_billing_conf(directory: Path, collector: str, tail: str) -> Path:
    """``directory``/artifice.conf: ``collector`` billed through the CSV adapter at :data:`RATES`.

    Invoices go to ``directory``/invoices, the windows to a SQLite database
    there (created and upgraded); ``tail`` holds the remaining sections.
    """
    from artifice.store import db

    (directory / "invoices").mkdir(parents=True)
    conf = directory / "artifice.conf"
    conf.write_text(
        f"""[main]
collector = {collector}
invoice:object = csv

[invoice:object]
csv_directory = {directory / "invoices"}
rates_file = {write_rates(directory / "rates.csv")}

[database]
connection = sqlite:///{directory / "artifice.db"}

{tail}""",
        encoding="utf-8",
    )
    engine = db.make_engine(f"sqlite:///{directory / 'artifice.db'}")
    db.upgrade(engine)
    engine.dispose()
    return conf


def write_mapping(path: Any, profile: str = "full") -> Any:
    """The meter mapping of ``profile`` as a YAML file for ``[metering] meter_mapping``."""
    import yaml

    meters = {m for kind in KIND_METERS[profile].values() for m in kind}
    document = {"meters": {m: spec for m, spec in FULL_MAPPING_DOCUMENT["meters"].items() if m in meters}}
    path.write_text(yaml.safe_dump(document), encoding="utf-8")
    return path


def messy(frame: pd.DataFrame, seed: int = 1) -> pd.DataFrame:
    """``frame`` with what real telemetry also holds, rows shuffled: for checking, not for timing.

    Duplicated messages, a tenant's own samples (untrusted source), NaN,
    infinite and negative volumes, missing timestamps, unknown units, instances
    without flavor or status, samples after the window, unmapped meters,
    missing resource ids, and ties in time.
    """
    rng = np.random.default_rng(seed)
    n = len(frame)
    out = frame.copy()
    ids = [f"m{i}" for i in range(n)]
    for i in rng.choice(n, max(1, n // 200), replace=False):
        ids[i] = ids[(i + 1) % n]
    out["message_id"] = pd.array(ids, dtype="string")
    extra = out.iloc[rng.choice(n, max(1, n // 100), replace=False)].copy()  # resent: same ids, same times
    out = pd.concat([out, extra], ignore_index=True)
    n = len(out)

    def pick() -> np.ndarray:
        return rng.choice(n, max(1, n // 500), replace=False)

    for column, values in (
        ("source", ["tenant-script"]),
        ("unit", ["furlong"]),
        ("meter", ["cpu_util"]),
        ("flavor", [pd.NA]),
        ("status", [pd.NA, "SHUTOFF", "paused"]),
        ("resource_id", [pd.NA]),
    ):
        at = pick()
        if isinstance(out[column].dtype, pd.CategoricalDtype):
            new = [v for v in values if not pd.isna(v) and v not in out[column].cat.categories]
            out[column] = out[column].cat.add_categories(new)
        out.loc[at, column] = rng.choice(np.array(values, dtype=object), len(at))
    for value in (np.nan, np.inf, -5.0):
        out.loc[pick(), "volume"] = value
    out.loc[pick(), "timestamp"] = pd.NaT
    out.loc[pick(), "timestamp"] = pd.Timestamp(MONTH.end) + pd.Timedelta(hours=1)
    return out.iloc[rng.permutation(n)].reset_index(drop=True)


SPEC_VARIABLE = "ARTIFICE_BENCH_CLOUD"


class SyntheticCollector(Collector):
    """Each tenant's samples of a synthetic cloud (``$ARTIFICE_BENCH_CLOUD``: Cloud's arguments as JSON)."""

    def __init__(self, conf: cfg.ConfigOpts) -> None:
        super().__init__(conf)
        self.cloud = Cloud(**json.loads(os.environ[SPEC_VARIABLE]))
        self.index = {tenant: i for i, tenant in enumerate(self.cloud.tenant_ids())}
        self.seconds = 0.0  # spent generating samples
        self.samples = 0
        self.largest = 0

    def regions(self) -> Sequence[str]:
        return list(self.cloud.regions)

    def tenants(self, window: Window) -> list[Tenant]:
        return [Tenant(t) for t in self.index]

    def collect(self, tenant_id: str, window: Window, meters: Sequence[str], lead_in: int) -> pd.DataFrame:
        began = time.perf_counter()
        index = self.index[tenant_id]
        frame = self.cloud.frame(range(index, index + 1))
        wanted = frame["meter"].isin(list(meters)).to_numpy()
        if not wanted.all():
            frame = frame[wanted].reset_index(drop=True)
        self.seconds += time.perf_counter() - began
        self.samples += len(frame)
        self.largest = max(self.largest, len(frame))
        return frame
