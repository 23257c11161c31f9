"""The ClickHouse <-> PostgreSQL type layer.

Three jobs:

* parse_type(): parse any ClickHouse type string (system.columns, DESCRIBE,
  driver column types) into a ChType tree.
* pg_type_for(): the PostgreSQL type IMPORT FOREIGN SCHEMA declares for a
  ClickHouse type, and whether the column is NOT NULL.
* fetch_plan(): for one column of a scan, the ClickHouse expression to select
  and the Python converter that turns a batch of driver values into the
  Python forms the C bridge turns into Datums (see the contract below), or a
  ChFdwError when the declared PostgreSQL type cannot hold the ClickHouse type.

The C bridge contract (what converters produce): None -> NULL; int -> integer
types / numeric / float, and for timestamptz microseconds since the Unix epoch
(UTC), for timestamp wall-clock microseconds since 1970-01-01 00:00:00, for
date days since 1970-01-01; float -> float/numeric; bool -> boolean; str ->
text types directly, any other type through its input function (array
literals, jsonb, inet, uuid, interval, ...); bytes -> bytea; Decimal ->
numeric; date/datetime/UUID as usual; other objects -> str(obj) to the input
function.

Decisions (also in the report / docs):

* Work is pushed to ClickHouse where it is vectorised (toUnixTimestamp,
  toInt32(date), toString, toJSONString, toValidUTF8) so that the common
  scalar types need no Python converter at all (convert=None).
* Strings that are not valid UTF-8 become valid UTF-8 with U+FFFD
  replacement characters (toValidUTF8 on servers >= 20.1, Python
  decode(errors='replace') otherwise).  Declare the column bytea to get the
  exact bytes.  NUL characters inside String values cannot be stored in
  PostgreSQL text; the bridge reports an error for them.
* FixedString(N) -> text drops the trailing NUL padding (what ClickHouse's
  toString and clickhouse-driver do).  As bytea it keeps all N bytes.
* DateTime64 with precision > 6 is truncated (floored) to microseconds.
* Map/Tuple/JSON/Object/Variant/Dynamic/Nested/geo shapes -> jsonb via
  toJSONString on servers >= 21.7 (exact Decimal and 64/128/256-bit
  integers; NaN/Inf become null because JSON has no such numbers; \\u0000
  escapes are removed because jsonb rejects them), via a Python encoder on
  older servers.  An Array whose innermost element maps to jsonb is one jsonb
  value (a JSON array), not jsonb[].
* Arrays -> PostgreSQL array literal text.  PostgreSQL arrays must be
  rectangular; a ragged ClickHouse array ([[1,2],[3]]) raises an error whose
  hint suggests jsonb.
* AggregateFunction -> bytea (the serialized state, from CAST(x AS String)).
* Unknown ClickHouse types -> text via toString().
* Time/Time64 -> interval (they can be negative and exceed 24 hours).
* Point -> point; Ring/LineString/Polygon/Multi* -> jsonb.
"""

from __future__ import annotations

import datetime as _dt
import decimal as _decimal
import json as _json
import math as _math
import re as _re
from dataclasses import dataclass, field
from typing import Any, Callable

from ch_fdw import errors

__all__ = ["ChType", "parse_type", "pg_type_for", "ColumnFetch", "fetch_plan",
           "normalize_pg_type", "pg_array_literal", "to_json_text"]


# ---------------------------------------------------------------------------
# Parsing ClickHouse type strings
# ---------------------------------------------------------------------------

# Types whose arguments are themselves types.
_TYPE_ARG_TYPES = {"Nullable", "LowCardinality", "Array", "Map", "Tuple",
                   "Nested", "Variant"}
_DECIMAL_N = {"Decimal32": 9, "Decimal64": 18, "Decimal128": 38,
              "Decimal256": 76}
# SQL-standard / MySQL aliases ClickHouse accepts (case-insensitive).
_ALIASES = {
    "TINYINT": "Int8", "INT1": "Int8", "BYTE": "Int8", "SMALLINT": "Int16",
    "INT": "Int32", "INTEGER": "Int32", "MEDIUMINT": "Int32",
    "BIGINT": "Int64", "FLOAT": "Float32", "REAL": "Float32",
    "SINGLE": "Float32", "DOUBLE": "Float64", "DOUBLE PRECISION": "Float64",
    "TEXT": "String", "VARCHAR": "String", "CHAR": "String",
    "CHARACTER": "String", "BLOB": "String", "BOOLEAN": "Bool",
    "BOOL": "Bool", "DECIMAL": "Decimal", "NUMERIC": "Decimal",
    "DEC": "Decimal", "TIMESTAMP": "DateTime", "BINARY": "FixedString",
}
_INT_BITS = {
    "Int8": 8, "Int16": 16, "Int32": 32, "Int64": 64, "Int128": 128,
    "Int256": 256, "UInt8": 8, "UInt16": 16, "UInt32": 32, "UInt64": 64,
    "UInt128": 128, "UInt256": 256,
}
_GEO = {"Point", "Ring", "LineString", "MultiLineString", "Polygon",
        "MultiPolygon", "Geometry"}


