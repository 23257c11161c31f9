"""Aggregates and windows: count/sum/avg/min/max, bool_and/or, string_agg,
array_agg, statistics, percentiles (WITHIN GROUP), FILTER, DISTINCT
aggregates, and window functions over PARTITION BY / ORDER BY.

Rules owned here:
  [empty-agg]    sum/avg/min/max/... use the -OrNull combinator (PG returns
                 NULL over empty input or an empty FILTER).
  [agg-level]    an aggregate over outer-query columns only is refused
                 (relations.check_aggregate_level).
  [collation]    min/max/ordered aggregates over text only under C collation.
  [avg-scale]    avg(integer) with PostgreSQL's per-group result scale and exact
                 value (_avg_int).
  [lag-lead]     lag/lead: see _lag_lead.
  [windows]      row_number/rank/dense_rank and sum/count/min/max/avg OVER
                 (...) with PG's default frame (RANGE UNBOUNDED PRECEDING ..
                 CURRENT ROW, peers included, stated explicitly); only single
                 aggregate calls become window functions (a guarded
                 aggregate such as min/max of a float is refused) except
                 avg of int/numeric: _avg_exact over window sum and count
                 (its per-row display scale); explicit window frames
                 (ROWS/RANGE ...) and lag/lead are refused.
"""

from __future__ import annotations

import re

from sqlglot import exp

from ...refusals import FALLBACK_MARK
from ..literals import Unsupported
from ..quoting import quote_string as qs
from .context import T, _FLOATS, _TEXTS


def _balanced(args: str) -> bool:
    """args is one call's argument list: its parentheses never close early
    (so `f(a) + g(b)` is not taken for one call)."""
    depth, quoted = 0, False
    for i, ch in enumerate(args):
        if ch == "'" and (i == 0 or args[i - 1] != "\\"):
            quoted = not quoted
        elif not quoted and ch == "(":
            depth += 1
        elif not quoted and ch == ")":
            depth -= 1
            if depth < 0:
                return False
    return depth == 0


