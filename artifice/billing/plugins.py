"""Run the enabled invoice plugins and turn their items into invoice lines."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

from oslo_config import cfg

from artifice import config
from artifice.exceptions import ArtificeError, PricingError
from artifice.loading import load_class
from artifice.model import PricedLine, Tenant
from artifice.plugins import ALLOWED_TYPES, InvoiceCopy, InvoicePlugin, PluginItem
from artifice.timeutil import Window

_BASE: type[InvoicePlugin] = InvoicePlugin  # type: ignore[type-abstract]


def load_plugins(conf: cfg.ConfigOpts) -> list[InvoicePlugin]:
    plugins = []
    for name in conf.billing.invoice_plugins:
        plugin_class = load_class("artifice.invoice_plugins", name, _BASE, "[billing] invoice_plugins")
        plugins.append(plugin_class(name, config.raw_section(conf, f"invoice_plugin:{name}")))
    return plugins


def plugin_lines(
    plugins: list[InvoicePlugin],
    tenant: Tenant,
    period: Window,
    currency: str,
    items: list[PricedLine],
    decimals: int,
) -> list[PricedLine]:
    """Every plugin's extra items, each plugin seeing only ``items``."""
    cent = Decimal(1).scaleb(-decimals)
    added = []
    for plugin in plugins:
        copy = InvoiceCopy(tenant, period, currency, tuple(items))
        try:
            extra = plugin.get_additional_invoice_items(copy, [], {"tenant_id": tenant.id})
        except ArtificeError:
            raise
        except Exception as exc:
            raise PricingError(f"invoice plugin {plugin.name} failed: {exc.__class__.__name__}: {exc}") from exc
        for item in extra:
            added.append(_line(plugin.name, item, cent))
    return added


def _line(plugin: str, item: PluginItem, cent: Decimal) -> PricedLine:
    if not isinstance(item, PluginItem) or item.item_type not in ALLOWED_TYPES:
        kind = getattr(item, "item_type", type(item).__name__)
        raise PricingError(
            f"invoice plugin {plugin} returned an item of type {kind}; plugins may add only {', '.join(ALLOWED_TYPES)}"
        )
    if not isinstance(item.amount, Decimal) or not item.amount.is_finite():
        raise PricingError(f"invoice plugin {plugin} returned a non-Decimal or infinite amount {item.amount!r}")
    amount = item.amount.quantize(cent, rounding=ROUND_HALF_UP)
    return PricedLine(
        datacenter=item.datacenter,
        service=item.name,
        category="extra",
        unit="item",
        quantity=Decimal(1),
        unit_price=amount,
        amount=amount,
        item_type=item.item_type,
    )
