"""Invoices in Odoo (OpenERP, seed 000's reference ERP) through its external XML-RPC API.

Config (its ``[invoice:object]`` section)::

    url = https://odoo.example.com     # required
    database = production              # required
    username = billing@example.com     # required
    password = secret                  # required (a password or an API key)
    rates_file = /etc/artifice/rates.csv  # required unless prices_from_products = true
    use_products = false               # set each line's product_id: the product.product whose
                                       # default_code (Internal Reference) is the service name
    prices_from_products = false       # cost() = that product's list_price, no rates file (implies use_products)
    currency =                         # with prices_from_products: the invoice currency (default: the company's)
    quantity_digits = 2                # decimals Odoo keeps for quantity ("Product Unit of Measure")
    price_digits = 2                   # decimals Odoo keeps for price_unit ("Product Price")
    timeout = 30                       # seconds, for connecting and for each answer

``commit()`` finds the tenant's partner (``res.partner`` whose ``ref`` is the
Keystone project id, archived ones included) or creates it, named after the
tenant, and creates one draft customer invoice (``account.move``,
``move_type = out_invoice``, ``ref`` = the invoice reference, ``invoice_date``
= the period's end, ``currency_id`` = the rates' currency) with a section line
(``display_type = line_section``) per datacenter and a line per service. The
invoice stays a draft: posting it is the accountant's call.

Quantities and prices go out as decimal strings (Odoo's float fields take
them). A line whose quantity or unit price has more decimals than Odoo keeps
(``0.0002`` per GB-hour with the default 2 price digits) would be rounded by
Odoo into another amount; it is sent as quantity 1 at the line's amount, its
label naming the real quantity and unit price.

Errors: a refused connection and an HTTP 429 raise NotSent (nothing reached
Odoo); a socket error, a timeout, an HTTP 5xx and Odoo's fault code 1 (an
unexpected server error; its transaction was rolled back) raise
TransientCommitError; faults 2 (UserError, ValidationError), 3 (access
denied) and 4 (access error) and a refused login raise CommitError. Each call
is sent once, on a fresh connection: xmlrpc.client's own silent re-send after
a dropped connection could create the invoice twice.

``lookup(reference)`` searches ``account.move`` for a customer invoice with
``ref`` = ``reference`` that is not cancelled.
"""

from __future__ import annotations

import http.client
import socket
import xmlrpc.client
from decimal import Decimal
from typing import Any
from xml.parsers.expat import ExpatError

from artifice.exceptions import ArtificeError, CommitError, ConfigError, NotSent, PricingError, TransientCommitError
from artifice.invoice import Invoice, Item
from artifice.invoices import erp_http
from artifice.invoices.rates import RateTable

FAULTS = {2: "user or validation error", 3: "access denied", 4: "access error"}


class _Transport(xmlrpc.client.Transport):
    """One request per fresh connection, with a timeout, never re-sent."""

    def __init__(self, timeout: float) -> None:
        super().__init__()
        self.timeout = timeout

    def make_connection(self, host: Any) -> http.client.HTTPConnection:
        connection = super().make_connection(host)
        connection.timeout = self.timeout
        return connection

    def request(self, host: Any, handler: str, request_body: Any, verbose: bool = False) -> Any:
        self.close()
        return self.single_request(host, handler, request_body, verbose)


class _SafeTransport(_Transport, xmlrpc.client.SafeTransport):  # type: ignore[misc]  # HTTPS connections
    """The same over HTTPS."""