@dataclass(frozen=True)
class ChType:
    """A parsed ClickHouse type.

    Nullable(...), LowCardinality(...) and SimpleAggregateFunction(f, T) are
    unwrapped: the ChType describes T with nullable / low_cardinality /
    simple_aggregate set.  `args` holds the type arguments: ChType for type
    arguments (Array, Map, Tuple, Nested, Variant, the argument types of
    AggregateFunction), int for numbers, str for quoted strings and raw text
    for anything else (e.g. JSON path hints).  Named Tuple / Nested elements
    carry their names in `names` (None for unnamed elements).
    """
    name: str
    args: tuple = ()
    nullable: bool = False
    low_cardinality: bool = False
    names: tuple = ()
    enum_values: tuple = ()          # ((label, value), ...) for Enum8/16
    simple_aggregate: str | None = None
    text: str = field(default="", compare=False)

    # -- convenience -------------------------------------------------------
    @property
    def element(self) -> "ChType | None":
        """The element type of an Array (None for other types)."""
        if self.name == "Array" and self.args:
            return self.args[0]
        return None

    @property
    def innermost(self) -> "ChType":
        """The non-Array type at the bottom of nested Arrays."""
        t = self
        while t.name == "Array" and t.args:
            t = t.args[0]
        return t

    @property
    def array_depth(self) -> int:
        n, t = 0, self
        while t.name == "Array" and t.args:
            n, t = n + 1, t.args[0]
        return n

    @property
    def key(self) -> "ChType | None":
        return self.args[0] if self.name == "Map" and self.args else None

    @property
    def value(self) -> "ChType | None":
        return self.args[1] if self.name == "Map" and len(self.args) > 1 else None

    @property
    def timezone(self) -> str | None:
        if self.name == "DateTime" and self.args:
            return self.args[0] if isinstance(self.args[0], str) else None
        if self.name == "DateTime64" and len(self.args) > 1:
            return self.args[1] if isinstance(self.args[1], str) else None
        return None

    @property
    def precision(self) -> int | None:
        """Decimal precision, DateTime64/Time64 sub-second digits."""
        if self.name == "Decimal":
            return self.args[0] if self.args else 10
        if self.name in _DECIMAL_N:
            return _DECIMAL_N[self.name]
        if self.name in ("DateTime64", "Time64"):
            return self.args[0] if self.args else 3
        if self.name in ("DateTime", "Time"):
            return 0
        return None

    @property
    def scale(self) -> int | None:
        if self.name == "Decimal":
            return self.args[1] if len(self.args) > 1 else 0
        if self.name in _DECIMAL_N:
            return self.args[0] if self.args else 0
        return None

    @property
    def length(self) -> int | None:
        """FixedString(N) byte length."""
        if self.name == "FixedString" and self.args:
            return self.args[0]
        return None

    @property
    def is_integer(self) -> bool:
        return self.name in _INT_BITS

    @property
    def is_decimal(self) -> bool:
        return self.name == "Decimal" or self.name in _DECIMAL_N

    def __str__(self) -> str:
        return self.text or self.name


def parse_type(ch_type: str) -> ChType:
    """Parse a ClickHouse type string.  Raises ChFdwError on malformed text."""
    if not isinstance(ch_type, str) or not ch_type.strip():
        raise errors.ChFdwError(f"invalid ClickHouse type {ch_type!r}",
                                errors.FDW_INVALID_DATA_TYPE)
    try:
        return _parse(ch_type.strip())
    except errors.ChFdwError:
        raise
    except (ValueError, IndexError) as ex:
        raise errors.ChFdwError(
            f"cannot parse ClickHouse type {ch_type!r}",
            errors.FDW_INVALID_DATA_TYPE, detail=str(ex)) from None


def _split_top(s: str) -> list[str]:
    """Split s at top-level commas (outside quotes and parentheses)."""
    parts, depth, start, i, n = [], 0, 0, 0, len(s)
    while i < n:
        c = s[i]
        if c in "'`\"":
            i = _skip_quoted(s, i)
            continue
        if c == "(":
            depth += 1
        elif c == ")":
            depth -= 1
            if depth < 0:
                raise ValueError(f"unbalanced parenthesis in {s!r}")
        elif c == "," and depth == 0:
            parts.append(s[start:i].strip())
            start = i + 1
        i += 1
    if depth != 0:
        raise ValueError(f"unbalanced parenthesis in {s!r}")
    tail = s[start:].strip()
    if tail or parts:
        parts.append(tail)
    return parts


def _skip_quoted(s: str, i: int) -> int:
    """Index just after the quoted token starting at s[i]."""
    q, i = s[i], i + 1
    while i < len(s):
        c = s[i]
        if c == "\\":
            i += 2
            continue
        if c == q:
            if i + 1 < len(s) and s[i + 1] == q:   # doubled quote
                i += 2
                continue
            return i + 1
        i += 1
    raise ValueError(f"unterminated quoted string in {s!r}")


_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "0": "\0", "b": "\b",
            "f": "\f", "a": "\a", "v": "\v", "\\": "\\", "'": "'",
            '"': '"', "`": "`"}


def _unquote(tok: str) -> str:
    q, body, out, i = tok[0], tok[1:-1], [], 0
    while i < len(body):
        c = body[i]
        if c == "\\" and i + 1 < len(body):
            nxt = body[i + 1]
            if nxt == "x" and i + 3 < len(body) + 0:
                try:
                    out.append(chr(int(body[i + 2:i + 4], 16)))
                    i += 4
                    continue
                except ValueError:
                    pass
            out.append(_ESCAPES.get(nxt, "\\" + nxt))
            i += 2
            continue
        if c == q and i + 1 < len(body) and body[i + 1] == q:
            out.append(q)
            i += 2
            continue
        out.append(c)
        i += 1
    return "".join(out)


_NAME_RE = _re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_INT_RE = _re.compile(r"[+-]?\d+")


