"""The read API under load: requests/s and latency per endpoint, and isolation checked on every answer.

    python -m tools.benchmarks.api_load --invoices 10000 --lines 10 --clients 20,50 --seconds 20 \
        [--database postgresql://...] [--workers 2]

Fills a billing database (SQLite in a scratch directory unless ``--database``) with
``--invoices`` committed invoices of 1,000 tenants, ``--lines`` lines each (one line item per
line), starts ``artifice-api`` with ``[api] workers`` processes and a token file (an admin and a
member of each of 20 tenants), then runs, for each client count, that many clients on keep-alive
connections for ``--seconds``: a mix of invoice lists, lists with ``includeTotals``, single
invoices and line-item lists, half as admin and half as a member. Every member answer is checked
to hold only that member's tenant (an isolation violation otherwise); any status but 200 is an
error. Prints one row per endpoint and client count.
"""

from __future__ import annotations

import argparse
import datetime as dt
import http.client
import json
import multiprocessing
import random
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from decimal import Decimal
from pathlib import Path

import sqlalchemy as sa

from artifice import model
from artifice.store import db
from artifice.store.models import BillingWindow, InvoiceLine, LineResource
from artifice.timeutil import UTC, Window

REPO = Path(__file__).resolve().parents[2]
TENANTS = 1000
MEMBERS = 20
ADMIN = "admin-token"
PER_PROCESS = 10  # client threads per load process
SERVICES = ("m1.small", "m1.medium", "volume.size", "image.size", "network.outgoing.bytes")


def fill(url: str, invoices: int, lines: int) -> None:
    """``invoices`` committed windows with ``lines`` lines (and one line item each), in bulk."""
    engine = db.make_engine(url)
    db.upgrade(engine)
    now = dt.datetime(2026, 12, 1, tzinfo=UTC)
    windows, line_rows, resources = [], [], []
    for number in range(invoices):
        tenant = f"tenant-{number % TENANTS:04d}"
        months_back = number // TENANTS
        year, month = divmod(2026 * 12 + 9 - months_back, 12)
        period = Window.month(year, month + 1)
        amounts = [Decimal(f"{(number * 7 + k * 13) % 5000}.{k:02d}") for k in range(lines)]
        windows.append({"id": number + 1, "tenant_id": tenant, "tenant_name": tenant.title(),
                        "period_start": period.start, "period_end": period.end, "state": model.COMMITTED,
                        "kind": model.INVOICE, "revision": 1, "adapter": "csv",
                        "external_reference": model.invoice_reference(tenant, period, 1), "external_id": f"E{number}",
                        "currency": "NZD", "total": sum(amounts, Decimal(0)), "run_id": "bench", "owner": "",
                        "owner_proof": "", "attempts": 1, "failures": 0, "created_at": now, "updated_at": now,
                        "committed_at": now})  # fmt: skip
        for k, amount in enumerate(amounts):
            line_id = number * lines + k + 1
            service = SERVICES[k % len(SERVICES)]
            line_rows.append({"id": line_id, "window_id": number + 1, "datacenter": "Wellington", "service": service,
                              "category": "compute", "item_type": model.USAGE, "unit": "hour", "quantity": amount * 20,
                              "unit_price": Decimal("0.05"), "amount": amount})  # fmt: skip
            resources.append({"id": line_id, "line_id": line_id, "resource_id": f"{tenant}-r{k}",
                              "resource_name": f"vm-{k}", "quantity": amount * 20})  # fmt: skip
    with engine.begin() as connection:
        for table, rows in ((BillingWindow, windows), (InvoiceLine, line_rows), (LineResource, resources)):
            for start in range(0, len(rows), 5000):
                connection.execute(sa.insert(table.__table__), rows[start : start + 5000])
    if engine.dialect.name == "postgresql":  # as autovacuum would soon after a load this size
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.exec_driver_sql("ANALYZE")
    engine.dispose()


