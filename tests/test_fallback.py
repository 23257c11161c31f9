"""The safety net: a pushed-down query ClickHouse refuses runs per table.

When ClickHouse rejects a whole (pushed-down) query with an "unsupported"
class of error (ch_fdw/refusals.py) before returning any row, the
ClickHouseQuery CustomScan plans the query the standard way and returns
that plan's rows; EXPLAIN ANALYZE and DEBUG1 say so.  Other errors raise,
and an error after rows were returned always raises.

Two kinds of refused queries are used:
* shapes the modern engine refused when they were pushed (issue 8's
  examples); the translator now refuses most of them itself, so these only
  check that each returns PostgreSQL's rows, whichever way it ran;
* a deterministic refusal: a ClickHouse view whose column raises error 48
  (NOT_IMPLEMENTED) through throwIf() only under the whole-query path's
  block size (the server's fetch_size), so the per-table path (the table's
  fetch_size) reads it fine.
"""

from __future__ import annotations

import psycopg
import pytest

import difftest as D

A_ROWS = [(1, 10), (2, None), (3, 30), (4, 40), (5, None)]
B_ROWS = [(2, "x"), (3, "y"), (6, "z"), (3, "w")]

# Queries ClickHouse 26.x refuses when pushed down as translated today.
REFUSED_SHAPES = {
    # INVALID_JOIN_ON_EXPRESSION (403)
    "non_equi_left_join": "SELECT a.c1, b.c1 FROM a LEFT JOIN b ON a.c1 <= b.c1 ORDER BY 1, 2 NULLS FIRST",
    # NOT_IMPLEMENTED (48): correlated scalar subquery in ORDER BY
    "correlated_order_by": "SELECT a.c1 FROM a ORDER BY (SELECT count(*) FROM b WHERE b.c1 > a.c1), a.c1",
    # NOT_IMPLEMENTED (48): Cannot decorrelate query, because 'Sorting' step is not supported
    "exists_order_limit": "SELECT a.c1 FROM a WHERE EXISTS (SELECT 1 FROM b WHERE b.c1 >= a.c1 "
                          "ORDER BY 1 LIMIT 1) ORDER BY 1",
    # SYNTAX_ERROR (62): the ORDER BY of the sublink was sent empty
    "exists_order_limit_in_case": "SELECT a.c1, CASE WHEN EXISTS (SELECT 1 FROM b WHERE b.c1 = a.c1 "
                                  "ORDER BY 1 LIMIT 1) THEN 'yes' ELSE 'no' END FROM a ORDER BY 1",
    # the other shapes issue 8 lists as ClickHouse errors, whichever way they are refused
    "group_by_constant_alias": "SELECT count(*), 5 AS y FROM a GROUP BY y",
    "rollup_not_null": "SELECT c1, count(*) FROM a GROUP BY ROLLUP (c1) ORDER BY 1 NULLS FIRST",
    "any_array_subquery": "SELECT c1 FROM a WHERE c1 = ANY (ARRAY(SELECT c1 FROM b)) ORDER BY 1",
    "running_window_min": "SELECT c1, min(c2) OVER (PARTITION BY c1 % 2 ORDER BY c1) FROM a ORDER BY 1",
    "order_by_constant": "SELECT 1 AS one FROM a ORDER BY 1 LIMIT 1",
}

BLOCK = 1000          # the server's fetch_size: the pushed query's max_block_size
VIEW_ROWS = 200_000


