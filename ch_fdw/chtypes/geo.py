"""Geo shapes: Point -> point (read and written); Ring, LineString, Polygon,
Multi* and Geometry -> jsonb (read only)."""

from __future__ import annotations

import re as _re
from typing import Callable

from ch_fdw import errors

from .base import Bad, Refuse, show
from .model import GEO, ChType
from .pgtext import text_token

NAMES = frozenset(GEO)
WRITABLE = frozenset({"Point"})


def pg_type(t: ChType) -> str:
    return "point" if t.name == "Point" else "jsonb"


def read(t: ChType, cat: str, f, driver: str):
    if t.name == "Point" and cat == "point":
        return "toString({})", None
    raise Refuse("")


def element(t: ChType, cat: str, f):
    if t.name == "Point" and cat == "point":
        return "toString({})", text_token
    raise Refuse("")


def write(t: ChType, pg_cat: str, server_tz) -> Callable:
    def conv(v):
        m = _re.fullmatch(r"\(\s*([^,\s]+)\s*,\s*([^)\s]+)\s*\)", str(v).strip())
        if not m:
            raise Bad(f'invalid point "{show(v)}"', errors.INVALID_TEXT_REPRESENTATION)
        return (float(m[1]), float(m[2]))
    return conv


def literal(t: ChType, v) -> str:
    return f"({repr(float(v[0]))}, {repr(float(v[1]))})"
