"""``artifice``: bill tenants by hand and inspect billed windows."""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from collections.abc import Sequence

from oslo_config import cfg

from artifice.cli import render, run
from artifice.daemon.schedule import last_due
from artifice.exceptions import ArtificeError, InputError
from artifice.model import Tenant
from artifice.pipeline import BillResult, Pipeline
from artifice.store import db
from artifice.store.windows import WindowStore
from artifice.timeutil import parse_month, utcnow


def _add_parsers(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    bill = subparsers.add_parser("bill", help="Bill one tenant or all tenants for a month.")
    who = bill.add_mutually_exclusive_group(required=True)
    who.add_argument("--tenant", help="Keystone project id to bill.")
    who.add_argument("--all", action="store_true", help="Bill every tenant with usage.")
    bill.add_argument("--month", required=True, help="Month to bill, YYYY-MM (UTC).")
    bill.add_argument("--dry-run", action="store_true", help="Print the invoice; write nothing.")
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
    reconcile.add_argument("--window", type=int, required=True, help="Window id, from `artifice windows`.")
    reconcile.add_argument(
        "--as",
        dest="outcome",
        required=True,
        choices=("committed", "failed"),
        help="committed: the ERP has the invoice; failed: it does not (the month is billed again).",
    )
    reconcile.add_argument("--external-id", help="The ERP's id of the invoice (with --as committed).")


command_opt = cfg.SubCommandOpt("command", title="Commands", handler=_add_parsers)


def main(argv: Sequence[str] | None = None) -> int:
    return run("artifice", argv, [command_opt], _dispatch)


def _dispatch(conf: cfg.ConfigOpts) -> int:
    if conf.command.name == "bill":
        return _bill(conf)
    engine = db.make_engine(conf.database.connection)
    db.check_schema(engine)
    store = WindowStore(engine)
    if conf.command.name == "windows":
        print(render.windows_text(store.windows(conf.command.tenant)))
        return 0
    if conf.command.name == "status":
        due = last_due(utcnow(), dt.timedelta(seconds=conf.daemon.bill_delay))
        print(render.status_text(store.windows(), due))
        return 0
    committed = conf.command.outcome == "committed"
    row = store.reconcile(
        conf.command.window, committed, conf.command.external_id, "reconciled by hand: the ERP does not have it"
    )
    print(render.windows_text([row]))
    return 0


def _bill(conf: cfg.ConfigOpts) -> int:
    window = parse_month(conf.command.month)
    pipeline = Pipeline.from_config(conf)
    dry_run = conf.command.dry_run
    if conf.command.tenant:
        tenant_id = conf.command.tenant.strip()
        if not tenant_id:
            raise InputError("--tenant is empty")
        print(render.invoice_text(pipeline.bill(Tenant(tenant_id), window, dry_run, conf.command.rebill)))
        return 0
    if conf.command.rebill:
        raise InputError("--rebill takes one --tenant: re-billing is decided tenant by tenant")
    failures = 0
    for outcome in pipeline.bill_all(window, dry_run, _progress if sys.stderr.isatty() else None):
        if isinstance(outcome, BillResult):
            _print_outcome(outcome, dry_run)
        else:
            tenant, error = outcome
            failures += 1
            print(f"tenant {tenant.id}: FAILED: {error}", file=sys.stderr)
    if sys.stderr.isatty():
        print("\r\033[K", end="", file=sys.stderr)
    if failures:
        raise ArtificeError(f"{failures} tenant(s) failed for {window.label}; see the messages above")
    return 0


def _print_outcome(result: BillResult, dry_run: bool) -> None:
    if result.state == "skipped":
        print(f"tenant {result.tenant.id}: skipped: {result.note}")
    elif dry_run:
        print(render.invoice_text(result) + "\n")
    else:
        print(f"tenant {result.tenant.id}: {result.state} {result.reference} total {result.total} {result.currency}")


def _progress(index: int, count: int, tenant: Tenant) -> None:
    print(f"\r\033[K[{index + 1}/{count}] billing tenant {tenant.id}", end="", file=sys.stderr, flush=True)


if __name__ == "__main__":
    sys.exit(main())
