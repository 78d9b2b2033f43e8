"""Billing windows, invoice lines, and the no-overlap rule.

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

from artifice.store.types import ExactDecimal, UTCDateTime

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

# A tenant's invoices (not adjustments) that are not 'failed' may not overlap:
# [a, b) and [c, d) overlap when a < d and c < b. PostgreSQL states it as an
# exclusion constraint; SQLite has none, so triggers refuse the same rows.
_PG_NO_OVERLAP = """
ALTER TABLE billing_windows ADD CONSTRAINT billing_windows_no_overlap
EXCLUDE USING gist (tenant_id WITH =, tstzrange(period_start, period_end, '[)') WITH &&)
WHERE (state <> 'failed' AND kind = 'invoice')
"""
_SQLITE_GUARD = """
CREATE TRIGGER billing_windows_no_overlap_{event}
BEFORE {event} ON billing_windows
WHEN NEW.state <> 'failed' AND NEW.kind = 'invoice' AND EXISTS (
    SELECT 1 FROM billing_windows AS w
    WHERE w.tenant_id = NEW.tenant_id AND w.id IS NOT NEW.id AND w.state <> 'failed'
      AND w.kind = 'invoice' AND w.period_start < NEW.period_end AND NEW.period_start < w.period_end)
BEGIN
    SELECT RAISE(ABORT, 'billing_windows_no_overlap: tenant already has an overlapping window');
END
"""


def upgrade() -> None:
    op.create_table(
        "billing_windows",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("tenant_id", sa.String(64), nullable=False),
        sa.Column("tenant_name", sa.String(255), nullable=False),
        sa.Column("period_start", UTCDateTime(), nullable=False),
        sa.Column("period_end", UTCDateTime(), nullable=False),
        sa.Column("state", sa.String(24), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("revision", sa.Integer, nullable=False),
        sa.Column("adapter", sa.String(255), nullable=False),
        sa.Column("external_reference", sa.String(128), nullable=False, unique=True),
        sa.Column("external_id", sa.String(255)),
        sa.Column("currency", sa.String(8), nullable=False),
        sa.Column("total", ExactDecimal()),
        sa.Column("run_id", sa.String(64), nullable=False),
        sa.Column("owner", sa.String(255), nullable=False),
        sa.Column("error", sa.Text),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.Column("committed_at", UTCDateTime()),
        sa.CheckConstraint("period_start < period_end", name="ck_window_not_empty"),
        sa.CheckConstraint(
            "state IN ('claimed','rated','committing','committed','failed','needs_reconciliation','estimated')",
            name="ck_window_state",
        ),
        sa.CheckConstraint("kind IN ('invoice','adjustment','estimate')", name="ck_window_kind"),
        sa.UniqueConstraint("tenant_id", "period_start", "period_end", "revision", name="uq_window_revision"),
    )
    op.create_index("ix_billing_windows_tenant", "billing_windows", ["tenant_id", "period_start"])
    op.create_table(
        "invoice_lines",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column(
            "window_id",
            sa.Integer,
            sa.ForeignKey("billing_windows.id", ondelete="CASCADE"),
            nullable=False,
            index=True,
        ),
        sa.Column("datacenter", sa.String(255), nullable=False),
        sa.Column("service", sa.String(255), nullable=False),
        sa.Column("category", sa.String(32), nullable=False),
        sa.Column("item_type", sa.String(16), nullable=False),
        sa.Column("unit", sa.String(32), nullable=False),
        sa.Column("quantity", ExactDecimal(), nullable=False),
        sa.Column("unit_price", ExactDecimal(), nullable=False),
        sa.Column("amount", ExactDecimal(), nullable=False),
    )
    op.create_table(
        "line_resources",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column(
            "line_id", sa.Integer, sa.ForeignKey("invoice_lines.id", ondelete="CASCADE"), nullable=False, index=True
        ),
        sa.Column("resource_id", sa.String(255), nullable=False),
        sa.Column("quantity", ExactDecimal(), nullable=False),
    )
    if op.get_bind().dialect.name == "postgresql":
        op.execute("CREATE EXTENSION IF NOT EXISTS btree_gist")
        op.execute(_PG_NO_OVERLAP)
    else:
        for event in ("INSERT", "UPDATE"):
            op.execute(_SQLITE_GUARD.format(event=event))


def downgrade() -> None:
    op.drop_table("line_resources")
    op.drop_table("invoice_lines")
    op.drop_table("billing_windows")
