"""One process bootstrap for every shell (CLI, daemon, read API): config, logging, the one-line error."""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Callable, Sequence

from oslo_config import cfg
from oslo_log import log as oslo_log

from artifice import config
from artifice.exceptions import ArtificeError, ConfigError

LOG = logging.getLogger("artifice")

common_cli_opts: list[cfg.Opt] = []  # --debug and the logging options come from oslo.log
QUIET = ["apscheduler=WARNING", "stevedore=ERROR", "tooz=WARNING", "urllib3=WARNING", "keystoneauth=WARNING"]


def run(
    prog: str,
    argv: Sequence[str] | None,
    cli_opts: Sequence[cfg.Opt],
    action: Callable[[cfg.ConfigOpts], int],
    service: bool = False,
) -> int:
    """Parse config and arguments, run ``action``; user errors become one line.

    A ``service`` (the daemon, the read API) logs the OpenStack way, through oslo.log (log files,
    journald, ``default_log_levels``); the commands log warnings to stderr.
    """
    args = list(sys.argv[1:] if argv is None else argv)
    conf: cfg.ConfigOpts | None = None
    try:
        conf = config.load(args, [*common_cli_opts, *cli_opts])
        setup_logging(conf, prog, service)
        config.warn_unknown(conf)
        for path in config.readable_by_others(conf):
            LOG.warning("config file %s is readable by every user and may hold secrets: chmod o-r %s", path, path)
        return action(conf)
    except ArtificeError as exc:
        print(f"{prog}: error: {exc}{_no_file_read(conf, args)}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print(f"{prog}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `artifice ... | head`: the reader is gone; stop quietly, as other tools do
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141


def setup_logging(conf: cfg.ConfigOpts, prog: str, service: bool) -> None:
    """oslo.log for a service (again on a reload), plain stderr for a command; a bad setting is a ConfigError."""
    if service:
        oslo_log.set_defaults(default_log_levels=[*oslo_log.get_default_log_levels(), *QUIET])
        try:
            oslo_log.setup(conf, "artifice")
        except (OSError, ValueError, TypeError, KeyError) as exc:
            raise ConfigError(f"logging ([DEFAULT] log_file, log_dir, default_log_levels...): {exc}") from exc
        return
    logging.basicConfig(
        level=logging.DEBUG if conf.debug else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    # stevedore logs a lookup miss that Artifice already reports as one line.
    logging.getLogger("stevedore").setLevel(logging.DEBUG if conf.debug else logging.ERROR)


def _no_file_read(conf: cfg.ConfigOpts | None, args: Sequence[str]) -> str:
    """A hint for an error met with no configuration file at all (every option at its default)."""
    if conf is None or config.config_files(conf) or "--help" in args:
        return ""
    return f" (no configuration file was read: pass --config-file, or create {config.DEFAULT_CONFIG_FILE})"
