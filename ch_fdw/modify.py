"""Writes: INSERT/COPY into ClickHouse in batches, and UPDATE/DELETE as
ClickHouse mutations.

INSERT / COPY
-------------
The C bridge (src/modify.c) collects rows column by column into Python
lists, in the forms src/convert.c's chfdw_datum_to_py() produces:

  None (NULL); bool; int (int2/4/8; date: days since 1970-01-01;
  timestamp/timestamptz: microseconds since 1970-01-01 00:00:00, UTC for
  timestamptz, wall clock for timestamp); float (float4/8); str (text types,
  and every other type as its output-function text in ISO/extra_float_digits=3
  form, including 'infinity' dates and timestamps); bytes (bytea).

Every batch_size rows it calls Writer.write(n, columns); the rest is sent by
Writer.write() from EndForeignModify.  write() converts each column to the
driver's form for the ClickHouse column type *exactly* (a value that
ClickHouse cannot hold unchanged is an error naming the column, never a
silent rounding, truncation or wrap-around) and sends the batch as one
INSERT naming only the columns the statement gave, so ClickHouse fills the
others with its DEFAULT expressions.  A batch is converted completely before
any of it is sent: a bad value sends nothing of its batch, and the error
says how many rows of the statement had already been sent.

UPDATE / DELETE
---------------
Only as one ClickHouse statement (PostgreSQL's direct-modify API): a WHERE
that translates whole (ch_fdw.translate.scan) and SET values that are
computed once (constants, parameters, stable expressions) or are plain
columns of the same type.  DELETE is a lightweight DELETE FROM on ClickHouse
>= 23.3, ALTER TABLE ... DELETE before; UPDATE is ALTER TABLE ... UPDATE.
The statement waits for the mutation (mutations_sync = 2 on >= 20.1,
polling system.mutations before), so its effect is visible when it returns.
ClickHouse does not report how many rows a mutation changed; the count
reported is count() of the matching rows taken just before the mutation.
"""

from __future__ import annotations

import datetime as _dt
import decimal as _decimal
import gc
import ipaddress as _ip
import json as _json
import math as _math
import re as _re
import time as _time
import uuid as _uuid
from typing import Callable

from . import errors
from .connection import Connection, get_connection
from .errors import ChFdwError, Interrupted
from .interrupts import interrupt_pending
from .translate.quoting import quote_identifier, quote_string
from .chtypes import ChType, normalize_pg_type, parse_type

DEFAULT_BATCH_SIZE = 65536

_UNIX_EPOCH = _dt.datetime(1970, 1, 1)
_EPOCH_ORDINAL = _dt.date(1970, 1, 1).toordinal()
_INT_BITS = {"Int8": 8, "Int16": 16, "Int32": 32, "Int64": 64, "Int128": 128, "Int256": 256,
             "UInt8": 8, "UInt16": 16, "UInt32": 32, "UInt64": 64, "UInt128": 128, "UInt256": 256}
_DATE_RANGE = {"Date": (0, 65535), "Date32": (-25567, 120529)}   # days since 1970-01-01
_DATETIME_MAX = 2 ** 32 - 1
_FLT32_MAX = 3.4028234663852886e38
_UNSUPPORTED_WRITE = {"JSON", "Object", "Variant", "Dynamic", "Nested", "AggregateFunction",
                      "Nothing", "Time", "Time64", "Interval", "Ring", "LineString",
                      "MultiLineString", "Polygon", "MultiPolygon", "Geometry", "BFloat16"}


class _Bad(Exception):
    """A value ClickHouse cannot hold exactly (message without the column)."""

    def __init__(self, message: str, sqlstate: str = errors.NUMERIC_VALUE_OUT_OF_RANGE):
        super().__init__(message)
        self.message = message
        self.sqlstate = sqlstate


class _BadAt(Exception):
    def __init__(self, index: int, bad: _Bad, value):
        self.index, self.bad, self.value = index, bad, value


def _show(v) -> str:
    if isinstance(v, str):
        s = v
    elif isinstance(v, bytes):
        s = "\\x" + v.hex()
    else:
        s = repr(v)
    return s if len(s) <= 80 else s[:77] + "..."


# ---------------------------------------------------------------------------
# PostgreSQL values (bridge forms) -> driver values, per ClickHouse type
# ---------------------------------------------------------------------------

def _decimal_of(v) -> _decimal.Decimal:
    if isinstance(v, bool):
        raise _Bad("a boolean is not a number", errors.DATATYPE_MISMATCH)
    if isinstance(v, int):
        return _decimal.Decimal(v)
    if isinstance(v, float):
        if not _math.isfinite(v):
            raise _Bad(f"{_show(v)} is not a finite number")
        return _decimal.Decimal(v)      # the exact binary value
    if isinstance(v, str):
        try:
            d = _decimal.Decimal(v.strip())
        except _decimal.InvalidOperation:
            raise _Bad(f'invalid number "{_show(v)}"', errors.INVALID_TEXT_REPRESENTATION) from None
        if not d.is_finite():
            raise _Bad(f"{_show(v)} is not a finite number")
        return d
    raise _Bad(f"cannot convert {type(v).__name__} to a number", errors.DATATYPE_MISMATCH)


def _int_conv(t: ChType) -> Callable:
    bits = _INT_BITS[t.name]
    lo, hi = (0, 2 ** bits - 1) if t.name.startswith("U") else (-2 ** (bits - 1), 2 ** (bits - 1) - 1)

    def conv(v):
        if v.__class__ is int:
            n = v
        elif isinstance(v, bool):
            n = int(v)
        else:
            d = _decimal_of(v)
            if d != d.to_integral_value():
                raise _Bad(f"{_show(v)} is not an integer")
            n = int(d)
        if not lo <= n <= hi:
            raise _Bad(f"value {n} is out of range for ClickHouse type {t.text or t.name}")
        return n

    def fast(values: list, nullable: bool):
        try:
            vals = [v for v in values if v is not None] if nullable else values
            if vals and (min(vals) < lo or max(vals) > hi):
                return None
            if any(v.__class__ is not int for v in vals):
                return None
        except TypeError:
            return None
        return values
    conv.fast = fast
    return conv


