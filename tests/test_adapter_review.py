"""What the breaking review of the one adapter contract (issue 18) found, each a regression test.

A TLS error while an answer is read was taken for "never sent" (Odoo created the invoice twice);
a lookup answering ``[]`` was taken for "found" (the month was never billed); a partly saved
tastypie invoice was taken for committed; the Django tax rate was rounded by the ERP; secrets
were masked only after messages were cut; an adapter's own exception stored its URL's key;
unreadable Odoo answers ended in tracebacks; a Django lookup could page forever; a private CA
could not be trusted; a URL without a scheme sent windows to reconciliation; and passwords lost
their surrounding spaces.
"""

from __future__ import annotations

import json
import os
import socket
import sqlite3
import ssl
import threading
import xmlrpc.client
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from artifice import config
from artifice.billing.pipeline import Pipeline
from artifice.exceptions import ArtificeError, ConfigError, TransientCommitError
from artifice.invoices import erp_http
from artifice.invoices.django_api import DjangoInvoice
from artifice.invoices.odoo import OdooInvoice
from artifice.model import Tenant
from artifice.store import db
from artifice.timeutil import Window
from tests.conftest import REPO, cli, demo_conf_text, write_conf
from tests.erp import example
from tests.erp.base import Reply
from tests.erp.django_server import DjangoServer
from tests.erp.ledger_server import LedgerServer
from tests.erp.netsuite_server import NetSuiteHandler, NetSuiteServer
from tests.erp.odoo_server import OdooHandler, OdooServer
from tests.erp.user_adapter import LedgerInvoice

TLS = REPO / "tests" / "erp" / "tls"
PRICES = "prices = " + ",".join(f"{s}={p}" for s, p in [("m1.small", "0.05"), ("m1.medium", "0.11"),
    ("m1.large", "0.2"), ("m1.xlarge", "0.4"), ("volume.size", "0.0002"), ("image.size", "0.0001"),
    ("network.incoming.bytes", "0"), ("network.outgoing.bytes", "0.09")]) + "\n"  # fmt: skip
OCTOBER = Window.month(2026, 10)
REFERENCE = "ART-acme-20261001-20261101-r1"
BILL = ("bill", "--tenant", "acme", "--month", "2026-10")


def configured(tmp: Path, adapter: str, settings: str, billing: str = "") -> str:
    text = demo_conf_text(tmp, adapter, settings) + f"\n[billing]\ncommit_retry_wait = 0\n{billing}"
    db.upgrade(db.make_engine(f"sqlite:///{tmp / 'artifice.db'}"))
    return str(write_conf(tmp / "artifice.conf", text))


def pipeline(conf: str) -> Pipeline:
    return Pipeline.from_config(config.load(["--config-file", conf]))


@pytest.fixture
def serve() -> Iterator[Callable[[type[BaseHTTPRequestHandler]], str]]:
    """Start a throwaway HTTP server with a handler class; its URL."""
    servers: list[ThreadingHTTPServer] = []

    def start(handler: type[BaseHTTPRequestHandler]) -> str:
        server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_address[1]}"

    yield start
    for server in servers:
        server.shutdown()


