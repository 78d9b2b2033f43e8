"""SQLAlchemy models: billed windows and the invoice lines behind them."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from sqlalchemy import CheckConstraint, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from artifice.store.types import ExactDecimal, UTCDateTime

# Window states. A window in any state but FAILED blocks overlapping windows
# of the same tenant (enforced by the database, see the migrations).
CLAIMED = "claimed"  # a run owns it and is collecting and pricing
RATED = "rated"  # lines are priced and recorded; nothing sent yet
COMMITTING = "committing"  # commit() called; the ERP may or may not have it
COMMITTED = "committed"  # the ERP has it
FAILED = "failed"  # nothing reached the ERP; the month can be billed again
NEEDS_RECONCILIATION = "needs_reconciliation"  # unknown, and the adapter cannot look up
ESTIMATED = "estimated"  # a month-to-date estimate: stored, never sent
STATES = (CLAIMED, RATED, COMMITTING, COMMITTED, FAILED, NEEDS_RECONCILIATION, ESTIMATED)
# Kinds: the month's invoice, or a later adjustment of it (re-billing).
INVOICE = "invoice"
ADJUSTMENT = "adjustment"
ESTIMATE = "estimate"  # the running month so far, replaced by the next estimate
# Line item types (seed 002): usage lines, and what invoice plugins may add.
USAGE = "USAGE"
PLUGIN_ITEM_TYPES = ("TAX", "ITEM_ADJ", "EXTERNAL_CHARGE")


class Base(DeclarativeBase):
    pass


class BillingWindow(Base):
    __tablename__ = "billing_windows"
    __table_args__ = (
        CheckConstraint("period_start < period_end", name="ck_window_not_empty"),
        CheckConstraint(
            "state IN ('claimed','rated','committing','committed','failed','needs_reconciliation','estimated')",
            name="ck_window_state",
        ),
        CheckConstraint("kind IN ('invoice','adjustment','estimate')", name="ck_window_kind"),
        UniqueConstraint("tenant_id", "period_start", "period_end", "revision", name="uq_window_revision"),
        Index("ix_billing_windows_tenant", "tenant_id", "period_start"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    tenant_id: Mapped[str] = mapped_column(String(64))
    tenant_name: Mapped[str] = mapped_column(String(255), default="")
    period_start: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    period_end: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    state: Mapped[str] = mapped_column(String(24))
    kind: Mapped[str] = mapped_column(String(16), default=INVOICE)
    revision: Mapped[int] = mapped_column(Integer, default=1)
    adapter: Mapped[str] = mapped_column(String(255))
    external_reference: Mapped[str] = mapped_column(String(128), unique=True)
    external_id: Mapped[str | None] = mapped_column(String(255), nullable=True)
    currency: Mapped[str] = mapped_column(String(8), default="")
    total: Mapped[Decimal | None] = mapped_column(ExactDecimal(), nullable=True)
    run_id: Mapped[str] = mapped_column(String(64))
    owner: Mapped[str] = mapped_column(String(255), default="")  # host:pid of the run
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    committed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), nullable=True)

    lines: Mapped[list[InvoiceLine]] = relationship(
        back_populates="window", cascade="all, delete-orphan", order_by="InvoiceLine.id"
    )
    tags: Mapped[list[InvoiceTag]] = relationship(cascade="all, delete-orphan", order_by="InvoiceTag.name")


class InvoiceLine(Base):
    __tablename__ = "invoice_lines"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    window_id: Mapped[int] = mapped_column(ForeignKey("billing_windows.id", ondelete="CASCADE"), index=True)
    datacenter: Mapped[str] = mapped_column(String(255))
    service: Mapped[str] = mapped_column(String(255))
    category: Mapped[str] = mapped_column(String(32), default="extra")
    item_type: Mapped[str] = mapped_column(String(16), default=USAGE)
    unit: Mapped[str] = mapped_column(String(32))
    quantity: Mapped[Decimal] = mapped_column(ExactDecimal())
    unit_price: Mapped[Decimal] = mapped_column(ExactDecimal())
    amount: Mapped[Decimal] = mapped_column(ExactDecimal())

    window: Mapped[BillingWindow] = relationship(back_populates="lines")
    resources: Mapped[list[LineResource]] = relationship(
        back_populates="line", cascade="all, delete-orphan", order_by="LineResource.id"
    )


class LineResource(Base):
    """The per-resource usage behind an invoice line."""

    __tablename__ = "line_resources"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    line_id: Mapped[int] = mapped_column(ForeignKey("invoice_lines.id", ondelete="CASCADE"), index=True)
    resource_id: Mapped[str] = mapped_column(String(255))
    quantity: Mapped[Decimal] = mapped_column(ExactDecimal())

    line: Mapped[InvoiceLine] = relationship(back_populates="resources")


class InvoiceTag(Base):
    """A name/value tag on an invoice (a billing window), set through the read API."""

    __tablename__ = "invoice_tags"
    __table_args__ = (UniqueConstraint("window_id", "name", name="uq_invoice_tag_name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    window_id: Mapped[int] = mapped_column(ForeignKey("billing_windows.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(255))
    value: Mapped[str] = mapped_column(String(255), default="")
