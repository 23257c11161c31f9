"""PostgreSQL text forms of read values: array literals ('{1,NULL,"a b"}')
and their element tokens."""

from __future__ import annotations

import decimal as _decimal
import math as _math
from typing import Any, Callable


def quote_elem(s: str) -> str:
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def float_token(v: float) -> str:
    if v != v:
        return "NaN"
    if v == _math.inf:
        return "Infinity"
    if v == -_math.inf:
        return "-Infinity"
    return repr(v)


def elem_token(v) -> str:
    """Default PostgreSQL array-literal token for one scalar element."""
    if v is None:
        return "NULL"
    c = v.__class__
    if c is int:
        return str(v)
    if c is float:
        return float_token(v)
    if c is bool:
        return "t" if v else "f"
    if c is str:
        return quote_elem(v)
    if c is bytes:
        return quote_elem(v.decode("utf-8", "replace"))
    if c is _decimal.Decimal:
        return str(v)
    return quote_elem(str(v))


class RaggedArray(ValueError):
    pass


def pg_array_literal(value, token: Callable[[Any], str] = elem_token) -> str | None:
    """PostgreSQL array literal text for a (nested) Python list.

    token() renders one non-list element (None included).  Raises
    RaggedArray when sub-arrays of one level differ in length (PostgreSQL
    arrays are rectangular).  Arrays with no elements at all become '{}'."""
    if value is None:
        return None
    parts: list[str] = []
    shape: list[int | None] = []
    empty = _render(value, token, parts, shape, 0)
    if empty:
        return "{}"
    return "".join(parts)


def _render(value, token, parts, shape, depth) -> bool:
    """Append value's literal to parts; return True if it holds no scalar."""
    n = len(value)
    if depth == len(shape):
        shape.append(n)
    elif shape[depth] != n:
        raise RaggedArray()
    parts.append("{")
    empty = True
    nested = None
    for i, v in enumerate(value):
        if i:
            parts.append(",")
        is_list = isinstance(v, (list, tuple))
        if nested is None:
            nested = is_list
        elif nested != is_list:
            raise RaggedArray()
        if is_list:
            if not _render(v, token, parts, shape, depth + 1):
                empty = False
        else:
            empty = False
            parts.append(token(v))
    if n == 0 and depth + 1 < len(shape) and shape[depth + 1] is not None:
        raise RaggedArray()
    parts.append("}")
    return empty


def text_token(v) -> str:
    if v is None:
        return "NULL"
    if v.__class__ is bytes:
        v = v.decode("utf-8", "replace")
    return quote_elem(str(v))


def bool_token(v) -> str:
    return "NULL" if v is None else ("t" if v else "f")
