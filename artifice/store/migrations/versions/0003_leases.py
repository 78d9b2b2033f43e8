"""Leases and fencing tokens on windows, attempts and sticky uncertainty, exact NUMERIC money.

Revision ID: 0003
Revises: 0002

Stop every Artifice process before upgrading: windows in flight lose their owner (no lease), so
the first run after the upgrade resumes them. Windows left committing keep their settle time
(``uncertain_since`` is their last update).
"""

import sqlalchemy as sa
from alembic import op

from artifice.store.types import UTCDateTime

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

# Money and quantities: PostgreSQL's NUMERIC(24,6) rounded a price of 4E-7 to 0.
_MONEY = {
    "billing_windows": ("total",),
    "invoice_lines": ("quantity", "unit_price", "amount"),
    "line_resources": ("quantity",),
}


def upgrade() -> None:
    # Plain ALTER TABLE, not a batch: recreating the table on SQLite would drop its no-overlap triggers.
    op.add_column("billing_windows", sa.Column("owner_proof", sa.String(255), nullable=False, server_default=""))
    op.add_column("billing_windows", sa.Column("lease_token", sa.String(32)))
    op.add_column("billing_windows", sa.Column("lease_expires_at", UTCDateTime()))
    op.add_column("billing_windows", sa.Column("attempts", sa.Integer, nullable=False, server_default="0"))
    op.add_column("billing_windows", sa.Column("uncertain_since", UTCDateTime()))
    op.execute(
        "UPDATE billing_windows SET uncertain_since = updated_at, attempts = 1 "
        "WHERE state IN ('committing', 'needs_reconciliation', 'committed')"
    )
    if op.get_bind().dialect.name == "postgresql":
        for table_name, columns in _MONEY.items():
            for column in columns:
                op.alter_column(table_name, column, type_=sa.Numeric(), existing_type=sa.Numeric(24, 6))


def downgrade() -> None:
    for column in ("uncertain_since", "attempts", "lease_expires_at", "lease_token", "owner_proof"):
        op.drop_column("billing_windows", column)  # SQLite >= 3.35 drops a column in place
