"""The worked example every adapter test bills: tenant acme, October 2026, four lines in two datacenters.

| datacenter | service                | quantity         | unit price | amount |
|------------|------------------------|------------------|------------|--------|
| Wellington | m1.small               | 744 hour         | 0.05       | 37.20  |
| Wellington | volume.size            | 14880.5 GiB-hour | 0.0002     |  2.98  |
| Auckland   | m1.medium              | 123.4567 hour    | 0.11       | 13.58  |
| Auckland   | network.outgoing.bytes | 0.42 GB          | 0.09       |  0.04  |
|            |                        |                  | total      | 53.80  |
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

from artifice.billing.pricing import to_decimal
from artifice.invoice import Invoice, LineValue, Tenant
from artifice.timeutil import Window

TENANT = Tenant("acme-id", "Acme Ltd")
PERIOD = Window.month(2026, 10)
REFERENCE = "ART-acme-id-20261001-20261101-r1"
CENT = Decimal("0.01")

RATES = """datacenter,service,unit,price,currency
*,m1.small,hour,0.05,NZD
*,m1.medium,hour,0.10,NZD
Auckland,m1.medium,hour,0.11,NZD
*,volume.size,GiB-hour,0.0002,NZD
*,network.outgoing.bytes,GB,0.09,NZD
"""

USAGE = [
    ("Wellington", "m1.small", "hour", "744"),
    ("Wellington", "volume.size", "GiB-hour", "14880.5"),
    ("Auckland", "m1.medium", "hour", "123.4567"),
    ("Auckland", "network.outgoing.bytes", "GB", "0.42"),
]
AMOUNTS = {
    "m1.small": Decimal("37.20"),
    "volume.size": Decimal("2.98"),
    "m1.medium": Decimal("13.58"),
    "network.outgoing.bytes": Decimal("0.04"),
}
TOTAL = Decimal("53.80")


def write_rates(directory: Path) -> str:
    path = directory / "rates.csv"
    path.write_text(RATES, encoding="utf-8")
    return str(path)


def fill(invoice: Invoice, reference: str = REFERENCE) -> list[tuple[str, str, LineValue]]:
    """Do to ``invoice`` what the pipeline does: set period and reference, price, add sections and lines."""
    invoice.period = PERIOD
    invoice.reference = reference
    priced = []
    for datacenter, service, unit, quantity in USAGE:
        price = to_decimal(invoice.cost(datacenter, service), service)
        qty = Decimal(quantity).quantize(Decimal("0.0001"))
        amount = (qty * price).quantize(CENT, rounding=ROUND_HALF_UP)
        priced.append((datacenter, service, LineValue(qty, unit, price, amount, "NZD")))
    for datacenter in dict.fromkeys(d for d, _, _ in priced):
        invoice.add_section(datacenter)
        for item in priced:
            if item[0] == datacenter:
                invoice.add_line(item)
    return priced


def amount(quantity: str | float, price: str | float) -> Decimal:
    """What an ERP bills for a line: quantity x unit price, to the cent, half up."""
    return (Decimal(str(quantity)) * Decimal(str(price))).quantize(CENT, rounding=ROUND_HALF_UP)