class Aggregates:
    def aggregate(self, node, scope, filt=None) -> T:
        self.check_aggregate_level([node, filt], scope)                # [agg-level]
        within = None
        if isinstance(node, exp.WithinGroup):
            within = node.expression
            node = node.this
        distinct = False
        fname = type(node).__name__.lower() if not isinstance(node, exp.Anonymous) else str(node.this).lower()
        arg = node.this if not isinstance(node, exp.Anonymous) else (node.expressions[0] if node.expressions else None)
        order_in = None
        if isinstance(arg, exp.Distinct):
            distinct = True
            if len(arg.expressions) != 1:
                raise Unsupported("DISTINCT aggregate over several arguments")
            arg = arg.expressions[0]
        if isinstance(arg, exp.Order):
            order_in = arg
            arg = arg.this
        cond = None
        if filt is not None:
            cond = self.pred(filt, scope, False)
        if cond is not None and not self.modern:
            raise Unsupported("FILTER on old ClickHouse")
        star = isinstance(arg, exp.Star)
        v = None if (star or arg is None) else self.value(arg, scope)
        if v is not None and v.agg:
            raise Unsupported("nested aggregate")

        def comb(base, args: list[str], ornull=True):
            # [empty-agg] OrNull: NULL over empty input like PostgreSQL
            name = base
            if cond is not None:
                name += "If"
                args = args + [cond]
            if ornull:
                name += "OrNull"
            # a window avg: every aggregate it is made of runs over the window
            return f"{name}({', '.join(args)}){getattr(self, '_window_over', '')}"

        if fname == "count":
            if star:
                return T(comb("count", [], False), "int", nullable=False, bits=64, agg=True)
            if distinct:
                return T(comb("uniqExact", [v.sql], False), "int", nullable=False, bits=64, agg=True)
            return T(comb("count", [v.sql], False), "int", nullable=False, bits=64, agg=True)
        if distinct and fname not in ("sum", "avg", "min", "max", "groupconcat", "arrayagg"):
            raise Unsupported(f"{fname}(DISTINCT)")
        dsuf = "Distinct" if distinct else ""
        if fname == "sum":
            if v.kind == "int":
                if v.bits <= 32:
                    return T(comb("sum" + dsuf, [f"toInt64({v.sql})"]), "int", bits=64, agg=True)
                return T(comb("sum" + dsuf, [f"toDecimal128({v.sql}, 0)"]), "numeric", scale=0, agg=True)
            if v.kind == "numeric":
                if v.scale is None:
                    raise Unsupported("sum of a numeric with a per-row scale")
                shown = None
                if v.shown_scale_sql is not None and not distinct:
                    # [numeric] PostgreSQL's sum shows the widest scale it added
                    shown = comb("max", [f"if(isNull({v.sql}), NULL, {v.shown_scale_sql})"])
                # Decimal256: a Decimal128 sum wraps silently past 38 digits
                return T(comb("sum" + dsuf, [f"toDecimal256({self._dec128(v)}, {v.scale})"]), "numeric",
                         scale=v.scale, agg=True, shown_scale_sql=shown)
            if v.kind == "float8":
                return T(comb("sum" + dsuf, [v.sql]), "float8", maybe_nan=True, agg=True)
            raise Unsupported(f"sum({v.kind})")
        if fname == "avg":
            if v.kind in ("int", "numeric"):
                return self._avg_exact(v, comb, dsuf, distinct)
            if v.kind in ("int", "numeric"):
                self.need((22, 12), "avg of integer/numeric")
                num = v if v.kind == "numeric" else T(f"toDecimal128({v.sql}, 0)", "numeric", scale=0)
                s = T(comb("sum" + dsuf, [self._dec128(num)]), "numeric", scale=num.scale, agg=True)
                c = T(comb("count" if not distinct else "uniqExact", [v.sql], False),
                      "numeric", scale=0, agg=True, nullable=False)
                # count = 0 -> NULL divisor -> NULL result (never a division error)
                c = T(f"nullIf(toDecimal128({c.sql}, 0), 0)", "numeric", scale=0, agg=True)
                # count = 0 -> sum is NULL -> NULL (the guard only protects the division)
                q = self._numeric_div(s, c)
                return T(q.sql, "numeric", scale=q.scale, agg=True)
            if v.kind == "float8":
                return T(comb("avg" + dsuf, [v.sql]), "float8", maybe_nan=True, agg=True)
            raise Unsupported(f"avg({v.kind})")
        if fname in ("min", "max"):
            if v.kind in _TEXTS and not self.dialect.text_collation_c:
                raise Unsupported(f"{fname}(text) under a non-C collation")    # [collation]
            if v.kind in _FLOATS:
                # PG: NaN sorts above every number; ClickHouse ignores/propagates it
                if cond is not None:
                    raise Unsupported(f"{fname}(float) with FILTER")
                x = v.sql
                if fname == "max":
                    sql = f"if(countIf(isNaN({x})) > 0, nan, maxOrNull({x}))"
                else:
                    sql = (f"if(count({x}) > 0 AND countIf(isNaN({x})) = count({x}), nan, "
                           f"minOrNull(if(isNaN({x}), NULL, {x})))")
                return T(sql, v.kind, maybe_nan=True, agg=True)
            if v.kind in ("interval", "unknown"):
                raise Unsupported(f"{fname}({v.kind})")
            return T(comb(fname, [v.sql]), v.kind, scale=v.scale, bits=v.bits, n=v.n, agg=True)
        if fname in ("logicaland", "logicalor", "bool_and", "bool_or", "every"):
            if v.kind != "bool":
                raise Unsupported("bool_and/or on non-boolean")
            f = "min" if fname in ("logicaland", "bool_and", "every") else "max"
            return T(comb(f, [f"toUInt8({v.sql})"]), "bool", agg=True)
        if fname in ("groupconcat", "string_agg"):
            sep_node = node.args.get("separator")
            sep = self.value(sep_node, scope) if sep_node is not None else None
            if sep is None or sep.kind not in _TEXTS + ("unknown",) or not sep.is_const:
                raise Unsupported("string_agg with a non-constant separator")
            if v.kind not in _TEXTS:
                raise Unsupported("string_agg on non-text")
            if distinct:
                raise Unsupported("string_agg(DISTINCT)")
            arr = self._ordered_group_array(v, order_in, scope, cond)
            cnt = comb("count", [v.sql], False)
            return T(f"if({cnt} = 0, NULL, arrayStringConcat({arr}, {qs(sep.const)}))", "text", agg=True)
        if fname in ("stddev", "stddevsamp", "stddev_samp", "variance", "variancesamp",
                     "var_samp", "stddevpop", "stddev_pop", "variancepop", "var_pop"):
            if v.kind != "float8":
                raise Unsupported(f"{fname} on {v.kind} (PostgreSQL returns numeric)")
            samp = "pop" not in fname
            f = {"std": "stddev", "var": "var"}["std" if "std" in fname else "var"]
            f = f + ("Samp" if samp else "Pop")
            if f == "stddevSamp" or f == "stddevPop":
                pass
            f = {"stddevSamp": "stddevSampStable", "stddevPop": "stddevPopStable",
                 "varSamp": "varSampStable", "varPop": "varPopStable"}[f]
            cnt = comb("count", [v.sql], False)
            need = 2 if samp else 1
            return T(f"if({cnt} < {need}, NULL, {comb(f, [v.sql], False)})", "float8",
                     maybe_nan=True, agg=True)
        if fname in ("percentilecont", "percentiledisc"):
            if within is None or len(within.expressions) != 1:
                raise Unsupported("percentile without a single ORDER BY")
            o = within.expressions[0]
            frac = self.value(arg, scope)
            if not frac.is_const or frac.const is None:
                raise Unsupported("percentile fraction must be constant")
            f = float(frac.const)
            if not 0 <= f <= 1:
                raise Unsupported("percentile fraction outside [0,1]")
            x = self.value(o.this, scope)
            if bool(o.args.get("desc")):
                f = 1 - f
            if fname == "percentilecont":
                if x.kind != "float8":
                    raise Unsupported("percentile_cont on non-float8")
                return T(f"if({comb('count', [x.sql], False)} = 0, NULL, "
                         f"{comb(f'quantileExactInclusive({f!r})'.replace('(', '', 0), [x.sql], False)})",
                         "float8", agg=True, maybe_nan=True).__class__(
                    f"if({comb('count', [x.sql], False)} = 0, NULL, "
                    f"quantileExactInclusive{'If' if cond else ''}({f!r})({x.sql}{', ' + cond if cond else ''}))",
                    "float8", agg=True, maybe_nan=True)
            raise Unsupported("percentile_disc")
        if fname == "arrayagg":
            raise Unsupported("array_agg (NULL elements and array output)")
        raise Unsupported(f"aggregate {fname}")

    def _avg_exact(self, v: T, comb, dsuf: str, distinct: bool) -> T:
        """[avg-scale] avg(integer/numeric) exactly as PostgreSQL: sum / count
        rounded half away from zero to select_div_scale's per-group scale
        (16 significant digits counted in base-10000 weights: rscale =
        max(16 - 4 * qweight, dscale of the sum)).  Integer sums are exact
        in Int128 (|sum| < 2^126), numeric sums in Decimal128; the quotient
        is taken to rscale_max + 1 digits in Decimal256 (exact for counts
        below 10^16 rows, checked), and the value is also formatted with its
        own scale for the output (PostgreSQL's text shows it)."""
        self.need((24, 8), "avg with a per-group display scale (round with a column scale)")
        sa = v.scale if v.kind == "numeric" else 0
        if sa is None:
            raise Unsupported("avg of a numeric with a per-row scale")
        # a Decimal128 sum wraps silently past 38 digits: sum in Decimal256
        arg = f"toInt128({v.sql})" if v.kind == "int" else f"toDecimal256({self._dec128(v)}, {sa})"
        s = comb("sum" + dsuf, [arg])
        c = comb("count" if not distinct else "uniqExact", [v.sql], False)
        # bounds: |sum| < 10^(38 - sa) and >= 10^-sa when non-zero; count < 10^16
        w1_min = -((sa + 3) // 4)
        rmax = max(16 - 4 * (w1_min - 3 - 1), sa)
        cs = rmax + 1                                   # one digit beyond rscale
        if (38 - sa) + cs > 76:
            raise Unsupported(f"avg of numeric scale {sa} (quotient wider than Decimal256)")
        # digits of |sum| as an integer (sum * 10^sa), without leading zeros:
        # computed once per group as p.3 (see bind), for the text repeats it
        # and ClickHouse's analysis time grows with the expression's size
        digits_of = (f"replaceRegexpOne(replaceOne(toDecimalString(toDecimal256(abs(assumeNotNull({s})), "
                     f"{sa}), {sa}), '.', ''), '^0+', '')")
        digits = "p.3"
        e1 = f"(toInt32(length({digits})) - 1 - {sa})"      # decimal exponent of the sum
        w1 = f"toInt32(floor({e1} / 4))"
        f1 = (f"if(p.1 = 0, 0, toUInt32(substring(concat({digits}, '000'), 1, "
              f"toUInt64({e1} - 4 * {w1} + 1))))")
        w1 = f"if(p.1 = 0, 0, {w1})"
        e2 = "(toInt32(length(toString(p.2))) - 1)"
        w2 = f"intDiv({e2}, 4)"
        f2 = f"toUInt32(substring(toString(p.2), 1, toUInt64({e2} - 4 * {w2} + 1)))"
        rscale = f"toUInt8(greatest({sa}, 16 - 4 * ({w1} - {w2} - toInt32({f1} <= {f2}))))"
        q = f"divideDecimal(toDecimal256(p.1, {sa}), toDecimal256(p.2, 0), {cs})"
        value = f"round({q}, {rscale})"

        def bind(body):     # evaluate body with p = (sum, count, digits) computed once
            guard = (f"throwIf(toUInt64({c}) >= 10000000000000000, "
                     f"'avg over 10^16 rows or more {FALLBACK_MARK}')")
            return (f"if({c} = 0, NULL, arrayMap(p -> {body}, "
                    f"[tuple(assumeNotNull({s}), toUInt64({c}) + {guard}, {digits_of})])[1])")
        # scale=None: the display scale is per group (dscale_sql)
        digits = (19 if v.kind == "int" else 38 - sa) + cs
        return T(bind(value), "numeric", scale=None, agg=True, dscale_sql=bind(rscale),
                 store_scale=cs, digits=digits)

    def grouping(self, node, scope) -> T:
        """[grouping] GROUPING(a, b): PostgreSQL's bit mask (bit set = key not
        grouped in this row's set) is ClickHouse's grouping() under
        force_grouping_standard_compatibility (the default since 22.9)."""
        self.need((22, 9), "GROUPING()")
        if not self.grouping_sets:
            raise Unsupported("GROUPING() without ROLLUP/CUBE/GROUPING SETS")
        args = [self.value(e, scope) for e in node.expressions]
        if not args or len(args) > 31:
            raise Unsupported("GROUPING() arity")
        return T(f"toInt32(grouping({', '.join(a.sql for a in args)}))", "int", bits=32,
                 nullable=False, agg=True)

    def _ordered_group_array(self, v: T, order, scope, cond) -> str:
        suffix = "If" if cond else ""
        c = f", {cond}" if cond else ""
        if order is None:
            return f"groupArray{suffix}({v.sql}{c})"
        if len(order.expressions) != 1:
            raise Unsupported("aggregate ORDER BY with several keys")
        o = order.expressions[0]
        key = self.value(o.this, scope)
        desc = bool(o.args.get("desc"))
        nf = o.args.get("nulls_first")
        nulls_first = desc if nf is None else bool(nf)
        if key.kind in _TEXTS and not self.dialect.text_collation_c:
            raise Unsupported("aggregate ORDER BY text under a non-C collation")
        if key.kind in _FLOATS:
            raise Unsupported("aggregate ORDER BY float")
        # sort (isNull(key), key) pairs; groupArray drops rows whose value is NULL
        # (PG's string_agg ignores NULL values too)
        nullkey = f"isNull({key.sql})" if nulls_first == desc else f"isNotNull({key.sql})"
        if not key.nullable:
            nullkey = "0"
        arr = f"groupArray{suffix}(tuple({v.sql}, {nullkey}, {key.sql}){c})"
        arr = f"arrayFilter(x -> isNotNull(x.1), {arr})"
        fn = "arrayReverseSort" if desc else "arraySort"
        return f"arrayMap(x -> assumeNotNull(x.1), {fn}(x -> (x.2, x.3), {arr}))"

    def window(self, node: exp.Window, scope) -> T:
        self.need((21, 9), "window functions")
        fn = node.this
        spec = []
        parts = node.args.get("partition_by") or []
        if parts:
            spec.append("PARTITION BY " + ", ".join(self.value(p, scope).sql for p in parts))
        order = node.args.get("order")
        keys = []
        if order is not None:
            for o in order.expressions:
                desc = bool(o.args.get("desc"))
                nf = o.args.get("nulls_first")
                keys += self.sort_key(self.value(o.this, scope), desc, desc if nf is None else bool(nf))
        partition = list(spec)
        if keys:
            # [windows] PostgreSQL's default frame with ORDER BY, peers included
            spec.append("ORDER BY " + ", ".join(keys) +
                        " RANGE BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW")
        if node.args.get("spec") is not None:
            raise Unsupported("explicit window frame")
        fname = type(fn).__name__.lower() if not isinstance(fn, exp.Anonymous) else str(fn.this).lower()
        over = " OVER (" + " ".join(spec) + ")"
        if fname in ("lag", "lead"):
            if not keys:
                raise Unsupported(f"{fname} without ORDER BY (PostgreSQL's row order is arbitrary)")
            rows = " OVER (" + " ".join(partition + ["ORDER BY " + ", ".join(keys) +
                                                     " ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING"]) + ")"
            return self._lag_lead(fn, fname, scope, rows, " OVER (" + " ".join(partition) + ")")
        if fname in ("rownumber", "row_number"):
            return T(f"toInt64(row_number(){over})", "int", bits=64, nullable=False)
        if fname in ("rank", "denserank", "dense_rank"):
            f = "rank" if fname == "rank" else "dense_rank"
            return T(f"toInt64({f}(){over})", "int", bits=64, nullable=False)
        if isinstance(fn, exp.Avg) and self.value(fn.this, scope).kind in ("int", "numeric"):
            # [avg-scale] PostgreSQL's per-row display scale: _avg_exact with
            # its sum and count as window functions over the same window
            if isinstance(fn.this, exp.Distinct):
                raise Unsupported("DISTINCT in a window aggregate")
            self._window_over = over
            try:
                return self.aggregate(fn, scope)
            finally:
                del self._window_over
        if isinstance(fn, (exp.Sum, exp.Count, exp.Min, exp.Max, exp.Avg)):
            return self._window_agg(fn, scope, over)
        raise Unsupported(f"window function {fname}")

    def _lag_lead(self, fn, fname, scope, rows_over, partition_over) -> T:
        """[lag-lead] lag/lead(x [, n [, default]]): lagInFrame/leadInFrame
        over the whole partition (a ROWS frame: the InFrame functions see
        only the frame); x made Nullable so a row outside the partition is
        NULL, not the type's default; a default replaces only those rows."""
        args = fn.expressions if isinstance(fn, exp.Anonymous) else \
            [a for a in (fn.this, fn.args.get("offset"), fn.args.get("default")) if a is not None]
        if not 1 <= len(args) <= 3:
            raise Unsupported(f"{fname} arity")
        x = self.value(args[0], scope)
        n = self.known(args[1], scope, "1") if len(args) > 1 else T("1", "int", const=1)
        if not n.is_const or n.kind != "int" or n.const is None or n.const < 0:
            raise Unsupported(f"{fname} with an offset that is not a non-negative constant")
        f = "lagInFrame" if fname == "lag" else "leadInFrame"
        sql = f"{f}(toNullable({x.sql}), {n.const}){rows_over}"
        if len(args) == 3:
            d = self.value(args[2], scope)
            if d.kind == "unknown":
                raise Unsupported(f"{fname} with an untyped default")
            if not d.is_null:
                kind, (xv, dv) = self._unify_values([T(sql, x.kind, scale=x.scale, bits=x.bits, n=x.n), d],
                                                     f"{fname} default")
                if kind != x.kind or not dv.is_const:
                    raise Unsupported(f"{fname} with a default of another type or not constant")
                pos = f"row_number(){rows_over}"
                outside = (f"{pos} <= {n.const}" if fname == "lag"
                           else f"{pos} + {n.const} > count(){partition_over}")
                sql = f"if({outside}, {self.materialize(dv).sql}, {xv.sql})"
        return T(sql, x.kind, nullable=True, scale=x.scale, bits=x.bits, n=x.n,
                 maybe_nan=x.maybe_nan)

    def _window_agg(self, fn, scope, over) -> T:
        """An aggregate as a window function: only where the aggregate is a
        single ClickHouse aggregate call (the guards some aggregates wrap
        around it, if(...), are not window functions)."""
        if isinstance(fn.this, exp.Distinct):
            raise Unsupported("DISTINCT in a window aggregate")
        inner = self.aggregate(fn, scope)
        if inner.kind == "numeric" and inner.scale is None:
            raise Unsupported("a per-row-scale aggregate as a window function")
        m = re.fullmatch(r"([A-Za-z]+)\((.*)\)", inner.sql, re.S)
        if m is None or not m.group(1).startswith(("count", "sum", "min", "max", "avg")) \
                or not _balanced(m.group(2)):
            raise Unsupported(f"window {type(fn).__name__.lower()} over {inner.kind}")
        return T(inner.sql + over, inner.kind, scale=inner.scale, bits=inner.bits,
                 n=inner.n, nullable=inner.nullable, maybe_nan=inner.maybe_nan)
