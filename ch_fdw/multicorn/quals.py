"""multicorn Quals -> PostgreSQL clause text for the per-table translator.

multicorn hands the wrapper each pushable restriction as
Qual(column, operator name, Python value).  The value is already converted
by multicorn's C code, and that conversion forgets things: the constant's
type (only the operator's name is given), numeric becomes float,
timestamp loses its fractional seconds, most other types arrive as their
output text.  So a clause is written here only from facts that are certain:

* exact constants (int4 ints, text, booleans, dates, ISO timestamptz text,
  integer text on integer columns) become `col op 'value'::type`;
* constants known only up to an interval become a range that contains the
  true constant, so the pushed clause keeps every row PostgreSQL keeps:
  float text (half a unit of its last printed digit, whatever
  extra_float_digits printed it and whether it was real or double), numeric
  (multicorn's float: the neighbouring doubles), timestamp (whole seconds:
  the next second);
* everything else (other operators, unknown types, time-zone-dependent
  mixes) is not pushed.

Pushing a superset is correct because multicorn re-checks every qual in
PostgreSQL.  The clause text then goes through translate_condition(), which
pushes it only if ClickHouse evaluates it exactly like PostgreSQL.
"""

from __future__ import annotations

import datetime as _dt
import math
import re
from decimal import ROUND_CEILING, ROUND_FLOOR, Context, Decimal
from typing import Callable


_CMP = ("=", "<>", "<", "<=", ">", ">=")
_LIKE = {"~~": "LIKE", "!~~": "NOT LIKE", "~~*": "ILIKE", "!~~*": "NOT ILIKE"}
_INT_TEXT = re.compile(r"[+-]?[0-9]+")
_FLOAT_TEXT = re.compile(r"[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?")
_TSTZ_TEXT = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,6})?"
                        r"[+-][0-9]{2}(:[0-9]{2}(:[0-9]{2})?)?")
_EXACT_FLOATS = {"nan": "NaN", "infinity": "Infinity", "-infinity": "-Infinity",
                 "inf": "Infinity", "-inf": "-Infinity"}
_FLOOR = Context(prec=20, rounding=ROUND_FLOOR)
_CEILING = Context(prec=20, rounding=ROUND_CEILING)


def ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def literal(text: str, type_name: str) -> str:
    return "'" + text.replace("'", "''") + "'::" + type_name


# A constant is either exact, (sql,), or an interval (lo_sql, hi_sql, hi_open)
# known to contain the true value.
Const = tuple


def _exact_const(kind: str, value) -> str | None:
    """SQL for a value multicorn converted without loss, or None."""
    if kind == "int":
        if value.__class__ is int:
            return literal(str(value), "integer")
        if isinstance(value, str) and _INT_TEXT.fullmatch(value):
            return literal(value, "bigint")   # int2/int8 output text; exact
        return None
    if kind == "text":
        return literal(value, "text") if isinstance(value, str) else None
    if kind == "bool":
        if value in ("t", "f"):
            return "true" if value == "t" else "false"
        return None
    if kind == "date":
        if value.__class__ is _dt.date:
            return literal(value.isoformat(), "date")
        return None
    if kind == "timestamptz":
        # timestamptz output text carries its offset: an absolute instant
        # (only the ISO DateStyle form is accepted)
        if isinstance(value, str) and _TSTZ_TEXT.fullmatch(value):
            return literal(value, "timestamp with time zone")
        return None
    return None


def _float_range(value) -> Const | None:
    if not isinstance(value, str):
        return None
    low = value.strip().lower()
    if low in _EXACT_FLOATS:
        return (literal(_EXACT_FLOATS[low], "double precision"),)
    if not _FLOAT_TEXT.fullmatch(value.strip()):
        return None
    d = Decimal(value.strip())
    half = Decimal((0, (5,), d.as_tuple().exponent - 1))
    return (literal(format(d - half, "f"), "double precision"),
            literal(format(d + half, "f"), "double precision"), False)


