"""UPDATE / DELETE as ClickHouse mutations.

Only as one ClickHouse statement (PostgreSQL's direct-modify API): a WHERE
that translates whole (ch_fdw.translate.scan) and SET values that are
computed once (constants, parameters, stable expressions) or are plain
columns of the same type.  DELETE is a lightweight DELETE FROM on ClickHouse
>= 23.3, ALTER TABLE ... DELETE before; UPDATE is ALTER TABLE ... UPDATE.
The statement waits for the mutation (mutations_sync = 2 on >= 20.1,
polling system.mutations before), so its effect is visible when it returns.
ClickHouse does not report how many rows a mutation changed; the count
reported is count() of the matching rows taken just before the mutation.
"""

from __future__ import annotations

import re as _re
import time as _time

from . import errors
from .chtypes.base import BadAt
from .chtypes.write import literal
from .connection import Connection, get_connection
from .errors import ChFdwError, Interrupted
from .insert import encoders, table_ref
from .interrupts import interrupt_pending
from .translate.quoting import quote_identifier, quote_string


def _not_null_type(ch_text: str) -> str:
    t = ch_text.strip()
    if t.startswith("Nullable(") and t.endswith(")"):
        return t[len("Nullable("):-1]
    if t.startswith("LowCardinality(Nullable(") and t.endswith("))"):
        return "LowCardinality(" + t[len("LowCardinality(Nullable("):-2] + ")"
    return t


def _refuse(op: str, relname: str, reason: str) -> ChFdwError:
    return ChFdwError(f"ch_fdw cannot {op} foreign table {relname}: {reason}",
                      errors.FEATURE_NOT_SUPPORTED,
                      hint="ClickHouse can only run an UPDATE/DELETE whose WHERE clause and SET values it "
                           "evaluates exactly as PostgreSQL would, as one mutation.")


def plan_direct_modify(ctx: dict, op: str, scan_plan: str, sets: list) -> str:
    """op: 'UPDATE' | 'DELETE'.  scan_plan: the ForeignScan's JSON plan (its
    quals were all pushed).  sets: [(attnum, kind, text)] where kind is
    'value' (computed once by PostgreSQL; text is the type name) or 'expr'
    (deparsed expression over this table's columns).  Returns the JSON
    plan, or raises FEATURE_NOT_SUPPORTED saying why."""
    from .scan import compile_plan
    conn = get_connection(ctx)
    ref = table_ref(ctx)
    relname = ctx["relname"]
    compile_plan(scan_plan)        # its conditions translate (they were pushed)
    by_attnum = {c["attnum"]: c for c in ctx["columns"]}
    remote_types = dict(conn.describe(ref.db, ref.table))
    keys = _key_columns(conn, ref) if op == "UPDATE" else set()
    set_plan = []
    for attnum, kind, text in sets:
        col = by_attnum[attnum]
        remote = col["options"].get("column_name", col["name"])
        if remote not in remote_types:
            raise _refuse(op, relname, f'column "{col["name"]}" does not exist in ClickHouse table '
                                       f"{ref.db}.{ref.table}")
        if kind == "value":
            # check the type pair now; the value is encoded at execution
            encoders(ctx, conn, ref, [attnum])
            # ClickHouse cannot UPDATE a key column; ORMs (Django's save())
            # set every column: checked at execution to equal every matching
            # row's current value, and then left out of the mutation
            set_plan.append([attnum, "key" if remote in keys else "value", None])
            continue
        # an expression over this table's columns: only a plain column of the
        # same PostgreSQL and ClickHouse type is sent as is
        m = _re.fullmatch(r'\s*(?:"((?:[^"]|"")+)"|([a-z_][a-z0-9_$]*))\s*', text)
        src = None
        if m:
            name = m[1].replace('""', '"') if m[1] is not None else m[2]
            src = next((c for c in ctx["columns"] if c["name"] == name), None)
        if src is None:
            raise _refuse(op, relname, f'SET {col["name"]} = {text}: ClickHouse cannot compute this '
                                       "expression exactly as PostgreSQL would (only constants, parameters, "
                                       "expressions not referring to the table's columns, and plain columns "
                                       "of the same type are sent)")
        src_remote = src["options"].get("column_name", src["name"])
        if src["type"] != col["type"] or remote_types.get(src_remote) != remote_types[remote]:
            raise _refuse(op, relname, f'SET {col["name"]} = {text}: the columns differ in type')
        # SET k = k changes nothing: left out (ClickHouse refuses it for keys)
        set_plan.append([attnum, "same" if src_remote == remote else "column", src_remote])
    import json
    return json.dumps({"op": op, "scan": scan_plan, "sets": set_plan,
                       "version": list(conn.server_version)}, separators=(",", ":"))


def _key_columns(conn: Connection, ref) -> set:
    """Columns in the table's partition, sorting or primary key."""
    try:
        rows = conn.execute(
            "SELECT name FROM system.columns WHERE database = " + quote_string(ref.db)
            + " AND table = " + quote_string(ref.table)
            + " AND (is_in_partition_key OR is_in_sorting_key OR is_in_primary_key)")
    except ChFdwError:
        return set()      # no such columns: ClickHouse's own refusal stands
    return {r[0] for r in rows}


