"""[join-on] Equi-join keys for comma joins.

PostgreSQL's deparsed text writes TPC-H-style joins as `FROM a, b, c WHERE
a.x = b.y AND ...`.  ClickHouse runs a CROSS JOIN chain plus WHERE much
slower than the same inner joins with their keys in ON (TPC-H Q5 at SF 0.1:
0.9 s vs 0.5 s on chDB 26.9), so each comma-joined table takes, as its ON,
the WHERE conjuncts that equate a plain column of it with a plain column of
a table joined before it.  For inner joins a conjunct filters the same rows
in ON as in WHERE (NULL keys match in neither); the rest stay in WHERE.
"""

from __future__ import annotations

from sqlglot import exp

from ..shared import strip_parens

# kinds whose equality ClickHouse evaluates the same as a join key and as a
# WHERE comparison (a float's NaN, a numeric's scale, a timestamp's zone are
# left in WHERE)
KEY_KINDS = frozenset({"int", "text", "bpchar", "date"})


def conjuncts(node) -> list:
    """The top-level AND operands of a WHERE condition."""
    node = strip_parens(node)
    if isinstance(node, exp.And):
        return conjuncts(node.this) + conjuncts(node.expression)
    return [node]


def take_equi_keys(pending: list, left_names: set, right_names: set, kind_of) -> list:
    """Remove from pending and return the conjuncts `l.col = r.col` with one
    side a column of a left item and the other of a right item, both of a
    KEY_KINDS kind (kind_of(column) gives it, or None)."""
    def side(c):
        if not isinstance(c, exp.Column) or not c.table:
            return None
        if c.table in left_names and c.table not in right_names:
            return "L"
        if c.table in right_names and c.table not in left_names:
            return "R"
        return None

    keys = []
    for cond in pending:
        e = strip_parens(cond)
        if not isinstance(e, exp.EQ):
            continue
        a, b = strip_parens(e.this), strip_parens(e.expression)
        if {side(a), side(b)} != {"L", "R"}:
            continue
        ka, kb = kind_of(a), kind_of(b)
        if ka is None or ka != kb or ka not in KEY_KINDS:
            continue
        keys.append(cond)
    pending[:] = [c for c in pending if not any(c is k for k in keys)]
    return keys


def _linked(cond, placed: set, name: str) -> bool:
    e = strip_parens(cond)
    if not isinstance(e, exp.EQ):
        return False
    a, b = strip_parens(e.this), strip_parens(e.expression)
    if not (isinstance(a, exp.Column) and isinstance(b, exp.Column)):
        return False
    return (a.table in placed and b.table == name) or (b.table in placed and a.table == name)


def order_comma_joins(first, joins: list, pending: list) -> list:
    """Comma-joined plain tables in an order where each one, where it can,
    has a key to a table before it (a CROSS JOIN of two big tables, as in
    TPC-H Q8's `part, supplier, lineitem`, multiplies their rows).  Only
    when every item is a plain table joined by a comma: inner joins commute,
    and no item can refer to another (no LATERAL)."""
    def simple(j):
        return (isinstance(j.this, exp.Table) and not j.this.args.get("joins")
                and j.args.get("on") is None and not j.args.get("side")
                and not j.args.get("using") and (j.args.get("kind") or "").upper() in ("", "CROSS"))
    if not isinstance(first, exp.Table) or first.args.get("joins") or not joins \
            or not all(simple(j) for j in joins):
        return joins
    placed = {first.alias_or_name}
    rest, out = list(joins), []
    while rest:
        pick = next((j for j in rest if any(_linked(c, placed, j.this.alias_or_name) for c in pending)),
                    rest[0])
        rest.remove(pick)
        out.append(pick)
        placed.add(pick.this.alias_or_name)
    return out