class Quiet(BaseHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass

    def answer(self, status: int, body: bytes, content_type: str = "application/json") -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def tls_odoo(corrupt_creates: int = 0) -> OdooServer:
    """An Odoo contract server over HTTPS (tests/erp/tls); its first ``corrupt_creates`` answers to
    ``account.move.create`` come back as a garbage TLS record, after the invoice was created."""

    class Handler(OdooHandler):
        corrupt = False

        def route(self, method: str, path: str, query: dict[str, str], body: bytes) -> Any:
            reply = super().route(method, path, query, body)
            with self.server.lock:
                left = getattr(self.server, "corrupt_left", 0)
                self.corrupt = left > 0 and "account.move.create" in self.request_key(method, path, body)
                self.server.corrupt_left = left - self.corrupt  # type: ignore[attr-defined]
            return reply

        def _send(self, reply: Any) -> None:
            if self.corrupt:
                raw = socket.socket(fileno=os.dup(self.connection.fileno()))
                raw.sendall(b"\x17\x03\x03\x00\x20" + b"\x00" * 32)
                raw.close()
                self.close_connection = True
                return
            super()._send(reply)

    server = OdooServer(users={"billing": "PW"})
    server.RequestHandlerClass = Handler
    server.corrupt_left = corrupt_creates  # type: ignore[attr-defined]
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(TLS / "cert.pem", TLS / "key.pem")
    server.socket = context.wrap_socket(server.socket, server_side=True)
    return server.start()


def tls_settings(server: OdooServer) -> str:
    url = f"https://127.0.0.1:{server.server_address[1]}"
    return f"url = {url}\ndatabase = odoo\nusername = billing\npassword = PW\nca_file = {TLS / 'cert.pem'}\n"


def test_a_tls_error_while_the_answer_is_read_is_looked_up_not_sent_again(tmp_path: Path) -> None:
    server = tls_odoo(corrupt_creates=1)
    try:
        conf = configured(tmp_path, "odoo", tls_settings(server), "commit_settle_time = 0\n")
        run = cli("--config-file", conf, *BILL)
        moves = [m["ref"] for m in server.records("account.move").values()]
    finally:
        server.stop()
    assert moves == [REFERENCE], run.stderr
    assert run.returncode == 0 and "TLS" in run.stderr


def test_a_private_ca_is_trusted_through_ca_file(tmp_path: Path) -> None:
    server = tls_odoo()
    try:
        result = pipeline(configured(tmp_path, "odoo", tls_settings(server))).bill(Tenant("acme"), OCTOBER)
        assert result.state == "committed"
        assert [m["ref"] for m in server.records("account.move").values()] == [REFERENCE]
    finally:
        server.stop()


class EmptyLookupInvoice(LedgerInvoice):
    """A user adapter whose lookup ends in ``return ids and ids[0]``: ``[]`` when nothing matches."""

    def lookup(self, reference: str) -> Any:
        return []


def test_a_lookup_answer_that_is_no_id_is_not_taken_for_found(tmp_path: Path) -> None:
    erp = LedgerServer().start()
    try:
        erp.fail_next(1, 503, match="POST /invoices")
        settings = f"url = {erp.url}\n{PRICES}"
        conf = configured(tmp_path, "tests.test_adapter_review:EmptyLookupInvoice", settings)
        with pytest.raises(ArtificeError, match=r"answered \[\], neither an ERP id nor None"):
            pipeline(conf).bill(Tenant("acme"), OCTOBER)
        (window,) = pipeline(conf).store.windows("acme")
        assert window.state != "committed" and erp.invoices() == []
    finally:
        erp.stop()


def test_a_partly_saved_tastypie_invoice_is_not_taken_for_committed(tmp_path: Path) -> None:
    erp = DjangoServer(users={"billing": "KEY"}, clients={"acme"}).start()
    try:
        with sqlite3.connect(erp.database) as connection:  # any failure between the invoice and its rows
            connection.execute(
                "CREATE TRIGGER refuse_row BEFORE INSERT ON invoicing_invoicerow WHEN NEW.ordre = 3 "
                "BEGIN SELECT RAISE(ABORT, 'the database refuses this row'); END"
            )
        conf = configured(tmp_path, "django", f"url = {erp.url}\nusername = billing\napi_key = KEY\n")
        with pytest.raises(ArtificeError, match="saved in part"):
            pipeline(conf).bill(Tenant("acme"), OCTOBER)
        (window,) = pipeline(conf).store.windows("acme")
        assert window.state == "needs_reconciliation"
    finally:
        erp.stop()


@pytest.mark.parametrize("rate", ["8.875", "1000"])
def test_a_tax_rate_the_seeds_decimal_5_2_cannot_hold_is_refused_at_start(rate: str, tmp_path: Path) -> None:
    settings = {"url": "http://erp.example", "username": "b", "api_key": "K", "tax_rate": rate}
    with pytest.raises(ConfigError, match="tax_rate"):
        DjangoInvoice(example.TENANT, {**settings, "rates_file": example.write_rates(tmp_path)})


@pytest.mark.parametrize(
    ("key", "padding"), [("9f2c4e6a8b0d1f3e5a7c9e1b3d5f7a9c", 456), ("correct  horse\tbattery", 0)]
)
def test_secrets_are_masked_before_messages_are_cut_or_joined(serve: Any, key: str, padding: int) -> None:
    class Echo(Quiet):  # an ERP (or a gateway) that echoes the credentials it refuses
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            self.answer(400, f"Bad credentials: {'x' * padding}{self.headers['Authorization']}".encode(), "text/plain")

    send = erp_http.Sender((5, 5), {"Authorization": f"ApiKey billing:{key}"}, (key,))
    with pytest.raises(ArtificeError) as raised:
        send("POST", serve(Echo), body="{}")
    assert not any(key[:n] in str(raised.value) for n in range(6, len(key) + 1))


class QueryKeyInvoice(LedgerInvoice):
    """A seed-000 adapter authenticating as the seed shows, with the key in the query string, and letting
    requests' own exceptions through."""

    def commit(self) -> None:
        import requests

        requests.post(f"{self.url}/api/v1/invoice/?username=billing&api_key=TOPSECRET-KEY-123", timeout=5)


def test_an_adapters_own_exception_stores_no_key_of_its_url(tmp_path: Path) -> None:
    settings = f"url = http://127.0.0.1:9\n{PRICES}"
    conf = configured(tmp_path, "tests.test_adapter_review:QueryKeyInvoice", settings)
    run = cli("--config-file", conf, *BILL)
    assert run.returncode != 0 and "commit interrupted" in run.stderr
    assert "TOPSECRET" not in run.stderr
    with sqlite3.connect(tmp_path / "artifice.db") as connection:
        assert not connection.execute("SELECT id FROM billing_windows WHERE error LIKE '%TOPSECRET%'").fetchall()


def test_an_unreadable_odoo_answer_is_one_line_not_a_traceback(serve: Any, tmp_path: Path) -> None:
    bad = b"<?xml version='1.0'?><methodResponse><params><param><value><boolean>2</boolean></value></param>"
    bad += b"</params></methodResponse>"

    class Odd(Quiet):
        def do_POST(self) -> None:
            _, name = xmlrpc.client.loads(self.rfile.read(int(self.headers["Content-Length"])))
            answer = xmlrpc.client.dumps((2,), methodresponse=True).encode() if name == "authenticate" else bad
            self.answer(200, answer, "text/xml")

    settings = f"url = {serve(Odd)}\ndatabase = d\nusername = u\npassword = PW\nuse_products = true\n"
    run = cli("--config-file", configured(tmp_path, "odoo", settings), *BILL)
    assert run.returncode == 1 and "Traceback" not in run.stderr
    assert run.stderr.strip().splitlines()[-1].startswith("artifice: error:")


def test_a_django_api_that_ignores_paging_ends_the_lookup(serve: Any, tmp_path: Path) -> None:
    class Repeating(Quiet):  # a cache in front of the API: the same first page, whatever the query
        def do_GET(self) -> None:
            meta = {"limit": 1, "next": "/api/v1/invoice/?offset=1", "offset": 0, "previous": None, "total_count": 9}
            objects = [{"num_facture": "ART-other", "resource_uri": "/api/v1/invoice/1/"}]
            self.answer(200, json.dumps({"meta": meta, "objects": objects}).encode())

    settings = {"url": serve(Repeating), "username": "b", "api_key": "K", "rates_file": example.write_rates(tmp_path)}
    with pytest.raises(TransientCommitError, match="does not page"):
        DjangoInvoice(example.TENANT, settings).lookup(example.REFERENCE)


def test_a_url_without_a_scheme_is_refused_at_start_and_nothing_awaits_reconciliation(tmp_path: Path) -> None:
    settings = "url = erp.example.com\nusername = billing\napi_key = KEY\n"
    conf = configured(tmp_path, "django", settings)
    with pytest.raises(ConfigError, match="url: must be an http"):
        pipeline(conf).bill(Tenant("acme"), OCTOBER)
    assert all(w.state != "needs_reconciliation" for w in pipeline(conf).store.windows("acme"))


def test_a_password_keeps_its_surrounding_spaces(tmp_path: Path) -> None:
    settings = {"url": "http://odoo.example", "database": "d", "username": "u", "password": "  pass word "}
    invoice = OdooInvoice(example.TENANT, {**settings, "rates_file": example.write_rates(tmp_path)})
    assert invoice.password == "  pass word "


# The second pass (helper-7), on the fixes above.


class SeedRouteOnly(NetSuiteHandler):
    """The seed's NetSuite API, without the lookup route an extended one adds: its router answers 404 {}."""

    def route(self, method: str, path: str, query: dict[str, str], body: bytes) -> Any:
        if (method, path) == ("GET", "/invoice/"):
            return Reply.json(404, {})
        return super().route(method, path, query, body)


def test_a_netsuite_lookup_answered_404_is_not_taken_for_none(tmp_path: Path) -> None:
    erp = NetSuiteServer(customers={7}, products=set(range(1, 20)), token="")
    erp.RequestHandlerClass = SeedRouteOnly
    erp.start()
    try:
        erp_entry = netsuite_entry(tmp_path, erp)
        erp.drop_next(match="POST /invoice/")  # saved, its answer lost: the retry looks it up first
        with pytest.raises(ArtificeError, match="404"):
            conf = configured(tmp_path, "netsuite", erp_entry, "commit_settle_time = 0\n")
            pipeline(conf).bill(Tenant("acme"), OCTOBER)
        assert len(erp.invoices()) == 1  # never sent a second time
    finally:
        erp.stop()


def netsuite_entry(tmp: Path, erp: NetSuiteServer) -> str:
    (tmp / "customers.csv").write_text("tenant,customer_id\nacme,7\n")
    services = ("m1.small", "m1.medium", "m1.large", "m1.xlarge", "volume.size", "image.size",
                "network.incoming.bytes", "network.outgoing.bytes")  # fmt: skip
    (tmp / "products.csv").write_text("service,product_id\n" + "".join(f"{s},{n}\n" for n, s in enumerate(services, 1)))
    return (f"url = {erp.url}\ncustomer_map = {tmp / 'customers.csv'}\nproducts_file = {tmp / 'products.csv'}\n"
            "lookup = true\n")  # fmt: skip


class RaisingInvoice(LedgerInvoice):
    """A seed-000 adapter with the key in its URL, raising requests' HTTPError (``for url: ...?api_key=``)."""

    def commit(self) -> None:
        import requests

        requests.post(
            f"{self.url}/api/v1/invoice/?username=billing&api_key=TOPSECRET-KEY-123", timeout=5
        ).raise_for_status()


class PricedByServiceInvoice(LedgerInvoice):
    """A seed-000 adapter whose ``cost`` asks a price service with the configured key in the query string."""

    def cost(self, datacenter: str, name: str) -> Any:
        import requests

        return requests.get(f"{self.url}/prices?service={name}&api_key={self.config['api_key']}", timeout=5).text

    def __init__(self, tenant: Any, config: dict[str, str]) -> None:
        super().__init__(tenant, config)
        self.config = config


def test_no_url_query_reaches_a_message_whatever_its_wording(serve: Any, tmp_path: Path) -> None:
    class Refusing(Quiet):
        def do_POST(self) -> None:
            self.answer(401, b"{}")

    conf = configured(tmp_path, "tests.test_adapter_review:RaisingInvoice", f"url = {serve(Refusing)}\n{PRICES}")
    run = cli("--config-file", conf, *BILL)
    assert run.returncode != 0 and "401" in run.stderr and "TOPSECRET" not in run.stderr
    with sqlite3.connect(tmp_path / "artifice.db") as connection:
        assert not connection.execute("SELECT id FROM billing_windows WHERE error LIKE '%TOPSECRET%'").fetchall()


def test_a_cost_that_fails_names_no_secret(tmp_path: Path) -> None:
    settings = f"url = http://127.0.0.1:9\napi_key = COST-SECRET-777\n{PRICES}"
    conf = configured(tmp_path, "tests.test_adapter_review:PricedByServiceInvoice", settings)
    run = cli("--config-file", conf, *BILL)
    assert run.returncode != 0 and "cost(" in run.stderr and "COST-SECRET" not in run.stderr
    with sqlite3.connect(tmp_path / "artifice.db") as connection:
        assert not connection.execute("SELECT id FROM billing_windows WHERE error LIKE '%COST-SECRET%'").fetchall()


@pytest.mark.parametrize("url", ["http://127.0.0.1:8o80", "http://127.0.0.1:99999"])
def test_a_url_with_a_bad_port_is_refused_at_start(tmp_path: Path, url: str) -> None:
    conf = configured(tmp_path, "django", f"url = {url}\nusername = billing\napi_key = KEY\n")
    with pytest.raises(ConfigError, match="valid port"):
        pipeline(conf).bill(Tenant("acme"), OCTOBER)
    assert all(w.state not in ("needs_reconciliation", "committing") for w in pipeline(conf).store.windows("acme"))
