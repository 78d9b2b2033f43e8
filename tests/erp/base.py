"""What the contract servers share: fault injection, persisted state, thread and process runs.

A server can be told, by a method (in-process fixture) or by ``POST /_control``
(separate process), to do something bad to the next matching requests:

- ``fail``: answer with an HTTP status (500, 503, 429) without doing anything;
- ``hang``: sleep ``seconds`` (longer than the client's timeout), then do the work;
- ``drop``: do the work (save the invoice), then close the socket without answering;
- ``redirect``: do the work, then answer 303 See Other instead of the real answer.

With ``chaos`` (``--chaos P``), each request not otherwise planned meets one of those at random
with probability P: a 503, a 429, a hang of ``chaos_hang`` seconds (``--chaos-hang``), or a drop.

``POST /_control`` takes ``{"fail": {"count": 1, "status": 503, "match": ""}}``,
``{"hang": {"seconds": 5}}``, ``{"drop": {}}`` or ``{"clear": true}``;
``GET /_control/state`` returns the stored state. ``match`` is a substring of
the request's key (``"POST /invoice/"``; for XML-RPC ``"account.move.create"``).
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import dataclasses
import json
import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self
from urllib.parse import parse_qs, urlsplit

REASONS = {429: "Too Many Requests", 500: "Internal Server Error", 502: "Bad Gateway", 503: "Service Unavailable"}


@dataclasses.dataclass
class Fault:
    kind: str  # fail | hang | drop | redirect
    status: int = 503
    seconds: float = 0.0
    match: str = ""


@dataclasses.dataclass
class Reply:
    status: int
    body: bytes = b""
    headers: dict[str, str] = dataclasses.field(default_factory=dict)

    @classmethod
    def json(cls, status: int, document: Any, **headers: str) -> Reply:
        return cls(status, json.dumps(document).encode(), {"Content-Type": "application/json", **headers})


class FaultPlan:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pending: collections.deque[Fault] = collections.deque()

    def add(self, fault: Fault, count: int = 1) -> None:
        with self._lock:
            self._pending.extend(dataclasses.replace(fault) for _ in range(count))

    def clear(self) -> None:
        with self._lock:
            self._pending.clear()

    def take(self, key: str) -> Fault | None:
        with self._lock:
            for fault in self._pending:
                if fault.match in key:
                    self._pending.remove(fault)
                    return fault
        return None


class ContractServer(ThreadingHTTPServer):
    """A ThreadingHTTPServer with a JSON state (saved to ``state_file`` on each change) and a fault plan."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, handler: type[ContractHandler], port: int, state_file: str | None, initial: dict[str, Any]):
        super().__init__(("127.0.0.1", port), handler)
        self.plan = FaultPlan()
        self.wake = threading.Event()
        self.lock = threading.RLock()
        self.state_file = state_file
        self.requests: list[tuple[str, str, bytes]] = []  # (method, path with query, body) as received
        self.keys: list[str] = []  # each request's key, as faults match it
        self.state: dict[str, Any] = json.loads(json.dumps(initial))
        self.chaos, self.chaos_hang, self.random = 0.0, 1.0, random.Random(0)
        if state_file and os.path.exists(state_file):
            with open(state_file, encoding="utf-8") as handle:
                self.state = json.load(handle)
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def save(self) -> None:
        """Write the state atomically; call with ``self.lock`` held, after each change."""
        if not self.state_file:
            return
        directory = os.path.dirname(os.path.abspath(self.state_file))
        fd, temporary = tempfile.mkstemp(dir=directory, prefix=".state-")
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(self.state, handle, indent=1, sort_keys=True)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, self.state_file)

    def snapshot(self) -> dict[str, Any]:
        """The stored state, as ``GET /_control/state`` answers it."""
        with self.lock:
            return json.loads(json.dumps(self.state))

    def received(self, match: str) -> bool:
        """Whether a request whose key contains ``match`` has arrived."""
        with self.lock:
            return any(match in key for key in self.keys)

    def fail_next(self, count: int = 1, status: int = 503, match: str = "") -> None:
        self.plan.add(Fault("fail", status=status, match=match), count)

    def hang_next(self, seconds: float, count: int = 1, match: str = "") -> None:
        self.plan.add(Fault("hang", seconds=seconds, match=match), count)

    def drop_next(self, count: int = 1, match: str = "") -> None:
        self.plan.add(Fault("drop", match=match), count)

    def redirect_next(self, count: int = 1, match: str = "") -> None:
        self.plan.add(Fault("redirect", match=match), count)

    def chaos_fault(self) -> Fault | None:
        """A random fault, with probability ``chaos``."""
        with self.lock:
            if self.random.random() >= self.chaos:
                return None
            kind = self.random.choice(("503", "429", "hang", "drop"))
        if kind == "hang":
            return Fault("hang", seconds=self.chaos_hang)
        return Fault("drop") if kind == "drop" else Fault("fail", status=int(kind))

    def start(self) -> Self:
        self._thread = threading.Thread(target=self.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self.wake.set()  # end any hang at once
        self.shutdown()
        self.server_close()


class ContractHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: ContractServer

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        pass

    def do_GET(self) -> None:
        self._handle("GET")

    def do_POST(self) -> None:
        self._handle("POST")

    def do_PUT(self) -> None:
        self._handle("PUT")

    def do_PATCH(self) -> None:
        self._handle("PATCH")

    def do_DELETE(self) -> None:
        self._handle("DELETE")

    # -- to override ---------------------------------------------------------

    def route(self, method: str, path: str, query: dict[str, str], body: bytes) -> Reply:
        raise NotImplementedError

    def request_key(self, method: str, path: str, body: bytes) -> str:
        return f"{method} {path}"

    def failure(self, status: int) -> Reply:
        headers = {"Retry-After": "1"} if status == 429 else {}
        text = f"<h1>{status} {REASONS.get(status, 'Error')}</h1>".encode()
        return Reply(status, text, {"Content-Type": "text/html", **headers})

    # -- machinery -----------------------------------------------------------

    def _handle(self, method: str) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        parts = urlsplit(self.path)
        query = {key: values[-1] for key, values in parse_qs(parts.query, keep_blank_values=True).items()}
        if parts.path.startswith("/_control"):
            self._send(self._control(method, body))
            return
        key = self.request_key(method, parts.path, body)
        with self.server.lock:
            self.server.requests.append((method, self.path, body))
            self.server.keys.append(key)
        fault = self.server.plan.take(key) or self.server.chaos_fault()
        if fault and fault.kind == "fail":
            self._send(self.failure(fault.status))
            return
        if fault and fault.kind == "hang":
            self.server.wake.wait(fault.seconds)
        reply = self.route(method, parts.path, query, body)
        if fault and fault.kind == "drop":
            self.close_connection = True
            with contextlib.suppress(OSError):
                self.connection.shutdown(socket.SHUT_RDWR)
            return
        if fault and fault.kind == "redirect":
            reply = Reply(303, b"", {"Location": "/"})
        self._send(reply)

    def _send(self, reply: Reply) -> None:
        try:
            self.send_response(reply.status)
            for name, value in reply.headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(reply.body)))
            self.end_headers()
            self.wfile.write(reply.body)
        except OSError:  # the client gave up (timed out) meanwhile
            self.close_connection = True

    def _control(self, method: str, body: bytes) -> Reply:
        server = self.server
        if method == "GET":
            return Reply.json(200, server.snapshot())
        order = json.loads(body or b"{}")
        if order.get("clear"):
            server.plan.clear()
        if "fail" in order:
            spec = order["fail"]
            server.fail_next(spec.get("count", 1), spec.get("status", 503), spec.get("match", ""))
        if "hang" in order:
            spec = order["hang"]
            server.hang_next(spec["seconds"], spec.get("count", 1), spec.get("match", ""))
        if "drop" in order:
            spec = order["drop"]
            server.drop_next(spec.get("count", 1), spec.get("match", ""))
        return Reply.json(200, {"ok": True})


