"""The reference adapter: one CSV invoice file per tenant and month.

Config (its ``[invoice:object]`` section)::

    csv_directory = /var/lib/artifice/invoices   # where invoices are written
    rates_file = /etc/artifice/rates.csv          # see artifice.invoices.rates
    payment_terms_days = 30                       # due date: the issue date plus this

The file ``<tenant>-<YYYY-MM>.csv`` is one table a spreadsheet opens as is: a header row,
then a row per line, a subtotal row per datacenter and a total row. Every row carries the
invoice's reference (machine-readable), tenant, period as invoices write it
(``1-31 October 2026``), issue and due dates; each line a description from the meter mapping.
It is written to a temporary file and renamed, so it is either complete or absent; an existing
invoice file is never replaced. A writer killed between the two leaves a ``.invoice-*.tmp``
file, which is never read as an invoice; the next commit removes those over an hour old.
"""

from __future__ import annotations

import csv
import datetime as dt
import os
import tempfile
import time
from decimal import Decimal
from typing import TYPE_CHECKING, ClassVar

from artifice.exceptions import CommitError
from artifice.invoices.base import Tenant
from artifice.invoices.rates import RatedInvoice
from artifice.invoices.settings import Days, RatedSettings, Text
from artifice.timeutil import utcnow

if TYPE_CHECKING:
    from _csv import Writer as _CsvWriter

TEMPORARY_PREFIX, TEMPORARY_SUFFIX = ".invoice-", ".tmp"
ABANDONED_AFTER = 3600.0  # seconds: no writer takes this long between write and link
HEADER = ("record", "datacenter", "service", "quantity", "unit", "unit_price", "amount", "currency", "description",
          "invoice", "adjusts", "tenant", "tenant_name", "period", "period_start", "period_last_day", "issue_date",
          "due_date")  # fmt: skip


class CsvSettings(RatedSettings):
    adapter: ClassVar[str] = "csv"
    csv_directory: Text
    payment_terms_days: Days = 30


class CsvInvoice(RatedInvoice):
    def __init__(self, tenant: Tenant, config: dict[str, str]) -> None:
        super().__init__(tenant, config)
        settings = CsvSettings.parse(config)
        self.directory = settings.csv_directory
        self.use_rates(settings.rates_file)
        self.payment_terms = dt.timedelta(days=settings.payment_terms_days)

    @property
    def path(self) -> str:
        period = self.period.label if self.period else "unknown-period"
        if self.adjusts and self.reference:  # an adjustment: its own file, named by its revision
            period += "-" + self.reference.rsplit("-", 1)[-1]
        return os.path.join(self.directory, f"{self.tenant}-{period}.csv")

    def lookup(self, reference: str) -> str | None:
        """The invoice file holding ``reference``, if it was written."""
        try:
            with open(self.path, newline="", encoding="utf-8") as handle:
                rows = csv.reader(handle)
                header, first = next(rows, []), next(rows, [])
        except FileNotFoundError:
            return None
        if header[:2] == ["invoice", reference]:  # the two-table file releases before 0.6 wrote
            return self.path
        column = header.index("invoice") if "invoice" in header else -1
        return self.path if 0 <= column < len(first) and first[column] == reference else None

    def commit(self) -> None:
        path = self.path
        if os.path.exists(path):
            raise CommitError(f"invoice file {path} already exists; not overwriting it")
        try:
            os.makedirs(self.directory, exist_ok=True)
            self._sweep_abandoned()
            fd, temporary = tempfile.mkstemp(dir=self.directory, prefix=TEMPORARY_PREFIX, suffix=TEMPORARY_SUFFIX)
        except OSError as exc:
            raise CommitError(f"cannot write to {self.directory}: {exc.strerror or exc}") from exc
        try:
            with os.fdopen(fd, "w", newline="", encoding="utf-8") as handle:
                self._write(csv.writer(handle))
                handle.flush()
                os.fsync(handle.fileno())
            os.link(temporary, path)  # fails rather than replace an existing invoice
        except OSError as exc:
            raise CommitError(f"cannot write invoice {path}: {exc.strerror or exc}") from exc
        finally:
            os.unlink(temporary)
        self.external_id = path

    def _sweep_abandoned(self) -> None:
        cutoff = time.time() - ABANDONED_AFTER
        for entry in os.scandir(self.directory):
            if entry.name.startswith(TEMPORARY_PREFIX) and entry.name.endswith(TEMPORARY_SUFFIX):
                try:
                    if entry.stat().st_mtime < cutoff:
                        os.unlink(entry.path)
                except FileNotFoundError:  # another writer swept or linked it first
                    pass

    def _write(self, writer: _CsvWriter) -> None:
        period, issued = self.period, utcnow().date()
        about = (
            self.reference or "", self.adjusts or "", str(self.tenant), getattr(self.tenant, "name", ""),
            period.human if period else "", f"{period.start:%Y-%m-%d}" if period else "",
            f"{period.end - dt.timedelta(microseconds=1):%Y-%m-%d}" if period else "", issued.isoformat(),
            (issued + self.payment_terms).isoformat(),
        )  # fmt: skip
        writer.writerow(HEADER)
        total = Decimal(0)
        for datacenter, items in self.sections.items():
            subtotal = Decimal(0)
            for _, name, value in items:
                record = "line" if value.item_type == "USAGE" else value.item_type.lower()
                description = getattr(value, "description", "") or name
                row = (value.quantity, value.unit, value.unit_price, value.amount, self.currency, description)
                writer.writerow((record, datacenter, name, *row, *about))
                subtotal += value.amount
            writer.writerow(("subtotal", datacenter, "", "", "", "", subtotal, self.currency, f"{datacenter} subtotal",
                             *about))  # fmt: skip
            total += subtotal
        writer.writerow(("total", "", "", "", "", "", total, self.currency, "Total", *about))
