"""Exact money arithmetic inside SQL: sums, products and half-up rounding of ``ExactDecimal`` columns.

PostgreSQL's NUMERIC is exact already (and its ``round`` goes half away from zero, as
``ROUND_HALF_UP`` does). SQLite keeps money as text and would compute through floats
(2.675 rounds to 2.67 there), so on SQLite the same expressions call Python ``Decimal``
functions registered on every connection: totals are still computed by the database, in
one query, without a row per item reaching the application.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement

from artifice.store.types import ExactDecimal


class exact_sum(FunctionElement[Decimal]):  # lower case: reads as the SQL it becomes
    type = ExactDecimal()
    inherit_cache = True


class exact_product(FunctionElement[Decimal]):
    type = ExactDecimal()
    inherit_cache = True


class exact_round(FunctionElement[Decimal]):  # (value, places)
    type = ExactDecimal()
    inherit_cache = True


def _arguments(element: FunctionElement[Any], compiler: SQLCompiler, **kw: Any) -> list[str]:
    return [compiler.process(argument, **kw) for argument in element.clauses]


@compiles(exact_sum)
def _sum(element: exact_sum, compiler: SQLCompiler, **kw: Any) -> str:
    return "sum({})".format(*_arguments(element, compiler, **kw))


@compiles(exact_product)
def _product(element: exact_product, compiler: SQLCompiler, **kw: Any) -> str:
    return "({} * {})".format(*_arguments(element, compiler, **kw))


@compiles(exact_round)
def _round(element: exact_round, compiler: SQLCompiler, **kw: Any) -> str:
    return "round({}, {})".format(*_arguments(element, compiler, **kw))


@compiles(exact_sum, "sqlite")
def _sqlite_sum(element: exact_sum, compiler: SQLCompiler, **kw: Any) -> str:
    return "artifice_sum({})".format(*_arguments(element, compiler, **kw))


@compiles(exact_product, "sqlite")
def _sqlite_product(element: exact_product, compiler: SQLCompiler, **kw: Any) -> str:
    return "artifice_product({}, {})".format(*_arguments(element, compiler, **kw))


@compiles(exact_round, "sqlite")
def _sqlite_round(element: exact_round, compiler: SQLCompiler, **kw: Any) -> str:
    return "artifice_round({}, {})".format(*_arguments(element, compiler, **kw))


class _Sum:
    def __init__(self) -> None:
        self.total: Decimal | None = None

    def step(self, value: Any) -> None:
        if value is not None:
            self.total = (self.total or Decimal(0)) + Decimal(str(value))

    def finalize(self) -> str | None:
        return None if self.total is None else str(self.total)


def _product_of(left: Any, right: Any) -> str | None:
    return None if left is None or right is None else str(Decimal(str(left)) * Decimal(str(right)))


def _rounded(value: Any, places: Any) -> str | None:
    if value is None:
        return None
    return str(Decimal(str(value)).quantize(Decimal(1).scaleb(-int(places)), rounding=ROUND_HALF_UP))


def register_sqlite_functions(dbapi_connection: Any) -> None:
    dbapi_connection.create_aggregate("artifice_sum", 1, _Sum)
    dbapi_connection.create_function("artifice_product", 2, _product_of, deterministic=True)
    dbapi_connection.create_function("artifice_round", 2, _rounded, deterministic=True)
