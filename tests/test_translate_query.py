"""Whole-query translator (ch_fdw.translate.query), differential tests.

A throw-away PostgreSQL 15 holds TPC-H (SF 0.01, tpchgen-cli) and a small
web-analytics data set; chDB (ClickHouse 26.x, in-process) holds the same data
in MergeTree tables.  Each query is deparsed by PostgreSQL (pg_get_viewdef,
the same ruleutils text the planner hook gets), translated, run on ClickHouse
and compared with PostgreSQL's own result (tests/difftest.py).  Debian's
ClickHouse 18.16 is checked to be refused cleanly (it falls back to per-table
scans).
"""

from __future__ import annotations

import datetime as dt
import shutil
import sys
import tempfile
from decimal import Decimal
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import difftest as D  # noqa: E402
from ch_fdw.translate.query import (NotPushable, TableInfo, output_convertible,  # noqa: E402
                                    translate_query)
from ch_fdw.translate.scan import ColumnInfo, Dialect  # noqa: E402

psycopg = pytest.importorskip("psycopg")
pytest.importorskip("chdb")

TZ = "Europe/Berlin"


# ------------------------------------------------------------------ web-analytics data

WEB_PG = {
    "events": [("id", "bigint"), ("user_id", "bigint"), ("ts", "timestamp with time zone"),
               ("url", "text"), ("referrer", "text"), ("country", "character(2)"),
               ("duration", "double precision"), ("revenue", "numeric(12,2)"),
               ("is_bot", "boolean"), ("n", "integer")],
    "users": [("id", "bigint"), ("name", "text"), ("signup", "date"), ("plan", "text")],
}
WEB_CH = {
    "events": ["Int64", "Nullable(Int64)", "DateTime64(6, 'UTC')", "String", "Nullable(String)",
               "String", "Nullable(Float64)", "Nullable(Decimal(12, 2))", "Bool",
               "Nullable(Int32)"],
    "users": ["Int64", "String", "Date", "Nullable(String)"],
}
_T = dt.datetime
_U = dt.timezone.utc
EVENTS = [
    (1, 10, _T(2024, 3, 30, 22, 30, tzinfo=_U), "/home", None, "DE", 1.5, Decimal("0.00"), False, 7),
    (2, 10, _T(2024, 3, 31, 0, 30, tzinfo=_U), "/checkout?x=1", "https://google.com", "DE", 12.25,
     Decimal("19.99"), False, -7),
    (3, 11, _T(2024, 3, 31, 1, 0, 0, 500000, tzinfo=_U), "/Produkte/Äpfel", "https://bing.com",
     "AT", None, None, False, 2),
    (4, None, _T(2024, 3, 31, 23, 59, 59, tzinfo=_U), "/home", None, "US", 0.5, None, True, None),
    (5, 12, _T(2024, 4, 1, 0, 0, tzinfo=_U), "/checkout", "https://duckduckgo.com", "FR", 3.0,
     Decimal("5.10"), False, 0),
    (6, 12, _T(2024, 4, 1, 12, 0, tzinfo=_U), "/a_b", None, "FR", 2.0, Decimal("-1.05"), False, 5),
    (7, 13, _T(2024, 4, 2, 8, 15, tzinfo=_U), "/a%b", "x", "Ω", 7.0, Decimal("100.00"), False, -5),
    (8, 99, _T(2024, 4, 2, 9, 0, tzinfo=_U), "/ÉTÉ/straße", None, "DE", None, Decimal("3.33"),
     True, 3),
    (9, 10, _T(2024, 4, 3, 10, 0, tzinfo=_U), "/home", "https://google.com", "DE", 4.0,
     Decimal("0.01"), False, 3),
    (10, 11, _T(2024, 4, 3, 23, 0, tzinfo=_U), "/CHECKOUT", None, "AT", 9.5, Decimal("7.77"),
     False, None),
]
USERS = [
    (10, "ann", dt.date(2024, 1, 15), "pro"),
    (11, "bob", dt.date(2024, 2, 29), None),
    (12, "cécile", dt.date(2023, 12, 31), "free"),
    (13, "dan", dt.date(2024, 3, 31), "free"),
    (14, "eve", dt.date(2024, 4, 1), "pro"),        # no events
]


