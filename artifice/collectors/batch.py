"""Reading the tenants of a billing pass a batch at a time.

A pass bills tenants one by one, but a collector that can read many tenants in
one request (Gnocchi's ``aggregates`` with ``project_id in [...]``) should not
be asked once per tenant. The pass *plans* the tenants it is about to bill;
the first ``collect`` of a planned tenant reads it and the next
``tenants_per_read - 1`` planned tenants together, and each later ``collect``
takes its own rows. At most one batch is held, so memory is bounded by the
batch, not by the cloud.

A batch that fails is not fatal: the tenants of that batch are read one by
one, so one bad tenant fails only its own window.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import pandas as pd

from artifice.collectors.base import Collector
from artifice.exceptions import CollectionError
from artifice.timeutil import Window

LOG = logging.getLogger(__name__)


class BatchReader:
    """The planned tenants of one window, read ``collector.tenants_per_read`` at a time."""

    def __init__(self) -> None:
        self._window: Window | None = None
        self._position: dict[str, int] = {}
        self._planned: list[str] = []
        self._ready: dict[str, pd.DataFrame] = {}

    def plan(self, window: Window, tenant_ids: Sequence[str]) -> None:
        """The tenants about to be billed for ``window``, in billing order."""
        self._window = window
        self._planned = list(dict.fromkeys(tenant_ids))
        self._position = {tenant: index for index, tenant in enumerate(self._planned)}
        self._ready = {}

    def collect(
        self, collector: Collector, tenant_id: str, window: Window, meters: Sequence[str], lead_in: int
    ) -> pd.DataFrame:
        """The tenant's raw samples, from the current batch or a new one when it is planned."""
        if window == self._window and tenant_id in self._ready:
            return self._ready.pop(tenant_id)
        size = collector.tenants_per_read
        if size <= 1 or window != self._window or tenant_id not in self._position:
            return collector.collect(tenant_id, window, meters, lead_in)
        first = self._position[tenant_id]
        batch = self._planned[first : first + size]
        try:
            frame = collector.collect_many(batch, window, meters, lead_in)
        except CollectionError as exc:
            LOG.warning("reading %d tenants at once failed, reading them one by one: %s", len(batch), exc)
            for tenant in batch:
                del self._position[tenant]
            return collector.collect(tenant_id, window, meters, lead_in)
        self._ready = _split(frame, batch)
        return self._ready.pop(tenant_id)


def _split(frame: pd.DataFrame, tenant_ids: Sequence[str]) -> dict[str, pd.DataFrame]:
    """Each tenant's rows (an empty frame for a tenant without any)."""
    parts = {str(t): part.reset_index(drop=True) for t, part in frame.groupby("tenant_id", observed=True)}
    return {tenant: parts.get(tenant, frame.iloc[:0]) for tenant in tenant_ids}
