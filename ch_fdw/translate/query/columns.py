"""A table column as a typed value of the whole-query translator.

Rules owned here:
  [bpchar]       character(n) columns are read without trailing spaces (PG
                 ignores them); set-op branches must agree on n.
  [opaque]       a column the translator cannot compute on (uuid, jsonb,
                 arrays, bytea, Enum, Map, ...) may still be returned as a
                 bare select-list column (through derived tables and CTEs);
                 any other use -- WHERE, GROUP BY, ORDER BY, DISTINCT, set
                 operations, sublinks -- refuses the query with the reason.
"""

from __future__ import annotations

import re

from ..fit import text_domain
from ..kinds import ch_type as parse_ch_type, compatible
from ..literals import Unsupported
from ..quoting import quote_identifier as qi
from ..remote import ColumnInfo
from .context import T, _FLOATS, _classify, _numeric_typmod

_UTC_NAMES = {"UTC", "Etc/UTC", "UCT", "Etc/UCT", "GMT", "Etc/GMT", "Zulu", "Etc/Zulu",
              "Universal", "Etc/Universal", "Etc/GMT0", "Etc/GMT+0", "Etc/GMT-0", "GMT0"}


def column_value(ci: ColumnInfo, alias: str) -> T:
    """The column as a typed value, or [opaque] (returnable only) when
    the translator cannot compute on its type."""
    try:
        return _typed_column(ci, alias)
    except Unsupported as e:
        ch = parse_ch_type(ci.ch_type) if ci.ch_type else None
        why = str(e) if str(e).startswith("column ") else f"column {ci.pg_name}: {e}"
        return T(f"{qi(alias)}.{qi(ci.remote_name)}", "opaque",
                 nullable=ch is None or ch.nullable, opaque=(ci, why))

def _typed_column(ci: ColumnInfo, alias: str) -> T:
    kind, pg, n = _classify(ci.pg_type)
    ch = parse_ch_type(ci.ch_type) if ci.ch_type else None
    ref = f"{qi(alias)}.{qi(ci.remote_name)}"
    nullable = ch is None or ch.nullable
    if ch is not None and ch.base == "Nothing":
        raise Unsupported("column of type Nothing")
    if kind == "bpchar":
        if ch is not None and ch.base != "String":
            raise Unsupported(f"column {ci.pg_name}: character(n) over {ci.ch_type}")
        # [bpchar] PostgreSQL ignores trailing spaces of character(n)
        return T(f"trimRight({ref})", "bpchar", nullable=nullable, n=n)
    tdom = text_domain(ci.ch_type) if kind == "text" else None
    if tdom is not None:
        # [fit] FixedString/Enum: read as PostgreSQL's text, compared as stored
        return T(tdom.value_sql(ref), "text", nullable=nullable, stored=ref, ch=ci.ch_type)
    if not compatible(pg, ch):
        raise Unsupported(f"column {ci.pg_name}: {ci.pg_type} over ClickHouse {ci.ch_type}")
    if ch is not None and ch.low_cardinality and kind != "text":
        raise Unsupported(f"column {ci.pg_name}: LowCardinality({ch.base})")
    if kind == "timestamp":
        if ch is None or ch.timezone not in _UTC_NAMES:
            raise Unsupported(f"column {ci.pg_name}: timestamp over a non-UTC DateTime")
    if kind == "timestamptz" and ch is not None and ch.base == "DateTime64":
        try:
            if int(ch.args[0]) > 6:
                raise Unsupported(f"column {ci.pg_name}: DateTime64 precision > 6")
        except (ValueError, IndexError):
            raise Unsupported(f"column {ci.pg_name}: DateTime64 precision unknown")
    if kind == "int":
        if ch is not None and ch.base in ("UInt64",):
            raise Unsupported(f"column {ci.pg_name}: UInt64 as integer")
        bits = pg.bits
        return T(ref, "int", nullable=nullable, bits=bits, stored=ref, ch=ci.ch_type)
    if kind == "numeric":
        if ch is None:
            raise Unsupported(f"column {ci.pg_name}: numeric needs the ClickHouse type")
        if ch.base == "Decimal":
            if len(ch.args) == 2:
                scale = int(ch.args[1])
            elif len(ch.args) == 1 and ch.base == "Decimal":
                scale = int(ch.args[0]) if ci.ch_type.strip().lstrip("Nulabe(").startswith("Decimal") and re.search(r"Decimal(32|64|128|256)", ci.ch_type) else 0
            else:
                scale = 0
            tm = _numeric_typmod(ci.pg_type)
            if tm is not None and tm[1] != scale:
                raise Unsupported(f"column {ci.pg_name}: numeric scale differs from Decimal scale")
            # digits: the precision bounds |raw| (division sizes its quotient by it)
            prec = int(ch.args[0]) if len(ch.args) == 2 else None
            return T(ref, "numeric", nullable=nullable, scale=scale, digits=prec, stored=ref,
                     ch=ci.ch_type)
        return T(f"toDecimal128({ref}, 0)", "numeric", nullable=nullable, scale=0,
                 stored=ref, ch=ci.ch_type)
    if kind == "bool":
        return T(ref, "bool", nullable=nullable)
    if kind in _FLOATS:
        return T(ref, kind, nullable=nullable, maybe_nan=True)
    if kind == "text" and pg is not None and pg.has_typmod:
        kind = "text"
    return T(ref, kind, nullable=nullable)
