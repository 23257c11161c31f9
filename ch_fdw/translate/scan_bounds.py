"""Date and timestamptz parameters of the per-table scan (prepared-statement
parameters under generic plans, and the stable values stable.c computes:
now(), current_date - 7, ...) compared with a column.

Their value is known only at execution and may be outside what a ClickHouse
literal can say (before 1970, after 2105, infinity, BC), so such a
parameter is only pushed as one side of a comparison with a Date/DateTime
column, and the comparison itself is rendered per value:

* in range: ``col op literal``, the form that uses the primary key;
* a fractional-second timestamptz against a whole-second DateTime column:
  the equivalent comparison with a whole-second literal (18.16 has no
  DateTime64 literal, and ``=`` can never hold);
* anything else: the column's raw integer (days, seconds or microseconds
  since the epoch) compared with the value's exact integer, which is right
  for every value PostgreSQL can hold (infinity compares beyond all).
"""

from __future__ import annotations

import datetime as _dt
import re

from . import literals as L
from .kinds import ch_type
from .literals import Unsupported

_EPOCH = _dt.date(1970, 1, 1).toordinal()
_BEYOND = 1 << 62            # beyond every column value, in any unit used here
_DATE_RE = re.compile(r"([0-9]{4,})-([0-9]{2})-([0-9]{2})( BC)?")
_TS_RE = re.compile(
    r"([0-9]{4,})-([0-9]{2})-([0-9]{2}) ([0-9]{2}):([0-9]{2}):([0-9]{2})(\.[0-9]{1,6})?"
    r"([+-])([0-9]{2})(?::([0-9]{2}))?(?::([0-9]{2}))?( BC)?")


def _infinite(text: str) -> int | None:
    t = text.strip().lower()
    if t == "infinity":
        return _BEYOND
    if t == "-infinity":
        return -_BEYOND
    return None


def date_days(text: str) -> int:
    """Days since 1970-01-01 of a PostgreSQL date text (saturated far out)."""
    inf = _infinite(text)
    if inf is not None:
        return inf
    m = _DATE_RE.fullmatch(text.strip())
    if not m:
        raise ValueError(f"unexpected date text {text!r}")
    if m.group(4) or int(m.group(1)) > 9999:
        return -_BEYOND if m.group(4) else _BEYOND
    return _dt.date(int(m.group(1)), int(m.group(2)), int(m.group(3))).toordinal() - _EPOCH


def timestamptz_micros(text: str) -> int:
    """Microseconds since the epoch of a PostgreSQL timestamptz text."""
    inf = _infinite(text)
    if inf is not None:
        return inf
    m = _TS_RE.fullmatch(text.strip())
    if not m:
        raise ValueError(f"unexpected timestamptz text {text!r}")
    if m.group(12) or int(m.group(1)) > 9999:
        return -_BEYOND if m.group(12) else _BEYOND
    days = _dt.date(int(m.group(1)), int(m.group(2)), int(m.group(3))).toordinal() - _EPOCH
    secs = days * 86400 + int(m.group(4)) * 3600 + int(m.group(5)) * 60 + int(m.group(6))
    off = int(m.group(9)) * 3600 + int(m.group(10) or 0) * 60 + int(m.group(11) or 0)
    secs -= off if m.group(8) == "+" else -off
    frac = m.group(7) or ""
    return secs * 1_000_000 + (int((frac[1:] + "000000")[:6]) if frac else 0)


def _flip(op: str) -> str:
    return {"<": ">", "<=": ">=", ">": "<", ">=": "<=", "=": "=", "<>": "<>"}[op]


def bounded_compare(op: str, col_sql: str, col_ch: str | None, kind: str,
                    version: tuple[int, ...], param_on_left: bool):
    """render(text) for ``col op $n`` (or ``$n op col``) where $n is a date
    or timestamptz parameter and col a bare column of that kind; raises
    Unsupported at planning when the column's type is not handled."""
    ch = ch_type(col_ch)
    if ch is None:
        raise Unsupported("column type unknown")
    if param_on_left:
        op = _flip(op)
    chop = "!=" if op == "<>" else op
    version = tuple(version)

    if kind == "date":
        if ch.base == "Date":
            raw = f"toInt64(toUInt16({col_sql}))"
        elif ch.base == "Date32":
            raw = f"toInt64(toInt32({col_sql}))"
        else:
            raise Unsupported(f"date parameter against {ch.base}")

        def render(text: str | None) -> str:
            if text is None:
                return "0"
            try:
                lit = L.date_sql(L.date_value(text))
            except Unsupported:
                return f"({raw} {chop} {date_days(text)})"
            return f"({col_sql} {chop} {lit})"
        return render

    if kind != "timestamptz":
        raise Unsupported(f"{kind} parameter")
    if ch.base == "DateTime":
        raw, unit = f"toInt64(toUInt32({col_sql}))", 1_000_000
    elif ch.base == "DateTime64" and version >= (20, 5):
        scale = int(ch.args[0]) if ch.args else 3
        if scale > 6:
            raise Unsupported("DateTime64 finer than microseconds")
        raw, unit = f"toUnixTimestamp64Micro({col_sql})", 1
    else:
        raise Unsupported(f"timestamptz parameter against {ch.base}")

    def render(text: str | None) -> str:
        if text is None:
            return "0"
        try:
            ts = L.timestamptz_value(text)
        except Unsupported:
            ts = None
        if ts is not None and ch.base == "DateTime" and ts.microsecond:
            # whole seconds s satisfy s op t.f exactly as they satisfy these
            floor = ts.replace(microsecond=0)
            if op == "=":
                return "0"
            if op == "<>":
                return f"({col_sql} IS NOT NULL)"
            bound = floor if op in ("<=", ">") else floor + _dt.timedelta(seconds=1)
            if bound <= L._DT_MAX:
                return f"({col_sql} {chop} {L.datetime_sql(bound, 'UTC', version)})"
            ts = None
        if ts is not None:
            try:
                return f"({col_sql} {chop} {L.datetime_sql(ts, 'UTC', version)})"
            except Unsupported:
                pass
        micros = timestamptz_micros(text)
        if unit == 1:
            return f"({raw} {chop} {micros})"
        return f"({raw} * {unit} {chop} {micros})"
    return render


def flatten_pg_array(text: str) -> str:
    """A PostgreSQL array's text as a one-dimensional array of the same
    elements in the same order (= ANY looks at every element of a
    multi-dimensional array; explicit bounds do not matter)."""
    t = text.strip()
    if t.startswith("["):
        t = t[t.index("=") + 1:].strip()
    out, quoted, escaped = [], False, False
    for ch in t:
        if escaped:
            escaped = False
        elif ch == "\\":
            escaped = True
        elif ch == '"':
            quoted = not quoted
        elif ch in "{}" and not quoted:
            continue
        out.append(ch)
    return "{" + "".join(out) + "}"
