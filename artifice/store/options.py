"""The billing database's options ([database]): light, so that registering them imports no SQLAlchemy."""

from __future__ import annotations

from oslo_config import cfg

database_opts = [
    cfg.StrOpt(
        "connection",
        default="sqlite:////var/lib/artifice/artifice.db",
        secret=True,
        help="SQLAlchemy URL of the billing database (SQLite or PostgreSQL).",
    ),
]