@pytest.fixture
def fb(pg, engine, server):
    """(connection, foreign schema): tables a, b locally (schema fb_local)
    and in ClickHouse (foreign, schema fb_<engine>)."""
    name = engine.name.replace("-", "_")
    schema = f"fb_{name}"
    if not pg.execute("SELECT 1 FROM pg_namespace WHERE nspname = %s", [schema]).fetchone():
        engine.command("DROP TABLE IF EXISTS default.fb_a")
        engine.command("DROP TABLE IF EXISTS default.fb_b")
        engine.command("CREATE TABLE default.fb_a (c1 Int32, c2 Nullable(Int32)) ENGINE = MergeTree ORDER BY c1")
        engine.command("CREATE TABLE default.fb_b (c1 Int32, c3 String) ENGINE = MergeTree ORDER BY c1")
        engine.insert("default.fb_a", A_ROWS, ["c1", "c2"])
        engine.insert("default.fb_b", B_ROWS, ["c1", "c3"])
        pg.execute(f"CREATE SCHEMA {schema}")
        pg.execute(f"CREATE FOREIGN TABLE {schema}.a (c1 integer NOT NULL, c2 integer) "
                   f"SERVER {server} OPTIONS (table_name 'fb_a')")
        pg.execute(f"CREATE FOREIGN TABLE {schema}.b (c1 integer NOT NULL, c3 text) "
                   f"SERVER {server} OPTIONS (table_name 'fb_b')")
    if not pg.execute("SELECT 1 FROM pg_namespace WHERE nspname = 'fb_local'").fetchone():
        pg.execute("CREATE SCHEMA fb_local")
        pg.execute("CREATE TABLE fb_local.a (c1 integer NOT NULL, c2 integer)")
        pg.execute("CREATE TABLE fb_local.b (c1 integer NOT NULL, c3 text)")
        with pg.cursor() as cur:
            cur.executemany("INSERT INTO fb_local.a VALUES (%s, %s)", A_ROWS)
            cur.executemany("INSERT INTO fb_local.b VALUES (%s, %s)", B_ROWS)
    return pg, schema


def _explain_analyze(conn, sql: str, params=None) -> str:
    rows = conn.execute(f"EXPLAIN (ANALYZE, VERBOSE, COSTS OFF, TIMING OFF, SUMMARY OFF) {sql}",
                        params).fetchall()
    return "\n".join(r[0] for r in rows)


def _local_rows(conn, sql: str, params=None) -> list[tuple]:
    conn.execute("SET search_path = fb_local")
    return conn.execute(sql, params).fetchall()


def _refusal_notices(conn) -> list[str]:
    notices: list[str] = []

    def on_notice(diag) -> None:
        text = f"{diag.message_primary}\n{diag.message_detail or ''}"
        if "running it per table" in text:
            notices.append(text)
    conn.add_notice_handler(on_notice)
    return notices


@pytest.mark.parametrize("name", sorted(REFUSED_SHAPES))
def test_refused_shape_returns_postgres_rows(fb, engine, name):
    conn, schema = fb
    sql = REFUSED_SHAPES[name]
    expected = _local_rows(conn, sql)
    conn.execute(f"SET search_path = {schema}")
    got = conn.execute(sql).fetchall()
    assert D.compare(expected, got, ordered=True), (name, expected, got)
    plan = _explain_analyze(conn, sql)
    if "Fallback:" in plan:       # ClickHouse may also run some shapes (or the translator refuse them)
        assert "Fallback: ClickHouse cannot run the query, so it ran per table" in plan, plan
        assert "Fallback Reason: ClickHouse error" in plan, plan
        assert "Fallback Plan:" in plan and "Foreign Scan on" in plan, plan
        assert "Custom Scan (ClickHouseQuery)" in plan, plan


