"""PostgreSQL constant text (as printed by PostgreSQL with DateStyle=ISO,
extra_float_digits=3) -> ClickHouse literal SQL, per type kind.

Every function raises Unsupported when the value cannot be represented
exactly on the ClickHouse side (numeric NaN/Infinity, dates outside
ClickHouse's range, ...); the caller then refuses the whole clause.
"""

from __future__ import annotations

import datetime as _dt
import math
import re
import struct
from decimal import Decimal, InvalidOperation
from fractions import Fraction

from .quoting import quote_string


class Unsupported(Exception):
    """The expression cannot be translated exactly; do not push it."""


# ClickHouse DateTime is UInt32 seconds since the epoch (ends 2106-02-07);
# Date is UInt16 days (ends 2149-06-06, but 18.16 wraps after 2105).
# Keep a margin so a wall-clock value in any fixed zone stays in range.
_DT_MIN = _dt.datetime(1970, 1, 2)
_DT_MAX = _dt.datetime(2105, 12, 31)
_DATE_MIN = _dt.date(1970, 1, 1)
_DATE_MAX = _dt.date(2105, 12, 31)


def int_value(text: str) -> int:
    t = text.strip()
    if not re.fullmatch(r"[+-]?[0-9]+", t):
        raise Unsupported(f"not an integer: {text!r}")
    v = int(t)
    if not -(1 << 63) <= v < (1 << 63):
        raise Unsupported("integer out of bigint range")
    return v


def int_sql(v: int) -> str:
    return str(v) if v >= 0 else f"({v})"


def float8_value(text: str) -> float:
    t = text.strip()
    low = t.lower()
    if low in ("nan", "+nan", "-nan"):
        return math.nan
    if low in ("infinity", "+infinity", "inf", "+inf"):
        return math.inf
    if low in ("-infinity", "-inf"):
        return -math.inf
    if not re.fullmatch(r"[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?", t):
        raise Unsupported(f"not a float: {text!r}")
    v = float(t)
    if math.isinf(v):
        raise Unsupported("float out of range")
    return v


def float4_value(text: str) -> float:
    """The float4 PostgreSQL would get for text (correctly rounded to
    binary32, not via a double, to avoid double rounding)."""
    v = float8_value(text)
    if math.isnan(v) or math.isinf(v):
        return v
    exact = Fraction(Decimal(text.strip()))
    try:
        f = struct.unpack("f", struct.pack("f", v))[0]
    except OverflowError:
        raise Unsupported("float4 out of range")
    if math.isinf(f):
        raise Unsupported("float4 out of range")
    # f is within one float32 ulp of the correct result: check neighbours.
    bits = struct.unpack("I", struct.pack("f", f))[0]
    cands = [f]
    for b in (bits - 1, bits + 1):
        if 0 <= b < (1 << 32):
            g = struct.unpack("f", struct.pack("I", b))[0]
            if not (math.isnan(g) or math.isinf(g)):
                cands.append(g)
    best = min(cands, key=lambda g: (abs(Fraction(g) - exact),
                                     struct.unpack("I", struct.pack("f", g))[0] & 1))
    if best == 0.0 and exact != 0:
        raise Unsupported("float4 underflow")
    return best


def float_sql(v: float) -> str:
    if math.isnan(v):
        return "nan"
    if math.isinf(v):
        return "inf" if v > 0 else "(-inf)"
    if v == 0.0:
        return "0." if math.copysign(1.0, v) > 0 else "(-0.)"
    if abs(v) < 2.2250738585072014e-308:
        # ClickHouse 18.16 cannot parse subnormal literals
        raise Unsupported("subnormal float literal")
    r = repr(v)
    return f"({r})" if r.startswith("-") else r


def float4_sql(v: float) -> str:
    return f"toFloat32({float_sql(v)})"


def numeric_value(text: str) -> Decimal:
    t = text.strip()
    if not re.fullmatch(r"[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)", t):
        # NaN, Infinity, exponents: not representable as a ClickHouse Decimal
        raise Unsupported(f"numeric not representable: {text!r}")
    try:
        return Decimal(t)
    except InvalidOperation:
        raise Unsupported(f"bad numeric {text!r}")


def numeric_sql(v: Decimal) -> str:
    sign, digits, exp = v.as_tuple()
    scale = max(0, -exp)
    text = format(v, "f")
    intdigits = len(text.lstrip("-").split(".")[0].lstrip("0"))
    if scale > 37 or intdigits + scale > 38:
        raise Unsupported("numeric too large for Decimal128")
    return f"toDecimal128({quote_string(text)}, {scale})"


def bool_value(text: str) -> bool:
    t = text.strip().lower()
    if t in ("t", "true", "on", "yes", "y", "1"):
        return True
    if t in ("f", "false", "off", "no", "n", "0"):
        return False
    raise Unsupported(f"not a boolean: {text!r}")


