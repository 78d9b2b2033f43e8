"""Pricing to the cent, the CSV adapter, and what a failed commit leaves behind."""

from __future__ import annotations

import os
import time
from decimal import Decimal
from pathlib import Path

import pandas as pd
import pytest

from artifice import config
from artifice.billing.pipeline import Pipeline
from artifice.billing.pricing import price_lines, to_decimal
from artifice.exceptions import CommitError, ConfigError, PricingError, WindowConflict
from artifice.invoice import Invoice, LineValue, Tenant
from artifice.invoices.csv_invoice import CsvInvoice
from artifice.store import models
from artifice.timeutil import Window
from tests.conftest import demo_conf_text, write_conf


class FixedPrice(Invoice):
    def __init__(self, price: object) -> None:
        super().__init__(Tenant("t"), {})
        self.price = price

    def cost(self, datacenter: str, name: str) -> object:  # type: ignore[override]
        return self.price


def _lines(quantity: float) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {
                "tenant_id": "t",
                "region": "DC",
                "service": "s",
                "unit": "hour",
                "category": "compute",
                "quantity": quantity,
            }
        ]
    )


EMPTY_DETAIL = pd.DataFrame(columns=["region", "service", "resource_id", "quantity"])


@pytest.mark.parametrize(
    ("quantity", "price", "amount"),
    [
        (744.0, 0.1, "74.40"),  # a float price 0.1 is exactly 0.1, not 0.1000000000000000055
        (0.125, "0.10", "0.01"),  # 0.0125 rounds half up to 0.01
        (1.5, "0.01", "0.02"),  # 0.015 -> 0.02 (half up, not banker's 0.02/0.01)
        (2.5, "0.01", "0.03"),  # 0.025 -> 0.03 (banker's rounding would give 0.02)
        (348.12034, "0.2", "69.62"),  # quantity 348.1203 x 0.2 = 69.62406
        (0.0, "5", "0.00"),
    ],
)
def test_line_amount_rounds_half_up_to_the_cent(quantity, price, amount):
    (line,) = price_lines(_lines(quantity), EMPTY_DETAIL, FixedPrice(price), decimals=2)
    assert line.amount == Decimal(amount)
    assert isinstance(line.unit_price, Decimal)


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), -1, "abc", None, True])
def test_bad_prices_are_refused(bad):
    with pytest.raises(PricingError):
        to_decimal(bad, "cost('DC', 's')")


def test_adapter_exception_in_cost_names_the_line():
    class Broken(FixedPrice):
        def cost(self, datacenter, name):
            raise KeyError(name)

    with pytest.raises(PricingError, match=r"cost\('DC', 's'\) failed: KeyError"):
        price_lines(_lines(1), EMPTY_DETAIL, Broken(0), decimals=2)


def _csv_invoice(tmp_path: Path, rates: str) -> CsvInvoice:
    (tmp_path / "rates.csv").write_text("datacenter,service,unit,price,currency\n" + rates)
    invoice = CsvInvoice(
        Tenant("t1"), {"csv_directory": str(tmp_path / "out"), "rates_file": str(tmp_path / "rates.csv")}
    )
    invoice.period = Window.month(2026, 10)
    invoice.reference = "REF-1"
    return invoice


def test_csv_rates_specific_datacenter_beats_wildcard_and_missing_rate_is_named(tmp_path: Path):
    invoice = _csv_invoice(tmp_path, "*,m1.small,hour,0.05,NZD\nAuckland,m1.small,hour,0.07,NZD\n")
    assert invoice.cost("Auckland", "m1.small") == Decimal("0.07")
    assert invoice.cost("Wellington", "m1.small") == Decimal("0.05")
    with pytest.raises(PricingError, match=r"no rate for service 'm1\.tiny' in datacenter 'Wellington'"):
        invoice.cost("Wellington", "m1.tiny")


@pytest.mark.parametrize(
    ("rates", "message"),
    [
        ("*,m1.small,hour,cheap,NZD\n", "is not a number"),
        ("*,m1.small,hour,-1,NZD\n", ">= 0"),
        ("*,m1.small,hour,1,NZD\n*,m1.small,hour,2,NZD\n", "second rate"),
        ("*,a,hour,1,NZD\n*,b,hour,1,EUR\n", "one currency per file"),
        ("*,m1.small,,1,NZD\n", "missing unit"),
    ],
)
def test_bad_rates_file_is_a_config_error(tmp_path: Path, rates: str, message: str):
    with pytest.raises(ConfigError, match=message):
        _csv_invoice(tmp_path, rates)


def test_csv_refuses_a_line_in_another_unit_than_its_rate(tmp_path: Path):
    invoice = _csv_invoice(tmp_path, "*,volume.size,GB-hour,0.0002,NZD\n")
    value = LineValue(Decimal("10"), "TB-hour", Decimal("0.0002"), Decimal("0.00"))
    with pytest.raises(PricingError, match="measured in TB-hour but its rate is per GB-hour"):
        invoice.add_line(("DC", "volume.size", value))


def test_csv_commit_never_overwrites_an_invoice(tmp_path: Path):
    invoice = _csv_invoice(tmp_path, "*,m1.small,hour,0.05,NZD\n")
    invoice.add_section("DC")
    invoice.add_line(("DC", "m1.small", LineValue(Decimal("2"), "hour", Decimal("0.05"), Decimal("0.10"))))
    invoice.commit()
    path = tmp_path / "out" / "t1-2026-10.csv"
    before = path.read_text()
    assert "REF-1" in before and "0.10" in before
    with pytest.raises(CommitError, match="already exists"):
        invoice.commit()
    assert path.read_text() == before
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["t1-2026-10.csv"]  # no temporary left behind


