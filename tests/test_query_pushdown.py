"""Whole-query pushdown end to end, through the real extension.

The same SQL runs over local PostgreSQL tables and over ch_fdw foreign tables
holding identical data; results must be equal (tests/difftest.py compares
them as multisets, in order when the query has ORDER BY).  On the modern
engine every query must also be planned as one ClickHouseQuery CustomScan;
on ClickHouse 18.16 whole-query pushdown is refused (it lacks what the
translation needs) and the per-table path must give the same rows.

Data: TPC-H at SF 0.01 (tpchgen-cli) and a small web-analytics table.  The
database uses the C collation so text ordering may be pushed (see README).
"""

from __future__ import annotations

import re

import psycopg
import pytest

import difftest as D

TPCH = D.tpch_queries()


@pytest.fixture(scope="session")
def qdb(postgresql_proc):
    """A C-collation database with the TPC-H data in local tables."""
    p = postgresql_proc
    base = f"host={p.host} port={p.port} user={p.user}"
    with psycopg.connect(base + " dbname=postgres", autocommit=True) as c:
        c.execute("DROP DATABASE IF EXISTS chfdw_query")
        c.execute("CREATE DATABASE chfdw_query TEMPLATE template0 ENCODING 'UTF8' "
                  "LC_COLLATE 'C' LC_CTYPE 'C.UTF-8'")
    dsn = base + " dbname=chfdw_query"
    with psycopg.connect(dsn, autocommit=True) as c:
        c.execute("CREATE EXTENSION ch_fdw")
        c.execute("CREATE SCHEMA tpch_local")
        c.execute("SET search_path = tpch_local")
        tbl = D.generate_tpch(_tpch_dir(p), 0.01)
        D.load_tpch_pg(c, tbl, (D.TPCH_DIR / "schema.sql").read_text())
    return dsn


def _tpch_dir(proc):
    import tempfile
    from pathlib import Path
    d = Path(tempfile.gettempdir()) / f"ch_fdw-tpch-sf0.01-{proc.port}"
    d.mkdir(exist_ok=True)
    return d


def _load_engine(engine, tbl_dir) -> None:
    schema_sql = (D.TPCH_DIR / "schema.sql").read_text()
    if engine.protocol == "native":
        D.load_tpch_ch(D.DriverBackend(engine.admin), tbl_dir, schema_sql, database="tpch")
        return
    schema = D.parse_schema(schema_sql)
    engine.command("CREATE DATABASE IF NOT EXISTS tpch")
    for t, cols in schema.items():
        coldefs = ", ".join(f"`{c}` {D.pg_to_ch_type(ty)}" for c, ty in cols)
        engine.command(f"DROP TABLE IF EXISTS tpch.{t}")
        engine.command(f"CREATE TABLE tpch.{t} ({coldefs}) ENGINE = MergeTree ORDER BY tuple()")
        body = (tbl_dir / f"{t}.tbl").read_text().replace("|\n", "\n").replace("|", "\t").encode()
        engine.admin.raw_insert(f"tpch.{t}", [c for c, _ in cols], insert_block=body, fmt="TSV")


_loaded: dict[str, str] = {}


@pytest.fixture
def tpch(qdb, engine, postgresql_proc):
    """(connection, search_path of the foreign TPC-H tables on engine)."""
    schema = f"tpch_{engine.name.replace('-', '_')}"
    if engine.name not in _loaded:
        tbl = D.generate_tpch(_tpch_dir(postgresql_proc), 0.01)
        _load_engine(engine, tbl)
        with psycopg.connect(qdb, autocommit=True) as c:
            server = f"q_{engine.name.replace('-', '_')}"
            c.execute(f"CREATE SERVER {server} FOREIGN DATA WRAPPER ch_fdw OPTIONS ({engine.server_options}, dbname 'tpch')")
            c.execute(f"CREATE USER MAPPING FOR CURRENT_USER SERVER {server}")
            c.execute(f"CREATE SCHEMA {schema}")
            ddl = (D.TPCH_DIR / "schema.sql").read_text()
            for stmt in re.findall(r"CREATE TABLE (\w+) \((.*?)\);", ddl, re.S):
                c.execute(f"CREATE FOREIGN TABLE {schema}.{stmt[0]} ({stmt[1]}) SERVER {server}")
        _loaded[engine.name] = schema
    with psycopg.connect(qdb, autocommit=True) as c:
        c.execute("SET search_path = tpch_local")
        yield c, schema


