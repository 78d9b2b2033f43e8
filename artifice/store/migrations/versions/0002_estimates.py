"""Month-to-date estimates: one per tenant, replaced by the next, never sent to an ERP.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

from artifice.store.types import ExactDecimal, UTCDateTime

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "estimates",
        sa.Column("tenant_id", sa.String(64), primary_key=True),
        sa.Column("tenant_name", sa.String(255), nullable=False),
        sa.Column("period_start", UTCDateTime(), nullable=False),
        sa.Column("period_end", UTCDateTime(), nullable=False),
        sa.Column("currency", sa.String(8), nullable=False),
        sa.Column("total", ExactDecimal(), nullable=False),
        sa.Column("lines", sa.Text, nullable=False),
        sa.Column("computed_at", UTCDateTime(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("estimates")
