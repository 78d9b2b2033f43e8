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

from collections.abc import Sequence
from typing import Any
from urllib import parse

import pandas as pd
from ceilometerclient import exc as ceilo_exc
from ceilometerclient.v2 import client as ceilo_client
from ceilometerclient.v2 import options
from keystoneauth1 import adapter
from keystoneauth1 import exceptions as ks_exc

from artifice import openstack
from artifice.collectors.api import ApiCollector
from artifice.collectors.base import conform
from artifice.collectors.ceilometer_format import decode_page, page_frame, samples_frame
from artifice.exceptions import CollectionError
from artifice.model import Tenant
from artifice.timeutil import Window

GROUP = "collector:ceilometer"
STATISTICS_TRANSFORMERS = ("max", "sum")
_ERRORS = (ceilo_exc.HTTPException, ceilo_exc.BaseException, ks_exc.ClientException)


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
        frames = []
        for region in self.regions():
            for meter in meters:
                if self.transformers.get(meter) in STATISTICS_TRANSFORMERS:
                    frames.append(samples_frame(self._statistics_rows(region, tenant_id, meter, window), region))
                else:
                    start = window.start - pd.Timedelta(seconds=lead_in)
                    frames.append(self._samples(region, tenant_id, meter, Window(start, window.end)))
        # concat turns categoricals whose categories differ into plain strings: conform them back
        return conform(pd.concat(frames, ignore_index=True)) if frames else samples_frame([], "")

    def _call(self, region: str, what: str, method: str, *args: Any, **kwargs: Any) -> Any:
        manager_name, _, function_name = method.partition(".")
        function = getattr(getattr(self._client(region), manager_name), function_name)
        self.requests += 1
        return openstack.call(
            self.conf, f"{what} from Ceilometer at {self.endpoint(region)}", _ERRORS, function, *args, **kwargs
        )

    def _samples(self, region: str, tenant_id: str, meter: str, span: Window) -> pd.DataFrame:
        """All samples in ``span``, paging backwards from its end, decoded from the wire (``page_frame``)."""
        page = self.options.page_size
        upper, upper_op = span.end, "lt"
        seen: set[Any] = set()
        rows: list[Any] = []
        while True:
            query = [_eq("project_id", tenant_id), *_window_query(Window(span.start, span.end), upper, upper_op)]
            url = options.build_url(f"/v2/meters/{parse.quote(meter, safe='')}", query, [f"limit={page}"])
            batch = self._call_raw(region, f"reading {meter} samples", url)
            fresh = [s for s in batch if _identity(s) not in seen]
            seen.update(map(_identity, fresh))
            rows.extend(fresh)
            if len(batch) < page:
                return page_frame(rows, region)
            if not fresh:
                raise CollectionError(
                    f"more than {page} {meter} samples share one timestamp at "
                    f"{self.endpoint(region)}; raise [{GROUP}] page_size"
                )
            upper, upper_op = self._page_end(batch[-1], meter, region), "le"

    def _page_end(self, last: Any, meter: str, region: str) -> Any:
        """The time the next page ends at: the last (oldest) sample's, which must be readable."""
        stamp = _field(last, "timestamp")
        moment = pd.NaT
        if isinstance(stamp, str):
            try:
                moment = pd.Timestamp(stamp)
            except ValueError:
                moment = pd.NaT
        if pd.isna(moment):
            raise CollectionError(
                f"the oldest {meter} sample of a page from {self.endpoint(region)} has no readable "
                f"timestamp ({stamp!r}): cannot ask for the page before it"
            )
        return (moment.tz_localize("UTC") if moment.tzinfo is None else moment.tz_convert("UTC")).to_pydatetime()

    def _call_raw(self, region: str, what: str, url: str) -> list[Any]:
        """GET ``url`` of the region's metering endpoint through the session, its page decoded by msgspec."""
        key = f"{region} (raw)"
        if key not in self._clients:
            credentials = self.conf[openstack.CREDENTIALS_GROUP]
            self._clients[key] = adapter.Adapter(
                self.session, service_type=self.service, interface=credentials.interface, region_name=region,
                endpoint_override=self.options.endpoints.get(region),
            )  # fmt: skip
        self.requests += 1

        def fetch() -> list[Any]:
            answer = self._clients[key].get(url, headers={"Accept": "application/json"})
            return decode_page(answer.content)

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


def _identity(sample: Any) -> str:
    """What tells a sample seen on two pages apart: its message id, else its own fields."""
    message_id = _field(sample, "message_id")
    if isinstance(message_id, str) and message_id:
        return message_id
    return repr(tuple(_field(sample, name) for name in ("resource_id", "timestamp", "counter_name", "counter_volume")))


def _field(sample: Any, name: str) -> Any:
    """A field of a decoded sample: a ``WireSample``, or a plain JSON value of a page that was not all objects."""
    if isinstance(sample, dict):
        return sample.get(name)
    return getattr(sample, name, None)


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