# ------------------------------------------------------------------ fixtures

@pytest.fixture(scope="module")
def pg(scratch_db, tmp_path_factory):
    conn = scratch_db
    conn.execute(f"SET TimeZone = '{TZ}'")
    tbl = D.generate_tpch(tmp_path_factory.mktemp("tbl"))
    D.load_tpch_pg(conn, tbl, (D.TPCH_DIR / "schema.sql").read_text())
    for t, cols in WEB_PG.items():
        conn.execute(f"CREATE TABLE {t} ({', '.join(f'{c} {ty}' for c, ty in cols)})")
    for r in EVENTS:
        conn.execute("INSERT INTO events VALUES (%s,%s,%s,%s,%s,%s,%s,%s,%s,%s)", r)
    for r in USERS:
        conn.execute("INSERT INTO users VALUES (%s,%s,%s,%s)", r)
    conn.tbl_dir = tbl
    yield conn


def _ch_lit(v, ch_type: str) -> str:
    from ch_fdw.translate.quoting import quote_string
    if v is None:
        return "NULL"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, dt.datetime):
        return f"toDateTime64('{v.astimezone(_U).strftime('%Y-%m-%d %H:%M:%S.%f')}', 6, 'UTC')"
    if isinstance(v, dt.date):
        return f"toDate('{v.isoformat()}')"
    if isinstance(v, (int, float, Decimal)):
        return repr(float(v)) if isinstance(v, float) else str(v)
    return quote_string(v)


@pytest.fixture(scope="module")
def ch(pg):
    d = tempfile.mkdtemp(prefix="tqch-", dir="/tmp")
    be = D.ChdbBackend(f"{d}/chdb")
    try:
        schema = D.load_tpch_ch(be, pg.tbl_dir, (D.TPCH_DIR / "schema.sql").read_text(),
                                work_dir=Path(d))
        be.tpch = D.table_infos(schema, "tpch")
        be.command("CREATE DATABASE IF NOT EXISTS web")
        be.web = {}
        for t, cols in WEB_PG.items():
            cts = WEB_CH[t]
            be.command(f"CREATE TABLE web.{t} ({', '.join(f'`{c}` {ct}' for (c, _), ct in zip(cols, cts))})"
                       " ENGINE = MergeTree ORDER BY tuple()")
            rows = EVENTS if t == "events" else USERS
            vals = ", ".join("(" + ", ".join(_ch_lit(v, ct) for v, ct in zip(r, cts)) + ")"
                             for r in rows)
            be.command(f"INSERT INTO web.{t} VALUES {vals}")
            be.web[f"public.{t}"] = TableInfo(f"public.{t}", "web", t, {
                c: ColumnInfo(c, c, ty, ct) for (c, ty), ct in zip(cols, cts)})
        yield be
    finally:
        be.close()
        shutil.rmtree(d, ignore_errors=True)


@pytest.fixture(scope="module")
def runner(pg, ch):
    return D.TranslatorRunner(pg, ch, {**ch.tpch, **ch.web}, timezone=TZ)


def check(pg, runner, sql, ordered=None):
    d, info = D.run_diff(pg, sql, runner, ordered=ordered)
    assert d.ok, f"{d.message}\n-- deparsed:\n{info.deparsed}\n-- ClickHouse:\n{info.remote_sql}"
    return info


def refused(runner, sql) -> str:
    with pytest.raises(NotPushable) as ei:
        runner.translate(sql)
    return ei.value.reason


# ------------------------------------------------------------------ TPC-H

@pytest.mark.parametrize("name", sorted(D.tpch_queries()))
def test_tpch_modern(pg, runner, name):
    check(pg, runner, D.tpch_queries()[name])


def test_tpch_ch18_refused_cleanly(pg):
    """On Debian's 18.16 every query is refused (never wrong SQL): the
    per-table path answers them."""
    schema = D.parse_schema((D.TPCH_DIR / "schema.sql").read_text())
    infos = D.table_infos(schema, "tpch")
    dep = D.PgDeparser(pg)
    for name, sql in D.tpch_queries().items():
        text, types = dep.deparse(sql)
        with pytest.raises(NotPushable, match="needs ClickHouse >= 24.3"):
            translate_query(text, infos, {}, types, Dialect((18, 16, 1), True))


