"""JSON text of driver values (the Python-side counterpart of ClickHouse's
toJSONString, for servers without it)."""

from __future__ import annotations

import datetime as _dt
import decimal as _decimal
import json as _json
import math as _math
import re as _re

from .model import ChType


def _json_scalar(v, t: ChType | None):
    c = v.__class__
    if v is None:
        return "null"
    if c is bool:
        return "true" if v else "false"
    if c is int:
        return str(v)
    if c is float:
        return "null" if (v != v or v in (_math.inf, -_math.inf)) else repr(v)
    if c is _decimal.Decimal:
        return "null" if not v.is_finite() else _decimal_json(v)
    if c is str:
        return _json.dumps(v.replace("\x00", ""), ensure_ascii=False)
    if c is bytes:
        if t is not None and t.name == "FixedString":
            v = v.rstrip(b"\x00")
        return _json.dumps(v.decode("utf-8", "replace").replace("\x00", ""),
                           ensure_ascii=False)
    if isinstance(v, _dt.datetime):
        return '"' + ch_datetime_text(v) + '"'
    if isinstance(v, _dt.date):
        return '"' + v.isoformat() + '"'
    if isinstance(v, _dt.timedelta):
        return '"' + str(v) + '"'
    return _json.dumps(str(v), ensure_ascii=False)


def _decimal_json(v: _decimal.Decimal) -> str:
    s = format(v, "f")
    if "." in s:
        s = s.rstrip("0").rstrip(".")
    if s in ("-0", ""):
        s = "0"
    return s


def ch_datetime_text(v: _dt.datetime) -> str:
    s = v.strftime("%Y-%m-%d %H:%M:%S")
    if v.microsecond:
        s += ".%06d" % v.microsecond
    return s


def to_json_text(v, t: ChType | None = None) -> str | None:
    """JSON text for a driver value of ClickHouse type t (Python-side
    counterpart of toJSONString, used on servers without it)."""
    if v is None:
        return None
    out: list[str] = []
    _json_into(v, t, out)
    return "".join(out)


def _json_into(v, t: ChType | None, out: list[str]) -> None:
    if isinstance(v, dict):
        vt = t.value if (t is not None and t.name == "Map") else None
        kt = t.key if (t is not None and t.name == "Map") else None
        names = None
        if t is not None and t.name == "Tuple" and t.names:
            names = t.names
        out.append("{")
        for i, (k, x) in enumerate(v.items()):
            if i:
                out.append(",")
            out.append(_json_key(k, kt))
            out.append(":")
            sub = vt
            if names is not None and k in names:
                sub = t.args[names.index(k)]
            _json_into(x, sub, out)
        out.append("}")
        return
    if isinstance(v, (list, tuple)) and not (
            t is not None and t.name in ("UUID", "IPv4", "IPv6")):
        if t is not None and t.name == "Tuple" and t.names and \
                len(t.names) == len(v) and all(n is not None for n in t.names):
            out.append("{")
            for i, (n, x) in enumerate(zip(t.names, v)):
                if i:
                    out.append(",")
                out.append(_json.dumps(n, ensure_ascii=False))
                out.append(":")
                _json_into(x, t.args[i], out)
            out.append("}")
            return
        out.append("[")
        for i, x in enumerate(v):
            if i:
                out.append(",")
            if t is None:
                sub = None
            elif t.name == "Array":
                sub = t.args[0] if t.args else None
            elif t.name == "Tuple" and i < len(t.args):
                sub = t.args[i]
            elif t.name == "Nested":
                sub = ChType("Tuple", t.args, names=t.names)
            else:
                sub = None
            _json_into(x, sub, out)
        out.append("]")
        return
    out.append(_json_scalar(v, t))


def _json_key(k, kt) -> str:
    if k.__class__ is str:
        return _json.dumps(k.replace("\x00", ""), ensure_ascii=False)
    if k.__class__ is bytes:
        return _json.dumps(k.rstrip(b"\x00").decode("utf-8", "replace"),
                           ensure_ascii=False)
    if isinstance(k, _dt.datetime):
        return '"' + ch_datetime_text(k) + '"'
    if isinstance(k, (list, tuple)):
        return _json.dumps("(" + ",".join(_key_text(x) for x in k) + ")",
                           ensure_ascii=False)
    return _json.dumps(_key_text(k), ensure_ascii=False)


def _key_text(k) -> str:
    if k.__class__ is float:
        return repr(k)
    if isinstance(k, _dt.datetime):
        return ch_datetime_text(k)
    if k.__class__ is bytes:
        return k.decode("utf-8", "replace")
    return str(k)


# -- reads into jsonb ---------------------------------------------------------

_NUL_ESC = _re.compile(r"(\\\\)|\\u0000")


def _json_fix(values: list) -> list:
    """toJSONString output: drop \\u0000 escapes (jsonb rejects them)."""
    out = None
    for i, v in enumerate(values):
        if v is not None and v.__class__ is not str:
            v = v.decode("utf-8", "replace") if v.__class__ is bytes else str(v)
            if out is None:
                out = list(values)
            out[i] = v
        if v is not None and "\\u0000" in v:
            if out is None:
                out = list(values)
            out[i] = _NUL_ESC.sub(lambda m: m.group(1) or "", v)
    return values if out is None else out


def _json_python(t: ChType):
    def conv(values: list) -> list:
        return [to_json_text(v, t) for v in values]
    return conv


def read_as_json(t: ChType, f):
    """Any value as one jsonb value: toJSONString on servers >= 21.7 (exact
    Decimal and 64/128/256-bit integers; NaN/Inf become null because JSON has
    no such numbers), the Python encoder above on older servers."""
    if f.json_string:
        return "toValidUTF8(toJSONString({}))", _json_fix
    return "{}", _json_python(t)
