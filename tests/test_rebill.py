"""Re-billing a committed month: only the difference, as adjustment lines on a new revision."""

from __future__ import annotations

import csv
import gzip
import json
from decimal import Decimal
from pathlib import Path

from artifice.billing.adjustments import rebill_lines
from artifice.store.windows import PricedLine
from tests.conftest import DEMO, cli, demo_conf_text, write_conf


def line(service: str, quantity: str, price: str, amount: str, item_type: str = "USAGE", unit: str = "hour"):
    q, p, a = Decimal(quantity), Decimal(price), Decimal(amount)
    return PricedLine("Auckland", service, "compute", unit, q, p, a, item_type=item_type)


CENT = Decimal("0.01")


def gst(lines: list[PricedLine]) -> list[PricedLine]:
    """A 15 % tax plugin, as plugins see the month's usage lines."""
    tax = (sum((x.amount for x in lines), Decimal(0)) * Decimal("0.15")).quantize(CENT)
    return [line("GST 15%", "1", str(tax), str(tax), "TAX", "item")] if lines else []


def test_adjustments_are_the_exact_differences() -> None:
    billed = [line("m1.small", "744", "0.05", "37.20"), line("GST 15%", "1", "5.58", "5.58", "TAX", "item")]
    # Late data: 10.3333 more hours of m1.small, and a new volume.
    rated = [
        line("m1.small", "754.3333", "0.05", "37.72"),
        line("volume.size", "100", "0.0002", "0.02", unit="GB-hour"),
    ]
    got = {
        (x.service, x.item_type): (x.quantity, x.unit_price, x.amount) for x in rebill_lines(billed, rated, CENT, gst)
    }
    assert got == {
        ("m1.small", "ITEM_ADJ"): (Decimal("10.3333"), Decimal("0.05"), Decimal("0.52")),  # 37.716665 -> 37.72, - 37.20
        ("volume.size", "ITEM_ADJ"): (Decimal("100"), Decimal("0.0002"), Decimal("0.02")),
        ("GST 15%", "TAX"): (Decimal("1"), Decimal("0.08"), Decimal("0.08")),  # 15% of 37.74 = 5.66, - 5.58
    }
    # Once the adjustment is billed too, the same usage needs nothing more.
    assert rebill_lines([*billed, *rebill_lines(billed, rated, CENT, gst)], rated, CENT, gst) == []
    # Usage that went away is credited, and its tax with it.
    credit, tax = rebill_lines(billed, [], CENT, gst)
    assert (credit.quantity, credit.amount, tax.amount) == (Decimal("-744"), Decimal("-37.20"), Decimal("-5.58"))


def test_many_small_rebills_never_drift_by_a_cent() -> None:
    # 10 h billed (0.50), then ten re-bills of 0.1 h each at 0.05: 11 h = 0.55, not ten roundings of 0.005 up.
    billed = [line("m1.small", "10", "0.05", "0.50")]
    for k in range(1, 11):
        billed += rebill_lines(billed, [line("m1.small", str(10 + k / 10), "0.05", "0")], CENT, lambda _: [])
    assert sum(x.amount for x in billed) == Decimal("0.55")


def test_a_plugin_or_price_change_alone_sends_nothing() -> None:
    billed = [line("m1.small", "100", "0.05", "5.00"), line("GST 15%", "1", "0.75", "0.75", "TAX", "item")]
    new_tax = lambda lines: [line("GST 16%", "1", "0.80", "0.80", "TAX", "item")] if lines else []  # noqa: E731
    assert rebill_lines(billed, [line("m1.small", "100", "0.06", "6.00")], CENT, new_tax) == []


