"""Billing: pricing, re-billing adjustments, and the fenced run that commits an invoice exactly once."""

from artifice.billing.pricing import invoice_total, price_lines, quantity, to_decimal

__all__ = ["invoice_total", "price_lines", "quantity", "to_decimal"]
