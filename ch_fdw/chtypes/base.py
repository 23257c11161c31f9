"""What every type family shares: the server features reads depend on, the
refusal a family raises for a type pair it cannot map, the error a write
conversion raises for a value ClickHouse cannot hold exactly, and the batch
converters several families use."""

from __future__ import annotations

import decimal as _decimal
import math as _math
import re as _re

from ch_fdw import errors


class Refuse(Exception):
    """This ClickHouse type cannot be read as / written from this PostgreSQL
    type (the message, possibly empty, says why)."""


def _ver(v) -> tuple[int, ...]:
    if v is None:
        return (99,)
    if isinstance(v, str):
        return tuple(int(x) for x in _re.findall(r"\d+", v)[:4]) or (99,)
    return tuple(int(x) for x in v)


class Features:
    """Server-version facts the read plans depend on."""

    def __init__(self, version):
        v = _ver(version)
        self.valid_utf8 = v >= (20, 1)
        self.json_string = v >= (21, 7)
        self.unix64 = v >= (20, 5)
        self.date32 = v >= (21, 9)


# -- batch converters (read path) ---------------------------------------------

def fix_utf8(values: list) -> list:
    """Native driver on old servers: invalid UTF-8 arrives as bytes."""
    if bytes not in set(map(type, values)):
        return values
    return [v.decode("utf-8", "replace") if v.__class__ is bytes else v
            for v in values]


def from_hex(values: list) -> list:
    fh = bytes.fromhex
    return [None if v is None else fh(v) for v in values]


def to_str(values: list) -> list:
    return [v if v is None or v.__class__ is str else
            (v.decode("utf-8", "replace") if v.__class__ is bytes else str(v))
            for v in values]


def to_bool(values: list) -> list:
    return [None if v is None else bool(v) for v in values]


# -- write conversion errors --------------------------------------------------

class Bad(Exception):
    """A value ClickHouse cannot hold exactly (message without the column)."""

    def __init__(self, message: str, sqlstate: str = errors.NUMERIC_VALUE_OUT_OF_RANGE):
        super().__init__(message)
        self.message = message
        self.sqlstate = sqlstate


class BadAt(Exception):
    """Bad, at row `index` of a batch."""

    def __init__(self, index: int, bad: Bad, value):
        self.index, self.bad, self.value = index, bad, value


def show(v) -> str:
    """A value as error messages show it (shortened)."""
    if isinstance(v, str):
        s = v
    elif isinstance(v, bytes):
        s = "\\x" + v.hex()
    else:
        s = repr(v)
    return s if len(s) <= 80 else s[:77] + "..."


def decimal_of(v) -> _decimal.Decimal:
    """The exact number of a value in bridge form (int, float or text)."""
    if isinstance(v, bool):
        raise Bad("a boolean is not a number", errors.DATATYPE_MISMATCH)
    if isinstance(v, int):
        return _decimal.Decimal(v)
    if isinstance(v, float):
        if not _math.isfinite(v):
            raise Bad(f"{show(v)} is not a finite number")
        return _decimal.Decimal(v)      # the exact binary value
    if isinstance(v, str):
        try:
            d = _decimal.Decimal(v.strip())
        except _decimal.InvalidOperation:
            raise Bad(f'invalid number "{show(v)}"', errors.INVALID_TEXT_REPRESENTATION) from None
        if not d.is_finite():
            raise Bad(f"{show(v)} is not a finite number")
        return d
    raise Bad(f"cannot convert {type(v).__name__} to a number", errors.DATATYPE_MISMATCH)


def quote_string(value: str) -> str:
    """A ClickHouse string literal (the translator's quoting, imported on use:
    the translator imports this package, and importing translate/ from here
    at load time would make the two import each other)."""
    from ..translate.quoting import quote_string as quote
    return quote(value)
