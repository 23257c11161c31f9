"""Arrays: Array(T) <-> PostgreSQL arrays (array literal text on the bridge),
any number of dimensions.  Elements are planned by their own family
(element / element_text).  PostgreSQL arrays must be rectangular; a ragged
ClickHouse array ([[1,2],[3]]) raises an error whose hint suggests jsonb.
An Array read as jsonb is one JSON array."""

from __future__ import annotations

from typing import Callable

from ch_fdw import errors

from . import composites, jsontext
from . import write as _write
from .base import Bad, Refuse, show
from . import families
from .model import ChType, has_strings
from .pgnames import is_textual
from .pgtext import RaggedArray, elem_token, pg_array_literal, text_token

NAMES = frozenset({"Array"})


def read(t: ChType, cat: str, f, driver: str):
    raise Refuse("a ClickHouse Array needs a PostgreSQL array, jsonb or text column")


def read_array(t: ChType, cat: str, f):
    """A PostgreSQL array target (any number of dimensions)."""
    if cat == "jsonb":
        return jsontext.read_as_json(t, f)
    inner = t.innermost
    elem_expr, token = element_plan(inner, cat, f)
    expr = "{}"
    if elem_expr != "{}":
        body = elem_expr.replace("{}", "x")
        # nested arrayMap: arrayMap(x -> arrayMap(x -> E(x), x), {})
        for _ in range(t.array_depth - 1):
            body = f"arrayMap(x -> {body}, x)"
        expr = f"arrayMap(x -> {body}, {{}})"

    def conv(values: list) -> list:
        out = []
        for v in values:
            if v is None:
                out.append(None)
                continue
            try:
                out.append(pg_array_literal(v, token))
            except RaggedArray:
                raise errors.ChFdwError(
                    "ClickHouse array value has sub-arrays of different "
                    "lengths; PostgreSQL arrays must be rectangular",
                    errors.INVALID_TEXT_REPRESENTATION,
                    detail=f"value: {str(v)[:200]}",
                    hint="Declare the column as jsonb to read ragged arrays."
                ) from None
        return out
    return expr, conv


def element_plan(e: ChType, cat: str, f):
    """(element expression with {} for the element, token function)."""
    if e.name == "Nothing":
        return "{}", elem_token
    fam = families.family_of(e)
    if is_textual(cat):
        own = getattr(fam, "element_text", None)
        if own is not None:
            return own(e, f)
        if has_strings(e) and f.valid_utf8:
            return "toValidUTF8(toString({}))", text_token
        return "toString({})", text_token
    own = getattr(fam, "element", None)
    if own is None:
        raise Refuse("")
    return own(e, cat, f)


# -- writes -------------------------------------------------------------------

def write(t: ChType, pg_cat: str, dims: int, server_tz) -> Callable:
    if pg_cat not in ("text", "jsonb") and not dims and not pg_cat.startswith("other:"):
        raise Refuse("a ClickHouse Array needs a PostgreSQL array, jsonb or text column")
    if pg_cat == "jsonb" and not dims:
        inner = composites.json_value_write(t, server_tz)
        return lambda v: inner(composites.json_load(v))
    # a PostgreSQL array type holds any number of dimensions
    elem_t = t.innermost
    elem = _write.converter(elem_t, pg_cat, 0, server_tz)
    depth = t.array_depth

    def conv(v):
        lst = parse_pg_array(v) if isinstance(v, str) else v
        return _nest(lst, depth, elem, elem_t)
    return conv


def parse_pg_array(text: str) -> list:
    """Nested lists (str or None elements) of a PostgreSQL array literal of
    any dimension.  Explicit bounds ('[0:1]={...}') are ignored."""
    s = text.strip()
    if s.startswith("["):
        s = s[s.index("=") + 1:].strip()
    pos = 0

    def parse_level():
        nonlocal pos
        if s[pos] != "{":
            raise ValueError("malformed array literal")
        pos += 1
        out: list = []
        while True:
            while s[pos].isspace():
                pos += 1
            if s[pos] == "}":
                pos += 1
                return out
            if s[pos] == "{":
                out.append(parse_level())
            elif s[pos] == '"':
                pos += 1
                buf = []
                while s[pos] != '"':
                    if s[pos] == "\\":
                        pos += 1
                    buf.append(s[pos])
                    pos += 1
                pos += 1
                out.append("".join(buf))
            else:
                start = pos
                buf = []
                while s[pos] not in ",}":
                    if s[pos] == "\\":
                        pos += 1
                    buf.append(s[pos])
                    pos += 1
                raw = "".join(buf).strip()
                out.append(None if raw.upper() == "NULL" and "\\" not in s[start:pos] else raw)
            while s[pos].isspace():
                pos += 1
            if s[pos] == ",":
                pos += 1

    try:
        result = parse_level()
    except (IndexError, ValueError):
        raise Bad(f'malformed array literal "{show(text)}"', errors.INVALID_TEXT_REPRESENTATION) from None
    return result


def _nest(lst, depth: int, elem, elem_t):
    if not isinstance(lst, list):
        raise Bad("array has fewer dimensions than the ClickHouse column")
    out = []
    for x in lst:
        if depth > 1:
            if x is None:
                raise Bad("a NULL sub-array cannot be stored in ClickHouse", errors.NOT_NULL_VIOLATION)
            out.append(_nest(x, depth - 1, elem, elem_t))
        elif isinstance(x, list):
            raise Bad("array has more dimensions than the ClickHouse column")
        elif x is None:
            if not elem_t.nullable:
                raise Bad("array element is NULL but ClickHouse type "
                           f"{elem_t.text or elem_t.name} is not Nullable", errors.NOT_NULL_VIOLATION)
            out.append(None)
        else:
            out.append(elem(x))
    return out


def literal(t: ChType, v) -> str:
    return "[" + ", ".join(_write.literal(t.element, x) for x in v) + "]"