def _parse(s: str) -> ChType:
    s = s.strip()
    p = s.find("(")
    if p < 0:
        head, inner = s, None
    else:
        if not s.endswith(")"):
            raise ValueError(f"malformed type {s!r}")
        head, inner = s[:p].strip(), s[p + 1:-1]
    name = _canonical_name(head)
    if inner is None:
        return ChType(name, text=s)
    raw = _split_top(inner)
    if name == "Nullable":
        t = _parse(_one(raw, s))
        return _replace(t, nullable=True, text=s)
    if name == "LowCardinality":
        t = _parse(_one(raw, s))
        return _replace(t, low_cardinality=True, text=s)
    if name == "SimpleAggregateFunction":
        if len(raw) < 2:
            raise ValueError(f"malformed type {s!r}")
        t = _parse(raw[-1])
        return _replace(t, simple_aggregate=raw[0].strip(), text=s)
    if name in ("Tuple", "Nested"):
        elems, names = [], []
        for a in raw:
            n, t = _tuple_element(a)
            names.append(n)
            elems.append(t)
        if all(n is None for n in names):
            names = []
        return ChType(name, tuple(elems), names=tuple(names), text=s)
    if name in _TYPE_ARG_TYPES:
        return ChType(name, tuple(_parse(a) for a in raw), text=s)
    if name == "AggregateFunction":
        # AggregateFunction(func[(params)], T1, ...); the function may carry
        # parameters, e.g. quantiles(0.5, 0.9).
        return ChType(name, (raw[0],) + tuple(_parse(a) for a in raw[1:]),
                      text=s)
    if name in ("Enum8", "Enum16", "Enum"):
        vals = []
        for k, a in enumerate(raw):
            if "=" in a and a[0] in "'\"":
                end = _skip_quoted(a, 0)
                label = _unquote(a[:end])
                rest = a[end:].strip()
                if not rest.startswith("="):
                    raise ValueError(f"malformed enum element {a!r}")
                vals.append((label, int(rest[1:].strip())))
            elif a and a[0] in "'\"":
                vals.append((_unquote(a), k + 1))
            else:
                raise ValueError(f"malformed enum element {a!r}")
        if name == "Enum":
            lo = min((v for _, v in vals), default=0)
            hi = max((v for _, v in vals), default=0)
            name = "Enum8" if -128 <= lo and hi <= 127 else "Enum16"
        return ChType(name, (), enum_values=tuple(vals), text=s)
    return ChType(name, tuple(_literal(a) for a in raw), text=s)


def _canonical_name(head: str) -> str:
    if _NAME_RE.fullmatch(head) is None and head.upper() not in _ALIASES:
        # e.g. "INT UNSIGNED", "DOUBLE PRECISION"
        up = " ".join(head.upper().split())
        if up.endswith(" UNSIGNED"):
            base = _ALIASES.get(up[:-9], up[:-9].title())
            return "U" + base if base.startswith("Int") else base
        if up in _ALIASES:
            return _ALIASES[up]
        raise ValueError(f"malformed type name {head!r}")
    up = head.upper()
    if head not in _KNOWN and up in _ALIASES:
        return _ALIASES[up]
    return head


_KNOWN = set(_INT_BITS) | set(_DECIMAL_N) | _GEO | {
    "Float32", "Float64", "BFloat16", "Decimal", "String", "FixedString",
    "UUID", "Date", "Date32", "DateTime", "DateTime64", "Enum8", "Enum16",
    "Nullable", "LowCardinality", "Array", "Map", "Tuple", "Nested",
    "JSON", "Object", "Variant", "Dynamic", "IPv4", "IPv6", "Bool",
    "Nothing", "AggregateFunction", "SimpleAggregateFunction", "Time",
    "Time64", "Interval", "Enum"}


def _one(raw: list[str], s: str) -> str:
    if len(raw) != 1:
        raise ValueError(f"{s!r} takes exactly one type argument")
    return raw[0]


def _replace(t: ChType, **kw) -> ChType:
    d = dict(name=t.name, args=t.args, nullable=t.nullable,
             low_cardinality=t.low_cardinality, names=t.names,
             enum_values=t.enum_values, simple_aggregate=t.simple_aggregate,
             text=t.text)
    d.update(kw)
    if "nullable" in kw:
        d["nullable"] = kw["nullable"] or t.nullable
    if "low_cardinality" in kw:
        d["low_cardinality"] = kw["low_cardinality"] or t.low_cardinality
    return ChType(**d)


def _tuple_element(a: str) -> tuple[str | None, ChType]:
    a = a.strip()
    if a and a[0] in "`\"":
        end = _skip_quoted(a, 0)
        return _unquote(a[:end]), _parse(a[end:])
    m = _NAME_RE.match(a)
    if m and m.end() < len(a) and a[m.end()].isspace():
        rest = a[m.end():].strip()
        # "a Int32" is named; "DOUBLE PRECISION" / "INT UNSIGNED" are not.
        if rest and not rest.upper().startswith(("PRECISION", "UNSIGNED")):
            return m.group(0), _parse(rest)
    return None, _parse(a)


def _literal(a: str):
    a = a.strip()
    if _INT_RE.fullmatch(a):
        return int(a)
    if a and a[0] in "'\"" and _skip_quoted(a, 0) == len(a):
        return _unquote(a)
    return a


# ---------------------------------------------------------------------------
# ClickHouse type -> PostgreSQL type (IMPORT FOREIGN SCHEMA)
# ---------------------------------------------------------------------------

