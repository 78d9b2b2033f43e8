"""Growth benchmark: time and memory of billing a whole cloud at 1x, 4x and 16x the data.

    python -m tools.benchmarks.growth           # 1x = 25 tenants x 10 resources, 10-minute samples (~3 minutes)
    python -m tools.benchmarks.growth --tiny    # seconds: what the smoke test runs

Each run bills every tenant of a synthetic month (``tools.benchmarks.cloud``, all
five transformers) through ``artifice.billing.pipeline.Pipeline`` with the CSV
adapter and a SQLite database, in a fresh process, so that its peak RSS is
its own. The collector (``tools.benchmarks.cloud.SyntheticCollector``) generates each tenant's
samples when the Pipeline asks for them, as an API collector fetches them,
so the whole cloud is never in memory unless Artifice keeps it there; the
time it spends generating is measured and left out of Artifice's time.

Two series: more tenants of the same size (memory should stay flat: it is
bounded by the largest tenant), and tenants with more resources (memory
should follow the largest tenant). Time should be linear in samples in both.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from tools.benchmarks import common
from tools.benchmarks.cloud import SPEC_VARIABLE, SyntheticCollector, csv_billing_conf, write_mapping

MONTH = "2026-10"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tenants", type=int, default=25, help="tenants at 1x")
    parser.add_argument("--resources", type=int, default=10, help="resources per tenant at 1x")
    parser.add_argument("--interval", type=int, default=600, help="seconds between samples")
    parser.add_argument("--factors", default="1,4,16")
    parser.add_argument("--tiny", action="store_true", help="a few seconds in all (the smoke test)")
    args = common.parse_or_bill(parser, argv, _bill)
    if args is None:
        return 0
    if args.tiny:
        args.tenants, args.resources, args.interval, args.factors = 2, 2, 3600, "1,4"
    factors = [int(f) for f in args.factors.split(",")]
    common.say("# Artifice growth benchmark", *common.machine(), "")
    series = {
        "more tenants": [
            {"tenants": args.tenants * f, "resources": args.resources, "interval": args.interval} for f in factors
        ],
        "larger tenants": [
            {"tenants": args.tenants, "resources": args.resources * f, "interval": args.interval} for f in factors
        ],
    }
    results: dict[str, list[dict[str, Any]]] = {}
    with tempfile.TemporaryDirectory(prefix="artifice-growth-") as work:
        for name, specs in series.items():
            results[name] = []
            for factor, spec in zip(factors, specs, strict=True):
                result = _child(Path(work) / f"{name.replace(' ', '-')}-{factor}", spec)
                result["factor"] = factor
                results[name].append(result)
                common.say(
                    f"{name} x{factor}: {result['tenants']} tenants, {result['samples']:,} samples, "
                    f"{result['artifice']:.1f} s, peak RSS {result['peak_rss_mb']:.0f} MiB"
                )
    _report(results)
    common.say("", common.load_line())
    return 0 if all(r["failed"] == 0 for rs in results.values() for r in rs) else 1


def _child(directory: Path, spec: dict[str, Any]) -> dict[str, Any]:
    """Bill the cloud of ``spec`` in a fresh process; its figures."""
    directory.mkdir(parents=True)
    conf = csv_billing_conf(
        directory,
        "tools.benchmarks.cloud:SyntheticCollector",
        f"[metering]\nmeter_mapping = {write_mapping(directory / 'meters.yaml')}\n",
    )
    return common.bill_in_child("tools.benchmarks.growth", conf, {SPEC_VARIABLE: json.dumps(spec)})


def _bill(conf_path: Path) -> dict[str, Any]:
    """(In the child process) bill every tenant; the figures, with the collector's."""
    result = common.bill_month(conf_path, MONTH)
    collector = result.pop("collector")
    assert type(collector).__name__ == SyntheticCollector.__name__
    generating = getattr(collector, "seconds", 0.0)
    result.update(
        tenants=result["billed"] + result["failed"],
        samples=getattr(collector, "samples", 0),
        largest_tenant=getattr(collector, "largest", 0),
        generating=generating,
        artifice=result["wall"] - generating,
    )
    return result


def _report(results: dict[str, list[dict[str, Any]]]) -> None:
    common.say("", "## Billing a whole cloud (Pipeline, CSV adapter, SQLite), one process per run")
    rows = []
    for name, runs in results.items():
        first = runs[0]
        for r in runs:
            rows.append(
                [name, f"x{r['factor']}", r["tenants"], r["samples"], r["largest_tenant"], f"{r['artifice']:.1f} s",
                 f"{r['generating']:.1f} s", f"{r['artifice'] / r['samples'] * 1e6:.2f} s",
                 f"{r['artifice'] / first['artifice']:.1f}x", f"{r['samples'] / first['samples']:.1f}x",
                 f"{r['peak_rss_mb']:.0f} MiB"]
            )  # fmt: skip
    headers = ["series", "data", "tenants", "samples", "largest tenant (samples)", "Artifice time",
               "generating (left out)", "per M samples", "time vs x1", "samples vs x1", "peak RSS"]  # fmt: skip
    common.say(common.table(headers, rows))
    common.say("", "## Verdicts")
    runs = [r for rs in results.values() for r in rs]
    # Time = a x tenants + b x samples + c, fitted over every run.
    design = np.array([[r["tenants"], r["samples"], 1.0] for r in runs])
    seconds = np.array([r["artifice"] for r in runs])
    (per_tenant, per_sample, fixed), *_ = np.linalg.lstsq(design, seconds, rcond=None)
    worst = float(np.max(np.abs(design @ [per_tenant, per_sample, fixed] - seconds) / seconds))
    common.say(
        f"time = {per_tenant * 1000:.1f} ms per tenant + {per_sample * 1e9:.0f} ns per sample + {fixed:.2f} s "
        f"(least squares over the {len(runs)} runs; worst deviation {worst:.0%}): linear in tenants and samples."
    )
    for name, rs in results.items():
        memory = " -> ".join(f"{r['peak_rss_mb']:.0f}" for r in rs)
        samples = " -> ".join(f"{r['samples'] / 1e6:.1f}" for r in rs)
        largest = " -> ".join(f"{r['largest_tenant'] / 1e3:.0f}" for r in rs)
        common.say(
            f"{name}: peak RSS {memory} MiB for {samples} M samples in all and {largest} k samples in the "
            "largest tenant."
        )


if __name__ == "__main__":
    sys.exit(main())
