"""Seed 001's Django tastypie invoice API: the real application, behind a fault-injecting proxy.

The API itself is ``tests.erp.seed001``, a Django + django-tastypie application built from the
seed's schema (tastypie's own ApiKeyAuthentication, paging, filtering, validation, 201/Location
and error bodies), started as a process of its own on an SQLite file. This module puts the
contract servers' fault injection (``tests.erp.base``) in front of it: each request meets its
planned fault (a 503, a hang, a drop after the API did the work, a redirect), then goes through
to tastypie unchanged.

    python -m tests.erp.django_server --port 8000 --state-file /tmp/django.json \
        --user billing:KEY --client acme
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import secrets
import subprocess
import tempfile
from typing import Any
from urllib.parse import urlsplit

from tests.erp.base import ContractHandler, ContractServer, Reply, main, spawn

FORWARDED = ("Authorization", "Content-Type", "Accept")
RETURNED = ("Content-Type", "Location", "Retry-After")


class ProxyHandler(ContractHandler):
    server: DjangoServer

    def route(self, method: str, path: str, query: dict[str, str], body: bytes) -> Reply:
        headers = {name: self.headers[name] for name in FORWARDED if self.headers.get(name)}
        status, answer, returned = self.server.forward(method, self.path, body, headers)
        if not self.server.location:
            returned.pop("Location", None)
        return Reply(status, answer, returned)


class DjangoServer(ContractServer):
    """The tastypie application (a child process) and this proxy in front of it."""

    def __init__(
        self,
        port: int = 0,
        state_file: str | None = None,
        users: dict[str, str] | None = None,
        clients: set[str] | None = None,
        filtering: bool = True,
        location: bool = True,
    ) -> None:
        super().__init__(ProxyHandler, port, None, {})
        self.location = location  # False: a 201 without Location, as some tastypie setups answer
        self.users = users if users is not None else {"billing": "KEY"}
        self._scratch = None if state_file else tempfile.mkdtemp(prefix="seed001-")
        self.database = f"{state_file}.sqlite3" if state_file else os.path.join(str(self._scratch), "api.sqlite3")
        self._inspector = f"inspector:{secrets.token_hex(16)}"  # reads every invoice for the tests
        arguments = ["--database", self.database, "--user", self._inspector]
        for name, key in self.users.items():
            arguments += ["--user", f"{name}:{key}"]
        for client in sorted(clients if clients is not None else {"1"}):
            arguments += ["--client", client]
        self.backend, upstream = spawn(
            "tests.erp.seed001.serve", *arguments, *([] if filtering else ["--no-filtering"])
        )
        parts = urlsplit(upstream)
        self.upstream = (parts.hostname or "127.0.0.1", parts.port or 80)
        self._final: list[dict[str, Any]] | None = None  # what the API held when it stopped

    def forward(
        self, method: str, target: str, body: bytes, headers: dict[str, str]
    ) -> tuple[int, bytes, dict[str, str]]:
        connection = http.client.HTTPConnection(*self.upstream, timeout=60)
        try:
            connection.request(method, target, body=body or None, headers=headers)
            response = connection.getresponse()
            returned = {name: value for name in RETURNED if (value := response.getheader(name))}
            return response.status, response.read(), returned
        finally:
            connection.close()

    def invoices(self) -> list[dict[str, Any]]:
        """Every invoice the API holds, as tastypie lists them (rows nested); after ``stop``, as it held them."""
        if self._final is not None:
            return json.loads(json.dumps(self._final))
        status, body, _ = self.forward("GET", "/api/v1/invoice/?limit=0", b"", self._as_inspector())
        assert status == 200, body
        return list(json.loads(body)["objects"])

    def add_client(self, ident: str) -> None:
        """Create a client (a customer of the ERP) through the API."""
        document = json.dumps({"id": ident, "name": ident}).encode()
        headers = {**self._as_inspector(), "Content-Type": "application/json"}
        status, body, _ = self.forward("POST", "/api/v1/client/", document, headers)
        assert status == 201, body

    def _as_inspector(self) -> dict[str, str]:
        name, _, key = self._inspector.partition(":")
        return {"Authorization": f"ApiKey {name}:{key}"}

    def snapshot(self) -> dict[str, Any]:
        return {"invoices": {invoice["id_facture"]: invoice for invoice in self.invoices()}}

    def server_close(self) -> None:
        super().server_close()
        if self.backend.poll() is None:
            self._final = self.invoices()
        self.backend.terminate()
        try:
            self.backend.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.backend.kill()
        if self._scratch:
            for name in os.listdir(self._scratch):
                os.unlink(os.path.join(self._scratch, name))
            os.rmdir(self._scratch)


def _arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--user", action="append", default=[], help="USERNAME:API_KEY (repeatable)")
    parser.add_argument("--client", action="append", default=[], help="a client id (repeatable)")
    parser.add_argument("--no-filtering", action="store_true", help="refuse filtering on num_facture")


def _server(args: argparse.Namespace) -> DjangoServer:
    users = dict(u.split(":", 1) for u in args.user) or None
    clients = set(args.client) or None
    return DjangoServer(args.port, args.state_file, users, clients, not args.no_filtering)


if __name__ == "__main__":
    main(None, "Seed 001 Django tastypie invoice API, with fault injection", _arguments, _server)
