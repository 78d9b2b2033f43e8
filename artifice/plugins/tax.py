"""Simple tax plugin: a rate per datacenter on the usage items.

Config (``[invoice_plugin:tax]``): ``rates = Wellington:0.15,Auckland:0.15``
(a fraction per datacenter; ``*`` for the others), ``name = GST``. One TAX
item per datacenter: the rate times the sum of that section's usage amounts,
rounded half-up to the cent. As in seed 002 a plugin sees only Artifice's
items, so tax is computed before any discount another plugin adds.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from artifice.exceptions import ConfigError
from artifice.plugins import InvoiceCopy, InvoicePlugin, PluginItem


def parse_pairs(text: str, what: str) -> dict[str, Decimal]:
    """``key:number,key:number`` -> {key: Decimal}."""
    pairs: dict[str, Decimal] = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        key, sep, value = part.rpartition(":")
        try:
            if not sep or not key:
                raise InvalidOperation
            pairs[key.strip()] = Decimal(value.strip())
        except InvalidOperation:
            raise ConfigError(f"{what}: expected key:number pairs, got {part!r}") from None
    return pairs


class TaxPlugin(InvoicePlugin):
    def __init__(self, name: str, config: dict[str, str]) -> None:
        super().__init__(name, config)
        self.rates = parse_pairs(config.get("rates", ""), f"[invoice_plugin:{name}] rates")
        if not self.rates:
            raise ConfigError(f"[invoice_plugin:{name}] rates is required, e.g. rates = *:0.15")
        self.label = config.get("name", "Tax")

    def get_additional_invoice_items(
        self, invoice: InvoiceCopy, properties: list[object], context: dict[str, str]
    ) -> list[PluginItem]:
        subtotals: dict[str, Decimal] = {}
        for item in invoice.items:
            subtotals[item.datacenter] = subtotals.get(item.datacenter, Decimal(0)) + item.amount
        items = []
        for datacenter, subtotal in sorted(subtotals.items()):
            rate = self.rates.get(datacenter, self.rates.get("*"))
            if rate:
                items.append(
                    PluginItem("TAX", datacenter, f"{self.label} {(rate * 100).normalize():f}%", subtotal * rate)
                )
        return items