def _numeric_range(value) -> Const | None:
    if value.__class__ is not float or math.isinf(value):
        return None
    if math.isnan(value):
        return (literal("NaN", "numeric"),)
    # multicorn's float is the double nearest to the numeric, so the numeric
    # lies between the neighbouring doubles (bounds rounded outwards)
    lo = _FLOOR.create_decimal(Decimal(math.nextafter(value, -math.inf)))
    hi = _CEILING.create_decimal(Decimal(math.nextafter(value, math.inf)))
    return (literal(format(lo, "f"), "numeric"), literal(format(hi, "f"), "numeric"), False)


def _timestamp_range(value) -> Const | None:
    # multicorn drops the fractional seconds: the constant is in [v, v + 1s)
    if value.__class__ is not _dt.datetime or value.tzinfo is not None:
        return None
    try:
        nxt = value + _dt.timedelta(seconds=1)
    except OverflowError:
        return None
    fmt = "%Y-%m-%d %H:%M:%S"
    return (literal(value.strftime(fmt), "timestamp without time zone"),
            literal(nxt.strftime(fmt), "timestamp without time zone"), True)


_RANGES: dict[str, Callable[[object], Const | None]] = {
    "float4": _float_range, "float8": _float_range,
    "numeric": _numeric_range, "timestamp": _timestamp_range,
}


def const_for(kind: str, value) -> Const | None:
    """The constant as SQL: (exact,), (lo, hi, hi_open), or None."""
    if kind in _RANGES:
        return _RANGES[kind](value)
    try:
        sql = _exact_const(kind, value)
    except (ValueError, TypeError, AttributeError):
        return None
    return None if sql is None else (sql,)


def _compare(col: str, op: str, c: Const) -> str | None:
    if len(c) == 1:
        return f"({col} {op} {c[0]})"
    lo, hi, hi_open = c
    upper = "<" if hi_open else "<="
    # a superset of `col op v` for every v in the interval
    return {"=": f"(({col} >= {lo}) AND ({col} {upper} {hi}))",
            "<": f"({col} {upper} {hi})", "<=": f"({col} {upper} {hi})",
            ">": f"({col} >= {lo})", ">=": f"({col} >= {lo})"}.get(op)


def clause(qual, kinds: dict[str, str]) -> str | None:
    """PostgreSQL clause text for one multicorn Qual, or None.

    kinds: translator kind of each column (int, float8, text, ...)."""
    kind = kinds.get(qual.field_name)
    if kind is None:
        return None
    col = ident(qual.field_name)
    op, value = qual.operator, qual.value
    if isinstance(op, tuple):
        return _list_clause(col, kind, op, value)
    if op in ("IS", "IS NOT"):     # boolean tests
        if value is None:
            return f"({col} {op} NULL)"
        if kind == "bool" and value in ("t", "f"):
            return f"({col} {op} {'TRUE' if value == 't' else 'FALSE'})"
        return None
    if value is None:
        # IS NULL / IS NOT NULL arrive as = / <> NULL; a comparison with a
        # NULL parameter is never true, so this is a superset of it too
        if op == "=":
            return f"({col} IS NULL)"
        if op == "<>":
            return f"({col} IS NOT NULL)"
        return None
    if op in _LIKE:
        if kind != "text" or not isinstance(value, str):
            return None
        return f"({col} {_LIKE[op]} {literal(value, 'text')})"
    if op not in _CMP:
        return None
    c = const_for(kind, value)
    if c is None or (op == "<>" and len(c) != 1):
        return None
    return _compare(col, op, c)


def _list_clause(col: str, kind: str, op: tuple, values) -> str | None:
    name, use_or = op
    if name not in _CMP or not isinstance(values, list) or not values:
        return None
    parts = []
    for v in values:
        if v is None:
            parts.append(None)
            continue
        c = const_for(kind, v)
        if c is None:
            return None
        parts.append(c)
    if all(p is None or len(p) == 1 for p in parts):
        elems = ", ".join("NULL" if p is None else p[0] for p in parts)
        quant = "ANY" if use_or else "ALL"
        return f"({col} {name} {quant}(ARRAY[{elems}]))"
    if not use_or or any(p is None for p in parts):
        return None   # intervals: only `= ANY` widens safely, as an OR
    terms = [_compare(col, name, p) for p in parts]
    if any(t is None for t in terms):
        return None
    return "(" + " OR ".join(terms) + ")"

