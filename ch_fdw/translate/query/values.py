"""Values: the expression dispatcher (value), literals, query parameters
($n slots bound at execution), CASE/COALESCE/NULLIF, scalar subqueries and
casts between kinds.

Rules owned here:
  [literals]     untyped string literals stay "unknown" until the context
                 gives them a type (const_of parses them as PG would);
                 numeric constants are Decimals at the literal's scale;
                 timestamps are DateTime64(6) constants.  Parameters ($n) are
                 rendered per type at execution (literals.py) and refused if
                 not representable.
  [unify]        CASE/COALESCE branches and set-op columns are brought to one
                 kind and one numeric scale, as PG's type resolution does.
  [bpchar]       casts to/from character(n) strip/keep trailing spaces like
                 PG.
  [bool]         booleans are UInt8 inside expressions.
  [collation]    x COLLATE "..." is x: which collations the query uses is
                 decided before translation (ch_fdw/collations.py).
"""

from __future__ import annotations

import datetime as _dt
import math
import re
from decimal import Decimal

from sqlglot import exp

from .. import literals as L
from ..literals import Unsupported
from ..pgparse import pg_type_name
from ..quoting import quote_string as qs
from ..remote import SLOT_MARK
from ..shared import CMP_OPS, checked_int_range, param_id, strip_parens
from .context import T, _FLOATS, _TEXTS, _quantifier, _classify, _numeric_typmod


_AGG_NAMES = {"string_agg", "bool_and", "bool_or", "every", "stddev_samp", "stddev_pop",
              "var_samp", "var_pop", "array_agg", "percentile_cont", "percentile_disc"}


