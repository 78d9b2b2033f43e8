"""artifice-api over HTTP, as a real uvicorn process: filters, paging, totals, tags, isolation, fuzzing.

The database holds the demo month billed with a 15 % tax plugin (acme 359.64 + 53.95 tax,
globex 23.66 + 3.55, initech 37.20 + 5.58 NZD) and a month-to-date estimate for acme.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import requests
from keystoneauth1 import session as ks_session
from keystoneauth1.identity import v3

from artifice import config
from artifice.billing.pipeline import Pipeline
from artifice.invoice import Tenant
from artifice.store import db
from artifice.store.windows import PricedLine, WindowStore
from artifice.timeutil import Window
from tests.conftest import REPO, demo_conf_text, write_conf
from tests.servers import free_port
from tests.telemetry import KEYSTONE_PASSWORD, keystone_admin

ADMIN, ACME = "admin-token-0123", "acme-token-4567"


class Api:
    def __init__(self, url: str) -> None:
        self.url = url

    def get(self, path: str, token: str | None = ADMIN, **params: Any) -> requests.Response:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return requests.get(self.url + path, params=params, headers=headers, timeout=30)

    def ok(self, path: str, token: str = ADMIN, **params: Any) -> Any:
        response = self.get(path, token, **params)
        assert response.status_code == 200, response.text
        return response.json(parse_float=Decimal)

    def put(self, path: str, body: Any, token: str = ADMIN) -> requests.Response:
        headers = {"Authorization": f"Bearer {token}"}
        return requests.put(self.url + path, json=body, headers=headers, timeout=30)


def billed_database(tmp: Path) -> Path:
    plugins = "\n[billing]\ninvoice_plugins = tax\n\n[invoice_plugin:tax]\nrates = *:0.15\nname = GST\n"
    conf_file = write_conf(tmp / "artifice.conf", demo_conf_text(tmp) + plugins)
    subprocess.run([sys.executable, "-m", "artifice.cli.manage", "--config-file", str(conf_file), "db", "upgrade"],
                   check=True, cwd=REPO, capture_output=True)  # fmt: skip
    pipeline = Pipeline.from_config(config.load(["--config-file", str(conf_file)]))
    october = Window.month(2026, 10)
    for tenant in ("acme", "globex", "initech"):
        pipeline.bill(Tenant(tenant, f"{tenant.title()} Ltd"), october)
    running = Window(dt.datetime(2026, 10, 1, tzinfo=dt.UTC), dt.datetime(2026, 10, 11, tzinfo=dt.UTC))
    estimate = pipeline.bill(Tenant("acme", "Acme Ltd"), running, dry_run=True)
    pipeline.store.save_estimate(Tenant("acme", "Acme Ltd"), running, estimate.currency, estimate.lines, running.end)
    return conf_file


def start_api(conf_file: Path, extra: str, log: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    text = conf_file.read_text() + f"\n[api]\nport = {port}\n{extra}\n"
    api_conf = write_conf(conf_file.parent / "api.conf", text)
    process = subprocess.Popen(
        [sys.executable, "-m", "artifice.api.server", "--config-file", str(api_conf)],
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
        cwd=REPO,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            if requests.get(url + "/openapi.json", timeout=2).status_code == 200:
                return process, url
        except requests.ConnectionError:
            pass
        assert process.poll() is None and time.monotonic() < deadline, log.read_text()
        time.sleep(0.2)


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    tmp = tmp_path_factory.mktemp("api")
    conf_file = billed_database(tmp)
    tokens = tmp / "tokens.csv"
    tokens.write_text(f"{ADMIN},,admin\n{ACME},acme,member\n")
    process, url = start_api(conf_file, f"auth_strategy = token_file\ntoken_file = {tokens}", tmp / "api.log")
    yield Api(url)
    process.terminate()
    process.wait(timeout=30)


def ids(body: dict[str, Any]) -> list[tuple[str, str]]:
    return [(i["account"]["id"], i["refCategory"]) for i in body["invoices"]]


def test_refuses_requests_without_a_valid_token(api: Api) -> None:
    for token in (None, "wrong"):
        response = api.get("/api/invoices", token)
        assert response.status_code == 401 and "error" in response.json()
        assert response.headers["WWW-Authenticate"] == "Bearer"


def test_list_sorts_newest_first_pages_and_counts(api: Api) -> None:
    body = api.ok("/api/invoices")
    assert body["meta"] == {"size": 4, "total": 4, "offset": 0, "max": 25}
    # Default sort startDate desc, ties by id desc: all four start on 2026-10-01.
    assert ids(body) == [("acme", "estimate"), ("initech", "invoice"), ("globex", "invoice"), ("acme", "invoice")]
    first, second = api.ok("/api/invoices", max=3), api.ok("/api/invoices", max=3, offset=3)
    assert [*ids(first), *ids(second)] == ids(body) and second["meta"] == {"size": 1, "total": 4, "offset": 3, "max": 3}
    assert api.ok("/api/invoices", offset=10)["invoices"] == []
    by_name = api.ok("/api/invoices", sort="name", direction="asc", estimate="false")
    assert [i["refName"] for i in by_name["invoices"]] == ["Acme Ltd", "Globex Ltd", "Initech Ltd"]


def test_invoice_carries_the_price_breakdown_per_category(api: Api) -> None:
    (acme,) = api.ok("/api/invoices", accountId="acme", estimate="false")["invoices"]
    # Worked from the demo month: compute 55.44 + 69.62 + 37.20 + 158.35 = 320.61;
    # network 0.00 + 14.98; storage (volumes) 24.05; GST 15 % per datacenter: 8.32 + 45.63.
    assert (acme["computePrice"], acme["networkPrice"], acme["storagePrice"]) == (
        Decimal("320.61"),
        Decimal("14.98"),
        Decimal("24.05"),
    )
    assert acme["taxPrice"] == Decimal("53.95") and acme["totalPrice"] == Decimal("413.59")
    assert acme["actualTotalPrice"] == acme["totalPrice"] and acme["estimatedTotalPrice"] is None
    assert (acme["period"], acme["startDate"], acme["endDate"]) == ("202610", "2026-10-01T00:00:00+0000",
                                                                    "2026-11-01T00:00:00+0000")  # fmt: skip
    (estimate,) = api.ok("/api/invoices", accountId="acme", estimate="true")["invoices"]
    assert estimate["estimate"] is True and estimate["costType"] == "estimate"
    assert estimate["estimatedTotalPrice"] == estimate["totalPrice"] > 0 and estimate["actualTotalPrice"] is None


def test_filters_and_totals(api: Api) -> None:
    def names(**params: Any) -> list[str]:
        return sorted(i["account"]["id"] for i in api.ok("/api/invoices", estimate="false", **params)["invoices"])

    assert names(phrase="ob") == ["globex"] and names(name="Initech Ltd") == ["initech"]
    assert names(datacenter="Auckland") == ["acme", "initech"]
    assert names(period="2026") == names(period="202610") == ["acme", "globex", "initech"]
    assert names(period="202609") == [] and names(startDate="2026-10-02") == []
    assert names(endDate="2026-10-31") == ["acme", "globex", "initech"] and names(endDate="2026-10-30") == []
    assert names(state="committed", active="true") == ["acme", "globex", "initech"] and names(active="false") == []
    totals = api.ok("/api/invoices", estimate="false", includeTotals="true")["invoiceTotals"]
    # 359.64 + 23.66 + 37.20 of usage, 53.95 + 3.55 + 5.58 of tax.
    assert totals["totalPrice"] == Decimal("483.58") and totals["taxPrice"] == Decimal("63.08")


def test_sorting_by_money_and_usage_is_numeric(api: Api) -> None:
    # Totals 413.59 (acme), 42.78 (initech), 27.21 (globex): as text, "42.78" would sort above "413.59".
    body = api.ok("/api/invoices", estimate="false", sort="totalPrice", direction="desc")
    assert [i["account"]["id"] for i in body["invoices"]] == ["acme", "initech", "globex"]
    usage = [
        i["itemUsage"]
        for i in api.ok("/api/invoice-line-items", sort="itemUsage", direction="desc", max=50)["lineItems"]
    ]
    assert usage == sorted(usage, reverse=True)


@pytest.mark.parametrize(
    ("params", "parameter"),
    [
        ({"max": 0}, "max"),
        ({"max": 1001}, "max"),
        ({"offset": -1}, "offset"),
        ({"sort": "price"}, "sort"),
        ({"direction": "up"}, "direction"),
        ({"period": "202613"}, "period"),
        ({"period": "26"}, "period"),
        ({"startDate": "2026-02-30"}, "startDate"),
        ({"endDate": "yesterday"}, "endDate"),
        ({"active": "maybe"}, "active"),
        ({"state": "paid"}, "state"),
        ({"tags.": "x"}, "tags."),
        ({"tags.a\x00b": "x"}, "tags"),  # PostgreSQL refuses NUL in a string: a 500 before
        ({"tags.paid": "y\x00"}, "tags"),
    ],
)
def test_bad_parameters_get_400_naming_them(api: Api, params: dict[str, Any], parameter: str) -> None:
    response = api.get("/api/invoices", **params)
    assert response.status_code == 400, response.text
    assert response.json()["parameter"] == parameter and parameter in response.json()["error"]


def test_tags_set_add_remove_and_filter(api: Api) -> None:
    (globex,) = api.ok("/api/invoices", accountId="globex")["invoices"]
    path = f"/api/invoices/{globex['id']}"
    changed = api.put(path, {"invoice": {"tags": [{"name": "agency", "value": "Lonestar"}, {"name": "old"}]}})
    assert changed.status_code == 200, changed.text
    assert api.put(path, {"invoice": {"addTags": [{"name": "hello", "value": "world"}]}}).status_code == 200
    assert api.put(path, {"invoice": {"removeTags": [{"name": "agency", "value": "other"}, {"name": "old"}]}}).ok
    tags = {t["name"]: t["value"] for t in api.ok(path)["invoice"]["tags"]}
    assert tags == {"agency": "Lonestar", "hello": "world"}  # a removeTags value must match
    assert [i["id"] for i in api.ok("/api/invoices", **{"tags.agency": "Lonestar"})["invoices"]] == [globex["id"]]
    assert api.ok("/api/invoices", **{"tags.agency": "Lonestar", "tags.hello": "moon"})["invoices"] == []
    # One request may drop a tag with "tags" and add it again with "addTags".
    again = api.put(path, {"invoice": {"tags": [], "addTags": [{"name": "hello", "value": "again"}]}})
    assert again.status_code == 200 and again.json()["invoice"]["tags"][0]["value"] == "again"
    assert api.put(path, {"invoice": {"tags": []}}).ok and api.ok(path)["invoice"]["tags"] == []
    bad = api.put(path, {"invoice": {"addTags": [{"value": "no name"}]}})
    assert bad.status_code == 400 and "name" in bad.json()["parameter"]


def test_a_tenant_sees_only_its_own_invoices(api: Api) -> None:
    mine = api.ok("/api/invoices", ACME)
    assert {i["account"]["id"] for i in mine["invoices"]} == {"acme"} and mine["meta"]["total"] == 2
    globex = api.ok("/api/invoices", accountId="globex")["invoices"][0]
    assert api.get(f"/api/invoices/{globex['id']}", ACME).status_code == 404
    assert api.put(f"/api/invoices/{globex['id']}", {"invoice": {"tags": []}}, ACME).status_code == 404
    assert api.get("/api/invoices", ACME, accountId="globex").status_code == 403
    item = api.ok("/api/invoice-line-items", accountId="globex", max=1)["lineItems"][0]
    assert api.get(f"/api/invoice-line-items/{item['id']}", ACME).status_code == 404
    assert {i["account"]["id"] for i in api.ok("/api/invoice-line-items", ACME, max=1000)["lineItems"]} == {"acme"}


def test_line_items_per_resource_and_service(api: Api) -> None:
    body = api.ok("/api/invoice-line-items", accountId="initech", estimate="false", includeTotals="true")
    by_type = {i["itemType"]: i for i in body["lineItems"]}
    usage, tax = by_type["USAGE"], by_type["TAX"]
    # vm-1: m1.small all month, 744 h at 0.05 = 37.20, and GST 15 % of it = 5.58.
    assert (usage["usageType"], usage["itemUsage"], usage["rateUnit"], usage["itemRate"]) == (
        "m1.small",
        Decimal("744.0000"),
        "hour",
        Decimal("0.05"),
    )
    assert usage["itemPrice"] == Decimal("37.20") and usage["refType"] == "Resource"
    assert tax["itemTax"] == tax["itemPrice"] == Decimal("5.58")
    assert body["lineItemTotals"] == {
        "itemCost": Decimal("42.78"),
        "itemPrice": Decimal("42.78"),
        "itemTax": Decimal("5.58"),
    }
    one = api.ok(f"/api/invoice-line-items/{usage['id']}")["lineItem"]
    assert one == usage
    named = api.ok("/api/invoice-line-items", name=usage["refName"])["lineItems"]
    assert [i["id"] for i in named] == [usage["id"]]
    assert api.get("/api/invoice-line-items/999999").status_code == 404


def test_openapi_document_describes_the_api(api: Api) -> None:
    document = requests.get(api.url + "/openapi.json", timeout=10).json()
    assert {"/api/invoices", "/api/invoices/{id}", "/api/invoice-line-items", "/api/invoice-line-items/{id}"} <= set(
        document["paths"]
    )


def test_readme_curl_examples_work(api: Api) -> None:
    readme = (REPO / "README.md").read_text()
    section = readme[readme.index("## Read API") :]
    commands = re.findall(r"```sh\n(curl .*?)```", section, re.S)
    assert len(commands) >= 4
    (globex,) = api.ok("/api/invoices", accountId="globex")["invoices"]
    item = api.ok("/api/invoice-line-items", max=1)["lineItems"][0]
    env = {**os.environ, "ARTIFICE_API_URL": api.url, "ARTIFICE_API_TOKEN": ADMIN}
    for command in commands:
        command = command.replace(":id", str(globex["id"])).replace("/678", f"/{item['id']}")
        result = subprocess.run(["bash", "-c", command], env=env, capture_output=True, text=True, timeout=30)
        assert result.returncode == 0, (command, result.stderr)
        assert "error" not in json.loads(result.stdout), (command, result.stdout)


def test_fuzzing_from_the_openapi_document_finds_no_server_error(api: Api, tmp_path: Path) -> None:
    result = subprocess.run(
        [
            str(Path(sys.executable).parent / "schemathesis"),
            "run",
            f"{api.url}/openapi.json",
            "--checks",
            "not_a_server_error",
            "--header",
            f"Authorization: Bearer {ADMIN}",
            "--max-examples",
            "60",
            "--seed",
            "1",
        ],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]


def committed_window(store: WindowStore, tenant: str, amount: str) -> None:
    row = store.claim(Tenant(tenant), Window.month(2026, 10), "invoice", "csv", "run")
    line = PricedLine("Wellington", "m1.small", "compute", "hour", Decimal(1), Decimal(amount), Decimal(amount))
    store.committed(store.begin_attempt(store.record_lines(row, [line], "NZD")), None)


def test_keystone_tokens_admin_sees_all_and_a_member_its_project(keystone: str, tmp_path: Path) -> None:
    admin = keystone_admin(keystone)
    suffix = uuid.uuid4().hex[:8]
    body = {"project": {"name": f"api-{suffix}", "domain_id": "default"}}
    project = admin.post(f"{keystone}/projects", json=body).json()["project"]["id"]
    body = {"user": {"name": f"member-{suffix}", "password": "member-pw", "domain_id": "default"}}
    user = admin.post(f"{keystone}/users", json=body).json()["user"]["id"]
    role = admin.get(f"{keystone}/roles", params={"name": "member"}).json()["roles"][0]["id"]
    admin.put(f"{keystone}/projects/{project}/users/{user}/roles/{role}")
    member = v3.Password(
        auth_url=keystone,
        username=f"member-{suffix}",
        password="member-pw",
        user_domain_id="default",
        project_id=project,
    )
    member_token = ks_session.Session(auth=member).get_token()
    # The same user made an admin of its own project: still that project's invoices only.
    admin_role = admin.get(f"{keystone}/roles", params={"name": "admin"}).json()["roles"][0]["id"]
    admin.put(f"{keystone}/projects/{project}/users/{user}/roles/{admin_role}")
    member.invalidate()
    project_admin_token = ks_session.Session(auth=member).get_token()

    database = tmp_path / "artifice.db"
    db.upgrade(db.make_engine(f"sqlite:///{database}"))
    store = WindowStore(db.make_engine(f"sqlite:///{database}"))
    committed_window(store, project, "1.00")
    committed_window(store, "someone-else", "2.00")
    credentials = (
        f"\n[service_credentials]\nauth_type = password\nauth_url = {keystone}\nusername = admin\n"
        f"password = {KEYSTONE_PASSWORD}\nproject_name = admin\nuser_domain_id = default\n"
        "project_domain_id = default\n"
    )
    conf_file = write_conf(tmp_path / "artifice.conf", demo_conf_text(tmp_path) + credentials)
    process, url = start_api(conf_file, "auth_strategy = keystone", tmp_path / "api.log")
    try:
        api = Api(url)
        everything = api.ok("/api/invoices", admin.get_token())
        assert sorted(i["account"]["id"] for i in everything["invoices"]) == sorted([project, "someone-else"])
        mine = api.ok("/api/invoices", member_token)["invoices"]
        assert [i["account"]["id"] for i in mine] == [project] and mine[0]["totalPrice"] == Decimal("1.00")
        other = next(i for i in everything["invoices"] if i["account"]["id"] == "someone-else")
        assert api.get(f"/api/invoices/{other['id']}", member_token).status_code == 404
        ours = api.ok("/api/invoices", project_admin_token)["invoices"]
        assert [i["account"]["id"] for i in ours] == [project]
        assert api.get("/api/invoices", "not-a-keystone-token").status_code == 401
    finally:
        process.terminate()
        process.wait(timeout=30)
    assert KEYSTONE_PASSWORD not in (tmp_path / "api.log").read_text()


def test_workers_serve_the_api_in_that_many_processes(tmp_path: Path) -> None:
    conf_file = billed_database(tmp_path)
    tokens = tmp_path / "tokens.csv"
    tokens.write_text(f"{ADMIN},,admin\n")
    extra = f"auth_strategy = token_file\ntoken_file = {tokens}\nworkers = 2"
    process, url = start_api(conf_file, extra, tmp_path / "api.log")
    try:
        children = Path(f"/proc/{process.pid}/task/{process.pid}/children").read_text().split()
        workers = [c for c in children if "spawn_main" in Path(f"/proc/{c}/cmdline").read_text()]
        assert len(workers) == 2, (tmp_path / "api.log").read_text()
        seen = {Api(url).ok("/api/invoices", estimate="false")["meta"]["total"] for _ in range(20)}
        assert seen == {3}  # every worker serves the same database
    finally:
        process.terminate()
        assert process.wait(timeout=30) == 0, (tmp_path / "api.log").read_text()


def test_sigterm_stops_the_api_with_exit_status_0(tmp_path: Path) -> None:
    conf_file = billed_database(tmp_path)
    tokens = tmp_path / "tokens.csv"
    tokens.write_text(f"{ADMIN},,admin\n")
    process, url = start_api(conf_file, f"auth_strategy = token_file\ntoken_file = {tokens}", tmp_path / "api.log")
    assert Api(url).ok("/api/invoices")["meta"]["total"] == 4
    process.terminate()
    assert process.wait(timeout=30) == 0, (tmp_path / "api.log").read_text()  # systemd counts 143 as a failure