def start_api(directory: Path, url: str, workers: int, cache_mb: int = 64) -> tuple[subprocess.Popen[bytes], int]:
    tokens = directory / "tokens.csv"
    tokens.write_text(f"{ADMIN},,admin\n" + "".join(f"member-{i},tenant-{i:04d},member\n" for i in range(MEMBERS)))
    port = _free_port()
    conf = directory / "api.conf"
    conf.write_text(f"[database]\nconnection = {url}\n\n[api]\nport = {port}\nworkers = {workers}\n"
                    f"answer_cache_mb = {cache_mb}\nauth_strategy = token_file\ntoken_file = {tokens}\n")  # fmt: skip
    log = (directory / "api.log").open("wb")
    process = subprocess.Popen([sys.executable, "-m", "artifice.api.server", "--config-file", str(conf)],
                               stdout=log, stderr=subprocess.STDOUT, cwd=REPO)  # fmt: skip
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            connection.request("GET", "/api/invoices?max=1", headers={"Authorization": f"Bearer {ADMIN}"})
            if connection.getresponse().status == 200:
                return process, port
        except OSError:
            time.sleep(0.2)
    process.kill()
    raise SystemExit(f"artifice-api did not start: {(directory / 'api.log').read_text()[-2000:]}")


def _free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class Load:
    """The clients' shared tallies."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.latencies: dict[str, list[float]] = defaultdict(list)
        self.errors: dict[str, int] = defaultdict(int)
        self.violations = 0


def request_mix(rng: random.Random, invoices: int) -> tuple[str, str, str | None]:
    """(endpoint name, path, member tenant or None for the admin)."""
    member = rng.randrange(MEMBERS) if rng.random() < 0.5 else None
    tenant = f"tenant-{member:04d}" if member is not None else None
    kind = rng.choice(("list", "totals", "single", "line items"))
    if kind == "list":  # an admin pages through everything; a member's invoices fit the first page
        return kind, f"/api/invoices?max=25&offset={rng.randrange(0, 200) if tenant is None else 0}", tenant
    if kind == "totals":
        return kind, "/api/invoices?max=25&includeTotals=true", tenant
    if kind == "single":
        number = rng.randrange(invoices) if tenant is None else member + TENANTS * rng.randrange(invoices // TENANTS)
        return kind, f"/api/invoices/{number + 1}?lineItemsMax=25", tenant
    return kind, f"/api/invoice-line-items?max=50&offset={rng.randrange(0, 500) if tenant is None else 0}", tenant


def client(port: int, seed: int, invoices: int, until: float, load: Load) -> None:
    rng = random.Random(seed)
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    while time.monotonic() < until:
        kind, path, tenant = request_mix(rng, invoices)
        token = ADMIN if tenant is None else f"member-{int(tenant.rsplit('-', 1)[1])}"
        began = time.perf_counter()
        try:
            connection.request("GET", path, headers={"Authorization": f"Bearer {token}"})
            response = connection.getresponse()
            body = response.read()
            status = response.status
        except (OSError, http.client.HTTPException):
            connection.close()
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
            status, body = 0, b""
        elapsed = time.perf_counter() - began
        violation = status == 200 and tenant is not None and not _only(json.loads(body), tenant)
        with load.lock:
            load.latencies[kind].append(elapsed)
            if status != 200:
                load.errors[kind] += 1
            load.violations += violation
    connection.close()


def _only(body: dict[str, object], tenant: str) -> bool:
    """Whether every invoice or line item of ``body`` is ``tenant``'s."""
    if "invoice" in body:
        found: object = [body["invoice"]]
    else:
        found = body["invoices"] if "invoices" in body else body["lineItems"]
    assert isinstance(found, list)
    return all(isinstance(item, dict) and item["account"]["id"] == tenant for item in found)


