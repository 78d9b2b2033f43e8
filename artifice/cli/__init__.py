"""Command-line tools: thin shells over the pipeline."""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable, Sequence

from oslo_config import cfg

from artifice import config
from artifice.exceptions import ArtificeError

LOG = logging.getLogger("artifice")

common_cli_opts = [
    cfg.BoolOpt("debug", short="d", default=False, help="Log debug messages."),
]


def run(
    prog: str,
    argv: Sequence[str] | None,
    cli_opts: Sequence[cfg.Opt],
    action: Callable[[cfg.ConfigOpts], int],
) -> int:
    """Parse config and arguments, run ``action``; user errors become one line."""
    args = list(sys.argv[1:] if argv is None else argv)
    try:
        conf = config.load(args, [*common_cli_opts, *cli_opts])
        logging.basicConfig(
            level=logging.DEBUG if conf.debug else logging.WARNING,
            format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        )
        # stevedore logs a lookup miss that Artifice already reports as one line.
        logging.getLogger("stevedore").setLevel(logging.DEBUG if conf.debug else logging.ERROR)
        for path in config.readable_by_others(conf):
            LOG.warning("config file %s is readable by every user and may hold secrets: chmod o-r %s", path, path)
        return action(conf)
    except ArtificeError as exc:
        print(f"{prog}: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print(f"{prog}: interrupted", file=sys.stderr)
        return 130