# ------------------------------------------------------------------ web analytics

WEB_QUERIES = [
    # distinct users per day (session TimeZone matters: Europe/Berlin, DST on 2024-03-31)
    "SELECT date_trunc('day', ts) AS day, count(DISTINCT user_id) AS users, count(*) AS hits "
    "FROM events GROUP BY 1 ORDER BY 1",
    "SELECT ts::date AS d, count(*) FROM events GROUP BY ts::date ORDER BY d",
    # top-N
    "SELECT url, count(*) AS c FROM events GROUP BY url ORDER BY c DESC, url LIMIT 3",
    "SELECT url, sum(revenue) AS r FROM events GROUP BY url ORDER BY r DESC NULLS LAST, url LIMIT 4 OFFSET 1",
    # LIKE / ILIKE / regex filters
    "SELECT id FROM events WHERE url LIKE '/check%'",
    "SELECT id FROM events WHERE url ILIKE '/check%'",
    "SELECT id FROM events WHERE url LIKE '/a\\_b' OR url LIKE '/a\\%b'",
    "SELECT id FROM events WHERE url NOT LIKE '%o%'",
    "SELECT id FROM events WHERE url ~ '^/(home|checkout)' AND referrer ~* 'GOOGLE'",
    # date_trunc / extract bucketing
    "SELECT extract(hour FROM ts) AS h, count(*) FROM events GROUP BY 1 ORDER BY 1",
    "SELECT extract(dow FROM ts) AS dow, extract(month FROM ts) AS m, count(*) FROM events GROUP BY 1, 2",
    "SELECT date_trunc('month', ts), date_trunc('hour', ts), count(*) FROM events GROUP BY 1, 2",
    # timestamptz ranges
    "SELECT id FROM events WHERE ts >= '2024-03-31 00:00:00+02' AND ts < '2024-04-01'",
    "SELECT id, ts FROM events WHERE ts BETWEEN '2024-04-01 00:00:00+00' AND '2024-04-02 09:00:00+00' ORDER BY ts",
    "SELECT id FROM events WHERE ts > '2024-04-01'::date",
    "SELECT id, ts + interval '1 hour' AS later FROM events WHERE ts - interval '30 minutes' < '2024-03-31 01:00:00+00'",
    # nullable columns, empty groups, FILTER
    "SELECT count(referrer), count(*), sum(revenue), avg(duration), max(duration) FROM events",
    "SELECT sum(revenue), avg(revenue), min(ts), max(url), count(*), bool_or(is_bot) FROM events WHERE id > 100",
    "SELECT country, sum(revenue) FILTER (WHERE is_bot) AS bot_rev, count(*) FILTER (WHERE NOT is_bot) "
    "FROM events GROUP BY country",
    "SELECT coalesce(referrer, '(direct)') AS ref, count(*) FROM events GROUP BY 1",
    "SELECT nullif(n, 3) AS n2, count(*) FROM events GROUP BY 1",
    "SELECT country, length(country), country || '!' FROM events",
    # outer joins with missing matches
    "SELECT u.name, count(e.id) AS hits, sum(e.revenue) AS rev FROM users u LEFT JOIN events e "
    "ON e.user_id = u.id GROUP BY u.name ORDER BY u.name",
    "SELECT e.id, u.name, u.plan FROM events e LEFT JOIN users u ON u.id = e.user_id",
    "SELECT e.id, u.id FROM events e FULL JOIN users u ON u.id = e.user_id AND e.is_bot",
    "SELECT e.id, u.name FROM events e RIGHT JOIN users u ON u.id = e.user_id AND u.plan = 'pro'",
    "SELECT e.id, u.name FROM events e JOIN users u ON u.id = e.user_id WHERE u.signup < '2024-03-01'",
    # subqueries, CTEs, set operations
    "SELECT name FROM users WHERE id IN (SELECT user_id FROM events)",
    "SELECT name FROM users WHERE id NOT IN (SELECT user_id FROM events)",      # NULL in subquery
    "SELECT name FROM users WHERE id NOT IN (SELECT user_id FROM events WHERE user_id IS NOT NULL)",
    "SELECT id FROM events WHERE user_id NOT IN (SELECT id FROM users WHERE plan = 'pro')",
    "SELECT name FROM users u WHERE NOT EXISTS (SELECT 1 FROM events e WHERE e.user_id = u.id)",
    "SELECT name, (SELECT max(ts) FROM events e WHERE e.user_id = u.id) AS last_seen FROM users u",
    "WITH daily AS (SELECT user_id, ts::date AS d, count(*) AS c FROM events GROUP BY 1, 2) "
    "SELECT d, max(c), count(*) FROM daily GROUP BY d ORDER BY d",
    "SELECT user_id FROM events UNION SELECT id FROM users",
    "SELECT user_id FROM events UNION ALL SELECT id FROM users",
    "SELECT user_id FROM events INTERSECT SELECT id FROM users",
    "SELECT id FROM users EXCEPT SELECT user_id FROM events ORDER BY 1",
    "SELECT DISTINCT country FROM events ORDER BY country",
    # window functions
    "SELECT id, user_id, row_number() OVER (PARTITION BY user_id ORDER BY ts) AS rn, "
    "rank() OVER (ORDER BY country DESC) FROM events",
    "SELECT id, sum(revenue) OVER (PARTITION BY country) AS cr, count(*) OVER () FROM events",
    # CASE, casts, arithmetic
    "SELECT id, CASE WHEN duration > 5 THEN 'long' WHEN duration IS NULL THEN 'n/a' ELSE 'short' END "
    "FROM events",
    "SELECT id, n / 2, n % 3, -n, n::bigint * 3, (n::numeric + 0.5)::numeric(10,1) FROM events",
    "SELECT id, revenue * 2, revenue - 1, round(revenue, 1), abs(revenue), revenue::integer FROM events",
    "SELECT id, lower(url), substring(url FROM 2 FOR 3), position('e' IN url) FROM events",
    "SELECT id, signup + 30, signup - date '2024-01-01', extract(year FROM signup) FROM users",
    "SELECT is_bot, count(*), n > 0 AS pos FROM events GROUP BY is_bot, n > 0",
    "SELECT string_agg(name, ',' ORDER BY name) FROM users",
    "SELECT country, percentile_cont(0.5) WITHIN GROUP (ORDER BY duration) FROM events GROUP BY country",
    "SELECT country, stddev_samp(duration), var_pop(duration) FROM events GROUP BY country",
    "SELECT country, count(*) FROM events GROUP BY ROLLUP (country)",
    "SELECT greatest(n, 0), least(n, 1, id::integer) FROM events",
]


