"""The HTTP routes of ``artifice-api`` (FastAPI); parameters follow seed 004."""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import AsyncIterator, Callable, Iterator
from decimal import Decimal
from typing import Annotated, Any, Literal

import anyio.to_thread
from fastapi import Depends, FastAPI, Header, Path, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from fastapi_offline import FastAPIOffline
from oslo_config import cfg
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import func, select
from sqlalchemy.exc import DBAPIError, IntegrityError, SQLAlchemyError
from sqlalchemy.orm import Session, selectinload

from artifice import exactjson
from artifice.api import documents, queries, snapshot
from artifice.api.auth import Caller, Unauthorized, authenticator, token_of
from artifice.api.queries import BadParameter, Filters
from artifice.exceptions import ArtificeError
from artifice.store import db, models
from artifice.store.models import BillingWindow, InvoiceTag

NO_NUL = r"^[^\x00]*$"
Text = Annotated[str | None, Query(max_length=255, pattern=NO_NUL)]
Flag = Annotated[bool | None, Query()]
Day = Annotated[str | None, Query(pattern=r"^\d{4}-\d{2}-\d{2}$", description="YYYY-MM-DD")]
Ident = Annotated[int, Path(ge=1, le=2**31 - 1)]
Direction = Annotated[Literal["asc", "desc"] | None, Query(description="asc, or desc to reverse the sort")]
State = Annotated[Literal[models.STATES] | None, Query(description="Window state")]  # type: ignore[valid-type]


class TagIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=255, pattern=NO_NUL)
    value: str = Field(default="", max_length=255, pattern=NO_NUL)


class TagRef(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=255, pattern=NO_NUL)
    value: str | None = Field(default=None, max_length=255, pattern=NO_NUL)


class InvoiceChanges(BaseModel):
    model_config = ConfigDict(extra="forbid")
    tags: list[TagIn] | None = None
    addTags: list[TagIn] | None = None
    removeTags: list[TagRef] | None = None


class InvoiceUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    invoice: InvoiceChanges


ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"description": "A bad parameter, named in the JSON error"},
    401: {"description": "No valid token"},
    403: {"description": "Not allowed for this token"},
    409: {"description": "A concurrent update of the same invoice"},
    404: {"description": "No such invoice visible to this token"},
    503: {"description": "The database or Keystone is unavailable"},
}


def json(document: Any, status: int = 200) -> Response:
    return Response(exactjson.encode(document), status_code=status, media_type="application/json")


def error(status: int, message: str, parameter: str | None = None) -> Response:
    body: dict[str, Any] = {"error": message}
    if parameter:
        body["parameter"] = parameter
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return Response(exactjson.encode(body), status_code=status, media_type="application/json", headers=headers)


class NotFound(Exception):
    pass


def _write_session(request: Request) -> Iterator[Session]:
    with Session(request.app.state.engine) as opened:
        yield opened


async def _caller(
    request: Request,
    authorization: Annotated[str | None, Header()] = None,
    x_auth_token: Annotated[str | None, Header()] = None,
) -> Caller:
    """The token's caller: at once when known (a token file, a token validated lately), else asked in a thread."""
    token, auth = token_of(authorization, x_auth_token), request.app.state.auth
    caller: Caller | None = auth.known(token)
    return caller if caller is not None else await anyio.to_thread.run_sync(auth.caller, token)


WriteDb = Annotated[Session, Depends(_write_session)]
Who = Annotated[Caller, Depends(_caller)]


