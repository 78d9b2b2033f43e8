"""The billing database refuses double billing by itself, on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import subprocess
import time
from decimal import Decimal
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.exc import OperationalError as SAOperationalError

from artifice.exceptions import LostWindow, SchemaOutdated, StoreError, WindowConflict
from artifice.model import PricedLine, Tenant
from artifice.store import db, models, ownership
from artifice.store.windows import WindowStore
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


def store_of(engine: sa.Engine, lease: dt.timedelta = HOUR) -> WindowStore:
    return WindowStore(engine, lease=lease, settle=dt.timedelta(0))


LINE = PricedLine(
    "DC1", "m1.small", "compute", "hour", Decimal("744.0000"), Decimal("0.05"), Decimal("37.20"),
    (("vm-1", Decimal("744.0000")),),
)  # fmt: skip


def test_claim_record_commit_and_refuse_second_claim(engine: sa.Engine):
    store = store_of(engine)
    tenant = Tenant("t1", "Tenant One")
    claimed = store.claim(tenant, OCTOBER, models.INVOICE, "csv", "run-a")
    claimed = store.record_lines(claimed, [LINE], "NZD")
    claimed = store.begin_attempt(claimed)
    store.committed(claimed, "INV-1")
    with pytest.raises(WindowConflict, match="already billed"):
        store.claim(tenant, OCTOBER, models.INVOICE, "csv", "run-b")
    (row,) = store.windows("t1")
    assert (row.state, row.total, row.external_id, row.revision, row.attempts) == (
        "committed", Decimal("37.20"), "INV-1", 1, 1)  # fmt: skip
    assert row.lines[0].quantity == Decimal("744.0000") and row.lines[0].resources[0].resource_id == "vm-1"
    assert row.lease_token is None  # a finished window holds no lease


def test_failed_window_is_billed_again_under_the_same_reference(engine: sa.Engine):
    store = store_of(engine)
    first = store.record_lines(store.claim(Tenant("t1"), OCTOBER, models.INVOICE, "csv", "run-a"), [LINE], "NZD")
    store.failed(store.not_sent(store.begin_attempt(first), None), "ERP said no")
    second = store.claim(Tenant("t1"), OCTOBER, models.INVOICE, "csv", "run-b")
    assert (second.id, second.revision, second.state, second.attempts) == (first.id, 1, "claimed", 1)
    assert second.reference.endswith("-r1") and store.lines(second.id) == []  # re-rated from scratch


def test_an_uncertain_window_cannot_be_marked_failed(engine: sa.Engine):
    store = store_of(engine)
    claimed = store.begin_attempt(store.record_lines(store.claim(Tenant("t1"), OCTOBER, "invoice", "csv", "r"), [], ""))
    with pytest.raises(StoreError, match="may be in the ERP"):
        store.failed(claimed, "a later refusal")
    (row,) = store.windows("t1")
    assert row.state == models.COMMITTING


def test_live_claim_blocks_but_a_dead_runs_claim_is_taken_over(engine: sa.Engine):
    store = store_of(engine)
    first = store.claim(Tenant("t1"), OCTOBER, models.INVOICE, "csv", "run-a")
    with pytest.raises(WindowConflict, match="run run-a is billing"):
        store.claim(Tenant("t1"), OCTOBER, models.INVOICE, "csv", "run-b")
    dead = _dead_pid()
    proof = ownership.proof().split()
    with engine.begin() as connection:  # the holder was a process of this host and namespace that ended
        gone = {"p": f"{proof[0]} {proof[1]} {dead} 1"}
        connection.execute(sa.text("UPDATE billing_windows SET owner_proof = :p"), gone)
    taken = store.claim(Tenant("t1"), OCTOBER, models.INVOICE, "csv", "run-c")
    assert (taken.id, taken.state, taken.revision, taken.resumed) == (first.id, "claimed", 1, True)
    with pytest.raises(LostWindow, match="taken over by run run-c"):
        store.record_lines(first, [LINE], "NZD")  # run-a, had it survived, may write nothing more
    assert store.lines(first.id) == []


def test_a_holder_elsewhere_is_taken_over_only_once_its_lease_expires(engine: sa.Engine):
    store = store_of(engine, lease=dt.timedelta(seconds=1))
    store.claim(Tenant("t1"), OCTOBER, models.INVOICE, "csv", "run-a")
    with engine.begin() as connection:  # another host: nothing here can prove it gone
        connection.execute(sa.text("UPDATE billing_windows SET owner_proof = 'other-boot pid:[1] 7 99'"))
    with pytest.raises(WindowConflict, match="its lease runs until"):
        store.claim(Tenant("t1"), OCTOBER, models.INVOICE, "csv", "run-b")
    time.sleep(1.2)
    assert store.claim(Tenant("t1"), OCTOBER, models.INVOICE, "csv", "run-b").resumed


def test_renewing_keeps_the_lease_and_a_lost_lease_cannot_be_renewed(engine: sa.Engine):
    store = store_of(engine, lease=dt.timedelta(seconds=1))
    claimed = store.claim(Tenant("t1"), OCTOBER, models.INVOICE, "csv", "run-a")
    with engine.begin() as connection:
        connection.execute(sa.text("UPDATE billing_windows SET owner_proof = ''"))  # provable by nothing
    for _ in range(3):
        time.sleep(0.4)
        assert store.renew(claimed.id, claimed.token)
    with pytest.raises(WindowConflict):
        store.claim(Tenant("t1"), OCTOBER, models.INVOICE, "csv", "run-b")
    time.sleep(1.2)
    store.claim(Tenant("t1"), OCTOBER, models.INVOICE, "csv", "run-b")
    assert not store.renew(claimed.id, claimed.token)


def _dead_pid() -> int:
    child = subprocess.Popen(["true"])
    child.wait()
    return child.pid


def test_money_round_trips_exactly(engine: sa.Engine):
    store = store_of(engine)
    claimed = store.claim(Tenant("t1"), OCTOBER, models.INVOICE, "csv", "run-a")
    tiny = Decimal("0.0000004")
    line = PricedLine("DC1", "s", "extra", "GB", Decimal("123456789.1234"), tiny, Decimal("123.46"))
    store.record_lines(claimed, [line], "EUR")
    (row,) = store.windows("t1")
    assert row.lines[0].unit_price == tiny and row.lines[0].quantity == Decimal("123456789.1234")
    assert str(row.lines[0].unit_price.normalize()) == "4E-7"


def test_outdated_schema_is_refused_with_instructions(tmp_path):
    engine = db.make_engine(f"sqlite:///{tmp_path / 'empty.db'}")
    with pytest.raises(SchemaOutdated, match="artifice-manage db upgrade"):
        db.check_schema(engine)
    db.upgrade(engine)
    db.check_schema(engine)


def test_backup_holds_the_newest_rows_a_file_copy_would_miss(tmp_path: Path) -> None:
    import shutil
    import sqlite3

    from tests.conftest import cli, demo_conf_text, write_conf

    conf = write_conf(tmp_path / "artifice.conf", demo_conf_text(tmp_path))
    assert cli("manage", "--config-file", str(conf), "db", "upgrade").returncode == 0
    live = sqlite3.connect(tmp_path / "artifice.db")  # holds the WAL open: nothing is checkpointed
    live.execute("PRAGMA journal_mode=WAL")
    assert cli("--config-file", str(conf), "bill", "--all", "--month", "2026-10").returncode == 0
    shutil.copy(tmp_path / "artifice.db", tmp_path / "copied.db")
    copied = sqlite3.connect(tmp_path / "copied.db").execute("SELECT count(*) FROM billing_windows").fetchone()[0]
    result = cli("manage", "--config-file", str(conf), "db", "backup", str(tmp_path / "backup.db"))
    assert result.returncode == 0, result.stderr
    backed_up = sqlite3.connect(tmp_path / "backup.db").execute("SELECT count(*) FROM billing_windows").fetchone()[0]
    live.close()
    assert (copied, backed_up) == (0, 3)  # the copy misses what is still in the WAL; the backup has all three
    again = cli("manage", "--config-file", str(conf), "db", "backup", str(tmp_path / "backup.db"))
    assert again.returncode != 0 and "exists" in again.stderr  # never overwritten


def test_postgresql_backup_is_a_pg_dump_archive(tmp_path: Path, postgres_url: str) -> None:
    import subprocess

    from artifice.store.backup import backup

    db.upgrade(db.make_engine(postgres_url))
    said = backup(db.make_engine(postgres_url), str(tmp_path / "artifice.dump"))
    assert "pg_dump" in said
    listing = subprocess.run(["pg_restore", "--list", str(tmp_path / "artifice.dump")], capture_output=True, text=True)
    assert listing.returncode == 0 and "billing_windows" in listing.stdout


def test_backing_up_a_database_that_does_not_exist_is_an_error_and_creates_nothing(tmp_path: Path) -> None:
    from artifice.store.backup import backup

    missing = tmp_path / "missing.db"
    with pytest.raises(StoreError, match="no database at"):
        backup(db.make_engine(f"sqlite:///{missing}"), str(tmp_path / "backup.db"))
    assert not missing.exists() and not (tmp_path / "backup.db").exists()


def test_postgresql_backup_keeps_the_urls_own_options(tmp_path: Path, postgres_url: str) -> None:
    from sqlalchemy.engine import make_url

    from artifice.store.backup import backup

    url = make_url(postgres_url)
    db.upgrade(db.make_engine(postgres_url))
    # host and port as libpq query options (as for a Unix socket directory), not in the authority
    options = url.set(host=None, port=None, query={"host": url.host or "", "port": str(url.port or 5432)})
    said = backup(db.make_engine(options.render_as_string(hide_password=False)), str(tmp_path / "a.dump"))
    assert "pg_dump" in said and (tmp_path / "a.dump").stat().st_size > 0
