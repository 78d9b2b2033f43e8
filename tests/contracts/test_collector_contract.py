"""The collector contract, held against the samples file, a real Ceilometer v2 API and a real Gnocchi.

Each holds the same synthetic month (``tests.synthetic``). Whatever the backend, a collector
returns the raw schema (``RAW_COLUMNS``, in order, with its dtypes), covers exactly
``[start - lead_in, end)``, reads several tenants as it reads each one, lists the tenants with
usage, and fails as ``CollectionError`` when its backend cannot be read.
"""

from __future__ import annotations

import datetime as dt
import gzip
import json
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest

from artifice import config
from artifice.collectors.base import RAW_COLUMNS, Collector
from artifice.exceptions import CollectionError
from artifice.loading import load_class
from artifice.timeutil import Window
from tests import synthetic
from tests.telemetry import ceilometer_conf, csv_billing, gnocchi_conf, write_conf

OCTOBER = Window.month(2026, 10)
METERS = ["image.size", "instance", "network.outgoing.bytes", "volume.size"]
HOUR = 3600
DEAD = "http://127.0.0.1:9"  # nothing listens there
TENANTS = [synthetic.tenant_id(0), synthetic.tenant_id(1)]  # held by every backend


def samples_conf(tmp: Path, files: dict[str, str]) -> Path:
    regions = ",".join(f"{region}:{path}" for region, path in files.items())
    text = csv_billing(tmp, "samples") + f"\n[collector:samples]\nregion_files = {regions}\n"
    return write_conf(tmp / "samples.conf", text)


def write_month(tmp: Path) -> dict[str, str]:
    files = {}
    for region in synthetic.REGIONS:
        samples = [s for series in synthetic.month(2) if series.region == region for s in series.samples()]
        path = tmp / f"{region}.json.gz"
        path.write_bytes(gzip.compress(json.dumps(samples).encode()))
        files[region] = str(path)
    return files


def _samples(request: pytest.FixtureRequest, tmp: Path, dead: bool) -> Path:
    files = write_month(tmp)
    return samples_conf(tmp, {r: str(tmp / "missing.json") for r in files} if dead else files)


def _ceilometer(request: pytest.FixtureRequest, tmp: Path, dead: bool) -> Path:
    endpoints: dict[str, str] = request.getfixturevalue("ceilometer")
    return ceilometer_conf(tmp, {r: DEAD for r in endpoints} if dead else endpoints)


def _gnocchi(request: pytest.FixtureRequest, tmp: Path, dead: bool) -> Path:
    endpoints: dict[str, str] = request.getfixturevalue("gnocchi")
    return gnocchi_conf(tmp, {r: DEAD for r in endpoints} if dead else endpoints, csv_billing(tmp, "gnocchi"))


#: Every collector the contract suite runs: (request, directory, dead backend?) -> its config file.
COLLECTORS: dict[str, Callable[[pytest.FixtureRequest, Path, bool], Path]] = {
    "samples": _samples,
    "ceilometer": _ceilometer,
    "gnocchi": _gnocchi,
}


def collector(conf: Path) -> Collector:
    loaded = config.load(["--config-file", str(conf)])
    cls = load_class("artifice.collectors", loaded.main.collector, Collector, "[main] collector")
    return cls(loaded)


@pytest.fixture(params=sorted(COLLECTORS))
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Collector:
    return collector(COLLECTORS[request.param](request, tmp_path, False))


def test_the_raw_frame_has_the_schema(backend: Collector) -> None:
    frame = backend.collect(TENANTS[0], OCTOBER, METERS, HOUR)
    assert list(frame.columns) == list(RAW_COLUMNS)
    assert {name: str(dtype) for name, dtype in frame.dtypes.items()} == RAW_COLUMNS
    assert set(frame["tenant_id"]) == {TENANTS[0]}
    assert set(frame["meter"]) == set(METERS)
    assert set(frame["region"]) == set(synthetic.REGIONS)


@pytest.mark.parametrize("lead_in", [0, HOUR])
def test_it_covers_exactly_the_window_and_its_lead_in(backend: Collector, lead_in: int) -> None:
    frame = backend.collect(TENANTS[0], OCTOBER, ["instance"], lead_in)
    first = pd.Timestamp(OCTOBER.start - dt.timedelta(seconds=lead_in))
    assert frame["timestamp"].min() == first  # vm-a reports every hour from 30 Sep 23:00
    assert frame["timestamp"].max() < pd.Timestamp(OCTOBER.end)


def test_several_tenants_are_read_as_each_one(backend: Collector) -> None:
    together = backend.collect_many(TENANTS, OCTOBER, METERS, HOUR)
    one_by_one = pd.concat([backend.collect(t, OCTOBER, METERS, HOUR) for t in TENANTS], ignore_index=True)
    order = ["tenant_id", "region", "meter", "resource_id", "timestamp"]

    def normal(frame: pd.DataFrame) -> pd.DataFrame:
        plain = frame.astype({c: "object" for c, d in RAW_COLUMNS.items() if d == "category"})
        return plain.sort_values(order).reset_index(drop=True)

    pd.testing.assert_frame_equal(normal(together), normal(one_by_one))


def test_it_lists_the_tenants_with_usage(backend: Collector) -> None:
    assert set(TENANTS) <= {tenant.id for tenant in backend.tenants(OCTOBER)}


@pytest.mark.parametrize("name", sorted(COLLECTORS))
def test_a_backend_that_cannot_be_read_is_a_collection_error(
    request: pytest.FixtureRequest, tmp_path: Path, name: str
) -> None:
    with pytest.raises(CollectionError):
        collector(COLLECTORS[name](request, tmp_path, True)).collect(TENANTS[0], OCTOBER, METERS, HOUR)
