"""Scan fetch plans: for one column, the ClickHouse expression to select and
the Python converter that turns a batch of driver values into the forms the
C bridge turns into Datums, dispatched to the column's type family.

The C bridge contract (what converters produce): None -> NULL; int -> integer
types / numeric / float, and for timestamptz microseconds since the Unix epoch
(UTC), for timestamp wall-clock microseconds since 1970-01-01 00:00:00, for
date days since 1970-01-01; float -> float/numeric; bool -> boolean; str ->
text types directly, any other type through its input function (array
literals, jsonb, inet, uuid, interval, ...); bytes -> bytea; Decimal ->
numeric; date/datetime/UUID as usual; other objects -> str(obj) to the input
function.

Work is pushed to ClickHouse where it is vectorised (toUnixTimestamp,
toInt32(date), toString, toJSONString, toValidUTF8) so that the common scalar
types need no Python converter at all (convert=None).  Unknown ClickHouse
types are read as text via toString().
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from ch_fdw import errors

from . import arrays, decimals, jsontext
from .base import Features, Refuse, to_str
from . import families
from .mapping import pg_type_for
from .model import ChType, has_strings, parse_type
from .pgnames import is_textual, normalize_pg_type


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
    f = Features(server_version)
    try:
        expr, conv = _plan(t, cat, dims, f, driver)
        if conv is None and driver == "native" and cat == "numeric" and not dims:
            conv = decimals.native_scale(t, pg_type)      # the driver drops trailing zeros
    except Refuse as ex:
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


def _plan(t: ChType, cat: str, dims: int, f: Features, driver: str):
    n = t.name
    if n == "Nothing":
        return "{}", None                       # always NULL
    if cat == "jsonb" and not dims:
        return read_json(t, f)
    if dims:
        if n != "Array":
            raise Refuse("only a ClickHouse Array can be read as a "
                         "PostgreSQL array")
        return arrays.read_array(t, cat, f)
    if n == "Array" and not is_textual(cat):
        raise Refuse("a ClickHouse Array needs a PostgreSQL array, jsonb "
                     "or text column")
    if is_textual(cat):
        return read_text(t, f)
    fam = families.family_of(t)
    if fam is None:
        raise Refuse("")
    return fam.read(t, cat, f, driver)


def read_text(t: ChType, f: Features):
    """Text targets (and unknown PostgreSQL types, fed through their input
    function): ClickHouse's own text form of the value."""
    fam = families.family_of(t)
    own = getattr(fam, "read_text", None)
    plan = own(t, f) if own is not None else None
    if plan is not None:
        return plan
    if has_strings(t) and f.valid_utf8:
        return "toValidUTF8(toString({}))", to_str
    if has_strings(t):
        return "toString({})", to_str
    return "toString({})", None


def read_json(t: ChType, f: Features):
    """A jsonb target: one JSON value (an Array of any type is a JSON array,
    not jsonb[])."""
    own = getattr(families.family_of(t), "read_json", None)
    if own is not None:
        return own(t, f)
    return jsontext.read_as_json(t, f)
