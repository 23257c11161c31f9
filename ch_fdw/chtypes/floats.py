"""Floating point: Float32, Float64, BFloat16 (read only)."""

from __future__ import annotations

import math as _math
from typing import Callable

from ch_fdw import errors

from .base import Bad, Refuse, show
from .model import ChType
from .pgnames import NUM_CATS, is_textual
from .pgtext import elem_token, float_token, quote_elem

NAMES = frozenset({"Float32", "Float64", "BFloat16"})
WRITABLE = frozenset({"Float32", "Float64"})
_FLT32_MAX = 3.4028234663852886e38


def pg_type(t: ChType) -> str:
    return "double precision" if t.name == "Float64" else "real"


def read(t: ChType, cat: str, f, driver: str):
    if cat in ("real", "double precision", "numeric"):
        return "{}", None
    raise Refuse("floating point values can only be read as real, "
                 "double precision or numeric")


_FLOAT_NAMES = {"nan": "NaN", "-nan": "NaN", "inf": "Infinity",
                "+inf": "Infinity", "-inf": "-Infinity"}


def _float_name_fix(values: list) -> list:
    g = _FLOAT_NAMES.get
    return [v if v is None else g(v, v) for v in values]


def _float_text(values: list) -> list:
    """PostgreSQL's float text: shortest round-trip digits, NaN, Infinity."""
    return [None if v is None else float_token(v) for v in values]


def read_text(t: ChType, f):
    if t.name == "Float64":
        return "{}", _float_text
    # shortest text of the 32-bit value, as PostgreSQL's real::text
    return "toString({})", _float_name_fix


def element(t: ChType, cat: str, f):
    if cat in ("real", "double precision", "numeric"):
        return "{}", elem_token
    raise Refuse("")


def _float_text_token(v) -> str:
    return "NULL" if v is None else quote_elem(float_token(v))


def element_text(t: ChType, f):
    return "{}", _float_text_token


def write(t: ChType, pg_cat: str, server_tz) -> Callable:
    if not (pg_cat in NUM_CATS or is_textual(pg_cat)):
        raise Refuse("")
    f32 = t.name == "Float32"

    def conv(v):
        if v.__class__ is float:
            x = v
        elif isinstance(v, bool):
            raise Bad("a boolean is not a number", errors.DATATYPE_MISMATCH)
        elif isinstance(v, int):
            x = float(v)
            if int(x) != v:
                raise Bad(f"integer {v} has no exact floating-point value")
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
                raise Bad(f'invalid number "{show(v)}"', errors.INVALID_TEXT_REPRESENTATION) from None
        else:
            raise Bad(f"cannot convert {type(v).__name__} to a number", errors.DATATYPE_MISMATCH)
        if f32 and _math.isfinite(x) and abs(x) > _FLT32_MAX:
            raise Bad(f"value {x!r} is out of range for ClickHouse type Float32")
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


def literal(t: ChType, v) -> str:
    if v != v:
        return "nan"
    if v in (_math.inf, -_math.inf):
        return "inf" if v > 0 else "-inf"
    return repr(float(v))
