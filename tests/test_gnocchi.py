"""The Gnocchi collector against two real Gnocchi 4.7.1 servers (two regions)."""

from __future__ import annotations

import csv
import threading
from decimal import Decimal
from pathlib import Path

import pandas as pd
import pytest

from artifice import config
from artifice.billing.months import MonthLoop
from artifice.billing.pipeline import BillResult, Pipeline
from artifice.collectors.base import RAW_COLUMNS
from artifice.collectors.gnocchi import GnocchiCollector
from artifice.collectors.gnocchi_history import attribute, revisions_frame
from artifice.exceptions import CollectionError
from artifice.timeutil import Window
from artifice.usage.engine import rate
from artifice.usage.mapping import load_mapping
from tests import synthetic
from tests.conftest import cli
from tests.figures import note
from tests.gnocchi_loader import load
from tests.telemetry import GNOCCHI_TENANTS, csv_billing, gnocchi_conf, start_gnocchi, stop

TENANTS = GNOCCHI_TENANTS
OCTOBER = Window.month(2026, 10)


def collector(conf_path: Path) -> GnocchiCollector:
    return GnocchiCollector(config.load(["--config-file", str(conf_path)]))


def quantities(gc: GnocchiCollector, raw: pd.DataFrame, window: Window) -> dict[tuple[str, str, str], float]:
    rules = load_mapping(gc.conf.metering.meter_mapping, gc.conf.metering.max_gap)
    usage = rate(raw, window, rules, gc.conf.metering.trust_sources)
    assert not usage.report.dropped, usage.report.summary()
    return {(r.tenant_id, r.region, r.service): float(r.quantity) for r in usage.lines.itertuples()}


def expected(indexes: range) -> dict[tuple[str, str, str], float]:
    return {
        (synthetic.tenant_id(i), region, service): quantity
        for i in indexes
        for region in synthetic.REGIONS
        for service, quantity in synthetic.expected_quantities(i).items()
    }


def meters(gc: GnocchiCollector) -> list[str]:
    return sorted(load_mapping(gc.conf.metering.meter_mapping, gc.conf.metering.max_gap))


def test_month_through_gnocchi_matches_worked_quantities(gnocchi: dict[str, str], tmp_path: Path):
    gc = collector(gnocchi_conf(tmp_path, gnocchi))
    for index in range(TENANTS):
        tenant = synthetic.tenant_id(index)
        raw = gc.collect(tenant, OCTOBER, meters(gc), gc.conf.metering.lead_in)
        assert set(raw["tenant_id"]) == {tenant}
        assert set(raw["source"]) == {"openstack"} and raw["message_id"].isna().all()
        assert quantities(gc, raw, OCTOBER) == pytest.approx(expected(range(index, index + 1)), rel=1e-9, abs=1e-9)


def test_tenants_with_usage(gnocchi: dict[str, str], tmp_path: Path):
    gc = collector(gnocchi_conf(tmp_path, gnocchi))
    assert [t.id for t in gc.tenants(OCTOBER)] == sorted(synthetic.tenant_id(i) for i in range(TENANTS))
    assert gc.requests == len(synthetic.REGIONS)
    # Resources still alive are listed in any later window; none existed in August.
    assert gc.tenants(Window.month(2026, 8)) == []