def create_app(conf: cfg.ConfigOpts) -> FastAPI:
    engine = db.make_engine(conf.database.connection)
    db.check_schema(engine)
    auth = authenticator(conf)
    # A read holds a connection while its thread runs: as many connections as threads, kept open.
    threads = conf.api.threads
    reader = db.make_reader(conf.database.connection, threads)

    @contextlib.asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        anyio.to_thread.current_default_thread_limiter().total_tokens = threads
        yield

    # Swagger UI and ReDoc from the installed package (fastapi-offline), not a CDN: cloud
    # controllers are often offline, and /docs must work there.
    app = FastAPIOffline(
        title="Artifice invoices API",
        version="1",
        description="Artifice's invoices and invoice line items, in the shape of the Morpheus invoices API.",
        lifespan=lifespan,
    )
    app.state.engine, app.state.reader, app.state.auth = engine, reader, auth

    db.analyze(engine)
    figures = snapshot.SnapshotCache(engine)  # counts and sums
    answers = (
        snapshot.SnapshotCache(engine, budget=conf.api.answer_cache_mb * 2**20) if conf.api.answer_cache_mb else None
    )
    _handlers(app)

    def answer(request: Request, who: Caller, build: Callable[[Session], dict[str, Any]]) -> Response:
        """The JSON ``build`` makes in a read-only transaction of one snapshot (see ``snapshot``), remembered
        for that snapshot and the same request from a caller who sees the same rows.

        Read routes open their session here, in the one thread their request runs in, rather than
        in dependencies, each of which would hop to a thread and back.
        """
        for attempt in (1, 2):
            try:
                with Session(reader) as database:
                    if answers is None:
                        return json(build(database))
                    # by name, a repeated name's values kept in order: its last one is the one read
                    query = tuple(sorted(request.query_params.multi_items(), key=lambda pair: pair[0]))
                    asked = (who.admin, who.project_id, request.url.path, query)
                    body = answers.figure(database, asked, lambda: exactjson.encode(build(database)))
                return Response(body, media_type="application/json")
            except DBAPIError as exc:  # a pooled connection the server dropped (restarted): read again, once
                if attempt == 2 or not exc.connection_invalidated:
                    raise
        raise AssertionError("unreachable")

    @app.get("/api/invoices", responses=ERRORS)
    def list_invoices(
        request: Request,
        who: Who,
        filters: Listing,
        sort: Annotated[Literal[tuple(queries.INVOICE_SORTS)] | None, Query()] = None,  # type: ignore[valid-type]
        includeTotals: Flag = None,
    ) -> Response:
        return answer(request, who, lambda database: invoices_of(database, who, filters, sort, includeTotals))

    def invoices_of(database: Session, who: Caller, filters: Filters, sort: str | None,
                    totals: bool | None) -> dict[str, Any]:  # fmt: skip
        _sort(filters, sort)
        query, asked = queries.invoice_query(filters, who), queries.selection(filters, who)
        total = figures.figure(database, ("invoices", asked), lambda: _count(database, query))
        windows = queries.windows(database, queries.ordered(query, queries.INVOICE_SORTS, filters, BillingWindow.id))
        invoices = _documents(database, windows, who.admin)
        body: dict[str, Any] = {"invoices": invoices, "meta": _meta(len(invoices), total, filters)}
        if totals:
            sums = figures.figure(
                database,
                ("invoice totals", asked),
                lambda: [(row[0], row[1], row[2]) for row in database.execute(queries.invoice_line_sums(query))],
            )
            body["invoiceTotals"] = documents.priced_fields("", documents.figures_of(sums))
        return body

    @app.get("/api/invoices/{id}", responses=ERRORS)
    def get_invoice(request: Request, id: Ident, who: Who, lineItemsMax: PageSize = 100,
                    lineItemsOffset: Offset = 0) -> Response:  # fmt: skip
        return answer(request, who, lambda read: {"invoice": _invoice(read, who, id, lineItemsMax, lineItemsOffset)})

    @app.put("/api/invoices/{id}", responses=ERRORS)
    def update_invoice(id: Ident, update: InvoiceUpdate, database: WriteDb, who: Who) -> Response:
        _retag(database, _window(database, who, id), update.invoice)
        database.commit()
        return json({"invoice": _invoice(database, who, id, 100, 0)})

    @app.get("/api/invoice-line-items", responses=ERRORS)
    def list_line_items(
        request: Request,
        who: Who,
        filters: Listing,
        sort: Annotated[Literal[tuple(queries.LINE_ITEM_SORTS)] | None, Query()] = None,  # type: ignore[valid-type]
        includeTotals: Flag = None,
    ) -> Response:
        return answer(request, who, lambda database: line_items_of(database, who, filters, sort, includeTotals))

    def line_items_of(database: Session, who: Caller, filters: Filters, sort: str | None,
                      totals: bool | None) -> dict[str, Any]:  # fmt: skip
        _sort(filters, sort)
        query, asked = queries.line_item_query(filters, who), queries.selection(filters, who)
        total = figures.figure(database, ("line items", asked), lambda: _count(database, query))
        # by invoice, then line item: the index on (period_start, id) then orders all but an invoice's own items
        page = queries.ordered(query, queries.LINE_ITEM_SORTS, filters, BillingWindow.id, models.LineResource.id)
        items = [documents.line_item(r, line, w) for r, line, w in queries.line_items(database, page)]
        body: dict[str, Any] = {"lineItems": items, "meta": _meta(len(items), total, filters)}
        if totals:
            sums = figures.figure(
                database,
                ("line item totals", asked),
                lambda: tuple(database.execute(queries.line_item_totals(query, documents.CENT_PLACES)).one()),
            )
            keys = ("itemCost", "itemPrice", "itemTax")
            body["lineItemTotals"] = {key: value or Decimal(0) for key, value in zip(keys, sums, strict=True)}
        return body

    @app.get("/api/invoice-line-items/{id}", responses=ERRORS)
    def get_line_item(request: Request, id: Ident, who: Who) -> Response:
        return answer(request, who, lambda database: {"lineItem": line_item_of(database, who, id)})

    def line_item_of(database: Session, who: Caller, ident: int) -> dict[str, Any]:
        query = queries.line_item_query(Filters(), who).where(models.LineResource.id == ident)
        found = queries.line_items(database, query)
        if not found:
            raise NotFound(f"invoice line item {ident} not found")
        ((resource, line, window),) = found
        return documents.line_item(resource, line, window)

    return app


