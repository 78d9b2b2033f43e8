"""A resource's display name beside its id in the per-resource detail of a line.

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("line_resources", sa.Column("resource_name", sa.String(255), nullable=False, server_default=""))


def downgrade() -> None:
    op.drop_column("line_resources", "resource_name")
