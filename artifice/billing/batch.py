"""Reading the tenants of a billing pass a batch at a time, the next batch while this one is billed.

A pass bills tenants one by one, but a collector that can read many tenants in
one request (Gnocchi's ``aggregates`` with ``project_id in [...]``) should not
be asked once per tenant. The pass *plans* the tenants it is about to bill;
the first ``collect`` of a planned tenant reads it and the next
``tenants_per_read - 1`` planned tenants together, and each later ``collect``
takes its own rows. As soon as a batch is read, the next planned batch is read
in a background thread, so the telemetry server answers it while this one is
rated, priced and committed. At most two batches are held (the one being
billed and the next), so memory is bounded by the batch size, not by the cloud.

A batch that fails is not fatal: the tenants of that batch are read one by
one, so one bad tenant fails only its own window.
"""

from __future__ import annotations

import concurrent.futures
import logging
from collections.abc import Sequence
from typing import NamedTuple

import pandas as pd

from artifice.collectors.base import Collector
from artifice.exceptions import CollectionError
from artifice.timeutil import Window

LOG = logging.getLogger(__name__)


class _Asked(NamedTuple):
    """What a read was asked with: a prefetched batch serves only the same question."""

    collector: int  # id() of the collector
    window: Window
    meters: tuple[str, ...]
    lead_in: int


class _Read:
    """One batch (planned tenants from ``start``) being read, and what it was asked with."""

    def __init__(self, start: int, batch: list[str], asked: _Asked,
                 future: concurrent.futures.Future[pd.DataFrame]) -> None:  # fmt: skip
        self.start, self.batch, self.asked, self.future = start, batch, asked, future


class BatchReader:
    """The planned tenants of one window, read ``collector.tenants_per_read`` at a time."""

    def __init__(self) -> None:
        self._window: Window | None = None
        self._position: dict[str, int] = {}
        self._planned: list[str] = []
        self._ready: dict[str, pd.DataFrame] = {}
        self._next: _Read | None = None
        self._reader = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="artifice-prefetch")

    def plan(self, window: Window, tenant_ids: Sequence[str]) -> None:
        """The tenants about to be billed for ``window``, in billing order."""
        self._window = window
        self._planned = list(dict.fromkeys(tenant_ids))
        self._position = {tenant: index for index, tenant in enumerate(self._planned)}
        self._ready = {}
        self._next = None  # a read still running is left to finish; its rows are not used

    def collect(
        self, collector: Collector, tenant_id: str, window: Window, meters: Sequence[str], lead_in: int
    ) -> pd.DataFrame:
        """The tenant's raw samples, from the current batch or a new one when it is planned."""
        if window == self._window and tenant_id in self._ready:
            return self._ready.pop(tenant_id)
        size = collector.tenants_per_read
        if size <= 1 or window != self._window or tenant_id not in self._position:
            return collector.collect(tenant_id, window, meters, lead_in)
        asked = _Asked(id(collector), window, tuple(meters), lead_in)
        read, self._next = self._next, None
        if read is None or read.asked != asked or tenant_id not in read.batch:
            read = self._read(collector, self._position[tenant_id], asked)
        try:
            frame = read.future.result()
        except CollectionError as exc:
            # INFO: each tenant read alone then reports its own failure, once.
            LOG.info("reading %d tenants at once failed, reading them one by one: %s", len(read.batch), exc)
            for tenant in read.batch:
                self._position.pop(tenant, None)
            return collector.collect(tenant_id, window, meters, lead_in)
        following = read.start + len(read.batch)
        if following < len(self._planned):
            self._next = self._read(collector, following, asked)
        self._ready = _split(frame, read.batch)
        return self._ready.pop(tenant_id)

    def _read(self, collector: Collector, start: int, asked: _Asked) -> _Read:
        """Start reading the planned tenants from ``start``, one batch, in the background."""
        batch = self._planned[start : start + collector.tenants_per_read]
        future = self._reader.submit(collector.collect_many, batch, asked.window, asked.meters, asked.lead_in)
        return _Read(start, batch, asked, future)


def _split(frame: pd.DataFrame, tenant_ids: Sequence[str]) -> dict[str, pd.DataFrame]:
    """Each tenant's rows (an empty frame for a tenant without any)."""
    parts = {str(t): part.reset_index(drop=True) for t, part in frame.groupby("tenant_id", observed=True)}
    return {tenant: parts.get(tenant, frame.iloc[:0]) for tenant in tenant_ids}
