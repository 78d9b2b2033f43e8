"""The Invoice contract, held against every adapter of ``tests.contracts.adapters.ADAPTERS``.

What an operator relies on whatever their ERP: the worked example is billed to the cent; a
refusal is a CommitError and leaves nothing behind; an unknown outcome (5xx, timeout, a saved
invoice whose answer was lost) is a TransientCommitError, never re-sent by the adapter itself;
an adapter that can look invoices up finds exactly its reference; and a billing run killed at any
step leaves the ERP with the month once (or, for an adapter that cannot look up, at most once and
a window an operator is told to reconcile).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from artifice.exceptions import CannotLookUp, CommitError, NotSent, TransientCommitError
from artifice.invoices.base import Invoice
from artifice.loading import load_class
from artifice.store import db
from artifice.timeutil import Window
from tests.conftest import cli, demo_conf_text, write_conf
from tests.contracts.adapters import ADAPTERS, KEY, Erp
from tests.erp import example

OTHER_MONTH = "ART-acme-id-20260901-20261001-r1"
BILL_OCTOBER = ("bill", "--tenant", "acme", "--month", "2026-10")


@pytest.fixture(params=sorted(ADAPTERS))
def erp(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Erp]:
    started = ADAPTERS[request.param](tmp_path)
    yield started
    started.stop()


def adapter(erp: Erp, **overrides: str) -> Invoice:
    """The adapter as the pipeline makes it: created, then given its period and reference."""
    cls = load_class("artifice.invoices", erp.entry, Invoice, "[main] invoice:object")
    invoice = cls(example.TENANT, {**erp.config, **overrides})
    invoice.period, invoice.reference = example.PERIOD, example.REFERENCE
    return invoice


def committed(
    erp: Erp, reference: str = example.REFERENCE, period: Window = example.PERIOD, **overrides: str
) -> Invoice:
    invoice = adapter(erp, **overrides)
    example.fill(invoice, reference)
    invoice.period = period
    invoice.commit()
    return invoice


def networked(erp: Erp) -> None:
    if erp.server is None:
        pytest.skip(f"{erp.entry} writes local files: no network to fail")


def test_the_worked_example_is_held_once_to_the_cent(erp: Erp) -> None:
    invoice = committed(erp)
    assert erp.held() == {example.REFERENCE: example.TOTAL}
    assert invoice.external_id


def test_a_refusal_is_a_commit_error_and_leaves_nothing(erp: Erp) -> None:
    erp.refuse_next()
    with pytest.raises(CommitError) as raised:
        committed(erp)
    assert not isinstance(raised.value, TransientCommitError), raised.value
    assert example.REFERENCE not in erp.held()


@pytest.mark.parametrize(
    ("status", "error"), [(500, TransientCommitError), (503, TransientCommitError), (429, NotSent)]
)
def test_server_errors_are_transient_and_sent_once(erp: Erp, status: int, error: type[Exception]) -> None:
    networked(erp)
    assert erp.server is not None
    erp.server.fail_next(1, status, match=erp.creates)
    with pytest.raises(error, match=f"HTTP {status}") as raised:
        committed(erp)
    assert KEY not in str(raised.value)
    assert erp.held() == {}
    committed(erp)  # the pipeline's next attempt goes through
    assert erp.held() == {example.REFERENCE: example.TOTAL}


def test_a_timeout_is_transient_within_the_configured_timeout(erp: Erp) -> None:
    networked(erp)
    assert erp.server is not None
    erp.server.hang_next(10, match=erp.creates)
    began = time.monotonic()
    with pytest.raises(TransientCommitError, match="timed out after 1 s"):
        committed(erp, timeout="1")
    assert time.monotonic() - began < 4


def test_accepted_then_dropped_is_transient_and_not_sent_again(erp: Erp) -> None:
    networked(erp)
    assert erp.server is not None
    erp.server.drop_next(match=erp.creates)
    with pytest.raises(TransientCommitError) as raised:
        committed(erp)
    assert not isinstance(raised.value, NotSent)  # it reached the ERP: the outcome is unknown
    assert erp.held() == {example.REFERENCE: example.TOTAL}  # saved, once: no silent re-send
    found = adapter(erp)
    if found.can_look_up:
        assert found.lookup(example.REFERENCE)


def test_lookup_finds_exactly_its_reference(erp: Erp) -> None:
    probe = adapter(erp)
    if not probe.can_look_up:
        with pytest.raises(CannotLookUp):
            probe.lookup(example.REFERENCE)
        return
    assert probe.lookup(example.REFERENCE) is None
    committed(erp, OTHER_MONTH, Window.month(2026, 9))
    assert probe.lookup(example.REFERENCE) is None  # another invoice of the tenant is not ours
    second = committed(erp)
    assert probe.lookup(example.REFERENCE) == second.external_id
    assert probe.lookup(example.REFERENCE.replace("-r1", "-r2")) is None


@pytest.mark.parametrize("step", ["committing", "committed_in_erp"])
def test_a_run_killed_while_committing_leaves_the_month_held_once(erp: Erp, tmp_path: Path, step: str) -> None:
    own = ("rates_file", "csv_directory")  # the demo configuration's own
    settings = "".join(f"{key} = {value}\n" for key, value in erp.config.items() if key not in own)
    text = demo_conf_text(tmp_path, erp.entry, settings) + "\n[billing]\ncommit_settle_time = 0\n"
    conf = str(write_conf(tmp_path / "contract.conf", text))
    db.upgrade(db.make_engine(f"sqlite:///{tmp_path / 'artifice.db'}"))
    killed = cli("--config-file", conf, *BILL_OCTOBER, env={"ARTIFICE_FAILPOINT": step})
    assert killed.returncode == -9, killed.stderr
    again = cli("--config-file", conf, *BILL_OCTOBER)
    held = [reference for reference in erp.held() if reference.startswith("ART-acme-20261001-20261101-r1")]
    if adapter(erp).can_look_up:
        assert again.returncode == 0, again.stderr
        assert held == ["ART-acme-20261001-20261101-r1"]
    else:  # never sent twice: the operator is told to check the ERP and reconcile
        assert again.returncode != 0 and "reconcile" in again.stderr
        assert len(held) <= 1


def test_an_erp_that_is_down_is_not_sent(erp: Erp) -> None:
    networked(erp)
    with pytest.raises(NotSent, match="connection failed"):
        committed(erp, url="http://127.0.0.1:9")
