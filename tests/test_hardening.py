"""Hardening: secrets stay out of every message, exposed config files are reported, and the
reliability report (crashes, faults, bad input, concurrent daemons) loses and duplicates nothing."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.conftest import REPO, cli, demo_conf_text, write_conf
from tests.figures import note

PASSWORD, API_KEY = "Pa55-w0rd-SECRET", "api-KEY-SECRET-0042"


def test_secrets_never_reach_logs_or_errors(tmp_path: Path, demo_conf: Path) -> None:
    erp = f"url = http://127.0.0.1:9\nusername = billing\napi_key = {API_KEY}\ntimeout = 1\n"
    text = demo_conf_text(tmp_path, "django", erp) + (
        "\n[billing]\ncommit_retries = 1\ncommit_retry_wait = 0.01\n"
        f"\n[service_credentials]\nauth_type = password\nauth_url = http://127.0.0.1:9/v3\nusername = artifice\n"
        f"password = {PASSWORD}\nproject_name = service\n"
        f"\n[database]\nconnection = sqlite:///{tmp_path / 'artifice.db'}\n"
    )
    conf = write_conf(tmp_path / "secret.conf", text)
    runs = [
        cli("--debug", "--config-file", str(conf), "bill", "--tenant", "initech", "--month", "2026-10"),
        cli("--debug", "--config-file", str(conf), "windows"),
        cli("--debug", "--config-file", str(conf), "bill", "--all", "--month", "2026-10"),
    ]
    assert runs[0].returncode != 0 and "127.0.0.1:9" in runs[0].stderr  # the ERP is down, and it says where
    for run in runs:
        for line in (run.stdout + run.stderr).splitlines():
            assert PASSWORD not in line and API_KEY not in line, line


def test_a_config_file_with_secrets_readable_by_everyone_is_warned_about(demo_conf: Path) -> None:
    demo_conf.chmod(0o644)
    assert "readable by every user" not in cli("--config-file", str(demo_conf), "windows").stderr  # no secret in it
    demo_conf.write_text(demo_conf.read_text() + f"\n[service_credentials]\npassword = {PASSWORD}\n")
    warned = cli("--config-file", str(demo_conf), "windows")
    assert warned.returncode == 0 and "readable by every user" in warned.stderr and PASSWORD not in warned.stderr
    demo_conf.chmod(0o640)
    assert "readable by every user" not in cli("--config-file", str(demo_conf), "windows").stderr


def test_reliability_report_loses_and_duplicates_nothing() -> None:
    result = subprocess.run(
        [sys.executable, str(REPO / "tools" / "reliability_report.py"), "--tenants", "12"],
        capture_output=True,
        text=True,
        timeout=1200,
        cwd=REPO,
    )
    for line in result.stdout.splitlines():
        note("reliability report (tools/reliability_report.py)", line)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "invoices lost: 0" in result.stdout and "invoices duplicated: 0" in result.stdout
    assert "crash points tried: 4" in result.stdout and "concurrent daemons run: 2" in result.stdout
