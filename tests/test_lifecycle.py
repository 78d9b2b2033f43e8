"""Known lifecycles: a resource billed from its start to its end, to the second (worked by hand).

Nova's ``launched_at`` / ``deleted_at`` (or ``created_at`` / ``terminated_at``) in sample
metadata, and Gnocchi's ``started_at`` / ``ended_at``, say when a resource began and ended.
"""

from __future__ import annotations

import datetime as dt

import pandas as pd

from artifice.collectors.gnocchi_history import attribute, revisions_frame
from tests.factories import OCTOBER, at, instance, quantities, rate_samples, sample


def ten_minutely(first: dt.datetime, last: dt.datetime) -> list[dt.datetime]:
    return list(pd.date_range(first, last, freq="10min", inclusive="left").to_pydatetime())


POLLS = ten_minutely(at(5), at(10))  # 5 Oct 00:00 .. 9 Oct 23:50: 720 polls, the last 10 min before the end


def test_an_instance_without_a_known_end_is_billed_to_its_last_poll() -> None:
    # The documented rule: the last stretch ends at the last sample, 9 Oct 23:50: 119 h 50 min.
    assert quantities(rate_samples([instance(t) for t in POLLS])) == {"m1.small": 119.833333}


def test_an_instance_that_ran_exactly_120_hours_is_billed_120_hours() -> None:
    # Launched 4 Oct 23:57 (the first poll 3 min later), deleted 9 Oct 23:57: 120 h to the second.
    life = {"launched_at": "2026-10-04T23:57:00.000000", "deleted_at": "2026-10-09T23:57:00"}
    assert quantities(rate_samples([instance(t, **life) for t in POLLS])) == {"m1.small": 120.0}


def test_a_deletion_after_the_month_still_ends_at_the_month_end() -> None:
    polls = ten_minutely(at(31, 20), at(1, month=11))
    life = {"launched_at": "2026-10-31T20:00:00", "deleted_at": "2026-11-03T00:00:00"}
    assert quantities(rate_samples([instance(t, **life) for t in polls])) == {"m1.small": 4.0}


def test_a_new_counter_bills_its_first_value_as_growth_from_zero() -> None:
    # A new interface (created 10 Oct 00:00) polled at 00:05 (10 GB) and 01:05 (12 GB): 12 GB, not 2.
    new = {"created_at": "2026-10-10T00:00:00Z"}
    values = [(at(10, 0, 5), 10e9), (at(10, 1, 5), 12e9)]
    samples = [sample("network.outgoing.bytes", t, v, unit="B", **new) for t, v in values]
    assert quantities(rate_samples(samples)) == {"network.outgoing.bytes": 12.0}
    # Without a known start the first sample is only a baseline.
    plain = [sample("network.outgoing.bytes", t, v, unit="B") for t, v in values]
    assert quantities(rate_samples(plain)) == {"network.outgoing.bytes": 2.0}


def test_an_instance_shorter_than_one_poll_is_billed_its_traffic() -> None:
    # One poll only, 3 GB, 4 min after the interface was created.
    one = sample("network.outgoing.bytes", at(12, 8, 4), 3e9, unit="B", created_at="2026-10-12T08:00:00")
    assert quantities(rate_samples([one])) == {"network.outgoing.bytes": 3.0}


def test_a_counter_that_began_last_month_keeps_its_first_sample_as_baseline() -> None:
    # Created 30 Sep 23:00, first seen 1 Oct 00:30 (no lead-in): the growth before is not October's.
    values = [(at(1, 0, 30), 5e9), (at(1, 1, 30), 6e9)]
    older = {"created_at": "2026-09-30T23:00:00"}
    samples = [sample("network.outgoing.bytes", t, v, unit="B", **older) for t, v in values]
    assert quantities(rate_samples(samples)) == {"network.outgoing.bytes": 1.0}


def test_gnocchi_started_and_ended_at_reach_the_engine_rows() -> None:
    history = [
        {"id": "u1", "revision_start": "2026-10-04T23:57:00+00:00", "project_id": "t1", "flavor_name": "m1.small",
         "original_resource_id": "vm-1", "started_at": "2026-10-04T23:57:00+00:00", "ended_at": None},
        {"id": "u1", "revision_start": "2026-10-09T23:57:00+00:00", "project_id": "t1", "flavor_name": "m1.small",
         "original_resource_id": "vm-1", "started_at": "2026-10-04T23:57:00+00:00",
         "ended_at": "2026-10-09T23:57:00+00:00"},
    ]  # fmt: skip
    buckets = pd.DataFrame(
        {"id": "u1", "timestamp": pd.date_range("2026-10-04T23:00", "2026-10-09T23:00", freq="h", tz="UTC"),
         "volume": 1.0, "status": "active"}
    )  # fmt: skip
    rows = attribute(buckets, revisions_frame(history), ["t1"], "uptime")
    # Every row, including those before the deletion revision, knows the resource's whole life.
    assert set(rows["started_at"]) == {pd.Timestamp("2026-10-04T23:57:00", tz="UTC")}
    assert set(rows["ended_at"]) == {pd.Timestamp("2026-10-09T23:57:00", tz="UTC")}


