"""Resource history in Gnocchi: who owned a resource, under which flavor and name, at each bucket.

A resource's project, flavor and name can change over its life (a volume transferred to another
project, an instance resized), and Gnocchi keeps every revision. Each bucket of a metric takes
the revision current at its timestamp (a bucket older than the first revision takes the first),
so each stretch of history is billed to the project that owned the resource then, under the
flavor it had then. Where the owner changes between two buckets, a boundary row at the moment of
the change ends the old owner's stretch there and starts the new owner's, so that no time (or
counter growth) is lost or billed twice at the handover. Line detail names a resource by its
``original_resource_id`` (Gnocchi's own id is a uuid5 of it for non-UUID ids) and shows its
``display_name`` (or ``name``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from artifice.collectors.base import RAW_COLUMNS

_FIRST = pd.Timestamp("1900-01-01", tz="UTC")
_NAMES = {"tenant_id": "project_id", "flavor": "flavor", "resource_id": "original", "resource_name": "name"}
ENDED = "moved"  # the status of the old owner's boundary row: not billable, so its uptime stops there


def revisions_frame(history: Sequence[dict[str, Any]]) -> pd.DataFrame:
    """One row per revision: id, revision_start, project_id, flavor, original id, name, and the resource's life."""
    frame = pd.DataFrame(
        {
            "id": [str(r["id"]) for r in history],
            "revision_start": pd.to_datetime([r["revision_start"] for r in history], utc=True, format="ISO8601"),
            "project_id": [r.get("project_id") for r in history],
            "flavor": [r.get("flavor_name") for r in history],
            "original": [r.get("original_resource_id") or r["id"] for r in history],
            "name": [r.get("display_name") or r.get("name") for r in history],
            "started_at": _stamps([r.get("started_at") for r in history]),
            "ended_at": _stamps([r.get("ended_at") for r in history]),
        }
    ).sort_values("revision_start", kind="stable")
    frame = frame.drop_duplicates(["id", "revision_start"], keep="last")
    # The resource's life, on every revision: its first start, and the end its latest revision has.
    if len(frame):  # a project that received the resource did not start it; one that gave it away did not end it
        by_id = frame.groupby("id", sort=False)
        first_owner = by_id["project_id"].transform("first")
        last_owner = by_id["project_id"].transform("last")
        started = by_id["started_at"].transform("min").where(frame["project_id"] == first_owner)
        latest = frame["id"].map(frame.drop_duplicates("id", keep="last").set_index("id")["ended_at"])
        frame["started_at"], frame["ended_at"] = started, latest.where(frame["project_id"] == last_owner)
    # Buckets older than a resource's first revision (measures written before it was created) take it.
    frame.loc[~frame["id"].duplicated(), "revision_start"] = _FIRST
    return frame.astype({"revision_start": RAW_COLUMNS["timestamp"]}).sort_values("revision_start", kind="stable")


def _stamps(values: list[Any]) -> pd.Series:
    return pd.Series(pd.to_datetime(pd.Series(values, dtype=object), utc=True, errors="coerce", format="ISO8601"))


def attribute(buckets: pd.DataFrame, revisions: pd.DataFrame, tenants: Sequence[str], transformer: str) -> pd.DataFrame:
    """``buckets`` (id, timestamp, volume) with the tenant, flavor and names of their revision.

    Only the rows of ``tenants`` are kept: their buckets, and the boundary rows of their stretches.
    """
    buckets = buckets.astype({"timestamp": RAW_COLUMNS["timestamp"]})
    if revisions["id"].is_unique:  # no resource changed hands, flavor or name: one lookup per resource
        return _of_only_revisions(buckets, revisions, tenants)
    return merged(buckets, revisions, tenants, transformer)


def merged(buckets: pd.DataFrame, revisions: pd.DataFrame, tenants: Sequence[str], transformer: str) -> pd.DataFrame:
    """``attribute`` in general: each bucket merged with the revision current at its time."""
    buckets = buckets.sort_values("timestamp", kind="stable")
    merged = pd.merge_asof(buckets, revisions, left_on="timestamp", right_on="revision_start", by="id")
    merged = merged.sort_values(["id", "timestamp"], kind="stable").reset_index(drop=True)
    rows = pd.concat([merged, *_handovers(merged, transformer)], ignore_index=True)
    rows = rows[rows["project_id"].isin(list(tenants))]
    out = rows.drop(columns=["revision_start", "id"]).rename(
        columns={"project_id": "tenant_id", "original": "resource_id", "name": "resource_name"}
    )
    # Each resource's rows together, in time order, as the engine reads them fastest.
    return out.sort_values(["resource_id", "timestamp"], kind="stable").reset_index(drop=True)


def _of_only_revisions(buckets: pd.DataFrame, revisions: pd.DataFrame, tenants: Sequence[str]) -> pd.DataFrame:
    """``attribute`` where each resource has one revision: what merging by time gives, by resource alone.

    The names become categoricals (few values, many rows). The rows are ordered as ``attribute``
    orders them, which the answer usually already is (a resource's buckets together, in time order).
    """
    codes, ids = pd.factorize(buckets["id"])
    row = pd.Index(revisions["id"]).get_indexer(ids)[codes] if len(codes) else np.zeros(0, dtype=np.int64)
    ours = np.append(revisions["project_id"].isin(list(tenants)).to_numpy(), False)  # the last: no revision
    kept = np.flatnonzero(ours[row])
    row = row[kept]
    columns = {name: buckets[name].iloc[kept].reset_index(drop=True) for name in buckets if name != "id"}
    for name, source in _NAMES.items():
        column = pd.Categorical(revisions[source].to_numpy(dtype=object))
        columns[name] = pd.Categorical.from_codes(column.codes[row], categories=column.categories)
    for name in ("started_at", "ended_at"):
        columns[name] = revisions[name].iloc[row].reset_index(drop=True)
    frame = pd.DataFrame(columns)
    resource, time = frame["resource_id"].array.codes, frame["timestamp"].array.asi8
    if np.any(resource[1:] < resource[:-1]) or np.any((resource[1:] == resource[:-1]) & (time[1:] < time[:-1])):
        frame = frame.take(np.lexsort((time, resource))).reset_index(drop=True)
    return frame


def _handovers(merged: pd.DataFrame, transformer: str) -> list[pd.DataFrame]:
    """Boundary rows where a resource changed owner between two buckets, at the moment it changed."""
    same_resource = merged["id"].eq(merged["id"].shift())
    changed = same_resource & merged["project_id"].ne(merged["project_id"].shift())
    if not changed.any():
        return []
    after = merged[changed.to_numpy()]
    before = merged.shift()[changed.to_numpy()]
    moment = after["revision_start"].to_numpy()
    # The old owner's stretch ends at the change: nothing more of it is billed (a counter keeps its value).
    old = before.assign(timestamp=moment, revision_start=moment, ended_at=moment)
    old["volume"] = before["volume"] if transformer == "delta" else 0.0
    if "status" in old:
        old["status"] = ENDED
    boundaries = [old]
    if transformer != "sum":  # the new owner's starts at the change, at the level it had then
        taken = {column: after[column].to_numpy() for column in ("project_id", "flavor", "original", "name")}
        # The resource did not start then: the new owner's first row is no growth from zero.
        boundaries.append(before.assign(timestamp=moment, revision_start=moment, started_at=pd.NaT, **taken))
    return boundaries
