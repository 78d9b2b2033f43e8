"""End-to-end benchmark: bill every tenant for a month from real Gnocchi and Ceilometer servers.

    python -m tools.benchmarks.end_to_end           # Gnocchi at 100 and 1,000 tenants, Ceilometer at 100 (~20 min)
    python -m tools.benchmarks.end_to_end --tiny    # 3 and 6 tenants: what the smoke test runs

It starts the servers itself (``tools/servers/*.sh`` through
``tests.servers.Server``, one per region, two regions, as the collector tests
do; their directories on tmpfs when there is one), loads a synthetic cloud
(``tools.benchmarks.cloud``: shipped meter mapping, 10 resources per tenant, hourly
samples) through the servers' write paths (``tools.benchmarks.loaders``), and then,
in a fresh process per run so that its figures are its own, bills every
tenant with ``artifice.billing.pipeline.Pipeline`` and the CSV adapter into a
temporary directory with a SQLite database: wall time, CPU time (of the
billing process, and of the telemetry servers meanwhile), HTTP requests made
by the collector, peak RSS. Each run's quantities are checked against rating
the generated samples directly (what the server should hand back).

Gnocchi is read two ways: ``batched``, what ``artifice bill --all`` does by
default (``[collector:gnocchi] tenants_per_query``, here ``--group``: one
aggregates query per region and meter for that many tenants), and
``per-tenant`` (``tenants_per_query = 1``).

CloudKitty (25.0.0, ``tools/servers/cloudkitty.sh``) collects the same month
of ``--cloudkitty-projects`` projects from the same Gnocchi with its own
Gnocchi collector (``tools/benchmarks/cloudkitty_month.py``: every hour,
every metric, as a processor worker does). Its time per tenant-month is
counted generously: one region only (Artifice's covers both), divided by its
default worker count (one worker per CPU, each on its own project), and
without the rating and storing CloudKitty does after collecting.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import contextlib
import dataclasses
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from artifice.usage.engine import rate
from artifice.usage.mapping import load_mapping
from tests.servers import Server, free_port
from tools.benchmarks import common
from tools.benchmarks.cloud import KINDS, REGIONS, Cloud, csv_billing_conf
from tools.benchmarks.common import servers_cpu
from tools.benchmarks.loaders import bulk_ceilometer, load_ceilometer, load_gnocchi, trusted_sources, wait_gnocchi

MONTH = "2026-10"
HOURS = 744
READS_ONLY = "ARTIFICE_BENCH_READS_ONLY"  # the child only reads what billing reads (the wall / reads ratio)
SHIPPED_MAPPING = common.REPO / "etc" / "artifice" / "meters.yaml"
TARGET_SECONDS = 60.0  # Gnocchi, 1,000 tenants
TARGET_SPEEDUP = 100.0  # per tenant-month, over CloudKitty
TARGET_READS_RATIO = 1.15  # a billing run's wall time over its reads' alone (issue 19)


@dataclasses.dataclass
class Backend:
    """Telemetry servers of one kind, one per region: started here, or given (``--gnocchi-urls``)."""

    name: str
    urls: dict[str, str]
    servers: dict[str, Server]
    trust: str = "openstack"
    cloud: Cloud | None = None  # what was loaded, when loaded here


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tiny", action="store_true", help="3 and 6 tenants: the smoke test")
    parser.add_argument("--small", type=int, default=100, help="tenants of the first run (both backends)")
    parser.add_argument("--large", type=int, default=1000, help="tenants of the second run (Gnocchi only); 0: none")
    parser.add_argument("--resources", type=int, default=10, help="resources per tenant")
    parser.add_argument("--interval", type=int, default=3600, help="seconds between samples of the loaded data")
    parser.add_argument("--group", type=int, default=100, help="tenants_per_query of the batched runs")
    parser.add_argument("--backends", default="gnocchi,ceilometer")
    parser.add_argument("--per-tenant-large", action=argparse.BooleanOptionalAction, default=False,
                        help="also time the per-tenant reading at --large tenants (about 15 more minutes)")  # fmt: skip
    parser.add_argument("--ceilometer-load", choices=["bulk", "api"], default="bulk",
                        help="bulk: Ceilometer's storage code; api: POST /v2/meters (hours)")  # fmt: skip
    parser.add_argument("--cloudkitty-projects", type=int, default=2, help="project-months CloudKitty collects")
    parser.add_argument("--cloudkitty-hours", type=int, default=HOURS, help="hours of each (the rest extrapolated)")
    parser.add_argument("--server-dir", default="/dev/shm" if os.path.isdir("/dev/shm") else None,
                        help="where the servers keep their data (default: /dev/shm, a tmpfs)")  # fmt: skip
    parser.add_argument("--gnocchi-urls", help="Region=URL,... of running Gnocchi servers to bill (no loading)")
    parser.add_argument("--ceilometer-urls", help="Region=URL,... of running Ceilometer servers to bill (no loading)")
    parser.add_argument("--trust", default="openstack", help="trusted sources for --ceilometer-urls")
    args = common.parse_or_bill(parser, argv, _bill)
    if args is None:
        return 0
    if args.tiny:
        args.small, args.large, args.group, args.cloudkitty_projects, args.cloudkitty_hours = 3, 6, 4, 1, 24
    backends = [b.strip() for b in args.backends.split(",") if b.strip()]
    common.exit_on_sigterm()
    common.say("# Artifice end-to-end benchmark", *common.machine(), "")
    work = Path(tempfile.mkdtemp(prefix="artifice-bench-"))
    runs: list[dict[str, Any]] = []
    model: dict[str, Any] = {}
    try:
        if "gnocchi" in backends:
            model = _gnocchi(args, work, runs)
        if "ceilometer" in backends:
            _ceilometer(args, work, runs)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    _report(args, runs, model)
    common.say("", common.load_line())
    good = all(r["failed"] == 0 and r["agrees"] in ("yes", "not checked") for r in runs)
    return 0 if good else 1


def _cloud(args: argparse.Namespace, tenants: int) -> Cloud:
    return Cloud(tenants=tenants, resources=args.resources, interval=args.interval, profile="shipped", jitter=0)


def _urls(text: str) -> dict[str, str]:
    return dict(item.split("=", 1) for item in text.split(",") if item)


@contextlib.contextmanager
def started_servers(name: str, directory: str | None, regions: Sequence[str] = REGIONS) -> Iterator[dict[str, Server]]:
    """One server per region, started in parallel (data under ``directory``); stopped and removed afterwards."""
    servers: dict[str, Server] = {}
    previous = tempfile.tempdir
    if directory:
        base = Path(directory) / "artifice-bench-servers"
        base.mkdir(exist_ok=True)
        base.chmod(0o755)  # PostgreSQL runs as user postgres
        tempfile.tempdir = str(base)

    def start(region: str) -> None:
        servers[region] = Server(name, str(free_port())) if name == "gnocchi" else Server(name)

    try:
        with concurrent.futures.ThreadPoolExecutor(len(regions)) as pool:
            for done in [pool.submit(start, region) for region in regions]:
                done.result()
        tempfile.tempdir = previous
        yield servers
    finally:
        tempfile.tempdir = previous
        for server in servers.values():
            with contextlib.suppress(Exception):
                server.stop()
            shutil.rmtree(server.directory, ignore_errors=True)


def _gnocchi(args: argparse.Namespace, work: Path, runs: list[dict[str, Any]]) -> dict[str, Any]:
    if args.gnocchi_urls:
        backend = Backend("Gnocchi", _urls(args.gnocchi_urls), {})
        confs = _conf(work / "gnocchi", backend, args.group)
        runs += [_run(backend, mode, confs) for mode in ("batched", "per-tenant")]
        return _cloudkitty(args, backend, runs[-1]["tenant_ids"])
    began = time.perf_counter()
    with started_servers("gnocchi", args.server_dir) as servers:
        common.say(
            f"Gnocchi 4.7.1: {len(servers)} servers (one per region) started in {time.perf_counter() - began:.0f} s"
        )
        backend = Backend("Gnocchi", {region: server.url for region, server in servers.items()}, servers)
        loaded = 0
        for tenants in [t for t in (args.small, args.large) if t]:
            backend.cloud = _cloud(args, tenants)
            began = time.perf_counter()
            new = range(loaded, tenants)
            with concurrent.futures.ThreadPoolExecutor(len(REGIONS)) as pool:
                jobs = [
                    pool.submit(load_gnocchi, backend.urls[r], backend.cloud, new, i) for i, r in enumerate(REGIONS)
                ]
                counts = [job.result() for job in jobs]
            posted = time.perf_counter()
            for url in backend.urls.values():
                wait_gnocchi(url, timeout=3600)
            resources, measures = sum(c[0] for c in counts), sum(c[1] for c in counts)
            common.say(
                f"loaded tenants {loaded}..{tenants - 1}: {resources:,} resources and {measures:,} measures posted "
                f"in {posted - began:.0f} s, processed by metricd {time.perf_counter() - posted:.0f} s later"
            )
            loaded = tenants
            confs = _conf(work / f"gnocchi-{tenants}", backend, args.group)
            modes = ["batched", "per-tenant"] if tenants == args.small or args.per_tenant_large else ["batched"]
            runs += [_run(backend, mode, confs) for mode in modes]
        return _cloudkitty(args, backend, backend.cloud.tenant_ids() if backend.cloud else [])


def _ceilometer(args: argparse.Namespace, work: Path, runs: list[dict[str, Any]]) -> None:
    if args.ceilometer_urls:
        backend = Backend("Ceilometer", _urls(args.ceilometer_urls), {}, args.trust)
        runs.append(_run(backend, "per-tenant", _conf(work / "ceilometer", backend, 1)))
        return
    began = time.perf_counter()
    with started_servers("ceilometer", args.server_dir) as servers:
        took = time.perf_counter() - began
        common.say(f"Ceilometer 9.0.7: {len(servers)} API servers (one per region) started in {took:.0f} s")
        backend = Backend("Ceilometer", {region: server.url for region, server in servers.items()}, servers)
        backend.cloud = cloud = _cloud(args, args.small)
        with common.clock() as loading:
            if args.ceilometer_load == "api":
                written = load_ceilometer(backend.urls, cloud, range(cloud.tenants))
                backend.trust = ",".join(trusted_sources(cloud, range(cloud.tenants)))
            else:
                directories = {region: server.directory for region, server in servers.items()}
                written = bulk_ceilometer(directories, cloud, range(cloud.tenants))
        how = "posted to the API" if args.ceilometer_load == "api" else "written with Ceilometer's storage code"
        common.say(f"loaded {cloud.tenants} tenants: {written:,} samples {how} in {loading.wall:.0f} s")
        runs.append(_run(backend, "per-tenant", _conf(work / "ceilometer", backend, 1)))


def _conf(directory: Path, backend: Backend, group: int) -> dict[str, Path]:
    """One config per reading mode: the CSV adapter, its own SQLite database and invoice directory."""
    confs = {}
    endpoints = ",".join(f"{r}:{u}" for r, u in backend.urls.items())
    if backend.name == "Gnocchi":
        collector = f"""[collector:gnocchi]
