"""What a review and a new operator's trial found wrong with the months the daemon bills, each a test.

Daemons run as real processes. Where a test needs another date, it moves the calendar of the
processes it starts through ``ARTIFICE_CLOCK_FILE`` (a file holding the time; leases keep to the
database's clock). Each m1.small day in these tests is 24 h x 0.05 = 1.20 NZD.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import sqlalchemy as sa

from artifice import config
from artifice.collectors.samples_file import SamplesFileCollector
from artifice.invoices.csv_invoice import CsvInvoice
from artifice.openstack import make_session
from artifice.timeutil import UTC, Window
from tests.conftest import REPO, cli, demo_conf_text, write_conf
from tests.erp.django_server import DjangoServer
from tests.test_daemon import Notifications, committed, daemon_conf, instance_day, stop, wait_until, windows

NOVEMBER_5 = "2026-11-05T12:00:00+00:00"  # October is due (since 3 November 02:00), November is running
DECEMBER_5 = "2026-12-05T12:00:00+00:00"
KEY = "S3CRET-API-KEY"


def samples(tmp: Path, days: dict[str, list[dt.datetime]]) -> Path:
    """A samples file: for each tenant, one m1.small day (25 hourly samples) from each start."""
    path = tmp / "samples.json"
    path.write_text(json.dumps([s for tenant, starts in days.items() for d in starts for s in instance_day(tenant, d)]))
    return path


def day(month: int, date: int = 10, year: int = 2026) -> dt.datetime:
    return dt.datetime(year, month, date, 10, tzinfo=UTC)


def month_before(month: Window) -> Window:
    before = month.start - dt.timedelta(days=1)
    return Window.month(before.year, before.month)


class Clock:
    """The calendar of the processes a test starts."""

    def __init__(self, tmp: Path, now: str) -> None:
        self.path = tmp / "clock"
        self.move(now)

    def move(self, now: str) -> None:
        self.path.write_text(now)

    @property
    def env(self) -> dict[str, str]:
        return {**os.environ, "ARTIFICE_CLOCK_FILE": str(self.path)}


def daemon(conf: Path, log: Path, env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "artifice.daemon.service", "--config-file", str(conf)],
        stdout=log.open("ab"), stderr=subprocess.STDOUT, env=env or dict(os.environ), cwd=REPO,
    )  # fmt: skip


def states(database: str) -> dict[tuple[str, str], str]:
    """(tenant, YYYY-MM) -> state of its invoice window."""
    return {(str(w.tenant_id), str(w.period_start)[:7]): str(w.state) for w in windows(database)}


def django_conf(tmp: Path, data: Path, database: str, server: DjangoServer, extra: str = "") -> Path:
    """A daemon config billing ``data`` into the Django contract ERP (no first_month: the default)."""
    conf = daemon_conf(tmp, data, database, "", extra)
    text = conf.read_text().replace("invoice:object = csv", "invoice:object = django")
    settings = f"url = {server.url}\nusername = billing\napi_key = {KEY}\ntimeout = 2\n"
    text = text.replace("[invoice:object]\n", f"[invoice:object]\n{settings}")
    text = text.replace("commit_settle_time = 1", "commit_settle_time = 0\ncommit_retries = 1\ncommit_retry_wait = 0.1")
    return write_conf(conf, text)


# 1. The estimate job and the billing job shared one batch reader.


class Script:
    estimate_reading = threading.Event()
    release_estimate = threading.Event()
    billing_claimed = threading.Event()
    release_billing = threading.Event()


class ScriptedCollector(SamplesFileCollector):
    """Reads tenants in batches; the running month's batch waits until the test lets it go."""

    tenants_per_read = 4

    def collect_many(self, tenant_ids: Any, window: Window, meters: Any, lead_in: int) -> pd.DataFrame:
        if window.end > dt.datetime.now(UTC) - dt.timedelta(days=1):  # the running month (an estimate)
            Script.estimate_reading.set()
            Script.release_estimate.wait(30)
        return super().collect_many(tenant_ids, window, meters, lead_in)


