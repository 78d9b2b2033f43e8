"""All of Artifice's oslo.config options, for registration and the sample file."""

from __future__ import annotations

import importlib
from typing import Any

# Modules that declare options, and the group of each option list they export.
_OPTION_LISTS = (
    ("artifice.config", "main", "main_opts"),
    ("artifice.usage.options", "metering", "metering_opts"),
    ("artifice.store.options", "database", "database_opts"),
    ("artifice.billing.options", "billing", "billing_opts"),
    ("artifice.billing.options", "billing", "commit_opts"),
    ("artifice.billing.options", "billing", "plugin_opts"),
    ("artifice.collectors.options", "collector:samples", "samples_opts"),
    ("artifice.collectors.options", "collector:ceilometer", "ceilometer_opts"),
    ("artifice.collectors.options", "collector:gnocchi", "gnocchi_opts"),
    ("artifice.openstack", "telemetry", "retry_opts"),
    ("artifice.tenants", "tenants", "tenants_opts"),
    ("artifice.daemon.options", "daemon", "daemon_opts"),
    ("artifice.api.options", "api", "api_opts"),
    ("artifice.api.options", "api", "api_auth_opts"),
    ("artifice.openstack", "service_credentials", "credential_opts"),
)


def list_opts(runtime: bool = False) -> list[tuple[str, list[Any]]]:
    """Entry point for oslo-config-generator (namespace ``artifice``).

    ``runtime=True`` leaves out the options of keystoneauth's auth plugins,
    which keystoneauth registers itself for the plugin actually configured.
    """
    result = []
    for module, group, attr in _OPTION_LISTS:
        found = getattr(importlib.import_module(module), attr)
        result.append((group, list(found(runtime) if callable(found) else found)))
    return result
