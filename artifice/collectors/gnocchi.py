"""Gnocchi collector (gnocchiclient v1 over a keystoneauth1 session), aggregating server-side.

Per region and meter, one ``POST /v1/aggregates`` returns the finest-granularity
buckets of every resource of the tenants asked for (``collect_many``: any
number of tenants in one request), grouped by ``project_id`` and ``id``, over
``[start - lead_in, end)`` and limited to resources alive in that span. Each
bucket becomes one raw row at its timestamp. The aggregation read is ``last``
for ``delta`` (cumulative counter) meters, ``max`` and ``sum`` for those
transformers and ``mean`` otherwise, or ``mean`` when the archive policy lacks
the preferred method (then counters and sums are exact only while a bucket
holds at most one sample, as with Ceilometer's polling interval at least the
granularity). The granularity and unit of each meter come from one of its
metrics and its archive policy, looked up once per region and cached.

So the requests for a set of tenants depend on regions x meters (plus one
resource-history search per region for flavors), never on hours or resources.

Gnocchi keeps no sample source: its data is trusted as a whole and every row
carries the first of ``[metering] trust_sources``. Gnocchi keeps no instance
state either: through Gnocchi, uptime is the time an instance reported its
metric (status "active"); a stopped instance that reports nothing stops being
billed after ``max_gap``. An instance's flavor is its ``flavor_name`` in the
resource revision current at each bucket (a bucket older than the first
revision takes the first one).
"""

from __future__ import annotations

import concurrent.futures
import functools
import json
import threading
import urllib.parse
from collections.abc import Callable, Sequence
from typing import Any

import pandas as pd
from gnocchiclient import exceptions as gnocchi_exc  # type: ignore[import-untyped]
from gnocchiclient.v1 import client as gnocchi_client  # type: ignore[import-untyped]
from keystoneauth1 import exceptions as ks_exc
from oslo_config import cfg

from artifice import openstack
from artifice.collectors.api import ApiCollector
from artifice.collectors.base import RAW_COLUMNS, conform
from artifice.model import Tenant
from artifice.timeutil import Window

GROUP = "collector:gnocchi"
PREFERRED_AGGREGATION = {"delta": "last", "max": "max", "sum": "sum"}
_ERRORS = (gnocchi_exc.ClientException, ks_exc.ClientException)
_CONNECTION_ERRORS = (gnocchi_exc.ConnectionFailure, gnocchi_exc.ConnectionTimeout, gnocchi_exc.UnknownConnectionError)
# Following Ceilometer's gnocchi_resources.yaml.
DEFAULT_RESOURCE_TYPES = {
    **dict.fromkeys(["instance", "vcpus", "memory", "cpu", "disk.root.size", "disk.ephemeral.size"], "instance"),
    **dict.fromkeys(["volume.size"], "volume"),
    **dict.fromkeys(["image.size", "image.download", "image.serve"], "image"),
    **dict.fromkeys(
        ["network.incoming.bytes", "network.outgoing.bytes", "network.incoming.packets", "network.outgoing.packets"],
        "instance_network_interface",
    ),
    **dict.fromkeys(["disk.device.read.bytes", "disk.device.write.bytes"], "instance_disk"),
    **dict.fromkeys(["ip.floating", "bandwidth"], "network"),
    **dict.fromkeys(["storage.objects", "storage.objects.size", "storage.objects.containers"], "swift_account"),
}

gnocchi_opts = [
    cfg.ListOpt("regions", default=["RegionOne"], help="Regions to read; each is one invoice section."),
    cfg.DictOpt("endpoints", default={}, help="Gnocchi API URL per region (Region:URL,...), overriding the catalog."),
    cfg.StrOpt(
        "auth_group",
        default=openstack.CREDENTIALS_GROUP,
        help="Config group holding the keystoneauth options used to reach Gnocchi "
        "(auth_type = password, or gnocchi-basic with user and endpoint).",
    ),
    cfg.DictOpt(
        "resource_types",
        default=DEFAULT_RESOURCE_TYPES,
        help="Gnocchi resource type per meter (meter:type,...), as Ceilometer's "
        "gnocchi_resources.yaml stores them; unlisted meters are searched as generic.",
    ),
    cfg.IntOpt(
        "parallel_requests",
        default=4,
        min=1,
        max=32,
        help="Aggregates queries (one per region and meter) sent at the same time.",
    ),
    cfg.IntOpt(
        "tenants_per_query",
        default=100,
        min=1,
        max=1000,
        help="Tenants a billing pass reads in one aggregates query per region and meter. "
        "Higher means fewer requests and more memory (two batches are held: the one being billed and the next, "
        "read meanwhile); 1 reads tenant by tenant.",
    ),
]


