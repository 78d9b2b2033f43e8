"""Resource history in Gnocchi: who owned a resource, under which flavor and name, at each bucket.

A resource's project, flavor and name can change over its life (a volume transferred to another
project, an instance resized), and Gnocchi keeps every revision. Each bucket of a metric takes
the revision current at its timestamp (a bucket older than the first revision takes the first),
so each stretch of history is billed to the project that owned the resource then, under the
flavor it had then. Line detail names a resource by its ``original_resource_id`` (Gnocchi's own
id is a uuid5 of it for non-UUID ids) and shows its ``display_name`` (or ``name``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pandas as pd

from artifice.collectors.base import RAW_COLUMNS

_FIRST = pd.Timestamp("1900-01-01", tz="UTC")


def revisions_frame(history: Sequence[dict[str, Any]]) -> pd.DataFrame:
    """One row per revision: id, revision_start, project_id, flavor, original id, name."""
    frame = pd.DataFrame(
        {
            "id": [str(r["id"]) for r in history],
            "revision_start": pd.to_datetime([r["revision_start"] for r in history], utc=True, format="ISO8601"),
            "project_id": [r.get("project_id") for r in history],
            "flavor": [r.get("flavor_name") for r in history],
            "original": [r.get("original_resource_id") or r["id"] for r in history],
            "name": [r.get("display_name") or r.get("name") for r in history],
        }
    ).sort_values("revision_start", kind="stable")
    frame = frame.drop_duplicates(["id", "revision_start"], keep="last")
    # Buckets older than a resource's first revision (measures written before it was created) take it.
    frame.loc[~frame["id"].duplicated(), "revision_start"] = _FIRST
    return frame.astype({"revision_start": RAW_COLUMNS["timestamp"]}).sort_values("revision_start", kind="stable")


def attribute(buckets: pd.DataFrame, revisions: pd.DataFrame, tenants: Sequence[str]) -> pd.DataFrame:
    """``buckets`` (id, timestamp, volume) with the tenant, flavor and names of their revision.

    Only buckets whose revision belongs to one of ``tenants`` are kept.
    """
    buckets = buckets.astype({"timestamp": RAW_COLUMNS["timestamp"]}).sort_values("timestamp", kind="stable")
    merged = pd.merge_asof(buckets, revisions, left_on="timestamp", right_on="revision_start", by="id")
    merged = merged[merged["project_id"].isin(list(tenants))]
    out = merged.drop(columns=["revision_start", "id"]).rename(
        columns={"project_id": "tenant_id", "original": "resource_id", "name": "resource_name"}
    )
    # Each resource's buckets together, in time order, as the engine reads them fastest.
    return out.sort_values(["resource_id", "timestamp"], kind="stable").reset_index(drop=True)