class ScriptedCsv(CsvInvoice):
    """The billing job's adapter pauses once its window is claimed, until the test lets it go."""

    def __init__(self, tenant: Any, config: dict[str, str]) -> None:
        super().__init__(tenant, config)
        if threading.current_thread().name == "billing":
            Script.billing_claimed.set()
            Script.release_billing.wait(30)


def test_a_billing_pass_and_an_estimate_at_once_bill_the_right_month(tmp_path: Path, database: str) -> None:
    now = dt.datetime.now(UTC)
    running = Window.month(now.year, now.month)
    if now - running.start < dt.timedelta(hours=4):
        pytest.skip("the month began less than 4 hours ago: too little of it to estimate")
    due = month_before(running)  # the newest month billed after the default delay of 2 days 2 hours
    if due.end + dt.timedelta(seconds=180000) > now:
        due = month_before(due)
    data = tmp_path / "samples.json"
    rows = [s for t in ("t1", "t2") for s in instance_day(t, due.start + dt.timedelta(days=9, hours=10))]
    rows += [s for t in ("t1", "t2") for s in instance_day(t, running.start)[:4]]  # 3 h so far this month
    data.write_text(json.dumps(rows))
    conf = daemon_conf(tmp_path, data, database, due.label, "estimate_interval = 3600")
    text = conf.read_text().replace("collector = samples", "collector = tests.test_daemon_months:ScriptedCollector")
    write_conf(conf, text.replace("invoice:object = csv", "invoice:object = tests.test_daemon_months:ScriptedCsv"))
    assert cli("--config-file", str(conf), "bill", "--tenant", "t1", "--month", due.label).returncode == 0  # by hand
    from artifice.daemon.passes import BillingPasses

    passes = BillingPasses(config.load(["--config-file", str(conf)]), threading.Event())
    estimating = threading.Thread(target=passes.estimate, name="estimates")
    estimating.start()
    assert Script.estimate_reading.wait(30)  # the estimate's batch is being read
    billing = threading.Thread(target=passes.bill_due, name="billing")
    billing.start()
    assert Script.billing_claimed.wait(30)  # the billing pass planned t2 and claimed its window
    Script.release_estimate.set()
    estimating.join(60)
    Script.release_billing.set()
    billing.join(60)
    engine = sa.create_engine(database)
    with engine.connect() as connection:
        query = "SELECT total FROM billing_windows WHERE tenant_id = 't2' AND kind = 'invoice'"
        totals = [str(t) for (t,) in connection.execute(sa.text(query))]
    engine.dispose()
    assert totals == ["1.20"]  # its own month: 24 h x 0.05, not the 3 h of the running month
    invoice = (tmp_path / "invoices" / f"t2-{due.label}.csv").read_text().splitlines()
    assert any(line.startswith("total,,,,,,1.20,NZD,") for line in invoice), invoice


# 2. Due months came from the newest committed invoice of any tenant.


def test_a_tenant_whose_month_failed_is_billed_on_a_later_pass(tmp_path: Path, database: str) -> None:
    erp = DjangoServer(users={"billing": KEY}, clients={"alpha"}).start()  # beta is no customer yet
    try:
        data = samples(tmp_path, {"alpha": [day(10), day(11)], "beta": [day(10), day(11)]})
        conf = django_conf(tmp_path, data, database, erp)
        clock = Clock(tmp_path, NOVEMBER_5)
        process = daemon(conf, tmp_path / "daemon.log", clock.env)
        try:
            wait_until(lambda: states(database).get(("beta", "2026-10")) == "failed", 60, "beta's October to fail")
            assert states(database)[("alpha", "2026-10")] == "committed"
            erp.add_client("beta")  # the customer now exists in the ERP
            erp.fail_next(count=2, status=503, match="POST")  # and alpha's November meets an ERP that is down
            clock.move(DECEMBER_5)  # November is due now
            wait_until(lambda: len(committed(database)) == 4, 90, "every tenant-month")
        finally:
            assert stop(process) == 0
    finally:
        erp.stop()
    assert sorted(i["num_facture"] for i in erp.invoices()) == sorted(
        f"ART-{t}-{p}-r1" for t in ("alpha", "beta") for p in ("20261001-20261101", "20261101-20261201")
    )
    status = cli("--config-file", str(conf), "status", env=clock.env).stdout.splitlines()
    assert {line.split()[0]: line.split()[1:3] for line in status[1:]} == {
        "alpha": ["2026-11", "0"], "beta": ["2026-11", "0"]}, status  # fmt: skip


