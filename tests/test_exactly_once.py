"""Exactly-once commit: crashes at every step, lost answers, retries, and the operator's reconcile.

The demo tenant initech has one m1.small all month in Auckland: 744 h x 0.05 = 37.20 NZD.
"""

from __future__ import annotations

import csv
import dataclasses
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path

import pytest

from artifice import config, failpoints
from artifice.billing.pipeline import Pipeline
from artifice.exceptions import CommitError, PricingError, TransientCommitError, WindowConflict
from artifice.invoice import Tenant
from artifice.plugins import InvoiceCopy, InvoicePlugin, PluginItem
from artifice.store import db, models
from artifice.timeutil import Window
from tests.conftest import REPO, cli, demo_conf_text, write_conf
from tests.erp.base import ContractServer
from tests.erp.django_server import DjangoServer
from tests.erp.netsuite_server import NetSuiteServer
from tests.erp.odoo_server import OdooServer
from tests.figures import note

OCTOBER = Window.month(2026, 10)
INITECH = Tenant("initech")
KEY = "S3CRET-API-KEY"


def pipeline_for(tmp_path: Path, invoice_ref: str = "csv", extra_invoice: str = "", extra: str = "") -> Pipeline:
    text = demo_conf_text(tmp_path, invoice_ref, extra_invoice) + extra
    db.upgrade(db.make_engine(f"sqlite:///{tmp_path / 'artifice.db'}"))
    conf_file = write_conf(tmp_path / "artifice.conf", text)
    conf = config.load(["--config-file", str(conf_file)])
    conf.set_override("commit_retry_wait", 0.01, group="billing")
    conf.set_override("commit_settle_time", 0, group="billing")
    return Pipeline.from_config(conf)


def csv_rows(path: Path) -> list[list[str]]:
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.reader(handle))


# -- invoice plugins (seed 002) ---------------------------------------------------


def test_tax_and_discount_plugins_add_their_items_to_the_invoice(tmp_path: Path) -> None:
    plugins = """
[billing]
invoice_plugins = tax,discount

[invoice_plugin:tax]
rates = Auckland:0.15
name = GST

[invoice_plugin:discount]
percent = 10
free = m1.small:100
"""
    result = pipeline_for(tmp_path, extra=plugins).bill(INITECH, OCTOBER)
    # Worked by hand: usage 744 h x 0.05 = 37.20. GST 15% of the usage = 5.58 (tax sees
    # only Artifice's items, so it is computed before discounts). 100 free hours = -5.00;
    # 10% of the remaining 32.20 = -3.22. Total 37.20 + 5.58 - 5.00 - 3.22 = 34.56.
    assert result.total == Decimal("34.56")
    rows = csv_rows(tmp_path / "invoices" / "initech-2026-10.csv")
    extra = sorted((r[0], r[2], r[6]) for r in rows if r and r[0] in ("tax", "item_adj"))
    assert extra == [
        ("item_adj", "m1.small: 10% discount", "-3.22"),
        ("item_adj", "m1.small: 100 free", "-5.00"),
        ("tax", "GST 15%", "5.58"),
    ]
    assert next(r for r in rows if r and r[0] == "total")[6] == "34.56"


class SneakyPlugin(InvoicePlugin):
    """Tries to add a usage line, which only Artifice may compute."""

    def get_additional_invoice_items(
        self, invoice: InvoiceCopy, properties: list[object], context: dict[str, str]
    ) -> list[PluginItem]:
        return [PluginItem("RECURRING", "Auckland", "support", Decimal("99"))]


def test_plugin_item_of_another_type_is_refused_and_nothing_is_sent(tmp_path: Path) -> None:
    extra = "\n[billing]\ninvoice_plugins = tests.test_exactly_once:SneakyPlugin\n"
    pipeline = pipeline_for(tmp_path, extra=extra)
    with pytest.raises(PricingError, match="type RECURRING; plugins may add only TAX, ITEM_ADJ, EXTERNAL_CHARGE"):
        pipeline.bill(INITECH, OCTOBER)
    assert not (tmp_path / "invoices").exists()
    (window,) = pipeline.store.windows("initech")
    assert window.state == models.FAILED and "RECURRING" in (window.error or "")


# -- crashes ------------------------------------------------------------------------


@dataclasses.dataclass
class ErpUnderTest:
    """An ERP for the crash tests: its [invoice:object] settings and how many invoices it holds."""

    adapter: str
    settings: str
    count: Callable[[], int]
    commit_request: str = ""  # the request that creates the invoice (HTTP ERPs)
    server: ContractServer | None = None