PageSize = Annotated[int, Query(ge=1, le=1000)]
Offset = Annotated[int, Query(ge=0, le=2**31 - 1)]


async def _listing(
    request: Request,
    max: PageSize = 25,
    offset: Offset = 0,
    direction: Direction = None,
    phrase: Text = None,
    name: Text = None,
    startDate: Day = None,
    endDate: Day = None,
    period: Annotated[str | None, Query(pattern=r"^\d{4}(\d{2})?$", description="YYYY or YYYYMM")] = None,
    accountId: Text = None,
    datacenter: Text = None,
    state: State = None,
    active: Flag = None,
    estimate: Flag = None,
) -> Filters:
    """The filters and paging both lists take (seed 004), plus ``tags.<name>=<value>``."""
    filters = Filters(max=max, offset=offset, phrase=phrase, name=name, period=period, direction=direction or "")
    filters.account_id, filters.datacenter, filters.state = accountId, datacenter, state
    filters.active, filters.estimate = active, estimate
    filters.start_date, filters.end_date = _day("startDate", startDate), _day("endDate", endDate)
    filters.tags = queries.tags_of(list(request.query_params.multi_items()))
    if any("\x00" in name or "\x00" in value for name, value in filters.tags.items()):
        raise BadParameter("tags", "NUL characters are not allowed")
    return filters


def _sort(filters: Filters, sort: str | None) -> None:
    """Seed 004: by startDate, newest first, unless a sort is asked for (then ascending by default)."""
    filters.sort = sort or "startDate"
    filters.direction = filters.direction or ("desc" if sort is None else "asc")


Listing = Annotated[Filters, Depends(_listing)]


def _day(parameter: str, text: str | None) -> dt.date | None:
    if text is None:
        return None
    try:
        day = dt.date.fromisoformat(text)
    except ValueError:
        raise BadParameter(parameter, f"{text!r} is not a date YYYY-MM-DD") from None
    if not queries.FIRST_YEAR <= day.year <= queries.LAST_YEAR:
        raise BadParameter(parameter, f"{text!r}: the year must be within {queries.FIRST_YEAR}..{queries.LAST_YEAR}")
    return day


def _count(database: Session, query: queries.AnySelect) -> int:
    return int(database.scalar(select(func.count()).select_from(query.subquery())) or 0)


def _meta(size: int, total: int | None, filters: Filters) -> dict[str, int]:
    return {"size": size, "total": int(total or 0), "offset": filters.offset, "max": filters.max}


