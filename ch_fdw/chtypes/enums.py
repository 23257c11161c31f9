"""Enums: Enum8 and Enum16 (text as their labels, integers as their values)."""

from __future__ import annotations

from typing import Callable

from ch_fdw import errors

from .base import Bad, Refuse, quote_string, show
from .model import ChType
from .pgnames import INT_CATS
from .pgtext import elem_token

NAMES = frozenset({"Enum8", "Enum16"})


def pg_type(t: ChType) -> str:
    return "text"


def read(t: ChType, cat: str, f, driver: str):
    if cat in INT_CATS + ("numeric",):
        return "CAST({} AS Int16)", None
    raise Refuse("")


def element(t: ChType, cat: str, f):
    if cat in INT_CATS + ("numeric",):
        return "CAST({} AS Int16)", elem_token
    raise Refuse("")


def write(t: ChType, pg_cat: str, server_tz) -> Callable:
    labels = {label for label, _ in t.enum_values}
    by_value = {value: label for label, value in t.enum_values}

    def conv(v):
        if isinstance(v, str):
            if v in labels:
                return v
            raise Bad(f'"{show(v)}" is not a value of ClickHouse type {t.text}',
                      errors.INVALID_TEXT_REPRESENTATION)
        if isinstance(v, int) and not isinstance(v, bool) and v in by_value:
            return by_value[v]
        raise Bad(f"{show(v)} is not a value of ClickHouse type {t.text}",
                  errors.INVALID_TEXT_REPRESENTATION)
    return conv


def literal(t: ChType, v) -> str:
    return quote_string(v)
