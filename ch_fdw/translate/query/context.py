"""Translator state shared by every construct family: the typed value T
(every emitted expression carries a PostgreSQL "kind", because nearly every
engine difference is type-dependent), FROM-item scopes, generated aliases,
ClickHouse version gates and the SETTINGS a query needs.

Rules owned here:
  [outer-join]   SETTINGS join_use_nulls = 1 once any outer join was emitted
                 (relations.py sets the flag); grouping sets likewise get
                 group_by_use_nulls = 1.
  [short-circuit] short_circuit_function_evaluation = 'enable' so a guarded
                 division or cast inside CASE/if cannot raise where
                 PostgreSQL would not evaluate it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from sqlglot import exp

from ..literals import Unsupported
from ..remote import Dialect
from ..kinds import pg_type, PgType
from ..shared import strip_parens


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
    # numeric with a per-row display scale (scale None, e.g. avg): sql is
    # the exact value as Decimal(76, store_scale), |raw| < 10^digits, and
    # dscale_sql the display scale PostgreSQL's text shows
    dscale_sql: str | None = None
    store_scale: int | None = None
    digits: int | None = None
    # numeric of a known scale whose PostgreSQL display scale varies per row
    # (CASE/COALESCE mixing 0.1 and 10.00): the SQL of that display scale
    shown_scale_sql: str | None = None
    # a bare integer/Decimal column: its reference as stored and its
    # ClickHouse type, for comparisons in the column's own type (fit.py)
    stored: str | None = None
    ch: str | None = None
    # kind "opaque": a column only returned as it is, read like the per-table
    # path reads it (outputs.py); (ColumnInfo, why it cannot be computed on)
    opaque: tuple | None = None
    cmp_only: bool = False       # a numeric parameter: its scale is the value's (compare only)

    @property
    def is_const(self):
        return self.const is not _NOCONST

    @property
    def is_null(self):
        return self.const is None


_FLOATS = ("float4", "float8")
_TEXTS = ("text", "bpchar")


def _quantifier(node):
    """('ANY'|'ALL', operand) for the right side of x op ANY/ALL (...), else None.
    sqlglot parses ANY as exp.Any and ALL as Anonymous('ALL')."""
    node = strip_parens(node)
    if isinstance(node, exp.Any):
        return "ANY", strip_parens(node.this)
    if isinstance(node, exp.All):
        return "ALL", strip_parens(node.this)
    if isinstance(node, exp.Anonymous) and str(node.this).upper() in ("ALL", "ANY") \
            and len(node.expressions) == 1:
        return str(node.this).upper(), strip_parens(node.expressions[0])
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


def opaque_reason(t: T) -> str:
    """Why an opaque value (relations.py [opaque]) cannot be computed on."""
    return t.opaque[1] if t.opaque else "a value the translator cannot compute on"


def _numeric_typmod(type_text: str) -> tuple[int, int] | None:
    m = re.fullmatch(r"\s*numeric\s*\(\s*(\d+)\s*(?:,\s*(\d+)\s*)?\)\s*", type_text.lower())
    if not m:
        return None
    return int(m.group(1)), int(m.group(2) or 0)


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


class Context:
    def __init__(self, tables, param_types, dialect: Dialect, timezone):
        self.tables = tables
        self.param_types = param_types
        self.dialect = dialect
        self.version = tuple(dialect.version)
        self.tz = timezone
        self.slots: list = []
        self.cmp_only_marks: list[str] = []   # numeric parameters' first slots
        # [known-params] (values.py): parameter values for this execution
        # (None while planning), the parameters the SQL was built from, and
        # the placeholder while a caller asks for a value (Values.known)
        self.param_values: dict | None = None
        self.value_params: set = set()
        self._want_value: str | None = None
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
        if self.version >= (22, 12):
            # toStartOf*(Date32/DateTime64) stay wide (temporal.py [wide-dates])
            s["enable_extended_results_for_datetime_functions"] = "1"
        return s

    def new_t(self):
        # [names] never a remote table's or database's name: ClickHouse
        # resolves `t2`.`x` to table t2 before the alias t2 (wrong rows)
        if not hasattr(self, "_reserved"):
            self._reserved = {n.lower() for info in self.tables.values()
                              for n in (info.remote_table, info.remote_db)}
        while True:
            self._t += 1
            if f"t{self._t}" not in self._reserved:
                return f"t{self._t}"

    def new_c(self):
        self._c += 1
        return f"c{self._c}"

    def no_opaque(self, outs, what: str):
        """[opaque] (relations.py) refuse what (DISTINCT, ...) over an opaque output."""
        for _, t in outs:
            if t.kind == "opaque":
                raise Unsupported(f"{what} over {opaque_reason(t)}")

    def need(self, version, what):
        if self.version < version:
            raise Unsupported(f"{what} needs ClickHouse >= {'.'.join(map(str, version))}")

    top_types: list = []

    top_ch_types: list = []

    fetch_expressions: bool = True
