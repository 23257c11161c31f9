"""The value/predicate rules both translators share -- translate/scan.py
(one table's WHERE clauses and ORDER BY keys) and translate/query/ (whole
queries) -- where the PostgreSQL/ClickHouse semantics are the same.

Rules owned here:
  [nulls-order]  sort_keys(): every ORDER BY key carries explicit NULLS
                 FIRST/LAST; a float key that may be NaN gets an isNaN() key
                 first where the placements differ (ClickHouse puts NaN next
                 to NULL, PostgreSQL sorts NaN above every number; they
                 agree for ASC NULLS LAST and DESC NULLS FIRST).
  [like]         like_pattern(): a PostgreSQL LIKE pattern (backslash is the
                 escape) as a ClickHouse LIKE pattern; a trailing escape
                 (an error in PostgreSQL) is refused.
"""

from __future__ import annotations

from sqlglot import exp

from .literals import Unsupported

#: sqlglot comparison node -> operator
CMP_OPS = {exp.EQ: "=", exp.NEQ: "<>", exp.LT: "<", exp.LTE: "<=", exp.GT: ">", exp.GTE: ">="}
#: NOT (a op b) == a COMPLEMENT[op] b, for non-NULL a and b
COMPLEMENT = {"=": "<>", "<>": "=", "<": ">=", ">=": "<", ">": "<=", "<=": ">"}
#: a op b == b FLIP[op] a
FLIP = {"=": "=", "<>": "<>", "<": ">", ">": "<", "<=": ">=", ">=": "<="}


def strip_parens(node):
    while isinstance(node, exp.Paren):
        node = node.this
    return node


def param_id(node: exp.Parameter) -> int:
    """n of a $n parameter node."""
    try:
        return int(str(node.this.this if isinstance(node.this, exp.Literal) else node.this))
    except (TypeError, ValueError):
        raise Unsupported("bad parameter")


def like_pattern(pat: str) -> str:
    """[like] PostgreSQL pattern -> ClickHouse pattern with the same matches."""
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
    return "".join(out)


def sort_keys(sql: str, desc: bool, nulls_first: bool, maybe_nan: bool) -> list[str]:
    """[nulls-order] ClickHouse ORDER BY keys sorting sql like PostgreSQL."""
    d = "DESC" if desc else "ASC"
    n = "NULLS FIRST" if nulls_first else "NULLS LAST"
    if maybe_nan and desc != nulls_first:
        return [f"isNaN({sql}) {d} {n}", f"{sql} {d} {n}"]
    return [f"{sql} {d} {n}"]
