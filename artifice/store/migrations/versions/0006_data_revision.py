"""A revision number that every committed change of the invoice tables moves, and a sort index.

On SQLite, triggers add one to ``data_revisions.revision`` on every insert, update and
delete of billing windows, lines, line resources and tags: a reader finds in one row,
in its own transaction's snapshot, whether anything it summed before has changed
(``artifice.api.snapshot``). SQLite has one writer at a time, so the single row costs
no concurrency. PostgreSQL needs no triggers: the transaction snapshot says the same.

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

WATCHED = ("billing_windows", "invoice_lines", "line_resources", "invoice_tags")
EVENTS = ("INSERT", "UPDATE", "DELETE")


def upgrade() -> None:
    table = op.create_table(
        "data_revisions",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("revision", sa.Integer, nullable=False),
    )
    op.bulk_insert(table, [{"id": 1, "revision": 0}])
    op.create_index("ix_billing_windows_period", "billing_windows", ["period_start", "id"])
    if op.get_bind().dialect.name == "sqlite":
        for watched in WATCHED:
            for event in EVENTS:
                op.execute(
                    f"CREATE TRIGGER data_revision_{watched}_{event.lower()} AFTER {event} ON {watched} "
                    "BEGIN UPDATE data_revisions SET revision = revision + 1 WHERE id = 1; END"
                )


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for watched in WATCHED:
            for event in EVENTS:
                op.execute(f"DROP TRIGGER IF EXISTS data_revision_{watched}_{event.lower()}")
    op.drop_index("ix_billing_windows_period", "billing_windows")
    op.drop_table("data_revisions")