# 3. A month that has not ended could be billed.


@pytest.mark.parametrize("who", [("--all",), ("--tenant", "acme")])
def test_a_month_that_has_not_ended_is_refused(demo_conf: Path, who: tuple[str, ...]) -> None:
    answer = cli("--config-file", str(demo_conf), "bill", *who, "--month", "2027-01")
    assert answer.returncode == 2 and "2027-01 has not ended: it can be billed from 2027-02-01" in answer.stderr
    assert answer.stderr.count("\n") == 1, answer.stderr
    assert cli("--config-file", str(demo_conf), "windows").stdout.strip() == "no billing windows yet"


# 4. A month whose samples were all dropped was committed as empty.


def test_a_month_whose_samples_were_all_dropped_fails_with_the_counts(tmp_path: Path) -> None:
    text = demo_conf_text(tmp_path).replace("[metering]\n", "[metering]\ntrust_sources = nobody\n")
    conf = write_conf(tmp_path / "artifice.conf", text)
    cli("manage", "--config-file", str(conf), "db", "upgrade")
    answer = cli("--config-file", str(conf), "bill", "--all", "--month", "2026-10")
    assert answer.returncode == 1 and "every sample was dropped" in answer.stderr
    assert "untrusted source" in answer.stderr
    listing = cli("--config-file", str(conf), "windows").stdout
    assert listing.count(" failed ") == 3 and " committed " not in listing
    assert not (tmp_path / "invoices").exists()


def test_a_tenant_without_any_sample_is_still_billed_empty(demo_conf: Path) -> None:
    answer = cli("--config-file", str(demo_conf), "bill", "--tenant", "ghost", "--month", "2026-10", "--force-tenant")
    assert answer.returncode == 0 and "(no billable usage)" in answer.stdout, answer.stderr


# 5. Telemetry requests had no timeout by default, and the watchdog kept answering.


def test_telemetry_and_keystone_requests_time_out_by_default(tmp_path: Path) -> None:
    conf = write_conf(tmp_path / "c.conf", "[service_credentials]\nauth_type = none\n")
    assert make_session(config.load(["--config-file", str(conf)])).timeout == 60
    write_conf(conf, "[service_credentials]\nauth_type = none\ntimeout = 5\n")
    assert make_session(config.load(["--config-file", str(conf)])).timeout == 5


class HangingCollector(SamplesFileCollector):
    """A telemetry server that accepted the request and never answers."""

    def tenants(self, window: Window) -> list[Any]:
        threading.Event().wait()
        return []


def watched_daemon(
    tmp_path: Path, data: Path, database: str, collector: str, extra: str
) -> tuple[subprocess.Popen[bytes], Notifications]:
    """A daemon billing through ``collector`` under a systemd watchdog of 1 s, and what it notifies."""
    conf = daemon_conf(tmp_path, data, database, "2026-10", extra)
    write_conf(conf, conf.read_text().replace("collector = samples", f"collector = {collector}"))
    notify = Notifications(tmp_path / "notify")
    env = {**os.environ, "NOTIFY_SOCKET": notify.path, "WATCHDOG_USEC": "1000000"}
    return daemon(conf, tmp_path / "daemon.log", env), notify


