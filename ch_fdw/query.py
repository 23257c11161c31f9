"""Whole-query pushdown: translate a deparsed SELECT, run it, stream rows.

plan_query() is called by the planner hook with the query as PostgreSQL
deparses it; the translation (sqlglot) is cached by query text and
parameter types, so a repeated query does not pay for it again.  The plan
kept by PostgreSQL is a small JSON document (no password, no live objects);
begin_query() finds the cached translation or rebuilds it from that plan.

The translator casts each output column to a known ClickHouse type and
applies the same fetch expression a table column of that type would get
(ch_fdw.chtypes.fetch_plan); the matching Python converters run here.
Translations depend on the session TimeZone, so a plan made under another
TimeZone is translated again before it runs; a translation whose SQL depends
on a parameter's value (value_params: a date_trunc unit, round's digits) is
made again, and cached, per value.
"""

from __future__ import annotations

import json
from collections import OrderedDict
from dataclasses import dataclass
from typing import Callable

from .connection import get_connection
from . import errors
from .errors import ChFdwError, Interrupted
from .refusals import is_refusal
from .collations import refusal as collation_refusal
from .scan import Scan, dialect_for, remote_columns, table_ref
from .chtypes import fetch_plan

_CACHE_MAX = 512


class _LRU(OrderedDict):
    def get_fresh(self, key):
        value = self.get(key)
        if value is not None:
            self.move_to_end(key)
        return value

    def put(self, key, value):
        self[key] = value
        if len(self) > _CACHE_MAX:
            self.popitem(last=False)


_plans: _LRU = _LRU()          # plan key -> plan_query() result
_compiled: _LRU = _LRU()       # plan_json -> CompiledQuery


@dataclass
class CompiledQuery:
    translation: object                       # translate.query.QueryTranslation
    timezone: str | None
    converters: list[Callable | None]


def _compile(translation, output_types: list[str], version: tuple, protocol: str,
             timezone: str | None) -> CompiledQuery:
    from .translate.query.outputs import fetch_pg_type
    converters = [fetch_plan(ct, fetch_pg_type(ct, pg), f"column {i + 1} of the ClickHouse query result",
                             version, driver=protocol).convert
                  for i, (ct, pg) in enumerate(zip(translation.output_ch_types, output_types))]
    return CompiledQuery(translation, timezone, converters)


def _table_infos(server_ctx: dict, tables: list[dict], conn):
    from .translate.query import TableInfo
    infos = {}
    for t in tables:
        ctx = dict(server_ctx, **t)
        ref = table_ref(ctx)
        # columns missing in ClickHouse are unknown to the translator: such a
        # query is refused and the per-table path reports the column clearly
        columns = {n: c for n, c in remote_columns(ctx, conn, ref).items() if c.ch_type is not None}
        infos[t["pg_name"]] = TableInfo(t["pg_name"], ref.db, ref.table, columns)
    return infos


def _translate(pg_sql: str, infos: dict, param_types: dict, output_types: list, dialect,
               timezone: str | None, param_values: dict | None = None):
    from .translate.query import translate_query
    return translate_query(pg_sql, infos, {int(k): v for k, v in param_types.items()},
                           list(output_types), dialect, timezone=timezone,
                           param_values=param_values)


def plan_query(server_ctx: dict, pg_sql: str, tables: list[dict], param_types: dict,
               output_types: list[str]) -> dict:
    """{"plan": json} when ClickHouse can answer the query exactly,
    else {"plan": None, "reason": "..."}."""
    try:
        from .translate.query import NotPushable
    except ImportError as e:  # pragma: no cover - broken installation
        return {"plan": None, "reason": f"the query translator is not available ({e})"}
    why = collation_refusal(server_ctx)
    if why:
        return {"plan": None, "reason": why}
    conn = get_connection(server_ctx)
    dialect = dialect_for(server_ctx, conn)
    timezone = server_ctx.get("timezone")
    key = json.dumps([server_ctx["server_id"], pg_sql, sorted((int(k), v) for k, v in param_types.items()),
                      output_types, list(conn.server_version), dialect.text_collation_c, timezone,
                      [[t["relid"], t["table"], [[c["name"], c["type"], c["options"]] for c in t["columns"]]]
                       for t in tables]], sort_keys=True, default=str)
    hit = _plans.get_fresh(key)
    if hit is not None:
        return hit
    infos = _table_infos(server_ctx, tables, conn)
    try:
        translation = _translate(pg_sql, infos, param_types, output_types, dialect, timezone)
        compiled = _compile(translation, output_types, tuple(conn.server_version), conn.protocol,
                            timezone)
    except NotPushable as e:
        result = {"plan": None, "reason": getattr(e, "reason", None) or str(e)}
    except ChFdwError:
        raise
    except Exception as e:  # a translator bug must not break a query PostgreSQL can run
        result = {"plan": None, "reason": f"the translator failed ({type(e).__name__}: {e})"}
    else:
        plan_json = json.dumps({"pg_sql": pg_sql, "tables": tables, "param_types": param_types,
                                "output_types": output_types, "server_id": server_ctx["server_id"],
                                # the query's collations decide what is pushed (ch_fdw.collations)
                                "collations": server_ctx.get("collations")},
                               separators=(",", ":"), default=str)
        _compiled.put(plan_json, compiled)
        result = {"plan": plan_json}
    _plans.put(key, result)
    return result


