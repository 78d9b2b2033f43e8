"""The Ceilometer collector against two real Ceilometer v2 API servers (two regions)."""

from __future__ import annotations

import csv
import http.server
import threading
import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest

from artifice import config
from artifice.collectors.ceilometer import CeilometerCollector
from artifice.timeutil import Window
from artifice.usage.engine import rate
from artifice.usage.mapping import load_mapping
from tests import synthetic
from tests.conftest import cli
from tests.telemetry import CEILOMETER_TENANTS, ceilometer_conf

TENANTS = CEILOMETER_TENANTS
OCTOBER = Window.month(2026, 10)


def _collect_usage(conf_path: Path, tenant: str) -> dict[tuple[str, str], float]:
    conf = config.load(["--config-file", str(conf_path)])
    collector = CeilometerCollector(conf)
    rules = load_mapping(conf.metering.meter_mapping, conf.metering.max_gap)
    raw = collector.collect(tenant, OCTOBER, sorted(rules), conf.metering.lead_in)
    usage = rate(raw, OCTOBER, rules, conf.metering.trust_sources)
    assert usage.report.dropped.get("untrusted_source", 0) == (
        2 if tenant == synthetic.tenant_id(0) else 0
    )  # one forged sample per region
    return {(r.region, r.service): float(r.quantity) for r in usage.lines.itertuples()}


def test_month_through_ceilometer_matches_worked_quantities(ceilometer: dict[str, str], tmp_path: Path):
    conf = ceilometer_conf(tmp_path, ceilometer)
    for index in range(TENANTS):
        quantities = _collect_usage(conf, synthetic.tenant_id(index))
        expected = {
            (region, service): q
            for region in synthetic.REGIONS
            for service, q in synthetic.expected_quantities(index).items()
        }
        assert quantities == pytest.approx(expected, abs=1e-6)


def test_small_pages_read_every_sample(ceilometer: dict[str, str], tmp_path: Path):
    # 744 samples per resource and meter, read 100 at a time (the API's silent default).
    conf = ceilometer_conf(tmp_path, ceilometer, "[collector:ceilometer]\npage_size = 100\n")
    quantities = _collect_usage(conf, synthetic.tenant_id(1))
    assert quantities[("RegionOne", "m1.small")] == pytest.approx(744.0)
    assert quantities[("RegionTwo", "volume.size")] == pytest.approx(20.0 * 744)


def test_bill_all_end_to_end_to_csv(ceilometer: dict[str, str], tmp_path: Path):
    conf = ceilometer_conf(tmp_path, ceilometer)
    assert cli("manage", "--config-file", str(conf), "db", "upgrade").returncode == 0
    result = cli("--config-file", str(conf), "bill", "--all", "--month", "2026-10")
    assert result.returncode == 0, result.stderr
    for index in range(TENANTS):
        rows = list(csv.reader((tmp_path / "invoices" / f"{synthetic.tenant_id(index)}-2026-10.csv").open()))
        total = next(r for r in rows if r and r[0] == "total")[6]
        assert Decimal(total) == synthetic.expected_total(index)
        sections = {r[1] for r in rows if r and r[0] == "subtotal"}
        assert sections == set(synthetic.REGIONS)


class _Failing(http.server.BaseHTTPRequestHandler):
    """A broken Ceilometer API: it answers 500, answers garbage, or hangs past the client's timeout."""

    def do_GET(self) -> None:
        mode = getattr(self.server, "mode", "answers 500")
        if mode == "hangs":
            time.sleep(3)
        status, body = (200, b"<html>proxy error</html>") if mode == "answers garbage" else (500, b"{}")
        if mode == "answers 500":
            body = b'{"error_message": "database is locked"}'
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def failing_server() -> Iterator[http.server.ThreadingHTTPServer]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Failing)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()


@pytest.mark.parametrize("failure", ["answers 500", "is stopped", "answers garbage", "hangs"])
def test_failing_region_bills_nothing_and_a_later_run_bills_it(
    ceilometer: dict[str, str], tmp_path: Path, failing_server: http.server.ThreadingHTTPServer, failure: str
):
    from tests.servers import free_port

    failing_server.mode = failure  # type: ignore[attr-defined]
    broken = f"http://127.0.0.1:{failing_server.server_address[1]}"
    if failure == "is stopped":
        broken = f"http://127.0.0.1:{free_port()}"
    tenant = synthetic.tenant_id(0)
    timeout = "\n[service_credentials]\ntimeout = 1\n"
    conf = ceilometer_conf(tmp_path, {"RegionOne": ceilometer["RegionOne"], "RegionTwo": broken}, timeout)
    cli("manage", "--config-file", str(conf), "db", "upgrade")
    failed = cli("--config-file", str(conf), "bill", "--tenant", tenant, "--month", "2026-10")
    assert failed.returncode != 0
    lines = [line for line in failed.stderr.strip().splitlines() if "; retrying in " not in line]  # waits are announced
    (message,) = lines
    assert tenant in message and broken in message, failed.stderr
    assert not (tmp_path / "invoices").exists()

    ceilometer_conf(tmp_path, ceilometer)  # the region is back
    again = cli("--config-file", str(conf), "bill", "--tenant", tenant, "--month", "2026-10")
    assert again.returncode == 0, again.stderr
    assert (tmp_path / "invoices" / f"{tenant}-2026-10.csv").exists()
