"""What the benchmark scripts share: the machine's description, memory and CPU figures, tables."""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import logging
import os
import platform
import resource
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parents[2]
MB = 1024 * 1024


def machine() -> list[str]:
    """Lines describing this machine and software, for the figures' header."""
    model = "unknown CPU"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    memory = "?"
    with contextlib.suppress(OSError, ValueError, IndexError):
        kb = int(Path("/proc/meminfo").read_text().split("MemTotal:")[1].split()[0])
        memory = f"{kb / 1024 / 1024:.1f} GiB"
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    return [
        f"machine: {model}, {os.cpu_count()} logical CPUs, {memory} RAM, {platform.system()} {platform.release()}",
        f"software: Python {platform.python_version()}, numpy {np.__version__}, pandas {pd.__version__}",
        f"load average before the run (1, 5, 15 min): {load}",
    ]


def load_line() -> str:
    return "load average after the run (1, 5, 15 min): " + ", ".join(f"{x:.2f}" for x in os.getloadavg())


def pin_to_one_core() -> str:
    """Run this process (and its numpy) on one CPU; returns what was done."""
    for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(name, "1")
    if hasattr(os, "sched_setaffinity"):
        cpus = sorted(os.sched_getaffinity(0))
        os.sched_setaffinity(0, {cpus[-1]})
        return f"pinned to CPU {cpus[-1]} (one core)"
    return "not pinned (no sched_setaffinity): numpy runs these operations on one thread anyway"


def rss_mb() -> float:
    with contextlib.suppress(OSError, ValueError, IndexError):
        return int(Path("/proc/self/statm").read_text().split()[1]) * os.sysconf("SC_PAGE_SIZE") / MB
    return float("nan")


def max_rss_mb() -> float:
    """Peak RSS of this process since it started (exec), from VmHWM.

    Not ``ru_maxrss``: Linux carries the parent's RSS at fork into a child's
    ``ru_maxrss`` across exec, so a child of a large process would report the
    parent's size.
    """
    with contextlib.suppress(OSError):
        return _hwm_mb()
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _hwm_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise OSError("no VmHWM")


@dataclasses.dataclass
class Peak:
    """Peak RSS (MiB) of this process while the ``with`` block ran."""

    mb: float = float("nan")
    method: str = ""


@contextlib.contextmanager
def peak_rss() -> Iterator[Peak]:
    """Measure the peak RSS during the block: Linux's resettable high-water mark, else sampling every 2 ms."""
    peak = Peak()
    try:
        Path("/proc/self/clear_refs").write_text("5")  # resets VmHWM to the current RSS
        yield peak
        peak.mb, peak.method = _hwm_mb(), "VmHWM"
        return
    except OSError:
        pass
    stop = threading.Event()
    highest = [rss_mb()]

    def sample() -> None:
        while not stop.wait(0.002):
            highest[0] = max(highest[0], rss_mb())

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        yield peak
    finally:
        stop.set()
        sampler.join()
        peak.mb, peak.method = max(highest[0], rss_mb()), "sampled"


@dataclasses.dataclass
class Clock:
    """Wall and CPU seconds of a block (CPU: this process and its waited-for children)."""

    wall: float = 0.0
    cpu: float = 0.0


@contextlib.contextmanager
def clock() -> Iterator[Clock]:
    result = Clock()
    wall, cpu = time.perf_counter(), _cpu()
    try:
        yield result
    finally:
        result.wall, result.cpu = time.perf_counter() - wall, _cpu() - cpu


def _cpu() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def servers_cpu(servers: Mapping[str, Any]) -> float:
    """CPU seconds used so far by ``tests.servers.Server``s' processes and their descendants.

    The processes of each server's pid files: API workers, metricd, and PostgreSQL (Gnocchi's own
    under ``pg/``, or a ``postgres.sh`` server's).
    """
    roots = set()
    for server in servers.values():
        directory = Path(server.directory)
        pidfiles = [*directory.glob("*.pid"), *(directory / sub / "postmaster.pid" for sub in ("pg/data", "data"))]
        for pidfile in pidfiles:
            with contextlib.suppress(OSError, ValueError, IndexError):
                roots.add(int(pidfile.read_text().split()[0]))
    return process_tree_cpu(roots)


def process_tree_cpu(roots: set[int]) -> float:
    """CPU seconds used so far by the live processes ``roots`` and their descendants (NaN without roots).

    Each process counts its own time and that of the children it has waited for (``cutime``),
    so processes that ended and were reaped inside the tree are counted too.
    """
    if not roots:
        return float("nan")
    parent: dict[int, int] = {}
    used: dict[int, float] = {}
    ticks = os.sysconf("SC_CLK_TCK")
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError, ValueError, IndexError):
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
                pid = int(entry.name)
                parent[pid] = int(fields[1])
                used[pid] = sum(int(f) for f in fields[11:15]) / ticks  # utime stime cutime cstime

    def inside(pid: int) -> bool:
        while pid > 1:
            if pid in roots:
                return True
            pid = parent.get(pid, 0)
        return False

    return sum(seconds for pid, seconds in used.items() if inside(pid))


