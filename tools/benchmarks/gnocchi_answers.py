"""What answering Artifice's reads costs Gnocchi itself: the floor under any Gnocchi client's wall time.

Loads a month of ``--tenants`` tenants (one region, hourly) into a Gnocchi
4.7.1 it starts, or reads a running one (``--gnocchi-url``). Then, for each
meter of the shipped mapping, it sends the aggregates query Artifice's
collector sends for a batch of tenants (every bucket of every resource,
grouped by project and resource) and the same query resampled server-side to
one point per resource per 31 days: the least any per-resource read can ask
Gnocchi for. For each it prints the server's CPU time (API workers, metricd,
PostgreSQL), the points and bytes answered, and what that costs per
tenant-month. Resampling changes what is billed (gaps, resizes and counter
resets disappear in the sums), so Artifice does not do it; the second figure
says how far below the first a client could go at best.
"""

from __future__ import annotations

import argparse
import contextlib
import math
import sys
import time
from collections.abc import Iterator, Sequence
from typing import Any

import requests

from artifice.collectors.gnocchi_archives import PREFERRED_AGGREGATION
from artifice.collectors.options import DEFAULT_RESOURCE_TYPES
from artifice.timeutil import parse_month
from artifice.usage.mapping import load_mapping
from tools.benchmarks import common
from tools.benchmarks.cloud import REGIONS, Cloud
from tools.benchmarks.end_to_end import MONTH, SHIPPED_MAPPING, servers_cpu, started_servers
from tools.benchmarks.loaders import load_gnocchi, wait_gnocchi

WINDOW = parse_month(MONTH)
SPAN: dict[str, Any] = {"start": WINDOW.start.isoformat(), "stop": WINDOW.end.isoformat(), "granularity": 3600}
AUTH = ("admin", "")  # Gnocchi's basic auth, as the test servers run it
QUERIES = {
    "every bucket (what Artifice reads)": "(metric {meter} {aggregation})",
    "one point per resource (resampled)": "(resample sum 2678400 (metric {meter} {aggregation}))",
}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tiny", action="store_true", help="5 tenants: the smoke test")
    parser.add_argument("--tenants", type=int, default=100, help="tenants loaded and read in one query per meter")
    parser.add_argument("--gnocchi-url", help="a running Gnocchi to read (no loading; its CPU is not measured)")
    parser.add_argument("--server-dir", default="/dev/shm", help="where a started Gnocchi keeps its data")
    args = parser.parse_args(argv)
    common.exit_on_sigterm()
    tenants = 5 if args.tiny else args.tenants
    common.say("# What Artifice's Gnocchi reads cost Gnocchi", *common.machine(), "")
    with _gnocchi(args, tenants) as (url, cpu, project_ids):
        resting = _at_rest(cpu)
        common.say(
            f"Gnocchi at rest (metricd polling, PostgreSQL): {resting:.3f} CPU-s per second, taken off below",
            "",
            f"## What Gnocchi spends answering one read of {len(project_ids)} tenants' month, one region",
        )
        meters = _meters()
        rows = [_ask(url, cpu, template, project_ids, meters) | {"label": label} for label, template in QUERIES.items()]
        for row in rows:
            row["cpu"] -= resting * row["wall"]
    table = [
        [r["label"], _seconds(r["cpu"]), _seconds(r["wall"]), r["points"], f"{r['mb']:.1f}",
         _seconds(r["cpu"] / len(project_ids))]
        for r in rows
    ]  # fmt: skip
    common.say(
        common.table(["query", "Gnocchi CPU", "wall", "points", "MB", "Gnocchi CPU per tenant-month"], table),
        f"meters: {', '.join(meters)}; one query per meter, as Artifice's collector sends them for a batch",
    )
    if not math.isnan(rows[0]["cpu"]):
        floor = [2 * 1000 * r["cpu"] / len(project_ids) for r in rows]  # two regions
        common.say(
            f"At 1,000 tenants in two regions Gnocchi needs {floor[0]:.0f} CPU-seconds to answer every bucket "
            f"and {floor[1]:.0f} to answer one point per resource: on 2 cores, at least {floor[0] / 2:.0f} s "
            f"and {floor[1] / 2:.0f} s of wall time before any client work."
        )
    common.say("", common.load_line())
    return 0


@contextlib.contextmanager
def _gnocchi(args: argparse.Namespace, tenants: int) -> Iterator[tuple[str, Any, list[str]]]:
    """(URL, CPU-seconds-so-far function, project ids) of the Gnocchi to read: given, or started and loaded here."""
    if args.gnocchi_url:
        yield args.gnocchi_url, lambda: float("nan"), _projects(args.gnocchi_url)
        return
    with started_servers("gnocchi", args.server_dir, REGIONS[:1]) as servers:
        (server,) = servers.values()
        began = time.perf_counter()
        cloud = Cloud(tenants=tenants, resources=10, interval=3600, profile="shipped", jitter=0)
        resources, measures = load_gnocchi(server.url, cloud, range(tenants), 0)
        wait_gnocchi(server.url, timeout=3600)
        common.say(f"loaded {resources:,} resources, {measures:,} measures in {time.perf_counter() - began:.0f} s")
        yield server.url, lambda: servers_cpu(servers), cloud.tenant_ids()


def _at_rest(cpu: Any, seconds: float = 5.0) -> float:
    """The servers' CPU-seconds per second while nobody asks anything (NaN when not measured)."""
    before = cpu()
    time.sleep(0 if math.isnan(before) else seconds)
    return float(cpu() - before) / seconds


def _seconds(value: float) -> str:
    return "not measured" if math.isnan(value) else f"{value:.3f} s"


def _meters() -> dict[str, str]:
    """The Gnocchi metric of each mapped meter -> the aggregation Artifice reads (this policy has every method)."""
    rules = load_mapping(str(SHIPPED_MAPPING), 7200)
    return {rule.metric: PREFERRED_AGGREGATION.get(rule.transformer, "mean") for rule in rules.values()}


def _projects(url: str) -> list[str]:
    """The projects owning resources in a running Gnocchi (its first 1,000 resources)."""
    answer = requests.post(f"{url}/v1/search/resource/generic", params={"limit": 1000}, json={}, auth=AUTH)
    answer.raise_for_status()
    return sorted({str(r["project_id"]) for r in answer.json() if r.get("project_id")})


def _ask(url: str, cpu: Any, template: str, project_ids: list[str], meters: dict[str, str]) -> dict[str, Any]:
    """Every meter's query of this shape, timed: the server's CPU and the answers' size."""
    points, size = 0, 0
    before, began = cpu(), time.perf_counter()
    for meter, aggregation in meters.items():
        body: dict[str, Any] = {
            "operations": template.format(meter=meter, aggregation=aggregation),
            "search": {"in": {"project_id": project_ids}},
            "resource_type": DEFAULT_RESOURCE_TYPES.get(meter, "generic"),
        }
        answer = requests.post(f"{url}/v1/aggregates", params={**SPAN, "groupby": ["project_id", "id"]}, json=body,
                               auth=AUTH, headers={"Accept": "application/json"})  # fmt: skip
        if answer.status_code == 404:  # no metric of this meter here
            continue
        answer.raise_for_status()
        size += len(answer.content)
        points += sum(
            len(series)
            for group in answer.json()
            for metrics in group["measures"]["measures"].values()
            for aggregations in metrics.values()
            for series in aggregations.values()
        )
    return {"cpu": cpu() - before, "wall": time.perf_counter() - began, "points": points,
            "mb": size / common.MB}  # fmt: skip


if __name__ == "__main__":
    sys.exit(main())
