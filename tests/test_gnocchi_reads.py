"""How the Gnocchi collector splits its reads and attributes their buckets to tenants."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from artifice.collectors.gnocchi import Read, _chunked
from artifice.collectors.gnocchi_history import attribute, merged, revisions_frame


def read(meter: str, resources: int) -> Read:
    return Read("RegionOne", meter, "instance", meter, "vcpu", 600, "mean", tuple(f"r-{i}" for i in range(resources)))


def test_one_large_read_is_split_so_that_parallel_requests_share_it() -> None:
    chunks = _chunked([read("vcpus", 200)], 4)
    assert [len(c.ids) for c in chunks] == [50, 50, 50, 50]
    assert [i for c in chunks for i in c.ids] == list(read("vcpus", 200).ids)


@pytest.mark.parametrize("sizes", [[30, 30, 5, 25], [90, 10], [3, 1, 1], [1000] + [1] * 20, [7]])
def test_no_request_holds_more_than_its_share_and_every_resource_is_read_once(sizes: list[int]) -> None:
    reads = [read(f"meter-{n}", size) for n, size in enumerate(sizes)]
    chunks = _chunked(reads, 4)
    assert max(len(c.ids) for c in chunks) <= -(-sum(sizes) // 4)
    assert len(chunks) <= len(reads) + 4  # at most a few more requests
    for whole in reads:
        assert [i for c in chunks if c.meter == whole.meter for i in c.ids] == list(whole.ids)


def history(resource: str, project: str | None, **more: object) -> dict[str, object]:
    return {"id": resource, "revision_start": "2026-09-01T00:00:00+00:00", "project_id": project,
            "flavor_name": "m1.small", "original_resource_id": f"orig-{resource}", "display_name": f"name-{resource}",
            "started_at": "2026-09-01T00:00:00+00:00", "ended_at": None, **more}  # fmt: skip


REVISIONS = revisions_frame([
    history("r-2", "acme"), history("r-1", "acme", flavor_name=None, display_name=None),
    history("r-3", "initech", ended_at="2026-10-20T00:00:00+00:00"), history("r-4", "other"), history("r-5", None),
])  # fmt: skip


def buckets(order: str) -> pd.DataFrame:
    """Hourly buckets of r-1..r-5 and of r-9 (no revision), in the answer's order or another."""
    ids = [r for r in ("r-3", "r-1", "r-9", "r-2", "r-4", "r-5") for _ in range(5)]
    times = pd.date_range("2026-10-01", periods=5, freq="h", tz="UTC").tolist() * 6
    frame = pd.DataFrame({"id": ids, "timestamp": times, "volume": np.arange(30, dtype=float)})
    if order == "shuffled":
        frame = frame.sample(frac=1, random_state=7).reset_index(drop=True)
    return frame


def plain(frame: pd.DataFrame) -> pd.DataFrame:
    """Values only: categorical or object columns alike, NaN for missing, times in ns (as conform makes them)."""
    times = {c: "datetime64[ns, UTC]" for c in frame.columns if isinstance(frame[c].dtype, pd.DatetimeTZDtype)}
    names = {c: object for c in frame.columns if frame[c].dtype in ("category", object)}
    return frame.astype({**times, **names}).fillna(np.nan)


@pytest.mark.parametrize("order", ["as answered", "shuffled"])
@pytest.mark.parametrize("transformer", ["uptime", "gauge", "delta"])
def test_one_revision_per_resource_is_attributed_as_merging_attributes_it(order: str, transformer: str) -> None:
    rows = buckets(order)
    if transformer == "uptime":
        rows["status"] = "active"
    looked_up = attribute(rows, REVISIONS, ["acme", "initech"], transformer)
    general = merged(rows.astype({"timestamp": "datetime64[ns, UTC]"}), REVISIONS, ["acme", "initech"], transformer)
    pd.testing.assert_frame_equal(plain(looked_up), plain(general[looked_up.columns]), check_dtype=False)
    assert sorted(looked_up["resource_id"].unique()) == ["orig-r-1", "orig-r-2", "orig-r-3"]  # r-4, r-5, r-9: not ours
    assert len(looked_up) == 15
