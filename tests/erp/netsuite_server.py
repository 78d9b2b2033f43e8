"""A contract server of seed 003's NetSuite invoice-creation API.

``POST /invoice/`` validates as the seed describes and answers 201
``{"invoice_id": N}`` or 400 ``{"errors": {path: message}}`` (an unknown
customer or product, a quantity below 1, a missing field, a date not in the
seed's ``2015-06-02T00:00:00.000000+0000`` form, a number sent as a string).
``GET /invoice/<id>/`` reads one (404 ``{}``). Invoices are immutable: PATCH
and DELETE answer 405. Our extension, for adapters configured ``lookup =
true``: an optional ``external_reference`` on POST and
``GET /invoice/?external_reference=R`` -> ``{"invoices": [...]}`` (with ``filtering=False`` the
filter is ignored and every invoice is listed, as an API without the extension would).
Quantities and prices are kept as the exact decimal text that was sent.
With ``--token`` every request needs ``Authorization: Bearer <token>``.

    python -m tests.erp.netsuite_server --port 8001 --state-file /tmp/ns.json --customer 12345 --product 1
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import re
from decimal import Decimal
from typing import Any

from tests.erp.base import ContractHandler, ContractServer, Reply, main

DATE_FORMAT = "%Y-%m-%dT%H:%M:%S.%f%z"
DETAIL = re.compile(r"^/invoice/(\d+)/$")
REGION = re.compile(r"^[^:]+:[A-Z]{3}$")
ITEM_FIELDS = (
    "product_id",
    "quantity",
    "region_and_currency",
    "price_per_product",
    "payment_due_date",
    "term_start_date",
    "term_end_date",
)


class NetSuiteHandler(ContractHandler):
    server: NetSuiteServer

    def route(self, method: str, path: str, query: dict[str, str], body: bytes) -> Reply:
        token = self.server.token
        if token and self.headers.get("Authorization") != f"Bearer {token}":
            return Reply.json(401, {"errors": {"authorization": "Invalid or missing token."}})
        state = self.server.state
        if path == "/invoice/" and method == "POST":
            return self._create(body)
        if path == "/invoice/" and method == "GET":
            with self.server.lock:
                found = [
                    {"invoice_id": int(k), **v}
                    for k, v in state["invoices"].items()
                    if not self.server.filtering
                    or "external_reference" not in query
                    or v.get("external_reference") == query["external_reference"]
                ]
            return Reply.json(200, {"invoices": found})
        match = DETAIL.match(path)
        if match and method == "GET":
            with self.server.lock:
                invoice = state["invoices"].get(match.group(1))
            return Reply.json(200, invoice) if invoice else Reply.json(404, {})
        if match:
            return Reply.json(405, {"errors": {"": "NetSuite invoices are immutable."}})
        return Reply.json(404, {})

    def _create(self, body: bytes) -> Reply:
        try:
            data = json.loads(body, parse_float=Decimal, parse_int=Decimal)
        except ValueError:
            return Reply.json(400, {"errors": {"": "The request body is not valid JSON."}})
        if not isinstance(data, dict):
            return Reply.json(400, {"errors": {"": "The request body must be a JSON object."}})
        errors: dict[str, str] = {}
        customer = data.get("customer_id")
        if customer is None:
            errors["customer_id"] = "This field is required."
        elif not isinstance(customer, Decimal) or int(customer) not in self.server.customers:
            errors["customer_id"] = "This Customer does not exist in NetSuite."
        items = data.get("items")
        if not isinstance(items, list) or not items:
            errors["items"] = "An invoice needs at least one item."
            items = []
        for index, item in enumerate(items):
            errors.update(self._item_errors(f"items.{index}", item))
        if errors or not isinstance(customer, Decimal):
            return Reply.json(400, {"errors": errors})
        invoice = {
            "customer_id": int(customer),
            "items": [
                {
                    **{k: (str(v) if isinstance(v, Decimal) else v) for k, v in i.items()},
                    "product_id": int(i["product_id"]),
                }
                for i in items
            ],
            "send_invoice_email": False,
        }
        for key in ("account_executive_user_id", "account_manager_user_id", "sales_development_rep_user_id"):
            if isinstance(data.get(key), Decimal):
                invoice[key] = int(data[key])
        if isinstance(data.get("external_reference"), str):
            invoice["external_reference"] = data["external_reference"]
        with self.server.lock:
            ident = self.server.state["next_id"]
            self.server.state["next_id"] += 1
            self.server.state["invoices"][str(ident)] = invoice
            self.server.save()
        return Reply.json(201, {"invoice_id": ident})

    def _item_errors(self, path: str, item: Any) -> dict[str, str]:
        if not isinstance(item, dict):
            return {path: "An item must be an object."}
        errors = {f"{path}.{field}": "This field is required." for field in ITEM_FIELDS if item.get(field) is None}
        product = item.get("product_id")
        if product is not None and (not isinstance(product, Decimal) or int(product) not in self.server.products):
            errors[f"{path}.product_id"] = "This Product does not exist in NetSuite."
        for field in ("quantity", "price_per_product"):
            value = item.get(field)
            if value is not None and not isinstance(value, Decimal):
                errors[f"{path}.{field}"] = "A valid number is required."
        quantity = item.get("quantity")
        if isinstance(quantity, Decimal) and quantity < 1:
            errors[f"{path}.quantity"] = "You cannot have a quantity less than 1."
        region = item.get("region_and_currency")
        if region is not None and not (isinstance(region, str) and REGION.match(region)):
            errors[f"{path}.region_and_currency"] = "Expected REGION:CURRENCY, e.g. US:USD."
        dates = {}
        for field in ("payment_due_date", "term_start_date", "term_end_date"):
            try:
                dates[field] = dt.datetime.strptime(str(item.get(field)), DATE_FORMAT)
            except ValueError:
                if item.get(field) is not None:
                    errors[f"{path}.{field}"] = "Expected a UTC date time like 2015-06-02T00:00:00.000000+0000."
        if len(dates) == 3 and dates["term_end_date"] < dates["term_start_date"]:
            errors[f"{path}.term_end_date"] = "The term cannot end before it starts."
        return errors


class NetSuiteServer(ContractServer):
    def __init__(
        self,
        port: int = 0,
        state_file: str | None = None,
        customers: set[int] | None = None,
        products: set[int] | None = None,
        token: str = "",
        filtering: bool = True,
    ) -> None:
        super().__init__(NetSuiteHandler, port, state_file, {"next_id": 1001, "invoices": {}})
        self.filtering = filtering  # False: GET /invoice/ ignores external_reference, as an unextended API would
        self.customers = customers if customers is not None else {12345}
        self.products = products if products is not None else set(range(1, 21))
        self.token = token

    def invoices(self) -> dict[str, dict[str, Any]]:
        with self.lock:
            return dict(json.loads(json.dumps(self.state["invoices"])))


def _arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--customer", type=int, action="append", default=[], help="a customer id (repeatable)")
    parser.add_argument("--product", type=int, action="append", default=[], help="a product id (repeatable)")
    parser.add_argument("--token", default="", help="require Authorization: Bearer TOKEN")


def _server(args: argparse.Namespace) -> NetSuiteServer:
    return NetSuiteServer(args.port, args.state_file, set(args.customer) or None, set(args.product) or None, args.token)


if __name__ == "__main__":
    main(None, "Seed 003 NetSuite invoice API", _arguments, _server)
