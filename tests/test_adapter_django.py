"""The Django tastypie adapter (seed 001) against its local contract server."""

from __future__ import annotations

import json
import time
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


@pytest.mark.parametrize("status", [500, 503, 429])
def test_server_errors_are_transient_and_not_retried(erp: DjangoServer, config: dict[str, str], status: int) -> None:
    erp.fail_next(1, status)
    with pytest.raises(TransientCommitError, match=f"HTTP {status}") as raised:
        committed(config)
    assert KEY not in str(raised.value)
    assert len(posts(erp)) == 1 and erp.invoices() == []
    committed(config)  # the next attempt (the pipeline's) goes through
    assert len(erp.invoices()) == 1


def test_timeout_is_transient_within_the_configured_timeout(erp: DjangoServer, config: dict[str, str]) -> None:
    erp.hang_next(10)
    began = time.monotonic()
    with pytest.raises(TransientCommitError, match="timed out after 1 s") as raised:
        committed(config)
    assert time.monotonic() - began < 3
    assert KEY not in str(raised.value)


def test_accepted_then_dropped_is_transient_and_found_by_lookup(erp: DjangoServer, config: dict[str, str]) -> None:
    erp.drop_next()
    with pytest.raises(TransientCommitError, match="connection failed") as raised:
        committed(config)
    assert KEY not in str(raised.value)
    (stored,) = erp.invoices()  # saved, and sent once: no silent re-send
    assert len(posts(erp)) == 1
    assert DjangoInvoice(example.TENANT, config).lookup(example.REFERENCE) == stored["id_facture"]


def test_connection_refused_is_transient(config: dict[str, str]) -> None:
    with pytest.raises(TransientCommitError, match="connection failed") as raised:
        committed({**config, "url": "http://127.0.0.1:9"})
    assert KEY not in str(raised.value)


def test_lookup(erp: DjangoServer, config: dict[str, str]) -> None:
    adapter = DjangoInvoice(example.TENANT, config)
    assert adapter.lookup(example.REFERENCE) is None
    first = committed(config, "ART-acme-id-20260901-20261001-r1")
    second = committed(config)
    assert first.external_id != second.external_id
    assert adapter.lookup(example.REFERENCE) == second.external_id
    assert adapter.lookup("ART-acme-id-20261001-20261101-r2") is None


def test_lookup_on_a_resource_refusing_the_filter_is_refused(config: dict[str, str]) -> None:
    server = DjangoServer(users={"billing": KEY}, clients={example.TENANT.id}, filtering=False).start()
    try:
        with pytest.raises(CommitError, match="does not allow filtering"):
            DjangoInvoice(example.TENANT, {**config, "url": server.url}).lookup(example.REFERENCE)
    finally:
        server.stop()


def test_server_as_a_process(config: dict[str, str], tmp_path: Path) -> None:
    state = tmp_path / "django.json"
    process, url = spawn(
        "tests.erp.django_server", "--state-file", str(state), f"--user=billing:{KEY}", f"--client={example.TENANT.id}"
    )
    try:
        invoice = committed({**config, "url": url})
        assert DjangoInvoice(example.TENANT, {**config, "url": url}).lookup(example.REFERENCE) == invoice.external_id
    finally:
        process.terminate()
        process.wait(timeout=10)
    assert json.loads(state.read_text())["invoices"][invoice.external_id]["num_facture"] == example.REFERENCE
