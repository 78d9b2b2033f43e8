"""The Ceilometer collector's wire decoder (msgspec, a column at a time) against the per-value decoder.

Both must build the same raw-usage frame from the same page, for well-formed samples and
for every oddity the per-value decoder tolerates.
"""

from __future__ import annotations

import json
from typing import Any

import pandas as pd
import pytest

from artifice.collectors.ceilometer_format import decode_page, page_frame, samples_frame


def sample(**changes: Any) -> dict[str, Any]:
    base = {
        "counter_name": "instance", "counter_type": "gauge", "counter_unit": "instance", "counter_volume": 1.0,
        "message_id": "m-1", "project_id": "acme", "recorded_at": "2026-11-01T00:00:05", "resource_id": "vm-1",
        "source": "openstack", "timestamp": "2026-11-01T00:00:00", "user_id": "u-1",
        "resource_metadata": {"flavor.name": "m1.small", "instance_type": "m1.tiny", "status": "active",
                              "display_name": "web", "launched_at": "2026-10-01T00:00:00"},
    }  # fmt: skip
    return {**base, **changes}


def both(samples: list[Any]) -> tuple[pd.DataFrame, pd.DataFrame]:
    body = json.dumps(samples).encode()
    return page_frame(decode_page(body), "RegionOne"), samples_frame(json.loads(body), "RegionOne")


PAGES = {
    "well formed": [
        sample(message_id=f"m-{i}", counter_volume=i, timestamp=f"2026-11-01T{i:02d}:00:00") for i in range(24)
    ],
    "padded and blank names": [sample(project_id=" acme "), sample(resource_id=""), sample(source="  ")],
    "numbers as ids, a bool as an id": [sample(project_id=42), sample(resource_id=7.5), sample(project_id=True)],
    "volumes as text, bad, bool, missing": [
        sample(counter_volume="2.5"),
        sample(counter_volume="x"),
        sample(counter_volume=True),
        sample(counter_volume=None),
    ],
    "timestamps not text": [sample(timestamp=12), sample(timestamp=None), sample(timestamp="garbage")],
    "metadata nested, 'None', missing, not an object": [
        sample(resource_metadata={"flavor": {"name": "m1.large"}, "status": "None"}),
        sample(resource_metadata=None),
        sample(resource_metadata="text"),
        sample(resource_metadata=[1]),
        sample(resource_metadata={"name": " img ", "created_at": "2026-10-02T00:00:00", "deleted_at": "null"}),
    ],
    "fields missing": [{"counter_name": "instance"}, {}],
    "an element that is not an object": [sample(), 3, "x", None, sample(message_id="m-2")],
    "empty": [],
    "a long page of few resources (pandas caches repeated timestamps)": [
        sample(
            message_id=f"m-{i}",
            resource_id=f"vm-{i % 3}",
            timestamp=f"2026-11-01T{i % 24:02d}:00:00",
            resource_metadata={"launched_at": "2026-10-01T00:00:00", "deleted_at": "2026-11-20" if i % 3 else None},
        )
        for i in range(300)
    ],
    "zero as a name, an older API's field names": [
        sample(counter_name=0, counter_unit=0, counter_type=0),
        {
            **{k: v for k, v in sample().items() if not k.startswith("counter_")},
            **{"meter": "cpu", "volume": 5, "unit": "ns", "type": "cumulative"},
        },
        sample(counter_name=None, meter="cpu", counter_volume=None, volume=7),
    ],
}

# JSON that json.loads reads and msgspec does not: the collector reads it as json.loads does.
ODD_BODIES = {
    "NaN and Infinity": b'[{"counter_name": "cpu", "counter_volume": NaN}, {"counter_volume": Infinity}]',
    "a number out of range": b'[{"counter_name": "cpu", "counter_volume": 1e400}]',
    "a lone surrogate": b'[{"counter_name": "cpu", "project_id": "p\\ud800"}]',
}


@pytest.mark.parametrize("name", ODD_BODIES)
def test_json_that_msgspec_refuses_is_read_as_json_loads_reads_it(name: str) -> None:
    body = ODD_BODIES[name]
    fast = page_frame(decode_page(body), "RegionOne")
    pd.testing.assert_frame_equal(fast, samples_frame(json.loads(body), "RegionOne"))


@pytest.mark.parametrize("name", PAGES)
def test_the_wire_decoder_builds_the_same_frame(name: str) -> None:
    fast, plain = both(PAGES[name])
    pd.testing.assert_frame_equal(fast, plain)


def test_a_body_that_is_not_a_list_of_samples_is_refused() -> None:
    with pytest.raises(ValueError):
        decode_page(b'{"error_message": "boom"}')
    with pytest.raises(ValueError):
        decode_page(b"<html>Bad gateway</html>")
