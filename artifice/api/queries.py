"""Seed 004's list filters as SQL over billing windows and their line items."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections import defaultdict, namedtuple
from collections.abc import Iterable, Sequence
from decimal import Decimal
from typing import Any, TypeVar

from sqlalchemy import ColumnElement, Numeric, Select, and_, case, cast, exists, func, or_, select
from sqlalchemy.orm import Session

from artifice.api.auth import Caller
from artifice.store.exact_sql import exact_product, exact_round, exact_sum
from artifice.store.models import BillingWindow, InvoiceLine, InvoiceTag, LineResource
from artifice.timeutil import UTC

AnySelect = Select[*tuple[Any, ...]]
Q = TypeVar("Q", bound=Select[Any] | Select[LineResource, InvoiceLine, BillingWindow])
INVOICE_SORTS = {
    "startDate": BillingWindow.period_start,
    "endDate": BillingWindow.period_end,
    "id": BillingWindow.id,
    "name": BillingWindow.tenant_name,
    "period": BillingWindow.period_start,
    "totalPrice": cast(BillingWindow.total, Numeric),  # money is text on SQLite: sort it as a number
    "dateCreated": BillingWindow.created_at,
    "lastUpdated": BillingWindow.updated_at,
}
LINE_ITEM_SORTS = {
    "startDate": BillingWindow.period_start,
    "endDate": BillingWindow.period_end,
    "id": LineResource.id,
    "name": LineResource.resource_id,
    "itemUsage": cast(LineResource.quantity, Numeric),
    "invoiceId": BillingWindow.id,
}


def _row_type(name: str, table: Any) -> Any:
    return namedtuple(name, [column.key for column in table.columns])


# Plain rows, not ORM objects, for what the API only reads: loading ORM objects cost most of a page.
WindowRow = _row_type("WindowRow", BillingWindow.__table__)
LineRow = _row_type("LineRow", InvoiceLine.__table__)
ResourceRow = _row_type("ResourceRow", LineResource.__table__)
TagRow = _row_type("TagRow", InvoiceTag.__table__)
WINDOW_COLUMNS = tuple(BillingWindow.__table__.columns)
LINE_ITEM_COLUMNS = (*LineResource.__table__.columns, *InvoiceLine.__table__.columns, *WINDOW_COLUMNS)
_SPLIT = (len(LineResource.__table__.columns), len(LineResource.__table__.columns) + len(InvoiceLine.__table__.columns))


def windows(database: Session, query: AnySelect) -> list[Any]:
    """The billing windows ``query`` selects, as ``WindowRow``s."""
    return [WindowRow._make(row) for row in database.execute(query.with_only_columns(*WINDOW_COLUMNS))]


def line_items(database: Session, query: AnySelect) -> list[tuple[Any, Any, Any]]:
    """(resource, line, window) rows of a line-item query, as plain rows."""
    first, second = _SPLIT
    return [
        (ResourceRow._make(row[:first]), LineRow._make(row[first:second]), WindowRow._make(row[second:]))
        for row in database.execute(query.with_only_columns(*LINE_ITEM_COLUMNS))
    ]


def of_windows(database: Session, kind: type[InvoiceLine | InvoiceTag], ids: Iterable[int]) -> dict[int, list[Any]]:
    """Each window's lines or tags (``LineRow`` or ``TagRow``), in id order."""
    row_type = LineRow if kind is InvoiceLine else TagRow
    grouped: dict[int, list[Any]] = defaultdict(list)
    wanted = list(ids)
    if wanted:
        table = kind.__table__
        query = select(*table.columns).where(table.c.window_id.in_(wanted)).order_by(table.c.id)
        for row in database.execute(query):
            grouped[row.window_id].append(row_type._make(row))
    return grouped


FIRST_YEAR, LAST_YEAR = 1970, 9998  # dates a window can have, with room for a month after


class BadParameter(Exception):
    def __init__(self, parameter: str, message: str) -> None:
        super().__init__(f"{parameter}: {message}")
        self.parameter = parameter


