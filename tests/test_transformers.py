"""Each transformer against examples worked out by hand."""

from __future__ import annotations

import pytest

from artifice.collectors.ceilometer_format import samples_frame
from artifice.usage.engine import rate
from tests.factories import OCTOBER, at, hourly, instance, quantities, rate_samples, sample

HOURS_IN_OCTOBER = 744


def test_uptime_whole_month_with_lead_in_bills_every_hour():
    # Hourly samples from 30 Sep 23:00 (a lead-in) to 31 Oct 23:00: the lead-in
    # covers 00:00-01:00 on 1 Oct, the last sample extends to the window end.
    samples = [instance(t) for t in hourly(at(30, 23, month=9), at(1, 0, month=11))]
    assert quantities(rate_samples(samples)) == {"m1.small": HOURS_IN_OCTOBER}


def test_uptime_without_lead_in_starts_at_first_sample():
    # First sample at 1 Oct 00:30: the half hour before it is not billed.
    samples = [instance(at(1, 0, 30))] + [instance(t) for t in hourly(at(1, 1), at(1, 0, month=11))]
    assert quantities(rate_samples(samples)) == {"m1.small": HOURS_IN_OCTOBER - 0.5}


def test_lead_in_older_than_max_gap_is_not_used():
    # The lead-in at 30 Sep 21:00 is 3 h before the next sample (max_gap 2 h).
    samples = [instance(at(30, 21, month=9))] + [instance(t) for t in hourly(at(1, 0), at(1, 0, month=11))]
    samples.insert(1, instance(at(1, 0)))  # duplicate timestamp, different message: harmless
    assert quantities(rate_samples(samples)) == {"m1.small": HOURS_IN_OCTOBER}


def test_resize_mid_month_splits_hours_between_flavors():
    # m1.small until the sample of 15 Oct 12:00, m1.large from it:
    # 14 days + 12 h = 348 h small, 744 - 348 = 396 h large.
    samples = [
        instance(t, flavor="m1.small" if t < at(15, 12) else "m1.large")
        for t in hourly(at(30, 23, month=9), at(1, 0, month=11))
    ]
    assert quantities(rate_samples(samples)) == {"m1.small": 348, "m1.large": 396}


def test_stop_and_start_bills_only_billable_states():
    # Shut off from 10 Oct 00:00 to 20 Oct 06:00: 10 days 6 h = 246 h unbilled.
    samples = [
        instance(t, status="shutoff" if at(10) <= t < at(20, 6) else "active")
        for t in hourly(at(30, 23, month=9), at(1, 0, month=11))
    ]
    assert quantities(rate_samples(samples)) == {"m1.small": HOURS_IN_OCTOBER - 246}


def test_gap_longer_than_max_gap_is_not_billed_and_stale_last_sample_stops():
    # Samples 1 Oct 00:00-10:00, silence until 1 Oct 15:00 (5 h > 2 h gap),
    # samples again 15:00-20:00, then silence until the end of the month.
    # Billed: 00:00-10:00 (10 h) + 15:00-20:00 (5 h) = 15 h; the 20:00
    # sample is the last one and the window end is far, so it adds nothing.
    times = hourly(at(1, 0), at(1, 11)) + hourly(at(1, 15), at(1, 21))
    assert quantities(rate_samples([instance(t) for t in times])) == {"m1.small": 15}


def test_samples_exactly_on_month_boundaries():
    # A sample at exactly 1 Oct 00:00 is inside; one at exactly 1 Nov 00:00
    # belongs to November and is ignored; 31 Oct 23:00 extends to the end.
    samples = [instance(t) for t in hourly(at(1, 0), at(1, 0, month=11))] + [
        instance(at(1, 0, month=11), flavor="m1.huge")
    ]
    assert quantities(rate_samples(samples)) == {"m1.small": HOURS_IN_OCTOBER}


def test_untrusted_source_is_dropped_and_counted():
    samples = [instance(t) for t in hourly(at(1, 0), at(1, 0, month=11))]
    samples.append(instance(at(2), flavor="m1.xlarge", resource="forged", source="tenant-api"))
    usage = rate_samples(samples)
    assert quantities(usage) == {"m1.small": HOURS_IN_OCTOBER}
    assert usage.report.dropped == {"untrusted_source": 1}


