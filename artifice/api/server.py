"""``artifice-api``: the read API under uvicorn, in ``[api] workers`` processes."""

from __future__ import annotations

import json
import os
import signal
import sys
from collections.abc import Sequence

import uvicorn
from fastapi import FastAPI
from oslo_config import cfg

from artifice import config
from artifice.api.app import create_app
from artifice.bootstrap import common_cli_opts, run, setup_logging

PROG = "artifice-api"
ARGV_VARIABLE = "ARTIFICE_API_ARGV"  # how the worker processes get the command line


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)

    def serve(conf: cfg.ConfigOpts) -> int:
        # log_config=None: uvicorn's loggers go through oslo.log's handlers, set up by run()
        options = {"host": conf.api.host, "port": conf.api.port, "log_config": None, "access_log": True}
        # uvicorn shuts down gracefully on SIGTERM, then raises it again for the previous handler:
        # make that a clean exit (status 0), which is what systemd expects of a stopped service.
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
        if conf.api.workers == 1:
            uvicorn.run(create_app(conf), **options)
        else:  # uvicorn starts (and restarts) each worker, which builds the app from the same arguments
            create_app(conf)  # a bad database or token setting fails here, once, before any worker starts
            os.environ[ARGV_VARIABLE] = json.dumps(args)
            uvicorn.run(f"{__name__}:worker_app", factory=True, workers=conf.api.workers, **options)
        return 0

    return run(PROG, args, [], serve, service=True)


def worker_app() -> FastAPI:
    """One worker's app, from the command line the supervisor was given."""
    conf = config.load(json.loads(os.environ[ARGV_VARIABLE]), common_cli_opts)
    setup_logging(conf, PROG, service=True)
    return create_app(conf)


if __name__ == "__main__":
    sys.exit(main())
