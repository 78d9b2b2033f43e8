#!/usr/bin/env python3
"""Reliability report: crash, fault and bad-input injection against real Artifice processes.

    python tools/reliability_report.py [--tenants 10]

Bills one month for ``--tenants`` synthetic tenants (24 hours of an m1.small
each: 1.20 NZD) with the CSV adapter and SQLite, while it:

- SIGKILLs ``artifice bill`` at every crash point, then reruns it;
- injects faults: the telemetry file gone, the invoice directory unusable,
  the database locked by another process, the database unreachable;
- feeds bad input: malformed samples (with a flavor that would show if they
  were billed), bad command-line arguments, broken config files;
- bills the remaining tenants with two ``artifice-daemon`` processes at once.

It then counts, per tenant, the invoice files and the committed windows, and
prints what it tried and the invoices lost or duplicated (both must be 0; the
exit status is 1 otherwise).
"""

from __future__ import annotations

import argparse
import collections
import datetime as dt
import json
import os
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
POINTS = ("claimed", "rated", "committing", "committed_in_erp")  # artifice.failpoints.POINTS
MONTH = "2026-10"
Completed = subprocess.CompletedProcess[str]
DAY = dt.datetime(2026, 10, 10, 10, tzinfo=dt.UTC)


def sample(tenant: str, hour: int, **changes: Any) -> dict[str, Any]:
    good = {
        "counter_name": "instance",
        "counter_type": "gauge",
        "counter_unit": "instance",
        "counter_volume": 1,
        "project_id": tenant,
        "resource_id": f"{tenant}-vm",
        "timestamp": (DAY + dt.timedelta(hours=hour)).strftime("%Y-%m-%dT%H:%M:%S"),
        "resource_metadata": {"flavor.name": "m1.small", "status": "active"},
        "source": "openstack",
        "message_id": f"{tenant}-{hour}",
    }
    return {**good, **changes}


def bad_samples(tenant: str) -> list[Any]:
    """Malformed samples; each claims an m1.xlarge, so billing any of them would change the total."""
    xlarge = {"flavor.name": "m1.xlarge", "status": "active"}

    def bad(n: int, **changes: Any) -> dict[str, Any]:
        fields = {"resource_id": f"{tenant}-bad-{n}", "resource_metadata": xlarge, "message_id": f"b{n}", **changes}
        return sample(tenant, 3, **fields)

    return [
        bad(1, counter_volume=None),
        bad(2, counter_volume="lots"),
        bad(3, counter_volume=float("nan")),
        bad(4, counter_volume=float("inf")),
        bad(5, counter_volume=-1),
        bad(6, timestamp="9999-12-31T23:59:59"),
        bad(7, timestamp="1900-01-01T00:00:00"),
        bad(8, timestamp="yesterday"),
        bad(9, timestamp=None),
        bad(10, project_id=None),
        bad(11, resource_metadata={"flavor.name": "m1.xlarge", "status": "active", "blob": "x" * 1_000_000}),
        {**sample(tenant, 5), "resource_metadata": xlarge},  # a repeated message_id: counts once
        "not a sample",
        ["nor", "this"],
        bad(12, source="tenant-posted"),
    ]


