"""Gnocchi collector (gnocchiclient v1 over a keystoneauth1 session), aggregating server-side.

For a set of tenants (``collect_many``: any number in one request), per region:

- one resource-history search per resource type finds every resource these tenants owned during
  ``[start - lead_in, end)``, and a second one all revisions of those resources: each bucket is
  billed to the project that owned the resource at its timestamp, under the flavor and name of
  that revision (``artifice.collectors.gnocchi_history``);
- per meter, one ``POST /v1/aggregates`` over those resources at the finest granularity their
  metrics' archive policy still keeps for the whole window (``gnocchi_archives``); a meter whose
  metrics use several policies is read in one query per (granularity, aggregation). No archive
  that reaches back far enough: the tenant-month fails, never billed short.

So the requests for a set of tenants depend on regions x (meters + resource types), never on
hours or resources (a meter with metrics of several policies adds one listing of its metrics).

The aggregation read is ``last`` for ``delta`` (cumulative counter) meters, ``max`` and ``sum``
for those transformers and ``mean`` otherwise, or ``mean`` when the archive policy lacks the
preferred method (then counters and sums are exact only while a bucket holds at most one sample,
as with Ceilometer's polling interval at least the granularity). A meter is read from the metric
its mapping names (``gnocchi_metric``; today's Ceilometer publishes ``vcpus``, no ``instance``).

Gnocchi keeps no sample source: its data is trusted as a whole and every row carries the first
of ``[metering] trust_sources``. Gnocchi keeps no instance state either: through Gnocchi, uptime
is the time an instance reported its metric (status "active"); a stopped instance that reports
nothing stops being billed after ``max_gap``.
"""

from __future__ import annotations

import concurrent.futures
import datetime as dt
import functools
import json
import math
import threading
import time
import urllib.parse
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import numpy as np
import orjson
import pandas as pd
from gnocchiclient import exceptions as gnocchi_exc  # type: ignore[import-untyped]
from gnocchiclient.v1 import client as gnocchi_client  # type: ignore[import-untyped]
from keystoneauth1 import exceptions as ks_exc
from oslo_config import cfg

from artifice import openstack
from artifice.collectors.api import ApiCollector
from artifice.collectors.base import concat, conform, utc, volumes
from artifice.collectors.gnocchi_archives import Policy, too_short
from artifice.collectors.gnocchi_history import attribute, revisions_frame
from artifice.collectors.wirescan import scanner, unescaped
from artifice.exceptions import UNREADABLE, CollectionError
from artifice.model import Tenant
from artifice.timeutil import Window, utcnow

GROUP = "collector:gnocchi"
PLAN_SECONDS = 300  # how long a metric's archive policies are trusted before they are looked up again
_ERRORS = (gnocchi_exc.ClientException, ks_exc.ClientException)
_CONNECTION_ERRORS = (gnocchi_exc.ConnectionFailure, gnocchi_exc.ConnectionTimeout, gnocchi_exc.UnknownConnectionError)