def test_duplicate_message_id_counts_once():
    # Two "sum" samples with the same message_id: 5 + 7 = 12, not 17.
    samples = [
        sample("api.requests", at(2), 5, unit="request", message_id="a"),
        sample("api.requests", at(3), 7, unit="request", message_id="b"),
        sample("api.requests", at(3), 5, unit="request", message_id="a"),
    ]
    usage = rate_samples(samples)
    assert quantities(usage) == {"api.requests": 12}
    assert usage.report.dropped == {"duplicate_message_id": 1}


def test_gauge_time_weighted_with_unit_conversion():
    # image.size reported in bytes: 2 GiB for the first 10 days, 4 GiB after.
    # GB-hours = 2.147483648 * 240 + 4.294967296 * 504 = 515.396 + 2164.663.
    gib = 2**30
    samples = [
        sample("image.size", t, 2 * gib if t < at(11) else 4 * gib, unit="B")
        for t in hourly(at(30, 23, month=9), at(1, 0, month=11))
    ]
    expected = 2.147483648 * 240 + 4.294967296 * 504
    assert quantities(rate_samples(samples)) == {"image.size": pytest.approx(expected, abs=1e-6)}


def test_gauge_silent_resource_is_not_billed_after_max_gap():
    # A 10 GB volume reported only for the first 24 hours.
    samples = [sample("volume.size", t, 10, unit="GB") for t in hourly(at(1, 0), at(2, 0))]
    # 23 intervals of 1 h at 10 GB; the last sample (1 Oct 23:00) is stale.
    assert quantities(rate_samples(samples)) == {"volume.size": 230}


def test_max_is_peak_times_window_hours():
    samples = [sample("memory.peak", at(d), v, unit="GB") for d, v in [(2, 4), (9, 16), (20, 8)]]
    samples.append(sample("memory.peak", at(30, 12, month=9), 64, unit="GB"))  # lead-in: not a peak of October
    assert quantities(rate_samples(samples)) == {"memory.peak": 16 * HOURS_IN_OCTOBER}


def test_delta_adds_back_across_counter_reset_and_uses_lead_in_baseline():
    # Lead-in 1000 MB, then 1500, 2500, reset to 300, then 800 (MB).
    # Growth: 500 + 1000 + 300 (restarted from 0) + 500 = 2300 MB = 2.3 GB.
    values = [(at(30, 23, month=9), 1000), (at(1, 1), 1500), (at(1, 2), 2500), (at(1, 3), 300), (at(1, 4), 800)]
    samples = [sample("network.outgoing.bytes", t, v, unit="MB") for t, v in values]
    assert quantities(rate_samples(samples)) == {"network.outgoing.bytes": 2.3}


def test_delta_without_lead_in_is_last_minus_first():
    values = [(at(1, 5), 4e9), (at(2, 5), 6e9), (at(3, 5), 9e9)]
    samples = [sample("network.outgoing.bytes", t, v, unit="B") for t, v in values]
    assert quantities(rate_samples(samples)) == {"network.outgoing.bytes": 5.0}


def test_delta_consecutive_months_bill_every_byte_once():
    values = [(at(30, 22, month=9), 0), (at(31, 23), 7e9), (at(1, 1, month=11), 10e9)]
    samples = [sample("network.outgoing.bytes", t, v, unit="B") for t, v in values]
    from artifice.timeutil import Window

    october = quantities(rate_samples(samples, OCTOBER))
    november = quantities(rate_samples(samples, Window.month(2026, 11)))
    assert october["network.outgoing.bytes"] + november["network.outgoing.bytes"] == 10.0
    assert november == {"network.outgoing.bytes": 3.0}


def test_sum_is_half_open():
    samples = [
        sample("api.requests", at(1, 0), 1, unit="request"),
        sample("api.requests", at(15), 10, unit="request"),
        sample("api.requests", at(1, 0, month=11), 100, unit="request"),
        sample("api.requests", at(30, 23, month=9), 1000, unit="request"),
    ]
    assert quantities(rate_samples(samples)) == {"api.requests": 11}


