"""What the package imports is what it declares: a fresh ``pip install`` never misses a module."""

from __future__ import annotations

import ast
import configparser
import importlib.metadata
import re
import sys
from pathlib import Path

from tests.conftest import REPO


def _requirement_names(setup_cfg: Path) -> set[str]:
    parser = configparser.ConfigParser()
    parser.read(setup_cfg)
    lines = [line.strip() for line in parser["options"]["install_requires"].splitlines() if line.strip()]
    return {re.split(r"[<>=!~\[; ]", line, maxsplit=1)[0].lower().replace("_", "-") for line in lines}


def test_every_third_party_import_of_artifice_is_declared() -> None:
    declared = _requirement_names(REPO / "setup.cfg")
    distributions = importlib.metadata.packages_distributions()
    missing = {}
    for path in (REPO / "artifice").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else []
            if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            for name in names:
                top = name.split(".")[0]
                if top == "artifice" or top in sys.stdlib_module_names or top.startswith("_"):
                    continue
                owners = {d.lower().replace("_", "-") for d in distributions.get(top, [top])}
                if not owners & declared:
                    missing[top] = str(path.relative_to(REPO))
    assert not missing, f"imported but not in install_requires: {missing}"


def test_the_wheel_ships_the_meter_mapping_and_the_compiled_scanner(tmp_path: Path) -> None:
    import subprocess
    import zipfile

    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(tmp_path), str(REPO)],
        check=True, capture_output=True, timeout=300,
    )  # fmt: skip
    (wheel,) = tmp_path.glob("artifice-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    assert "artifice/usage/meters.yaml" in names
    assert any(re.fullmatch(r"artifice/collectors/_wirescan\..*\.so", name) for name in names)  # compiled


def test_without_a_configured_mapping_the_shipped_one_bills(tmp_path: Path) -> None:
    from tests.conftest import cli, demo_conf_text, write_conf

    text = "\n".join(line for line in demo_conf_text(tmp_path).splitlines() if not line.startswith("meter_mapping"))
    conf = write_conf(tmp_path / "artifice.conf", text)
    assert cli("manage", "--config-file", str(conf), "db", "upgrade").returncode == 0
    billed = cli("--config-file", str(conf), "bill", "--tenant", "initech", "--month", "2026-10", "--dry-run")
    assert billed.returncode == 0, billed.stderr
    assert "m1.small" in billed.stdout and "37.20" in billed.stdout  # 744 h at 0.05