@pytest.mark.parametrize("sql", WEB_QUERIES)
def test_web(pg, runner, sql):
    check(pg, runner, sql)


# ------------------------------------------------------------------ one test per semantic difference

def test_null_ordering(pg, runner):
    for q in ["SELECT id, n FROM events ORDER BY n, id",
              "SELECT id, n FROM events ORDER BY n DESC, id",
              "SELECT id, n FROM events ORDER BY n NULLS FIRST, id",
              "SELECT id, n FROM events ORDER BY n DESC NULLS LAST, id"]:
        info = check(pg, runner, q, ordered=True)
    assert "NULLS LAST" in info.remote_sql


def test_outer_join_nulls(pg, runner):
    info = check(pg, runner, "SELECT u.id, e.n, e.is_bot FROM users u LEFT JOIN events e "
                             "ON e.user_id = u.id AND e.n > 100")
    assert "join_use_nulls = 1" in info.remote_sql


def test_empty_aggregates_are_null(pg, runner):
    info = check(pg, runner, "SELECT sum(n), avg(n), min(n), max(n), sum(revenue), count(n), "
                             "string_agg(url, ',') FROM events WHERE false")
    assert "OrNull" in info.remote_sql
    check(pg, runner, "SELECT country, sum(n) FILTER (WHERE n > 100) FROM events GROUP BY country")


def test_integer_division_and_modulo(pg, runner):
    check(pg, runner, "SELECT id, n / 3, n % 3, (-n) / 2, n % -4 FROM events WHERE n IS NOT NULL")


