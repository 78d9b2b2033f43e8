"""Database connection, schema migrations and the schema-version check."""

from __future__ import annotations

import logging
import os
from typing import TYPE_CHECKING

from sqlalchemy import Connection, Engine, create_engine, event, inspect, text
from sqlalchemy.exc import SQLAlchemyError

from artifice.exceptions import SchemaOutdated, StoreError
from artifice.store.exact_sql import register_sqlite_functions

if TYPE_CHECKING:
    from alembic.config import Config

LOG = logging.getLogger(__name__)
# The newest migration's revision: what the schema check compares with, without importing alembic
# (a fifth of every command's start-up). tests/test_migrations_head.py holds it to alembic's head.
SCHEMA_HEAD = "0007"
_MIGRATIONS = os.path.join(os.path.dirname(__file__), "migrations")
# Execution option of a connection whose transaction writes (see _sqlite_begin).
WRITE_OPTION = "artifice_write"


def make_engine(url: str) -> Engine:
    try:
        # A file needs no liveness check before each use; a server connection may have been dropped.
        engine = create_engine(url, future=True, pool_pre_ping=not url.startswith("sqlite"))
    except (SQLAlchemyError, ImportError, ValueError) as exc:
        raise StoreError(f"[database] connection: cannot use {_safe(url)}: {exc}") from exc
    return _dialect_events(engine)


def make_reader(url: str, connections: int) -> Engine:
    """An engine for read-only transactions of one snapshot each, ``connections`` kept open.

    On PostgreSQL every connection is REPEATABLE READ and READ ONLY from the start (nothing set
    at each checkout), and is not pinged before each use: a caller retries a read whose
    connection turns out lost. SQLite reads are one snapshot by themselves (WAL).
    """
    if url.startswith("sqlite"):
        return make_engine(url)
    try:
        engine = create_engine(url, future=True, pool_size=connections, max_overflow=0,
                               isolation_level="REPEATABLE READ")  # fmt: skip
    except (SQLAlchemyError, ImportError, ValueError) as exc:
        raise StoreError(f"[database] connection: cannot use {_safe(url)}: {exc}") from exc
    if engine.dialect.name == "postgresql":
        event.listen(engine, "connect", _read_only)
    return _dialect_events(engine)


def _read_only(dbapi_connection: object, _record: object) -> None:
    dbapi_connection.readonly = True  # type: ignore[attr-defined]  # psycopg2: BEGIN ... READ ONLY


def _dialect_events(engine: Engine) -> Engine:
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "begin", _sqlite_begin)
    return engine


def _sqlite_pragmas(dbapi_connection: object, _record: object) -> None:
    cursor = dbapi_connection.cursor()  # type: ignore[attr-defined]
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    # Write-ahead log: the read API reads while a billing run writes, and a
    # commit costs one fsync of the log (synchronous=FULL keeps it durable).
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.close()
    register_sqlite_functions(dbapi_connection)
    # SQLAlchemy, not the driver, begins transactions (below).
    dbapi_connection.isolation_level = None  # type: ignore[attr-defined]


def _sqlite_begin(connection: Connection) -> None:
    """Writers take the write lock at BEGIN: a transaction that read first and then writes would
    otherwise fail at once (SQLITE_BUSY_SNAPSHOT in WAL mode) when another process wrote meanwhile."""
    immediate = connection.get_execution_options().get(WRITE_OPTION)
    connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


def analyze(engine: Engine) -> None:
    """Give SQLite's planner table statistics (``ANALYZE``), best effort.

    Without them it joins a line-item list from the largest table and sorts all of it; with
    them it walks the invoices in index order. PostgreSQL keeps its own statistics.
    """
    if engine.dialect.name != "sqlite":
        return
    try:
        with engine.begin() as connection:
            connection.exec_driver_sql("ANALYZE")
    except SQLAlchemyError as exc:
        LOG.warning("ANALYZE of the billing database failed (lists may be slower): %s", describe(exc))


def describe(exc: SQLAlchemyError) -> str:
    """The database's own message, one line, without SQLAlchemy's SQL and background notes."""
    original = getattr(exc, "orig", None) or exc
    lines = str(original).strip().splitlines()
    return f"{type(original).__name__}: {lines[0] if lines else ''}"


def _safe(url: str) -> str:
    """The URL without its password, for messages."""
    from sqlalchemy.engine import make_url

    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # noqa: BLE001 - any unparsable URL is shown as a placeholder
        return "<unparsable URL>"


def _alembic_config() -> Config:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", _MIGRATIONS)
    return config


def head_revision() -> str | None:
    """The newest migration's revision, as alembic reads the migrations."""
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(_alembic_config()).get_current_head()


def current_revision(engine: Engine) -> str | None:
    """The revision alembic recorded in the database (``alembic_version``), None before any."""
    try:
        with engine.connect() as connection:
            if not inspect(connection).has_table("alembic_version"):
                return None
            found = connection.scalar(text("SELECT version_num FROM alembic_version"))
            return None if found is None else str(found)
    except SQLAlchemyError as exc:
        raise StoreError(f"database {_safe(str(engine.url))} is unavailable: {describe(exc)}") from exc


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Bring the schema to ``revision`` (what ``artifice-manage db upgrade`` runs)."""
    if engine.dialect.name == "sqlite" and engine.url.database:
        os.makedirs(os.path.dirname(os.path.abspath(engine.url.database)), exist_ok=True)
    from alembic import command

    config = _alembic_config()
    try:
        with engine.begin() as connection:
            config.attributes["connection"] = connection
            command.upgrade(config, revision)
    except SQLAlchemyError as exc:
        raise StoreError(f"database upgrade failed on {_safe(str(engine.url))}: {describe(exc)}") from exc


def check_schema(engine: Engine) -> None:
    """Refuse to run on a schema older or newer than this code."""
    current, head = current_revision(engine), SCHEMA_HEAD
    if current != head:
        raise SchemaOutdated(
            f"database {_safe(str(engine.url))} schema is at revision {current or 'none'}, "
            f"this Artifice needs {head}: run `artifice-manage db upgrade`"
        )
