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
   value-exactly, or refused.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Callable

from sqlglot import exp

from . import literals as L
from .literals import Unsupported
from .pgparse import parse, pg_type_name
from .quoting import quote_identifier
from .kinds import ChType, PgType, ch_type, compatible, pg_array_element, pg_type


@dataclass(frozen=True)
class ColumnInfo:
    pg_name: str
    remote_name: str
    pg_type: str
    ch_type: str | None


@dataclass(frozen=True)
class Dialect:
    version: tuple[int, ...]
    text_collation_c: bool


_MARK = "\0"   # never appears raw in generated SQL: quoting escapes NUL


@dataclass(frozen=True)
class _Slot:
    param_id: int
    render: Callable[[str | None], str]


class SqlTemplate:
    """ClickHouse SQL with parameter slots, bound at execution by render();
    sql_template shows the parameters as $n (for EXPLAIN)."""

    def __init__(self, sql: str, slots: list[_Slot]):
        self._sql = sql
        self._slots = tuple(slots)
        parts = sql.split(_MARK)
        self.sql_template: str = "".join(
            p if i % 2 == 0 else f"${self._slots[int(p)].param_id}" for i, p in enumerate(parts))
        ids: list[int] = []
        for s in self._slots:
            if s.param_id not in ids:
                ids.append(s.param_id)
        self.param_ids: tuple[int, ...] = tuple(ids)

    def _render_slot(self, slot: _Slot, value: str | None) -> str:
        return slot.render(value)

    def render(self, params: dict[int, str | None]) -> str:
        parts = self._sql.split(_MARK)
        out = []
        for i, p in enumerate(parts):
            if i % 2 == 0:
                out.append(p)
            else:
                slot = self._slots[int(p)]
                if slot.param_id not in params:
                    raise KeyError(f"no value for parameter ${slot.param_id}")
                out.append(self._render_slot(slot, params[slot.param_id]))
        return "".join(out)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.sql_template!r})"


class RemoteCondition(SqlTemplate):
    """A translated WHERE condition of the per-table scan."""


# ---------------------------------------------------------------- values

_NOCONST = object()


@dataclass
class _Val:
    sql: str | None          # None only for timestamp constants (zone-dependent)
    kind: str                # int float4 float8 numeric text bool date timestamp timestamptz
    const: object = _NOCONST  # Python value for constants (None = SQL NULL)
    nullable: bool = True
    maybe_nan: bool = False
    column: bool = False     # a bare column reference
    tz: str | None = None    # timestamp columns: their (fixed) zone
    param: bool = False

    @property
    def is_const(self) -> bool:
        return self.const is not _NOCONST

    @property
    def is_null(self) -> bool:
        return self.const is None


_NUMERIC_KINDS = ("int", "numeric")
_FLOAT_KINDS = ("float4", "float8")
_PARAM_KINDS = ("int", "float4", "float8", "text", "bool")

_COMPLEMENT = {"=": "<>", "<>": "=", "<": ">=", ">=": "<", ">": "<=", "<=": ">"}
_FLIP = {"=": "=", "<>": "<>", "<": ">", ">": "<", "<=": ">=", ">=": "<="}
_CMP_CLASSES = {exp.EQ: "=", exp.NEQ: "<>", exp.LT: "<", exp.LTE: "<=",
                exp.GT: ">", exp.GTE: ">="}


def _paren_strip(node):
    while isinstance(node, exp.Paren):
        node = node.this
    return node


def _is_float(v: _Val) -> bool:
    return v.kind in _FLOAT_KINDS


