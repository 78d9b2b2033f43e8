"""Decode Ceilometer v2 samples (the JSON of ``GET /v2/meters/<name>``)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import pandas as pd

from artifice.collectors.base import conform

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
        "tenant_id": [_name(r.get("project_id")) for r in rows],
        "meter": [_name(r.get("counter_name") or r.get("meter")) for r in rows],
        "resource_id": [_name(r.get("resource_id")) for r in rows],
        "timestamp": [_text(r.get("timestamp")) for r in rows],
        "volume": [_number(r.get("counter_volume", r.get("volume"))) for r in rows],
        "unit": [_name(r.get("counter_unit") or r.get("unit")) for r in rows],
        "source": [_name(r.get("source")) for r in rows],
        "message_id": [_name(r.get("message_id")) for r in rows],
        "flavor": [metadata_value(r.get("resource_metadata"), FLAVOR_KEYS) for r in rows],
        "status": [metadata_value(r.get("resource_metadata"), STATUS_KEYS) for r in rows],
        "counter_type": [_name(r.get("counter_type") or r.get("type")) for r in rows],
        "started_at": [metadata_value(r.get("resource_metadata"), STARTED_KEYS) for r in rows],
        "ended_at": [metadata_value(r.get("resource_metadata"), ENDED_KEYS) for r in rows],
        "resource_name": [metadata_value(r.get("resource_metadata"), NAME_KEYS) for r in rows],
    }
    frame = pd.DataFrame(columns, dtype=object)
    frame["region"] = region
    return conform(frame)


def _name(value: Any) -> str | None:
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