def _compiled_for(server_ctx: dict, plan_json: str, conn, params: dict) -> CompiledQuery:
    timezone = server_ctx.get("timezone")
    hit = _compiled.get_fresh(plan_json)
    if hit is None or hit.timezone != timezone:
        hit = _retranslate(server_ctx, plan_json, conn, timezone, None)
        _compiled.put(plan_json, hit)
    value_params = hit.translation.value_params
    if not value_params:
        return hit
    # [known-params] the SQL depends on these parameters' values (a
    # date_trunc unit, round's digits): one translation per value set
    values = {pid: params.get(pid) for pid in value_params}
    key = plan_json + "\0" + json.dumps(sorted(values.items()))
    by_value = _compiled.get_fresh(key)
    if by_value is None or by_value.timezone != timezone:
        by_value = _retranslate(server_ctx, plan_json, conn, timezone, values)
        _compiled.put(key, by_value)
    return by_value


def _retranslate(server_ctx: dict, plan_json: str, conn, timezone, values) -> CompiledQuery:
    p = json.loads(plan_json)
    infos = _table_infos(server_ctx, p["tables"], conn)
    translation = _translate(p["pg_sql"], infos, p["param_types"], p["output_types"],
                             dialect_for(dict(server_ctx, collations=p.get("collations")), conn),
                             timezone, values)
    return _compile(translation, p["output_types"], tuple(conn.server_version), conn.protocol,
                    timezone)


class QueryScan(Scan):
    """Streams the result of one execution of a pushed-down query.

    The bridge calls start() first: it sends the query and waits for the
    first rows, so that a refusal (ch_fdw.refusals) is known before any row
    reached PostgreSQL and the bridge can run the per-table plan instead.
    Errors after that always raise."""

    def __init__(self, server_ctx: dict, plan_json: str, params: dict):
        self.ctx = server_ctx
        self._blocks = None
        self._first = None
        self.refusal = None
        self.converters = []
        from .translate.query import NotPushable
        try:
            # translated again when the session TimeZone changed since planning
            compiled = _compiled_for(server_ctx, plan_json, get_connection(server_ctx),
                                     {int(k): v for k, v in params.items()})
        except NotPushable as e:
            self.refusal = f"the query can no longer be translated: {e.reason}"
            return
        except (ChFdwError, Interrupted):
            raise
        except Exception as e:  # a translator bug must not break a query PostgreSQL can run
            self.refusal = f"the translator failed ({type(e).__name__}: {e})"
            return
        try:
            self.sql = compiled.translation.render({int(k): v for k, v in params.items()})
        except NotPushable as e:
            # PostgreSQL evaluates such a value itself on the per-table path
            self.refusal = f"a parameter value cannot be sent to ClickHouse: {e.reason}"
        self.converters = compiled.converters
        fetch = server_ctx["server"].get("fetch_size")
        self.settings = {"max_block_size": int(fetch)} if fetch else {}

    def start(self) -> str | None:
        """None when the query runs; else why ClickHouse cannot run it."""
        if self.refusal is None:
            try:
                self._first = super().fetch()
            except ChFdwError as e:
                if not is_refusal(e):
                    raise
                self.refusal = errors.scrub(e.message)
        if self.refusal is not None:
            self.close()
        return self.refusal

    def fetch(self):
        if self._first is not None:
            first, self._first = self._first, None
            return first
        return super().fetch()


def begin_query(server_ctx: dict, plan_json: str, params: dict) -> QueryScan:
    return QueryScan(server_ctx, plan_json, params)


def explain_query(plan_json: str) -> str:
    hit = _compiled.get_fresh(plan_json)
    if hit is None:
        return "(translation not cached in this backend; run the query to see it)"
    t = hit.translation
    if t.value_params:
        shown = ", ".join(f"${p}" for p in t.value_params)
        return f"{t.sql_template} (made again at execution for the values of {shown})"
    return t.sql_template
