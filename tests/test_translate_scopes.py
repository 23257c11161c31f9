"""Whole-query translator: relations, scopes, grouping, ordering, windows
(issue 8), differentially.

postgres_fdw's regression tables ft4 (even c1 in 2..100) and ft5 (multiples
of 3 in 3..99) live in PostgreSQL and in chDB; each query is deparsed by
PostgreSQL, translated, run on ClickHouse and compared with PostgreSQL's own
rows (tests/difftest.py).  Shapes the translator cannot make equal must be
refused with a reason (they then run on the per-table path), never sent.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import difftest as D  # noqa: E402
from ch_fdw.translate.query import NotPushable, TableInfo  # noqa: E402
from ch_fdw.translate.scan import ColumnInfo  # noqa: E402

psycopg = pytest.importorskip("psycopg")
pytest.importorskip("chdb")

TZ = "America/New_York"
PG_COLS = [("c1", "integer"), ("c2", "integer"), ("c3", "text"), ("g", "integer"),
           ("x", "integer")]
CH_COLS = ["Int32", "Int32", "Nullable(String)", "Int32", "Nullable(Int32)"]


def _rows(step):
    # g groups rows in fours; x is NULL on every fifth row
    return [(i, i + 1, f"{i:04d}", i // 8, None if i % 5 == 0 else (i * 7) % 11)
            for i in range(step, 101, step)]


TABLES = {"ft4": _rows(2), "ft5": _rows(3)}


@pytest.fixture(scope="module")
def pg(scratch_db):
    conn = scratch_db
    conn.execute(f"SET TimeZone = '{TZ}'")
    for t, rows in TABLES.items():
        conn.execute(f"CREATE TABLE {t} (c1 integer NOT NULL, c2 integer NOT NULL, c3 text, "
                     "g integer NOT NULL, x integer)")
        for r in rows:
            conn.execute(f"INSERT INTO {t} VALUES (%s, %s, %s, %s, %s)", r)
    yield conn


@pytest.fixture(scope="module")
def ch(pg):
    d = tempfile.mkdtemp(prefix="tsch-", dir="/tmp")
    be = D.ChdbBackend(f"{d}/chdb")
    try:
        be.command("CREATE DATABASE IF NOT EXISTS s")
        be.infos = {}
        for t, rows in TABLES.items():
            cols = ", ".join(f"`{c}` {ct}" for (c, _), ct in zip(PG_COLS, CH_COLS))
            be.command(f"CREATE TABLE s.{t} ({cols}) ENGINE = MergeTree ORDER BY tuple()")
            vals = ", ".join("(" + ", ".join("NULL" if v is None else
                                             f"'{v}'" if isinstance(v, str) else str(v)
                                             for v in r) + ")" for r in rows)
            be.command(f"INSERT INTO s.{t} VALUES {vals}")
            be.infos[f"public.{t}"] = TableInfo(f"public.{t}", "s", t, {
                c: ColumnInfo(c, c, ty, ct) for (c, ty), ct in zip(PG_COLS, CH_COLS)})
        yield be
    finally:
        be.close()
        shutil.rmtree(d, ignore_errors=True)


@pytest.fixture(scope="module")
def runner(pg, ch):
    return D.TranslatorRunner(pg, ch, ch.infos, timezone=TZ)


def same_rows(pg, runner, sql):
    """The query is pushed and returns PostgreSQL's rows."""
    d, info = D.run_diff(pg, sql, runner)
    assert d.ok, f"{d.message}\n-- deparsed:\n{info.deparsed}\n-- ClickHouse:\n{info.remote_sql}"


def same_rows_or_refused(pg, runner, sql):
    """Pushed with PostgreSQL's rows, or refused with a reason; never an
    error or a wrong row.  Returns the refusal reason (or None)."""
    try:
        runner.translate(sql)
    except NotPushable as e:
        assert e.reason
        print(f"\nrefused: {e.reason}: {sql}")
        return e.reason
    same_rows(pg, runner, sql)
    return None


def refused(runner, sql) -> str:
    with pytest.raises(NotPushable) as ei:
        runner.translate(sql)
    return ei.value.reason


