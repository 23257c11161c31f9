"""Predicates: comparisons, AND/OR/NOT, IS [NOT] NULL/TRUE/..., IN, EXISTS,
= ANY / <> ALL, LIKE/ILIKE and regular expressions.

Rules owned here:
  [in-null]      IN / NOT IN (subquery) and = ANY / <> ALL with NULLs are
                 written out in three-valued logic (not transform_null_in).
  [like]         LIKE patterns are re-escaped for ClickHouse by
                 shared.like_pattern (LIKE ... ESCAPE refused); ILIKE
                 lowers the subject with the UTF-8 case mapping and takes
                 only ASCII patterns; regex (~) only for a safe subset.
  [collation]    text <, <=, >, >= only under the C collation.
  [correlated]   correlated subqueries only in shapes ClickHouse can
                 decorrelate (no ORDER BY/LIMIT/windows/set operations, not
                 in ORDER BY/GROUP BY keys).
  [float-cmp]    float comparisons handle NaN like PG (NaN = NaN, NaN above
                 every number).
"""

from __future__ import annotations

import datetime as _dt
import re

from sqlglot import exp

from .. import literals as L
from ..fit import (FALSE, exact_value, fit_compare, fit_enum_like, fit_in_list, fit_text_compare,
                   fit_text_in, numeric_domain, text_domain)
from ..literals import Unsupported
from ..pgparse import pg_type_name
from ..remote import SLOT_MARK
from ..quoting import quote_identifier as qi, quote_string as qs
from ..shared import CMP_OPS, COMPLEMENT, FLIP, like_pattern, strip_parens
from .context import T, _FLOATS, _TEXTS, _quantifier, _classify, _Scope




_SLOT_RX = re.compile(re.escape(SLOT_MARK) + r"(\d+)" + re.escape(SLOT_MARK))