@pytest.mark.parametrize("name", sorted(TPCH))
def test_tpch(tpch, engine, name):
    conn, schema = tpch
    runner = D.ForeignTableRunner(conn, schema, require_pushdown=engine.modern)
    conn.execute("SET search_path = tpch_local")
    diff, info = D.run_diff(conn, TPCH[name], runner)
    assert diff, f"{name} on {engine.name}: {diff.message}\n{info.remote_sql}"
    if engine.modern:
        assert info.remote_sql.count("Custom Scan (ClickHouseQuery)") == 1
        assert "Foreign Scan" not in info.remote_sql
    else:
        assert "Not pushed down whole because" in info.remote_sql


# ---------------------------------------------------------------- web analytics

WEB_ROWS = [
    # id, user_id, ts (UTC), url, country (nullable), ms (nullable)
    (1, 10, "2026-03-01 00:15:00", "/home", "DE", 120),
    (2, 10, "2026-03-01 23:45:00", "/checkout/pay", "DE", None),
    (3, 11, "2026-03-02 00:05:00", "/home", None, 80),
    (4, 12, "2026-03-02 12:00:00", "/Blog/ärger", "FR", 300),
    (5, 11, "2026-03-03 09:30:00", "/blog/x_y", "FR", 45),
    (6, 13, "2026-03-03 09:31:00", "/checkout", "US", 5000),
    (7, 10, "2026-03-29 01:30:00", "/home", "US", 10),
]

WEB_QUERIES = {
    "distinct_users_per_day":
        "SELECT date_trunc('day', ts) AS day, count(DISTINCT user_id) FROM web GROUP BY 1 ORDER BY 1",
    "top_n": "SELECT url, count(*) AS n FROM web GROUP BY url ORDER BY n DESC, url LIMIT 2",
    "like_filter": "SELECT id FROM web WHERE url LIKE '/checkout%' ORDER BY id",
    "ilike_filter": "SELECT id FROM web WHERE url ILIKE '/blog%' ORDER BY id",
    "extract_hour": "SELECT extract(hour FROM ts) AS h, count(*) FROM web GROUP BY 1 ORDER BY 1",
    "tz_range": "SELECT count(*) FROM web WHERE ts >= '2026-03-02 00:00:00+01' AND ts < '2026-03-03 00:00:00+01'",
    "nullable_agg": "SELECT country, sum(ms), avg(ms), min(ms), count(ms) FROM web GROUP BY country ORDER BY country NULLS FIRST",
    "empty_group": "SELECT sum(ms), max(url), avg(ms), count(*) FROM web WHERE id > 100",
    "outer_join_missing": "SELECT w.id, c.name FROM web w LEFT JOIN countries c ON c.code = w.country ORDER BY w.id",
    "not_in_with_null": "SELECT id FROM web WHERE country NOT IN (SELECT code FROM countries WHERE name <> 'France') ORDER BY id",
    "exists": "SELECT c.name FROM countries c WHERE EXISTS (SELECT 1 FROM web w WHERE w.country = c.code AND w.ms > 100) ORDER BY 1",
    "cte_union": "WITH a AS (SELECT user_id FROM web WHERE ms > 100) SELECT user_id FROM a UNION SELECT user_id FROM web WHERE country = 'US' ORDER BY 1",
    "window": "SELECT id, user_id, row_number() OVER (PARTITION BY user_id ORDER BY ts) AS rn FROM web ORDER BY id",
    "case_coalesce": "SELECT id, CASE WHEN ms IS NULL THEN 'none' WHEN ms > 100 THEN 'slow' ELSE 'fast' END, coalesce(country, '??') FROM web ORDER BY id",
    "integer_division": "SELECT id, user_id / 3, user_id % 3, -user_id / 4 FROM web ORDER BY id",
    "multibyte": "SELECT id, length(url), substring(url from 2 for 4) FROM web WHERE id = 4",
}


