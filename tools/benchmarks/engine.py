"""Engine benchmark: samples per second through the full transformer set, on one core.

    python -m tools.benchmarks.engine            # 1 M and 10 M samples (a few minutes)
    python -m tools.benchmarks.engine --tiny     # seconds: what the smoke test runs

For each size it generates a synthetic month (``tools.benchmarks.cloud``, all five
transformers) and times ``artifice.usage.engine.rate`` on the columns already
decoded (a collector's DataFrame), as generated (each resource's samples
together) and with the rows shuffled (the worst order: a full sort). Beside
it, on the same arrays: a bare numpy time-weighted sum (the floor), and
measures the peak RSS while rating. Then, per tenant, the rate from the JSON
wire format: the collector's path (``read_page`` + ``pages_frame``: the C scanner
straight into columns), its general decoder alone (``decode_page`` + ``page_frame``:
msgspec into structs) and the per-value one (``json.loads`` + ``samples_frame``),
followed by ``rate``, and a per-sample Python implementation of the same
transformers on the same sample dicts (``tools.benchmarks.naive``), checking that
all bill the same quantities.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from artifice.collectors.ceilometer import pages_frame, read_page
from artifice.collectors.ceilometer_format import decode_page, page_frame, samples_frame
from artifice.usage.engine import Usage, rate
from tools.benchmarks import common
from tools.benchmarks.cloud import SOURCE, Cloud
from tools.benchmarks.naive import NaiveRater

TARGET_RATE = 20e6  # samples/s in memory
TARGET_FLOOR_RATIO = 4.0  # floor / engine at most
TARGET_NAIVE_RATIO = 50.0  # engine / naive at least
TARGET_PEAK_MB = 1024.0  # at 10 M samples
TARGET_WIRE_RATE = 1e6  # samples/s decoded and framed from Ceilometer's JSON (issue 19)
TARGET_WIRE_RATIO = 10.0  # the collector's whole path from JSON / the per-sample rater incl. json.loads
TRUST = [SOURCE]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="1000000,10000000", help="samples held in memory, comma-separated")
    parser.add_argument("--wire", type=int, default=1_000_000, help="samples for the JSON and per-sample runs")
    parser.add_argument("--repeat", type=int, default=3, help="timed runs per size (the median is reported)")
    parser.add_argument("--tiny", action="store_true", help="a few seconds in all (the smoke test)")
    parser.add_argument("--no-pin", action="store_true", help="do not pin the process to one CPU")
    args = parser.parse_args(argv)
    sizes = [int(float(s)) for s in args.sizes.split(",")]
    if args.tiny:
        sizes, args.wire, args.repeat = [50_000, 150_000], 50_000, 1
    common.say("# Artifice engine benchmark", *common.machine())
    common.say("process: " + ("not pinned" if args.no_pin else common.pin_to_one_core()), "")

    results = [_in_memory(size, args.repeat) for size in sizes]
    wire = _wire(args.wire)

    common.say("## Engine, columns already decoded (in memory)")
    common.say(
        common.table(
            [
                "samples",
                "tenants",
                "engine",
                "meters interleaved",
                "rows shuffled",
                "numpy floor",
                "floor / engine",
                "peak RSS while rating",
                "of which the frame",
                "generated in",
            ],
            [
                [
                    r["samples"],
                    r["tenants"],
                    common.rate_text(r["samples"], r["engine"]),
                    common.rate_text(r["samples"], r["interleaved"]),
                    common.rate_text(r["samples"], r["shuffled"]),
                    common.rate_text(r["samples"], r["floor"]),
                    f"{r['engine'] / r['floor']:.1f}x",
                    f"{r['peak']:.0f} MiB ({r['peak_method']})",
                    f"{r['frame_mb']:.0f} MiB",
                    f"{r['generated']:.1f} s",
                ]
                for r in results
            ],
        ),
        "",
    )
    common.say("## From the JSON wire format, and a per-sample Python implementation")
    n = wire["samples"]
    common.say(
        common.table(
            [
                "samples",
                "scan + frame (read_page, pages_frame)",
                "rate",
                "collector's path (scan, frame, rate)",
                "msgspec decode + page_frame (its fallback)",
                "json.loads",
                "samples_frame",
                "per-value path (json.loads, samples_frame, rate)",
                "per-sample Python (dicts)",
                "per-sample Python incl. json.loads",
            ],
            [
                [
                    n,
                    common.rate_text(n, wire["wire"]),
                    common.rate_text(n, wire["wire_rate"]),
                    common.rate_text(n, wire["wire"] + wire["wire_rate"]),
                    common.rate_text(n, wire["general"]),
                    common.rate_text(n, wire["loads"]),
                    common.rate_text(n, wire["frame"]),
                    common.rate_text(n, wire["loads"] + wire["frame"] + wire["rate"]),
                    common.rate_text(n, wire["naive"]),
                    common.rate_text(n, wire["naive"] + wire["loads"]),
                ]
            ],
        ),
        f"both paths and per-sample Python agree on every (tenant, region, service): {wire['agree']}",
        "",
    )
    first, largest = results[0], results[-1]
    engine_rate = first["samples"] / first["engine"]
    naive_rate = n / wire["naive"]
    wire_rate = n / (wire["wire"] + wire["wire_rate"])
    decode_rate = n / wire["wire"]
    naive_wire_rate = n / (wire["naive"] + wire["loads"])
    rows = [
        [f"in memory, {r['samples']:,} samples", f">= {TARGET_RATE / 1e6:.0f} M/s",
         common.rate_text(r["samples"], r["engine"]), _verdict(r["samples"] / r["engine"] >= TARGET_RATE)]
        for r in results
    ]  # fmt: skip
    rows += [
        [f"numpy floor / engine, {r['samples']:,} samples", f"<= {TARGET_FLOOR_RATIO:.0f}x",
         f"{r['engine'] / r['floor']:.1f}x", _verdict(r["engine"] / r["floor"] <= TARGET_FLOOR_RATIO)]
        for r in results
    ]  # fmt: skip
    rows += [
        [f"engine (in memory, {first['samples']:,}) / per-sample Python", f">= {TARGET_NAIVE_RATIO:.0f}x",
         f"{engine_rate / naive_rate:.0f}x", _verdict(engine_rate / naive_rate >= TARGET_NAIVE_RATIO)],
        ["collector's decode and frame from JSON", f">= {TARGET_WIRE_RATE / 1e6:.0f} M/s",
         common.rate_text(n, wire["wire"]), _verdict(decode_rate >= TARGET_WIRE_RATE)],
        ["collector's path from JSON / per-sample Python incl. json.loads", f">= {TARGET_WIRE_RATIO:.0f}x",
         f"{wire_rate / naive_wire_rate:.1f}x", _verdict(wire_rate / naive_wire_rate >= TARGET_WIRE_RATIO)],
        [f"peak RSS while rating {largest['samples']:,} samples", f"< {TARGET_PEAK_MB:.0f} MiB",
         f"{largest['peak']:.0f} MiB", _verdict(largest["peak"] < TARGET_PEAK_MB) if largest["samples"] >= 5e6 else
         "(size too small to judge)"],
    ]  # fmt: skip
    common.say("## Targets", common.table(["figure", "target", "measured", "verdict"], rows), "", common.load_line())
    return 0 if wire["agree"] == "yes" else 1


def _verdict(met: bool) -> str:
    return "met" if met else "MISSED"


def _timed(function: Any, *args: Any) -> tuple[float, Any]:
    with common.clock() as took:
        result = function(*args)
    return took.wall, result


def _in_memory(size: int, repeat: int) -> dict[str, Any]:
    cloud = Cloud(tenants=Cloud(tenants=1).tenants_for(size))
    generated, frame = _timed(cloud.frame)
    interleaved = cloud.frame(order="tenant")
    interleaved_time = statistics.median(
        _timed(rate, interleaved, cloud.window, cloud.mapping, TRUST)[0] for _ in range(repeat)
    )
    del interleaved
    frame_mb = frame.memory_usage(deep=False).sum() / common.MB
    samples = len(frame)
    times = []
    for _ in range(repeat):
        with common.peak_rss() as peak:
            took, usage = _timed(rate, frame, cloud.window, cloud.mapping, TRUST)
        times.append(took)
        del usage
    # The floor: a bare time-weighted sum per series over the same arrays (each series' samples together).
    t = frame["timestamp"].array.asi8
    volume = frame["volume"].to_numpy()
    series = (frame["resource_id"].array.codes.astype(np.int64) << 3) + frame["meter"].array.codes
    floors = [_timed(_floor, t, volume, series, 7200)[0] for _ in range(max(repeat, 3))]
    shuffled = frame.take(np.random.default_rng(0).permutation(len(frame)))
    del frame, t, volume, series
    shuffled_time = _timed(rate, shuffled, cloud.window, cloud.mapping, TRUST)[0]
    del shuffled
    return {
        "samples": samples,
        "tenants": cloud.tenants,
        "engine": statistics.median(times),
        "shuffled": shuffled_time,
        "interleaved": interleaved_time,
        "floor": statistics.median(floors),
        "peak": peak.mb,
        "peak_method": peak.method,
        "frame_mb": frame_mb,
        "generated": generated,
    }


def _floor(t: np.ndarray, volume: np.ndarray, series: np.ndarray, max_gap: int) -> np.ndarray:
    """Value x seconds until the next sample of the same series (if within max_gap), summed per series."""
    same = series[1:] == series[:-1]
    step = t[1:] - t[:-1]
    held = np.where(same & (step <= max_gap * 1_000_000_000), step, 0) * volume[:-1]
    sums: np.ndarray = np.bincount(series[:-1], held)
    return sums


def _wire(samples: int) -> dict[str, Any]:
    """Per tenant: JSON pages -> dicts -> frame -> usage, and the per-sample implementation on the same dicts."""
    cloud = Cloud(tenants=Cloud(tenants=1).tenants_for(samples))
    totals = {
        "samples": 0,
        "loads": 0.0,
        "frame": 0.0,
        "rate": 0.0,
        "naive": 0.0,
        "wire": 0.0,
        "general": 0.0,
        "wire_rate": 0.0,
    }
    disagree = 0
    for tenant in range(cloud.tenants):
        pages = cloud.wire_pages(range(tenant, tenant + 1))
        with common.clock() as took:  # what the collector does with the bodies it receives
            wire_frame = pages_frame([read_page(page, region) for _project, region, page in pages])
        totals["wire"] += took.wall
        with common.clock() as took:  # the collector's general decoder, which takes every page
            by_region: dict[str, list[Any]] = {}
            for _project, region, page in pages:
                by_region.setdefault(region, []).extend(decode_page(page))
            pd.concat([page_frame(rows, region) for region, rows in by_region.items()], ignore_index=True)
        totals["general"] += took.wall
        with common.clock() as took:
            usage = rate(wire_frame, cloud.window, cloud.mapping, TRUST)
        totals["wire_rate"] += took.wall
        with common.clock() as took:
            decoded = [(region, json.loads(page)) for _project, region, page in pages]
        totals["loads"] += took.wall
        with common.clock() as took:
            frame = pd.concat([samples_frame(rows, region) for region, rows in decoded], ignore_index=True)
        totals["frame"] += took.wall
        with common.clock() as took:
            rate(frame, cloud.window, cloud.mapping, TRUST)
        totals["rate"] += took.wall
        with common.clock() as took:
            naive = NaiveRater(cloud.window, cloud.mapping, TRUST)
            for region, rows in decoded:
                naive.add(region, rows)
            expected = naive.totals()
        totals["naive"] += took.wall
        totals["samples"] += sum(len(rows) for _region, rows in decoded)
        disagree += _differences(usage, expected)
        disagree += _differences(rate(frame, cloud.window, cloud.mapping, TRUST), expected)
    return {**totals, "agree": "yes" if not disagree else f"NO ({disagree} differ)"}


def _differences(usage: Usage, expected: dict[tuple[str, str, str], float]) -> int:
    got = {(str(r.tenant_id), str(r.region), str(r.service)): float(r.quantity) for r in usage.lines.itertuples()}
    if set(got) != set(expected):
        return len(set(got) ^ set(expected))
    return sum(1 for key, value in got.items() if abs(value - expected[key]) > 1e-9 * max(abs(value), 1.0))


if __name__ == "__main__":
    sys.exit(main())