def test_csv_commit_sweeps_temporaries_a_killed_writer_left(tmp_path: Path):
    """A writer SIGKILLed between writing and linking leaves ``.invoice-*.tmp``; it is never an invoice."""
    out = tmp_path / "out"
    out.mkdir()
    stale, fresh = out / ".invoice-dead.tmp", out / ".invoice-busy.tmp"
    stale.write_text("invoice,REF-0\n")
    fresh.write_text("invoice,REF-9\n")
    hours_ago = time.time() - 2 * 3600
    os.utime(stale, (hours_ago, hours_ago))
    invoice = _csv_invoice(tmp_path, "*,m1.small,hour,0.05,NZD\n")
    invoice.add_section("DC")
    invoice.commit()
    assert sorted(p.name for p in out.iterdir()) == [".invoice-busy.tmp", "t1-2026-10.csv"]  # a live writer's kept


class ExplodingCommit(CsvInvoice):
    def commit(self) -> None:
        raise CommitError("ERP unreachable")


def test_failed_commit_marks_window_failed_and_month_can_be_billed_later(tmp_path: Path, demo_conf: Path):
    conf = config.load(["--config-file", str(demo_conf)])
    pipeline = Pipeline.from_config(conf)
    pipeline.invoice_class = ExplodingCommit
    with pytest.raises(CommitError, match="ERP unreachable"):
        pipeline.bill(Tenant("initech"), Window.month(2026, 10))
    (failed,) = pipeline.store.windows("initech")
    assert failed.state == models.FAILED and failed.error == "ERP unreachable"
    assert failed.lines and failed.total == Decimal("37.20")  # what was rated is kept for the operator
    pipeline.invoice_class = CsvInvoice
    result = pipeline.bill(Tenant("initech"), Window.month(2026, 10))
    assert result.state == "committed" and result.reference.endswith("-r1")  # the same invoice, sent again
    (window,) = pipeline.store.windows("initech")
    assert (window.state, window.attempts, window.error) == (models.COMMITTED, 2, None)


def test_live_claim_of_another_run_blocks_billing(tmp_path: Path, demo_conf: Path):
    conf = config.load(["--config-file", str(demo_conf)])
    pipeline = Pipeline.from_config(conf)
    pipeline.store.claim(Tenant("initech"), Window.month(2026, 10), models.INVOICE, "csv", "live-run")
    with pytest.raises(WindowConflict, match="run live-run is billing"):
        pipeline.bill(Tenant("initech"), Window.month(2026, 10))


def test_missing_adapter_settings_are_named(tmp_path: Path):
    conf = write_conf(tmp_path / "c.conf", demo_conf_text(tmp_path).replace("csv_directory", "csv_dir"))
    parsed = config.load(["--config-file", str(conf)])
    with pytest.raises(ConfigError, match="csv_directory is required"):
        CsvInvoice(Tenant("t"), config.raw_section(parsed, "invoice:object"))


def test_a_numpy_float_price_is_priced_by_its_shortest_decimal_form() -> None:
    import numpy as np

    assert to_decimal(np.float64(0.05), "cost") == Decimal("0.05")
    assert to_decimal(np.float32(0.05), "cost") == Decimal("0.05")  # not 0.0500000007450580596923828125
    assert to_decimal(np.int64(3), "cost") == Decimal(3)
    with pytest.raises(PricingError, match="nan"):
        to_decimal(np.float64("nan"), "cost")


def test_any_real_number_prices_and_one_too_large_to_bill_is_a_clear_error(tmp_path: Path) -> None:
    from fractions import Fraction

    class Shown(Decimal):
        def __str__(self) -> str:
            return "five cents"

    assert to_decimal(Fraction(1, 20), "cost") == Decimal("0.05")
    assert to_decimal(Shown("0.05"), "cost") == Decimal("0.05")
    invoice = _csv_invoice(tmp_path, "*,m1.small,hour,1E+27,NZD\n")
    lines = pd.DataFrame({"region": ["DC"], "service": ["m1.small"], "category": ["compute"], "unit": ["hour"],
                          "quantity": [744.0]})  # fmt: skip
    detail = pd.DataFrame(columns=["region", "service", "resource_id", "quantity"])
    with pytest.raises(PricingError, match="too large to bill"):
        price_lines(lines, detail, invoice, 2)


def test_an_invoice_an_older_release_wrote_is_still_found_by_its_reference(tmp_path: Path) -> None:
    invoice = _csv_invoice(tmp_path, "*,m1.small,hour,0.05,NZD\n")
    (tmp_path / "out").mkdir()
    old = tmp_path / "out" / "t1-2026-10.csv"  # the two-table file of releases before the one-table invoice
    old.write_text("invoice,REF-1\ntenant,t1\n\nrecord,datacenter,service\n", encoding="utf-8")
    assert invoice.lookup("REF-1") == str(old)
    assert invoice.lookup("REF-2") is None


@pytest.mark.parametrize("days", ["\u00b2", "3000000", "-5", "thirty"])
def test_payment_terms_that_are_no_number_of_days_are_refused_at_start(tmp_path: Path, days: str) -> None:
    rates = tmp_path / "rates.csv"
    rates.write_text("datacenter,service,unit,price,currency\n*,m1.small,hour,0.05,NZD\n")
    config = {"csv_directory": str(tmp_path / "out"), "rates_file": str(rates), "payment_terms_days": days}
    with pytest.raises(ConfigError, match="payment_terms_days"):
        CsvInvoice(Tenant("t1"), config)