def test_shipped_mapping_names_the_unit_each_storage_line_really_has() -> None:
    from artifice.collectors.ceilometer_format import samples_frame
    from artifice.usage.engine import rate
    from artifice.usage.mapping import load_mapping
    from tests.conftest import REPO

    rules = load_mapping(str(REPO / "etc" / "artifice" / "meters.yaml"), 7200)
    day = [*(at(3, h) for h in range(24)), at(4)]  # 24 hours held
    samples = [
        *(sample("volume.size", t, 10, unit="GB", resource="old-cinder") for t in day),  # Cinder's "GB" is GiB
        *(sample("volume.size", t, 10, unit="GiB", resource="ceilometer-27") for t in day),
        *(sample("image.size", t, 2**31, unit="B", resource="img") for t in day),  # bytes: 2.147483648 GB
    ]
    usage = rate(samples_frame(samples, "RegionOne"), OCTOBER, rules, ["openstack"])
    detail = {(r.resource_id, r.unit): round(r.quantity, 4) for r in usage.detail.itertuples()}
    # 10 GiB for 24 h = 240 GiB-hours, however the sample spells it; the image in decimal GB-hours.
    assert detail == {("old-cinder", "GiB-hour"): 240.0, ("ceilometer-27", "GiB-hour"): 240.0,
                      ("img", "GB-hour"): 51.5396}  # fmt: skip


def test_a_resource_moved_soon_after_it_started_is_billed_once() -> None:
    """A 10 GiB volume created 10 Oct 00:00 in t1, moved to t2 at 00:57:30, deleted 11 Oct 00:00.

    t1: 00:00-00:57:30 = 9.5833 GiB-h; t2: 00:57:30-24:00 = 230.4167 GiB-h; 240 in all. Its
    counter grew 1 GB every 5 minutes from creation, 287 GB by its last bucket (23:55): t1 the
    11 GB up to the move, t2 the 276 GB after it, none twice.
    """
    from artifice.collectors.base import conform
    from artifice.usage.engine import rate
    from artifice.usage.mapping import parse_mapping

    meters = {"volume.size": {"transformer": "gauge", "unit": "GiB-hour"},
              "network.outgoing.bytes": {"transformer": "delta", "unit": "GB"}}  # fmt: skip
    rules = parse_mapping({"meters": meters}, "t", 7200)
    life = {"started_at": "2026-10-10T00:00:00+00:00", "ended_at": "2026-10-11T00:00:00+00:00"}
    history = [
        {"id": "v1", "revision_start": "2026-10-10T00:00:00+00:00", "project_id": "t1", **life},
        {"id": "v1", "revision_start": "2026-10-10T00:57:30+00:00", "project_id": "t2", **life},
    ]
    stamps = pd.date_range("2026-10-10T00:05", "2026-10-11T00:00", freq="5min", tz="UTC", inclusive="left")

    def billed(meter: str, transformer: str, volume: object, unit: str) -> dict[str, float]:
        buckets = pd.DataFrame({"id": "v1", "timestamp": stamps, "volume": volume})
        rows = attribute(buckets, revisions_frame(history), ["t1", "t2"], transformer).drop(columns="flavor")
        rows["region"], rows["meter"], rows["unit"], rows["source"] = "R", meter, unit, "openstack"
        usage = rate(conform(rows), OCTOBER, rules, ["openstack"])
        return {str(r.tenant_id): round(float(r.quantity), 4) for r in usage.lines.itertuples()}

    assert billed("volume.size", "gauge", 10.0, "GiB") == {"t1": 9.5833, "t2": 230.4167}
    grown = billed("network.outgoing.bytes", "delta", [1e9 * (i + 1) for i in range(len(stamps))], "B")
    assert grown == {"t1": 11.0, "t2": 276.0}


def test_a_sample_after_the_known_deletion_bills_nothing_more() -> None:
    # Polls 31 Oct 12:00-22:50, deleted_at 23:00:00, and a deletion notification stamped 23:00:05.
    polls = ten_minutely(at(31, 12), at(31, 23))
    late = at(31, 23) + dt.timedelta(seconds=5)
    life = {"created_at": "2026-10-31T12:00:00", "deleted_at": "2026-10-31T23:00:00"}
    volume = [sample("volume.size", t, 100, unit="GB", **life) for t in [*polls, late]]
    assert quantities(rate_samples(volume)) == {"volume.size": 1100.0}  # 100 GB x 11 h, not to midnight
    launched = {"launched_at": "2026-10-31T12:00:00", "deleted_at": "2026-10-31T23:00:00"}
    assert quantities(rate_samples([instance(t, **launched) for t in [*polls, late]])) == {"m1.small": 11.0}


def test_ceilometer_metadata_names_the_resource() -> None:
    from artifice.collectors.ceilometer_format import samples_frame

    frame = samples_frame([instance(at(3), display_name="web-1"), sample("image.size", at(3), 1, name="ubuntu")], "R")
    assert list(frame["resource_name"]) == ["web-1", "ubuntu"]  # what line items show as refName, not an id
