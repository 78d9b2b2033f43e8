"""The NetSuite adapter (seed 003) against its local contract server."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from artifice.exceptions import CannotLookUp, CommitError, ConfigError, PricingError, TransientCommitError
from artifice.invoice import Tenant
from artifice.invoices.netsuite import NetSuiteInvoice
from tests.erp import example
from tests.erp.base import spawn
from tests.erp.netsuite_server import NetSuiteServer

TOKEN = "S3CRET-TOKEN"
PRODUCTS = {"m1.small": 1, "volume.size": 2, "m1.medium": 3, "network.outgoing.bytes": 4}


@pytest.fixture
def erp() -> Iterator[NetSuiteServer]:
    server = NetSuiteServer(customers={12345}, products=set(PRODUCTS.values()), token=TOKEN).start()
    yield server
    server.stop()


def write_csv(path: Path, header: str, rows: dict[str, int]) -> str:
    path.write_text(header + "\n" + "".join(f"{k},{v}\n" for k, v in rows.items()), encoding="utf-8")
    return str(path)


@pytest.fixture
def config(erp: NetSuiteServer, tmp_path: Path) -> dict[str, str]:
    return {
        "url": erp.url,
        "rates_file": example.write_rates(tmp_path),
        "customer_map": write_csv(tmp_path / "customers.csv", "tenant,customer_id", {example.TENANT.id: 12345}),
        "products_file": write_csv(tmp_path / "products.csv", "service,product_id", PRODUCTS),
        "regions": "Wellington:NZ-WLG,Auckland:NZ-AKL",
        "api_token": TOKEN,
        "timeout": "1",
    }


def committed(config: dict[str, str]) -> NetSuiteInvoice:
    invoice = NetSuiteInvoice(example.TENANT, config)
    example.fill(invoice)
    invoice.commit()
    return invoice


def posts(erp: NetSuiteServer) -> list[bytes]:
    return [body for method, _, body in erp.requests if method == "POST"]


def test_commit_stores_the_worked_example(erp: NetSuiteServer, config: dict[str, str]) -> None:
    invoice = committed(config)
    ((ident, stored),) = erp.invoices().items()
    assert invoice.external_id == ident
    assert stored["customer_id"] == 12345
    assert "external_reference" not in stored  # the seed's body, exactly
    items = stored["items"]
    assert [i["product_id"] for i in items] == [PRODUCTS[s] for _, s, _, _ in example.USAGE]
    assert [(i["quantity"], i["price_per_product"]) for i in items] == [
        ("744.0000", "0.05"),
        ("14880.5000", "0.0002"),
        ("123.4567", "0.11"),
        ("1", "0.04"),  # 0.42 GB: the seed refuses quantities below 1, so 1 x the line's amount
    ]
    billed = {
        s: example.amount(i["quantity"], i["price_per_product"])
        for (_, s, _, _), i in zip(example.USAGE, items, strict=True)
    }
    assert billed == example.AMOUNTS and sum(billed.values()) == example.TOTAL
    assert [i["region_and_currency"] for i in items] == ["NZ-WLG:NZD", "NZ-WLG:NZD", "NZ-AKL:NZD", "NZ-AKL:NZD"]
    assert {(i["term_start_date"], i["term_end_date"], i["payment_due_date"]) for i in items} == {
        ("2026-10-01T00:00:00.000000+0000", "2026-11-01T00:00:00.000000+0000", "2026-12-01T00:00:00.000000+0000")
    }
    raw = posts(erp)[0].decode()
    assert '"quantity": 123.4567' in raw and '"price_per_product": 0.0002' in raw  # exact JSON numbers


def test_payment_terms(erp: NetSuiteServer, config: dict[str, str]) -> None:
    committed({**config, "payment_terms_days": "14"})
    (stored,) = erp.invoices().values()
    assert stored["items"][0]["payment_due_date"] == "2026-11-15T00:00:00.000000+0000"


def test_validation_errors_name_every_field(erp: NetSuiteServer, config: dict[str, str], tmp_path: Path) -> None:
    config["customer_map"] = write_csv(tmp_path / "c2.csv", "tenant,customer_id", {example.TENANT.id: 999})
    config["products_file"] = write_csv(tmp_path / "p2.csv", "service,product_id", {**PRODUCTS, "m1.medium": 77})
    with pytest.raises(CommitError) as raised:
        committed(config)
    assert not isinstance(raised.value, TransientCommitError)
    message = str(raised.value)
    assert "HTTP 400" in message
    assert "customer_id: This Customer does not exist in NetSuite." in message
    assert "items.2.product_id: This Product does not exist in NetSuite." in message
    assert erp.invoices() == {}


def test_contract_server_refuses_a_quantity_below_one(erp: NetSuiteServer) -> None:
    item: dict[str, Any] = dict.fromkeys(
        ("payment_due_date", "term_start_date", "term_end_date"), "2026-10-01T00:00:00.000000+0000"
    )
    item |= {"product_id": 1, "quantity": 0.5, "region_and_currency": "NZ:NZD", "price_per_product": 1}
    answer = requests.post(
        f"{erp.url}/invoice/",
        json={"customer_id": 12345, "items": [item]},
        headers={"Authorization": f"Bearer {TOKEN}"},
        timeout=5,
    )
    assert answer.status_code == 400
    assert answer.json() == {"errors": {"items.0.quantity": "You cannot have a quantity less than 1."}}


def test_bad_token_is_refused_without_showing_it(erp: NetSuiteServer, config: dict[str, str]) -> None:
    with pytest.raises(CommitError, match="HTTP 401") as raised:
        committed({**config, "api_token": "WRONG-TOKEN"})
    assert not isinstance(raised.value, TransientCommitError)
    assert "WRONG-TOKEN" not in str(raised.value)


def test_lookup_is_not_implemented_by_default(config: dict[str, str]) -> None:
    invoice = NetSuiteInvoice(example.TENANT, config)
    assert not invoice.can_look_up
    with pytest.raises(CannotLookUp, match="netsuite cannot look invoices up by reference"):
        invoice.lookup(example.REFERENCE)


def test_configuration_errors(config: dict[str, str], tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="tenant other has no NetSuite customer"):
        NetSuiteInvoice(Tenant("other"), config)
    config["products_file"] = write_csv(tmp_path / "p3.csv", "service,product_id", {"m1.small": 1})
    with pytest.raises(PricingError, match=r"'volume\.size' has no NetSuite product"):
        NetSuiteInvoice(example.TENANT, config).cost("Wellington", "volume.size")


def test_server_as_a_process_keeps_invoices_across_a_kill(config: dict[str, str], tmp_path: Path) -> None:
    state = str(tmp_path / "netsuite.json")
    args = (
        "--state-file",
        state,
        "--customer",
        "12345",
        "--token",
        TOKEN,
        *(f"--product={p}" for p in PRODUCTS.values()),
    )
    process, url = spawn("tests.erp.netsuite_server", *args)
    try:
        requests.post(f"{url}/_control", json={"drop": {"match": "POST /invoice/"}}, timeout=5).raise_for_status()
        with pytest.raises(TransientCommitError):
            committed({**config, "url": url})
    finally:
        process.kill()
        process.wait()
    process, url = spawn("tests.erp.netsuite_server", *args)
    try:
        invoices = requests.get(f"{url}/_control/state", timeout=5).json()["invoices"]
        assert len(invoices) == 1
        invoice = committed({**config, "url": url})
        assert invoice.external_id not in invoices  # ids go on after the restart
    finally:
        process.terminate()
        process.wait(timeout=10)
