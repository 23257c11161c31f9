"""Bool."""

from __future__ import annotations

from typing import Callable

from ch_fdw import errors

from .base import Bad, Refuse, show, to_bool
from .model import ChType
from .pgnames import NUM_CATS
from .pgtext import bool_token, elem_token

NAMES = frozenset({"Bool"})


def pg_type(t: ChType) -> str:
    return "boolean"


def read(t: ChType, cat: str, f, driver: str):
    if cat == "boolean":
        return "{}", to_bool
    if cat in NUM_CATS:
        return "toUInt8({})", None
    raise Refuse("")


def _bool_text(values: list) -> list:
    return [None if v is None else ("true" if v else "false") for v in values]


def read_text(t: ChType, f):
    return "{}", _bool_text


def element(t: ChType, cat: str, f):
    if cat == "boolean":
        return "{}", bool_token
    if cat in NUM_CATS:
        return "toUInt8({})", elem_token
    raise Refuse("")


def _bool_text_token(v) -> str:
    return "NULL" if v is None else ('"true"' if v else '"false"')


def element_text(t: ChType, f):
    return "{}", _bool_text_token


def write(t: ChType, pg_cat: str, server_tz) -> Callable:
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
        raise Bad(f'invalid boolean "{show(v)}"', errors.INVALID_TEXT_REPRESENTATION)
    return conv


def literal(t: ChType, v) -> str:
    return "true" if v else "false"
