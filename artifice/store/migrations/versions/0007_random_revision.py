"""SQLite's data revision drawn at random on every change, no longer counted up.

Counted up, the revision went back with the data when an operator restored a backup
into a live database, and the next writes reused numbers a running read API had
already remembered answers under (``artifice.api.snapshot``). A random 64-bit value
names one state of the data: a restored backup comes back with the value its own
state had, and any later write draws a new one.

Revision ID: 0007
Revises: 0006
"""

from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

WATCHED = ("billing_windows", "invoice_lines", "line_resources", "invoice_tags")
EVENTS = ("INSERT", "UPDATE", "DELETE")


def _triggers(revised: str) -> None:
    for watched in WATCHED:
        for event in EVENTS:
            name = f"data_revision_{watched}_{event.lower()}"
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
            op.execute(
                f"CREATE TRIGGER {name} AFTER {event} ON {watched} "
                f"BEGIN UPDATE data_revisions SET revision = {revised} WHERE id = 1; END"
            )


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        _triggers("random()")


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        _triggers("revision + 1")
