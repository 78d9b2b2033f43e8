"""CloudKitty's whole processor against Artifice: rating the same month of one real Gnocchi to the same total.

    python -m tools.benchmarks.cloudkitty_processor                           # 5 x 4, then 20 x 10 (~55 min)
    python -m tools.benchmarks.cloudkitty_processor --projects 20 --instances 10
    python -m tools.benchmarks.cloudkitty_processor --tiny                    # 1 x 1 over 2 days: the smoke test

For each size (projects x instances) it starts a Gnocchi 4.7.1 and a
PostgreSQL (``tools/servers``, data on ``/dev/shm``, free ports) and loads
each instance with a ``vcpus`` metric (1, 2, 4 or 8 vCPUs, one measure every
10 minutes from 2026-10-01 00:00 UTC to the end of the month; with
``--days N``, for N days only, each instance then ending, ``ended_at`` set,
and both tools rate those N days). Its archive policy keeps 10-minute and
hourly means (nothing else: both tools read means): the 10-minute
ones are what Artifice reads (the finest granularity its policy holds), the
hourly ones what CloudKitty's Gnocchi collector asks for (``granularity`` =
its ``force_granularity``, 3600 s; Gnocchi refuses a granularity the policy
lacks). Both archives keep the month and the time since, so that Artifice's
collector, which checks the archive still reaches back to the month's start
*now*, reads the 10-minute one.

Then it rates that month twice, at 0.0125 EUR per vCPU-hour:

- **Artifice**: ``artifice bill --all --month 2026-10``, a real process, with
  the CSV adapter and SQLite and a meter mapping billing ``vcpus`` as a gauge
  in vcpu-hours. Its wall time and CPU (the child's), Gnocchi's CPU
  meanwhile, and the sum of its invoices.
- **CloudKitty 25.0.0**: its own ``cloudkitty-processor`` (in the venv of
  ``tools/servers/cloudkitty.sh``, launched by ``cloudkitty_launcher.py``,
  which also says what it changes: one argument of its Gnocchi requests, and
  its tables created from its models rather than its migrations):
  Gnocchi collector (``vcpus``, unit vcpu, mean, grouped by id, user_id and
  project_id with the flavor's name and id as metadata, as CloudKitty's sample
  metrics.yml has an instance), hashmap rating (a flat service mapping of the
  same price per unit and period: per vCPU-hour), storage v1 ``sqlalchemy``
  (v2 needs InfluxDB, Elasticsearch, OpenSearch or Loki) on that PostgreSQL,
  ``[fetcher] backend = source`` with the project ids, a ``file://``
  coordination URL, its default workers (one processor and one reprocessor
  per CPU), and ``TZ=UTC``. Every scope's storage state starts one period
  before 2026-10-01 00:00, and ``[collect] wait_periods`` is set so that the
  last period due is the month's last hour. Its wall time runs from starting the
  processor until every scope's last processed period (CloudKitty stores a
  period's start) is that hour; its CPU is the processor's processes'
  (master, workers and what they reaped) at that moment; its PostgreSQL's
  and Gnocchi's CPU over the same time are reported beside it. Its total is
  the sum of the rated data it stored for the month.

Both totals, and the one the loaded data gives, must be equal to the cent;
the script exits non-zero otherwise. The servers' CPU includes metricd's
polling at rest (about 0.05 CPU-second per second).
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import datetime as dt
import json
import math
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator, Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from tests import gnocchi_loader
from tests.servers import Server
from tools.benchmarks import common
from tools.benchmarks.cloud import csv_billing_conf
from tools.benchmarks.end_to_end import MONTH, started_servers
from tools.benchmarks.loaders import wait_gnocchi

FIRST = dt.datetime(2026, 10, 1, tzinfo=dt.UTC)
MONTH_DAYS = 31
STEP = 600  # seconds between measures
PERIOD = 3600  # CloudKitty's [collect] period (its default), and the granularity its collector reads
PRICE = Decimal("0.0125")  # EUR per vCPU-hour
VCPUS = (1, 2, 4, 8)
POLICY = "artifice-cloudkitty"
REGION = "RegionOne"
TARGET = 300.0  # per tenant-month at 20 x 10, CloudKitty's processor / Artifice (issue 19)
TARGET_SIZE = (20, 10)
LAUNCHER = Path(__file__).with_name("cloudkitty_launcher.py")
NAMESPACE = uuid.UUID("8f6a5d2e-4c1b-4e8f-9a7d-3b2c1d0e9f8a")
STALL = 300.0  # seconds without a scope moving before CloudKitty's run is declared stuck
MAPPING = """meters:
  vcpus:
    transformer: gauge
    unit: vcpu-hour
    category: compute
    description: "vCPUs (vCPU-hours)"
