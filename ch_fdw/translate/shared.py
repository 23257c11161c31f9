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
  [int-overflow] checked_int(): integer + - * and unary minus are computed
                 in a wider ClickHouse type and range-checked at the
                 PostgreSQL result type (int2/int4/int8), raising PG's
                 "... out of range" (SQLSTATE 22003) instead of wrapping.
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


INT_RANGES = {16: (-(1 << 15), (1 << 15) - 1), 32: (-(1 << 31), (1 << 31) - 1),
              64: (-(1 << 63), (1 << 63) - 1)}
INT_TYPE_NAMES = {16: "smallint", 32: "integer", 64: "bigint"}
#: throwIf(cond, message); older servers (18.16) take no message: there the
#: per-table checks use throwIf(cond), which errors.py reads as 22003, and
#: 64-bit arithmetic (no Int128) is not pushed
CHECKED_INT_VERSION = (20, 1)


def _throw_if(cond: str, msg: str, version) -> str:
    if tuple(version) < CHECKED_INT_VERSION:
        return f"throwIf(ifNull({cond}, 0))"
    return f"throwIf(ifNull({cond}, 0), '{msg}')"


def const_int_bits(v: int) -> int:
    """PostgreSQL's type of an integer literal: int4 if it fits, else int8."""
    lo, hi = INT_RANGES[32]
    return 32 if lo <= v <= hi else 64


def checked_int(op: str, a: str, b: str | None, bits: int, version) -> str:
    """[int-overflow] a op b (or -a when b is None) exactly as PostgreSQL's
    int2/int4/int8 operator of width bits (or abs(a) when op is "abs"): the
    same value, or PG's error.
    Operands up to 32 bits are computed in Int64 (exact for + - *), 64-bit
    ones in Int128; the result is Int64."""
    if bits > 32 and tuple(version) < CHECKED_INT_VERSION:
        raise Unsupported("checked 64-bit arithmetic needs Int128 (ClickHouse >= 20.1)")
    wide = "toInt128" if bits > 32 else "toInt64"
    if op == "abs":
        x = f"abs({wide}({a}))"                     # abs(-32768::int2) is out of range too
    elif b is None:
        x = f"(-{wide}({a}))"
    elif op == "/":
        x = f"intDiv({wide}({a}), {wide}({b}))"     # truncates toward zero like PG
    else:
        x = f"({wide}({a}) {op} {wide}({b}))"
    lo, hi = INT_RANGES[bits]
    msg = f"{INT_TYPE_NAMES[bits]} out of range"
    checked = f"({_throw_if(f'NOT ({x} BETWEEN {lo} AND {hi})', msg, version)} + {x})"
    return f"toInt64{checked}" if bits > 32 else checked


def checked_int_range(sql: str, bits: int, version) -> str:
    """sql (an integer or a whole Decimal) converted to an integer of width
    bits like PostgreSQL's cast: the value (as Int64), or "... out of range"."""
    lo, hi = INT_RANGES[bits]
    msg = f"{INT_TYPE_NAMES[bits]} out of range"
    return f"({_throw_if(f'NOT ({sql} BETWEEN {lo} AND {hi})', msg, version)} + toInt64({sql}))"
