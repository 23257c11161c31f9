"""Outputs: the top-level cast of each result column to exactly the
ClickHouse type the scan's fetch converters read as the PostgreSQL output
type (ch_fdw.chtypes.fetch_plan).

Rules owned here:
  [int-range]    integer outputs use accurateCast (raises on overflow like
                 PG's "out of range" instead of wrapping).
  [bool]         booleans are output as toBool() where the engine has Bool.
  [bpchar]       character(n) outputs are padded back to n.
  [numeric]      numeric outputs keep their scale (Decimal256).
  [opaque]       a bare column of a type the translator does not compute on
                 (uuid, jsonb, arrays, bytea, Enum, Map, Tuple, ...) is
                 returned in its own ClickHouse type with the per-table
                 path's fetch plan (the same values); on the nullable side
                 of an outer join its type becomes Nullable, as
                 join_use_nulls makes it, or the query is refused where
                 ClickHouse fills in defaults instead of NULLs (Array, Map,
                 Tuple).
"""

from __future__ import annotations

import re

from ..literals import Unsupported
from .context import T, _classify, _numeric_typmod

#: types ClickHouse cannot wrap in Nullable: join_use_nulls fills in their
#: default values ([], {}, a tuple of defaults) for unmatched rows
_NO_NULLABLE = ("Array", "Map", "Tuple", "Nested", "Object", "JSON", "Variant", "Dynamic",
                "AggregateFunction", "SimpleAggregateFunction",
                # geo types are Tuples and Arrays underneath
                "Point", "Ring", "LineString", "MultiLineString", "Polygon", "MultiPolygon",
                "Geometry")


def _outer_join_type(ch_type: str) -> str | None:
    """The type join_use_nulls gives a column of ch_type on the nullable
    side of an outer join; None where unmatched rows get defaults."""
    t = ch_type.strip()
    if t.startswith("Nullable("):
        return t
    m = re.fullmatch(r"LowCardinality\((.*)\)", t, re.S)
    if m:
        inner = m.group(1).strip()
        return t if inner.startswith("Nullable(") else f"LowCardinality(Nullable({inner}))"
    if re.match(r"(%s)\b" % "|".join(_NO_NULLABLE), t):
        return None
    return f"Nullable({t})"


def _is_numeric(pg_type_text: str) -> bool:
    try:
        return _classify(pg_type_text)[0] == "numeric"
    except Unsupported:             # [opaque] outputs: uuid, bytea, arrays, ...
        return False


def fetch_pg_type(ch_type: str, pg_type_text: str) -> str:
    """The PostgreSQL type to plan an output's fetch as: numerics sent as
    text (a per-row scale) are read like text; the bridge's numeric input
    function parses them."""
    if ch_type in ("String", "Nullable(String)") and _is_numeric(pg_type_text):
        return "text"
    return pg_type_text


def _text_at_scale(ref: str, stored: int, shown: str) -> str:
    """[numeric] PostgreSQL's text of a Decimal of scale stored, cut to the
    per-row display scale shown (no '.' at 0)."""
    full = f"toDecimalString({ref}, {stored})"
    return f"substring({full}, 1, toUInt64(length({full}) - {stored} + {shown} - ({shown} = 0)))"


