"""Whole-query translation: a SELECT deparsed by PostgreSQL (pg_get_querydef,
search_path=pg_catalog, DateStyle=ISO, IntervalStyle=postgres,
extra_float_digits=3) -> one ClickHouse query returning the same rows.

Design
------
* sqlglot parses the text (postgres dialect).  We do NOT generate with
  sqlglot's ClickHouse dialect: every node is emitted by this module, with a
  type ("kind") attached to every value, because nearly every difference
  between the engines is type-dependent (integer division, Decimal scales,
  bpchar padding, NULL ordering, empty aggregates...).  Anything not handled
  explicitly raises NotPushable naming the construct.
* Names: every FROM item gets a generated alias (t1, t2, ...), every select
  output a generated alias (c1, c2, ...); every column reference is emitted
  qualified (`t3`.`l_orderkey`).  No user-supplied name is ever an alias, so
  ClickHouse's query-global alias substitution cannot capture anything.
  Remote database/table/column names are always backquoted (quoting.py).
* CTEs are inlined as subqueries at each reference (PostgreSQL 12+ does the
  same for non-recursive CTEs referenced once; for SELECT-only CTEs without
  volatile functions the result is the same either way).
* Semantic differences, each handled in one place (search for the tag):
  [nulls-order]   ORDER BY keys always carry explicit NULLS FIRST/LAST (PG
                  defaults: ASC NULLS LAST, DESC NULLS FIRST); float keys get
                  an isNaN() key first where NaN placement differs.
  [outer-join]    SETTINGS join_use_nulls = 1 when the query has an outer join.
  [empty-agg]     sum/avg/min/max/... use the -OrNull combinator (PG returns
                  NULL over empty input or an empty FILTER).
  [int-div]       integer / -> intDiv (truncates toward zero, throws on 0 like
                  PG); % -> % (sign of dividend, throws on 0).
  [numeric]       numeric values are ClickHouse Decimals with the same scale
                  as PostgreSQL's dscale (+,-: max scale, *: sum of scales,
                  sum: same scale).  Division and avg: see _numeric_div.
  [in-null]       IN / NOT IN (subquery) and = ANY / <> ALL with NULLs are
                  written out in three-valued logic (not transform_null_in).
  [like]          LIKE patterns are re-escaped; ILIKE and lower()/upper() use
                  the UTF-8 case mapping; regex (~) only for a safe subset.
  [utf8]          length/substring/position/lower/upper use the UTF8 variants.
  [tz]            timestamptz operations that depend on the session TimeZone
                  are pushed only with an explicit timezone argument, passed
                  to every ClickHouse date function.
  [set-ops]       UNION -> UNION DISTINCT, INTERSECT/EXCEPT -> ... DISTINCT;
                  INTERSECT ALL / EXCEPT ALL refused.
  [collation]     text <, >, ORDER BY, min/max on text only under C collation.
  [bool]          booleans are UInt8 inside; top-level outputs toBool() where
                  the engine has Bool.
  [bpchar]        character(n) values are compared/processed without trailing
                  spaces (PG semantics) and padded back to n on output.
  [div-zero]      float and numeric division by zero raise an error like PG.
"""

from __future__ import annotations

import datetime as _dt
import math
import re
from dataclasses import dataclass, field
from decimal import Decimal

import sqlglot
from sqlglot import exp

from . import literals as L
from .literals import Unsupported
from .pgparse import pg_type_name
from .quoting import quote_identifier as qi, quote_string as qs
from .scan import _MARK, ColumnInfo, Dialect, SqlTemplate, _Slot
from .types import ch_type as parse_ch_type, compatible, pg_type, PgType

__all__ = ["TableInfo", "NotPushable", "QueryTranslation", "translate_query",
           "output_convertible"]


# --------------------------------------------------------------------- API

#: Oldest ClickHouse the whole-query translator emits SQL for (the analyzer is
#: on by default from 24.3; differential tests run on chDB 26.x).
MIN_VERSION = (24, 3)

@dataclass(frozen=True)
class TableInfo:
    pg_name: str                      # as printed, e.g. 'public.lineitem'
    remote_db: str
    remote_table: str
    columns: dict                     # pg attname -> ColumnInfo


class NotPushable(Exception):
    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


class QueryTranslation(SqlTemplate):
    """ClickHouse SQL for a whole query; parameters bound by render()."""

    def __init__(self, sql: str, slots: list, settings: dict[str, str],
                 output_ch_types: list[str]):
        super().__init__(sql, [_Slot(pid, fn) for pid, fn in slots])
        self.settings = dict(settings)
        #: the ClickHouse type each output column is cast to
        self.output_ch_types = list(output_ch_types)

    def _render_slot(self, slot, value):
        try:
            return slot.render(value)
        except Unsupported as e:
            raise NotPushable(f"parameter ${slot.param_id}: {e}")


def translate_query(pg_sql: str, tables: dict[str, TableInfo], param_types: dict[int, str],
                    output_types: list[str], dialect: Dialect, *,
                    timezone: str | None = None,
                    fetch_expressions: bool = True) -> QueryTranslation:
    """Translate a deparsed PostgreSQL SELECT; raises NotPushable.

    timezone: PostgreSQL's session TimeZone (an IANA name).  Without it,
    operations whose result depends on it (date_trunc/extract on timestamptz,
    date <-> timestamptz conversions) are refused.
    fetch_expressions: wrap each output in the server-side fetch expression
    the scan's converters expect (ch_fdw.types.fetch_plan); off gives plain
    ClickHouse values (for running the SQL directly)."""
    try:
        text = pg_sql.strip().rstrip(";").strip()
        if "\0" in text:
            raise Unsupported("NUL in query text")
        try:
            trees = sqlglot.parse(text, dialect="postgres")
        except sqlglot.errors.SqlglotError as e:
            raise Unsupported(f"cannot parse query: {str(e)[:200]}")
        if len(trees) != 1 or trees[0] is None:
            raise Unsupported("expected exactly one statement")
        if tuple(dialect.version) < MIN_VERSION:
            # Older engines lack multiple JOINs per SELECT, -OrNull combinators,
            # divideDecimal, correlated subqueries and the analyzer's scoping
            # (Debian's 18.16 fails most TPC-H queries); the per-table path
            # answers those queries correctly instead.
            raise Unsupported("whole-query pushdown needs ClickHouse >= "
                              f"{'.'.join(map(str, MIN_VERSION))} (server is "
                              f"{'.'.join(map(str, dialect.version))})")
        tr = _Translator(tables, param_types or {}, dialect, timezone)
        tr.top_types = list(output_types)
        tr.fetch_expressions = fetch_expressions
        sql, outs = tr.query(trees[0], None, top=True)
        if len(outs) != len(output_types):
            raise Unsupported(f"query has {len(outs)} output columns, caller expects {len(output_types)}")
        ch_types = tr.top_ch_types
        settings = tr.settings_dict()
        if settings:
            sql += " SETTINGS " + ", ".join(f"{k} = {v}" for k, v in settings.items())
        return QueryTranslation(sql, tr.slots, settings, ch_types)
    except NotPushable:
        raise
    except Unsupported as e:
        raise NotPushable(str(e))
    except RecursionError:
        raise NotPushable("query too deeply nested")
    except (ValueError, TypeError, KeyError, AttributeError, OverflowError,
            ArithmeticError, IndexError) as e:
        raise NotPushable(f"translator could not handle the query ({type(e).__name__}: {e})")


def output_convertible(ch_type: str, pg_type_text: str, version=None) -> bool:
    """Can a ClickHouse result column of ch_type be fetched as pg_type_text?
    (Delegates to ch_fdw.types.fetch_plan, the scan's converter.)"""
    try:
        from ch_fdw.chtypes import fetch_plan
        fetch_plan(ch_type, pg_type_text, "column", version)
        return True
    except Exception:
        return False


# ------------------------------------------------------------------ values

_NOCONST = object()


@dataclass
class T:
    """A typed ClickHouse expression."""
    sql: str
    kind: str          # int float4 float8 numeric text bpchar bool date timestamp
                       # timestamptz interval
    nullable: bool = True
    const: object = _NOCONST
    scale: int | None = None     # numeric: dscale (ClickHouse Decimal scale)
    bits: int = 64               # int: 16/32/64
    n: int | None = None         # bpchar: declared length
    maybe_nan: bool = False
    agg: bool = False            # contains an aggregate
    decimal: bool = True         # numeric: SQL is already Decimal-typed

    @property
    def is_const(self):
        return self.const is not _NOCONST

    @property
    def is_null(self):
        return self.const is None


