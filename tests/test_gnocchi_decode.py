"""Decoding Gnocchi's aggregates answers: the C scanner, orjson and json read the same rows."""

from __future__ import annotations

import datetime as dt
import json
import math
from types import SimpleNamespace
from typing import Any

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from artifice.collectors.gnocchi import _json, _measures, _measures_frame
from artifice.collectors.wirescan import scanner
from artifice.exceptions import CollectionError

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


def _answer(value: bytes, more: bytes = b"") -> bytes:
    return (b'[{"group": {"id": "vm-1"}, "measures": {"measures": {"vm-1": {"vcpus": {"mean": '
            b'[["2026-10-01T00:00:00+00:00", 3600.0, %s]%s]}}}}}]' % (value, more))  # fmt: skip


@pytest.mark.parametrize(
    "body",
    [
        _answer(b".5"), b"", b"<html>",
        b'[{"group": {"id": "vm-1"}, "x": ' + b"[" * 5000 + b"]" * 5000 + b"}]",  # deeper than Python's decoders
        _answer(b"1" + b"0" * 400),  # too large for a float
        _answer(b"1" + b"0" * 400, more=b', ["2026-10-01T01:00:00+00:00", 3600.0, NaN]'),
    ],
    ids=["not JSON", "empty", "HTML", "nested too deep", "a value too large", "a value too large, NaN"],
)  # fmt: skip
def test_an_answer_that_cannot_be_read_is_a_collection_error(body: bytes) -> None:
    with pytest.raises(CollectionError, match="cannot be read"):
        _measures(SimpleNamespace(content=body))


def test_a_metric_not_found_passes_through():
    assert _json([]) == []


# The C scanner (``scan_aggregates``): whatever answer it takes, it reads the rows the
# standard decoder reads; whatever it cannot read exactly, it leaves to that decoder.


def scanned(body: bytes) -> pd.DataFrame | None:
    """The scanner's rows of ``body`` when it takes it (checked against the standard decoder's)."""
    if scanner.scan_aggregates(body) is None:
        return None
    frame = _measures(SimpleNamespace(content=body))
    expected = _measures_frame(_json(SimpleNamespace(content=body)))
    expected["timestamp"] = expected["timestamp"].astype("datetime64[ns, UTC]")
    expected["volume"] = pd.to_numeric(expected["volume"]).astype(float)  # None: NaN, as conform makes it
    pd.testing.assert_frame_equal(frame, expected, check_dtype=False)
    assert frame["timestamp"].dtype == "datetime64[ns, UTC]"
    return frame


def test_the_scanner_reads_an_answer_as_its_rows() -> None:
    frame = scanned(json.dumps(ANSWER).encode())
    assert frame is not None and list(frame["volume"]) == [2.0, 4.5]


def test_nan_is_left_to_the_standard_decoder() -> None:
    body = json.dumps(ANSWER).replace("4.5", "NaN").encode()
    assert scanner.scan_aggregates(body) is None
    assert math.isnan(_measures(SimpleNamespace(content=body))["volume"].iloc[1])


@pytest.mark.parametrize(
    "body",
    [
        b"", b"{}", b"[", b"[{]",
        b'[{"measures": {"measures": {"a": {"m": {"mean": [["2026-10-01T00:00:00+00:00", 1, 2]]}}}}]',
        b'[{"measures": {"measures": {"a": {"m": {"mean": [["2026-10-01T00:00:00+00:00", 1]]}}}}}]',
        b'[{"measures": {"measures": {"a": {"m": {"mean": [["2026-10-01T00:00:00+00:00", 1, 2, 3]]}}}}}]',
        b'[{"measures": {"measures": {"a": {"m": {"mean": [["2026-13-01T00:00:00+00:00", 1, 2]]}}}}}]',
        b'[{"measures": {"measures": {"a": {"m": {"mean": [["2026-10-01T00:00:00+00:00", 1, "2"]]}}}}}]',
        b'[{"measures": {"measures": {"a": {"m": {"mean": [["2026-10-01T00:00:00+00:00", 1, 2],]}}}}}]',
        b'[{"measures": {}, "measures": {}}]',
        b'[{"measur\\u0065s": {"measures": {}}}]',
        b'[{"measures": {"measures": {"\xff": {}}}}]',
        b'[{"measures": {"measures": {"a": {"m": {"mean": [["2026-10-01T00:00:00+00:00", 1, .5]]}}}}}]',
        b'[{"measures": {"measures": {"a": {"m": {"mean": [["2026-10-01T00:00:00+00:00", 1, -.5]]}}}}}]',
        b'[{"measures": {"measures": {"a": {"m": {"mean": [["2026-10-01T00:00:00+00:00", 1, '
        + b"1" * 4301  # an integer json.loads refuses
        + b"]]}}}}}]",
        # a repeated key: json.loads keeps the last one's points only
        b'[{"measures": {"measures": {"a": {"m": {"mean": []}}, "a": {"m": {"mean": []}}}}}]',
        b'[{"measures": {"measures": {"a": {"m": {"mean": []}}, "\\u0061": {"m": {"mean": []}}}}}]',
        b'[{"measures": {"measures": {"a": {"m": {"mean": []}, "m": {"mean": []}}}}}]',
        b'[{"measures": {"measures": {"a": {"m": {"mean": [], "mean": []}}}}}]',
    ],
)  # fmt: skip
def test_what_the_scanner_cannot_read_exactly_is_left_to_the_standard_decoder(body: bytes) -> None:
    assert scanner.scan_aggregates(body) is None


IDS = st.one_of(st.uuids().map(str), st.sampled_from(["vm-1", "a\"b", "\u00e9t\u00e9", "\U0001f600", "x\\y"]),
                st.text(max_size=5))  # fmt: skip
UTC_STAMPS = st.datetimes(dt.datetime(1990, 1, 1), dt.datetime(2100, 1, 1), timezones=st.just(dt.UTC))
STAMPS = st.one_of(
    UTC_STAMPS.map(dt.datetime.isoformat), UTC_STAMPS.map(dt.datetime.isoformat), UTC_STAMPS.map(dt.datetime.isoformat),
    st.datetimes(dt.datetime(1990, 1, 1), dt.datetime(2100, 1, 1)).map(lambda d: d.isoformat() + "Z"),
    st.text(max_size=3),
)  # fmt: skip
POINTS = st.lists(st.tuples(STAMPS, st.sampled_from([60, 600.0, 3600]),
                            st.one_of(st.none(), st.integers(-(10**18), 10**18), st.floats(allow_nan=False))),
                  max_size=5).map(lambda points: [list(p) for p in points])  # fmt: skip
SERIES = st.dictionaries(
    st.sampled_from(["vcpus", "volume.size"]),
    st.dictionaries(st.sampled_from(["mean", "max", "last"]), POINTS, max_size=2),
    max_size=2,
)
GROUPS = st.lists(st.builds(lambda rid, series, extra: {"group": {"id": rid}, "measures": {"measures": {rid: series}},
                                                         **extra}, IDS, SERIES,
                            st.dictionaries(st.sampled_from(["references", "x"]), st.integers(), max_size=1)),
                  max_size=4)  # fmt: skip


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(groups=GROUPS, ascii_only=st.booleans(), spaced=st.booleans())
def test_any_answer_the_scanner_takes_reads_as_the_standard_decoder_reads_it(groups: list[Any], ascii_only: bool,
                                                                            spaced: bool) -> None:  # fmt: skip
    separators = (", ", ": ") if spaced else (",", ":")
    scanned(json.dumps(groups, ensure_ascii=ascii_only, separators=separators).encode())
