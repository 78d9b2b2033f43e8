"""SQLAlchemy models: billed windows and the invoice lines behind them."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from sqlalchemy import CheckConstraint, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

# The vocabulary lives in artifice.model; re-exported here for the store's own modules.
from artifice.model import (
    ADJUSTMENT,
    CLAIMED,
    COMMITTED,
    COMMITTING,
    ESTIMATE,
    ESTIMATED,
    FAILED,
    INVOICE,
    NEEDS_RECONCILIATION,
    PLUGIN_ITEM_TYPES,
    RATED,
    RESUMABLE,
    STATES,
    USAGE,
)
from artifice.store.types import ExactDecimal, UTCDateTime

__all__ = [
    "ADJUSTMENT", "CLAIMED", "COMMITTED", "COMMITTING", "ESTIMATE", "ESTIMATED", "FAILED", "INVOICE",
    "NEEDS_RECONCILIATION", "PLUGIN_ITEM_TYPES", "RATED", "RESUMABLE", "STATES", "USAGE",
    "Base", "BillingMonth", "BillingWindow", "DataRevision", "InvoiceLine", "InvoiceTag", "LineResource", "TenantMonth",
]  # fmt: skip


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
        Index("ix_billing_windows_period", "period_start", "id"),  # the lists' default order
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
    owner: Mapped[str] = mapped_column(String(255), default="")  # host:pid of the run, for people
    owner_proof: Mapped[str] = mapped_column(String(255), default="")  # boot id, PID namespace, pid, start
    lease_token: Mapped[str | None] = mapped_column(String(32), nullable=True)  # fences the holder's writes
    lease_expires_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), nullable=True)  # database clock
    attempts: Mapped[int] = mapped_column(Integer, default=0)  # send attempts, across runs
    failures: Mapped[int] = mapped_column(Integer, default=0)  # times it ended failed (the daemon backs off)
    uncertain_since: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), nullable=True)
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
    resource_name: Mapped[str] = mapped_column(String(255), default="")  # the telemetry's display name, if any
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


class BillingMonth(Base):
    """A month whose tenants were listed (telemetry and Keystone) for billing."""

    __tablename__ = "billing_months"

    period_start: Mapped[dt.datetime] = mapped_column(UTCDateTime(), primary_key=True)
    period_end: Mapped[dt.datetime] = mapped_column(UTCDateTime(), primary_key=True)
    listed_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    tenants: Mapped[int] = mapped_column(Integer)
    origin: Mapped[str] = mapped_column(String(16), default="bill")  # daemon: a billing pass; bill: by hand


class TenantMonth(Base):
    """A tenant to be billed for a month: due until its invoice is committed."""

    __tablename__ = "tenant_months"
    __table_args__ = (Index("ix_tenant_months_period", "period_start", "period_end"),)

    tenant_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    period_start: Mapped[dt.datetime] = mapped_column(UTCDateTime(), primary_key=True)
    period_end: Mapped[dt.datetime] = mapped_column(UTCDateTime(), primary_key=True)
    tenant_name: Mapped[str] = mapped_column(String(255), default="")
    listed_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())


class DataRevision(Base):
    """One row whose revision SQLite's triggers redraw on every change of the invoice tables (migration 0007)."""

    __tablename__ = "data_revisions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    revision: Mapped[int] = mapped_column(Integer)
