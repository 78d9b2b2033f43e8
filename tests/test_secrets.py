"""No adapter's secret reaches a log line at any level, on success, on refusal or on lookup."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from artifice.exceptions import ArtificeError
from artifice.invoice import Invoice
from artifice.invoices.django_api import DjangoInvoice
from artifice.invoices.netsuite import NetSuiteInvoice
from artifice.invoices.odoo import OdooInvoice
from tests.erp import example
from tests.erp.django_server import DjangoServer
from tests.erp.netsuite_server import NetSuiteServer
from tests.erp.odoo_server import OdooServer

SECRET = "S3CRET-0042-do-not-log"
PRODUCTS = {"m1.small": 1, "volume.size": 2, "m1.medium": 3, "network.outgoing.bytes": 4}


def _csv(path: Path, header: str, rows: dict[str, Any]) -> str:
    path.write_text(header + "\n" + "".join(f"{k},{v}\n" for k, v in rows.items()), encoding="utf-8")
    return str(path)


def django(tmp_path: Path) -> tuple[Any, type[Invoice], dict[str, str]]:
    server = DjangoServer(users={"billing": SECRET}, clients={example.TENANT.id}).start()
    return server, DjangoInvoice, {"url": server.url, "username": "billing", "api_key": SECRET}


def odoo(tmp_path: Path) -> tuple[Any, type[Invoice], dict[str, str]]:
    products = {"m1.small": "0.05", "volume.size": "0.0002", "m1.medium": "0.11", "network.outgoing.bytes": "0.09"}
    server = OdooServer(users={"billing": SECRET}, products=products).start()
    return server, OdooInvoice, {"url": server.url, "database": "odoo", "username": "billing", "password": SECRET}


def netsuite(tmp_path: Path) -> tuple[Any, type[Invoice], dict[str, str]]:
    server = NetSuiteServer(customers={12345}, products=set(PRODUCTS.values()), token=SECRET).start()
    return (
        server,
        NetSuiteInvoice,
        {
            "url": server.url,
            "customer_map": _csv(tmp_path / "customers.csv", "tenant,customer_id", {example.TENANT.id: 12345}),
            "products_file": _csv(tmp_path / "products.csv", "service,product_id", PRODUCTS),
            "regions": "Wellington:NZ-WLG,Auckland:NZ-AKL",
            "api_token": SECRET,
            "lookup": "true",
        },
    )


ADAPTERS: dict[str, Callable[[Path], tuple[Any, type[Invoice], dict[str, str]]]] = {
    "django": django, "odoo": odoo, "netsuite": netsuite
}  # fmt: skip


@pytest.fixture(params=sorted(ADAPTERS))
def adapter(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[Any, type[Invoice], dict[str, str]]]:
    server, invoice_class, config = ADAPTERS[request.param](tmp_path)
    config.update(rates_file=example.write_rates(tmp_path), timeout="1")
    yield server, invoice_class, config
    server.stop()


def test_no_secret_in_any_log_line_at_any_level(adapter: Any, caplog: pytest.LogCaptureFixture) -> None:
    server, invoice_class, config = adapter
    caplog.set_level(logging.DEBUG)  # urllib3 logs each request line at DEBUG, as --debug shows it
    invoice = invoice_class(example.TENANT, config)
    example.fill(invoice, example.REFERENCE)
    invoice.commit()
    assert invoice.lookup(example.REFERENCE)
    server.fail_next(1, status=500)
    again = invoice_class(example.TENANT, config)
    example.fill(again, example.REFERENCE + "-2")
    with pytest.raises(ArtificeError) as failure:
        again.commit()
    assert SECRET not in str(failure.value)
    if invoice_class is not OdooInvoice:  # XML-RPC logs nothing; urllib3 logs each request line
        assert any("HTTP/1.1" in r.getMessage() for r in caplog.records)
    for record in caplog.records:
        assert SECRET not in record.getMessage(), record.getMessage()