class _Translator:
    def __init__(self, columns: dict[str, ColumnInfo], param_types: dict[int, str],
                 dialect: Dialect):
        self.columns = columns
        self.param_types = param_types
        self.dialect = dialect
        self.slots: list[_Slot] = []

    # -------------------------------------------------------- predicates

    def pred(self, node, neg: bool) -> str:
        node = _paren_strip(node)
        if isinstance(node, exp.Not):
            return self.pred(node.this, not neg)
        if isinstance(node, (exp.And, exp.Or)):
            is_and = isinstance(node, exp.And) != neg
            a = self.pred(node.this, neg)
            b = self.pred(node.expression, neg)
            return f"({a} {'AND' if is_and else 'OR'} {b})"
        for cls, op in _CMP_CLASSES.items():
            if type(node) is cls:
                if neg:
                    op = _COMPLEMENT[op]
                right = _paren_strip(node.expression)
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
        target = _paren_strip(node.expression)
        v = self.value(node.this)
        if isinstance(target, exp.Null):
            if v.is_const:
                return "1" if ((v.const is None) != neg) else "0"
            return f"({v.sql} IS NOT NULL)" if neg else f"({v.sql} IS NULL)"
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
                op, a, sa, b, sb = _FLIP[op], b, sb, a, sa
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
            arr = _paren_strip(right.this)
        else:
            quant = str(right.this).upper()
            if len(right.expressions) != 1:
                raise Unsupported("bad ALL()")
            arr = _paren_strip(right.expressions[0])
        if neg:   # NOT (x op ANY a) == x (not op) ALL a, and vice versa
            quant = "ALL" if quant == "ANY" else "ANY"
        x = self.value(left)
        if isinstance(arr, exp.Array):
            elems = [self.value(e) for e in arr.expressions]
            if not elems:
                return "0" if quant == "ANY" else "1"
            parts = [self.compare(op, x, e) for e in elems]
            joiner = " OR " if quant == "ANY" else " AND "
            return "(" + joiner.join(parts) + ")"
        if not (isinstance(arr, exp.Cast) and isinstance(_paren_strip(arr.this), exp.Literal)
                and arr.this.is_string):
            raise Unsupported("ANY/ALL over a non-constant array")
        tname = pg_type_name(arr.to)
        elem_type = pg_array_element(tname) if tname else None
        if elem_type is None:
            raise Unsupported("unsupported array type")
        raw = L.parse_pg_array(_paren_strip(arr.this).this)
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
        probe = vals[0]
        x, _ = self._unify(x, probe, "=")
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
        pat = p.const
        out = []
        i = 0
        while i < len(pat):
            ch = pat[i]
            if ch == "\\":
                if i + 1 >= len(pat):
                    raise Unsupported("LIKE pattern ends with escape (PG errors)")
                lit = pat[i + 1]
                i += 2
                out.append("\\" + lit if lit in "%_\\" else lit)
                if ilike and _cased(lit):
                    raise Unsupported("ILIKE with cased characters")
                continue
            if ch in "%_":
                out.append(ch)
            else:
                if ilike and _cased(ch):
                    raise Unsupported("ILIKE with cased characters")
                out.append(ch)
            i += 1
        # ILIKE of a pattern with no cased characters is LIKE (PG lowers both
        # sides one character at a time; wildcards and uncased literals are
        # unaffected).  ClickHouse ILIKE folds Unicode (e.g. KELVIN SIGN ~ k),
        # PostgreSQL's depends on LC_CTYPE, so cased ILIKE is never pushed.
        from .quoting import quote_string
        return f"({s.sql} {'NOT LIKE' if negate else 'LIKE'} {quote_string(''.join(out))})"

    # -------------------------------------------------------- values

    def value(self, node) -> _Val:
        node = _paren_strip(node)
        if isinstance(node, exp.Column):
            return self.column(node)
        if isinstance(node, exp.Parameter):
            return self.parameter(node)
        if isinstance(node, exp.Literal):
            if node.is_string:
                raise Unsupported("untyped string literal")
            t = str(node.this)
            if t.isdigit():
                v = int(t)
                kind = "int"
                if v >= (1 << 63):
                    raise Unsupported("integer literal too large")
                return _Val(L.int_sql(v), kind, const=v, nullable=False)
            d = L.numeric_value(t)
            return _Val(L.numeric_sql(d), "numeric", const=d, nullable=False)
        if isinstance(node, exp.Null):
            raise Unsupported("untyped NULL")
        if isinstance(node, exp.Boolean):
            return _Val(L.bool_sql(bool(node.this)), "bool", const=bool(node.this), nullable=False)
        if isinstance(node, exp.Cast):
            return self.cast(node)
        if isinstance(node, exp.Neg):
            return self.negate(self.value(node.this))
        if isinstance(node, (exp.Add, exp.Sub, exp.Mul, exp.Div, exp.Mod)):
            return self.arith(node)
        if isinstance(node, exp.DPipe):
            a, b = self.value(node.this), self.value(node.expression)
            if a.kind != "text" or b.kind != "text" or a.is_const and a.param is False and False:
                raise Unsupported("|| on non-text")
            if a.is_null or b.is_null:
                return _Val("NULL", "text", const=None)
            return _Val(f"concat({a.sql}, {b.sql})", "text",
                        nullable=a.nullable or b.nullable)
        if isinstance(node, exp.Coalesce):
            args = [self.value(node.this)] + [self.value(e) for e in node.expressions]
            k = args[0].kind
            if any(x.kind != k for x in args) or k in ("timestamp",) or _is_float(args[0]):
                raise Unsupported("COALESCE over mixed or unsupported types")
            if any(x.kind == "int" for x in args) and any(
                    x.kind != "int" for x in args):
                raise Unsupported("COALESCE mixed")
            live = [x for x in args if not x.is_null]
            if not live:
                return _Val("NULL", k, const=None)
            return _Val(f"coalesce({', '.join(x.sql for x in live)})", k,
                        nullable=all(x.nullable for x in live))
        raise Unsupported(f"unsupported expression {type(node).__name__}")

    def column(self, node: exp.Column) -> _Val:
        if node.table or node.args.get("db"):
            raise Unsupported("qualified column")
        name = node.name
        info = self.columns.get(name)
        if info is None:
            raise Unsupported(f"unknown column {name!r}")
        pg = pg_type(info.pg_type)
        ch = ch_type(info.ch_type)
        if pg is None or not compatible(pg, ch):
            raise Unsupported(f"column {name!r}: types {info.pg_type}/{info.ch_type} not pushable")
        if ch is not None and ch.low_cardinality and pg.kind != "text":
            raise Unsupported("LowCardinality non-string")
        tz = ch.timezone if ch is not None else None
        return _Val(quote_identifier(info.remote_name), pg.kind,
                    nullable=(ch is None or ch.nullable),
                    maybe_nan=pg.kind in _FLOAT_KINDS, column=True, tz=tz)

    def parameter(self, node: exp.Parameter) -> _Val:
        try:
            pid = int(str(node.this.this if isinstance(node.this, exp.Literal) else node.this))
        except (TypeError, ValueError):
            raise Unsupported("bad parameter")
        tname = self.param_types.get(pid)
        pg = pg_type(tname) if tname else None
        if pg is None or pg.kind not in _PARAM_KINDS:
            # date/time/numeric values may be outside ClickHouse's range,
            # which is only known at execution: do not push those.
            raise Unsupported(f"parameter ${pid} of type {tname!r} not pushable")
        kind = pg.kind

        def render(text: str | None, kind=kind) -> str:
            if text is None:
                return "NULL"
            if kind == "int":
                return L.int_sql(L.int_value(text))
            if kind == "float8":
                return L.float_sql(L.float8_value(text))
            if kind == "float4":
                return L.float4_sql(L.float4_value(text))
            if kind == "bool":
                return L.bool_sql(L.bool_value(text))
            return L.text_sql(text)

        if kind in _FLOAT_KINDS:
            def render(text, _inner=render):   # noqa: F811  (subnormals etc.)
                try:
                    return _inner(text)
                except Unsupported:
                    if text is not None and kind == "float8":
                        return f"toFloat64({L.text_sql(repr(L.float8_value(text)))})"
                    raise
        self.slots.append(_Slot(pid, render))
        marker = f"{_MARK}{len(self.slots) - 1}{_MARK}"
        return _Val(marker, kind, nullable=True, maybe_nan=kind in _FLOAT_KINDS, param=True)

    def const_of(self, text: str, type_name: str) -> _Val:
        pg = pg_type(type_name)
        if pg is None:
            raise Unsupported(f"constant of type {type_name}")
        k = pg.kind
        if k == "int":
            v = L.int_value(text)
            return _Val(L.int_sql(v), k, const=v, nullable=False)
        if k == "float8":
            v = L.float8_value(text)
            return _Val(L.float_sql(v), k, const=v, nullable=False, maybe_nan=math.isnan(v))
        if k == "float4":
            v = L.float4_value(text)
            return _Val(L.float4_sql(v), k, const=v, nullable=False, maybe_nan=math.isnan(v))
        if k == "numeric":
            if pg.has_typmod:
                raise Unsupported("numeric constant with typmod")
            v = L.numeric_value(text)
            return _Val(L.numeric_sql(v), k, const=v, nullable=False)
        if k == "text":
            if pg.has_typmod:
                raise Unsupported("varchar(n) constant")
            return _Val(L.text_sql(text), k, const=text, nullable=False)
        if k == "bool":
            v = L.bool_value(text)
            return _Val(L.bool_sql(v), k, const=v, nullable=False)
        if k == "date":
            v = L.date_value(text)
            return _Val(L.date_sql(v), k, const=v, nullable=False)
        if k == "timestamptz":
            v = L.timestamptz_value(text)
            return _Val(L.datetime_sql(v, "UTC", self.dialect.version), k, const=v, nullable=False)
        if k == "timestamp":
            v = L.timestamp_value(text)
            return _Val(None, k, const=v, nullable=False)
        raise Unsupported(f"constant of kind {k}")

    def cast(self, node: exp.Cast) -> _Val:
        tname = pg_type_name(node.to)
        if tname is None:
            raise Unsupported("cast to unsupported type")
        inner = _paren_strip(node.this)
        if isinstance(inner, exp.Literal) and inner.is_string:
            return self.const_of(inner.this, tname)
        if isinstance(inner, exp.Null):
            pg = pg_type(tname)
            if pg is None:
                raise Unsupported("NULL of unsupported type")
            return _Val("NULL", pg.kind, const=None)
        if isinstance(inner, exp.Literal) or (isinstance(inner, exp.Neg)
                                              and isinstance(_paren_strip(inner.this), exp.Literal)
                                              and not _paren_strip(inner.this).is_string):
            # (1.5)::double precision, (1)::bigint: convert the constant's text
            if isinstance(inner, exp.Neg):
                text = "-" + str(_paren_strip(inner.this).this)
            else:
                text = str(inner.this)
            pg = pg_type(tname)
            if pg is not None and pg.kind == "int" and not text.lstrip("-").isdigit():
                raise Unsupported("numeric to integer cast rounds")
            return self.const_of(text, tname)
        v = self.value(inner)
        pg = pg_type(tname)
        if pg is None:
            raise Unsupported("cast to unsupported type")
        src, dst = v.kind, pg.kind
        if v.is_null:
            return _Val("NULL", dst, const=None)
        if dst == src and not pg.has_typmod:
            return v
        if src == "int" and dst == "int":
            return v         # value-preserving, or PG raises an error
        if src == "int" and dst == "numeric" and not pg.has_typmod:
            return _Val(v.sql, "numeric", nullable=v.nullable, const=v.const)
        if src == "int" and dst == "float8":
            if v.is_const:
                return self.const_of(str(v.const), "double precision")
            return _Val(f"toFloat64({v.sql})", "float8", nullable=v.nullable)
        if src == "float4" and dst == "float8":
            return _Val(f"toFloat64({v.sql})", "float8", nullable=v.nullable,
                        maybe_nan=v.maybe_nan)
        if src == "text" and dst == "text" and not pg.has_typmod:
            return v
        if src == "int" and dst == "text" and not v.is_const:
            return _Val(f"toString({v.sql})", "text", nullable=v.nullable)
        raise Unsupported(f"cast {src} -> {tname}")

    def negate(self, v: _Val) -> _Val:
        if v.is_null:
            return v
        if v.kind == "int":
            if v.is_const:
                return self.const_of(str(-v.const), "bigint")
            return _Val(f"(-{v.sql})", "int", nullable=v.nullable)
        if v.kind == "numeric":
            if v.is_const:
                return _Val(L.numeric_sql(-v.const), "numeric", const=-v.const, nullable=False)
            return _Val(f"(-{v.sql})", "numeric", nullable=v.nullable)
        if v.kind == "float8":
            if v.is_const:
                c = -v.const
                return _Val(L.float_sql(c), "float8", const=c, nullable=False,
                            maybe_nan=math.isnan(c))
            return _Val(f"(-{v.sql})", "float8", nullable=v.nullable, maybe_nan=v.maybe_nan)
        raise Unsupported(f"unary minus on {v.kind}")

    def arith(self, node) -> _Val:
        a, b = self.value(node.this), self.value(node.expression)
        op = {exp.Add: "+", exp.Sub: "-", exp.Mul: "*", exp.Div: "/", exp.Mod: "%"}[type(node)]
        nullable = a.nullable or b.nullable
        if a.is_null or b.is_null:
            kind = a.kind if a.kind == b.kind else None
            if kind is None:
                raise Unsupported("NULL arithmetic of mixed types")
            return _Val("NULL", kind, const=None)
        if a.kind == "int" and b.kind == "int":
            # Compute in signed 64 bits: PostgreSQL's own types are at most
            # int8, so ClickHouse can only overflow where PostgreSQL raises.
            sa, sb = self._int64(a), self._int64(b)
            if op == "/":
                return _Val(f"intDiv({sa}, {sb})", "int", nullable=nullable)
            return _Val(f"({sa} {op} {sb})", "int", nullable=nullable)
        if a.kind in _NUMERIC_KINDS and b.kind in _NUMERIC_KINDS:
            if op not in "+-":
                # scale rules of * / % differ (18.16 even loses scale in *)
                raise Unsupported(f"numeric {op}")
            return _Val(f"({a.sql} {op} {b.sql})", "numeric", nullable=nullable)
        if a.kind == "float8" and b.kind == "float8":
            if op == "%":
                raise Unsupported("float %")
            if op == "/" and not (b.is_const and b.const != 0 and not math.isnan(b.const)
                                  and not math.isinf(b.const)):
                raise Unsupported("float division (PG errors on /0, ClickHouse gives inf)")
            return _Val(f"({a.sql} {op} {b.sql})", "float8", nullable=nullable,
                        maybe_nan=True)
        raise Unsupported(f"arithmetic {a.kind} {op} {b.kind}")

    @staticmethod
    def _int64(v: _Val) -> str:
        if v.is_const:
            return v.sql
        return f"toInt64({v.sql})"


