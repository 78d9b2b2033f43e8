"""Send an invoice to the ERP exactly once, and record what each answer means for its window.

Before anything is sent the window is COMMITTING and uncertain (``begin_attempt``). Then:

- the ERP accepted: COMMITTED with its id;
- it refused (any 4xx): this attempt created nothing. If no earlier attempt is of unknown
  outcome, the window FAILED and the month is billed again later, under the same reference;
  otherwise the ERP may hold the invoice from that earlier attempt, and the window waits for a
  lookup that finds it or for an operator (NEEDS_RECONCILIATION): never billed twice;
- the request certainly never reached the ERP (``NotSent``: connection refused, 429): nothing
  became uncertain, and it is tried again;
- the outcome is unknown (a timeout, a lost answer, a 5xx): after the backoff wait the reference
  is looked up. Found: COMMITTED. Not found: sent again only once ``commit_settle_time`` has
  passed since the unknown attempt began (the ERP may still be handling it); before that, the
  window is released for a later run, which looks it up again first.

An adapter that cannot look invoices up never has an uncertain invoice sent again: its window
stops at NEEDS_RECONCILIATION for ``artifice reconcile``.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
from collections.abc import Callable, Generator

from oslo_config import cfg

from artifice import model
from artifice.exceptions import (
    ArtificeError,
    CannotLookUp,
    CommitError,
    NotSent,
    TransientCommitError,
    WindowConflict,
    safe_text,
)
from artifice.invoices.base import Invoice
from artifice.model import Claimed
from artifice.store.windows import WindowStore

LOG = logging.getLogger(__name__)


SendSteps = Generator[str, None, tuple[Claimed, str | None]]


@dataclasses.dataclass(frozen=True)
class CommitPolicy:
    retries: int
    retry_wait: float
    settle: dt.timedelta

    @classmethod
    def from_conf(cls, conf: cfg.ConfigOpts) -> CommitPolicy:
        billing = conf.billing
        return cls(billing.commit_retries, billing.commit_retry_wait, dt.timedelta(seconds=billing.commit_settle_time))

    def wait(self, retry: int) -> float:
        """Exponential backoff before retry number ``retry`` (1, 2, ...), at most a minute."""
        return float(min(60.0, self.retry_wait * 2 ** (retry - 1)))


def look_up(invoice: Invoice, reference: str) -> str | None:
    """The ERP's id of the invoice with ``reference``, None if it has none."""
    try:
        found = invoice.lookup(reference)
    except NotImplementedError as exc:  # a seed-000 adapter's way of saying it
        raise CannotLookUp(f"adapter {type(invoice).__name__} cannot look invoices up: {exc}") from exc
    except ArtificeError:
        raise
    except Exception as exc:  # an adapter's bug or an answer it could not read: it could not tell
        raise TransientCommitError(f"looking {reference} up failed: {safe_text(invoice, exc)}") from exc
    if found is None:
        return None
    if isinstance(found, bool) or not isinstance(found, (str, int)) or not str(found).strip():
        # [] or False is no "not found": only None says that; anything else, nobody can tell
        raise TransientCommitError(
            f"adapter {type(invoice).__name__}: lookup({reference}) answered {found!r}, neither an ERP id nor None"
        )
    return str(found)


def send(
    store: WindowStore, claimed: Claimed, invoice: Invoice, policy: CommitPolicy, sleep: Callable[[float], None]
) -> SendSteps:
    """Commit ``invoice`` for the window; yields at each step and returns the committed window and ERP id."""
    if claimed.state == model.NEEDS_RECONCILIATION or claimed.uncertain_since or claimed.attempts:
        claimed, found = _reconcile(store, claimed, invoice)
        if found is not None:
            return claimed, found
    retry = 0
    error: TransientCommitError
    while True:
        before = claimed.uncertain_since
        claimed = store.begin_attempt(claimed)
        yield "committing"
        try:
            invoice.commit()
        except NotSent as exc:
            claimed, error = store.not_sent(claimed, before), exc
        except TransientCommitError as exc:
            error = exc
        except CommitError as exc:
            _refused(store, store.not_sent(claimed, before), exc)
        except GeneratorExit:  # the run was stopped here, as a SIGKILL would: touch nothing
            raise
        except BaseException as exc:  # noqa: BLE001 - recorded as unknown, then re-raised
            _interrupted(store, claimed, invoice, exc)
        else:
            yield "committed_in_erp"
            external_id = None if invoice.external_id in (None, "") else str(invoice.external_id)
            return store.committed(claimed, external_id), external_id
        retry += 1
        if retry > policy.retries:
            _out_of_retries(store, claimed, invoice, error, policy)
        yield "retrying"
        LOG.warning("tenant %s %s: %s; retrying in %g s (retry %d of %d)", claimed.tenant.label, claimed.window.label,
                    error, policy.wait(retry), retry, policy.retries)  # fmt: skip
        sleep(policy.wait(retry))
        claimed = store.hold(claimed)  # still ours after the wait, and the database's time now
        uncertain_since = claimed.uncertain_since
        if uncertain_since is not None:
            claimed, found = _reconcile(store, claimed, invoice)
            if found is not None:
                return claimed, found
            resend_at = uncertain_since + policy.settle
            if claimed.now < resend_at:
                message = (
                    f"{error}; {claimed.reference} is not in the ERP yet, which may still be handling that "
                    f"attempt: it is looked up again, and sent only if still missing, after {_utc(resend_at)}"
                )
                store.release(claimed, message)
                raise TransientCommitError(message) from error


