"""The real telemetry servers the collector tests share: Ceilometer and Gnocchi, two regions each.

Session fixtures (registered in conftest): each starts two servers through
tools/servers/ and loads the synthetic month through the server's own write API.
"""

from __future__ import annotations

import concurrent.futures
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from keystoneauth1 import session as ks_session
from keystoneauth1.identity import v3

from tests import synthetic
from tests.ceilometer_loader import post_samples
from tests.gnocchi_loader import load
from tests.servers import REPO, Server, free_port

CEILOMETER_TENANTS = 2
GNOCCHI_TENANTS = 3


def write_conf(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture(scope="session")
def ceilometer() -> Iterator[dict[str, str]]:
    """Region -> URL of a real Ceilometer API holding that region's synthetic month."""
    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        servers = dict(zip(synthetic.REGIONS, pool.map(lambda _: Server("ceilometer"), synthetic.REGIONS), strict=True))
        month = synthetic.month(CEILOMETER_TENANTS)

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
    return ",".join(f"{synthetic.tenant_id(i)}:openstack" for i in range(CEILOMETER_TENANTS))


def csv_billing(tmp: Path, collector: str, rates: Path | None = None) -> str:
    """[main], the CSV adapter at ``tmp/invoices`` with ``rates`` (the synthetic ones), and a SQLite database."""
    rates = rates or synthetic.write_rates(tmp / "rates.csv")
    return f"""
[main]
collector = {collector}
invoice:object = csv

[invoice:object]
csv_directory = {tmp / "invoices"}
rates_file = {rates}

[database]
connection = sqlite:///{tmp / "artifice.db"}
"""


def ceilometer_conf(tmp: Path, endpoints: dict[str, str], extra: str = "") -> Path:
    text = (
        csv_billing(tmp, "ceilometer")
        + f"""
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
{extra}
"""
    )
    return write_conf(tmp / "ceilometer.conf", text)


def start_gnocchi() -> Server:
    try:
        return Server("gnocchi", str(free_port()))  # PGPORT: a free one, not PORT + 1
    except RuntimeError as exc:  # carries the script's output and the end of the server's log
        pytest.fail(f"Gnocchi did not start: {exc}")


def stop(server: Server) -> None:
    server.stop()
    shutil.rmtree(server.directory, ignore_errors=True)


@pytest.fixture(scope="session")
def gnocchi() -> Iterator[dict[str, str]]:
    """Region -> URL of a real Gnocchi holding that region's synthetic month of GNOCCHI_TENANTS tenants."""
    month = synthetic.month(GNOCCHI_TENANTS)
    servers: dict[str, Server] = {}

    def start_and_load(region: str) -> None:
        servers[region] = start_gnocchi()
        load(servers[region].url, [s for s in month if s.region == region])

    try:
        with concurrent.futures.ThreadPoolExecutor(2) as pool:
            for done in [pool.submit(start_and_load, region) for region in synthetic.REGIONS]:
                done.result()
    except BaseException:
        for server in servers.values():
            stop(server)
        raise
    try:
        yield {region: server.url for region, server in servers.items()}
    finally:
        for server in servers.values():
            stop(server)


def gnocchi_conf(tmp: Path, endpoints: dict[str, str], extra: str = "") -> Path:
    text = f"""{extra}
[collector:gnocchi]
regions = {",".join(endpoints)}
endpoints = {",".join(f"{r}:{u}" for r, u in endpoints.items())}

[service_credentials]
auth_type = gnocchi-basic
user = admin
endpoint = {next(iter(endpoints.values()))}

[telemetry]
retries = 1
retry_wait = 0.01

[metering]
meter_mapping = {REPO / "etc/artifice/meters.yaml"}
"""
    return write_conf(tmp / "gnocchi.conf", text)


KEYSTONE_PASSWORD = "artifice-test-admin"


@pytest.fixture(scope="session")
def keystone() -> Iterator[str]:
    server = Server("keystone", env={"KEYSTONE_ADMIN_PASSWORD": KEYSTONE_PASSWORD})
    try:
        yield server.url
    finally:
        server.stop()


def keystone_admin(url: str) -> ks_session.Session:
    auth = v3.Password(
        auth_url=url,
        username="admin",
        password=KEYSTONE_PASSWORD,
        project_name="admin",
        user_domain_id="default",
        project_domain_id="default",
    )
    return ks_session.Session(auth=auth)
