"""What a naive tool does: the same transformers, one Python step per sample, on the API's sample dicts.

A straightforward, reasonably written per-sample implementation of Artifice's
rules (trusted sources, message-id de-duplication, unit conversion, time
weighting with ``max_gap``, counters with resets, half-open windows), used by
``tools/benchmarks/engine.py`` as the baseline the vectorised engine is compared
with. It bills the clean synthetic cloud exactly like the engine does; it is
not meant for messy data.
"""

from __future__ import annotations

import datetime as dt
import math
import operator
from collections import defaultdict
from collections.abc import Iterable, Mapping
from typing import Any

from artifice.timeutil import UTC, Window
from artifice.usage.mapping import MeterRule

Point = tuple[dt.datetime, float, str | None, str | None]


class NaiveRater:
    """Feed it sample dicts region by region, then ask for the totals."""

    def __init__(self, window: Window, rules: Mapping[str, MeterRule], trusted: Iterable[str]) -> None:
        self.start, self.end = window.start, window.end
        self.rules = rules
        self.trusted = set(trusted)
        self.seen: set[str] = set()
        self.series: dict[tuple[str, str, str, str], list[Point]] = defaultdict(list)

    def add(self, region: str, samples: Iterable[dict[str, Any]]) -> None:
        for sample in samples:
            meter = sample.get("counter_name")
            rule = self.rules.get(meter or "")
            if rule is None or sample.get("source") not in self.trusted:
                continue
            message_id = sample.get("message_id")
            if message_id:
                if message_id in self.seen:
                    continue
                self.seen.add(message_id)
            try:
                when = dt.datetime.fromisoformat(sample["timestamp"]).replace(tzinfo=UTC)
                volume = float(sample["counter_volume"])
            except (KeyError, TypeError, ValueError):
                continue
            if when >= self.end or not math.isfinite(volume) or volume < 0:
                continue
            factor = rule.amount_factor(sample.get("counter_unit") or "")
            if factor is None:
                continue
            metadata = sample.get("resource_metadata") or {}
            flavor = metadata.get("flavor.name") or metadata.get("instance_type")
            status = metadata.get("status")
            if rule.transformer == "uptime" and (not flavor or not status):
                continue
            key = (str(meter), sample["project_id"], region, sample["resource_id"])
            self.series[key].append((when, volume * factor, flavor, status))

    def totals(self) -> dict[tuple[str, str, str], float]:
        """Quantity per (tenant, region, service) in the billing unit."""
        out: dict[tuple[str, str, str], float] = defaultdict(float)
        for (meter, tenant, region, _resource), points in self.series.items():
            rule = self.rules[meter]
            points.sort(key=operator.itemgetter(0))
            for service, quantity in self._resource(rule, points).items():
                if rule.unit.time_seconds:
                    quantity /= rule.unit.time_seconds
                out[(tenant, region, service)] += quantity
        return {key: value for key, value in out.items() if value > 0}

    def _resource(self, rule: MeterRule, points: list[Point]) -> dict[str, float]:
        start, end = self.start, self.end
        quantities: dict[str, float] = defaultdict(float)
        if rule.transformer in ("uptime", "gauge"):
            for i, (when, value, flavor, status) in enumerate(points):
                following = points[i + 1][0] if i + 1 < len(points) else end
                if (following - when).total_seconds() > rule.max_gap:
                    continue
                seconds = (min(following, end) - max(when, start)).total_seconds()
                if seconds <= 0:
                    continue
                if rule.transformer == "gauge":
                    quantities[rule.service] += value * seconds
                elif str(status).lower() in rule.billable_states:
                    quantities[rule.service.format(flavor=flavor)] += seconds
        elif rule.transformer == "delta":
            previous = None
            for when, value, _flavor, _status in points:
                if previous is not None and start <= when < end:
                    quantities[rule.service] += value - previous if value >= previous else value
                previous = value
        elif rule.transformer == "sum":
            quantities[rule.service] = sum(value for when, value, _f, _s in points if start <= when < end)
        else:  # max
            inside = [value for when, value, _f, _s in points if start <= when < end]
            if inside:
                quantities[rule.service] = max(inside) * (end - start).total_seconds()
        return quantities
