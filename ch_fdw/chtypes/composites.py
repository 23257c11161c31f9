"""Maps, tuples and semi-structured values: Map, Tuple, Nested, JSON, Object,
Variant, Dynamic -> jsonb.  Map and Tuple are written from jsonb (or its
text); the others are read only."""

from __future__ import annotations

import decimal as _decimal
import json as _json
from typing import Callable

from ch_fdw import errors

from . import write as _write
from .base import Bad, Refuse, show
from .model import ChType

NAMES = frozenset({"Map", "Tuple", "Nested", "JSON", "Object", "Variant", "Dynamic"})
WRITABLE = frozenset({"Map", "Tuple"})


def pg_type(t: ChType) -> str:
    return "jsonb"


def read(t: ChType, cat: str, f, driver: str):
    raise Refuse("")


def write(t: ChType, pg_cat: str, server_tz) -> Callable:
    if pg_cat not in ("jsonb", "text") and not pg_cat.startswith("other:"):
        raise Refuse(f"ClickHouse {t.name} columns are written from jsonb (or its text)")
    inner = json_value_write(t, server_tz)
    return lambda v: inner(json_load(v))


def json_load(v):
    """A jsonb value (text on the bridge) decoded, numbers as Decimal."""
    if not isinstance(v, str):
        return v
    try:
        return _json.loads(v, parse_float=_decimal.Decimal)
    except ValueError:
        raise Bad(f'invalid JSON "{show(v)}"', errors.INVALID_TEXT_REPRESENTATION) from None


def json_value_write(t: ChType, server_tz) -> Callable:
    """A converter for values decoded from JSON (jsonb columns) into ClickHouse
    type t (Map, Tuple, Array, and scalars inside them)."""
    n = t.name
    if n == "Map":
        kc = _write.converter(t.key, "text", 0, server_tz)
        vc = json_value_write(t.value, server_tz)

        def conv(v):
            if not isinstance(v, dict):
                raise Bad("a JSON object is needed for ClickHouse type " + t.text,
                          errors.DATATYPE_MISMATCH)
            return {kc(k): _nullable(vc, t.value, x) for k, x in v.items()}
        return conv
    if n == "Tuple":
        convs = [json_value_write(e, server_tz) for e in t.args]

        def conv(v):
            if isinstance(v, dict) and t.names:
                if set(v) != set(t.names):
                    raise Bad("JSON object keys do not match the elements of " + t.text,
                              errors.DATATYPE_MISMATCH)
                v = [v[k] for k in t.names]
            if not isinstance(v, list) or len(v) != len(convs):
                raise Bad(f"a JSON array of {len(convs)} elements is needed for ClickHouse type {t.text}",
                          errors.DATATYPE_MISMATCH)
            return tuple(_nullable(c, e, x) for c, e, x in zip(convs, t.args, v))
        return conv
    if n == "Array":
        ec = json_value_write(t.element, server_tz)

        def conv(v):
            if not isinstance(v, list):
                raise Bad("a JSON array is needed for ClickHouse type " + t.text, errors.DATATYPE_MISMATCH)
            return [_nullable(ec, t.element, x) for x in v]
        return conv
    base = _write.converter(t, "text", 0, server_tz)
    textual = n in _TEXT_TYPES

    def conv(v):
        if isinstance(v, (dict, list)):
            raise Bad("a JSON scalar is needed for ClickHouse type " + (t.text or t.name),
                      errors.DATATYPE_MISMATCH)
        if textual and not isinstance(v, str):
            # {"i": 0} into Map(String, String) would store '0': the number's
            # spelling in the jsonb (0 vs 0.0 vs 1e0) is not kept, so refuse
            raise Bad(f"JSON {_json_kind(v)} {show(str(v))} is not a string, which ClickHouse type "
                      f"{t.text or t.name} needs (write it as a JSON string)", errors.DATATYPE_MISMATCH)
        if isinstance(v, _decimal.Decimal) and t.name in ("Float32", "Float64"):
            v = float(v)
        return base(v)
    return conv


_TEXT_TYPES = frozenset({"String", "FixedString", "Enum8", "Enum16"})


def _json_kind(v) -> str:
    return "boolean" if isinstance(v, bool) else "number"


def _nullable(conv, t: ChType, v):
    if v is None:
        if not t.nullable:
            raise Bad("JSON null but ClickHouse type " + (t.text or t.name) + " is not Nullable",
                      errors.NOT_NULL_VIOLATION)
        return None
    return conv(v)


def literal(t: ChType, v) -> str:
    lit = _write.literal
    if t.name == "Map":
        return "map(" + ", ".join(f"{lit(t.key, k)}, {lit(t.value, x)}" for k, x in v.items()) + ")"
    return "tuple(" + ", ".join(lit(e, x) for e, x in zip(t.args, v)) + ")"
