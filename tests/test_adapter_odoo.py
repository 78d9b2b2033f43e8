"""The Odoo adapter (XML-RPC, seed 000's reference ERP) against its local contract server."""

from __future__ import annotations

import json
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from artifice.exceptions import CommitError, PricingError, TransientCommitError
from artifice.invoices.odoo import OdooInvoice
from tests.erp import example
from tests.erp.base import spawn
from tests.erp.odoo_server import OdooServer

PASSWORD = "S3CRET-PASSWORD"
PRODUCTS = {"m1.small": "0.05", "volume.size": "0.0002", "m1.medium": "0.11", "network.outgoing.bytes": "0.09"}


@pytest.fixture
def erp() -> Iterator[OdooServer]:
    server = OdooServer(users={"billing": PASSWORD}, readonly_users={"auditor": "read-only"}, products=PRODUCTS).start()
    yield server
    server.stop()


@pytest.fixture
def config(erp: OdooServer, tmp_path: Path) -> dict[str, str]:
    return {
        "url": erp.url,
        "database": "odoo",
        "username": "billing",
        "password": PASSWORD,
        "rates_file": example.write_rates(tmp_path),
        "timeout": "1",
    }


def committed(config: dict[str, str], reference: str = example.REFERENCE) -> OdooInvoice:
    invoice = OdooInvoice(example.TENANT, config)
    example.fill(invoice, reference)
    invoice.commit()
    return invoice


def the_move(erp: OdooServer) -> tuple[int, dict[str, Any]]:
    ((ident, move),) = erp.records("account.move").items()
    return ident, move


def move_creations(erp: OdooServer) -> int:
    return sum(b"account.move</string>" in body and b"<string>create</string>" in body for _, _, body in erp.requests)


def check_worked_example(move: dict[str, Any]) -> None:
    sections = [line["name"] for line in move["lines"] if line.get("display_type") == "line_section"]
    assert sections == ["Wellington", "Auckland"]
    products = [line for line in move["lines"] if not line.get("display_type")]
    billed = {
        service: Decimal(line["price_subtotal"])
        for (_, service, _, _), line in zip(example.USAGE, products, strict=True)
    }
    assert billed == example.AMOUNTS
    assert Decimal(move["amount_untaxed"]) == example.TOTAL
    assert all(line["raw_types"] == {"quantity": "str", "price_unit": "str"} for line in products)


def test_commit_stores_the_worked_example(erp: OdooServer, config: dict[str, str]) -> None:
    invoice = committed(config)
    ident, move = the_move(erp)
    assert invoice.external_id == str(ident)
    assert (move["move_type"], move["ref"], move["invoice_date"], move["state"]) == (
        "out_invoice",
        example.REFERENCE,
        "2026-11-01",
        "draft",
    )
    ((partner_id, partner),) = erp.records("res.partner").items()
    assert move["partner_id"] == partner_id and (partner["name"], partner["ref"]) == ("Acme Ltd", "acme-id")
    assert erp.records("res.currency")[move["currency_id"]]["name"] == "NZD"
    check_worked_example(move)
    lines = [line for line in move["lines"] if not line.get("display_type")]
    assert (lines[0]["quantity"], lines[0]["price_unit"]) == ("744.00", "0.05")
    # 0.0002 per GiB-hour and 123.4567 hours do not fit Odoo's 2 digits: 1 x the amount, the label says why
    assert [(line["quantity"], line["price_unit"]) for line in lines[1:3]] == [("1.00", "2.98"), ("1.00", "13.58")]
    assert lines[1]["name"] == "volume.size: 14880.5000 GiB-hour at 0.0002"
    assert lines[0]["product_id"] is False


def test_partner_is_found_again(erp: OdooServer, config: dict[str, str]) -> None:
    committed(config, "ART-acme-id-20260901-20261001-r1")
    committed(config)
    assert len(erp.records("res.partner")) == 1
    assert len({m["partner_id"] for m in erp.records("account.move").values()}) == 1


def test_products_and_their_prices(erp: OdooServer, config: dict[str, str]) -> None:
    del config["rates_file"]
    committed({**config, "prices_from_products": "true", "currency": "NZD"})
    _, move = the_move(erp)
    check_worked_example(move)
    codes = {i: p["default_code"] for i, p in erp.records("product.product").items()}
    lines = [line for line in move["lines"] if not line.get("display_type")]
    assert [codes[line["product_id"]] for line in lines] == [service for _, service, _, _ in example.USAGE]


def test_product_missing_is_a_pricing_error(erp: OdooServer, config: dict[str, str]) -> None:
    invoice = OdooInvoice(example.TENANT, {**config, "prices_from_products": "true"})
    with pytest.raises(PricingError, match="no product has Internal Reference"):
        invoice.cost("Wellington", "m1.huge")


def test_lock_date_is_refused(erp: OdooServer, config: dict[str, str]) -> None:
    erp.lock_date = "2026-11-30"
    with pytest.raises(CommitError, match="lock date 2026-11-30") as raised:
        committed(config)
    assert not isinstance(raised.value, TransientCommitError)
    assert erp.records("account.move") == {}


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"password": "wrong"}, "refused the login of 'billing'"),
        ({"username": "auditor", "password": "read-only"}, "access error"),
    ],
)
def test_access_is_refused(erp: OdooServer, config: dict[str, str], change: dict[str, str], message: str) -> None:
    with pytest.raises(CommitError, match=message) as raised:
        committed({**config, **change})
    assert not isinstance(raised.value, TransientCommitError)
    assert PASSWORD not in str(raised.value) and erp.records("account.move") == {}


def test_faults(erp: OdooServer, config: dict[str, str]) -> None:
    erp.fault_next(1, "Traceback...\npsycopg2.errors.SerializationFailure: could not serialize", "account.move.create")
    with pytest.raises(TransientCommitError, match=r"server error: psycopg2\.errors\.SerializationFailure"):
        committed(config)
    erp.fault_next(2, "The field 'Customer' is required", "account.move.create")
    with pytest.raises(CommitError, match=r"user or validation error.*'Customer' is required") as raised:
        committed(config)
    assert not isinstance(raised.value, TransientCommitError)
    assert erp.records("account.move") == {}


def test_server_as_a_process(config: dict[str, str], tmp_path: Path) -> None:
    state = tmp_path / "odoo.json"
    process, url = spawn("tests.erp.odoo_server", "--state-file", str(state), f"--user=billing:{PASSWORD}")
    try:
        invoice = committed({**config, "url": url})
        assert OdooInvoice(example.TENANT, {**config, "url": url}).lookup(example.REFERENCE) == invoice.external_id
    finally:
        process.terminate()
        process.wait(timeout=10)
    moves = json.loads(state.read_text())["records"]["account.move"]
    assert moves[invoice.external_id]["ref"] == example.REFERENCE
