"""The optional Prometheus endpoint (``[daemon] prometheus_port``)."""

from __future__ import annotations

import prometheus_client
from oslo_config import cfg

from artifice.exceptions import ConfigError

REGISTRY = prometheus_client.CollectorRegistry()
BILLED = prometheus_client.Counter("artifice_windows_billed", "Billing windows committed.", registry=REGISTRY)
FAILURES = prometheus_client.Counter("artifice_billing_failures", "Tenant-months that failed.", registry=REGISTRY)
PASS_SECONDS = prometheus_client.Histogram(
    "artifice_billing_pass_seconds",
    "Duration of billing passes.",
    buckets=(1, 10, 60, 300, 900, 3600, float("inf")),
    registry=REGISTRY,
)
LAG = prometheus_client.Gauge(
    "artifice_tenant_lag_months", "Complete months due but not billed, per tenant.", ["tenant"], registry=REGISTRY
)
ENABLED = False


def serve(conf: cfg.ConfigOpts) -> None:
    global ENABLED
    if conf.daemon.prometheus_port and not ENABLED:
        where = f"{conf.daemon.prometheus_host}:{conf.daemon.prometheus_port}"
        try:
            prometheus_client.start_http_server(conf.daemon.prometheus_port, conf.daemon.prometheus_host, REGISTRY)
        except OSError as exc:
            raise ConfigError(f"[daemon] prometheus_port: cannot listen on {where}: {exc.strerror or exc}") from exc
        ENABLED = True
