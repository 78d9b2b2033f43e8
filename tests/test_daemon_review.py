"""What the breaking review of the daemon months found, each a test (see tests/test_daemon_months.py)."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from artifice import config
from artifice.collectors.samples_file import SamplesFileCollector
from artifice.timeutil import Window
from tests.conftest import REPO, cli, write_conf
from tests.test_daemon import committed, daemon_conf, instance_day, stop, wait_until, windows
from tests.test_daemon_months import NOVEMBER_5, Clock, daemon, day, listen, samples, watched_daemon


def start_fails(conf: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "artifice.daemon.service", "--config-file", str(conf)],
                          capture_output=True, text=True, timeout=60, cwd=REPO)  # fmt: skip


def test_an_empty_tenant_is_refused_not_taken_for_all(demo_conf: Path) -> None:
    answer = cli("--config-file", str(demo_conf), "bill", "--tenant", "", "--month", "2026-10")
    assert answer.returncode == 2 and "--tenant is empty" in answer.stderr, answer.stderr
    assert cli("--config-file", str(demo_conf), "windows").stdout.strip() == "no billing windows yet"


def test_a_bad_logging_value_on_reload_keeps_the_daemon(tmp_path: Path, database: str) -> None:
    conf = daemon_conf(tmp_path, samples(tmp_path, {"t1": [day(10)]}), database, "2026-10")
    process = daemon(conf, tmp_path / "daemon.log")
    try:
        wait_until(lambda: len(committed(database)) == 1, 60, "October")
        write_conf(conf, "[DEFAULT]\ndebug = maybe\n" + conf.read_text())
        process.send_signal(signal.SIGHUP)
        wait_until(lambda: "not reloaded" in (tmp_path / "daemon.log").read_text(), 30, "the refusal")
        assert process.poll() is None
    finally:
        assert stop(process) == 0


class HangingForMonths(SamplesFileCollector):
    """A telemetry server that hangs when asked about a whole month, and answers for the running one."""

    def tenants(self, window: Window) -> list[Any]:
        if window.is_month:
            threading.Event().wait()
        return super().tenants(window)

    def collect(self, tenant_id: str, window: Window, meters: Any, lead_in: int) -> pd.DataFrame:
        return super().collect(tenant_id, window, meters, lead_in)


@pytest.mark.parametrize("reload", [False, True], ids=["estimates running", "reloaded meanwhile"])
def test_a_hung_billing_pass_stops_the_watchdog_whatever_else_runs(tmp_path: Path, database: str, reload: bool) -> None:
    """Estimates every 2 s, which keep working, or a reload: the billing pass still hangs, and systemd must know."""
    now = pd.Timestamp.now(tz="UTC")
    data = samples(tmp_path, {"t1": [day(10), now.floor("D").to_pydatetime()]})
    process, notify = watched_daemon(tmp_path, data, database, "tests.test_daemon_review:HangingForMonths",
                                     "stall_timeout = 10\nestimate_interval = 2")  # fmt: skip
    try:
        notify.wait_for("READY=1")
        if reload:
            time.sleep(3)
            process.send_signal(signal.SIGHUP)
        listen(notify, 12)
        assert "WATCHDOG=1" not in listen(notify, 3)
    finally:
        process.kill()
        process.wait()
    assert "made no progress" in (tmp_path / "daemon.log").read_text()


@pytest.mark.parametrize(("option", "value"), [
    ("first_month", "2026-13"), ("run_interval", str(10**15)), ("bill_delay", str(10**12)),
    ("estimate_interval", str(10**15)),
])  # fmt: skip
def test_values_that_would_crash_later_are_refused_at_start(
    tmp_path: Path, database: str, option: str, value: str
) -> None:
    conf = daemon_conf(tmp_path, samples(tmp_path, {"t1": [day(10)]}), database, "2026-10")
    text = conf.read_text()
    text = text.replace(f"{option} = ", f"#{option} = ") if f"\n{option} = " in text else text
    write_conf(conf, text.replace("[daemon]\n", f"[daemon]\n{option} = {value}\n"))
    started = start_fails(conf)
    assert started.returncode == 2 and f"[daemon] {option}" in started.stderr, started.stderr
    assert "Traceback" not in started.stderr


def test_a_busy_metrics_port_or_a_bad_log_file_is_one_line(tmp_path: Path, database: str) -> None:
    import socket

    conf = daemon_conf(tmp_path, samples(tmp_path, {"t1": [day(10)]}), database, "2026-10")
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        write_conf(conf, conf.read_text().replace("[daemon]\n", f"[daemon]\nprometheus_port = {port}\n"))
        started = start_fails(conf)
    assert started.returncode == 2 and "prometheus_port" in started.stderr and "Traceback" not in started.stderr
    text = conf.read_text().replace(f"prometheus_port = {port}\n", "")
    write_conf(conf, f"[DEFAULT]\nlog_file = {tmp_path / 'no' / 'such' / 'dir' / 'a.log'}\n" + text)
    started = start_fails(conf)
    assert started.returncode == 2 and "logging" in started.stderr and "Traceback" not in started.stderr


def test_an_unparsable_coordination_url_does_not_stop_the_daemon(tmp_path: Path, database: str) -> None:
    data = samples(tmp_path, {"t1": [day(10)]})
    conf = daemon_conf(tmp_path, data, database, "2026-10", "coordination_url = redis://[::1")
    process = daemon(conf, tmp_path / "daemon.log")
    try:
        wait_until(lambda: len(committed(database)) == 1 or process.poll() is not None, 60, "October")
        assert process.poll() is None
    finally:
        assert stop(process) == 0
    assert "Traceback" not in (tmp_path / "daemon.log").read_text()


def test_the_daemon_lists_a_recent_month_again_and_filters_at_billing_time(tmp_path: Path, database: str) -> None:
    """A tenant whose data came late is billed; one excluded after the month was listed is not."""
    unpriced = [{**s, "resource_metadata": {"flavor.name": "m1.tiny", "status": "active"}}
                for s in instance_day("excluded", day(10))]  # no rate: it fails, and stays due  # fmt: skip
    data = samples(tmp_path, {"early": [day(10)]})
    data.write_text(json.dumps([*json.loads(data.read_text()), *unpriced]))
    conf = daemon_conf(tmp_path, data, database, "2026-10", "relist_days = 366\nretry_backoff_max = 1")
    conf_text = conf.read_text()
    process = daemon(conf, tmp_path / "daemon.log", Clock(tmp_path, NOVEMBER_5).env)
    try:
        wait_until(lambda: {str(w.state) for w in windows(database)} >= {"committed", "failed"}, 60, "the first pass")
        assert stop(process) == 0
        data.write_text(json.dumps([*json.loads(data.read_text()), *instance_day("late", day(10))]))
        write_conf(conf, conf_text + "\n[tenants]\nexclude_tenants = excluded\n")
        log = tmp_path / "daemon.log"
        process = daemon(conf, log, Clock(tmp_path, NOVEMBER_5).env)
        wait_until(lambda: "late" in {str(w.tenant_id) for w in committed(database)}, 60, "the late tenant")
        tries = log.read_text().count("tenant excluded 2026-10 failed")
        time.sleep(3)  # passes meanwhile: the excluded tenant is not tried again
        assert log.read_text().count("tenant excluded 2026-10 failed") == tries
    finally:
        if process.poll() is None:
            assert stop(process) == 0
    assert {str(w.tenant_id) for w in committed(database)} == {"early", "late"}
    status = cli("--config-file", str(conf), "status", env=Clock(tmp_path, NOVEMBER_5).env).stdout
    assert "excluded" not in status and "late" in status


def test_a_refused_bill_of_an_old_month_does_not_move_where_the_daemon_starts(tmp_path: Path, database: str) -> None:
    conf = daemon_conf(tmp_path, samples(tmp_path, {"t1": [day(10)]}), database, "")
    refused = cli("--config-file", str(conf), "bill", "--tenant", "t1", "--month", "2016-10")
    assert refused.returncode == 2
    from artifice.daemon.passes import BillingPasses

    passes = BillingPasses(config.load(["--config-file", str(conf)]), threading.Event())
    months = passes.months(pd.Timestamp("2026-11-05T12:00:00Z").to_pydatetime())
    assert [m.label for m in months] == ["2026-10"]
    passes.partition.leave()


def test_odd_rows_of_a_samples_file_are_not_billed_to_odd_tenants(tmp_path: Path) -> None:
    rows = instance_day("t1", day(10))
    rows += [{**rows[0], "project_id": "", "message_id": "x1"}, {**rows[0], "project_id": 12345, "message_id": "x2"},
             {**rows[0], "source": ["openstack"], "message_id": "x3"}]  # fmt: skip
    database = f"sqlite:///{tmp_path / 'artifice.db'}"
    from artifice.store import db

    db.upgrade(db.make_engine(database))
    path = tmp_path / "samples.json"
    path.write_text(json.dumps(rows))
    conf = daemon_conf(tmp_path, path, database, "2026-10")
    answer = cli("--config-file", str(conf), "bill", "--all", "--month", "2026-10")
    assert "Traceback" not in answer.stderr, answer.stderr
    tenants = {str(w.tenant_id) for w in windows(database)}
    assert "" not in tenants and "t1" in tenants


def test_an_excluded_tenant_is_named_as_excluded(tmp_path: Path, database: str) -> None:
    conf = daemon_conf(tmp_path, samples(tmp_path, {"t1": [day(10)]}), database, "2026-10")
    write_conf(conf, conf.read_text() + "\n[tenants]\nexclude_tenants = t1\n")
    answer = cli("--config-file", str(conf), "bill", "--tenant", "t1", "--month", "2026-10")
    assert answer.returncode == 2 and "exclude_tenants" in answer.stderr, answer.stderr


def test_a_calendar_ahead_of_the_real_clock_still_runs_passes(tmp_path: Path, database: str) -> None:
    data = samples(tmp_path, {"t1": [day(1, 10, 2027)]})
    conf = daemon_conf(tmp_path, data, database, "2027-01")
    process = daemon(conf, tmp_path / "daemon.log", Clock(tmp_path, "2027-02-05T12:00:00+00:00").env)
    try:
        wait_until(lambda: len(committed(database)) == 1, 60, "January 2027, billed in February 2027")
    finally:
        assert stop(process) == 0


def test_listing_a_month_from_many_processes_at_once_never_crashes(postgres_url: str) -> None:
    from artifice.model import Tenant
    from artifice.store import db
    from artifice.store.windows import WindowStore

    db.upgrade(db.make_engine(postgres_url))
    errors: list[BaseException] = []

    def list_months(offset: int) -> None:
        store = WindowStore(db.make_engine(postgres_url))
        for month in range(1, 13):
            try:
                store.record_listing(Window.month(2025, month), [Tenant(f"t{n}") for n in range(20)], "daemon")
            except BaseException as exc:  # noqa: BLE001 - collected for the assertion
                errors.append(exc)

    threads = [threading.Thread(target=list_months, args=(n,)) for n in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert not errors, errors