def table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A plain aligned text table (also valid Markdown)."""
    cells = [[str(h) for h in headers]] + [[_cell(v) for v in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    lines = ["| " + " | ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) + " |" for row in cells]
    lines.insert(1, "|" + "|".join("-" * (w + 2) for w in widths) + "|")
    return "\n".join(lines)


def _cell(value: object) -> str:
    if isinstance(value, float):
        if value != value:
            return "-"
        return f"{value:,.3f}" if abs(value) < 100 else f"{value:,.0f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def say(*lines: str) -> None:
    print(*lines, sep="\n", flush=True)


def rate_text(samples: float, seconds: float) -> str:
    per_second = samples / seconds if seconds > 0 else float("inf")
    return f"{per_second / 1e6:.2f} M/s" if per_second >= 1e5 else f"{per_second / 1e3:.1f} k/s"


def python() -> str:
    return sys.executable


def cloudkitty_venv() -> str:
    """The path of CloudKitty 25.0.0's venv (``tools/servers/cloudkitty.sh``), built first if needed."""
    done = subprocess.run(
        [str(REPO / "tools/servers/cloudkitty.sh"), "venv"], capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise RuntimeError(f"tools/servers/cloudkitty.sh venv failed:\n{done.stderr[-3000:]}")
    return done.stdout.strip()


def parse_or_bill(
    parser: argparse.ArgumentParser, argv: Sequence[str] | None, bill: Callable[[Path], dict[str, Any]]
) -> argparse.Namespace | None:
    """The arguments; or, in the child ``bill_in_child`` starts (``--bill CONF``), its figures printed and None."""
    parser.add_argument("--bill", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.bill:
        print(json.dumps(bill(Path(args.bill))))
        return None
    return args


def bill_in_child(module: str, conf_path: Path, env: dict[str, str] | None = None) -> dict[str, Any]:
    """Run ``python -m module --bill CONF`` (a fresh process: its figures are its own); its JSON result."""
    done = subprocess.run(
        [sys.executable, "-m", module, "--bill", str(conf_path)],
        capture_output=True,
        text=True,
        cwd=REPO,
        env={**os.environ, **(env or {})},
        timeout=3600,
    )
    if done.returncode != 0:
        raise RuntimeError(f"billing run failed:\n{done.stdout}\n{done.stderr}")
    if os.environ.get("ARTIFICE_BENCH_LOG"):
        sys.stderr.write(done.stderr)
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def bill_month(conf_path: Path, month: str) -> dict[str, Any]:
    """(In the child) bill every tenant for ``month`` as ``artifice bill --all`` does; the figures."""
    from artifice import config
    from artifice.billing.months import MonthLoop
    from artifice.billing.pipeline import Pipeline
    from artifice.timeutil import parse_month

    rss_at_start = rss_mb()
    if os.environ.get("ARTIFICE_BENCH_LOG"):  # what the billing run logs (a batch read that fell back ...)
        logging.basicConfig(level=os.environ["ARTIFICE_BENCH_LOG"], stream=sys.stderr)
    conf = config.load(["--config-file", str(conf_path)])
    errors: list[str] = []
    quantities: dict[str, float] = {}
    billed: list[str] = []
    samples, total = 0, Decimal(0)
    with clock() as took:
        pipeline = Pipeline.from_config(conf)
        for outcome in MonthLoop(pipeline).bill(parse_month(month)):  # nothing kept, as the CLI
            result = outcome.result
            if result is None:
                errors.append(f"{outcome.tenant.id}: {outcome.error or outcome.skipped}")
                continue
            billed.append(result.tenant.id)
            total += result.total
            samples += result.report.used
            for line in result.lines:
                quantities[line.service] = quantities.get(line.service, 0.0) + float(line.quantity)
    return {
        "billed": len(billed),
        "tenant_ids": billed,
        "failed": len(errors),
        "errors": errors[:3],
        "total": str(total),
        "quantities": quantities,
        "samples": samples,
        "wall": took.wall,
        "cpu": took.cpu,
        "peak_rss_mb": max_rss_mb(),
        "rss_at_start_mb": rss_at_start,
        "collector": pipeline.collector,
    }


def read_month(conf_path: Path, month: str) -> dict[str, Any]:
    """(In the child) only the reads ``bill_month`` makes: the tenants, then each batch, nothing billed.

    The same collector, batches (``tenants_per_read``) and parallel requests, one batch after
    the other: what the telemetry server must answer, and Artifice decode, for a month's bills.
    """
    from artifice import config
    from artifice import tenants as tenant_filter
    from artifice.billing.pipeline import Pipeline
    from artifice.timeutil import parse_month

    conf = config.load(["--config-file", str(conf_path)])
    window = parse_month(month)
    rows = 0
    with clock() as took:
        pipeline = Pipeline.from_config(conf)
        ids = [tenant.id for tenant in tenant_filter.billed(conf, pipeline.tenants(window))]
        size = max(pipeline.collector.tenants_per_read, 1)
        for first in range(0, len(ids), size):
            batch = ids[first : first + size]
            rows += len(pipeline.collector.collect_many(batch, window, sorted(pipeline.rules), conf.metering.lead_in))
    return {"tenants": len(ids), "rows": rows, "wall": took.wall, "cpu": took.cpu, "collector": pipeline.collector}


def exit_on_sigterm() -> None:
    """Make SIGTERM raise SystemExit, so that ``finally`` blocks stop the servers a benchmark started."""
    signal.signal(signal.SIGTERM, lambda _signum, _frame: sys.exit(143))
