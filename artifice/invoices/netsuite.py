"""Invoices for the NetSuite invoice-creation API (seed 003).

Config (its ``[invoice:object]`` section)::

    url = https://example.netsuite.com         # required: POSTs go to {url}/invoice/
    rates_file = /etc/artifice/rates.csv       # required: see artifice.invoices.rates
    customer_map = /etc/artifice/customers.csv # required: CSV "tenant,customer_id" (Keystone id -> NetSuite id)
    products_file = /etc/artifice/products.csv # required: CSV "service,product_id"; items of
                                               # invoice plugins use the row named by their
                                               # type: TAX, ITEM_ADJ, EXTERNAL_CHARGE
    regions = Wellington:NZ,Auckland:NZ        # datacenter -> region code; default: the datacenter's name
    payment_terms_days = 30                    # payment_due_date = period end + this many days
    api_token =                                # if set, sent as "Authorization: Bearer <token>"
    lookup = false                             # see below
    timeout = 30                               # read timeout, seconds
    connect_timeout = (timeout)                # connect timeout, seconds
    ca_file =                                  # CA bundle of the ERP's certificate; default: the system's

Each line becomes one ``items`` entry: the service's ``product_id``, its
``quantity`` and ``price_per_product``, ``region_and_currency``
``"<region>:<currency>"`` (the rates file's currency), ``term_start_date`` and
``term_end_date`` the billed period and ``payment_due_date`` its end plus the
payment terms, all UTC in the seed's form ``2015-06-02T00:00:00.000000+0000``.
The seed's ``quantity`` and ``price_per_product`` are JSON numbers: they are
written with the exact digits of their Decimals, never through a float. The
seed refuses a quantity below 1, so a line with less usage than one unit (0.42
GB of traffic) is sent as quantity 1 at the line's amount.

NetSuite invoices are immutable (the seed's PATCH is "if for some reason"):
this adapter only ever creates invoices. A correction is a new invoice (a
credit or an adjustment) under a new reference, never a PATCH of the old one.

The seed has no way to find an invoice by our reference. With ``lookup =
true`` (for an ERP extended to support it) the POST carries the reference as
``external_reference`` and ``lookup()`` GETs
``{url}/invoice/?external_reference=<reference>``, expecting ``{"invoices":
[{"invoice_id": N, "external_reference": ...}]}`` (or a bare list). A 404 is a
refusal (CommitError), never "none": it is what an API without that route
answers, and taking it for "none" would send the invoice again. Only an
invoice whose ``external_reference`` is exactly ours matches, so an API that
ignores the filter and lists every invoice is still read right.
With the default ``lookup = false`` the body is exactly the seed's and
``lookup()`` raises CannotLookUp: an interrupted commit then needs a person to
reconcile it.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any, ClassVar

from artifice.exceptions import CannotLookUp, ConfigError, PricingError, TransientCommitError
from artifice.invoices import erp_http
from artifice.invoices.base import Item, LineValue
from artifice.invoices.rates import RatedInvoice, read_rows
from artifice.invoices.settings import Days, Flag, HttpSettings, Plain, RatedSettings, Secret, Text

DATE_FORMAT = "%Y-%m-%dT%H:%M:%S.%f%z"


class NetSuiteSettings(HttpSettings, RatedSettings):
    adapter: ClassVar[str] = "netsuite"
    customer_map: Text
    products_file: Text
    regions: Plain = ""
    payment_terms_days: Days = 30
    api_token: Secret | None = None
    lookup: Flag = False


def read_mapping(path: str, key: str, value: str) -> dict[str, int]:
    """A two-column CSV file with header ``key,value``; values are NetSuite ids (integers)."""
    mapping: dict[str, int] = {}
    for number, row in enumerate(read_rows(path), start=2):
        name, ident = (row.get(key) or "").strip(), (row.get(value) or "").strip()
        if not name or not ident.isdigit():
            raise ConfigError(f"{path} line {number}: expected {key},{value} with a numeric {value}")
        mapping[name] = int(ident)
    return mapping


def parse_regions(text: str) -> dict[str, str]:
    regions = {}
    for pair in filter(None, (p.strip() for p in text.split(","))):
        datacenter, _, region = pair.partition(":")
        if not datacenter.strip() or not region.strip():
            raise ConfigError(f"[invoice:object] regions: expected datacenter:REGION, got {pair!r}")
        regions[datacenter.strip()] = region.strip()
    return regions


class NetSuiteInvoice(RatedInvoice):
    def __init__(self, tenant: Any, config: dict[str, str]) -> None:
        super().__init__(tenant, config)
        settings = NetSuiteSettings.parse(config)
        self.url = settings.url
        self.use_rates(settings.rates_file)
        customers = read_mapping(settings.customer_map, "tenant", "customer_id")
        if str(tenant) not in customers:
            raise ConfigError(f"tenant {tenant} has no NetSuite customer in {settings.customer_map}")
        self.customer_id = customers[str(tenant)]
        self.products_file = settings.products_file
        self.products = read_mapping(settings.products_file, "service", "product_id")
        self.regions = parse_regions(settings.regions)
        self.terms = dt.timedelta(days=settings.payment_terms_days)
        self.lookup_enabled = settings.lookup
        token = settings.api_token.get_secret_value() if settings.api_token else ""
        self.send = erp_http.Sender.of(settings, {"Authorization": f"Bearer {token}"} if token else {}, [token])

    def cost(self, datacenter: str, name: str) -> Decimal:
        self._product(name)  # fail while pricing, not at commit, when a service has no product
        return super().cost(datacenter, name)

    def _product(self, service: str, value: object = None) -> int:
        """The product of a service; a plugin item's (TAX, ITEM_ADJ, ...) is its type's row."""
        if isinstance(value, LineValue) and value.item_type != "USAGE":
            service = value.item_type
        if service not in self.products:
            raise PricingError(f"service {service!r} has no NetSuite product in {self.products_file}")
        return self.products[service]

    def add_line(self, item: Item) -> None:
        self._product(item[1], item[2])
        super().add_line(item)

    def document(self) -> dict[str, Any]:
        """The invoice as the API's JSON document (Decimals become exact JSON numbers)."""
        period, reference = self.addressed()
        dates = {
            "payment_due_date": (period.end + self.terms).strftime(DATE_FORMAT),
            "term_start_date": period.start.strftime(DATE_FORMAT),
            "term_end_date": period.end.strftime(DATE_FORMAT),
        }
        items = []
        for datacenter, lines in self.sections.items():
            region = self.regions.get(datacenter, datacenter)
            for _, name, value in lines:
                quantity, price = value.quantity, value.unit_price
                if quantity < 1:  # the seed refuses quantities below 1
                    quantity, price = Decimal(1), value.amount
                items.append(
                    {
                        "product_id": self._product(name, value),
                        "quantity": quantity,
                        "region_and_currency": f"{region}:{self.currency}",
                        "price_per_product": price,
                        **dates,
                    }
                )
        document: dict[str, Any] = {"customer_id": self.customer_id, "items": items}
        if self.lookup_enabled:
            document["external_reference"] = reference
        return document

    def commit(self) -> None:
        url = f"{self.url}/invoice/"
        # The seed's money fields are JSON numbers: erp_http.dumps writes each Decimal's exact digits.
        response = self.send("POST", url, body=erp_http.dumps(self.document()))
        try:
            invoice_id = response.json()["invoice_id"]
        except (ValueError, KeyError, TypeError):
            invoice_id = None
        if invoice_id in (None, ""):
            # It answered 2xx, so it probably saved the invoice, but under which id?
            raise TransientCommitError(f"POST {erp_http.safe_url(url)}: HTTP {response.status_code} without invoice_id")
        self.external_id = str(invoice_id)

    @property
    def can_look_up(self) -> bool:
        return self.lookup_enabled

    def lookup(self, reference: str) -> str | None:
        """The NetSuite ``invoice_id`` of the invoice with ``external_reference`` = ``reference``, or None."""
        if not self.lookup_enabled:
            raise CannotLookUp("netsuite cannot look invoices up by reference unless [invoice:object] lookup = true")
        url = f"{self.url}/invoice/"
        response = self.send("GET", url, ok=(200,), params={"external_reference": reference})
        try:
            body = response.json()
            invoices = body["invoices"] if isinstance(body, dict) else body
            # Only our exact reference: an ERP that ignores the filter lists every invoice.
            found = [str(i["invoice_id"]) for i in invoices if i.get("external_reference") == reference]
        except (ValueError, KeyError, TypeError, AttributeError):
            raise TransientCommitError(f"GET {erp_http.safe_url(url)}: answer is not a list of invoices") from None
        return found[0] if found else None
