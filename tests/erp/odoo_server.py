"""A contract server of Odoo's external XML-RPC API, for the models the adapter uses.

``/xmlrpc/2/common`` (``version``, ``authenticate``) and ``/xmlrpc/2/object``
(``execute_kw`` with ``search``, ``search_read``, ``search_count``, ``read``,
``create`` on ``res.partner``, ``product.product``, ``res.currency`` and
``account.move``), with Odoo's fault codes: 1 for an unexpected server error
(an unknown field or method, a bad value), 2 for a UserError/ValidationError/
MissingError (a missing record, a date inside the lock date), 3 for access
denied (a wrong password), 4 for an access error (a user who may not create
invoices). Like Odoo's float fields, ``quantity`` and ``price_unit`` are
rounded half up to ``quantity_digits`` and ``price_digits`` (default 2) and
take numbers or numeric strings; each line's ``price_subtotal`` is rounded to
the cent. Records with ``active`` false are hidden unless the domain names
``active``.

    python -m tests.erp.odoo_server --port 8069 --state-file /tmp/odoo.json \
        --database odoo --user billing:secret --product m1.small:0.05
"""

from __future__ import annotations

import argparse
import collections
import datetime as dt
import json
import xmlrpc.client
from collections.abc import Callable
from decimal import ROUND_HALF_UP, Decimal
from typing import Any
from xml.parsers.expat import ExpatError

from tests.erp.base import ContractHandler, ContractServer, Reply, main

FIELDS = {
    "res.partner": {"name", "ref", "is_company", "active", "email"},
    "product.product": {"name", "default_code", "list_price", "active"},
    "res.currency": {"name", "active"},
    "account.move": {"move_type", "partner_id", "ref", "invoice_date", "invoice_line_ids", "currency_id", "narration"},
    "account.move.line": {"display_type", "name", "quantity", "price_unit", "product_id"},
}
MOVE_TYPES = {"entry", "out_invoice", "out_refund", "in_invoice", "in_refund"}
CURRENCIES = {"NZD": True, "USD": True, "EUR": False}


def fault(code: int, message: str) -> xmlrpc.client.Fault:
    return xmlrpc.client.Fault(code, message)


class OdooHandler(ContractHandler):
    server: OdooServer

    def request_key(self, method: str, path: str, body: bytes) -> str:
        try:
            params, name = xmlrpc.client.loads(body)
        except (ExpatError, ValueError, xmlrpc.client.ResponseError):
            return f"{method} {path}"
        if name == "execute_kw" and len(params) >= 5:
            return f"{params[3]!s}.{params[4]!s}"
        return f"{path.rsplit('/', 1)[-1]}.{name!s}"

    def route(self, method: str, path: str, query: dict[str, str], body: bytes) -> Reply:
        if method != "POST" or path not in ("/xmlrpc/2/common", "/xmlrpc/2/object"):
            return Reply(404, b"Not Found", {"Content-Type": "text/plain"})
        try:
            params, name = xmlrpc.client.loads(body, use_builtin_types=True)
        except (ExpatError, ValueError, xmlrpc.client.ResponseError):
            return Reply(400, b"Bad Request", {"Content-Type": "text/plain"})
        try:
            result = self.server.dispatch(path.rsplit("/", 1)[-1], str(name), params)
            payload = xmlrpc.client.dumps((result,), methodresponse=True, allow_none=True)
        except xmlrpc.client.Fault as error:
            payload = xmlrpc.client.dumps(error, allow_none=True)
        return Reply(200, payload.encode(), {"Content-Type": "text/xml; charset=utf-8"})


