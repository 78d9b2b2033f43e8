"""artifice-daemon as a real process: systemd notifications, signals, catch-up, and scale-out."""

from __future__ import annotations

import collections
import contextlib
import datetime as dt
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from artifice.store import db
from artifice.timeutil import UTC
from tests.conftest import DEMO, REPO, cli, write_conf
from tests.figures import note

OCTOBER = dt.datetime(2026, 10, 1, tzinfo=UTC)


def instance_day(tenant: str, first: dt.datetime) -> list[dict[str, object]]:
    """25 hourly samples of one m1.small from ``first``: 24 hours up, 1.20 NZD at the demo rate."""
    return [
        {
            "counter_name": "instance",
            "counter_type": "gauge",
            "counter_unit": "instance",
            "counter_volume": 1,
            "project_id": tenant,
            "user_id": "u",
            "resource_id": f"{tenant}-vm",
            "timestamp": (first + dt.timedelta(hours=hour)).strftime("%Y-%m-%dT%H:%M:%S"),
            "resource_metadata": {"flavor.name": "m1.small", "status": "active"},
            "source": "openstack",
            "message_id": f"{tenant}-{first:%Y%m%d}-{hour}",
        }
        for hour in range(25)
    ]


def months_of_data(tmp: Path, tenants: list[str], months: list[dt.datetime]) -> Path:
    samples = [s for t in tenants for m in months for s in instance_day(t, m + dt.timedelta(days=9, hours=10))]
    path = tmp / "samples.json"
    path.write_text(json.dumps(samples))
    return path


def daemon_conf(tmp: Path, samples: Path, database: str, first_month: str, extra: str = "") -> Path:
    return write_conf(
        tmp / "artifice.conf",
        f"""
[main]
collector = samples
invoice:object = csv
datacenters = RegionOne:Wellington

[invoice:object]
csv_directory = {tmp / "invoices"}
rates_file = {DEMO / "rates.csv"}

[collector:samples]
region_files = RegionOne:{samples}

[metering]
meter_mapping = {REPO / "etc/artifice/meters.yaml"}

[database]
connection = {database}

[billing]
commit_settle_time = 1

[daemon]
first_month = {first_month}
run_interval = 1
estimate_interval = 0
{extra}
""",
    )


class Notifications:
    """The notify socket systemd would provide: collects what the daemon sends."""

    def __init__(self, path: Path) -> None:
        self.path = str(path)
        self.socket = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.socket.bind(self.path)
        self.socket.settimeout(0.2)
        self.received: list[str] = []

    def wait_for(self, message: str, seconds: float = 60) -> None:
        deadline = time.monotonic() + seconds
        while message not in self.received:
            assert time.monotonic() < deadline, f"no {message} in {self.received}"
            with contextlib.suppress(TimeoutError):
                self.received.extend(self.socket.recv(4096).decode().split("\n"))


def start(conf: Path, log: Path, notify: Notifications | None = None) -> subprocess.Popen[bytes]:
    env = {**os.environ, "NOTIFY_SOCKET": notify.path} if notify else dict(os.environ)
    return subprocess.Popen(
        [sys.executable, "-m", "artifice.daemon.service", "--config-file", str(conf)],
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
        env=env,
        cwd=REPO,
    )


def wait_until(condition: Callable[[], bool], seconds: float = 120, what: str = "condition") -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


def windows(database: str) -> list[sa.Row[tuple[object, ...]]]:
    engine = sa.create_engine(database)
    try:
        with engine.connect() as connection:
            query = "SELECT id, tenant_id, period_start, state, owner, created_at FROM billing_windows ORDER BY id"
            return list(connection.execute(sa.text(query)))
    finally:
        engine.dispose()


def committed(database: str) -> list[sa.Row[tuple[object, ...]]]:
    return [w for w in windows(database) if w.state == "committed"]


def stop(process: subprocess.Popen[bytes], seconds: float = 60) -> int:
    process.send_signal(signal.SIGTERM)
    return process.wait(timeout=seconds)


