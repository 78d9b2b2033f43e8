"""Invoices for a Django tastypie invoice API (seed 001).

Config (its ``[invoice:object]`` section)::

    url = https://erp.example.com                   # required: the API's root
    username = billing@example.com                  # required: tastypie ApiKey user
    api_key = 0123abcd                              # required (sent as ``Authorization: ApiKey user:key``)
    rates_file = /etc/artifice/rates.csv            # required: see artifice.invoices.rates
    client_uri_template = /api/v1/client/{tenant}/  # the client; {tenant}: project id, {tenant_name}: its name
    tax_rate = 0                                    # the invoice's ``tax`` field, a percentage
    quantity_decimals = 2                           # decimals the ERP stores for ``qtt``
    price_decimals = 5                              # decimals the ERP stores for ``prix_ht``
    timeout = 30                                    # read timeout, seconds
    connect_timeout = (timeout)                     # connect timeout, seconds
    ca_file =                                       # CA bundle of the ERP's certificate; default: the system's

``commit()`` POSTs ``{url}/api/v1/invoice/`` with ``num_facture`` set to the
invoice reference (unique in the seed's schema) and one ``invoicerows`` entry
per line, in order (``ordre`` 1, 2, ...), described ``"<datacenter> <service>
(<unit>)"``. The schema has no sections, so the datacenter is in each row's text.
``tax`` is always sent: the seed's default is 19.60 %, which would otherwise
apply silently. The ERP's id is the last path segment of the ``Location`` answer.

Money goes out as decimal strings. A row whose quantity or unit price has more
decimals than the ERP stores (``qtt`` "6.00", ``prix_ht`` "100.00000" in the
seed) would be rounded by it into a different amount; it is sent as quantity 1
at the line's amount, its text naming the real quantity and unit price.

``lookup(reference)`` GETs ``{url}/api/v1/invoice/?num_facture=<reference>``
and pages through ``meta``/``objects`` matching ``num_facture`` exactly (so it
stays right if the resource ignores the filter; a resource that refuses
filtering on ``num_facture`` answers 400, raised as a CommitError).
"""

from __future__ import annotations

import json
from decimal import ROUND_HALF_UP, Decimal
from typing import Annotated, Any, ClassVar
from urllib.parse import urlsplit

from pydantic import Field

from artifice.exceptions import ArtificeError, CommitError, ConfigError, TransientCommitError
from artifice.invoices import erp_http
from artifice.invoices.base import LineValue
from artifice.invoices.rates import RatedInvoice
from artifice.invoices.settings import Amount, HttpSettings, Places, RatedSettings, Secret, Text

INVOICES = "/api/v1/invoice/"


class DjangoSettings(HttpSettings, RatedSettings):
    adapter: ClassVar[str] = "django"
    username: Text
    api_key: Secret
    client_uri_template: Text = "/api/v1/client/{tenant}/"
    tax_rate: Annotated[Amount, Field(max_digits=5, decimal_places=2)] = Decimal(0)  # the seed's decimal(5,2)
    quantity_decimals: Places = 2
    price_decimals: Places = 5


