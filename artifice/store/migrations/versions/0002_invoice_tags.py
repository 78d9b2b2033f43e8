"""Name/value tags on invoices, set through the read API.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "invoice_tags",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("window_id", sa.Integer, sa.ForeignKey("billing_windows.id", ondelete="CASCADE"), nullable=False),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("value", sa.String(255), nullable=False),
        sa.UniqueConstraint("window_id", "name", name="uq_invoice_tag_name"),
    )
    op.create_index("ix_invoice_tags_window_id", "invoice_tags", ["window_id"])


def downgrade() -> None:
    op.drop_table("invoice_tags")
