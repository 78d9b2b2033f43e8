"""What an operator sees on a terminal: a progress bar beside the result lines, never over them."""

from __future__ import annotations

import os
import pty
import select
import subprocess
import sys
from pathlib import Path

import pyte

from tests.conftest import REPO, cli, demo_conf_text, write_conf


def on_a_terminal(*args: str, columns: int = 120) -> list[str]:
    """Run ``artifice`` with stdout and stderr on one pseudo-terminal; the screen lines it leaves."""
    leader, follower = pty.openpty()
    env = {**os.environ, "COLUMNS": str(columns), "LINES": "50", "TERM": "xterm"}
    process = subprocess.Popen([sys.executable, "-m", "artifice.cli.main", *args], stdin=follower,
                               stdout=follower, stderr=follower, cwd=REPO, env=env)  # fmt: skip
    os.close(follower)
    output = b""
    while True:
        ready, _, _ = select.select([leader], [], [], 60)
        if not ready:
            break
        try:
            chunk = os.read(leader, 65536)
        except OSError:  # the terminal closed: the process is gone
            break
        if not chunk:
            break
        output += chunk
    process.wait(timeout=60)
    os.close(leader)
    screen = pyte.Screen(columns, 50)
    pyte.Stream(screen).feed(output.decode("utf-8", "replace").replace("\n", "\r\n"))
    return [line.rstrip() for line in screen.display if line.strip()]


def test_result_lines_are_whole_beside_the_progress_bar(demo_conf: Path) -> None:
    lines = on_a_terminal("--config-file", str(demo_conf), "bill", "--all", "--month", "2026-10")
    for tenant, total in (("acme", "359.64"), ("globex", "23.66"), ("initech", "37.20")):
        assert f"tenant {tenant}: committed ART-{tenant}-20261001-20261101-r1 total {total} NZD" in lines, lines
    assert "2026-10: 3 tenant(s), 0 of them billed before" in lines, lines


def test_totals_show_the_currencys_decimals(demo_conf: Path) -> None:
    # A project with no usage: an empty invoice, recorded as billed, total 0.00 (not "0").
    args = ("--config-file", str(demo_conf), "bill", "--tenant", "nobody", "--force-tenant", "--month", "2026-10")
    billed = cli(*args)
    assert billed.returncode == 0, billed.stderr
    total = next(line for line in billed.stdout.splitlines() if line.strip().startswith("TOTAL"))
    assert total.split()[-2:] == ["0.00", "NZD"], billed.stdout
    (row,) = cli("--config-file", str(demo_conf), "windows").stdout.splitlines()[1:]
    assert "0.00" in row.split(), row


def test_estimate_rows_keep_the_windows_table_aligned(tmp_path: Path) -> None:
    import datetime as dt
    from decimal import Decimal

    from artifice.model import PricedLine, Tenant
    from artifice.store import db
    from artifice.store.windows import WindowStore
    from artifice.timeutil import Window

    conf = write_conf(tmp_path / "artifice.conf", demo_conf_text(tmp_path))
    engine = db.make_engine(f"sqlite:///{tmp_path / 'artifice.db'}")
    db.upgrade(engine)
    store = WindowStore(engine)
    line = PricedLine("Wellington", "m1.small", "compute", "hour", Decimal(240), Decimal("0.05"), Decimal("12.00"))
    running = Window(dt.datetime(2026, 10, 1, tzinfo=dt.UTC), dt.datetime(2026, 10, 11, tzinfo=dt.UTC))
    store.save_estimate(Tenant("acme", "Acme Ltd"), running, "NZD", [line], running.end)
    claimed = store.claim(Tenant("globex", "Globex"), Window.month(2026, 9), "invoice", "csv", "run")
    store.committed(store.begin_attempt(store.record_lines(claimed, [line], "NZD")), None)
    table = cli("--config-file", str(conf), "windows").stdout.splitlines()
    header, rows = table[0], table[1:]
    state, total_end = header.index("state"), header.index("total") + len("total")
    assert sorted(row[state:].split()[0] for row in rows) == ["committed", "estimated"], table
    assert [row[:total_end].split()[-1] for row in rows] == ["12.00", "12.00"], table  # right-aligned under "total"