class Predicates:
    def pred(self, node, scope, neg: bool) -> str:
        """A condition that is TRUE in ClickHouse exactly when the PostgreSQL
        condition is TRUE (negation pushed down to atoms first, so three-valued
        NOT never reaches ClickHouse except on plain booleans)."""
        node = strip_parens(node)
        if isinstance(node, exp.Not):
            return self.pred(node.this, scope, not neg)
        if isinstance(node, (exp.And, exp.Or)):
            is_and = isinstance(node, exp.And) != neg
            a = self.pred(node.this, scope, neg)
            b = self.pred(node.expression, scope, neg)
            return f"({a} {'AND' if is_and else 'OR'} {b})"
        if isinstance(node, exp.Exists):
            sql, _ = self.subquery(node.this, scope, exists=True)
            return f"({'NOT ' if neg else ''}EXISTS ({sql}))"
        if isinstance(node, exp.In):
            return self.in_pred(node, scope, neg)
        if type(node) in CMP_OPS and _quantifier(node.expression):
            return self.quantified(node, scope, neg)
        if type(node) in CMP_OPS and neg:
            a, b = self.value(node.this, scope), self.value(node.expression, scope)
            if any(self._fit_domain(v) is not None or self._text_domain(v) is not None
                   for v in (a, b)):
                # [fit] NOT (x < c) is x >= c (both NULL when x is): keep the key usable
                return self.compare(COMPLEMENT[CMP_OPS[type(node)]], a, b)
        if isinstance(node, exp.Is):
            return self.is_pred(node, scope, neg)
        v = self.value(node, scope)
        if v.kind != "bool":
            raise Unsupported("condition is not boolean")
        if v.is_const:
            return "1" if (v.const is not None and bool(v.const) != neg) else "0"
        if neg:
            return f"(NOT {v.sql})" if not v.nullable else f"({v.sql} = 0)"
        return v.sql

    def is_pred(self, node: exp.Is, scope, neg) -> str:
        neg = neg != bool(node.args.get("negate"))
        target = strip_parens(node.expression)
        v = self.value(node.this, scope)
        if isinstance(target, exp.Null):
            if v.is_const:
                return "1" if ((v.const is None) != neg) else "0"
            # [fit] a column is tested as stored (toDecimal128(x) is NULL iff x is)
            subject = v.stored if v.stored is not None else v.sql
            return f"({subject} IS {'NOT ' if neg else ''}NULL)"
        if isinstance(target, exp.Boolean):
            if v.kind != "bool":
                raise Unsupported("IS TRUE/FALSE on non-boolean")
            want = bool(target.this)
            if v.is_const:
                r = v.const is not None and bool(v.const) == want
                return "1" if r != neg else "0"
            if not neg:
                # ifNull: NULL IS TRUE is false, not NULL (it may be used as a
                # value, or under NOT)
                eq = f"({v.sql} = {1 if want else 0})"
                return f"ifNull({eq}, 0)" if v.nullable else eq
            return f"(({v.sql} IS NULL) OR ({v.sql} = {0 if want else 1}))"
        raise Unsupported("IS test")

    def in_pred(self, node: exp.In, scope, neg) -> str:
        # [in-null]
        neg = neg != bool(node.args.get("negate") or False)
        x = self.value(node.this, scope)
        q = node.args.get("query")
        if q is not None:
            return self._in_subquery(x, q, scope, neg)
        if node.args.get("unnest") or node.args.get("field"):
            raise Unsupported("IN form")
        elems = [self.value(e, scope) for e in node.expressions]
        return self._in_list(x, elems, neg)

    def _in_list(self, x: T, elems: list, neg: bool) -> str:
        if not elems:
            return "1" if neg else "0"
        if neg and any(e.is_null for e in elems):
            return "0"                    # x NOT IN (..., NULL) is never TRUE
        live = [e for e in elems if not e.is_null]
        if not live:
            return "0"
        tdom = self._text_domain(x)
        if tdom is not None and all(self._text_const(e) is not None for e in live):
            return self._render_fitted(x, fit_text_in(tdom, [e.const for e in live], neg, qs))
        fit_vals = [self._fit_value(e) for e in live]
        dom = self._fit_domain(x)
        if dom is not None and all(v is not None for v in fit_vals):
            # [fit] the list in the column's own type
            lits, outcome = fit_in_list(dom, fit_vals, neg)
            xs = x.stored
            if outcome is not None:
                return self._fit_outcome(x, outcome)
            if len(lits) == 1:
                return f"({xs} {'!=' if neg else '='} {lits[0]})"
            if neg:
                return f"(({xs} IS NOT NULL) AND ({xs} NOT IN ({', '.join(lits)})))"
            return f"({xs} IN ({', '.join(lits)}))"
        parts = [self.compare("<>" if neg else "=", x, e) for e in live]
        if len(parts) > 5000:
            raise Unsupported("IN list too long")
        if all(e.is_const for e in live) and not x.is_const and x.kind in ("int", "text", "bpchar", "date") \
                and all(e.kind == x.kind for e in live) and len(live) > 1:
            xs = x.sql
            lits = [self.coerce_same(e, x).sql for e in live]
            if neg:
                return f"(({xs} IS NOT NULL) AND ({xs} NOT IN ({', '.join(lits)})))"
            return f"({xs} IN ({', '.join(lits)}))"
        return "(" + (" AND " if neg else " OR ").join(parts) + ")"

    def _in_subquery(self, x: T, q, scope, neg) -> str:
        sql, outs = self.subquery(q, scope)
        if len(outs) != 1:
            raise Unsupported("row-valued IN subquery")
        y = outs[0][1]
        self._check_eq_types(x, y)
        alias = self.new_t()
        ycol = f"{qi(alias)}.{y.sql}"
        xs = self._cmp_operand(x, y)
        sub = f"SELECT {self._cmp_operand(T(ycol, y.kind, bits=y.bits, scale=y.scale), x)} FROM ({sql}) AS {qi(alias)}"
        if not neg:
            # TRUE iff x is non-NULL and equals some row (NULLs never match)
            return f"({xs} IN ({sub}))"
        # NOT IN is TRUE iff the subquery is empty, or x is non-NULL, not in it,
        # and the subquery has no NULL
        parts = []
        if x.nullable:
            parts.append(f"({xs} IS NOT NULL)")
        parts.append(f"({xs} NOT IN ({sub}))")
        if y.nullable:
            a2 = self.new_t()
            parts.append(f"(NOT EXISTS (SELECT 1 FROM ({sql}) AS {qi(a2)} WHERE {qi(a2)}.{y.sql} IS NULL))")
        cond = " AND ".join(parts)
        if x.nullable:
            a3 = self.new_t()
            return f"(({cond}) OR NOT EXISTS (SELECT 1 FROM ({sql}) AS {qi(a3)}))"
        return f"({cond})"

    def quantified(self, node, scope, neg) -> str:
        op = CMP_OPS[type(node)]
        quant, arr = _quantifier(node.expression)
        if neg:
            op = COMPLEMENT[op]
            quant = "ALL" if quant == "ANY" else "ANY"
        x = self.value(node.this, scope)
        if isinstance(arr, exp.Array) and len(arr.expressions) == 1 and \
                isinstance(strip_parens(arr.expressions[0]), (exp.Select, exp.Union, exp.Subquery)):
            # [any-array-subquery] x op ANY (ARRAY(SELECT ...)) is x op ANY (SELECT ...)
            arr = strip_parens(arr.expressions[0])
        if isinstance(arr, (exp.Select, exp.Union, exp.Subquery)):
            if (quant, op) == ("ANY", "="):
                return self._in_subquery(x, arr, scope, False)
            if (quant, op) == ("ALL", "<>"):
                return self._in_subquery(x, arr, scope, True)
            raise Unsupported(f"{op} {quant} (subquery)")
        elems = self.array_elems(arr, scope)
        if (quant, op) in (("ANY", "="), ("ALL", "<>")):
            return self._in_list(x, elems, quant == "ALL")
        if not elems:
            return "0" if quant == "ANY" else "1"
        if quant == "ALL" and any(e.is_null for e in elems):
            return "0"
        parts = [self.compare(op, x, e) for e in elems if not e.is_null]
        if not parts:
            return "0"
        return "(" + (" OR " if quant == "ANY" else " AND ").join(parts) + ")"

    def array_elems(self, arr, scope) -> list:
        if isinstance(arr, exp.Array):
            if any(isinstance(strip_parens(e), (exp.Select, exp.Union, exp.Subquery))
                   for e in arr.expressions):
                raise Unsupported("ARRAY(subquery)")
            return [self.value(e, scope) for e in arr.expressions]
        if isinstance(arr, exp.Cast) and isinstance(strip_parens(arr.this), exp.Literal) and arr.this.is_string:
            tname = pg_type_name(arr.to)
            if not tname and arr.to.this == exp.DataType.Type.ARRAY and arr.to.expressions \
                    and arr.to.expressions[0].this == exp.DataType.Type.CHAR:
                tname = "bpchar[]"
            if not tname or not tname.endswith("[]"):
                raise Unsupported("array constant of unsupported type")
            et = tname[:-2]
            return [self.const_of(t, et) if t is not None else T("NULL", _classify(et)[0], const=None)
                    for t in L.parse_pg_array(strip_parens(arr.this).this)]
        raise Unsupported("ANY/ALL over a non-constant array")

    def subquery(self, q, scope, exists: bool = False):
        q = strip_parens(q)
        if isinstance(q, exp.Subquery):
            q = q.this
        sub = _Scope(parent=scope)
        sql, outs = self.query(q, sub)
        if not exists:
            self.no_opaque(outs, "a subquery expression")   # [opaque] EXISTS ignores its outputs
        if sub.outer_refs:
            self._check_correlated(q)
        return sql, outs

    def _check_correlated(self, q):
        """[correlated] ClickHouse decorrelates only filters, projections,
        joins and aggregation: a correlated subquery that sorts, limits,
        windows or combines sets fails there (NOT_IMPLEMENTED, 'Cannot
        decorrelate query'), as does one in ORDER BY or GROUP BY."""
        if getattr(self, "_sort_or_group_keys", 0):
            raise Unsupported("correlated subquery in ORDER BY/GROUP BY")
        for n in q.walk():
            if isinstance(n, (exp.Select, exp.Union, exp.Intersect, exp.Except)) and (
                    n.args.get("order") or n.args.get("limit") or n.args.get("offset")):
                raise Unsupported("correlated subquery with ORDER BY/LIMIT/OFFSET")
            if isinstance(n, (exp.Union, exp.Intersect, exp.Except)):
                raise Unsupported("correlated subquery with a set operation")
            if isinstance(n, exp.Window):
                raise Unsupported("correlated subquery with a window function")

    def _check_eq_types(self, a: T, b: T):
        ka, kb = a.kind, b.kind
        if ka == "null" or kb == "null":
            return
        num = ("int", "numeric")
        if (ka in num and kb in num) or (ka in _FLOATS and kb in _FLOATS) or ka == kb:
            return
        if {ka, kb} <= {"text", "bpchar"}:
            return
        if {ka, kb} <= {"date", "timestamp"}:
            return
        if {ka, kb} <= {"date", "timestamp", "timestamptz"}:
            return
        raise Unsupported(f"comparison between {ka} and {kb}")

    def _cmp_operand(self, v: T, other: T) -> str:
        """SQL for v when compared with other (date/timestamp promotion)."""
        if v.kind == "date" and other.kind == "timestamp":
            return f"toDateTime64({v.sql}, 6, 'UTC')"          # [wide-dates]
        if v.kind == "date" and other.kind == "timestamptz":
            return self.date_to_tstz(v).sql
        if v.kind == "timestamp" and other.kind == "timestamptz":
            return self.ts_to_tstz(v).sql
        if v.kind == "numeric" and not v.decimal:
            return v.sql
        return v.sql

    def coerce_same(self, e: T, x: T) -> T:
        return e

    def compare(self, op: str, a: T, b: T) -> str:
        """A comparison with PostgreSQL's result (NULL when an operand is NULL)."""
        self._check_eq_types(a, b)
        if a.is_null or b.is_null:
            return "NULL"
        a, b = self.compare_operand(a), self.compare_operand(b)
        if a.kind in _TEXTS and op not in ("=", "<>") and not self.dialect.text_collation_c:
            raise Unsupported("text ordering comparison under a non-C collation")  # [collation]
        if a.kind == "interval" or b.kind == "interval":
            raise Unsupported("interval comparison")
        fitted = self._fit_compare(op, a, b)
        if fitted is not None:
            return fitted
        # date vs timestamp constants: fold the constant to the other's type
        if {a.kind, b.kind} == {"date", "timestamp"} and (a.is_const or b.is_const):
            r = self._date_ts_const_cmp(op, a, b)
            if r is not None:
                return r
        sa, sb = self._cmp_operand(a, b), self._cmp_operand(b, a)
        chop = "!=" if op == "<>" else op
        if a.kind in _FLOATS and (a.maybe_nan or b.maybe_nan):
            na = f"isNaN({sa})" if a.maybe_nan else "0"
            nb = f"isNaN({sb})" if b.maybe_nan else "0"
            ieee = f"({sa} {chop} {sb})"
            return {"=": f"({ieee} OR ({na} AND {nb}))",
                    "<>": f"({ieee} AND NOT ({na} AND {nb}))",
                    "<": f"(({ieee} AND NOT {na}) OR ({nb} AND NOT {na}))",
                    "<=": f"(({ieee} AND NOT {na}) OR {nb})",
                    ">": f"(({ieee} AND NOT {nb}) OR ({na} AND NOT {nb}))",
                    ">=": f"(({ieee} AND NOT {nb}) OR {na})"}[op]
        return f"({sa} {chop} {sb})"

    @staticmethod
    def _fit_domain(v: T):
        """The stored values of a bare integer/Decimal column (fit.py), else None."""
        if v.stored is None or v.kind not in ("int", "numeric"):
            return None
        return numeric_domain(v.ch)

    @staticmethod
    def _fit_value(v: T):
        if not v.is_const or v.kind not in ("int", "numeric"):
            return None
        return exact_value(v.const)

    @staticmethod
    def _text_domain(v: T):
        return text_domain(v.ch) if v.stored is not None and v.kind == "text" else None

    @staticmethod
    def _text_const(v: T):
        return v.const if v.is_const and v.kind in ("text", "unknown") and \
            isinstance(v.const, str) else None

    def _render_fitted(self, col: T, f) -> str:
        if f.op is None:
            return self._fit_outcome(col, f.outcome)
        if f.op == "NOT IN":
            return f"(({col.stored} IS NOT NULL) AND ({col.stored} NOT IN {f.literal}))"
        return f.comparison(col.stored)

    def _fit_text(self, op: str, a: T, b: T) -> str | None:
        if self._text_domain(a) is None:
            a, b, op = b, a, FLIP[op]
        dom, val = self._text_domain(a), self._text_const(b)
        if dom is None or val is None:
            return None
        f = fit_text_compare(dom, op, val, qs)
        if f is None:
            return None          # compared as PostgreSQL reads it
        return self._render_fitted(a, f)

    def _fit_compare(self, op: str, a: T, b: T) -> str | None:
        """[fit] column op constant in the column's own type, so ClickHouse
        can use its keys; NULL when the column is NULL, like PostgreSQL."""
        if a.kind == "text" or b.kind == "text":
            return self._fit_text(op, a, b)
        if self._fit_domain(a) is None:
            a, b, op = b, a, FLIP[op]
        dom, val = self._fit_domain(a), self._fit_value(b)
        if dom is not None and val is None:
            return self._fit_parameter_compare(op, a, b, dom)
        if dom is None:
            return None
        return self._render_fitted(a, fit_compare(dom, op, val))

    def _fit_parameter_compare(self, op: str, col: T, p: T, dom) -> str | None:
        """[fit] column op $n: the same fitting, done by the slot when the
        value is known at execution (each value gets its own literal, so the
        keys stay usable for ORMs' parameterized filters too)."""
        m = _SLOT_RX.fullmatch(p.sql or "")
        if m is None or p.kind not in ("int", "numeric"):
            return None
        pid = self.slots[int(m.group(1))][0]
        value_of = L.int_value if p.kind == "int" else L.numeric_value

        def render(v):
            if v is None:
                return "NULL"
            val = exact_value(value_of(v))
            if val is None:          # NaN: PostgreSQL's order for it is not ClickHouse's
                raise Unsupported(f"parameter ${pid} is not a finite number")
            return self._render_fitted(col, fit_compare(dom, op, val))
        return self._slot(pid, render, f"({col.stored} {'!=' if op == '<>' else op} ${pid})")

    @staticmethod
    def _fit_outcome(col: T, outcome: str) -> str:
        truth = "0" if outcome == FALSE else "1"
        return f"if(isNull({col.stored}), NULL, {truth})" if col.nullable else truth

    def _date_ts_const_cmp(self, op, a: T, b: T):
        # date column vs timestamp constant (e.g. d <= date '..' - interval '90 days')
        if a.kind == "timestamp":
            return self._date_ts_const_cmp(FLIP[op], b, a)
        if not b.is_const or not isinstance(b.const, _dt.datetime):
            return None
        ts = b.const
        d0 = ts.date()
        midnight = ts.time() == _dt.time(0)
        if midnight:
            return f"({a.sql} {'!=' if op == '<>' else op} {L.date_sql(d0)})"
        # ts strictly inside day d0
        nxt = d0 + _dt.timedelta(days=1)
        return {"=": "0", "<>": f"({a.sql} IS NOT NULL)",
                "<": f"({a.sql} <= {L.date_sql(d0)})", "<=": f"({a.sql} <= {L.date_sql(d0)})",
                ">": f"({a.sql} >= {L.date_sql(nxt)})", ">=": f"({a.sql} >= {L.date_sql(nxt)})"}[op]

    def bool_value(self, node, scope) -> T:
        """AND/OR/NOT as a value (three-valued)."""
        if not self.modern:
            raise Unsupported("boolean AND/OR/NOT as a value on old ClickHouse (two-valued NULL logic)")
        if isinstance(node, exp.Not):
            v = self.value(node.this, scope)
            if v.kind != "bool":
                raise Unsupported("NOT on non-boolean")
            return T(f"(NOT {v.sql})", "bool", nullable=v.nullable, agg=v.agg)
        a, b = self.value(node.this, scope), self.value(node.expression, scope)
        if a.kind != "bool" or b.kind != "bool":
            raise Unsupported("AND/OR on non-boolean")
        op = "AND" if isinstance(node, exp.And) else "OR"
        return T(f"({a.sql} {op} {b.sql})", "bool", nullable=a.nullable or b.nullable,
                 agg=a.agg or b.agg)

    def bool_atom(self, node, scope) -> T:
        """A predicate used as a value: exact three-valued result."""
        if isinstance(node, (exp.Like, exp.ILike)):
            return self.like(node, scope, False)
        if isinstance(node, (exp.RegexpLike, exp.RegexpILike)):
            return self.regex(node, scope)
        if isinstance(node, (exp.NullSafeEQ, exp.NullSafeNEQ)):
            a, b = self.value(node.this, scope), self.value(node.expression, scope)
            self._check_eq_types(a, b)
            distinct = isinstance(node, exp.NullSafeNEQ)
            if a.is_null and b.is_null:
                return T("0" if distinct else "1", "bool", const=not distinct, nullable=False)
            if a.is_null or b.is_null:
                o = b if a.is_null else a
                return T(f"({o.sql} IS {'NOT ' if distinct else ''}NULL)", "bool", nullable=False)
            eq = self.compare("=", a, b)
            if a.is_const or b.is_const:
                # a non-NULL constant: the same iff equal (a NULL side is not)
                same = f"coalesce({eq}, 0)"
                return T(f"(NOT {same})" if distinct else same, "bool", nullable=False,
                         agg=a.agg or b.agg)
            sa, sb = a.sql, b.sql
            same = (f"(({sa} IS NULL AND {sb} IS NULL) OR (({sa} IS NOT NULL) AND ({sb} IS NOT NULL) "
                    f"AND coalesce({eq}, 0)))")
            return T(f"(NOT {same})" if distinct else same, "bool", nullable=False,
                     agg=a.agg or b.agg)
        if isinstance(node, exp.Is):
            s = self.is_pred(node, scope, False)
            return T(s, "bool", nullable=False)
        if isinstance(node, exp.Exists):
            return T(self.pred(node, scope, False), "bool", nullable=False)
        # IN / quantified as a value: exact only when no NULL can be involved
        if isinstance(node, exp.In):
            x = self.value(node.this, scope)
            q = node.args.get("query")
            if q is not None:
                _, outs = self.subquery(q, scope)
                if x.nullable or (outs and outs[0][1].nullable):
                    raise Unsupported("IN (subquery) as a value with NULLs possible")
            else:
                elems = [self.value(e, scope) for e in node.expressions]
                if x.nullable or any(e.is_null or e.nullable for e in elems):
                    raise Unsupported("IN list as a value with NULLs possible")
            return T(self.pred(node, scope, False), "bool", nullable=False)
        if type(node) in CMP_OPS:
            x = self.value(node.this, scope)
            if x.nullable:
                raise Unsupported("ANY/ALL as a value with NULLs possible")
            arr = _quantifier(node.expression)[1]
            if isinstance(arr, (exp.Select, exp.Subquery, exp.Union)):
                raise Unsupported("ANY/ALL (subquery) as a value")
            elems = self.array_elems(arr, scope)
            if any(e.is_null or e.nullable for e in elems):
                raise Unsupported("ANY/ALL as a value with NULLs possible")
            return T(self.pred(node, scope, False), "bool", nullable=False)
        raise Unsupported(f"predicate {type(node).__name__} as a value")

    def like(self, node, scope, _neg) -> T:                            # [like]
        if node.args.get("escape"):
            raise Unsupported("LIKE ... ESCAPE")
        s = self.value(node.this, scope)
        p = self.value(node.expression, scope)
        negate = bool(node.args.get("negate"))
        if s.kind not in _TEXTS or p.kind not in _TEXTS + ("null",):
            raise Unsupported("LIKE on non-text")
        if p.is_null or s.is_null:
            return T("NULL", "bool", const=None)
        if not p.is_const:
            raise Unsupported("LIKE with a non-constant pattern")
        tdom = self._text_domain(s)
        if tdom is not None and tdom.labels is not None and isinstance(node, exp.Like):
            f = fit_enum_like(tdom, p.const, negate, qs)   # [fit] the matching labels
            if f is not None:
                return T(self._render_fitted(s, f), "bool", nullable=s.nullable, agg=s.agg)
        chpat = like_pattern(p.const)
        subj = s.sql
        if isinstance(node, exp.ILike):
            # PostgreSQL ILIKE lower()s both sides under the collation
            subj = f"lowerUTF8({subj})"
            chpat = chpat.lower()
            if any(ord(c) > 127 for c in chpat):
                raise Unsupported("ILIKE with a non-ASCII pattern")
        op = "NOT LIKE" if negate else "LIKE"
        return T(f"({subj} {op} {qs(chpat)})", "bool", nullable=s.nullable, agg=s.agg)

    _RE_SAFE = re.compile(r"[A-Za-z0-9 _\-.,:;/@#%&=!'\"<>~`]|\\[.^$*+?()\[\]{}|\\/-]|[\^$.*+?|()]|\[\^?[A-Za-z0-9 _\-]+\]|\{\d+(,\d*)?\}")

    def regex(self, node, scope) -> T:
        s = self.value(node.this, scope)
        p = self.value(node.expression, scope)
        if s.kind not in _TEXTS or p.kind not in _TEXTS:
            raise Unsupported("regex on non-text")
        if not p.is_const or p.is_null:
            raise Unsupported("regex with a non-constant pattern")
        pat = p.const
        pos = 0
        while pos < len(pat):
            m = self._RE_SAFE.match(pat, pos)
            if not m:
                raise Unsupported("regular expression outside the portable subset")
            pos = m.end()
        if re.search(r"\(\?|\\[dDwWsSbBAZz]", pat):
            raise Unsupported("regular expression escapes differ between engines")
        # PostgreSQL ARE: '.' matches newline, ^/$ anchor the whole string;
        # ClickHouse match(): the same (re2 with dot_nl).
        flags = "(?i)" if isinstance(node, exp.RegexpILike) else ""
        if flags and any(ord(c) > 127 for c in pat):
            raise Unsupported("case-insensitive regex with non-ASCII pattern")
        return T(f"match({s.sql}, {qs(flags + pat)})", "bool", nullable=s.nullable, agg=s.agg)