class Report:
    def __init__(self, work: Path, tenants: list[str]) -> None:
        self.work, self.tenants = work, tenants
        self.counts: collections.Counter[str] = collections.Counter()
        self.problems: list[str] = []
        self.samples = work / "samples.json"
        self.database = work / "artifice.db"

    def conf(self, name: str = "artifice.conf", **override: str) -> Path:
        settings = {
            "samples": str(self.samples),
            "invoices": str(self.work / "invoices"),
            "database": f"sqlite:///{self.database}",
            **override,
        }
        text = f"""
[main]
collector = samples
invoice:object = csv
datacenters = RegionOne:Wellington

[invoice:object]
csv_directory = {settings["invoices"]}
rates_file = {REPO / "etc/artifice/demo/rates.csv"}

[collector:samples]
region_files = RegionOne:{settings["samples"]}

[metering]
meter_mapping = {REPO / "etc/artifice/meters.yaml"}

[database]
connection = {settings["database"]}

[billing]
commit_settle_time = 0
commit_retries = 0

[daemon]
first_month = {MONTH}
run_interval = 1
estimate_interval = 0
coordination_url = file://{self.work / "coordination"}?timeout=3
"""
        path = self.work / name
        path.write_text(text, encoding="utf-8")
        return path

    def run(
        self, *args: str, conf: Path | None = None, env: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        command = [sys.executable, "-m", "artifice.cli.main", "--config-file", str(conf or self.conf()), *args]
        environment = {**os.environ, **(env or {})}
        return subprocess.run(command, capture_output=True, text=True, timeout=300, cwd=REPO, env=environment)

    def bill(
        self, tenant: str, conf: Path | None = None, env: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        return self.run("bill", "--tenant", tenant, "--month", MONTH, conf=conf, env=env)

    def expect(self, what: str, result: subprocess.CompletedProcess[str], ok: bool) -> None:
        """``ok``: exit 0; otherwise a non-zero exit whose last line is the error (argparse prints usage first)."""
        lines = result.stderr.strip().splitlines()
        clean = "Traceback" not in result.stderr and (ok or (bool(lines) and ": error: " in lines[-1]))
        if (result.returncode == 0) != ok or not clean:
            self.problems.append(f"{what}: exit {result.returncode}: {result.stderr.strip()[-300:]}")

    # -- the injections ------------------------------------------------------

    def crashes(self, tenants: list[str]) -> None:
        for point, tenant in zip(POINTS, tenants, strict=True):
            crashed = self.bill(tenant, env={"ARTIFICE_FAILPOINT": point})
            if crashed.returncode != -signal.SIGKILL:
                self.problems.append(f"crash at {point}: the run was not killed (exit {crashed.returncode})")
            self.expect(f"rerun after a crash at {point}", self.bill(tenant), ok=True)
            self.counts["crash points tried"] += 1

    def faults(self, tenants: list[str]) -> None:
        gone, unusable, locked, unreachable = tenants
        missing = self.conf("missing.conf", samples=str(self.work / "no-such-file.json"))
        self.fault("telemetry unavailable (samples file gone)", gone, missing)
        blocker = self.work / "not-a-directory"
        blocker.write_text("")
        broken = self.conf("unusable.conf", invoices=str(blocker / "invoices"))
        self.fault("invoice directory unusable (as a full or read-only disk)", unusable, broken)
        holder = sqlite3.connect(self.database, timeout=0)
        holder.execute("BEGIN EXCLUSIVE")
        try:
            self.fault("database locked by another process", locked, self.conf(), rerun=False)
        finally:
            holder.rollback()
            holder.close()
        self.expect("billing after the lock was released", self.bill(locked), ok=True)
        down = self.conf("down.conf", database="postgresql+psycopg2://artifice@127.0.0.1:9/artifice")
        self.fault("database unreachable", unreachable, down)

    def fault(self, what: str, tenant: str, conf: Path, rerun: bool = True) -> None:
        self.expect(what, self.bill(tenant, conf=conf), ok=False)
        if list((self.work / "invoices").glob(f"{tenant}-*")):
            self.problems.append(f"{what}: left an invoice file behind")
        if rerun:
            self.expect(f"billing after: {what}", self.bill(tenant), ok=True)
        self.counts["faults injected"] += 1

    def bad_input(self, tenant: str) -> None:
        self.expect("billing a tenant with malformed samples", self.bill(tenant), ok=True)
        self.counts["bad samples tried"] += len(bad_samples(tenant))
        cases = {
            "month 2026-13": ("bill", "--tenant", tenant, "--month", "2026-13"),
            "empty tenant": ("bill", "--tenant", " ", "--month", MONTH),
            "unknown command": ("refund", "--all"),
            "unknown window": ("reconcile", "--window", "999999", "--as", "failed"),
        }
        for what, args in cases.items():
            self.expect(f"bad argument: {what}", self.run(*args), ok=False)
            self.counts["bad arguments tried"] += 1
        configs = {
            "malformed INI": "[main\ncollector = samples\n",
            "unknown collector": self.conf().read_text().replace("collector = samples", "collector = nosuch"),
            "unknown adapter": self.conf()
            .read_text()
            .replace("invoice:object = csv", 'invoice:object = "no.such:Thing"'),
            "meter mapping with an unknown transformer": self.conf()
            .read_text()
            .replace(str(REPO / "etc/artifice/meters.yaml"), str(self.work / "meters.yaml")),
        }
        (self.work / "meters.yaml").write_text("meters:\n  instance:\n    transformer: guesswork\n    unit: hour\n")
        for what, text in configs.items():
            path = self.work / "bad.conf"
            path.write_text(text)
            self.expect(f"bad config: {what}", self.bill(tenant, conf=path), ok=False)
            self.counts["bad config files tried"] += 1

    def daemons(self, count: int) -> None:
        command = [sys.executable, "-m", "artifice.daemon.service", "--config-file", str(self.conf())]
        logs = [self.work / f"daemon-{number}.log" for number in range(count)]
        outputs = [log.open("ab") for log in logs]
        processes = [subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, cwd=REPO) for out in outputs]
        # Every daemon joins before the verdict, so they really bill side by side.
        deadline = time.monotonic() + 180
        while not all("artifice-daemon ready" in log.read_text() for log in logs) and time.monotonic() < deadline:
            time.sleep(0.2)
        while len(self.committed()) < len(self.tenants) and time.monotonic() < deadline:
            time.sleep(0.5)
        for process in processes:
            process.send_signal(signal.SIGTERM)
        for process in processes:
            if process.wait(timeout=60) != 0:
                self.problems.append(f"a daemon exited {process.returncode} on SIGTERM")
        for out in outputs:
            out.close()
        self.counts["concurrent daemons run"] += count

    # -- the verdict ----------------------------------------------------------

    def committed(self) -> collections.Counter[str]:
        with sqlite3.connect(self.database) as connection:
            rows = connection.execute(
                "SELECT tenant_id FROM billing_windows WHERE kind = 'invoice' AND state = 'committed'"
            ).fetchall()
        return collections.Counter(tenant for (tenant,) in rows)

    def verdict(self) -> tuple[int, int]:
        files = collections.Counter(p.name.split("-2026-10")[0] for p in (self.work / "invoices").glob("*.csv"))
        windows = self.committed()
        lost = sum(1 for t in self.tenants if files[t] == 0 or windows[t] == 0)
        duplicated = sum(max(files[t], windows[t]) - 1 for t in self.tenants if max(files[t], windows[t]) > 1)
        for path in (self.work / "invoices").glob("*.csv"):
            if ",1.20,NZD" not in path.read_text().splitlines()[-1]:
                self.problems.append(f"{path.name}: total is not 1.20 NZD: {path.read_text().splitlines()[-1]}")
        return lost, duplicated


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tenants", type=int, default=12, help="at least 12")
    args = parser.parse_args(argv)
    tenants = [f"t-{i:03d}" for i in range(max(args.tenants, 12))]
    work = Path(tempfile.mkdtemp(prefix="artifice-reliability-"))
    samples: list[Any] = [sample(t, hour) for t in tenants for hour in range(25)]
    samples += bad_samples(tenants[0])
    (work / "samples.json").write_text(json.dumps(samples))
    report = Report(work, tenants)
    manage = [sys.executable, "-m", "artifice.cli.manage", "--config-file", str(report.conf()), "db", "upgrade"]
    subprocess.run(manage, check=True, capture_output=True, cwd=REPO)
    started = time.monotonic()
    report.bad_input(tenants[0])
    report.crashes(tenants[1:5])
    report.faults(tenants[5:9])
    report.daemons(2)
    lost, duplicated = report.verdict()
    print(f"reliability report ({len(tenants)} tenants, {time.monotonic() - started:.0f} s, work dir {work})")
    for what, count in report.counts.items():
        print(f"  {what}: {count}")
    print(f"  invoices lost: {lost}")
    print(f"  invoices duplicated: {duplicated}")
    for problem in report.problems:
        print(f"  PROBLEM: {problem}")
    return 0 if lost == duplicated == 0 and not report.problems else 1


if __name__ == "__main__":
    sys.exit(main())
