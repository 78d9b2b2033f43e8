"""Plain-text rendering of invoices and windows for the terminal."""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal

from artifice.pipeline import BillResult
from artifice.store.listings import TenantStatus
from artifice.store.models import BillingWindow
from artifice.timeutil import Window


def invoice_text(result: BillResult) -> str:
    title = f"Invoice {result.reference} for tenant {result.tenant.id}"
    if result.tenant.name:
        title += f" ({result.tenant.name})"
    out = [title, f"Period {result.window}  [{result.state}]"]
    if result.note:
        out.append(f"Note: {result.note}")
    currency = result.currency
    for datacenter, lines in result.sections():
        out.append(f"\n  Section {datacenter}")
        out.append(f"    {'service':<28} {'quantity':>14} {'unit':<10} {'unit price':>12} {'amount':>12}")
        for line in lines:
            service = line.service if line.item_type == "USAGE" else f"{line.service} [{line.item_type}]"
            out.append(f"    {service:<28} {line.quantity:>14} {line.unit:<10} {line.unit_price:>12} {line.amount:>12}")
        subtotal = sum((line.amount for line in lines), Decimal(0))
        out.append(f"    {'subtotal':<28} {'':>14} {'':<10} {'':>12} {subtotal:>12} {currency}")
    if not result.lines:
        out.append("\n  (no billable usage)")
    out.append(f"\n  {'TOTAL':<30} {'':>14} {'':<10} {'':>12} {result.total:>12} {currency}")
    out.append(f"  Samples: {result.report.summary()}")
    return "\n".join(out)


def windows_text(rows: Iterable[BillingWindow]) -> str:
    columns = ("id", "tenant", "period", "rev", "state", "total", "currency", "reference / error")
    header = _row(*columns)
    out = [header]
    for row in rows:
        period = Window(row.period_start, row.period_end).label
        total = "" if row.total is None else str(row.total)
        detail = row.external_reference + (" (adjustment)" if row.kind == "adjustment" else "")
        detail += f"  error: {row.error}" if row.error else ""
        out.append(_row(str(row.id), row.tenant_id, period, str(row.revision), row.state, total, row.currency, detail))
    return "\n".join(out) if len(out) > 1 else "no billing windows yet"


def _row(ident: str, tenant: str, period: str, rev: str, state: str, total: str, currency: str, detail: str) -> str:
    return f"{ident:>6} {tenant:<34} {period:<8} {rev:>3} {state:<20} {total:>12} {currency:<8} {detail}"


def status_text(statuses: Iterable[TenantStatus], due: Window) -> str:
    """Per tenant: the newest billed month, how many due months are not billed, the newest error."""
    out = [f"{'tenant':<34} {'last billed':<11} {'lag':>4}  last error   (due: {due.label})"]
    for status in statuses:
        tenant = f"{status.tenant_id} ({status.tenant_name})" if status.tenant_name else status.tenant_id
        label = status.last_billed.label if status.last_billed else "never"
        out.append(f"{tenant:<34} {label:<11} {status.lag:>4}  {status.error}".rstrip())
    return "\n".join(out) if len(out) > 1 else "no billing windows yet"
