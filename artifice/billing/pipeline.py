"""The billing pipeline as a library: claim, collect, rate, price, commit, record.

    pipeline = Pipeline.from_config(conf)
    result = pipeline.bill(Tenant("abc"), parse_month("2026-10"))

The window is claimed in the database before anything is priced, so two runs
can never both commit the same tenant and month. The invoice adapter sees
only the five contract calls (see ``artifice.invoice``).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import uuid
from collections.abc import Iterator
from decimal import Decimal

import pandas as pd
from oslo_config import cfg

from artifice import config, model, tenants
from artifice.billing.adjustments import rebill_lines
from artifice.billing.batch import BatchReader
from artifice.billing.calendar import refuse_unfinished
from artifice.billing.commit import CommitPolicy
from artifice.billing.plugins import load_plugins, plugin_lines
from artifice.billing.pricing import invoice_total, price_lines
from artifice.billing.run import BillingRun, Job, drive, fill
from artifice.collectors.base import Collector
from artifice.exceptions import ArtificeError, CollectionError, CommitError, WindowConflict, safe_text
from artifice.invoices.base import Invoice
from artifice.loading import load_class
from artifice.model import PricedLine, Tenant
from artifice.store import db
from artifice.store.windows import WindowStore
from artifice.timeutil import Window, utcnow
from artifice.usage.engine import SampleReport, rate
from artifice.usage.mapping import MeterRule, load_mapping

LOG = logging.getLogger(__name__)


@dataclasses.dataclass
class BillResult:
    tenant: Tenant
    window: Window
    lines: list[PricedLine]
    total: Decimal
    currency: str
    reference: str
    report: SampleReport
    state: str  # "dry-run", "committed", "skipped" or "unchanged" (a re-bill with nothing to adjust)
    note: str = ""

    def sections(self) -> Iterator[tuple[str, list[PricedLine]]]:
        for datacenter in sorted({line.datacenter for line in self.lines}):
            yield datacenter, [line for line in self.lines if line.datacenter == datacenter]


class Pipeline:
    def __init__(
        self,
        conf: cfg.ConfigOpts,
        collector: Collector,
        invoice_class: type[Invoice],
        adapter_name: str,
        rules: dict[str, MeterRule],
        store: WindowStore,
    ) -> None:
        self.conf = conf
        self.collector = collector
        self.invoice_class = invoice_class
        self.adapter_name = adapter_name
        self.rules = rules
        self.store = store
        self.plugins = load_plugins(conf)
        self.reader = BatchReader()
        self.run_id = uuid.uuid4().hex[:12]

    @classmethod
    def from_config(cls, conf: cfg.ConfigOpts) -> Pipeline:
        adapter_name = config.invoice_reference(conf)
        invoice_class = load_class("artifice.invoices", adapter_name, Invoice, "[main] invoice:object")
        collector_base: type[Collector] = Collector  # type: ignore[type-abstract]
        collector_class = load_class("artifice.collectors", conf.main.collector, collector_base, "[main] collector")
        rules = load_mapping(conf.metering.meter_mapping, conf.metering.max_gap)
        engine = db.make_engine(conf.database.connection)
        db.check_schema(engine)
        lease = dt.timedelta(seconds=conf.billing.lease_time)
        settle = dt.timedelta(seconds=conf.billing.commit_settle_time)
        store = WindowStore(engine, lease, settle)
        return cls(conf, collector_class(conf), invoice_class, adapter_name, rules, store)

    def tenants(self, window: Window) -> list[Tenant]:
        """Every project Keystone or the window's telemetry knows, whatever [tenants] filters."""
        return tenants.known(self.conf, self.collector.tenants(window))

    def billed(self, tenants_known: list[Tenant]) -> list[Tenant]:
        """Those ``[tenants]`` let be billed (read at each use: a reload may change it)."""
        return tenants.billed(self.conf, tenants_known)

    def plan(self, window: Window, tenants_to_bill: list[Tenant]) -> None:
        """Tell the collector which tenants are billed next, in order, so it can read them in batches."""
        self.reader.plan(window, [t.id for t in tenants_to_bill])

    def bill(self, tenant: Tenant, window: Window, dry_run: bool = False, rebill: bool = False) -> BillResult:
        """Bill the tenant's window; with ``rebill``, send only what changed since it was billed."""
        tenant = self.store.named(tenant)  # --force-tenant, or a project Keystone no longer lists
        if dry_run:
            return self._dry_run(tenant, window, rebill)
        refuse_unfinished(window, utcnow())
        report = SampleReport()
        usage: list[PricedLine] = []  # a re-bill's usage at today's prices

        def rate_invoice(invoice: Invoice) -> tuple[list[PricedLine], str]:
            nonlocal report
            if rebill:  # against what is committed now that the window is ours
                lines = self._adjustment(tenant, window, usage, self._currency(invoice))
            else:
                lines, report = self._rate(invoice, tenant, window)
            return lines, self._currency(invoice)

        def new_invoice(reference: str) -> Invoice:
            invoice = self._new_invoice(tenant, window, reference)
            if rebill:
                invoice.adjusts = self.store.billed_lines(tenant.id, window)[0]
            return invoice

        if rebill:  # rate first: an unchanged month needs no window at all
            usage, report, rated = self._rate_again(tenant, window)
            if not self._adjustment(tenant, window, usage, self._currency(rated)):
                return self._unchanged(tenant, window, report)
        kind = model.ADJUSTMENT if rebill else model.INVOICE
        send_empty = self.conf.billing.send_empty_invoices and not rebill
        policy = CommitPolicy.from_conf(self.conf)
        job = Job(tenant, window, kind, self.adapter_name, self.run_id, new_invoice, rate_invoice, send_empty, policy)
        run = BillingRun(self.store, job)
        drive(run)
        assert run.claimed is not None
        total = invoice_total(run.lines)
        reference = run.claimed.reference
        LOG.info("run %s: tenant %s %s committed %s total %s %s", self.run_id, tenant.label, window.label,
                 reference, total, run.currency)  # fmt: skip
        sent = run.claimed.attempts > 0
        note = "" if sent else "nothing to send: recorded as billed, nothing sent to the ERP"
        return BillResult(tenant, window, run.lines, total, run.currency, reference, report, "committed", note)

    def _rate_again(self, tenant: Tenant, window: Window) -> tuple[list[PricedLine], SampleReport, Invoice]:
        """The month's usage lines at today's prices, and the adjustment invoice that priced them."""
        if self.store.billed_lines(tenant.id, window)[0] is None:
            raise WindowConflict(f"tenant {tenant.id} {window.label}: not billed yet, so there is nothing to re-bill")
        invoice = self._new_invoice(tenant, window, self.store.next_reference(tenant.id, window, model.ADJUSTMENT))
        return (*self._rate_usage(invoice, tenant, window), invoice)

    def _adjustment(self, tenant: Tenant, window: Window, usage: list[PricedLine], currency: str) -> list[PricedLine]:
        """The adjustment lines that bring what is committed for the month to ``usage`` (billed prices kept)."""
        billed = self.store.billed_lines(tenant.id, window)[1]
        cent = Decimal(1).scaleb(-self.conf.billing.currency_decimals)
        return rebill_lines(billed, usage, cent, lambda lines: self._plugin_lines(tenant, window, currency, lines))

    def _unchanged(self, tenant: Tenant, window: Window, report: SampleReport) -> BillResult:
        note = "usage unchanged since it was billed: no adjustment"
        return BillResult(tenant, window, [], Decimal(0), "", "", report, "unchanged", note)

    def _dry_run(self, tenant: Tenant, window: Window, rebill: bool) -> BillResult:
        """What a real run would send now, under the reference it would use; nothing is written."""
        if rebill:
            usage, report, invoice = self._rate_again(tenant, window)  # one invoice: its rates are read once
            lines = self._adjustment(tenant, window, usage, self._currency(invoice))
            note = "adjustment lines a re-bill would send" if lines else "usage unchanged: a re-bill sends nothing"
        else:
            invoice = self._new_invoice(tenant, window, self.store.next_reference(tenant.id, window, model.INVOICE))
            lines, report = self._rate(invoice, tenant, window)
            blocking = self.store.blocking(tenant.id, window)
            note = f"already {blocking.state} as {blocking.external_reference}" if blocking else ""
        fill(invoice, lines, self._currency(invoice))  # the adapter checks what it would be sent (never committed)
        total, reference = invoice_total(lines), invoice.reference or ""
        return BillResult(tenant, window, lines, total, self._currency(invoice), reference, report, "dry-run", note)

    def _new_invoice(self, tenant: Tenant, window: Window, reference: str) -> Invoice:
        section = config.raw_section(self.conf, config.INVOICE_SECTION)
        try:
            invoice = self.invoice_class(tenant, section)
        except ArtificeError:
            raise
        except Exception as exc:
            failure = safe_text(section, exc)
            raise CommitError(f"invoice adapter {self.adapter_name} failed to start: {failure}") from exc
        invoice.period = window
        invoice.reference = reference
        return invoice

    def _rate(self, invoice: Invoice, tenant: Tenant, window: Window) -> tuple[list[PricedLine], SampleReport]:
        """The month's lines as a first invoice bills them: usage, then plugin items."""
        lines, report = self._rate_usage(invoice, tenant, window)
        return lines + self._plugin_lines(tenant, window, self._currency(invoice), lines), report

    def _rate_usage(self, invoice: Invoice, tenant: Tenant, window: Window) -> tuple[list[PricedLine], SampleReport]:
        try:
            meters, lead_in = sorted(self.rules), self.conf.metering.lead_in
            raw = self.reader.collect(self.collector, tenant.id, window, meters, lead_in)
        except CollectionError as exc:
            raise CollectionError(f"tenant {tenant.id} {window.label}: {exc}") from exc
        datacenters = self.conf.main.datacenters
        if datacenters:
            # Mapped per category (region), not per sample.
            regions = raw["region"].astype("category")
            raw = raw.assign(region=regions.map(lambda r: datacenters.get(r, r)))
        usage = rate(raw, window, self.rules, self.conf.metering.trust_sources)
        if usage.report.dropped and not usage.report.used:  # never bill a month as empty when its data was refused
            raise CollectionError(
                f"tenant {tenant.id} {window.label}: every sample was dropped ({usage.report.summary()}): "
                "nothing is billed; check [metering] trust_sources and the meter mapping"
            )
        if usage.report.dropped:
            LOG.warning("tenant %s %s: %s", tenant.label, window.label, usage.report.summary())
        decimals = self.conf.billing.currency_decimals
        return price_lines(usage.lines, usage.detail, invoice, decimals, _resource_names(raw)), usage.report

    def _plugin_lines(self, tenant: Tenant, window: Window, currency: str, usage: list[PricedLine]) -> list[PricedLine]:
        return plugin_lines(self.plugins, tenant, window, currency, usage, self.conf.billing.currency_decimals)

    def _currency(self, invoice: Invoice) -> str:
        return str(invoice.currency or "")


def _resource_names(raw: pd.DataFrame) -> dict[str, str]:
    """Resource id -> the newest display name the telemetry gave it."""
    if "resource_name" not in raw or not raw["resource_name"].notna().any():
        return {}
    named = raw.loc[raw["resource_name"].notna(), ["resource_id", "resource_name"]]
    return {str(r): str(n) for r, n in named.drop_duplicates("resource_id", keep="last").itertuples(index=False)}
