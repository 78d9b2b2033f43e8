"""``artifice bill``: bill one tenant or every tenant for a month, by hand."""

from __future__ import annotations

import contextlib
import sys
from typing import Any

from oslo_config import cfg
from tqdm import tqdm
from tqdm.contrib.logging import logging_redirect_tqdm

from artifice.billing.calendar import refuse_unfinished
from artifice.billing.months import MonthLoop, Outcome
from artifice.billing.pipeline import Pipeline
from artifice.cli import render
from artifice.exceptions import CollectionError, InputError
from artifice.model import Tenant
from artifice.timeutil import Window, parse_month, utcnow


def bill(conf: cfg.ConfigOpts) -> int:
    """``artifice bill``: one tenant (its invoice printed) or every tenant (a line each, a summary)."""
    window = parse_month(conf.command.month)
    dry_run, rebill = conf.command.dry_run, conf.command.rebill
    decimals = conf.billing.currency_decimals
    if not dry_run:
        refuse_unfinished(window, utcnow())
    loop = MonthLoop(Pipeline.from_config(conf))
    if conf.command.tenant is not None:  # an empty --tenant "" is refused, never taken for --all
        tenant = _known_tenant(loop, window, conf.command.tenant, dry_run, conf.command.force_tenant)
        print(render.invoice_text(loop.pipeline.bill(tenant, window, dry_run, rebill), decimals))
        return 0
    with Progress() as progress:
        if rebill:  # every tenant whose month is billed, each decided on its own
            outcomes = loop.rebill(window, dry_run)
        else:
            outcomes = loop.preview(window) if dry_run else loop.bill(window, progress=progress.step)
        failures = committed = 0
        for outcome in outcomes:
            failures += outcome.error is not None
            committed += outcome.result is not None and outcome.result.state == "committed"
            progress.write(*_outcome_text(outcome, dry_run, decimals))
    if rebill:
        summary = f"{window.label}: {loop.due} billed tenant(s) of {loop.listed} re-rated"
    elif dry_run:
        summary = ""
    else:
        summary = f"{window.label}: {loop.listed} tenant(s), {loop.listed - loop.due} of them billed before"
    if failures:  # each failure had its line: the summary counts them, and the exit status says so
        summary = f"{summary}; {committed} committed, {failures} FAILED (they stay due)" if summary else ""
    if summary:
        print(summary)
    return 1 if failures else 0


class Progress(contextlib.ExitStack):
    """A progress bar on a terminal (stderr), with result and log lines printed beside it, never over it."""

    bar: tqdm[Any] | None = None

    def __enter__(self) -> Progress:
        super().__enter__()
        self.enter_context(logging_redirect_tqdm())
        self.callback(lambda: self.bar.close() if self.bar is not None else None)
        return self

    def step(self, index: int, count: int, tenant: Tenant) -> None:
        if self.bar is None and sys.stderr.isatty():
            self.bar = tqdm(total=count, file=sys.stderr, unit="tenant", leave=False, dynamic_ncols=True)
        if self.bar is not None:
            self.bar.n = index
            self.bar.set_description_str(f"billing {tenant.label}")

    def write(self, text: str, to_stderr: bool) -> None:
        stream = sys.stderr if to_stderr else sys.stdout
        if self.bar is None:
            print(text, file=stream, flush=True)
        else:
            tqdm.write(text, file=stream)


def _known_tenant(loop: MonthLoop, window: Window, text: str, dry_run: bool, force: bool) -> Tenant:
    """The project ``--tenant`` names, as Keystone or telemetry knows it (with its name)."""
    tenant_id = text.strip()
    if not tenant_id:
        raise InputError("--tenant is empty")
    if force:
        return Tenant(tenant_id)
    try:
        listed = loop.pipeline.tenants(window)
    except CollectionError as exc:
        raise CollectionError(
            f"tenant {tenant_id} {window.label}: cannot ask Keystone and telemetry for the month's projects "
            f"(--force-tenant skips that check): {exc}"
        ) from exc
    known = {t.id: t for t in listed}
    if tenant_id in known:
        if not loop.pipeline.billed([known[tenant_id]]):
            raise InputError(f"--tenant {tenant_id} is left out by [tenants] include_tenants/exclude_tenants")
        if not dry_run:  # its month is due now for every tenant listed, the daemon knows
            loop.pipeline.store.record_listing(window, listed)
        return known[tenant_id]
    named = [t.id for t in listed if t.name == tenant_id]
    if named:
        raise InputError(f"--tenant {tenant_id} is the name of project {', '.join(named)}: give its id")
    keystone = "Keystone" if loop.pipeline.conf.tenants.from_keystone else "Keystone (not asked: from_keystone)"
    raise InputError(
        f"--tenant {tenant_id} is not a project of {keystone} nor one with usage in {window.label}; "
        "check the id, or pass --force-tenant to bill it anyway"
    )


def _outcome_text(outcome: Outcome, dry_run: bool, decimals: int) -> tuple[str, bool]:
    """The line (or invoice, for a dry run) an outcome prints, and whether it goes to stderr."""
    who = f"tenant {outcome.tenant.label}"
    if outcome.error is not None:
        return f"{who}: FAILED: {outcome.error}", True
    result = outcome.result
    if result is None:
        return f"{who}: skipped: {outcome.skipped}", False
    if dry_run:
        return render.invoice_text(result, decimals) + "\n", False
    return render.result_line(result, decimals), False
