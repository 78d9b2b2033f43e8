"""Seed 000's configuration form, verbatim, with a user's own adapter."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from artifice import config
from artifice.exceptions import ConfigError
from tests.conftest import REPO, cli, demo_conf_text, write_conf

SEED_ADAPTER = '''
import json
from artifice.invoice import Invoice

class MyInvoice(Invoice):
    def __init__(self, tenant, config):
        self.tenant = tenant
        self.config = config
        self.events = []

    def add_line(self, item):
        """item is a triple of datacenter, name, value"""
        datacenter, name, value = item
        self.events.append(["line", datacenter, name, str(value)])

    def add_section(self, name):
        self.events.append(["section", name])

    def commit(self):
        with open(self.config["output"], "w") as handle:
            json.dump({"tenant": str(self.tenant), "config": self.config, "events": self.events}, handle)

    def cost(self, datacenter, name):
        return 0.1 if datacenter == "Auckland" else 0.25

class NotAnInvoice:
    pass
'''


def _seed_conf(tmp_path: Path, ref_line: str) -> Path:
    base = demo_conf_text(tmp_path).split("[collector:samples]", 1)[1]
    return write_conf(
        tmp_path / "seed.conf",
        textwrap.dedent(f"""
        [main]
        {ref_line}
        collector = samples
        datacenters = RegionOne:Wellington,RegionTwo:Auckland

        [invoice:object]
        output = "{tmp_path / "committed.json"}"
        database_name="somedb"
        url = https://localhost:4567

        [collector:samples]""")
        + base,
    )


@pytest.fixture
def user_module(tmp_path: Path) -> dict[str, str]:
    package = tmp_path / "userpkg" / "path" / "to" / "my"
    package.mkdir(parents=True)
    for folder in [package, *package.parents][:4]:
        (folder / "__init__.py").touch()
    (package / "object.py").write_text(SEED_ADAPTER)
    return {"PYTHONPATH": str(tmp_path / "userpkg")}


def test_seed_000_user_adapter_bills_from_config_verbatim(tmp_path: Path, user_module: dict[str, str]):
    conf = _seed_conf(tmp_path, 'invoice:object="path.to.my.object:MyInvoice"')
    assert cli("manage", "--config-file", str(conf), "db", "upgrade").returncode == 0
    result = cli("--config-file", str(conf), "bill", "--tenant", "initech", "--month", "2026-10", env=user_module)
    assert result.returncode == 0, result.stderr
    committed = json.loads((tmp_path / "committed.json").read_text())
    assert committed["tenant"] == "initech"
    assert committed["config"] == {
        "output": str(tmp_path / "committed.json"),  # quotes stripped
        "database_name": "somedb",
        "url": "https://localhost:4567",
    }
    # initech ran one m1.small all month in Auckland: 744 h x 0.1 = 74.40.
    assert committed["events"] == [["section", "Auckland"], ["line", "Auckland", "m1.small", "74.40"]]


def test_entry_point_name_works(tmp_path: Path):
    conf = write_conf(tmp_path / "a.conf", demo_conf_text(tmp_path, invoice_ref="csv"))
    parsed = config.load(["--config-file", str(conf)])
    assert config.invoice_reference(parsed) == "csv"


@pytest.mark.parametrize(
    ("ref", "message"),
    [
        ('"path.to.my.object:Missing"', "has no attribute 'Missing'"),
        ('"no.such.module:MyInvoice"', "cannot import module 'no.such.module'"),
        ('"path.to.my.object:NotAnInvoice"', "is not a subclass of artifice.invoices.base.Invoice"),
        ("nosuchadapter", "no artifice.invoices plugin named 'nosuchadapter'"),
    ],
)
def test_bad_adapter_is_one_clear_line(tmp_path: Path, user_module: dict[str, str], ref: str, message: str):
    conf = _seed_conf(tmp_path, f"invoice:object={ref}")
    cli("manage", "--config-file", str(conf), "db", "upgrade")
    result = cli("--config-file", str(conf), "bill", "--tenant", "acme", "--month", "2026-10", env=user_module)
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "[main] invoice:object" in lines[0] and message in lines[0]


def test_garbled_invoice_line_is_a_config_error(tmp_path: Path):
    conf = write_conf(tmp_path / "bad.conf", "[main]\ninvoice: something else\n")
    with pytest.raises(ConfigError, match="invoice:object"):
        config.invoice_reference(config.load(["--config-file", str(conf)]))


def test_sample_config_is_generated_from_the_code(tmp_path: Path):
    fresh = tmp_path / "artifice.conf.sample"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "oslo_config.generator",
            "--config-file",
            str(REPO / "etc/artifice/artifice-config-generator.conf"),
            "--output-file",
            str(fresh),
        ],
        check=True,
        cwd=REPO,
    )
    shipped = (REPO / "etc/artifice/artifice.conf.sample").read_text()
    assert fresh.read_text() == shipped, "etc/artifice/artifice.conf.sample is stale: run `tox -e genconfig`"


def test_shipped_demo_data_matches_its_generator(tmp_path: Path):
    subprocess.run([sys.executable, str(REPO / "tools/make_demo.py"), str(tmp_path)], check=True, capture_output=True)
    for name in ("RegionOne.json.gz", "RegionTwo.json.gz"):
        assert (tmp_path / name).read_bytes() == (REPO / "etc/artifice/demo" / name).read_bytes(), name
