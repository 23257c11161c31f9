"""Clauses: GROUP BY (including ROLLUP/CUBE/GROUPING SETS), ORDER BY and
LIMIT/OFFSET.

Rules owned here:
  [nulls-order]  every ORDER BY key (also a window's) carries explicit NULLS
                 FIRST/LAST and, for floats that may be NaN, an isNaN() key
                 first: sort_key, built on shared.sort_keys (the rule both
                 translators share).
  [collation]    text sort keys only under the C collation.
  [rollup]       ROLLUP/CUBE are expanded to GROUPING SETS (ClickHouse's own
                 return no () row over empty input).
  [const-keys]   constant GROUP BY keys are never sent as literals (ClickHouse
                 reads them as positions); constant ORDER BY keys are dropped.
"""

from __future__ import annotations

from sqlglot import exp

from .. import literals as L
from ..literals import Unsupported
from ..pgparse import pg_type_name
from ..shared import param_id, sort_keys, strip_parens
from .context import T, _FLOATS, _TEXTS, _classify, opaque_reason


class Clauses:
    def limit_sql(self, limit, offset) -> str:
        out = ""
        if limit is not None:
            e = strip_parens(limit.expression)
            if isinstance(e, exp.Null) or (isinstance(e, exp.Cast) and isinstance(strip_parens(e.this), exp.Null)):
                pass   # LIMIT NULL / ALL
            else:
                out += f" LIMIT {self._count_expr(e, 'LIMIT')}"
        if offset is not None:
            e = strip_parens(offset.expression)
            if limit is None or out == "":
                out += f" LIMIT {(1 << 63) - 1}"   # ClickHouse needs LIMIT with OFFSET
            out += f" OFFSET {self._count_expr(e, 'OFFSET')}"
        return out

    def _count_expr(self, e, what) -> str:
        if isinstance(e, exp.Literal) and not e.is_string and str(e.this).isdigit():
            return str(int(e.this))
        # a constant or parameter behind integer casts (psycopg 3 with
        # server-side binding sends LIMIT $1::integer): the narrowest cast's
        # range applies, as PostgreSQL raises "integer out of range"
        bits = 64
        while isinstance(e, exp.Cast):
            tname = pg_type_name(e.to)
            k, pg, _ = _classify(tname) if tname else (None, None, None)
            if k != "int":
                raise Unsupported(f"{what} must be a constant or parameter")
            bits = min(bits, pg.bits)
            e = strip_parens(e.this)
        if isinstance(e, exp.Literal) and not e.is_string and str(e.this).isdigit():
            n = int(e.this)
            if n >= 1 << (bits - 1):
                raise Unsupported(f"{what} out of range")
            return str(n)
        if isinstance(e, exp.Parameter):
            pid = param_id(e)
            k, pg, _ = _classify(self.param_types.get(pid, "?"))
            if k != "int":
                raise Unsupported(f"{what} parameter of non-integer type")
            bits = min(bits, pg.bits)

            def render(v):
                if v is None:
                    return str((1 << 63) - 1) if what == "LIMIT" else "0"
                n = L.int_value(v)
                if n < 0:
                    raise Unsupported(f"negative {what}")
                if n >= 1 << (bits - 1):
                    raise Unsupported(f"{what} out of range for its cast")
                return str(n)
            return self._slot(pid, render)
        raise Unsupported(f"{what} must be a constant or parameter")

    def group_by(self, group: exp.Group, scope) -> str:
        parts = []
        for key in ("rollup", "cube", "grouping_sets"):
            if group.args.get(key):
                self.need((22, 8), "ROLLUP/CUBE/GROUPING SETS with group_by_use_nulls")
                self.grouping_sets = True
        plain, extra = [], []
        for e in group.expressions:
            if isinstance(e, (exp.Rollup, exp.Cube, exp.GroupingSets)):
                self.need((22, 8), "ROLLUP/CUBE/GROUPING SETS with group_by_use_nulls")
                self.grouping_sets = True
                key = {exp.Rollup: "rollup", exp.Cube: "cube", exp.GroupingSets: "grouping_sets"}[type(e)]
                group.args.setdefault(key, None)
                group.set(key, (group.args.get(key) or []) + [e])
            else:
                plain.append(self.group_key(e, scope))
        # [rollup] ROLLUP/CUBE are sent as the GROUPING SETS they stand for:
        # ClickHouse's ROLLUP/CUBE return no total row over no input rows
        for r in group.args.get("rollup") or []:
            ks = [self.group_key(e, scope) for e in r.expressions]
            sets = [ks[:i] for i in range(len(ks), -1, -1)]
            extra.append("GROUPING SETS (" + ", ".join(f"({', '.join(x)})" for x in sets) + ")")
        for c in group.args.get("cube") or []:
            ks = [self.group_key(e, scope) for e in c.expressions]
            if len(ks) > 6:
                raise Unsupported("CUBE over more than 6 keys")
            sets = [[k for b, k in enumerate(ks) if m >> b & 1] for m in range((1 << len(ks)) - 1, -1, -1)]
            extra.append("GROUPING SETS (" + ", ".join(f"({', '.join(x)})" for x in sets) + ")")
        for gs in group.args.get("grouping_sets") or []:
            sets = []
            for s in gs.expressions:
                s = strip_parens(s) if not isinstance(s, exp.Tuple) else s
                items = s.expressions if isinstance(s, exp.Tuple) else [s]
                sets.append("(" + ", ".join(self.group_key(e, scope) for e in items) + ")")
            extra.append("GROUPING SETS (" + ", ".join(sets) + ")")
        if extra and (plain or len(extra) > 1):
            raise Unsupported("mixing plain keys with ROLLUP/CUBE/GROUPING SETS")
        parts = plain + extra
        if not parts:
            return ""
        return " GROUP BY " + ", ".join(parts)

    def group_key(self, e, scope) -> str:
        self._sort_or_group_keys = getattr(self, "_sort_or_group_keys", 0) + 1
        try:
            return self._group_key(e, scope)
        finally:
            self._sort_or_group_keys -= 1

    def _group_key(self, e, scope) -> str:
        e = strip_parens(e)
        if isinstance(e, exp.Literal) and not e.is_string:
            raise Unsupported("GROUP BY position")
        v = self.value(e, scope)
        if v.is_const:
            # [const-keys] ClickHouse reads a literal key as a position
            # (GROUP BY 5); a constant groups nothing, but a grouped query
            # over no rows returns no rows, so keep it as a non-literal key
            return f"identity({v.sql})"
        if v.kind in _FLOATS:
            # PG groups NaN with NaN and -0 with 0; ClickHouse hashes bits
            raise Unsupported("GROUP BY float (PG groups NaN with NaN and -0 with 0)")
        if v.kind == "numeric" and v.scale is None:
            # equal values of different display scales: PG shows one of them
            raise Unsupported("GROUP BY a numeric with a per-row scale")
        if v.stored is not None:
            return v.stored     # [fit] the column as stored groups the same rows
        return v.sql

    def order_by(self, order: exp.Order, scope, outs, cols) -> str:
        keys = []
        for o in order.expressions:
            e = strip_parens(o.this)
            desc = bool(o.args.get("desc"))
            nf = o.args.get("nulls_first")
            nulls_first = desc if nf is None else bool(nf)
            if isinstance(e, exp.Literal) and not e.is_string and str(e.this).isdigit():
                i = int(e.this) - 1
                if not 0 <= i < len(outs):
                    raise Unsupported("ORDER BY position out of range")
                v = outs[i][1]
            else:
                # [correlated] flag sublinks in sort keys (predicates.py)
                self._sort_or_group_keys = getattr(self, "_sort_or_group_keys", 0) + 1
                try:
                    v = self.value(e, scope)
                finally:
                    self._sort_or_group_keys -= 1
            keys.extend(self.sort_key(v, desc, nulls_first))
        # [const-keys] constant keys order nothing: no ORDER BY at all
        return " ORDER BY " + ", ".join(keys) if keys else ""

    def sort_key(self, v: T, desc: bool, nulls_first: bool) -> list[str]:
        if v.kind == "opaque":
            raise Unsupported(f"ORDER BY {opaque_reason(v)}")      # [opaque]
        if v.is_const:
            return []
        if v.kind in _TEXTS and not self.dialect.text_collation_c:
            raise Unsupported("ORDER BY text under a non-C collation")   # [collation]
        if v.kind == "interval":
            raise Unsupported("ORDER BY interval")
        sql = v.sql
        if v.stored is not None and (v.kind != "text" or not (v.ch or "").count("Enum")):
            sql = v.stored      # [fit] sorts like its reading (not an Enum: by number)
        return sort_keys(sql, desc, nulls_first, v.kind in _FLOATS and v.maybe_nan)
