"""Offline collector: Ceilometer v2 samples exported to JSON files, one per region."""

from __future__ import annotations

import gzip
import json
from collections.abc import Sequence
from typing import Any

import pandas as pd
from oslo_config import cfg

from artifice.collectors.base import Collector
from artifice.collectors.ceilometer_format import samples_frame
from artifice.exceptions import CollectionError, ConfigError
from artifice.model import Tenant
from artifice.timeutil import Window


class SamplesFileCollector(Collector):
    """Reads every file once, then answers per tenant from memory."""

    def __init__(self, conf: cfg.ConfigOpts) -> None:
        super().__init__(conf)
        self.files: dict[str, str] = dict(conf["collector:samples"].region_files)
        if not self.files:
            raise ConfigError("[collector:samples] region_files is empty: name at least one Region:file")
        self._frame: pd.DataFrame | None = None

    def regions(self) -> Sequence[str]:
        return sorted(self.files)

    def _all(self) -> pd.DataFrame:
        if self._frame is None:
            frames = [samples_frame(_read(path), region) for region, path in sorted(self.files.items())]
            self._frame = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
            for column in ("tenant_id", "region", "meter", "resource_id", "unit", "source", "flavor", "status",
                           "counter_type"):  # fmt: skip
                self._frame[column] = self._frame[column].astype("category")
        return self._frame

    def tenants(self, window: Window) -> list[Tenant]:
        frame = self._all()
        inside = frame[(frame["timestamp"] >= window.start) & (frame["timestamp"] < window.end)]
        return [Tenant(str(t)) for t in sorted(inside["tenant_id"].dropna().unique())]

    def collect(self, tenant_id: str, window: Window, meters: Sequence[str], lead_in: int) -> pd.DataFrame:
        frame = self._all()
        first = window.start - pd.Timedelta(seconds=lead_in)
        wanted = (
            (frame["tenant_id"] == tenant_id)
            & frame["meter"].isin(list(meters))
            & (((frame["timestamp"] >= first) & (frame["timestamp"] < window.end)) | frame["timestamp"].isna())
        )
        return frame[wanted.to_numpy()].reset_index(drop=True)


def _read(path: str) -> list[Any]:
    opener = gzip.open if path.endswith(".gz") else open
    try:
        with opener(path, "rt", encoding="utf-8") as handle:
            data = json.load(handle)
    except OSError as exc:
        raise CollectionError(f"samples file {path}: {exc.strerror or exc}") from exc
    except (ValueError, EOFError) as exc:
        raise CollectionError(f"samples file {path}: not valid JSON: {exc}") from exc
    if not isinstance(data, list):
        raise CollectionError(f"samples file {path}: expected a JSON list of samples")
    return data
