"""The Django tastypie adapter (seed 001) against its local contract server."""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from artifice.exceptions import CommitError, TransientCommitError
from artifice.invoices.django_api import DjangoInvoice
from tests.erp import example
from tests.erp.base import spawn
from tests.erp.django_server import DjangoServer

KEY = "S3CRET-API-KEY"


@pytest.fixture
def erp() -> Iterator[DjangoServer]:
    server = DjangoServer(users={"billing": KEY}, clients={example.TENANT.id}).start()
    yield server
    server.stop()


@pytest.fixture
def config(erp: DjangoServer, tmp_path: Path) -> dict[str, str]:
    return {
        "url": erp.url,
        "username": "billing",
        "api_key": KEY,
        "rates_file": example.write_rates(tmp_path),
        "timeout": "1",
    }


def committed(config: dict[str, str], reference: str = example.REFERENCE) -> DjangoInvoice:
    invoice = DjangoInvoice(example.TENANT, config)
    example.fill(invoice, reference)
    invoice.commit()
    return invoice


def posts(erp: DjangoServer) -> list[bytes]:
    return [body for method, _, body in erp.requests if method == "POST"]


def test_commit_stores_the_worked_example(erp: DjangoServer, config: dict[str, str]) -> None:
    invoice = committed(config)
    (stored,) = erp.invoices()
    assert invoice.external_id == stored["id_facture"]
    assert stored["num_facture"] == example.REFERENCE
    assert stored["client"] == f"/api/v1/client/{example.TENANT.id}/"
    assert stored["date_facture"] == "2026-11-01T00:00:00"
    assert stored["tax"] == "0.00"  # sent explicitly: the seed's default would be 19.60
    rows = stored["invoicerows"]
    assert [row["ordre"] for row in rows] == [1, 2, 3, 4]
    billed = {}
    for (datacenter, service, _, _), row in zip(example.USAGE, rows, strict=True):
        assert row["description"].startswith(f"{datacenter} {service}")
        billed[service] = example.amount(row["qtt"], row["prix_ht"])
    assert billed == example.AMOUNTS
    assert sum(billed.values()) == example.TOTAL
    # 123.4567 hours do not fit qtt's 2 decimals: one row at the line's amount, naming the real usage
    assert (rows[2]["qtt"], rows[2]["prix_ht"]) == ("1.00", "13.58000")
    assert "123.4567 hour at 0.11" in rows[2]["description"]
    assert (rows[0]["qtt"], rows[0]["prix_ht"]) == ("744.00", "0.05000")
    sent = json.loads(posts(erp)[0])
    assert all(isinstance(row[k], str) for row in sent["invoicerows"] for k in ("qtt", "prix_ht"))


def test_tax_rate_is_sent(erp: DjangoServer, config: dict[str, str]) -> None:
    committed({**config, "tax_rate": "15"})
    assert erp.invoices()[0]["tax"] == "15.00"


def test_duplicate_reference_is_refused_naming_the_field(erp: DjangoServer, config: dict[str, str]) -> None:
    committed(config)
    with pytest.raises(CommitError) as raised:
        committed(config)
    assert not isinstance(raised.value, TransientCommitError)
    assert "num_facture: Invoice with this Num facture already exists." in str(raised.value)
    assert len(erp.invoices()) == 1


def test_unknown_client_is_refused(erp: DjangoServer, config: dict[str, str]) -> None:
    with pytest.raises(CommitError, match=r"HTTP 400.*/api/v1/client/nobody/") as raised:
        committed({**config, "client_uri_template": "/api/v1/client/nobody/"})
    assert not isinstance(raised.value, TransientCommitError)
    assert erp.invoices() == []


def test_bad_api_key_is_refused_without_showing_it(erp: DjangoServer, config: dict[str, str]) -> None:
    with pytest.raises(CommitError, match="HTTP 401") as raised:
        committed({**config, "api_key": "WRONG-KEY"})
    assert not isinstance(raised.value, TransientCommitError)
    assert "WRONG-KEY" not in str(raised.value)


def test_lookup_on_a_resource_refusing_the_filter_is_refused(config: dict[str, str]) -> None:
    server = DjangoServer(users={"billing": KEY}, clients={example.TENANT.id}, filtering=False).start()
    try:
        with pytest.raises(CommitError, match="does not allow filtering"):
            DjangoInvoice(example.TENANT, {**config, "url": server.url}).lookup(example.REFERENCE)
    finally:
        server.stop()


def test_server_as_a_process_keeps_its_invoices_across_a_restart(config: dict[str, str], tmp_path: Path) -> None:
    state = str(tmp_path / "django")
    arguments = ("--state-file", state, f"--user=billing:{KEY}", f"--client={example.TENANT.id}")
    process, url = spawn("tests.erp.django_server", *arguments)
    try:
        invoice = committed({**config, "url": url})
    finally:
        process.terminate()
        process.wait(timeout=10)
    process, url = spawn("tests.erp.django_server", *arguments)
    try:
        assert DjangoInvoice(example.TENANT, {**config, "url": url}).lookup(example.REFERENCE) == invoice.external_id
        with urllib.request.urlopen(f"{url}/_control/state", timeout=30) as answer:
            held = json.load(answer)["invoices"]
        assert [i["num_facture"] for i in held.values()] == [example.REFERENCE]
    finally:
        process.terminate()
        process.wait(timeout=10)


# The seed's /api/v1/invoice/schema/: (type, default, unique, nullable) of every field it lists.
SEED_SCHEMA = {
    "accompte": ("decimal", "0", False, True), "client": ("related", "No default provided.", False, False),
    "commentaire": ("string", "", False, False), "date_created": ("datetime", "No default provided.", False, True),
    "date_facture": ("datetime", "No default provided.", False, True),
    "date_generated": ("datetime", "No default provided.", False, True),
    "date_paiement": ("datetime", "No default provided.", False, True),
    "date_sent": ("datetime", "No default provided.", False, True), "delivery": ("string", "email", False, False),
    "exchange_rate": ("decimal", "1.00", False, False), "extra_bottom": ("string", "", False, False),
    "extra_top": ("string", "", False, False), "facture_file": ("string", "", False, False),
    "id_compte": ("integer", 30, False, False), "id_facture": ("string", "", True, False),
    "id_type_presta": ("integer", "No default provided.", False, True),
    "invoicerows": ("related", "No default provided.", False, True),
    "is_envoye": ("integer", "No default provided.", False, True), "is_paye": ("boolean", False, False, True),
    "num_facture": ("string", "", True, False), "payment_method": ("string", "unknown", False, False),
    "period": ("string", "monthly", False, False),
    "periodic_next_deadline": ("datetime", "No default provided.", False, True),
    "ref_contrat": ("string", "", False, False), "resource_uri": ("string", "No default provided.", False, False),
    "tax": ("decimal", "19.60", False, False), "transactions": ("related", "No default provided.", False, True),
    "type_doc": ("string", "facture", False, False), "type_paiement": ("string", "", False, False),
}  # fmt: skip


def test_the_tastypie_application_has_the_seeds_schema(erp: DjangoServer) -> None:
    request = urllib.request.Request(f"{erp.url}/api/v1/invoice/schema/?username=billing&api_key={KEY}")
    with urllib.request.urlopen(request, timeout=30) as answer:
        schema = json.load(answer)
    fields = {k: (v["type"], v["default"], v["unique"], v["nullable"]) for k, v in schema["fields"].items()}
    assert fields == SEED_SCHEMA
    assert (schema["default_limit"], schema["default_format"]) == (20, "application/json")