@dataclasses.dataclass
class Filters:
    max: int = 25
    offset: int = 0
    sort: str = "startDate"
    direction: str = "desc"
    phrase: str | None = None
    name: str | None = None
    start_date: dt.date | None = None
    end_date: dt.date | None = None
    period: str | None = None
    account_id: str | None = None
    datacenter: str | None = None
    state: str | None = None
    active: bool | None = None
    estimate: bool | None = None
    tags: dict[str, str] = dataclasses.field(default_factory=dict)


_PAGING = {"max", "offset", "sort", "direction", "tags"}


def selection(filters: Filters, caller: Caller) -> tuple[object, ...]:
    """What decides which rows a list matches (not its paging or order), for remembering its figures."""
    matching = tuple(getattr(filters, f.name) for f in dataclasses.fields(filters) if f.name not in _PAGING)
    return caller.admin, caller.project_id, matching, tuple(sorted(filters.tags.items()))


def tags_of(query: Sequence[tuple[str, str]]) -> dict[str, str]:
    """``tags.foo=bar`` parameters as {"foo": "bar"}."""
    tags = {}
    for key, value in query:
        if key.startswith("tags."):
            name = key.removeprefix("tags.")
            if not name:
                raise BadParameter(key, "name the tag: tags.<name>=<value>")
            tags[name] = value
    return tags


def window_conditions(filters: Filters, caller: Caller) -> list[ColumnElement[bool]]:
    """The conditions on billing windows that every list applies."""
    conditions: list[ColumnElement[bool]] = []
    if not caller.admin:
        if filters.account_id not in (None, caller.project_id):
            raise PermissionError("accountId: only an admin may read another tenant's invoices")
        conditions.append(BillingWindow.tenant_id == caller.project_id)
    elif filters.account_id:
        conditions.append(BillingWindow.tenant_id == filters.account_id)
    if filters.start_date:
        conditions.append(BillingWindow.period_start >= _midnight(filters.start_date))
    if filters.end_date:  # the invoice's last instant is on or before that day
        conditions.append(BillingWindow.period_end <= _midnight(filters.end_date + dt.timedelta(days=1)))
    if filters.period:
        conditions += _period(filters.period)
    if filters.state:
        conditions.append(BillingWindow.state == filters.state)
    if filters.active is not None:
        active = BillingWindow.state != "failed"
        conditions.append(active if filters.active else ~active)
    if filters.estimate is not None:
        estimate = BillingWindow.kind == "estimate"
        conditions.append(estimate if filters.estimate else ~estimate)
    for name, value in filters.tags.items():
        conditions.append(
            exists().where(InvoiceTag.window_id == BillingWindow.id, InvoiceTag.name == name, InvoiceTag.value == value)
        )
    return conditions


def invoice_query(filters: Filters, caller: Caller) -> Select[Any]:
    conditions = window_conditions(filters, caller)
    label = func.coalesce(func.nullif(BillingWindow.tenant_name, ""), BillingWindow.tenant_id)
    if filters.name is not None:
        conditions.append(label == filters.name)
    if filters.phrase:
        conditions.append(label.contains(filters.phrase, autoescape=True))
    if filters.datacenter:
        conditions.append(
            exists().where(InvoiceLine.window_id == BillingWindow.id, InvoiceLine.datacenter == filters.datacenter)
        )
    return select(BillingWindow).where(and_(True, *conditions))


def line_item_query(filters: Filters, caller: Caller) -> Select[LineResource, InvoiceLine, BillingWindow]:
    conditions = window_conditions(filters, caller)
    # As refName shows a line item: the resource's name, else its id, else the service.
    label = func.coalesce(
        func.nullif(LineResource.resource_name, ""), func.nullif(LineResource.resource_id, ""), InvoiceLine.service
    )
    if filters.name is not None:
        conditions.append(label == filters.name)
    if filters.phrase:
        conditions.append(
            or_(label.contains(filters.phrase, autoescape=True), InvoiceLine.service.contains(filters.phrase))
        )
    if filters.datacenter:
        conditions.append(InvoiceLine.datacenter == filters.datacenter)
    return (
        select(LineResource, InvoiceLine, BillingWindow)
        .join(InvoiceLine, LineResource.line_id == InvoiceLine.id)
        .join(BillingWindow, InvoiceLine.window_id == BillingWindow.id)
        .where(and_(True, *conditions))
    )


