"""Per-table scan translation: one PostgreSQL restriction clause (text from
deparse_expression) -> one ClickHouse WHERE condition, and ORDER BY keys.

Correctness model
-----------------
A pushed condition must select exactly the rows PostgreSQL's WHERE selects.
PostgreSQL keeps a row iff the clause is TRUE (FALSE and NULL drop it).

1. The clause is put in negation normal form in PostgreSQL terms first:
   NOT is pushed through AND/OR (De Morgan holds in three-valued logic) and
   absorbed into atoms by their complement (NOT a < b  ==  a >= b, NOT LIKE,
   IS NOT NULL, <> ALL, ...).  What is left is a monotone AND/OR tree of
   literals, and for such a tree "TRUE in three-valued logic" equals
   "TRUE when every NULL literal is read as FALSE".
2. So each literal only has to be TRUE in ClickHouse exactly when it is TRUE
   in PostgreSQL ("truthy-exact"); it may be NULL where PG says FALSE.
   This sidesteps ClickHouse's NULL handling differences (18.16: NULL AND 0
   is NULL, NULL OR 0 is 0, NULL NOT IN (1) is 1) and lets NULL-in-list,
   NaN and similar cases be written as simple boolean formulas.
3. Values inside literals (arithmetic, casts, constants) are translated
   value-exactly, or refused (scan_values.py).

Rules shared with the whole-query translator (LIKE patterns, NULL ordering
of sort keys) live in shared.py.
"""

from __future__ import annotations

import datetime as _dt
import math

from sqlglot import exp

from . import literals as L
from .fit import (FALSE, exact_value, fit_compare, fit_enum_like, fit_in_list, fit_text_compare,
                  fit_text_in, numeric_domain, text_domain)
from .kinds import ch_type, compatible, pg_array_element, pg_type
from .literals import Unsupported
from .pgparse import parse, pg_type_name
from .quoting import quote_identifier
from .remote import SLOT_MARK, ColumnInfo, Dialect, Slot, SqlTemplate
from .scan_bounds import bounded_compare, flatten_pg_array
from .shared import param_id
from .scan_values import _FLOAT_KINDS, _NUMERIC_KINDS, ScanValues, _is_float, _Val
from .shared import CMP_OPS, COMPLEMENT, FLIP, like_pattern, sort_keys, strip_parens

_FLOOR_EXACT = _dt.date(1970, 1, 2)

__all__ = ["ColumnInfo", "Dialect", "RemoteCondition", "translate_condition",
           "translate_sort_key"]


class RemoteCondition(SqlTemplate):
    """A translated WHERE condition of the per-table scan."""


