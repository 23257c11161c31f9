"""AggregateFunction(f, T...) -> bytea: the serialized state, read only (it
has no text or JSON form)."""

from __future__ import annotations

from .base import Refuse, from_hex
from .model import ChType

NAMES = frozenset({"AggregateFunction"})
WRITABLE = frozenset()


def pg_type(t: ChType) -> str:
    return "bytea"


def read(t: ChType, cat: str, f, driver: str):
    if cat == "bytea":
        return "hex(CAST({} AS String))", from_hex
    raise Refuse("aggregate function states can only be read as bytea")


def read_text(t: ChType, f):
    raise Refuse("aggregate function states have no text form; use bytea")


def read_json(t: ChType, f):
    raise Refuse("aggregate function states have no JSON form")


def element_text(t: ChType, f):
    raise Refuse("")
