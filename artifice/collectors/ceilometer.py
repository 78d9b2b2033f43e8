"""Ceilometer v2 API collector (python-ceilometerclient over a keystoneauth1 session).

Per tenant, region and meter it asks for exactly the window it needs:

- ``uptime``, ``gauge`` and ``delta`` meters need every sample (state, time
  weighting, counter resets): ``GET /v2/meters/<name>`` with an explicit
  ``limit``, paged backwards in time (the API returns newest first and has no
  offset), so the server's silent default of 100 results never truncates usage;
- ``max`` and ``sum`` meters are exact from ``GET /v2/meters/<name>/statistics``
  grouped by resource, one request per trusted source.

Transient errors are retried with backoff; when they persist the tenant's
window fails with an error naming the tenant and endpoint (nothing partial is
billed).
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import Any, TypeAlias
from urllib import parse

import numpy as np
import pandas as pd
from ceilometerclient import exc as ceilo_exc
from ceilometerclient.v2 import client as ceilo_client
from ceilometerclient.v2 import options
from keystoneauth1 import adapter
from keystoneauth1 import exceptions as ks_exc

from artifice import openstack
from artifice.collectors import ceilometer_scan
from artifice.collectors.api import ApiCollector
from artifice.collectors.base import concat
from artifice.collectors.ceilometer_format import decode_page, page_frame, samples_frame
from artifice.collectors.ceilometer_scan import ScannedPage, identity, scanned_frame
from artifice.exceptions import UNREADABLE, CollectionError
from artifice.model import Tenant
from artifice.timeutil import Window

GROUP = "collector:ceilometer"
STATISTICS_TRANSFORMERS = ("max", "sum")
_ERRORS = (ceilo_exc.HTTPException, ceilo_exc.BaseException, ks_exc.ClientException)
_NAT = np.iinfo(np.int64).min  # an unreadable time, as numpy and pandas hold it
Page: TypeAlias = ScannedPage | pd.DataFrame  # a page scanned into columns, or decoded into a frame


class CeilometerCollector(ApiCollector):
    group = GROUP
    service = "metering"

    def _client(self, region: str) -> Any:
        if region not in self._clients:
            credentials = self.conf[openstack.CREDENTIALS_GROUP]
            self._clients[region] = openstack.call(
                self.conf,
                f"connecting to Ceilometer at {self.endpoint(region)}",
                _ERRORS,
                ceilo_client.Client,
                session=self.session,
                region_name=region,
                interface=credentials.interface,
                endpoint_override=self.options.endpoints.get(region),
            )
        return self._clients[region]

    def tenants(self, window: Window) -> list[Tenant]:
        """Every project with usage of a mapped meter in the window, in any region."""
        found: set[str] = set()
        for region in self.regions():
            for meter in sorted(self.transformers):
                query = _window_query(window)
                stats = self._call(
                    region, f"listing projects of {meter}", "statistics.list", meter, q=query, groupby=["project_id"]
                )
                found.update(str(s.groupby["project_id"]) for s in stats if s.groupby.get("project_id"))
        return [Tenant(t) for t in sorted(found)]

    def collect(self, tenant_id: str, window: Window, meters: Sequence[str], lead_in: int) -> pd.DataFrame:
        parts: list[Page] = []
        for region in self.regions():
            for meter in meters:
                if self.transformers.get(meter) in STATISTICS_TRANSFORMERS:
                    parts.append(samples_frame(self._statistics_rows(region, tenant_id, meter, window), region))
                else:
                    start = window.start - pd.Timedelta(seconds=lead_in)
                    parts.extend(self._samples(region, tenant_id, meter, Window(start, window.end)))
        return pages_frame(parts)

    def _call(self, region: str, what: str, method: str, *args: Any, **kwargs: Any) -> Any:
        manager_name, _, function_name = method.partition(".")
        function = getattr(getattr(self._client(region), manager_name), function_name)
        self.requests += 1
        return openstack.call(
            self.conf, f"{what} from Ceilometer at {self.endpoint(region)}", _ERRORS, function, *args, **kwargs
        )

    def _samples(self, region: str, tenant_id: str, meter: str, span: Window) -> list[Page]:
        """All samples in ``span``, paging backwards from its end; a sample two pages repeat is kept once.

        A page ending at time T asks for the next one up to T included (samples can share a
        timestamp), so only the samples at T can come back: those already read are left out.
        """
        page_size = self.options.page_size
        upper, upper_op = span.end, "lt"
        pages: list[Page] = []
        bound, at_bound = _NAT, set[str]()  # the last page's oldest time, and the samples read at it
        while True:
            query = [_eq("project_id", tenant_id), *_window_query(Window(span.start, span.end), upper, upper_op)]
            url = options.build_url(f"/v2/meters/{parse.quote(meter, safe='')}", query, [f"limit={page_size}"])
            body = self._call_raw(region, f"reading {meter} samples", url)
            try:
                page = read_page(body, region)
            except UNREADABLE as exc:
                raise CollectionError(
                    f"a page of {meter} samples from {self.endpoint(region)} cannot be read as a JSON list of "
                    f"samples: {exc.__class__.__name__}: {exc}"
                ) from exc
            times = _times(page)
            repeated = np.flatnonzero(times == bound)
            repeated = repeated[[key in at_bound for key in _identities(page, repeated)]]
            keep = np.ones(len(times), dtype=bool)
            keep[repeated] = False
            pages.append(_kept(page, keep))
            if len(times) < page_size:
                return pages
            if not keep.any():
                raise CollectionError(
                    f"more than {page_size} {meter} samples share one timestamp at "
                    f"{self.endpoint(region)}; raise [{GROUP}] page_size"
                )
            if times[-1] == _NAT:
                raise CollectionError(
                    f"the oldest {meter} sample of a page from {self.endpoint(region)} has no readable "
                    "timestamp: cannot ask for the page before it"
                )
            if times[-1] != bound:
                bound, at_bound = times[-1], set()
            at_bound.update(_identities(page, np.flatnonzero(keep & (times == bound))))
            upper, upper_op = pd.Timestamp(bound, tz="UTC").to_pydatetime(), "le"

    def _call_raw(self, region: str, what: str, url: str) -> bytes:
        """GET ``url`` of the region's metering endpoint through the session: the answer's body."""
        key = f"{region} (raw)"
        if key not in self._clients:
            credentials = self.conf[openstack.CREDENTIALS_GROUP]
            self._clients[key] = adapter.Adapter(
                self.session, service_type=self.service, interface=credentials.interface, region_name=region,
                endpoint_override=self.options.endpoints.get(region),
            )  # fmt: skip
        self.requests += 1

        def fetch() -> bytes:
            body: bytes = self._clients[key].get(url, headers={"Accept": "application/json"}).content
            return body

        return openstack.call(self.conf, f"{what} from Ceilometer at {self.endpoint(region)}", _ERRORS, fetch)

    def _statistics_rows(self, region: str, tenant_id: str, meter: str, window: Window) -> list[dict[str, Any]]:
        """One synthetic sample per resource and source carrying its exact max or sum."""
        field = "max" if self.transformers[meter] == "max" else "sum"
        rows = []
        for source in self.conf.metering.trust_sources:
            query = [_eq("project_id", tenant_id), _eq("source", source), *_window_query(window)]
            stats = self._call(
                region, f"reading {meter} statistics", "statistics.list", meter, q=query, groupby=["resource_id"]
            )
            for stat in stats:
                rows.append(
                    {
                        "counter_name": meter,
                        "counter_unit": stat.unit,
                        "counter_volume": getattr(stat, field),
                        "project_id": tenant_id,
                        "resource_id": stat.groupby["resource_id"],
                        "timestamp": window.start.replace(tzinfo=None).isoformat(),
                        "source": source,
                        "message_id": None,
                    }
                )
        return rows


def _times(page: Page) -> np.ndarray:
    """Each sample's time in ns (``_NAT`` where unreadable)."""
    if isinstance(page, ScannedPage):
        return page.times
    return np.asarray(page["timestamp"].array.asi8)


