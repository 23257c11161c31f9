"""Dates: Date and Date32 (PostgreSQL date; days since 1970-01-01 on the
bridge)."""

from __future__ import annotations

import datetime as _dt
import re as _re
from typing import Callable

from ch_fdw import errors

from .base import Bad, Refuse, quote_string, show
from .model import ChType

NAMES = frozenset({"Date", "Date32"})
_EPOCH_DATE = _dt.date(1970, 1, 1)
_EPOCH_ORDINAL = _EPOCH_DATE.toordinal()
_DATE_RANGE = {"Date": (0, 65535), "Date32": (-25567, 120529)}   # days since 1970-01-01


def pg_type(t: ChType) -> str:
    return "date"


def days_to_text(values: list) -> list:
    e, td = _EPOCH_DATE, _dt.timedelta
    return [None if v is None else (e + td(days=v)).isoformat() for v in values]


def read(t: ChType, cat: str, f, driver: str):
    if cat == "date":
        return "toInt32({})", None
    if cat == "timestamp":
        return "toInt64(toInt32({})) * 86400000000", None
    if cat == "timestamptz":
        # midnight in the session time zone, as PostgreSQL's date cast:
        # date text through timestamptz's input function
        return "toInt32({})", days_to_text
    raise Refuse("")


def read_text(t: ChType, f):
    return "toInt32({})", days_to_text


def date_token(v) -> str:
    if v is None:
        return "NULL"
    v = str(v)
    return '"1970-01-01"' if v == "0000-00-00" else '"' + v + '"'


def element(t: ChType, cat: str, f):
    if cat in ("date", "timestamp", "timestamptz"):
        return "toString({})", date_token
    raise Refuse("")


_DATE_RE = _re.compile(r"(\d{4,})-(\d\d)-(\d\d)")


def _days_of(v) -> int:
    """Days since 1970-01-01 of a date in bridge form."""
    if v.__class__ is int:
        return v
    if isinstance(v, _dt.date):
        return v.toordinal() - _EPOCH_ORDINAL
    if isinstance(v, str):
        m = _DATE_RE.fullmatch(v.strip())
        if m:
            try:
                return _dt.date(int(m[1]), int(m[2]), int(m[3])).toordinal() - _EPOCH_ORDINAL
            except ValueError:
                pass
        raise Bad(f'date "{show(v)}" cannot be stored in ClickHouse', errors.INVALID_PARAMETER_VALUE)
    raise Bad(f"cannot convert {type(v).__name__} to a date", errors.DATATYPE_MISMATCH)


def write(t: ChType, pg_cat: str, server_tz) -> Callable:
    if pg_cat not in ("date", "text") and not pg_cat.startswith("other:"):
        raise Refuse("only date (or its text) can be stored in a ClickHouse Date")
    lo, hi = _DATE_RANGE[t.name]
    first = _dt.date.fromordinal(_EPOCH_ORDINAL + lo)
    last = _dt.date.fromordinal(_EPOCH_ORDINAL + hi)

    def conv(v):
        d = _days_of(v)
        if not lo <= d <= hi:
            raise Bad(f"date {show(_date_text(d))} is out of range for ClickHouse type {t.name} "
                      f"({first} .. {last})")
        return _dt.date.fromordinal(_EPOCH_ORDINAL + d)
    return conv


def _date_text(days: int) -> str:
    try:
        return _dt.date.fromordinal(_EPOCH_ORDINAL + days).isoformat()
    except (ValueError, OverflowError):
        return str(days)


def literal(t: ChType, v) -> str:
    return f"to{t.name}({quote_string(v.isoformat())})"