def test_the_watchdog_stops_answering_when_a_pass_makes_no_progress(tmp_path: Path, database: str) -> None:
    data = samples(tmp_path, {"t1": [day(10)]})
    process, notify = watched_daemon(tmp_path, data, database, "tests.test_daemon_months:HangingCollector",
                                     "stall_timeout = 10")  # fmt: skip
    try:
        notify.wait_for("READY=1")
        notify.wait_for("WATCHDOG=1")
        listen(notify, 12)  # the pass hangs from the start; 10 s later the watchdog goes quiet
        assert "WATCHDOG=1" not in listen(notify, 3)
    finally:
        process.kill()
        process.wait()
    assert "made no progress" in (tmp_path / "daemon.log").read_text()


def listen(notify: Notifications, seconds: float) -> list[str]:
    """What the daemon tells systemd over ``seconds``."""
    heard: list[str] = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        with contextlib.suppress(TimeoutError):
            heard.extend(notify.socket.recv(4096).decode().split("\n"))
    return heard


# 6. A coordination failure crashed the daemon.


def test_an_unreachable_coordination_backend_is_logged_and_every_tenant_billed(tmp_path: Path, database: str) -> None:
    from tests.servers import free_port

    data = samples(tmp_path, {"t1": [day(10)], "t2": [day(10)]})
    closed = free_port()  # nothing listens there
    conf = daemon_conf(tmp_path, data, database, "2026-10", f"coordination_url = redis://127.0.0.1:{closed}?timeout=1")
    process = daemon(conf, tmp_path / "daemon.log")
    try:
        wait_until(lambda: len(committed(database)) == 2 or process.poll() is not None, 60, "both tenants")
        assert process.poll() is None, (tmp_path / "daemon.log").read_text()
        write_conf(conf, conf.read_text().replace(f":{closed}?", f":{free_port()}?"))
        process.send_signal(signal.SIGHUP)  # a new backend, unreachable as well
        time.sleep(3)
        assert process.poll() is None
    finally:
        assert stop(process) == 0
    log = (tmp_path / "daemon.log").read_text()
    assert "trying every tenant" in log and "Traceback" not in log


# 7. Configuration mistakes.


def test_a_value_of_the_wrong_type_is_one_line_and_exit_2(tmp_path: Path, database: str) -> None:
    data = samples(tmp_path, {"t1": [day(10)]})
    conf = daemon_conf(tmp_path, data, database, "2026-10")
    write_conf(conf, conf.read_text().replace("run_interval = 1", "run_interval = thirty"))
    started = subprocess.run([sys.executable, "-m", "artifice.daemon.service", "--config-file", str(conf)],
                             capture_output=True, text=True, timeout=60, cwd=REPO)  # fmt: skip
    assert started.returncode == 2 and "[daemon] run_interval" in started.stderr and "thirty" in started.stderr
    assert started.stderr.strip().count("\n") == 0, started.stderr
    fixed = conf.read_text().replace("run_interval = thirty", "run_interval = 1")
    write_conf(conf, fixed + "\n[billing]\ncurrency_decimals = 9\n")
    billed = cli("--config-file", str(conf), "bill", "--tenant", "t1", "--month", "2026-10")
    assert billed.returncode == 2 and "[billing] currency_decimals" in billed.stderr, billed.stderr
    assert billed.stderr.strip().count("\n") == 0, billed.stderr


def test_a_bad_value_on_reload_keeps_the_running_configuration(tmp_path: Path, database: str) -> None:
    data = samples(tmp_path, {"t1": [day(10)]})
    conf = daemon_conf(tmp_path, data, database, "2026-10")
    process = daemon(conf, tmp_path / "daemon.log")
    try:
        wait_until(lambda: len(committed(database)) == 1, 60, "October")
        write_conf(conf, conf.read_text().replace("run_interval = 1", "run_interval = thirty"))
        process.send_signal(signal.SIGHUP)
        wait_until(lambda: "not reloaded" in (tmp_path / "daemon.log").read_text(), 30, "the refusal")
        assert process.poll() is None
    finally:
        assert stop(process) == 0
    assert "[daemon] run_interval" in (tmp_path / "daemon.log").read_text()


