"""The ``artifice`` command on the demo month, as a user runs it."""

from __future__ import annotations

import csv
from decimal import Decimal
from pathlib import Path

import sqlalchemy as sa

from artifice.store import db
from tests.conftest import cli, demo_conf_text, write_conf


def test_dry_run_shows_sections_and_writes_nothing(demo_conf: Path):
    result = cli("--config-file", str(demo_conf), "bill", "--tenant", "acme", "--month", "2026-10", "--dry-run")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "Section Auckland" in out and "Section Wellington" in out
    # batch-1 (m1.medium, Auckland) ran 744 h minus 10 days shut off, at the Auckland rate 0.11.
    assert "m1.medium" in out and "504.0000" in out and "55.44" in out
    assert not (demo_conf.parent / "invoices").exists()
    assert "no billing windows yet" in cli("--config-file", str(demo_conf), "windows").stdout


def test_bill_writes_csv_then_refuses_second_run(demo_conf: Path):
    first = cli("--config-file", str(demo_conf), "bill", "--tenant", "globex", "--month", "2026-10")
    assert first.returncode == 0, first.stderr
    invoice = demo_conf.parent / "invoices" / "globex-2026-10.csv"
    rows = list(csv.reader(invoice.open()))
    lines = {r[2]: r for r in rows if r and r[0] == "line"}
    # app-1 m1.small: 2026-10-05 09:07:13 to the last sample 2026-10-24 23:07:13 = 470 h at 0.05.
    assert lines["m1.small"][3:7] == ["470.0000", "hour", "0.05", "23.50"]
    # A 2 GiB image all month: 2.147483648 GB x 744 h = 1597.7278 GB-hour at 0.0001 = 0.16.
    assert lines["image.size"][3:7] == ["1597.7278", "GB-hour", "0.0001", "0.16"]
    assert next(r for r in rows if r and r[0] == "total")[6] == "23.66"

    second = cli("--config-file", str(demo_conf), "bill", "--tenant", "globex", "--month", "2026-10")
    assert second.returncode != 0
    assert second.stderr.strip().count("\n") == 0 and "already billed" in second.stderr
    assert "Traceback" not in second.stderr

    engine = sa.create_engine(f"sqlite:///{demo_conf.parent / 'artifice.db'}")
    with engine.connect() as connection:
        states = connection.execute(sa.text("SELECT tenant_id, state, total FROM billing_windows")).all()
    assert [(t, s, Decimal(v)) for t, s, v in states] == [("globex", "committed", Decimal("23.66"))]


def test_bill_all_then_windows_lists_every_tenant(demo_conf: Path):
    result = cli("--config-file", str(demo_conf), "bill", "--all", "--month", "2026-10")
    assert result.returncode == 0, result.stderr
    assert sorted(p.name for p in (demo_conf.parent / "invoices").iterdir()) == [
        "acme-2026-10.csv",
        "globex-2026-10.csv",
        "initech-2026-10.csv",
    ]
    listing = cli("--config-file", str(demo_conf), "windows").stdout
    assert listing.count("committed") == 3
    again = cli("--config-file", str(demo_conf), "bill", "--all", "--month", "2026-10")
    assert again.returncode == 0 and "2026-10: 3 tenant(s), 3 of them billed before" in again.stdout


def test_user_errors_are_one_line_and_non_zero(demo_conf: Path, tmp_path: Path):
    cases = [
        (["bill", "--tenant", "acme", "--month", "2026-13"], "invalid month"),
        (["bill", "--tenant", "acme", "--month", "october"], "invalid month"),
    ]
    for args, message in cases:
        result = cli("--config-file", str(demo_conf), *args)
        assert result.returncode != 0 and message in result.stderr
        assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    missing_rate = write_conf(
        tmp_path / "rates.conf",
        demo_conf_text(tmp_path).replace(str(Path("etc/artifice/demo/rates.csv")), "nonexistent"),
    )
    rates = tmp_path / "few-rates.csv"
    rates.write_text("datacenter,service,unit,price,currency\n*,m1.small,hour,0.05,NZD\n")
    conf = write_conf(
        tmp_path / "few.conf",
        demo_conf_text(tmp_path).replace(
            str(Path(__file__).resolve().parent.parent / "etc/artifice/demo/rates.csv"), str(rates)
        ),
    )
    result = cli("--config-file", str(conf), "bill", "--tenant", "acme", "--month", "2026-10")
    assert result.returncode != 0 and "no rate for service 'm1.medium' in datacenter 'Auckland'" in result.stderr
    assert "failed" in cli("--config-file", str(conf), "windows").stdout
    assert missing_rate.exists()


def test_outdated_database_is_refused(tmp_path: Path):
    conf = write_conf(tmp_path / "a.conf", demo_conf_text(tmp_path))
    result = cli("--config-file", str(conf), "bill", "--tenant", "acme", "--month", "2026-10")
    assert result.returncode != 0 and "artifice-manage db upgrade" in result.stderr
    upgraded = cli("manage", "--config-file", str(conf), "db", "upgrade")
    assert upgraded.returncode == 0 and f"revision {db.head_revision()}" in upgraded.stdout
    assert cli("--config-file", str(conf), "bill", "--tenant", "acme", "--month", "2026-10").returncode == 0


def test_the_csv_invoice_is_one_table_an_accountant_can_read(demo_conf: Path, tmp_path: Path):
    clock = tmp_path / "clock"
    clock.write_text("2026-11-03T02:00:00+00:00")  # billed on 3 November
    billed = cli("--config-file", str(demo_conf), "bill", "--tenant", "globex", "--month", "2026-10",
                 env={"ARTIFICE_CLOCK_FILE": str(clock)})  # fmt: skip
    assert billed.returncode == 0, billed.stderr
    with (demo_conf.parent / "invoices" / "globex-2026-10.csv").open(newline="") as handle:
        rows = list(csv.DictReader(handle))  # one header, one table: every row has every column
    assert all(None not in row and all(v is not None for v in row.values()) for row in rows)
    assert {r["invoice"] for r in rows} == {"ART-globex-20261001-20261101-r1"}  # the machine-readable reference
    assert {(r["period"], r["issue_date"], r["due_date"]) for r in rows} == {
        ("1-31 October 2026", "2026-11-03", "2026-12-03")
    }  # 30 days to pay
    small = next(r for r in rows if r["service"] == "m1.small")
    assert small["description"] == "Compute instance, flavor m1.small (hours running)"
    assert (small["quantity"], small["unit_price"], small["amount"]) == ("470.0000", "0.05", "23.50")
    assert next(r for r in rows if r["record"] == "total")["amount"] == "23.66"
