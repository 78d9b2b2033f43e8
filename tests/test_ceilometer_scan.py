"""The C scanner of Ceilometer pages (``_wirescan``) against the per-value decoder.

Whatever page the scanner takes, it must give the frame ``samples_frame`` gives of the
same JSON; whatever it cannot read exactly (odd values, invalid JSON or UTF-8), it must
decline, so that the general decoder decides.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from artifice.collectors.ceilometer_format import samples_frame
from artifice.collectors.ceilometer_scan import scan, scanned_frame
from artifice.collectors.wirescan import SCANNER_BUILT
from tests.test_ceilometer_wire import PAGES, sample

# The pages of test_ceilometer_wire the API could send as they are: the scanner must take them.
PLAIN = ["well formed", "padded and blank names", "metadata nested, 'None', missing, not an object", "empty",
         "a long page of few resources (pandas caches repeated timestamps)"]  # fmt: skip


def same_frame(body: bytes) -> bool:
    """Whether the scanner took the page; when it did, its frame must be samples_frame's."""
    page = scan(body, "RegionOne")
    if page is None:
        return False
    pd.testing.assert_frame_equal(scanned_frame([page]), samples_frame(json.loads(body), "RegionOne"))
    return True


def test_the_scanner_is_built() -> None:
    assert SCANNER_BUILT, "artifice.collectors._wirescan did not build: pip install needs gcc and Python's headers"


@pytest.mark.parametrize("name", PAGES)
def test_a_page_is_scanned_into_the_same_frame_or_declined(name: str) -> None:
    taken = same_frame(json.dumps(PAGES[name]).encode())
    assert taken == (name in PLAIN)


@pytest.mark.parametrize(
    ("body", "taken"),
    [
        (b'[{"counter_name": "cpu", "counter_volume": NaN}]', False),  # not JSON
        (b'[{"counter_name": "cpu", "counter_volume": Infinity}]', False),
        (b'[{"counter_name": "cpu", "counter_volume": 1e400}]', True),  # inf, as json.loads reads it
        (b'[{"counter_name": "cpu", "counter_volume": 1, "project_id": "p\\ud800"}]', True),  # a lone surrogate
    ],
)
def test_json_msgspec_refuses_is_read_as_json_loads_reads_it(body: bytes, taken: bool) -> None:
    assert same_frame(body) == taken


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"[",
        b'[{"counter_volume": 1}',
        b'[{"counter_volume": 1}] x',
        b'[{"counter_volume": 1},]',
        b'[{"counter_volume": 1,}]',
        b'[{"counter_volume": 01}]',
        b'[{"counter_volume": 1.}]',
        b'[{"counter_volume": -}]',
        b'[{"counter_volume": .5}]',
        b'[{"counter_volume": -.5}]',
        b'[{"counter_volume": ' + b"1" * 4301 + b"}]",  # json.loads refuses an integer of more than 4300 digits
        b'[{"counter_volume": 1, "source": "a\\q"}]',
        b'[{"counter_volume": 1, "source": "a\\u12"}]',
        b'[{"counter_volume": 1, "source": "tab\there"}]',
        b'[{"counter_volume": 1, "source": "\xff"}]',
        b'[{"counter_volume": 1, "source": "\xed\xa0\x80"}]',  # a surrogate in UTF-8
        b'[{"counter_volume": 1, "source": "\xc0\xaf"}]',  # overlong
        b'[{"counter_volume": 1, "user_id": "\xe2\x82"}]',  # cut short, in a field it skips
        b'[{"counter_volume": 1, "resource_metadata": {"a": [1, 2}}]',
        b'[{"counter_volume": 1, "resource_metadata": {"a" 1}}]',
        b'[{"counter_volume": 1, "resource_metadata": tru}]',
        b'{"counter_volume": 1}',
    ],
)
def test_invalid_json_is_declined(body: bytes) -> None:
    assert scan(body, "RegionOne") is None


@pytest.mark.parametrize(
    "changes",
    [
        {"timestamp": "2026-02-29T00:00:00"},  # not a leap year
        {"timestamp": "2026-10-01T24:00:00"},
        {"timestamp": "2026-10-01T00:00:60"},
        {"timestamp": "2026-10-01"},
        {"timestamp": "2026-10-01T00:00:00.1234567890"},
        {"timestamp": "2026-10-01T00:00:00+0200"},
        {"timestamp": "9999-12-31T00:00:00"},
        {"timestamp": "2026-10-01T00:00:00\\u005a"},
        {"counter_volume": "1.5"},
        {"counter_volume": True},
        {"project_id": 7},
        {"resource_id": ["vm"]},
        {"volume": 3},
    ],
)
def test_values_the_general_decoder_decides_on_are_declined(changes: dict[str, Any]) -> None:
    body = json.dumps([sample(), sample(**changes)]).encode().replace(b"\\\\u005a", b"\\u005a")
    assert scan(body, "RegionOne") is None


@pytest.mark.parametrize(("volume", "negative"), [("-0", False), ("-0.0", True), ("-0e0", True), ("0", False)])
def test_the_sign_of_a_zero_volume_is_read_as_json_loads_reads_it(volume: str, negative: bool) -> None:
    # an identity (paging) holds the volume: -0 is the integer 0, -0.0 a negative float zero
    body = json.dumps([sample()]).encode().replace(b'"counter_volume": 1.0', b'"counter_volume": ' + volume.encode())
    page = scan(body, "RegionOne")
    assert page is not None and bool(np.signbit(page.volumes[0])) == negative


