"""Exactly once under fire: ``artifice`` processes that share one hostname, each in a PID namespace
of its own, billing the same tenants on a real PostgreSQL against contract ERPs that fail at
random, while they are SIGKILLed at random moments and started again.

No process can prove another one dead here (their PIDs mean nothing outside their namespaces), so
every window a killed process held is taken over only once its lease has expired, and one killed
in the middle of a commit is looked up before anything is sent again. At the end the ERP's own
ledger holds every tenant-month exactly once.
"""

from __future__ import annotations

import collections
import json
import random
import subprocess
import sys
import threading
import time
import urllib.request
from decimal import Decimal
from pathlib import Path

import pytest

from artifice.store import db
from artifice.store.windows import WindowStore
from tests.conftest import DEMO, REPO, write_conf
from tests.erp.base import spawn
from tests.figures import note
from tests.test_daemon import OCTOBER, months_of_data
from tests.test_exactly_once_hostile import needs_namespaces

SEPTEMBER = OCTOBER.replace(month=9)

TENANTS = [f"t-{i:03d}" for i in range(50)]
MONTHS = {"2026-09": "20260901-20261001", "2026-10": "20261001-20261101"}
PROCESSES = 4
KEY = "S3CRET-API-KEY"
CHAOS = ("--chaos", "0.15", "--chaos-hang", "1.5")  # hangs end before commit_settle_time (3 s)
EXPECTED = [f"ART-{t}-{period}-r1" for t in TENANTS for period in MONTHS.values()]


def start_erp(kind: str, tmp: Path) -> tuple[subprocess.Popen[str], str, str]:
    """The ERP as a process of its own, faults on: (process, URL, its [invoice:object] settings)."""
    state = str(tmp / f"{kind}.json")
    if kind == "netsuite":
        customers = [a for i in range(len(TENANTS)) for a in ("--customer", str(1000 + i))]
        process, url = spawn("tests.erp.netsuite_server", "--state-file", state, "--product", "1", *customers, *CHAOS)
        rows = "".join(f"{t},{1000 + i}\n" for i, t in enumerate(TENANTS))
        (tmp / "customers.csv").write_text("tenant,customer_id\n" + rows)
        (tmp / "products.csv").write_text("service,product_id\nm1.small,1\n")
        settings = f"customer_map = {tmp / 'customers.csv'}\nproducts_file = {tmp / 'products.csv'}\nlookup = true\n"
    elif kind == "django":
        clients = [a for t in TENANTS for a in ("--client", t)]
        user = ("--user", f"billing:{KEY}")
        process, url = spawn("tests.erp.django_server", "--state-file", state, *user, *clients, *CHAOS)
        settings = f"username = billing\napi_key = {KEY}\n"
    else:
        process, url = spawn("tests.erp.odoo_server", "--state-file", state, "--user", f"billing:{KEY}", *CHAOS)
        settings = f"database = odoo\nusername = billing\npassword = {KEY}\n"
    return process, url, f"url = {url}\n{settings}timeout = 1\n"


def ledger(kind: str, url: str) -> dict[str, list[str]]:
    """The ERP's ids of the invoices it holds, by reference, from its own state."""
    with urllib.request.urlopen(f"{url}/_control/state", timeout=30) as answer:
        state = json.load(answer)
    if kind == "netsuite":
        pairs = [(str(i.get("external_reference")), key) for key, i in state["invoices"].items()]
    elif kind == "django":
        pairs = [(str(i["num_facture"]), key) for key, i in state["invoices"].items()]
    else:
        pairs = [(str(m["ref"]), key) for key, m in state["records"]["account.move"].items()]
    held: dict[str, list[str]] = collections.defaultdict(list)
    for ref, ident in pairs:
        held[ref].append(ident)
    return held


def configure(tmp: Path, kind: str, settings: str, database: str) -> Path:
    samples = months_of_data(tmp, TENANTS, [SEPTEMBER, OCTOBER])
    return write_conf(
        tmp / "artifice.conf",
        f"""
[main]
collector = samples
invoice:object = {kind}
datacenters = RegionOne:Wellington

[invoice:object]
rates_file = {DEMO / "rates.csv"}
{settings}
[collector:samples]
region_files = RegionOne:{samples}

[metering]
meter_mapping = {REPO / "etc/artifice/meters.yaml"}

[database]
connection = {database}

[billing]
lease_time = 4
commit_settle_time = 3
commit_retries = 2
commit_retry_wait = 0.2
""",
    )