# ------------------------------------------------------------------ 1. join trees

JOIN_TREES = [
    "SELECT count(*) FROM (SELECT c1 FROM ft4) a JOIN ft5 b ON a.c1 = b.c1",
    "SELECT count(*) FROM ft4 a JOIN ft5 b ON a.c1 = b.c1 JOIN ft5 c ON c.c1 = a.c1 + 6",
    "SELECT a.c1, b.c1, c.c1 FROM ft4 a JOIN ft5 b ON a.c1 = b.c1 JOIN ft5 c ON c.c1 = a.c1 + 6",
    "SELECT count(*) FROM ft4 a FULL JOIN ft5 b ON true WHERE false",
    "SELECT count(*) FROM (SELECT c1 FROM ft4 WHERE c1 > 200) a FULL JOIN ft5 b ON true",
    "SELECT a.c1, b.c1 FROM (SELECT c1 FROM ft4 WHERE c1 < 10) a "
    "FULL JOIN (SELECT c1 FROM ft5 WHERE c1 > 200) b ON true",
    "SELECT a.c1, b.c1, c.c1 FROM ft4 a LEFT JOIN ft5 b ON a.c1 = b.c1 "
    "FULL JOIN ft4 c ON c.c1 = b.c1 + 40",
    "SELECT count(*) FROM ft4 a, ft5 b JOIN ft4 c ON b.c1 = c.c1 WHERE a.c1 = c.c2 - 1",
    "SELECT count(*) FROM ft4 a JOIN (ft5 b JOIN ft4 c ON b.c1 = c.c1) ON a.c1 = b.c1",
    "SELECT a.c1, b.c1 FROM ft4 a LEFT JOIN (ft5 b JOIN ft4 c ON b.c1 = c.c1) ON a.c1 = b.c1 "
    "WHERE a.c1 < 30",
    "SELECT count(*) FROM (ft4 a JOIN ft5 b ON a.c1 = b.c1) JOIN (ft4 c JOIN ft5 d ON c.c1 = d.c1) "
    "ON a.c1 = c.c1",
    "SELECT count(*) FROM ft4 a JOIN ft5 b USING (c1)",
    "SELECT c1, a.c2, b.c2 FROM ft4 a FULL JOIN ft5 b USING (c1) WHERE c1 < 20",
    "SELECT count(*) FROM ft4 a NATURAL JOIN ft5 b",
    "SELECT count(*) FROM ft4 a CROSS JOIN ft5 b JOIN ft4 c ON c.c1 = b.c1",
    "SELECT a.c1, s.n FROM ft4 a LEFT JOIN (SELECT g, count(*) AS n FROM ft5 GROUP BY g) s "
    "ON s.g = a.g WHERE a.c1 < 20",
    "SELECT a.c1, b.c1 FROM ft4 a RIGHT JOIN (ft5 b LEFT JOIN ft4 c ON c.c1 = b.c1) "
    "ON a.c1 = b.c1 + 1 WHERE b.c1 < 30",
    "SELECT count(*) FROM ft4 a, LATERAL (SELECT b.c1 FROM ft5 b WHERE b.c1 = a.c1) s",
    "SELECT count(*) FROM (SELECT a.c1 FROM ft4 a JOIN ft5 b ON a.c1 = b.c1) s "
    "JOIN ft4 c ON c.c1 = s.c1",
]


@pytest.mark.parametrize("sql", JOIN_TREES)
def test_join_trees_keep_every_join(pg, runner, sql):
    same_rows_or_refused(pg, runner, sql)


def test_join_of_subquery_is_pushed(pg, runner):
    same_rows(pg, runner, JOIN_TREES[0])
    same_rows(pg, runner, JOIN_TREES[1])


# ------------------------------------------------------------------ 2. aggregate levels

def test_aggregate_of_outer_columns_is_not_evaluated_in_the_sublink(pg, runner):
    assert "outer" in refused(runner, "SELECT (SELECT count(t2.c1)) FROM ft5 t2")
    assert "outer" in refused(runner, "SELECT c1, (SELECT max(t2.c2) FROM ft4 t3 "
                                      "WHERE t3.c1 = 2) FROM ft5 t2 GROUP BY c1")
    same_rows_or_refused(pg, runner, "SELECT (SELECT count(t2.c1)) FROM ft5 t2")


