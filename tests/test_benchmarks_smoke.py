"""The benchmark scripts still run: each at a tiny size, as a subprocess, printing its figures.

Benchmarks print figures; they are not pass/fail on them (see BENCHMARKS.md).
The end-to-end one bills the session's real Gnocchi and Ceilometer servers
(``tests/telemetry.py``) rather than starting and loading its own; the
CloudKitty processor one starts its own Gnocchi (both tools bill every project
in it) and PostgreSQL.
"""

from __future__ import annotations

import subprocess
import sys

from tests.servers import REPO
from tests.telemetry import trusted


def run(module: str, *args: str) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [sys.executable, "-m", module, "--tiny", *args], capture_output=True, text=True, timeout=300, cwd=REPO
    )
    assert result.returncode == 0, f"{module} failed:\n{result.stdout}\n{result.stderr}"
    return result


def assert_headers(output: str, *headers: str) -> None:
    missing = [h for h in headers if h not in output]
    assert not missing, f"missing {missing} in:\n{output}"


def test_engine_benchmark():
    output = run("tools.benchmarks.engine").stdout
    assert_headers(
        output,
        "## Engine, columns already decoded (in memory)",
        "## From the JSON wire format, and a per-sample Python implementation",
        "both paths and per-sample Python agree on every (tenant, region, service): yes",
        "## Targets",
    )


def test_growth_benchmark():
    output = run("tools.benchmarks.growth").stdout
    assert_headers(output, "## Billing a whole cloud", "## Verdicts", "linear in tenants and samples")


def test_end_to_end_benchmark(gnocchi: dict[str, str], ceilometer: dict[str, str]):
    urls = {"gnocchi": gnocchi, "ceilometer": ceilometer}
    located = [f"--{name}-urls={','.join(f'{r}={u}' for r, u in servers.items())}" for name, servers in urls.items()]
    output = run("tools.benchmarks.end_to_end", *located, f"--trust={trusted()}").stdout
    assert_headers(
        output,
        "## Billing every tenant for a month",
        "| Gnocchi    | batched",
        "| Gnocchi    | per-tenant",
        "| Ceilometer | per-tenant",
        "its reads alone",
        "## CloudKitty 25.0.0 collecting the same month",
        "## Targets",
        "wall / its reads alone (batched",
    )


def test_cloudkitty_processor_benchmark():
    output = run("tools.benchmarks.cloudkitty_processor").stdout
    assert_headers(
        output,
        "## CloudKitty's processor and Artifice, 1 x 1",
        "| CloudKitty 25.0.0 cloudkitty-processor",
        "| Artifice artifice bill --all",
        "## Targets",
        "CloudKitty processor / Artifice",
    )
    assert "totals equal to the cent: yes" in output, output


def test_gnocchi_answers_benchmark(gnocchi: dict[str, str]):
    output = run("tools.benchmarks.gnocchi_answers", f"--gnocchi-url={next(iter(gnocchi.values()))}").stdout
    assert_headers(output, "## What Gnocchi spends answering", "| every bucket (what Artifice reads)", "(resampled)")
    every, resampled = (int(line.split("|")[4].replace(",", "")) for line in output.splitlines() if "| every" in line
                        or "| one point" in line)  # fmt: skip
    assert 0 < resampled < every  # the session's month really was read, both ways


def test_read_api_load_benchmark():
    output = run("tools.benchmarks.api_load").stdout
    assert_headers(output, "database", "req/s", "p99 ms", "isolation violations: 0")
    rows = [line.split() for line in output.splitlines() if line.startswith("sqlite") and " all " in line]
    assert rows and rows[0][-1] == "0", output  # no request failed
