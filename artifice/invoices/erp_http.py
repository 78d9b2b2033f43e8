"""What the ERP adapters share: one HTTP sender (one-shot, errors mapped, secrets masked), exact money.

Every request is sent exactly once: no retries here (nor in urllib3 below us),
because a re-sent POST may create a second invoice. The pipeline looks the
invoice up by its reference before it tries again.

Error mapping: a request that never left (connection refused, connect
timeout) and a 429 raise :class:`NotSent`; a lost connection, a read timeout
and a 5xx raise :class:`TransientCommitError` (the invoice may or may not
exist); any other 4xx raises :class:`CommitError` with the ERP's own error text. Messages name
the method and the URL without its query string, and every configured secret
is masked, so an API key never reaches a log or the billing database.
"""

from __future__ import annotations

import dataclasses
import ssl
from collections.abc import Collection, Iterable, Iterator, Mapping
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, Self
from urllib.parse import urlsplit, urlunsplit

import requests
import urllib3

from artifice.exactjson import dumps, plain
from artifice.exceptions import CommitError, NotSent, TransientCommitError, describe, mask
from artifice.invoices.settings import HttpSettings
from artifice.model import LineValue

__all__ = ["dumps", "plain"]  # re-exported for the adapters


def safe_url(url: str) -> str:
    """``url`` without credentials, query string or fragment (a placeholder when it cannot be parsed)."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        netloc = f"{host}:{parts.port}" if parts.port else host
    except ValueError:
        return "<unparsable URL>"
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


def send(
    method: str,
    url: str,
    *,
    timeout: tuple[float, float],
    params: Mapping[str, str] | None = None,
    body: str | None = None,
    headers: Mapping[str, str] | None = None,
    secrets: Iterable[str] = (),
    content_type: str = "application/json",
    verify: str | bool = True,
) -> requests.Response:
    """Send one request once; return any response below 500 except 429, raise for the rest."""
    secrets = tuple(secrets)
    where = f"{method} {safe_url(url)}"
    all_headers = {"Accept": "application/json", **(headers or {})}
    if body is not None:
        all_headers["Content-Type"] = content_type
    try:
        with requests.Session() as session:  # urllib3 below retries nothing (requests' default)
            response = session.request(
                method,
                url,
                params=params,
                data=body.encode("utf-8") if body is not None else None,
                headers=all_headers,
                timeout=timeout,
                allow_redirects=False,
                verify=verify,
            )
    except requests.ConnectTimeout:
        raise NotSent(f"{where}: timed out after {timeout[0]:g} s connecting") from None
    except requests.Timeout:
        raise TransientCommitError(f"{where}: timed out after {timeout[1]:g} s waiting for the answer") from None
    except (requests.exceptions.InvalidURL, requests.exceptions.MissingSchema, requests.exceptions.InvalidSchema):
        # nothing left: a refusal (the window fails, naming the setting), never an unknown outcome
        raise CommitError(f"[invoice:object] url: cannot send {where}: not a usable http(s) URL") from None
    except requests.RequestException as exc:  # connection refused, reset, dropped without an answer
        detail = describe(exc.__context__ or exc, secrets=secrets)
        error = NotSent if _never_connected(exc) else TransientCommitError
        raise error(f"{where}: connection failed: {detail}") from None
    if response.status_code >= 500 or response.status_code == 429:
        text = error_text(response, secrets)
        error = NotSent if response.status_code == 429 else TransientCommitError  # 429: not handled, try later
        raise error(f"{where}: HTTP {response.status_code} {response.reason}: {text}".rstrip(": "))
    return response


@dataclasses.dataclass(frozen=True)
class Sender:
    """One adapter's way of asking its ERP: timeouts, headers (credentials) and the secrets to mask."""

    timeout: tuple[float, float]
    headers: Mapping[str, str] = dataclasses.field(default_factory=dict)
    secrets: tuple[str, ...] = ()
    verify: str | bool = True  # a CA bundle's path, or True: certifi's

    @classmethod
    def of(cls, settings: HttpSettings, headers: Mapping[str, str] | None = None, secrets: Iterable[str] = ()) -> Self:
        """The sender an adapter's HTTP settings describe (timeouts, CA bundle), with its credentials."""
        return cls(settings.timeouts, dict(headers or {}), tuple(s for s in secrets if s), settings.verify)

    def __call__(
        self,
        method: str,
        url: str,
        *,
        ok: Collection[int] = range(200, 300),
        params: Mapping[str, str] | None = None,
        body: str | None = None,
        content_type: str = "application/json",
    ) -> requests.Response:
        """Send once; an answer whose status is not in ``ok`` is raised (see :func:`refuse`)."""
        response = send(
            method,
            url,
            timeout=self.timeout,
            params=params,
            body=body,
            headers=self.headers,
            secrets=self.secrets,
            content_type=content_type,
            verify=self.verify,
        )
        if response.status_code not in ok:
            raise refuse(method, response, self.secrets)
        return response

    def mask(self, text: str) -> str:
        return mask(text, self.secrets)