def test_a_discount_plugin_sees_the_billed_price_not_todays() -> None:
    def free_100(lines: list[PricedLine]) -> list[PricedLine]:  # 100 free hours of m1.small, at its price
        small = next(x for x in lines if x.service == "m1.small")
        off = -min(small.quantity, Decimal(100)) * small.unit_price
        return [line("m1.small: 100 free", "1", str(off), str(off), "ITEM_ADJ", "item")]

    billed = [
        line("m1.small", "120", "0.05", "6.00"),
        line("m1.small: 100 free", "1", "-5.00", "-5.00", "ITEM_ADJ", "item"),
    ]
    # The rate is 0.06 now and 10 late hours arrived: they cost 0.60, and the free hours stay worth 5.00.
    (late,) = rebill_lines(billed, [line("m1.small", "130", "0.06", "7.80")], CENT, free_100)
    assert (late.quantity, late.unit_price, late.amount) == (Decimal("10"), Decimal("0.06"), Decimal("0.60"))


def late_samples(tmp_path: Path) -> Path:
    """The demo's RegionTwo plus a second initech instance that reported late: vm-2, 11 hourly samples."""
    samples = json.loads(gzip.decompress((DEMO / "RegionTwo.json.gz").read_bytes()))
    template = next(s for s in samples if s["project_id"] == "initech" and s["counter_name"] == "instance")
    for hour in range(10, 21):  # 2026-10-10 10:00 .. 20:00: 10 hours up
        stamp = f"2026-10-10T{hour:02d}:00:00"
        samples.append({**template, "resource_id": "vm-2", "timestamp": stamp, "message_id": f"late-{hour}"})
    path = tmp_path / "RegionTwo-late.json.gz"
    path.write_bytes(gzip.compress(json.dumps(samples).encode()))
    return path


def test_rebill_sends_only_the_late_usage_as_a_new_revision(demo_conf: Path, tmp_path: Path) -> None:
    bill = ("bill", "--tenant", "initech", "--month", "2026-10")
    assert cli("--config-file", str(demo_conf), *bill).returncode == 0
    unchanged = cli("--config-file", str(demo_conf), *bill, "--rebill")
    assert unchanged.returncode == 0 and "usage unchanged" in unchanged.stdout, unchanged.stderr

    late = demo_conf_text(tmp_path).replace(str(DEMO / "RegionTwo.json.gz"), str(late_samples(tmp_path)))
    conf = str(write_conf(demo_conf, late))
    preview = cli("--config-file", conf, *bill, "--rebill", "--dry-run")
    assert preview.returncode == 0, preview.stderr
    # 10 h of m1.small at 0.05 = 0.50, the only change.
    assert "m1.small [ITEM_ADJ]" in preview.stdout and "10.0000" in preview.stdout and "0.50" in preview.stdout
    assert not (tmp_path / "invoices" / "initech-2026-10-r2.csv").exists()

    rebilled = cli("--config-file", conf, *bill, "--rebill")
    assert rebilled.returncode == 0, rebilled.stderr
    rows = list(csv.reader((tmp_path / "invoices" / "initech-2026-10-r2.csv").open()))
    columns = rows[0]
    assert {(r[columns.index("invoice")], r[columns.index("adjusts")]) for r in rows[1:]} == {
        ("ART-initech-20261001-20261101-r2", "ART-initech-20261001-20261101-r1")
    }
    assert [r[:7] for r in rows if r and r[0] == "item_adj"] == [
        ["item_adj", "Auckland", "m1.small", "10.0000", "hour", "0.05", "0.50"]
    ]
    assert next(r for r in rows if r and r[0] == "total")[6] == "0.50"
    first = list(csv.reader((tmp_path / "invoices" / "initech-2026-10.csv").open()))
    assert next(r for r in first if r and r[0] == "total")[6] == "37.20"  # the first invoice is untouched

    again = cli("--config-file", conf, *bill, "--rebill")
    assert again.returncode == 0 and "usage unchanged" in again.stdout
    listing = cli("--config-file", conf, "windows").stdout
    assert "r2 (adjustment)" in listing and listing.count(" committed ") == 2