def test_a_misspelled_option_is_warned_about_with_the_right_name(demo_conf: Path) -> None:
    write_conf(demo_conf, demo_conf.read_text() + "\n[tenants]\nexclude_tenant = acme\nfrom_keystne = true\n")
    answer = cli("--config-file", str(demo_conf), "windows")
    assert answer.returncode == 0
    assert "[tenants] exclude_tenant is not an option of Artifice" in answer.stderr
    assert "did you mean exclude_tenants?" in answer.stderr and "did you mean from_keystone?" in answer.stderr


def test_a_directory_as_config_file_and_no_config_file_at_all_are_explained(tmp_path: Path) -> None:
    answer = cli("--config-file", str(tmp_path), "windows")
    assert answer.returncode == 2 and "is a directory" in answer.stderr and "Traceback" not in answer.stderr
    bare = subprocess.run([sys.executable, "-m", "artifice.cli.main", "windows"], capture_output=True, text=True,
                          timeout=60, cwd=tmp_path, env={**os.environ, "PYTHONPATH": str(REPO)})  # fmt: skip
    assert bare.returncode != 0 and "no configuration file was read" in bare.stderr, bare.stderr


# 8. --tenant took any string.


def test_tenant_must_be_a_known_project(demo_conf: Path) -> None:
    answer = cli("--config-file", str(demo_conf), "bill", "--tenant", "Acme Ltd", "--month", "2026-10")
    assert answer.returncode == 2 and "is not a project" in answer.stderr and "--force-tenant" in answer.stderr
    assert cli("--config-file", str(demo_conf), "windows").stdout.strip() == "no billing windows yet"


# 9. Logs and lag.


def test_a_deleted_projects_final_bill_leaves_no_lag(tmp_path: Path, database: str) -> None:
    data = samples(tmp_path, {"gone": [day(9)], "stays": [day(9), day(10)]})  # gone was deleted in September
    conf = daemon_conf(tmp_path, data, database, "")
    clock = Clock(tmp_path, NOVEMBER_5)  # October is the month due (on the real calendar, it moves on)
    for tenant, month in (("gone", "2026-09"), ("stays", "2026-09"), ("stays", "2026-10")):
        assert cli("--config-file", str(conf), "bill", "--tenant", tenant, "--month", month,
                   env=clock.env).returncode == 0  # fmt: skip
    status = cli("--config-file", str(conf), "status", env=clock.env).stdout.splitlines()
    assert {line.split()[0]: line.split()[2] for line in status[1:]} == {"gone": "0", "stays": "0"}, status


def test_every_pass_says_what_it_did_and_each_commit_is_one_line(tmp_path: Path, database: str) -> None:
    data = samples(tmp_path, {"t1": [day(10)], "t2": [day(10)]})
    conf = daemon_conf(tmp_path, data, database, "")
    process = daemon(conf, tmp_path / "daemon.log", Clock(tmp_path, NOVEMBER_5).env)
    try:
        wait_until(lambda: len(committed(database)) == 2, 60, "October")
        time.sleep(3)  # passes with nothing due
    finally:
        assert stop(process) == 0
    log = (tmp_path / "daemon.log").read_text()
    assert log.count("committed ART-t1-20261001-20261101-r1") == 1
    assert log.count("billing pass: months with tenants due") >= 3


# Done when: a daemon on a moved clock, through several months, with faults on the way.


