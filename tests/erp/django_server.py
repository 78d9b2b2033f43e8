"""A contract server of seed 001's Django tastypie invoice API.

``/api/v1/invoice/`` with tastypie's ApiKey authentication (``username`` and
``api_key`` query parameters, or ``Authorization: ApiKey user:key``; 401 with
an empty body otherwise), list paging (``meta``/``objects``, ``limit`` default
20, ``offset``), filtering on ``num_facture``, a detail view, and creation:
201 with an empty body and ``Location``. Validation answers as tastypie does:
400 ``{"error": ...}`` for an unknown client URI or a bad value, 400
``{"invoice": {field: [messages]}}`` for model validation (``num_facture``
required and unique). Decimals are stored as the model's DecimalFields would:
``qtt`` with 2 decimals, ``prix_ht`` 5, ``tax`` 2, rounded half-even as Django does.

    python -m tests.erp.django_server --port 8000 --state-file /tmp/django.json \
        --user billing:KEY --client acme
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import re
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation
from typing import Any
from urllib.parse import urlencode, urlsplit

from tests.erp.base import ContractHandler, ContractServer, Reply, main

CLIENT_URI = re.compile(r"^/api/v1/client/([^/]+)/$")
DETAIL = re.compile(r"^/api/v1/invoice/(\d+)/$")


class BadRequest(Exception):
    def __init__(self, document: dict[str, Any]) -> None:
        super().__init__(document)
        self.document = document


def decimal(value: Any, field: str, places: int) -> str:
    try:
        number = Decimal(str(value)) if not isinstance(value, bool) else None
    except InvalidOperation:
        number = None
    if number is None or not number.is_finite():
        raise BadRequest({"error": f"Invalid decimal string given for '{field}': {value!r}"})
    return str(number.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_EVEN))


class DjangoHandler(ContractHandler):
    server: DjangoServer

    def route(self, method: str, path: str, query: dict[str, str], body: bytes) -> Reply:
        if not path.startswith("/api/v1/invoice/"):
            return Reply(404, b"<h1>Not Found</h1>", {"Content-Type": "text/html"})
        if not self._authenticated(query):
            return Reply(401)
        try:
            if method == "POST" and path == "/api/v1/invoice/":
                return self._create(body)
            if method == "GET" and path == "/api/v1/invoice/":
                return self._list(query)
            match = DETAIL.match(path)
            if method == "GET" and match:
                with self.server.lock:
                    invoice = self.server.state["invoices"].get(match.group(1))
                return Reply.json(200, invoice) if invoice else Reply(404, b"", {"Content-Type": "text/html"})
        except BadRequest as exc:
            return Reply.json(400, exc.document)
        return Reply(405)

    def _authenticated(self, query: dict[str, str]) -> bool:
        username, key = query.get("username"), query.get("api_key")
        header = self.headers.get("Authorization", "")
        if header.startswith("ApiKey ") and ":" in header:
            username, _, key = header[len("ApiKey ") :].partition(":")
        return bool(username) and self.server.users.get(username or "") == key

    def _list(self, query: dict[str, str]) -> Reply:
        limit = int(query.get("limit") or 20)
        offset = int(query.get("offset") or 0)
        with self.server.lock:
            invoices = [self.server.state["invoices"][k] for k in sorted(self.server.state["invoices"], key=int)]
        if "num_facture" in query:
            if not self.server.filtering:
                raise BadRequest({"error": "The 'num_facture' field does not allow filtering."})
            invoices = [i for i in invoices if i["num_facture"] == query["num_facture"]]
        page = invoices[offset : offset + limit]
        following = {**query, "offset": str(offset + limit), "limit": str(limit)}
        preceding = {**query, "offset": str(max(offset - limit, 0)), "limit": str(limit)}
        meta = {
            "limit": limit,
            "next": f"/api/v1/invoice/?{urlencode(following)}" if offset + limit < len(invoices) else None,
            "offset": offset,
            "previous": f"/api/v1/invoice/?{urlencode(preceding)}" if offset > 0 else None,
            "total_count": len(invoices),
        }
        return Reply.json(200, {"meta": meta, "objects": page})

    def _create(self, body: bytes) -> Reply:
        try:
            data = json.loads(body)
        except ValueError:
            raise BadRequest({"error": "Unable to parse the request body as JSON."}) from None
        if not isinstance(data, dict):
            raise BadRequest({"error": "The request body must be a JSON object."})
        client = str(data.get("client") or "")
        match = CLIENT_URI.match(urlsplit(client).path)
        if not match or match.group(1) not in self.server.clients:
            raise BadRequest({"error": f"Could not find the provided object via resource URI '{client}'."})
        date = str(data.get("date_facture") or "")
        try:
            dt.datetime.fromisoformat(date)
        except ValueError:
            raise BadRequest(
                {"error": f"Datetime provided to 'date_facture' field doesn't appear to be a valid datetime: '{date}'"}
            ) from None
        rows_in = data.get("invoicerows") or []
        if not isinstance(rows_in, list) or not all(isinstance(r, dict) for r in rows_in):
            raise BadRequest({"error": "invoicerows must be a list of invoice rows."})
        errors: dict[str, list[str]] = {}
        for index, row in enumerate(rows_in):
            for field in ("prix_ht", "qtt"):
                if row.get(field) in (None, ""):
                    errors[f"invoicerows.{index}.{field}"] = ["This field is required."]
        if errors:
            raise BadRequest({"invoice": errors})
        values = [(decimal(r["prix_ht"], "prix_ht", 5), decimal(r["qtt"], "qtt", 2)) for r in rows_in]
        tax = decimal(data.get("tax", "19.60"), "tax", 2)
        accompte = decimal(data.get("accompte", "0"), "accompte", 4)
        number = str(data.get("num_facture") or "")
        with self.server.lock:
            state = self.server.state
            if not number:
                errors["num_facture"] = ["This field is required."]
            elif any(i["num_facture"] == number for i in state["invoices"].values()):
                errors["num_facture"] = ["Invoice with this Num facture already exists."]
            if errors:
                raise BadRequest({"invoice": errors})
            ident = str(state["next_id"])
            uri = f"/api/v1/invoice/{ident}/"
            rows = []
            for row, (price, quantity) in zip(rows_in, values, strict=True):
                line = str(state["next_row"])
                state["next_row"] += 1
                rows.append(
                    {
                        "description": str(row.get("description") or ""),
                        "id_facture": uri,
                        "id_facture_ligne": line,
                        "ordre": row.get("ordre"),
                        "prix_ht": price,
                        "qtt": quantity,
                        "resource_uri": f"/api/v1/invoicerows/{line}/",
                    }
                )
            state["invoices"][ident] = {
                "accompte": accompte,
                "client": client,
                "date_created": dt.datetime.now(dt.UTC).replace(tzinfo=None, microsecond=0).isoformat(),
                "date_facture": date,
                "id_facture": ident,
                "invoicerows": rows,
                "num_facture": number,
                "resource_uri": uri,
                "tax": tax,
                "type_doc": str(data.get("type_doc") or "facture"),
            }
            state["next_id"] += 1
            self.server.save()
        headers = {"Content-Type": "text/html; charset=utf-8"}
        if self.server.location:
            headers["Location"] = f"{self.server.url}{uri}"
        return Reply(201, b"", headers)


class DjangoServer(ContractServer):
    def __init__(
        self,
        port: int = 0,
        state_file: str | None = None,
        users: dict[str, str] | None = None,
        clients: set[str] | None = None,
        filtering: bool = True,
        location: bool = True,
    ) -> None:
        super().__init__(DjangoHandler, port, state_file, {"next_id": 1, "next_row": 1, "invoices": {}})
        self.location = location  # False: a 201 without Location, as some tastypie setups answer
        self.users = users if users is not None else {"billing": "KEY"}
        self.clients = clients if clients is not None else {"1"}
        self.filtering = filtering

    def invoices(self) -> list[dict[str, Any]]:
        with self.lock:
            return [json.loads(json.dumps(i)) for i in self.state["invoices"].values()]


def _arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--user", action="append", default=[], help="USERNAME:API_KEY (repeatable)")
    parser.add_argument("--client", action="append", default=[], help="a client id (repeatable)")
    parser.add_argument("--no-filtering", action="store_true", help="refuse filtering on num_facture")


def _server(args: argparse.Namespace) -> DjangoServer:
    users = dict(u.split(":", 1) for u in args.user) or None
    clients = set(args.client) or None
    return DjangoServer(args.port, args.state_file, users, clients, not args.no_filtering)


if __name__ == "__main__":
    main(None, "Seed 001 Django tastypie invoice API", _arguments, _server)
