"""What a hostile review did to send an invoice twice or to lose one, each turned into a test.

Every test here drives real runs (threads of the library or ``artifice`` processes) against the
contract ERPs and checks what a user would see: how many invoices the ERP holds, and what
``artifice windows`` says. The demo tenant initech has one m1.small all October in Auckland:
744 h x 0.05 = 37.20 NZD.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import sqlalchemy as sa

from artifice import config
from artifice.billing.pipeline import Pipeline
from artifice.collectors.base import Collector
from artifice.exceptions import ArtificeError, CollectionError, PricingError, TransientCommitError, WindowConflict
from artifice.invoice import Tenant
from artifice.store import db
from artifice.timeutil import Window
from tests.conftest import DEMO, REPO, cli, demo_conf_text, write_conf
from tests.erp.django_server import DjangoServer
from tests.erp.netsuite_server import NetSuiteServer
from tests.figures import note

OCTOBER = Window.month(2026, 10)
INITECH = Tenant("initech")
KEY = "S3CRET-API-KEY"
BILL = ("bill", "--tenant", "initech", "--month", "2026-10")


def conf_file(tmp: Path, adapter: str, settings: str, database: str = "", extra: str = "") -> Path:
    """The demo config with an adapter, optionally another database, and extra sections."""
    text = demo_conf_text(tmp, adapter, settings)
    if database:
        text = text.replace(f"sqlite:///{tmp / 'artifice.db'}", database)
    db.upgrade(db.make_engine(database or f"sqlite:///{tmp / 'artifice.db'}"))
    return write_conf(tmp / "artifice.conf", text + extra)


def pipeline(path: Path, **billing: object) -> Pipeline:
    conf = config.load(["--config-file", str(path)])
    conf.set_override("commit_retry_wait", 0.01, group="billing")
    for key, value in billing.items():
        conf.set_override(key, value, group="billing")
    return Pipeline.from_config(conf)


def netsuite(tmp: Path, customers: set[int] | None = None, filtering: bool = True) -> tuple[NetSuiteServer, str]:
    known = {7} if customers is None else customers
    server = NetSuiteServer(customers=known, products={1}, token="", filtering=filtering).start()
    (tmp / "customers.csv").write_text("tenant,customer_id\ninitech,7\n")
    (tmp / "products.csv").write_text("service,product_id\nm1.small,1\n")
    settings = (
        f"url = {server.url}\ncustomer_map = {tmp / 'customers.csv'}\n"
        f"products_file = {tmp / 'products.csv'}\nlookup = true\ntimeout = 10\n"
    )
    return server, settings


def django(tmp: Path, timeout: float = 1) -> tuple[DjangoServer, str]:
    server = DjangoServer(users={"billing": KEY}, clients={"initech"}).start()
    return server, f"url = {server.url}\nusername = billing\napi_key = {KEY}\ntimeout = {timeout}\n"


@contextlib.contextmanager
def running(server: Any) -> Iterator[Any]:
    try:
        yield server
    finally:
        server.stop()


def windows(path: Path) -> list[str]:
    """``artifice windows`` lines, without the header."""
    listing = cli("--config-file", str(path), "windows")
    assert listing.returncode == 0, listing.stderr
    return listing.stdout.splitlines()[1:]


def wait_for(condition: Any, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


class Outcome:
    """What a run in a thread ended with."""

    def __init__(self) -> None:
        self.result: object = None
        self.error: BaseException | None = None


def in_thread(name: str, pipe: Pipeline, outcome: Outcome) -> threading.Thread:
    def run() -> None:
        try:
            outcome.result = pipe.bill(INITECH, OCTOBER)
        except BaseException as exc:  # noqa: BLE001 - the test inspects it
            outcome.error = exc

    thread = threading.Thread(target=run, name=name, daemon=True)
    thread.start()
    return thread


# 1. Two runs resuming one dead window both took it over and both sent it.


def test_two_runs_resuming_one_dead_window_send_it_once(tmp_path: Path, postgres_url: str) -> None:
    server, settings = netsuite(tmp_path)
    with running(server):
        path = conf_file(tmp_path, "netsuite", settings, postgres_url)
        assert cli("--config-file", str(path), *BILL, env={"ARTIFICE_FAILPOINT": "rated"}).returncode == -9
        both_read = threading.Barrier(2)
        waited: set[str] = set()

        def hold_first_update(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
            """Let both runs read the window before either writes it: the race, made certain."""
            name = threading.current_thread().name
            writes = statement.lstrip().upper().startswith("UPDATE BILLING_WINDOWS")
            if name in ("run-a", "run-b") and writes and name not in waited:
                waited.add(name)
                with contextlib.suppress(threading.BrokenBarrierError):
                    both_read.wait(timeout=5)

        runs = {name: pipeline(path, commit_settle_time=0) for name in ("run-a", "run-b")}
        outcomes = {name: Outcome() for name in runs}
        for run in runs.values():
            sa.event.listen(run.store.engine, "before_cursor_execute", hold_first_update)
        threads = [in_thread(name, run, outcomes[name]) for name, run in runs.items()]
        for thread in threads:
            thread.join(60)
        assert len(server.invoices()) == 1
        errors = [o.error for o in outcomes.values() if o.error is not None]
        assert len(errors) == 1 and isinstance(errors[0], WindowConflict), errors
        (line,) = windows(path)
        assert " committed " in line and "37.20" in line


# 2. A run whose window was taken over marked it failed in the middle of the other run's commit.


class BlockingCollector(Collector):
    """Wraps a collector: waits until released, then fails as if telemetry went away."""

    def __init__(self, inner: Collector) -> None:
        self.inner = inner
        self.entered = threading.Event()
        self.release = threading.Event()

    def regions(self) -> Any:
        return self.inner.regions()

    def tenants(self, window: Window) -> list[Tenant]:
        return self.inner.tenants(window)

    def collect(self, tenant_id: str, window: Window, meters: Any, lead_in: int) -> pd.DataFrame:
        self.entered.set()
        self.release.wait(60)
        raise CollectionError("telemetry went away")


def test_a_run_that_lost_its_window_never_marks_it(tmp_path: Path) -> None:
    server, settings = netsuite(tmp_path)
    with running(server):
        path = conf_file(tmp_path, "netsuite", settings)
        slow = pipeline(path, commit_settle_time=0)
        blocking = BlockingCollector(slow.collector)
        slow.collector = blocking
        slow_outcome = Outcome()
        slow_thread = in_thread("run-a", slow, slow_outcome)
        assert blocking.entered.wait(30)
        # Run A is alive but, as far as anyone else can tell, silent for hours (a frozen VM, a long
        # collection on another host): its claim may be taken over.
        engine = sa.create_engine(f"sqlite:///{tmp_path / 'artifice.db'}")
        with engine.begin() as connection:
            columns = {c["name"] for c in sa.inspect(connection).get_columns("billing_windows")}
            old = "'2000-01-01 00:00:00.000000'"
            expire = f", lease_expires_at = {old}" if "lease_expires_at" in columns else ""
            connection.execute(sa.text(f"UPDATE billing_windows SET updated_at = {old}, owner = 'elsewhere:1'{expire}"))
        engine.dispose()
        server.hang_next(seconds=1.5, match="POST /invoice/")
        taker_outcome = Outcome()
        taker = in_thread("run-b", pipeline(path, commit_settle_time=0), taker_outcome)
        wait_for(lambda: server.received("POST /invoice/"))
        blocking.release.set()  # A fails now, in the middle of B's commit
        slow_thread.join(30)
        taker.join(30)
        assert taker_outcome.error is None, taker_outcome.error
        again = cli("--config-file", str(path), *BILL)
        assert again.returncode != 0 and "already billed" in again.stderr, again.stderr
        assert len(server.invoices()) == 1
        (line,) = windows(path)
        assert " committed " in line


# 3. Owner liveness was host:pid: containers with one hostname took each other's live windows.


def in_pid_namespace(args: list[str], pid_one: bool = True) -> list[str]:
    """``artifice`` in a PID namespace of its own: as PID 1, or with a PID no other namespace here uses."""
    command = [sys.executable, "-m", "artifice.cli.main", *args]
    if pid_one:
        return ["unshare", "--pid", "--fork", "--mount-proc", *command]
    quoted = " ".join(f"'{a}'" for a in command)
    burn = "for i in $(seq 60); do /bin/true; done"  # past the PIDs (and thread ids) of a fresh namespace
    return ["unshare", "--pid", "--fork", "--mount-proc", "sh", "-c", f"{burn}; {quoted}; exit $?"]


needs_namespaces = pytest.mark.skipif(
    shutil.which("unshare") is None or os.geteuid() != 0, reason="needs unshare and root (PID namespaces)"
)


@needs_namespaces
def test_a_live_run_in_another_pid_namespace_with_the_same_hostname_is_not_taken_over(tmp_path: Path) -> None:
    server, settings = netsuite(tmp_path)
    with running(server):
        path = conf_file(tmp_path, "netsuite", settings, extra="\n[billing]\ncommit_settle_time = 0\n")
        server.hang_next(seconds=4, match="POST /invoice/")
        args = ["--config-file", str(path), *BILL]
        first = subprocess.Popen(in_pid_namespace(args, pid_one=False), cwd=REPO, stderr=subprocess.PIPE, text=True)
        wait_for(lambda: server.received("POST /invoice/"))
        second = subprocess.run(in_pid_namespace(args), cwd=REPO, capture_output=True, text=True, timeout=60)
        assert second.returncode != 0 and "is billing" in second.stderr, second.stderr
        assert first.wait(60) == 0, first.stderr.read() if first.stderr else ""
        assert len(server.invoices()) == 1


@needs_namespaces
def test_a_restarted_container_resumes_its_dead_window_once_the_lease_expires(tmp_path: Path) -> None:
    path = conf_file(tmp_path, "csv", "", extra="\n[billing]\nlease_time = 2\n")
    args = ["--config-file", str(path), *BILL]
    env = {**os.environ, "ARTIFICE_FAILPOINT": "rated"}
    crashed = subprocess.run(in_pid_namespace(args), cwd=REPO, capture_output=True, text=True, env=env, timeout=60)
    assert crashed.returncode != 0  # SIGKILLed as PID 1 of its namespace
    deadline = time.monotonic() + 20
    while True:  # the same container restarted: artifice is PID 1 again, in a new namespace
        again = subprocess.run(in_pid_namespace(args), cwd=REPO, capture_output=True, text=True, timeout=60)
        if again.returncode == 0 or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert again.returncode == 0, again.stderr
    assert [p.name for p in (tmp_path / "invoices").iterdir()] == ["initech-2026-10.csv"]


# 4. A refusal after an attempt of unknown outcome failed the window, and the next run sent -r2.


def test_a_refusal_after_an_uncertain_attempt_is_never_billed_again(tmp_path: Path) -> None:
    server, settings = django(tmp_path, timeout=1)
    with running(server):
        path = conf_file(tmp_path, "django", settings)
        server.hang_next(seconds=1.3, match="POST")  # times out, and the ERP saves it afterwards
        server.hang_next(seconds=0.6, match="POST")  # the retry arrives after that: unique num_facture
        with pytest.raises(ArtificeError):
            pipeline(path, commit_settle_time=0).bill(INITECH, OCTOBER)
        assert len(server.invoices()) == 1
        (line,) = windows(path)
        assert " failed " not in line and "num facture" in line.lower(), line
        rerun = cli("--config-file", str(path), *BILL)
        assert rerun.returncode == 0, rerun.stderr  # the lookup finds it now
        assert len(server.invoices()) == 1
        (line,) = windows(path)
        assert " committed " in line and "-r1" in line


def test_a_refused_lookup_during_the_retries_never_fails_the_window(tmp_path: Path) -> None:
    server, settings = django(tmp_path)
    with running(server):
        path = conf_file(tmp_path, "django", settings)
        server.drop_next(match="POST")  # saved, the answer lost
        server.fail_next(status=400, match="GET")  # and the lookup after the backoff is refused
        with pytest.raises(ArtificeError):
            pipeline(path, commit_settle_time=0).bill(INITECH, OCTOBER)
        (line,) = windows(path)
        assert " failed " not in line, line
        assert cli("--config-file", str(path), *BILL).returncode == 0
        assert len(server.invoices()) == 1


# 5. NetSuite's lookup took any invoice without external_reference for ours.


def test_netsuite_lookup_matches_only_our_reference(tmp_path: Path) -> None:
    server, settings = netsuite(tmp_path, filtering=False)  # the lookup lists every invoice
    with running(server):
        with server.lock:  # an invoice someone made by hand, for another customer
            server.state["invoices"]["900"] = {"customer_id": 12345, "items": []}
        path = conf_file(tmp_path, "netsuite", settings)
        server.fail_next(status=503, match="POST")
        result = pipeline(path, commit_settle_time=0).bill(INITECH, OCTOBER)
        assert result.state == "committed"
        ours = [k for k, v in server.invoices().items() if v.get("external_reference") == result.reference]
        assert len(ours) == 1
        (line,) = windows(path)
        assert " committed " in line
        engine = sa.create_engine(f"sqlite:///{tmp_path / 'artifice.db'}")
        with engine.connect() as connection:
            assert connection.execute(sa.text("SELECT external_id FROM billing_windows")).scalar() == ours[0]
        engine.dispose()


# 6. Windows stuck with the live process as owner, or rated with a local refusal and no error.


def test_an_error_in_the_resume_lookup_releases_the_window(tmp_path: Path) -> None:
    server, settings = django(tmp_path)
    with running(server):
        path = conf_file(tmp_path, "django", settings)
        daemon = pipeline(path, commit_settle_time=0, commit_retries=0)  # one process, like the daemon
        server.fail_next(status=503, match="POST")
        with pytest.raises(ArtificeError):
            daemon.bill(INITECH, OCTOBER)
        server.fail_next(status=503, match="GET")  # the next pass cannot look it up
        with pytest.raises(ArtificeError):
            daemon.bill(INITECH, OCTOBER)
        assert daemon.bill(INITECH, OCTOBER).state == "committed"  # the one after that can
        assert len(server.invoices()) == 1


def test_a_unit_that_differs_from_its_rate_fails_the_window_before_it_is_rated(tmp_path: Path) -> None:
    rates = tmp_path / "rates.csv"
    rates.write_text((DEMO / "rates.csv").read_text().replace("m1.small,hour", "m1.small,minute"))
    path = conf_file(tmp_path, "csv", "")
    path.write_text(path.read_text().replace(str(DEMO / "rates.csv"), str(rates)))
    with pytest.raises(PricingError, match="per minute"):
        pipeline(path).bill(INITECH, OCTOBER)
    (line,) = windows(path)
    assert " failed " in line and "per minute" in line, line
    assert not (tmp_path / "invoices").exists()


# 7. Leases compared another host's clock with the local one.


@pytest.mark.skipif(shutil.which("unshare") is None or os.geteuid() != 0, reason="needs unshare and root")
def test_a_live_run_on_a_host_whose_clock_is_behind_is_not_taken_over(
    tmp_path: Path, postgres_url: str, faketime: str
) -> None:
    server, settings = netsuite(tmp_path)
    with running(server):
        path = conf_file(tmp_path, "netsuite", settings, postgres_url, "\n[billing]\ncommit_settle_time = 0\n")
        server.hang_next(seconds=4, match="POST /invoice/")
        artifice = [sys.executable, "-m", "artifice.cli.main", "--config-file", str(path), *BILL]
        command = " ".join([faketime, "-f", "-2h", *artifice])
        # Host A: its own hostname and PID namespace, its clock two hours behind.
        host_a = ["unshare", "--uts", "--pid", "--fork", "--mount-proc", "sh", "-c", f"hostname host-a && {command}"]
        first = subprocess.Popen(host_a, cwd=REPO, stderr=subprocess.PIPE, text=True)
        wait_for(lambda: server.received("POST /invoice/"))
        second = cli("--config-file", str(path), *BILL)  # host B, with the right time
        assert second.returncode != 0 and "is billing" in second.stderr, second.stderr
        assert first.wait(60) == 0, first.stderr.read() if first.stderr else ""
        assert len(server.invoices()) == 1


# 8. Failed attempts used up revision numbers; a dry run showed a reference that never exists.


def test_an_invoice_refused_twice_then_sent_is_revision_one(tmp_path: Path) -> None:
    server, settings = netsuite(tmp_path, customers=set())  # initech is not a NetSuite customer yet
    with running(server):
        path = conf_file(tmp_path, "netsuite", settings)
        for _ in range(2):
            refused = cli("--config-file", str(path), *BILL)
            assert refused.returncode != 0 and "Customer does not exist" in refused.stderr, refused.stderr
        dry = cli("--config-file", str(path), *BILL, "--dry-run")
        assert "ART-initech-20261001-20261101-r1" in dry.stdout, dry.stdout
        server.customers.add(7)
        assert cli("--config-file", str(path), *BILL).returncode == 0
        (invoice,) = server.invoices().values()
        assert invoice["external_reference"] == "ART-initech-20261001-20261101-r1"
        rebill = cli("--config-file", str(path), *BILL, "--rebill", "--dry-run")
        assert "-r2" in rebill.stdout and "-r0" not in rebill.stdout, rebill.stdout


# 9. PostgreSQL rounded unit prices to 6 decimals.


def test_postgresql_keeps_every_digit_of_a_price(tmp_path: Path, postgres_url: str) -> None:
    rates = tmp_path / "rates.csv"
    rates.write_text((DEMO / "rates.csv").read_text().replace("m1.small,hour,0.05", "m1.small,hour,0.0000004"))
    path = conf_file(tmp_path, "csv", "", postgres_url)
    path.write_text(path.read_text().replace(str(DEMO / "rates.csv"), str(rates)))
    assert cli("--config-file", str(path), *BILL, env={"ARTIFICE_FAILPOINT": "rated"}).returncode == -9
    assert cli("--config-file", str(path), *BILL).returncode == 0  # resumed from what was recorded
    invoice = (tmp_path / "invoices" / "initech-2026-10.csv").read_text()
    (row,) = [r for r in invoice.splitlines() if r.startswith("line,")]
    assert Decimal(row.split(",")[5]) == Decimal("0.0000004"), row
    engine = sa.create_engine(postgres_url)
    with engine.connect() as connection:
        assert connection.execute(sa.text("SELECT unit_price FROM invoice_lines")).scalar() == Decimal("0.0000004")
    engine.dispose()
    note("exactly once: hostile cases", "a price of 4E-7 survives PostgreSQL and a resumed run")


# -- found by the breaking review of this work -----------------------------------------------


def test_a_window_marked_failed_by_hand_whose_invoice_exists_is_found_and_committed(tmp_path: Path) -> None:
    path = conf_file(tmp_path, "csv", "", extra="\n[billing]\ncommit_settle_time = 0\n")
    assert cli("--config-file", str(path), *BILL, env={"ARTIFICE_FAILPOINT": "committed_in_erp"}).returncode == -9
    early = cli("--config-file", str(path), "reconcile", "--window", "1", "--as", "failed")  # looked too soon
    assert early.returncode == 0, early.stderr
    rerun = cli("--config-file", str(path), *BILL)
    assert rerun.returncode == 0, rerun.stderr  # its lookup finds the invoice: nothing is written again
    (line,) = windows(path)
    assert " committed " in line
    assert [p.name for p in (tmp_path / "invoices").iterdir()] == ["initech-2026-10.csv"]


def test_the_operator_may_correct_a_window_marked_failed_too_early(tmp_path: Path) -> None:
    path = conf_file(tmp_path, "csv", "", extra="\n[billing]\ncommit_settle_time = 0\n")
    assert cli("--config-file", str(path), *BILL, env={"ARTIFICE_FAILPOINT": "committed_in_erp"}).returncode == -9
    assert cli("--config-file", str(path), "reconcile", "--window", "1", "--as", "failed").returncode == 0
    fixed = cli("--config-file", str(path), "reconcile", "--window", "1", "--as", "committed", "--external-id", "x")
    assert fixed.returncode == 0 and " committed " in fixed.stdout, fixed.stderr


def test_a_saved_invoice_whose_id_cannot_be_looked_up_is_not_failed(tmp_path: Path) -> None:
    server = DjangoServer(users={"billing": KEY}, clients={"initech"}, location=False).start()  # 201, no Location
    with running(server):
        settings = f"url = {server.url}\nusername = billing\napi_key = {KEY}\ntimeout = 1\n"
        path = conf_file(tmp_path, "django", settings)
        server.fail_next(status=429, match="GET")  # the lookup that would name its id: try later
        result = pipeline(path, commit_settle_time=0).bill(INITECH, OCTOBER)
        (invoice,) = server.invoices()
        assert result.state == "committed" and invoice["num_facture"] == result.reference
        engine = sa.create_engine(f"sqlite:///{tmp_path / 'artifice.db'}")
        with engine.connect() as connection:
            row = connection.execute(sa.text("SELECT state, external_id FROM billing_windows")).one()
        engine.dispose()
        assert tuple(row) == ("committed", str(invoice["id_facture"]))


def test_a_takeover_decided_on_a_stale_read_loses_to_a_holder_that_renewed(tmp_path: Path, postgres_url: str) -> None:
    path = conf_file(tmp_path, "csv", "", postgres_url, "\n[billing]\nlease_time = 1\ncommit_settle_time = 1\n")
    store = pipeline(path).store
    claimed = store.claim(INITECH, OCTOBER, "invoice", "csv", "run-h")
    holder = store.begin_attempt(store.record_lines(claimed, [], "NZD"))
    time.sleep(2.2)  # the holder stalls past its lease and the settle time
    read, renewed = threading.Event(), threading.Event()
    judged = store._held

    def descheduled(row: Any, now: Any) -> bool:  # the taker, between reading the window and writing it
        held = judged(row, now)
        if threading.current_thread().name == "taker":
            read.set()
            renewed.wait(10)
        return held

    store._held = descheduled  # type: ignore[method-assign]
    taker = Outcome()

    def take() -> None:
        try:
            taker.result = store.claim(INITECH, OCTOBER, "invoice", "csv", "run-t")
        except ArtificeError as exc:
            taker.error = exc

    thread = threading.Thread(target=take, name="taker")
    thread.start()
    assert read.wait(10)
    holder = store.begin_attempt(store.hold(holder))  # the holder wakes up, renews, and sends again
    renewed.set()
    thread.join(30)
    assert isinstance(taker.error, WindowConflict), taker.result
    store.committed(holder, "INV-1")  # the window is still the holder's


def test_a_service_without_an_odoo_product_is_refused_before_anything_is_sent(tmp_path: Path) -> None:
    from tests.erp.odoo_server import OdooServer

    server = OdooServer(users={"billing": KEY}, products={"m1.small": "0.05"}).start()
    with running(server):
        settings = f"url = {server.url}\ndatabase = odoo\nusername = billing\npassword = {KEY}\nuse_products = true\n"
        path = conf_file(tmp_path, "odoo", settings)
        with pytest.raises(PricingError, match="no product has Internal Reference"):
            pipeline(path).bill(Tenant("acme"), OCTOBER)  # acme uses m1.medium, volumes, traffic too
        assert not server.records("account.move")
        listing = cli("--config-file", str(path), "windows").stdout.splitlines()[1]
        assert " failed " in listing and "Internal Reference" in listing


def test_an_unreadable_lookup_answer_is_one_line_not_a_traceback(tmp_path: Path) -> None:
    import http.server

    class Garbled(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = b'{"meta": {"next": "/x", "offset": "zero"}, "objects": [{"num_facture": "other"}]}'
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    garbled = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Garbled)
    threading.Thread(target=garbled.serve_forever, daemon=True).start()
    try:
        from artifice.invoices.django_api import DjangoInvoice

        (tmp_path / "rates.csv").write_text("datacenter,service,unit,price,currency\n*,m1.small,hour,0.05,NZD\n")
        config_section = {"url": f"http://127.0.0.1:{garbled.server_address[1]}", "username": "b", "api_key": "k",
                          "rates_file": str(tmp_path / "rates.csv")}  # fmt: skip
        with pytest.raises(TransientCommitError, match="not a tastypie list"):
            DjangoInvoice(INITECH, config_section).lookup("ART-x")
    finally:
        garbled.shutdown()


def test_a_redirect_after_the_erp_saved_the_invoice_is_no_refusal(tmp_path: Path) -> None:
    server, settings = netsuite(tmp_path)
    with running(server):
        path = conf_file(tmp_path, "netsuite", settings.replace("lookup = true", "lookup = false"))
        server.redirect_next(match="POST")  # saved, answered 303 See Other
        with pytest.raises(ArtificeError, match="artifice reconcile"):
            pipeline(path, commit_settle_time=0).bill(INITECH, OCTOBER)
        again = cli("--config-file", str(path), *BILL)
        assert again.returncode != 0 and "may or may not hold" in again.stderr
        assert len(server.invoices()) == 1


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("bill", "--all", "--month", "9999-12"), "invalid month"),
        (("reconcile", "--window", "99999999999999999999", "--as", "failed"), "is not a window id"),
    ],
)
def test_out_of_range_arguments_are_one_line(demo_conf: Path, args: tuple[str, ...], message: str) -> None:
    answer = cli("--config-file", str(demo_conf), *args)
    assert answer.returncode == 2 and message in answer.stderr and "Traceback" not in answer.stderr, answer.stderr


def test_a_closed_pipe_ends_the_listing_quietly(demo_conf: Path) -> None:
    command = [sys.executable, "-m", "artifice.cli.main", "--config-file", str(demo_conf), "bill", "--all",
               "--month", "2026-10", "--dry-run"]  # fmt: skip
    pipe = subprocess.run(f"{' '.join(command)} | head -1", shell=True, capture_output=True, text=True, cwd=REPO)
    assert "Traceback" not in pipe.stderr and "BrokenPipe" not in pipe.stderr, pipe.stderr