def bool_sql(v: bool) -> str:
    return "1" if v else "0"


def date_value(text: str) -> _dt.date:
    m = re.fullmatch(r"([0-9]{4})-([0-9]{2})-([0-9]{2})", text.strip())
    if not m:
        raise Unsupported(f"date not representable: {text!r}")  # infinity, BC
    d = _dt.date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
    if not _DATE_MIN <= d <= _DATE_MAX:
        raise Unsupported("date outside ClickHouse Date range")
    return d


def date_sql(d: _dt.date) -> str:
    return f"toDate({quote_string(d.isoformat())})"


_TS_RE = re.compile(
    r"([0-9]{4})-([0-9]{2})-([0-9]{2})[ T]([0-9]{2}):([0-9]{2}):([0-9]{2})(\.[0-9]{1,6})?"
    r"(?:([+-])([0-9]{2})(?::?([0-9]{2}))?(?::?([0-9]{2}))?)?")


def _parse_ts(text: str, want_tz: bool) -> _dt.datetime:
    m = _TS_RE.fullmatch(text.strip())
    if not m:
        raise Unsupported(f"timestamp not representable: {text!r}")
    has_tz = m.group(8) is not None
    if has_tz != want_tz:
        raise Unsupported("timestamp zone mismatch")
    frac = m.group(7) or ""
    micro = int((frac[1:] + "000000")[:6]) if frac else 0
    ts = _dt.datetime(*(int(m.group(i)) for i in range(1, 7)), micro)
    if has_tz:
        off = _dt.timedelta(hours=int(m.group(9)), minutes=int(m.group(10) or 0),
                            seconds=int(m.group(11) or 0))
        ts = ts - off if m.group(8) == "+" else ts + off   # -> UTC
    if not _DT_MIN <= ts <= _DT_MAX:
        raise Unsupported("timestamp outside ClickHouse DateTime range")
    return ts


def timestamptz_value(text: str) -> _dt.datetime:
    """UTC wall clock of a timestamptz text like '2024-01-01 00:00:00+01'."""
    return _parse_ts(text, True)


def timestamp_value(text: str) -> _dt.datetime:
    return _parse_ts(text, False)


def datetime_sql(ts: _dt.datetime, tz: str, version: tuple[int, ...]) -> str:
    """An instant given as wall clock ts in zone tz."""
    base = ts.strftime("%Y-%m-%d %H:%M:%S")
    if ts.microsecond == 0:
        return f"toDateTime({quote_string(base)}, {quote_string(tz)})"
    if tuple(version) < (20, 1):
        raise Unsupported("fractional seconds need DateTime64 (ClickHouse >= 20.1)")
    return (f"toDateTime64({quote_string(base + '.%06d' % ts.microsecond)}, 6, "
            f"{quote_string(tz)})")


def text_sql(text: str) -> str:
    return quote_string(text)


def parse_pg_array(text: str) -> list[str | None]:
    """Elements of a one-dimensional PostgreSQL array literal ('{1,"a b",NULL}').
    Raises Unsupported for multi-dimensional arrays or explicit bounds."""
    t = text.strip()
    if not (t.startswith("{") and t.endswith("}")):
        raise Unsupported("not a simple array literal")
    body = t[1:-1]
    out: list[str | None] = []
    i, n = 0, len(body)
    if body.strip() == "":
        return out
    while True:
        while i < n and body[i].isspace():
            i += 1
        if i < n and body[i] == "{":
            raise Unsupported("multi-dimensional array")
        if i < n and body[i] == '"':
            i += 1
            buf = []
            while True:
                if i >= n:
                    raise Unsupported("unterminated array element")
                ch = body[i]
                if ch == "\\":
                    if i + 1 >= n:
                        raise Unsupported("bad escape in array")
                    buf.append(body[i + 1])
                    i += 2
                    continue
                if ch == '"':
                    i += 1
                    break
                buf.append(ch)
                i += 1
            out.append("".join(buf))
            while i < n and body[i].isspace():
                i += 1
        else:
            buf = []
            while i < n and body[i] not in ",":
                ch = body[i]
                if ch in '"{}':
                    raise Unsupported("unexpected character in array")
                if ch == "\\":
                    if i + 1 >= n:
                        raise Unsupported("bad escape in array")
                    buf.append(body[i + 1])
                    i += 2
                    continue
                buf.append(ch)
                i += 1
            raw = "".join(buf).strip()
            if raw.upper() == "NULL":
                out.append(None)
            else:
                out.append(raw)
        if i >= n:
            break
        if body[i] != ",":
            raise Unsupported("bad array literal")
        i += 1
    return out