def _mutation_sql(ctx: dict, conn: Connection, plan: dict, params: dict | None,
                  values: list | None) -> tuple[str, str, str]:
    """(mutation SQL or None when nothing is left to change, count SQL,
    where SQL); with params None, parameters and SET values show as $n /
    $value (EXPLAIN).  The count SQL also counts, per key column SET to a
    value, the matching rows whose value differs."""
    from .scan import compile_plan
    compiled = compile_plan(plan["scan"])
    if compiled.conditions:
        parts = [c.sql_template if params is None else c.render(params) for c in compiled.conditions]
        where = " AND ".join(f"({x})" if len(parts) > 1 else x for x in parts)
    else:
        where = "1"
    ref = table_ref(ctx)
    table = f"{quote_identifier(ref.db)}.{quote_identifier(ref.table)}"
    version = tuple(plan["version"])
    key_checks: list = []
    if plan["op"] == "DELETE":
        if version >= (23, 3):
            sql = f"DELETE FROM {table} WHERE {where}"
        else:
            sql = f"ALTER TABLE {table} DELETE WHERE {where}"
    else:
        by_attnum = {c["attnum"]: c for c in ctx["columns"]}
        assigns = []
        i = -1        # index among the values PostgreSQL computed (value/key sets)
        for attnum, kind, src in plan["sets"]:
            col = by_attnum[attnum]
            remote = col["options"].get("column_name", col["name"])
            if kind in ("value", "key"):
                i += 1
            if kind == "same" or (kind == "key" and values is None):
                continue
            if kind == "column":
                rhs = quote_identifier(src)
            elif values is None:
                rhs = f"$value{i + 1}"
            else:
                enc = encoders(ctx, conn, ref, [attnum])[0]
                try:
                    v = enc.encode([values[i]])[0]
                except BadAt as e:
                    raise ChFdwError(f"{enc.label}: {e.bad.message}", e.bad.sqlstate,
                                     detail="Nothing was changed in ClickHouse.") from None
                # CAST to the non-Nullable type: ClickHouse 18.16 rejects
                # Nullable constants in ALTER UPDATE
                rhs = "NULL" if v is None else f"CAST({literal(enc.t, v)} AS {_not_null_type(enc.ch_text)})"
            if kind == "key":
                key_checks.append((col["name"], f"countIf(NOT ifNull({quote_identifier(remote)} = {rhs}, 0))"))
                continue
            assigns.append(f"{quote_identifier(remote)} = {rhs}")
        sql = f"ALTER TABLE {table} UPDATE {', '.join(assigns)} WHERE {where}" if assigns else None
    counts = "".join(", " + c for _, c in key_checks)
    return sql, f"SELECT count(){counts} FROM {table} WHERE {where}", where, [n for n, _ in key_checks]


def explain_direct_modify(ctx: dict, plan_json: str) -> str:
    import json
    plan = json.loads(plan_json)
    conn = get_connection(ctx)
    sql = _mutation_sql(ctx, conn, plan, None, None)[0]
    return sql or "(no ClickHouse mutation: only key columns set to their current values)"


def execute_direct_modify(ctx: dict, plan_json: str, params: dict, values: list) -> int:
    """Run the mutation, wait until it is applied, return the number of rows
    that matched its WHERE just before."""
    import json
    plan = json.loads(plan_json)
    conn = get_connection(ctx)
    ref = table_ref(ctx)
    sql, count_sql, _, keys = _mutation_sql(ctx, conn, plan, {int(k): v for k, v in params.items()}, values)
    rows = conn.execute(count_sql)
    count = int(rows[0][0]) if rows else 0
    for name, differ in zip(keys, rows[0][1:] if rows else ()):
        if int(differ):
            raise _refuse("UPDATE", ctx["relname"],
                          f'column "{name}" is in the ClickHouse table\'s partition, sorting or primary key, '
                          f"which ClickHouse cannot change, and {int(differ)} matching "
                          f"row{'s' if int(differ) != 1 else ''} hold another value (SET of a key column is "
                          "only accepted when it keeps every matching row's value)")
    if count == 0 or sql is None:
        return count      # nothing matches, or nothing to change
    version = tuple(plan["version"])
    if version >= (20, 1):
        conn.command(sql, {"mutations_sync": 2})
    else:
        conn.command(sql, None)
        _wait_mutations(conn, ref)
    return count


def _wait_mutations(conn: Connection, ref) -> None:
    """ClickHouse < 20.1 has no mutations_sync: poll system.mutations until the
    table has no unfinished mutation (PostgreSQL's cancel/statement_timeout
    interrupt the wait; the mutation then still completes in ClickHouse)."""
    q = (f"SELECT count() FROM system.mutations WHERE database = {quote_string(ref.db)} "
         f"AND table = {quote_string(ref.table)} AND is_done = 0")
    delay = 0.01
    while True:
        rows = conn.execute(q)
        if not rows or int(rows[0][0]) == 0:
            return
        if interrupt_pending():
            raise Interrupted()
        _time.sleep(delay)
        delay = min(delay * 2, 0.2)