def test_division_by_zero_raises_in_clickhouse(pg, runner):
    for q in ["SELECT n / (n - n) FROM events WHERE n IS NOT NULL",
              "SELECT revenue / (revenue - revenue) FROM events",
              "SELECT duration / (duration - duration) FROM events"]:
        with pytest.raises(psycopg.errors.DivisionByZero):
            pg.execute(q)
        with pytest.raises(Exception, match="(?i)division by zero"):
            runner(q)
    # a guarded division must not raise (CASE evaluates lazily in both)
    check(pg, runner, "SELECT CASE WHEN n <> 0 THEN 10 / n END, "
                      "CASE WHEN duration > 0 THEN 1 / duration END FROM events")


def test_numeric_precision(pg, runner):
    # sums of Decimal stay Decimal with PostgreSQL's scale
    q = "SELECT sum(revenue), sum(revenue * revenue), sum(revenue * 0.001) FROM events"
    expected = D.pg_rows(pg, q)
    actual, info = runner(q)
    assert actual == expected and str(actual[0][2]) == str(expected[0][2])
    # avg/division: PostgreSQL's own scale and rounding, text for text
    q = "SELECT avg(revenue), sum(revenue) / 3, avg(n), sum(revenue) / count(*), 1234567::numeric / 7 FROM events"
    expected = D.pg_rows(pg, q)
    actual, info = runner(q)
    assert info.refused is None, info.refused
    assert [tuple(map(str, r)) for r in actual] == [tuple(map(str, r)) for r in expected]


def test_avg_integer_scale_and_range(pg, runner):
    """issue 8: avg(integer) shows PostgreSQL's per-group scale (select_div_scale:
    16 significant digits in base-10000 weights) with its exact rounding, and
    sums near 2^63 * rows do not overflow (ClickBench's avg(UserID))."""
    for q in ["SELECT country, avg(n), avg(user_id), avg(DISTINCT n) FROM events GROUP BY country",
              "SELECT avg(user_id * 93000000000000000), avg(n) FILTER (WHERE n > 0), "
              "avg(-user_id * 93000000000000000) FROM events",
              "SELECT avg(n) FROM events WHERE n IS NULL",
              "SELECT avg(id) FROM events WHERE id <= 2",
              "SELECT l_returnflag, avg(l_linenumber), avg(l_orderkey), avg(l_linenumber * 1000003) "
              "FROM lineitem GROUP BY l_returnflag"]:
        expected = D.pg_rows(pg, q)
        actual, info = runner(q)
        assert info.refused is None, info.refused
        want = sorted(tuple(str(v) for v in r) for r in expected)
        got = sorted(tuple(str(v) for v in r) for r in actual)
        assert got == want, f"{q}\n{info.remote_sql}"


def test_integer_overflow_raises(pg, runner):
    """issue 8: integer arithmetic raises PostgreSQL's "out of range" instead of wrapping."""
    for q in ["SELECT sum(n * 2147483647) FROM events", "SELECT user_id * 93000000000000000 * 2 FROM events",
              "SELECT (n * 1000000)::smallint FROM events", "SELECT count(*) FROM events WHERE n + 2147483647 > 0",
              "SELECT max(user_id::numeric(3,2)) FROM events", "SELECT sum(revenue::numeric(3,1)) FROM events"]:
        with pytest.raises(psycopg.errors.NumericValueOutOfRange):
            pg.execute(q).fetchall()
        with pytest.raises(Exception, match="out of range|numeric field overflow"):
            runner(q)
    check(pg, runner, "SELECT max(user_id::numeric(4,2)), sum(revenue::numeric(5,1)) FROM events")


def test_in_not_in_with_nulls(pg, runner):
    check(pg, runner, "SELECT id FROM events WHERE n IN (3, NULL)")
    check(pg, runner, "SELECT id FROM events WHERE n NOT IN (3, 5)")
    check(pg, runner, "SELECT id FROM events WHERE n NOT IN (3, NULL)")          # empty
    check(pg, runner, "SELECT id FROM events WHERE n <> ALL (ARRAY[3, 5])")
    check(pg, runner, "SELECT id FROM users WHERE id NOT IN (SELECT user_id FROM events WHERE id > 100)")
    check(pg, runner, "SELECT id FROM events WHERE user_id NOT IN (SELECT user_id FROM events WHERE id = 4)")