def start_erp(adapter: str, tmp_path: Path) -> ErpUnderTest:
    if adapter == "csv":
        return ErpUnderTest("csv", "", lambda: len(list((tmp_path / "invoices").glob("*"))))
    if adapter == "django":
        django = DjangoServer(users={"billing": KEY}, clients={"initech"}).start()
        settings = f"url = {django.url}\nusername = billing\napi_key = {KEY}\n"
        return ErpUnderTest(adapter, settings, lambda: len(django.invoices()), "POST /api/v1/invoice/", django)
    if adapter == "odoo":
        odoo = OdooServer(users={"billing": KEY}).start()
        settings = f"url = {odoo.url}\ndatabase = odoo\nusername = billing\npassword = {KEY}\n"
        return ErpUnderTest(adapter, settings, lambda: len(odoo.records("account.move")), "account.move.create", odoo)
    netsuite = NetSuiteServer(customers={7}, products={1}, token="").start()
    (tmp_path / "customers.csv").write_text("tenant,customer_id\ninitech,7\n")
    (tmp_path / "products.csv").write_text("service,product_id\nm1.small,1\n")
    settings = (
        f"url = {netsuite.url}\ncustomer_map = {tmp_path / 'customers.csv'}\n"
        f"products_file = {tmp_path / 'products.csv'}\nlookup = true\n"
    )
    return ErpUnderTest(adapter, settings, lambda: len(netsuite.invoices()), "POST /invoice/", netsuite)


DURING_COMMIT = "during_commit"  # killed while the ERP is still handling the invoice
IN_COMMIT = ("committing", DURING_COMMIT, "committed_in_erp")
CRASHES = [
    *[("csv", point) for point in failpoints.POINTS],
    *[(erp, point) for erp in ("django", "odoo", "netsuite") for point in (*failpoints.POINTS, DURING_COMMIT)],
]


@pytest.mark.parametrize(("adapter", "point"), CRASHES)
def test_sigkill_at_each_step_then_a_rerun_leaves_exactly_one_invoice(tmp_path: Path, adapter: str, point: str):
    erp = start_erp(adapter, tmp_path)
    try:
        settings = erp.settings + "timeout = 10\n"
        text = demo_conf_text(tmp_path, adapter, settings)
        conf_file = write_conf(tmp_path / "artifice.conf", text + "\n[billing]\ncommit_settle_time = 600\n")
        db.upgrade(db.make_engine(f"sqlite:///{tmp_path / 'artifice.db'}"))
        args = ("--config-file", str(conf_file), "bill", "--tenant", "initech", "--month", "2026-10")
        if point == DURING_COMMIT:
            assert erp.server is not None
            erp.server.hang_next(seconds=1, match=erp.commit_request)
            kill_when_sent(args, erp.server, erp.commit_request)
        else:
            crashed = cli(*args, env={"ARTIFICE_FAILPOINT": point})
            assert crashed.returncode == -9, crashed.stderr  # SIGKILL: no cleanup ran
        if point in IN_COMMIT:  # the ERP may still be handling the dead run's invoice: not resumed yet
            early = cli(*args)
            assert early.returncode != 0 and "the ERP may still be handling it" in early.stderr, early.stderr
            if point == DURING_COMMIT:  # the settle time stands for this: the ERP finished the request
                wait_for(lambda: erp.count() == 1)
            write_conf(conf_file, text + "\n[billing]\ncommit_settle_time = 0\n")  # the settle time is over
        rerun = cli(*args)
        assert rerun.returncode == 0, rerun.stderr
        assert erp.count() == 1
        listing = cli("--config-file", str(conf_file), "windows").stdout.splitlines()
        assert len(listing) == 2 and " committed " in listing[1] and "37.20" in listing[1], listing
        assert "ART-initech-20261001-20261101-r1" in listing[1]
        again = cli(*args)
        assert again.returncode != 0 and "already billed" in again.stderr
        assert erp.count() == 1
    finally:
        if erp.server is not None:
            erp.server.stop()
    note(
        f"crash injection ({len(CRASHES)} crash points)",
        f"{adapter}/{point}: SIGKILLed, rerun left exactly one invoice",
    )