def test_fallback_in_prepared_statements_cursors_and_plpgsql(fb, engine):
    conn, schema = fb
    sql = "SELECT a.c1, b.c1 FROM a LEFT JOIN b ON a.c1 <= b.c1 AND b.c1 > $1 ORDER BY 1, 2 NULLS FIRST"
    expected = {v: _local_rows(conn, sql.replace("$1", str(v))) for v in (0, 2, 5)}
    conn.execute(f"SET search_path = {schema}")
    conn.execute(f"PREPARE fb_q(int) AS {sql}")
    for mode in ("force_custom_plan", "force_generic_plan"):
        conn.execute(f"SET plan_cache_mode = {mode}")
        for v in (0, 2, 5, 0):
            assert conn.execute(f"EXECUTE fb_q({v})").fetchall() == expected[v], (mode, v)
    conn.execute("RESET plan_cache_mode")
    custom_scan = False
    if engine.modern:   # it ran per table: refused by ClickHouse, or by the translator
        plan = _explain_analyze(conn, "EXECUTE fb_q(2)")
        assert "Fallback:" in plan or "Not pushed down whole because" in plan, plan
        custom_scan = "Custom Scan (ClickHouseQuery)" in plan

    full = expected[0]
    with conn.transaction():
        conn.execute(f"DECLARE fb_c CURSOR FOR {sql.replace('$1', '0')}")
        first = conn.execute("FETCH 2 FROM fb_c").fetchall()
        rest = conn.execute("FETCH ALL FROM fb_c").fetchall()
        assert first + rest == full
        assert conn.execute("FETCH ALL FROM fb_c").fetchall() == []
        if custom_scan:     # the CustomScan does not scan backward, whichever plan ran
            with pytest.raises(psycopg.errors.ObjectNotInPrerequisiteState):
                conn.execute("FETCH BACKWARD 1 FROM fb_c")

    # WITH HOLD: at commit PostgreSQL rewinds the plan and stores all its rows
    with conn.transaction():
        conn.execute(f"DECLARE fb_h CURSOR WITH HOLD FOR {sql.replace('$1', '0')}")
        first = conn.execute("FETCH 3 FROM fb_h").fetchall()
    assert first + conn.execute("FETCH ALL FROM fb_h").fetchall() == full
    conn.execute("CLOSE fb_h")

    conn.execute(f"""CREATE OR REPLACE FUNCTION {schema}.fb_sum(lim int) RETURNS bigint LANGUAGE plpgsql AS $$
                     DECLARE r record; s bigint := 0;
                     BEGIN
                       FOR r IN SELECT a.c1 AS x, b.c1 AS y FROM {schema}.a LEFT JOIN {schema}.b
                                ON a.c1 <= b.c1 AND b.c1 > lim LOOP
                         s := s + r.x * 100 + coalesce(r.y, 0);
                       END LOOP;
                       RETURN s;
                     END $$""")
    want = [sum(x * 100 + (y or 0) for x, y in expected[v]) for v in (0, 2, 5)]
    assert [conn.execute(f"SELECT {schema}.fb_sum(%s)", [v]).fetchone()[0] for v in (0, 2, 5)] == want


def test_real_errors_still_raise(fb, engine, server, uniq):
    conn, schema = fb
    notices = _refusal_notices(conn)
    conn.execute("SET client_min_messages = debug1")
    # an error PostgreSQL raises too
    conn.execute(f"SET search_path = {schema}")
    with pytest.raises(psycopg.errors.DivisionByZero):
        conn.execute("SELECT sum(c1 / (c1 - c1)) FROM a").fetchall()
    # a table dropped in ClickHouse after the plan was made (generic plan)
    engine.command(f"CREATE TABLE default.{uniq} (c1 Int32) ENGINE = MergeTree ORDER BY c1")
    engine.insert(f"default.{uniq}", [(1,), (2,)], ["c1"])
    conn.execute(f"CREATE FOREIGN TABLE {uniq} (c1 integer) SERVER {server}")
    conn.execute("SET plan_cache_mode = force_generic_plan")
    conn.execute(f"PREPARE fb_missing(int) AS SELECT count(*), max(c1) FROM {uniq} WHERE c1 > $1")
    assert conn.execute("EXECUTE fb_missing(0)").fetchall() == [(2, 2)]
    engine.command(f"DROP TABLE default.{uniq}")
    with pytest.raises(psycopg.errors.UndefinedTable) as e:
        conn.execute("EXECUTE fb_missing(0)").fetchall()
    assert "ClickHouse error 60" in str(e.value)
    assert notices == [], notices


# ------------------------------------------------ a deterministic refusal


