"""Which ClickHouse errors mean "this server cannot run that shape of SQL".

A pushed-down (whole) query is our translation of a query PostgreSQL has
already parsed, analysed and accepted.  When ClickHouse rejects it with one
of the errors below before any row has come back, the fault lies with the
translation (or with what this ClickHouse version supports), not with the
data or the setup: the bridge then runs PostgreSQL's own plan (per-table
scans) instead, so the user gets PostgreSQL's rows — or PostgreSQL's own
error, if PostgreSQL would raise one too.

Everything else raises as before: a missing table or database, bad
credentials, a cancel or timeout, a lost connection, memory limits, and data
errors PostgreSQL raises too (division by zero, overflow, bad casts).  The
list is deliberately of shape errors only; retrying those per table costs
one failed round trip and can never return a wrong row.
"""

from __future__ import annotations

from .errors import ChFdwError

# ClickHouse error code (src/Common/ErrorCodes.cpp) -> why it is a refusal.
REFUSED_CODES: dict[int, str] = {
    1: "UNSUPPORTED_METHOD: a shape the engine or its analyzer does not implement",
    10: "NOT_FOUND_COLUMN_IN_BLOCK: the server lost track of a column of our SQL (an engine bug)",
    42: "NUMBER_OF_ARGUMENTS_DOESNT_MATCH: a function signature of another ClickHouse version",
    43: "ILLEGAL_TYPE_OF_ARGUMENT: a type combination PostgreSQL accepts and this server refuses",
    44: "ILLEGAL_COLUMN: a function that wants a constant argument got a column",
    46: "UNKNOWN_FUNCTION: the translation used a function this server version lacks",
    47: "UNKNOWN_IDENTIFIER: a correlated column the server cannot see (every table column was "
        "checked at planning; a column dropped since then raises again on the per-table path)",
    48: "NOT_IMPLEMENTED: e.g. 'Cannot decorrelate query', correlated subqueries in ORDER BY",
    49: "LOGICAL_ERROR: the server hit an internal bug on this shape",
    62: "SYNTAX_ERROR: our own SQL (PostgreSQL already parsed the user's query)",
    63: "UNKNOWN_AGGREGATE_FUNCTION: an aggregate (or combinator) this server version lacks",
    125: "INCORRECT_RESULT_OF_SCALAR_SUBQUERY: a subquery translated as a scalar one; if "
         "PostgreSQL also finds more than one row it raises its own error",
    179: "MULTIPLE_EXPRESSIONS_FOR_ALIAS: an alias clash in our SQL",
    184: "ILLEGAL_AGGREGATION: an aggregate placement ClickHouse refuses (nested, in WHERE, ...)",
    215: "NOT_AN_AGGREGATE: grouping rules differ from PostgreSQL's (which accepted the query)",
    349: "CANNOT_INSERT_NULL_IN_ORDINARY_COLUMN: a NULL in a non-Nullable result column (ROLLUP/CUBE "
         "under group_by_use_nulls)",
    352: "AMBIGUOUS_COLUMN_NAME: a name clash in our SQL",
    386: "NO_COMMON_TYPE: branches PostgreSQL unified to one type and ClickHouse cannot",
    403: "INVALID_JOIN_ON_EXPRESSION: e.g. a non-equality outer join condition",
    407: "DECIMAL_OVERFLOW: an intermediate the translation sized too small (PostgreSQL's numeric is "
         "wider; if it overflows too, PostgreSQL raises its own error)",
}

# Carried by the translators' own throwIf() checks that find, at run time,
# a value the translation cannot compute exactly (not a PostgreSQL error).
FALLBACK_MARK = "(ch_fdw: not exact here, falls back)"

# BAD_ARGUMENTS (36) is mostly about values, so only its positional-argument
# form (our GROUP BY/ORDER BY constants read as column positions) is a refusal;
# FUNCTION_THROW_IF_VALUE_IS_NON_ZERO (395) only with FALLBACK_MARK.
_REFUSED_MESSAGES: dict[int, tuple[str, ...]] = {
    36: ("positional argument",),
    395: (FALLBACK_MARK,),
}


def is_refusal(exc: BaseException) -> bool:
    """True when exc is ClickHouse refusing the shape of a pushed query."""
    if not isinstance(exc, ChFdwError):
        return False
    code = getattr(exc, "ch_code", None)
    if code is None:
        return False
    if code in REFUSED_CODES:
        return True
    text = f"{exc.message}\n{exc.detail or ''}".lower()
    return any(m in text for m in _REFUSED_MESSAGES.get(code, ()))