def wait_for(condition: Callable[[], bool], seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def kill_when_sent(args: tuple[str, ...], server: ContractServer, request: str) -> None:
    """Run ``artifice`` and SIGKILL it once the ERP received the invoice, before it answers."""
    process = subprocess.Popen([sys.executable, "-m", "artifice.cli.main", *args], cwd=REPO)
    wait_for(lambda: server.received(request) or process.poll() is not None, 60)
    assert process.poll() is None, "the run ended before it sent the invoice"
    process.kill()
    assert process.wait(timeout=30) == -9


# -- an ERP over HTTP: lost answers, retries, refusals --------------------------------


@pytest.fixture
def django_erp() -> Iterator[DjangoServer]:
    server = DjangoServer(users={"billing": KEY}, clients={"initech"}).start()
    yield server
    server.stop()


def django_pipeline(tmp_path: Path, erp: DjangoServer) -> Pipeline:
    settings = f"url = {erp.url}\nusername = billing\napi_key = {KEY}\ntimeout = 1\n"
    return pipeline_for(tmp_path, "django", settings)


def test_answer_lost_after_the_erp_saved_it_is_looked_up_not_sent_again(tmp_path: Path, django_erp: DjangoServer):
    django_erp.drop_next()
    result = django_pipeline(tmp_path, django_erp).bill(INITECH, OCTOBER)
    (stored,) = django_erp.invoices()
    assert stored["num_facture"] == result.reference == "ART-initech-20261001-20261101-r1"
    assert [m for m, _, _ in django_erp.requests].count("POST") == 1
    (window,) = Pipeline.from_config(django_pipeline(tmp_path, django_erp).conf).store.windows("initech")
    assert window.state == models.COMMITTED and window.external_id == str(stored["id_facture"])


@pytest.mark.parametrize("status", [429, 500, 503])
def test_transient_erp_errors_are_retried_with_backoff(tmp_path: Path, django_erp: DjangoServer, status: int):
    django_erp.fail_next(count=2, status=status, match="POST")
    result = django_pipeline(tmp_path, django_erp).bill(INITECH, OCTOBER)
    assert result.state == "committed" and len(django_erp.invoices()) == 1
    assert [m for m, _, _ in django_erp.requests].count("POST") == 3


def test_erp_still_failing_after_the_retries_is_reconciled_by_the_next_run(tmp_path: Path, django_erp: DjangoServer):
    pipeline = django_pipeline(tmp_path, django_erp)
    pipeline.conf.set_override("commit_retries", 1, group="billing")
    django_erp.fail_next(count=2, status=503, match="POST")
    with pytest.raises(TransientCommitError):
        pipeline.bill(INITECH, OCTOBER)
    (window,) = pipeline.store.windows("initech")
    assert window.state == models.COMMITTING and "looks it up" in (window.error or "")
    assert pipeline.bill(INITECH, OCTOBER).state == "committed"  # same process: the window was released
    assert len(django_erp.invoices()) == 1


def test_erp_refusal_fails_the_window_and_windows_shows_its_message(tmp_path: Path) -> None:
    erp = DjangoServer(users={"billing": KEY}, clients=set()).start()  # initech is no client of this ERP
    try:
        with pytest.raises(CommitError, match="HTTP 400"):
            django_pipeline(tmp_path, erp).bill(INITECH, OCTOBER)
    finally:
        erp.stop()
    listing = cli("--config-file", str(tmp_path / "artifice.conf"), "windows").stdout
    assert "failed" in listing and "HTTP 400" in listing and "client" in listing.lower()
    assert KEY not in listing


def test_unknown_outcome_without_lookup_waits_for_the_operator(tmp_path: Path) -> None:
    erp = NetSuiteServer(customers={7}, products={1}, token="").start()
    try:
        (tmp_path / "customers.csv").write_text("tenant,customer_id\ninitech,7\n")
        (tmp_path / "products.csv").write_text("service,product_id\nm1.small,1\n")
        settings = (
            f"url = {erp.url}\ncustomer_map = {tmp_path / 'customers.csv'}\n"
            f"products_file = {tmp_path / 'products.csv'}\ntimeout = 1\n"
        )
        pipeline = pipeline_for(tmp_path, "netsuite", settings)
        erp.drop_next()
        with pytest.raises(CommitError, match="artifice reconcile --window 1 --as committed"):
            pipeline.bill(INITECH, OCTOBER)
        with pytest.raises(WindowConflict, match="may or may not hold invoice"):
            pipeline.bill(INITECH, OCTOBER)  # never re-sent blindly
        assert len(erp.invoices()) == 1 and [m for m, _, _ in erp.requests].count("POST") == 1
        (window,) = pipeline.store.windows("initech")
        assert window.state == models.NEEDS_RECONCILIATION
        (invoice_id,) = erp.invoices()
        conf_file = str(tmp_path / "artifice.conf")
        answer = cli(
            "--config-file",
            conf_file,
            "reconcile",
            "--window",
            str(window.id),
            "--as",
            "committed",
            "--external-id",
            invoice_id,
        )
        assert answer.returncode == 0, answer.stderr
        (window,) = pipeline.store.windows("initech")
        assert (window.state, window.external_id) == (models.COMMITTED, invoice_id)
    finally:
        erp.stop()