@pytest.fixture
def web(qdb, engine):
    name = engine.name.replace("-", "_")
    server = f"w_{name}"
    with psycopg.connect(qdb, autocommit=True) as c:
        if not c.execute("SELECT 1 FROM pg_foreign_server WHERE srvname = %s", [server]).fetchone():
            c.execute(f"CREATE SERVER {server} FOREIGN DATA WRAPPER ch_fdw OPTIONS ({engine.server_options})")
            c.execute(f"CREATE USER MAPPING FOR CURRENT_USER SERVER {server}")
            engine.command("DROP TABLE IF EXISTS default.web")
            engine.command("DROP TABLE IF EXISTS default.countries")
            engine.command("CREATE TABLE default.web (id Int32, user_id Int32, ts DateTime('UTC'), url String, "
                           "country Nullable(String), ms Nullable(Int32)) ENGINE = MergeTree ORDER BY id")
            engine.command("CREATE TABLE default.countries (code String, name String) ENGINE = MergeTree ORDER BY code")
            import datetime as dt
            rows = [(r[0], r[1], dt.datetime.fromisoformat(r[2]).replace(tzinfo=dt.timezone.utc), *r[3:])
                    for r in WEB_ROWS]
            engine.insert("default.web", rows, ["id", "user_id", "ts", "url", "country", "ms"])
            engine.insert("default.countries", [("DE", "Germany"), ("FR", "France"), ("JP", "Japan")],
                          ["code", "name"])
            c.execute(f"CREATE SCHEMA web_{name}")
            c.execute(f"CREATE FOREIGN TABLE web_{name}.web (id integer, user_id integer, ts timestamptz, "
                      f"url text, country text, ms integer) SERVER {server}")
            c.execute(f"CREATE FOREIGN TABLE web_{name}.countries (code text, name text) SERVER {server}")
            if not c.execute("SELECT 1 FROM pg_namespace WHERE nspname = 'web_local'").fetchone():
                c.execute("CREATE SCHEMA web_local")
                c.execute("CREATE TABLE web_local.web (id integer, user_id integer, ts timestamptz, "
                          "url text, country text, ms integer)")
                c.execute("CREATE TABLE web_local.countries (code text, name text)")
                with c.cursor() as cur:
                    cur.executemany("INSERT INTO web_local.web VALUES (%s, %s, (%s || '+00')::timestamptz, %s, %s, %s)",
                                    WEB_ROWS)
                c.execute("INSERT INTO web_local.countries VALUES ('DE', 'Germany'), ('FR', 'France'), ('JP', 'Japan')")
    with psycopg.connect(qdb, autocommit=True) as c:
        yield c, f"web_{name}"


@pytest.mark.parametrize("tz", ["UTC", "Europe/Berlin"])
@pytest.mark.parametrize("name", sorted(WEB_QUERIES))
def test_web_analytics(web, engine, name, tz):
    conn, schema = web
    conn.execute(f"SET TimeZone = '{tz}'")
    runner = D.ForeignTableRunner(conn, f"{schema}, public", require_pushdown=False)
    conn.execute("SET search_path = web_local, public")
    diff, info = D.run_diff(conn, WEB_QUERIES[name], runner)
    assert diff, f"{name} on {engine.name} ({tz}): {diff.message}\n{info.remote_sql}"


PUSHED_ON_MODERN = {"distinct_users_per_day", "top_n", "like_filter", "extract_hour", "tz_range",
                    "nullable_agg", "empty_group", "outer_join_missing", "exists", "cte_union",
                    "window", "case_coalesce", "integer_division", "multibyte", "ilike_filter",
                    "not_in_with_null"}


