"""The engine bills the same whatever order a collector returns its rows in.

The engine cuts samples into per-meter blocks three ways (views of
same-meter stretches, gathering interleaved meters, a full sort); each is
forced here on the same synthetic cloud and must give the same lines and
per-resource detail as the collector order.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from artifice.usage import blocks, engine
from tools.benchmarks.cloud import SOURCE, Cloud

CLOUD = Cloud(tenants=3)


def _rated(frame: pd.DataFrame) -> engine.Usage:
    return engine.rate(frame, CLOUD.window, CLOUD.mapping, [SOURCE])


def _sorted(table: pd.DataFrame) -> pd.DataFrame:
    keys = [c for c in table.columns if c != "quantity"]
    return table.astype({k: str for k in keys}).sort_values(keys).reset_index(drop=True)


def _assert_same(got: engine.Usage, expected: engine.Usage, samples: int) -> None:
    for name in ("lines", "detail"):
        mine, theirs = _sorted(getattr(got, name)), _sorted(getattr(expected, name))
        pd.testing.assert_frame_equal(mine.drop(columns="quantity"), theirs.drop(columns="quantity"))
        np.testing.assert_allclose(mine["quantity"].to_numpy(float), theirs["quantity"].to_numpy(float), rtol=1e-12)
    assert got.report.used == expected.report.used == samples


@pytest.mark.parametrize("few_segments", [blocks.FEW_SEGMENTS, 0], ids=["stretches", "gathered-or-sorted"])
@pytest.mark.parametrize("order", ["tenant", "shuffled"])
def test_rows_in_any_order_bill_the_same(monkeypatch: pytest.MonkeyPatch, few_segments: int, order: str) -> None:
    expected = _rated(CLOUD.frame())
    assert len(expected.lines) > 20  # every kind of resource of three tenants in two regions
    frame = CLOUD.frame(order="tenant") if order == "tenant" else CLOUD.frame()
    if order == "shuffled":
        frame = frame.take(np.random.default_rng(7).permutation(len(frame))).reset_index(drop=True)
    monkeypatch.setattr(blocks, "FEW_SEGMENTS", few_segments)
    _assert_same(_rated(frame), expected, len(frame))
