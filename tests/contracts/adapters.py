"""The adapters the contract suite runs, each with its ERP: one entry per adapter.

An entry is a function ``(directory) -> Erp`` that starts the adapter's ERP (a contract server,
the real tastypie application, a directory) and says how to configure the adapter for the
worked example (``tests.erp.example``, tenant ``acme-id``) and the demo month (tenant ``acme``),
how to make the ERP refuse the next invoice by its own validation, and what the ERP holds.
"""

from __future__ import annotations

import csv
import dataclasses
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

from tests.erp import example
from tests.erp.base import ContractServer
from tests.erp.django_server import DjangoServer
from tests.erp.ledger_server import LedgerServer
from tests.erp.netsuite_server import NetSuiteServer
from tests.erp.odoo_server import OdooServer

KEY = "C0NTRACT-SECRET"
TENANTS = (example.TENANT.id, "acme")  # the worked example's and the demo month's
DEMO_SERVICES = ("m1.small", "m1.medium", "m1.large", "m1.xlarge", "volume.size", "image.size",
                 "network.incoming.bytes", "network.outgoing.bytes")  # fmt: skip


@dataclasses.dataclass
class Erp:
    entry: str  # [main] invoice:object
    config: dict[str, str]  # [invoice:object], for the worked example and the demo month
    held: Callable[[], dict[str, Decimal]]  # reference -> total, one entry per invoice (a repeat counts twice)
    refuse_next: Callable[[], None]  # the ERP's own validation refuses what comes next
    server: ContractServer | None = None  # fault injection; None: the adapter uses no network
    creates: str = ""  # the key of the request that creates the invoice, as faults match it
    stop: Callable[[], None] = lambda: None


def _counted(pairs: list[tuple[str, Decimal]]) -> dict[str, Decimal]:
    """``reference -> total``; a reference held twice appears as ``reference#2``."""
    held: dict[str, Decimal] = {}
    for reference, total in pairs:
        key, n = reference, 1
        while key in held:
            n += 1
            key = f"{reference}#{n}"
        held[key] = total
    return held


def csv_files(tmp: Path) -> Erp:
    directory = tmp / "invoices"

    def held() -> dict[str, Decimal]:
        pairs = []
        for path in sorted(directory.glob("*.csv")):
            with open(path, newline="", encoding="utf-8") as handle:
                rows = list(csv.DictReader(handle))
            if rows and rows[0].get("invoice"):  # not another program's file
                pairs.append((rows[0]["invoice"], Decimal(rows[-1]["amount"])))
        return _counted(pairs)

    def refuse_next() -> None:  # an invoice file in the way is never replaced
        directory.mkdir(exist_ok=True)
        for tenant in TENANTS:
            (directory / f"{tenant}-2026-10.csv").write_text("someone else's file\n")
            (directory / f"{tenant}-2026-10.csv").chmod(0o444)

    return Erp("csv", {"csv_directory": str(directory), "rates_file": example.write_rates(tmp)}, held, refuse_next)


def django_tastypie(tmp: Path) -> Erp:
    server = DjangoServer(users={"billing": KEY}, clients=set(TENANTS)).start()
    config = {"url": server.url, "username": "billing", "api_key": KEY, "rates_file": example.write_rates(tmp)}

    def held() -> dict[str, Decimal]:
        invoices = server.invoices()
        return _counted(
            [(i["num_facture"], sum((example.amount(r["qtt"], r["prix_ht"]) for r in i["invoicerows"]), Decimal(0)))
             for i in invoices]
        )  # fmt: skip

    def refuse_next() -> None:  # tastypie: 400, the client's resource URI resolves to nothing
        config["client_uri_template"] = "/api/v1/client/nobody/"

    return Erp("django", config, held, refuse_next, server, "POST /api/v1/invoice/", server.stop)


def netsuite(tmp: Path) -> Erp:
    server = NetSuiteServer(customers={7}, products=set(range(1, 20)), token="").start()
    (tmp / "customers.csv").write_text("tenant,customer_id\n" + "".join(f"{t},7\n" for t in TENANTS))
    services = dict.fromkeys((*DEMO_SERVICES, "TAX", "ITEM_ADJ", "EXTERNAL_CHARGE"))
    (tmp / "products.csv").write_text("service,product_id\n" + "".join(f"{s},{n}\n" for n, s in enumerate(services, 1)))
    config = {
        "url": server.url,
        "rates_file": example.write_rates(tmp),
        "customer_map": str(tmp / "customers.csv"),
        "products_file": str(tmp / "products.csv"),
        "lookup": "true",
    }

    def held() -> dict[str, Decimal]:
        return _counted(
            [(str(i.get("external_reference")),
              sum((example.amount(x["quantity"], x["price_per_product"]) for x in i["items"]), Decimal(0)))
             for i in server.invoices().values()]
        )  # fmt: skip

    def refuse_next() -> None:  # 400 with the field's error: the customer is not in NetSuite
        server.customers.clear()

    return Erp("netsuite", config, held, refuse_next, server, "POST /invoice/", server.stop)


def odoo(tmp: Path) -> Erp:
    server = OdooServer(users={"billing": KEY}).start()
    config = {"url": server.url, "database": "odoo", "username": "billing", "password": KEY,
              "rates_file": example.write_rates(tmp)}  # fmt: skip

    def held() -> dict[str, Decimal]:
        return _counted(
            [(str(m["ref"]), Decimal(m["amount_untaxed"])) for m in server.records("account.move").values()]
        )

    def refuse_next() -> None:  # a UserError: the period is locked
        server.lock_date = "2027-12-31"

    return Erp("odoo", config, held, refuse_next, server, "account.move.create", server.stop)


def user_adapter(tmp: Path) -> Erp:
    server = LedgerServer().start()
    prices = "m1.small=0.05,m1.medium=0.11,m1.large=0.20,m1.xlarge=0.40,volume.size=0.0002,image.size=0.0001,"
    prices += "network.incoming.bytes=0,network.outgoing.bytes=0.09"
    config = {"url": server.url, "prices": prices}

    def held() -> dict[str, Decimal]:
        return _counted(
            [(i["reference"], sum((Decimal(x["amount"]) for x in i["lines"]), Decimal(0))) for i in server.invoices()]
        )

    def refuse_next() -> None:
        server.refused_customers.update(TENANTS)

    return Erp("tests.erp.user_adapter:LedgerInvoice", config, held, refuse_next, server, "POST /invoices", server.stop)


#: Every adapter the contract suite runs. A new adapter gets the whole suite by adding its entry.
ADAPTERS: dict[str, Callable[[Path], Erp]] = {
    "csv": csv_files,
    "django": django_tastypie,
    "netsuite": netsuite,
    "odoo": odoo,
    "seed000-user-adapter": user_adapter,
}