class _Translator(ScanValues):
    def __init__(self, columns: dict[str, ColumnInfo], param_types: dict[int, str],
                 dialect: Dialect):
        self.columns = columns
        self.param_types = param_types
        self.dialect = dialect
        self.slots: list[Slot] = []
        self.bounded_slots: list[int] = []   # placeholders of date/timestamptz params

    # -------------------------------------------------------- predicates

    def pred(self, node, neg: bool) -> str:
        node = strip_parens(node)
        if isinstance(node, exp.Not):
            return self.pred(node.this, not neg)
        if isinstance(node, (exp.And, exp.Or)):
            is_and = isinstance(node, exp.And) != neg
            a = self.pred(node.this, neg)
            b = self.pred(node.expression, neg)
            return f"({a} {'AND' if is_and else 'OR'} {b})"
        for cls, op in CMP_OPS.items():
            if type(node) is cls:
                if neg:
                    op = COMPLEMENT[op]
                right = strip_parens(node.expression)
                if isinstance(right, exp.Any) or (
                        isinstance(right, exp.Anonymous) and str(right.this).upper() in ("ALL", "ANY")):
                    return self.quantified(node.this, op, right, neg)
                return self.compare(op, self.value(node.this), self.value(node.expression))
        if isinstance(node, exp.Is):
            return self.is_test(node, neg)
        if isinstance(node, (exp.Like, exp.ILike)):
            negate = bool(node.args.get("negate")) != neg
            if node.args.get("escape"):
                raise Unsupported("LIKE ... ESCAPE")
            return self.like(node.this, node.expression, negate,
                             isinstance(node, exp.ILike))
        if isinstance(node, (exp.NullSafeEQ, exp.NullSafeNEQ)):
            distinct = isinstance(node, exp.NullSafeNEQ) != neg
            return self.distinct(self.value(node.this), self.value(node.expression),
                                 distinct)
        # a boolean-valued expression used as a predicate: column, param, constant
        v = self.value(node)
        if v.kind != "bool":
            raise Unsupported("predicate is not boolean")
        if v.is_const:
            if v.const is None:
                return "0"
            return "1" if (bool(v.const) != neg) else "0"
        return f"(NOT {v.sql})" if neg else v.sql

    def is_test(self, node: exp.Is, neg: bool) -> str:
        neg = neg != bool(node.args.get("negate"))
        target = strip_parens(node.expression)
        v = self.value(node.this)
        if isinstance(target, exp.Null):
            if v.is_const:
                return "1" if ((v.const is None) != neg) else "0"
            ref = v.stored or v.sql
            return f"({ref} IS NOT NULL)" if neg else f"({ref} IS NULL)"
        if isinstance(target, exp.Boolean):
            if v.kind != "bool":
                raise Unsupported("IS TRUE/FALSE on non-boolean")
            want = bool(target.this)
            s = v.sql if not v.is_const else ("NULL" if v.const is None else L.bool_sql(v.const))
            if not neg:   # x IS TRUE -> x ; x IS FALSE -> NOT x   (NULL: not true)
                return s if want else f"(NOT {s})"
            # x IS NOT TRUE: false or NULL
            return (f"(({s}) IS NULL OR NOT {s})" if want
                    else f"(({s}) IS NULL OR {s})")
        raise Unsupported("unsupported IS test")

    # -------------------------------------------------------- comparisons

    def _unify(self, a: _Val, b: _Val, op: str) -> tuple[_Val, _Val]:
        """Make the pair comparable exactly as PostgreSQL compares them."""
        if a.kind in _NUMERIC_KINDS and b.kind in _NUMERIC_KINDS:
            return a, b
        if _is_float(a) and _is_float(b):
            return a, b
        if a.kind == b.kind:
            if a.kind == "text" and op not in ("=", "<>") and not self.dialect.text_collation_c:
                raise Unsupported("text ordering depends on a non-C collation")
            return a, b
        raise Unsupported(f"comparison between {a.kind} and {b.kind}")

    @staticmethod
    def _check_date_floor(a: _Val, b: _Val) -> None:
        """A date_floor value (scan_values.to_date) agrees with PostgreSQL's
        only against constant dates after 1970-01-01."""
        for v, other in ((a, b), (b, a)):
            if v.date_floor and not (other.is_const and not other.param and other.const is not None
                                     and other.const >= _FLOOR_EXACT):
                raise Unsupported("date in a zone west of UTC compared with 1970-01-01 or earlier,"
                                  " or with a non-constant")

    def _sql(self, v: _Val, tz_from: _Val | None = None) -> str:
        if v.sql is not None:
            return v.sql
        # zone-dependent timestamp constant: render in the other side's zone
        if v.kind == "timestamp" and tz_from is not None and tz_from.tz:
            if v.const is None:
                return "NULL"
            return L.datetime_sql(v.const, tz_from.tz, self.dialect.version)
        raise Unsupported("timestamp without time zone needs a column's zone")

    def compare(self, op: str, a: _Val, b: _Val) -> str:
        a, b = self._unify(a, b, op)
        if a.is_null or b.is_null:
            return "0"   # comparison with NULL is never true
        self._check_date_floor(a, b)
        fitted = self._fit_compare(op, a, b)
        if fitted is not None:
            return fitted
        if (a.bounded is not None) != (b.bounded is not None):
            param, col = (a, b) if a.bounded is not None else (b, a)
            if col.column:
                render = bounded_compare(op, col.sql, col.ch, param.kind, self.dialect.version,
                                         param is a)
                self.slots.append(Slot(param.bounded, render))
                return f"{SLOT_MARK}{len(self.slots) - 1}{SLOT_MARK}"
        if a.kind == "timestamp" or b.kind == "timestamp":
            if a.sql is None and b.sql is None:
                raise Unsupported("timestamp constant vs constant")
            sa, sb = self._sql(a, b), self._sql(b, a)
        else:
            sa, sb = a.sql, b.sql
        if _is_float(a):
            return self._float_compare(op, a, sa, b, sb)
        chop = "!=" if op == "<>" else op
        return f"({sa} {chop} {sb})"

    @staticmethod
    def _fit_domain(v: _Val):
        """The stored values of a bare integer/Decimal column (fit.py), else None."""
        if not v.column or v.kind not in _NUMERIC_KINDS:
            return None
        return numeric_domain(v.ch)

    @staticmethod
    def _fit_value(v: _Val):
        if not v.is_const or v.param or v.kind not in _NUMERIC_KINDS:
            return None
        return exact_value(v.const)

    @staticmethod
    def _text_domain(v: _Val):
        return text_domain(v.ch) if v.column and v.stored is not None else None

    @staticmethod
    def _text_const(v: _Val):
        return v.const if v.is_const and not v.param and isinstance(v.const, str) else None

    def _render_fitted(self, col: _Val, f, negated: bool = False) -> str:
        if f.op is None:
            return self._fit_outcome(col, f.outcome)
        ref = col.stored or col.sql
        if f.op in ("IN", "NOT IN") and tuple(self.dialect.version) < (20, 1):
            # 18.16 builds IN sets only from plain literals: compare one by one
            eq = "!=" if f.op == "NOT IN" else "="
            parts = [f"({ref} {eq} {lit})" for lit in f.items]
            return "(" + (" AND " if f.op == "NOT IN" else " OR ").join(parts) + ")"
        if f.op == "NOT IN" and col.nullable:
            return f"(({ref} IS NOT NULL) AND {ref} NOT IN {f.literal})"
        return f.comparison(ref)

    def _fit_text(self, op: str, a: _Val, b: _Val) -> str | None:
        if self._text_domain(a) is None:
            a, b, op = b, a, FLIP[op]
        dom, val = self._text_domain(a), self._text_const(b)
        if dom is None or val is None:
            return None
        if op not in ("=", "<>") and not self.dialect.text_collation_c:
            raise Unsupported("text ordering depends on a non-C collation")
        f = fit_text_compare(dom, op, val, L.text_sql)
        if f is None:
            raise Unsupported("constant longer than the FixedString")
        return self._render_fitted(a, f)

    def _fit_compare(self, op: str, a: _Val, b: _Val) -> str | None:
        """[fit] column op constant, in the column's own type (truthy-exact)."""
        if a.kind == "text":
            return self._fit_text(op, a, b)
        if self._fit_domain(a) is None:
            a, b, op = b, a, FLIP[op]
        dom, val = self._fit_domain(a), self._fit_value(b)
        if dom is None or val is None:
            return None
        f = fit_compare(dom, op, val)
        if f.op is not None:
            return f.comparison(a.sql)
        return self._fit_outcome(a, f.outcome)

    @staticmethod
    def _fit_outcome(col: _Val, outcome: str) -> str:
        if outcome == FALSE:
            return "0"
        return f"({col.stored or col.sql} IS NOT NULL)" if col.nullable else "1"

    @staticmethod
    def _float_compare(op: str, a: _Val, sa: str, b: _Val, sb: str) -> str:
        """PostgreSQL floats: NaN equals NaN and sorts above every number.
        ClickHouse follows IEEE (NaN compares false).  Truthy-exact forms."""
        def nan_const(v):
            return v.is_const and isinstance(v.const, float) and math.isnan(v.const)

        def maybe_nan(v):
            return v.maybe_nan and not (v.is_const and not nan_const(v))

        def known(v):   # a non-NULL, non-NaN constant
            return v.is_const and v.const is not None and not nan_const(v)

        if nan_const(a) or nan_const(b):
            if nan_const(a) and nan_const(b):
                return "1" if op in ("=", "<=", ">=") else "0"
            if nan_const(a):   # NaN op x  ->  x flipped-op NaN
                op, a, sa, b, sb = FLIP[op], b, sb, a, sa
            x = sa             # x op NaN; NaN is above every number
            return {"=": f"isNaN({x})", "<>": f"(NOT isNaN({x}))",
                    "<": f"(NOT isNaN({x}))", "<=": f"({x} IS NOT NULL)",
                    ">": "0", ">=": f"isNaN({x})"}[op]
        an, bn = maybe_nan(a), maybe_nan(b)
        chop = "!=" if op == "<>" else op
        ieee = f"({sa} {chop} {sb})"
        if op == "=":
            return f"({ieee} OR (isNaN({sa}) AND isNaN({sb})))" if (an and bn) else ieee
        if op == "<>":
            return f"({ieee} AND NOT (isNaN({sa}) AND isNaN({sb})))" if (an and bn) else ieee
        # ordering: only the larger side being NaN changes the answer
        if op in (">", ">="):
            big, big_sql, small, small_sql = a, sa, b, sb
        else:
            big, big_sql, small, small_sql = b, sb, a, sa
        if not maybe_nan(big):
            return ieee
        strict = op in ("<", ">")
        if known(small) and not strict:
            return f"({ieee} OR isNaN({big_sql}))"
        if known(small):
            return f"({ieee} OR isNaN({big_sql}))"
        if strict:
            return f"({ieee} OR (isNaN({big_sql}) AND NOT isNaN({small_sql})))"
        return f"({ieee} OR (isNaN({big_sql}) AND ({small_sql} IS NOT NULL)))"

    def distinct(self, a: _Val, b: _Val, distinct: bool) -> str:
        a, b = self._unify(a, b, "=")
        if a.is_null and b.is_null:
            return "1" if not distinct else "0"
        if a.is_null or b.is_null:
            other = b if a.is_null else a
            s = self._sql(other, a if a is not other else b)
            if other.is_const:
                return "1" if distinct else "0"
            return f"({s} IS NOT NULL)" if distinct else f"({s} IS NULL)"
        sa, sb = self._sql(a, b), self._sql(b, a)
        if a.is_const and not b.is_const:
            a, b, sa, sb = b, a, sb, sa
        if b.is_const:   # b is a non-NULL constant
            if not distinct:
                return self.compare("=", a, b)
            return f"({self.compare('<>', a, b)} OR ({sa} IS NULL))"
        if not distinct:
            eq = self.compare("=", a, b)
            return f"({eq} OR (({sa} IS NULL) AND ({sb} IS NULL)))"
        ne = self.compare("<>", a, b)
        return (f"({ne} OR (({sa} IS NULL) AND ({sb} IS NOT NULL))"
                f" OR (({sa} IS NOT NULL) AND ({sb} IS NULL)))")

    # -------------------------------------------------------- ANY / ALL

    def quantified(self, left, op: str, right, neg: bool) -> str:
        if isinstance(right, exp.Any):
            quant = "ANY"
            arr = strip_parens(right.this)
        else:
            quant = str(right.this).upper()
            if len(right.expressions) != 1:
                raise Unsupported("bad ALL()")
            arr = strip_parens(right.expressions[0])
        if neg:   # NOT (x op ANY a) == x (not op) ALL a, and vice versa
            quant = "ALL" if quant == "ANY" else "ANY"
        x = self.value(left)
        if isinstance(arr, exp.Parameter):
            return self.array_param(x, op, quant, arr)
        if isinstance(arr, exp.Array):
            elems = [self.value(e) for e in arr.expressions]
            if not elems:
                return "0" if quant == "ANY" else "1"
            parts = [self.compare(op, x, e) for e in elems]
            joiner = " OR " if quant == "ANY" else " AND "
            return "(" + joiner.join(parts) + ")"
        if not (isinstance(arr, exp.Cast) and isinstance(strip_parens(arr.this), exp.Literal)
                and arr.this.is_string):
            raise Unsupported("ANY/ALL over a non-constant array")
        tname = pg_type_name(arr.to)
        elem_type = pg_array_element(tname) if tname else None
        if elem_type is None:
            raise Unsupported("unsupported array type")
        raw = L.parse_pg_array(strip_parens(arr.this).this)
        elems = [self.const_of(t, elem_type) if t is not None else
                 _Val("NULL", pg_type(elem_type).kind if pg_type(elem_type) else "text", const=None)
                 for t in raw]
        if (quant, op) == ("ANY", "=") or (quant, op) == ("ALL", "<>"):
            return self.in_list(x, elems, quant == "ALL")
        # other operators: expand (still exact)
        if not elems:
            return "0" if quant == "ANY" else "1"
        if len(elems) > 1000:
            raise Unsupported("array too long to expand")
        parts = [self.compare(op, x, e) for e in elems]
        return "(" + (" OR " if quant == "ANY" else " AND ").join(parts) + ")"

    def array_param(self, x: _Val, op: str, quant: str, node: exp.Parameter) -> str:
        """x = ANY($n) / x <> ALL($n) with an array parameter: the list is
        built per execution from the array's elements (in_list's NULL rules)."""
        pid = param_id(node)
        tname = self.param_types.get(pid) or ""
        elem_type = pg_array_element(tname)
        pg = pg_type(elem_type) if elem_type else None
        if (quant, op) not in (("ANY", "="), ("ALL", "<>")):
            raise Unsupported("array parameter with an operator other than = ANY / <> ALL")
        if pg is None or pg.kind not in ("int", "text", "bool") or pg.has_typmod:
            raise Unsupported(f"array parameter of type {tname!r}")
        if not x.column:
            raise Unsupported("array parameter compared with an expression")
        self._unify(x, _Val("NULL", pg.kind, const=None), "=")
        negated = quant == "ALL"
        lo, hi = -(1 << (x.bits - 1)), (1 << (x.bits - 1)) - 1

        def render(text: str | None) -> str:
            if text is None:
                return "0"   # a NULL array: the result is NULL
            raw = L.parse_pg_array(flatten_pg_array(text))
            if not raw:
                return "1" if negated else "0"   # PG: even for a NULL x
            if negated and None in raw:
                return "0"                        # never TRUE
            vals = []
            for t in raw:
                if t is None:
                    continue
                v = self.const_of(t, elem_type)
                if pg.kind == "int" and not lo <= v.const <= hi:
                    continue   # equals no value of x's type (and <> holds for all)
                vals.append(v)
            if not vals:
                return f"({x.sql} IS NOT NULL)" if negated else "0"
            return self.in_list(x, vals, negated)
        self.slots.append(Slot(pid, render))
        return f"{SLOT_MARK}{len(self.slots) - 1}{SLOT_MARK}"

    def in_list(self, x: _Val, elems: list[_Val], negated: bool) -> str:
        """x = ANY(const array) / x <> ALL(const array)."""
        if not elems:
            return "1" if negated else "0"   # PG: even for NULL x
        has_null = any(e.is_null for e in elems)
        if negated and has_null:
            return "0"                       # never TRUE in PG
        vals = [e for e in elems if not e.is_null]
        if not vals:
            return "0"
        tdom = self._text_domain(x)
        if tdom is not None and all(self._text_const(v) is not None for v in vals):
            return self._render_fitted(x, fit_text_in(tdom, [v.const for v in vals], negated,
                                                      L.text_sql))
        dom = self._fit_domain(x)
        fit_vals = [self._fit_value(v) for v in vals]
        if dom is not None and all(fv is not None for fv in fit_vals):
            # [fit] the list in the column's own type
            lits, outcome = fit_in_list(dom, fit_vals, negated)
            if outcome is not None:
                return self._fit_outcome(x, outcome)
            if len(lits) == 1 or (dom.precision and tuple(self.dialect.version) < (20, 1)):
                # 18.16 cannot build an IN set from Decimal literals
                # ("Type mismatch in IN or VALUES section"): a chain of comparisons
                parts = [f"({x.sql} {'!=' if negated else '='} {lit})" for lit in lits]
                return "(" + (" AND " if negated else " OR ").join(parts) + ")"
            guard = f"({x.sql} IS NOT NULL) AND " if (negated and x.nullable) else ""
            return f"({guard}{x.sql} {'NOT IN' if negated else 'IN'} ({', '.join(lits)}))"
        probe = vals[0]
        x, _ = self._unify(x, probe, "=")
        for v in vals:
            self._check_date_floor(x, v)
        same = all(v.kind == x.kind for v in vals)
        if _is_float(x) and all(_is_float(v) and v.is_const for v in vals):
            return self._float_in(x, vals, negated)
        if not same or x.kind not in ("int", "text", "bool", "date", "timestamptz",
                                      "timestamp") or len(vals) == 1:
            # ClickHouse IN converts the set to the left side's type (e.g.
            # Decimal scale): only use it for identical kinds, otherwise
            # expand into exact comparisons.
            if len(vals) > 1000:
                raise Unsupported("list too long to expand")
            parts = [self.compare("<>" if negated else "=", x, v) for v in vals]
            return "(" + (" AND " if negated else " OR ").join(parts) + ")"
        if x.kind == "timestamp":
            if x.sql is None or not x.tz:
                raise Unsupported("timestamp IN list needs a column")
            lits = [self._sql(v, x) for v in vals]
        else:
            lits = [v.sql for v in vals]
        xs = x.sql
        # 18.16 returns 1 for NULL NOT IN (...): guard NULLs explicitly.
        guard = f"({xs} IS NOT NULL) AND " if (negated and x.nullable) else ""
        return f"({guard}{xs} {'NOT IN' if negated else 'IN'} ({', '.join(lits)}))"

    def _float_in(self, x: _Val, vals: list[_Val], negated: bool) -> str:
        xs = x.sql
        nan_in = any(math.isnan(v.const) for v in vals)
        nums = []
        for v in vals:
            if math.isnan(v.const):
                continue
            # PG: -0.0 = 0.0; ClickHouse IN hashes the bits: normalise both sides
            c = v.const + 0.0
            nums.append(L.float4_sql(c) if v.kind == "float4" else L.float_sql(c))
        probe = f"({xs} + 0.)"
        if not negated:
            terms = []
            if nums:
                terms.append(f"{probe} IN ({', '.join(nums)})")
            if nan_in:
                terms.append(f"isNaN({xs})")
            return "(" + " OR ".join(terms) + ")"
        terms = [f"({xs} IS NOT NULL)"]
        if nums:
            terms.append(f"{probe} NOT IN ({', '.join(nums)})")
        if nan_in:
            terms.append(f"(NOT isNaN({xs}))")
        return "(" + " AND ".join(terms) + ")"

    # -------------------------------------------------------- LIKE

    def like(self, subject, pattern, negate: bool, ilike: bool) -> str:
        s = self.value(subject)
        p = self.value(pattern)
        if s.kind != "text" or p.kind != "text":
            raise Unsupported("LIKE on non-text")
        if not p.is_const or p.param:
            raise Unsupported("LIKE with a non-constant pattern")
        if p.const is None or s.is_null:
            return "0"
        if ilike and any(_cased(c) for c in p.const):
            raise Unsupported("ILIKE with cased characters")
        tdom = self._text_domain(s)
        if tdom is not None and tdom.labels is not None and not ilike:
            f = fit_enum_like(tdom, p.const, negate, L.text_sql)   # [fit] the matching labels
            if f is not None:
                return self._render_fitted(s, f)
        pat = like_pattern(p.const)
        # ILIKE of a pattern with no cased characters is LIKE (PG lowers both
        # sides one character at a time; wildcards and uncased literals are
        # unaffected).  ClickHouse ILIKE folds Unicode (e.g. KELVIN SIGN ~ k),
        # PostgreSQL's depends on LC_CTYPE, so cased ILIKE is never pushed.
        from .quoting import quote_string
        return f"({s.sql} {'NOT LIKE' if negate else 'LIKE'} {quote_string(pat)})"


