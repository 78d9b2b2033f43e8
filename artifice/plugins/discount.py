"""Discount plugin: a percentage and free allowances, as ITEM_ADJ items.

Config (``[invoice_plugin:discount]``):

- ``percent = 10``: a discount on every usage item, or per tenant
  ``tenants = <project id>:10,<project id>:5`` (which wins for those tenants);
- ``free = m1.small:100,volume.size:500``: that many units of a service free
  per datacenter each month (never more than was used).

Each becomes a negative ITEM_ADJ item in the item's datacenter; the free
allowance is applied first, the percentage to what remains.
"""

from __future__ import annotations

from decimal import Decimal

from artifice.plugins import InvoiceCopy, InvoicePlugin, PluginItem
from artifice.plugins.tax import parse_pairs


class DiscountPlugin(InvoicePlugin):
    def __init__(self, name: str, config: dict[str, str]) -> None:
        super().__init__(name, config)
        where = f"[invoice_plugin:{name}]"
        self.percent = parse_pairs(f"*:{config['percent']}", f"{where} percent")["*"] if config.get("percent") else None
        self.per_tenant = parse_pairs(config.get("tenants", ""), f"{where} tenants")
        self.free = parse_pairs(config.get("free", ""), f"{where} free")

    def get_additional_invoice_items(
        self, invoice: InvoiceCopy, properties: list[object], context: dict[str, str]
    ) -> list[PluginItem]:
        percent = self.per_tenant.get(invoice.tenant.id, self.percent)
        items = []
        for line in invoice.items:
            free_units = min(self.free.get(line.service, Decimal(0)), line.quantity)
            free_amount = free_units * line.unit_price
            if free_units:
                items.append(
                    PluginItem("ITEM_ADJ", line.datacenter, f"{line.service}: {free_units:g} free", -free_amount)
                )
            if percent:
                rest = line.amount - free_amount
                items.append(
                    PluginItem(
                        "ITEM_ADJ", line.datacenter, f"{line.service}: {percent:g}% discount", -rest * percent / 100
                    )
                )
        return [item for item in items if item.amount]
