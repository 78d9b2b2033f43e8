"""``artifice-manage``: database administration."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from oslo_config import cfg

from artifice.bootstrap import run
from artifice.store import backup as store_backup
from artifice.store import db


def _add_parsers(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    database = subparsers.add_parser("db", help="Database schema.")
    actions = database.add_subparsers(dest="action", required=True)
    actions.add_parser("upgrade", help="Create or upgrade the schema to this version.")
    actions.add_parser("version", help="Print the schema revision.")
    backup = actions.add_parser("backup", help="Write a consistent copy of the database while Artifice runs.")
    backup.add_argument("target", help="File to write (SQLite: a database file; PostgreSQL: a pg_dump archive).")


command_opt = cfg.SubCommandOpt("command", title="Commands", handler=_add_parsers)


def main(argv: Sequence[str] | None = None) -> int:
    return run("artifice-manage", argv, [command_opt], _dispatch)


def _dispatch(conf: cfg.ConfigOpts) -> int:
    engine = db.make_engine(conf.database.connection)
    if conf.command.action == "backup":
        print(store_backup.backup(engine, conf.command.target))
    elif conf.command.action == "upgrade":
        db.upgrade(engine)
        print(f"database schema at revision {db.current_revision(engine)}")
    else:
        print(f"database schema at revision {db.current_revision(engine) or 'none'} (code needs {db.head_revision()})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