class GnocchiCollector(ApiCollector):
    group = GROUP
    service = "metric"

    def __init__(self, conf: cfg.ConfigOpts) -> None:
        super().__init__(conf, conf[GROUP].auth_group)
        self.source = next(iter(conf.metering.trust_sources), "gnocchi")
        self._plans: dict[tuple[str, str], tuple[float, tuple[str, dict[Policy, list[str] | None]] | None]] = {}
        self.tenants_per_read = conf[GROUP].tenants_per_query
        self._counter_lock = threading.Lock()

    def resource_type(self, meter: str) -> str:
        return str(self.options.resource_types.get(meter, "generic"))

    def tenants(self, window: Window) -> list[Tenant]:
        """Projects that owned a resource of a mapped meter during the window, in any region."""
        types = sorted({self.resource_type(m) for m in self.transformers})
        query = {"and": [{"in": {"type": types}}, *_alive(window)]}
        found: set[str] = set()
        for region in self.regions():
            resources = self._history(region, "listing projects", "generic", query)
            found.update(str(r["project_id"]) for r in resources if r.get("project_id"))
        return [Tenant(t) for t in sorted(found)]

    def collect(self, tenant_id: str, window: Window, meters: Sequence[str], lead_in: int) -> pd.DataFrame:
        return self.collect_many([tenant_id], window, meters, lead_in)

    def collect_many(
        self, tenant_ids: Sequence[str], window: Window, meters: Sequence[str], lead_in: int
    ) -> pd.DataFrame:
        """Raw rows of ``meters`` for all ``tenant_ids`` over ``[start - lead_in, end)``."""
        span = Window(window.start - pd.Timedelta(seconds=lead_in), window.end)
        who, now = _names(tenant_ids), utcnow()
        for region in self.regions():
            self._client(region)  # created before the threads share them
        kinds = sorted({self.resource_type(m) for m in meters})
        with concurrent.futures.ThreadPoolExecutor(self.options.parallel_requests) as pool:
            owned = dict(zip(self.regions(), pool.map(lambda r: self._owned(r, kinds, tenant_ids, span, who),
                                                      self.regions()), strict=True))  # fmt: skip
            found = [(region, kind) for region in self.regions() for kind in kinds]
            histories = pool.map(lambda job: self._revisions(job[0], job[1], owned[job[0]].get(job[1], []), who), found)
            revisions = dict(zip(found, histories, strict=True))
            jobs = [(region, meter) for region in self.regions() for meter in meters]
            reads = {job: self._reads(*job, revisions[(job[0], self.resource_type(job[1]))], span, now, who)
                     for job in jobs}  # fmt: skip
            chunks = _chunked([read for job in jobs for read in reads[job]], self.options.parallel_requests)
            answers = list(zip(chunks, pool.map(lambda read: self._aggregates(read, span, who), chunks), strict=True))
        frames = [
            self._attributed(revisions[(region, self.resource_type(meter))], tenant_ids,
                             [(read, frame) for read, frame in answers if (read.region, read.meter) == (region, meter)])
            for region, meter in jobs
        ]  # fmt: skip
        return concat([conform(frame) for frame in frames if len(frame)])

    def _owned(self, region: str, kinds: list[str], tenant_ids: Sequence[str], span: Window,
               who: str) -> dict[str, list[str]]:  # fmt: skip
        """The ids, per resource type, of the resources the tenants owned at some time during ``span``."""
        query = {"and": [{"in": {"project_id": list(tenant_ids)}}, {"in": {"type": kinds}}, *_not_ended(span)]}
        found = self._history(region, f"{who}: finding their resources", "generic", query)
        owned: dict[str, set[str]] = {}
        for revision in found:
            owned.setdefault(str(revision["type"]), set()).add(str(revision["id"]))
        return {kind: sorted(ids) for kind, ids in owned.items()}

    def _revisions(self, region: str, kind: str, ids: list[str], who: str) -> pd.DataFrame:
        """Every revision (other owners' too) of the resources of ``kind`` with these ids."""
        if not ids:
            return revisions_frame([])
        history = self._history(region, f"{who}: reading the history of {len(ids)} {kind} resources", kind,
                                {"in": {"id": ids}})  # fmt: skip
        return revisions_frame(history)

    def _reads(self, region: str, meter: str, revisions: pd.DataFrame, span: Window, now: dt.datetime,
               who: str) -> list[Read]:  # fmt: skip
        """The aggregates reads of one meter in one region: one per (granularity, aggregation) its metrics need."""
        if revisions.empty:
            return []
        metric = self.rules[meter].metric if meter in self.rules else meter
        plan = self._plan(region, metric, who)
        if plan is None:
            return []
        ids = set(revisions["id"])
        groups: dict[tuple[int, str], set[str] | None] = {}
        for policy, resources in plan[1].items():
            granularity = policy.granularity(span.start, now)
            if granularity is None:
                if resources is None or ids & set(resources):
                    raise too_short(metric, policy, span.start, now)
                continue
            key = (granularity, policy.aggregation(self.transformers.get(meter, "")))
            groups[key] = None if resources is None else (groups.get(key) or set()) | (ids & set(resources))
        return [Read(region, meter, self.resource_type(meter), metric, plan[0], key[0], key[1],
                     tuple(sorted(ids if chosen is None else chosen)))
                for key, chosen in groups.items() if chosen is None or chosen]  # fmt: skip

    def _attributed(self, revisions: pd.DataFrame, tenant_ids: Sequence[str],
                    answers: list[tuple[Read, pd.DataFrame]]) -> pd.DataFrame:  # fmt: skip
        """One meter of one region: its buckets as raw rows, attributed by revision (conformed later)."""
        kept = [frame for _read, frame in answers if len(frame)]
        if not kept:
            return pd.DataFrame()
        read = answers[0][0]
        frame = pd.concat(kept, ignore_index=True)
        transformer = self.transformers.get(read.meter, "")
        if transformer == "uptime":
            frame["status"] = _same("active", len(frame))
        frame = attribute(frame, revisions, tenant_ids, transformer)
        if transformer != "uptime":
            frame = frame.drop(columns="flavor")
        constants = {"region": read.region, "meter": read.meter, "unit": read.unit, "source": self.source}
        for name, value in constants.items():
            frame[name] = _same(value, len(frame))
        frame["message_id"] = None
        return frame

    def _aggregates(self, read: Read, span: Window, who: str) -> pd.DataFrame:
        query = urllib.parse.urlencode(
            {"start": span.start.isoformat(), "stop": span.end.isoformat(), "granularity": read.granularity,
             "groupby": ["id"]}, doseq=True,
        )  # fmt: skip
        body = {"operations": f"(metric {read.metric} {read.aggregation})", "search": {"in": {"id": list(read.ids)}},
                "resource_type": read.kind}  # fmt: skip
        # Accept: JSON errors, so that "no such metric for these resources" is told from other 404s.
        answer = self._call(read.region, f"{who}: reading {read.metric}", "api.post", f"v1/aggregates?{query}",
                            json=body, headers={"Accept": "application/json"}, empty=[])  # fmt: skip
        try:
            return _measures(answer)
        except CollectionError as exc:
            raise CollectionError(
                f"{who}: reading {read.metric} from Gnocchi at {self.endpoint(read.region)}: {exc}"
            ) from exc

    def _plan(self, region: str, metric: str, who: str) -> tuple[str, dict[Policy, list[str] | None]] | None:
        """The metric's unit and archive policies: one for all, or each with the resources using it (cached)."""
        key = (region, metric)
        cached = self._plans.get(key)
        if cached is not None and time.monotonic() - cached[0] < PLAN_SECONDS:
            return cached[1]
        plan: tuple[str, dict[Policy, list[str] | None]] | None = None
        first_page = self._metrics_page(region, metric, who, limit=1, sort="archive_policy_name:asc")
        if first_page:  # the same policy at both ends of the metrics sorted by policy: one for all
            first = first_page[0]
            last = self._metrics_page(region, metric, who, limit=1, sort="archive_policy_name:desc")[0]
            unit = str(first.get("unit") or "")
            if first["archive_policy"]["name"] == last["archive_policy"]["name"]:
                plan = (unit, {Policy.parse(first["archive_policy"]): None})
            else:  # several policies: which resource uses which
                plan = (unit, self._members(region, metric, who))
        self._plans[key] = (time.monotonic(), plan)
        return plan

    def _members(self, region: str, metric: str, who: str) -> dict[Policy, list[str] | None]:
        members: dict[Policy, list[str] | None] = {}
        marker = None
        while True:
            page = self._metrics_page(region, metric, who, limit=1000, sort="id:asc", marker=marker)
            for found in page:
                resources = members.setdefault(Policy.parse(found["archive_policy"]), [])
                if resources is not None and found.get("resource_id"):
                    resources.append(str(found["resource_id"]))
            if len(page) < 1000:
                return members
            marker = page[-1]["id"]

    def _metrics_page(self, region: str, metric: str, who: str, **params: Any) -> list[dict[str, Any]]:
        params = {"name": metric, **{k: v for k, v in params.items() if v is not None}}
        found = self._call(region, f"{who}: looking up metric {metric}", "api.get", "v1/metric", params=params)
        return list(found.json())

    def _client(self, region: str) -> Any:
        if region not in self._clients:
            options = {
                "region_name": region,
                "interface": self.conf[openstack.CREDENTIALS_GROUP].interface,
                "endpoint_override": self.options.endpoints.get(region),
            }
            client = gnocchi_client.Client(session=self.session, adapter_options=options)
            client.api.request = self._counting(client.api.request)
            self._clients[region] = client
        return self._clients[region]

    def _counting(self, request: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(request)
        def counted(*args: Any, **kwargs: Any) -> Any:
            with self._counter_lock:
                self.requests += 1
            return request(*args, **kwargs)

        return counted

    def _history(self, region: str, what: str, kind: str, query: dict[str, Any]) -> list[dict[str, Any]]:
        """Every revision a history search finds, page by page.

        Not through gnocchiclient's paging: Gnocchi's ``next`` link repeats the JSON query in the
        URL, which for a few dozen tenant or resource ids is longer than servers take (HTTP 414).
        Each page here sends the query in the body and only the link's marker in the URL.
        """
        found: list[dict[str, Any]] = []
        marker = None
        while True:
            params = {"history": "true", **({"marker": marker} if marker else {})}  # pages of [api] max_limit
            url = f"v1/search/resource/{kind}?{urllib.parse.urlencode(params)}"
            answer = self._call(region, what, "api.post", url, json=query, headers={"Accept": "application/json"})
            found += _json(answer)
            marker = _next_marker(answer)
            if marker is None:
                return found

    def _call(self, region: str, what: str, method: str, *args: Any, empty: Any = None, **kwargs: Any) -> Any:
        """``client.<method>(...)`` with retries; a 404 for absent metrics gives ``empty`` when set."""
        manager, _, name = method.partition(".")
        function = getattr(getattr(self._client(region), manager), name)

        def attempt() -> Any:
            try:
                return function(*args, **kwargs)
            except gnocchi_exc.MetricNotFound:
                if empty is None:
                    raise
                return empty
            except _CONNECTION_ERRORS as exc:  # transient for openstack.call, like keystoneauth's
                raise ks_exc.ConnectFailure(str(exc)) from exc

        return openstack.call(self.conf, f"{what} from Gnocchi at {self.endpoint(region)}", _ERRORS, attempt)


class Read(NamedTuple):
    """One aggregates request: a metric's buckets at one granularity and aggregation, for these resources."""

    region: str
    meter: str
    kind: str  # the resource type searched
    metric: str
    unit: str
    granularity: int
    aggregation: str
    ids: tuple[str, ...]


def _same(value: str, rows: int) -> pd.Categorical:
    """A column of one value: a categorical, not a string per row."""
    return pd.Categorical.from_codes(np.zeros(rows, dtype=np.int8), categories=[value])


def _chunked(reads: list[Read], parallel: int) -> list[Read]:
    """``reads`` split so that ``parallel`` requests at a time share the work.

    Gnocchi answers a request in one API worker, rendering every bucket: one read of many
    resources keeps one worker busy while the others idle. No request holds more than a
    ``parallel``-th of all the resources read, each read split in equal parts.
    """
    share = max(1, math.ceil(sum(len(read.ids) for read in reads) / parallel))
    split = []
    for read in reads:
        parts = math.ceil(len(read.ids) / share)
        size = math.ceil(len(read.ids) / parts)
        split += [read._replace(ids=read.ids[i : i + size]) for i in range(0, len(read.ids), size)]
    return split


def _alive(span: Window) -> list[dict[str, Any]]:
    """Filters for resources whose lifetime overlaps ``span``: who is listed as a tenant of a month."""
    return [{"lt": {"started_at": span.end.isoformat()}}, *_not_ended(span)]


def _not_ended(span: Window) -> list[dict[str, Any]]:
    """Filters for resources not ended before ``span``: whose buckets a tenant's read asks for.

    Not on ``started_at``: Gnocchi sets it when the publisher creates the resource, which may be
    later than the resource's first measures (measures published late, after an outage).
    """
    return [{"or": [{"=": {"ended_at": None}}, {"ge": {"ended_at": span.start.isoformat()}}]}]


def _next_marker(answer: Any) -> str | None:
    """The marker of the next page, from Gnocchi's ``Link: <...?marker=...>; rel="next"``, if any."""
    link = getattr(answer, "links", {}).get("next", {}).get("url")
    if not link:
        return None
    markers = urllib.parse.parse_qs(urllib.parse.urlsplit(link).query).get("marker")
    return markers[0] if markers else None


def _json(answer: Any) -> Any:
    """A response's decoded body; ``[]`` (a metric not found) passes through.

    orjson decodes an aggregates answer in about half json's time; what it refuses (NaN,
    which Python's JSON writers emit) goes to json, which reads it as Python does.
    """
    if isinstance(answer, list):
        return answer
    try:
        return orjson.loads(answer.content)
    except orjson.JSONDecodeError:
        return json.loads(answer.content)


def _measures(answer: Any) -> pd.DataFrame:
    """Rows (id, timestamp, volume) of an aggregates answer: scanned in C, else decoded by orjson.

    The scanner reads the answer's bytes straight into columns (a month of 10-minute buckets
    of 200 resources: 0.1 s, against 3.4 s through Python objects, most of it the garbage
    collector walking them); an answer it does not take goes to ``_measures_frame``.
    """
    found = None if isinstance(answer, list) or scanner is None else scanner.scan_aggregates(answer.content)
    if found is None:
        try:
            return _measures_frame(_json(answer))
        except UNREADABLE as exc:
            raise CollectionError(f"the answer cannot be read: {exc.__class__.__name__}: {exc}") from exc
    _count, codes, ids, stamps, values = found
    names = np.array([*(unescaped(i) for i in ids), None], dtype=object)
    return pd.DataFrame({"id": names[np.frombuffer(codes, dtype=np.int32)],
                         "timestamp": utc(np.frombuffer(stamps, dtype=np.int64)),
                         "volume": np.frombuffer(values, dtype=np.float64)})  # fmt: skip


def _measures_frame(groups: Sequence[Any]) -> pd.DataFrame:
    """Rows (id, timestamp, volume) of ``/v1/aggregates`` answers grouped by resource id."""
    ids, stamps, values = [], [], []
    for group in groups:
        for resource, metrics in group["measures"]["measures"].items():
            for series in (s for aggregations in metrics.values() for s in aggregations.values()):
                ids += [resource] * len(series)
                stamps += [p[0] for p in series]
                values += [p[2] for p in series]
    timestamps = pd.to_datetime(pd.Series(stamps, dtype=object), utc=True, format="ISO8601")
    return pd.DataFrame({"id": ids, "timestamp": timestamps, "volume": volumes(pd.Series(values, dtype=object))})


def _names(tenant_ids: Sequence[str]) -> str:
    shown = ", ".join(tenant_ids[:5])
    more = f" and {len(tenant_ids) - 5} more" if len(tenant_ids) > 5 else ""
    return f"tenant {shown}" if len(tenant_ids) == 1 else f"tenants {shown}{more}"