def _cased(ch: str) -> bool:
    return ch.isalpha() or ch.lower() != ch or ch.upper() != ch or ch.casefold() != ch


def translate_condition(pg_sql: str, columns: dict[str, ColumnInfo],
                        param_types: dict[int, str], dialect: Dialect) -> RemoteCondition | None:
    """ClickHouse condition selecting exactly the rows the PostgreSQL clause
    selects, or None when that cannot be guaranteed."""
    try:
        tree = parse(pg_sql)
        tr = _Translator(columns, param_types or {}, dialect)
        sql = tr.pred(tree, False)
        return RemoteCondition(sql, tr.slots)
    except (Unsupported, ValueError, TypeError, KeyError, AttributeError,
            OverflowError, ArithmeticError, RecursionError):
        return None


def translate_sort_key(column: ColumnInfo, descending: bool, nulls_first: bool,
                       dialect: Dialect) -> str | None:
    """ORDER BY key sorting exactly like PostgreSQL's, or None."""
    pg = pg_type(column.pg_type)
    try:
        ch = ch_type(column.ch_type)
    except ValueError:
        return None
    if pg is None or not compatible(pg, ch):
        return None
    if pg.kind == "text" and not dialect.text_collation_c:
        return None
    try:
        col = quote_identifier(column.remote_name)
    except ValueError:
        return None
    d = "DESC" if descending else "ASC"
    n = "NULLS FIRST" if nulls_first else "NULLS LAST"
    if pg.kind in ("float4", "float8") and descending != nulls_first:
        # ClickHouse puts NaN next to NULL; PostgreSQL treats NaN as the
        # largest number.  They agree for ASC NULLS LAST / DESC NULLS FIRST;
        # otherwise sort by isNaN first.
        return f"isNaN({col}) {d} {n}, {col} {d} {n}"
    return f"{col} {d} {n}"
