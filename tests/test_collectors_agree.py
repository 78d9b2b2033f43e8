"""One synthetic month, stored in a real Ceilometer and in a real Gnocchi, gives the same invoices."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests import synthetic
from tests.conftest import REPO, cli
from tests.figures import note
from tests.telemetry import CEILOMETER_TENANTS, ceilometer_conf, csv_billing, gnocchi_conf


def bill(conf: Path) -> None:
    assert cli("manage", "--config-file", str(conf), "db", "upgrade").returncode == 0
    result = cli("--config-file", str(conf), "bill", "--all", "--month", "2026-10")
    assert result.returncode == 0, result.stderr


def test_ceilometer_and_gnocchi_give_identical_invoices(
    ceilometer: dict[str, str], gnocchi: dict[str, str], tmp_path: Path
) -> None:
    through_ceilometer, through_gnocchi = tmp_path / "ceilometer", tmp_path / "gnocchi"
    through_ceilometer.mkdir()
    through_gnocchi.mkdir()
    bill(ceilometer_conf(through_ceilometer, ceilometer))
    bill(gnocchi_conf(through_gnocchi, gnocchi, csv_billing(through_gnocchi, "gnocchi")))
    for index in range(CEILOMETER_TENANTS):  # the tenants both servers hold
        name = f"{synthetic.tenant_id(index)}-2026-10.csv"
        invoice = (through_ceilometer / "invoices" / name).read_text()
        assert (through_gnocchi / "invoices" / name).read_text() == invoice  # byte for byte
        assert f"total,,,,,,{synthetic.expected_total(index)},EUR" in invoice


def request_counts(conf: Path) -> dict[tuple[str, int], int]:
    """Run tools/request_counts.py; (mode, hours) -> requests."""
    result = subprocess.run(
        [sys.executable, str(REPO / "tools" / "request_counts.py"), "--config-file", str(conf), "--month", "2026-10"],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=REPO,
    )
    assert result.returncode == 0, result.stderr
    for line in result.stdout.splitlines():
        note("HTTP requests per tenant-month (tools/request_counts.py)", line)
    rows = [line.split() for line in result.stdout.splitlines()[2:]]
    return {(" ".join(r[:-6]), int(r[-6])): int(r[-2]) for r in rows}


def test_request_counts_script(ceilometer: dict[str, str], gnocchi: dict[str, str], tmp_path: Path) -> None:
    through_gnocchi = request_counts(gnocchi_conf(tmp_path, gnocchi, csv_billing(tmp_path, "gnocchi")))
    # Gnocchi aggregates server-side: a day, a week and a month cost the same requests,
    # and all tenants in one pass cost what one tenant does.
    assert through_gnocchi[("per tenant", 24)] == through_gnocchi[("per tenant", 168)]
    assert through_gnocchi[("per tenant", 168)] == through_gnocchi[("per tenant", 744)]
    assert through_gnocchi[("all at once", 24)] == through_gnocchi[("all at once", 744)]
    assert through_gnocchi[("all at once", 744)] < through_gnocchi[("per tenant", 744)]
    through_ceilometer = request_counts(ceilometer_conf(tmp_path, ceilometer))
    assert set(through_ceilometer) == {("per tenant", 24), ("per tenant", 168), ("per tenant", 744)}
