"""Load a synthetic cloud (``tools.benchmarks.cloud``) into real Gnocchi and Ceilometer through their write APIs.

Gnocchi: the archive policy and resource types of ``tests/gnocchi_loader``,
one resource per cloud resource (its metrics created with it, a network
interface carrying both byte counters), then the measures in batches of
resources, and a bounded wait until metricd has processed them. Gnocchi keeps
no instance state, so a stopped instance simply reports nothing while
stopped; and it dates a resource revision when the API receives it, so a
resize cannot be placed in the past: instances keep their first flavor.

Ceilometer: each tenant's samples as the v2 API returns them, posted back with
``tests/ceilometer_loader`` (``POST /v2/meters/<name>?direct=True``), which
stores them with source ``<project_id>:openstack``.
"""

from __future__ import annotations

import concurrent.futures
import datetime as dt
import json
import os
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from tests import gnocchi_loader
from tests.ceilometer_loader import post_samples
from tests.synthetic import Series
from tools.benchmarks.cloud import FLAVORS, KINDS, METER_NAMES, METERS, Cloud, resource_id

_BATCH_RESOURCES = 100  # resources per measures request
_POSTED_FIELDS = (
    "counter_name",
    "counter_type",
    "counter_unit",
    "counter_volume",
    "project_id",
    "user_id",
    "resource_id",
    "timestamp",
    "resource_metadata",
    "source",
)


def gnocchi_resources(
    cloud: Cloud, tenants: range, region: int
) -> Iterator[tuple[str, dict[str, Any], dict[str, Any]]]:
    """(resource type, resource body, {metric: measures}) of each resource of ``tenants`` in ``region``."""
    samples = cloud.samples(tenants, order="tenant")
    series, index = samples.series, samples.index
    stamps = np.datetime_as_string(samples.time.view("datetime64[ns]"), unit="s", timezone="UTC")
    reported = samples.status != 1  # a stopped instance reports nothing to Gnocchi
    bounds = np.searchsorted(index, np.arange(len(series) + 1))
    rows = [r for r in range(len(series)) if series.region[r] == region]
    by_resource: dict[tuple[int, int], list[int]] = {}
    for row in rows:
        by_resource.setdefault((int(series.tenant[row]), int(series.slot[row])), []).append(row)
    for (tenant, slot), meter_rows in by_resource.items():
        kind = KINDS[int(series.kind[meter_rows[0]])]
        metrics: dict[str, Any] = {}
        times: list[int] = []
        for row in meter_rows:
            lo, hi = int(bounds[row]), int(bounds[row + 1])
            keep = np.flatnonzero(reported[lo:hi]) + lo
            if not len(keep):
                continue
            meter = METER_NAMES[int(series.meter[row])]
            values = samples.volume[keep].tolist()
            measures = [{"timestamp": s, "value": v} for s, v in zip(stamps[keep].tolist(), values, strict=True)]
            metrics[meter] = measures
            times += [int(samples.time[keep[0]]), int(samples.time[keep[-1]])]
        if not metrics:
            continue
        meters = list(metrics)
        metadata = {"display_name": f"{kind}-{slot}"}
        if kind == "instance":
            flavor = int(series.flavor[meter_rows[0]])
            metadata["flavor.name"] = FLAVORS[flavor]
        points = [(_moment(min(times)), 0.0), (_moment(max(times)), 0.0)]
        rid = resource_id(cloud.seed, tenant, slot, kind)
        body = gnocchi_loader._resource(
            Series(
                cloud.tenant_ids([tenant])[0],
                cloud.regions[region],
                meters[0],
                METERS[meters[0]][0],
                rid,
                "gauge",
                points,
                metadata,
            )
        )
        for meter in meters[1:]:
            body["metrics"][gnocchi_loader.METRIC_NAMES.get(meter, meter)] = {
                "archive_policy_name": gnocchi_loader.ARCHIVE_POLICY, "unit": METERS[meter][0]}  # fmt: skip
        named = {gnocchi_loader.METRIC_NAMES.get(meter, meter): measures for meter, measures in metrics.items()}
        yield gnocchi_loader.RESOURCE_TYPES[meters[0]], body, named