def test_web_analytics_pushed_whole(web, engine):
    if not engine.modern:
        pytest.skip("whole-query pushdown needs ClickHouse >= 24.3; 18.16 runs these per table")
    conn, schema = web
    conn.execute(f"SET search_path = {schema}, public")
    not_pushed = {}
    for name in sorted(PUSHED_ON_MODERN):
        plan = "\n".join(r[0] for r in conn.execute("EXPLAIN (VERBOSE) " + WEB_QUERIES[name]))
        if "Custom Scan (ClickHouseQuery)" not in plan:
            not_pushed[name] = plan
    assert not not_pushed, not_pushed


def test_avg_integer_text_scale_pushed(web, engine):
    """issue 8: a pushed avg(integer) shows PostgreSQL's own per-group scale
    (the text clients see), read through the bridge's numeric input."""
    if not engine.modern:
        pytest.skip("whole-query pushdown needs ClickHouse >= 24.3; 18.16 runs these per table")
    conn, schema = web
    q = ("SELECT country, avg(ms), avg(user_id), avg(ms::bigint * 1000003), 0.2 * avg(ms), avg(ms) - 1.5, avg(id) FILTER (WHERE id < 3) "
         "FROM web GROUP BY country")
    conn.execute(f"SET search_path = {schema}, public")
    plan = "\n".join(r[0] for r in conn.execute("EXPLAIN (VERBOSE) " + q))
    assert "Custom Scan (ClickHouseQuery)" in plan, plan
    got = sorted(tuple(str(v) for v in r) for r in conn.execute(q))
    conn.execute("SET search_path = web_local, public")
    want = sorted(tuple(str(v) for v in r) for r in conn.execute(q))
    assert got == want


def test_fallback_reason_in_explain_verbose(web, engine):
    conn, schema = web
    conn.execute(f"SET search_path = {schema}, public")
    conn.execute("CREATE TEMP TABLE local_ids (id integer)")
    plan = "\n".join(r[0] for r in conn.execute(
        "EXPLAIN (VERBOSE) SELECT w.id FROM web w JOIN local_ids l ON l.id = w.id"))
    assert "Not pushed down whole because: it reads table \"local_ids\"" in plan
    plan = "\n".join(r[0] for r in conn.execute(
        "EXPLAIN (VERBOSE) SELECT to_char(ts, 'YYYY') FROM web"))
    assert "Custom Scan" not in plan and "Not pushed down whole because:" in plan


def test_prepared_and_plpgsql_parameters(web, engine):
    conn, schema = web
    conn.execute(f"SET search_path = {schema}, public")
    conn.execute("PREPARE q(int) AS SELECT user_id, count(*) FROM web WHERE ms > $1 GROUP BY user_id ORDER BY 1")
    for mode in ("force_custom_plan", "force_generic_plan"):
        conn.execute(f"SET plan_cache_mode = {mode}")
        assert conn.execute("EXECUTE q(50)").fetchall() == [(10, 1), (11, 1), (12, 1), (13, 1)]
        assert conn.execute("EXECUTE q(1000)").fetchall() == [(13, 1)]
        plan = "\n".join(r[0] for r in conn.execute("EXPLAIN (VERBOSE) EXECUTE q(50)"))
        if engine.modern:
            assert "Custom Scan (ClickHouseQuery)" in plan
    conn.execute(f"""CREATE FUNCTION {schema}.slow_users(lim int) RETURNS bigint LANGUAGE plpgsql AS $$
                     DECLARE n bigint;
                     BEGIN SELECT count(DISTINCT user_id) INTO n FROM {schema}.web WHERE ms > lim; RETURN n; END $$""")
    assert [conn.execute(f"SELECT {schema}.slow_users(%s)", [v]).fetchone()[0] for v in (0, 100, 10000)] == [4, 3, 0]


def test_pushdown_can_be_disabled(web, engine):
    conn, schema = web
    conn.execute(f"SET search_path = {schema}, public")
    conn.execute("SET ch_fdw.query_pushdown = off")
    plan = "\n".join(r[0] for r in conn.execute("EXPLAIN (VERBOSE) SELECT count(*) FROM web"))
    assert "Custom Scan" not in plan and "ch_fdw.query_pushdown is off" in plan
    assert conn.execute("SELECT count(*) FROM web").fetchone()[0] == len(WEB_ROWS)
