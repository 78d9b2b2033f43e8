"""Invoice plugins (seed 002, Kill Bill's InvoicePluginApi).

Each enabled plugin is called once per invoice with a copy of the items
Artifice computed (and only those: never another plugin's items) and may
return extra items of type TAX, ITEM_ADJ or EXTERNAL_CHARGE. The union of
every plugin's items goes on the invoice through the same ``add_line`` path.
Plugins are enabled by name in ``[billing] invoice_plugins`` (entry points of
``artifice.invoice_plugins`` or ``module:Class``); each reads its settings
from its own section ``[invoice_plugin:<name>]``.
"""

from __future__ import annotations

import abc
import dataclasses
from decimal import Decimal

from artifice.model import PricedLine, Tenant
from artifice.timeutil import Window

ALLOWED_TYPES = ("TAX", "ITEM_ADJ", "EXTERNAL_CHARGE")


@dataclasses.dataclass(frozen=True)
class InvoiceCopy:
    """What a plugin sees: the invoice as Artifice computed it."""

    tenant: Tenant
    period: Window
    currency: str
    items: tuple[PricedLine, ...]


@dataclasses.dataclass(frozen=True)
class PluginItem:
    """An item a plugin adds: its type, section, description and amount."""

    item_type: str
    datacenter: str
    name: str
    amount: Decimal


class InvoicePlugin(abc.ABC):
    def __init__(self, name: str, config: dict[str, str]) -> None:
        self.name = name
        self.config = config

    @abc.abstractmethod
    def get_additional_invoice_items(
        self, invoice: InvoiceCopy, properties: list[object], context: dict[str, str]
    ) -> list[PluginItem]:
        """Extra items for ``invoice`` (seed 002's getAdditionalInvoiceItems)."""
