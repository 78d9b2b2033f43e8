"""Decode Ceilometer v2 samples (the JSON of ``GET /v2/meters/<name>``).

Two decoders with one result. ``page_frame`` is the collector's: msgspec decodes the page's
bytes straight into slotted structs (no dict per sample, the metadata kept as raw bytes),
each distinct metadata object is read once (a resource's metadata repeats on every poll),
and the columns are built and checked a column at a time. ``samples_frame`` takes sample
dicts, one value at a time; the fast decoder falls back to it for a column, or a page,
whose values are not the plain strings and numbers the API sends.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from operator import attrgetter
from typing import Any

import msgspec
import numpy as np
import pandas as pd

from artifice.collectors.base import TIME_COLUMNS, conform

_MISSING = {"", "none", "null"}
FLAVOR_KEYS = ("flavor.name", "instance_type")
STATUS_KEYS = ("status", "state")
STARTED_KEYS = ("launched_at", "created_at")  # Nova's launch, else any resource's creation
ENDED_KEYS = ("deleted_at", "terminated_at")
NAME_KEYS = ("display_name", "name")  # Nova and Cinder say display_name, Glance name


def metadata_value(metadata: Any, keys: Iterable[str]) -> str | None:
    """The first present value of ``keys``; "None" and nested dicts handled."""
    if not isinstance(metadata, Mapping):
        return None
    for key in keys:
        value: Any = metadata.get(key)
        if value is None and "." in key:
            head, _, tail = key.partition(".")
            nested = metadata.get(head)
            value = nested.get(tail) if isinstance(nested, Mapping) else None
        if value is not None and str(value).strip().lower() not in _MISSING:
            return str(value).strip()
    return None


def samples_frame(samples: Iterable[Mapping[str, Any]], region: str) -> pd.DataFrame:
    """Decode wire-format samples into the raw-usage schema.

    Unparseable fields become NA (NaT, NaN) for the engine to count and drop.
    """
    rows = [s for s in samples if isinstance(s, Mapping)]
    columns: dict[str, list[Any]] = {
        "tenant_id": [name_value(r.get("project_id")) for r in rows],
        "meter": [name_value(r.get("counter_name") or r.get("meter")) for r in rows],
        "resource_id": [name_value(r.get("resource_id")) for r in rows],
        "timestamp": [_text(r.get("timestamp")) for r in rows],
        "volume": [_number(r.get("counter_volume", r.get("volume"))) for r in rows],
        "unit": [name_value(r.get("counter_unit") or r.get("unit")) for r in rows],
        "source": [name_value(r.get("source")) for r in rows],
        "message_id": [name_value(r.get("message_id")) for r in rows],
        "flavor": [metadata_value(r.get("resource_metadata"), FLAVOR_KEYS) for r in rows],
        "status": [metadata_value(r.get("resource_metadata"), STATUS_KEYS) for r in rows],
        "counter_type": [name_value(r.get("counter_type") or r.get("type")) for r in rows],
        "started_at": [metadata_value(r.get("resource_metadata"), STARTED_KEYS) for r in rows],
        "ended_at": [metadata_value(r.get("resource_metadata"), ENDED_KEYS) for r in rows],
        "resource_name": [metadata_value(r.get("resource_metadata"), NAME_KEYS) for r in rows],
    }
    frame = pd.DataFrame(columns, dtype=object)
    frame["region"] = region
    return conform(frame)


def name_value(value: Any) -> str | None:
    """An id or a name: a non-empty string (numbers taken as text); anything else is missing."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return str(value)
    return value.strip() if isinstance(value, str) and value.strip() else None


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return None
    return None


class WireSample(msgspec.Struct, gc=False):
    """The fields of one v2 sample the raw schema needs; the metadata undecoded until needed.

    ``meter``, ``unit``, ``volume`` and ``type`` are the newer names of the ``counter_`` fields,
    read where those are empty (missing, for the volume), as ``samples_frame`` reads them.
    """

    counter_name: Any = None
    counter_unit: Any = None
    counter_volume: Any = msgspec.UNSET
    counter_type: Any = None
    meter: Any = None
    unit: Any = None
    volume: Any = None
    type: Any = None
    project_id: Any = None
    resource_id: Any = None
    timestamp: Any = None
    source: Any = None
    message_id: Any = None
    resource_metadata: msgspec.Raw = msgspec.Raw(b"null")


_PAGE = msgspec.json.Decoder(list[WireSample])
_SEPARATOR = "\x00"
_PADDED = re.compile(r"\x00\s|\s\x00")  # \s is str.isspace, what str.strip removes
_ANY = msgspec.json.Decoder()
_NAMES = {"tenant_id": "project_id", "resource_id": "resource_id", "source": "source"}
_EITHER = {"meter": ("counter_name", "meter"), "unit": ("counter_unit", "unit"),
           "counter_type": ("counter_type", "type")}  # fmt: skip
FROM_METADATA = {"flavor": FLAVOR_KEYS, "status": STATUS_KEYS, "started_at": STARTED_KEYS,
                  "ended_at": ENDED_KEYS, "resource_name": NAME_KEYS}  # fmt: skip