def run(port: int, clients: int, seconds: float, invoices: int) -> Load:
    """``clients`` clients for ``seconds``, spread over processes of at most ``PER_PROCESS`` threads each.

    One process of 50 threads would time its own turns at the GIL: an answer waiting to be read
    while other clients parse theirs counts as the API's latency.
    """
    until = time.monotonic() + seconds
    shares = [list(range(first, min(first + PER_PROCESS, clients))) for first in range(0, clients, PER_PROCESS)]
    context = multiprocessing.get_context("fork")
    with context.Pool(len(shares)) as pool:
        parts = pool.starmap(_clients, [(port, share, invoices, until) for share in shares])
    load = Load()
    for latencies, errors, violations in parts:
        for kind, times in latencies.items():
            load.latencies[kind] += times
        for kind, count in errors.items():
            load.errors[kind] += count
        load.violations += violations
    return load


def _clients(
    port: int, seeds: list[int], invoices: int, until: float
) -> tuple[dict[str, list[float]], dict[str, int], int]:
    """(In a process) clients as threads until ``until``: their tallies."""
    load = Load()
    threads = [threading.Thread(target=client, args=(port, n, invoices, until, load)) for n in seeds]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return dict(load.latencies), dict(load.errors), load.violations


def report(load: Load, clients: int, seconds: float, backend: str) -> None:
    everything = [t for kind in load.latencies.values() for t in kind]
    for kind, times in [*sorted(load.latencies.items()), ("all", everything)]:
        cuts = statistics.quantiles(times, n=100) if len(times) > 1 else [times[0]] * 99
        errors = sum(load.errors.values()) if kind == "all" else load.errors[kind]
        print(f"{backend:<10} {clients:>7} {kind:<11} {len(times):>8} {len(times) / seconds:>8.1f} "
              f"{cuts[49] * 1000:>8.1f} {cuts[94] * 1000:>8.1f} {cuts[98] * 1000:>8.1f} {errors:>6}")  # fmt: skip
    print(f"{backend:<10} {clients:>7} isolation violations: {load.violations}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--invoices", type=int, default=10000)
    parser.add_argument("--lines", type=int, default=10, help="lines (and line items) per invoice")
    parser.add_argument("--clients", default="20,50", help="comma-separated client counts")
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--workers", type=int, default=2, help="[api] workers")
    parser.add_argument("--answer-cache-mb", type=int, default=64, help="[api] answer_cache_mb (0: answers not kept)")
    parser.add_argument("--database", help="a PostgreSQL URL (emptied first); default: SQLite in a scratch dir")
    parser.add_argument("--tiny", action="store_true", help="a few seconds at a tiny size (the smoke test's)")
    args = parser.parse_args()
    if args.tiny:
        args.invoices, args.lines, args.clients, args.seconds, args.workers = 2000, 2, "4", 2.0, 1
    with tempfile.TemporaryDirectory(prefix="api-load-") as scratch:
        directory = Path(scratch)
        url = args.database or f"sqlite:///{directory / 'artifice.db'}"
        if args.database:
            engine = sa.create_engine(url)
            with engine.begin() as connection:
                connection.execute(sa.text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
            engine.dispose()
        began = time.perf_counter()
        fill(url, args.invoices, args.lines)
        backend = url.split(":", 1)[0].split("+")[0]
        print(f"# {args.invoices} invoices, {args.invoices * args.lines} line items, {backend}, "
              f"filled in {time.perf_counter() - began:.1f} s; [api] workers = {args.workers}, "
              f"answer_cache_mb = {args.answer_cache_mb}")  # fmt: skip
        process, port = start_api(directory, url, args.workers, args.answer_cache_mb)
        try:
            print(f"{'database':<10} {'clients':>7} {'endpoint':<11} {'requests':>8} {'req/s':>8} "
                  f"{'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} {'errors':>6}")  # fmt: skip
            for clients in (int(c) for c in args.clients.split(",")):
                report(run(port, clients, args.seconds, args.invoices), clients, args.seconds, backend)
        finally:
            process.terminate()
            process.wait(timeout=30)


if __name__ == "__main__":
    main()