def test_requests_depend_on_meters_and_regions_only(gnocchi: dict[str, str], tmp_path: Path):
    conf = gnocchi_conf(tmp_path, gnocchi)
    counts = {}
    one = collector(conf)
    raw = one.collect(synthetic.tenant_id(0), OCTOBER, meters(one), one.conf.metering.lead_in)
    counts["one tenant, a month"] = one.requests
    one.requests = 0
    one.collect(synthetic.tenant_id(0), OCTOBER, meters(one), one.conf.metering.lead_in)
    counts["one tenant, a month, lookups cached"] = one.requests
    week = Window(OCTOBER.start, OCTOBER.start + pd.Timedelta(days=7))
    short = collector(conf)
    assert len(short.collect(synthetic.tenant_id(0), week, meters(short), short.conf.metering.lead_in)) < len(raw) / 3
    counts["one tenant, a week"] = short.requests
    many = collector(conf)
    tenants = [synthetic.tenant_id(i) for i in range(TENANTS)]
    raw_many = many.collect_many(tenants, OCTOBER, meters(many), many.conf.metering.lead_in)
    counts[f"{TENANTS} tenants (x{TENANTS} resources), a month"] = many.requests
    assert quantities(many, raw_many, OCTOBER) == pytest.approx(expected(range(TENANTS)), rel=1e-9, abs=1e-9)
    where = f"({len(synthetic.REGIONS)} regions, {len(meters(one))} mapped meters)"
    for what, requests in counts.items():
        note(f"Gnocchi HTTP requests {where}", f"{what}: {requests}")
    # Per region: one search for the tenants' resources, one history search per resource type they
    # have (4), one aggregates call per meter with data (network.incoming.bytes has none); the first
    # time also the archive policies of each meter's metrics: 2 lookups, 1 for a meter without metrics.
    with_data = len(meters(one)) - 1
    cached = len(synthetic.REGIONS) * (1 + 4 + with_data)
    assert counts["one tenant, a month, lookups cached"] == cached
    first = counts["one tenant, a month"]
    assert first == cached + len(synthetic.REGIONS) * (2 * with_data + 1)
    assert counts["one tenant, a week"] == first
    assert counts[f"{TENANTS} tenants (x{TENANTS} resources), a month"] == first


def test_gnocchi_stopped_mid_run_fails_naming_endpoint(tmp_path: Path):
    server = start_gnocchi()
    try:
        load(server.url, [s for s in synthetic.month(1) if s.region == "RegionOne"])
        gc = collector(gnocchi_conf(tmp_path, {"RegionThree": server.url}))
        tenant = synthetic.tenant_id(0)
        assert len(gc.collect(tenant, OCTOBER, meters(gc), gc.conf.metering.lead_in)) > 0
    finally:
        stop(server)
    with pytest.raises(CollectionError) as failure:
        gc.collect(tenant, OCTOBER, meters(gc), gc.conf.metering.lead_in)
    assert server.url in str(failure.value) and tenant in str(failure.value)
    assert "failed after retries" in str(failure.value)


def test_flavor_and_project_follow_resource_revisions() -> None:
    """A resize and a transfer: each bucket takes the flavor and project of the revision current then."""
    history = [
        {"id": "vm", "revision_start": "2026-10-20T12:00:00+00:00", "flavor_name": "m1.small", "project_id": "a"},
        {"id": "vm", "revision_start": "2026-10-21T00:30:00+00:00", "flavor_name": "m1.large", "project_id": "a"},
        {"id": "other", "revision_start": "2026-12-01T00:00:00+00:00", "flavor_name": "m1.tiny", "project_id": "a"},
        *[{"id": "vol", "revision_start": start, "project_id": project, "display_name": "data",
           "original_resource_id": "vol-1"} for start, project in (("2026-10-01T00:00:00+00:00", "a"),
                                                                   ("2026-10-16T00:00:00+00:00", "b"))],
    ]  # fmt: skip
    hours = pd.date_range(OCTOBER.start, OCTOBER.end, freq="h", inclusive="left")
    frame = pd.DataFrame({"id": ["vm"] * len(hours) + ["other"] * len(hours) + ["vol"] * len(hours),
                          "timestamp": list(hours) * 3, "volume": 1.0})  # fmt: skip
    revisions = revisions_frame(history)
    billed_to_a = attribute(frame, revisions, ["a"], "gauge")
    counts = billed_to_a.groupby(["resource_id", "flavor"], dropna=False).size().to_dict()
    # Before its first revision a resource takes that revision's; 10-21 01:00 is the first m1.large bucket.
    # The volume was a's until it moved to b on 16 October: 15 days of its buckets are a's.
    assert {k: v for k, v in counts.items() if k[0] != "vol-1"} == {
        ("vm", "m1.small"): 20 * 24 + 1,
        ("vm", "m1.large"): 744 - 20 * 24 - 1,
        ("other", "m1.tiny"): 744,
    }
    # 15 days of the volume's buckets are a's, and a boundary row at 16 October 00:00 ends its stretch
    moved = billed_to_a[billed_to_a["resource_id"] == "vol-1"]  # named by its original id
    assert len(moved) == 15 * 24 + 1 and moved["volume"].iloc[-1] == 0
    billed_to_b = attribute(frame, revisions, ["b"], "gauge")
    assert set(billed_to_b["resource_id"]) == {"vol-1"} and len(billed_to_b) == 744 - 15 * 24 + 1
    assert set(billed_to_b["resource_name"]) == {"data"} and set(billed_to_b["tenant_id"]) == {"b"}


