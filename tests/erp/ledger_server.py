"""A minimal ERP for the seed-000 style user adapter (``tests.erp.user_adapter``).

``POST /invoices`` with ``{"reference", "customer", "lines": [{"section", "service", "amount"}]}``
answers 201 ``{"id": N}``; a body without a reference or with a line without an amount is
refused with 400 ``{"errors": {field: message}}``. Faults as every contract server (``tests.erp.base``).
"""

from __future__ import annotations

import json
from typing import Any

from tests.erp.base import ContractHandler, ContractServer, Reply


class LedgerHandler(ContractHandler):
    server: LedgerServer

    def route(self, method: str, path: str, query: dict[str, str], body: bytes) -> Reply:
        if (method, path) != ("POST", "/invoices"):
            return Reply.json(404, {"errors": {"path": f"no {method} {path}"}})
        try:
            document: dict[str, Any] = json.loads(body)
        except ValueError:
            return Reply.json(400, {"errors": {"body": "not JSON"}})
        errors = {}
        if not document.get("reference"):
            errors["reference"] = "required"
        for index, line in enumerate(document.get("lines") or []):
            if "amount" not in line:
                errors[f"lines.{index}.amount"] = "required"
        if document.get("customer") in self.server.refused_customers:
            errors["customer"] = "unknown customer"
        if errors:
            return Reply.json(400, {"errors": errors})
        with self.server.lock:
            ident = str(len(self.server.state["invoices"]) + 1)
            self.server.state["invoices"][ident] = document
        return Reply.json(201, {"id": ident})


class LedgerServer(ContractServer):
    def __init__(self, port: int = 0) -> None:
        super().__init__(LedgerHandler, port, None, {"invoices": {}})
        self.refused_customers: set[str] = set()

    def invoices(self) -> list[dict[str, Any]]:
        return list(self.snapshot()["invoices"].values())