class Values:
    def value(self, node, scope) -> T:
        node = strip_parens(node)
        if isinstance(node, exp.Column):
            if isinstance(node.this, exp.Star):
                raise Unsupported("* reference")
            return self.resolve(node, scope)
        if isinstance(node, exp.Collate):
            # [collation] the bridge sent every collation the query compares or
            # sorts under; Dialect.text_collation_c says if all are byte order
            return self.value(node.this, scope)
        if isinstance(node, exp.Literal):
            return self.literal(node)
        if isinstance(node, exp.Null):
            return T("NULL", "null", const=None)
        if isinstance(node, exp.Boolean):
            return T("1" if node.this else "0", "bool", const=bool(node.this), nullable=False)
        if isinstance(node, exp.Parameter):
            return self.parameter(node)
        if isinstance(node, exp.Cast):
            return self.cast(node, scope)
        if isinstance(node, exp.Neg):
            return self.negate(self.value(node.this, scope))
        if isinstance(node, (exp.Add, exp.Sub, exp.Mul, exp.Div, exp.Mod)):
            return self.arith(node, scope)
        if isinstance(node, exp.DPipe):
            a, b = self.value(node.this, scope), self.value(node.expression, scope)
            for v in (a, b):
                if v.kind not in _TEXTS and v.kind != "null":
                    raise Unsupported("|| on non-text")
            if a.is_null or b.is_null:
                return T("NULL", "text", const=None)
            return T(f"concat({a.sql}, {b.sql})", "text", nullable=a.nullable or b.nullable,
                     agg=a.agg or b.agg)
        if type(node) in CMP_OPS and not _quantifier(node.expression):
            a, b = self.value(node.this, scope), self.value(node.expression, scope)
            return T(self.compare(CMP_OPS[type(node)], a, b), "bool",
                     nullable=a.nullable or b.nullable, agg=a.agg or b.agg)
        if isinstance(node, (exp.And, exp.Or, exp.Not)):
            return self.bool_value(node, scope)
        if isinstance(node, (exp.Is, exp.In, exp.Exists, exp.Like, exp.ILike,
                             exp.RegexpLike, exp.RegexpILike, exp.NullSafeEQ, exp.NullSafeNEQ)) \
                or (type(node) in CMP_OPS):
            return self.bool_atom(node, scope)
        if isinstance(node, exp.Case):
            return self.case(node, scope)
        if isinstance(node, exp.Coalesce):
            return self.coalesce([node.this] + list(node.expressions), scope)
        if isinstance(node, exp.Nullif):
            a, b = self.value(node.this, scope), self.value(node.expression, scope)
            cond = self.compare("=", a, b)
            return self._if(cond, T("NULL", a.kind, const=None), a)
        if isinstance(node, (exp.Subquery, exp.Select)):
            return self.scalar_subquery(node, scope)
        if isinstance(node, exp.Window):
            return self.window(node, scope)
        if isinstance(node, exp.Grouping):
            return self.grouping(node, scope)
        if isinstance(node, exp.Filter):
            return self.aggregate(node.this, scope, filt=node.expression.this)
        if isinstance(node, exp.AggFunc) or (isinstance(node, exp.Anonymous) and
                                             str(node.this).lower() in _AGG_NAMES):
            return self.aggregate(node, scope)
        if isinstance(node, exp.WithinGroup):
            return self.aggregate(node, scope)
        if isinstance(node, exp.AtTimeZone):
            return self.at_time_zone(node.this, node.args["zone"], scope)
        if isinstance(node, exp.Anonymous) and str(node.this).lower() == "timezone" \
                and len(node.expressions) == 2:
            return self.at_time_zone(node.expressions[1], node.expressions[0], scope)
        if isinstance(node, exp.Func):
            return self.function(node, scope)
        if isinstance(node, exp.Interval):
            raise Unsupported("interval literal form")
        raise Unsupported(f"expression {type(node).__name__}")

    def _unify_values(self, vals: list, what: str) -> tuple[str, list]:
        kinds = {v.kind for v in vals if v.kind != "null"}
        if not kinds:
            return "text", vals
        if kinds <= {"int", "numeric"} and "numeric" in kinds:
            out = []
            for v in vals:
                if v.kind == "int" and not v.is_null:
                    if v.is_const:
                        v = T(L.numeric_sql(Decimal(v.const)), "numeric", const=Decimal(v.const),
                              scale=0, nullable=False)
                    else:
                        v = T(f"toDecimal128({v.sql}, 0)", "numeric", nullable=v.nullable, scale=0,
                              agg=v.agg)
                out.append(v)
            return "numeric", self._unify_scales(out, what)
        if kinds == {"int"}:
            bits = max(v.bits for v in vals if v.kind == "int")
            return "int", [T(f"toInt64({v.sql})", "int", nullable=v.nullable, bits=bits,
                             const=v.const, agg=v.agg) if not v.is_null else v for v in vals]
        if kinds <= {"text", "bpchar"}:
            if kinds == {"bpchar"}:
                return "bpchar", vals
            return "text", vals
        if kinds <= set(_FLOATS):
            return ("float8" if "float8" in kinds else "float4"), vals
        if len(kinds) == 1:
            k = kinds.pop()
            if k == "numeric":
                vals = self._unify_scales(vals, what)
            return k, vals
        raise Unsupported(f"{what} mixes {sorted(kinds)}")

    def _unify_scales(self, vals: list, what: str) -> list:
        """[numeric] ClickHouse needs one Decimal scale per column.  A PG
        numeric keeps each value's own dscale, so mixing scales is only
        value-exact: the lower-scale branches must be constants (the usual
        CASE ... ELSE 0 END), which then print with the higher scale
        (0.0000 for 0) -- sums and comparisons are unaffected."""
        scales = {v.scale for v in vals if v.kind == "numeric" and not v.is_null}
        if len(scales) <= 1:
            return vals
        top = max(scales)
        out = []
        for v in vals:
            if v.kind == "numeric" and not v.is_null and v.scale != top:
                if not v.is_const:
                    raise Unsupported(f"{what} over numerics of different scales")
                v = T(f"toDecimal128({v.sql}, {top})", "numeric", const=v.const, scale=top,
                      nullable=False)
            out.append(v)
        return out

    def case(self, node: exp.Case, scope) -> T:
        if node.this is not None:
            subj = self.value(node.this, scope)
            conds = [self.compare("=", subj, self.value(i.this, scope)) for i in node.args["ifs"]]
        else:
            conds = [self.pred(i.this, scope, False) for i in node.args["ifs"]]
        vals = [self.value(i.args["true"], scope) for i in node.args["ifs"]]
        default = node.args.get("default")
        dv = self.value(default, scope) if default is not None else T("NULL", "null", const=None)
        scales = [_shown_scale(v) for v in vals + [dv]]
        kind, allv = self._unify_values(vals + [dv], "CASE")
        vals, dv = allv[:-1], allv[-1]
        args = []
        for c, v in zip(conds, vals):
            args += [c if c != "NULL" else "0", self._typed_null(v, kind)]
        args.append(self._typed_null(dv, kind))
        ref = next((v for v in allv if not v.is_null), T("NULL", kind, const=None))
        nullable = any(v.nullable for v in allv)
        agg = any(v.agg for v in allv) or any("(" in c for c in conds) and False
        sql = f"multiIf({', '.join(args)})" if len(args) > 1 else args[0]
        if kind == "null" or ref.kind == "null":
            kind = "text"
        # [numeric] each branch keeps its own display scale in PostgreSQL
        shown = _per_row_scale(kind, [c if c != "NULL" else "0" for c in conds], scales, ref.scale)
        return T(sql, kind, nullable=nullable, scale=ref.scale, bits=ref.bits, n=ref.n,
                 maybe_nan=any(v.maybe_nan for v in allv), agg=agg or any(v.agg for v in allv),
                 shown_scale_sql=shown)

    def _typed_null(self, v: T, kind) -> str:
        if v.is_null:
            return "NULL"
        return self.materialize(v).sql

    def _if(self, cond: str, a: T, b: T) -> T:
        kind, (a, b) = self._unify_values([a, b], "NULLIF")
        ref = b if not b.is_null else a
        return T(f"if(coalesce({cond}, 0), {self._typed_null(a, kind)}, {self._typed_null(b, kind)})",
                 kind, nullable=True, scale=ref.scale, bits=ref.bits, n=ref.n,
                 maybe_nan=ref.maybe_nan, agg=a.agg or b.agg)

    def coalesce(self, nodes, scope) -> T:
        vals = [self.value(n, scope) for n in nodes]
        scales = [_shown_scale(v) for v in vals if not v.is_null]
        kind, vals = self._unify_values(vals, "COALESCE")
        live = [v for v in vals if not v.is_null]
        if not live:
            return T("NULL", "text", const=None)
        ref = live[0]
        args = [self.materialize(v).sql for v in live]
        # [numeric] the value taken keeps its own display scale
        shown = _per_row_scale(kind, [f"isNotNull({a})" for a in args[:-1]], scales, ref.scale)
        return T(f"coalesce({', '.join(args)})", kind,
                 nullable=all(v.nullable for v in live), scale=ref.scale, bits=ref.bits, n=ref.n,
                 maybe_nan=any(v.maybe_nan for v in live), agg=any(v.agg for v in live),
                 shown_scale_sql=shown)

    def scalar_subquery(self, node, scope) -> T:
        sql, outs = self.subquery(node, scope)
        if len(outs) != 1:
            raise Unsupported("scalar subquery with several columns")
        t = outs[0][1]
        # an empty scalar subquery is NULL in both engines
        return T(f"({sql})", t.kind, nullable=True, scale=t.scale, bits=t.bits, n=t.n,
                 maybe_nan=t.maybe_nan)

    def literal(self, node: exp.Literal) -> T:
        if node.is_string:
            return T(qs(node.this), "unknown", const=node.this, nullable=False)
        t = str(node.this)
        if re.fullmatch(r"[0-9]+", t):
            v = int(t)
            if v < (1 << 31):
                return T(str(v), "int", const=v, nullable=False, bits=32)
            if v < (1 << 63):
                return T(str(v), "int", const=v, nullable=False, bits=64)
        d = L.numeric_value(t)
        return self._numeric_const(d)

    def _numeric_const(self, d: Decimal) -> T:
        scale = max(0, -d.as_tuple().exponent)
        return T(L.numeric_sql(d), "numeric", const=d, nullable=False, scale=scale)

    def _slot(self, pid, render, shown: str | None = None) -> str:
        self.slots.append((pid, render, shown))
        return f"{SLOT_MARK}{len(self.slots) - 1}{SLOT_MARK}"

    def known(self, node, scope, placeholder: str) -> T:
        """node's value where the ClickHouse SQL needs it spelled out (a
        date_trunc unit, round's digits): a constant, or a parameter, each
        possibly behind casts.  [known-params] A parameter is known only at
        execution: the translation records it (value_params) and is made
        again for each value (ch_fdw/query.py); without values (planning)
        the caller's placeholder stands in, so the rest of the query is
        checked, and a value that cannot be pushed falls back then."""
        saved = self._want_value
        self._want_value = placeholder
        try:
            return self.value(node, scope)
        finally:
            self._want_value = saved

    def parameter(self, node) -> T:
        pid = param_id(node)
        tname = self.param_types.get(pid)
        if tname is None:
            raise Unsupported(f"parameter ${pid} of unknown type")
        kind, pg, n = _classify(tname)
        version = self.version
        if self._want_value is not None:                      # [known-params]
            self.value_params.add(pid)
            values = self.param_values
            text = values[pid] if values is not None and pid in values else self._want_value
            if text is None:
                return T("NULL", kind, const=None, n=n)
            return self.const_of(text, tname)

        if kind == "int":
            def r(v):
                return "NULL" if v is None else f"toInt64({L.int_value(v)})"
        elif kind == "float8":
            def r(v):
                return "NULL" if v is None else f"toFloat64({L.float_sql(L.float8_value(v))})"
        elif kind == "float4":
            def r(v):
                return "NULL" if v is None else L.float4_sql(L.float4_value(v))
        elif kind in ("text", "bpchar"):
            def r(v):
                if v is None:
                    return "NULL"
                return qs(v.rstrip(" ") if kind == "bpchar" else v)
        elif kind == "bool":
            def r(v):
                return "NULL" if v is None else L.bool_sql(L.bool_value(v))
        elif kind == "date":
            def r(v):
                return "CAST(NULL AS Nullable(Date))" if v is None else L.date_sql(L.date_value(v))
        elif kind == "timestamptz":
            def r(v):
                if v is None:
                    return "CAST(NULL AS Nullable(DateTime64(6, 'UTC')))" if version >= (20, 1) else "NULL"
                ts = L.timestamptz_value(v)
                return self._dt64(ts, "UTC")
        elif kind == "timestamp":
            def r(v):
                if v is None:
                    return "NULL"
                return self._dt64(L.timestamp_value(v), "UTC")
        elif kind == "numeric":
            # the scale is the value's own, known only at execution: such a
            # parameter is only compared (predicates.compare); anywhere else
            # translate_query refuses it
            def r(v):
                return "NULL" if v is None else _decimal256(L.numeric_value(v))
            mark = self._slot(pid, r)
            self.cmp_only_marks.append(mark)
            return T(mark, "numeric", nullable=True, scale=0, cmp_only=True)
        else:
            raise Unsupported(f"parameter ${pid} of type {tname}")
        return T(self._slot(pid, r), kind, nullable=True, bits=64, n=n,
                 maybe_nan=kind in _FLOATS)

    def compare_operand(self, t: T) -> T:
        """t as a comparison operand: a numeric parameter gets a slot of its
        own, so its first one left in the SQL means another use."""
        if not t.cmp_only:
            return t
        pid, render, _ = self.slots[int(t.sql.strip(SLOT_MARK))]
        return T(self._slot(pid, render), "numeric", nullable=True, scale=0)

    def _dt64(self, ts: _dt.datetime, tz: str) -> str:
        base = ts.strftime("%Y-%m-%d %H:%M:%S")
        if self.version < (20, 1):
            if ts.microsecond:
                raise Unsupported("fractional seconds on old ClickHouse")
            return f"toDateTime({qs(base)}, {qs(tz)})"
        return f"toDateTime64({qs(base + '.%06d' % ts.microsecond)}, 6, {qs(tz)})"

    def const_of(self, text: str, tname: str) -> T:
        kind, pg, n = _classify(tname)
        if kind == "bpchar":
            s = text.rstrip(" ")
            return T(qs(s), "bpchar", const=s, nullable=False, n=n)
        if kind == "int":
            v = L.int_value(text)
            return T(L.int_sql(v), "int", const=v, nullable=False, bits=pg.bits)
        if kind == "float8":
            v = L.float8_value(text)
            return T(f"toFloat64({L.float_sql(v)})", "float8", const=v, nullable=False,
                     maybe_nan=math.isnan(v))
        if kind == "float4":
            v = L.float4_value(text)
            return T(L.float4_sql(v), "float4", const=v, nullable=False, maybe_nan=math.isnan(v))
        if kind == "numeric":
            v = L.numeric_value(text)
            tm = _numeric_typmod(tname)
            if tm is not None:
                v = v.quantize(Decimal(1).scaleb(-tm[1]), rounding="ROUND_HALF_UP")
            return self._numeric_const(v)
        if kind == "text":
            m = re.search(r"\((\d+)\)", tname)
            if m and len(text) > int(m.group(1)):
                raise Unsupported(f"cast to {tname} (truncation)")
            return T(qs(text), "text", const=text, nullable=False)
        if kind == "bool":
            v = L.bool_value(text)
            return T(L.bool_sql(v), "bool", const=v, nullable=False)
        if kind == "date":
            v = L.date_value(text)
            return T(L.date_sql(v), "date", const=v, nullable=False)
        if kind == "timestamptz":
            v = L.timestamptz_value(text)
            return T(self._dt64(v, "UTC"), "timestamptz", const=v, nullable=False)
        if kind == "timestamp":
            v = L.timestamp_value(text)
            return T(self._dt64(v, "UTC"), "timestamp", const=v, nullable=False)
        raise Unsupported(f"constant of type {tname}")

    def cast(self, node: exp.Cast, scope) -> T:
        to = node.to
        inner = strip_parens(node.this)
        if to.this == exp.DataType.Type.INTERVAL or isinstance(to.this, exp.Interval):
            if isinstance(inner, exp.Literal) and inner.is_string:
                return self.interval_const(inner.this)
            raise Unsupported("non-constant interval")
        tname = pg_type_name(to)
        if tname is None:
            if to.this in (exp.DataType.Type.CHAR, exp.DataType.Type.NCHAR) or \
                    str(to.this).upper().endswith("BPCHAR"):
                tname = "bpchar" if not to.expressions else f"character({to.expressions[0].this.this if isinstance(to.expressions[0], exp.DataTypeParam) else to.expressions[0]})"
            elif to.this == exp.DataType.Type.ARRAY:
                raise Unsupported("array cast")
            else:
                raise Unsupported(f"cast to {to.sql(dialect='postgres')}")
        if isinstance(inner, exp.Literal) and inner.is_string:
            return self.const_of(inner.this, tname)
        if isinstance(inner, exp.Null):
            kind, _, n = _classify(tname)
            return T("NULL", kind, const=None, n=n)
        v = self.value(inner, scope)
        if v.kind == "unknown":
            return self.const_of(v.const, tname)
        return self.convert(v, tname)

    def convert(self, v: T, tname: str) -> T:
        dst, pg, n = _classify(tname)
        src = v.kind
        if v.is_null:
            return T("NULL", dst, const=None, n=n)
        keep = dict(nullable=v.nullable, agg=v.agg)
        if src == "int" and dst == "int":
            if v.is_const:
                return T(v.sql, "int", const=v.const, nullable=False, bits=pg.bits)
            if pg.bits >= v.bits:
                return T(v.sql, "int", bits=pg.bits, **keep)
            # [int-overflow] narrowing: the value, or PG's "out of range"
            return T(checked_int_range(v.sql, pg.bits, self.version), "int", bits=pg.bits, **keep)
        if src in ("int", "numeric") and dst == "numeric":
            tm = _numeric_typmod(tname)
            if src == "int":
                if v.is_const:
                    return self._numeric_const(Decimal(v.const)) if tm is None else \
                        self.const_of(str(v.const), tname)
                # an integer column read as numeric: still comparable as stored
                base = T(f"toDecimal128({v.sql}, 0)", "numeric", scale=0, stored=v.stored,
                         ch=v.ch, **keep)
                if tm is None:
                    return base
                v = base
            if tm is None:
                return v
            p, s = tm
            if v.is_const:
                return self.const_of(str(v.const), tname)
            if v.scale is None:
                # a per-row scale (avg; Django's Round(Avg()) casts it to
                # numeric(1000, 15)): the exact value rounded to s, as PG
                # rounds its avg result; only when the result fits Decimal128
                if v.store_scale is None or v.digits is None:
                    raise Unsupported("numeric(p,s) cast of a per-row scale")
                int_digits = max(v.digits - v.store_scale, 1)
                if int_digits + s > 38:
                    raise Unsupported("numeric(p,s) cast of a per-row scale wider than Decimal128")
            else:
                int_digits = None
            # round half away from zero like PostgreSQL, then fix the scale;
            # [numeric-overflow] beyond p digits PG raises "numeric field overflow"
            r = f"round({v.sql}, {s})"
            if (int_digits is not None and int_digits <= p - s) or p - s > 75:
                # cannot exceed p digits (and no Decimal256 limit to test against)
                return T(f"toDecimal128({r}, {s})", "numeric", scale=s, **keep)
            limit = f"toDecimal256('1{'0' * (p - s)}', 0)"
            check = f"throwIf(ifNull(abs({r}) >= {limit}, 0), 'numeric field overflow')"
            return T(f"(toDecimal128({r}, {s}) + {check})", "numeric", scale=s, **keep)
        if src == "numeric" and dst == "int":
            # PG rounds half away from zero; ClickHouse round() on Decimal does too
            # and raises "out of range" where toIntN() would wrap
            return T(checked_int_range(f"round({v.sql}, 0)", pg.bits, self.version), "int",
                     bits=pg.bits, **keep)
        if src == "int" and dst == "float8":
            return T(f"toFloat64({v.sql})", "float8", **keep)
        if src == "float4" and dst == "float8":
            return T(f"toFloat64({v.sql})", "float8", maybe_nan=v.maybe_nan, **keep)
        if src in ("numeric", "int") and dst == "float8" and v.is_const:
            return self.const_of(str(v.const), "double precision")
        if src == "numeric" and dst == "float8":
            # Decimal -> Float64 is correctly rounded in ClickHouse (via text in PG)
            return T(f"toFloat64({v.sql})", "float8", **keep)
        if src in _TEXTS and dst == "text" and not (pg is not None and pg.has_typmod):
            if v.is_const:
                return T(v.sql, "text", const=v.const, nullable=False)
            return T(v.sql, "text", **keep)
        if src == "text" and dst == "bpchar":
            if n is not None:
                raise Unsupported("cast to character(n) (truncation/padding)")
            return T(f"trimRight({v.sql})", "bpchar", **keep)
        if src == "bpchar" and dst == "bpchar":
            if n is not None and n != v.n:
                raise Unsupported("cast between character lengths")
            return T(v.sql, "bpchar", n=v.n if n is None else n, **keep)
        if src == "text" and dst == "text" and pg.has_typmod:
            raise Unsupported("cast to varchar(n) (truncation)")
        if src == "int" and dst == "text":
            return T(f"toString({v.sql})", "text", **keep)
        if src == "date" and dst == "timestamp":
            if v.is_const:
                return self._ts_const(_dt.datetime.combine(v.const, _dt.time()))
            return T(f"toDateTime64({v.sql}, 6, 'UTC')", "timestamp", **keep)   # [wide-dates]
        if src == "timestamp" and dst == "date":
            return T(f"toDate32({v.sql})", "date", **keep)
        if src == "date" and dst == "timestamptz":
            return self.date_to_tstz(v)
        if src == "timestamptz" and dst == "date":
            tz = self.need_tz("timestamptz to date")
            return T(f"toDate32({v.sql}, {qs(tz)})", "date", **keep)
        if src == "timestamp" and dst == "timestamptz":
            return self.ts_to_tstz(v)
        if src == "timestamptz" and dst == "timestamp":
            tz = self.need_tz("timestamptz to timestamp")
            return self._tstz_to_ts(v, tz)
        if src == dst and src not in ("numeric", "int") and not (pg is not None and pg.has_typmod):
            return v
        if src == "bool" and dst == "int" and pg.bits == 32:
            return T(f"toInt32({v.sql})", "int", bits=32, **keep)
        raise Unsupported(f"cast {src} -> {tname}")


def _decimal256(d) -> str:
    """A numeric parameter's value at its own scale (Decimal256: 76 digits)."""
    sign, digits, exp_ = d.as_tuple()
    scale = max(0, -exp_)
    text = format(d, "f")
    if scale > 75 or len(text.lstrip("-").split(".")[0].lstrip("0")) + scale > 76:
        raise Unsupported("numeric parameter beyond Decimal256")
    return f"toDecimal256({qs(text)}, {scale})"


def _shown_scale(v: T):
    """The display scale PostgreSQL gives v as a numeric: an integer's is 0."""
    if v.is_null:
        return None
    if v.kind == "int":
        return 0
    return v.scale if v.kind == "numeric" else None


def _per_row_scale(kind: str, conds: list, scales: list, top):
    """multiIf(cond1, scale1, ..., else scale): the display scale of the
    branch taken; None unless numeric branches of different scales meet."""
    if kind != "numeric" or len({sc for sc in scales if sc is not None}) <= 1:
        return None
    scales = [top if sc is None else sc for sc in scales]
    args = [x for c, sc in zip(conds, scales) for x in (c, str(sc))] + [str(scales[len(conds)])]
    return f"multiIf({', '.join(args)})" if len(args) > 1 else args[0]
