"""One error root for everything Artifice reports to a user.

Every error a user can cause (bad config, bad input, a refused run) is an
``ArtificeError``; the command-line tools print its message as one line and
exit non-zero. Anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from urllib.parse import quote, quote_plus


class ArtificeError(Exception):
    """Root of every error Artifice reports to its user."""

    exit_code = 1


class ConfigError(ArtificeError):
    """The configuration (INI file, meter mapping, rates file) is wrong."""

    exit_code = 2


class PluginLoadError(ConfigError):
    """A configured collector, invoice adapter or plugin cannot be loaded."""


class InputError(ArtificeError):
    """A command-line argument or API parameter is wrong."""

    exit_code = 2


class CollectionError(ArtificeError):
    """Telemetry could not be read completely; nothing is billed from it."""


class PricingError(ArtificeError):
    """A line cannot be priced (for example a service without a rate)."""


class StoreError(ArtificeError):
    """The billing database refused an operation or is not usable."""


class SchemaOutdated(StoreError):
    """The database schema is not at the version this code expects."""


class WindowConflict(StoreError):
    """The tenant already has a billed (or in-flight) window overlapping this one."""


class CommitError(ArtificeError):
    """The invoice adapter failed to commit an invoice to the ERP."""


class TransientCommitError(CommitError):
    """The ERP did not answer usably (timeout, connection lost, 5xx, 429).

    The invoice may or may not have been saved: the caller looks it up by its
    reference before trying again, and never re-sends blindly.
    """


class NotSent(TransientCommitError):
    """The request certainly never reached the ERP (connection refused, 429): safe to send again."""


class CannotLookUp(CommitError):
    """The adapter has no way to find an invoice by its reference."""


class LostWindow(WindowConflict):
    """Another run took the window over (this run's lease expired): this run stops touching it."""


_OS_REASON = re.compile(r"\[Errno -?\d+\] ([^'\"()\[\]]+)|\[SSL: [A-Z_]+\] ([^'\"()\[\]]+)")
_QUERY = re.compile(r"((?:https?://|(?<![\w/])/)[^\s?'\"()]*)\?[^\s'\"()]*")  # a URL or a path, then ?query
_PEER = re.compile(r"host='([^']+)', port=(\d+)")


def mask(text: str, secrets: Iterable[str]) -> str:
    """``text`` with each secret, as is or URL-encoded, replaced by ``***``."""
    for secret in secrets:
        if secret:
            for form in (secret, quote(secret, safe=""), quote_plus(secret, safe="")):
                text = text.replace(form, "***")
    return text


def describe(exc: BaseException, limit: int = 300, secrets: Iterable[str] = ()) -> str:
    """A low-level error in one line, its cause first: ``connection refused (erp.example:443)``.

    requests and urllib3 bury the operating system's reason at the end of a long repr; where it
    is there, it is what is said, with the peer. Anything else is its text, cut at ``limit``.
    ``secrets`` are masked before anything is cut or joined, so no part of one survives.
    """
    text = " ".join(mask(str(exc), secrets).split())
    reason = _OS_REASON.search(text)
    if reason:
        peer = _PEER.search(text)
        cause = (reason.group(1) or f"TLS: {reason.group(2)}").strip().rstrip(".")
        cause = cause[0].lower() + cause[1:] if cause[:1].isupper() and not cause[1:2].isupper() else cause
        return f"{cause} ({peer.group(1)}:{peer.group(2)})" if peer else cause
    text = _QUERY.sub(r"\1", text)  # a URL's query string may hold a reference or a key
    return text if len(text) <= limit else text[: limit - 3] + "..."


SECRET_KEY = re.compile(r"pass|secret|token|key|credential", re.IGNORECASE)


def safe_text(adapter: object, exc: BaseException) -> str:
    """``Type: text`` of an exception an adapter let through, in one line, with no query string and no
    value of its config (``adapter.config``, or ``adapter`` itself when it is the section) whose key names
    a secret (``password``, ``api_key``, ``token``...)."""
    config = adapter if isinstance(adapter, Mapping) else getattr(adapter, "config", None)
    items = config.items() if isinstance(config, Mapping) else ()
    secrets = [str(value) for key, value in items if SECRET_KEY.search(str(key)) and str(value).strip()]
    return f"{exc.__class__.__name__}: {describe(exc, secrets=secrets)}" if str(exc) else repr(exc)


# What reading an answer that is not the API's JSON raises: invalid JSON, a number too large for a
# float, nesting deeper than Python's decoders recurse, another shape than the API's.
UNREADABLE = (ValueError, OverflowError, RecursionError, KeyError, TypeError, AttributeError)