def _identities(page: Page, rows: np.ndarray) -> list[str]:
    """What tells each of ``rows`` from the same sample repeated on the next page."""
    if isinstance(page, ScannedPage):
        return page.identities(rows)
    picked = page.iloc[rows].astype(object).where(page.iloc[rows].notna(), None)
    return [
        identity(r.message_id, r.resource_id, r.source, time, r.meter, r.volume)
        for r, time in zip(picked.itertuples(), _times(page)[rows], strict=True)
    ]


def _kept(page: Page, keep: np.ndarray) -> Page:
    if isinstance(page, ScannedPage):
        page.keep = None if keep.all() else keep
        return page
    return page[keep].reset_index(drop=True)


def read_page(body: bytes, region: str) -> Page:
    """A page of samples: scanned into columns, or (the scanner declines it) decoded into a frame."""
    scanned = ceilometer_scan.scan(body, region)  # an empty page is a ScannedPage too
    return scanned if scanned is not None else page_frame(decode_page(body), region)


def pages_frame(parts: Sequence[Page]) -> pd.DataFrame:
    """One raw frame of the parts in order, each run of scanned pages framed at once."""
    frames = [
        scanned_frame(list(run)) if scanned else concat(list(run))
        for scanned, run in itertools.groupby(parts, key=lambda part: isinstance(part, ScannedPage))
    ]
    return concat(frames) if frames else samples_frame([], "")


def _eq(field: str, value: str) -> dict[str, str]:
    return {"field": field, "op": "eq", "value": value}


def _window_query(window: Window, upper: Any = None, upper_op: str = "lt") -> list[dict[str, str]]:
    end = upper if upper is not None else window.end
    return [
        {"field": "timestamp", "op": "ge", "value": _naive(window.start)},
        {"field": "timestamp", "op": upper_op, "value": _naive(end)},
    ]


def _naive(moment: Any) -> str:
    """Ceilometer stores naive UTC; send it the same, with microseconds."""
    return str(pd.Timestamp(moment).tz_convert("UTC").tz_localize(None).isoformat(timespec="microseconds"))
