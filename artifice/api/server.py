"""``artifice-api``: the read API under uvicorn."""

from __future__ import annotations

import sys
from collections.abc import Sequence

import uvicorn
from oslo_config import cfg

from artifice.api.app import create_app
from artifice.cli import run

api_opts = [
    cfg.HostAddressOpt("host", default="127.0.0.1", help="Address artifice-api listens on."),
    cfg.PortOpt("port", default=8977, help="Port artifice-api listens on."),
    cfg.IntOpt("workers", default=1, min=1, help="uvicorn worker processes."),
]


def main(argv: Sequence[str] | None = None) -> int:
    def serve(conf: cfg.ConfigOpts) -> int:
        app = create_app(conf)
        # log_config=None: uvicorn's loggers go through oslo.log's handlers, set up by run()
        uvicorn.run(app, host=conf.api.host, port=conf.api.port, log_config=None, access_log=True)
        return 0

    return run("artifice-api", argv, [], serve, service=True)


if __name__ == "__main__":
    sys.exit(main())