AGG_LEVELS = [
    # the aggregate's columns are its own level's: evaluated in the subquery
    "SELECT c1, (SELECT count(*) FROM ft4 t3 WHERE t3.c1 < t2.c1) FROM ft5 t2 WHERE c1 < 20",
    "SELECT c1, (SELECT max(t3.c2) FROM ft4 t3 WHERE t3.c1 = t2.c1) FROM ft5 t2",
    "SELECT c1 FROM ft5 t2 WHERE c1 > (SELECT avg(t3.c1) FROM ft4 t3)",
]


@pytest.mark.parametrize("sql", AGG_LEVELS)
def test_aggregate_levels(pg, runner, sql):
    same_rows_or_refused(pg, runner, sql)


# ------------------------------------------------------------------ 3./4. constant keys

CONST_KEYS = [
    "SELECT count(*), 5 AS y FROM ft4 GROUP BY y",
    "SELECT count(*), 5 AS y FROM ft4 WHERE c1 > 1000 GROUP BY y",
    "SELECT g, count(*), 'k'::text AS k FROM ft4 GROUP BY g, k ORDER BY g",
    "SELECT count(*) FROM ft4 GROUP BY 'x'::text",
    "SELECT 1 AS one FROM ft4 ORDER BY 1 LIMIT 1",
    "SELECT 1 AS one, c1 FROM ft4 ORDER BY 1, 2 DESC LIMIT 3",
    "SELECT c1 FROM ft4 ORDER BY 'a'::text, c1 LIMIT 4",
    "SELECT sum(c1) OVER (ORDER BY 1::int) FROM ft5",
]


@pytest.mark.parametrize("sql", CONST_KEYS)
def test_constant_group_and_order_keys(pg, runner, sql):
    same_rows(pg, runner, sql)


# ------------------------------------------------------------------ 5. grouping sets

GROUPING_SETS = [
    "SELECT g, count(*) FROM ft4 GROUP BY ROLLUP (g) ORDER BY 1, 2",
    "SELECT g, c2 % 2 AS p, sum(c1) FROM ft4 GROUP BY CUBE (g, c2 % 2)",
    "SELECT g, c1, count(*) FROM ft5 WHERE c1 < 40 GROUP BY GROUPING SETS ((g), (c1), ())",
    "SELECT g, GROUPING(g), count(*) FROM ft4 GROUP BY ROLLUP (g)",
    "SELECT g, c2 % 3 AS m, GROUPING(g, c2 % 3), max(c1) FROM ft4 GROUP BY CUBE (g, c2 % 3)",
    "SELECT g + 1 AS h, count(x) FROM ft5 GROUP BY ROLLUP (g + 1) HAVING count(*) > 2",
]


@pytest.mark.parametrize("sql", GROUPING_SETS)
def test_grouping_sets_on_not_null_keys(pg, runner, sql):
    same_rows(pg, runner, sql)


# ------------------------------------------------------------------ 6. ANY (ARRAY(SELECT))

def test_any_of_array_subquery(pg, runner):
    same_rows(pg, runner, "SELECT c1 FROM ft4 WHERE c1 = ANY (ARRAY(SELECT c1 FROM ft5))")
    same_rows(pg, runner, "SELECT c1 FROM ft4 WHERE NOT (c1 = ANY (ARRAY(SELECT x FROM ft5)))")
    same_rows(pg, runner, "SELECT c1 FROM ft4 WHERE c1 <> ALL (ARRAY(SELECT x FROM ft5))")
    same_rows_or_refused(pg, runner, "SELECT c1 FROM ft4 WHERE c1 < ANY (ARRAY(SELECT c1 FROM ft5))")
    same_rows_or_refused(pg, runner, "SELECT ARRAY(SELECT c1 FROM ft5 ORDER BY c1) FROM ft4 LIMIT 1")


# ------------------------------------------------------------------ 7. window aggregates

