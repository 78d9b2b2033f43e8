"""JSON whose Decimals are JSON numbers with their exact digits, never a float's rounding."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

import orjson

_PLACEHOLDER = re.compile(r'"\\u0000(\d+)\\u0000"')


def plain(value: Decimal) -> str:
    """A Decimal as a plain decimal string, never in exponent notation."""
    return format(value, "f")


def dumps(document: Any) -> str:
    """``json.dumps`` of ``document`` with each Decimal written as its exact decimal text.

    Decimals become placeholders that json.dumps quotes, then one pass
    replaces every placeholder by the number's digits.
    """
    exact: list[str] = []

    def convert(value: Any) -> Any:
        if isinstance(value, Decimal):
            exact.append(plain(value))
            return f"\x00{len(exact) - 1}\x00"
        if isinstance(value, Mapping):
            return {key: convert(item) for key, item in value.items()}
        if isinstance(value, list | tuple):
            return [convert(item) for item in value]
        return value

    text = json.dumps(convert(document), ensure_ascii=True)
    return _PLACEHOLDER.sub(lambda match: exact[int(match.group(1))], text)


def encode(document: Any) -> bytes:
    """UTF-8 JSON of ``document`` as ``dumps`` writes it, through orjson (the read API's answers).

    Each Decimal goes in as an ``orjson.Fragment`` of its exact digits.
    """
    return orjson.dumps(document, default=_fragment)


def _fragment(value: Any) -> Any:
    if isinstance(value, Decimal):
        return orjson.Fragment(plain(value))
    if isinstance(value, Mapping):
        return dict(value)
    raise TypeError(f"{type(value).__name__} is not JSON serializable")
