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
    timeout = 30                       # read timeout, seconds
    connect_timeout = (timeout)        # connect timeout, seconds
    ca_file =                          # CA bundle of the ERP's certificate; default: the system's

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
is sent once through the adapters' one HTTP sender (``erp_http.Sender``), never
through xmlrpc.client's transport, whose silent re-send after a dropped
connection could create the invoice twice.

``lookup(reference)`` searches ``account.move`` for a customer invoice with
``ref`` = ``reference`` that is not cancelled.
"""

from __future__ import annotations

import xmlrpc.client
from decimal import Decimal
from typing import Any, ClassVar, Self

from pydantic import model_validator

from artifice.exceptions import ArtificeError, CommitError, PricingError, TransientCommitError
from artifice.invoices import erp_http
from artifice.invoices.base import Invoice, Item
from artifice.invoices.rates import RatedInvoice
from artifice.invoices.settings import Flag, HttpSettings, Places, Plain, Secret, Text

FAULTS = {2: "user or validation error", 3: "access denied", 4: "access error"}


class OdooSettings(HttpSettings):
    adapter: ClassVar[str] = "odoo"
    database: Text
    username: Text
    password: Secret
    rates_file: Plain = ""
    use_products: Flag = False
    prices_from_products: Flag = False
    currency: Plain = ""
    quantity_digits: Places = 2
    price_digits: Places = 2

    @model_validator(mode="after")
    def _priced(self) -> Self:
        if not self.prices_from_products and not self.rates_file:
            raise ValueError("rates_file is required by the odoo adapter unless prices_from_products = true")
        return self


class OdooInvoice(RatedInvoice):
    def __init__(self, tenant: Any, config: dict[str, str]) -> None:
        super().__init__(tenant, config)
        self.settings = settings = OdooSettings.parse(config)
        self.url = settings.url
        self.password = settings.password.get_secret_value()
        self.send = erp_http.Sender.of(settings, {}, [self.password])
        self.use_products = settings.prices_from_products or settings.use_products
        if settings.prices_from_products:
            self.currency = settings.currency.upper()
        else:
            self.use_rates(settings.rates_file)
        self.products: dict[str, tuple[int, Decimal]] = {}
        self.uid: int | None = None

    # -- XML-RPC -------------------------------------------------------------

    def _rpc(self, endpoint: str, what: str, method: str, *args: Any) -> Any:
        url = f"{self.url}/xmlrpc/2/{endpoint}"
        where = f"Odoo {erp_http.safe_url(url)} {what}"
        body = xmlrpc.client.dumps(args, methodname=method, allow_none=True)
        response = self.send("POST", url, ok=(200,), body=body, content_type="text/xml")
        try:
            (result,) = xmlrpc.client.loads(response.content, use_builtin_types=True)[0]
        except xmlrpc.client.Fault as fault:
            lines = [line for line in str(fault.faultString).splitlines() if line.strip()]
            text = self.send.mask(lines[-1].strip() if lines else "")
            if fault.faultCode == 1:
                raise TransientCommitError(f"{where}: server error: {text}") from None
            kind = FAULTS.get(fault.faultCode, f"fault {fault.faultCode}") if isinstance(fault.faultCode, int) else ""
            raise CommitError(f"{where} refused ({kind or fault.faultCode}): {text}") from None
        except Exception as exc:  # noqa: BLE001 - any unreadable answer: what Odoo did is unknown
            raise TransientCommitError(f"{where}: answer is not XML-RPC: {exc.__class__.__name__}") from None
        return result

    def _execute(self, model: str, method: str, args: list[Any], kwargs: dict[str, Any] | None = None) -> Any:
        database, username = self.settings.database, self.settings.username
        if self.uid is None:
            uid = self._rpc("common", "authenticate", "authenticate", database, username, self.password, {})
            if not uid:
                raise CommitError(f"Odoo {erp_http.safe_url(self.url)} refused the login of {username!r}")
            self.uid = int(uid)
        what = f"{model}.{method}"
        return self._rpc(
            "object", what, "execute_kw", database, self.uid, self.password, model, method, args, kwargs or {}
        )

    # -- the Invoice contract ------------------------------------------------

    def cost(self, datacenter: str, name: str) -> Decimal:
        if not self.settings.prices_from_products:
            return super().cost(datacenter, name)
        return self._product(name)[1]

    def _product(self, service: str) -> tuple[int, Decimal]:
        if service not in self.products:
            domain = [["default_code", "=", service]]
            try:
                found = self._execute("product.product", "search_read", [domain], {"fields": ["list_price"]})
            except ArtificeError as exc:
                raise PricingError(f"cannot read the Odoo product of {service!r}: {exc}") from None
            if not isinstance(found, list) or len(found) != 1:
                many = "several products have" if found else "no product has"
                raise PricingError(f"{many} Internal Reference (default_code) {service!r} in Odoo")
            try:
                self.products[service] = (_id(found[0]["id"]), Decimal(repr(float(found[0]["list_price"]))))
            except (KeyError, TypeError, ValueError, ArithmeticError):
                raise PricingError(f"Odoo's product {service!r} is unreadable: {found[0]!r:.200}") from None
        return self.products[service]

    def add_line(self, item: Item) -> None:
        if self.use_products and item[2].item_type == "USAGE":
            self._product(item[1])  # refused now, before anything is sent, if Odoo has no such product
        if self.settings.prices_from_products:
            Invoice.add_line(self, item)  # no rates file to check the unit against
        else:
            super().add_line(item)

    def invoice_lines(self) -> list[list[Any]]:
        """``account.move.line`` create commands: a section per datacenter, a line per service."""
        commands: list[list[Any]] = []
        places = self.settings.quantity_digits, self.settings.price_digits
        for datacenter, items in self.sections.items():
            commands.append([0, 0, {"display_type": "line_section", "name": datacenter}])
            for _, name, value in items:
                quantity, price, note = erp_http.fitted(value, *places)
                line: dict[str, Any] = {
                    "name": f"{name}: {note}" if note else f"{name} ({value.unit})",
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
            return _id(found, "res.partner.search")
        name = getattr(self.tenant, "name", "") or tenant
        return _id(self._execute("res.partner", "create", [{"name": name, "ref": tenant, "is_company": True}]))

    def commit(self) -> None:
        period, reference = self.addressed()
        lines = self.invoice_lines()
        move: dict[str, Any] = {
            "move_type": "out_invoice",
            "partner_id": self._partner(),
            "ref": reference,
            "invoice_date": period.end.date().isoformat(),
            "invoice_line_ids": lines,
        }
        if self.currency:
            currencies = self._execute("res.currency", "search", [[["name", "=", self.currency]]], {"limit": 1})
            if not currencies:
                raise CommitError(f"currency {self.currency} is not active in Odoo {erp_http.safe_url(self.url)}")
            move["currency_id"] = _id(currencies, "res.currency.search")
        self.external_id = str(_id(self._execute("account.move", "create", [move]), "account.move.create"))

    def lookup(self, reference: str) -> str | None:
        """The id of the customer invoice whose ``ref`` is ``reference`` (not cancelled), or None."""
        domain = [["ref", "=", reference], ["move_type", "=", "out_invoice"], ["state", "!=", "cancel"]]
        found = self._execute("account.move", "search", [domain], {"limit": 1, "order": "id"})
        return str(_id(found, "account.move.search")) if found else None


def _id(answer: Any, what: str = "") -> int:
    """The record id an Odoo call answered (an id, or a list whose first item is one).

    Anything else is an answer nobody can read: TransientCommitError, since what Odoo did is unknown.
    """
    value = answer[0] if isinstance(answer, list) and answer else answer
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise TransientCommitError(f"Odoo {what} answered {answer!r:.200}, not a record id")
    return value