@pytest.fixture
def boom(pg, engine, uniq):
    """A foreign table over a ClickHouse view whose `boom` column raises
    NOT_IMPLEMENTED (48) at row `c1 = at` when the query's max_block_size is
    BLOCK (the whole-query path), and never on the per-table path."""
    if not engine.modern:
        pytest.skip("needs throwIf() with an error code and getSetting() (not in ClickHouse 18.16)")

    def make(at: int) -> str:
        name = f"{uniq}_{at}"
        srv = f"{name}_srv"
        engine.command(f"CREATE TABLE default.{name}_t (c1 Int64) ENGINE = MergeTree ORDER BY c1")
        engine.command(f"INSERT INTO default.{name}_t SELECT number + 1 FROM numbers({VIEW_ROWS})")
        engine.command(f"CREATE VIEW default.{name} AS SELECT c1, throwIf(getSetting('max_block_size') = {BLOCK} "
                       f"AND c1 = {at}, 'refused for the test', toInt32(48)) AS boom FROM default.{name}_t "
                       "SETTINGS allow_custom_error_code_in_throwif = 1")
        pg.execute(f"CREATE SERVER {srv} FOREIGN DATA WRAPPER ch_fdw OPTIONS ({engine.server_options}, "
                   f"fetch_size '{BLOCK}', settings 'max_threads=1')")
        pg.execute(f"CREATE USER MAPPING FOR CURRENT_USER SERVER {srv}")
        pg.execute(f"CREATE FOREIGN TABLE {name} (c1 bigint, boom smallint) SERVER {srv} "
                   f"OPTIONS (fetch_size '65536')")
        return name
    return make


def test_refusal_before_any_row_falls_back(pg, boom):
    t = boom(1)
    sql = f"SELECT count(*), sum(c1), max(boom) FROM {t}"
    plan = _explain_analyze(pg, sql)
    assert "Custom Scan (ClickHouseQuery)" in plan and "Fallback:" in plan, plan
    assert "refused for the test" in plan and "ClickHouse error 48" in plan, plan
    assert pg.execute(sql).fetchall() == [(VIEW_ROWS, VIEW_ROWS * (VIEW_ROWS + 1) // 2, 0)]


def test_fallback_is_logged_at_debug1(pg, boom):
    t = boom(1)
    notices = _refusal_notices(pg)
    pg.execute("SET client_min_messages = debug1")
    pg.execute(f"SELECT count(*), max(boom) FROM {t}").fetchall()
    pg.execute("RESET client_min_messages")
    assert any("ClickHouse cannot run the pushed-down query; running it per table" in n
               and "ClickHouse error 48" in n for n in notices), notices


def test_no_fallback_after_rows_were_returned(pg, boom):
    t = boom(VIEW_ROWS - 10)
    notices = _refusal_notices(pg)
    pg.execute("SET client_min_messages = debug1")
    with pytest.raises(psycopg.Error) as e:
        with pg.transaction():
            pg.execute(f"DECLARE fb_after CURSOR FOR SELECT c1, boom FROM {t}")
            first = pg.execute("FETCH 10 FROM fb_after").fetchall()
            assert first == [(i, 0) for i in range(1, 11)]
            pg.execute("FETCH ALL FROM fb_after").fetchall()
    assert "refused for the test" in str(e.value) and "ClickHouse error 48" in str(e.value)
    assert notices == [], notices


def test_refusals_list_is_only_shape_errors():
    from ch_fdw import errors
    from ch_fdw.refusals import REFUSED_CODES, is_refusal
    for code in (48, 403, 1, 62, 46, 63):
        assert is_refusal(errors.clickhouse_error(code, "x"))
    # a missing table, bad credentials, cancels, timeouts, network, memory,
    # division by zero, overflow: PostgreSQL-visible errors that must raise
    for code in (60, 81, 192, 193, 516, 394, 159, 209, 210, 241, 153, 69, 70):
        assert code not in REFUSED_CODES
        assert not is_refusal(errors.clickhouse_error(code, "x"))
    assert is_refusal(errors.clickhouse_error(36, "Positional argument out of bounds"))
    assert not is_refusal(errors.clickhouse_error(36, "Illegal value of argument"))
    assert not is_refusal(errors.ChFdwError("lost connection", errors.CONNECTION_FAILURE))
