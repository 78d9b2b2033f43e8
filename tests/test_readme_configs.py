"""Every complete configuration the README prints runs, as printed, against the real servers.

The blocks marked ``<!-- tested: NAME -->`` in README.md are read from it; only the example
addresses, passwords and paths are replaced by the test servers' own. Each then bills the
synthetic month (a dry run) and must find every synthetic tenant at its worked-out total.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests import synthetic
from tests.conftest import REPO, cli, write_conf
from tests.telemetry import CEILOMETER_TENANTS, GNOCCHI_TENANTS, trusted

ARTIFICE_PASSWORD = "artifice-service-pw"  # the service user the README tells operators to create


def readme_blocks() -> dict[str, str]:
    text = (REPO / "README.md").read_text(encoding="utf-8")
    return dict(re.findall(r"<!-- tested: ([\w-]+) -->\n```ini\n(.*?)```", text, flags=re.S))


@pytest.fixture(scope="module")
def catalog(keystone: str, ceilometer: dict[str, str]) -> Iterator[str]:
    """The test Keystone with an ``artifice`` service user (admin role) and Ceilometer in its catalog."""
    from tests.telemetry import keystone_admin

    admin = keystone_admin(keystone)

    def create(path: str, body: dict[str, object], key: str) -> None:
        answer = admin.post(f"{keystone}/{path}", json={key: body}, raise_exc=False)
        assert answer.status_code in (201, 409), answer.text

    service_project = admin.get(f"{keystone}/projects", params={"name": "service"}).json()["projects"]
    if not service_project:
        create("projects", {"name": "service", "domain_id": "default"}, "project")
    project = admin.get(f"{keystone}/projects", params={"name": "service"}).json()["projects"][0]["id"]
    create("users", {"name": "artifice", "password": ARTIFICE_PASSWORD, "domain_id": "default"}, "user")
    user = admin.get(f"{keystone}/users", params={"name": "artifice"}).json()["users"][0]["id"]
    role = admin.get(f"{keystone}/roles", params={"name": "admin"}).json()["roles"][0]["id"]
    admin.put(f"{keystone}/projects/{project}/users/{user}/roles/{role}")
    create("regions", {"id": "RegionTwo"}, "region")
    create("services", {"type": "metering", "name": "ceilometer"}, "service")
    service = admin.get(f"{keystone}/services", params={"type": "metering"}).json()["services"][0]["id"]
    for region, url in ceilometer.items():
        for interface in ("public", "internal"):
            endpoint = {"service_id": service, "interface": interface, "url": url, "region_id": region}
            create("endpoints", endpoint, "endpoint")
    yield keystone


def run(block: str, tmp_path: Path, replacements: dict[str, str]) -> str:
    text = block
    for example, real in {
        "/var/lib/artifice/invoices": str(tmp_path / "invoices"),
        "/etc/artifice/rates.csv": str(synthetic.write_rates(tmp_path / "rates.csv")),
        "sqlite:////var/lib/artifice/artifice.db": f"sqlite:///{tmp_path / 'artifice.db'}",
        **replacements,
    }.items():
        assert example in text, f"the README block no longer has {example!r}"
        text = text.replace(example, real)
    conf = write_conf(tmp_path / "artifice.conf", text)
    conf.chmod(0o600)
    assert cli("manage", "--config-file", str(conf), "db", "upgrade").returncode == 0
    billed = cli("--config-file", str(conf), "bill", "--all", "--month", "2026-10", "--dry-run")
    assert billed.returncode == 0, billed.stderr
    assert "is not an option" not in billed.stderr and "WARNING" not in billed.stderr, billed.stderr
    return billed.stdout


def assert_synthetic_month(stdout: str, tenants: int) -> None:
    for index in range(tenants):
        tenant = synthetic.tenant_id(index)
        invoice = next(part for part in stdout.split("Invoice ") if f"for tenant {tenant}" in part)
        assert re.search(rf"TOTAL\s+{synthetic.expected_total(index)} EUR", invoice), invoice


def keystone_replacements(keystone: str) -> dict[str, str]:
    return {"https://keystone.example.com:5000/v3": keystone, "password = secret": f"password = {ARTIFICE_PASSWORD}"}


def test_ceilometer_through_the_keystone_catalog(catalog: str, tmp_path: Path) -> None:
    block = readme_blocks()["ceilometer-keystone"]
    stdout = run(block, tmp_path, {**keystone_replacements(catalog), "trust_sources = openstack":
                                   f"trust_sources = {trusted()}"})  # fmt: skip
    assert_synthetic_month(stdout, CEILOMETER_TENANTS)
    assert "Section Wellington" in stdout and "Section Auckland" in stdout  # [main] datacenters


def test_ceilometer_without_keystone(ceilometer: dict[str, str], tmp_path: Path) -> None:
    block = readme_blocks()["ceilometer-noauth"]
    urls = {"http://ceilometer-1:8777": ceilometer["RegionOne"], "http://ceilometer-2:8777": ceilometer["RegionTwo"],
            "trust_sources = openstack": f"trust_sources = {trusted()}"}  # fmt: skip
    assert_synthetic_month(run(block, tmp_path, urls), CEILOMETER_TENANTS)


def gnocchi_urls(gnocchi: dict[str, str]) -> dict[str, str]:
    return {"http://gnocchi-1:8041": gnocchi["RegionOne"], "http://gnocchi-2:8041": gnocchi["RegionTwo"]}


def test_gnocchi_with_basic_auth_and_keystone_for_the_projects(
    catalog: str, gnocchi: dict[str, str], tmp_path: Path
) -> None:
    block = readme_blocks()["gnocchi-basic-keystone"]
    stdout = run(block, tmp_path, {**gnocchi_urls(gnocchi), **keystone_replacements(catalog)})
    assert_synthetic_month(stdout, GNOCCHI_TENANTS)


def test_gnocchi_with_basic_auth_alone(gnocchi: dict[str, str], tmp_path: Path) -> None:
    assert_synthetic_month(run(readme_blocks()["gnocchi-basic"], tmp_path, gnocchi_urls(gnocchi)), GNOCCHI_TENANTS)


def test_the_readme_marks_a_tested_block_for_each_way_in() -> None:
    assert sorted(readme_blocks()) == ["ceilometer-keystone", "ceilometer-noauth", "gnocchi-basic",
                                       "gnocchi-basic-keystone"]  # fmt: skip


def test_every_ini_block_of_the_readme_reads_as_oslo_config_reads_it(tmp_path: Path) -> None:
    """oslo.config keeps a `# ...` after a value as part of the value: the README must not show any."""
    from oslo_config import cfg

    text = (REPO / "README.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```ini\n(.*?)```", text, flags=re.S)
    assert len(blocks) >= 8
    for number, block in enumerate(blocks):
        path = tmp_path / f"block-{number}.conf"
        path.write_text(block, encoding="utf-8")
        sections: dict[str, dict[str, list[str]]] = {}
        cfg.ConfigParser(str(path), sections).parse()  # a bad section header raises here
        for section, keys in sections.items():
            for key, values in keys.items():
                assert not any(" #" in v or "\t#" in v for v in values), f"[{section}] {key} = {values}: {block}"
