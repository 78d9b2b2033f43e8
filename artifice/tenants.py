"""Which tenants to bill: Keystone projects plus every project seen in telemetry.

A project deleted from Keystone still has usage for the month it was
deleted in, so tenants found only in telemetry are billed too (by id).
"""

from __future__ import annotations

import logging
from typing import Any

from oslo_config import cfg

from artifice.exceptions import CollectionError
from artifice.model import Tenant

LOG = logging.getLogger(__name__)

tenants_opts = [
    cfg.BoolOpt(
        "from_keystone",
        default=False,
        help="Also list tenants from Keystone (/v3/projects, with [service_credentials]); "
        "gives invoices the project names.",
    ),
    cfg.ListOpt("include_tenants", default=[], help="Bill only these project ids or names (empty: all)."),
    cfg.ListOpt("exclude_tenants", default=[], help="Never bill these project ids or names."),
]


def keystone_projects(conf: cfg.ConfigOpts) -> dict[str, str]:
    """Project id -> name, from Keystone's v3 API."""
    from keystoneauth1 import exceptions as ks_exc  # here: the commands that only read the database skip it

    from artifice import openstack

    session = openstack.make_session(conf)
    credentials = conf[openstack.CREDENTIALS_GROUP]
    endpoint = {"service_type": "identity", "interface": credentials.interface, "version": (3, 0)}
    if credentials.region_name:
        endpoint["region_name"] = credentials.region_name
    response = openstack.call(
        conf, "listing Keystone projects", (ks_exc.ClientException,), session.get, "/projects", endpoint_filter=endpoint
    )
    body: dict[str, Any] = response.json()
    if body.get("truncated"):
        raise CollectionError("Keystone truncated the project list (its [DEFAULT] list_limit): raise it")
    return {str(p["id"]): str(p.get("name") or "") for p in body.get("projects", [])}


def known(conf: cfg.ConfigOpts, from_telemetry: list[Tenant]) -> list[Tenant]:
    """Telemetry's tenants, named and completed from Keystone (not filtered: see ``billed``)."""
    names: dict[str, str] = keystone_projects(conf) if conf.tenants.from_keystone else {}
    ids = {t.id for t in from_telemetry if t.id.strip()} | set(names)
    deleted = sorted(t for t in ids if names and t not in names)
    if deleted:
        LOG.info("billing %d project(s) no longer in Keystone: %s", len(deleted), ", ".join(deleted))
    return [Tenant(t, names.get(t, "")) for t in sorted(ids)]


def billed(conf: cfg.ConfigOpts, tenants: list[Tenant]) -> list[Tenant]:
    """Those of ``tenants`` that [tenants] include_tenants and exclude_tenants let be billed, now."""
    include, exclude = set(conf.tenants.include_tenants), set(conf.tenants.exclude_tenants)
    return [t for t in tenants if (not include or include & {t.id, t.name}) and not exclude & {t.id, t.name}]