def _never_connected(exc: requests.RequestException) -> bool:
    """True when no connection was made, so nothing was sent (refused, no route, unknown host, or a
    certificate refused during the handshake). Any other TLS error may come while the answer is read,
    after the ERP got the request: its outcome is unknown."""
    if isinstance(exc, requests.exceptions.SSLError):
        return any(isinstance(cause, ssl.SSLCertVerificationError) for cause in _causes(exc))
    reason = getattr(exc.args[0] if exc.args else None, "reason", None)
    return isinstance(exc, requests.ConnectionError) and isinstance(reason, urllib3.exceptions.NewConnectionError)


def _causes(exc: BaseException) -> Iterator[BaseException]:
    """``exc`` and what it wraps (urllib3 keeps the cause in ``reason`` and ``args``), a few levels deep."""
    seen, pending = 0, [exc]
    while pending and seen < 12:
        current = pending.pop()
        seen += 1
        yield current
        wrapped = [getattr(current, "reason", None), current.__cause__, *list(current.args)[:1]]
        pending += [w for w in wrapped if isinstance(w, BaseException)]


def refuse(method: str, response: requests.Response, secrets: Iterable[str] = ()) -> CommitError:
    """The error for a 3xx or 4xx answer, carrying the ERP's text.

    A 4xx is a refusal (CommitError: nothing was done). A redirect is not one: an ERP may answer
    303 See Other once it has created the invoice, so it is an unknown outcome (TransientCommitError).
    """
    text = error_text(response, secrets)
    where = f"{method} {safe_url(response.url)}"
    if 300 <= response.status_code < 400:
        return TransientCommitError(f"{where}: HTTP {response.status_code} {response.reason}, not followed".rstrip())
    return CommitError(f"{where} refused: HTTP {response.status_code} {response.reason}: {text}".rstrip(": "))


def error_text(response: requests.Response, secrets: Iterable[str] = ()) -> str:
    """The ERP's error text: JSON errors flattened to ``path: message; ...``, else the body's start.

    Secrets are masked first, before the text is joined or cut (a cut secret would not be recognised).
    """
    try:
        body = response.json()
    except ValueError:
        return " ".join(mask(response.text, secrets).split())[:500]
    flat = "; ".join(f"{path}: {message}" if path else message for path, message in flatten(body))
    return mask(flat, secrets)[:2000]


def flatten(value: Any, path: str = "") -> list[tuple[str, str]]:
    """``(dotted path, message)`` pairs of a nested JSON error document (a top ``errors`` key is dropped)."""
    if isinstance(value, Mapping):
        pairs = []
        for key, item in value.items():
            child = "" if not path and key in ("errors", "error") else f"{path}.{key}" if path else str(key)
            pairs.extend(flatten(item, child))
        return pairs
    if isinstance(value, list):
        return [pair for item in value for pair in flatten(item, path)]
    return [(path, str(value))] if value not in (None, "") else []


def exact_line(
    quantity: Decimal, unit_price: Decimal, amount: Decimal, quantity_places: int, price_places: int
) -> tuple[Decimal, Decimal]:
    """The ``(quantity, unit price)`` to send so that the ERP's line amount is exactly ``amount``.

    An ERP that stores fewer decimals than Artifice would round one of them and
    bill a different amount: such a line goes out as 1 x its amount instead
    (the caller then names the real quantity and unit price in its text).
    """
    fits = quantity == quantity.quantize(Decimal(1).scaleb(-quantity_places)) and unit_price == unit_price.quantize(
        Decimal(1).scaleb(-price_places)
    )
    if fits and (quantity * unit_price).quantize(amount, rounding=ROUND_HALF_UP) == amount:
        return quantity, unit_price
    return Decimal(1), amount


def fitted(value: LineValue, quantity_places: int, price_places: int) -> tuple[Decimal, Decimal, str]:
    """``(quantity, unit price, note)`` to send for ``value``; ``note`` names the real quantity and price
    when the line goes out as 1 x its amount (see :func:`exact_line`), else it is empty."""
    quantity, price = exact_line(value.quantity, value.unit_price, value.amount, quantity_places, price_places)
    exact = (quantity, price) == (value.quantity, value.unit_price)
    return quantity, price, "" if exact else f"{value.quantity} {value.unit} at {value.unit_price}"
