"""Load synthetic series into a real Gnocchi the way Ceilometer's Gnocchi publisher does.

Through Gnocchi's own write API: an hourly archive policy, the resource types
Ceilometer creates (``instance`` comes from tools/servers/gnocchi.sh), one
resource per series carrying a metric named after the meter, then every
measure in one batch, and a bounded wait until metricd has processed them.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import time
from collections.abc import Iterable
from typing import Any

from gnocchiclient import auth as gnocchi_auth
from gnocchiclient import exceptions as gnocchi_exc
from gnocchiclient.v1 import client as gnocchi_client
from keystoneauth1 import session as ks_session

from tests.synthetic import END, HOUR, Series

ARCHIVE_POLICY = "artifice-hourly"
AGGREGATION_METHODS = ["mean", "last", "max", "min", "sum", "count"]
# Ceilometer publishes instance uptime to Gnocchi as the `vcpus` gauge, and no `instance` metric.
METRIC_NAMES = {"instance": "vcpus"}
# meter -> Gnocchi resource type, as in Ceilometer's gnocchi_resources.yaml.
RESOURCE_TYPES = {
    "instance": "instance",
    "volume.size": "volume",
    "image.size": "image",
    "network.incoming.bytes": "instance_network_interface",
    "network.outgoing.bytes": "instance_network_interface",
}
_OPTIONAL = {"type": "string", "min_length": 0, "max_length": 255, "required": False}
_TYPE_ATTRIBUTES = {
    "volume": ["display_name", "volume_type", "image_id", "instance_id"],
    "image": ["name", "container_format", "disk_format"],
    "instance_network_interface": ["name", "instance_id"],
}


def client(url: str) -> Any:
    session = ks_session.Session(auth=gnocchi_auth.GnocchiBasicPlugin(user="admin", endpoint=url))
    return gnocchi_client.Client(session=session)


def _iso(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).isoformat()


def _ignore_conflict(function: Any, *args: Any) -> None:
    with contextlib.suppress(gnocchi_exc.Conflict):
        function(*args)


def prepare(gnocchi: Any) -> None:
    """The archive policy and resource types (idempotent)."""
    policy = {
        "name": ARCHIVE_POLICY,
        "back_window": 0,
        "definition": [{"granularity": "1:00:00", "points": 24 * 92}],
        "aggregation_methods": AGGREGATION_METHODS,
    }
    _ignore_conflict(gnocchi.archive_policy.create, policy)
    for name, attributes in _TYPE_ATTRIBUTES.items():
        _ignore_conflict(
            gnocchi.resource_type.create, {"name": name, "attributes": dict.fromkeys(attributes, _OPTIONAL)}
        )


def _resource(series: Series) -> dict[str, Any]:
    first, last = series.points[0][0], series.points[-1][0]
    name = series.metadata.get("display_name", series.resource)
    body: dict[str, Any] = {
        "id": series.resource,
        "project_id": series.tenant,
        "user_id": "u-" + series.tenant[:8],
        "started_at": _iso(first),
        "metrics": {_metric(series): {"archive_policy_name": ARCHIVE_POLICY, "unit": series.unit}},
    }
    if last + HOUR < END:
        body["ended_at"] = _iso(last + HOUR)
    resource_type = RESOURCE_TYPES[series.meter]
    if resource_type == "instance":
        flavor = series.metadata["flavor.name"]
        body.update(display_name=name, flavor_name=flavor, flavor_id=flavor, host="compute-1")
    elif resource_type == "volume":
        body["display_name"] = name
    else:
        body["name"] = name
    return body


def _metric(series: Series) -> str:
    return METRIC_NAMES.get(series.meter, series.meter)


def load(url: str, all_series: Iterable[Series], timeout: float = 180.0) -> int:
    """Write ``all_series`` into the Gnocchi at ``url``; returns the number of measures."""
    gnocchi = client(url)
    prepare(gnocchi)
    batch: dict[str, dict[str, list[dict[str, Any]]]] = {}
    count = 0
    for series in all_series:
        _ignore_conflict(gnocchi.resource.create, RESOURCE_TYPES[series.meter], _resource(series))
        measures = [{"timestamp": _iso(when), "value": value} for when, value in series.points]
        batch.setdefault(series.resource, {})[_metric(series)] = measures
        count += len(measures)
    gnocchi.metric.batch_resources_metrics_measures(batch)
    wait_processed(gnocchi, timeout)
    return count


def wait_processed(gnocchi: Any, timeout: float) -> None:
    """Until ``GET /v1/status`` reports nothing left for metricd (bounded)."""
    deadline = time.monotonic() + timeout
    while True:
        summary = gnocchi.status.get()["storage"]["summary"]
        if summary["measures"] == 0:
            return
        if time.monotonic() > deadline:
            raise TimeoutError(f"Gnocchi metricd still has {summary} to process after {timeout} s")
        time.sleep(0.5)