def main(
    argv: list[str] | None,
    description: str,
    add_arguments: Callable[[argparse.ArgumentParser], None],
    make_server: Callable[[argparse.Namespace], ContractServer],
) -> None:
    """Run a contract server as a process until SIGTERM or SIGINT; prints its URL first."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (0: any free port)")
    parser.add_argument("--state-file", help="JSON file holding the invoices across restarts")
    parser.add_argument("--chaos", type=float, default=0.0, help="probability of a random fault per request")
    parser.add_argument("--chaos-hang", type=float, default=1.0, help="seconds a random hang lasts")
    parser.add_argument("--seed", type=int, default=0, help="seed of the random faults")
    add_arguments(parser)
    args = parser.parse_args(argv)
    server = make_server(args)
    server.chaos, server.chaos_hang, server.random = args.chaos, args.chaos_hang, random.Random(args.seed)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    print(f"listening on {server.url}", flush=True)
    try:
        server.serve_forever(poll_interval=0.1)
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


def spawn(module: str, *args: str, cwd: str | None = None) -> tuple[subprocess.Popen[str], str]:
    """Start ``python -m module --port 0 *args``; return the process and the URL it listens on."""
    process = subprocess.Popen(
        [sys.executable, "-m", module, "--port", "0", *args],
        stdout=subprocess.PIPE,
        text=True,
        cwd=cwd or os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
    )
    assert process.stdout is not None
    line = process.stdout.readline()
    if not line.startswith("listening on "):
        process.kill()
        raise RuntimeError(f"{module} did not start: {line!r}")
    return process, line.split()[-1]
