"""The read API's listening options; light, so that every command can register them."""

from __future__ import annotations

from oslo_config import cfg

api_opts = [
    cfg.HostAddressOpt("host", default="127.0.0.1", help="Address artifice-api listens on."),
    cfg.PortOpt("port", default=8977, help="Port artifice-api listens on."),
    cfg.IntOpt(
        "workers",
        default=1,
        min=1,
        max=64,
        help="uvicorn worker processes (each with its own database connections); about one per CPU core.",
    ),
    cfg.IntOpt(
        "threads",
        default=16,
        min=1,
        max=256,
        help="Requests each worker runs at once, each with a database connection kept open: workers x "
        "threads must stay below the database server's connection limit.",
    ),
    cfg.IntOpt(
        "answer_cache_mb",
        default=64,
        min=0,
        help="MiB of answers each worker remembers per database snapshot: the same request from a caller "
        "who sees the same rows is answered again without querying, until any write commits. 0: off.",
    ),
]

api_auth_opts = [
    cfg.StrOpt(
        "auth_strategy",
        default="keystone",
        choices=["keystone", "token_file"],
        help="keystone: validate tokens with Keystone ([service_credentials] authenticates the API); "
        "token_file: the static tokens of token_file, for small installs.",
    ),
    cfg.StrOpt(
        "token_file",
        default="/etc/artifice/api-tokens.csv",
        help="CSV 'token,project_id,role' (role admin or member; an admin's project_id may be empty). "
        "Keep it readable by the API's user only.",
    ),
    cfg.ListOpt(
        "admin_roles", default=["admin"], help="Keystone roles that see every tenant, when held in an admin scope."
    ),
    cfg.ListOpt(
        "admin_projects",
        default=["admin"],
        help="Projects (ids or names) whose tokens with an admin role see every tenant; system-scoped "
        "tokens with an admin role always do. An admin role on another project sees that project only.",
    ),
    cfg.IntOpt("token_cache_seconds", default=60, min=0, help="How long a validated Keystone token is trusted."),
    cfg.IntOpt("token_cache_size", default=10000, min=1, help="Validated Keystone tokens kept at most."),
]
