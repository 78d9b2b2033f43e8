"""An adapter as a third party writes it from seed 000 alone: the five methods, nothing more.

It does not call ``Invoice.__init__``, cannot look invoices up, and prices from its own
``prices`` setting (``service=price,...``). Its ERP is ``tests.erp.ledger_server``. The
contract suite runs it like the adapters shipped with Artifice.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

from artifice.exceptions import PricingError
from artifice.invoice import Invoice
from artifice.invoices import erp_http


class LedgerInvoice(Invoice):
    def __init__(self, tenant: Any, config: dict[str, str]) -> None:
        self.tenant = tenant
        self.url = config["url"].rstrip("/")
        self.prices = {k.strip(): Decimal(v) for k, v in (p.split("=") for p in config["prices"].split(","))}
        self.send = erp_http.Sender((5.0, float(config.get("timeout") or 5)))
        self.lines: list[dict[str, str]] = []

    def add_section(self, name: str) -> None:
        pass

    def add_line(self, item: tuple[str, str, Any]) -> None:
        datacenter, service, value = item
        self.lines.append({"section": datacenter, "service": service, "amount": str(value)})

    def cost(self, datacenter: str, name: str) -> Decimal:
        if name not in self.prices:
            raise PricingError(f"no price for {name}")
        return self.prices[name]

    def commit(self) -> None:
        document = {"reference": self.reference, "customer": str(self.tenant), "lines": self.lines}
        self.external_id = self.send("POST", f"{self.url}/invoices", body=json.dumps(document)).json()["id"]