def _reconcile(store: WindowStore, claimed: Claimed, invoice: Invoice) -> tuple[Claimed, str | None]:
    """Look the reference up before sending; record COMMITTED when the ERP has it."""
    uncertain = claimed.state == model.NEEDS_RECONCILIATION or claimed.uncertain_since is not None
    try:
        found = look_up(invoice, claimed.reference)
    except CannotLookUp as exc:
        if not uncertain:
            return claimed, None  # re-claimed after a refusal: nothing of it is in the ERP
        message = _needs_operator(claimed, f"adapter {type(invoice).__name__} cannot look it up ({exc})")
        if claimed.state == model.NEEDS_RECONCILIATION:  # already waiting for an operator: say so again
            store.release(claimed, None)
            raise WindowConflict(message) from exc
        store.unsettled(claimed, message)
        raise CommitError(message) from exc
    except TransientCommitError as exc:
        store.release(claimed, f"looking {claimed.reference} up failed: {exc}")
        raise
    except CommitError as exc:
        if not uncertain:
            return claimed, None
        message = _needs_operator(claimed, f"the ERP refused the lookup: {exc}")
        store.unsettled(claimed, message)
        raise CommitError(message) from exc
    if found is not None:
        LOG.info("tenant %s %s: %s found in the ERP as %s", claimed.tenant.label, claimed.window.label,
                 claimed.reference, found)  # fmt: skip
        return store.committed(claimed, found), found
    if claimed.state == model.NEEDS_RECONCILIATION:
        store.release(claimed, None)
        raise WindowConflict(_needs_operator(claimed, "a lookup does not find it"))
    return claimed, None


def _refused(store: WindowStore, claimed: Claimed, exc: CommitError) -> None:
    """The ERP refused this attempt: it created nothing; the window fails unless an earlier attempt is unknown."""
    if claimed.uncertain_since is None:
        store.failed(claimed, str(exc))
        raise exc
    why = f"it refused a retry ({exc}) after an attempt of unknown outcome; the next run looks it up again"
    message = _needs_operator(claimed, why)
    store.unsettled(claimed, message)
    raise CommitError(message) from exc


def _out_of_retries(
    store: WindowStore, claimed: Claimed, invoice: Invoice, error: TransientCommitError, policy: CommitPolicy
) -> None:
    if claimed.uncertain_since is None:  # every attempt certainly failed to reach the ERP
        store.failed(claimed, f"{error} (after {policy.retries + 1} attempt(s))")
        raise error
    if invoice.can_look_up:
        resend_at = claimed.uncertain_since + policy.settle
        message = f"{error}; the next run after {_utc(resend_at)} looks it up and sends it only if missing"
        store.release(claimed, message)
        raise TransientCommitError(message) from error
    message = _needs_operator(claimed, f"{error}, and adapter {type(invoice).__name__} cannot look it up")
    store.unsettled(claimed, message)
    raise CommitError(message) from error


def _interrupted(store: WindowStore, claimed: Claimed, invoice: Invoice, exc: BaseException) -> None:
    """commit() raised something else (an adapter's bug, Ctrl-C): its outcome is unknown."""
    what = f"commit interrupted: {safe_text(invoice, exc)}"
    if invoice.can_look_up:
        store.release(claimed, what)
    else:
        store.unsettled(claimed, _needs_operator(claimed, what))
    if isinstance(exc, Exception):
        raise CommitError(f"adapter {type(invoice).__name__}: {what}") from exc
    raise exc


def _utc(moment: dt.datetime) -> str:
    return f"{moment:%Y-%m-%d %H:%M:%S} UTC"


def _needs_operator(claimed: Claimed, why: str) -> str:
    return (
        f"tenant {claimed.tenant.label} {claimed.window.label}: the ERP may or may not hold invoice "
        f"{claimed.reference} "
        f"({why}); check the ERP, then run `artifice reconcile --window {claimed.id} --as committed --external-id ID` "
        "if it is there, or `--as failed` if it is not (the month is then billed again)"
    )
