"""Strings: String and FixedString(N).

Strings that are not valid UTF-8 become valid UTF-8 with U+FFFD replacement
characters (toValidUTF8 on servers >= 20.1, Python decode(errors='replace')
otherwise); declare the column bytea to get the exact bytes.  NUL
characters inside String values cannot be stored in PostgreSQL text; the
bridge reports an error for them.  FixedString(N)
-> text drops the trailing NUL padding (what ClickHouse's toString and
clickhouse-driver do); as bytea it keeps all N bytes."""

from __future__ import annotations

from typing import Callable

from ch_fdw import errors

from .base import Bad, Refuse, fix_utf8, from_hex, quote_string
from .model import ChType
from .pgtext import float_token, quote_elem, text_token

NAMES = frozenset({"String", "FixedString"})


def pg_type(t: ChType) -> str:
    return "text"


def read(t: ChType, cat: str, f, driver: str):
    if cat == "bytea":
        return "hex({})", from_hex
    if cat in ("uuid", "inet"):
        return read_text(t, f)
    raise Refuse("only text-like types, bytea, jsonb, uuid and inet "
                 "accept ClickHouse strings")


def _fix_fixedstring_text(values: list) -> list:
    kinds = set(map(type, values))
    if bytes not in kinds and not any(
            v is not None and v.endswith("\x00") for v in values):
        return values
    out = []
    for v in values:
        if v.__class__ is bytes:
            v = v.rstrip(b"\x00").decode("utf-8", "replace")
        elif v is not None:
            v = v.rstrip("\x00")
        out.append(v)
    return out


def read_text(t: ChType, f):
    if t.name == "String":
        if f.valid_utf8:
            return "toValidUTF8({})", None
        return "{}", fix_utf8
    if f.valid_utf8:
        return "toValidUTF8(toString({}))", _fix_fixedstring_text
    return "toString({})", _fix_fixedstring_text


def read_json(t: ChType, f):
    """A string column holding JSON documents: parsed by jsonb's input."""
    if t.name == "FixedString":
        return read_text(t, f)
    if f.valid_utf8:
        return "toValidUTF8({})", None
    return "{}", fix_utf8


def _hex_bytea_token(v) -> str:
    return "NULL" if v is None else quote_elem("\\x" + v)


def element(t: ChType, cat: str, f):
    if cat == "bytea":
        return "hex({})", _hex_bytea_token
    if cat in ("uuid", "inet"):
        return element_text(t, f)
    raise Refuse("")


def _fixed_text_token(v) -> str:
    if v is None:
        return "NULL"
    if v.__class__ is bytes:
        v = v.rstrip(b"\x00").decode("utf-8", "replace")
    return quote_elem(str(v).rstrip("\x00"))


def element_text(t: ChType, f):
    if t.name == "String":
        return ("toValidUTF8({})" if f.valid_utf8 else "{}"), text_token
    return "toString({})", _fixed_text_token


def write(t: ChType, pg_cat: str, server_tz) -> Callable:
    if t.name == "FixedString":
        return _fixedstring_write(t)

    def conv(v):
        if v.__class__ is str or v.__class__ is bytes:
            return v
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, float):
            return float_token(v)
        return str(v)

    def fast(values: list, nullable: bool):
        vals = [v for v in values if v is not None] if nullable else values
        if any(v.__class__ is not str for v in vals):
            return None
        return values
    conv.fast = fast
    return conv


def _fixedstring_write(t: ChType) -> Callable:
    n = t.length

    def conv(v):
        b = v if isinstance(v, bytes) else str(v).encode("utf-8")
        if len(b) > n:
            raise Bad(f"value of {len(b)} bytes is too long for ClickHouse type FixedString({n})",
                      errors.STRING_DATA_RIGHT_TRUNCATION)
        return b + b"\x00" * (n - len(b))
    return conv


def literal(t: ChType, v) -> str:
    if t.name == "String":
        if isinstance(v, bytes):
            return f"unhex('{v.hex()}')"
        return quote_string(v)
    return f"toFixedString(unhex('{v.hex()}'), {t.length})" if v else f"toFixedString('', {t.length})"
