"""Property-based bad input: whatever the samples, rating never fails, never bills nonsense, and a
sample repeated with the same message_id counts once."""

from __future__ import annotations

import math

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from artifice.collectors.ceilometer_format import samples_frame
from artifice.timeutil import Window
from artifice.usage.engine import rate
from artifice.usage.mapping import load_mapping
from tests.conftest import REPO

OCTOBER = Window.month(2026, 10)
RULES = load_mapping(str(REPO / "etc" / "artifice" / "meters.yaml"), 7200)

anything = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**20), max_value=10**20),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=20),
    st.lists(st.integers(), max_size=2),
)
stamps = st.one_of(
    st.datetimes(timezones=st.none()).map(lambda d: d.isoformat()),
    st.sampled_from(["2026-10-05T10:00:00", "2026-10-31T23:59:59.999999", "9999-12-31T23:59:59", "soon", ""]),
    anything,
)
samples = st.fixed_dictionaries(
    {
        "counter_name": st.sampled_from([*sorted(RULES), "unknown.meter"]),
        "project_id": st.sampled_from(["t1", "t2", None]),
        "resource_id": st.sampled_from(["r1", "r2", "", None]),
        "timestamp": stamps,
        "counter_volume": anything,
        "counter_unit": st.sampled_from(["instance", "GB", "B", "hour", None]),
        "source": st.sampled_from(["openstack", "tenant-posted", None]),
        "resource_metadata": st.one_of(
            st.none(),
            st.dictionaries(st.sampled_from(["flavor.name", "status", "state"]), anything, max_size=3),
            st.text(max_size=10),
        ),
    }
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.one_of(samples, anything), max_size=25))
def test_any_samples_rate_without_error_into_sane_quantities(batch: list[object]) -> None:
    usage = rate(samples_frame(batch, "RegionOne"), OCTOBER, RULES, ["openstack"])  # type: ignore[arg-type]
    assert all(math.isfinite(q) and q >= 0 for q in usage.lines["quantity"])
    assert usage.report.used >= 0 and all(count > 0 for count in usage.report.dropped.values())


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(samples, min_size=1, max_size=20))
def test_a_sample_repeated_with_its_message_id_counts_once(batch: list[dict[str, object]]) -> None:
    tagged = [{**s, "message_id": f"m{i}"} for i, s in enumerate(batch)]
    once = rate(samples_frame(tagged, "RegionOne"), OCTOBER, RULES, ["openstack"])
    twice = rate(samples_frame(tagged + tagged, "RegionOne"), OCTOBER, RULES, ["openstack"])
    assert once.lines.to_dict("records") == twice.lines.to_dict("records")
