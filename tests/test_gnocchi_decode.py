"""Decoding Gnocchi's aggregates answers: the fast decoder and the standard one read the same rows."""

from __future__ import annotations

import json
import math
from types import SimpleNamespace

from artifice.collectors.gnocchi import _json, _measures_frame

ANSWER = [
    {
        "group": {"id": "vm-1"},
        "measures": {"measures": {"vm-1": {"vcpus": {"mean": [
            ["2026-10-01T00:00:00+00:00", 3600.0, 2.0],
            ["2026-10-01T01:00:00+00:00", 3600.0, 4.5],
        ]}}}},
    }
]  # fmt: skip


def test_an_answer_reads_as_its_rows():
    frame = _measures_frame(_json(SimpleNamespace(content=json.dumps(ANSWER).encode())))
    assert list(frame["id"]) == ["vm-1", "vm-1"]
    assert list(frame["volume"]) == [2.0, 4.5]
    assert [t.isoformat() for t in frame["timestamp"]] == ["2026-10-01T00:00:00+00:00", "2026-10-01T01:00:00+00:00"]


def test_nan_in_an_answer_is_read_not_refused():
    # Python's json writes NaN for a float('nan'); a strict decoder refuses it.
    body = json.dumps(ANSWER).replace("4.5", "NaN").encode()
    frame = _measures_frame(_json(SimpleNamespace(content=body)))
    assert frame["volume"].iloc[0] == 2.0 and math.isnan(frame["volume"].iloc[1])


def test_a_metric_not_found_passes_through():
    assert _json([]) == []
