"""Collect one project's month from Gnocchi with OpenStack CloudKitty's own collector, timed.

    $(tools/servers/cloudkitty.sh venv)/bin/python tools/benchmarks/cloudkitty_month.py \\
        --gnocchi-url URL --project ID [--hours 744]

Runs in CloudKitty's venv (it imports CloudKitty 25.0.0, not Artifice). It
does what a CloudKitty processor worker does to collect a scope: for every
collect period (``[collect] period``, 3600 s) from the first hour of the month,
``GnocchiCollector.retrieve`` of each metric of the metrics configuration,
the metrics of one period on the worker's thread pool (``[orchestrator]
max_threads``, 16), periods one after the other. Rating and storing the
data points, which CloudKitty does next, are not run, so the figure is a
lower bound of CloudKitty's time. One argument is dropped from its
aggregates requests (see ``fetch_without_history``). Prints one JSON line: seconds, HTTP
requests, periods, data points.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import datetime as dt
import json
import sys
import time

import requests
from oslo_config import cfg

# The metrics of CloudKitty's sample metrics.yml that Artifice's shipped mapping also bills.
METRICS = {
    "metrics": {
        "instance": {
            "unit": "instance",
            "alt_name": "flavor",
            "groupby": ["id", "project_id"],
            "metadata": ["flavor_name", "flavor_id"],
            "mutate": "NUMBOOL",
            "extra_args": {"aggregation_method": "mean", "resource_type": "instance"},
        },
        "volume.size": {
            "unit": "GiB",
            "groupby": ["id", "project_id"],
            "metadata": ["volume_type"],
            "extra_args": {"aggregation_method": "mean", "resource_type": "volume"},
        },
        "image.size": {
            "unit": "MiB",
            "factor": "1/1048576",
            "groupby": ["id", "project_id"],
            "metadata": ["container_format", "disk_format"],
            "extra_args": {"aggregation_method": "mean", "resource_type": "image"},
        },
        **{
            meter: {
                "unit": "MB",
                "factor": "1/1000000",
                "groupby": ["id", "project_id"],
                "metadata": ["instance_id"],
                "extra_args": {"aggregation_method": "max", "resource_type": "instance_network_interface"},
            }
            for meter in ("network.incoming.bytes", "network.outgoing.bytes")
        },
    }
}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--gnocchi-url", required=True)
    parser.add_argument("--project", required=True)
    parser.add_argument("--month", default="2026-10")
    parser.add_argument("--hours", type=int, default=744, help="collect periods to run from the month's start")
    args = parser.parse_args()

    from cloudkitty import collector
    from cloudkitty.collector import gnocchi

    cfg.CONF([], project="cloudkitty")
    cfg.CONF.set_override("gnocchi_auth_type", "basic", "collector_gnocchi")
    cfg.CONF.set_override("gnocchi_user", "admin", "collector_gnocchi")
    cfg.CONF.set_override("gnocchi_endpoint", args.gnocchi_url, "collector_gnocchi")
    period = cfg.CONF.collect.period
    threads = 16  # [orchestrator] max_threads' default

    sent = [0]
    send = requests.Session.send

    def counted(self: requests.Session, request: requests.PreparedRequest, **kwargs: object) -> requests.Response:
        sent[0] += 1
        return send(self, request, **kwargs)  # type: ignore[arg-type]

    requests.Session.send = counted  # type: ignore[method-assign]
    ck = gnocchi.GnocchiCollector(period=period, conf=METRICS)
    metrics = list(ck.conf)
    # CloudKitty 25 asks for use_history=True, which this Gnocchi (4.7.1) answers
    # with 404 "Metric does not exist" for every resource: drop that one argument.
    fetch = ck._conn.aggregates.fetch

    def fetch_without_history(*fetch_args: object, **kwargs: object) -> object:
        kwargs.pop("use_history", None)
        return fetch(*fetch_args, **kwargs)

    ck._conn.aggregates.fetch = fetch_without_history

    def retrieve(metric: str, start: dt.datetime) -> int:
        try:
            return len(ck.retrieve(metric, start, start + dt.timedelta(seconds=period), args.project)[1])
        except collector.NoDataCollected:
            return 0

    year, month = (int(x) for x in args.month.split("-"))
    first = dt.datetime(year, month, 1, tzinfo=dt.UTC)
    points = 0
    began = time.perf_counter()
    with concurrent.futures.ThreadPoolExecutor(threads) as pool:
        for hour in range(args.hours):
            start = first + dt.timedelta(seconds=hour * period)
            points += sum(pool.map(lambda m, s=start: retrieve(m, s), metrics))
    seconds = time.perf_counter() - began
    print(json.dumps({"seconds": seconds, "requests": sent[0], "periods": args.hours, "points": points}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
