"""Decimals: Decimal(P, S), Decimal32/64/128/256(S)."""

from __future__ import annotations

import decimal as _decimal
from typing import Callable

from .base import Bad, Refuse, decimal_of, quote_string, show
from .model import DECIMAL_N, ChType
from .pgnames import INT_CATS, NUM_CATS, is_textual
from .pgtext import elem_token, text_token

NAMES = frozenset({"Decimal"} | set(DECIMAL_N))


def pg_type(t: ChType) -> str:
    return f"numeric({t.precision},{t.scale})"


def _to_int(values: list) -> list:
    return [None if v is None else int(v) for v in values]


def native_scale(t: ChType, pg_type: str):
    """The converter a native read of t into an unconstrained numeric needs
    (numeric(p,s) columns get the scale back from their typmod)."""
    if t.name in NAMES and t.scale and "(" not in pg_type:
        return _keep_scale(t.scale)
    return None


def _keep_scale(scale: int):
    """clickhouse_driver reads Decimal(P, S) as Decimal(raw) / 10**S, which
    drops trailing zeros (1.50 -> 1.5, 0.0000 -> 0); PostgreSQL's numeric
    shows the type's scale, which a column's typmod restores but an
    expression's result (typmod -1) would not."""
    q, ctx = _decimal.Decimal(1).scaleb(-scale), _decimal.Context(prec=100)   # Decimal256: 76 digits

    def conv(values: list) -> list:
        return [v if v is None or v.as_tuple().exponent == -scale else v.quantize(q, context=ctx)
                for v in values]
    return conv


def read(t: ChType, cat: str, f, driver: str):
    if cat == "numeric":
        return "{}", None
    if cat in ("real", "double precision"):
        return "toFloat64({})", None
    if cat in INT_CATS and t.scale == 0:
        return "{}", _to_int
    raise Refuse("a Decimal with a fractional part cannot be read as an "
                 "integer type")


def _decimal_text(scale: int):
    fmt = f".{scale}f"

    def conv(values: list) -> list:
        return [None if v is None else format(v, fmt) for v in values]
    return conv


def read_text(t: ChType, f):
    # PostgreSQL's numeric text keeps the scale ('1.50'); Python's Decimal
    # from the drivers does too, toString on new servers trims.
    return "{}", _decimal_text(t.scale or 0)


def element(t: ChType, cat: str, f):
    if cat in ("numeric", "real", "double precision") or (
            cat in INT_CATS and t.scale == 0):
        return "{}", elem_token
    raise Refuse("")


def element_text(t: ChType, f):
    return "{}", text_token


def write(t: ChType, pg_cat: str, server_tz) -> Callable:
    if not (pg_cat in NUM_CATS or is_textual(pg_cat)):
        raise Refuse("")
    p, s = t.precision, t.scale
    limit = _decimal.Decimal(10) ** (p - s)

    def conv(v):
        d = decimal_of(v)
        if d.as_tuple().exponent < -s and d != d.quantize(_decimal.Decimal(1).scaleb(-s),
                                                          context=_decimal.Context(prec=100)):
            raise Bad(f"{show(v)} has more than {s} decimal places (ClickHouse type {t.text})")
        if abs(d) >= limit:
            raise Bad(f"{show(v)} is out of range for ClickHouse type {t.text}")
        return d
    return conv


def literal(t: ChType, v) -> str:
    return f"CAST({quote_string(format(v, 'f'))} AS Decimal({t.precision}, {t.scale}))"
