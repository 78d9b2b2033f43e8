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