def test_stringified_metadata_and_both_timestamp_formats():
    samples = [instance(t) for t in hourly(at(30, 23, month=9), at(1, 0, month=11))]
    for s in samples[::2]:
        s["timestamp"] += ".000000"  # the API returns both forms
    samples[5]["resource_metadata"] = {"instance_type": "m1.small", "status": "active", "flavor.name": "None"}
    samples[6]["counter_volume"] = "1"
    assert quantities(rate_samples(samples)) == {"m1.small": HOURS_IN_OCTOBER}


def test_bad_samples_are_counted_not_billed():
    samples = [
        sample("volume.size", at(2), float("nan"), unit="GB"),
        sample("volume.size", at(2), -5, unit="GB", resource="r2"),
        sample("volume.size", at(2), 5, unit="furlong", resource="r3"),
        {**sample("volume.size", at(2), 5, unit="GB", resource="r4"), "timestamp": "yesterday"},
        instance(at(2), flavor="None", resource="r5"),
    ]
    usage = rate_samples(samples)
    assert usage.lines.empty
    assert usage.report.dropped == {
        "invalid_volume": 1,
        "negative_volume": 1,
        "unit_mismatch": 1,
        "invalid_timestamp": 1,
        "missing_metadata": 1,
    }


def test_per_resource_detail_adds_up_to_lines():
    samples = [instance(t, resource=f"vm{i}") for i in range(3) for t in hourly(at(1), at(2))]
    usage = rate_samples(samples)
    assert sorted(usage.detail["resource_id"]) == ["vm0", "vm1", "vm2"]
    assert usage.detail["quantity"].sum() == pytest.approx(float(usage.lines["quantity"].sum()))


def test_a_meter_whose_counter_type_its_transformer_bills_wrong_is_refused() -> None:
    """A delta meter (each sample the growth since the last) under the delta transformer bills 0."""
    from artifice.exceptions import ConfigError
    from artifice.usage.mapping import parse_mapping

    mapping = parse_mapping(
        {"meters": {"storage.objects.outgoing.bytes": {"transformer": "delta", "unit": "GB"}}}, "test", 7200
    )
    samples = [
        {**sample("storage.objects.outgoing.bytes", at(1, h), 1e9, unit="B"), "counter_type": "delta"} for h in range(3)
    ]
    with pytest.raises(ConfigError, match=r"is a delta meter .* map it with transformer sum"):
        rate(samples_frame(samples, "RegionOne"), OCTOBER, mapping, ("openstack",))
    summed = {"meters": {"storage.objects.outgoing.bytes": {"transformer": "sum", "unit": "GB"}}}
    fixed = parse_mapping(summed, "t", 7200)
    usage = rate(samples_frame(samples, "RegionOne"), OCTOBER, fixed, ("openstack",))
    assert quantities(usage) == {"storage.objects.outgoing.bytes": 3.0}  # 3 x 1 GB


def test_two_meters_billed_as_one_service_stay_one_line_whatever_their_descriptions():
    from artifice.usage.mapping import parse_mapping

    rules = parse_mapping({"meters": {
        "network.incoming.bytes": {"transformer": "delta", "unit": "GB", "service": "traffic", "description": "In"},
        "network.outgoing.bytes": {"transformer": "delta", "unit": "GB", "service": "traffic", "description": "Out"},
    }}, "t", 7200)  # fmt: skip
    samples = [sample(m, t, v, unit="B", resource=m) for m in ("network.incoming.bytes", "network.outgoing.bytes")
               for t, v in ((at(1, 1), 0), (at(1, 2), 2e9))]  # fmt: skip
    for s in samples:
        s["counter_type"] = "cumulative"
    usage = rate(samples_frame(samples, "R"), OCTOBER, rules, ["openstack"])
    assert [(r.service, r.quantity, r.description) for r in usage.lines.itertuples()] == [("traffic", 4.0, "In")]
