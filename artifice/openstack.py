"""keystoneauth1 sessions from config, and retries of transient API errors."""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import Any, TypeVar

import tenacity
from keystoneauth1 import exceptions as ks_exc
from keystoneauth1 import loading as ks_loading
from keystoneauth1 import session as ks_session
from oslo_config import cfg

from artifice.exceptions import UNREADABLE, CollectionError, ConfigError, describe

LOG = logging.getLogger(__name__)

CREDENTIALS_GROUP = "service_credentials"
REQUEST_TIMEOUT = 60  # seconds, for every telemetry and Keystone request unless [group] timeout says otherwise
T = TypeVar("T")

service_credentials_opts = [
    cfg.StrOpt("region_name", help="Region of the identity service catalog to use."),
    cfg.StrOpt(
        "interface",
        default="public",
        choices=("public", "internal", "admin", "publicURL", "internalURL", "adminURL"),
        help="Catalog interface of the OpenStack endpoints to use.",
    ),
]

retry_opts = [
    cfg.IntOpt("retries", default=4, min=0, help="Retries of a telemetry request that failed transiently."),
    cfg.FloatOpt("retry_wait", default=1.0, min=0, help="First wait in seconds between retries (doubles)."),
]


def credential_opts(runtime: bool = False) -> list[cfg.Opt]:
    """Options of ``[service_credentials]``; the sample file shows password auth's."""
    common = [
        *service_credentials_opts,
        *ks_loading.get_session_conf_options(),
        *ks_loading.get_auth_common_conf_options(),
    ]
    return common if runtime else [*common, *ks_loading.get_auth_plugin_conf_options("password")]


@functools.cache
def keystoneauth_option_names(auth_type: str | None) -> frozenset[str]:
    """The options keystoneauth reads from a group: its session's, and those of the ``auth_type`` plugin."""
    names = {o.dest for o in ks_loading.get_session_conf_options()} | {"auth_type", "auth_section"}
    try:
        options = ks_loading.get_auth_plugin_conf_options(auth_type) if auth_type else []
    except ks_exc.NoMatchingPlugin:  # make_session reports that one
        options = []
    names.update(name for o in options for name in (o.name, o.dest))
    return frozenset(names)


def make_session(conf: cfg.ConfigOpts, group: str = CREDENTIALS_GROUP) -> ks_session.Session:
    """A session authenticated as configured in ``group`` (any keystoneauth plugin)."""
    ks_loading.register_session_conf_options(conf, group)
    ks_loading.register_auth_conf_options(conf, group)
    conf.set_default("timeout", REQUEST_TIMEOUT, group=group)  # keystoneauth's own default is none: wait forever
    try:
        auth = ks_loading.load_auth_from_conf_options(conf, group)
    except (ks_exc.MissingRequiredOptions, ks_exc.NoMatchingPlugin) as exc:
        raise ConfigError(f"[{group}]: {exc}") from exc
    if auth is None:
        raise ConfigError(f"[{group}] auth_type is not set (e.g. password, or none with an endpoint)")
    return ks_loading.load_session_from_conf_options(conf, group, auth=auth)


def is_transient(exc: BaseException) -> bool:
    """Connection trouble and 5xx answers are worth retrying; 4xx are not."""
    if isinstance(exc, (ks_exc.ConnectFailure, ks_exc.ConnectTimeout, ks_exc.RetriableConnectionFailure)):
        return True
    status = getattr(exc, "http_status", None) or getattr(exc, "code", None) or getattr(exc, "status_code", None)
    return isinstance(status, int) and (status >= 500 or status == 429)


def call(
    conf: cfg.ConfigOpts,
    what: str,
    errors: tuple[type[BaseException], ...],
    function: Callable[..., T],
    *args: Any,
    **kwargs: Any,
) -> T:
    """Run ``function``, retrying transient ``errors``; then fail with ``what`` in the message."""

    def announce(state: tenacity.RetryCallState) -> None:  # a wait is never silent
        error = state.outcome.exception() if state.outcome else None
        wait = state.next_action.sleep if state.next_action else 0
        LOG.warning("%s: %s; retrying in %.1f s (retry %d of %d)", what, _one_line(error) if error else "failed",
                    wait, state.attempt_number, conf.telemetry.retries)  # fmt: skip

    retrying = tenacity.Retrying(
        retry=tenacity.retry_if_exception(is_transient),
        stop=tenacity.stop_after_attempt(conf.telemetry.retries + 1),
        wait=tenacity.wait_exponential(multiplier=conf.telemetry.retry_wait, max=30),
        before_sleep=announce,
        reraise=True,
    )
    try:
        return retrying(function, *args, **kwargs)
    except (*errors, ks_exc.ClientException) as exc:  # type: ignore[misc]
        kind = "failed after retries" if is_transient(exc) and conf.telemetry.retries else "failed"
        raise CollectionError(f"{what} {kind}: {exc.__class__.__name__}: {_one_line(exc)}") from exc
    except UNREADABLE as exc:  # an answer that is not the API's JSON
        raise CollectionError(f"{what} failed: the answer is not valid API JSON: {_one_line(exc)}") from exc


def _one_line(exc: BaseException) -> str:
    return describe(exc)