def test_bill_all_end_to_end_to_csv(gnocchi: dict[str, str], tmp_path: Path):
    main = csv_billing(tmp_path, "artifice.collectors.gnocchi:GnocchiCollector")
    conf = gnocchi_conf(tmp_path, gnocchi, main)
    assert cli("manage", "--config-file", str(conf), "db", "upgrade").returncode == 0
    result = cli("--config-file", str(conf), "bill", "--all", "--month", "2026-10")
    assert result.returncode == 0, result.stderr
    for index in range(TENANTS):
        total = synthetic.expected_total(index)
        rows = list(csv.reader((tmp_path / "invoices" / f"{synthetic.tenant_id(index)}-2026-10.csv").open()))
        assert Decimal(next(r for r in rows if r and r[0] == "total")[6]) == total


def billed_pipeline(tmp_path: Path, gnocchi: dict[str, str], tenants_per_query: int) -> Pipeline:
    (tmp_path / "invoices").mkdir(parents=True)
    main = csv_billing(tmp_path, "gnocchi")
    extra = f"{main}\n[collector:gnocchi]\ntenants_per_query = {tenants_per_query}\n"
    conf = gnocchi_conf(tmp_path, gnocchi, extra)
    assert cli("manage", "--config-file", str(conf), "db", "upgrade").returncode == 0
    return Pipeline.from_config(config.load(["--config-file", str(conf)]))


def billed_totals(pipeline: Pipeline) -> dict[str, Decimal]:
    results = [outcome.result for outcome in MonthLoop(pipeline).bill(OCTOBER)]
    assert all(isinstance(r, BillResult) and r.state == "committed" for r in results), results
    return {r.tenant.id: r.total for r in results if isinstance(r, BillResult)}


def test_bill_all_reads_tenants_in_batches(gnocchi: dict[str, str], tmp_path: Path):
    expected_totals = {synthetic.tenant_id(i): synthetic.expected_total(i) for i in range(TENANTS)}
    one_by_one = billed_pipeline(tmp_path / "one", gnocchi, tenants_per_query=1)
    assert billed_totals(one_by_one) == expected_totals
    batched = billed_pipeline(tmp_path / "batched", gnocchi, tenants_per_query=100)
    assert billed_totals(batched) == expected_totals
    requests = {"one by one": one_by_one.collector.requests, "batched": batched.collector.requests}  # type: ignore[attr-defined]
    for how, count in requests.items():
        note(f"Gnocchi HTTP requests, bill --all of {TENANTS} tenants", f"{how}: {count}")
    # Batched: one aggregates query per region and meter for all tenants, as for one tenant.
    assert requests["batched"] < requests["one by one"]
    # Billed already: a second pass reads nothing.
    before = batched.collector.requests  # type: ignore[attr-defined]
    assert list(MonthLoop(batched).bill(OCTOBER)) == []  # nothing due: only the month's tenants are listed
    assert batched.collector.requests - before == len(synthetic.REGIONS)  # type: ignore[attr-defined]


