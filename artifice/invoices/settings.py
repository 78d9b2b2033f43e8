"""Adapter settings, declared as one pydantic model per adapter and read with one message style.

Seed 000 hands an adapter its ``[invoice:object]`` section as-is, one string per key. An adapter
declares what it reads::

    class MySettings(HttpSettings, RatedSettings):
        adapter: ClassVar[str] = "myerp"
        api_key: Secret
        tax_rate: Amount = Decimal(0)

    settings = MySettings.parse(config)   # ConfigError naming the key on a missing or bad value

A blank value (``key =``) counts as absent, so the default applies. Keys the model does not
declare are left alone (the section may be shared with the operator's own adapter). Secrets are
never echoed in an error.
"""

from __future__ import annotations

import os
import ssl
from collections.abc import Mapping
from decimal import Decimal
from typing import Annotated, Any, ClassVar, Self
from urllib.parse import urlsplit

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    SecretStr,
    StringConstraints,
    ValidationError,
    model_validator,
)

from artifice.exceptions import ConfigError

SECTION = "[invoice:object]"
TRUE = {"1", "true", "yes", "on"}
FALSE = {"0", "false", "no", "off"}


def _flag(value: Any) -> Any:
    text = str(value).strip().lower()
    if text not in TRUE | FALSE:
        raise ValueError("must be true or false")
    return text in TRUE


def _ascii_digits(value: Any) -> Any:
    if isinstance(value, str) and not (value.strip().isascii() and value.strip().lstrip("-").isdigit()):
        raise ValueError("must be a whole number")
    return value


def _http_url(value: str) -> str:
    parts = urlsplit(value)
    try:
        parts.port  # noqa: B018 - raises ValueError for a port that is no number from 0 to 65535
    except ValueError:
        raise ValueError("must be an http:// or https:// URL with a host and a valid port") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("must be an http:// or https:// URL with a host")
    return value.rstrip("/")


Flag = Annotated[bool, BeforeValidator(_flag)]
Amount = Annotated[Decimal, Field(ge=0, allow_inf_nan=False)]  # a tax rate, a percentage: exact
Places = Annotated[int, BeforeValidator(_ascii_digits), Field(ge=0, le=12)]  # decimals an ERP stores
Days = Annotated[int, BeforeValidator(_ascii_digits), Field(ge=0, le=3650)]
Seconds = Annotated[float, Field(gt=0, le=86400, allow_inf_nan=False)]
Plain = Annotated[str, StringConstraints(strip_whitespace=True)]
Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]
Url = Annotated[str, StringConstraints(strip_whitespace=True), AfterValidator(_http_url)]
Secret = SecretStr  # as written: a password may begin or end with a space


class AdapterSettings(BaseModel):
    """Base of every adapter's settings: parsed from the section's strings, frozen once read."""

    model_config = ConfigDict(extra="ignore", frozen=True)
    adapter: ClassVar[str] = "invoice"

    @classmethod
    def parse(cls, config: Mapping[str, Any]) -> Self:
        values = {key: value for key, value in config.items() if str(value).strip() != ""}
        try:
            return cls.model_validate(values)
        except ValidationError as exc:
            raise ConfigError("; ".join(cls._describe(error) for error in exc.errors())) from None

    @classmethod
    def _describe(cls, error: Any) -> str:
        key = str(error["loc"][0]) if error["loc"] else ""
        cause = error.get("ctx", {}).get("error")
        message = str(cause) if isinstance(cause, ValueError) else str(error["msg"]).replace("Input should", "must")
        if not key:
            return f"{SECTION} {message}"
        if error["type"] == "missing":
            return f"{SECTION} {key} is required by the {cls.adapter} adapter"
        field = cls.model_fields.get(key)
        secret = field is not None and field.annotation is SecretStr
        shown = "" if secret else f", not {error['input']!r}"
        return f"{SECTION} {key}: {message[:1].lower()}{message[1:]}{shown}"


class RatedSettings(AdapterSettings):
    """Prices from a rates file (``artifice.invoices.rates``)."""

    rates_file: Text


class HttpSettings(AdapterSettings):
    """An ERP behind one URL, asked with a connect and a read timeout, its certificate checked against
    ``ca_file`` (default: the system's trust store, as OpenStack services do)."""

    url: Url
    timeout: Seconds = 30.0
    connect_timeout: Seconds | None = None  # default: timeout
    ca_file: Plain = ""

    @model_validator(mode="after")
    def _readable_ca_file(self) -> Self:
        if self.ca_file and not os.access(self.ca_file, os.R_OK):
            raise ValueError(f"ca_file {self.ca_file}: no such readable file")
        return self

    @property
    def timeouts(self) -> tuple[float, float]:
        """``(connect, read)`` seconds."""
        return (self.connect_timeout or self.timeout), self.timeout

    @property
    def verify(self) -> str | bool:
        """What requests verifies the ERP's certificate with: ``ca_file``; else ``REQUESTS_CA_BUNDLE`` (True lets
        requests read it); else the system's CA bundle (``SSL_CERT_FILE``, or OpenSSL's default)."""
        if self.ca_file:
            return self.ca_file
        if os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE"):
            return True
        return ssl.get_default_verify_paths().cafile or True