def _tv(sql, kind, **kw) -> T:
    return T(sql, kind, **kw)


_CMP = {exp.EQ: "=", exp.NEQ: "<>", exp.LT: "<", exp.LTE: "<=", exp.GT: ">", exp.GTE: ">="}
_COMPLEMENT = {"=": "<>", "<>": "=", "<": ">=", ">=": "<", ">": "<=", "<=": ">"}
_FLOATS = ("float4", "float8")
_TEXTS = ("text", "bpchar")

_UTC_NAMES = {"UTC", "Etc/UTC", "UCT", "Etc/UCT", "GMT", "Etc/GMT", "Zulu", "Etc/Zulu",
              "Universal", "Etc/Universal", "Etc/GMT0", "Etc/GMT+0", "Etc/GMT-0", "GMT0"}


def _strip(node):
    while isinstance(node, exp.Paren):
        node = node.this
    return node


def _quantifier(node):
    """('ANY'|'ALL', operand) for the right side of x op ANY/ALL (...), else None.
    sqlglot parses ANY as exp.Any and ALL as Anonymous('ALL')."""
    node = _strip(node)
    if isinstance(node, exp.Any):
        return "ANY", _strip(node.this)
    if isinstance(node, exp.All):
        return "ALL", _strip(node.this)
    if isinstance(node, exp.Anonymous) and str(node.this).upper() in ("ALL", "ANY") \
            and len(node.expressions) == 1:
        return str(node.this).upper(), _strip(node.expressions[0])
    return None


def _classify(type_text: str) -> tuple[str, PgType | None, int | None]:
    """('bpchar', None, n) for character(n); (kind, PgType, None) otherwise."""
    t = type_text.strip().lower()
    m = re.fullmatch(r"(?:character|char|bpchar)\s*(?:\(\s*(\d+)\s*\))?", t)
    if m:
        return "bpchar", None, int(m.group(1)) if m.group(1) else None
    p = pg_type(t)
    if p is None:
        raise Unsupported(f"type {type_text} not supported in pushed queries")
    return p.kind, p, None


def _numeric_typmod(type_text: str) -> tuple[int, int] | None:
    m = re.fullmatch(r"\s*numeric\s*\(\s*(\d+)\s*(?:,\s*(\d+)\s*)?\)\s*", type_text.lower())
    if not m:
        return None
    return int(m.group(1)), int(m.group(2) or 0)


# --------------------------------------------------------------- scoping

@dataclass
class _Item:
    name: str                    # PostgreSQL reference name
    alias: str                   # generated ClickHouse alias
    cols: dict                   # pg column name -> T (sql qualified)
    order: list                  # column names in order (for *)
    nullable: bool = False       # on the nullable side of an outer join


@dataclass
class _Scope:
    items: list = field(default_factory=list)
    parent: "_Scope | None" = None
    ctes: dict = field(default_factory=dict)     # name -> (ast, colnames, scope)
    outer_refs: bool = False                     # references an outer scope

    def all_ctes(self):
        s, out = self, {}
        chain = []
        while s is not None:
            chain.append(s)
            s = s.parent
        for s in reversed(chain):
            out.update(s.ctes)
        return out


# ------------------------------------------------------------- translator

