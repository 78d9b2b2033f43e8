"""Plain-text rendering of invoices, windows and tenant status for the terminal."""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable, Sequence
from decimal import Decimal
from typing import TYPE_CHECKING

from artifice.timeutil import Window

if TYPE_CHECKING:
    from artifice.billing.pipeline import BillResult
    from artifice.store.listings import TenantStatus
    from artifice.store.models import BillingWindow


def money(value: Decimal | None, decimals: int) -> str:
    """An amount with the currency's decimals (0 -> 0.00); unrounded digits beyond them are kept."""
    if value is None:
        return ""
    cent = Decimal(1).scaleb(-decimals)
    return str(value.quantize(cent) if value == value.quantize(cent) else value)


def named(tenant_id: str, name: str) -> str:
    return f"{tenant_id} ({name})" if name else tenant_id


def result_line(result: BillResult, decimals: int) -> str:
    """One line per billed tenant: what happened, under which reference, for how much."""
    who = f"tenant {result.tenant.label}"
    if result.state == "unchanged":
        return f"{who}: {result.note}"
    return f"{who}: {result.state} {result.reference} total {money(result.total, decimals)} {result.currency}"


def invoice_text(result: BillResult, decimals: int) -> str:
    out = [f"Invoice {result.reference} for tenant {result.tenant.label}"]
    out.append(f"Period {result.window}  [{result.state}]")
    if result.note:
        out.append(f"Note: {result.note}")
    currency = result.currency
    for datacenter, lines in result.sections():
        out.append(f"\n  Section {datacenter}")
        out.append(f"    {'service':<28} {'quantity':>14} {'unit':<10} {'unit price':>12} {'amount':>12}")
        for line in lines:
            service = line.service if line.item_type == "USAGE" else f"{line.service} [{line.item_type}]"
            amount = money(line.amount, decimals)
            out.append(f"    {service:<28} {line.quantity:>14} {line.unit:<10} {line.unit_price:>12} {amount:>12}")
        subtotal = money(sum((line.amount for line in lines), Decimal(0)), decimals)
        out.append(f"    {'subtotal':<28} {'':>14} {'':<10} {'':>12} {subtotal:>12} {currency}")
    if not result.lines:
        out.append("\n  (no billable usage)")
    out.append(f"\n  {'TOTAL':<30} {'':>14} {'':<10} {'':>12} {money(result.total, decimals):>12} {currency}")
    out.append(f"  Samples: {result.report.summary()}")
    return "\n".join(out)


def windows_text(rows: Iterable[BillingWindow], decimals: int) -> str:
    table = []
    for row in rows:
        window = Window(row.period_start, row.period_end)
        period = window.label if window.is_month else f"{window.start:%Y-%m-%d}..{window.end:%Y-%m-%d}"
        detail = row.external_reference + (f" ({row.kind})" if row.kind != "invoice" else "")
        detail += f"  error: {row.error}" if row.error else ""
        table.append((str(row.id), named(row.tenant_id, row.tenant_name), period, str(row.revision), row.state,
                      money(row.total, decimals), row.currency, detail))  # fmt: skip
    if not table:
        return "no billing windows yet"
    headers = ("id", "tenant", "period", "rev", "state", "total", "currency", "reference / error")
    return columns(headers, table, right={"id", "rev", "total"})


def status_text(statuses: Iterable[TenantStatus], due: Window) -> str:
    """Per tenant: the newest billed month, how many due months are not billed, the newest error."""
    table = [
        (named(s.tenant_id, s.tenant_name), s.last_billed.label if s.last_billed else "never", str(s.lag), s.error)
        for s in statuses
    ]
    if not table:
        return "no billing windows yet"
    return columns(("tenant", "last billed", "lag", f"last error   (due: {due.label})"), table, right={"lag"})


def columns(headers: Sequence[str], rows: Sequence[Sequence[str]], right: set[str]) -> str:
    """A plain table: each column as wide on screen as its widest cell, the last one left ragged."""
    rows = [[_printable(cell) for cell in row] for row in rows]
    widths = [max(_width(h), *(_width(r[i]) for r in rows)) for i, h in enumerate(headers)]

    def line(cells: Sequence[str]) -> str:
        parts = []
        for i, cell in enumerate(cells):
            pad = " " * (widths[i] - _width(cell)) if i < len(cells) - 1 else ""
            parts.append(pad + cell if headers[i] in right else cell + pad)
        return " ".join(parts).rstrip()

    return "\n".join([line(headers), *(line(r) for r in rows)])


def _width(text: str) -> int:
    """Columns ``text`` takes on a terminal: wide (CJK) characters take two, combining marks none."""
    return sum(0 if unicodedata.combining(c) else 2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def _printable(text: str) -> str:
    """One line: a name with a newline or a tab in it must not break the table."""
    return "".join(" " if unicodedata.category(c).startswith("C") else c for c in text)
