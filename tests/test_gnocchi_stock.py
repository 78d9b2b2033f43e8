"""Gnocchi as a stock Ceilometer 27 deployment writes it: its archive policies, its metrics, its publisher.

Every Gnocchi here is a real Gnocchi 4.7.1 whose resource types and archive policies come from
Ceilometer 27.0.0's own ``ceilometer-upgrade`` and publisher, and whose data is pushed through
Ceilometer's own ``GnocchiPublisher`` (tools/servers/ceilometer-publisher.sh). October 2026 is
billed as the daemon would, on 3 November 02:00 UTC (the calendar moved by ARTIFICE_CLOCK_FILE).

The month, worked out by hand (samples every 10 minutes, as Ceilometer polls, from a lead-in at
30 September 22:00 to 31 October 23:50):

- one m1.small instance (``vcpus``) all month: 744 h;
- one 10 GiB volume (``volume.size``, GiB): 10 x 744 = 7,440 GiB-hours (billed in GiB-hours, as Cinder sizes volumes);
- one 2 GiB image (``image.size``, B): 2.147483648 GB x 744 h = 1,597.7278 GB-hours;
- one interface whose ``network.outgoing.bytes`` counter grows 100 MB every 10 minutes:
  31 days x 144 x 0.1 GB = 446.4 GB.

Through an hourly archive (Gnocchi's ``medium`` and ``high``) the same numbers come out: the
instance's hourly buckets still cover every hour, and the counter grows linearly, so the growth
between hourly means is the growth between the samples.
"""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import uuid
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from artifice import config
from artifice.billing.pipeline import Pipeline
from artifice.exceptions import CollectionError
from artifice.model import Tenant
from artifice.timeutil import UTC, Window
from tests.conftest import REPO, write_conf
from tests.gnocchi_loader import client, wait_processed
from tests.servers import SCRIPTS, Server, free_port
from tests.telemetry import csv_billing, gnocchi_conf

OCTOBER = Window.month(2026, 10)
BILLED_ON = "2026-11-03T02:00:00+00:00"  # as the daemon bills October: 2 days 2 hours after it ended
LEAD_IN = dt.datetime(2026, 9, 30, 22, tzinfo=UTC)
STEP = dt.timedelta(minutes=10)
RATES = {"m1.small": ("hour", "0.05"), "m1.medium": ("hour", "0.10"), "volume.size": ("GiB-hour", "0.0002"),
         "image.size": ("GB-hour", "0.0001"), "network.outgoing.bytes": ("GB", "0.09")}  # fmt: skip
WORKED = {"m1.small": Decimal("744.0000"), "volume.size": Decimal("7440.0000"), "image.size": Decimal("1597.7278"),
          "network.outgoing.bytes": Decimal("446.4000")}  # fmt: skip
BILLING_ARCHIVE = "40d"  # what the README tells operators to give Ceilometer's 5-minute archives


def ids(name: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_DNS, f"{name}.stock.artifice.test"))


def month(tenant: str, vm: str = "vm-1", flavor: str = "m1.small") -> list[dict[str, Any]]:
    """Ceilometer 27 samples, as its compute, block storage, image and network pollsters send them."""
    instance = ids(f"{tenant}-{vm}")
    common = {"user_id": "user-1", "project_id": tenant, "source": "openstack"}
    samples: list[dict[str, Any]] = []
    moment, step = LEAD_IN, 0
    while moment < OCTOBER.end:
        when = moment.isoformat()
        samples += [
            {**common, "counter_name": "vcpus", "counter_type": "gauge", "counter_unit": "vcpu", "counter_volume": 1,
             "resource_id": instance, "timestamp": when,
             "resource_metadata": {"display_name": vm, "instance_type": flavor, "flavor": {"name": flavor, "id": "1"},
                                   "instance_flavor_id": "1", "host": "compute-1", "image_ref": ids("image")}},
        ]  # fmt: skip
        if vm == "vm-1":
            samples += [
                {**common, "counter_name": "volume.size", "counter_type": "gauge", "counter_unit": "GiB",
                 "counter_volume": 10, "resource_id": ids(f"{tenant}-vol"), "timestamp": when,
                 "resource_metadata": {"display_name": "vol-1", "volume_type": "standard"}},
                {**common, "counter_name": "image.size", "counter_type": "gauge", "counter_unit": "B",
                 "counter_volume": 2 * 2**30, "resource_id": ids(f"{tenant}-img"), "timestamp": when,
                 "resource_metadata": {"name": "img-1", "container_format": "bare", "disk_format": "qcow2"}},
                {**common, "counter_name": "network.outgoing.bytes", "counter_type": "cumulative",
                 "counter_unit": "B", "counter_volume": step * 1e8, "timestamp": when,
                 "resource_id": f"instance-00000001-{instance}-tap1",
                 "resource_metadata": {"vnic_name": "tap1", "instance_id": instance}},
            ]  # fmt: skip
        moment, step = moment + STEP, step + 1
    return samples


