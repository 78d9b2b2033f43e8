"""The read API's bounds: totals in SQL, bounded line items, errors for admins only, a bounded token cache."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import requests

from artifice import config
from artifice.api import documents
from artifice.invoice import Tenant
from artifice.store import db
from artifice.store.windows import PricedLine, WindowStore
from artifice.timeutil import Window
from tests.conftest import demo_conf_text, write_conf
from tests.servers import api_in_thread

ADMIN, ACME = "admin-token-limits", "acme-token-limits"
RESOURCES = 1500
# Each vm-i: 1.0005 h at 2.675 = 2.6763375 -> 2.68 (half-up; floats make 2.675 x 1 round to 2.67).
QUANTITY, PRICE = Decimal("1.0005"), Decimal("2.675")


def _window(store: WindowStore, tenant: str, month: int, fail: str | None = None) -> None:
    claimed = store.claim(Tenant(tenant), Window.month(2026, month), "invoice", "csv", "run")
    resources = tuple((f"vm-{i:04d}", QUANTITY) for i in range(RESOURCES))
    quantity = QUANTITY * RESOURCES
    line = PricedLine("Wellington", "m1.small", "compute", "hour", quantity, PRICE, (quantity * PRICE).quantize(
        Decimal("0.01")), resources)  # fmt: skip
    claimed = store.record_lines(claimed, [line], "NZD")
    if fail:
        store.failed(claimed, fail)
    else:
        store.committed(store.begin_attempt(claimed), None)


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    tmp = tmp_path_factory.mktemp("limits")
    url = f"sqlite:///{tmp / 'artifice.db'}"
    db.upgrade(db.make_engine(url))
    store = WindowStore(db.make_engine(url))
    _window(store, "acme", 10)
    _window(store, "acme", 9, fail="POST https://erp.internal.example:8443/api: HTTP 500 stack trace of the ERP")
    tokens = tmp / "tokens.csv"
    tokens.write_text(f"{ADMIN},,admin\n{ACME},acme,member\n")
    text = demo_conf_text(tmp) + f"\n[api]\nauth_strategy = token_file\ntoken_file = {tokens}\n"
    conf = config.load(["--config-file", str(write_conf(tmp / "api.conf", text))])
    with api_in_thread(conf) as base:
        yield base


def get(api: str, path: str, token: str = ADMIN, **params: Any) -> Any:
    response = requests.get(api + path, params=params, headers={"Authorization": f"Bearer {token}"}, timeout=60)
    assert response.status_code == 200, response.text
    return response.json(parse_float=Decimal)


def test_line_item_totals_are_exact_and_build_no_document_per_row(api: str, monkeypatch: pytest.MonkeyPatch) -> None:
    built = []
    real = documents.line_item
    monkeypatch.setattr(documents, "line_item", lambda *a: built.append(1) or real(*a))
    body = get(api, "/api/invoice-line-items", accountId="acme", state="committed", includeTotals="true", max=10)
    assert len(body["lineItems"]) == 10 and body["meta"]["total"] == RESOURCES
    assert len(built) == 10  # the totals come from SQL, not from a document per matching row
    # itemCost: 1500 x 1.0005 x 2.675 = 4014.50625 exactly; itemPrice: 1500 x 2.68 = 4020.00.
    assert body["lineItemTotals"] == {
        "itemCost": Decimal("4014.50625"), "itemPrice": Decimal("4020.00"), "itemTax": Decimal("0")
    }  # fmt: skip


def test_invoice_totals_come_from_sql(api: str) -> None:
    body = get(api, "/api/invoices", accountId="acme", state="committed", includeTotals="true")
    # 1500.75 h x 2.675 = 4014.50625 -> 4014.51 on the invoice line.
    assert body["invoiceTotals"]["totalPrice"] == Decimal("4014.51")


def test_one_invoice_returns_a_bounded_page_of_its_line_items(api: str) -> None:
    (invoice,) = get(api, "/api/invoices", accountId="acme", state="committed")["invoices"]
    body = get(api, f"/api/invoices/{invoice['id']}")
    assert len(body["invoice"]["lineItems"]) == 100
    assert body["invoice"]["lineItemsMeta"] == {"size": 100, "total": RESOURCES, "offset": 0, "max": 100}
    later = get(api, f"/api/invoices/{invoice['id']}", lineItemsOffset=1450, lineItemsMax=1000)["invoice"]
    assert [i["refId"] for i in later["lineItems"]] == [f"vm-{i:04d}" for i in range(1450, 1500)]


def test_a_failed_windows_error_is_shown_to_admins_only(api: str) -> None:
    admin = get(api, "/api/invoices", state="failed")["invoices"]
    assert "erp.internal.example" in admin[0]["error"]
    member = get(api, "/api/invoices", ACME, state="failed")["invoices"]
    assert member[0]["state"] == "failed" and "erp" not in str(member[0]["error"])
    one = get(api, f"/api/invoices/{member[0]['id']}", ACME)["invoice"]
    assert "erp" not in str(one["error"])


def test_the_keystone_token_cache_is_bounded(tmp_path: Path) -> None:
    from artifice.api.auth import Caller, KeystoneTokens

    text = demo_conf_text(tmp_path) + "\n[service_credentials]\nauth_type = none\nendpoint = http://127.0.0.1:9\n"
    conf = config.load(["--config-file", str(write_conf(tmp_path / "a.conf", text))])
    conf.set_override("token_cache_size", 100, "api")
    tokens = KeystoneTokens(conf)
    for n in range(1000):
        tokens.remember(f"token-{n}", Caller(f"p{n}", False))
    assert len(tokens.cache) <= 100


def test_an_admin_role_counts_only_in_an_admin_scope(tmp_path: Path) -> None:
    from artifice.api.auth import Caller, KeystoneTokens

    text = demo_conf_text(tmp_path) + "\n[service_credentials]\nauth_type = none\nendpoint = http://127.0.0.1:9\n"
    tokens = KeystoneTokens(config.load(["--config-file", str(write_conf(tmp_path / "a.conf", text))]))
    admin_role = [{"name": "admin"}]
    # A tenant's own admin (an admin role on its project) sees that project only.
    assert tokens.caller_of({"roles": admin_role, "project": {"id": "p1", "name": "acme"}}) == Caller("p1", False)
    assert tokens.caller_of({"roles": admin_role, "project": {"id": "p0", "name": "admin"}}) == Caller("p0", True)
    assert tokens.caller_of({"roles": admin_role, "system": {"all": True}}) == Caller("", True)
    assert tokens.caller_of({"roles": [{"name": "member"}], "system": {"all": True}}) == Caller("", False)


def test_docs_page_shows_the_invoice_endpoints_offline_in_headless_chromium(api: str, tmp_path: Path) -> None:
    """Cloud controllers are often offline: Swagger UI must come from the installed package, not a CDN."""
    import subprocess

    from tests.conftest import debian_tool

    chromium = debian_tool("chromium", "chromium")
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             f"--user-data-dir={tmp_path / 'profile'}", "--virtual-time-budget=15000", "--dump-dom"]  # fmt: skip
    page = subprocess.run([chromium, *flags, f"{api}/docs"], capture_output=True, text=True, timeout=180)
    assert page.returncode == 0, page.stderr[-2000:]
    # Swagger UI rendered (by its JavaScript) one operation per endpoint.
    for endpoint in ("/api/invoices", "/api/invoices/{id}", "/api/invoice-line-items"):
        assert f'class="opblock-summary-path" data-path="{endpoint}"' in page.stdout, page.stdout[:2000]
