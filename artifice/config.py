"""Configuration: oslo.config INI files plus the seed-000 invoice form.

Every module declares its options beside its code and exposes them through
``artifice.opts.list_opts``; nothing is registered on import. ``load`` builds
a fresh ``ConfigOpts`` for each process (and each test).

Seed 000 configures the adapter as ``[main] invoice:object="module:Class"``.
oslo's INI parser splits that line at the first ``:``, so it is read as key
``invoice`` with value ``object="module:Class"``; ``invoice_reference``
undoes that split. The adapter's own section ``[invoice:object]`` is passed to
the adapter as-is (``raw_section``), one string per key, quotes stripped.
"""

from __future__ import annotations

import difflib
import glob
import logging
import os
import pathlib
import re
from collections.abc import Sequence

from oslo_config import cfg
from oslo_log import log as oslo_log

from artifice import openstack, opts
from artifice.exceptions import ConfigError

LOG = logging.getLogger(__name__)

DEFAULT_CONFIG_FILE = "/etc/artifice/artifice.conf"
INVOICE_KEY = "invoice:object"
INVOICE_SECTION = "invoice:object"

main_opts = [
    cfg.StrOpt(
        INVOICE_KEY,
        default="csv",
        help="Invoice adapter: an entry-point name of the artifice.invoices "
        'group (e.g. csv) or "python.module:ClassName". Written in this '
        "file exactly as `invoice:object = csv`; its settings go in the "
        "[invoice:object] section and reach the adapter as-is.",
    ),
    cfg.StrOpt(
        "collector",
        default="samples",
        help='Telemetry collector: an entry-point name of the artifice.collectors group or "python.module:ClassName".',
    ),
    cfg.DictOpt(
        "datacenters",
        default={},
        help="Invoice section (datacenter) name per region, e.g. "
        "RegionOne:Wellington,RegionTwo:Auckland. Unmapped regions use the "
        "region name.",
    ),
]

_OBJECT_VALUE = re.compile(r"^object\s*[=:]\s*(.*)$", re.DOTALL)


def register(conf: cfg.ConfigOpts) -> None:
    for group, group_opts in opts.list_opts(runtime=True):
        conf.register_opts(group_opts, group=group)
    oslo_log.register_options(conf)


def load(argv: Sequence[str] = (), cli_opts: Sequence[cfg.Opt] = ()) -> cfg.ConfigOpts:
    """Parse ``argv`` (``--config-file``/``--config-dir``) into a new ConfigOpts, every value checked.

    Any bad value is one ``ConfigError`` naming the option, here rather than when a pass first
    reads it (oslo.config parses values lazily).
    """
    conf = cfg.ConfigOpts()
    register(conf)
    conf.register_cli_opts(list(cli_opts))
    defaults = [DEFAULT_CONFIG_FILE] if os.path.exists(DEFAULT_CONFIG_FILE) else []
    _refuse_directories(argv)
    try:
        conf(list(argv), project="artifice", default_config_files=defaults)
    except (cfg.Error, ValueError, OSError) as exc:
        raise ConfigError(f"configuration: {exc}") from exc
    except SystemExit as exc:  # argparse, on a bad value of a command-line option set in a file ([DEFAULT] debug)
        if exc.code in (0, None):  # --help, --version
            raise
        raise ConfigError("configuration: an option's value is not valid (argparse said which, above)") from exc
    validate(conf)
    return conf


def _refuse_directories(argv: Sequence[str]) -> None:
    for index, arg in enumerate(argv):
        path = argv[index + 1] if arg == "--config-file" and index + 1 < len(argv) else ""
        path = arg.removeprefix("--config-file=") if arg.startswith("--config-file=") else path
        if path and os.path.isdir(path):
            raise ConfigError(f"--config-file {path} is a directory: name a file, or use --config-dir {path}")


def validate(conf: cfg.ConfigOpts) -> None:
    """Read every option of Artifice's groups once, so that a bad value fails now, in one line."""
    for group, group_opts in opts.list_opts(runtime=True):
        for opt in group_opts:
            try:
                conf[group][opt.dest]
            except (cfg.Error, ValueError) as exc:
                raise ConfigError(f"[{group}] {opt.name}: {_one_line(exc)}") from exc