def test_a_repeated_key_is_declined() -> None:
    assert scan(b'[{"counter_volume": 1, "source": "a", "source": "b"}]', "RegionOne") is None


@pytest.mark.parametrize(
    "stamp",
    ["2026-10-01T00:00:00", "2026-10-01 07:08:09", "2024-02-29T23:59:59.5", "2026-10-01T00:00:00.123456789",
     "2026-10-01T00:00:00Z", "2026-10-01T01:30:00+01:30", "2026-10-01T00:00:00-11:00", "1678-01-01T00:00:00",
     "2261-12-31T23:59:59.999999999", "1970-01-01T00:00:00"],
)  # fmt: skip
def test_timestamps_are_read_to_the_nanosecond_as_pandas_reads_them(stamp: str) -> None:
    assert same_frame(json.dumps([sample(timestamp=stamp)]).encode())


@pytest.mark.parametrize(
    "volume", ["0", "-0", "1e3", "1E-3", "2.5", "123456789012345678901234567890", "0.1", "1e400", "-1e-400",
               "9007199254740993", "1.7976931348623157e308", "4.9e-324", "123456.789012345"],
)  # fmt: skip
def test_volumes_are_read_as_json_loads_reads_them(volume: str) -> None:
    body = json.dumps([sample(counter_volume=1.0)]).encode().replace(b'"counter_volume": 1.0', b'"counter_volume": ' +
                                                                      volume.encode())  # fmt: skip
    assert same_frame(body)


NAMES = st.one_of(
    st.none(),
    st.sampled_from(["", " ", "acme", " acme ", "vm-1", "openstack", "m1.small", "\u00e9t\u00e9", "a\"b", "a\\b",
                     "\u2003x", "x\u00a0", "tab\t", "\U0001f600", "\ud800"]),
    st.text(max_size=6),
)  # fmt: skip


def stamps(years: tuple[int, int], months: tuple[int, int], days: tuple[int, int], hours: tuple[int, int],
           seconds: tuple[int, int]) -> st.SearchStrategy[str]:  # fmt: skip
    return st.builds(
        "{:04d}-{:02d}-{:02d}{}{:02d}:{:02d}:{:02d}{}{}".format,
        st.integers(*years), st.integers(*months), st.integers(*days), st.sampled_from(["T", " ", "t"]),
        st.integers(*hours), st.integers(0, 59), st.integers(*seconds),
        st.sampled_from(["", ".5", ".123456", ".123456789", ".1234567891"]),
        st.sampled_from(["", "Z", "+00:00", "-05:30", "+14:00", "+0100"]),
    )  # fmt: skip


VALID_STAMPS = stamps((1990, 2100), (1, 12), (1, 28), (0, 23), (0, 59))
STAMPS = st.one_of(
    st.none(), VALID_STAMPS, VALID_STAMPS, VALID_STAMPS,
    stamps((1600, 2300), (0, 13), (0, 32), (0, 24), (0, 60)),  # out of range, out of pandas' years
    st.text(max_size=4),
)  # fmt: skip
METADATA = st.one_of(
    st.none(),
    st.just("text"),
    st.fixed_dictionaries(
        {},
        optional={"flavor.name": NAMES, "flavor": st.fixed_dictionaries({"name": NAMES}), "status": NAMES,
                  "state": NAMES, "display_name": NAMES, "launched_at": STAMPS, "deleted_at": STAMPS,
                  "name": NAMES, "size": st.floats(allow_nan=False)},
    ),
)  # fmt: skip
SAMPLES = st.fixed_dictionaries(
    {"counter_volume": st.one_of(st.none(), st.integers(-(10**20), 10**20), st.floats(allow_nan=False))},
    optional={"counter_name": NAMES, "counter_unit": NAMES, "counter_type": NAMES, "project_id": NAMES,
              "resource_id": NAMES, "source": NAMES, "message_id": NAMES, "timestamp": STAMPS,
              "resource_metadata": METADATA, "user_id": NAMES, "recorded_at": STAMPS},
)  # fmt: skip


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    pages=st.lists(st.lists(SAMPLES, max_size=6), min_size=1, max_size=3),
    ascii_only=st.booleans(),
    spaced=st.booleans(),
)
def test_any_pages_the_scanner_takes_frame_as_samples_frame(pages: list[list[Any]], ascii_only: bool,
                                                            spaced: bool) -> None:  # fmt: skip
    separators = (", ", ": ") if spaced else (",", ":")
    bodies = [json.dumps(p, ensure_ascii=ascii_only, separators=separators).encode("utf-8", "surrogatepass")
              for p in pages]  # fmt: skip
    scanned = [scan(body, "RegionOne") for body in bodies]
    if any(page is None for page in scanned):
        return
    for body, page in zip(bodies, scanned, strict=True):
        assert page is not None
        pd.testing.assert_frame_equal(scanned_frame([page]), samples_frame(json.loads(body), "RegionOne"))
    # Several pages framed at once: as their samples decoded one by one and put together.
    together = samples_frame([s for body in bodies for s in json.loads(body)], "RegionOne")
    pd.testing.assert_frame_equal(scanned_frame([page for page in scanned if page is not None]), together)