"""
# CloudKitty's metrics.yml for vcpus, grouped and described as its own sample metrics.yml does an instance
# (the flavor kept with each rated point: one resource search per period and scope).
METRICS = {
    "metrics": {
        "vcpus": {
            "unit": "vcpu",
            "groupby": ["id", "user_id", "project_id"],
            "metadata": ["flavor_name", "flavor_id"],
            "extra_args": {"aggregation_method": "mean", "re_aggregation_method": "mean", "resource_type": "instance"},
        }
    }
}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="5x4,20x10", help="projects x instances per project, one run each")
    parser.add_argument("--projects", type=int, help="with --instances: this one size instead of --sizes")
    parser.add_argument("--instances", type=int, help="instances per project (with --projects)")
    parser.add_argument("--days", type=int, default=MONTH_DAYS, help="days of data from 2026-10-01 (31: the month)")
    parser.add_argument("--tiny", action="store_true", help="1 project x 1 instance over 2 days: the smoke test")
    parser.add_argument("--server-dir", default="/dev/shm" if os.path.isdir("/dev/shm") else None,
                        help="where the servers keep their data (default: /dev/shm, a tmpfs)")  # fmt: skip
    args = parser.parse_args(argv)
    if (args.projects is None) != (args.instances is None):
        parser.error("--projects and --instances go together")
    sizes = [(args.projects, args.instances)] if args.projects else _sizes(args.sizes)
    if args.tiny:
        sizes, args.days = [(1, 1)], 2
    if not 1 <= args.days <= MONTH_DAYS:
        parser.error(f"--days must be between 1 and {MONTH_DAYS}")
    common.exit_on_sigterm()
    common.say("# CloudKitty's whole processor and Artifice rating the same Gnocchi month", *common.machine(), "")
    venv = common.cloudkitty_venv()
    end = FIRST + dt.timedelta(days=args.days)
    runs = [_compare(args.server_dir, venv, projects, instances, end) for projects, instances in sizes]
    _report(runs, end)
    common.say("", common.load_line())
    return 0 if all(run["equal"] for run in runs) else 1


def _sizes(text: str) -> list[tuple[int, int]]:
    pairs = [item.strip().lower().split("x") for item in text.split(",") if item.strip()]
    return [(int(projects), int(instances)) for projects, instances in pairs]


def _compare(server_dir: str | None, venv: str, projects: int, instances: int, end: dt.datetime) -> dict[str, Any]:
    """One size: fresh servers, the data loaded, Artifice's run then CloudKitty's; their figures."""
    common.say(f"## {projects} x {instances}")
    work = Path(tempfile.mkdtemp(prefix="artifice-ck-processor-"))
    try:
        with (
            started_servers("gnocchi", server_dir, [REGION]) as gnocchi,
            started_servers("postgres", server_dir, ["cloudkitty"]) as database,
        ):
            url = gnocchi[REGION].url
            with common.clock() as loading:
                ids, vcpu_hours = _load(url, projects, instances, end)
            common.say(f"loaded {projects * instances} instances, {vcpu_hours:,} vCPU-hours, in {loading.wall:.0f} s")
            artifice = _artifice(url, gnocchi, work / "artifice")
            common.say(f"Artifice: {artifice['wall']:.1f} s, total {artifice['total']} EUR")
            cloudkitty = _cloudkitty(venv, url, gnocchi, database, work / "cloudkitty", ids, end)
            common.say(f"CloudKitty: {cloudkitty['wall']:.1f} s, total {cloudkitty['total']} EUR", "")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    expected = (PRICE * vcpu_hours).quantize(Decimal("0.01"))
    totals = {artifice["total"], cloudkitty["total"], expected}
    return {"projects": projects, "instances": instances, "vcpu_hours": vcpu_hours, "expected": expected,
            "artifice": artifice, "cloudkitty": cloudkitty, "equal": len(totals) == 1}  # fmt: skip


def _load(url: str, projects: int, instances: int, end: dt.datetime) -> tuple[list[str], int]:
    """Every instance's resource and measures, processed by metricd: (project ids, vCPU-hours loaded)."""
    gnocchi = gnocchi_loader.client(url)
    days = (dt.datetime.now(dt.UTC) - FIRST).days + 40  # the month, the time since, and a margin
    gnocchi.archive_policy.create({
        "name": POLICY, "back_window": 0, "aggregation_methods": ["mean"],
        "definition": [{"granularity": f"{g} s", "timespan": f"{days} days"} for g in (STEP, PERIOD)],
    })  # fmt: skip
    stamps = [(FIRST + dt.timedelta(seconds=s)).isoformat() for s in range(0, int((end - FIRST).total_seconds()), STEP)]
    ids = [uuid.uuid5(NAMESPACE, f"project-{p}").hex for p in range(projects)]  # 32 characters, as CloudKitty v1 keeps
    batch: dict[str, dict[str, list[dict[str, Any]]]] = {}
    vcpu_hours = 0
    for number in range(projects * instances):
        project, vcpus = ids[number // instances], VCPUS[number % len(VCPUS)]
        resource = str(uuid.uuid5(NAMESPACE, f"instance-{number}"))
        body = {"id": resource, "project_id": project, "user_id": project, "started_at": FIRST.isoformat(),
                "display_name": f"vm-{number}", "flavor_id": f"v{vcpus}", "flavor_name": f"v{vcpus}",
                "host": "compute-1", "metrics": {"vcpus": {"archive_policy_name": POLICY, "unit": "vcpu"}}}  # fmt: skip
        if end < FIRST + dt.timedelta(days=MONTH_DAYS):
            body["ended_at"] = end.isoformat()  # deleted then: Artifice bills its last stretch up to there
        gnocchi.resource.create("instance", body)
        batch[resource] = {"vcpus": [{"timestamp": stamp, "value": vcpus} for stamp in stamps]}
        vcpu_hours += vcpus * len(stamps) * STEP // 3600
        if len(batch) == 20 or number == projects * instances - 1:
            gnocchi.metric.batch_resources_metrics_measures(batch)
            batch = {}
    wait_gnocchi(url, timeout=3600)
    return ids, vcpu_hours


def _artifice(url: str, gnocchi: dict[str, Server], directory: Path) -> dict[str, Any]:
    """``artifice bill --all`` in its own process: wall, CPU, Gnocchi's CPU meanwhile, the invoices' sum."""
    directory.mkdir(parents=True)
    mapping = directory / "meters.yaml"
    mapping.write_text(MAPPING, encoding="utf-8")
    tail = f"""[collector:gnocchi]
regions = {REGION}
endpoints = {REGION}:{url}

[service_credentials]
auth_type = gnocchi-basic
user = admin
endpoint = {url}

[metering]
meter_mapping = {mapping}
"""
    conf = csv_billing_conf(directory, "gnocchi", tail)
    rates = "datacenter,service,unit,price,currency\n" + f"*,vcpus,vcpu-hour,{PRICE},EUR\n"
    (directory / "rates.csv").write_text(rates, encoding="utf-8")  # instead of the synthetic cloud's rates
    artifice = Path(sys.executable).with_name("artifice")
    command = [str(artifice)] if artifice.exists() else [sys.executable, "-m", "artifice.cli.main"]
    before = common.servers_cpu(gnocchi)
    with common.clock() as took:
        done = subprocess.run([*command, "--config-file", str(conf), "bill", "--all", "--month", MONTH],
                              capture_output=True, text=True, cwd=common.REPO, timeout=3600)  # fmt: skip
    if done.returncode != 0:
        raise RuntimeError(f"artifice bill --all failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
    total, quantity = _invoices(directory / "invoices")
    return {"wall": took.wall, "cpu": took.cpu, "gnocchi_cpu": common.servers_cpu(gnocchi) - before,
            "database_cpu": None, "total": total, "vcpu_hours": quantity, "points": None}  # fmt: skip


def _invoices(directory: Path) -> tuple[Decimal, Decimal]:
    """The sum of the CSV invoices' totals, and of their lines' quantities."""
    total = quantity = Decimal(0)
    for path in sorted(directory.glob("*.csv")):
        with path.open(newline="", encoding="utf-8") as handle:
            for row in csv.DictReader(handle):
                if row["record"] == "total":
                    total += Decimal(row["amount"])
                elif row["record"] == "line":
                    quantity += Decimal(row["quantity"])
    return total, quantity


def _cloudkitty(venv: str, url: str, gnocchi: dict[str, Server], database: dict[str, Server], directory: Path,
                ids: list[str], end: dt.datetime) -> dict[str, Any]:  # fmt: skip
    """CloudKitty's processor from the first period until every scope has processed the last: its figures."""
    db_url = next(iter(database.values())).url
    conf = _cloudkitty_conf(directory, url, db_url, ids, end)
    python, env = f"{venv}/bin/python", {**os.environ, "TZ": "UTC"}
    log = directory / "cloudkitty.log"  # CloudKitty logs there (log_file), the processor's output too
    prepare = [python, str(LAUNCHER), "prepare", "--service", "vcpus", "--price", str(PRICE),
               "--begin", FIRST.isoformat(), "--config-file", str(conf)]  # fmt: skip
    done = subprocess.run(prepare, capture_output=True, text=True, env=env, timeout=600)
    if done.returncode != 0:
        raise RuntimeError(f"cloudkitty_launcher.py prepare failed:\n{_tail(log)}")
    engine = sa.create_engine(db_url)
    last = (end - dt.timedelta(seconds=PERIOD)).replace(tzinfo=None)  # CloudKitty's state: a period's start
    servers = {"gnocchi_cpu": gnocchi, "database_cpu": database}
    try:
        before = {name: common.servers_cpu(server) for name, server in servers.items()}
        began = time.perf_counter()
        with _processor([python, str(LAUNCHER), "processor", "--config-file", str(conf)], env, log) as processor:
            finished = _wait_processed(engine, processor, len(ids), last, log)
            cpu = common.process_tree_cpu({processor.pid})
            used = {name: common.servers_cpu(server) - before[name] for name, server in servers.items()}
        points, quantity, rated = _rated(engine, end)
    finally:
        engine.dispose()
    total = Decimal(repr(rated)).quantize(Decimal("0.01"))  # a sum of floats: CloudKitty v1 stores prices so
    return {"wall": finished - began, "cpu": cpu, **used, "total": total, "vcpu_hours": quantity, "points": points}


def _cloudkitty_conf(directory: Path, url: str, db_url: str, ids: list[str], end: dt.datetime) -> Path:
    """cloudkitty.conf and metrics.yml; ``wait_periods`` makes the period ending at ``end`` the last one due now."""
    directory.mkdir(parents=True)
    metrics = directory / "metrics.yml"
    metrics.write_text(json.dumps(METRICS, indent=2), encoding="utf-8")  # JSON is YAML
    wait_periods = math.ceil((dt.datetime.now(dt.UTC) - end).total_seconds() / PERIOD)
    conf = directory / "cloudkitty.conf"
    conf.write_text(
        f"""[DEFAULT]
transport_url = fake:/
log_file = {directory / "cloudkitty.log"}

[database]
connection = {db_url}

[collect]
collector = gnocchi
period = {PERIOD}
wait_periods = {wait_periods}
metrics_conf = {metrics}
scope_key = project_id

[collector_gnocchi]
gnocchi_auth_type = basic
gnocchi_user = admin
gnocchi_endpoint = {url}
region_name = {REGION}

[fetcher]
backend = source

[fetcher_source]
sources = {",".join(ids)}

[orchestrator]
coordination_url = file://{directory / "locks"}

[storage]
backend = sqlalchemy
version = 1
""",
        encoding="utf-8",
    )
    return conf


@contextlib.contextmanager
def _processor(command: list[str], env: dict[str, str], log: Path) -> Iterator[subprocess.Popen[bytes]]:
    """The processor in its own session (its workers with it), stopped afterwards: TERM, then KILL."""
    with log.open("ab") as output:
        processor = subprocess.Popen(command, stdout=output, stderr=subprocess.STDOUT, env=env, start_new_session=True)
    try:
        yield processor
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(processor.pid, signal.SIGTERM)
        try:
            processor.wait(60)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(processor.pid, signal.SIGKILL)
            processor.wait()


def _wait_processed(engine: sa.Engine, processor: subprocess.Popen[bytes], scopes: int, last: dt.datetime,
                    log: Path) -> float:  # fmt: skip
    """Poll the storage state until all ``scopes`` processed the period starting at ``last``: that moment."""
    query = sa.text("SELECT last_processed_timestamp FROM cloudkitty_storage_states")
    seen: list[dt.datetime] = []
    moved = time.perf_counter()
    while True:
        with engine.connect() as connection:
            states = sorted(row[0] for row in connection.execute(query))
        now = time.perf_counter()
        if len(states) == scopes and states[0] >= last:
            return now
        if states != seen:
            seen, moved = states, now
        if processor.poll() is not None or now - moved > STALL:
            why = "exited" if processor.returncode is not None else f"processed nothing for {STALL:.0f} s"
            raise RuntimeError(f"cloudkitty-processor {why} (states: {states[:3]}...):\n{_tail(log)}")
        time.sleep(0.25)


def _tail(log: Path) -> str:
    return log.read_text(errors="replace")[-4000:] if log.exists() else f"(no {log})"


def _rated(engine: sa.Engine, end: dt.datetime) -> tuple[int, Decimal, float]:
    """What CloudKitty stored for the month: (rated data points, their quantity, their prices' sum)."""
    query = sa.text(
        "SELECT count(*), coalesce(sum(qty), 0), coalesce(sum(rate), 0) FROM rated_data_frames "
        "WHERE res_type <> '_NO_DATA_' AND begin >= :first AND \"end\" <= :end"
    )
    with engine.connect() as connection:
        row = connection.execute(query, {"first": FIRST.replace(tzinfo=None), "end": end.replace(tzinfo=None)}).one()
    return int(row[0]), Decimal(row[1]), float(row[2])


def _report(runs: list[dict[str, Any]], end: dt.datetime) -> None:
    whole = end == FIRST + dt.timedelta(days=MONTH_DAYS)
    span = "month" if whole else f"{(end - FIRST).days}-day span"
    workers = os.cpu_count() or 1
    headers = ["projects x instances", "tool", "wall", "CPU", "CPU (its database)", "Gnocchi CPU",
               f"wall per tenant-{span}", "data points rated", "vCPU-hours", "total (EUR)"]  # fmt: skip
    for run in runs:
        size = f"{run['projects']} x {run['instances']}"
        totals = f"CloudKitty {run['cloudkitty']['total']}, Artifice {run['artifice']['total']}"
        common.say(
            "",
            f"## CloudKitty's processor and Artifice, {size}, the {span} from {FIRST:%Y-%m-%d} (UTC)",
            common.table(headers, [_row(run, "cloudkitty", workers), _row(run, "artifice", workers)]),
            f"as loaded: {run['vcpu_hours']:,} vCPU-hours at {PRICE} EUR = {run['expected']} EUR; totals equal to "
            f"the cent: {'yes' if run['equal'] else f'NO: {totals}'}",
        )
    common.say(
        f"CloudKitty: Gnocchi collector (vcpus, the mean of each {PERIOD} s period), hashmap (flat {PRICE} per vcpu "
        f"and period), storage v1 sqlalchemy on PostgreSQL, {workers} processor and {workers} reprocessor workers "
        "(its default: one per CPU); CPU: the processor's processes; CPU (its database): that PostgreSQL's. "
        f"Artifice: the {STEP // 60}-minute means, CSV adapter, SQLite in its own process. Gnocchi CPU: its API "
        "workers, metricd (which polls every second, even at rest) and its PostgreSQL."
    )
    rows = []
    for run in runs:
        size = f"({run['projects']} x {run['instances']})"
        ck, art = run["cloudkitty"], run["artifice"]
        ratio = ck["wall"] / art["wall"]
        targeted = (run["projects"], run["instances"]) == TARGET_SIZE
        verdict = ("met" if ratio >= TARGET else "MISSED") if whole else "(not a whole month)"
        rows += [
            [f"per tenant-{span}, CloudKitty processor / Artifice {size}", f">= {TARGET:.0f}x" if targeted else
             "(no target)", f"{ratio:,.0f}x", verdict if targeted else ""],
            [f"CPU, CloudKitty processor and its database / Artifice {size}", "(no target)",
             f"{(ck['cpu'] + ck['database_cpu']) / art['cpu']:,.0f}x", ""],
        ]  # fmt: skip
    common.say("", "## Targets", common.table(["figure", "target", "measured", "verdict"], rows))


def _row(run: dict[str, Any], tool: str, workers: int) -> list[object]:
    r = run[tool]
    label = f"CloudKitty 25.0.0 cloudkitty-processor ({workers} workers)" if tool == "cloudkitty" else (
        "Artifice artifice bill --all")  # fmt: skip
    return [f"{run['projects']} x {run['instances']}", label, f"{r['wall']:.1f} s", f"{r['cpu']:.1f} s",
            "in process (SQLite)" if r["database_cpu"] is None else f"{r['database_cpu']:.1f} s",
            f"{r['gnocchi_cpu']:.1f} s", f"{r['wall'] / run['projects']:.2f} s",
            "-" if r["points"] is None else r["points"], f"{r['vcpu_hours']:,.1f}", r["total"]]  # fmt: skip


if __name__ == "__main__":
    sys.exit(main())