class DjangoInvoice(RatedInvoice):
    def __init__(self, tenant: Any, config: dict[str, str]) -> None:
        super().__init__(tenant, config)
        self.settings = settings = DjangoSettings.parse(config)
        self.url = settings.url
        # tastypie's ApiKeyAuthentication also takes the key as query parameters, as the seed shows;
        # the header keeps it out of every logged request line (urllib3 logs the URL at DEBUG).
        api_key = settings.api_key.get_secret_value()
        self.send = erp_http.Sender.of(settings, {"Authorization": f"ApiKey {settings.username}:{api_key}"}, [api_key])
        template = settings.client_uri_template
        try:
            self.client_uri = template.format(tenant=tenant, tenant_name=getattr(tenant, "name", ""))
        except (KeyError, IndexError, ValueError) as exc:
            raise ConfigError(f"[invoice:object] client_uri_template {template!r}: {exc!r}") from None
        self.use_rates(settings.rates_file)

    def document(self) -> dict[str, Any]:
        """The invoice as the API's JSON document."""
        period, reference = self.addressed()
        rows: list[dict[str, Any]] = []
        for datacenter, items in self.sections.items():
            for _, name, value in items:
                rows.append(self._row(len(rows) + 1, datacenter, name, value))
        return {
            "client": self.client_uri,
            "date_facture": period.end.replace(tzinfo=None).isoformat(),
            "num_facture": reference,
            "tax": erp_http.plain(self.settings.tax_rate),
            "invoicerows": rows,
        }

    def _row(self, order: int, datacenter: str, name: str, value: LineValue) -> dict[str, Any]:
        qtt, price, note = erp_http.fitted(value, self.settings.quantity_decimals, self.settings.price_decimals)
        text = f"{datacenter} {name}: {note}" if note else f"{datacenter} {name} ({value.unit})"
        return {"description": text, "prix_ht": erp_http.plain(price), "qtt": erp_http.plain(qtt), "ordre": order}

    def commit(self) -> None:
        url = self.url + INVOICES
        response = self.send("POST", url, body=json.dumps(self.document()))
        location = response.headers.get("Location", "")
        segments = [s for s in urlsplit(location).path.split("/") if s]
        if location and segments:
            self.external_id = segments[-1]
            return
        # Saved, but the answer does not say under which id: ask by reference. Whatever that
        # lookup meets, the invoice was accepted: it is an unknown outcome, never a refusal.
        where = f"POST {erp_http.safe_url(url)}: HTTP {response.status_code} without Location"
        try:
            self.external_id = self.lookup(self.reference or "")
        except ArtificeError as exc:
            raise TransientCommitError(f"{where}, and looking it up failed: {exc}") from None
        if self.external_id is None:
            raise TransientCommitError(where)

    def lookup(self, reference: str) -> str | None:
        """The ERP id (``id_facture``) of the invoice whose ``num_facture`` is ``reference``, or None.

        When this adapter holds the invoice's lines (a retry, a resumed run), the invoice found must hold
        them all: tastypie saves an invoice before its rows, outside one transaction, so a failure between
        the two leaves a part of it; that is a CommitError for an operator, never "committed".
        """
        url = self.url + INVOICES
        offset, pages = 0, 0
        while True:
            response = self.send("GET", url, ok=(200,), params={"num_facture": reference, "offset": str(offset)})
            try:
                page = response.json()
                objects, meta = list(page["objects"]), dict(page.get("meta") or {})
                for invoice in objects:
                    if isinstance(invoice, dict) and invoice.get("num_facture") == reference:
                        self._check_complete(invoice)
                        return _invoice_id(invoice)
                if not meta.get("next") or not objects:
                    return None
                pages += 1
                total = int(meta.get("total_count") or 0)
                if int(meta.get("offset") or 0) != offset or pages * len(objects) > max(total, len(objects)):
                    raise TransientCommitError(f"GET {erp_http.safe_url(url)}: the API does not page as tastypie does")
                offset += len(objects)
            except (ValueError, KeyError, TypeError, AttributeError):
                raise TransientCommitError(f"GET {erp_http.safe_url(url)}: answer is not a tastypie list") from None

    def _check_complete(self, found: dict[str, Any]) -> None:
        if not self.sections:
            return
        expected = self.document()["invoicerows"]
        rows = found.get("invoicerows") or []
        held = sum((_amount(r["qtt"], r["prix_ht"]) for r in rows), Decimal(0))
        wanted = sum((_amount(r["qtt"], r["prix_ht"]) for r in expected), Decimal(0))
        if len(rows) != len(expected) or held != wanted:
            raise CommitError(
                f"the ERP holds {found.get('num_facture')} as invoice {_invoice_id(found)} with {len(rows)} of "
                f"{len(expected)} rows ({held} of {wanted}): it was saved in part; complete or delete it there"
            )


def _amount(quantity: Any, price: Any) -> Decimal:
    return (Decimal(str(quantity)) * Decimal(str(price))).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def _invoice_id(invoice: dict[str, Any]) -> str | None:
    """The id ``Location`` would name: the last segment of ``resource_uri``, else ``id_facture``."""
    segments = [s for s in str(invoice.get("resource_uri") or "").split("/") if s]
    if segments:
        return segments[-1]
    return str(invoice["id_facture"]) if invoice.get("id_facture") not in (None, "") else None