def test_a_failing_batch_is_read_tenant_by_tenant(
    gnocchi: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    pipeline = billed_pipeline(tmp_path, gnocchi, tenants_per_query=100)
    read_alone = GnocchiCollector.collect_many

    def refuse_batches(self: GnocchiCollector, tenant_ids: list[str], *args: object) -> pd.DataFrame:
        if len(tenant_ids) > 1:
            raise CollectionError("aggregates: 413 Request Entity Too Large")
        return read_alone(self, tenant_ids, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(GnocchiCollector, "collect_many", refuse_batches)
    assert billed_totals(pipeline) == {synthetic.tenant_id(i): synthetic.expected_total(i) for i in range(TENANTS)}


def test_the_next_batch_is_read_while_this_one_is_billed(
    gnocchi: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    pipeline = billed_pipeline(tmp_path, gnocchi, tenants_per_query=2)
    reads: list[tuple[list[str], bool]] = []
    read = GnocchiCollector.collect_many

    def recorded(self: GnocchiCollector, tenant_ids: list[str], *args: object) -> pd.DataFrame:
        reads.append((list(tenant_ids), threading.current_thread() is threading.main_thread()))
        return read(self, tenant_ids, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(GnocchiCollector, "collect_many", recorded)
    assert billed_totals(pipeline) == {synthetic.tenant_id(i): synthetic.expected_total(i) for i in range(TENANTS)}
    # Two batches, each read once: nothing read twice or in vain.
    assert sorted(len(batch) for batch, _ in reads) == [1, 2]
    assert sorted(t for batch, _ in reads for t in batch) == sorted(synthetic.tenant_id(i) for i in range(TENANTS))
    # In the background: the pass goes on billing while Gnocchi answers.
    assert not any(in_main_thread for _, in_main_thread in reads)


def test_a_tenant_without_any_resource_of_a_meter_reads_empty(gnocchi: dict[str, str], tmp_path: Path):
    # The metrics exist (other tenants have them); Gnocchi answers 404 for this tenant's search.
    gc = collector(gnocchi_conf(tmp_path, gnocchi))
    raw = gc.collect("a-project-with-no-resources", OCTOBER, meters(gc), gc.conf.metering.lead_in)
    assert raw.empty and list(raw.columns) == list(RAW_COLUMNS)


def test_line_detail_shows_the_resources_names_from_gnocchi(gnocchi: dict[str, str], tmp_path: Path) -> None:
    pipeline = billed_pipeline(tmp_path, gnocchi, tenants_per_query=100)
    billed_totals(pipeline)
    (window, *_) = [w for w in pipeline.store.windows(synthetic.tenant_id(0)) if w.kind == "invoice"]
    names = {(line.service, r.resource_name) for line in window.lines for r in line.resources}
    # display_name of instances and volumes, name of images and interfaces, as the synthetic month has them
    assert names == {
        ("m1.small", "vm-a"), ("m1.medium", "vm-b"), ("volume.size", "vol"), ("image.size", "img"),
        ("network.outgoing.bytes", "vm-a-nic"),
    }  # fmt: skip


def test_a_history_search_over_more_than_a_page_is_read_whole(tmp_path: Path) -> None:
    """1,100 resources of 100 tenants: two pages, whose next link Gnocchi would make too long (HTTP 414)."""
    import uuid as uuid_module

    from tests.gnocchi_loader import client

    server = start_gnocchi()
    try:
        gnocchi = client(server.url)
        tenants = [uuid_module.uuid4().hex for _ in range(100)]
        for index in range(1100):
            body = {"id": str(uuid_module.uuid4()), "project_id": tenants[index % 100], "started_at": "2026-10-01"}
            gnocchi.resource.create("generic", body)
        conf = config.load(["--config-file", str(gnocchi_conf(tmp_path, {"RegionOne": server.url}))])
        collector = GnocchiCollector(conf)
        owned = collector._owned("RegionOne", ["generic"], tenants, Window.month(2026, 10), "test")
        assert len(owned["generic"]) == 1100
    finally:
        stop(server)
