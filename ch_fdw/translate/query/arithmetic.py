"""Arithmetic: + - * / % and unary minus over integers, numerics and floats.

Rules owned here:
  [int-div]      integer / -> intDiv (truncates toward zero, throws on 0 like
                 PG); % keeps the sign of the dividend.
  [int-overflow] + - * / and unary minus range-checked at PG's result type
                 (shared.checked_int): PG's "out of range", never a wrap.
  [numeric]      numeric values are ClickHouse Decimals with PostgreSQL's
                 dscale (+,-: max scale, *: sum of scales); division rounds
                 like PG's select_div_scale to at least 16 significant digits
                 (_numeric_div).
  [numeric-overflow] products are computed in Decimal256, which cannot wrap
                 for Decimal128 operands.
  [div-zero]     float and numeric division by zero raise an error like PG
                 (ClickHouse would return inf/nan or 0).
"""

from __future__ import annotations

import math
from decimal import Decimal

from sqlglot import exp

from .. import literals as L
from ..literals import Unsupported
from ..shared import checked_int
from . import numeric_scale as NS
from .context import T, _FLOATS
from ...refusals import FALLBACK_MARK


class Arithmetic:
    def negate(self, v: T) -> T:
        if v.is_null:
            return v
        if v.kind == "int":
            if v.is_const:
                return T(L.int_sql(-v.const), "int", const=-v.const, nullable=False, bits=v.bits)
            return T(checked_int("-", v.sql, None, v.bits, self.version), "int",
                     nullable=v.nullable, bits=v.bits, agg=v.agg)
        if v.kind == "numeric":
            if v.is_const:
                return self._numeric_const(-v.const)
            return T(f"(-{v.sql})", "numeric", nullable=v.nullable, scale=v.scale, agg=v.agg)
        if v.kind in _FLOATS:
            if v.is_const:
                return T(f"(-{v.sql})", v.kind, const=-v.const, nullable=False)
            return T(f"(-{v.sql})", v.kind, nullable=v.nullable, maybe_nan=v.maybe_nan, agg=v.agg)
        raise Unsupported(f"unary minus on {v.kind}")

    def arith(self, node, scope) -> T:
        a, b = self.value(node.this, scope), self.value(node.expression, scope)
        op = {exp.Add: "+", exp.Sub: "-", exp.Mul: "*", exp.Div: "/", exp.Mod: "%"}[type(node)]
        agg = a.agg or b.agg
        nullable = a.nullable or b.nullable
        if "interval" in (a.kind, b.kind):
            if op == "+" and a.kind == "interval":
                a, b = b, a
            if b.kind != "interval" or op not in "+-" or a.kind == "interval":
                raise Unsupported("interval arithmetic")
            return self._interval_apply(a, b, 1 if op == "+" else -1)
        if a.is_null or b.is_null:
            k = a.kind if a.kind != "null" else b.kind
            return T("NULL", k, const=None)
        if a.kind == "date" and b.kind == "int" and op in "+-":
            return self.date_add_days(a, b, 1 if op == "+" else -1)      # [wide-dates]
        if a.kind == "int" and b.kind == "date" and op == "+":
            return self.date_add_days(b, a, 1)
        if a.kind == "date" and b.kind == "date" and op == "-":
            return T(f"(toInt32({a.sql}) - toInt32({b.sql}))", "int", bits=32,
                     nullable=nullable, agg=agg)
        if a.kind == "int" and b.kind == "int":
            # [int-div] [int-overflow] PG computes in the wider operand type
            # and raises on overflow: checked_int gives its value or error
            bits = max(a.bits, b.bits)
            if op == "%":
                wide = "toInt128" if bits > 32 else "toInt64"
                return T(f"toInt64({wide}({a.sql}) % {wide}({b.sql}))", "int", bits=bits,
                         nullable=nullable, agg=agg)
            if op == "/" and b.is_const and b.const not in (0, -1):
                # |a / b| <= |a|: cannot overflow
                return T(f"intDiv({self._i64(a)}, {b.sql})", "int", bits=bits, nullable=nullable, agg=agg)
            return T(checked_int(op, a.sql, b.sql, bits, self.version), "int", bits=bits,
                     nullable=nullable, agg=agg)
        if a.kind in ("int", "numeric") and b.kind in ("int", "numeric"):
            return self.numeric_arith(op, self._to_num(a), self._to_num(b))
        if a.kind in _FLOATS and b.kind in _FLOATS or (
                a.kind in _FLOATS and b.kind == "int" and b.is_const) or (
                b.kind in _FLOATS and a.kind == "int" and a.is_const):
            if a.kind != b.kind and "float4" in (a.kind, b.kind) and "float8" not in (a.kind, b.kind):
                raise Unsupported("float4 arithmetic")
            kind = "float8" if "float8" in (a.kind, b.kind) else "float4"
            if kind == "float4":
                raise Unsupported("real arithmetic (float32 rounding)")
            sa = a.sql if a.kind in _FLOATS else f"toFloat64({a.sql})"
            sb = b.sql if b.kind in _FLOATS else f"toFloat64({b.sql})"
            if op == "%":
                raise Unsupported("float %")
            if op == "/":
                # [div-zero] PG raises on x / 0.0; ClickHouse returns inf/nan
                if not (b.is_const and b.const not in (0, 0.0) and not math.isnan(b.const)):
                    sb = self._nonzero(sb, "Float64")
            return T(f"({sa} {op} {sb})", "float8", nullable=nullable, maybe_nan=True, agg=agg)
        raise Unsupported(f"arithmetic {a.kind} {op} {b.kind}")

    def _nonzero(self, s: str, ty: str) -> str:
        self.need((21, 9), "guarded division")
        return f"if({s} = 0, to{ty}(throwIf(ifNull({s} = 0, 0), 'division by zero')), {s})"

    @staticmethod
    def _i64(v: T) -> str:
        return v.sql if v.is_const else f"toInt64({v.sql})"

    def _to_num(self, v: T) -> T:
        if v.kind == "numeric":
            return v
        if v.is_const:
            return self._numeric_const(Decimal(v.const))
        return T(f"toDecimal128({v.sql}, 0)", "numeric", nullable=v.nullable, scale=0, agg=v.agg,
                 digits={16: 5, 32: 10}.get(v.bits, 19))

    def numeric_arith(self, op, a: T, b: T) -> T:
        # [numeric] scale rules equal PostgreSQL's dscale rules for + - *
        if a.scale is None or b.scale is None:
            return self._dynamic_arith(op, a, b)
        nullable, agg = a.nullable or b.nullable, a.agg or b.agg
        if op in "+-":
            if a.is_const and b.is_const:
                return self._numeric_const(a.const + b.const if op == "+" else a.const - b.const)
            return T(f"({a.sql} {op} {b.sql})", "numeric", nullable=nullable,
                     scale=max(a.scale, b.scale), agg=agg)
        if op == "*":
            if a.is_const and b.is_const:
                return self._numeric_const(a.const * b.const)
            s = a.scale + b.scale
            if s > 38:
                raise Unsupported("numeric product scale > 38")
            # [numeric-overflow] Decimal128 * Decimal128 wraps in ClickHouse;
            # the product of two 38-digit operands always fits Decimal256's
            # 76 digits (and _dec128 raises, never wraps, when narrowing back)
            return T(f"(toDecimal256({self._dec128(a)}, {a.scale}) * "
                     f"toDecimal256({self._dec128(b)}, {b.scale}))", "numeric", nullable=nullable,
                     scale=s, agg=agg)
        if op == "/":
            return self._numeric_div(a, b)
        if op == "%":
            raise Unsupported("numeric %")
        raise Unsupported(f"numeric {op}")

    def _dynamic_arith(self, op, a: T, b: T) -> T:
        """[numeric] + - * where one operand has a per-row display scale (an
        avg) and the other is a constant: PG's dscale rules applied per row
        (max for + -, sum for *), the value exact in Decimal256 while the
        raw digits provably fit (76)."""
        if op == "*" and b.scale is None and a.is_const:
            a, b = b, a
        if op not in "+-*" or b.scale is None or not b.is_const or a.dscale_sql is None:
            raise Unsupported("arithmetic on a numeric with a per-row scale (avg) "
                              "other than with a constant")
        c = b.const
        cs = max(0, -c.as_tuple().exponent)
        craw = len(str(abs(int(c.scaleb(cs)))))
        sa, d = a.store_scale, a.dscale_sql
        cd = f"toDecimal256({b.sql}, {cs})"
        if op == "*":
            digits, ss, ds = a.digits + craw, sa + cs, f"({d} + {cs})"
            sql = f"(toDecimal256({a.sql}, {sa}) * {cd})"
        else:
            ss = max(sa, cs)
            digits = max(a.digits + ss - sa, craw + ss - cs) + 1
            ds = f"greatest({d}, {cs})"
            sql = f"(toDecimal256({a.sql}, {sa}) {op} {cd})"
        if digits > 76 or ss > 76:
            raise Unsupported("numeric with a per-row scale: result wider than Decimal256")
        return T(sql, "numeric", nullable=a.nullable, scale=None, agg=a.agg or b.agg,
                 dscale_sql=ds, store_scale=ss, digits=digits)

    def _dec128(self, v: T) -> str:
        if v.is_const:
            return v.sql     # toDecimal128 already
        return f"toDecimal128({v.sql}, {v.scale})"

    def _numeric_div(self, a: T, b: T) -> T:
        """[numeric] [div-scale] a / b rounded as PostgreSQL does, to a
        per-row scale (numeric_scale.py): divideDecimal truncates the exact
        quotient at cs > rscale digits and round() (half away from zero for
        Decimals) takes it to rscale, which is also the display scale.  cs
        is sized from the operands' digit and scale bounds so that the
        quotient fits Decimal256; a row whose rscale would pass cs raises a
        refusal (the query falls back).  NULL / 0 is NULL; x / 0 raises
        PostgreSQL's error."""
        if a.is_const and b.is_const and b.const != 0:
            return self._numeric_const(NS.numeric_div(a.const, b.const))
        self.need((24, 8), "numeric division (round with a column scale)")
        sa, sb = a.scale, b.scale
        da, db = self._raw_digits(a), self._raw_digits(b)
        whole = da - sa + sb                     # |a / b| < 10^whole
        rmax = max(sa, sb, NS.MIN_SIG_DIGITS - 4 * (NS.min_weight(sa) - NS.max_weight(db, sb) - 1))
        cs = min(75 - whole, rmax + 1)           # the rounded raw value stays below 10^76
        if cs < max(sa, sb) + 1:
            raise Unsupported("numeric division: quotient wider than Decimal256")
        wa, wb = NS.weight_first_sql("p.1", sa), NS.weight_first_sql("p.2", sb)
        rscale = NS.div_scale_sql(wa, wb, (sa, sb))
        if rmax + 1 > cs:
            rscale = (f"if({rscale} >= {cs}, toUInt8(throwIf({rscale} >= {cs}, 'numeric quotient "
                      f"scale beyond Decimal256 {FALLBACK_MARK}')), {rscale})")
        divisor = "p.2" if b.is_const else \
            f"if(p.2 = 0, toDecimal128(throwIf(p.2 = 0, 'division by zero'), {sb}), p.2)"
        value = f"round(divideDecimal(p.1, {divisor}, {cs}), {rscale})"
        pair = f"tuple({self._dec128(a)}, {self._dec128(b)})"
        nullable = a.nullable or b.nullable
        if nullable:
            pair = f"tuple(assumeNotNull({self._dec128(a)}), assumeNotNull({self._dec128(b)}))"

        def bind(body):     # body over p = (a, b), each computed once; NULL in, NULL out
            e = f"arrayMap(p -> {body}, [{pair}])[1]"
            if nullable:
                e = f"if(isNull({a.sql}) OR isNull({b.sql}), NULL, {e})"
            return e
        return T(bind(value), "numeric", nullable=nullable, scale=None, agg=a.agg or b.agg,
                 dscale_sql=bind(rscale), store_scale=cs, digits=whole + cs + 1)

    @staticmethod
    def _raw_digits(v: T) -> int:
        """|v * 10^scale| < 10^digits."""
        if v.is_const:
            return max(1, len(str(abs(int(v.const.scaleb(v.scale))))))
        return v.digits or 38