class GnocchiCollector(ApiCollector):
    group = GROUP
    service = "metric"

    def __init__(self, conf: cfg.ConfigOpts) -> None:
        super().__init__(conf, conf[GROUP].auth_group)
        self.source = next(iter(conf.metering.trust_sources), "gnocchi")
        self._metrics: dict[tuple[str, str], tuple[int, str, str] | None] = {}
        self.tenants_per_read = conf[GROUP].tenants_per_query
        self._counter_lock = threading.Lock()

    def resource_type(self, meter: str) -> str:
        return str(self.options.resource_types.get(meter, "generic"))

    def tenants(self, window: Window) -> list[Tenant]:
        """Projects owning a resource of a mapped meter alive during the window, in any region."""
        types = sorted({self.resource_type(m) for m in self.transformers})
        query = {"and": [{"in": {"type": types}}, *_alive(window)]}
        found: set[str] = set()
        for region in self.regions():
            resources = self._call(region, "listing projects", "resource.search", "generic", query)
            found.update(str(r["project_id"]) for r in resources if r.get("project_id"))
        return [Tenant(t) for t in sorted(found)]

    def collect(self, tenant_id: str, window: Window, meters: Sequence[str], lead_in: int) -> pd.DataFrame:
        return self.collect_many([tenant_id], window, meters, lead_in)

    def collect_many(
        self, tenant_ids: Sequence[str], window: Window, meters: Sequence[str], lead_in: int
    ) -> pd.DataFrame:
        """Raw rows of ``meters`` for all ``tenant_ids`` over ``[start - lead_in, end)``."""
        span = Window(window.start - pd.Timedelta(seconds=lead_in), window.end)
        who = _names(tenant_ids)
        search = {"and": [{"in": {"project_id": list(tenant_ids)}}, *_alive(span)]}
        jobs = [(region, meter) for region in self.regions() for meter in meters]
        for region in self.regions():
            self._client(region)  # created before the threads share them
        with concurrent.futures.ThreadPoolExecutor(self.options.parallel_requests) as pool:
            frames = [f for f in pool.map(lambda job: self._read(job[0], job[1], who, search, span), jobs) if len(f)]
        return conform(pd.concat(frames, ignore_index=True) if frames else pd.DataFrame())

    def _read(self, region: str, meter: str, who: str, search: Any, span: Window) -> pd.DataFrame:
        """One meter of one region: its buckets as raw rows (conformed once, with the others)."""
        metric = self._metric(region, meter, who)
        if metric is None:
            return pd.DataFrame()
        granularity, aggregation, unit = metric
        query = urllib.parse.urlencode(
            {"start": span.start.isoformat(), "stop": span.end.isoformat(), "granularity": granularity,
             "groupby": ["project_id", "id"]}, doseq=True,
        )  # fmt: skip
        body = {"operations": f"(metric {meter} {aggregation})", "search": search,
                "resource_type": self.resource_type(meter)}  # fmt: skip
        # Accept: JSON errors, so that "no such metric for these tenants" is told from other 404s.
        answer = self._call(region, f"{who}: reading {meter}", "api.post", f"v1/aggregates?{query}", json=body,
                            headers={"Accept": "application/json"}, empty=[])  # fmt: skip
        frame = _measures_frame(_json(answer))
        if frame.empty:
            return frame
        if self.transformers.get(meter) == "uptime":
            frame = self._with_flavor(region, meter, who, search, frame)
            frame["status"] = "active"
        frame = frame.rename(columns={"id": "resource_id"})
        frame["region"], frame["meter"], frame["unit"] = region, meter, unit
        frame["source"], frame["message_id"] = self.source, None
        return frame

    def _metric(self, region: str, meter: str, who: str) -> tuple[int, str, str] | None:
        """(finest granularity, aggregation to read, unit) of ``meter`` in ``region``, cached."""
        key = (region, meter)
        if key not in self._metrics:
            found = self._call(region, f"{who}: looking up metric {meter}", "api.get", "v1/metric",
                               params={"name": meter, "limit": 1})  # fmt: skip
            metrics = found.json()
            if not metrics:
                self._metrics[key] = None
            else:
                policy = metrics[0]["archive_policy"]
                granularity = min(_seconds(d["granularity"]) for d in policy["definition"])
                methods = set(policy.get("aggregation_methods") or ["mean"])
                wanted = PREFERRED_AGGREGATION.get(self.transformers.get(meter, ""), "mean")
                aggregation = wanted if wanted in methods else "mean" if "mean" in methods else sorted(methods)[0]
                self._metrics[key] = (granularity, aggregation, str(metrics[0].get("unit") or ""))
        return self._metrics[key]

    def _with_flavor(self, region: str, meter: str, who: str, search: Any, frame: pd.DataFrame) -> pd.DataFrame:
        """Each bucket's flavor from the resource revision current at its timestamp."""
        history = self._call(region, f"{who}: reading {meter} resource history", "resource.search",
                             self.resource_type(meter), search, history=True)  # fmt: skip
        revisions = pd.DataFrame(
            {
                "id": [str(r["id"]) for r in history],
                "revision_start": pd.to_datetime([r["revision_start"] for r in history], utc=True, format="ISO8601"),
                "flavor": [r.get("flavor_name") for r in history],
            }
        ).sort_values("revision_start")
        # Buckets older than a resource's first revision take that revision.
        revisions.loc[~revisions["id"].duplicated(), "revision_start"] = pd.Timestamp("1900-01-01", tz="UTC")
        revisions = revisions.astype({"revision_start": RAW_COLUMNS["timestamp"]}).sort_values("revision_start")
        frame = frame.astype({"timestamp": RAW_COLUMNS["timestamp"]}).sort_values("timestamp")
        merged = pd.merge_asof(frame, revisions, left_on="timestamp", right_on="revision_start", by="id")
        # Back to each resource's buckets together, in time order, as the engine reads them fastest.
        return merged.drop(columns="revision_start").sort_values(["id", "timestamp"], kind="stable")

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


