"""Typed parameters and casts on constants in pushed queries (issue 10).

psycopg 3 with server-side binding sends `LIMIT $1::integer`,
`date_trunc($1::varchar, ts)`, `round(x, $2::integer)`; the value of such a
parameter shapes the ClickHouse SQL, so the translation is made again at
execution for each value ([known-params] in ch_fdw/translate/query/values.py).
Each statement runs through ch_fdw and on local tables with the same values,
under custom and generic plans, with text and binary parameters; it must be
pushed whole on the modern engine and return PostgreSQL's rows.  A value the
translation cannot push (an unknown unit, an out-of-range LIMIT) falls back to
the per-table path, which returns PostgreSQL's rows or raises its error.
"""

from __future__ import annotations

import psycopg
import pytest

from test_query_pushdown import qdb, web  # noqa: F401  (fixtures)

PUSHED = "Custom Scan (ClickHouseQuery)"

# (name, declared parameter types, statement with $n, list of value tuples)
STATEMENTS = [
    ("limit_offset", "bigint, bigint",
     "SELECT url, count(*) AS n FROM web GROUP BY url ORDER BY n DESC, url LIMIT $1::integer OFFSET $2::integer",
     [(2, 0), (1, 1), (10, 3), (0, 0), (None, 1)]),
    ("limit_int2", "smallint",
     "SELECT id FROM web ORDER BY id LIMIT $1::integer", [(3,), (100,)]),
    ("date_trunc_unit", "text",
     "SELECT date_trunc($1::varchar, ts) AS b, count(DISTINCT user_id) FROM web GROUP BY 1 ORDER BY 1",
     [("day",), ("hour",), ("HOUR",), ("month",), ("week",), ("year",), ("minute",),
      ("decade",), ("days",), (None,)]),
    ("date_trunc_unit_varchar", "character varying",
     "SELECT date_trunc($1, ts) AS b, count(*) FROM web GROUP BY 1 ORDER BY 1",
     [("day",), ("quarter",)]),
    ("round_digits", "integer",
     "SELECT country, round(avg(ms), $1::integer) FROM web GROUP BY country ORDER BY country NULLS FIRST",
     [(0,), (2,), (-1,), (None,)]),
    ("round_digits_bigint", "bigint",
     "SELECT id, round(ms::numeric / 7, $1::integer) FROM web ORDER BY id", [(1,), (3,)]),
    ("substring_params", "integer, integer",
     "SELECT id, substring(url, $1::integer, $2::integer) FROM web ORDER BY id",
     [(1, 3), (2, 4), (5, 0)]),
    ("having_param", "integer",
     "SELECT user_id, count(*) FROM web GROUP BY user_id HAVING count(*) >= $1::integer ORDER BY 1",
     [(1,), (2,), (3,)]),
]

# constants behind casts: the same refusals psycopg's parameters hit
CONSTANT_QUERIES = [
    "SELECT date_trunc('day'::varchar, ts), count(*) FROM web GROUP BY 1 ORDER BY 1",
    "SELECT date_trunc('hour'::character varying::text, ts), count(*) FROM web GROUP BY 1 ORDER BY 1",
    "SELECT id FROM web ORDER BY id LIMIT 3::integer OFFSET 1::smallint",
    "SELECT country, round(avg(ms), 1::integer) FROM web GROUP BY 1 ORDER BY 1 NULLS FIRST",
    "SELECT id, substring(url, 2::integer, 3::smallint) FROM web ORDER BY id",
    # Django's Round(Avg()) casts the per-group-scale avg to numeric(1000, 15)
    "SELECT country, round((avg(ms))::numeric(1000, 15), 1) FROM web GROUP BY 1 ORDER BY 1 NULLS FIRST",
    "SELECT country, (avg(ms))::numeric(1000, 15), avg(ms)::numeric(10, 2) FROM web GROUP BY 1 ORDER BY 1 NULLS FIRST",
]


def _plan(conn, sql, params=None) -> str:
    return "\n".join(r[0] for r in conn.execute("EXPLAIN (VERBOSE) " + sql, params))