regions = {",".join(backend.urls)}
endpoints = {endpoints}
tenants_per_query = {{per_query}}

[service_credentials]
auth_type = gnocchi-basic
user = admin
endpoint = {next(iter(backend.urls.values()))}
"""
    else:
        collector = f"""[collector:ceilometer]
regions = {",".join(backend.urls)}
endpoints = {endpoints}

[service_credentials]
auth_type = none
"""
    for mode in ("per-tenant", "batched") if backend.name == "Gnocchi" else ("per-tenant",):
        tail = f"""{collector.format(per_query=group if mode == "batched" else 1)}
[metering]
meter_mapping = {SHIPPED_MAPPING}
trust_sources = {backend.trust}
"""
        confs[mode] = csv_billing_conf(directory / mode, backend.name.lower(), tail)
    return confs


def _run(backend: Backend, mode: str, confs: dict[str, Path]) -> dict[str, Any]:
    """Bill in a fresh process: its figures, the servers' CPU meanwhile, and a check of the quantities.

    Then, in another fresh process, only the same reads: ``reads`` (wall and CPU), to set the billing
    run's wall time against the time its reads alone take.
    """
    before = servers_cpu(backend.servers)
    result = common.bill_in_child("tools.benchmarks.end_to_end", confs[mode])
    result.update(backend=backend.name, mode=mode, server_cpu=servers_cpu(backend.servers) - before)
    result["reads"] = common.bill_in_child("tools.benchmarks.end_to_end", confs[mode], {READS_ONLY: "1"})
    result["agrees"] = _agrees(result["quantities"], backend) if backend.cloud else "not checked"
    for error in result["errors"]:
        common.say(f"  failed: {error}")
    common.say(
        f"{backend.name} {mode}: {result['billed']} tenants billed in {result['wall']:.1f} s "
        f"({result['requests']:,} requests, {result['failed']} failed, quantities as expected: {result['agrees']}); "
        f"its reads alone: {result['reads']['wall']:.1f} s"
    )
    return result


def _agrees(billed: dict[str, float], backend: Backend) -> str:
    """Whether the billed quantity of each service is what rating the generated samples directly gives."""
    assert backend.cloud is not None
    cloud = backend.cloud
    rules = load_mapping(str(SHIPPED_MAPPING), 7200)
    expected: dict[str, float] = {}
    for first in range(0, cloud.tenants, 100):
        lines = rate(
            _served(backend, range(first, min(first + 100, cloud.tenants))), cloud.window, rules, ["openstack"]
        )
        for service, quantity in lines.lines.groupby("service")["quantity"].sum().items():
            expected[str(service)] = expected.get(str(service), 0.0) + float(quantity)
    if set(expected) != set(billed):
        return f"NO: services {sorted(set(expected) ^ set(billed))}"
    worst = max(abs(billed[s] - q) / max(abs(q), 1e-9) for s, q in expected.items())
    return "yes" if worst < 1e-6 else f"NO: relative difference {worst:.1e}"


def _served(backend: Backend, tenants: range) -> pd.DataFrame:
    """The samples of ``tenants`` as the backend hands them back."""
    assert backend.cloud is not None
    cloud = backend.cloud
    samples = cloud.samples(tenants)
    if backend.name == "Gnocchi":
        # What Gnocchi hands back: no sample while stopped, the first flavor, no state.
        instance = samples.series.kind[samples.index] == KINDS.index("instance")
        keep = samples.status != 1
        samples = dataclasses.replace(
            samples,
            index=samples.index[keep],
            time=samples.time[keep],
            volume=samples.volume[keep],
            flavor=np.where(instance, samples.series.flavor[samples.index], -1)[keep].astype(np.int8),
            status=np.where(instance, 0, -1)[keep].astype(np.int8),
            poll=samples.poll[keep],
        )
    frame = cloud.to_frame(samples)
    if backend.name == "Gnocchi":  # and each resource's life as the loader gave it (tests/gnocchi_loader.py)
        times = frame.groupby("resource_id", observed=True)["timestamp"]
        ended = times.transform("max") + pd.Timedelta(hours=1)
        frame["started_at"] = times.transform("min")
        frame["ended_at"] = ended.where(ended < pd.Timestamp(cloud.window.end))
    return frame


def _bill(conf_path: Path) -> dict[str, Any]:
    """(In the child process) bill every tenant of the month, or only read it (``READS_ONLY``); the figures."""
    waited = _time_http()
    if os.environ.get(READS_ONLY):
        result = common.read_month(conf_path, MONTH)
    else:
        result = common.bill_month(conf_path, MONTH)
        result["invoices"] = len(list((conf_path.parent / "invoices").glob("*.csv")))
    collector = result.pop("collector")
    result["requests"] = int(getattr(collector, "requests", 0))
    result["http"] = waited[0]
    return result


def _time_http() -> list[float]:
    """Sum, into the returned cell, the time HTTP requests take from sending to the whole answer received."""
    import requests

    waited = [0.0]
    send = requests.Session.send

    def timed(self: requests.Session, request: Any, **kwargs: Any) -> Any:
        began = time.perf_counter()
        try:
            return send(self, request, **kwargs)
        finally:
            waited[0] += time.perf_counter() - began

    requests.Session.send = timed  # type: ignore[method-assign]
    return waited


def _cloudkitty(args: argparse.Namespace, backend: Backend, projects: list[str]) -> dict[str, Any]:
    """CloudKitty's collector over the month of a few projects, one region: seconds per tenant-month."""
    if not projects or not args.cloudkitty_projects:
        return {}
    venv = common.cloudkitty_venv()
    region, url = next(iter(backend.urls.items()))
    runs = []
    for project in projects[: args.cloudkitty_projects]:
        done = subprocess.run(
            [f"{venv}/bin/python", str(common.REPO / "tools/benchmarks/cloudkitty_month.py"), "--gnocchi-url", url,
             "--project", project, "--month", MONTH, "--hours", str(args.cloudkitty_hours)],
            capture_output=True, text=True, timeout=3600,
        )  # fmt: skip
        if done.returncode != 0:
            raise RuntimeError(f"CloudKitty's collection failed:\n{done.stderr[-3000:]}")
        runs.append(json.loads(done.stdout.strip().splitlines()[-1]))
    scale = HOURS / args.cloudkitty_hours
    seconds = sum(r["seconds"] for r in runs) / len(runs) * scale
    workers = os.cpu_count() or 1
    return {
        "projects": len(runs),
        "region": region,
        "hours": args.cloudkitty_hours,
        "seconds": seconds,
        "requests": sum(r["requests"] for r in runs) / len(runs) * scale,
        "points": sum(r["points"] for r in runs) / len(runs) * scale,
        "workers": workers,
        "per_tenant": seconds / workers,
    }