WINDOWS = [
    "SELECT c1, min(x) OVER (PARTITION BY g ORDER BY c2) FROM ft4",
    "SELECT c1, max(x) OVER (PARTITION BY g ORDER BY c2 DESC) FROM ft4",
    "SELECT c1, avg(c1) OVER (PARTITION BY g ORDER BY c2) FROM ft4",
    "SELECT c1, avg(x) OVER (PARTITION BY g) FROM ft5",
    "SELECT c1, sum(x) OVER (ORDER BY g), count(x) OVER (ORDER BY g) FROM ft4",
    "SELECT c1, sum(c1) OVER (PARTITION BY g ORDER BY x) FROM ft5",
    "SELECT c1, count(*) OVER (ORDER BY x DESC NULLS LAST) FROM ft5",
    "SELECT c1, sum(c2::numeric(10,2)) OVER (PARTITION BY g ORDER BY c1) FROM ft5",
    "SELECT c1, min(c1::float8) OVER (PARTITION BY g ORDER BY c1) FROM ft5",
]


@pytest.mark.parametrize("sql", WINDOWS)
def test_window_aggregates_with_running_frames(pg, runner, sql):
    same_rows_or_refused(pg, runner, sql)


def test_running_window_min_and_avg_are_pushed(pg, runner):
    same_rows(pg, runner, WINDOWS[0])
    # avg(int) over a window shows PostgreSQL's per-row display scale
    # (windowed sum and count through _avg_exact): the same text
    same_rows(pg, runner, WINDOWS[2])
    want = [tuple(map(str, r)) for r in D.pg_rows(pg, WINDOWS[2] + " ORDER BY 1, 2")]
    got, _ = runner(WINDOWS[2] + " ORDER BY 1, 2")
    assert [tuple(map(str, r)) for r in got] == want


# ------------------------------------------------------------------ 8. correlated sublinks

CORRELATED_REFUSED = [
    "SELECT c1 FROM ft4 a WHERE EXISTS (SELECT 1 FROM ft5 b WHERE b.c1 = a.c1 ORDER BY 1 LIMIT 1)",
    "SELECT c1 FROM ft4 a WHERE EXISTS (SELECT b.c2 FROM ft5 b WHERE b.c1 = a.c1 "
    "ORDER BY b.c2 LIMIT 2)",
    "SELECT CASE WHEN EXISTS (SELECT 1 FROM ft5 b WHERE b.c1 = a.c1 ORDER BY 1 LIMIT 1) "
    "THEN 1 ELSE 0 END FROM ft4 a",
    "SELECT c1 FROM ft4 a ORDER BY (SELECT max(b.c2) FROM ft5 b WHERE b.c1 <= a.c1), c1",
    "SELECT c1, (SELECT b.c2 FROM ft5 b WHERE b.c1 > a.c1 ORDER BY b.c1 LIMIT 1) FROM ft4 a",
]


@pytest.mark.parametrize("sql", CORRELATED_REFUSED)
def test_correlated_sublinks_clickhouse_cannot_decorrelate_are_refused(pg, runner, sql):
    assert "correlated" in refused(runner, sql)


UNCORRELATED = [
    "SELECT c1 FROM ft4 a WHERE EXISTS (SELECT 1 FROM ft5 b ORDER BY 1 LIMIT 1)",
    "SELECT CASE WHEN EXISTS (SELECT 1 FROM ft5 b WHERE b.c1 > 90 ORDER BY 1 LIMIT 1) "
    "THEN 1 ELSE 0 END FROM ft4 a",
    "SELECT c1 FROM ft4 a WHERE EXISTS (SELECT 1 FROM ft5 b WHERE b.c1 = a.c1)",
]


@pytest.mark.parametrize("sql", UNCORRELATED)
def test_sublinks_clickhouse_can_run(pg, runner, sql):
    same_rows(pg, runner, sql)


# ------------------------------------------------------------------ 9. outer join conditions