def _float_conv(t: ChType) -> Callable:
    f32 = t.name == "Float32"

    def conv(v):
        if v.__class__ is float:
            x = v
        elif isinstance(v, bool):
            raise _Bad("a boolean is not a number", errors.DATATYPE_MISMATCH)
        elif isinstance(v, int):
            x = float(v)
            if int(x) != v:
                raise _Bad(f"integer {v} has no exact floating-point value")
        elif isinstance(v, str):
            s = v.strip()
            low = s.lower()
            if low in ("nan", "+nan", "-nan"):
                return _math.nan
            if low in ("infinity", "+infinity", "inf", "+inf"):
                return _math.inf
            if low in ("-infinity", "-inf"):
                return -_math.inf
            try:
                x = float(s)
            except ValueError:
                raise _Bad(f'invalid number "{_show(v)}"', errors.INVALID_TEXT_REPRESENTATION) from None
        else:
            raise _Bad(f"cannot convert {type(v).__name__} to a number", errors.DATATYPE_MISMATCH)
        if f32 and _math.isfinite(x) and abs(x) > _FLT32_MAX:
            raise _Bad(f"value {x!r} is out of range for ClickHouse type Float32")
        return x

    def fast(values: list, nullable: bool):
        vals = [v for v in values if v is not None] if nullable else values
        if any(v.__class__ is not float for v in vals):
            return None
        if f32 and vals and not all(abs(v) <= _FLT32_MAX or not _math.isfinite(v) for v in vals):
            return None
        return values
    conv.fast = fast
    return conv


def _decimal_conv(t: ChType) -> Callable:
    p, s = t.precision, t.scale
    limit = _decimal.Decimal(10) ** (p - s)

    def conv(v):
        d = _decimal_of(v)
        if d.as_tuple().exponent < -s and d != d.quantize(_decimal.Decimal(1).scaleb(-s),
                                                          context=_decimal.Context(prec=100)):
            raise _Bad(f"{_show(v)} has more than {s} decimal places (ClickHouse type {t.text})")
        if abs(d) >= limit:
            raise _Bad(f"{_show(v)} is out of range for ClickHouse type {t.text}")
        return d
    return conv


def _bool_conv(t: ChType) -> Callable:
    def conv(v):
        if isinstance(v, bool):
            return v
        if isinstance(v, int) and v in (0, 1):
            return bool(v)
        if isinstance(v, str):
            low = v.strip().lower()
            if low in ("t", "true", "1", "yes", "on", "y"):
                return True
            if low in ("f", "false", "0", "no", "off", "n"):
                return False
        raise _Bad(f'invalid boolean "{_show(v)}"', errors.INVALID_TEXT_REPRESENTATION)
    return conv


def _string_conv(t: ChType, pg_cat: str) -> Callable:
    def conv(v):
        if v.__class__ is str or v.__class__ is bytes:
            return v
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, float):
            from .chtypes.pgtext import float_token as _float_token
            return _float_token(v)
        return str(v)

    def fast(values: list, nullable: bool):
        vals = [v for v in values if v is not None] if nullable else values
        if any(v.__class__ is not str for v in vals):
            return None
        return values
    conv.fast = fast
    return conv


def _fixedstring_conv(t: ChType) -> Callable:
    n = t.length

    def conv(v):
        b = v if isinstance(v, bytes) else str(v).encode("utf-8")
        if len(b) > n:
            raise _Bad(f"value of {len(b)} bytes is too long for ClickHouse type FixedString({n})",
                       errors.STRING_DATA_RIGHT_TRUNCATION)
        return b + b"\x00" * (n - len(b))
    return conv


def _uuid_conv(t: ChType) -> Callable:
    def conv(v):
        try:
            return v if isinstance(v, _uuid.UUID) else _uuid.UUID(str(v).strip())
        except ValueError:
            raise _Bad(f'invalid UUID "{_show(v)}"', errors.INVALID_TEXT_REPRESENTATION) from None
    return conv


_DATE_RE = _re.compile(r"(\d{4,})-(\d\d)-(\d\d)")
_TS_RE = _re.compile(r"(\d{4,})-(\d\d)-(\d\d)[ T](\d\d):(\d\d):(\d\d)(?:\.(\d{1,9}))?"
                     r"(?:\s*(Z|[+-]\d\d(?::?\d\d(?::?\d\d)?)?))?")


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
        raise _Bad(f'date "{_show(v)}" cannot be stored in ClickHouse', errors.INVALID_PARAMETER_VALUE)
    raise _Bad(f"cannot convert {type(v).__name__} to a date", errors.DATATYPE_MISMATCH)


def _date_conv(t: ChType, pg_cat: str) -> Callable:
    lo, hi = _DATE_RANGE[t.name]
    first = _dt.date.fromordinal(_EPOCH_ORDINAL + lo)
    last = _dt.date.fromordinal(_EPOCH_ORDINAL + hi)

    def conv(v):
        if pg_cat in ("timestamp", "timestamptz") and not isinstance(v, str):
            raise _Bad("a timestamp cannot be stored in a ClickHouse Date column", errors.DATATYPE_MISMATCH)
        d = _days_of(v)
        if not lo <= d <= hi:
            raise _Bad(f"date {_show(_date_text(d))} is out of range for ClickHouse type {t.name} "
                       f"({first} .. {last})")
        return _dt.date.fromordinal(_EPOCH_ORDINAL + d)
    return conv