def _moment(nanoseconds: int) -> dt.datetime:
    return dt.datetime.fromtimestamp(nanoseconds // 1_000_000_000, dt.UTC)


def load_gnocchi(url: str, cloud: Cloud, tenants: range, region: int, threads: int = 8) -> tuple[int, int]:
    """Write ``tenants``' resources of ``region`` into the Gnocchi at ``url``: (resources, measures)."""
    gnocchi = gnocchi_loader.client(url)
    gnocchi_loader.prepare(gnocchi)
    local = threading.local()

    def create(item: tuple[str, dict[str, Any], dict[str, Any]]) -> None:
        if not hasattr(local, "client"):
            local.client = gnocchi_loader.client(url)
        gnocchi_loader._ignore_conflict(local.client.resource.create, item[0], item[1])

    resources = measures = 0
    batch: dict[str, dict[str, Any]] = {}
    with concurrent.futures.ThreadPoolExecutor(threads) as pool:
        pending: list[concurrent.futures.Future[None]] = []
        for item in gnocchi_resources(cloud, tenants, region):
            pending.append(pool.submit(create, item))
            batch[item[1]["id"]] = item[2]
            resources += 1
            measures += sum(len(m) for m in item[2].values())
            if len(batch) >= _BATCH_RESOURCES:
                for done in pending:
                    done.result()
                pending = [pool.submit(gnocchi.metric.batch_resources_metrics_measures, batch)]
                batch = {}
        for done in pending:
            done.result()
    if batch:
        gnocchi.metric.batch_resources_metrics_measures(batch)
    return resources, measures


def wait_gnocchi(url: str, timeout: float) -> None:
    gnocchi_loader.wait_processed(gnocchi_loader.client(url), timeout)


def load_ceilometer(urls: dict[str, str], cloud: Cloud, tenants: range) -> int:
    """Post ``tenants``' samples to the Ceilometer API of each region; returns the samples posted."""
    posted = 0
    for tenant in tenants:
        for region, samples in _ceilometer_samples(cloud, tenant).items():
            post_samples(urls[region], samples)
            posted += len(samples)
    return posted


def bulk_ceilometer(directories: dict[str, str], cloud: Cloud, tenants: range) -> int:
    """Write ``tenants``' samples straight into each region's Ceilometer database (``ceilometer_bulk.py``).

    For sizes the API cannot take in reasonable time; the samples keep their
    source (``openstack``), as Ceilometer's agents store them.
    """
    python = Path(os.environ.get("ARTIFICE_CACHE", Path.home() / ".cache" / "artifice")) / "ceilometer-venv/bin/python"
    script = Path(__file__).with_name("ceilometer_bulk.py")
    writers = {
        region: subprocess.Popen(
            [str(python), str(script), str(Path(directory) / "ceilometer.conf")],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for region, directory in directories.items()
    }
    try:
        for tenant in tenants:
            for region, samples in _ceilometer_samples(cloud, tenant).items():
                stdin = writers[region].stdin
                assert stdin is not None
                stdin.write(json.dumps(samples) + "\n")
    finally:
        written = 0
        for region, writer in writers.items():
            out, err = writer.communicate(timeout=3600)
            if writer.returncode != 0:
                raise RuntimeError(f"ceilometer_bulk.py failed for {region} (exit {writer.returncode}):\n{err[-3000:]}")
            written += int(out.split()[-1])
    return written


def _ceilometer_samples(cloud: Cloud, tenant: int) -> dict[str, list[dict[str, Any]]]:
    """The tenant's samples per region, as posted to the API."""
    per_region: dict[str, list[dict[str, Any]]] = {}
    for _project, region, _meter, samples in cloud.api_samples(range(tenant, tenant + 1)):
        per_region.setdefault(region, []).extend({k: s[k] for k in _POSTED_FIELDS} for s in samples)
    return per_region


def trusted_sources(cloud: Cloud, tenants: range) -> list[str]:
    """What Ceilometer records as the source of samples posted through its API for ``tenants``."""
    return [f"{project}:openstack" for project in cloud.tenant_ids(tenants)]