OUTER_ON = [
    "SELECT a.c1, b.c1 FROM ft4 a LEFT JOIN ft5 b ON a.c1 <= b.c1 WHERE a.c1 > 90",
    "SELECT a.c1, b.c1 FROM ft4 a LEFT JOIN ft5 b ON a.c1 = b.c1 OR a.c1 = b.c2",
    "SELECT a.c1, b.c1 FROM ft4 a FULL JOIN ft5 b ON a.c1 = b.c1 AND (a.c2 > 10 OR b.c2 < 50)",
]


@pytest.mark.parametrize("sql", OUTER_ON)
def test_outer_joins_clickhouse_cannot_hash_are_refused(runner, sql):
    assert "JOIN" in refused(runner, sql)


OUTER_ON_PUSHED = [
    "SELECT a.c1, b.c1 FROM ft4 a RIGHT JOIN ft5 b ON a.c1 = b.c1 AND b.c1 > 10",
    "SELECT a.c1, b.c1 FROM ft4 a FULL JOIN ft5 b ON a.c1 = b.c1 AND a.c2 > 50 AND b.c2 < 70",
    "SELECT a.c1, b.c1 FROM ft4 a LEFT JOIN ft5 b ON a.c1 = b.c1 AND b.c1 > 10",
    "SELECT a.c1, b.c1 FROM ft4 a RIGHT JOIN ft5 b ON a.c1 = b.c1 AND a.c2 > 10",
    "SELECT a.c1, b.c1 FROM ft4 a FULL JOIN ft5 b ON a.c1 = b.c1 AND a.c2 = b.c2 - 0",
    "SELECT a.c1, b.c1 FROM ft4 a JOIN ft5 b ON a.c1 <= b.c1 WHERE b.c1 < 12",
]


@pytest.mark.parametrize("sql", OUTER_ON_PUSHED)
def test_outer_join_conditions(pg, runner, sql):
    same_rows_or_refused(pg, runner, sql)


# ------------------------------------------------------------------ generated aliases

def test_generated_aliases_never_name_a_remote_table(pg, ch):
    """ClickHouse resolves `t2`.`c1` to table t2 before an alias t2."""
    infos = {f"public.{t}": TableInfo(f"public.{t}", "s", remote, ch.infos[f"public.{t}"].columns)
             for t, remote in (("ft4", "ft4"), ("ft5", "ft5"))}
    ch.command("CREATE TABLE IF NOT EXISTS s.t1 AS s.ft4")
    ch.command("CREATE TABLE IF NOT EXISTS s.t2 AS s.ft5")
    for t, remote in (("ft4", "t1"), ("ft5", "t2")):
        ch.command(f"INSERT INTO s.{remote} SELECT * FROM s.{t} WHERE (SELECT count() FROM s.{remote}) = 0")
        infos[f"public.{t}"] = TableInfo(f"public.{t}", "s", remote, infos[f"public.{t}"].columns)
    r = D.TranslatorRunner(pg, ch, infos, timezone=TZ)
    for sql in ("SELECT min(a.c1), max(a.c1), count(*) FROM ft5 b CROSS JOIN ft4 a",
                "SELECT a.c1, b.c2 FROM ft4 a JOIN ft5 b ON a.c1 = b.c1"):
        same_rows(pg, r, sql)
        assert "AS `t1`" not in r.translate(sql)[1].sql_template


GROUPING_SETS_EDGES = [
    # PostgreSQL returns the () row over no input rows
    "SELECT g, count(*) FROM ft4 WHERE c1 < 0 GROUP BY ROLLUP (g)",
    "SELECT g, c2, count(*) FROM ft4 WHERE c1 < 0 GROUP BY CUBE (g, c2)",
    "SELECT g, c2 % 2 AS p, count(*) FROM ft4 WHERE c1 < 9 GROUP BY ROLLUP (g, c2 % 2)",
    # no aggregate: a NULL key group and the () row are two equal rows
    "SELECT x, g FROM ft5 WHERE c1 = 15 GROUP BY GROUPING SETS ((x), (g), ())",
    "SELECT x FROM ft5 WHERE c1 IN (15, 30) GROUP BY ROLLUP (x)",
]


@pytest.mark.parametrize("sql", GROUPING_SETS_EDGES)
def test_grouping_sets_edges(pg, runner, sql):
    same_rows(pg, runner, sql)
