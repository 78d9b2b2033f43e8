"""The package's shape: billing loads no web stack, shells stand alone, modules stay small."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

from tests.conftest import REPO

WEB_STACK = ("uvicorn", "fastapi", "starlette", "fastapi_offline")
SHELLS = ("artifice.cli", "artifice.daemon", "artifice.api")
MAX_LINES = 400


def _loaded_after(code: str, packages: tuple[str, ...] = WEB_STACK) -> list[str]:
    """The modules of ``packages`` (the web stack) a fresh interpreter holds after running ``code``."""
    listing = f"sorted(m for m in sys.modules if m.split('.')[0] in {packages!r})"
    probe = f"{code}\nimport json, sys\nprint(json.dumps({listing}))"
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=REPO, timeout=120)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_importing_billing_loads_no_web_stack() -> None:
    assert _loaded_after("import artifice.billing, artifice.billing.pipeline") == []


def test_a_dry_run_bill_loads_no_web_stack(demo_conf: Path) -> None:
    argv = ["--config-file", str(demo_conf), "bill", "--tenant", "acme", "--month", "2026-10", "--dry-run"]
    code = f"from artifice.cli.main import main\nrc = main({argv!r})\nassert rc == 0, rc"
    assert _loaded_after(code) == []


def test_status_loads_neither_alembic_nor_the_telemetry_clients(demo_conf: Path, tmp_path: Path) -> None:
    # `artifice status` only reads the database: its start-up is what an operator waits for
    upgrade = "from artifice.cli.manage import main\nassert main(['--config-file', {conf!r}, 'db', 'upgrade']) == 0"
    subprocess.run([sys.executable, "-c", upgrade.format(conf=str(demo_conf))], check=True, cwd=tmp_path, timeout=120)
    code = f"from artifice.cli.main import main\nassert main(['--config-file', {str(demo_conf)!r}, 'status']) == 0"
    heavy = ("alembic", "pandas", "numpy", "ceilometerclient", "gnocchiclient", *WEB_STACK)
    assert _loaded_after(code, heavy) == []


def _imports(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return found


def test_no_shell_imports_another_shell_and_the_core_imports_only_their_options() -> None:
    offences = []
    for path in sorted((REPO / "artifice").rglob("*.py")):
        module = ".".join(path.relative_to(REPO).with_suffix("").parts).removesuffix(".__init__")
        own = next((shell for shell in SHELLS if module == shell or module.startswith(shell + ".")), None)
        for imported in _imports(path):
            target = next((s for s in SHELLS if imported == s or imported.startswith(s + ".")), None)
            if target is None or target == own:
                continue
            if own is None and imported == f"{target}.options":
                continue  # the core registers every shell's options (artifice.opts)
            if own is None and imported.startswith(f"{target}.options."):
                continue
            offences.append(f"{module} imports {imported}")
    assert offences == []


def test_no_module_is_over_the_size_limit() -> None:
    sizes = {
        str(p.relative_to(REPO)): len(p.read_text(encoding="utf-8").splitlines())
        for p in (REPO / "artifice").rglob("*.py")
    }
    assert {path: lines for path, lines in sizes.items() if lines > MAX_LINES} == {}
