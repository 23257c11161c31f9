"""Parse a clause printed by PostgreSQL's deparse_expression() with sqlglot
(postgres dialect) and map sqlglot data types back to PostgreSQL type names.

sqlglot 30 already understands the ~~ family (LIKE/ILIKE and negations),
'...'::type[] casts, ANY/ALL and $n parameters.  Anything it would parse
loosely (unknown types, user-defined names) maps to None here so that the
translator refuses it.
"""

from __future__ import annotations

import sqlglot
from sqlglot import exp

from .literals import Unsupported

_DT = exp.DataType.Type

_SIMPLE = {
    _DT.SMALLINT: "smallint",
    _DT.INT: "integer",
    _DT.BIGINT: "bigint",
    _DT.FLOAT: "real",
    _DT.DOUBLE: "double precision",
    _DT.DECIMAL: "numeric",
    _DT.TEXT: "text",
    _DT.VARCHAR: "character varying",
    _DT.BOOLEAN: "boolean",
    _DT.DATE: "date",
    _DT.TIMESTAMP: "timestamp without time zone",
    _DT.TIMESTAMPTZ: "timestamp with time zone",
}


def parse(pg_sql: str, what: str = "clause") -> exp.Expression:
    """One clause (or query, what="query") as a sqlglot tree; Unsupported
    for anything else."""
    if "\0" in pg_sql:
        raise Unsupported(f"NUL in {what} text")
    try:
        trees = sqlglot.parse(pg_sql, dialect="postgres")
    except sqlglot.errors.SqlglotError as e:
        raise Unsupported(f"cannot parse {what}: {str(e)[:200]}")
    if len(trees) != 1 or trees[0] is None:
        raise Unsupported(f"expected exactly one {what}")
    return trees[0]


def pg_type_name(dt: exp.DataType) -> str | None:
    """'bigint', 'numeric(10,2)', 'integer[]', ...; None if not one we know."""
    if not isinstance(dt, exp.DataType):
        return None
    if dt.this == _DT.ARRAY:
        inner = dt.expressions
        if len(inner) != 1:
            return None
        name = pg_type_name(inner[0])
        return None if name is None or name.endswith("[]") else name + "[]"
    name = _SIMPLE.get(dt.this)
    if name is None:
        return None
    params = dt.expressions
    if params:
        vals = []
        for p in params:
            lit = p.this if isinstance(p, exp.DataTypeParam) else p
            if not isinstance(lit, exp.Literal) or lit.is_string:
                return None
            vals.append(str(lit.this))
        if name.startswith("timestamp"):
            word, rest = name.split(" ", 1)
            return f"{word}({','.join(vals)}) {rest}"
        return f"{name}({','.join(vals)})"
    return name
