"""What the OpenStack API collectors share: per-region clients over one keystoneauth1 session."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from oslo_config import cfg

from artifice import openstack
from artifice.collectors.base import Collector
from artifice.exceptions import ConfigError
from artifice.usage.mapping import load_mapping


class ApiCollector(Collector):
    """Reads one telemetry API per region; ``requests`` counts the HTTP calls made."""

    group: str  # its config group, with ``regions`` and ``endpoints``
    service: str  # the catalog's service type, for messages

    def __init__(self, conf: cfg.ConfigOpts, auth_group: str = openstack.CREDENTIALS_GROUP) -> None:
        super().__init__(conf)
        self.options = conf[self.group]
        if not self.options.regions:
            raise ConfigError(f"[{self.group}] regions is empty")
        self.session = openstack.make_session(conf, auth_group)
        self.rules = load_mapping(conf.metering.meter_mapping, conf.metering.max_gap)
        self.transformers = {meter: rule.transformer for meter, rule in self.rules.items()}
        self._clients: dict[str, Any] = {}
        self.requests = 0

    def regions(self) -> Sequence[str]:
        return list(self.options.regions)

    def endpoint(self, region: str) -> str:
        return str(self.options.endpoints.get(region) or f"the catalog's {self.service} endpoint in {region}")
