"""Fixtures: demo configs, the CLI as a subprocess, a real PostgreSQL server."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from artifice.store import db
from tests.figures import FIGURES
from tests.servers import Server
from tests.telemetry import ceilometer, gnocchi, keystone, write_conf  # noqa: F401  (shared real-server fixtures)

REPO = Path(__file__).resolve().parent.parent
DEMO = REPO / "etc" / "artifice" / "demo"


def demo_conf_text(tmp: Path, invoice_ref: str = "csv", extra_invoice: str = "") -> str:
    return f"""
[main]
collector = samples
invoice:object = {invoice_ref}
datacenters = RegionOne:Wellington,RegionTwo:Auckland

[invoice:object]
csv_directory = "{tmp / "invoices"}"
rates_file = "{DEMO / "rates.csv"}"
{extra_invoice}

[collector:samples]
region_files = RegionOne:{DEMO / "RegionOne.json.gz"},RegionTwo:{DEMO / "RegionTwo.json.gz"}

[metering]
meter_mapping = {REPO / "etc" / "artifice" / "meters.yaml"}

[database]
connection = sqlite:///{tmp / "artifice.db"}
"""


@pytest.fixture
def database(tmp_path: Path) -> str:
    """An upgraded SQLite billing database in the test's directory."""
    url = f"sqlite:///{tmp_path / 'artifice.db'}"
    db.upgrade(db.make_engine(url))
    return url


@pytest.fixture
def demo_conf(tmp_path: Path) -> Path:
    conf = write_conf(tmp_path / "artifice.conf", demo_conf_text(tmp_path))
    db.upgrade(db.make_engine(f"sqlite:///{tmp_path / 'artifice.db'}"))
    return conf


def cli(*args: str, env: dict[str, str] | None = None, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """Run ``artifice`` (or ``artifice-manage`` with manage=...) as a real process."""
    module = "artifice.cli.manage" if args and args[0] == "manage" else "artifice.cli.main"
    argv = args[1:] if args and args[0] == "manage" else args
    return subprocess.run(
        [sys.executable, "-m", module, *argv],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **(env or {})},
        cwd=cwd or REPO,
    )


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[str]:
    """A real PostgreSQL started by the project's own script, for the session."""
    directory = tempfile.mkdtemp(prefix="artifice-pg-")
    os.chmod(directory, 0o755)
    script = REPO / "tools" / "servers" / "postgres.sh"
    port = str(_free_port())
    started = subprocess.run(
        ["bash", str(script), "start", directory, port], capture_output=True, text=True, timeout=600
    )
    if started.returncode != 0:
        pytest.fail(f"PostgreSQL did not start:\n{started.stdout}\n{started.stderr}")
    try:
        yield started.stdout.strip().splitlines()[-1]
    finally:
        subprocess.run(["bash", str(script), "stop", directory, port], capture_output=True, timeout=120)


@pytest.fixture
def postgres_url(postgres_server: str) -> str:
    """A fresh, empty database on the session's PostgreSQL server."""
    name = f"t_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(postgres_server, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return postgres_server.rsplit("/", 1)[0] + f"/{name}"


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[sa.Engine]:
    """An upgraded billing database on each supported backend."""
    url = f"sqlite:///{tmp_path / 'store.db'}" if request.param == "sqlite" else request.getfixturevalue("postgres_url")
    engine = db.make_engine(url)
    db.upgrade(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def redis_server() -> Iterator[Server]:
    """A real Redis (Debian's redis-server), started by the project's script: a tooz backend."""
    server = Server("redis")
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def faketime() -> str:
    """libfaketime's ``faketime`` command (installed from Debian by the project's script if missing)."""
    return debian_tool("faketime", "faketime")


def debian_tool(command: str, package: str) -> str:
    script = REPO / "tools" / "servers" / "debian-tool.sh"
    found = subprocess.run(["bash", str(script), command, package], capture_output=True, text=True, timeout=600)
    if found.returncode != 0:
        pytest.fail(f"{command} is not available:\n{found.stderr}")
    return found.stdout.strip().splitlines()[-1]


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    for section, lines in FIGURES.items():
        terminalreporter.section(section)
        for line in lines:
            terminalreporter.write_line(line)
