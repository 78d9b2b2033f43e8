"""A rates file: the price per unit of each service in each datacenter.

CSV with a header ``datacenter,service,unit,price,currency``. A datacenter of
``*`` applies to every datacenter without a rate of its own.
"""

from __future__ import annotations

import csv
import dataclasses
from decimal import Decimal, InvalidOperation

from artifice.exceptions import ConfigError, PricingError
from artifice.invoices.base import Invoice, Item, LineValue

COLUMNS = ("datacenter", "service", "unit", "price", "currency")


def read_rows(path: str, what: str = "") -> list[dict[str, str]]:
    """The rows of an adapter's CSV settings file (rates, customers, products) by header; ConfigError if unreadable."""
    try:
        with open(path, newline="", encoding="utf-8") as handle:
            return list(csv.DictReader(handle))
    except OSError as exc:
        raise ConfigError(f"{what}{path}: {exc.strerror or exc}") from exc
    except (csv.Error, UnicodeDecodeError) as exc:
        raise ConfigError(f"{what}{path}: not a CSV file: {exc}") from exc


@dataclasses.dataclass(frozen=True)
class Rate:
    unit: str
    price: Decimal
    currency: str


class RateTable:
    def __init__(self, rates: dict[tuple[str, str], Rate], origin: str) -> None:
        self.rates = rates
        self.origin = origin

    @classmethod
    def load(cls, path: str) -> RateTable:
        rows = read_rows(path, "rates file ")
        rates: dict[tuple[str, str], Rate] = {}
        for number, row in enumerate(rows, start=2):
            missing = [c for c in COLUMNS if not (row.get(c) or "").strip()]
            if missing:
                raise ConfigError(f"rates file {path} line {number}: missing {', '.join(missing)}")
            key = (row["datacenter"].strip(), row["service"].strip())
            if key in rates:
                raise ConfigError(f"rates file {path} line {number}: second rate for {key[0]}/{key[1]}")
            try:
                price = Decimal(row["price"].strip())
            except InvalidOperation:
                raise ConfigError(f"rates file {path} line {number}: price {row['price']!r} is not a number") from None
            if not price.is_finite() or price < 0:
                raise ConfigError(f"rates file {path} line {number}: price must be a number >= 0")
            rates[key] = Rate(row["unit"].strip(), price, row["currency"].strip().upper())
        currencies = {r.currency for r in rates.values()}
        if len(currencies) > 1:
            raise ConfigError(f"rates file {path}: one currency per file, found {', '.join(sorted(currencies))}")
        return cls(rates, path)

    @property
    def currency(self) -> str:
        return next(iter(self.rates.values())).currency if self.rates else ""

    def rate(self, datacenter: str, service: str) -> Rate:
        found = self.rates.get((datacenter, service)) or self.rates.get(("*", service))
        if found is None:
            raise PricingError(f"no rate for service {service!r} in datacenter {datacenter!r} in {self.origin}")
        return found

    def check_unit(self, item: Item) -> None:
        """Refuse a usage line (or a re-bill's usage adjustment) measured in another unit than its rate.

        Items added by invoice plugins (TAX, a discount's ITEM_ADJ, ...) are counted in ``item``s
        and have no rate.
        """
        datacenter, name, value = item
        if isinstance(value, LineValue) and value.item_type in ("USAGE", "ITEM_ADJ") and value.unit != "item":
            expected = self.rate(datacenter, name).unit
            if value.unit != expected:
                raise PricingError(f"{datacenter}/{name} is measured in {value.unit} but its rate is per {expected}")


class RatedInvoice(Invoice):
    """An adapter priced from a rates file: ``cost`` reads it, ``add_line`` refuses a line in another
    unit than its rate, and the invoice's currency is the file's."""

    rates: RateTable

    def use_rates(self, path: str) -> None:
        self.rates = RateTable.load(path)
        self.currency = self.rates.currency

    def cost(self, datacenter: str, name: str) -> Decimal:
        return self.rates.rate(datacenter, name).price

    def add_line(self, item: Item) -> None:
        self.rates.check_unit(item)
        super().add_line(item)
