"""The billing stages' options ([billing]): light, so that every command can register them."""

from __future__ import annotations

from oslo_config import cfg

billing_opts = [
    cfg.IntOpt(
        "currency_decimals",
        default=2,
        min=0,
        max=6,
        help="Decimal places of line amounts (half-up rounding per line).",
    ),
    cfg.BoolOpt(
        "send_empty_invoices",
        default=False,
        help="Commit invoices without any line to the ERP. If false, a month "
        "without usage is recorded as billed (total 0) and nothing is sent.",
    ),
]


commit_opts = [
    cfg.IntOpt("commit_retries", default=4, min=0, help="Retries of a commit that failed transiently."),
    cfg.FloatOpt("commit_retry_wait", default=2.0, min=0, help="First wait in seconds between commit retries."),
    cfg.IntOpt(
        "commit_settle_time",
        default=300,
        min=0,
        help="Seconds after an attempt of unknown outcome (a timeout, a lost answer, a crash) before the "
        "invoice may be sent again, if a lookup does not find it: longer than the ERP may take to finish a "
        "request it already received.",
    ),
    cfg.IntOpt(
        "lease_time",
        default=300,
        min=1,
        deprecated_name="claim_timeout",
        help="Seconds a run's claim of a window lasts unless renewed, on the database's clock. The run "
        "renews it while it collects, rates and commits; another run takes the window over only once it "
        "has expired (or, on the same host and PID namespace, once the holding process is proven gone).",
    ),
]


plugin_opts = [
    cfg.ListOpt(
        "invoice_plugins",
        default=[],
        help="Invoice plugins to run on every invoice (e.g. tax,discount); each "
        "is configured in its own [invoice_plugin:<name>] section.",
    ),
]