def _cased(ch: str) -> bool:
    return ch.isalpha() or ch.lower() != ch or ch.upper() != ch or ch.casefold() != ch


def translate_condition(pg_sql: str, columns: dict[str, ColumnInfo],
                        param_types: dict[int, str], dialect: Dialect,
                        why: list | None = None) -> RemoteCondition | None:
    """ClickHouse condition selecting exactly the rows the PostgreSQL clause
    selects, or None when that cannot be guaranteed (the reason is appended
    to why, for EXPLAIN VERBOSE)."""
    try:
        tree = parse(pg_sql)
        tr = _Translator(columns, param_types or {}, dialect)
        sql = tr.pred(tree, False)
        if any(f"{SLOT_MARK}{i}{SLOT_MARK}" in sql for i in tr.bounded_slots):
            raise Unsupported("a date/timestamptz parameter is sent only compared with a column")
        return RemoteCondition(sql, tr.slots)
    except Unsupported as e:
        if why is not None:
            why.append(str(e))
        return None
    except (ValueError, TypeError, KeyError, AttributeError,
            OverflowError, ArithmeticError, RecursionError) as e:
        if why is not None:
            why.append(f"not translatable ({type(e).__name__})")
        return None


def translate_sort_key(column: ColumnInfo, descending: bool, nulls_first: bool,
                       dialect: Dialect) -> str | None:
    """ORDER BY key sorting exactly like PostgreSQL's, or None."""
    pg = pg_type(column.pg_type)
    try:
        ch = ch_type(column.ch_type)
    except ValueError:
        return None
    tdom = text_domain(column.ch_type) if pg is not None and pg.kind == "text" else None
    if pg is None or not (tdom is not None or compatible(pg, ch)):
        return None
    if pg.kind == "text" and not dialect.text_collation_c:
        return None
    try:
        col = quote_identifier(column.remote_name)
    except ValueError:
        return None
    if tdom is not None and tdom.labels is not None:
        col = tdom.value_sql(col)      # [fit] an Enum sorts by its number: sort the label
    # [nulls-order]: see shared.sort_keys
    return ", ".join(sort_keys(col, descending, nulls_first, pg.kind in _FLOAT_KINDS))
