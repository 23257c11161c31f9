"""The per-table scan: which clauses go to ClickHouse, the remote SELECT,
and streaming its rows to the C bridge.

Planning produces a JSON plan (kept in the PostgreSQL plan tree, so it holds
no password and no live objects); execution compiles it once (cached) and
streams batches of (nrows, [column values...]) in the forms the bridge's
converters expect (see ch_fdw/chtypes/read.py).
"""

from __future__ import annotations

import json
from collections import OrderedDict
from dataclasses import dataclass
from typing import Callable, Iterator

from . import errors
from .collations import orders_by_bytes, text_collation_c
from .connection import Block, Connection, get_connection
from .errors import ChFdwError
from .translate.quoting import quote_identifier
from .translate.scan import (ColumnInfo, Dialect, translate_condition,
                             translate_sort_key)
from .chtypes import fetch_plan


@dataclass(frozen=True)
class TableRef:
    db: str
    table: str

    @property
    def sql(self) -> str:
        return f"{quote_identifier(self.db)}.{quote_identifier(self.table)}"


def table_ref(ctx: dict) -> TableRef:
    server_db = ctx["server"].get("dbname", "default")
    return TableRef(ctx["table"].get("dbname", server_db),
                    ctx["table"].get("table_name", ctx["table_default_name"]))


def remote_columns(ctx: dict, conn: Connection, ref: TableRef) -> dict[str, ColumnInfo]:
    """ColumnInfo per PostgreSQL column name, with the remote type."""
    remote_types = dict(conn.describe(ref.db, ref.table))
    out = {}
    for col in ctx["columns"]:
        remote = col["options"].get("column_name", col["name"])
        out[col["name"]] = ColumnInfo(col["name"], remote, col["type"], remote_types.get(remote))
    return out


def _missing_column_error(ctx: dict, ref: TableRef, col: ColumnInfo, conn: Connection) -> ChFdwError:
    have = ", ".join(n for n, _ in conn.describe(ref.db, ref.table))
    return ChFdwError(
        f'column "{col.pg_name}" of foreign table {ctx["relname"]} does not exist in ClickHouse table {ref.db}.{ref.table}',
        errors.FDW_COLUMN_NAME_NOT_FOUND,
        detail=f"ClickHouse column looked up: {col.remote_name!r}. The table has: {have}.",
        hint="Set the column's column_name option, or fix the foreign table definition.")


def dialect_for(ctx: dict, conn: Connection) -> Dialect:
    return Dialect(tuple(conn.server_version), text_collation_c(ctx), ctx.get("timezone"))


def _params(param_types: dict) -> dict[int, str]:
    return {int(k): v for k, v in param_types.items()}


def plan_scan(ctx: dict, quals: list[str], param_types: dict) -> dict:
    conn = get_connection(ctx)
    ref = table_ref(ctx)
    # A column missing in ClickHouse is left out, so a clause using it stays
    # local; fetching it then fails with a clear error (build_scan).
    columns = {n: c for n, c in remote_columns(ctx, conn, ref).items() if c.ch_type is not None}
    dialect = dialect_for(ctx, conn)
    pushed, reasons = [], []
    for q in quals:
        why: list[str] = []
        pushed.append(translate_condition(q, columns, _params(param_types), dialect, why) is not None)
        reasons.append(why[0] if why else "")
    return {"pushed": pushed, "reasons": reasons, "rows": _estimate_rows(conn, ref)}


def _estimate_rows(conn: Connection, ref: TableRef) -> float:
    key = ("rows", ref.db, ref.table)
    cache = conn._describe_cache
    if key not in cache:
        rows = 1_000_000.0
        try:
            if conn.server_version >= (20,):
                from .translate.quoting import quote_string
                r = conn.execute("SELECT total_rows FROM system.tables WHERE database = "
                                 f"{quote_string(ref.db)} AND name = {quote_string(ref.table)}")
                if r and r[0][0] is not None:
                    rows = float(max(r[0][0], 1))
        except ChFdwError:
            pass
        cache[key] = rows  # type: ignore[assignment]
    return cache[key]  # type: ignore[return-value]


def can_sort(ctx: dict, keys: list) -> bool:
    conn = get_connection(ctx)
    ref = table_ref(ctx)
    columns = remote_columns(ctx, conn, ref)
    by_attnum = {c["attnum"]: c["name"] for c in ctx["columns"]}
    dialect = dialect_for(ctx, conn)
    for attnum, descending, nulls_first, collation in keys:
        col = columns[by_attnum[attnum]]
        d = Dialect(dialect.version, orders_by_bytes(collation))
        if col.ch_type is None or translate_sort_key(col, descending, nulls_first, d) is None:
            return False
    return True


def build_scan(ctx: dict, retrieved: list[int], quals: list[str], param_types: dict,
               sort_keys: list | None, has_limit: bool) -> str:
    conn = get_connection(ctx)
    ref = table_ref(ctx)
    columns = remote_columns(ctx, conn, ref)
    by_attnum = {c["attnum"]: c["name"] for c in ctx["columns"]}
    fetched = [columns[by_attnum[a]] for a in retrieved]
    for col in fetched:
        if col.ch_type is None:
            raise _missing_column_error(ctx, ref, col, conn)
    sort_sql = []
    for attnum, descending, nulls_first, collation in sort_keys or []:
        key = translate_sort_key(columns[by_attnum[attnum]], descending, nulls_first,
                                 Dialect(tuple(conn.server_version), orders_by_bytes(collation)))
        if key is None:  # can_sort said yes; never sort differently from PostgreSQL
            raise ChFdwError("internal error: sort key no longer translatable")
        sort_sql.append(key)
    plan = {
        "relname": ctx["relname"],
        "db": ref.db,
        "table": ref.table,
        "columns": [[c.pg_name, c.remote_name, c.pg_type, c.ch_type] for c in columns.values()],
        "fetch": [c.pg_name for c in fetched],
        "quals": quals,
        "param_types": {str(k): v for k, v in param_types.items()},
        "sort": sort_sql,
        "limit": has_limit,
        "version": list(conn.server_version),
        "protocol": conn.protocol,
        "text_collation_c": text_collation_c(ctx),
        "timezone": ctx.get("timezone"),
    }
    return json.dumps(plan, separators=(",", ":"))


