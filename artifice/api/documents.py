"""The JSON shapes of seed 004: invoices and invoice line items, from Artifice's windows.

Money stays Decimal up to the wire (``artifice.exactjson``). Artifice has one
figure per line (what the tenant pays), so each ``...Cost`` equals its
``...Price``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from artifice.store import models

CATEGORIES = ("compute", "memory", "storage", "network", "license", "extra")
CENT_PLACES = 2
CENT = Decimal(1).scaleb(-CENT_PLACES)
ZERO = Decimal(0)


def stamp(moment: dt.datetime | None) -> str | None:
    """Seed 004's timestamp form, ``2020-05-01T04:00:00+0000``."""
    return None if moment is None else moment.strftime("%Y-%m-%dT%H:%M:%S+0000")


def figures(lines: Iterable[Any]) -> dict[str, Decimal]:
    """Price per category, tax and total of some lines."""
    return figures_of((line.item_type == "TAX", line.category, line.amount) for line in lines)


def figures_of(sums: Iterable[tuple[bool, str, Decimal | None]]) -> dict[str, Decimal]:
    """Price per category, tax and total from (is tax, category, amount) rows."""
    figures = dict.fromkeys((*CATEGORIES, "tax"), ZERO)
    for is_tax, category, amount in sums:
        key = "tax" if is_tax else category if category in CATEGORIES else "extra"
        figures[key] += amount or ZERO
    figures["total"] = sum(figures.values(), ZERO)
    return figures


def priced_fields(prefix: str, sums: dict[str, Decimal] | None) -> dict[str, Decimal | None]:
    """``computePrice``/``computeCost`` ... with ``prefix`` (estimated, actual or none)."""
    fields: dict[str, Decimal | None] = {}
    for key in (*CATEGORIES, "tax", "total"):
        name = key if not prefix else prefix + key.capitalize()
        value = None if sums is None else sums[key]
        fields[f"{name}Price"] = value
        fields[f"{name}Cost"] = value
    return fields


FAILED_FOR_TENANTS = "billing this month failed; the cloud's billing team has the details"
LineItemPage = tuple[list[tuple[Any, Any]], dict[str, int]]  # (resource, line) rows, and their paging meta


def invoice(
    window: Any, lines: list[Any], tags: list[Any], admin: bool, line_items: LineItemPage | None = None
) -> dict[str, Any]:
    """The invoice document of a window's row, its lines and tags; a failed window's error only for admins.

    Rows are ``queries.WindowRow``, ``LineRow`` and ``TagRow`` (or the ORM objects: the same attributes).
    """
    estimate = window.kind == models.ESTIMATE
    sums = figures(lines)
    name = window.tenant_name or window.tenant_id
    document: dict[str, Any] = {
        "id": window.id,
        "account": {"id": window.tenant_id, "name": name},
        "refType": "Tenant",
        "refId": window.tenant_id,
        "refName": name,
        "refCategory": window.kind,
        "interval": "month",
        "period": f"{window.period_start:%Y%m}",
        "estimate": estimate,
        "active": window.state != models.FAILED,
        "state": window.state,
        "revision": window.revision,
        "reference": window.external_reference,
        "externalId": window.external_id,
        "error": window.error if admin or not window.error else FAILED_FOR_TENANTS,
        "currency": window.currency,
        "datacenters": sorted({line.datacenter for line in lines}),
        "startDate": stamp(window.period_start),
        "endDate": stamp(window.period_end),
        "costType": "estimate" if estimate else "actual",
        **priced_fields("", sums),
        **priced_fields("estimated", sums if estimate else None),
        **priced_fields("actual", None if estimate else sums),
        "tags": [{"id": t.id, "name": t.name, "value": t.value} for t in tags],
        "dateCreated": stamp(window.created_at),
        "lastUpdated": stamp(window.updated_at),
        "lineItems": [line_item(r, line, window) for r, line in line_items[0]] if line_items else [],
    }
    if line_items:
        document["lineItemsMeta"] = line_items[1]
    return document


def line_item(resource: Any, line: Any, window: Any) -> dict[str, Any]:
    """A line item's document from a line's resource, the line and its window (rows or ORM objects)."""
    cost = resource.quantity * line.unit_price
    is_resource = bool(resource.resource_id)
    price = cost.quantize(CENT, ROUND_HALF_UP) if is_resource else line.amount
    return {
        "id": resource.id,
        "invoiceId": window.id,
        "account": {"id": window.tenant_id, "name": window.tenant_name or window.tenant_id},
        "refType": "Resource" if is_resource else "Tenant",
        "refId": resource.resource_id or window.tenant_id,
        "refName": resource.resource_name or resource.resource_id or line.service,
        "refCategory": window.kind,
        "startDate": stamp(window.period_start),
        "endDate": stamp(window.period_end),
        "itemId": resource.resource_id or None,
        "itemType": line.item_type,
        "itemName": resource.resource_name or resource.resource_id or line.service,
        "itemDescription": f"{line.service} in {line.datacenter}",
        "productCode": line.service,
        "usageType": line.service,
        "usageCategory": line.category,
        "datacenter": line.datacenter,
        "itemUsage": resource.quantity,
        "rateUnit": line.unit,
        "itemRate": line.unit_price,
        "itemCost": cost if is_resource else line.amount,
        "itemPrice": price,
        "itemTax": line.amount if line.item_type == "TAX" else ZERO,
        "currency": window.currency,
        "dateCreated": stamp(window.created_at),
        "lastUpdated": stamp(window.updated_at),
    }
