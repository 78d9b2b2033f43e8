"""Odd samples where the Ceilometer collector pages: a clear CollectionError or every sample, never a traceback.

A real Ceilometer cannot be made to store these, so a local HTTP server answers the pages
(newest first, ``page_size`` 10, as the v2 API pages ``GET /v2/meters/<name>``).
"""

from __future__ import annotations

import http.server
import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from artifice import config
from artifice.collectors.ceilometer import CeilometerCollector, read_page
from artifice.collectors.ceilometer_scan import ScannedPage
from artifice.exceptions import CollectionError
from artifice.timeutil import Window
from tests.servers import REPO


def sample(hour: int, **changes: Any) -> dict[str, Any]:
    return {
        "counter_name": "instance", "counter_type": "gauge", "counter_unit": "instance", "counter_volume": 1.0,
        "message_id": f"m-{hour}", "project_id": "acme", "resource_id": "vm-1", "source": "openstack",
        "timestamp": f"2026-10-10T{hour:02d}:00:00", "resource_metadata": {"flavor.name": "m1.small"},
        **changes,
    }  # fmt: skip


def full_page(last: dict[str, Any]) -> list[dict[str, Any]]:
    """Ten samples, 20:00 down to 11:00, the last one changed by ``last``."""
    return [sample(hour) for hour in range(20, 11, -1)] + [sample(11, **last)]


class Pages(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        pages: list[Any] = self.server.pages  # type: ignore[attr-defined]
        page = pages.pop(0) if pages else []
        body = page if isinstance(page, bytes) else json.dumps(page).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def collector(tmp_path: Path) -> Iterator[tuple[CeilometerCollector, http.server.ThreadingHTTPServer]]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Pages)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    conf = tmp_path / "ceilometer.conf"
    conf.write_text(f"""
[collector:ceilometer]
regions = RegionOne
endpoints = RegionOne:http://127.0.0.1:{server.server_address[1]}
page_size = 10
[service_credentials]
auth_type = none
[telemetry]
retries = 0
[metering]
meter_mapping = {REPO / "etc" / "artifice" / "meters.yaml"}
trust_sources = openstack, other
""")
    yield CeilometerCollector(config.load(["--config-file", str(conf)])), server
    server.shutdown()


def collect(collector: tuple[CeilometerCollector, http.server.ThreadingHTTPServer], pages: list[Any]) -> Any:
    reader, server = collector
    server.pages = pages  # type: ignore[attr-defined]
    return reader.collect("acme", Window.month(2026, 10), ["instance"], 0)


@pytest.mark.parametrize(
    "last",
    [{"timestamp": "garbage"}, {"timestamp": None}, {"timestamp": 12}],
    ids=["unreadable", "null", "a number"],
)
def test_a_page_ending_in_an_unreadable_timestamp_is_a_collection_error(collector: Any, last: dict[str, Any]) -> None:
    with pytest.raises(CollectionError, match="timestamp"):
        collect(collector, [full_page(last), []])


def _page(volume: bytes, metadata: bytes = b"{}", more: bytes = b"") -> bytes:
    return b'[{"counter_name": "instance", "counter_volume": %s, "resource_metadata": %s}%s]' % (volume, metadata, more)


@pytest.mark.parametrize(
    "body",
    [
        _page(b".5"), b"{}", b"[", b"<html>",
        _page(b"1", metadata=b"[" * 5000 + b"]" * 5000),  # deeper than Python's decoders recurse
        _page(b"1" + b"0" * 400, more=b', {"counter_volume": NaN}'),  # too large for a float; declined for NaN
        _page(b"1" + b"0" * 400),
    ],
    ids=["not JSON", "an object", "cut short", "HTML", "nested too deep", "too large, NaN", "too large"],
)  # fmt: skip
def test_a_page_that_is_not_a_json_list_is_a_collection_error(collector: Any, body: bytes) -> None:
    with pytest.raises(CollectionError, match="cannot be read"):
        collect(collector, [body])


def test_a_page_ending_in_a_timestamp_with_an_offset_pages_on(collector: Any) -> None:
    frame = collect(collector, [full_page({"timestamp": "2026-10-10T11:00:00+00:00"}), [sample(10)], []])
    assert len(frame) == 11


def test_a_message_id_that_is_not_text_is_read_as_any_other(collector: Any) -> None:
    frame = collect(collector, [full_page({"message_id": {"id": "m-11"}}), [sample(10)]])
    assert len(frame) == 11


def test_samples_without_message_ids_are_all_read_across_pages(collector: Any) -> None:
    first = [sample(hour, message_id=None) for hour in range(20, 10, -1)]
    second = [sample(11, message_id=None)] + [sample(hour, message_id=None) for hour in range(10, 1, -1)]
    frame = collect(collector, [first, second, [sample(1, message_id=None), sample(0, message_id=None)]])
    assert sorted(frame["timestamp"].dt.hour) == list(range(0, 21))  # 11:00, on both pages, read once


def test_samples_without_message_ids_told_apart_by_source_are_both_read_across_pages(collector: Any) -> None:
    first = [sample(hour, message_id=None) for hour in range(20, 10, -1)]
    second = [sample(11, message_id=None), sample(11, message_id=None, source="other"), sample(10, message_id=None)]
    frame = collect(collector, [first, second])
    assert sorted(frame.loc[frame["timestamp"].dt.hour == 11, "source"].astype(str)) == ["openstack", "other"]


def test_a_sample_without_volume_on_a_scanned_and_a_declined_page_is_read_once(collector: Any) -> None:
    first = [sample(hour) for hour in range(20, 11, -1)] + [sample(11, message_id=None, counter_volume=None)]
    second = [sample(11, message_id=None, counter_volume=None), sample(10, resource_id=7)]  # declined: a number
    frame = collect(collector, [first, second])
    assert sorted(frame["timestamp"].dt.hour) == list(range(10, 21))


def test_a_page_only_the_general_decoder_reads_pages_on_from_a_scanned_one(collector: Any) -> None:
    """The scanner takes the first page, not the second (a number as a resource id); 11:00 is on both."""
    second = [sample(11), sample(10, resource_id=7), sample(9)]
    frame = collect(collector, [full_page({}), second])
    assert sorted(frame["timestamp"].dt.hour) == list(range(9, 21))
    assert sorted(frame["resource_id"].astype(str).unique()) == ["7", "vm-1"]


def test_an_empty_page_stays_with_the_scanner() -> None:
    # An empty ScannedPage is falsy: it once sent every empty page to the general decoder.
    assert isinstance(read_page(b"[]", "RegionOne"), ScannedPage)
