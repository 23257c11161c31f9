"""Relations: SELECT blocks, set operations, FROM items, JOINs, CTEs,
derived tables and column resolution (a table column's typed value: columns.py).

Rules owned here:
  [names]        every FROM item gets a generated alias (t1, t2, ...), every
                 output a generated alias (c1, c2, ...); column references are
                 always qualified, so ClickHouse's query-global alias
                 substitution cannot capture a user-supplied name.
  [ctes]         CTEs are inlined as subqueries at each reference (the same
                 rows for SELECT-only CTEs without volatile functions).
  [set-ops]      UNION -> UNION DISTINCT, INTERSECT/EXCEPT -> ... DISTINCT;
                 INTERSECT ALL / EXCEPT ALL refused; branch types unified.
  [outer-join]   outer joins mark the nullable side and turn on
                 join_use_nulls (see context.py).
  [join-tree]    nested and parenthesised join trees keep every join: the
                 left operand is flattened left-deep; a tree on the right
                 only under a cross join without RIGHT/FULL joins inside.
  [outer-join-on] outer joins only on cross-side equalities (plus one-side
                 filters); ON TRUE, inequalities, OR refused.
  [grouping-sets] outputs of a ROLLUP/CUBE/GROUPING SETS query are
                 Nullable (group_by_use_nulls turns NOT NULL keys Nullable);
                 HAVING count() >= 0 keeps equal rows of different sets.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlglot import exp

from ..literals import Unsupported
from ..quoting import quote_identifier as qi
from ..shared import strip_parens
from .columns import column_value
from .context import T, _Scope, opaque_reason
from .joinkeys import conjuncts, order_comma_joins, take_equi_keys


@dataclass
class _Item:
    name: str                    # PostgreSQL reference name
    alias: str                   # generated ClickHouse alias
    cols: dict                   # pg column name -> T (sql qualified)
    order: list                  # column names in order (for *)
    nullable: bool = False       # on the nullable side of an outer join


def _is_paren_tree(node) -> bool:
    """(a JOIN b ON ...) as sqlglot parses it: an alias-less Subquery around a
    table or subquery node (which carries the joins)."""
    return isinstance(node, exp.Subquery) and node.args.get("alias") is None and \
        isinstance(strip_parens(node.this), (exp.Table, exp.Subquery))


class Relations:
    def query(self, node, parent: _Scope | None, top=False, ctes=None):
        """-> (sql, [(name, T)]) ; T.sql of outputs is the generated alias."""
        node = strip_parens(node)
        if isinstance(node, exp.Subquery) and not node.alias:
            return self.query(node.this, parent, top)
        if isinstance(node, (exp.Union, exp.Intersect, exp.Except)):
            return self.setop(node, parent, top)
        if not isinstance(node, exp.Select):
            raise Unsupported(f"{type(node).__name__} statement is not a plain SELECT")
        return self.select(node, parent, top)

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
        self.no_opaque(louts + routs, "a set operation")
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
        where = node.args.get("where")
        # [join-on] WHERE conjuncts a comma join may take as its ON keys
        pending = conjuncts(where.this) if where is not None and fr is not None else None
        n_conjuncts = len(pending or ())
        if fr is not None:
            from_sql = " FROM " + self.from_items(fr, node.args.get("joins") or [], scope, pending)
        elif node.args.get("joins"):
            raise Unsupported("joins without FROM")
        where_sql = ""
        if where is not None and pending != []:
            # unchanged unless a join took some (then the rest, still ANDed)
            cond = where.this if len(pending or ()) == n_conjuncts else exp.and_(*pending)
            where_sql = " WHERE " + self.pred(cond, scope, False)
        group = node.args.get("group")
        group_sql = ""
        grouped = group is not None
        gsets = False
        if group is not None:
            gsets = bool(group.args.get("rollup") or group.args.get("cube") or
                         group.args.get("grouping_sets") or
                         any(isinstance(e, (exp.Rollup, exp.Cube, exp.GroupingSets))
                             for e in group.expressions))
            group_sql = self.group_by(group, scope)
        having = node.args.get("having")
        having_sql = ""
        if having is not None:
            having_sql = " HAVING " + self.pred(having.this, scope, False)
        if gsets:
            # [grouping-sets] without an aggregate ClickHouse merges equal rows
            # of different grouping sets (a NULL key group and the () row);
            # a HAVING of its own without one defeats the count() guard
            # (seed 5134: ROLLUP ... HAVING '' <= '' lost a row)
            if having is not None and not _has_aggregate(having.this):
                raise Unsupported("HAVING without an aggregate under ROLLUP/CUBE/GROUPING SETS "
                                  "(ClickHouse merges rows of different grouping sets)")
            having_sql = (having_sql + " AND" if having_sql else " HAVING") + " count() >= 0"
        # outputs
        outs = []
        cols = []
        for e in node.expressions:
            if isinstance(e, exp.Star) or (isinstance(e, exp.Column) and isinstance(e.this, exp.Star)):
                raise Unsupported("* in select list")
            name = e.alias_or_name if isinstance(e, exp.Alias) else (
                e.name if isinstance(e, exp.Column) else "?column?")
            inner = strip_parens(e.this if isinstance(e, exp.Alias) else e)
            if isinstance(inner, exp.Column) and not isinstance(inner.this, exp.Star):
                v = self.resolve(inner, scope, allow_opaque=True)       # [opaque]
            else:
                v = self.value(inner, scope)
            if v.kind == "null":
                v = T("NULL", "text", const=None)
            v = self.materialize(v)
            if gsets:
                # [grouping-sets] group_by_use_nulls makes every key Nullable
                v = T(v.sql, v.kind, nullable=True, scale=v.scale, bits=v.bits, n=v.n,
                      maybe_nan=v.maybe_nan, agg=v.agg, decimal=v.decimal)
            if top and distinct is not None and v.shown_scale_sql is not None:
                # equal values of different display scales: PG keeps one of them
                raise Unsupported("DISTINCT over numerics of different display scales")
            nm = self.new_c()
            if top:
                nm = f"r{len(cols) + 1}"
                cols.append(f"{self.output_expr(v, len(cols))} AS {qi(nm)}")
            else:
                cols.append(f"{v.sql} AS {qi(nm)}")
            outs.append((name, T(qi(nm), v.kind, nullable=v.nullable, scale=v.scale,
                                 bits=v.bits, n=v.n, maybe_nan=v.maybe_nan, agg=v.agg,
                                 opaque=v.opaque)))
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
        if dist:
            self.no_opaque(outs, "DISTINCT")
        if dist and any(t.kind == "numeric" and t.scale is None for _, t in outs):
            # equal values of different display scales: PG keeps one of them
            raise Unsupported("DISTINCT over a numeric with a per-row scale")
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

    def from_items(self, fr, joins, scope, pending=None) -> str:
        if pending:
            joins = order_comma_joins(fr.this, joins, pending)       # [join-on]
        sql = self.from_tree(fr.this, scope)
        for j in joins:
            sql = self.join(sql, j, scope, pending)
        return sql

    def from_tree(self, node, scope: _Scope) -> str:
        """A FROM item and the joins sqlglot hangs off it: `x JOIN y ON ...`
        is x's node with joins=[y]; a parenthesised tree `(x JOIN y ON ...)`
        is an alias-less Subquery around such a node, and may carry joins of
        its own.  [join-tree] Every level's joins are emitted, left-deep (the
        same join as PostgreSQL's where the tree is the left operand)."""
        joins = node.args.get("joins") or []
        base = node
        if joins:
            base = node.copy()
            base.set("joins", None)
        if _is_paren_tree(base):
            sql = self.from_tree(strip_parens(base.this), scope)
        else:
            sql = self.from_item(base, scope)
        for j in joins:
            sql = self.join(sql, j, scope)
        return sql

    def join(self, left_sql, j: exp.Join, scope, pending=None) -> str:
        kind = (j.args.get("kind") or "").upper()
        side = (j.args.get("side") or "").upper()
        if j.args.get("using"):
            raise Unsupported("JOIN ... USING")
        if kind in ("SEMI", "ANTI", "ASOF") or j.args.get("method"):
            raise Unsupported(f"{kind or j.args.get('method')} JOIN")
        on = j.args.get("on")
        first = len(scope.items)
        right = j.this
        if _is_paren_tree(right) or right.args.get("joins"):
            # [join-tree] a tree on the right is flattened: `x CROSS JOIN (a
            # JOIN b ON ab)` is `x CROSS JOIN a JOIN b ON ab` (ab cannot see
            # x) unless the tree preserves rows of its left side (RIGHT/FULL
            # joins inside would then be applied to x too)
            if on is not None or side:
                raise Unsupported("nested join tree on the right of a qualified join")
            if any((jj.args.get("side") or "").upper() in ("RIGHT", "FULL")
                   for jj in right.find_all(exp.Join)):
                raise Unsupported("RIGHT/FULL join inside a cross-joined join tree")
            return f"{left_sql} CROSS JOIN {self.from_tree(right, scope)}"
        right_sql = self.from_item(right, scope)
        left_names = {it.name for it in scope.items[:first]}
        right_names = {it.name for it in scope.items[first:]}
        if side in ("LEFT", "RIGHT", "FULL"):
            if on is None:
                raise Unsupported("outer join without ON")
            # [outer-join-on] ClickHouse runs outer joins as hash joins
            self._check_outer_on(on, side, left_names, right_names)
            self.outer_join = True                                   # [outer-join]
            nullable_items = []
            if side in ("LEFT", "FULL"):
                nullable_items += scope.items[first:]
            if side in ("RIGHT", "FULL"):
                nullable_items += scope.items[:first]
            for it in nullable_items:
                it.nullable = True
            cond = self.pred(on, scope, False)
            return f"{left_sql} {side} JOIN {right_sql} ON {cond}"
        if kind == "CROSS" or on is None:
            keys = take_equi_keys(pending, left_names, right_names,
                                  lambda c: self._key_kind(c, scope)) if pending else []
            if keys:
                cond = self.pred(exp.and_(*keys), scope, False)
                return f"{left_sql} INNER JOIN {right_sql} ON {cond}"
            return f"{left_sql} CROSS JOIN {right_sql}"
        cond = self.pred(on, scope, False)
        return f"{left_sql} INNER JOIN {right_sql} ON {cond}"

    def _key_kind(self, col, scope) -> str | None:
        try:
            return self.value(col, scope).kind
        except Unsupported:
            return None

    def _check_outer_on(self, on, side, left_names, right_names):
        """[outer-join-on] An outer join's ON must be ANDed equalities between
        a left-only and a right-only expression (at least one), plus filters
        on one side each (ClickHouse applies those as join conditions, as
        PostgreSQL does); anything else ClickHouse refuses (error 403), and
        ON TRUE it runs as a cross join (losing the preserved rows)."""
        def sides(e):
            if any(isinstance(x, (exp.Select, exp.Subquery, exp.Exists)) for x in e.walk()):
                return None
            out = set()
            for c in e.find_all(exp.Column):
                if c.table in left_names and c.table not in right_names:
                    out.add("L")
                elif c.table in right_names and c.table not in left_names:
                    out.add("R")
                else:
                    return None
            return out

        def conjuncts(e):
            e = strip_parens(e)
            if isinstance(e, exp.And):
                return conjuncts(e.this) + conjuncts(e.expression)
            return [e]

        equalities = 0
        for c in conjuncts(on):
            if isinstance(c, exp.EQ):
                a, b = sides(c.this), sides(c.expression)
                if a is not None and b is not None and {frozenset(a), frozenset(b)} == \
                        {frozenset("L"), frozenset("R")}:
                    equalities += 1
                    continue
            s = sides(c)
            if s is None or len(s) != 1:
                raise Unsupported(f"{side} JOIN whose ON is not equalities between the two "
                                  "sides (and filters on one side)")
        if not equalities:
            raise Unsupported(f"{side} JOIN without an equality between the two sides")

    def from_item(self, node, scope: _Scope) -> str:
        """One FROM item without joins: a table, a CTE or a derived table."""
        if isinstance(node, exp.Table) and isinstance(node.this, exp.Identifier):
            return self.table(node, scope)
        if isinstance(node, exp.Subquery):
            inner = node.this
            alias = node.args.get("alias")
            if alias is None:
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
        if isinstance(node, exp.Lateral):
            raise Unsupported("LATERAL")
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
                                  scale=t.scale, bits=t.bits, n=t.n, maybe_nan=t.maybe_nan,
                                  opaque=t.opaque)
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

    def column_depth(self, col: exp.Column, scope: _Scope) -> int | None:
        """How many query levels up col is bound (0: this level), None if
        not found; no side effects (see resolve)."""
        s, depth = scope, 0
        while s is not None:
            for it in s.items:
                if (not col.table or it.name == col.table) and col.name in it.cols:
                    return depth
            s = s.parent
            depth += 1
        return None

    def check_aggregate_level(self, nodes, scope: _Scope):
        """[agg-level] An aggregate belongs to the nearest query level its
        columns are bound to (PostgreSQL's agglevelsup): SELECT (SELECT
        count(t.x)) FROM t counts t's rows in the outer query.  ClickHouse
        would evaluate it in the subquery: such aggregates are refused."""
        depths = []
        for n in nodes:
            if n is None:
                continue
            home = n.find_ancestor(exp.Select)
            for c in n.find_all(exp.Column):
                if c.find_ancestor(exp.Select) is not home:
                    continue          # a column of a subquery inside the aggregate
                d = self.column_depth(c, scope)
                if d is None:
                    raise Unsupported(f"column {c.sql()} not found")
                depths.append(d)
        if depths and min(depths) > 0:
            raise Unsupported("aggregate over outer-query columns only (it belongs to the "
                              "outer query)")

    def resolve(self, col: exp.Column, scope: _Scope, allow_opaque: bool = False) -> T:
        """The value col names; allow_opaque: col is a bare select-list
        item, which may be an [opaque] column of this query level."""
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
                    t = column_value(t[1], t[2])
                    it.cols[name] = t
                if t.kind == "opaque" and not (allow_opaque and depth == 0):
                    raise Unsupported(opaque_reason(t))
                if depth:
                    self.correlated = True
                    self.need((25, 4), "correlated subqueries")
                    s2 = scope
                    for _ in range(depth):
                        s2.outer_refs = True
                        s2 = s2.parent
                return T(t.sql, t.kind, nullable=t.nullable or it.nullable, scale=t.scale,
                         bits=t.bits, n=t.n, maybe_nan=t.maybe_nan, stored=t.stored, ch=t.ch,
                         opaque=t.opaque)
            s = s.parent
            depth += 1
        raise Unsupported(f"column {col.sql()} not found")


def _has_aggregate(node) -> bool:
    from .values import _AGG_NAMES
    return any(isinstance(n, exp.AggFunc) or
               (isinstance(n, exp.Anonymous) and str(n.this).lower() in _AGG_NAMES)
               for n in node.walk())