_JSONB_TYPES = {"Map", "Tuple", "Nested", "JSON", "Object", "Variant",
                "Dynamic"} | (_GEO - {"Point"})


def _scalar_pg(t: ChType) -> tuple[str, bool]:
    """(pg type, known) for a non-Array, non-Nullable-wrapped type."""
    n = t.name
    if n in ("Int8", "UInt8", "Int16"):
        return "smallint", True
    if n in ("UInt16", "Int32"):
        return "integer", True
    if n in ("UInt32", "Int64"):
        return "bigint", True
    if n == "UInt64":
        return "numeric(20,0)", True
    if n in ("Int128", "UInt128", "Int256", "UInt256"):
        return "numeric", True
    if n in ("Float32", "BFloat16"):
        return "real", True
    if n == "Float64":
        return "double precision", True
    if t.is_decimal:
        return f"numeric({t.precision},{t.scale})", True
    if n in ("String", "FixedString", "Enum8", "Enum16"):
        return "text", True
    if n == "UUID":
        return "uuid", True
    if n in ("Date", "Date32"):
        return "date", True
    if n in ("DateTime", "DateTime64"):
        return "timestamp with time zone", True
    if n in ("IPv4", "IPv6"):
        return "inet", True
    if n == "Bool":
        return "boolean", True
    if n in _JSONB_TYPES:
        return "jsonb", True
    if n == "Point":
        return "point", True
    if n in ("Time", "Time64"):
        return "interval", True
    if n == "AggregateFunction":
        return "bytea", True
    if n == "Nothing":
        return "text", True
    return "text", False


def pg_type_info(ch_type: str | ChType) -> tuple[str, bool, bool]:
    """(pg type, not null, known): known is False when the ClickHouse type is
    not recognised and was mapped to text as a fallback."""
    t = parse_type(ch_type) if isinstance(ch_type, str) else ch_type
    not_null = not (t.nullable or t.name in ("Variant", "Dynamic", "Nothing")
                    or (t.name == "Object" and False))
    if t.name == "Array":
        inner = t.innermost
        pg, known = _scalar_pg(inner)
        if pg == "jsonb":
            return "jsonb", not_null, known
        return pg + "[]", not_null, known
    pg, known = _scalar_pg(t)
    return pg, not_null, known


def pg_type_for(ch_type: str) -> tuple[str, bool]:
    """The PostgreSQL type for a ClickHouse type and whether it is NOT NULL."""
    pg, not_null, _ = pg_type_info(ch_type)
    return pg, not_null


# ---------------------------------------------------------------------------
# PostgreSQL type names
# ---------------------------------------------------------------------------

_PG_ALIASES = {
    "int2": "smallint", "smallint": "smallint", "smallserial": "smallint",
    "int4": "integer", "int": "integer", "integer": "integer",
    "serial": "integer", "serial4": "integer",
    "int8": "bigint", "bigint": "bigint", "bigserial": "bigint",
    "serial8": "bigint",
    "numeric": "numeric", "decimal": "numeric",
    "float4": "real", "real": "real",
    "float8": "double precision", "double precision": "double precision",
    "float": "double precision",
    "text": "text", "varchar": "text", "character varying": "text",
    "bpchar": "text", "char": "text", "character": "text", "name": "text",
    "citext": "text",
    "bool": "boolean", "boolean": "boolean",
    "date": "date",
    "timestamptz": "timestamptz", "timestamp with time zone": "timestamptz",
    "timestamp": "timestamp", "timestamp without time zone": "timestamp",
    "time": "time", "time without time zone": "time",
    "timetz": "time", "time with time zone": "time",
    "interval": "interval",
    "uuid": "uuid", "inet": "inet", "cidr": "inet",
    "json": "jsonb", "jsonb": "jsonb", "bytea": "bytea", "point": "point",
}
_TYPMOD_RE = _re.compile(r"\s*\([^)]*\)")


def normalize_pg_type(pg_type: str) -> tuple[str, int]:
    """(category, array dims) for a PostgreSQL type name as format_type()
    prints it.  category is one of smallint, integer, bigint, numeric, real,
    double precision, text, boolean, date, timestamptz, timestamp, time,
    interval, uuid, inet, jsonb, bytea, point, or 'other:<name>' for types we
    do not know (enums, domains, composite types, ...)."""
    s = " ".join(pg_type.strip().lower().split())
    dims = 0
    while s.endswith("[]"):
        dims += 1
        s = s[:-2].rstrip()
    if s.endswith(" array"):
        dims += 1
        s = s[:-6].rstrip()
    m = _re.match(r"^(.*?)(\[\d*\])+$", s)      # integer[3][4]
    if m:
        dims += s.count("[")
        s = m.group(1).rstrip()
    s = _TYPMOD_RE.sub("", s)
    s = " ".join(s.replace('"', "").split())
    if s.startswith("pg_catalog."):
        s = s[len("pg_catalog."):]
    if s.startswith("_") and s[1:] in _PG_ALIASES:   # internal array names
        dims += 1
        s = s[1:]
    cat = _PG_ALIASES.get(s)
    if cat is None:
        cat = "other:" + s
    return cat, dims


# ---------------------------------------------------------------------------
# Value helpers (also used by tests and other modules)
# ---------------------------------------------------------------------------

def _quote_elem(s: str) -> str:
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _float_token(v: float) -> str:
    if v != v:
        return "NaN"
    if v == _math.inf:
        return "Infinity"
    if v == -_math.inf:
        return "-Infinity"
    return repr(v)


