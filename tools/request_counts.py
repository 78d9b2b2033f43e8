#!/usr/bin/env python3
"""Print the HTTP requests a collector makes per tenant-month, for a day, a week and a month.

    python tools/request_counts.py --config-file /etc/artifice/artifice.conf --month 2026-10

Uses the collector of ``[main] collector`` against the servers its config
names, and reads every tenant with usage in the month (as ``bill --all``
would). For each window starting on the 1st it prints the tenants, resources
and raw rows seen and the HTTP requests made, in total and per tenant; with a
collector that can read many tenants at once (Gnocchi's ``collect_many``), also
the requests for all tenants in one pass. A fresh collector is used per
window, so cached lookups are counted once per window, as in a billing run.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from collections.abc import Callable, Sequence

from oslo_config import cfg

from artifice import config
from artifice.collectors.base import Collector
from artifice.exceptions import ArtificeError
from artifice.loading import load_class
from artifice.timeutil import Window, parse_month
from artifice.usage.mapping import load_mapping

_BASE: type[Collector] = Collector  # type: ignore[type-abstract]


def count(make: Callable[[], Collector], window: Window, meters: Sequence[str], lead_in: int) -> list[str]:
    """Table rows of one window: one tenant at a time, then all tenants in one pass when supported."""
    lister = make()
    tenants = [t.id for t in lister.tenants(window)]
    rows = []
    collector = make()
    resources = samples = 0
    for tenant in tenants:
        raw = collector.collect(tenant, window, meters, lead_in)
        resources += raw["resource_id"].nunique()
        samples += len(raw)
    requests = getattr(collector, "requests", 0)
    rows.append(_row("per tenant", window, len(tenants), resources, samples, requests))
    many = make()
    if many.tenants_per_read > 1 and tenants:  # a collector that reads many tenants in one request
        raw = many.collect_many(tenants, window, meters, lead_in)
        requests = getattr(many, "requests", 0)
        rows.append(_row("all at once", window, len(tenants), raw["resource_id"].nunique(), len(raw), requests))
    return rows


def _row(mode: str, window: Window, tenants: int, resources: int, samples: int, requests: int) -> str:
    hours = int((window.end - window.start).total_seconds() // 3600)
    each = f"{requests / tenants:.1f}" if tenants else "-"
    return f"{mode:<12} {hours:>6} {tenants:>8} {resources:>10} {samples:>10} {requests:>9} {each:>12}"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--config-file", required=True)
    parser.add_argument("--month", required=True, help="YYYY-MM")
    args = parser.parse_args(argv)
    try:
        report(config.load(["--config-file", args.config_file]), parse_month(args.month))
    except ArtificeError as exc:
        print(f"request_counts: error: {exc}", file=sys.stderr)
        return exc.exit_code
    return 0


def report(conf: cfg.ConfigOpts, month: Window) -> None:
    collector_class = load_class("artifice.collectors", conf.main.collector, _BASE, "[main] collector")
    meters = sorted(load_mapping(conf.metering.meter_mapping, conf.metering.max_gap))
    print(f"collector {conf.main.collector}: {len(meters)} mapped meters")
    print(f"{'mode':<12} {'hours':>6} {'tenants':>8} {'resources':>10} {'rows':>10} {'requests':>9} {'per tenant':>12}")
    for days in (1, 7, None):
        end = month.end if days is None else month.start + dt.timedelta(days=days)
        for row in count(lambda: collector_class(conf), Window(month.start, end), meters, conf.metering.lead_in):
            print(row)


if __name__ == "__main__":
    sys.exit(main())
