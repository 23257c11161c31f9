"""Value kinds the translators reason in: a PostgreSQL type name classified
into a small set of kinds (pg_type), a ClickHouse column type split into its
base type and arguments (ch_type), and whether a column's ClickHouse type
holds exactly the values and comparisons of its PostgreSQL kind
(compatible).  (The full ClickHouse type model for reading and writing
values is ch_fdw/chtypes/.)

Kinds: int, float4, float8, numeric, text, bool, date, timestamp,
timestamptz.  Anything else is unsupported (None) and makes the translator
refuse.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

INT_BITS = {"smallint": 16, "integer": 32, "bigint": 64}

_PG_KINDS = {
    "smallint": "int", "integer": "int", "bigint": "int",
    "int2": "int", "int4": "int", "int8": "int", "int": "int",
    "real": "float4", "float4": "float4",
    "double precision": "float8", "float8": "float8",
    "numeric": "numeric", "decimal": "numeric",
    "text": "text", "character varying": "text", "varchar": "text",
    "boolean": "bool", "bool": "bool",
    "date": "date",
    "timestamp without time zone": "timestamp", "timestamp": "timestamp",
    "timestamp with time zone": "timestamptz", "timestamptz": "timestamptz",
}


@dataclass(frozen=True)
class PgType:
    kind: str
    bits: int = 0            # int: value range of the type (16/32/64)
    has_typmod: bool = False  # numeric(p,s), varchar(n), timestamp(p)


def pg_type(name: str) -> PgType | None:
    """Classify a format_type() string; None if unsupported."""
    n = name.strip().lower()
    if n.endswith("[]"):
        return None
    # strip a typmod: numeric(10,2), character varying(10), timestamp(3) with time zone
    m = re.fullmatch(r"([a-z ]+?)\s*\(\s*[0-9 ,]+\)\s*([a-z ]*)", n)
    typmod = False
    if m:
        n = (m.group(1) + (" " + m.group(2) if m.group(2) else "")).strip()
        typmod = True
    kind = _PG_KINDS.get(n)
    if kind is None:
        return None
    bits = 0
    if kind == "int":
        bits = {"smallint": 16, "int2": 16, "integer": 32, "int4": 32,
                "int": 32}.get(n, 64)
    return PgType(kind, bits, typmod)


def pg_array_element(name: str) -> str | None:
    n = name.strip()
    return n[:-2] if n.endswith("[]") and not n[:-2].endswith("[]") else None


@dataclass(frozen=True)
class ChType:
    base: str                 # e.g. 'Int32', 'String', 'DateTime64', 'Decimal'
    nullable: bool
    low_cardinality: bool
    args: tuple[str, ...]     # raw arguments: ('3', "'UTC'"), ('10', '2')

    @property
    def timezone(self) -> str | None:
        for a in self.args:
            a = a.strip()
            if a.startswith("'") and a.endswith("'"):
                return a[1:-1]
        return None


def _split_args(s: str) -> list[str]:
    out, depth, cur, quote = [], 0, "", False
    for ch in s:
        if quote:
            cur += ch
            if ch == "'":
                quote = False
            continue
        if ch == "'":
            quote = True
        elif ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        elif ch == "," and depth == 0:
            out.append(cur.strip())
            cur = ""
            continue
        cur += ch
    if cur.strip():
        out.append(cur.strip())
    return out


def ch_type(text: str | None) -> ChType | None:
    if text is None:
        return None
    t = text.strip()
    nullable = lowcard = False
    while True:
        m = re.fullmatch(r"(Nullable|LowCardinality)\((.*)\)", t, re.S)
        if not m:
            break
        if m.group(1) == "Nullable":
            nullable = True
        else:
            lowcard = True
        t = m.group(2).strip()
    m = re.fullmatch(r"([A-Za-z0-9_]+)(?:\((.*)\))?", t, re.S)
    if not m:
        return ChType(t, nullable, lowcard, ())
    base, args = m.group(1), tuple(_split_args(m.group(2) or ""))
    if base in ("Decimal32", "Decimal64", "Decimal128", "Decimal256"):
        base = "Decimal"
    return ChType(base, nullable, lowcard, args)


_CH_INTS = {"Int8", "Int16", "Int32", "Int64", "UInt8", "UInt16", "UInt32", "UInt64"}

#: Time zones whose offset never changes, so wall clock order == instant order.
_FIXED_TZ = re.compile(r"(UTC|UCT|GMT|Zulu|Universal|Etc/(UTC|UCT|GMT|Zulu|Universal|GMT[+-]?0?|GMT[+-](1[0-4]|[1-9])))")


def fixed_offset_tz(tz: str | None) -> bool:
    return tz is not None and _FIXED_TZ.fullmatch(tz) is not None


def compatible(pg: PgType, ch: ChType | None) -> bool:
    """Does ClickHouse hold exactly the values PostgreSQL sees, with the same
    comparison semantics?  ch=None means unknown: assume the natural mapping
    (except for timestamp without time zone, whose zone we must know)."""
    k = pg.kind
    if ch is None:
        return k != "timestamp"
    b = ch.base
    if k == "int":
        return b in _CH_INTS
    if k == "float8":
        return b in ("Float64", "Float32")
    if k == "float4":
        return b == "Float32"
    if k == "numeric":
        return b == "Decimal" or b in _CH_INTS
    if k == "text":
        return b == "String"
    if k == "bool":
        return b in ("Bool", "UInt8")
    if k == "date":
        return b in ("Date", "Date32")
    if k == "timestamptz":
        return b in ("DateTime", "DateTime64")
    if k == "timestamp":
        return b in ("DateTime", "DateTime64") and fixed_offset_tz(ch.timezone)
    return False