def _date_text(days: int) -> str:
    try:
        return _dt.date.fromordinal(_EPOCH_ORDINAL + days).isoformat()
    except (ValueError, OverflowError):
        return str(days)


def _zone(name: str | None):
    if not name or name in ("UTC", "Etc/UTC", "UCT", "Zulu", "Etc/UCT"):
        return None
    from zoneinfo import ZoneInfo
    try:
        return ZoneInfo(name)
    except Exception:
        raise ChFdwError(f"unknown time zone {name!r}", errors.FDW_INVALID_DATA_TYPE) from None


def _micros_of(v, wall_zone, tz_input: bool) -> int:
    """Microseconds since the Unix epoch (UTC) of a timestamp in bridge form.
    Ints from a timestamp (wall clock) column are read in wall_zone."""
    if v.__class__ is int:
        if tz_input or wall_zone is None:
            return v
        return _wall_to_utc(v, wall_zone)
    if isinstance(v, str):
        s = v.strip()
        m = _TS_RE.fullmatch(s)
        if m:
            frac = (m[7] or "")
            if len(frac) > 6 and int(frac[6:]):
                raise _Bad(f'timestamp "{_show(v)}" has sub-microsecond digits')
            try:
                wall = _dt.datetime(int(m[1]), int(m[2]), int(m[3]), int(m[4]), int(m[5]), int(m[6]))
            except ValueError:
                raise _Bad(f'invalid timestamp "{_show(v)}"', errors.INVALID_TEXT_REPRESENTATION) from None
            us = ((wall - _UNIX_EPOCH) // _dt.timedelta(microseconds=1)) + int((frac + "000000")[:6] or 0)
            off = m[8]
            if off:
                if off != "Z":
                    sign = -1 if off[0] == "-" else 1
                    digits = off[1:].replace(":", "")
                    secs = int(digits[0:2]) * 3600 + int(digits[2:4] or 0) * 60 + int(digits[4:6] or 0)
                    us -= sign * secs * 1_000_000
                return us
            return us if wall_zone is None else _wall_to_utc(us, wall_zone)
        raise _Bad(f'timestamp "{_show(v)}" cannot be stored in ClickHouse', errors.INVALID_PARAMETER_VALUE)
    raise _Bad(f"cannot convert {type(v).__name__} to a timestamp", errors.DATATYPE_MISMATCH)


def _wall_to_utc(us: int, zone) -> int:
    try:
        wall = _UNIX_EPOCH + _dt.timedelta(microseconds=us)
    except OverflowError:
        raise _Bad("timestamp is out of range for ClickHouse") from None
    off = wall.replace(tzinfo=zone).utcoffset()
    return us - off // _dt.timedelta(microseconds=1)


def _datetime_conv(t: ChType, pg_cat: str, server_tz: str | None) -> Callable:
    """DateTime -> int seconds; DateTime64(p) -> int ticks.  timestamptz
    input is the instant; timestamp input is the wall clock in the column's
    zone (the server's when the column has none), as ch_fdw reads it."""
    tz_input = pg_cat == "timestamptz"
    wall_zone = None if tz_input else _zone(t.timezone or server_tz)
    if pg_cat == "date":
        raise ChFdwError("", errors.DATATYPE_MISMATCH)   # refused by caller
    if t.name == "DateTime":
        def conv(v):
            us = _micros_of(v, wall_zone, tz_input)
            secs, rest = divmod(us, 1_000_000)
            if rest:
                raise _Bad(f"timestamp {_ts_text(us)} has fractional seconds, which ClickHouse type "
                           f"{t.text or t.name} cannot hold (use DateTime64)")
            if not 0 <= secs <= _DATETIME_MAX:
                raise _Bad(f"timestamp {_ts_text(us)} is out of range for ClickHouse type "
                           f"{t.text or t.name} (1970-01-01 00:00:00 .. 2106-02-07 06:28:15 UTC)")
            return secs

        def fast(values: list, nullable: bool):
            if not (tz_input or wall_zone is None):
                return None
            vals = [v for v in values if v is not None] if nullable else values
            try:
                out = [None if v is None else v // 1_000_000 for v in values]
                if any(v % 1_000_000 for v in vals):
                    return None
                if vals and (min(vals) < 0 or max(vals) > _DATETIME_MAX * 1_000_000):
                    return None
            except TypeError:
                return None
            return out
        conv.fast = fast
        return conv
    p = t.precision if t.precision is not None else 3
    # DateTime64 range 1900-01-01 .. 2299-12-31 23:59:59.99999999
    lo_us = (_dt.datetime(1900, 1, 1) - _UNIX_EPOCH) // _dt.timedelta(microseconds=1)
    hi_us = (_dt.datetime(2300, 1, 1) - _UNIX_EPOCH) // _dt.timedelta(microseconds=1) - 1

    def conv64(v):
        us = _micros_of(v, wall_zone, tz_input)
        if not lo_us <= us <= hi_us:
            raise _Bad(f"timestamp {_ts_text(us)} is out of range for ClickHouse type {t.text} "
                       "(1900-01-01 .. 2299-12-31)")
        if p >= 6:
            return us * 10 ** (p - 6)
        q, r = divmod(us, 10 ** (6 - p))
        if r:
            raise _Bad(f"timestamp {_ts_text(us)} has more fractional digits than ClickHouse type "
                       f"{t.text} holds")
        return q
    return conv64


def _ts_text(us: int) -> str:
    try:
        return str(_UNIX_EPOCH + _dt.timedelta(microseconds=us))
    except OverflowError:
        return f"{us} us"


def _enum_conv(t: ChType) -> Callable:
    labels = {label for label, _ in t.enum_values}
    by_value = {value: label for label, value in t.enum_values}

    def conv(v):
        if isinstance(v, str):
            if v in labels:
                return v
            raise _Bad(f'"{_show(v)}" is not a value of ClickHouse type {t.text}',
                       errors.INVALID_TEXT_REPRESENTATION)
        if isinstance(v, int) and not isinstance(v, bool) and v in by_value:
            return by_value[v]
        raise _Bad(f"{_show(v)} is not a value of ClickHouse type {t.text}",
                   errors.INVALID_TEXT_REPRESENTATION)
    return conv


def _ip_conv(t: ChType) -> Callable:
    v4 = t.name == "IPv4"

    def conv(v):
        s = str(v).strip()
        if s.endswith("/32") and "." in s:
            s = s[:-3]
        elif s.endswith("/128"):
            s = s[:-4]
        try:
            a = _ip.ip_address(s)
        except ValueError:
            raise _Bad(f'"{_show(v)}" is not a single {t.name} address (networks cannot be stored)',
                       errors.INVALID_TEXT_REPRESENTATION) from None
        if v4:
            if a.version != 4:
                raise _Bad(f'"{_show(v)}" is not an IPv4 address', errors.INVALID_TEXT_REPRESENTATION)
            return a
        return a if a.version == 6 else _ip.IPv6Address("::ffff:" + str(a))
    return conv


def _point_conv(t: ChType) -> Callable:
    def conv(v):
        m = _re.fullmatch(r"\(\s*([^,\s]+)\s*,\s*([^)\s]+)\s*\)", str(v).strip())
        if not m:
            raise _Bad(f'invalid point "{_show(v)}"', errors.INVALID_TEXT_REPRESENTATION)
        return (float(m[1]), float(m[2]))
    return conv


# -- arrays, maps, tuples ---------------------------------------------------

def parse_pg_array(text: str) -> list:
    """Nested lists (str or None elements) of a PostgreSQL array literal of
    any dimension.  Explicit bounds ('[0:1]={...}') are ignored."""
    s = text.strip()
    if s.startswith("["):
        s = s[s.index("=") + 1:].strip()
    pos = 0

    def parse_level():
        nonlocal pos
        if s[pos] != "{":
            raise ValueError("malformed array literal")
        pos += 1
        out: list = []
        while True:
            while s[pos].isspace():
                pos += 1
            if s[pos] == "}":
                pos += 1
                return out
            if s[pos] == "{":
                out.append(parse_level())
            elif s[pos] == '"':
                pos += 1
                buf = []
                while s[pos] != '"':
                    if s[pos] == "\\":
                        pos += 1
                    buf.append(s[pos])
                    pos += 1
                pos += 1
                out.append("".join(buf))
            else:
                start = pos
                buf = []
                while s[pos] not in ",}":
                    if s[pos] == "\\":
                        pos += 1
                    buf.append(s[pos])
                    pos += 1
                raw = "".join(buf).strip()
                out.append(None if raw.upper() == "NULL" and "\\" not in s[start:pos] else raw)
            while s[pos].isspace():
                pos += 1
            if s[pos] == ",":
                pos += 1

    try:
        result = parse_level()
    except (IndexError, ValueError):
        raise _Bad(f'malformed array literal "{_show(text)}"', errors.INVALID_TEXT_REPRESENTATION) from None
    return result


def _array_conv(t: ChType, pg_cat: str, dims: int, server_tz) -> Callable:
    if pg_cat == "jsonb" and not dims:
        inner = _json_value_conv(t, server_tz)
        return lambda v: inner(_json_load(v))
    # a PostgreSQL array type holds any number of dimensions
    elem_t = t.innermost
    elem = _scalar_conv(elem_t, pg_cat, 0, server_tz)
    depth = t.array_depth

    def conv(v):
        lst = parse_pg_array(v) if isinstance(v, str) else v
        return _nest(lst, depth, elem, elem_t)
    return conv


def _nest(lst, depth: int, elem, elem_t):
    if not isinstance(lst, list):
        raise _Bad("array has fewer dimensions than the ClickHouse column")
    out = []
    for x in lst:
        if depth > 1:
            if x is None:
                raise _Bad("a NULL sub-array cannot be stored in ClickHouse", errors.NOT_NULL_VIOLATION)
            out.append(_nest(x, depth - 1, elem, elem_t))
        elif isinstance(x, list):
            raise _Bad("array has more dimensions than the ClickHouse column")
        elif x is None:
            if not elem_t.nullable:
                raise _Bad("array element is NULL but ClickHouse type "
                           f"{elem_t.text or elem_t.name} is not Nullable", errors.NOT_NULL_VIOLATION)
            out.append(None)
        else:
            out.append(elem(x))
    return out


def _json_load(v):
    if not isinstance(v, str):
        return v
    try:
        return _json.loads(v, parse_float=_decimal.Decimal)
    except ValueError:
        raise _Bad(f'invalid JSON "{_show(v)}"', errors.INVALID_TEXT_REPRESENTATION) from None


def _json_value_conv(t: ChType, server_tz) -> Callable:
    """A converter for values decoded from JSON (jsonb columns) into ClickHouse
    type t (Map, Tuple, Array, and scalars inside them)."""
    n = t.name
    if n == "Map":
        kc = _scalar_conv(t.key, "text", 0, server_tz)
        vc = _json_value_conv(t.value, server_tz)

        def conv(v):
            if not isinstance(v, dict):
                raise _Bad("a JSON object is needed for ClickHouse type " + t.text,
                           errors.DATATYPE_MISMATCH)
            return {kc(k): _nullable(vc, t.value, x) for k, x in v.items()}
        return conv
    if n == "Tuple":
        convs = [_json_value_conv(e, server_tz) for e in t.args]

        def conv(v):
            if isinstance(v, dict) and t.names:
                if set(v) != set(t.names):
                    raise _Bad("JSON object keys do not match the elements of " + t.text,
                               errors.DATATYPE_MISMATCH)
                v = [v[k] for k in t.names]
            if not isinstance(v, list) or len(v) != len(convs):
                raise _Bad(f"a JSON array of {len(convs)} elements is needed for ClickHouse type {t.text}",
                           errors.DATATYPE_MISMATCH)
            return tuple(_nullable(c, e, x) for c, e, x in zip(convs, t.args, v))
        return conv
    if n == "Array":
        ec = _json_value_conv(t.element, server_tz)

        def conv(v):
            if not isinstance(v, list):
                raise _Bad("a JSON array is needed for ClickHouse type " + t.text, errors.DATATYPE_MISMATCH)
            return [_nullable(ec, t.element, x) for x in v]
        return conv
    base = _scalar_conv(t, "text", 0, server_tz)

    def conv(v):
        if isinstance(v, (dict, list)):
            raise _Bad("a JSON scalar is needed for ClickHouse type " + (t.text or t.name),
                       errors.DATATYPE_MISMATCH)
        if isinstance(v, _decimal.Decimal) and t.name in ("Float32", "Float64"):
            v = float(v)
        return base(v)
    return conv


def _nullable(conv, t: ChType, v):
    if v is None:
        if not t.nullable:
            raise _Bad("JSON null but ClickHouse type " + (t.text or t.name) + " is not Nullable",
                       errors.NOT_NULL_VIOLATION)
        return None
    return conv(v)


def _scalar_conv(t: ChType, pg_cat: str, dims: int, server_tz) -> Callable:
    """Converter of one non-NULL value in bridge form to the driver's form for
    ClickHouse type t (Nullable/LowCardinality unwrapped by the caller)."""
    n = t.name
    if n in _UNSUPPORTED_WRITE or n not in _KNOWN_WRITE and not t.is_decimal:
        raise _Refuse(f"writing ClickHouse type {t.text or n} is not supported")
    if n == "Array":
        if pg_cat not in ("text", "jsonb") and not dims and not pg_cat.startswith("other:"):
            raise _Refuse("a ClickHouse Array needs a PostgreSQL array, jsonb or text column")
        return _array_conv(t, pg_cat, dims, server_tz)
    if dims:
        raise _Refuse("a PostgreSQL array can only be stored in a ClickHouse Array")
    if n in ("Map", "Tuple"):
        if pg_cat not in ("jsonb", "text") and not pg_cat.startswith("other:"):
            raise _Refuse(f"ClickHouse {n} columns are written from jsonb (or its text)")
        inner = _json_value_conv(t, server_tz)
        return lambda v: inner(_json_load(v))
    if n in _INT_BITS:
        if pg_cat in ("date", "timestamp", "timestamptz", "bytea", "uuid", "inet", "jsonb"):
            raise _Refuse("")
        return _int_conv(t)
    if n in ("Float32", "Float64"):
        if pg_cat not in ("smallint", "integer", "bigint", "numeric", "real", "double precision", "text") \
                and not pg_cat.startswith("other:"):
            raise _Refuse("")
        return _float_conv(t)
    if t.is_decimal:
        if pg_cat not in ("smallint", "integer", "bigint", "numeric", "real", "double precision", "text") \
                and not pg_cat.startswith("other:"):
            raise _Refuse("")
        return _decimal_conv(t)
    if n == "Bool":
        return _bool_conv(t)
    if n == "String":
        return _string_conv(t, pg_cat)
    if n == "FixedString":
        return _fixedstring_conv(t)
    if n == "UUID":
        return _uuid_conv(t)
    if n in ("Date", "Date32"):
        if pg_cat not in ("date", "text") and not pg_cat.startswith("other:"):
            raise _Refuse("only date (or its text) can be stored in a ClickHouse Date")
        return _date_conv(t, pg_cat)
    if n in ("DateTime", "DateTime64"):
        if pg_cat not in ("timestamp", "timestamptz", "text") and not pg_cat.startswith("other:"):
            raise _Refuse("only timestamp, timestamptz (or their text) can be stored in a ClickHouse " + n)
        return _datetime_conv(t, "timestamptz" if pg_cat == "timestamptz" else
                              ("timestamp" if pg_cat == "timestamp" else "text"), server_tz)
    if n in ("Enum8", "Enum16"):
        return _enum_conv(t)
    if n in ("IPv4", "IPv6"):
        return _ip_conv(t)
    if n == "Point":
        return _point_conv(t)
    raise _Refuse(f"writing ClickHouse type {t.text or n} is not supported")


_KNOWN_WRITE = set(_INT_BITS) | {"Float32", "Float64", "Bool", "String", "FixedString", "UUID",
                                  "Date", "Date32", "DateTime", "DateTime64", "Enum8", "Enum16",
                                  "IPv4", "IPv6", "Point", "Array", "Map", "Tuple"}


class _Refuse(Exception):
    pass


class ColumnEncoder:
    """Converts one column of a batch to the driver's form."""

    def __init__(self, pg_name: str, remote: str, pg_type: str, ch_type: str, label: str,
                 server_tz: str | None):
        self.pg_name, self.remote, self.pg_type, self.ch_text = pg_name, remote, pg_type, ch_type
        self.label = label
        self.t = parse_type(ch_type)
        self.nullable = self.t.nullable
        cat, dims = normalize_pg_type(pg_type)
        if cat == "bytea" and self.t.name not in ("String", "FixedString"):
            self._refuse(pg_type, "bytea can only be stored in String or FixedString")
        try:
            self.conv = _scalar_conv(self.t, cat, dims, server_tz)
        except _Refuse as e:
            self._refuse(pg_type, str(e))

    def _refuse(self, pg_type: str, reason: str):
        raise ChFdwError(f"{self.label}: PostgreSQL type {pg_type} cannot be written to ClickHouse "
                         f"type {self.ch_text}", errors.FDW_INVALID_DATA_TYPE, detail=reason or None)

    def encode(self, values: list) -> list:
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
                    raise _BadAt(i, _Bad(f"NULL cannot be stored in ClickHouse column {self.remote!r} of "
                                         f"type {self.ch_text} (not Nullable)", errors.NOT_NULL_VIOLATION),
                                 None)
                append(None)
                continue
            try:
                append(conv(v))
            except _Bad as e:
                raise _BadAt(i, e, v) from None
            except (ValueError, TypeError, OverflowError, ArithmeticError) as e:
                raise _BadAt(i, _Bad(f"invalid value: {e}", errors.INVALID_PARAMETER_VALUE), v) from None
        return out


# ---------------------------------------------------------------------------
# Table facts
# ---------------------------------------------------------------------------

def _table_ref(ctx: dict):
    from .scan import table_ref
    return table_ref(ctx)


def _server_tz(conn: Connection) -> str | None:
    key = ("server_timezone",)
    cache = conn._describe_cache
    if key not in cache:
        try:
            rows = conn.execute("SELECT timezone()")
            cache[key] = rows[0][0] if rows else None   # type: ignore[assignment]
        except ChFdwError:
            cache[key] = None   # type: ignore[assignment]
    return cache[key]  # type: ignore[return-value]


def _encoders(ctx: dict, conn: Connection, ref, attnums: list[int]) -> list[ColumnEncoder]:
    remote_types = dict(conn.describe(ref.db, ref.table))
    by_attnum = {c["attnum"]: c for c in ctx["columns"]}
    tz = _server_tz(conn)
    out = []
    for a in attnums:
        col = by_attnum[a]
        remote = col["options"].get("column_name", col["name"])
        label = f'column "{col["name"]}" of foreign table {ctx["relname"]}'
        ch = remote_types.get(remote)
        if ch is None:
            have = ", ".join(remote_types)
            raise ChFdwError(f"{label} does not exist in ClickHouse table {ref.db}.{ref.table}",
                             errors.FDW_COLUMN_NAME_NOT_FOUND,
                             detail=f"ClickHouse column looked up: {remote!r}. The table has: {have}.",
                             hint="Set the column's column_name option, or fix the foreign table definition.")
        out.append(ColumnEncoder(col["name"], remote, col["type"], ch, label, tz))
    return out


def batch_size_of(ctx: dict) -> int:
    v = ctx["table"].get("batch_size") or ctx["server"].get("batch_size")
    return int(v) if v else DEFAULT_BATCH_SIZE


# ---------------------------------------------------------------------------
# INSERT / COPY
# ---------------------------------------------------------------------------

def plan_insert(ctx: dict, attnums: list[int]) -> None:
    """Planning-time check: every column the INSERT gives exists remotely and
    its type can be written (errors name the column)."""
    conn = get_connection(ctx)
    ref = _table_ref(ctx)
    conn.forget(ref.db, ref.table)
    _encoders(ctx, conn, ref, attnums)


class Writer:
    """One INSERT/COPY statement's stream of batches into one table."""

    def __init__(self, ctx: dict, attnums: list[int]):
        self.conn = get_connection(ctx)
        self.ref = _table_ref(ctx)
        self.relname = ctx["relname"]
        self.encoders = _encoders(ctx, self.conn, self.ref, attnums)
        self.batch_size = batch_size_of(ctx)
        from .options import parse_settings
        self.settings = parse_settings(ctx["server"].get("insert_settings", ""))
        self.settings.update(parse_settings(ctx["table"].get("insert_settings", "")))
        self.rows_sent = 0
        self.batches_sent = 0
        self.column_names = [e.remote for e in self.encoders]
        self.column_types = [e.ch_text for e in self.encoders]

    def _sent_detail(self, n: int, server: bool = False) -> str:
        if self.rows_sent == 0:
            before = "No row of this statement had been sent to ClickHouse before this error."
        else:
            before = (f"{self.rows_sent} row{'s' if self.rows_sent != 1 else ''} of this statement had already "
                      f"been sent to ClickHouse ({self.batches_sent} INSERT{'s' if self.batches_sent != 1 else ''})"
                      " and stay there: ClickHouse is not transactional.")
        if server:
            return before + (f" ClickHouse rejected the INSERT of the next {n} row{'s' if n != 1 else ''} "
                             "(normally storing none of them; a batch spanning several partitions may be "
                             "partly stored).")
        return before + f" Nothing of the failed batch of {n} row{'s' if n != 1 else ''} was sent."

    def _batch_settings(self) -> dict | None:
        """Settings for the next INSERT.  A deduplication token gets the batch
        number appended (token-1, token-2, ...): each batch is its own INSERT,
        and re-running the same load reproduces the same tokens."""
        token = self.settings.get("insert_deduplication_token")
        if not token:
            return self.settings or None
        return dict(self.settings, insert_deduplication_token=f"{token}-{self.batches_sent + 1}")

    def write(self, n: int, columns: list) -> int:
        """Convert and send n rows (one INSERT); returns rows sent so far."""
        if n == 0:
            return self.rows_sent
        data = []
        for enc, col in zip(self.encoders, columns):
            try:
                data.append(enc.encode(col))
            except _BadAt as e:
                row = self.rows_sent + e.index + 1
                shown = "" if e.value is None else f" Value: {_show(e.value)}."
                raise ChFdwError(f"{enc.label}: {e.bad.message}", e.bad.sqlstate,
                                 detail=f"Row {row} of the statement.{shown} " + self._sent_detail(n)) from None
        try:
            with _decimal.localcontext(_decimal.Context(prec=100)):
                self.conn.insert(self.ref.db, self.ref.table, self.column_names, self.column_types, data,
                                 self._batch_settings())
        except Interrupted:
            raise
        except ChFdwError as e:
            raise ChFdwError(f"INSERT into ClickHouse table {self.ref.db}.{self.ref.table} failed: {e.message}",
                             e.sqlstate, detail=(e.detail + "\n" if e.detail else "") + self._sent_detail(n, True),
                             hint=e.hint) from None
        self.rows_sent += n
        self.batches_sent += 1
        del data
        if self.conn.protocol == "http":
            # clickhouse-connect's insert leaves reference cycles that hold the
            # batch; the backend allocates few Python containers, so the cyclic
            # GC would rarely run and memory would grow with every batch.
            gc.collect()
        return self.rows_sent


def begin_insert(ctx: dict, attnums: list[int]) -> Writer:
    return Writer(ctx, attnums)


def explain_insert(ctx: dict, attnums: list[int]) -> str:
    ref = _table_ref(ctx)
    by_attnum = {c["attnum"]: c for c in ctx["columns"]}
    cols = ", ".join(quote_identifier(by_attnum[a]["options"].get("column_name", by_attnum[a]["name"]))
                     for a in attnums)
    return f"INSERT INTO {quote_identifier(ref.db)}.{quote_identifier(ref.table)} ({cols}) VALUES"


# ---------------------------------------------------------------------------
# UPDATE / DELETE
# ---------------------------------------------------------------------------

def _literal(t: ChType, v) -> str:
    """ClickHouse literal of a driver value for type t."""
    if v is None:
        return "NULL"
    n = t.name
    if n == "Array":
        return "[" + ", ".join(_literal(t.element, x) for x in v) + "]"
    if n == "Map":
        return "map(" + ", ".join(f"{_literal(t.key, k)}, {_literal(t.value, x)}" for k, x in v.items()) + ")"
    if n == "Tuple":
        return "tuple(" + ", ".join(_literal(e, x) for e, x in zip(t.args, v)) + ")"
    if n in _INT_BITS:
        return f"to{n}({quote_string(str(int(v)))})" if n.endswith(("128", "256")) else str(int(v))
    if n in ("Float32", "Float64"):
        if v != v:
            return "nan"
        if v in (_math.inf, -_math.inf):
            return "inf" if v > 0 else "-inf"
        return repr(float(v))
    if t.is_decimal:
        return f"CAST({quote_string(format(v, 'f'))} AS Decimal({t.precision}, {t.scale}))"
    if n == "Bool":
        return "true" if v else "false"
    if n == "String":
        if isinstance(v, bytes):
            return f"unhex('{v.hex()}')"
        return quote_string(v)
    if n == "FixedString":
        return f"toFixedString(unhex('{v.hex()}'), {t.length})" if v else f"toFixedString('', {t.length})"
    if n == "UUID":
        return f"toUUID({quote_string(str(v))})"
    if n in ("Date", "Date32"):
        return f"to{n}({quote_string(v.isoformat())})"
    if n == "DateTime":
        return f"toDateTime({int(v)})"
    if n == "DateTime64":
        p = t.precision if t.precision is not None else 3
        return f"toDateTime64({quote_string(_ticks_text(int(v), p))}, {p}, 'UTC')"
    if n in ("Enum8", "Enum16"):
        return quote_string(v)
    if n in ("IPv4", "IPv6"):
        return f"to{n}({quote_string(str(v))})"
    if n == "Point":
        return f"({repr(float(v[0]))}, {repr(float(v[1]))})"
    raise ChFdwError(f"no literal form for ClickHouse type {t.text}", errors.FEATURE_NOT_SUPPORTED)


def _not_null_type(ch_text: str) -> str:
    t = ch_text.strip()
    if t.startswith("Nullable(") and t.endswith(")"):
        return t[len("Nullable("):-1]
    if t.startswith("LowCardinality(Nullable(") and t.endswith("))"):
        return "LowCardinality(" + t[len("LowCardinality(Nullable("):-2] + ")"
    return t


def _ticks_text(ticks: int, p: int) -> str:
    secs, frac = divmod(ticks, 10 ** p)
    s = (_UNIX_EPOCH + _dt.timedelta(seconds=secs)).strftime("%Y-%m-%d %H:%M:%S")
    return s + (f".{frac:0{p}d}" if p else "")


def _refuse(op: str, relname: str, reason: str) -> ChFdwError:
    return ChFdwError(f"ch_fdw cannot {op} foreign table {relname}: {reason}",
                      errors.FEATURE_NOT_SUPPORTED,
                      hint="ClickHouse can only run an UPDATE/DELETE whose WHERE clause and SET values it "
                           "evaluates exactly as PostgreSQL would, as one mutation.")


def plan_direct_modify(ctx: dict, op: str, scan_plan: str, sets: list) -> str:
    """op: 'UPDATE' | 'DELETE'.  scan_plan: the ForeignScan's JSON plan (its
    quals were all pushed).  sets: [(attnum, kind, text)] where kind is
    'value' (computed once by PostgreSQL; text is the type name) or 'expr'
    (deparsed expression over this table's columns).  Returns the JSON
    plan, or raises FEATURE_NOT_SUPPORTED saying why."""
    from .scan import compile_plan
    conn = get_connection(ctx)
    ref = _table_ref(ctx)
    relname = ctx["relname"]
    compile_plan(scan_plan)        # its conditions translate (they were pushed)
    by_attnum = {c["attnum"]: c for c in ctx["columns"]}
    remote_types = dict(conn.describe(ref.db, ref.table))
    set_plan = []
    for attnum, kind, text in sets:
        col = by_attnum[attnum]
        remote = col["options"].get("column_name", col["name"])
        if remote not in remote_types:
            raise _refuse(op, relname, f'column "{col["name"]}" does not exist in ClickHouse table '
                                       f"{ref.db}.{ref.table}")
        if kind == "value":
            # check the type pair now; the value is encoded at execution
            _encoders(ctx, conn, ref, [attnum])
            set_plan.append([attnum, "value", None])
            continue
        # an expression over this table's columns: only a plain column of the
        # same PostgreSQL and ClickHouse type is sent as is
        m = _re.fullmatch(r'\s*(?:"((?:[^"]|"")+)"|([a-z_][a-z0-9_$]*))\s*', text)
        src = None
        if m:
            name = m[1].replace('""', '"') if m[1] is not None else m[2]
            src = next((c for c in ctx["columns"] if c["name"] == name), None)
        if src is None:
            raise _refuse(op, relname, f'SET {col["name"]} = {text}: ClickHouse cannot compute this '
                                       "expression exactly as PostgreSQL would (only constants, parameters, "
                                       "expressions not referring to the table's columns, and plain columns "
                                       "of the same type are sent)")
        src_remote = src["options"].get("column_name", src["name"])
        if src["type"] != col["type"] or remote_types.get(src_remote) != remote_types[remote]:
            raise _refuse(op, relname, f'SET {col["name"]} = {text}: the columns differ in type')
        set_plan.append([attnum, "column", src_remote])
    import json
    return json.dumps({"op": op, "scan": scan_plan, "sets": set_plan,
                       "version": list(conn.server_version)}, separators=(",", ":"))


def _mutation_sql(ctx: dict, conn: Connection, plan: dict, params: dict | None,
                  values: list | None) -> tuple[str, str, str]:
    """(mutation SQL, count SQL, where SQL); with params None, parameters
    and SET values show as $n / $value (EXPLAIN)."""
    from .scan import compile_plan
    compiled = compile_plan(plan["scan"])
    if compiled.conditions:
        parts = [c.sql_template if params is None else c.render(params) for c in compiled.conditions]
        where = " AND ".join(f"({x})" if len(parts) > 1 else x for x in parts)
    else:
        where = "1"
    ref = _table_ref(ctx)
    table = f"{quote_identifier(ref.db)}.{quote_identifier(ref.table)}"
    version = tuple(plan["version"])
    if plan["op"] == "DELETE":
        if version >= (23, 3):
            sql = f"DELETE FROM {table} WHERE {where}"
        else:
            sql = f"ALTER TABLE {table} DELETE WHERE {where}"
    else:
        by_attnum = {c["attnum"]: c for c in ctx["columns"]}
        assigns = []
        for i, (attnum, kind, src) in enumerate(plan["sets"]):
            col = by_attnum[attnum]
            remote = col["options"].get("column_name", col["name"])
            if kind == "column":
                rhs = quote_identifier(src)
            elif values is None:
                rhs = f"$value{i + 1}"
            else:
                enc = _encoders(ctx, conn, ref, [attnum])[0]
                try:
                    v = enc.encode([values[i]])[0]
                except _BadAt as e:
                    raise ChFdwError(f"{enc.label}: {e.bad.message}", e.bad.sqlstate,
                                     detail="Nothing was changed in ClickHouse.") from None
                # CAST to the non-Nullable type: ClickHouse 18.16 rejects
                # Nullable constants in ALTER UPDATE
                rhs = "NULL" if v is None else f"CAST({_literal(enc.t, v)} AS {_not_null_type(enc.ch_text)})"
            assigns.append(f"{quote_identifier(remote)} = {rhs}")
        sql = f"ALTER TABLE {table} UPDATE {', '.join(assigns)} WHERE {where}"
    return sql, f"SELECT count() FROM {table} WHERE {where}", where


def explain_direct_modify(ctx: dict, plan_json: str) -> str:
    import json
    plan = json.loads(plan_json)
    conn = get_connection(ctx)
    return _mutation_sql(ctx, conn, plan, None, None)[0]


def execute_direct_modify(ctx: dict, plan_json: str, params: dict, values: list) -> int:
    """Run the mutation, wait until it is applied, return the number of rows
    that matched its WHERE just before."""
    import json
    plan = json.loads(plan_json)
    conn = get_connection(ctx)
    ref = _table_ref(ctx)
    sql, count_sql, _ = _mutation_sql(ctx, conn, plan, {int(k): v for k, v in params.items()}, values)
    rows = conn.execute(count_sql)
    count = int(rows[0][0]) if rows else 0
    if count == 0:
        return 0          # nothing matches: no mutation to run
    version = tuple(plan["version"])
    if version >= (20, 1):
        conn.command(sql, {"mutations_sync": 2})
    else:
        conn.command(sql, None)
        _wait_mutations(conn, ref)
    return count


def _wait_mutations(conn: Connection, ref) -> None:
    """ClickHouse < 20.1 has no mutations_sync: poll system.mutations until the
    table has no unfinished mutation (PostgreSQL's cancel/statement_timeout
    interrupt the wait; the mutation then still completes in ClickHouse)."""
    q = (f"SELECT count() FROM system.mutations WHERE database = {quote_string(ref.db)} "
         f"AND table = {quote_string(ref.table)} AND is_done = 0")
    delay = 0.01
    while True:
        rows = conn.execute(q)
        if not rows or int(rows[0][0]) == 0:
            return
        if interrupt_pending():
            raise Interrupted()
        _time.sleep(delay)
        delay = min(delay * 2, 0.2)
