"""Write conversion: PostgreSQL values in the C bridge's forms -> the
driver's form for a ClickHouse column type, exactly (a value ClickHouse
cannot hold unchanged is an error, never a silent rounding, truncation or
wrap-around), dispatched to the column's type family.  Also the ClickHouse
literal of a converted value (UPDATE ... SET)."""

from __future__ import annotations

from typing import Callable

from ch_fdw import errors
from ch_fdw.errors import ChFdwError

from . import arrays
from .base import Bad, BadAt, Refuse, show
from . import families
from .model import ChType, parse_type
from .pgnames import normalize_pg_type


def converter(t: ChType, pg_cat: str, dims: int, server_tz) -> Callable:
    """Converter of one non-NULL value in bridge form to the driver's form for
    ClickHouse type t (Nullable/LowCardinality unwrapped by the caller)."""
    fam = families.family_of(t)
    if fam is None or t.name not in getattr(fam, "WRITABLE", fam.NAMES):
        raise Refuse(f"writing ClickHouse type {t.text or t.name} is not supported")
    if fam is arrays:
        return arrays.write(t, pg_cat, dims, server_tz)
    if dims:
        raise Refuse("a PostgreSQL array can only be stored in a ClickHouse Array")
    return fam.write(t, pg_cat, server_tz)


def literal(t: ChType, v) -> str:
    """ClickHouse literal of a driver value for type t."""
    if v is None:
        return "NULL"
    fam = families.family_of(t)
    if fam is None or not hasattr(fam, "literal"):
        raise ChFdwError(f"no literal form for ClickHouse type {t.text}", errors.FEATURE_NOT_SUPPORTED)
    return fam.literal(t, v)


class ColumnEncoder:
    """Converts one column of a batch to the driver's form."""

    def __init__(self, pg_name: str, remote: str, pg_type: str, ch_type: str, label: str,
                 server_tz: str | None):
        self.pg_name, self.remote, self.pg_type, self.ch_text = pg_name, remote, pg_type, ch_type
        self.label = label
        self.t = parse_type(ch_type)
        self.nullable = self.t.nullable
        cat, dims = normalize_pg_type(pg_type)
        self.pg_cat = cat if not dims else "array"
        if cat == "bytea" and self.t.name not in ("String", "FixedString"):
            self._refuse(pg_type, "bytea can only be stored in String or FixedString")
        try:
            self.conv = converter(self.t, cat, dims, server_tz)
        except Refuse as e:
            self._refuse(pg_type, str(e))

    def _refuse(self, pg_type: str, reason: str):
        raise ChFdwError(f"{self.label}: PostgreSQL type {pg_type} cannot be written to ClickHouse "
                         f"type {self.ch_text}", errors.FDW_INVALID_DATA_TYPE, detail=reason or None)

    def shown(self, v) -> str:
        """A bad value as error DETAILs show it: the bridge's int forms of
        dates and timestamps as the date/timestamp they stand for."""
        if v.__class__ is int and self.pg_cat in ("timestamp", "timestamptz", "date"):
            import datetime as _dt
            try:
                if self.pg_cat == "date":
                    return (_dt.date(1970, 1, 1) + _dt.timedelta(days=v)).isoformat()
                s = str(_dt.datetime(1970, 1, 1) + _dt.timedelta(microseconds=v))
                return s + ("+00" if self.pg_cat == "timestamptz" else "")
            except OverflowError:
                pass
        return show(v)

    def encode(self, values: list) -> list:
        """The column's values converted; raises BadAt for the first value
        ClickHouse cannot hold."""
        fast = getattr(self.conv, "fast", None)
        if fast is not None and (self.nullable or None not in values):
            out = fast(values, self.nullable)
            if out is not None:
                return out
        conv, nullable = self.conv, self.nullable
        out = []
        append = out.append
        for i, v in enumerate(values):
            if v is None:
                if not nullable:
                    raise BadAt(i, Bad(f"NULL cannot be stored in ClickHouse column {self.remote!r} of "
                                       f"type {self.ch_text} (not Nullable)", errors.NOT_NULL_VIOLATION),
                                None)
                append(None)
                continue
            try:
                append(conv(v))
            except Bad as e:
                raise BadAt(i, e, v) from None
            except (ValueError, TypeError, OverflowError, ArithmeticError) as e:
                raise BadAt(i, Bad(f"invalid value: {e}", errors.INVALID_PARAMETER_VALUE), v) from None
        return out
