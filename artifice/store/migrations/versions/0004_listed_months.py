"""The tenants each billed month listed, and failures counted per window (for the daemon's backoff).

Revision ID: 0004
Revises: 0003

``billing_months`` says which months had their tenants listed (from telemetry and Keystone) by a
billing pass (origin ``daemon``) or ``artifice bill`` (``bill``); ``tenant_months`` which tenants
each listed: the tenant-months that are due until their invoice is committed. Existing invoice
windows are backfilled, as the daemon's (it goes on from the oldest of them).
"""

import sqlalchemy as sa
from alembic import op

from artifice.store.types import UTCDateTime

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "billing_months",
        sa.Column("period_start", UTCDateTime(), primary_key=True),
        sa.Column("period_end", UTCDateTime(), primary_key=True),
        sa.Column("listed_at", UTCDateTime(), nullable=False),
        sa.Column("tenants", sa.Integer, nullable=False),
        sa.Column("origin", sa.String(16), nullable=False, server_default="bill"),  # daemon | bill
    )
    op.create_table(
        "tenant_months",
        sa.Column("tenant_id", sa.String(64), primary_key=True),
        sa.Column("period_start", UTCDateTime(), primary_key=True),
        sa.Column("period_end", UTCDateTime(), primary_key=True),
        sa.Column("tenant_name", sa.String(255), nullable=False, server_default=""),
        sa.Column("listed_at", UTCDateTime(), nullable=False),
    )
    op.create_index("ix_tenant_months_period", "tenant_months", ["period_start", "period_end"])
    op.add_column("billing_windows", sa.Column("failures", sa.Integer, nullable=False, server_default="0"))
    op.execute(
        "INSERT INTO tenant_months (tenant_id, period_start, period_end, tenant_name, listed_at) "
        "SELECT tenant_id, period_start, period_end, MAX(tenant_name), MIN(created_at) FROM billing_windows "
        "WHERE kind = 'invoice' GROUP BY tenant_id, period_start, period_end"
    )
    op.execute(
        "INSERT INTO billing_months (period_start, period_end, listed_at, tenants, origin) "
        "SELECT period_start, period_end, MIN(listed_at), COUNT(*), 'daemon' FROM tenant_months "
        "GROUP BY period_start, period_end"
    )
    op.execute("UPDATE billing_windows SET failures = 1 WHERE state = 'failed'")


def downgrade() -> None:
    op.drop_column("billing_windows", "failures")
    op.drop_table("tenant_months")
    op.drop_table("billing_months")