def test_rebill_of_a_month_never_billed_is_refused(demo_conf: Path) -> None:
    result = cli("--config-file", str(demo_conf), "bill", "--tenant", "acme", "--month", "2026-10", "--rebill")
    assert result.returncode != 0 and "nothing to re-bill" in result.stderr
    assert "Traceback" not in result.stderr


def test_rebill_keeps_the_price_already_billed_and_prices_only_new_usage_today(demo_conf: Path, tmp_path: Path) -> None:
    bill = ("bill", "--tenant", "initech", "--month", "2026-10")
    assert cli("--config-file", str(demo_conf), *bill).returncode == 0  # 744 h of m1.small at 0.05 = 37.20
    rates = tmp_path / "rates-later.csv"
    rates.write_text((DEMO / "rates.csv").read_text().replace("*,m1.small,hour,0.05", "*,m1.small,hour,0.06"))
    repriced = demo_conf_text(tmp_path).replace(str(DEMO / "rates.csv"), str(rates))
    conf = str(write_conf(demo_conf, repriced))
    unchanged = cli("--config-file", conf, *bill, "--rebill")  # no sample changed: the new rate changes nothing
    assert unchanged.returncode == 0 and "usage unchanged" in unchanged.stdout, unchanged.stdout + unchanged.stderr
    assert not (tmp_path / "invoices" / "initech-2026-10-r2.csv").exists()

    late = repriced.replace(str(DEMO / "RegionTwo.json.gz"), str(late_samples(tmp_path)))
    conf = str(write_conf(demo_conf, late))
    assert cli("--config-file", conf, *bill, "--rebill").returncode == 0
    rows = list(csv.reader((tmp_path / "invoices" / "initech-2026-10-r2.csv").open()))
    # Only the 10 late hours take today's price: 10 x 0.06 = 0.60 (the 744 billed hours stay at 0.05).
    assert [r[:7] for r in rows if r and r[0] == "item_adj"] == [
        ["item_adj", "Auckland", "m1.small", "10.0000", "hour", "0.06", "0.60"]
    ]


def test_credits_take_back_the_latest_billed_hours_at_their_own_price() -> None:
    billed = [line("m1.small", "100", "0.05", "5.00"), line("m1.small", "10", "0.06", "0.60", "ITEM_ADJ")]
    # Usage is now 105 h and the rate 0.07: the 5 h taken back were the last billed, at 0.06.
    (credit,) = rebill_lines(billed, [line("m1.small", "105", "0.07", "7.35")], CENT, lambda _: [])
    assert (credit.quantity, credit.unit_price, credit.amount) == (Decimal("-5"), Decimal("0.06"), Decimal("-0.30"))
    # Back to 95 h: the 10 h at 0.06 (0.60) and 5 of the 100 h at 0.05 (0.25), one line per price.
    credits = rebill_lines(billed, [line("m1.small", "95", "0.07", "6.65")], CENT, lambda _: [])
    assert [(x.quantity, x.unit_price, x.amount) for x in credits] == [
        (Decimal("-10"), Decimal("0.06"), Decimal("-0.60")),
        (Decimal("-5"), Decimal("0.05"), Decimal("-0.25")),
    ]


def test_rebill_all_re_rates_every_billed_tenant_on_its_own(demo_conf: Path, tmp_path: Path) -> None:
    for tenant in ("acme", "initech"):  # globex is never billed: nothing to re-bill there
        assert cli("--config-file", str(demo_conf), "bill", "--tenant", tenant, "--month", "2026-10").returncode == 0
    late = demo_conf_text(tmp_path).replace(str(DEMO / "RegionTwo.json.gz"), str(late_samples(tmp_path)))
    conf = str(write_conf(demo_conf, late))
    result = cli("--config-file", conf, "bill", "--all", "--month", "2026-10", "--rebill")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert "tenant acme: usage unchanged since it was billed: no adjustment" in lines
    assert "tenant initech: committed ART-initech-20261001-20261101-r2 total 0.50 NZD" in lines
    assert not any("globex" in line for line in lines) and "2026-10: 2 billed tenant(s) of 3 re-rated" in lines
    assert not (tmp_path / "invoices" / "globex-2026-10.csv").exists()


