"""The meter mapping: which telemetry meter becomes which billable service."""

from __future__ import annotations

import dataclasses
import importlib.resources
import os
from collections.abc import Mapping
from typing import Any

import yaml

from artifice.exceptions import ConfigError
from artifice.usage.units import AMOUNT_UNITS, BillingUnit, parse_unit

# Nova states in which an instance holds (and uses) its hypervisor resources.
# Stopped (shutoff), suspended and shelved instances are not billed: that is
# what a user who stops an instance expects, and it matches distil's choice.
DEFAULT_BILLABLE_STATES = ("active", "paused", "rescued", "resized", "verify_resize", "migrating")
TRANSFORMERS = ("uptime", "gauge", "max", "delta", "sum")
TIME_BASED = {"uptime": True, "gauge": True, "max": True, "delta": False, "sum": False}
CATEGORIES = ("compute", "memory", "storage", "network", "license", "extra")
_KEYS = {"transformer", "service", "unit", "category", "max_gap", "billable_states", "gnocchi_metric", "sample_units",
         "description"}  # fmt: skip


@dataclasses.dataclass(frozen=True)
class MeterRule:
    meter: str
    transformer: str
    service: str  # a template; "{flavor}" is replaced for uptime
    unit: BillingUnit
    category: str
    max_gap: int
    billable_states: tuple[str, ...]
    gnocchi_metric: str = ""  # the Gnocchi metric to read, when it is not named like the meter
    sample_units: tuple[tuple[str, str], ...] = ()  # what a sample's unit label really means (Cinder: GB is GiB)
    description: str = ""  # how an invoice describes the service; "{service}" is replaced

    @property
    def metric(self) -> str:
        return self.gnocchi_metric or self.meter

    def describe(self, service: str) -> str:
        return self.description.replace("{service}", service) if self.description else service

    def amount_factor(self, sample_unit: str) -> float | None:
        """Multiply a sample's value in ``sample_unit`` by this to get the billing amount unit."""
        return self.unit.amount_factor(dict(self.sample_units).get(sample_unit, sample_unit))


SHIPPED_MAPPING = str(importlib.resources.files("artifice.usage") / "meters.yaml")
FORMER_DEFAULT = "/etc/artifice/meters.yaml"  # the default before the mapping was shipped in the package


def load_mapping(path: str, default_max_gap: int) -> dict[str, MeterRule]:
    """The mapping in ``path``; when it is empty, an operator's /etc/artifice/meters.yaml, else the shipped one."""
    if not path:
        path = FORMER_DEFAULT if os.path.isfile(FORMER_DEFAULT) else SHIPPED_MAPPING
    try:
        with open(path, encoding="utf-8") as handle:
            document = yaml.safe_load(handle)
    except OSError as exc:
        raise ConfigError(f"meter mapping {path}: {exc.strerror or exc}") from exc
    except yaml.YAMLError as exc:
        raise ConfigError(f"meter mapping {path}: invalid YAML: {exc}") from exc
    return parse_mapping(document, path, default_max_gap)


def parse_mapping(document: Any, origin: str, default_max_gap: int) -> dict[str, MeterRule]:
    if not isinstance(document, Mapping) or not isinstance(document.get("meters"), Mapping):
        raise ConfigError(f"meter mapping {origin}: expected a top-level 'meters:' mapping")
    return {
        str(meter): _parse_rule(str(meter), spec, origin, default_max_gap) for meter, spec in document["meters"].items()
    }


def _parse_rule(meter: str, spec: Any, origin: str, default_max_gap: int) -> MeterRule:
    where = f"meter mapping {origin}, meter {meter!r}"
    if not isinstance(spec, Mapping):
        raise ConfigError(f"{where}: expected a mapping of settings")
    unknown = set(spec) - _KEYS
    if unknown:
        raise ConfigError(f"{where}: unknown setting(s) {', '.join(sorted(map(str, unknown)))}")
    transformer = spec.get("transformer")
    if transformer not in TRANSFORMERS:
        raise ConfigError(f"{where}: transformer {transformer!r} is not one of {', '.join(TRANSFORMERS)}")
    try:
        unit = parse_unit(
            str(spec.get("unit", "")),
            time_based=TIME_BASED[transformer],
            has_amount=transformer != "uptime",
        )
    except ValueError as exc:
        raise ConfigError(f"{where}: {exc}") from exc
    category = spec.get("category", "extra")
    if category not in CATEGORIES:
        raise ConfigError(f"{where}: category {category!r} is not one of {', '.join(CATEGORIES)}")
    max_gap = spec.get("max_gap", default_max_gap)
    if not isinstance(max_gap, int) or isinstance(max_gap, bool) or max_gap <= 0:
        raise ConfigError(f"{where}: max_gap must be a positive number of seconds")
    states = spec.get("billable_states", list(DEFAULT_BILLABLE_STATES))
    if not isinstance(states, list) or not all(isinstance(s, str) for s in states):
        raise ConfigError(f"{where}: billable_states must be a list of state names")
    service = str(spec.get("service", "{flavor}" if transformer == "uptime" else meter))
    if transformer != "uptime" and "{" in service:
        raise ConfigError(f"{where}: only uptime services may use {{flavor}}")
    metric = spec.get("gnocchi_metric", "")
    if not isinstance(metric, str):
        raise ConfigError(f"{where}: gnocchi_metric must be a metric name")
    sample_units = spec.get("sample_units", {})
    if not isinstance(sample_units, Mapping) or not all(v in AMOUNT_UNITS for v in sample_units.values()):
        raise ConfigError(f"{where}: sample_units must map sample unit labels to units of {', '.join(AMOUNT_UNITS)}")
    return MeterRule(
        meter=meter,
        transformer=transformer,
        service=service,
        unit=unit,
        category=category,
        max_gap=max_gap,
        billable_states=tuple(s.lower() for s in states),
        gnocchi_metric=metric,
        sample_units=tuple((str(k), str(v)) for k, v in sample_units.items()),
        description=str(spec.get("description", "")),
    )