class OdooServer(ContractServer):
    def __init__(
        self,
        port: int = 0,
        state_file: str | None = None,
        database: str = "odoo",
        users: dict[str, str] | None = None,
        readonly_users: dict[str, str] | None = None,
        products: dict[str, str] | None = None,
        lock_date: str = "",
        quantity_digits: int = 2,
        price_digits: int = 2,
    ) -> None:
        records: dict[str, dict[str, Any]] = {model: {} for model in FIELDS if model != "account.move.line"}
        for ident, (code, active) in enumerate(CURRENCIES.items(), start=1):
            records["res.currency"][str(ident)] = {"name": code, "active": active}
        for ident, (code, price) in enumerate((products or {}).items(), start=1):
            product = {"name": code, "default_code": code, "list_price": float(price), "active": True}
            records["product.product"][str(ident)] = product
        initial = {"next_id": {model: len(r) + 1 for model, r in records.items()}, "records": records}
        super().__init__(OdooHandler, port, state_file, initial)
        self.database = database
        self.users: dict[str, tuple[int, str, bool]] = {}
        for writable, group in ((True, users or {"billing": "secret"}), (False, readonly_users or {})):
            for login, password in group.items():
                self.users[login] = (len(self.users) + 2, password, writable)
        self.lock_date = lock_date
        self.digits = {"quantity": quantity_digits, "price_unit": price_digits}
        self.faults: collections.deque[tuple[str, int, str]] = collections.deque()

    def fault_next(self, code: int, message: str, match: str = "") -> None:
        """Answer the next matching call with an XML-RPC fault (an application-level error)."""
        with self.lock:
            self.faults.append((match, code, message))

    def records(self, model: str) -> dict[int, dict[str, Any]]:
        with self.lock:
            return {int(k): json.loads(json.dumps(v)) for k, v in self.state["records"][model].items()}

    # -- dispatch ------------------------------------------------------------

    def dispatch(self, service: str, name: str, params: tuple[Any, ...]) -> Any:
        if service == "common":
            if name == "version":
                return {"server_version": "17.0", "server_version_info": [17, 0, 0, "final", 0, ""]}
            if name in ("authenticate", "login"):
                database, login, password = params[:3]
                user = self.users.get(login)
                return user[0] if database == self.database and user and user[1] == password else False
            raise fault(1, f"AttributeError: common service has no method {name!r}")
        if name != "execute_kw" or len(params) < 6:
            raise fault(1, f"TypeError: bad call of object.{name}")
        database, uid, password, model, method, args = params[:6]
        kwargs = params[6] if len(params) > 6 else {}
        user = next((u for u in self.users.values() if u[0] == uid), None)
        if database != self.database or not user or user[1] != password:
            raise fault(3, "Access Denied")
        with self.lock:
            for index, (match, code, message) in enumerate(self.faults):
                if match in f"{model}.{method}":
                    del self.faults[index]
                    raise fault(code, message)
            if model not in self.state["records"]:
                raise fault(1, f"KeyError: {model!r}")
            handler = getattr(self, f"_{method}", None)
            if handler is None:
                raise fault(1, f"AttributeError: type object {model!r} has no attribute {method!r}")
            try:
                return handler(model, *args, writable=user[2], **kwargs)
            except TypeError as exc:
                raise fault(1, f"TypeError: {exc}") from None

    def _select(self, model: str, domain: list[Any]) -> list[int]:
        table = self.state["records"][model]
        active_test = not any(isinstance(term, list) and term[0] == "active" for term in domain)
        found = []
        for key in sorted(table, key=int):
            record = {"id": int(key), **table[key]}
            if active_test and record.get("active") is False:
                continue
            if all(self._term(record, term) for term in domain if isinstance(term, list)):
                found.append(int(key))
        return found

    @staticmethod
    def _term(record: dict[str, Any], term: list[Any]) -> bool:
        field, operator, value = term
        actual = record.get(field)
        tests: dict[str, Callable[[], bool]] = {
            "=": lambda: actual == value,
            "!=": lambda: actual != value,
            "in": lambda: actual in value,
            "not in": lambda: actual not in value,
        }
        if operator not in tests:
            raise fault(1, f"ValueError: Invalid domain operator {operator!r}")
        return tests[operator]()

    def _search(self, model: str, domain: list[Any], offset: int = 0, limit: int | None = None, **_: Any) -> list[int]:
        ids = self._select(model, domain)[offset:]
        return ids[:limit] if limit else ids

    def _search_count(self, model: str, domain: list[Any], **_: Any) -> int:
        return len(self._select(model, domain))

    def _read(self, model: str, ids: list[int], fields: list[str] | None = None, **_: Any) -> list[dict[str, Any]]:
        table = self.state["records"][model]
        missing = [i for i in ids if str(i) not in table]
        if missing:
            raise fault(2, f"Record does not exist or has been deleted.\n(Record: {model}({missing[0]},), User: 2)")
        rows = [{"id": i, **table[str(i)]} for i in ids]
        return [{k: v for k, v in row.items() if not fields or k in fields or k == "id"} for row in rows]

    def _search_read(
        self, model: str, domain: list[Any], fields: list[str] | None = None, limit: int | None = None, **_: Any
    ) -> list[dict[str, Any]]:
        return self._read(model, self._search(model, domain, limit=limit), fields)

    def _create(self, model: str, values: Any, writable: bool = True, **_: Any) -> Any:
        if isinstance(values, list):
            return [self._create(model, v, writable) for v in values]
        if not writable:
            raise fault(4, f"You are not allowed to create '{model}' records. Contact your administrator.")
        self._check_fields(model, values)
        record = self._move(values) if model == "account.move" else dict(values)
        if model == "res.partner" and not record.get("name"):
            raise fault(2, "The operation cannot be completed: a mandatory field is not set: Name (name)")
        if model != "account.move":
            record.setdefault("active", True)
        ident = self.state["next_id"][model]
        self.state["next_id"][model] += 1
        self.state["records"][model][str(ident)] = record
        self.save()
        return ident

    @staticmethod
    def _check_fields(model: str, values: dict[str, Any]) -> None:
        for field in values:
            if field not in FIELDS[model]:
                raise fault(1, f"ValueError: Invalid field {field!r} on model {model!r}")

    def _exists(self, model: str, ident: Any) -> None:
        record = self.state["records"][model].get(str(ident))
        if not isinstance(ident, int) or record is None or record.get("active") is False:
            raise fault(2, f"Record does not exist or has been deleted.\n(Record: {model}({ident},), User: 2)")

    def _move(self, values: dict[str, Any]) -> dict[str, Any]:
        if values.get("move_type", "entry") not in MOVE_TYPES:
            raise fault(1, f"ValueError: Wrong value for account.move.move_type: {values['move_type']!r}")
        self._exists("res.partner", values.get("partner_id"))
        if "currency_id" in values:
            self._exists("res.currency", values["currency_id"])
        date = str(values.get("invoice_date") or "")
        try:
            dt.date.fromisoformat(date)
        except ValueError:
            raise fault(1, f"ValueError: time data {date!r} does not match format '%Y-%m-%d'") from None
        if self.lock_date and date <= self.lock_date:
            raise fault(2, f"You cannot add/modify entries prior to and inclusive of the lock date {self.lock_date}.")
        lines, total = [], Decimal(0)
        for command in values.get("invoice_line_ids") or []:
            if not (isinstance(command, list) and len(command) == 3 and command[0] == 0 and command[1] == 0):
                raise fault(1, f"ValueError: unsupported command {command!r}")
            line = dict(command[2])
            self._check_fields("account.move.line", line)
            if line.get("display_type") == "line_section":
                if not line.get("name"):
                    raise fault(2, "A section needs a label (name).")
                lines.append({"display_type": "line_section", "name": line["name"]})
                continue
            if "product_id" in line:
                self._exists("product.product", line["product_id"])
            stored = {"name": line.get("name") or "", "product_id": line.get("product_id") or False}
            stored["raw_types"] = {f: type(line.get(f, 0)).__name__ for f in ("quantity", "price_unit")}
            for field, digits in self.digits.items():
                try:
                    value = Decimal(repr(float(line.get(field, 1 if field == "quantity" else 0))))
                except (TypeError, ValueError):
                    raise fault(1, f"ValueError: could not convert {line.get(field)!r} to float ({field})") from None
                stored[field] = str(value.quantize(Decimal(1).scaleb(-digits), rounding=ROUND_HALF_UP))
            subtotal = Decimal(stored["quantity"]) * Decimal(stored["price_unit"])
            stored["price_subtotal"] = str(subtotal.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))
            total += Decimal(stored["price_subtotal"])
            lines.append(stored)
        move = {k: v for k, v in values.items() if k != "invoice_line_ids"}
        return {
            "move_type": "entry",
            **move,
            "state": "draft",
            "name": "/",
            "lines": lines,
            "amount_untaxed": str(total),
        }


def _arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--database", default="odoo")
    parser.add_argument("--user", action="append", default=[], help="LOGIN:PASSWORD (repeatable)")
    parser.add_argument("--readonly-user", action="append", default=[], help="LOGIN:PASSWORD, may not create")
    parser.add_argument("--product", action="append", default=[], help="DEFAULT_CODE:LIST_PRICE (repeatable)")
    parser.add_argument("--lock-date", default="", help="YYYY-MM-DD: refuse invoices dated on or before it")
    parser.add_argument("--quantity-digits", type=int, default=2)
    parser.add_argument("--price-digits", type=int, default=2)


def _server(args: argparse.Namespace) -> OdooServer:
    def pairs(values: list[str]) -> dict[str, str]:
        return dict(v.rsplit(":", 1) for v in values)

    return OdooServer(
        args.port,
        args.state_file,
        args.database,
        pairs(args.user) or None,
        pairs(args.readonly_user),
        pairs(args.product),
        args.lock_date,
        args.quantity_digits,
        args.price_digits,
    )


if __name__ == "__main__":
    main(None, "Odoo external XML-RPC API (account.move invoices)", _arguments, _server)
