"""Start and stop the real servers of tools/servers/ from tests."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
SCRIPTS = REPO / "tools" / "servers"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Server:
    """One server started by ``tools/servers/<name>.sh start DIR PORT``."""

    def __init__(self, name: str, *extra: str, env: dict[str, str] | None = None) -> None:
        self.name = name
        self.directory = tempfile.mkdtemp(prefix=f"artifice-{name}-")
        os.chmod(self.directory, 0o755)
        self.port = free_port()
        self.env = {**os.environ, **(env or {})}
        self.extra = extra
        self.url = ""
        self.start()

    def start(self) -> None:
        """Start it (again, after ``stop``: same directory and port, its data kept)."""
        self.url = self._run("start", self.directory, str(self.port), *self.extra).strip().splitlines()[-1]

    def _run(self, *args: str) -> str:
        result = subprocess.run(
            ["bash", str(SCRIPTS / f"{self.name}.sh"), *args],
            capture_output=True,
            text=True,
            timeout=900,
            env=self.env,
        )
        if result.returncode != 0:
            raise RuntimeError(f"{self.name}.sh {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
        return result.stdout

    def stop(self) -> None:
        self._run("stop", self.directory)


@contextlib.contextmanager
def api_in_thread(conf: Any) -> Iterator[str]:
    """``artifice-api``'s app for ``conf`` under uvicorn in a thread; its base URL, stopped afterwards."""
    import uvicorn

    from artifice.api.app import create_app

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(conf), host="127.0.0.1", port=port, log_config=None))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)
