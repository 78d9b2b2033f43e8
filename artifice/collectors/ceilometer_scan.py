"""Ceilometer sample pages scanned in C into the raw-usage columns, no Python object per sample.

``_wirescan.scan`` (``_wirescan.c``) reads a page of the plain shape the v2 API sends into,
per field, codes into the field's distinct wire values, plus nanosecond timestamps and
float volumes. What is done per value (names cleaned, metadata decoded and looked up) is
then done once per distinct value, exactly as ``ceilometer_format.page_frame`` does it. A
page the scanner does not take (an odd value anywhere, or no C compiler at install time)
is decoded by ``ceilometer_format``; both give the same frame.
"""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Sequence
from typing import Any

import msgspec
import numpy as np
import pandas as pd

from artifice.collectors import ceilometer_format as wire
from artifice.collectors.base import RAW_COLUMNS, TIME_COLUMNS, conform, parse_timestamps, utc
from artifice.collectors.wirescan import scanner, unescaped

# The scanner's fields, in its order, by the raw schema's column they become.
_NAMES = {"meter": 0, "unit": 1, "counter_type": 2, "tenant_id": 3, "resource_id": 4, "source": 5}
_MESSAGE, _METADATA = 6, 7
_ANY = msgspec.json.Decoder()


@dataclasses.dataclass
class ScannedPage:
    """One page as columns: per field, codes (-1: missing) into its distinct wire values."""

    region: str
    codes: tuple[np.ndarray, ...]
    distinct: tuple[list[str | bytes], ...]  # str, or bytes: a string with escapes, the raw metadata
    plain: tuple[bool, ...]  # no distinct value needs cleaning (empty, escaped, padded)
    times: np.ndarray  # int64 ns, INT64_MIN (NaT) where missing
    volumes: np.ndarray
    keep: np.ndarray | None = None  # the rows to use; None: all

    def __len__(self) -> int:
        return len(self.times)

    def identities(self, rows: np.ndarray) -> list[str]:
        """What tells each row's sample from the same sample on another page (``identity``)."""
        texts = [self._text(_MESSAGE, row) for row in rows]
        return [
            identity(message, self._text(_NAMES["resource_id"], row), self._text(_NAMES["source"], row),
                     int(self.times[row]), self._text(_NAMES["meter"], row), float(self.volumes[row]))
            for row, message in zip(rows, texts, strict=True)
        ]  # fmt: skip

    def _text(self, field: int, row: int) -> str | None:
        code = self.codes[field][row]
        return None if code < 0 else wire.name_value(unescaped(self.distinct[field][code]))


def identity(message_id: str | None, resource_id: str | None, source: str | None, time: int, meter: str | None,
             volume: float | None) -> str:  # fmt: skip
    """A sample's message id, else its own fields: what two pages repeating one sample agree on."""
    if message_id:
        return message_id
    missing = volume is None or math.isnan(volume)  # NaN from the scanner, None from a frame
    return repr((resource_id, source, int(time), meter, None if missing else volume))


def scan(body: bytes, region: str) -> ScannedPage | None:
    """The page as columns, or None when the scanner does not take it (decode it with ``ceilometer_format``)."""
    if scanner is None:
        return None
    scanned = scanner.scan_samples(body)
    if scanned is None:
        return None
    _count, codes, distinct, plain, times, volumes = scanned
    return ScannedPage(
        region=region,
        codes=tuple(np.frombuffer(c, dtype=np.int32) for c in codes),
        distinct=distinct,
        plain=plain,
        times=np.frombuffer(times, dtype=np.int64),
        volumes=np.frombuffer(volumes, dtype=np.float64),
    )


def scanned_frame(pages: Sequence[ScannedPage]) -> pd.DataFrame:
    """The raw-usage frame of the kept rows of ``pages``, as ``page_frame`` builds it from the same samples."""
    rows = [slice(None) if page.keep is None else page.keep for page in pages]
    columns: dict[str, Any] = {}
    for name, field in _NAMES.items():
        codes, distinct = _gathered(pages, rows, field)
        columns[name] = wire.categorical(codes, [wire.name_value(unescaped(v)) for v in distinct])
    columns["message_id"] = _message_ids(pages, rows)
    columns["timestamp"] = utc(np.concatenate([page.times[keep] for page, keep in zip(pages, rows, strict=True)]))
    columns["volume"] = np.concatenate([page.volumes[keep] for page, keep in zip(pages, rows, strict=True)])
    codes, distinct = _gathered(pages, rows, _METADATA)
    which, metadata = _distinct_metadata(codes, distinct)
    for name, keys in wire.FROM_METADATA.items():
        found = [wire.metadata_value(m, keys) for m in metadata]
        if name in TIME_COLUMNS:  # each distinct time parsed once, as conform parses text
            times = parse_timestamps(pd.Series([*found, None], dtype=object)).astype(RAW_COLUMNS[name])
            columns[name] = times.iloc[which].reset_index(drop=True)
        else:
            columns[name] = wire.categorical(which, found)
    columns["region"] = _regions(pages, rows)
    return conform(pd.DataFrame(columns))


def _regions(pages: Sequence[ScannedPage], rows: list[Any]) -> pd.Categorical:
    """Each kept row's page's region, as a categorical of the regions that have rows."""
    counts = [len(page.times[keep]) for page, keep in zip(pages, rows, strict=True)]
    regions = sorted({page.region for page, count in zip(pages, counts, strict=True) if count})
    codes = [regions.index(page.region) if count else -1 for page, count in zip(pages, counts, strict=True)]
    return pd.Categorical.from_codes(np.repeat(codes, counts), categories=pd.Index(regions, dtype="str"))


def _gathered(pages: Sequence[ScannedPage], rows: list[Any], field: int) -> tuple[np.ndarray, list[str | bytes]]:
    """The kept rows' codes of ``field`` into the pages' distinct values laid one after the other."""
    if len(pages) == 1:
        return pages[0].codes[field][rows[0]], pages[0].distinct[field]
    distinct: list[str | bytes] = []
    offsets = []
    for page in pages:
        offsets.append(len(distinct))
        distinct.extend(page.distinct[field])
    codes = np.concatenate([page.codes[field][keep] for page, keep in zip(pages, rows, strict=True)])
    shift = np.repeat(offsets, [len(page.times[keep]) for page, keep in zip(pages, rows, strict=True)])
    return np.where(codes < 0, -1, codes + shift), distinct


def _message_ids(pages: Sequence[ScannedPage], rows: list[Any]) -> np.ndarray:
    codes, distinct = _gathered(pages, rows, _MESSAGE)
    if all(page.plain[_MESSAGE] for page in pages):  # as they are: nothing to clean
        values = np.empty(len(distinct) + 1, dtype=object)
        values[:-1] = distinct
    else:
        values = np.array([*(wire.name_value(unescaped(v)) for v in distinct), None], dtype=object)
    ids: np.ndarray = values[codes]  # -1: the None at the end
    return ids


def _distinct_metadata(codes: np.ndarray, raw: list[str | bytes]) -> tuple[np.ndarray, list[Any]]:
    """Each distinct metadata value decoded once: codes into them, and the values."""
    position: dict[str | bytes, int] = {}
    remap = np.array([*(position.setdefault(value, len(position)) for value in raw), -1], dtype=np.int64)
    return remap[codes], [_metadata(value) for value in position]


def _metadata(raw: str | bytes) -> Any:
    try:
        return _ANY.decode(raw)
    except msgspec.MsgspecError:  # JSON msgspec is stricter about (1e400, a lone surrogate)
        return json.loads(raw)