def _elem_token(v) -> str:
    """Default PostgreSQL array-literal token for one scalar element."""
    if v is None:
        return "NULL"
    c = v.__class__
    if c is int:
        return str(v)
    if c is float:
        return _float_token(v)
    if c is bool:
        return "t" if v else "f"
    if c is str:
        return _quote_elem(v)
    if c is bytes:
        return _quote_elem(v.decode("utf-8", "replace"))
    if c is _decimal.Decimal:
        return str(v)
    return _quote_elem(str(v))


class RaggedArray(ValueError):
    pass


def pg_array_literal(value, token: Callable[[Any], str] = _elem_token) -> str | None:
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
        return '"' + _ch_datetime_text(v) + '"'
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


def _ch_datetime_text(v: _dt.datetime) -> str:
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
        return '"' + _ch_datetime_text(k) + '"'
    if isinstance(k, (list, tuple)):
        return _json.dumps("(" + ",".join(_key_text(x) for x in k) + ")",
                           ensure_ascii=False)
    return _json.dumps(_key_text(k), ensure_ascii=False)


def _key_text(k) -> str:
    if k.__class__ is float:
        return repr(k)
    if isinstance(k, _dt.datetime):
        return _ch_datetime_text(k)
    if k.__class__ is bytes:
        return k.decode("utf-8", "replace")
    return str(k)


# ---------------------------------------------------------------------------
# Scan fetch plans
# ---------------------------------------------------------------------------

@dataclass
class ColumnFetch:
    """How one column is read.

    expression: ClickHouse expression; str.format() it with the quoted column
    reference: `plan.expression.format(colref)` (it holds either one `{}` or
    several `{0}`).  convert: applied to each batch's list of values for the column
    (None = identity); it keeps None as None and returns a list of the same
    length."""
    expression: str
    convert: Callable[[list], list] | None = None
    pg_category: str = ""

    def sql(self, column_ref: str) -> str:
        return self.expression.format(column_ref)


def _ver(v) -> tuple[int, ...]:
    if v is None:
        return (99,)
    if isinstance(v, str):
        return tuple(int(x) for x in _re.findall(r"\d+", v)[:4]) or (99,)
    return tuple(int(x) for x in v)


class _Features:
    def __init__(self, version):
        v = _ver(version)
        self.valid_utf8 = v >= (20, 1)
        self.json_string = v >= (21, 7)
        self.unix64 = v >= (20, 5)
        self.date32 = v >= (21, 9)


_INT_RANGES = {
    "smallint": (-2 ** 15, 2 ** 15 - 1),
    "integer": (-2 ** 31, 2 ** 31 - 1),
    "bigint": (-2 ** 63, 2 ** 63 - 1),
}
_TEXTISH = ("text",)


def _int_range(t: ChType) -> tuple[int, int]:
    bits = _INT_BITS[t.name]
    if t.name.startswith("U"):
        return 0, 2 ** bits - 1
    return -2 ** (bits - 1), 2 ** (bits - 1) - 1


def _wrap_fn(fn: str, expr: str) -> str:
    return fn.replace("{}", expr) if "{}" in fn else f"{fn}({expr})"


class _Refuse(Exception):
    pass


def fetch_plan(ch_type: str, pg_type: str, column_label: str,
               server_version: tuple[int, ...] | str | None = None, *,
               driver: str = "native") -> ColumnFetch:
    """Plan how to fetch one column of ClickHouse type ch_type into a column
    declared as pg_type.  column_label names the column in error messages.
    Raises ChFdwError(FDW_INVALID_DATA_TYPE) for incompatible declarations.
    """
    if driver not in ("native", "http"):
        raise ValueError(f"unknown driver {driver!r}")
    t = parse_type(ch_type)
    cat, dims = normalize_pg_type(pg_type)
    f = _Features(server_version)
    try:
        expr, conv = _plan(t, cat, dims, f, driver)
    except _Refuse as ex:
        suggested, _ = pg_type_for(ch_type)
        reason = str(ex)
        raise errors.ChFdwError(
            f"{column_label}: ClickHouse type {ch_type} cannot be "
            f"read as PostgreSQL type {pg_type}",
            errors.FDW_INVALID_DATA_TYPE,
            detail=reason or None,
            hint=f"Declare the column as {suggested}" +
                 (" (or text)." if suggested != "text" else ".")) from None
    return ColumnFetch(expr, conv, cat if not dims else cat + "[]" * dims)


# -- converters ---------------------------------------------------------------

def _fix_utf8(values: list) -> list:
    """Native driver on old servers: invalid UTF-8 arrives as bytes."""
    if bytes not in set(map(type, values)):
        return values
    return [v.decode("utf-8", "replace") if v.__class__ is bytes else v
            for v in values]


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


def _from_hex(values: list) -> list:
    fh = bytes.fromhex
    return [None if v is None else fh(v) for v in values]


def _to_str(values: list) -> list:
    return [v if v is None or v.__class__ is str else
            (v.decode("utf-8", "replace") if v.__class__ is bytes else str(v))
            for v in values]


def _decimal_text(scale: int):
    fmt = f".{scale}f"

    def conv(values: list) -> list:
        return [None if v is None else format(v, fmt) for v in values]
    return conv


_EPOCH_DATE = _dt.date(1970, 1, 1)


def _days_to_text(values: list) -> list:
    e, td = _EPOCH_DATE, _dt.timedelta
    return [None if v is None else (e + td(days=v)).isoformat() for v in values]