def test_ready_catch_up_oldest_first_and_clean_stop(tmp_path: Path, database: str) -> None:
    tenants = ["t-a", "t-b"]
    months = [dt.datetime(2026, m, 1, tzinfo=UTC) for m in (8, 9, 10)]
    conf = daemon_conf(tmp_path, months_of_data(tmp_path, tenants, months), database, "2026-08")
    notify = Notifications(tmp_path / "notify")
    daemon = start(conf, tmp_path / "daemon.log", notify)
    try:
        notify.wait_for("READY=1")
        wait_until(lambda: len(committed(database)) == 6, what="three missed months of two tenants")
    finally:
        code = stop(daemon)
    assert code == 0, (tmp_path / "daemon.log").read_text()
    notify.wait_for("STOPPING=1", 5)
    periods = [str(w.period_start)[:7] for w in committed(database)]
    assert periods == sorted(periods) == ["2026-08"] * 2 + ["2026-09"] * 2 + ["2026-10"] * 2  # oldest month first
    assert sorted(p.name for p in (tmp_path / "invoices").iterdir()) == [
        f"{t}-2026-{m}.csv" for t in tenants for m in ("08", "09", "10")
    ]
    status = cli("--config-file", str(conf), "status")
    assert status.returncode == 0 and all(f"{t} " in status.stdout and "2026-10" in status.stdout for t in tenants)
    log = (tmp_path / "daemon.log").read_text()
    assert "tenant t-a 2026-08 committed ART-t-a-20260801-20260901-r1" in log and "Traceback" not in log


def test_sigterm_mid_run_finishes_the_tenant_in_progress(tmp_path: Path, database: str) -> None:
    tenants = [f"t-{i:03d}" for i in range(200)]
    conf = daemon_conf(tmp_path, months_of_data(tmp_path, tenants, [OCTOBER]), database, "2026-10")
    daemon = start(conf, tmp_path / "daemon.log")
    try:
        wait_until(lambda: len(committed(database)) >= 5, what="the first invoices")
    finally:
        code = stop(daemon, 30)
    assert code == 0, (tmp_path / "daemon.log").read_text()
    rows = windows(database)
    assert {w.state for w in rows} == {"committed"}  # nothing left half-way
    assert 5 <= len(rows) < len(tenants)  # it stopped mid-run
    assert len(list((tmp_path / "invoices").iterdir())) == len(rows)  # one invoice per committed window
    note("daemon", f"SIGTERM after the 5th invoice: stopped cleanly with {len(rows)} of 200 tenants committed")


def test_sighup_reloads_the_configuration(tmp_path: Path, database: str) -> None:
    months = [dt.datetime(2026, m, 1, tzinfo=UTC) for m in (9, 10)]
    samples = months_of_data(tmp_path, ["t-a"], months)
    conf = daemon_conf(tmp_path, samples, database, "2026-10")
    daemon = start(conf, tmp_path / "daemon.log")
    try:
        wait_until(lambda: len(committed(database)) == 1, what="October")
        time.sleep(1.5)  # a later pass bills nothing more: September is before first_month
        assert len(committed(database)) == 1
        daemon_conf(tmp_path, samples, database, "2026-09")
        daemon.send_signal(signal.SIGHUP)
        wait_until(lambda: len(committed(database)) == 2, what="September, after the reload")
    finally:
        assert stop(daemon) == 0
    assert "configuration reloaded" in (tmp_path / "daemon.log").read_text()


def test_month_to_date_estimate_is_stored_and_never_sent(tmp_path: Path, database: str) -> None:
    now = dt.datetime.now(UTC)
    month = dt.datetime(now.year, now.month, 1, tzinfo=UTC)
    if now - month < dt.timedelta(hours=30):
        pytest.skip("the month began less than 30 hours ago: too little of it to estimate")
    (tmp_path / "samples.json").write_text(json.dumps(instance_day("t-a", month)))
    conf = daemon_conf(tmp_path, tmp_path / "samples.json", database, f"{month:%Y-%m}", "estimate_interval = 3600")
    daemon = start(conf, tmp_path / "daemon.log")
    try:
        wait_until(lambda: estimates(database), what="an estimate")
    finally:
        assert stop(daemon) == 0
    # 24 hours up from the month's start (the last sample is over max_gap old), at 0.05 = 1.20.
    assert estimates(database) == [("t-a", "1.20")]
    assert {w.state for w in windows(database)} == {"estimated"}  # nothing billed,
    assert not (tmp_path / "invoices").exists()  # nothing sent


