"""The billing database refuses double billing by itself, on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import socket
import subprocess
from decimal import Decimal

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.exc import OperationalError as SAOperationalError

from artifice.exceptions import SchemaOutdated, WindowConflict
from artifice.invoice import Tenant
from artifice.store import db, models
from artifice.store.windows import PricedLine, WindowStore
from artifice.timeutil import UTC, Window

OCTOBER = Window.month(2026, 10)
HOUR = dt.timedelta(hours=1)


def _raw_insert(engine: sa.Engine, tenant: str, start: dt.datetime, end: dt.datetime, state: str, ref: str) -> None:
    """Insert with plain SQL, bypassing WindowStore: only the database can refuse."""
    now = dt.datetime.now(UTC)
    table = models.BillingWindow.__table__
    with engine.begin() as connection:
        connection.execute(
            table.insert().values(
                tenant_id=tenant,
                tenant_name="",
                period_start=start,
                period_end=end,
                state=state,
                revision=int(ref.rsplit("-", 1)[1]),  # distinct, so only the overlap rule can refuse
                adapter="csv",
                external_reference=ref,
                currency="",
                run_id="x",
                kind="invoice",
                owner="",
                created_at=now,
                updated_at=now,
            )
        )


@pytest.mark.parametrize(
    ("start", "end", "overlaps"),
    [
        (OCTOBER.start, OCTOBER.end, True),  # the same month
        (OCTOBER.start + 10 * 24 * HOUR, OCTOBER.end + 24 * HOUR, True),  # straddles the end
        (OCTOBER.start - HOUR, OCTOBER.start + HOUR, True),  # straddles the start
        (OCTOBER.end, OCTOBER.end + 24 * HOUR, False),  # half-open: touching is fine
        (OCTOBER.start - 24 * HOUR, OCTOBER.start, False),
    ],
)
def test_database_refuses_overlapping_windows(engine: sa.Engine, start, end, overlaps):
    _raw_insert(engine, "t1", OCTOBER.start, OCTOBER.end, models.COMMITTED, "ref-1")
    if overlaps:
        with pytest.raises((IntegrityError, SAOperationalError), match="no_overlap"):
            _raw_insert(engine, "t1", start, end, models.CLAIMED, "ref-2")
    else:
        _raw_insert(engine, "t1", start, end, models.CLAIMED, "ref-2")
    _raw_insert(engine, "t2", start, end, models.CLAIMED, "ref-3")  # other tenants are independent


def test_failed_windows_do_not_block_and_cannot_be_revived_into_an_overlap(engine: sa.Engine):
    _raw_insert(engine, "t1", OCTOBER.start, OCTOBER.end, models.FAILED, "ref-1")
    _raw_insert(engine, "t1", OCTOBER.start, OCTOBER.end, models.COMMITTED, "ref-2")
    with pytest.raises((IntegrityError, SAOperationalError), match="no_overlap"), engine.begin() as connection:
        connection.execute(sa.text("UPDATE billing_windows SET state = 'rated' WHERE external_reference = 'ref-1'"))


def test_claim_record_commit_and_refuse_second_claim(engine: sa.Engine):
    store = WindowStore(engine)
    tenant = Tenant("t1", "Tenant One")
    claimed = store.claim(tenant, OCTOBER, "csv", "run-a", dt.timedelta(hours=1))
    line = PricedLine(
        "DC1",
        "m1.small",
        "compute",
        "hour",
        Decimal("744.0000"),
        Decimal("0.05"),
        Decimal("37.20"),
        (("vm-1", Decimal("744.0000")),),
    )
    store.record_lines(claimed.id, [line], "NZD", Decimal("37.20"))
    store.mark_committing(claimed.id)
    store.mark_committed(claimed.id, "INV-1")
    with pytest.raises(WindowConflict, match="already billed"):
        store.claim(tenant, OCTOBER, "csv", "run-b", dt.timedelta(hours=1))
    (row,) = store.windows("t1")
    assert (row.state, row.total, row.external_id, row.revision) == ("committed", Decimal("37.20"), "INV-1", 1)
    assert row.lines[0].quantity == Decimal("744.0000") and row.lines[0].resources[0].resource_id == "vm-1"


def test_failed_window_is_billed_again_as_next_revision(engine: sa.Engine):
    store = WindowStore(engine)
    first = store.claim(Tenant("t1"), OCTOBER, "csv", "run-a", dt.timedelta(hours=1))
    store.mark_failed(first.id, "ERP said no")
    second = store.claim(Tenant("t1"), OCTOBER, "csv", "run-b", dt.timedelta(hours=1))
    assert second.revision == 2 and second.external_reference.endswith("-r2")


def test_live_claim_blocks_but_a_dead_runs_claim_is_taken_over(engine: sa.Engine):
    store = WindowStore(engine)
    first = store.claim(Tenant("t1"), OCTOBER, "csv", "run-a", dt.timedelta(hours=1))
    with pytest.raises(WindowConflict, match="run run-a is billing"):
        store.claim(Tenant("t1"), OCTOBER, "csv", "run-b", dt.timedelta(hours=1))
    with engine.begin() as connection:
        connection.execute(
            sa.text("UPDATE billing_windows SET owner = :owner"), {"owner": f"{socket.gethostname()}:{_dead_pid()}"}
        )
    taken = store.claim(Tenant("t1"), OCTOBER, "csv", "run-c", dt.timedelta(hours=1))
    assert (taken.id, taken.run_id, taken.state, taken.revision) == (first.id, "run-c", "claimed", 1)


def test_silent_owner_on_another_host_is_taken_over_after_the_timeout(engine: sa.Engine):
    store = WindowStore(engine)
    store.claim(Tenant("t1"), OCTOBER, "csv", "run-a", dt.timedelta(hours=1))
    with engine.begin() as connection:
        connection.execute(sa.text("UPDATE billing_windows SET owner = 'elsewhere:1'"))
    with pytest.raises(WindowConflict):
        store.claim(Tenant("t1"), OCTOBER, "csv", "run-b", dt.timedelta(hours=1))
    assert store.claim(Tenant("t1"), OCTOBER, "csv", "run-b", dt.timedelta(seconds=-1)).run_id == "run-b"


def _dead_pid() -> int:
    child = subprocess.Popen(["true"])
    child.wait()
    return child.pid


def test_money_round_trips_exactly(engine: sa.Engine):
    store = WindowStore(engine)
    claimed = store.claim(Tenant("t1"), OCTOBER, "csv", "run-a", dt.timedelta(hours=1))
    tiny = Decimal("0.000001")
    line = PricedLine("DC1", "s", "extra", "GB", Decimal("123456789.1234"), tiny, Decimal("123.46"))
    store.record_lines(claimed.id, [line], "EUR", Decimal("123.46"))
    (row,) = store.windows("t1")
    assert row.lines[0].unit_price == tiny and row.lines[0].quantity == Decimal("123456789.1234")


def test_outdated_schema_is_refused_with_instructions(tmp_path):
    engine = db.make_engine(f"sqlite:///{tmp_path / 'empty.db'}")
    with pytest.raises(SchemaOutdated, match="artifice-manage db upgrade"):
        db.check_schema(engine)
    db.upgrade(engine)
    db.check_schema(engine)
