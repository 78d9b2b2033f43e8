"""The Ceilometer collector against two real Ceilometer v2 API servers (two regions)."""

from __future__ import annotations

import concurrent.futures
import csv
import http.server
import threading
from collections.abc import Iterator
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import pytest

from artifice import config
from artifice.collectors.ceilometer import CeilometerCollector
from artifice.timeutil import Window
from artifice.usage.engine import rate
from artifice.usage.mapping import load_mapping
from tests import synthetic
from tests.ceilometer_loader import post_samples
from tests.conftest import REPO, cli, write_conf
from tests.servers import Server

TENANTS = 2
OCTOBER = Window.month(2026, 10)


@pytest.fixture(scope="session")
def ceilometer() -> Iterator[dict[str, str]]:
    """Region -> URL of a real Ceilometer API holding that region's synthetic month."""
    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        servers = dict(zip(synthetic.REGIONS, pool.map(lambda _: Server("ceilometer"), synthetic.REGIONS), strict=True))
        month = synthetic.month(TENANTS)

        def load(region: str) -> None:
            samples = [x for s in month if s.region == region for x in s.samples()]
            # A sample a tenant posted itself claiming a huge instance: never billed.
            forged = synthetic.Series(
                synthetic.tenant_id(0),
                region,
                "instance",
                "instance",
                "forged",
                "gauge",
                [(synthetic.START, 1.0)],
                {"flavor.name": "m1.medium", "status": "active"},
            )
            post_samples(servers[region].url, samples + forged.samples(source="tenant-script"))

        list(pool.map(load, synthetic.REGIONS))
    try:
        yield {region: server.url for region, server in servers.items()}
    finally:
        for server in servers.values():
            server.stop()


def trusted() -> str:
    # Ceilometer stores samples posted through its API as "<project>:<source>".
    return ",".join(f"{synthetic.tenant_id(i)}:openstack" for i in range(TENANTS))


def ceilometer_conf(tmp: Path, endpoints: dict[str, str], extra: str = "") -> Path:
    rates = tmp / "rates.csv"
    rates.write_text(
        "datacenter,service,unit,price,currency\n"
        + "".join(
            f"*,{service},{unit},{price},EUR\n"
            for service, price in synthetic.RATES.items()
            for unit in [
                {"volume.size": "GB-hour", "image.size": "GB-hour", "network.outgoing.bytes": "GB"}.get(service, "hour")
            ]
        )
    )
    text = f"""
[main]
collector = ceilometer
invoice:object = csv

[invoice:object]
csv_directory = {tmp / "invoices"}
rates_file = {rates}

[collector:ceilometer]
regions = RegionOne,RegionTwo
endpoints = {",".join(f"{r}:{u}" for r, u in endpoints.items())}

[service_credentials]
auth_type = none

[telemetry]
retries = 1
retry_wait = 0.01

[metering]
meter_mapping = {REPO / "etc/artifice/meters.yaml"}
trust_sources = {trusted()}

[database]
connection = sqlite:///{tmp / "artifice.db"}
{extra}
"""
    return write_conf(tmp / "ceilometer.conf", text)


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


def _expected_total(index: int) -> Decimal:
    total = Decimal(0)
    for _region in synthetic.REGIONS:
        for service, quantity in synthetic.expected_quantities(index).items():
            rounded = Decimal(repr(quantity)).quantize(Decimal("0.0001"), ROUND_HALF_UP)
            total += (rounded * Decimal(synthetic.RATES[service])).quantize(Decimal("0.01"), ROUND_HALF_UP)
    return total


def test_bill_all_end_to_end_to_csv(ceilometer: dict[str, str], tmp_path: Path):
    conf = ceilometer_conf(tmp_path, ceilometer)
    assert cli("manage", "--config-file", str(conf), "db", "upgrade").returncode == 0
    result = cli("--config-file", str(conf), "bill", "--all", "--month", "2026-10")
    assert result.returncode == 0, result.stderr
    for index in range(TENANTS):
        rows = list(csv.reader((tmp_path / "invoices" / f"{synthetic.tenant_id(index)}-2026-10.csv").open()))
        total = next(r for r in rows if r and r[0] == "total")[6]
        assert Decimal(total) == _expected_total(index)
        sections = {r[1] for r in rows if r and r[0] == "subtotal"}
        assert sections == set(synthetic.REGIONS)


class _Failing(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(500)
        self.end_headers()
        self.wfile.write(b'{"error_message": "database is locked"}')

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def failing_endpoint() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Failing)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


@pytest.mark.parametrize("failure", ["answers 500", "is stopped"])
def test_failing_region_bills_nothing_and_a_later_run_bills_it(
    ceilometer: dict[str, str], tmp_path: Path, failing_endpoint: str, failure: str
):
    from tests.servers import free_port

    broken = failing_endpoint if failure == "answers 500" else f"http://127.0.0.1:{free_port()}"
    tenant = synthetic.tenant_id(0)
    conf = ceilometer_conf(tmp_path, {"RegionOne": ceilometer["RegionOne"], "RegionTwo": broken})
    cli("manage", "--config-file", str(conf), "db", "upgrade")
    failed = cli("--config-file", str(conf), "bill", "--tenant", tenant, "--month", "2026-10")
    assert failed.returncode != 0
    message = failed.stderr.strip()
    assert len(message.splitlines()) == 1 and tenant in message and broken in message, message
    assert not (tmp_path / "invoices").exists()
    assert "failed" in cli("--config-file", str(conf), "windows").stdout

    ceilometer_conf(tmp_path, ceilometer)  # the region is back
    again = cli("--config-file", str(conf), "bill", "--tenant", tenant, "--month", "2026-10")
    assert again.returncode == 0, again.stderr
    assert (tmp_path / "invoices" / f"{tenant}-2026-10.csv").exists()