class Outputs:
    def output_expr(self, t: T, i: int) -> str:
        """Top-level output i: a ClickHouse expression whose type converts to
        output_types[i] exactly (the scan's fetch converters read it)."""
        if i >= len(self.top_types):
            raise Unsupported("more output columns than the caller expects")
        pgt = self.top_types[i]
        ref = t.sql
        if t.kind == "opaque":
            return self._opaque_output(t, i, pgt)
        kind, pg, n = _classify(pgt)
        if t.kind in ("null", "unknown") or t.is_null:
            if t.kind == "unknown" and kind not in ("text", "bpchar"):
                raise Unsupported(f"output column {i + 1}: untyped literal")
            t = T(t.sql, kind, n=n, nullable=t.nullable, scale=(_numeric_typmod(pgt) or (0, 0))[1])
        if t.kind != kind and not ({t.kind, kind} <= {"text", "bpchar"}):
            raise Unsupported(f"output column {i + 1}: computed {t.kind}, expected {pgt}")
        if kind == "int":
            # accurateCast raises on overflow (PostgreSQL's "out of range")
            # where toInt32() would silently wrap around
            ct = {16: "Int16", 32: "Int32", 64: "Int64"}[pg.bits]
            target = f"Nullable({ct})" if t.nullable else ct
            e = f"accurateCast({ref}, '{target}')"
        elif kind == "numeric" and t.shown_scale_sql is not None and t.scale is not None \
                and _numeric_typmod(pgt) is None:
            # [numeric] one storage scale, each row shown with its own (CASE
            # over 0.1 and 10.00): PostgreSQL's text, read like a text column
            e, ct = _text_at_scale(ref, t.scale, t.shown_scale_sql), "String"
        elif kind == "numeric" and t.dscale_sql is not None and t.scale is None:
            # [numeric] a per-row display scale (avg): PostgreSQL's own text,
            # read like a text column; numeric's input function keeps the scale
            if _numeric_typmod(pgt) is not None:
                raise Unsupported(f"output column {i + 1}: numeric(p,s) of a per-row scale")
            e, ct = _text_at_scale(ref, t.store_scale, t.dscale_sql), "String"
        elif kind == "numeric":
            tm = _numeric_typmod(pgt)
            if tm is not None and tm[1] != t.scale:
                raise Unsupported(f"output column {i + 1}: numeric scale differs")
            if t.scale is None or t.scale > 38:
                raise Unsupported(f"output column {i + 1}: numeric scale unknown or > 38")
            # Decimal256 holds every ClickHouse decimal (up to 76 digits)
            e, ct = f"toDecimal256({ref}, {t.scale})", f"Decimal(76, {t.scale})"
        elif kind == "bool":
            e, ct = (f"toBool({ref})", "Bool") if self.version >= (22, 1) else (f"toUInt8({ref})", "UInt8")
        elif kind == "bpchar":
            if n is None and t.kind == "bpchar" and t.n is not None:
                n = t.n         # bpchar values keep their column's padding
            if n is None or t.kind == "text":
                if n is not None:
                    raise Unsupported(f"output column {i + 1}: text as character(n)")
                e = ref
            else:
                # [bpchar] pad like PostgreSQL's character(n) output
                e = f"concat({ref}, repeat(' ', toUInt64(greatest(0, {n} - toInt64(lengthUTF8({ref}))))))"
            ct = "String"
        elif kind == "text":
            e, ct = ref, "String"
        elif kind == "float8":
            e, ct = f"toFloat64({ref})", "Float64"
        elif kind == "float4":
            e, ct = f"toFloat32({ref})", "Float32"
        elif kind == "date":
            # date arithmetic is computed in Date32 (temporal.py [wide-dates])
            e, ct = f"toDate32({ref})", "Date32"
        elif kind in ("timestamptz", "timestamp"):
            if self.version >= (20, 1):
                e, ct = f"toDateTime64({ref}, 6, 'UTC')", "DateTime64(6, 'UTC')"
            else:
                e, ct = f"toDateTime({ref}, 'UTC')", "DateTime('UTC')"
        else:
            raise Unsupported(f"output of type {pgt}")
        if t.nullable:
            ct = f"Nullable({ct})"
        return self._fetched(e, ct, i, pgt)

    def _fetched(self, e: str, ct: str, i: int, pgt: str) -> str:
        while len(self.top_ch_types) <= i:
            self.top_ch_types.append(None)
        self.top_ch_types[i] = ct
        # The scan reads result columns like table columns: apply the same
        # server-side fetch expression (e.g. timestamps as epoch micros).
        from ch_fdw.errors import ChFdwError
        from ch_fdw.chtypes import fetch_plan
        try:
            fp = fetch_plan(ct, fetch_pg_type(ct, pgt), f"output column {i + 1}", self.version)
        except ChFdwError as ex:
            raise Unsupported(ex.message)
        return fp.expression.format(e) if self.fetch_expressions else e

    def _opaque_output(self, t: T, i: int, pgt: str) -> str:
        """[opaque] a bare column read exactly as the per-table path reads it."""
        from ch_fdw.chtypes.pgnames import normalize_pg_type
        ci, _ = t.opaque
        if normalize_pg_type(pgt) != normalize_pg_type(ci.pg_type):
            raise Unsupported(f"output column {i + 1}: {ci.pg_type} column returned as {pgt}")
        ct = ci.ch_type
        if t.nullable:
            ct = _outer_join_type(ct)
            if ct is None:
                raise Unsupported(f"output column {i + 1}: {ci.ch_type} on the nullable side of "
                                  "an outer join (ClickHouse returns defaults, not NULLs)")
        return self._fetched(t.sql, ct, i, pgt)