def test_like_escapes(pg, runner):
    check(pg, runner, "SELECT id FROM events WHERE url LIKE '%\\%%'")
    check(pg, runner, "SELECT id FROM events WHERE url LIKE '/a_b'")
    check(pg, runner, "SELECT id FROM events WHERE url LIKE '/\\a\\_b'")
    assert "like_escape" in refused(runner, "SELECT id FROM events WHERE url LIKE 'a#_b' ESCAPE '#'")


def test_multibyte_strings(pg, runner):
    check(pg, runner, "SELECT id, length(url), substring(url FROM 3 FOR 4), "
                      "lower(url), position('ß' IN url) FROM events")
    assert "upper()" in refused(runner, "SELECT upper(url) FROM events")


def test_timestamptz_needs_time_zone(pg, ch):
    r = D.TranslatorRunner(pg, ch, ch.web, timezone=None)
    with pytest.raises(NotPushable, match="TimeZone"):
        r.translate("SELECT date_trunc('day', ts) FROM events")
    with pytest.raises(NotPushable, match="TimeZone"):
        r.translate("SELECT extract(hour FROM ts) FROM events")
    # instants do not depend on it
    r.translate("SELECT ts FROM events WHERE ts > '2024-04-01 00:00:00+00'")


def test_distinct_and_union_defaults(pg, runner):
    info = check(pg, runner, "SELECT country FROM events UNION SELECT 'DE'::bpchar")
    assert "UNION DISTINCT" in info.remote_sql
    check(pg, runner, "SELECT DISTINCT user_id, is_bot FROM events")
    assert "INTERSECT ALL" in refused(runner, "SELECT user_id FROM events INTERSECT ALL SELECT id FROM users")


def test_string_comparison_collation(pg, ch):
    r = D.TranslatorRunner(pg, ch, ch.web, text_collation_c=False, timezone=TZ)
    with pytest.raises(NotPushable, match="collation"):
        r.translate("SELECT url FROM events ORDER BY url")
    with pytest.raises(NotPushable, match="collation"):
        r.translate("SELECT id FROM events WHERE url > 'b'")
    r.translate("SELECT id FROM events WHERE url = 'b'")      # equality is collation-free here


def test_bool_results(pg, runner):
    info = check(pg, runner, "SELECT id, is_bot, n > 2, is_bot AND n > 2, NOT is_bot, "
                             "url LIKE '/h%' FROM events")
    assert "toBool(" in info.remote_sql


def test_bpchar_padding_and_comparison(pg, runner):
    check(pg, runner, "SELECT country, country = 'DE' FROM events WHERE country IN ('DE', 'AT ')")


# ------------------------------------------------------------------ API details

def test_parameters_render(pg, ch):
    infos = ch.web
    text = ("SELECT events.id FROM public.events WHERE ((events.n > $1) AND (events.url = $2) "
            "AND (events.ts >= $3)) ORDER BY events.id LIMIT $4")
    tr = translate_query(text, infos, {1: "integer", 2: "text", 3: "timestamp with time zone",
                                       4: "bigint"}, ["bigint"], Dialect(ch.version, True))
    assert tr.param_ids == (1, 2, 3, 4)
    assert "$1" in tr.sql_template and "$3" in tr.sql_template
    sql = tr.render({1: "0", 2: "/home", 3: "2024-03-31 00:00:00+02", 4: "5"})
    assert [r[0] for r in ch.query(sql)] == [1, 9]
    sql = tr.render({1: None, 2: "x'); DROP TABLE x; --", 3: None, 4: None})
    assert ch.query(sql) == []


def test_refusals_name_the_construct(runner):
    assert "to_char" in refused(runner, "SELECT to_char(ts, 'YYYY') FROM events")
    assert "current_timestamp" in refused(runner, "SELECT id FROM events WHERE ts > now() - interval '1 day'")
    assert "DISTINCT ON" in refused(runner, "SELECT DISTINCT ON (url) url, id FROM events ORDER BY url, id")
    assert "lag without ORDER BY" in refused(runner, "SELECT lag(id) OVER () FROM events")
    assert "explicit window frame" in refused(runner, "SELECT first_value(id) OVER (ORDER BY id ROWS BETWEEN 1 PRECEDING AND CURRENT ROW) FROM events")


def test_output_convertible():
    assert output_convertible("Decimal(38, 2)", "numeric")
    assert output_convertible("Nullable(Int64)", "bigint")
    assert not output_convertible("String", "integer")
