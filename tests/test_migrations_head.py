"""The schema check's revision is the migrations' head, so no migration is added without it."""

from artifice.store import db


def test_the_schema_head_the_check_compares_with_is_alembics_head() -> None:
    assert db.head_revision() == db.SCHEMA_HEAD
