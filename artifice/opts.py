"""All of Artifice's oslo.config options, for registration and the sample file."""

from __future__ import annotations

import importlib
from typing import Any

# Modules that declare options, and the group of each option list they export.
_OPTION_LISTS = (
    ("artifice.config", "main", "main_opts"),
    ("artifice.usage.mapping", "metering", "metering_opts"),
    ("artifice.store.db", "database", "database_opts"),
    ("artifice.pipeline", "billing", "billing_opts"),
    ("artifice.collectors.samples_file", "collector:samples", "samples_opts"),
)


def list_opts() -> list[tuple[str, list[Any]]]:
    """Entry point for oslo-config-generator (namespace ``artifice``)."""
    return [(group, list(getattr(importlib.import_module(module), attr))) for module, group, attr in _OPTION_LISTS]
