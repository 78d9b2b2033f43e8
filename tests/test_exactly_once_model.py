"""Exactly once, checked against a model: concurrent runs, an ERP that misbehaves, kills at any step.

Hypothesis drives several runs (``artifice.billing.run.BillingRun``, the code ``artifice bill``
runs) of a few tenant-months at once, on one real database, against an ERP model that saves
requests and loses the answer, applies requests late, refuses, times out, fails lookups, and
may or may not refuse a reference it already holds. Any run may be stopped at any step (as a
SIGKILL would stop it: nothing more is written), frozen while time passes on the database's clock
(so that its lease expires and another run takes over), or resumed later.

After every step: the ERP never holds two invoices of one tenant-month, no committed window
names an invoice the ERP does not hold, and no failed window has an invoice in the ERP (or on
its way there). After the runs settle (the ERP recovers, the killed runs' leases expire, an
operator reconciles what needs it, as the README says), every tenant-month is in the ERP exactly
once and the database agrees.

The model's one timing assumption is the README's: the ERP finishes (or drops) any request
within ``commit_settle_time``, and a run's request leaves within its lease of starting the
attempt (a run is never frozen between recording the attempt and sending it for that long).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Generator
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule, run_state_machine_as_test
from sqlalchemy.orm import Session

from artifice import model
from artifice.billing.commit import CommitPolicy
from artifice.billing.run import BillingRun, Job
from artifice.exceptions import ArtificeError, CommitError, NotSent, TransientCommitError, WindowConflict
from artifice.invoice import Invoice
from artifice.model import PricedLine, Tenant
from artifice.store.windows import WindowStore
from artifice.timeutil import Window
from tests.figures import note

LEASE = dt.timedelta(minutes=5)
SETTLE = dt.timedelta(minutes=5)
TENANT_MONTHS = [(Tenant(t), Window.month(2026, m)) for t, m in (("t1", 9), ("t1", 10), ("t2", 10))]
LINE = PricedLine("DC", "m1.small", "compute", "hour", Decimal("744"), Decimal("0.05"), Decimal("37.20"))
COMMIT_FAULTS = ("ok", "lose_reply", "late", "timeout", "refuse", "not_sent", "adapter_bug")
LOOKUP_FAULTS = ("ok", "transient", "refuse", "stale")
ACTIONS = (
    ["step_a_run"] * 10 + ["start_a_run"] * 3 + ["time_passes"] * 2 + ["erp_changes_how_it_commits"] * 2
    + ["kill_a_run", "erp_changes_how_it_looks_up", "erp_finishes_a_late_request"]
)  # fmt: skip


class ErpModel:
    """The ERP: a ledger of invoices by reference, requests it will apply later, faults to come."""

    def __init__(self, refuses_duplicates: bool) -> None:
        self.refuses_duplicates = refuses_duplicates
        self.ledger: dict[str, list[str]] = {}
        self.pending: list[tuple[str, dt.datetime]] = []  # (reference, applied before this time)
        self.commit_mode = "ok"  # what every commit() does until the mode changes
        self.lookup_mode = "ok"
        self.ids = 0

    def apply(self, reference: str) -> str | None:
        if self.refuses_duplicates and self.ledger.get(reference):
            return None
        self.ids += 1
        self.ledger.setdefault(reference, []).append(str(self.ids))
        return str(self.ids)


class ModelInvoice(Invoice):
    """An adapter whose ERP is the model; ``now`` is the database's (shifted) clock."""

    erp: ErpModel
    now: Any

    def cost(self, datacenter: str, name: str) -> str:
        return "0.05"

    def commit(self) -> None:
        erp, reference = self.erp, str(self.reference)
        fault = erp.commit_mode
        if fault == "not_sent":
            raise NotSent("connection refused")
        if fault == "timeout":  # never reached it, but who can tell
            raise TransientCommitError("timed out")
        if fault == "refuse":
            raise CommitError("HTTP 400: customer unknown")
        if fault == "adapter_bug":
            raise RuntimeError("the adapter crashed before sending")
        if fault == "late":  # received; saved after the answer timed out, within the settle time
            erp.pending.append((reference, self.now() + SETTLE / 2))
            raise TransientCommitError("timed out waiting for the answer")
        invoice_id = erp.apply(reference)
        if invoice_id is None:
            raise CommitError(f"HTTP 400: an invoice {reference} exists already")
        if fault == "lose_reply":
            raise TransientCommitError("connection dropped before the answer")
        self.external_id = invoice_id

    def lookup(self, reference: str) -> str | None:
        fault = self.erp.lookup_mode
        if fault == "transient":
            raise TransientCommitError("HTTP 503")
        if fault == "refuse":
            raise CommitError("HTTP 400: filtering not allowed")
        if fault == "stale" and self.erp.refuses_duplicates:  # a search index that lags: only safe with
            return None  # an ERP that refuses a second invoice of a reference (Django's unique num_facture)
        found = self.erp.ledger.get(reference)
        return found[0] if found else None


