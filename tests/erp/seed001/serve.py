"""Run the seed-001 application: ``python -m tests.erp.seed001.serve --database F --user U:KEY --client ID``.

Creates the tables (``migrate --run-syncdb``), the users with their tastypie API keys and the
clients, then serves on 127.0.0.1 with a threading WSGI server and prints ``listening on URL``.
Ends on SIGTERM, or when the process that started it dies.
"""

from __future__ import annotations

import argparse
import ctypes
import logging
import os
import signal
import sys
from socketserver import ThreadingMixIn
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

PR_SET_PDEATHSIG = 1


class _Server(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--database", required=True, help="SQLite file (created when missing)")
    parser.add_argument("--user", action="append", default=[], help="USERNAME:API_KEY (repeatable)")
    parser.add_argument("--client", action="append", default=[], help="a client id (repeatable)")
    parser.add_argument("--no-filtering", action="store_true", help="the invoice resource declares no filtering")
    args = parser.parse_args(argv)
    ctypes.CDLL(None).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)  # never outlive the test that started us
    os.environ["ARTIFICE_SEED001_DATABASE"] = args.database
    os.environ["ARTIFICE_SEED001_FILTERING"] = "0" if args.no_filtering else "1"
    os.environ["DJANGO_SETTINGS_MODULE"] = "tests.erp.seed001.settings"
    import django
    from django.core.management import call_command

    django.setup()
    logging.getLogger("django").handlers[:] = [logging.NullHandler()]  # 4xx answers are the tests' business
    logging.getLogger("django").propagate = False
    call_command("migrate", run_syncdb=True, verbosity=0)
    _provision(args.user, args.client)
    from django.core.wsgi import get_wsgi_application

    server = make_server("127.0.0.1", args.port, get_wsgi_application(), _Server, _QuietHandler)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    print(f"listening on http://127.0.0.1:{server.server_address[1]}", flush=True)
    try:
        server.serve_forever(poll_interval=0.1)
    finally:
        server.server_close()


def _provision(users: list[str], clients: list[str]) -> None:
    from django.contrib.auth.models import User
    from tastypie.models import ApiKey

    from tests.erp.seed001.invoicing.models import Client

    for spec in users:
        name, _, key = spec.partition(":")
        user, _ = User.objects.get_or_create(username=name)
        ApiKey.objects.update_or_create(user=user, defaults={"key": key})
    for ident in clients:
        Client.objects.get_or_create(id=ident, defaults={"name": ident})


if __name__ == "__main__":
    main()
