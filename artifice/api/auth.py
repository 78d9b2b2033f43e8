"""Who is calling: a Keystone token (validated through keystoneauth1) or a static token file.

``Authorization: Bearer <token>`` and ``X-Auth-Token: <token>`` are both
accepted. An admin sees every tenant; any other caller sees its own project.

A Keystone token is an admin's when it carries one of ``admin_roles`` *in its scope*: a
system-scoped token, or one scoped to a project of ``admin_projects`` (by id or name). An
admin role on any other project makes its holder an admin of that project only, so a
tenant's own admin (common: Keystone lets projects have admins) sees only its invoices.
"""

from __future__ import annotations

import csv
import dataclasses
import hmac
import threading
from typing import Any

import cachetools
from keystoneauth1 import exceptions as ks_exc
from oslo_config import cfg

from artifice import openstack
from artifice.exceptions import ArtificeError, ConfigError


class Unauthorized(ArtificeError):
    """No token, or a token that is not valid."""


@dataclasses.dataclass(frozen=True)
class Caller:
    project_id: str
    admin: bool


def token_of(authorization: str | None, x_auth_token: str | None) -> str:
    if authorization:
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise Unauthorized("Authorization must be 'Bearer <token>'")
        return token.strip()
    if x_auth_token and x_auth_token.strip():
        return x_auth_token.strip()
    raise Unauthorized("authentication required: send Authorization: Bearer <token>")


class TokenFile:
    def __init__(self, path: str) -> None:
        try:
            with open(path, newline="", encoding="utf-8") as handle:
                rows = [r for r in csv.reader(handle) if r and not r[0].startswith("#")]
        except OSError as exc:
            raise ConfigError(f"[api] token_file {path}: {exc.strerror or exc}") from exc
        self.callers: list[tuple[str, Caller]] = []
        for number, row in enumerate(rows, start=1):
            if len(row) != 3 or row[2].strip() not in ("admin", "member") or not row[0].strip():
                raise ConfigError(f"[api] token_file {path} row {number}: expected token,project_id,admin|member")
            token, project, role = (x.strip() for x in row)
            if role == "member" and not project:
                raise ConfigError(f"[api] token_file {path} row {number}: a member token needs a project_id")
            self.callers.append((token, Caller(project, role == "admin")))

    def known(self, token: str) -> Caller | None:
        """The caller, found without waiting on anything (always, for a file)."""
        return self.caller(token)

    def caller(self, token: str) -> Caller:
        for known, caller in self.callers:
            if hmac.compare_digest(known.encode(), token.encode()):
                return caller
        raise Unauthorized("invalid token")


class KeystoneTokens:
    """Validates user tokens with ``GET /v3/auth/tokens`` on the API's own service session."""

    def __init__(self, conf: cfg.ConfigOpts) -> None:
        self.session = openstack.make_session(conf)
        self.admin_roles = set(conf.api.admin_roles)
        self.admin_projects = set(conf.api.admin_projects)
        self.cache: cachetools.TTLCache[str, Caller] = cachetools.TTLCache(
            maxsize=conf.api.token_cache_size, ttl=conf.api.token_cache_seconds
        )
        self.lock = threading.Lock()

    def known(self, token: str) -> Caller | None:
        """The caller of a token validated recently, or None: ask ``caller``, which asks Keystone."""
        with self.lock:
            return self.cache.get(token)

    def caller(self, token: str) -> Caller:
        cached = self.known(token)
        if cached is not None:
            return cached
        try:
            response = self.session.get(
                "/auth/tokens",
                endpoint_filter={"service_type": "identity", "interface": "public", "version": (3, 0)},
                headers={"X-Subject-Token": token},
                raise_exc=False,
            )
        except ks_exc.ClientException as exc:
            raise ArtificeError(f"cannot validate the token with Keystone: {exc}") from exc
        if response.status_code in (401, 403, 404):
            raise Unauthorized("invalid token")
        if response.status_code != 200:
            raise ArtificeError(f"Keystone answered HTTP {response.status_code} validating a token")
        caller = self.caller_of(response.json()["token"])
        if not caller.admin and not caller.project_id:
            raise Unauthorized("the token is not scoped to a project")
        self.remember(token, caller)
        return caller

    def caller_of(self, body: dict[str, Any]) -> Caller:
        """Who a validated token's body says is calling, and whether with an admin's scope."""
        has_admin_role = bool({role["name"] for role in body.get("roles", [])} & self.admin_roles)
        project = body.get("project") or {}
        admin_scope = bool((body.get("system") or {}).get("all")) or bool(
            {str(project.get("id", "")), str(project.get("name", ""))} & self.admin_projects
        )
        return Caller(str(project.get("id", "")), has_admin_role and admin_scope)

    def remember(self, token: str, caller: Caller) -> None:
        if self.cache.ttl > 0:
            with self.lock:
                self.cache[token] = caller


def authenticator(conf: cfg.ConfigOpts) -> TokenFile | KeystoneTokens:
    if conf.api.auth_strategy == "token_file":
        return TokenFile(conf.api.token_file)
    return KeystoneTokens(conf)