def estimates(database: str) -> list[tuple[str, str]]:
    engine = sa.create_engine(database)
    try:
        with engine.connect() as connection:
            return [
                (r[0], str(r[1]))
                for r in connection.execute(
                    sa.text("SELECT tenant_id, total FROM billing_windows WHERE kind = 'estimate'")
                )
            ]
    finally:
        engine.dispose()


# -- scale-out ------------------------------------------------------------------------


@pytest.fixture
def coordination(tmp_path: Path) -> Iterator[str]:
    directory = tmp_path / "coordination"
    directory.mkdir()
    yield f"file://{directory}?timeout=3"
    shutil.rmtree(directory, ignore_errors=True)


@pytest.mark.parametrize(("backend", "daemons"), [("file", 2), ("redis", 4)])
def test_daemons_share_tenants_through_tooz_and_bill_each_once(
    tmp_path: Path, postgres_url: str, request: pytest.FixtureRequest, backend: str, daemons: int
) -> None:
    """On one host over tooz's file driver, and over a real Redis (Debian's redis-server)."""
    db.upgrade(db.make_engine(postgres_url))
    tenants = [f"t-{i:03d}" for i in range(200)]
    url = request.getfixturevalue("coordination") if backend == "file" else request.getfixturevalue("redis_server").url
    extra = f"coordination_url = {url}{'?timeout=3' if backend == 'redis' else ''}\n"
    conf = daemon_conf(tmp_path, months_of_data(tmp_path, tenants, [OCTOBER]), postgres_url, "2026-10", extra)
    processes = [start(conf, tmp_path / f"daemon-{n}.log") for n in range(daemons)]
    killed = None
    try:
        if daemons == 4:  # SIGKILL one mid-run: the others must finish its tenants
            owners = lambda: collections.Counter(w.owner for w in committed(postgres_url))  # noqa: E731
            wait_until(lambda: len(owners()) == 4 and min(owners().values()) >= 3, what="all four daemons billing")
            killed = processes[0]
            killed.kill()
            killed.wait()
        wait_until(lambda: len(committed(postgres_url)) == len(tenants), seconds=240, what="all 200 tenants")
    finally:
        for process in processes:
            if process is not killed:
                assert stop(process) == 0
    rows = windows(postgres_url)
    assert sorted(w.tenant_id for w in rows if w.state == "committed") == tenants  # each exactly once
    files = [p.name for p in (tmp_path / "invoices").iterdir()]
    # A SIGKILL between writing and linking can leave a .invoice-*.tmp, which is never an invoice.
    assert sorted(f for f in files if not f.startswith(".invoice-")) == [f"{t}-2026-10.csv" for t in tenants]
    spread = collections.Counter(str(w.owner).rsplit(":", 1)[-1] for w in rows if w.state == "committed")
    pid_to_daemon = {str(p.pid): n for n, p in enumerate(processes)}
    shares = ", ".join(f"daemon {pid_to_daemon.get(pid, pid)}: {count}" for pid, count in sorted(spread.items()))
    outcome = "; daemon 0 SIGKILLed mid-run, its tenants finished by the others" if killed else ""
    section = "daemon scale-out (200 tenants, one month, real PostgreSQL)"
    note(section, f"{daemons} daemons over {backend}: {shares}{outcome}")
    assert len(spread) >= daemons - (1 if killed else 0)


def test_unit_file_passes_systemd_analyze(tmp_path: Path) -> None:
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("systemd-analyze is not installed here")
    daemon = shutil.which("artifice-daemon") or str(Path(sys.executable).parent / "artifice-daemon")
    unit = (REPO / "etc" / "systemd" / "artifice.service").read_text()
    local = tmp_path / "artifice.service"
    local.write_text(unit.replace("/usr/local/bin/artifice-daemon", daemon))  # where this venv installed it
    result = subprocess.run([analyze, "verify", str(local)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0 and not result.stderr.strip(), result.stderr