def test_a_rate_in_another_unit_is_refused_by_dry_runs_and_rebills_too(demo_conf: Path, tmp_path: Path) -> None:
    old = tmp_path / "old-rates.csv"  # still per GB-hour, while the mapping bills volumes in GiB-hours
    old.write_text((DEMO / "rates.csv").read_text().replace("volume.size,GiB-hour", "volume.size,GB-hour"))
    conf = str(write_conf(tmp_path / "old.conf", demo_conf_text(tmp_path).replace(str(DEMO / "rates.csv"), str(old))))
    preview = cli("--config-file", conf, "bill", "--tenant", "acme", "--month", "2026-10", "--dry-run")
    assert preview.returncode != 0 and "measured in GiB-hour but its rate is per GB-hour" in preview.stderr
    assert cli("--config-file", str(demo_conf), "bill", "--tenant", "acme", "--month", "2026-10").returncode == 0
    more = DEMO / "RegionOne.json.gz"
    samples = json.loads(gzip.decompress(more.read_bytes()))
    volume = next(s for s in samples if s["project_id"] == "acme" and s["counter_name"] == "volume.size")
    samples.append({**volume, "resource_id": "late-volume", "message_id": "late-volume-1"})
    samples.append({**volume, "resource_id": "late-volume", "message_id": "late-volume-2",
                    "timestamp": volume["timestamp"][:11] + "23:00:00"})  # fmt: skip
    late = tmp_path / "RegionOne-late.json.gz"
    late.write_bytes(gzip.compress(json.dumps(samples).encode()))
    text = demo_conf_text(tmp_path).replace(str(DEMO / "rates.csv"), str(old)).replace(str(more), str(late))
    conf = str(write_conf(tmp_path / "late.conf", text))
    rebilled = cli("--config-file", conf, "bill", "--tenant", "acme", "--month", "2026-10", "--rebill")
    assert rebilled.returncode != 0 and "measured in GiB-hour but its rate is per GB-hour" in rebilled.stderr
    assert not (tmp_path / "invoices" / "acme-2026-10-r2.csv").exists()


def test_rebill_all_includes_a_tenant_billed_by_hand_that_no_listing_has(demo_conf: Path, tmp_path: Path) -> None:
    assert cli("--config-file", str(demo_conf), "bill", "--all", "--month", "2026-10").returncode == 0
    forced = ("bill", "--tenant", "zeta", "--force-tenant", "--month", "2026-10")  # no usage yet: an empty invoice
    assert cli("--config-file", str(demo_conf), *forced).returncode == 0
    samples = json.loads(gzip.decompress((DEMO / "RegionTwo.json.gz").read_bytes()))
    template = next(s for s in samples if s["project_id"] == "initech" and s["counter_name"] == "instance")
    for hour in range(10, 21):  # zeta's instance reported late: 10 hours of m1.small
        stamp = f"2026-10-10T{hour:02d}:00:00"
        samples.append({**template, "project_id": "zeta", "resource_id": "z-1", "timestamp": stamp,
                        "message_id": f"zeta-{hour}"})  # fmt: skip
    late = tmp_path / "RegionTwo-zeta.json.gz"
    late.write_bytes(gzip.compress(json.dumps(samples).encode()))
    conf = str(write_conf(tmp_path / "late.conf", demo_conf_text(tmp_path).replace(str(DEMO / "RegionTwo.json.gz"),
                                                                                    str(late))))  # fmt: skip
    result = cli("--config-file", conf, "bill", "--all", "--month", "2026-10", "--rebill")
    assert result.returncode == 0, result.stderr
    assert "tenant zeta: committed ART-zeta-20261001-20261101-r2 total 0.50 NZD" in result.stdout, result.stdout