def warn_unknown(conf: cfg.ConfigOpts) -> list[str]:
    """Warn of every key of Artifice's sections that is no option of it, with the closest valid name."""
    known: dict[str, set[str]] = {}
    for group, group_opts in opts.list_opts(runtime=True):  # a group may have several lists (billing)
        known.setdefault(group, set()).update(name for opt in group_opts for name in _names(opt))
    auth_type = raw_section(conf, openstack.CREDENTIALS_GROUP).get("auth_type")
    known.setdefault(openstack.CREDENTIALS_GROUP, set()).update(openstack.keystoneauth_option_names(auth_type))
    known["DEFAULT"] = {key for key in conf if not isinstance(conf[key], cfg.ConfigOpts.GroupAttr)}
    known["main"].add("invoice")  # the seed-000 line `invoice:object = ...`, as oslo's parser splits it
    warnings = []
    for path in config_files(conf):
        sections: dict[str, dict[str, list[str]]] = {}
        try:
            cfg.ConfigParser(path, sections).parse()
        except (cfg.ParseError, OSError):
            continue
        for section, keys in sections.items():
            valid = known.get(section)
            if valid is None:  # an adapter's or a plugin's own section: passed on as it is
                continue
            for key in sorted(set(keys) - valid):
                close = difflib.get_close_matches(key, sorted(valid), n=1)
                hint = f"; did you mean {close[0]}?" if close else ""
                warnings.append(f"{path}: [{section}] {key} is not an option of Artifice, it is ignored{hint}")
    for warning in warnings:
        LOG.warning("%s", warning)
    return warnings


def _names(opt: cfg.Opt) -> set[str]:
    names = {opt.name, opt.dest}
    names.update(d.name for d in opt.deprecated_opts if d.name)
    return names


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())


def config_files(conf: cfg.ConfigOpts) -> list[str]:
    """The files ``conf`` was read from, in precedence order (last wins)."""
    files = list(conf.config_file or [])
    dirs = conf.config_dir or []
    for directory in [dirs] if isinstance(dirs, str) else dirs:
        files.extend(sorted(glob.glob(os.path.join(directory, "*.conf"))))
    return files


_SECRET = re.compile(
    r"^\s*(password|api_key|api_token|secret|coordination_url)\s*=\s*\S|://[^/\s:@]+:[^@\s]+@", re.M | re.I
)


def readable_by_others(conf: cfg.ConfigOpts) -> list[str]:
    """Config files that hold a secret (a password, an API key, a URL with a password) and any user may read."""
    exposed = []
    for path in config_files(conf):
        try:
            if os.stat(path).st_mode & 0o004 and _SECRET.search(pathlib.Path(path).read_text(encoding="utf-8")):
                exposed.append(path)
        except (OSError, UnicodeDecodeError):
            continue
    return exposed


def raw_section(conf: cfg.ConfigOpts, section: str) -> dict[str, str]:
    """Every key of ``section`` across the config files, as plain strings."""
    merged: dict[str, str] = {}
    for path in config_files(conf):
        sections: dict[str, dict[str, list[str]]] = {}
        try:
            cfg.ConfigParser(path, sections).parse()
        except (cfg.ParseError, OSError) as exc:
            raise ConfigError(f"cannot read {path}: {exc}") from exc
        for key, values in sections.get(section, {}).items():
            merged[key] = values[-1]
    return merged


def _strip_quotes(value: str) -> str:
    value = value.strip()
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
        return value[1:-1]
    return value


def invoice_reference(conf: cfg.ConfigOpts) -> str:
    """The configured adapter reference (entry-point name or ``module:Class``)."""
    main = raw_section(conf, "main")
    ref = main.get(INVOICE_KEY)
    if ref is None and "invoice" in main:
        match = _OBJECT_VALUE.match(main["invoice"].strip())
        if not match:
            raise ConfigError(f"[main] invoice: expected `invoice:object = <adapter>`, got {main['invoice']!r}")
        ref = match.group(1)
    if ref is None:
        ref = str(conf.main[INVOICE_KEY])
    ref = _strip_quotes(ref)
    if not ref:
        raise ConfigError(f"[main] {INVOICE_KEY} is empty")
    return ref