def _window(database: Session, who: Caller, ident: int) -> BillingWindow:
    """The window as an ORM object with its tags, to change them."""
    window = database.get(BillingWindow, ident, options=[selectinload(BillingWindow.tags)])
    _visible(window, who, ident)
    assert window is not None
    return window


def _visible(window: Any, who: Caller, ident: int) -> None:
    if window is None or (not who.admin and window.tenant_id != who.project_id):
        raise NotFound(f"invoice {ident} not found")  # another tenant's invoice does not exist for this token


def _documents(
    database: Session, windows: list[Any], admin: bool, line_items: documents.LineItemPage | None = None
) -> list[dict[str, Any]]:
    """The invoice documents of some windows' rows, their lines and tags read in one query each."""
    ids = [window.id for window in windows]
    lines = queries.of_windows(database, models.InvoiceLine, ids)
    tags = queries.of_windows(database, InvoiceTag, ids)
    return [documents.invoice(window, lines[window.id], tags[window.id], admin, line_items) for window in windows]


def _invoice(database: Session, who: Caller, ident: int, size: int, offset: int) -> dict[str, Any]:
    """One invoice's document with a page of its line items, and their paging meta (seed 004's ``meta``)."""
    found = queries.windows(database, select(BillingWindow).where(BillingWindow.id == ident))
    _visible(found[0] if found else None, who, ident)
    (window,) = found
    query = queries.invoice_line_items(ident)
    rows = [(resource, line) for resource, line, _ in queries.line_items(database, query.limit(size).offset(offset))]
    meta = {"size": len(rows), "total": _count(database, query), "offset": offset, "max": size}
    return _documents(database, [window], who.admin, (rows, meta))[0]


def _retag(database: Session, window: BillingWindow, changes: InvoiceChanges) -> None:
    """Seed 004: ``tags`` sets the whole list, ``addTags`` adds or updates, ``removeTags`` removes."""
    current = {tag.name: tag for tag in window.tags}
    if changes.tags is not None:
        wanted = {tag.name: tag.value for tag in changes.tags}
        for tag_name in set(current) - set(wanted):
            window.tags.remove(current.pop(tag_name))
        database.flush()  # deletes first: a tag removed here may be added again below
        _upsert(window, current, wanted)
    if changes.addTags:
        _upsert(window, current, {tag.name: tag.value for tag in changes.addTags})
    for ref in changes.removeTags or []:
        tag = current.get(ref.name)
        if tag is not None and (ref.value is None or ref.value == tag.value):
            window.tags.remove(current.pop(ref.name))
    database.flush()


def _upsert(window: BillingWindow, current: dict[str, InvoiceTag], wanted: dict[str, str]) -> None:
    for tag_name, value in wanted.items():
        if tag_name in current:
            current[tag_name].value = value
        else:
            current[tag_name] = InvoiceTag(name=tag_name, value=value)
            window.tags.append(current[tag_name])


def _handlers(app: FastAPI) -> None:
    def on(kind: type[Exception]) -> Callable[[Callable[[Exception], Response]], None]:
        def register(handler: Callable[[Exception], Response]) -> None:
            app.add_exception_handler(kind, lambda request, exc: handler(exc))

        return register

    @on(RequestValidationError)
    def invalid(exc: Exception) -> Response:
        problem = exc.errors()[0] if isinstance(exc, RequestValidationError) and exc.errors() else {}
        where = [str(part) for part in problem.get("loc", ()) if part not in ("query", "path", "body")]
        parameter = ".".join(where) or "request"
        return error(400, f"invalid {parameter}: {problem.get('msg', 'bad value')}", parameter)

    on(BadParameter)(lambda exc: error(400, str(exc), getattr(exc, "parameter", None)))
    on(Unauthorized)(lambda exc: error(401, str(exc)))
    on(PermissionError)(lambda exc: error(403, str(exc), "accountId"))
    on(NotFound)(lambda exc: error(404, str(exc)))
    on(ArtificeError)(lambda exc: error(503, str(exc)))
    on(IntegrityError)(lambda exc: error(409, "a concurrent update changed the same tags; try again"))
    on(SQLAlchemyError)(lambda exc: error(503, "the billing database is unavailable"))
