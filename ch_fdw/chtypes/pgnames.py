"""PostgreSQL type names (as format_type() prints them) to the categories the
type families decide on."""

from __future__ import annotations

import re as _re

# PostgreSQL categories that hold integers / numbers.
INT_CATS = ("smallint", "integer", "bigint")
NUM_CATS = INT_CATS + ("numeric", "real", "double precision")


def is_textual(cat: str) -> bool:
    """text, or a type we do not know, fed ClickHouse's text form through its
    input function."""
    return cat == "text" or cat.startswith("other:")


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
