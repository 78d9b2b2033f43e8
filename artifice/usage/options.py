"""The meter mapping's options ([metering]): light, so that every command can register them."""

from __future__ import annotations

from oslo_config import cfg

metering_opts = [
    cfg.StrOpt(
        "meter_mapping",
        default="",
        help="YAML file mapping telemetry meters to billable services; empty: /etc/artifice/meters.yaml "
        "if it exists (the former default), else the mapping shipped in the package "
        "(artifice/usage/meters.yaml: instance hours, volume and image GiB/GB-hours, traffic).",
    ),
    cfg.ListOpt(
        "trust_sources",
        default=["openstack"],
        help="Sample sources to bill; samples from other sources (for "
        "example ones a tenant posted itself) are dropped and counted.",
    ),
    cfg.IntOpt(
        "max_gap",
        default=7200,
        min=1,
        help="Seconds: two consecutive samples of a resource further apart "
        "than this leave the time between them unbilled; the last sample "
        "extends to the window end only if the end is this close. A meter "
        "may override it with max_gap in the mapping.",
    ),
    cfg.IntOpt(
        "lead_in",
        default=7200,
        min=0,
        help="Seconds before the window start to read a lead-in sample, "
        "whose state or value counts from the window start.",
    ),
]
