"""Ceilometer's counter types, and the transformer each needs to be billed right."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from artifice.exceptions import ConfigError
from artifice.usage.mapping import MeterRule

TRANSFORMERS_FOR = {
    "cumulative": ("delta",),  # a running total: bill its growth
    "delta": ("sum",),  # each sample is already the growth since the previous one
    "gauge": ("uptime", "gauge", "max"),  # a level at a moment
}


def check_counter_types(
    meter_codes: np.ndarray,
    meters: np.ndarray,
    type_codes: np.ndarray,
    types: np.ndarray,
    rules: Mapping[str, MeterRule],
) -> None:
    """Refuse a meter whose samples' counter type its transformer bills wrong (a delta meter under delta bills 0).

    Codes index their categories (``meters``, ``types``), -1 where missing; Gnocchi keeps no
    counter type, so its rows are not checked.
    """
    known = type_codes >= 0
    if not known.any():
        return
    # Each (meter, type) pair once: count them in one table, meters shifted by one so that -1 fits.
    pairs = (meter_codes[known].astype(np.int64) + 1) * len(types) + type_codes[known]
    present = np.flatnonzero(np.bincount(pairs, minlength=(len(meters) + 1) * len(types)))
    for meter_code, type_code in zip(present // len(types) - 1, present % len(types), strict=True):
        rule = rules.get(str(meters[meter_code])) if meter_code >= 0 else None
        kind = str(types[type_code]).lower()
        expected = TRANSFORMERS_FOR.get(kind)
        if rule is not None and expected and rule.transformer not in expected:
            raise ConfigError(
                f"meter {rule.meter} is a {kind} meter in the telemetry, which transformer {rule.transformer} "
                f"bills wrong: map it with transformer {' or '.join(expected)} in the meter mapping"
            )
