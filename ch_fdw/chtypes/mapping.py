"""ClickHouse type -> the PostgreSQL type IMPORT FOREIGN SCHEMA declares, and
whether the column is NOT NULL (each family names its own type)."""

from __future__ import annotations

from . import families
from .model import ChType, parse_type


def _scalar_pg(t: ChType) -> tuple[str, bool]:
    """(pg type, known) for a non-Array, non-Nullable-wrapped type."""
    if t.name == "Nothing":
        return "text", True
    fam = families.family_of(t)
    if fam is None:
        return "text", False
    return fam.pg_type(t), True


def pg_type_info(ch_type: str | ChType) -> tuple[str, bool, bool]:
    """(pg type, not null, known): known is False when the ClickHouse type is
    not recognised and was mapped to text as a fallback.  An Array whose
    innermost element maps to jsonb is one jsonb value (a JSON array)."""
    t = parse_type(ch_type) if isinstance(ch_type, str) else ch_type
    not_null = not (t.nullable or t.name in ("Variant", "Dynamic", "Nothing"))
    if t.name == "Array":
        pg, known = _scalar_pg(t.innermost)
        if pg == "jsonb":
            return "jsonb", not_null, known
        return pg + "[]", not_null, known
    pg, known = _scalar_pg(t)
    return pg, not_null, known


def pg_type_for(ch_type: str) -> tuple[str, bool]:
    """The PostgreSQL type for a ClickHouse type and whether it is NOT NULL."""
    pg, not_null, _ = pg_type_info(ch_type)
    return pg, not_null