def _report(args: argparse.Namespace, runs: list[dict[str, Any]], model: dict[str, Any]) -> None:
    common.say("", "## Billing every tenant for a month (CSV adapter, SQLite)")
    rows = [
        [r["backend"], r["mode"], r["billed"], f"{r['wall']:.1f} s", f"{r['reads']['wall']:.1f} s",
         f"{r['wall'] / max(r['reads']['wall'], 1e-9):.2f}x", f"{r['http']:.1f} s", f"{r['cpu']:.1f} s",
         f"{r['server_cpu']:.1f} s", r["requests"], f"{r['requests'] / max(r['billed'], 1):.1f}",
         f"{r['peak_rss_mb']:.0f} MiB",
         f"{r['wall'] / max(r['billed'], 1) * 1000:.0f} ms", r["samples"], r["total"], r["agrees"]]
        for r in runs
    ]  # fmt: skip
    headers = ["backend", "reading", "tenants", "wall", "its reads alone", "wall / reads", "waiting for HTTP",
               "CPU (Artifice)", "CPU (servers)",
               "HTTP requests", "per tenant", "peak RSS", "wall per tenant", "samples rated", "total (EUR)",
               "as expected"]  # fmt: skip
    common.say(
        common.table(headers, rows),
        f"{args.resources} resources per tenant, samples every {args.interval} s, two regions; batched: "
        f"tenants_per_query = {args.group}. Waiting for HTTP: from sending each request to its whole answer "
        "received. CPU (servers): API workers, metricd and PostgreSQL during the run. Its reads alone: the same "
        "requests in a fresh process (tenants, then each batch as billing reads it), nothing rated or recorded.",
    )
    if model:
        measured = (
            "a whole month"
            if model["hours"] == HOURS
            else f"{model['hours']} hours, times {HOURS / model['hours']:.0f}"
        )
        common.say(
            "",
            "## CloudKitty 25.0.0 collecting the same month (tools/benchmarks/cloudkitty_month.py)",
            f"{model['projects']} project(s), {measured}, region {model['region']} only: per project-month "
            f"{model['seconds']:,.0f} s and {model['requests']:,.0f} HTTP requests "
            f"({model['requests'] / HOURS:.0f} per hour), {model['points']:,.0f} data points; "
            f"over its {model['workers']} workers "
            f"{model['per_tenant']:,.1f} s per tenant-month, before rating or storing anything.",
        )
    gnocchi = [r for r in runs if r["backend"] == "Gnocchi"]
    if gnocchi and model:
        largest = max(r["billed"] for r in gnocchi)
        at_largest = [r for r in gnocchi if r["billed"] == largest]
        best = min(at_largest, key=lambda r: r["wall"])
        per_tenant = best["wall"] / max(best["billed"], 1)
        ratio = model["per_tenant"] / per_tenant
        rows = [
            [f"Gnocchi, {largest:,} tenants: wall ({best['mode']})", f"< {TARGET_SECONDS:.0f} s",
             f"{best['wall']:.1f} s", "met" if best["wall"] < TARGET_SECONDS else "MISSED"],
            ["per tenant-month, CloudKitty / Artifice", f">= {TARGET_SPEEDUP:.0f}x", f"{ratio:,.0f}x",
             "met" if ratio >= TARGET_SPEEDUP else "MISSED"],
            [f"wall / its reads alone ({best['mode']}, {largest:,} tenants)", f"<= {TARGET_READS_RATIO:.2f}x",
             f"{best['wall'] / best['reads']['wall']:.2f}x",
             "met" if best["wall"] <= TARGET_READS_RATIO * best["reads"]["wall"] else "MISSED"],
        ]  # fmt: skip
        rows += [
            [f"HTTP requests per tenant ({r['mode']})", "a handful; fewer batched",
             f"{r['requests'] / max(r['billed'], 1):.2f}", ""]
            for r in at_largest
        ]  # fmt: skip
        common.say("", "## Targets", common.table(["figure", "target", "measured", "verdict"], rows))
        model_per_tenant = model["per_tenant"]
        common.say(
            "",
            f"Per tenant-month, every Gnocchi run against CloudKitty ({model_per_tenant:.1f} s):",
            common.table(
                ["reading", "tenants", "Artifice per tenant-month", "CloudKitty / Artifice"],
                [[r["mode"], r["billed"], f"{r['wall'] / max(r['billed'], 1):.3f} s",
                  f"{model_per_tenant / (r['wall'] / max(r['billed'], 1)):,.0f}x"] for r in gnocchi],
            ),
        )  # fmt: skip


if __name__ == "__main__":
    sys.exit(main())
