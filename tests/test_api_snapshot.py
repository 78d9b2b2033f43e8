"""The read API remembers counts and totals per database snapshot: never a figure another write made stale.

Each test reads a list (which remembers its figures), changes the database the way a
billing run, an operator or a tag update does, and reads again: the figures must move
with the change, on SQLite and on a real PostgreSQL. The last one reads while another
process-like writer commits invoices, and checks that every answer agrees with itself.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import requests
import sqlalchemy as sa

from artifice import config
from artifice.invoice import Tenant
from artifice.store import db
from artifice.store.windows import PricedLine, WindowStore
from artifice.timeutil import Window
from tests.servers import Server, api_in_thread

ADMIN = "admin-token-snapshot"


def bill(engine: sa.Engine, tenant: str, month: int, amount: str) -> None:
    """What a billing run writes: one committed window with one line and one resource."""
    store = WindowStore(engine)
    claimed = store.claim(Tenant(tenant), Window.month(2026, month), "invoice", "csv", "run")
    quantity = Decimal(amount)
    resources = (("vm-1", quantity),)
    line = PricedLine("Wellington", "m1.small", "compute", "hour", quantity, Decimal(1), quantity, resources)
    claimed = store.record_lines(claimed, [line], "NZD")
    store.committed(store.begin_attempt(claimed), None)


@pytest.fixture
def api(engine: sa.Engine, tmp_path: Path) -> Iterator[tuple[str, sa.Engine]]:
    """``artifice-api``'s app on ``engine``'s database, and a separate engine that writes (another process's)."""
    url = engine.url.render_as_string(hide_password=False)
    tokens = tmp_path / "tokens.csv"
    tokens.write_text(f"{ADMIN},,admin\n")
    conf_file = tmp_path / "api.conf"
    settings = f"[database]\nconnection = {url}\n\n[api]\nauth_strategy = token_file\ntoken_file = {tokens}\n"
    conf_file.write_text(settings)
    conf = config.load(["--config-file", str(conf_file)])
    writer = db.make_engine(url)
    with api_in_thread(conf) as base:
        yield base, writer
    writer.dispose()


def get(api: str, path: str, **params: Any) -> Any:
    response = requests.get(api + path, params=params, headers={"Authorization": f"Bearer {ADMIN}"}, timeout=60)
    assert response.status_code == 200, response.text
    return response.json(parse_float=Decimal)


def figures(api: str) -> tuple[int, Decimal, int, Decimal]:
    invoices = get(api, "/api/invoices", includeTotals="true")
    items = get(api, "/api/invoice-line-items", includeTotals="true")
    return (
        invoices["meta"]["total"],
        invoices["invoiceTotals"]["totalPrice"],
        items["meta"]["total"],
        items["lineItemTotals"]["itemPrice"],
    )


def test_a_billing_run_and_an_operator_fix_move_the_remembered_figures(api: tuple[str, sa.Engine]) -> None:
    url, writer = api
    bill(writer, "acme", 9, "10.25")
    assert figures(url) == (1, Decimal("10.25"), 1, Decimal("10.25"))
    assert figures(url) == (1, Decimal("10.25"), 1, Decimal("10.25"))  # answered again, unchanged
    bill(writer, "globex", 9, "4.50")
    assert figures(url) == (2, Decimal("14.75"), 2, Decimal("14.75"))
    with writer.begin() as connection:  # an operator corrects an amount by hand
        connection.execute(sa.text("UPDATE invoice_lines SET amount = '5.00' WHERE amount = '4.50'"))
        connection.execute(sa.text("UPDATE line_resources SET quantity = '5.00' WHERE quantity = '4.50'"))
    assert figures(url) == (2, Decimal("15.25"), 2, Decimal("15.25"))
    with writer.begin() as connection:
        connection.execute(sa.text("DELETE FROM billing_windows WHERE tenant_id = 'globex'"))
    assert figures(url) == (1, Decimal("10.25"), 1, Decimal("10.25"))


def test_a_tag_set_through_the_api_is_found_by_the_next_filtered_list(api: tuple[str, sa.Engine]) -> None:
    url, writer = api
    bill(writer, "acme", 9, "10.25")
    assert get(url, "/api/invoices", **{"tags.paid": "yes", "includeTotals": "true"})["meta"]["total"] == 0
    (invoice,) = get(url, "/api/invoices")["invoices"]
    body = {"invoice": {"addTags": [{"name": "paid", "value": "yes"}]}}
    headers = {"Authorization": f"Bearer {ADMIN}"}
    assert requests.put(f"{url}/api/invoices/{invoice['id']}", json=body, headers=headers, timeout=60).ok
    tagged = get(url, "/api/invoices", **{"tags.paid": "yes", "includeTotals": "true"})
    assert tagged["meta"]["total"] == 1 and tagged["invoiceTotals"]["totalPrice"] == Decimal("10.25")


def test_every_answer_agrees_with_itself_while_invoices_are_committed(api: tuple[str, sa.Engine]) -> None:
    url, writer = api
    done = threading.Event()

    def billing() -> None:
        for month in range(1, 13):
            for tenant in ("acme", "globex", "initech"):
                bill(writer, tenant, month, f"{month}.{len(tenant):02d}")
        done.set()

    thread = threading.Thread(target=billing)
    thread.start()
    answers, seen = 0, []
    while not done.is_set() or answers < 5:
        body = get(url, "/api/invoices", includeTotals="true", max=1000)
        listed = sum((invoice["totalPrice"] for invoice in body["invoices"]), Decimal(0))
        assert body["meta"]["total"] == len(body["invoices"])  # the count of this answer's own snapshot
        assert body["invoiceTotals"]["totalPrice"] == listed
        seen.append(body["meta"]["total"])
        answers += 1
    thread.join()
    assert seen == sorted(seen) and get(url, "/api/invoices", includeTotals="true")["meta"]["total"] == 36


def test_a_read_after_postgresql_restarts_is_answered(tmp_path: Path) -> None:
    """The API's pooled connections are not pinged before each read: one the restart dropped is read again."""
    server = Server("postgres")
    try:
        writer = db.make_engine(server.url)
        db.upgrade(writer)
        bill(writer, "acme", 9, "10.25")
        writer.dispose()
        tokens = tmp_path / "tokens.csv"
        tokens.write_text(f"{ADMIN},,admin\n")
        conf_file = tmp_path / "api.conf"
        conf_file.write_text(f"[database]\nconnection = {server.url}\n\n[api]\nauth_strategy = token_file\n"
                             f"token_file = {tokens}\nthreads = 2\nanswer_cache_mb = 0\n")  # fmt: skip
        with api_in_thread(config.load(["--config-file", str(conf_file)])) as url:
            for _ in range(4):  # both pooled connections used
                assert get(url, "/api/invoices")["meta"]["total"] == 1
            server.stop()
            server.start()
            for _ in range(4):
                assert get(url, "/api/invoices")["meta"]["total"] == 1
    finally:
        server.stop()


def test_a_remembered_answer_is_only_ever_given_to_a_caller_who_sees_the_same_rows(
    engine: sa.Engine, tmp_path: Path
) -> None:
    url = engine.url.render_as_string(hide_password=False)
    bill(engine, "acme", 9, "10.25")
    bill(engine, "globex", 9, "4.50")
    tokens = tmp_path / "tokens.csv"
    tokens.write_text(f"{ADMIN},,admin\nacme-token,acme,member\nglobex-token,globex,member\n")
    conf_file = tmp_path / "api.conf"
    conf_file.write_text(
        f"[database]\nconnection = {url}\n\n[api]\nauth_strategy = token_file\ntoken_file = {tokens}\n"
    )

    def tenants(base: str, token: str) -> list[str]:
        answer = requests.get(f"{base}/api/invoices?max=5", headers={"Authorization": f"Bearer {token}"}, timeout=60)
        assert answer.status_code == 200, answer.text
        return sorted(invoice["account"]["id"] for invoice in answer.json()["invoices"])

    with api_in_thread(config.load(["--config-file", str(conf_file)])) as base:
        for _ in range(2):  # the second round is answered from what the first remembered
            assert tenants(base, ADMIN) == ["acme", "globex"]
            assert tenants(base, "acme-token") == ["acme"]
            assert tenants(base, "globex-token") == ["globex"]


def test_a_repeated_parameter_is_answered_as_read_whatever_order_was_answered_before(
    api: tuple[str, sa.Engine],
) -> None:
    """A repeated parameter counts by its last value: the same pairs in another order are another question."""
    url, writer = api
    bill(writer, "acme", 9, "10.25")
    bill(writer, "globex", 9, "4.50")

    def accounts(*pairs: tuple[str, str]) -> list[str]:
        answer = requests.get(f"{url}/api/invoices", params=list(pairs), headers={"Authorization": f"Bearer {ADMIN}"},
                              timeout=60)  # fmt: skip
        assert answer.status_code == 200, answer.text
        return [invoice["account"]["id"] for invoice in answer.json()["invoices"]]

    assert accounts(("accountId", "acme"), ("accountId", "globex")) == ["globex"]
    assert accounts(("accountId", "globex"), ("accountId", "acme")) == ["acme"]
    assert accounts(("max", "5"), ("accountId", "globex"), ("accountId", "acme")) == ["acme"]


@pytest.mark.parametrize("engine", ["sqlite"], indirect=True)
def test_a_backup_restored_under_a_running_api_is_never_answered_from_before(
    api: tuple[str, sa.Engine], tmp_path: Path
) -> None:
    """Restoring a SQLite backup rewinds its data; what the API remembered since must not come back."""
    url, writer = api
    live, backup = writer.url.database, str(tmp_path / "backup.db")
    assert live is not None
    bill(writer, "acme", 9, "10.25")
    with sqlite3.connect(live) as source, sqlite3.connect(backup) as copy:
        source.backup(copy)
    bill(writer, "globex", 9, "4.50")
    assert figures(url) == (2, Decimal("14.75"), 2, Decimal("14.75"))
    with sqlite3.connect(backup) as source, sqlite3.connect(live) as restored:  # the operator restores it
        source.backup(restored)
    bill(writer, "initech", 9, "7.00")  # the same writes as globex's, to other rows
    assert figures(url) == (2, Decimal("17.25"), 2, Decimal("17.25"))