def test_a_failing_erp_says_why_in_one_line_per_tenant_and_retries_are_visible(demo_conf: Path, tmp_path: Path) -> None:
    down = "url = http://127.0.0.1:9\nusername = billing\napi_key = k\ntimeout = 1\n"
    text = demo_conf_text(tmp_path, "django", down) + "\n[billing]\ncommit_retries = 1\ncommit_retry_wait = 0.2\n"
    conf = write_conf(tmp_path / "down.conf", text)
    result = cli("--config-file", str(conf), "bill", "--all", "--month", "2026-10")
    assert result.returncode == 1
    failed = [line for line in result.stderr.splitlines() if "FAILED" in line]
    assert len(failed) == 3, result.stderr  # one line per tenant
    for line in failed:  # the cause, not 300 characters of urllib3's repr cut before it
        assert line.endswith("connection failed: connection refused (127.0.0.1:9)"), line
    retries = [line for line in result.stderr.splitlines() if "retrying in 0.2 s" in line]
    assert len(retries) == 3, result.stderr  # every wait is announced
    assert (
        result.stdout.splitlines()[-1]
        == "2026-10: 3 tenant(s), 0 of them billed before; 0 committed, 3 FAILED (they stay due)"
    )
    assert "error:" not in result.stderr  # no third line repeating the failures


def test_telemetry_down_says_connection_refused_and_announces_retries(tmp_path: Path) -> None:
    text = demo_conf_text(tmp_path).replace("collector = samples", "collector = ceilometer") + (
        "\n[collector:ceilometer]\nendpoints = RegionOne:http://127.0.0.1:9\n"
        "\n[service_credentials]\nauth_type = none\nendpoint = http://127.0.0.1:9\n"
        "\n[telemetry]\nretries = 1\nretry_wait = 0.2\n"
    )
    conf = write_conf(tmp_path / "down.conf", text)
    assert cli("manage", "--config-file", str(conf), "db", "upgrade").returncode == 0
    result = cli("--config-file", str(conf), "bill", "--all", "--month", "2026-10")
    assert result.returncode != 0
    assert "connection refused (127.0.0.1:9)" in result.stderr.lower(), result.stderr
    assert "retrying" in result.stderr, result.stderr


def test_the_keystone_name_shows_beside_the_id_wherever_artifice_knows_it(demo_conf: Path, tmp_path: Path) -> None:
    import csv

    from artifice.model import Tenant
    from artifice.store import db
    from artifice.store.windows import WindowStore
    from artifice.timeutil import Window

    store = WindowStore(db.make_engine(f"sqlite:///{tmp_path / 'artifice.db'}"))
    store.record_listing(Window.month(2026, 10), [Tenant("initech", "Initech Ltd")])  # as Keystone named it
    bill = ("--config-file", str(demo_conf), "bill", "--tenant", "initech", "--force-tenant", "--month", "2026-10")
    billed = cli(*bill)
    assert billed.returncode == 0 and "for tenant initech (Initech Ltd)" in billed.stdout, billed.stdout
    rows = list(csv.DictReader((tmp_path / "invoices" / "initech-2026-10.csv").open()))
    assert {r["tenant_name"] for r in rows} == {"Initech Ltd"}
    assert "initech (Initech Ltd)" in cli("--config-file", str(demo_conf), "windows").stdout
    late = cli("--config-file", str(demo_conf), "bill", "--all", "--month", "2026-10", "--rebill")
    assert "tenant initech (Initech Ltd): usage unchanged" in late.stdout, late.stdout


def test_errors_say_the_tls_reason_and_never_a_query_string() -> None:
    from artifice.exceptions import describe

    tls = Exception(
        "HTTPSConnectionPool(host='erp.example', port=8443): Max retries exceeded with url: "
        "/api/v1/invoice/?num_facture=ART-0c5e-r1&offset=0 (Caused by SSLError(SSLCertVerificationError(1, "
        "'[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed: self-signed certificate (_ssl.c:1006)')))"
    )
    assert describe(tls) == "TLS: certificate verify failed: self-signed certificate (erp.example:8443)"
    other = Exception(
        "HTTPSConnectionPool(host='h', port=1): Max retries exceeded with url: /x?api_key=k (Caused by X)"
    )
    assert "api_key" not in describe(other) and "with url: /x" in describe(other)


def test_wide_and_multi_line_names_keep_the_table_aligned() -> None:
    from artifice.cli.render import columns

    table = columns(("tenant", "state"), [("acme (株式会社アクメ)", "committed"), ("b (two\nlines)", "failed")], set())
    header, *rows = table.splitlines()
    assert len(rows) == 2  # the newline did not split a row
    # "state" starts at the same screen column on every line: CJK characters take two columns.
    width = lambda text: sum(2 if "\u3000" <= c <= "\u9fff" or "\u30a0" <= c <= "\u30ff" else 1 for c in text)  # noqa: E731
    starts = {width(line[: line.index(word)]) for line, word in zip([header, *rows], ["state", "committed", "failed"],
                                                                     strict=True)}  # fmt: skip
    assert len(starts) == 1, table