def _epoch_wall(tz: str | None) -> str:
    if tz:
        try:
            from zoneinfo import ZoneInfo
            return _dt.datetime.fromtimestamp(0, ZoneInfo(tz)).strftime(
                "%Y-%m-%d %H:%M:%S")
        except Exception:
            pass
    return "1970-01-01 00:00:00"


def _wall_micros(tz: str):
    """Converter: Unix seconds -> wall-clock microseconds in zone tz (None
    when Python does not know the zone)."""
    try:
        from zoneinfo import ZoneInfo
        zone = ZoneInfo(tz)
    except Exception:
        return None
    naive_epoch = _dt.datetime(1970, 1, 1)
    fromts = _dt.datetime.fromtimestamp

    def conv(values: list) -> list:
        out = []
        for v in values:
            if v is None:
                out.append(None)
                continue
            d = fromts(v, zone).replace(tzinfo=None) - naive_epoch
            out.append((d.days * 86400 + d.seconds) * 1000000)
        return out
    return conv


def _zero_datetime_fix(tz: str | None):
    """ClickHouse < 20 prints the epoch instant as 0000-00-00 00:00:00."""
    wall = _epoch_wall(tz)

    def conv(values: list) -> list:
        if "0000-00-00 00:00:00" not in values:
            return values
        return [wall if v == "0000-00-00 00:00:00" else v for v in values]
    return conv


def _to_bool(values: list) -> list:
    return [None if v is None else bool(v) for v in values]


def _to_int(values: list) -> list:
    return [None if v is None else int(v) for v in values]


