"""Scalar functions: string functions, math functions, GREATEST/LEAST and
the other named functions with an exact ClickHouse equivalent; anything
else is refused by name.

Rules owned here:
  [utf8]         length/substring/position/lower/upper use ClickHouse's UTF8
                 variants (PG counts characters, not bytes).
  [greatest]     GREATEST/LEAST ignore NULL arguments like PG (ClickHouse
                 returns NULL); refused on floats (NaN order) and on text
                 under a non-C collation.
"""

from __future__ import annotations

from sqlglot import exp

from ..literals import Unsupported
from ..shared import checked_int
from .context import T, _FLOATS, _TEXTS


class Functions:
    def function(self, node, scope) -> T:
        if isinstance(node, exp.Extract):
            return self.extract(node, scope)
        if isinstance(node, (exp.TimestampTrunc, exp.DateTrunc)):
            return self.date_trunc(node, scope)
        if isinstance(node, exp.Substring):
            s = self.value(node.this, scope)
            start = node.args.get("start")
            length = node.args.get("length")
            if s.kind not in _TEXTS:
                raise Unsupported("substring on non-text")
            st = self.known(start, scope, "1") if start is not None else T("1", "int", const=1)
            if not st.is_const or st.kind != "int" or st.const is None or st.const < 1:
                raise Unsupported("substring with a start that is not a positive constant")
            if length is not None:
                ln = self.known(length, scope, "1")
                if not ln.is_const or ln.kind != "int" or ln.const is None or ln.const < 0:
                    raise Unsupported("substring with a non-constant or negative length")
                return T(f"substringUTF8({s.sql}, {st.const}, {ln.const})", "text",
                         nullable=s.nullable, agg=s.agg)
            return T(f"substringUTF8({s.sql}, {st.const})", "text", nullable=s.nullable, agg=s.agg)
        if isinstance(node, exp.Upper):
            # ClickHouse upperUTF8('ß') = 'SS'; PostgreSQL keeps 'ß'
            raise Unsupported("function upper() differs for some characters (upperUTF8('ß') = 'SS')")
        if isinstance(node, exp.Lower):
            s = self.value(node.this, scope)
            if s.kind not in _TEXTS:
                raise Unsupported("lower/upper on non-text")
            f = "lowerUTF8" if isinstance(node, exp.Lower) else "upperUTF8"       # [utf8]
            return T(f"{f}({s.sql})", "text", nullable=s.nullable, agg=s.agg)
        if isinstance(node, exp.Length):
            s = self.value(node.this, scope)
            if s.kind not in _TEXTS:
                raise Unsupported("length on non-text")
            return T(f"toInt32(lengthUTF8({s.sql}))", "int", bits=32, nullable=s.nullable, agg=s.agg)
        if isinstance(node, exp.Abs):
            v = self.value(node.this, scope)
            if v.kind == "int":
                return T(checked_int("abs", v.sql, None, v.bits, self.version), "int", bits=v.bits,
                         nullable=v.nullable, agg=v.agg)
            if v.kind in ("numeric", "float8"):
                return T(f"abs({v.sql})", v.kind, scale=v.scale, nullable=v.nullable, agg=v.agg,
                         maybe_nan=v.maybe_nan)
            raise Unsupported(f"abs({v.kind})")
        if isinstance(node, exp.Round):
            v = self.value(node.this, scope)
            d = node.args.get("decimals")
            nd = self.known(d, scope, "0") if d is not None else T("0", "int", const=0)
            if not nd.is_const or nd.kind != "int" or nd.const is None:
                raise Unsupported("round with non-constant digits")
            if v.kind == "numeric":
                s = max(nd.const, 0)
                return T(f"toDecimal128(round({v.sql}, {nd.const}), {s})", "numeric", scale=s,
                         nullable=v.nullable, agg=v.agg)
            if v.kind == "float8" and d is None:
                # PG round(float8) = rint (half to even) = ClickHouse roundBankers
                return T(f"roundBankers({v.sql})", "float8", nullable=v.nullable, agg=v.agg,
                         maybe_nan=True)
            raise Unsupported(f"round({v.kind})")
        if isinstance(node, (exp.Floor, exp.Ceil)):
            v = self.value(node.this, scope)
            if node.args.get("decimals") is not None:
                raise Unsupported("floor/ceil with digits")
            f = "floor" if isinstance(node, exp.Floor) else "ceil"
            if v.kind == "numeric":
                return T(f"toDecimal128({f}({v.sql}), 0)", "numeric", scale=0, nullable=v.nullable, agg=v.agg)
            if v.kind == "float8":
                return T(f"{f}({v.sql})", "float8", nullable=v.nullable, agg=v.agg, maybe_nan=True)
            raise Unsupported(f"{f}({v.kind})")
        if isinstance(node, exp.Concat):
            vals = [self.value(e, scope) for e in node.expressions]
            for v in vals:
                if v.kind not in _TEXTS + ("null", "unknown"):
                    raise Unsupported("concat() of non-text")
            # PG concat() ignores NULLs
            parts = [f"ifNull({v.sql}, '')" if v.nullable else v.sql for v in vals if not v.is_null]
            return T(f"concat({', '.join(parts)}, '')", "text", nullable=False,
                     agg=any(v.agg for v in vals))
        if isinstance(node, exp.Trim):
            if node.args.get("expression") is not None:
                raise Unsupported("trim with characters")
            s = self.value(node.this, scope)
            if s.kind not in _TEXTS:
                raise Unsupported("trim on non-text")
            pos = (node.args.get("position") or "BOTH").upper()
            f = {"BOTH": "trimBoth", "LEADING": "trimLeft", "TRAILING": "trimRight"}[pos]
            return T(f"{f}({s.sql})", "text", nullable=s.nullable, agg=s.agg)
        if isinstance(node, exp.StrPosition):
            s = self.value(node.this, scope)
            sub = self.value(node.args.get("substr"), scope)
            if node.args.get("position") is not None:
                raise Unsupported("position with start")
            if s.kind not in _TEXTS or sub.kind not in _TEXTS + ("unknown",):
                raise Unsupported("position on non-text")
            return T(f"toInt32(positionUTF8({s.sql}, {sub.sql}))", "int", bits=32,
                     nullable=s.nullable or sub.nullable, agg=s.agg)
        if isinstance(node, exp.Greatest) or isinstance(node, exp.Least):
            vals = [self.value(node.this, scope)] + [self.value(e, scope) for e in node.expressions]
            kind, vals = self._unify_values(vals, "GREATEST/LEAST")
            if kind in _TEXTS and not self.dialect.text_collation_c:
                raise Unsupported("GREATEST/LEAST on text under a non-C collation")
            if kind in _FLOATS:
                raise Unsupported("GREATEST/LEAST on floats")
            live = [v for v in vals if not v.is_null]
            f = "greatest" if isinstance(node, exp.Greatest) else "least"
            # PG ignores NULL arguments
            if any(v.nullable for v in live):
                arr = ", ".join(self.materialize(v).sql for v in live)
                g = "arrayMax" if f == "greatest" else "arrayMin"
                sql = f"if(arrayCount(x -> isNotNull(x), [{arr}]) = 0, NULL, {g}(arrayFilter(x -> isNotNull(x), [{arr}])))"
            else:
                sql = f"{f}({', '.join(self.materialize(v).sql for v in live)})"
            ref = live[0]
            return T(sql, kind, scale=ref.scale, bits=ref.bits, n=ref.n,
                     nullable=any(v.nullable for v in live), agg=any(v.agg for v in live))
        if isinstance(node, exp.Anonymous):
            return self.anon(node, scope)
        try:
            name = node.sql(dialect="postgres").split("(")[0].strip().lower()
        except Exception:
            name = type(node).__name__.lower()
        raise Unsupported(f"function {name}() has no exact ClickHouse equivalent")

    def anon(self, node: exp.Anonymous, scope) -> T:
        name = str(node.this).lower()
        args = [self.value(a, scope) for a in node.expressions]
        if name in ("char_length", "character_length") and len(args) == 1 and args[0].kind in _TEXTS:
            return T(f"toInt32(lengthUTF8({args[0].sql}))", "int", bits=32,
                     nullable=args[0].nullable, agg=args[0].agg)
        if name == "replace" and len(args) == 3 and all(a.kind in _TEXTS + ("unknown",) for a in args):
            return T(f"replaceAll({args[0].sql}, {args[1].sql}, {args[2].sql})", "text",
                     nullable=any(a.nullable for a in args), agg=args[0].agg)
        if name in ("btrim", "ltrim", "rtrim") and len(args) == 1 and args[0].kind in _TEXTS:
            f = {"btrim": "trimBoth", "ltrim": "trimLeft", "rtrim": "trimRight"}[name]
            return T(f"{f}({args[0].sql})", "text", nullable=args[0].nullable, agg=args[0].agg)
        if name in ("left", "right") and len(args) == 2 and args[0].kind in _TEXTS:
            n = args[1]
            if not n.is_const or n.kind != "int" or n.const is None or n.const < 0:
                raise Unsupported(f"{name}() with a non-constant or negative count")
            self.need((22, 1), f"{name}()")
            f = "leftUTF8" if name == "left" else "rightUTF8"
            return T(f"{f}({args[0].sql}, {n.const})", "text", nullable=args[0].nullable, agg=args[0].agg)
        if name == "strpos" and len(args) == 2:
            return T(f"toInt32(positionUTF8({args[0].sql}, {args[1].sql}))", "int", bits=32,
                     nullable=args[0].nullable or args[1].nullable, agg=args[0].agg)
        if name == "split_part" and len(args) == 3:
            n = args[2]
            if not (n.is_const and n.kind == "int" and n.const and n.const > 0 and args[1].is_const
                    and args[1].const):
                raise Unsupported("split_part needs a positive constant field and non-empty delimiter")
            return T(f"splitByString({args[1].sql}, {args[0].sql})[{n.const}]", "text",
                     nullable=args[0].nullable, agg=args[0].agg)
        if name == "date_part":
            raise Unsupported("date_part() (use EXTRACT)")
        if name in ("now", "current_timestamp", "statement_timestamp", "clock_timestamp",
                    "transaction_timestamp", "random", "current_date"):
            raise Unsupported(f"{name}() is evaluated by PostgreSQL (not pushed)")
        raise Unsupported(f"function {name}() has no exact ClickHouse equivalent")
