"""One run's billing of one tenant-month, as a sequence of fenced steps.

    claim -> rate, price and add every line to the adapter -> record (RATED) -> send (billing.commit)

``BillingRun.steps()`` is a generator: it yields the name of each step it reaches (``claimed``,
``rated``, ``committing``, ``committed_in_erp``, ``retrying``). ``drive`` runs it to the end,
renewing the window's lease meanwhile; a test may instead stop it at any yield, which leaves the
database exactly as a SIGKILL there would.

Everything that can be refused locally (adapter settings, prices, units against rates, plugin
items) happens before RATED, so a rated window is ready to send. An error before anything was
sent fails the window with its message; an error after releases the window, state unchanged, for
the next run; a run that lost its window (``LostWindow``) touches nothing more.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Callable, Generator
from typing import Any

from artifice import failpoints, model
from artifice.billing import commit
from artifice.billing.lease import LeaseKeeper
from artifice.exceptions import ArtificeError, LostWindow, PricingError, safe_text
from artifice.invoices.base import Invoice
from artifice.model import Claimed, LineValue, PricedLine, Tenant
from artifice.store.windows import WindowStore
from artifice.timeutil import Window

LOG = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class Job:
    """What to bill, and how: everything a run needs besides the store."""

    tenant: Tenant
    window: Window
    kind: str  # model.INVOICE or model.ADJUSTMENT
    adapter: str
    run_id: str
    new_invoice: Callable[[str], Invoice]  # an adapter instance for the reference
    rate: Callable[[Invoice], tuple[list[PricedLine], str]]  # the lines and their currency
    send_empty: bool
    policy: commit.CommitPolicy


class BillingRun:
    def __init__(self, store: WindowStore, job: Job, sleep: Callable[[float], None] = time.sleep) -> None:
        self.store, self.job, self.sleep = store, job, sleep
        self.claimed: Claimed | None = None
        self.lines: list[PricedLine] = []
        self.currency = ""
        self.external_id: str | None = None

    def steps(self) -> Generator[str, None, None]:
        job = self.job
        claimed = self.claimed = self.store.claim(job.tenant, job.window, job.kind, job.adapter, job.run_id)
        LOG.debug("run %s: tenant %s %s is %s (%s)", job.run_id, job.tenant.id, job.window.label, claimed.reference,
                  claimed.state)  # fmt: skip
        yield "claimed"
        try:
            invoice = job.new_invoice(claimed.reference)
            if claimed.state == model.CLAIMED:
                self.lines, self.currency = job.rate(invoice)
                fill(invoice, self.lines, self.currency)
                claimed = self.claimed = self.store.record_lines(claimed, self.lines, self.currency)
            else:  # resumed from a run that stopped: send exactly what it rated
                self.lines, self.currency = self.store.lines(claimed.id), claimed.currency
                fill(invoice, self.lines, self.currency)
        except GeneratorExit:
            raise
        except BaseException as exc:
            self._stop_before_sending(claimed, exc)
            raise
        if claimed.state == model.RATED:
            yield "rated"
        if claimed.state == model.RATED and not self.lines and not job.send_empty:
            self.claimed = self.store.nothing_to_send(claimed)
            return
        try:
            sent = yield from commit.send(self.store, claimed, invoice, job.policy, self.sleep)
            self.claimed, self.external_id = sent
        except GeneratorExit:
            raise
        except BaseException as exc:
            self._let_go(claimed, exc)
            raise

    def _let_go(self, claimed: Claimed, exc: BaseException) -> None:
        """Whatever ended the send, the lease is not kept (``send`` already released it on the errors it knows)."""
        if isinstance(exc, LostWindow):
            return
        try:
            self.store.release_lease(claimed.id, claimed.token)
        except ArtificeError as failure:
            LOG.warning("tenant %s %s: could not release window %s: %s",
                        claimed.tenant.id, claimed.window.label, claimed.id, failure)  # fmt: skip

    def _stop_before_sending(self, claimed: Claimed, exc: BaseException) -> None:
        if isinstance(exc, LostWindow):
            return
        error = describe(exc)
        try:
            if claimed.state in (model.CLAIMED, model.RATED):  # nothing was sent
                self.store.failed(claimed, error)
            else:
                self.store.release(claimed, error)
        except ArtificeError as failure:
            LOG.warning("tenant %s %s: %s; and the window could not be updated: %s",
                        claimed.tenant.id, claimed.window.label, error, failure)  # fmt: skip


def drive(run: BillingRun) -> None:
    """Run every step, renewing the lease from the claim on; ``ARTIFICE_FAILPOINT`` may kill it at one."""
    steps = run.steps()
    failpoints.hit(next(steps))  # claimed: from here on the window has a lease to keep alive
    assert run.claimed is not None
    with LeaseKeeper(run.store, run.claimed.id, run.claimed.token):
        for step in steps:
            failpoints.hit(step)


def fill(invoice: Invoice, lines: list[PricedLine], currency: str) -> None:
    """Give the adapter every line, a section per datacenter (where it refuses what it cannot bill).

    An adapter's own failure here (not an ArtificeError) is a PricingError naming the call: nothing was sent.
    """
    for datacenter in sorted({line.datacenter for line in lines}):
        _adapter_call(invoice, f"add_section({datacenter!r})", invoice.add_section, datacenter)
        for line in (x for x in lines if x.datacenter == datacenter):
            value = LineValue(line.quantity, line.unit, line.unit_price, line.amount, currency, line.category,
                              line.item_type, line.description or line.service)  # fmt: skip
            call = f"add_line({datacenter!r}, {line.service!r})"
            _adapter_call(invoice, call, invoice.add_line, (datacenter, line.service, value))


def _adapter_call(invoice: Invoice, what: str, method: Callable[[Any], None], argument: Any) -> None:
    try:
        method(argument)
    except ArtificeError:
        raise
    except Exception as exc:
        failure = safe_text(invoice, exc)
        raise PricingError(f"adapter {type(invoice).__name__}: {what} failed: {failure}") from exc


def describe(exc: BaseException) -> str:
    """What a run that stopped before sending records: an ArtificeError's text, else the exception's in
    one line without query strings (its adapter's secrets were masked where it was raised)."""
    return str(exc) if isinstance(exc, ArtificeError) else safe_text(None, exc)
