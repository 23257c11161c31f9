"""The ClickHouse type model: parse_type() parses a ClickHouse type string
(system.columns, DESCRIBE, driver column types) once into a ChType tree that
the type families (ch_fdw/chtypes/*.py) map, read and write."""

from __future__ import annotations

import re as _re
from dataclasses import dataclass, field

from ch_fdw import errors

# Types whose arguments are themselves types.
_TYPE_ARG_TYPES = {"Nullable", "LowCardinality", "Array", "Map", "Tuple",
                   "Nested", "Variant"}
DECIMAL_N = {"Decimal32": 9, "Decimal64": 18, "Decimal128": 38,
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
INT_BITS = {
    "Int8": 8, "Int16": 16, "Int32": 32, "Int64": 64, "Int128": 128,
    "Int256": 256, "UInt8": 8, "UInt16": 16, "UInt32": 32, "UInt64": 64,
    "UInt128": 128, "UInt256": 256,
}
GEO = {"Point", "Ring", "LineString", "MultiLineString", "Polygon",
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
        if self.name in DECIMAL_N:
            return DECIMAL_N[self.name]
        if self.name in ("DateTime64", "Time64"):
            return self.args[0] if self.args else 3
        if self.name in ("DateTime", "Time"):
            return 0
        return None

    @property
    def scale(self) -> int | None:
        if self.name == "Decimal":
            return self.args[1] if len(self.args) > 1 else 0
        if self.name in DECIMAL_N:
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
        return self.name in INT_BITS

    @property
    def is_decimal(self) -> bool:
        return self.name == "Decimal" or self.name in DECIMAL_N

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
    if head not in KNOWN and up in _ALIASES:
        return _ALIASES[up]
    return head


KNOWN = set(INT_BITS) | set(DECIMAL_N) | GEO | {
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


def has_strings(t: ChType) -> bool:
    """Whether t's text form may hold bytes that are not valid UTF-8."""
    if t.name in ("String", "FixedString", "Enum8", "Enum16", "JSON",
                  "Object", "Dynamic", "AggregateFunction") or \
            t.name not in KNOWN:
        return True
    return any(isinstance(a, ChType) and has_strings(a) for a in t.args)
