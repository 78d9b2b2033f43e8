"""A consistent copy of the billing database, taken while Artifice runs.

Copying the SQLite file is not a backup: in WAL mode the newest committed rows may still be in
``-wal`` beside it. SQLite's online backup API copies every committed page, and PostgreSQL's
``pg_dump`` takes one snapshot; either can run while the daemon bills.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess

from sqlalchemy import Engine

from artifice.exceptions import StoreError


def backup(engine: Engine, target: str) -> str:
    """Write a consistent copy of the database to ``target`` (which must not exist); say what was written."""
    if os.path.exists(target):
        raise StoreError(f"backup target {target} exists; not overwriting it")
    if engine.dialect.name == "sqlite":
        return _sqlite(engine, target)
    if engine.dialect.name == "postgresql":
        return _postgresql(engine, target)
    raise StoreError(f"no backup for {engine.dialect.name} databases; use that database's own tool")


def _sqlite(engine: Engine, target: str) -> str:
    source = engine.url.database
    if not source or source == ":memory:":
        raise StoreError("an in-memory SQLite database has nothing to back up")
    if not os.path.isfile(source):
        raise StoreError(f"no database at {os.path.abspath(source)}: check [database] connection")
    try:
        with sqlite3.connect(f"file:{source}?mode=ro", uri=True) as live, sqlite3.connect(target) as copy:
            live.backup(copy)
    except sqlite3.Error as exc:
        raise StoreError(f"backing up {source} to {target}: {exc}") from exc
    return f"SQLite database {source} copied to {target} (online backup: every committed row)"


def _postgresql(engine: Engine, target: str) -> str:
    pg_dump = shutil.which("pg_dump")
    if pg_dump is None:
        raise StoreError("pg_dump is not installed (Debian: postgresql-client); it takes PostgreSQL backups")
    url = engine.url
    env = {**os.environ, "PGPASSWORD": url.password or ""} if url.password else dict(os.environ)
    # libpq's own URI, with every option of the URL (host=<socket dir>, sslmode=...); the password
    # goes through the environment, never the command line.
    libpq = url.set(drivername="postgresql", password=None).render_as_string(hide_password=False)
    arguments = [pg_dump, "--format=custom", f"--file={target}", f"--dbname={libpq}"]
    result = subprocess.run(arguments, env=env, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise StoreError(f"pg_dump failed: {' '.join(result.stderr.split())[-500:]}")
    return f"PostgreSQL database {url.database} dumped to {target} (pg_dump custom format: pg_restore reads it)"
