"""lag/lead pushed whole (issue 10), differentially: each query over local
tables and through ch_fdw must return the same rows, and be pushed whole on
modern ClickHouse ([lag-lead] in ch_fdw/translate/query/aggregates.py).
Window orders are total (id is unique): PostgreSQL orders peers arbitrarily.
"""

from __future__ import annotations

import pytest

import difftest as D
from test_query_pushdown import qdb, web  # noqa: F401  (fixtures)

PUSHED = "Custom Scan (ClickHouseQuery)"

QUERIES = [
    "SELECT id, lag(ms) OVER (ORDER BY id) FROM web ORDER BY id",
    "SELECT id, lead(url, 2) OVER (PARTITION BY user_id ORDER BY id) FROM web ORDER BY id",
    "SELECT id, lag(ms, 1, 0) OVER (PARTITION BY user_id ORDER BY ts, id) FROM web ORDER BY id",
    "SELECT id, lead(ms, 1, -1) OVER (ORDER BY id DESC) FROM web ORDER BY id",
    "SELECT id, lag(id, 0) OVER (ORDER BY id), lead(id, 10) OVER (ORDER BY id) FROM web ORDER BY id",
    "SELECT id, lag(country, 1, 'none'::text) OVER (ORDER BY id) FROM web ORDER BY id",
    "SELECT id, ms - lag(ms) OVER (ORDER BY id) AS delta FROM web ORDER BY id",
    "SELECT user_id, sum(ms), lag(sum(ms)) OVER (ORDER BY user_id) FROM web GROUP BY user_id ORDER BY user_id",
    "SELECT date_trunc('day', ts) AS d, count(*), lead(count(*), 1, 0::bigint) OVER (ORDER BY date_trunc('day', ts)) "
    "FROM web GROUP BY 1 ORDER BY 1",
]


@pytest.mark.parametrize("sql", QUERIES)
def test_lag_lead_match_postgres(web, engine, sql):
    conn, schema = web
    conn.execute("SET TimeZone = 'UTC'")
    conn.execute(f"SET search_path = {schema}, public")
    plan = "\n".join(r[0] for r in conn.execute("EXPLAIN (VERBOSE) " + sql))
    got = conn.execute(sql).fetchall()
    conn.execute("SET search_path = web_local, public")
    want = conn.execute(sql).fetchall()
    assert D.compare(want, got, ordered=True), f"{D.compare(want, got, ordered=True).message}\n{plan}"
    if engine.modern:
        assert PUSHED in plan, plan


@pytest.mark.parametrize("mode", ["force_custom_plan", "force_generic_plan"])
def test_lag_offset_parameter(web, engine, mode):
    conn, schema = web
    conn.execute(f"SET plan_cache_mode = {mode}")
    out = []
    for path in (schema, "web_local"):
        conn.execute(f"SET search_path = {path}, public")
        conn.execute("DEALLOCATE ALL")
        conn.execute("PREPARE l(int) AS SELECT id, lag(ms, $1) OVER (ORDER BY id) FROM web ORDER BY id")
        out.append([conn.execute(f"EXECUTE l({n})").fetchall() for n in (0, 1, 3)])
        if path == schema and engine.modern:
            plan = "\n".join(r[0] for r in conn.execute("EXPLAIN (VERBOSE) EXECUTE l(2)"))
            assert PUSHED in plan, plan
    assert out[0] == out[1]
