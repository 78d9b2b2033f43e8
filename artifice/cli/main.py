"""``artifice``: bill tenants by hand and inspect billed windows."""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from collections.abc import Sequence

from oslo_config import cfg

from artifice import tenants
from artifice.billing.calendar import due_months, last_due
from artifice.bootstrap import run
from artifice.cli import render
from artifice.model import Tenant
from artifice.store import db
from artifice.store.windows import WindowStore
from artifice.timeutil import utcnow


def _add_parsers(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    bill = subparsers.add_parser("bill", help="Bill one tenant or all tenants for a month.")
    who = bill.add_mutually_exclusive_group(required=True)
    who.add_argument("--tenant", help="Keystone project id to bill.")
    who.add_argument("--all", action="store_true", help="Bill every tenant with usage.")
    bill.add_argument("--month", required=True, help="Month to bill, YYYY-MM (UTC).")
    bill.add_argument("--dry-run", action="store_true", help="Print the invoice; write nothing.")
    bill.add_argument(
        "--force-tenant",
        action="store_true",
        help="Bill --tenant even if neither Keystone nor telemetry knows it (a project id, not a name).",
    )
    bill.add_argument(
        "--rebill",
        action="store_true",
        help="Re-rate a billed month and send only what changed, as adjustment lines on a new invoice revision.",
    )
    windows = subparsers.add_parser("windows", help="List billed windows and their state.")
    windows.add_argument("--tenant", help="Only this tenant.")
    subparsers.add_parser("status", help="Per tenant: last billed month, months behind, last error.")
    reconcile = subparsers.add_parser(
        "reconcile", help="Record what the ERP holds for a window left needs_reconciliation."
    )
    reconcile.add_argument("--window", type=_window_id, required=True, help="Window id, from `artifice windows`.")
    reconcile.add_argument(
        "--as",
        dest="outcome",
        required=True,
        choices=("committed", "failed"),
        help="committed: the ERP has the invoice; failed: it does not (the month is billed again).",
    )
    reconcile.add_argument("--external-id", help="The ERP's id of the invoice (with --as committed).")


def _window_id(text: str) -> int:
    if not text.isdigit() or not 1 <= int(text) <= 2**31 - 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a window id (a number from `artifice windows`)")
    return int(text)


command_opt = cfg.SubCommandOpt("command", title="Commands", handler=_add_parsers)


def main(argv: Sequence[str] | None = None) -> int:
    return run("artifice", argv, [command_opt], _dispatch)


def _dispatch(conf: cfg.ConfigOpts) -> int:
    if conf.command.name == "bill":  # only billing loads the pipeline (pandas, the clients): the rest starts fast
        from artifice.cli.bill import bill

        return bill(conf)
    engine = db.make_engine(conf.database.connection)
    db.check_schema(engine)
    store = WindowStore(engine)
    if conf.command.name == "windows":
        print(render.windows_text(store.windows(conf.command.tenant), conf.billing.currency_decimals))
        return 0
    if conf.command.name == "status":
        delay = dt.timedelta(seconds=conf.daemon.bill_delay)
        due = due_months(utcnow(), delay, conf.daemon.first_month, store.listed_months(origin="daemon"))
        statuses = store.tenant_status(due)
        billed = {t.id for t in tenants.billed(conf, [Tenant(s.tenant_id, s.tenant_name) for s in statuses])}
        shown = [s for s in statuses if s.tenant_id in billed]  # not those [tenants] leaves out
        print(render.status_text(shown, due[-1] if due else last_due(utcnow(), delay)))
        return 0
    committed = conf.command.outcome == "committed"
    row = store.reconcile(
        conf.command.window, committed, conf.command.external_id, "reconciled by hand: the ERP does not have it"
    )
    print(render.windows_text([row], conf.billing.currency_decimals))
    return 0


if __name__ == "__main__":
    sys.exit(main())
