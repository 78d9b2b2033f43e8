"""Commit an invoice to the ERP exactly once.

The window is COMMITTING from just before ``commit()`` until the database
records the ERP's answer. Whenever the outcome is unknown (a timeout, a lost
connection, a crash), the invoice's deterministic reference is looked up in
the ERP before anything is sent again. An adapter without ``lookup`` cannot
be reconciled automatically: its uncertain windows stop at
NEEDS_RECONCILIATION for an operator, and are never re-sent blindly.
"""

from __future__ import annotations

from collections.abc import Callable

import tenacity
from oslo_config import cfg

from artifice import failpoints
from artifice.exceptions import CommitError, TransientCommitError
from artifice.invoice import Invoice
from artifice.store import models
from artifice.store.models import BillingWindow
from artifice.store.windows import WindowStore

commit_opts = [
    cfg.IntOpt("commit_retries", default=4, min=0, help="Retries of a commit that failed transiently."),
    cfg.FloatOpt("commit_retry_wait", default=2.0, min=0, help="First wait in seconds between commit retries."),
    cfg.IntOpt(
        "commit_settle_time",
        default=300,
        min=0,
        help="Seconds a window left committing by a run that stopped waits before it is looked up in the "
        "ERP and resumed: longer than the ERP may take to finish a request it already received.",
    ),
]


class CannotLookUp(CommitError):
    """The adapter has no way to find an invoice by its reference."""


def look_up(invoice: Invoice, reference: str) -> str | None:
    """The ERP's id of the invoice with ``reference``, None if it has none."""
    method: Callable[[str], object] | None = getattr(invoice, "lookup", None)
    if not callable(method):
        raise CannotLookUp(f"adapter {type(invoice).__name__} cannot look invoices up")
    try:
        found = method(reference)
    except NotImplementedError as exc:
        raise CannotLookUp(f"adapter {type(invoice).__name__} cannot look invoices up: {exc}") from exc
    return None if found is None else str(found)


def commit_once(
    conf: cfg.ConfigOpts, store: WindowStore, row: BillingWindow, invoice: Invoice, fill: Callable[[], None]
) -> str | None:
    """Send the invoice unless the ERP already has it; record the outcome."""
    reference = row.external_reference
    if row.state == models.COMMITTING:  # resumed after its run died mid-commit
        found = _reconcile(store, row, invoice)
        if found is not None:
            return found
    fill()
    store.mark_committing(row.id)
    failpoints.hit("committing")
    try:
        external_id = _commit_with_retries(conf, invoice, reference)
    except CannotLookUp as exc:
        store.mark_uncertain(row.id, _needs_operator(reference, exc), can_look_up=False)
        raise CommitError(_needs_operator(reference, exc)) from exc
    except TransientCommitError as exc:
        store.mark_uncertain(row.id, f"{exc}; will be looked up and reconciled on the next run", can_look_up=True)
        raise
    except CommitError as exc:
        store.mark_failed(row.id, str(exc))
        raise
    except BaseException as exc:
        store.mark_uncertain(
            row.id, f"commit interrupted: {exc!r}", can_look_up=callable(getattr(invoice, "lookup", None))
        )
        raise
    failpoints.hit("committed_in_erp")
    store.mark_committed(row.id, external_id)
    return external_id


def _reconcile(store: WindowStore, row: BillingWindow, invoice: Invoice) -> str | None:
    try:
        found = look_up(invoice, row.external_reference)
    except CannotLookUp as exc:
        store.mark_uncertain(row.id, _needs_operator(row.external_reference, exc), can_look_up=False)
        raise CommitError(_needs_operator(row.external_reference, exc)) from exc
    if found is not None:
        store.mark_committed(row.id, found)
    return found


def _commit_with_retries(conf: cfg.ConfigOpts, invoice: Invoice, reference: str) -> str | None:
    retrying = tenacity.Retrying(
        retry=tenacity.retry_if_exception_type(TransientCommitError),
        stop=tenacity.stop_after_attempt(conf.billing.commit_retries + 1),
        wait=tenacity.wait_exponential(multiplier=conf.billing.commit_retry_wait, max=60),
        reraise=True,
    )
    for attempt in retrying:
        with attempt:
            if attempt.retry_state.attempt_number > 1:
                # The last attempt's outcome is unknown: after the backoff wait, did the ERP keep it?
                found = look_up(invoice, reference)
                if found is not None:
                    return found
            invoice.commit()
            external_id = getattr(invoice, "external_id", None)
            return None if external_id is None else str(external_id)
    raise AssertionError("unreachable: tenacity re-raises the last error")


def _needs_operator(reference: str, cause: BaseException) -> str:
    return (
        f"the ERP may or may not hold invoice {reference} and {cause}; check the ERP, then run "
        "`artifice reconcile --window ID --as committed|failed`"
    )