def test_the_daemon_bills_every_month_through_faults_exactly_once(
    tmp_path: Path, database: str, redis_server: Any
) -> None:
    """Three tenants, September to November, from a real Ceilometer API, into the Django ERP.

    On the way: gamma is no ERP customer until October, the ERP is down for a pass in
    October, the telemetry server hangs for a pass and the coordination backend (a real
    Redis) is down for a pass in November.
    """
    from tests.ceilometer_loader import post_samples
    from tests.proxy import HangingProxy
    from tests.servers import Server

    tenants = ("alpha", "beta", "gamma")
    telemetry = Server("ceilometer")
    proxy = HangingProxy(telemetry.port)
    erp = DjangoServer(users={"billing": KEY}, clients={"alpha", "beta"}).start()
    try:
        days = [s for t in tenants for m in (9, 10, 11) for s in instance_day(t, day(m))]
        post_samples(telemetry.url, [{k: v for k, v in s.items() if k != "message_id"} for s in days])
        conf = django_conf(tmp_path, tmp_path / "unused.json", database, erp, "retry_backoff_max = 2")
        text = conf.read_text().replace("collector = samples", "collector = ceilometer")
        trusted = ",".join(f"{t}:openstack" for t in tenants)  # how Ceilometer stores API-posted samples
        text = text.replace("[metering]\n", f"[metering]\ntrust_sources = {trusted}\n")
        text = text.replace("[daemon]\n", f"[daemon]\ncoordination_url = {redis_server.url}?timeout=3\n")
        text += f"""
[collector:ceilometer]
regions = RegionOne
endpoints = RegionOne:{proxy.url}

[service_credentials]
auth_type = none
timeout = 2

[telemetry]
retries = 1
retry_wait = 0.1
"""
        write_conf(conf, text.replace("first_month = \n", "first_month = 2026-09\n"))
        clock = Clock(tmp_path, "2026-10-05T12:00:00+00:00")  # September is due
        process = daemon(conf, tmp_path / "daemon.log", clock.env)
        try:
            wait_until(lambda: sum(1 for k, v in states(database).items() if v == "committed") == 2, 90, "September")
            wait_until(lambda: states(database).get(("gamma", "2026-09")) == "failed", 60, "gamma's September")
            status = lags(conf, clock)
            assert status["alpha"] == status["beta"] == "0" and status["gamma"] == "1", status  # the truth
            erp.add_client("gamma")
            erp.fail_next(count=6, status=503, match="POST")  # the ERP is down for a pass
            clock.move("2026-11-05T12:00:00+00:00")  # October is due
            wait_until(lambda: len(committed(database)) == 6, 90, "September and October")
            proxy.hanging.set()  # the telemetry server hangs
            redis_server.stop()  # and coordination is down
            clock.move("2026-12-05T12:00:00+00:00")  # November is due
            wait_until(lambda: proxy.hangs > 0, 60, "a pass to meet the hanging telemetry")
            log = tmp_path / "daemon.log"
            wait_until(lambda: "trying every tenant" in log.read_text(), 60, "the daemon to see coordination is down")
            proxy.hanging.clear()
            redis_server._run("start", redis_server.directory, str(redis_server.port))
            wait_until(lambda: len(committed(database)) == 9, 120, "every tenant-month")
        finally:
            assert stop(process) == 0
    finally:
        erp.stop()
        proxy.close()
        telemetry.stop()
    references = sorted(i["num_facture"] for i in erp.invoices())
    months = ("20260901-20261001", "20261001-20261101", "20261101-20261201")
    assert references == sorted(f"ART-{t}-{m}-r1" for t in tenants for m in months)  # each exactly once
    assert lags(conf, clock) == {t: "0" for t in tenants}
    log = (tmp_path / "daemon.log").read_text()
    assert "Traceback" not in log and "trying every tenant" in log


def lags(conf: Path, clock: Clock) -> dict[str, str]:
    status = cli("--config-file", str(conf), "status", env=clock.env).stdout.splitlines()
    return {line.split()[0]: line.split()[2] for line in status[1:]}