def as_ceilometer_v2(samples: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The same month as the Ceilometer v2 API returned it: instance uptime was the `instance` meter."""
    renamed = []
    for sample in samples:
        if sample["counter_name"] == "vcpus":
            metadata = {"flavor.name": sample["resource_metadata"]["instance_type"], "status": "active"}
            sample = {**sample, "counter_name": "instance", "counter_unit": "instance", "resource_metadata": metadata}
        renamed.append(sample)
    return renamed


def publisher(*args: str) -> str:
    done = subprocess.run(["bash", str(SCRIPTS / "ceilometer-publisher.sh"), *args], capture_output=True, text=True,
                          timeout=900)  # fmt: skip
    if done.returncode != 0:
        raise RuntimeError(f"ceilometer-publisher.sh {args[0]} failed:\n{done.stdout}\n{done.stderr}")
    return done.stdout


@pytest.fixture
def stock_gnocchi() -> Iterator[Server]:
    """A real Gnocchi set up by Ceilometer 27's own ceilometer-upgrade and publisher."""
    server = Server("gnocchi", str(free_port()), env={"GNOCCHI_RESOURCE_TYPES": "none"})
    try:
        publisher("upgrade", server.url)
        yield server
    finally:
        server.stop()


def publish(server: Server, tmp: Path, samples: list[dict[str, Any]], policy: str = "") -> None:
    path = tmp / f"samples-{uuid.uuid4().hex[:6]}.json"
    path.write_text(json.dumps(samples))
    url = "gnocchi://?enable_filter_project=false" + (f"&archive_policy={policy}" if policy else "")
    publisher("publish", server.url, str(path), "--publisher-url", url, "--wait", "300")


def keep_a_month(server: Server) -> None:
    """The README's billing archive: Ceilometer's 5-minute archives kept 40 days instead of 30."""
    gnocchi = client(server.url)
    for name in ("ceilometer-low", "ceilometer-low-rate"):
        gnocchi.archive_policy.update(name, {"definition": [{"granularity": "0:05:00", "timespan": BILLING_ARCHIVE}]})


def conf_for(tmp: Path, endpoint: str, collector: str = "gnocchi", samples: Path | None = None) -> Path:
    tmp.mkdir(parents=True, exist_ok=True)
    rates = tmp / "rates.csv"
    rates.write_text("datacenter,service,unit,price,currency\n"
                     + "".join(f"*,{s},{u},{p},EUR\n" for s, (u, p) in RATES.items()))  # fmt: skip
    main = csv_billing(tmp, collector, rates)
    if collector == "samples":
        text = main + f"[collector:samples]\nregion_files = RegionOne:{samples}\n\n[metering]\n"
        conf = write_conf(tmp / "samples.conf", text + f"meter_mapping = {REPO / 'etc/artifice/meters.yaml'}\n")
    else:
        conf = gnocchi_conf(tmp, {"RegionOne": endpoint}, main)
    from artifice.store import db

    db.upgrade(db.make_engine(f"sqlite:///{tmp / 'artifice.db'}"))
    return conf


def bill(conf: Path, tenant: str, monkeypatch: pytest.MonkeyPatch, tmp: Path) -> dict[str, Decimal]:
    """Bill October for ``tenant`` on 3 November; service -> quantity."""
    clock = tmp / "clock"
    clock.write_text(BILLED_ON)
    monkeypatch.setenv("ARTIFICE_CLOCK_FILE", str(clock))
    pipeline = Pipeline.from_config(config.load(["--config-file", str(conf)]))
    result = pipeline.bill(Tenant(tenant), OCTOBER)
    return {line.service: line.quantity for line in result.lines}


def test_a_stock_month_with_the_billing_archive_bills_as_the_samples_file(
    stock_gnocchi: Server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    keep_a_month(stock_gnocchi)
    samples = month("tenant-a")
    publish(stock_gnocchi, tmp_path, samples)
    through_gnocchi = bill(conf_for(tmp_path / "g", stock_gnocchi.url), "tenant-a", monkeypatch, tmp_path)
    file = tmp_path / "v2.json"
    file.write_text(json.dumps(as_ceilometer_v2(samples)))
    through_file = bill(conf_for(tmp_path / "f", "", "samples", file), "tenant-a", monkeypatch, tmp_path)
    assert through_gnocchi == through_file == WORKED


def test_the_stock_30_days_are_no_longer_a_month_three_days_after_it(
    stock_gnocchi: Server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    publish(stock_gnocchi, tmp_path, month("tenant-a"))
    with pytest.raises(CollectionError) as failure:
        bill(conf_for(tmp_path, stock_gnocchi.url), "tenant-a", monkeypatch, tmp_path)
    message = str(failure.value)
    assert "archive policy ceilometer-low keeps 5 min x 30 d" in message and "none reaches back" in message
    assert "gnocchi archive-policy update ceilometer-low" in message and "\n" not in message
    assert not (tmp_path / "invoices").exists()


@pytest.mark.parametrize(("policy", "expected"), [
    ("low", "keeps 5 min x 30 d"),  # Gnocchi's low: as ceilometer-low, too short
    ("medium", WORKED),  # 1 min x 7 days is too short, 1 h x 365 days is read
    ("high", WORKED),  # 1 s x 1 h and 1 min x 1 week too short; 1 h x 1 year
    ("ceilometer-low", "keeps 5 min x 30 d"),
    ("ceilometer-low-rate", "keeps 5 min x 30 d"),
])  # fmt: skip
def test_each_stock_archive_policy(
    stock_gnocchi: Server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, policy: str, expected: Any
) -> None:
    publish(stock_gnocchi, tmp_path, month("tenant-a"), policy)
    conf = conf_for(tmp_path, stock_gnocchi.url)
    if isinstance(expected, str):
        with pytest.raises(CollectionError, match=f"archive policy {policy} {expected}"):
            bill(conf, "tenant-a", monkeypatch, tmp_path)
    else:
        assert bill(conf, "tenant-a", monkeypatch, tmp_path) == expected


def test_a_meter_whose_metrics_use_two_policies(
    stock_gnocchi: Server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    keep_a_month(stock_gnocchi)
    publish(stock_gnocchi, tmp_path, month("tenant-a"), "medium")  # an instance from before an upgrade: hourly
    publish(stock_gnocchi, tmp_path, month("tenant-a", "vm-2", "m1.medium"))  # a newer one: ceilometer-low, 5 min
    quantities = bill(conf_for(tmp_path, stock_gnocchi.url), "tenant-a", monkeypatch, tmp_path)
    assert quantities == {**WORKED, "m1.medium": Decimal("744.0000")}  # each read at its own granularity


def test_a_volume_moved_between_projects_mid_month(
    stock_gnocchi: Server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A 10 GiB volume of tenant-a, transferred to tenant-b at 16 October 00:00.

    tenant-a: 15 days x 24 h x 10 GiB = 3,600 GiB-hours;
    tenant-b: 16 days x 24 h x 10 GiB = 3,840 GiB-hours.
    Ceilometer's publisher writes a resource and its project change when it sees them, so Gnocchi
    dates them at the time of publishing: the test dates them back in Gnocchi's indexer to where a
    live publisher would have written them, the first sample and 16 October (the one thing here
    that Ceilometer's code does not write).
    """
    keep_a_month(stock_gnocchi)
    volume = [s for s in month("tenant-a") if s["counter_name"] == "volume.size"]
    moved = dt.datetime(2026, 10, 16, tzinfo=UTC)
    before = [s for s in volume if dt.datetime.fromisoformat(s["timestamp"]) < moved]
    after = [{**s, "project_id": "tenant-b"} for s in volume if dt.datetime.fromisoformat(s["timestamp"]) >= moved]
    publish(stock_gnocchi, tmp_path, before)  # as the publisher saw them: tenant-a's first, then tenant-b's
    publish(stock_gnocchi, tmp_path, after)
    backdate_project_change(stock_gnocchi, ids("tenant-a-vol"), moved)
    conf = conf_for(tmp_path, stock_gnocchi.url)
    assert bill(conf, "tenant-a", monkeypatch, tmp_path) == {"volume.size": Decimal("3600.0000")}
    assert bill(conf, "tenant-b", monkeypatch, tmp_path) == {"volume.size": Decimal("3840.0000")}


def backdate_project_change(server: Server, resource: str, moment: dt.datetime) -> None:
    """Date the resource's creation back to the first sample and its project change to ``moment``."""
    gnocchi = client(server.url)
    wait_processed(gnocchi, 120)
    history = gnocchi.resource.history("volume", resource)
    assert [r["project_id"] for r in history] == ["tenant-a", "tenant-b"], history
    pgport = (Path(server.directory) / "pg" / "data" / "artifice.conf").read_text().split("port = ")[1].split()[0]
    indexer = sa.create_engine(f"postgresql+psycopg2://postgres@127.0.0.1:{pgport}/gnocchi")
    with indexer.begin() as connection:
        values = {"m": moment.replace(tzinfo=None), "first": LEAD_IN.replace(tzinfo=None), "r": resource}  # naive UTC
        current = "UPDATE resource SET revision_start = :m, started_at = :first WHERE id = :r"
        earlier = (
            "UPDATE resource_history SET revision_start = :first, revision_end = :m, started_at = :first WHERE id = :r"
        )
        connection.execute(sa.text(current), values)
        connection.execute(sa.text(earlier), values)
    indexer.dispose()