@dataclass
class CompiledPlan:
    select_sql: str                      # "SELECT ... FROM ..." (no WHERE)
    conditions: list                     # RemoteCondition objects
    order_by: str
    converters: list[Callable | None]
    fetch_size: int | None = None


_compiled: "OrderedDict[tuple, CompiledPlan]" = OrderedDict()
_COMPILED_MAX = 256


def compile_plan(plan_json: str, timezone: str | None = None) -> CompiledPlan:
    """The plan's SQL; conditions are translated again in the session's
    TimeZone when it changed since planning (ts::date depends on it)."""
    hit = _compiled.get((plan_json, timezone)) if timezone else None
    if hit is not None:
        _compiled.move_to_end((plan_json, timezone))
        return hit
    p = json.loads(plan_json)
    tz = timezone or p.get("timezone")
    key = (plan_json, tz)
    hit = _compiled.get(key)
    if hit is not None:
        _compiled.move_to_end(key)
        return hit
    columns = {c[0]: ColumnInfo(c[0], c[1], c[2], c[3]) for c in p["columns"]}
    dialect = Dialect(tuple(p["version"]), p["text_collation_c"], tz)
    exprs, converters = [], []
    for name in p["fetch"]:
        col = columns[name]
        fp = fetch_plan(col.ch_type, col.pg_type, f'column "{name}" of foreign table {p["relname"]}',
                        tuple(p["version"]), driver=p["protocol"])
        exprs.append(fp.expression.format(quote_identifier(col.remote_name)))
        converters.append(fp.convert)
    conditions = []
    for q in p["quals"]:
        cond = translate_condition(q, columns, _params(p["param_types"]), dialect)
        if cond is None:
            raise ChFdwError("a pushed-down condition cannot be translated in this TimeZone"
                             if tz != p.get("timezone") else
                             "internal error: a pushed-down condition is no longer translatable",
                             detail=q, hint="Prepare the statement again." if tz != p.get("timezone") else None)
        conditions.append(cond)
    select_list = ", ".join(exprs) if exprs else "1"
    compiled = CompiledPlan(
        select_sql=f"SELECT {select_list} FROM {quote_identifier(p['db'])}.{quote_identifier(p['table'])}",
        conditions=conditions,
        order_by=", ".join(p["sort"]),
        converters=converters if exprs else [],
    )
    _compiled[key] = compiled
    if len(_compiled) > _COMPILED_MAX:
        _compiled.popitem(last=False)
    return compiled


def remote_sql(compiled: CompiledPlan, params: dict[int, str | None] | None, limit) -> str:
    """The SELECT to send; with params=None, parameters show as $n (EXPLAIN)."""
    sql = compiled.select_sql
    if compiled.conditions:
        parts = [c.sql_template if params is None else c.render(params) for c in compiled.conditions]
        sql += " WHERE " + " AND ".join(f"({x})" if len(parts) > 1 else x for x in parts)
    if compiled.order_by:
        sql += " ORDER BY " + compiled.order_by
    if limit is not None:
        sql += f" LIMIT {limit}"
    return sql


def explain_scan(plan_json: str, limit) -> str:
    return remote_sql(compile_plan(plan_json), None, limit)


class Scan:
    """One execution of a foreign scan, driven by the C bridge."""

    def __init__(self, ctx: dict, plan_json: str, params: dict, limit):
        self.compiled = compile_plan(plan_json, ctx.get("timezone"))
        self.ctx = ctx
        plan_fetch = ctx["table"].get("fetch_size") or ctx["server"].get("fetch_size")
        self.settings = {"max_block_size": int(plan_fetch)} if plan_fetch else {}
        self.sql = remote_sql(self.compiled, {int(k): v for k, v in params.items()}, limit)
        self.converters = self.compiled.converters   # [] when no column is fetched
        self._blocks: Iterator[Block] | None = None
        if limit == 0:
            self._blocks = iter(())

    def fetch(self):
        if self._blocks is None:
            # chosen only now: another scan of this query may be streaming
            self._blocks = get_connection(self.ctx).stream(self.sql, self.settings)
        block = next(self._blocks, None)
        if block is None:
            return None
        cols = block.columns
        if not self.converters:
            return (block.nrows, [])
        out = []
        for conv, col in zip(self.converters, cols):
            if conv is not None:
                col = conv(col)
            if not isinstance(col, (list, tuple)):
                col = list(col)
            out.append(col)
        return (block.nrows, out)

    def close(self) -> None:
        blocks, self._blocks = self._blocks, None
        close = getattr(blocks, "close", None)
        if close is not None:
            close()


def begin_scan(ctx: dict, plan_json: str, params: dict, limit) -> Scan:
    return Scan(ctx, plan_json, params, limit)
