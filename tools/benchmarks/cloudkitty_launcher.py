"""Run OpenStack CloudKitty 25.0.0's own code for ``tools/benchmarks/cloudkitty_processor.py``.

    PY=$(tools/servers/cloudkitty.sh venv)/bin/python
    $PY tools/benchmarks/cloudkitty_launcher.py prepare --service vcpus --price 0.0125 \\
        --begin 2026-10-01T00:00:00+00:00 --config-file cloudkitty.conf
    $PY tools/benchmarks/cloudkitty_launcher.py processor --config-file cloudkitty.conf

Runs in CloudKitty's venv (it imports CloudKitty, not Artifice).

``prepare``, through CloudKitty's own models and DB APIs:

- creates CloudKitty's tables from its models (core, hashmap, pyscripts,
  storage v1, storage state): its alembic migrations, written for MySQL, do
  not run on PostgreSQL with SQLAlchemy 2 (hashmap f8c799db4aa0 executes a raw
  SQL string; the rating modules' audit columns are added as ``TEXT(256)``;
  hashmap 8a591f85865f updates its table through a second connection while
  its own transaction holds it; pyscripts c6e4cda29654 drops a constraint by
  the name MySQL gives it);
- enables the hashmap rating module and gives ``--service`` one flat service
  mapping of ``--price`` per unit (valid from a day before ``--begin``: a
  mapping is valid from its creation otherwise);
- sets the storage state of every scope of ``[fetcher_source] sources`` one
  collect period before ``--begin``, so that the processor's next period is
  ``--begin`` (without a state it starts at the current month).

``processor``: ``cloudkitty-processor``'s own main. One argument is dropped
from its Gnocchi aggregates requests: CloudKitty 25 asks for
``use_history=True``, which Gnocchi 4.7.1 answers with 404 "Metric does not
exist" for every resource (as in ``cloudkitty_month.py``).
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from collections.abc import Sequence
from typing import Any


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("command", choices=["prepare", "processor"])
    parser.add_argument("--service", default="vcpus", help="prepare: the metric rated")
    parser.add_argument("--price", help="prepare: price per unit of --service and period")
    parser.add_argument("--begin", help="prepare: first period each scope processes (ISO 8601)")
    args, rest = parser.parse_known_args(argv)
    if args.command == "prepare":
        _prepare(rest, args.service, args.price, dt.datetime.fromisoformat(args.begin))
        return 0
    _drop_use_history()
    sys.argv = ["cloudkitty-processor", *rest]
    from cloudkitty.cli import processor

    processor.main()
    return 0


def _prepare(config: list[str], service: str, price: str, begin: dt.datetime) -> None:
    from cloudkitty import db, storage_state
    from cloudkitty import service as ck_service
    from cloudkitty.db import api as db_api
    from cloudkitty.db.sqlalchemy import models as core
    from cloudkitty.rating.hash.db import api as hash_api
    from cloudkitty.rating.hash.db.sqlalchemy import models as hashmap_models
    from cloudkitty.rating.pyscripts.db.sqlalchemy import models as pyscripts
    from cloudkitty.storage.v1.sqlalchemy import models as storage_v1
    from cloudkitty.storage_state import models as states_models
    from oslo_config import cfg

    ck_service.prepare_service(["cloudkitty-prepare", *config])
    conf = cfg.CONF
    conf.import_group("fetcher_source", "cloudkitty.fetcher.source")
    with db.session_for_write() as session:
        engine = session.get_bind()
    for models in (core, hashmap_models, pyscripts, storage_v1, states_models):
        models.Base.metadata.create_all(engine)
    db_api.get_instance().get_module_info().set_state("hashmap", True)  # what `cloudkitty module enable` stores
    hashmap = hash_api.get_instance()
    created = hashmap.create_service(service)
    valid_from = (begin - dt.timedelta(days=1)).astimezone(dt.UTC).replace(tzinfo=None)  # naive UTC, as stored
    hashmap.create_mapping(price, map_type="flat", service_id=created.service_id, start=valid_from,
                           created_by="benchmark")  # fmt: skip
    states = storage_state.StateManager()
    for scope in conf.fetcher_source.sources:
        states.set_last_processed_timestamp(scope, begin - dt.timedelta(seconds=conf.collect.period),
                                            fetcher=conf.fetcher.backend, collector=conf.collect.collector,
                                            scope_key=conf.collect.scope_key)  # fmt: skip


def _drop_use_history() -> None:
    """Make gnocchiclient's aggregates fetch ignore ``use_history`` (in this process and the workers it forks)."""
    from gnocchiclient.v1 import aggregates

    fetch = aggregates.AggregatesManager.fetch

    def fetch_without_history(self: Any, *args: Any, **kwargs: Any) -> Any:
        kwargs.pop("use_history", None)
        return fetch(self, *args, **kwargs)

    aggregates.AggregatesManager.fetch = fetch_without_history


if __name__ == "__main__":
    sys.exit(main())