def line_item_totals(
    query: Select[LineResource, InvoiceLine, BillingWindow], cent_places: int
) -> Select[Decimal, Decimal, Decimal]:
    """itemCost, itemPrice and itemTax summed over every row of ``query``, in one exact SQL aggregate.

    As each line item shows them: a resource's cost is its quantity x the unit price, its price
    that rounded half-up to the cent; a line without resources costs its amount.
    """
    rows = query.with_only_columns(
        LineResource.resource_id, LineResource.quantity, InvoiceLine.unit_price, InvoiceLine.amount,
        InvoiceLine.item_type,
    ).subquery()  # fmt: skip
    per_resource = func.coalesce(rows.c.resource_id, "") != ""
    cost = exact_product(rows.c.quantity, rows.c.unit_price)
    return select(
        exact_sum(case((per_resource, cost), else_=rows.c.amount)),
        exact_sum(case((per_resource, exact_round(cost, cent_places)), else_=rows.c.amount)),
        exact_sum(case((rows.c.item_type == "TAX", rows.c.amount))),
    )


def invoice_line_sums(query: Select[Any]) -> Select[bool, str, Decimal]:
    """(is tax, category, exact sum of amounts) over the lines of the invoices ``query`` selects."""
    ids = query.with_only_columns(BillingWindow.id).subquery()
    is_tax = InvoiceLine.item_type == "TAX"
    return (
        select(is_tax, InvoiceLine.category, exact_sum(InvoiceLine.amount))
        .where(InvoiceLine.window_id.in_(select(ids)))
        .group_by(is_tax, InvoiceLine.category)
    )


def invoice_line_items(window_id: int) -> Select[LineResource, InvoiceLine, BillingWindow]:
    """An invoice's line items, in a stable order, for paging."""
    return (
        select(LineResource, InvoiceLine, BillingWindow)
        .join(InvoiceLine, LineResource.line_id == InvoiceLine.id)
        .join(BillingWindow, InvoiceLine.window_id == BillingWindow.id)
        .where(InvoiceLine.window_id == window_id)
        .order_by(LineResource.id)
    )


def ordered(query: Q, sorts: dict[str, Any], filters: Filters, *tiebreaks: Any) -> Q:
    """``query`` sorted as asked (then by ``tiebreaks``, so pages are stable), one page of it."""
    columns = (sorts[filters.sort], *tiebreaks)
    order = [column.desc() if filters.direction == "desc" else column.asc() for column in columns]
    return query.order_by(*order).limit(filters.max).offset(filters.offset)  # type: ignore[return-value]


def _midnight(day: dt.date) -> dt.datetime:
    return dt.datetime(day.year, day.month, day.day, tzinfo=UTC)


def _period(period: str) -> list[ColumnElement[bool]]:
    year = int(period[:4])
    if not FIRST_YEAR <= year <= LAST_YEAR:
        raise BadParameter("period", f"{period!r}: the year must be within {FIRST_YEAR}..{LAST_YEAR}")
    if len(period) == 4:
        start, end = dt.datetime(year, 1, 1, tzinfo=UTC), dt.datetime(year + 1, 1, 1, tzinfo=UTC)
    else:
        month = int(period[4:])
        if not 1 <= month <= 12:
            raise BadParameter("period", f"{period!r} is not YYYY or YYYYMM")
        start = dt.datetime(year, month, 1, tzinfo=UTC)
        end = dt.datetime(year + month // 12, month % 12 + 1, 1, tzinfo=UTC)
    return [BillingWindow.period_start >= start, BillingWindow.period_start < end]