class OdooInvoice(Invoice):
    def __init__(self, tenant: Any, config: dict[str, str]) -> None:
        super().__init__(tenant, config)
        erp_http.required(config, "odoo", "url", "database", "username", "password")
        self.url = config["url"].strip().rstrip("/")
        self.database, self.username = config["database"].strip(), config["username"].strip()
        self.password = config["password"]
        self.timeout = erp_http.timeouts(config)[1]
        self.prices_from_products = erp_http.flag(config, "prices_from_products")
        self.use_products = self.prices_from_products or erp_http.flag(config, "use_products")
        self.quantity_places = int(erp_http.number(config, "quantity_digits", "2", integer=True))
        self.price_places = int(erp_http.number(config, "price_digits", "2", integer=True))
        self.rates: RateTable | None = None
        if self.prices_from_products:
            self.currency = (config.get("currency") or "").strip().upper()
        else:
            if not (config.get("rates_file") or "").strip():
                raise ConfigError("[invoice:object] rates_file is required by the odoo adapter")
            self.rates = RateTable.load(config["rates_file"])
            self.currency = self.rates.currency
        self.products: dict[str, tuple[int, Decimal]] = {}
        self.uid: int | None = None
        self.external_id: str | None = None

    # -- XML-RPC -------------------------------------------------------------

    def _rpc(self, endpoint: str, what: str, method: str, *args: Any) -> Any:
        url = f"{self.url}/xmlrpc/2/{endpoint}"
        transport = _SafeTransport(self.timeout) if url.startswith("https:") else _Transport(self.timeout)
        proxy = xmlrpc.client.ServerProxy(url, transport=transport, allow_none=True)
        where = f"Odoo {erp_http.safe_url(url)} {what}"
        secrets = (self.password,)
        try:
            return getattr(proxy, method)(*args)
        except xmlrpc.client.Fault as fault:
            lines = [line for line in str(fault.faultString).splitlines() if line.strip()]
            text = erp_http.mask(lines[-1].strip() if lines else "", secrets)
            if fault.faultCode == 1:
                raise TransientCommitError(f"{where}: server error: {text}") from None
            kind = FAULTS.get(fault.faultCode, f"fault {fault.faultCode}") if isinstance(fault.faultCode, int) else ""
            raise CommitError(f"{where} refused ({kind or fault.faultCode}): {text}") from None
        except xmlrpc.client.ProtocolError as exc:
            error = NotSent if exc.errcode == 429 else TransientCommitError if exc.errcode >= 500 else CommitError
            raise error(f"{where}: HTTP {exc.errcode} {exc.errmsg}") from None
        except TimeoutError:
            raise TransientCommitError(f"{where}: timed out after {self.timeout:g} s") from None
        except (OSError, http.client.HTTPException, xmlrpc.client.ResponseError, ExpatError) as exc:
            detail = erp_http.mask(str(exc), secrets)
            never_sent = isinstance(exc, (ConnectionRefusedError, socket.gaierror))
            error = NotSent if never_sent else TransientCommitError
            raise error(f"{where}: connection failed: {exc.__class__.__name__}: {detail}") from None

    def _execute(self, model: str, method: str, args: list[Any], kwargs: dict[str, Any] | None = None) -> Any:
        if self.uid is None:
            uid = self._rpc("common", "authenticate", "authenticate", self.database, self.username, self.password, {})
            if not uid:
                raise CommitError(f"Odoo {erp_http.safe_url(self.url)} refused the login of {self.username!r}")
            self.uid = int(uid)
        what = f"{model}.{method}"
        return self._rpc(
            "object", what, "execute_kw", self.database, self.uid, self.password, model, method, args, kwargs or {}
        )

    # -- the Invoice contract ------------------------------------------------

    def cost(self, datacenter: str, name: str) -> Decimal:
        if self.rates is not None:
            return self.rates.rate(datacenter, name).price
        return self._product(name)[1]

    def _product(self, service: str) -> tuple[int, Decimal]:
        if service not in self.products:
            domain = [["default_code", "=", service]]
            try:
                found = self._execute("product.product", "search_read", [domain], {"fields": ["list_price"]})
            except ArtificeError as exc:
                raise PricingError(f"cannot read the Odoo product of {service!r}: {exc}") from None
            if len(found) != 1:
                many = "several products have" if found else "no product has"
                raise PricingError(f"{many} Internal Reference (default_code) {service!r} in Odoo")
            self.products[service] = (int(found[0]["id"]), Decimal(repr(float(found[0]["list_price"]))))
        return self.products[service]

    def add_line(self, item: Item) -> None:
        if self.rates is not None:
            self.rates.check_unit(item)
        if self.use_products and item[2].item_type == "USAGE":
            self._product(item[1])  # refused now, before anything is sent, if Odoo has no such product
        super().add_line(item)

    def invoice_lines(self) -> list[list[Any]]:
        """``account.move.line`` create commands: a section per datacenter, a line per service."""
        commands: list[list[Any]] = []
        for datacenter, items in self.sections.items():
            commands.append([0, 0, {"display_type": "line_section", "name": datacenter}])
            for _, name, value in items:
                quantity, price = erp_http.exact_line(
                    value.quantity, value.unit_price, value.amount, self.quantity_places, self.price_places
                )
                label = f"{name} ({value.unit})"
                if (quantity, price) != (value.quantity, value.unit_price):
                    label = f"{name}: {value.quantity} {value.unit} at {value.unit_price}"
                line: dict[str, Any] = {
                    "name": label,
                    "quantity": erp_http.plain(quantity),
                    "price_unit": erp_http.plain(price),
                }
                if self.use_products and value.item_type == "USAGE":  # plugin items have no product
                    line["product_id"] = self._product(name)[0]
                commands.append([0, 0, line])
        return commands

    def _partner(self) -> int:
        tenant = str(self.tenant)
        domain = [["ref", "=", tenant], ["active", "in", [True, False]]]
        found = self._execute("res.partner", "search", [domain], {"limit": 1})
        if found:
            return int(found[0])
        name = getattr(self.tenant, "name", "") or tenant
        return int(self._execute("res.partner", "create", [{"name": name, "ref": tenant, "is_company": True}]))

    def commit(self) -> None:
        if self.period is None or not self.reference:
            raise CommitError("the invoice has no period or reference; the pipeline sets both before commit")
        lines = self.invoice_lines()
        move: dict[str, Any] = {
            "move_type": "out_invoice",
            "partner_id": self._partner(),
            "ref": self.reference,
            "invoice_date": self.period.end.date().isoformat(),
            "invoice_line_ids": lines,
        }
        if self.currency:
            currencies = self._execute("res.currency", "search", [[["name", "=", self.currency]]], {"limit": 1})
            if not currencies:
                raise CommitError(f"currency {self.currency} is not active in Odoo {erp_http.safe_url(self.url)}")
            move["currency_id"] = int(currencies[0])
        created = self._execute("account.move", "create", [move])
        self.external_id = str(created[0] if isinstance(created, list) else created)

    def lookup(self, reference: str) -> str | None:
        """The id of the customer invoice whose ``ref`` is ``reference`` (not cancelled), or None."""
        domain = [["ref", "=", reference], ["move_type", "=", "out_invoice"], ["state", "!=", "cancel"]]
        found = self._execute("account.move", "search", [domain], {"limit": 1, "order": "id"})
        return str(found[0]) if found else None