def _rows(conn, sql, params=None):
    try:
        return conn.execute(sql, params).fetchall()
    except psycopg.Error as e:
        return ("error", e.sqlstate, str(e).splitlines()[0])


@pytest.mark.parametrize("mode", ["force_custom_plan", "force_generic_plan"])
@pytest.mark.parametrize("name,types,sql,values", STATEMENTS, ids=[s[0] for s in STATEMENTS])
def test_prepared_typed_parameters(web, engine, name, types, sql, values, mode):
    conn, schema = web
    conn.execute(f"SET plan_cache_mode = {mode}")
    conn.execute("SET TimeZone = 'UTC'")
    for path in (f"{schema}, public", "web_local, public"):
        conn.execute(f"SET search_path = {path}")
        conn.execute(f"DEALLOCATE ALL")
        conn.execute(f"PREPARE s({types}) AS {sql}")
        got = []
        for vals in values:
            args = ", ".join("NULL" if v is None else f"'{v}'" for v in vals)
            got.append(_rows(conn, f"EXECUTE s({args})"))
            if path.startswith(schema) and engine.modern and vals == values[0]:
                plan = _plan(conn, f"EXECUTE s({args})")
                assert PUSHED in plan, f"{name} ({mode}) not pushed:\n{plan}"
        if path.startswith(schema):
            foreign = got
        else:
            local = got
    for vals, f, lo in zip(values, foreign, local):
        assert f == lo, f"{name} {vals} ({mode}): ch_fdw {f} != PostgreSQL {lo}"


@pytest.mark.parametrize("binary", [False, True], ids=["text", "binary"])
@pytest.mark.parametrize("name,types,sql,values", STATEMENTS, ids=[s[0] for s in STATEMENTS])
def test_psycopg_server_side_binding(web, engine, name, types, sql, values, binary):
    """The driver's own extended-protocol statements, both parameter formats;
    prepare=True makes psycopg PREPARE them, so generic plans run too."""
    conn, schema = web
    conn.execute("SET TimeZone = 'UTC'")
    conn.execute("SET plan_cache_mode = auto")
    mark = "%b" if binary else "%t"
    psql = sql
    for i in range(9, 0, -1):
        psql = psql.replace(f"${i}", mark)
    out = {}
    for path in (f"{schema}, public", "web_local, public"):
        conn.execute(f"SET search_path = {path}")
        res = []
        for vals in values:
            # psycopg gives each value its own type (int2/int4/int8 by size,
            # unknown or text for str), as an application's query would
            typed = psql
            for _ in range(6):   # past psycopg's prepare_threshold, and plan_cache_mode's 5 customs
                r = _rows(conn, typed, list(vals))
            res.append(r)
            if path.startswith(schema) and engine.modern and vals == values[0]:
                plan = _plan(conn, typed, list(vals))
                assert PUSHED in plan, f"{name} not pushed:\n{plan}"
        out[path] = res
    f, lo = out.values()
    assert f == lo, f"{name}: ch_fdw {f} != PostgreSQL {lo}"


@pytest.mark.parametrize("sql", CONSTANT_QUERIES)
def test_constants_behind_casts_pushed(web, engine, sql):
    conn, schema = web
    conn.execute("SET TimeZone = 'UTC'")
    conn.execute(f"SET search_path = {schema}, public")
    if engine.modern:
        plan = _plan(conn, sql)
        assert PUSHED in plan, plan
    got = _rows(conn, sql)
    conn.execute("SET search_path = web_local, public")
    assert got == _rows(conn, sql)


def test_value_shaped_translation_shown_in_explain(web, engine):
    if not engine.modern:
        pytest.skip("whole-query pushdown needs ClickHouse >= 24.3; 18.16 runs these per table")
    conn, schema = web
    conn.execute(f"SET search_path = {schema}, public")
    conn.execute("DEALLOCATE ALL")
    conn.execute("SET plan_cache_mode = force_generic_plan")
    conn.execute("PREPARE u(text) AS SELECT date_trunc($1, ts), count(*) FROM web GROUP BY 1")
    conn.execute("EXECUTE u('hour')").fetchall()
    plan = _plan(conn, "EXECUTE u('hour')")
    assert PUSHED in plan and "made again at execution for the values of $1" in plan, plan