class Fleet:
    """``PROCESSES`` workers, each starting ``artifice bill --all`` in a fresh PID namespace, again and again."""

    def __init__(self, conf: Path, store: WindowStore, logs: Path) -> None:
        self.conf, self.store, self.logs = conf, store, logs
        self.kills = self.starts = 0
        self.lock = threading.Lock()

    def unbilled(self) -> list[str]:
        """The months some tenant still waits for."""
        done = collections.Counter(
            f"{w.period_start:%Y-%m}" for w in self.store.windows() if w.state == "committed" and w.kind == "invoice"
        )
        return [month for month in MONTHS if done[month] < len(TENANTS)]

    def worker(self, number: int, chaos_until: float, give_up: float) -> None:
        chance = random.Random(number)
        artifice = [sys.executable, "-m", "artifice.cli.main", "--config-file", str(self.conf), "bill", "--all"]
        with (self.logs / f"process-{number}.log").open("a") as log:
            while time.monotonic() < give_up and (months := self.unbilled()):
                month = ["--month", chance.choice(months)]
                command = ["unshare", "--pid", "--fork", "--mount-proc", "--kill-child=SIGKILL", *artifice, *month]
                process = subprocess.Popen(command, cwd=REPO, stdout=log, stderr=log)
                with self.lock:
                    self.starts += 1
                try:
                    process.wait(timeout=chance.uniform(1, 6) if time.monotonic() < chaos_until else 300)
                except subprocess.TimeoutExpired:
                    process.kill()  # unshare dies, and --kill-child takes artifice (PID 1 there) with it
                    process.wait()
                    with self.lock:
                        self.kills += 1

    def run(self, chaos_seconds: float, seconds: float) -> None:
        now = time.monotonic()
        threads = [
            threading.Thread(target=self.worker, args=(n, now + chaos_seconds, now + seconds)) for n in range(PROCESSES)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()


def reconcile_by_hand(store: WindowStore, held: dict[str, list[str]]) -> int:
    """What an operator does for windows that need it: look in the ERP, record what it says."""
    settled = 0
    for window in store.windows():
        if window.state == "needs_reconciliation":
            found = held.get(window.external_reference, [])
            store.reconcile(window.id, bool(found), found[0] if found else None, "checked by hand: not in the ERP")
            settled += 1
    return settled


@needs_namespaces
@pytest.mark.parametrize("kind", ["netsuite", "odoo", "django"])
def test_processes_killed_at_random_leave_each_tenant_month_in_the_erp_once(
    tmp_path: Path, postgres_url: str, kind: str
) -> None:
    db.upgrade(db.make_engine(postgres_url))
    erp, url, settings = start_erp(kind, tmp_path)
    try:
        conf = configure(tmp_path, kind, settings, postgres_url)
        store = WindowStore(db.make_engine(postgres_url))
        fleet = Fleet(conf, store, tmp_path)
        fleet.run(chaos_seconds=30, seconds=240)
        by_hand = reconcile_by_hand(store, ledger(kind, url))
        if by_hand:  # what the operator settled as not in the ERP is billed by the next run
            fleet.run(chaos_seconds=0, seconds=120)
        held = ledger(kind, url)
    finally:
        erp.terminate()
        erp.wait(30)
    lost = [r for r in EXPECTED if not held.get(r)]
    duplicated = {r: held[r] for r in EXPECTED if len(held.get(r, [])) > 1}
    strangers = sorted(set(held) - set(EXPECTED))
    resent = sum(1 for w in store.windows() if w.attempts > 1)
    note(
        "exactly once: processes SIGKILLed at random (real PostgreSQL, PID namespaces, one hostname)",
        f"{kind}: {PROCESSES} processes, {len(TENANTS)} tenants x {len(MONTHS)} months, {fleet.starts} starts, "
        f"{fleet.kills} SIGKILLs, {resent} needed more than one attempt, {by_hand} reconciled by hand; "
        f"lost {len(lost)}, duplicated {len(duplicated)}",
    )
    assert not lost and not duplicated and not strangers, (lost, duplicated, strangers)
    committed = {w.external_reference: w for w in store.windows() if w.kind == "invoice" and w.state == "committed"}
    assert sorted(committed) == sorted(EXPECTED)
    assert {w.total for w in committed.values()} == {Decimal("1.20")}  # 24 h x 0.05 NZD each
    assert all(w.external_id in held[w.external_reference] for w in committed.values())