class ShiftedStore(WindowStore):
    """The store, its database clock moved forward by ``shift``: time passing, without waiting."""

    shift = dt.timedelta(0)

    def database_now(self, session: Session) -> dt.datetime:
        return super().database_now(session) + self.shift


@dataclasses.dataclass
class Running:
    tenant_month: int
    run: BillingRun
    steps: Generator[str, None, None]
    at: str = "start"


class Figures:
    examples = 0
    steps = 0
    kills = 0
    takeovers = 0


class ExactlyOnce(RuleBasedStateMachine):
    engine: sa.Engine

    def __init__(self) -> None:
        super().__init__()
        with self.engine.begin() as connection:
            for table in ("line_resources", "invoice_lines", "billing_windows"):
                connection.execute(sa.text(f"DELETE FROM {table}"))
        self.store = ShiftedStore(self.engine, LEASE, SETTLE)
        self.erp = ErpModel(refuses_duplicates=False)
        self.runs: list[Running] = []
        self.serial = 0
        Figures.examples += 1

    # -- the world --------------------------------------------------------------------

    def now(self) -> dt.datetime:
        with Session(self.engine) as session:
            return self.store.database_now(session)

    def new_run(self, index: int) -> Running:
        tenant, window = TENANT_MONTHS[index]
        erp, now = self.erp, self.now

        def new_invoice(reference: str) -> Invoice:
            invoice = ModelInvoice(tenant, {})
            invoice.erp, invoice.now, invoice.period, invoice.reference = erp, now, window, reference
            return invoice

        self.serial += 1
        policy = CommitPolicy(retries=2, retry_wait=0, settle=SETTLE)
        job = Job(tenant, window, model.INVOICE, "model", f"run-{self.serial}", new_invoice,
                  lambda invoice: ([LINE], "NZD"), False, policy)  # fmt: skip
        run = BillingRun(self.store, job, sleep=lambda seconds: None)
        return Running(index, run, run.steps())

    # -- rules: one weighted choice per step, so that runs make progress between the mishaps ------

    @initialize(refuses_duplicates=st.booleans())
    def choose_the_erp(self, refuses_duplicates: bool) -> None:
        self.erp.refuses_duplicates = refuses_duplicates  # as Django's unique num_facture does, or not

    @rule(action=st.sampled_from(ACTIONS), data=st.data())
    def act(self, action: str, data: st.DataObject) -> None:
        getattr(self, action)(data)

    def step_a_run(self, data: st.DataObject) -> None:
        if not self.runs:
            return self.start_a_run(data)
        running = data.draw(st.sampled_from(self.runs), label="run")
        for _ in range(data.draw(st.integers(1, 4), label="steps")):
            if not self.step(running):
                return None
        return None

    def start_a_run(self, data: st.DataObject) -> None:
        index = data.draw(st.integers(0, len(TENANT_MONTHS) - 1), label="tenant-month")
        self.runs.append(self.new_run(index))

    def step(self, running: Running) -> bool:
        """One step of the run; False once it has ended."""
        Figures.steps += 1
        try:
            running.at = next(running.steps)
        except StopIteration:
            self.runs.remove(running)
            return False
        except ArtificeError:  # a refusal, a conflict, a lost window: the run ends, as `artifice bill` would
            self.runs.remove(running)
            return False
        claimed = running.run.claimed
        if running.at == "claimed" and claimed is not None and claimed.resumed:
            Figures.takeovers += 1
        return True

    def kill_a_run(self, data: st.DataObject) -> None:
        if self.runs:
            self.kill(data.draw(st.sampled_from(self.runs), label="killed"))

    def kill(self, running: Running) -> None:
        running.steps.close()  # GeneratorExit at its yield: it writes nothing more, as after a SIGKILL
        self.runs.remove(running)
        Figures.kills += 1

    def time_passes(self, data: st.DataObject) -> None:
        minutes = data.draw(st.sampled_from([1, 3, 6, 11]), label="minutes")
        later = self.now() + dt.timedelta(minutes=minutes)
        for running in list(self.runs):  # the assumption: a run about to send does not sleep through its lease
            claimed = running.run.claimed
            if running.at == "committing" and claimed is not None and claimed.now + LEASE <= later:
                self.kill(running)
        self.erp_finishes_late_requests(before=later)
        self.store.shift += dt.timedelta(minutes=minutes)

    def erp_finishes_late_requests(self, before: dt.datetime | None = None) -> None:
        for reference, deadline in list(self.erp.pending):
            if before is None or deadline <= before:
                self.erp.pending.remove((reference, deadline))
                self.erp.apply(reference)

    def erp_finishes_a_late_request(self, data: st.DataObject) -> None:
        if self.erp.pending:
            reference, _ = self.erp.pending.pop(0)
            self.erp.apply(reference)

    def erp_changes_how_it_commits(self, data: st.DataObject) -> None:
        self.erp.commit_mode = data.draw(st.sampled_from(COMMIT_FAULTS), label="commit() does")

    def erp_changes_how_it_looks_up(self, data: st.DataObject) -> None:
        self.erp.lookup_mode = data.draw(st.sampled_from(LOOKUP_FAULTS), label="lookup() does")

    # -- what must hold after every step -------------------------------------------------

    @invariant()
    def never_two_invoices_of_one_tenant_month(self) -> None:
        for tenant, window in TENANT_MONTHS:
            prefix = model.invoice_reference(tenant.id, window, 0)[:-1]
            held = [i for reference, ids in self.erp.ledger.items() if reference.startswith(prefix) for i in ids]
            assert len(held) <= 1, (tenant.id, window.label, self.erp.ledger)

    @invariant()
    def the_database_never_contradicts_the_erp(self) -> None:
        late = {reference for reference, _ in self.erp.pending}
        for row in self.rows():
            if row.state == model.COMMITTED:
                assert row.external_id in self.erp.ledger.get(row.external_reference, []), (row.id, self.erp.ledger)
            if row.state == model.FAILED:
                assert row.external_reference not in self.erp.ledger and row.external_reference not in late

    def rows(self) -> list[Any]:
        with self.engine.connect() as connection:
            return list(connection.execute(sa.text("SELECT * FROM billing_windows")))

    # -- settling ----------------------------------------------------------------------

    def teardown(self) -> None:
        for running in self.runs:
            running.steps.close()
        self.runs.clear()
        self.erp_finishes_late_requests()
        self.erp.commit_mode = self.erp.lookup_mode = "ok"
        self.store.shift += LEASE + SETTLE + dt.timedelta(seconds=1)
        for index in range(len(TENANT_MONTHS)):
            self.settle(index)
        for tenant, window in TENANT_MONTHS:
            reference = model.invoice_reference(tenant.id, window, 1)
            assert len(self.erp.ledger.get(reference, [])) == 1, (tenant.id, window.label, self.erp.ledger)
            (row,) = [r for r in self.rows() if r.external_reference == reference]
            assert (row.state, row.external_id) == (model.COMMITTED, self.erp.ledger[reference][0])
        self.never_two_invoices_of_one_tenant_month()

    def settle(self, index: int) -> None:
        """Bill the tenant-month to the end, reconciling by hand what only an operator can settle."""
        for _ in range(4):
            running = self.new_run(index)
            try:
                for _step in running.steps:
                    pass
                return
            except WindowConflict as exc:
                if "already billed" in str(exc):
                    return
                assert "artifice reconcile" in str(exc), exc
            except CommitError as exc:
                assert "artifice reconcile" in str(exc), exc
            (row,) = [r for r in self.rows() if r.external_reference == running.run.claimed.reference]  # type: ignore[union-attr]
            held = self.erp.ledger.get(row.external_reference)  # the operator looks in the ERP
            self.store.reconcile(row.id, bool(held), held[0] if held else None, "checked by hand: not in the ERP")
        raise AssertionError(f"tenant-month {index} did not settle")


def test_every_tenant_month_reaches_the_erp_exactly_once(engine: sa.Engine) -> None:
    """On SQLite and on a real PostgreSQL (the engine fixture)."""
    backend = engine.dialect.name
    ExactlyOnce.engine = engine
    before = Figures.examples, Figures.steps, Figures.kills, Figures.takeovers
    examples = 150 if backend == "sqlite" else 80
    run_state_machine_as_test(
        ExactlyOnce,
        settings=settings(
            max_examples=examples,
            stateful_step_count=80,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
        ),
    )
    after = Figures.examples, Figures.steps, Figures.kills, Figures.takeovers
    tried = [now - then for now, then in zip(after, before, strict=True)]
    note(
        "exactly once: model-based test",
        f"{backend}: {tried[0]} examples, {tried[1]} run steps, {tried[2]} runs killed, {tried[3]} takeovers; "
        "never two invoices of a tenant-month, and every one exactly once after settling",
    )