def decode_page(body: bytes) -> list[WireSample] | list[Any]:
    """A page of samples: ``WireSample``s, or (an element is not an object) the plain JSON values.

    Raises ``msgspec.DecodeError`` (a ``ValueError``) for a body that is not JSON.
    """
    try:
        return _PAGE.decode(body)
    except msgspec.MsgspecError:  # not a list of objects, or JSON msgspec is stricter about (NaN, 1e400)
        values = json.loads(body)
        if not isinstance(values, list):
            raise ValueError(f"a page of samples is a JSON list, not {type(values).__name__}") from None
        return values


def page_frame(samples: Sequence[WireSample], region: str) -> pd.DataFrame:
    """The raw-usage frame of decoded pages' samples, as ``samples_frame`` builds it from dicts.

    Each name column is factorized once and only its distinct values are checked and cleaned,
    becoming the categorical the raw schema wants (so ``conform`` has little left to do).
    """
    if set(map(type, samples)) - {WireSample}:
        return samples_frame([_as_dict(s) for s in samples if isinstance(s, WireSample | Mapping)], region)
    values = _Fields(samples)
    columns: dict[str, Any] = {name: _category(values[field]) for name, field in _NAMES.items()}
    columns["message_id"] = _names(values["message_id"])
    for name, (field, newer) in _EITHER.items():  # ``a or b``, as samples_frame reads them
        first = values[field]
        either = first if all(first) else [a or b for a, b in zip(first, values[newer], strict=True)]
        columns[name] = _category(either)
    columns["timestamp"] = _texts(values["timestamp"])
    volumes = values["counter_volume"]
    if msgspec.UNSET in volumes:
        volumes = [b if a is msgspec.UNSET else a for a, b in zip(volumes, values["volume"], strict=True)]
    columns["volume"] = _numbers(volumes)
    which, distinct = pd.factorize(np.array(list(map(bytes, values["resource_metadata"])), dtype=object))
    metadata = [_ANY.decode(raw) for raw in distinct]  # each distinct metadata object decoded once
    for name, keys in FROM_METADATA.items():
        found = [metadata_value(m, keys) for m in metadata]
        if name in TIME_COLUMNS:  # parsed by conform, from text
            columns[name] = np.array([*found, None], dtype=object)[which]
        else:
            columns[name] = categorical(which, found)
    frame = pd.DataFrame(columns)
    frame["region"] = region
    return conform(frame)


class _Fields(dict[str, list[Any]]):
    """One list per ``WireSample`` field, taken from the samples when first asked for."""

    def __init__(self, samples: Sequence[WireSample]) -> None:
        super().__init__()
        self.samples = samples

    def __missing__(self, field: str) -> list[Any]:
        self[field] = list(map(attrgetter(field), self.samples))
        return self[field]


def _category(values: list[Any]) -> pd.Categorical:
    """``_name`` of each value as a categorical: factorized, then only the distinct values cleaned."""
    if not set(map(type, values)) <= {str, type(None)}:  # numbers or bools as names: one at a time
        return pd.Categorical(np.array([name_value(v) for v in values], dtype=object))
    codes, distinct = pd.factorize(np.array(values, dtype=object))
    return categorical(codes, [name_value(value) for value in distinct])


def categorical(codes: Any, names: list[str | None]) -> pd.Categorical:
    """The categorical of ``names[code]`` per code (-1: missing), its categories sorted as pandas sorts them."""
    categories = sorted({name for name in names if name is not None})
    position = {name: index for index, name in enumerate(categories)}
    remap = np.array([-1 if name is None else position[name] for name in names] + [-1], dtype=np.int64)
    return pd.Categorical.from_codes(remap[codes], categories=categories)


def _as_dict(sample: WireSample | Mapping[str, Any]) -> Mapping[str, Any]:
    if isinstance(sample, Mapping):
        return sample
    fields = {field: getattr(sample, field) for field in sample.__struct_fields__}
    fields = {field: value for field, value in fields.items() if value is not msgspec.UNSET}
    fields["resource_metadata"] = _ANY.decode(sample.resource_metadata)
    return fields


def _names(values: list[Any]) -> Any:
    """``_name`` of each value: strings as they are unless blank or padded, one pass per column."""
    if set(map(type, values)) <= {str, type(None)}:
        array = np.array(values, dtype=object)
        strings = set(values) - {None}
        if "" not in strings and not _padded(strings):
            return array
        cleaned = {v: name_value(v) for v in strings}
        return np.array([None if v is None else cleaned[v] for v in values], dtype=object)
    return np.array([name_value(v) for v in values], dtype=object)


def _padded(strings: set[str]) -> bool:
    """Whether any of ``strings`` starts or ends with whitespace (what ``str.strip`` removes).

    All joined by NUL: one C-speed split finds whether there is whitespace at all (ids have
    none); only then does a regex look for it beside a NUL.
    """
    joined = _SEPARATOR + _SEPARATOR.join(strings) + _SEPARATOR
    return len(joined.split(maxsplit=1)) > 1 and _PADDED.search(joined) is not None


def _texts(values: list[Any]) -> Any:
    if set(map(type, values)) <= {str}:
        return np.array(values, dtype=object)
    return np.array([_text(v) for v in values], dtype=object)


def _numbers(values: list[Any]) -> Any:
    if set(map(type, values)) <= {float, int}:
        return np.array(values, dtype=float)
    return np.array([_number(v) for v in values], dtype=float)