class _Translator:
    def __init__(self, tables, param_types, dialect: Dialect, timezone):
        self.tables = tables
        self.param_types = param_types
        self.dialect = dialect
        self.version = tuple(dialect.version)
        self.tz = timezone
        self.slots: list = []
        self._t = 0
        self._c = 0
        self.outer_join = False
        self.grouping_sets = False
        self.correlated = False
        self.top_types = []
        self.top_ch_types = []

    @property
    def modern(self):
        return self.version >= (24, 3)

    def settings_dict(self) -> dict[str, str]:
        s = {}
        if self.outer_join:
            s["join_use_nulls"] = "1"                       # [outer-join]
        if self.grouping_sets:
            s["group_by_use_nulls"] = "1"
        if self.correlated:
            s["allow_experimental_correlated_subqueries"] = "1"
        if self.version >= (21, 9):
            # CASE/if/and/or evaluate lazily, so a guarded division or cast
            # cannot raise where PostgreSQL's CASE would not evaluate it.
            s["short_circuit_function_evaluation"] = "'enable'"
        return s

    def new_t(self):
        self._t += 1
        return f"t{self._t}"

    def new_c(self):
        self._c += 1
        return f"c{self._c}"

    def need(self, version, what):
        if self.version < version:
            raise Unsupported(f"{what} needs ClickHouse >= {'.'.join(map(str, version))}")

    # ============================================================ queries

    def query(self, node, parent: _Scope | None, top=False, ctes=None):
        """-> (sql, [(name, T)]) ; T.sql of outputs is the generated alias."""
        node = _strip(node)
        if isinstance(node, exp.Subquery) and not node.alias:
            return self.query(node.this, parent, top)
        if isinstance(node, (exp.Union, exp.Intersect, exp.Except)):
            return self.setop(node, parent, top)
        if not isinstance(node, exp.Select):
            raise Unsupported(f"{type(node).__name__} statement is not a plain SELECT")
        return self.select(node, parent, top)

    # ------------------------------------------------------------ set ops

    def _with_scope(self, node, parent):
        scope = _Scope(parent=parent)
        w = node.args.get("with_")
        if w is not None:
            if w.args.get("recursive"):
                raise Unsupported("WITH RECURSIVE")
            for cte in w.expressions:
                alias = cte.args.get("alias")
                name = alias.this.name if alias else cte.alias
                cols = [c.name for c in alias.columns] if alias and alias.columns else None
                if cte.args.get("materialized") is not None:
                    pass
                scope.ctes[name] = (cte.this, cols, scope)
        return scope

    def setop(self, node, parent, top=False):
        self.need((21, 1), "INTERSECT/EXCEPT") if not isinstance(node, exp.Union) else None
        scope = self._with_scope(node, parent)
        distinct = node.args.get("distinct", True)
        if isinstance(node, exp.Union):
            op = "UNION DISTINCT" if distinct else "UNION ALL"          # [set-ops]
            if distinct:
                self.need((20, 1), "UNION DISTINCT")
        elif isinstance(node, exp.Intersect):
            if not distinct:
                raise Unsupported("INTERSECT ALL (ClickHouse has no multiset INTERSECT)")
            op = "INTERSECT DISTINCT"
        else:
            if not distinct:
                raise Unsupported("EXCEPT ALL (ClickHouse has no multiset EXCEPT)")
            op = "EXCEPT DISTINCT"
        lsql, louts = self.query(node.this, scope)
        rsql, routs = self.query(node.expression, scope)
        if len(louts) != len(routs):
            raise Unsupported("set operation branches differ in width")
        names = [self.new_c() for _ in louts]
        outs = []
        lcols, rcols = [], []
        for (ln, lt), (rn, rt), nm in zip(louts, routs, names):
            a, b = self._unify_setop(lt, rt)
            lcols.append(f"{a} AS {qi(nm)}")
            rcols.append(f"{b} AS {qi(nm)}")
            k = lt if lt.kind != "null" else rt
            outs.append((ln, T(qi(nm), k.kind, nullable=lt.nullable or rt.nullable,
                               scale=k.scale, bits=max(lt.bits, rt.bits), n=lt.n or rt.n,
                               maybe_nan=lt.maybe_nan or rt.maybe_nan)))
        la, ra = self.new_t(), self.new_t()
        # the branch outputs are referenced through their aliases
        lcols2 = [f"{qi(la)}.{lt.sql} AS {qi(nm)}" for (_, lt), nm in zip(louts, names)]
        rcols2 = [f"{qi(ra)}.{rt.sql} AS {qi(nm)}" for (_, rt), nm in zip(routs, names)]
        for i, ((_, lt), (_, rt)) in enumerate(zip(louts, routs)):
            a, b = self._unify_setop(T(f"{qi(la)}.{lt.sql}", lt.kind, scale=lt.scale, bits=lt.bits),
                                     T(f"{qi(ra)}.{rt.sql}", rt.kind, scale=rt.scale, bits=rt.bits))
            lcols2[i] = f"{a} AS {qi(names[i])}"
            rcols2[i] = f"{b} AS {qi(names[i])}"
        sql = (f"SELECT {', '.join(lcols2)} FROM ({lsql}) AS {qi(la)} {op} "
               f"SELECT {', '.join(rcols2)} FROM ({rsql}) AS {qi(ra)}")
        order = node.args.get("order")
        limit, offset = node.args.get("limit"), node.args.get("offset")
        if order or limit or offset or top:
            wa = self.new_t()
            item = _Item("", wa, {}, [])
            for (nm_pg, t), nm in zip(outs, names):
                item.cols[nm_pg] = T(f"{qi(wa)}.{qi(nm)}", t.kind, nullable=t.nullable,
                                     scale=t.scale, bits=t.bits, n=t.n, maybe_nan=t.maybe_nan)
            osc = _Scope(items=[item], parent=parent)
            o_outs = [(nm_pg, item.cols[nm_pg]) for nm_pg, _ in outs]
            keys = self.order_by(order, osc, o_outs, None) if order else ""
            names2 = [self.new_c() for _ in outs]
            if top:
                names2 = [f"r{i + 1}" for i in range(len(outs))]
                sel = ", ".join(f"{self.output_expr(item.cols[n0], i)} AS {qi(n2)}"
                                for i, ((n0, _), n2) in enumerate(zip(outs, names2)))
            else:
                sel = ", ".join(f"{item.cols[n0].sql} AS {qi(n2)}" for (n0, _), n2 in zip(outs, names2))
            sql = f"SELECT {sel} FROM ({sql}) AS {qi(wa)}{keys}{self.limit_sql(limit, offset)}"
            outs = [(n0, T(qi(n2), t.kind, nullable=t.nullable, scale=t.scale, bits=t.bits,
                           n=t.n, maybe_nan=t.maybe_nan)) for (n0, t), n2 in zip(outs, names2)]
        return sql, outs

    def _unify_setop(self, a: T, b: T) -> tuple[str, str]:
        if a.kind == "bpchar" and b.kind == "bpchar":
            # [bpchar] the output pads to the branch's length: must be one length
            if a.n is not None and b.n is not None and a.n != b.n:
                raise Unsupported("set operation over character columns of different lengths")
            return a.sql, b.sql
        if a.kind == b.kind:
            if a.kind == "numeric" and a.scale != b.scale:
                raise Unsupported("set operation over numerics of different scales")
            if a.kind == "int" and a.bits != b.bits:
                return f"toInt64({a.sql})", f"toInt64({b.sql})"
            return a.sql, b.sql
        raise Unsupported(f"set operation mixes {a.kind} and {b.kind}")

    def limit_sql(self, limit, offset) -> str:
        out = ""
        if limit is not None:
            e = _strip(limit.expression)
            if isinstance(e, exp.Null) or (isinstance(e, exp.Cast) and isinstance(_strip(e.this), exp.Null)):
                pass   # LIMIT NULL / ALL
            else:
                out += f" LIMIT {self._count_expr(e, 'LIMIT')}"
        if offset is not None:
            e = _strip(offset.expression)
            if limit is None or out == "":
                out += f" LIMIT {(1 << 63) - 1}"   # ClickHouse needs LIMIT with OFFSET
            out += f" OFFSET {self._count_expr(e, 'OFFSET')}"
        return out

    def _count_expr(self, e, what) -> str:
        if isinstance(e, exp.Literal) and not e.is_string and str(e.this).isdigit():
            return str(int(e.this))
        if isinstance(e, exp.Cast) and isinstance(_strip(e.this), exp.Literal):
            t = str(_strip(e.this).this)
            if t.isdigit():
                return str(int(t))
        if isinstance(e, exp.Parameter):
            pid = self._param_id(e)
            k, _, _ = _classify(self.param_types.get(pid, "?"))
            if k != "int":
                raise Unsupported(f"{what} parameter of non-integer type")

            def render(v):
                if v is None:
                    return str((1 << 63) - 1) if what == "LIMIT" else "0"
                n = L.int_value(v)
                if n < 0:
                    raise Unsupported(f"negative {what}")
                return str(n)
            return self._slot(pid, render)
        raise Unsupported(f"{what} must be a constant or parameter")

    # ------------------------------------------------------------ SELECT

    def select(self, node: exp.Select, parent, top=False):
        scope = self._with_scope(node, parent)
        if node.args.get("into"):
            raise Unsupported("SELECT INTO")
        if node.args.get("locks"):
            raise Unsupported("FOR UPDATE/SHARE")
        distinct = node.args.get("distinct")
        if distinct is not None and distinct.args.get("on"):
            raise Unsupported("DISTINCT ON")
        # FROM
        from_sql = ""
        fr = node.args.get("from_")
        if fr is not None:
            from_sql = " FROM " + self.from_items(fr, node.args.get("joins") or [], scope)
        elif node.args.get("joins"):
            raise Unsupported("joins without FROM")
        where = node.args.get("where")
        where_sql = ""
        if where is not None:
            where_sql = " WHERE " + self.pred(where.this, scope, False)
        group = node.args.get("group")
        group_sql = ""
        grouped = group is not None
        if group is not None:
            group_sql = self.group_by(group, scope)
        having = node.args.get("having")
        having_sql = ""
        if having is not None:
            having_sql = " HAVING " + self.pred(having.this, scope, False)
        # outputs
        outs = []
        cols = []
        for e in node.expressions:
            if isinstance(e, exp.Star) or (isinstance(e, exp.Column) and isinstance(e.this, exp.Star)):
                raise Unsupported("* in select list")
            name = e.alias_or_name if isinstance(e, exp.Alias) else (
                e.name if isinstance(e, exp.Column) else "?column?")
            inner = e.this if isinstance(e, exp.Alias) else e
            v = self.value(inner, scope)
            if v.kind == "null":
                v = T("NULL", "text", const=None)
            v = self.materialize(v)
            nm = self.new_c()
            if top:
                nm = f"r{len(cols) + 1}"
                cols.append(f"{self.output_expr(v, len(cols))} AS {qi(nm)}")
            else:
                cols.append(f"{v.sql} AS {qi(nm)}")
            outs.append((name, T(qi(nm), v.kind, nullable=v.nullable, scale=v.scale,
                                 bits=v.bits, n=v.n, maybe_nan=v.maybe_nan, agg=v.agg)))
        if not grouped and any(t.agg for _, t in outs) is False and having is not None:
            pass
        order = node.args.get("order")
        order_sql = ""
        if order is not None:
            order_sql = self.order_by(order, scope, outs, cols)
        limit_sql = self.limit_sql(node.args.get("limit"), node.args.get("offset"))
        if node.args.get("qualify"):
            raise Unsupported("QUALIFY")
        dist = "DISTINCT " if distinct is not None else ""
        if not cols:
            raise Unsupported("empty select list")
        sql = (f"SELECT {dist}{', '.join(cols)}{from_sql}{where_sql}{group_sql}"
               f"{having_sql}{order_sql}{limit_sql}")
        return sql, outs

    def materialize(self, v: T) -> T:
        """Make the value's SQL carry its PostgreSQL type (numeric -> Decimal)."""
        if v.kind == "numeric" and not v.decimal:
            return T(f"toDecimal128({v.sql}, {v.scale or 0})", "numeric", nullable=v.nullable,
                     scale=v.scale or 0, agg=v.agg, const=v.const)
        if v.kind == "interval":
            raise Unsupported("interval values in results")
        return v

    # ------------------------------------------------------------ FROM

    def from_items(self, fr, joins, scope) -> str:
        sql = self.from_item(fr.this, scope, flatten_ok=True)
        for j in joins:
            sql = self.join(sql, j, scope)
        return sql

    def join(self, left_sql, j: exp.Join, scope) -> str:
        kind = (j.args.get("kind") or "").upper()
        side = (j.args.get("side") or "").upper()
        if j.args.get("using"):
            raise Unsupported("JOIN ... USING")
        if kind in ("SEMI", "ANTI", "ASOF") or j.args.get("method"):
            raise Unsupported(f"{kind} JOIN")
        on = j.args.get("on")
        first = len(scope.items)
        right_sql = self.from_item(j.this, scope, flatten_ok=(kind == "CROSS" or on is None)
                                   and not side)
        if side in ("LEFT", "RIGHT", "FULL"):
            self.outer_join = True                                   # [outer-join]
            nullable_items = []
            if side in ("LEFT", "FULL"):
                nullable_items += scope.items[first:]
            if side in ("RIGHT", "FULL"):
                nullable_items += scope.items[:first]
            for it in nullable_items:
                it.nullable = True
            if on is None:
                raise Unsupported("outer join without ON")
            cond = self.pred(on, scope, False)
            return f"{left_sql} {side} JOIN {right_sql} ON {cond}"
        if kind == "CROSS" or on is None:
            return f"{left_sql} CROSS JOIN {right_sql}"
        if right_sql.startswith("\0JOINTREE"):
            raise Unsupported("nested join tree on the right of a join")
        cond = self.pred(on, scope, False)
        return f"{left_sql} INNER JOIN {right_sql} ON {cond}"

    def from_item(self, node, scope: _Scope, flatten_ok=False) -> str:
        if isinstance(node, exp.Subquery) and node.args.get("alias") is None and \
                isinstance(_strip(node.this), (exp.Table, exp.Subquery)):
            # a parenthesised join tree: (a LEFT JOIN b ON ...).  Its items join
            # the current scope; written without parentheses, which is the
            # same join only where it is the first FROM item or cross-joined
            # (its ON clauses cannot reference items outside it).
            if not flatten_ok:
                raise Unsupported("nested join tree in this position")
            inner = _strip(node.this)
            if isinstance(inner, exp.Table) and inner.args.get("joins"):
                base = inner.copy()
                base.set("joins", None)
                sql = self.from_item(base, scope, flatten_ok=True)
                for j in inner.args["joins"]:
                    sql = self.join(sql, j, scope)
                return sql
            return self.from_item(inner, scope, flatten_ok=True)
        if isinstance(node, exp.Table) and isinstance(node.this, exp.Identifier) \
                and not node.args.get("joins"):
            return self.table(node, scope)
        if isinstance(node, exp.Subquery):
            inner = node.this
            alias = node.args.get("alias")
            if alias is None:
                # parenthesised join tree: (a LEFT JOIN b ON ...)
                if isinstance(inner, exp.Table) or (isinstance(inner, exp.Select) is False and
                                                     hasattr(inner, "args")):
                    pass
                raise Unsupported("subquery in FROM without alias")
            if node.args.get("lateral") or isinstance(node.parent, exp.Lateral):
                raise Unsupported("LATERAL")
            # a subquery may not see sibling FROM items (no LATERAL): parent scope only
            sub_parent = _Scope(parent=scope.parent, ctes=scope.all_ctes())
            sql, outs = self.query(inner, sub_parent)
            if sub_parent.outer_refs:
                raise Unsupported("correlated subquery in FROM")
            names = [c.name for c in alias.columns] if alias.columns else []
            return self._add_derived(scope, alias.this.name if alias.this else alias.name,
                                     sql, outs, names)
        if isinstance(node, exp.Table) and isinstance(node.this, (exp.Select, exp.Union)):
            raise Unsupported("unsupported FROM item")
        if isinstance(node, exp.Lateral):
            raise Unsupported("LATERAL")
        if isinstance(node, exp.Paren) or (isinstance(node, exp.Table) and node.args.get("joins")):
            pass
        if isinstance(node, exp.Table) and node.args.get("joins"):
            # (a JOIN b ON ...) parsed as a Table with joins
            sql = self.from_item(node.this, scope)
            for j in node.args["joins"]:
                sql = self.join(sql, j, scope)
            return sql
        if isinstance(node, exp.Paren):
            return self.from_item(node.this, scope)
        raise Unsupported(f"FROM item {type(node).__name__}")

    def _add_derived(self, scope, refname, sql, outs, colnames) -> str:
        alias = self.new_t()
        item = _Item(refname, alias, {}, [])
        for i, (nm, t) in enumerate(outs):
            pgname = colnames[i] if i < len(colnames) else nm
            if pgname in item.cols:
                item.cols[pgname] = None       # ambiguous: refuse on use
                continue
            item.cols[pgname] = T(f"{qi(alias)}.{t.sql}", t.kind, nullable=t.nullable,
                                  scale=t.scale, bits=t.bits, n=t.n, maybe_nan=t.maybe_nan)
            item.order.append(pgname)
        scope.items.append(item)
        return f"({sql}) AS {qi(alias)}"

    def table(self, node: exp.Table, scope: _Scope) -> str:
        if node.args.get("joins"):
            raise Unsupported("join syntax")
        name = node.this
        db = node.args.get("db")
        catalog = node.args.get("catalog")
        if catalog is not None:
            raise Unsupported("three-part table name")
        alias = node.args.get("alias")
        refname = alias.this.name if alias is not None and alias.this is not None else name.name
        colaliases = [c.name for c in alias.columns] if alias is not None and alias.columns else []
        if db is None:
            ctes = scope.all_ctes()
            if name.name in ctes:
                ast, cols, cscope = ctes[name.name]
                sub_parent = _Scope(parent=None, ctes=dict(cscope.all_ctes()))
                # a CTE sees the CTEs defined before it (and itself is not recursive)
                visible = {}
                for k, v in sub_parent.ctes.items():
                    if k == name.name:
                        break
                    visible[k] = v
                sub_parent.ctes = visible
                sql, outs = self.query(ast, sub_parent)
                names = colaliases or (cols or [])
                if cols and colaliases:
                    names = colaliases + cols[len(colaliases):]
                return self._add_derived(scope, refname, sql, outs, names)
        pg_name = node.copy()
        pg_name.set("alias", None)
        key = pg_name.sql(dialect="postgres")
        info = self.tables.get(key)
        if info is None:
            raise Unsupported(f"relation {key} is not a foreign table of this server")
        t = self.new_t()
        item = _Item(refname, t, {}, [])
        cols = list(info.columns.items())
        for i, (pgcol, ci) in enumerate(cols):
            nm = colaliases[i] if i < len(colaliases) else pgcol
            item.cols[nm] = ("lazy", ci, t)
            item.order.append(nm)
        scope.items.append(item)
        return f"{qi(info.remote_db)}.{qi(info.remote_table)} AS {qi(t)}"

    def _column_value(self, ci: ColumnInfo, alias: str) -> T:
        kind, pg, n = _classify(ci.pg_type)
        ch = parse_ch_type(ci.ch_type) if ci.ch_type else None
        ref = f"{qi(alias)}.{qi(ci.remote_name)}"
        nullable = ch is None or ch.nullable
        if ch is not None and ch.base == "Nothing":
            raise Unsupported("column of type Nothing")
        if kind == "bpchar":
            if ch is not None and ch.base != "String":
                raise Unsupported(f"column {ci.pg_name}: character(n) over {ci.ch_type}")
            # [bpchar] PostgreSQL ignores trailing spaces of character(n)
            return T(f"trimRight({ref})", "bpchar", nullable=nullable, n=n)
        if not compatible(pg, ch):
            raise Unsupported(f"column {ci.pg_name}: {ci.pg_type} over ClickHouse {ci.ch_type}")
        if ch is not None and ch.low_cardinality and kind != "text":
            raise Unsupported(f"column {ci.pg_name}: LowCardinality({ch.base})")
        if kind == "timestamp":
            if ch is None or ch.timezone not in _UTC_NAMES:
                raise Unsupported(f"column {ci.pg_name}: timestamp over a non-UTC DateTime")
        if kind == "timestamptz" and ch is not None and ch.base == "DateTime64":
            try:
                if int(ch.args[0]) > 6:
                    raise Unsupported(f"column {ci.pg_name}: DateTime64 precision > 6")
            except (ValueError, IndexError):
                raise Unsupported(f"column {ci.pg_name}: DateTime64 precision unknown")
        if kind == "int":
            if ch is not None and ch.base in ("UInt64",):
                raise Unsupported(f"column {ci.pg_name}: UInt64 as integer")
            bits = pg.bits
            return T(ref, "int", nullable=nullable, bits=bits)
        if kind == "numeric":
            if ch is None:
                raise Unsupported(f"column {ci.pg_name}: numeric needs the ClickHouse type")
            if ch.base == "Decimal":
                if len(ch.args) == 2:
                    scale = int(ch.args[1])
                elif len(ch.args) == 1 and ch.base == "Decimal":
                    scale = int(ch.args[0]) if ci.ch_type.strip().lstrip("Nulabe(").startswith("Decimal") and re.search(r"Decimal(32|64|128|256)", ci.ch_type) else 0
                else:
                    scale = 0
                tm = _numeric_typmod(ci.pg_type)
                if tm is not None and tm[1] != scale:
                    raise Unsupported(f"column {ci.pg_name}: numeric scale differs from Decimal scale")
                return T(ref, "numeric", nullable=nullable, scale=scale)
            return T(f"toDecimal128({ref}, 0)", "numeric", nullable=nullable, scale=0)
        if kind == "bool":
            return T(ref, "bool", nullable=nullable)
        if kind in _FLOATS:
            return T(ref, kind, nullable=nullable, maybe_nan=True)
        if kind == "text" and pg is not None and pg.has_typmod:
            kind = "text"
        return T(ref, kind, nullable=nullable)

    # ------------------------------------------------------------ columns

    def resolve(self, col: exp.Column, scope: _Scope) -> T:
        if col.args.get("db") or col.args.get("catalog"):
            raise Unsupported("schema-qualified column reference")
        tname = col.table
        name = col.name
        s, depth = scope, 0
        while s is not None:
            hits = []
            for it in s.items:
                if tname and it.name != tname:
                    continue
                if name in it.cols:
                    hits.append(it)
            if len(hits) > 1:
                raise Unsupported(f"ambiguous column {name}")
            if hits:
                it = hits[0]
                t = it.cols[name]
                if t is None:
                    raise Unsupported(f"ambiguous column {name}")
                if isinstance(t, tuple):
                    t = self._column_value(t[1], t[2])
                    it.cols[name] = t
                if depth:
                    self.correlated = True
                    self.need((25, 4), "correlated subqueries")
                    s2 = scope
                    for _ in range(depth):
                        s2.outer_refs = True
                        s2 = s2.parent
                return T(t.sql, t.kind, nullable=t.nullable or it.nullable, scale=t.scale,
                         bits=t.bits, n=t.n, maybe_nan=t.maybe_nan)
            s = s.parent
            depth += 1
        raise Unsupported(f"column {col.sql()} not found")

    # ============================================================ GROUP BY / ORDER BY

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
        for r in group.args.get("rollup") or []:
            extra.append("ROLLUP(" + ", ".join(self.group_key(e, scope) for e in r.expressions) + ")")
        for c in group.args.get("cube") or []:
            extra.append("CUBE(" + ", ".join(self.group_key(e, scope) for e in c.expressions) + ")")
        for gs in group.args.get("grouping_sets") or []:
            sets = []
            for s in gs.expressions:
                s = _strip(s) if not isinstance(s, exp.Tuple) else s
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
        e = _strip(e)
        if isinstance(e, exp.Literal) and not e.is_string:
            raise Unsupported("GROUP BY position")
        v = self.value(e, scope)
        if v.kind in _FLOATS:
            # PG groups NaN with NaN and -0 with 0; ClickHouse hashes bits
            raise Unsupported("GROUP BY float (PG groups NaN with NaN and -0 with 0)")
        return v.sql

    def order_by(self, order: exp.Order, scope, outs, cols) -> str:
        keys = []
        for o in order.expressions:
            e = _strip(o.this)
            desc = bool(o.args.get("desc"))
            nf = o.args.get("nulls_first")
            nulls_first = desc if nf is None else bool(nf)
            if isinstance(e, exp.Literal) and not e.is_string and str(e.this).isdigit():
                i = int(e.this) - 1
                if not 0 <= i < len(outs):
                    raise Unsupported("ORDER BY position out of range")
                v = outs[i][1]
            else:
                v = self.value(e, scope)
            keys.extend(self.sort_key(v, desc, nulls_first))
        return " ORDER BY " + ", ".join(keys)

    def sort_key(self, v: T, desc: bool, nulls_first: bool) -> list[str]:
        if v.is_const:
            return []
        if v.kind in _TEXTS and not self.dialect.text_collation_c:
            raise Unsupported("ORDER BY text under a non-C collation")   # [collation]
        if v.kind == "interval":
            raise Unsupported("ORDER BY interval")
        d = "DESC" if desc else "ASC"
        n = "NULLS FIRST" if nulls_first else "NULLS LAST"          # [nulls-order]
        sql = v.sql
        if v.kind == "numeric" and not v.decimal:
            sql = v.sql
        if v.kind in _FLOATS and v.maybe_nan and desc != nulls_first:
            return [f"isNaN({sql}) {d} {n}", f"{sql} {d} {n}"]
        return [f"{sql} {d} {n}"]

    # ============================================================ predicates

    def pred(self, node, scope, neg: bool) -> str:
        """A condition that is TRUE in ClickHouse exactly when the PostgreSQL
        condition is TRUE (negation pushed down to atoms first, so three-valued
        NOT never reaches ClickHouse except on plain booleans)."""
        node = _strip(node)
        if isinstance(node, exp.Not):
            return self.pred(node.this, scope, not neg)
        if isinstance(node, (exp.And, exp.Or)):
            is_and = isinstance(node, exp.And) != neg
            a = self.pred(node.this, scope, neg)
            b = self.pred(node.expression, scope, neg)
            return f"({a} {'AND' if is_and else 'OR'} {b})"
        if isinstance(node, exp.Exists):
            sql, _ = self.subquery(node.this, scope)
            return f"({'NOT ' if neg else ''}EXISTS ({sql}))"
        if isinstance(node, exp.In):
            return self.in_pred(node, scope, neg)
        if type(node) in _CMP and _quantifier(node.expression):
            return self.quantified(node, scope, neg)
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
        target = _strip(node.expression)
        v = self.value(node.this, scope)
        if isinstance(target, exp.Null):
            if v.is_const:
                return "1" if ((v.const is None) != neg) else "0"
            return f"({v.sql} IS {'NOT ' if neg else ''}NULL)"
        if isinstance(target, exp.Boolean):
            if v.kind != "bool":
                raise Unsupported("IS TRUE/FALSE on non-boolean")
            want = bool(target.this)
            if v.is_const:
                r = v.const is not None and bool(v.const) == want
                return "1" if r != neg else "0"
            if not neg:
                return f"({v.sql} = {1 if want else 0})"
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
        op = _CMP[type(node)]
        quant, arr = _quantifier(node.expression)
        if neg:
            op = _COMPLEMENT[op]
            quant = "ALL" if quant == "ANY" else "ANY"
        x = self.value(node.this, scope)
        if isinstance(arr, (exp.Select, exp.Union, exp.Subquery)) or (
                isinstance(arr, exp.Subquery)):
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
            return [self.value(e, scope) for e in arr.expressions]
        if isinstance(arr, exp.Cast) and isinstance(_strip(arr.this), exp.Literal) and arr.this.is_string:
            tname = pg_type_name(arr.to)
            if not tname and arr.to.this == exp.DataType.Type.ARRAY and arr.to.expressions \
                    and arr.to.expressions[0].this == exp.DataType.Type.CHAR:
                tname = "bpchar[]"
            if not tname or not tname.endswith("[]"):
                raise Unsupported("array constant of unsupported type")
            et = tname[:-2]
            return [self.const_of(t, et) if t is not None else T("NULL", _classify(et)[0], const=None)
                    for t in L.parse_pg_array(_strip(arr.this).this)]
        raise Unsupported("ANY/ALL over a non-constant array")

    # ============================================================ subqueries

    def subquery(self, q, scope):
        q = _strip(q)
        if isinstance(q, exp.Subquery):
            q = q.this
        sub = _Scope(parent=scope)
        sql, outs = self.query(q, sub)
        return sql, outs

    # ============================================================ comparisons

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
            return f"toDateTime({v.sql}, 'UTC')"
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
        if a.kind in _TEXTS and op not in ("=", "<>") and not self.dialect.text_collation_c:
            raise Unsupported("text ordering comparison under a non-C collation")  # [collation]
        if a.kind == "interval" or b.kind == "interval":
            raise Unsupported("interval comparison")
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

    def _date_ts_const_cmp(self, op, a: T, b: T):
        # date column vs timestamp constant (e.g. d <= date '..' - interval '90 days')
        if a.kind == "timestamp":
            flip = {"=": "=", "<>": "<>", "<": ">", ">": "<", "<=": ">=", ">=": "<="}
            return self._date_ts_const_cmp(flip[op], b, a)
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

    # ============================================================ values

    def value(self, node, scope) -> T:
        node = _strip(node)
        if isinstance(node, exp.Column):
            if isinstance(node.this, exp.Star):
                raise Unsupported("* reference")
            return self.resolve(node, scope)
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
        if type(node) in _CMP and not _quantifier(node.expression):
            a, b = self.value(node.this, scope), self.value(node.expression, scope)
            return T(self.compare(_CMP[type(node)], a, b), "bool",
                     nullable=a.nullable or b.nullable, agg=a.agg or b.agg)
        if isinstance(node, (exp.And, exp.Or, exp.Not)):
            return self.bool_value(node, scope)
        if isinstance(node, (exp.Is, exp.In, exp.Exists, exp.Like, exp.ILike,
                             exp.RegexpLike, exp.RegexpILike, exp.NullSafeEQ, exp.NullSafeNEQ)) \
                or (type(node) in _CMP):
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
        if isinstance(node, exp.Filter):
            return self.aggregate(node.this, scope, filt=node.expression.this)
        if isinstance(node, exp.AggFunc) or (isinstance(node, exp.Anonymous) and
                                             str(node.this).lower() in _AGG_NAMES):
            return self.aggregate(node, scope)
        if isinstance(node, exp.WithinGroup):
            return self.aggregate(node, scope)
        if isinstance(node, exp.Func):
            return self.function(node, scope)
        if isinstance(node, exp.Interval):
            raise Unsupported("interval literal form")
        raise Unsupported(f"expression {type(node).__name__}")

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
        if type(node) in _CMP:
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

    # ------------------------------------------------------------ LIKE / regex

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
        pat = p.const
        out, i = [], 0
        while i < len(pat):
            ch = pat[i]
            if ch == "\\":
                if i + 1 >= len(pat):
                    raise Unsupported("LIKE pattern ends with the escape character")
                lit = pat[i + 1]
                out.append("\\" + lit if lit in "%_\\" else lit)
                i += 2
                continue
            out.append(ch)
            i += 1
        chpat = "".join(out)
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

    # ------------------------------------------------------------ CASE etc.

    def _unify_values(self, vals: list, what: str) -> tuple[str, list]:
        kinds = {v.kind for v in vals if v.kind != "null"}
        if not kinds:
            return "text", vals
        if kinds <= {"int", "numeric"} and "numeric" in kinds:
            scales = {v.scale for v in vals if v.kind == "numeric" and not v.is_null}
            smax = max([s or 0 for s in scales] or [0])
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
        return T(sql, kind, nullable=nullable, scale=ref.scale, bits=ref.bits, n=ref.n,
                 maybe_nan=any(v.maybe_nan for v in allv), agg=agg or any(v.agg for v in allv))

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
        kind, vals = self._unify_values(vals, "COALESCE")
        live = [v for v in vals if not v.is_null]
        if not live:
            return T("NULL", "text", const=None)
        ref = live[0]
        return T(f"coalesce({', '.join(self.materialize(v).sql for v in live)})", kind,
                 nullable=all(v.nullable for v in live), scale=ref.scale, bits=ref.bits, n=ref.n,
                 maybe_nan=any(v.maybe_nan for v in live), agg=any(v.agg for v in live))

    def scalar_subquery(self, node, scope) -> T:
        sql, outs = self.subquery(node, scope)
        if len(outs) != 1:
            raise Unsupported("scalar subquery with several columns")
        t = outs[0][1]
        # an empty scalar subquery is NULL in both engines
        return T(f"({sql})", t.kind, nullable=True, scale=t.scale, bits=t.bits, n=t.n,
                 maybe_nan=t.maybe_nan)

    # ------------------------------------------------------------ literals, params

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

    def _param_id(self, node) -> int:
        try:
            return int(str(node.this.this if isinstance(node.this, exp.Literal) else node.this))
        except (TypeError, ValueError):
            raise Unsupported("bad parameter")

    def _slot(self, pid, render) -> str:
        self.slots.append((pid, render))
        return f"{_MARK}{len(self.slots) - 1}{_MARK}"

    def parameter(self, node) -> T:
        pid = self._param_id(node)
        tname = self.param_types.get(pid)
        if tname is None:
            raise Unsupported(f"parameter ${pid} of unknown type")
        kind, pg, n = _classify(tname)
        version = self.version

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
            raise Unsupported(f"numeric parameter ${pid} (scale known only at execution)")
        else:
            raise Unsupported(f"parameter ${pid} of type {tname}")
        return T(self._slot(pid, r), kind, nullable=True, bits=64, n=n,
                 maybe_nan=kind in _FLOATS)

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

    # ------------------------------------------------------------ casts

    def cast(self, node: exp.Cast, scope) -> T:
        to = node.to
        inner = _strip(node.this)
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
            return T(v.sql, "int", bits=pg.bits, **keep)       # PG errors on overflow
        if src in ("int", "numeric") and dst == "numeric":
            tm = _numeric_typmod(tname)
            if src == "int":
                if v.is_const:
                    return self._numeric_const(Decimal(v.const)) if tm is None else \
                        self.const_of(str(v.const), tname)
                base = T(f"toDecimal128({v.sql}, 0)", "numeric", scale=0, **keep)
                if tm is None:
                    return base
                v = base
            if tm is None:
                return v
            p, s = tm
            if v.is_const:
                return self.const_of(str(v.const), tname)
            # round half away from zero like PostgreSQL, then fix the scale
            return T(f"toDecimal128(round({v.sql}, {s}), {s})", "numeric", scale=s, **keep)
        if src == "numeric" and dst == "int":
            # PG rounds half away from zero; ClickHouse round() on Decimal does too
            f = {16: "toInt16", 32: "toInt32", 64: "toInt64"}[pg.bits]
            return T(f"{f}(round({v.sql}, 0))", "int", bits=pg.bits, **keep)
        if src == "int" and dst == "float8":
            return T(f"toFloat64({v.sql})", "float8", **keep)
        if src == "float4" and dst == "float8":
            return T(f"toFloat64({v.sql})", "float8", maybe_nan=v.maybe_nan, **keep)
        if src in ("numeric", "int") and dst == "float8" and v.is_const:
            return self.const_of(str(v.const), "double precision")
        if src == "numeric" and dst == "float8":
            # Decimal -> Float64 is correctly rounded in ClickHouse (via text in PG)
            return T(f"toFloat64({v.sql})", "float8", **keep)
        if src in _TEXTS and dst == "text":
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
            return T(f"toDateTime({v.sql}, 'UTC')", "timestamp", **keep)
        if src == "timestamp" and dst == "date":
            return T(f"toDate({v.sql})", "date", **keep)
        if src == "date" and dst == "timestamptz":
            return self.date_to_tstz(v)
        if src == "timestamptz" and dst == "date":
            tz = self.need_tz("timestamptz to date")
            return T(f"toDate({v.sql}, {qs(tz)})", "date", **keep)
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

    def need_tz(self, what) -> str:
        if not self.tz:
            raise Unsupported(f"{what} depends on the session TimeZone")           # [tz]
        return self.tz

    def date_to_tstz(self, v: T) -> T:
        tz = self.need_tz("date to timestamptz")
        return T(f"toDateTime({v.sql}, {qs(tz)})", "timestamptz", nullable=v.nullable, agg=v.agg)

    def ts_to_tstz(self, v: T) -> T:
        tz = self.need_tz("timestamp to timestamptz")
        # wall clock (held as UTC) -> the instant of that wall clock in tz
        return T(f"toDateTime(formatDateTime({v.sql}, '%Y-%m-%d %H:%i:%S', 'UTC'), {qs(tz)})",
                 "timestamptz", nullable=v.nullable, agg=v.agg)

    def _tstz_to_ts(self, v: T, tz) -> T:
        return T(f"toDateTime(formatDateTime({v.sql}, '%Y-%m-%d %H:%i:%S', {qs(tz)}), 'UTC')",
                 "timestamp", nullable=v.nullable, agg=v.agg)

    def _ts_const(self, ts: _dt.datetime) -> T:
        if not (L._DT_MIN <= ts <= L._DT_MAX):
            raise Unsupported("timestamp outside ClickHouse DateTime range")
        return T(self._dt64(ts, "UTC"), "timestamp", const=ts, nullable=False)

    # ------------------------------------------------------------ intervals

    _IV_UNITS = {"year": (12, 0, 0), "years": (12, 0, 0), "mon": (1, 0, 0), "mons": (1, 0, 0),
                 "month": (1, 0, 0), "months": (1, 0, 0), "day": (0, 1, 0), "days": (0, 1, 0),
                 "week": (0, 7, 0), "weeks": (0, 7, 0),
                 "hour": (0, 0, 3600_000000), "hours": (0, 0, 3600_000000),
                 "minute": (0, 0, 60_000000), "minutes": (0, 0, 60_000000),
                 "min": (0, 0, 60_000000), "mins": (0, 0, 60_000000),
                 "second": (0, 0, 1_000000), "seconds": (0, 0, 1_000000),
                 "sec": (0, 0, 1_000000), "secs": (0, 0, 1_000000)}

    def interval_const(self, text: str) -> T:
        """IntervalStyle=postgres output: '1 year 2 mons 3 days 04:05:06.5'."""
        months = days = micros = 0
        t = text.strip()
        m = re.search(r"(-?)(\d+):(\d{2}):(\d{2})(?:\.(\d{1,6}))?$", t)
        if m:
            sign = -1 if m.group(1) else 1
            micros += sign * ((int(m.group(2)) * 3600 + int(m.group(3)) * 60 + int(m.group(4))) * 1_000000
                              + int((m.group(5) or "").ljust(6, "0") or 0))
            t = t[:m.start()].strip()
        toks = t.split()
        if len(toks) % 2:
            raise Unsupported(f"interval {text!r}")
        for i in range(0, len(toks), 2):
            if not re.fullmatch(r"[+-]?\d+", toks[i]) or toks[i + 1].lower() not in self._IV_UNITS:
                raise Unsupported(f"interval {text!r}")
            k = int(toks[i])
            mo, d, us = self._IV_UNITS[toks[i + 1].lower()]
            months += k * mo
            days += k * d
            micros += k * us
        return T("", "interval", const=(months, days, micros), nullable=False)

    def _add_interval_const(self, base, iv, sign) -> object:
        months, days, micros = (sign * x for x in iv)
        if isinstance(base, _dt.datetime):
            d = base
        else:
            d = _dt.datetime.combine(base, _dt.time())
        if months:
            y, mo = divmod(d.month - 1 + months, 12)
            y += d.year
            import calendar
            last = calendar.monthrange(y, mo + 1)[1]
            d = d.replace(year=y, month=mo + 1, day=min(d.day, last))
        d = d + _dt.timedelta(days=days, microseconds=micros)
        return d

    def _interval_apply(self, v: T, iv: T, sign: int) -> T:
        months, days, micros = (sign * x for x in iv.const)
        if v.kind == "date":
            if v.is_const:
                return self._ts_const(self._add_interval_const(v.const, iv.const, sign))
            base = f"toDateTime({v.sql}, 'UTC')"
            kind = "timestamp"
        elif v.kind == "timestamp":
            if v.is_const:
                return self._ts_const(self._add_interval_const(v.const, iv.const, sign))
            base, kind = v.sql, "timestamp"
        elif v.kind == "timestamptz":
            if months or days:
                tz = self.need_tz("timestamptz +/- interval with days or months")
                base = f"toTimeZone({v.sql}, {qs(tz)})"
            else:
                base = v.sql
            kind = "timestamptz"
        else:
            raise Unsupported(f"{v.kind} +/- interval")
        s = base
        if months:
            s = f"addMonths({s}, {months})"
        if days:
            s = f"addDays({s}, {days})"
        if micros:
            if micros % 1_000000 == 0:
                s = f"addSeconds({s}, {micros // 1_000000})"
            else:
                self.need((20, 1), "sub-second intervals")
                s = f"addMicroseconds(toDateTime64({s}, 6), {micros})"
        return T(s, kind, nullable=v.nullable, agg=v.agg)

    # ------------------------------------------------------------ arithmetic

    def negate(self, v: T) -> T:
        if v.is_null:
            return v
        if v.kind == "int":
            if v.is_const:
                return T(L.int_sql(-v.const), "int", const=-v.const, nullable=False, bits=v.bits)
            return T(f"(-toInt64({v.sql}))", "int", nullable=v.nullable, bits=v.bits, agg=v.agg)
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
            return T(f"({a.sql} {op} {self._i64(b)})", "date", nullable=nullable, agg=agg) \
                if not a.is_const else T(f"addDays({a.sql}, {'-' if op == '-' else ''}{self._i64(b)})",
                                         "date", nullable=nullable, agg=agg)
        if a.kind == "int" and b.kind == "date" and op == "+":
            return T(f"addDays({b.sql}, {self._i64(a)})", "date", nullable=nullable, agg=agg)
        if a.kind == "date" and b.kind == "date" and op == "-":
            return T(f"(toInt32({a.sql}) - toInt32({b.sql}))", "int", bits=32,
                     nullable=nullable, agg=agg)
        if a.kind == "int" and b.kind == "int":
            # [int-div] 64-bit arithmetic; PG raises where this could wrap
            bits = max(a.bits, b.bits)
            sa, sb = self._i64(a), self._i64(b)
            if op == "/":
                return T(f"intDiv({sa}, {sb})", "int", bits=bits, nullable=nullable, agg=agg)
            if op == "%":
                return T(f"({sa} % {sb})", "int", bits=bits, nullable=nullable, agg=agg)
            return T(f"({sa} {op} {sb})", "int", bits=bits, nullable=nullable, agg=agg)
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
        return T(f"toDecimal128({v.sql}, 0)", "numeric", nullable=v.nullable, scale=0, agg=v.agg)

    def numeric_arith(self, op, a: T, b: T) -> T:
        # [numeric] scale rules equal PostgreSQL's dscale rules for + - *
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
            return T(f"({self._dec128(a)} * {self._dec128(b)})", "numeric", nullable=nullable,
                     scale=s, agg=agg)
        if op == "/":
            return self._numeric_div(a, b)
        if op == "%":
            raise Unsupported("numeric %")
        raise Unsupported(f"numeric {op}")

    def _dec128(self, v: T) -> str:
        if v.is_const:
            return v.sql     # toDecimal128 already
        return f"toDecimal128({v.sql}, {v.scale})"

    def _numeric_div(self, a: T, b: T) -> T:
        """[numeric] PostgreSQL's numeric division rounds to a per-value scale
        (select_div_scale: at least 16 significant digits).  We compute the
        quotient with divideDecimal at a fixed scale of max(16 + 4, s1, s2)
        digits -- more than PG keeps for quotients >= 1e-4 -- and round half
        away from zero to that scale.  Values agree with PostgreSQL to at
        least 16 significant digits; the number of trailing digits shown can
        differ (see report).  Division by zero raises an error like PG."""
        self.need((22, 12), "numeric division (divideDecimal)")
        scale = min(max(20, a.scale, b.scale), 38)
        sb = b.sql
        if not (b.is_const and b.const != 0):
            sb = (f"if({b.sql} = 0, toDecimal128(throwIf(ifNull({b.sql} = 0, 0), 'division by zero'), "
                  f"{b.scale}), toDecimal128({b.sql}, {b.scale}))")
        q = f"toDecimal128(divideDecimal({a.sql}, {sb}, {scale}), {scale})"
        if b.nullable:
            # divideDecimal computes on NULL rows' default (0) values too
            sb = f"ifNull({sb}, toDecimal128(1, {b.scale}))"
            q = f"if(isNull({b.sql}), NULL, toDecimal128(divideDecimal({a.sql}, {sb}, {scale}), {scale}))"
        return T(q, "numeric", nullable=a.nullable or b.nullable, scale=scale, agg=a.agg or b.agg)

    # ------------------------------------------------------------ aggregates

    def aggregate(self, node, scope, filt=None) -> T:
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
            return f"{name}({', '.join(args)})"

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
                return T(comb("sum" + dsuf, [self._dec128(v)]), "numeric", scale=v.scale, agg=True)
            if v.kind == "float8":
                return T(comb("sum" + dsuf, [v.sql]), "float8", maybe_nan=True, agg=True)
            raise Unsupported(f"sum({v.kind})")
        if fname == "avg":
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

    # ------------------------------------------------------------ windows

    def window(self, node: exp.Window, scope) -> T:
        self.need((21, 9), "window functions")
        fn = node.this
        spec = []
        parts = node.args.get("partition_by") or []
        if parts:
            spec.append("PARTITION BY " + ", ".join(self.value(p, scope).sql for p in parts))
        order = node.args.get("order")
        if order is not None:
            keys = []
            for o in order.expressions:
                desc = bool(o.args.get("desc"))
                nf = o.args.get("nulls_first")
                keys += self.sort_key(self.value(o.this, scope), desc, desc if nf is None else bool(nf))
            if keys:
                spec.append("ORDER BY " + ", ".join(keys))
        if node.args.get("spec") is not None:
            raise Unsupported("explicit window frame")
        fname = type(fn).__name__.lower() if not isinstance(fn, exp.Anonymous) else str(fn.this).lower()
        over = " OVER (" + " ".join(spec) + ")"
        if fname in ("rownumber", "row_number"):
            return T(f"toInt64(row_number(){over})", "int", bits=64, nullable=False)
        if fname in ("rank", "denserank", "dense_rank"):
            f = "rank" if fname == "rank" else "dense_rank"
            return T(f"toInt64({f}(){over})", "int", bits=64, nullable=False)
        if fname in ("lag", "lead"):
            raise Unsupported("lag/lead")
        if isinstance(fn, (exp.Sum, exp.Count, exp.Min, exp.Max, exp.Avg)):
            inner = self.aggregate(fn, scope)
            return T(inner.sql + over, inner.kind, scale=inner.scale, bits=inner.bits,
                     n=inner.n, nullable=inner.nullable, maybe_nan=inner.maybe_nan)
        raise Unsupported(f"window function {fname}")

    # ------------------------------------------------------------ scalar functions

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
            st = self.value(start, scope) if start is not None else T("1", "int", const=1)
            if not st.is_const or st.kind != "int" or st.const is None or st.const < 1:
                raise Unsupported("substring with a start that is not a positive constant")
            if length is not None:
                ln = self.value(length, scope)
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
                return T(f"abs({self._i64(v)})", "int", bits=v.bits, nullable=v.nullable, agg=v.agg)
            if v.kind in ("numeric", "float8"):
                return T(f"abs({v.sql})", v.kind, scale=v.scale, nullable=v.nullable, agg=v.agg,
                         maybe_nan=v.maybe_nan)
            raise Unsupported(f"abs({v.kind})")
        if isinstance(node, exp.Round):
            v = self.value(node.this, scope)
            d = node.args.get("decimals")
            nd = self.value(d, scope) if d is not None else T("0", "int", const=0)
            if not nd.is_const or nd.kind != "int":
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

    # ------------------------------------------------------------ date/time

    _EXTRACT_DATE = {"year": "toYear", "month": "toMonth", "day": "toDayOfMonth",
                     "quarter": "toQuarter", "doy": "toDayOfYear", "isoyear": "toISOYear",
                     "week": "toISOWeek", "dow": None, "isodow": "toDayOfWeek"}

    def extract(self, node, scope) -> T:
        unit = node.this.name.lower() if isinstance(node.this, (exp.Var, exp.Identifier)) else str(node.this).lower()
        v = self.value(node.expression, scope)
        if v.kind not in ("date", "timestamp", "timestamptz"):
            raise Unsupported(f"EXTRACT from {v.kind}")
        tzarg = ""
        if v.kind == "timestamptz":
            tzarg = f", {qs(self.need_tz('EXTRACT from timestamptz'))}"
        if v.kind == "date" and unit in ("hour", "minute", "second", "epoch"):
            if unit == "epoch":
                return T(f"toDecimal128(toInt64(toDateTime({v.sql}, 'UTC')), 0)", "numeric",
                         scale=0, nullable=v.nullable, agg=v.agg)
            raise Unsupported(f"EXTRACT({unit} FROM date) is an error in PostgreSQL")
        fmap = dict(self._EXTRACT_DATE)
        fmap.update({"hour": "toHour", "minute": "toMinute"})
        if unit == "dow":
            sql = f"(toDayOfWeek({v.sql}, 0{tzarg}) % 7)"
        elif unit == "isodow":
            sql = f"toDayOfWeek({v.sql}, 0{tzarg})"
        elif unit == "second":
            if v.kind == "date":
                raise Unsupported("EXTRACT(second FROM date)")
            # numeric(…,6): seconds with microseconds
            frac = (f"toDecimal128(toSecond({v.sql}{tzarg}), 6) + toDecimal128(toUnixTimestamp64Micro(toDateTime64({v.sql}, 6)) % 1000000, 0) / 1000000"
                    if self.version >= (20, 5) else None)
            if frac is None:
                raise Unsupported("EXTRACT(second) on old ClickHouse")
            return T(f"toDecimal128({frac}, 6)", "numeric", scale=6, nullable=v.nullable, agg=v.agg)
        elif unit == "epoch":
            if v.kind == "date":
                raise Unsupported("epoch")
            return self._epoch(v)
        elif unit in fmap and fmap[unit]:
            sql = f"{fmap[unit]}({v.sql}{tzarg})"
        else:
            raise Unsupported(f"EXTRACT({unit})")
        return T(f"toDecimal128({sql}, 0)", "numeric", scale=0, nullable=v.nullable, agg=v.agg)

    def _epoch(self, v: T) -> T:
        self.need((20, 5), "EXTRACT(epoch)")
        # timestamptz: the instant; timestamp: held as its UTC wall clock
        us = f"toUnixTimestamp64Micro(toDateTime64({v.sql}, 6))"
        return T(f"divideDecimal(toDecimal128({us}, 6), toDecimal128(1000000, 0), 6)",
                 "numeric", scale=6, nullable=v.nullable, agg=v.agg)

    _TRUNC = {"year": "toStartOfYear", "quarter": "toStartOfQuarter", "month": "toStartOfMonth",
              "week": "toMonday", "day": "toStartOfDay", "hour": "toStartOfHour",
              "minute": "toStartOfMinute", "second": "toStartOfSecond"}

    def date_trunc(self, node, scope) -> T:
        unit_node = node.args.get("unit")
        u = self.value(unit_node, scope) if isinstance(unit_node, exp.Expression) and not isinstance(unit_node, exp.Var) else None
        if u is not None:
            if not u.is_const or not isinstance(u.const, str):
                raise Unsupported("date_trunc with a non-constant unit")
            unit = u.const.lower()
        else:
            unit = str(unit_node.name if hasattr(unit_node, "name") else unit_node).lower()
        v = self.value(node.this, scope)
        if node.args.get("zone") is not None:
            raise Unsupported("date_trunc with a time zone argument")
        if unit not in self._TRUNC:
            raise Unsupported(f"date_trunc('{unit}')")
        f = self._TRUNC[unit]
        if v.kind == "date":
            raise Unsupported("date_trunc on date (implicit timestamptz cast)")
        if v.kind == "timestamp":
            tz = "'UTC'"
            kind = "timestamp"
        elif v.kind == "timestamptz":
            tz = qs(self.need_tz("date_trunc on timestamptz"))
            kind = "timestamptz"
        else:
            raise Unsupported(f"date_trunc on {v.kind}")
        if unit == "second":
            sql = f"toDateTime(toStartOfSecond(toDateTime64({v.sql}, 6)), {tz})"
        elif unit in ("year", "quarter", "month", "week"):
            sql = f"toDateTime({f}({v.sql}, {tz}), {tz})"
        else:
            sql = f"toDateTime({f}({v.sql}, {tz}), {tz})"
        return T(sql, kind, nullable=v.nullable, agg=v.agg)

    # ============================================================ outputs

    top_types: list = []
    top_ch_types: list = []
    fetch_expressions: bool = True

    def output_expr(self, t: T, i: int) -> str:
        """Top-level output i: a ClickHouse expression whose type converts to
        output_types[i] exactly (the scan's fetch converters read it)."""
        if i >= len(self.top_types):
            raise Unsupported("more output columns than the caller expects")
        pgt = self.top_types[i]
        ref = t.sql
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
            e, ct = ref, "Date"
        elif kind in ("timestamptz", "timestamp"):
            if self.version >= (20, 1):
                e, ct = f"toDateTime64({ref}, 6, 'UTC')", "DateTime64(6, 'UTC')"
            else:
                e, ct = f"toDateTime({ref}, 'UTC')", "DateTime('UTC')"
        else:
            raise Unsupported(f"output of type {pgt}")
        if t.nullable:
            ct = f"Nullable({ct})"
        while len(self.top_ch_types) <= i:
            self.top_ch_types.append(None)
        self.top_ch_types[i] = ct
        # The scan reads result columns like table columns: apply the same
        # server-side fetch expression (e.g. timestamps as epoch micros).
        from ch_fdw.errors import ChFdwError
        from ch_fdw.chtypes import fetch_plan
        try:
            fp = fetch_plan(ct, pgt, f"output column {i + 1}", self.version)
        except ChFdwError as ex:
            raise Unsupported(ex.message)
        return fp.expression.format(e) if self.fetch_expressions else e


_AGG_NAMES = {"string_agg", "bool_and", "bool_or", "every", "stddev_samp", "stddev_pop",
              "var_samp", "var_pop", "array_agg", "percentile_cont", "percentile_disc"}
