"""Whole-query translation: a SELECT deparsed by PostgreSQL (pg_get_querydef,
search_path=pg_catalog, DateStyle=ISO, IntervalStyle=postgres,
extra_float_digits=3) -> one ClickHouse query returning the same rows.

Design
------
* sqlglot parses the text (postgres dialect).  We do NOT generate with
  sqlglot's ClickHouse dialect: every node is emitted by this package, with a
  type ("kind") attached to every value, because nearly every difference
  between the engines is type-dependent (integer division, Decimal scales,
  bpchar padding, NULL ordering, empty aggregates...).  Anything not handled
  explicitly raises NotPushable naming the construct.
* Modules, one per construct family; each docstring lists the
  PostgreSQL/ClickHouse semantic-difference rules ([tags]) it implements
  (search for the tag to find the code):
    context.py     typed values (T), scopes, aliases, SETTINGS, version gates
    relations.py   SELECT, FROM/JOIN, CTEs, set operations, column references
    columns.py     a table column as a typed value (character(n), opaque types)
    joinkeys.py    comma joins as INNER JOIN ON their column equalities, keyed order
    clauses.py     GROUP BY, ORDER BY (NULL ordering), LIMIT/OFFSET
    predicates.py  comparisons, boolean logic, IN/ANY/ALL, LIKE, regex
    values.py      expression dispatch, literals, parameters, CASE, casts
    temporal.py    time zones, intervals, date arithmetic, extract, date_trunc
    arithmetic.py  integer/numeric/float arithmetic and division
    aggregates.py  aggregates, FILTER, WITHIN GROUP, window functions
    functions.py   scalar (string, math) functions
    outputs.py     the cast of each result column to the fetched type
  Rules the per-table translator (../scan.py) shares -- LIKE patterns, the
  NULL ordering of sort keys -- live in ../shared.py.  _Translator composes
  the modules; translate_query() below is the entry point.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..literals import Unsupported
from ..pgparse import parse
from ..remote import Dialect, Slot, SqlTemplate
from .context import Context
from .relations import Relations
from .clauses import Clauses
from .predicates import Predicates
from .values import Values
from .temporal import Temporal
from .arithmetic import Arithmetic
from .aggregates import Aggregates
from .functions import Functions
from .outputs import Outputs

__all__ = ["TableInfo", "NotPushable", "QueryTranslation", "translate_query",
           "output_convertible"]


# --------------------------------------------------------------------- API

#: Oldest ClickHouse the whole-query translator emits SQL for (the analyzer is
#: on by default from 24.3; differential tests run on chDB 26.x).
MIN_VERSION = (24, 3)


@dataclass(frozen=True)
class TableInfo:
    pg_name: str                      # as printed, e.g. 'public.lineitem'
    remote_db: str
    remote_table: str
    columns: dict                     # pg attname -> ColumnInfo


class NotPushable(Exception):
    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


class QueryTranslation(SqlTemplate):
    """ClickHouse SQL for a whole query; parameters bound by render()."""

    def __init__(self, sql: str, slots: list, settings: dict[str, str],
                 output_ch_types: list[str], value_params=()):
        super().__init__(sql, [Slot(*slot) for slot in slots])
        self.settings = dict(settings)
        #: parameters whose values the SQL was built from ([known-params]):
        #: the query is translated again for other values of these
        self.value_params = tuple(sorted(value_params))
        #: the ClickHouse type each output column is cast to
        self.output_ch_types = list(output_ch_types)

    def _render_slot(self, slot, value):
        try:
            return slot.render(value)
        except Unsupported as e:
            raise NotPushable(f"parameter ${slot.param_id}: {e}")


class _Translator(Relations, Clauses, Predicates, Values, Temporal, Arithmetic,
                  Aggregates, Functions, Outputs, Context):
    """The whole-query translator: one mixin class per construct family."""


def translate_query(pg_sql: str, tables: dict[str, TableInfo], param_types: dict[int, str],
                    output_types: list[str], dialect: Dialect, *,
                    timezone: str | None = None,
                    fetch_expressions: bool = True,
                    param_values: dict | None = None) -> QueryTranslation:
    """Translate a deparsed PostgreSQL SELECT; raises NotPushable.

    timezone: PostgreSQL's session TimeZone (an IANA name).  Without it,
    operations whose result depends on it (date_trunc/extract on timestamptz,
    date <-> timestamptz conversions) are refused.
    fetch_expressions: wrap each output in the server-side fetch expression
    the scan's converters expect (ch_fdw.chtypes.fetch_plan); off gives plain
    ClickHouse values (for running the SQL directly).
    param_values: this execution's parameter values (text, None for NULL),
    for the parameters whose values shape the SQL (value_params of a
    translation made without them)."""
    try:
        tree = parse(pg_sql.strip().rstrip(";").strip(), "query")
        if tuple(dialect.version) < MIN_VERSION:
            # Older engines lack multiple JOINs per SELECT, -OrNull combinators,
            # divideDecimal, correlated subqueries and the analyzer's scoping
            # (Debian's 18.16 fails most TPC-H queries); the per-table path
            # answers those queries correctly instead.
            raise Unsupported("whole-query pushdown needs ClickHouse >= "
                              f"{'.'.join(map(str, MIN_VERSION))} (server is "
                              f"{'.'.join(map(str, dialect.version))})")
        tr = _Translator(tables, param_types or {}, dialect, timezone)
        tr.top_types = list(output_types)
        tr.fetch_expressions = fetch_expressions
        tr.param_values = param_values
        sql, outs = tr.query(tree, None, top=True)
        if len(outs) != len(output_types):
            raise Unsupported(f"query has {len(outs)} output columns, caller expects {len(output_types)}")
        ch_types = tr.top_ch_types
        if any(m in sql for m in tr.cmp_only_marks):
            raise Unsupported("a numeric parameter is sent only as a comparison operand")
        settings = tr.settings_dict()
        if settings:
            sql += " SETTINGS " + ", ".join(f"{k} = {v}" for k, v in settings.items())
        return QueryTranslation(sql, tr.slots, settings, ch_types, tr.value_params)
    except NotPushable:
        raise
    except Unsupported as e:
        raise NotPushable(str(e))
    except RecursionError:
        raise NotPushable("query too deeply nested")
    except (ValueError, TypeError, KeyError, AttributeError, OverflowError,
            ArithmeticError, IndexError) as e:
        raise NotPushable(f"translator could not handle the query ({type(e).__name__}: {e})")


def output_convertible(ch_type: str, pg_type_text: str, version=None) -> bool:
    """Can a ClickHouse result column of ch_type be fetched as pg_type_text?
    (Delegates to ch_fdw.chtypes.fetch_plan, the scan's converter.)"""
    try:
        from ch_fdw.chtypes import fetch_plan
        fetch_plan(ch_type, pg_type_text, "column", version)
        return True
    except Exception:
        return False