def _floor_nano_to_micro(values: list) -> list:
    return [None if v is None else v // 1000 for v in values]


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


def _json_python(t: ChType) -> Callable[[list], list]:
    def conv(values: list) -> list:
        return [to_json_text(v, t) for v in values]
    return conv


def _datetime_py_to_micros(values: list) -> list:
    """Fallback for DateTime64 on servers without toUnixTimestamp64Micro:
    the driver's datetime objects (aware, or naive = UTC)."""
    out = []
    epoch = _dt.datetime(1970, 1, 1, tzinfo=_dt.timezone.utc)
    for v in values:
        if v is None:
            out.append(None)
            continue
        if v.tzinfo is None:
            v = v.replace(tzinfo=_dt.timezone.utc)
        d = v - epoch
        out.append((d.days * 86400 + d.seconds) * 1000000 + d.microseconds)
    return out


# -- the compatibility matrix ------------------------------------------------

_INT_CATS = ("smallint", "integer", "bigint")
_NUM_CATS = _INT_CATS + ("numeric", "real", "double precision")


def _plan(t: ChType, cat: str, dims: int, f: _Features, driver: str):
    n = t.name
    if n == "Nothing":
        return "{}", None                       # always NULL
    if cat == "jsonb" and not dims:
        return _plan_json(t, f)
    if dims:
        if n != "Array":
            raise _Refuse("only a ClickHouse Array can be read as a "
                          "PostgreSQL array")
        return _plan_array(t, cat, dims, f)
    if n == "Array" and cat != "text" and not cat.startswith("other:"):
        raise _Refuse("a ClickHouse Array needs a PostgreSQL array, jsonb "
                      "or text column")
    if cat == "text" or cat.startswith("other:"):
        return _plan_text(t, f, driver)
    if n in _INT_BITS:
        return _plan_int(t, cat)
    if n in ("Float32", "Float64", "BFloat16"):
        if cat in ("real", "double precision", "numeric"):
            return "{}", None
        raise _Refuse("floating point values can only be read as real, "
                      "double precision or numeric")
    if t.is_decimal:
        if cat == "numeric":
            return "{}", None
        if cat in ("real", "double precision"):
            return "toFloat64({})", None
        if cat in _INT_CATS and t.scale == 0:
            return "{}", _to_int
        raise _Refuse("a Decimal with a fractional part cannot be read as an "
                      "integer type")
    if n == "Bool":
        if cat == "boolean":
            return "{}", _to_bool
        if cat in _NUM_CATS:
            return "toUInt8({})", None
        raise _Refuse("")
    if n in ("String", "FixedString"):
        if cat == "bytea":
            return "hex({})", _from_hex
        if cat in ("uuid", "inet"):
            return _plan_text(t, f, driver)
        raise _Refuse("only text-like types, bytea, jsonb, uuid and inet "
                      "accept ClickHouse strings")
    if n in ("Enum8", "Enum16"):
        if cat in _INT_CATS + ("numeric",):
            return "CAST({} AS Int16)", None
        raise _Refuse("")
    if n == "UUID":
        if cat == "uuid":
            return "{}", None
        raise _Refuse("")
    if n in ("IPv4", "IPv6"):
        if cat == "inet":
            return "toString({})", None
        if n == "IPv4" and cat in ("bigint", "numeric"):
            return "toUInt32({})", None
        raise _Refuse("")
    if n in ("Date", "Date32"):
        if cat == "date":
            return "toInt32({})", None
        if cat == "timestamp":
            return "toInt64(toInt32({})) * 86400000000", None
        if cat == "timestamptz":
            # midnight in the session time zone, as PostgreSQL's date cast:
            # date text through timestamptz's input function
            return "toInt32({})", _days_to_text
        raise _Refuse("")
    if n in ("DateTime", "DateTime64"):
        return _plan_datetime(t, cat, f)
    if n in ("Time", "Time64"):
        if cat in ("interval", "time"):
            return "toString({})", None
        raise _Refuse("")
    if n == "Point":
        if cat == "point":
            return "toString({})", None
        raise _Refuse("")
    if n == "AggregateFunction":
        if cat == "bytea":
            return "hex(CAST({} AS String))", _from_hex
        raise _Refuse("aggregate function states can only be read as bytea")
    raise _Refuse("")


def _plan_int(t: ChType, cat: str):
    if cat in _INT_CATS or cat in ("numeric", "real", "double precision"):
        return "{}", None        # ints; range checked by the bridge
    if cat == "boolean" and t.name in ("UInt8", "Int8"):
        return "{}", _to_bool    # legacy 0/1 flag columns
    raise _Refuse("integers can be read as integer types, numeric, real, "
                  "double precision, text or jsonb")


def _plan_datetime(t: ChType, cat: str, f: _Features):
    dt64 = t.name == "DateTime64"
    p = t.precision or 0
    if cat == "timestamptz":
        if not dt64:
            return "toInt64(toUnixTimestamp({})) * 1000000", None
        if not f.unix64:
            return "{}", _datetime_py_to_micros
        if p <= 6:
            return "toUnixTimestamp64Micro({})", None
        return "toUnixTimestamp64Nano({})", _floor_nano_to_micro
    if cat == "timestamp":
        # the wall clock in the column's time zone, read as if it were UTC
        if not dt64:
            if not f.valid_utf8 and t.timezone:
                # ClickHouse < 20's DateLUT gets the local time of instants in
                # the first hours of 1970 wrong (toMinute() = 198 at the
                # epoch in Asia/Kolkata): wall clock from the instant here.
                conv = _wall_micros(t.timezone)
                if conv is not None:
                    return "toUInt32({})", conv
            # wall-clock parts in the column's time zone; no string parsing
            # (ClickHouse 18 prints the epoch as 0000-00-00 00:00:00)
            return ("(toInt64(toInt32(toDate({0}))) * 86400 + toHour({0}) * 3600"
                    " + toMinute({0}) * 60 + toSecond({0})) * 1000000"), None
        if not f.unix64:
            return "toString({})", None
        fn = "toUnixTimestamp64Micro" if p <= 6 else "toUnixTimestamp64Nano"
        expr = f"{fn}(toDateTime64(toString({{}}), {p}, 'UTC'))"
        return expr, (None if p <= 6 else _floor_nano_to_micro)
    if cat == "date":
        if dt64 and f.date32:
            return "toInt32(toDate32({}))", None
        return "toInt32(toDate({}))", None
    raise _Refuse("")


def _has_strings(t: ChType) -> bool:
    if t.name in ("String", "FixedString", "Enum8", "Enum16", "JSON",
                  "Object", "Dynamic", "AggregateFunction") or \
            t.name not in _KNOWN:
        return True
    return any(isinstance(a, ChType) and _has_strings(a) for a in t.args)


def _plan_text(t: ChType, f: _Features, driver: str):
    """Text targets (and unknown PostgreSQL types, fed through their input
    function): ClickHouse's own text form of the value."""
    n = t.name
    if n == "String":
        if f.valid_utf8:
            return "toValidUTF8({})", None
        return "{}", _fix_utf8
    if n == "AggregateFunction":
        raise _Refuse("aggregate function states have no text form; "
                      "use bytea")
    if n == "FixedString":
        if f.valid_utf8:
            return "toValidUTF8(toString({}))", _fix_fixedstring_text
        return "toString({})", _fix_fixedstring_text
    if n in ("Decimal", "Decimal32", "Decimal64", "Decimal128",
             "Decimal256") or t.is_decimal:
        # PostgreSQL's numeric text keeps the scale ('1.50'); Python's
        # Decimal from the drivers does too, toString on new servers trims.
        return "{}", _decimal_text(t.scale or 0)
    if n in ("Date", "Date32"):
        return "toInt32({})", _days_to_text
    if n == "DateTime" and not f.valid_utf8:
        return "toString({})", _zero_datetime_fix(t.timezone)
    if n == "Bool":
        return "{}", _bool_text
    if n == "Float64":
        return "{}", _float_text
    if n in ("Float32", "BFloat16"):
        # shortest text of the 32-bit value, as PostgreSQL's real::text
        return "toString({})", _float_name_fix
    if _has_strings(t) and f.valid_utf8:
        return "toValidUTF8(toString({}))", _to_str
    if _has_strings(t):
        return "toString({})", _to_str
    return "toString({})", None


def _bool_text(values: list) -> list:
    return [None if v is None else ("true" if v else "false") for v in values]


_FLOAT_NAMES = {"nan": "NaN", "-nan": "NaN", "inf": "Infinity",
                "+inf": "Infinity", "-inf": "-Infinity"}


def _float_name_fix(values: list) -> list:
    g = _FLOAT_NAMES.get
    return [v if v is None else g(v, v) for v in values]


def _float_text(values: list) -> list:
    """PostgreSQL's float text: shortest round-trip digits, NaN, Infinity."""
    return [None if v is None else _float_token(v) for v in values]


def _plan_json(t: ChType, f: _Features):
    if t.name == "AggregateFunction":
        raise _Refuse("aggregate function states have no JSON form")
    if t.name in ("String", "FixedString"):
        # A string column holding JSON documents: parsed by jsonb's input.
        if t.name == "FixedString":
            return _plan_text(t, f, "native")
        if f.valid_utf8:
            return "toValidUTF8({})", None
        return "{}", _fix_utf8
    if f.json_string:
        return "toValidUTF8(toJSONString({}))", _json_fix
    return "{}", _json_python(t)


# -- arrays ---------------------------------------------------------------------

def _plan_array(t: ChType, cat: str, dims: int, f: _Features):
    inner = t.innermost
    depth = t.array_depth
    if cat == "jsonb":
        if f.json_string:
            return "toValidUTF8(toJSONString({}))", _json_fix
        return "{}", _json_python(t)
    if inner.name == "Array":
        raise _Refuse("")
    elem_expr, token = _element_plan(inner, cat, f)
    expr = "{}"
    if elem_expr != "{}":
        lam = elem_expr.replace("{}", "x")
        body = lam
        # nested arrayMap: arrayMap(x -> arrayMap(x -> E(x), x), {})
        for _ in range(depth - 1):
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


def _element_plan(e: ChType, cat: str, f: _Features):
    """(element expression with {} for the element, token function)."""
    n = e.name
    if n == "Nothing":
        return "{}", _elem_token
    if cat == "text" or cat.startswith("other:"):
        if n == "String":
            return ("toValidUTF8({})" if f.valid_utf8 else "{}"), _text_token
        if n in ("Float32", "Float64", "BFloat16"):
            return "{}", _float_text_token
        if e.is_decimal:
            return "{}", _text_token
        if n == "Bool":
            return "{}", _bool_text_token
        if n == "AggregateFunction":
            raise _Refuse("")
        if n == "FixedString":
            return "toString({})", _fixed_text_token
        if _has_strings(e) and f.valid_utf8:
            return "toValidUTF8(toString({}))", _text_token
        return "toString({})", _text_token
    if n in _INT_BITS:
        if cat in _NUM_CATS:
            return "{}", _elem_token
        if cat == "boolean" and n in ("UInt8", "Int8"):
            return "{}", _bool_token
        raise _Refuse("")
    if n in ("Float32", "Float64", "BFloat16"):
        if cat in ("real", "double precision", "numeric"):
            return "{}", _elem_token
        raise _Refuse("")
    if e.is_decimal:
        if cat in ("numeric", "real", "double precision") or (
                cat in _INT_CATS and e.scale == 0):
            return "{}", _elem_token
        raise _Refuse("")
    if n == "Bool":
        if cat == "boolean":
            return "{}", _bool_token
        if cat in _NUM_CATS:
            return "toUInt8({})", _elem_token
        raise _Refuse("")
    if n in ("String", "FixedString"):
        if cat == "bytea":
            return "hex({})", _hex_bytea_token
        if cat in ("uuid", "inet"):
            return _element_plan(e, "text", f)
        raise _Refuse("")
    if n == "UUID" and cat == "uuid":
        return "toString({})", _text_token
    if n in ("IPv4", "IPv6") and cat == "inet":
        return "toString({})", _text_token
    if n in ("Date", "Date32"):
        if cat == "date" or cat == "timestamp" or cat == "timestamptz":
            return "toString({})", _date_token
        raise _Refuse("")
    if n in ("DateTime", "DateTime64"):
        if cat == "timestamptz":
            return "toString({}, 'UTC')", _utc_ts_token
        if cat == "timestamp":
            wall = _epoch_wall(e.timezone)
            return "toString({})", lambda v: _ts_token(
                wall if v == "0000-00-00 00:00:00" else v)
        if cat == "date":
            return ("toString(toDate32({}))" if (n == "DateTime64" and f.date32)
                    else "toString(toDate({}))"), _date_token
        raise _Refuse("")
    if n in ("Time", "Time64") and cat in ("interval", "time"):
        return "toString({})", _text_token
    if n == "Point" and cat == "point":
        return "toString({})", _text_token
    if n == "Enum8" or n == "Enum16":
        if cat in _INT_CATS + ("numeric",):
            return "CAST({} AS Int16)", _elem_token
    raise _Refuse("")


def _text_token(v) -> str:
    if v is None:
        return "NULL"
    if v.__class__ is bytes:
        v = v.decode("utf-8", "replace")
    return _quote_elem(str(v))


def _fixed_text_token(v) -> str:
    if v is None:
        return "NULL"
    if v.__class__ is bytes:
        v = v.rstrip(b"\x00").decode("utf-8", "replace")
    return _quote_elem(str(v).rstrip("\x00"))


def _float_text_token(v) -> str:
    return "NULL" if v is None else _quote_elem(_float_token(v))


def _bool_text_token(v) -> str:
    return "NULL" if v is None else ('"true"' if v else '"false"')


def _bool_token(v) -> str:
    return "NULL" if v is None else ("t" if v else "f")


def _hex_bytea_token(v) -> str:
    return "NULL" if v is None else _quote_elem("\\x" + v)


def _trunc_frac(s: str) -> str:
    dot = s.find(".")
    if dot >= 0 and len(s) - dot - 1 > 6:
        s = s[:dot + 7]
    return s


def _utc_ts_token(v) -> str:
    if v is None:
        return "NULL"
    if v == "0000-00-00 00:00:00":
        v = "1970-01-01 00:00:00"
    return '"' + _trunc_frac(str(v)) + '+00"'


def _date_token(v) -> str:
    if v is None:
        return "NULL"
    v = str(v)
    return '"1970-01-01"' if v == "0000-00-00" else '"' + v + '"'


def _ts_token(v) -> str:
    if v is None:
        return "NULL"
    return '"' + _trunc_frac(str(v)) + '"'
