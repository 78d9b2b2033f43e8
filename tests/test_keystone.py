"""Tenant discovery from a real Keystone, including a project deleted before billing."""

from __future__ import annotations

import gzip
import json
import uuid
from pathlib import Path

import pytest

from artifice import config
from artifice.billing.pipeline import Pipeline
from artifice.invoice import Tenant
from artifice.store import db
from artifice.timeutil import Window
from tests.conftest import REPO, cli, write_conf
from tests.factories import at, hourly, instance
from tests.telemetry import KEYSTONE_PASSWORD as PASSWORD
from tests.telemetry import keystone_admin as _admin


@pytest.fixture
def projects(keystone: str) -> dict[str, str]:
    """Four fresh projects (name -> id); "gamma" is deleted again, as if it left the cloud."""
    session = _admin(keystone)
    made = {}
    for name in ("alpha", "beta", "gamma", "delta"):
        body = {"project": {"name": f"{name}-{uuid.uuid4().hex[:8]}", "domain_id": "default"}}
        made[name] = session.post(f"{keystone}/projects", json=body).json()["project"]["id"]
    session.delete(f"{keystone}/projects/{made['gamma']}")
    return made


def _conf(tmp: Path, keystone: str, projects: dict[str, str], extra: str = "") -> Path:
    samples = [
        instance(t, tenant=projects[name], resource=f"vm-{name}")
        for name in ("alpha", "beta", "gamma")
        for t in hourly(at(1), at(2))
    ]
    data = tmp / "samples.json.gz"
    with gzip.open(data, "wt") as handle:
        json.dump(samples, handle)
    (tmp / "rates.csv").write_text("datacenter,service,unit,price,currency\n*,m1.small,hour,0.05,EUR\n")
    return write_conf(
        tmp / "k.conf",
        f"""
[main]
collector = samples

[invoice:object]
csv_directory = {tmp / "invoices"}
rates_file = {tmp / "rates.csv"}

[collector:samples]
region_files = RegionOne:{data}

[tenants]
from_keystone = true
{extra}

[service_credentials]
auth_type = password
auth_url = {keystone}
username = admin
password = {PASSWORD}
project_name = admin
user_domain_id = default
project_domain_id = default

[metering]
meter_mapping = {REPO / "etc/artifice/meters.yaml"}

[database]
connection = sqlite:///{tmp / "a.db"}
""",
    )


def _tenants(tmp: Path, keystone: str, projects: dict[str, str]) -> list[Tenant]:
    conf = config.load(["--config-file", str(_conf(tmp, keystone, projects))])
    db.upgrade(db.make_engine(conf.database.connection))
    return Pipeline.from_config(conf).tenants(Window.month(2026, 10))


def test_tenants_are_keystone_projects_plus_deleted_ones_from_telemetry(keystone, projects, tmp_path):
    found = {t.id: t.name for t in _tenants(tmp_path, keystone, projects)}
    assert found[projects["alpha"]].startswith("alpha-")
    assert found[projects["delta"]].startswith("delta-")  # in Keystone, no usage
    assert found[projects["gamma"]] == ""  # deleted from Keystone, still has usage
    assert "admin" in found.values()


def test_exclude_by_name_and_final_bill_of_deleted_project(keystone, projects, tmp_path):
    names = {t.id: t.name for t in _tenants(tmp_path, keystone, projects)}
    conf = _conf(tmp_path, keystone, projects, f"exclude_tenants = {names[projects['beta']]},admin")
    assert cli("manage", "--config-file", str(conf), "db", "upgrade").returncode == 0
    result = cli("--config-file", str(conf), "bill", "--all", "--month", "2026-10")
    assert result.returncode == 0, result.stderr
    invoices = sorted(p.name for p in (tmp_path / "invoices").iterdir())
    # alpha and the deleted gamma used 23 h each; delta had no usage: recorded, not sent.
    assert invoices == sorted(f"{projects[n]}-2026-10.csv" for n in ("alpha", "gamma"))
    listing = cli("--config-file", str(conf), "windows").stdout
    assert projects["delta"] in listing and projects["beta"] not in listing