def _alive(span: Window) -> list[dict[str, Any]]:
    """Filters for resources whose lifetime overlaps ``span``."""
    return [
        {"lt": {"started_at": span.end.isoformat()}},
        {"or": [{"=": {"ended_at": None}}, {"ge": {"ended_at": span.start.isoformat()}}]},
    ]


def _json(answer: Any) -> Any:
    """A response's decoded body; ``[]`` (a metric not found) passes through."""
    return answer if isinstance(answer, list) else json.loads(answer.content)


def _measures_frame(groups: Sequence[Any]) -> pd.DataFrame:
    """Rows (tenant_id, id, timestamp, volume) of grouped ``/v1/aggregates`` answers."""
    tenants, ids, stamps, values = [], [], [], []
    for group in groups:
        tenant = group["group"]["project_id"]
        for resource, metrics in group["measures"]["measures"].items():
            for series in (s for aggregations in metrics.values() for s in aggregations.values()):
                tenants += [tenant] * len(series)
                ids += [resource] * len(series)
                stamps += [p[0] for p in series]
                values += [p[2] for p in series]
    timestamps = pd.to_datetime(pd.Series(stamps, dtype=object), utc=True, format="ISO8601")
    return pd.DataFrame({"tenant_id": tenants, "id": ids, "timestamp": timestamps, "volume": values})


def _seconds(granularity: Any) -> int:
    """Archive-policy granularity: seconds, or a timespan like "1:00:00" / "1 day, 0:00:00"."""
    if isinstance(granularity, (int, float)):
        return int(granularity)
    return int(pd.Timedelta(str(granularity).replace(",", "")).total_seconds())


def _names(tenant_ids: Sequence[str]) -> str:
    shown = ", ".join(tenant_ids[:5])
    more = f" and {len(tenant_ids) - 5} more" if len(tenant_ids) > 5 else ""
    return f"tenant {shown}" if len(tenant_ids) == 1 else f"tenants {shown}{more}"
