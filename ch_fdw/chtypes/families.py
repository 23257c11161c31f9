"""The type families by ClickHouse type name.  A family module owns, for its
types: NAMES; pg_type(t) (IMPORT FOREIGN SCHEMA); read(t, cat, f, driver)
and optionally read_text / read_json (scans: the ClickHouse expression and
batch converter); element / element_text (the same for array elements);
write(t, pg_cat, server_tz) for the names in WRITABLE (default NAMES); and
literal(t, v) (UPDATE ... SET values)."""

from __future__ import annotations

from . import (aggregates, arrays, bools, composites, dates, datetimes, decimals, enums, floats, geo,
               integers, network, strings)
from .model import ChType

FAMILIES = (integers, floats, decimals, bools, strings, enums, network, dates, datetimes, arrays,
            composites, geo, aggregates)
_BY_NAME = {name: fam for fam in FAMILIES for name in fam.NAMES}


def family_of(t: ChType):
    """The family module of t (None for Nothing, Interval and unknown types)."""
    return _BY_NAME.get(t.name)
