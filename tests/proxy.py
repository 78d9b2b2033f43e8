"""A TCP proxy in front of a real server, that a test can switch to hanging.

Hanging, it accepts connections and reads what comes, and never answers: a telemetry server
that is up and stuck, which only a client timeout ends.
"""

from __future__ import annotations

import contextlib
import select
import socket
import socketserver
import threading


class _Forward(socketserver.BaseRequestHandler):
    server: HangingProxy

    def handle(self) -> None:
        client: socket.socket = self.request
        if self.server.hanging.is_set():
            self.server.hangs += 1
            while self.server.hanging.is_set() and not self.server.closing.wait(0.1):
                with contextlib.suppress(OSError):
                    client.setblocking(False)
                    client.recv(65536)
            return
        with socket.create_connection(("127.0.0.1", self.server.target), timeout=30) as upstream:
            sockets = [client, upstream]
            while not self.server.closing.is_set():
                readable, _, _ = select.select(sockets, [], [], 0.5)
                for source in readable:
                    data = source.recv(65536)
                    if not data:
                        return
                    (upstream if source is client else client).sendall(data)


class HangingProxy(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, target_port: int) -> None:
        super().__init__(("127.0.0.1", 0), _Forward)
        self.target = target_port
        self.hanging = threading.Event()
        self.closing = threading.Event()
        self.hangs = 0  # connections left without an answer
        threading.Thread(target=self.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def close(self) -> None:
        self.closing.set()
        self.shutdown()
        self.server_close()
