"""Integers: Int8 .. Int256, UInt8 .. UInt256."""

from __future__ import annotations

from typing import Callable

from .base import Bad, Refuse, decimal_of, quote_string, show, to_bool
from .model import INT_BITS, ChType
from .pgnames import NUM_CATS
from .pgtext import bool_token, elem_token

NAMES = frozenset(INT_BITS)


def pg_type(t: ChType) -> str:
    n = t.name
    if n in ("Int8", "UInt8", "Int16"):
        return "smallint"
    if n in ("UInt16", "Int32"):
        return "integer"
    if n in ("UInt32", "Int64"):
        return "bigint"
    if n == "UInt64":
        return "numeric(20,0)"
    return "numeric"


def read(t: ChType, cat: str, f, driver: str):
    if cat in NUM_CATS:
        return "{}", None        # ints; range checked by the bridge
    if cat == "boolean" and t.name in ("UInt8", "Int8"):
        return "{}", to_bool     # legacy 0/1 flag columns
    raise Refuse("integers can be read as integer types, numeric, real, "
                 "double precision, text or jsonb")


def element(t: ChType, cat: str, f):
    if cat in NUM_CATS:
        return "{}", elem_token
    if cat == "boolean" and t.name in ("UInt8", "Int8"):
        return "{}", bool_token
    raise Refuse("")


def write(t: ChType, pg_cat: str, server_tz) -> Callable:
    if pg_cat in ("date", "timestamp", "timestamptz", "bytea", "uuid", "inet", "jsonb"):
        raise Refuse("")
    bits = INT_BITS[t.name]
    lo, hi = (0, 2 ** bits - 1) if t.name.startswith("U") else (-2 ** (bits - 1), 2 ** (bits - 1) - 1)

    def conv(v):
        if v.__class__ is int:
            n = v
        elif isinstance(v, bool):
            n = int(v)
        else:
            d = decimal_of(v)
            if d != d.to_integral_value():
                raise Bad(f"{show(v)} is not an integer")
            n = int(d)
        if not lo <= n <= hi:
            raise Bad(f"value {n} is out of range for ClickHouse type {t.text or t.name}")
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


def literal(t: ChType, v) -> str:
    n = t.name
    return f"to{n}({quote_string(str(int(v)))})" if n.endswith(("128", "256")) else str(int(v))
