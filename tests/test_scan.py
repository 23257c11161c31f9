"""Per-table scans through the real extension: projection, WHERE, ORDER BY
and LIMIT pushdown (asserted on EXPLAIN's Remote SQL), local fallback, and
parameters.  Runs against every engine."""

from __future__ import annotations

import re

import pytest

from helpers import explain, foreign_table, remote_sql

ROWS = [(i, f"name{i}", None if i % 4 == 0 else i * 0.5, "x%_\\'" if i == 7 else f"s{i % 3}")
        for i in range(1, 21)]


@pytest.fixture
def events(pg, engine, server, uniq):
    foreign_table(pg, engine, server, uniq,
                  "id Int64, name String, score Nullable(Float64), tag String",
                  "id bigint, name text, score float8, tag text",
                  ROWS, ["id", "name", "score", "tag"],
                  engine_clause="MergeTree ORDER BY id")
    return uniq


def test_select_all_rows(pg, events):
    got = pg.execute(f"SELECT id, name, score, tag FROM {events} ORDER BY id").fetchall()
    assert got == [tuple(r) for r in ROWS]


def test_only_referenced_columns_are_fetched(pg, events):
    [sql] = remote_sql(pg, f"SELECT name FROM {events}")
    assert "`name`" in sql and "`score`" not in sql and "`id`" not in sql


def test_count_star_fetches_no_column(pg, events):
    assert pg.execute(f"SELECT count(*) FROM {events}").fetchone()[0] == 20
    [sql] = remote_sql(pg, f"SELECT count(*) FROM {events}")
    assert sql.startswith("SELECT 1 FROM")



def test_where_comparisons_are_pushed(pg, events):
    q = f"SELECT id FROM {events} WHERE id > 5 AND id <= 9 AND name <> 'name7'"
    [sql] = remote_sql(pg, q)
    assert "WHERE" in sql and "`id` > 5" in sql and "`name`" in sql
    assert "Filter:" not in explain(pg, q)
    assert [r[0] for r in pg.execute(q + " ORDER BY id")] == [6, 8, 9]


def test_in_between_is_null_like_pushed(pg, events):
    cases = {
        f"SELECT id FROM {events} WHERE id IN (1, 3, 99)": [1, 3],
        f"SELECT id FROM {events} WHERE id BETWEEN 18 AND 25": [18, 19, 20],
        f"SELECT id FROM {events} WHERE score IS NULL": [4, 8, 12, 16, 20],
        f"SELECT id FROM {events} WHERE name LIKE 'name1_'": list(range(10, 20)),
        f"SELECT id FROM {events} WHERE name NOT LIKE '%1%' AND id < 6": [2, 3, 4, 5],
        f"SELECT id FROM {events} WHERE id = ANY (ARRAY[2, 4]) OR tag = 's1'": [1, 2, 4, 10, 13, 16, 19],
    }
    for q, expected in cases.items():
        [sql] = remote_sql(pg, q)
        assert "WHERE" in sql, q
        assert "Filter:" not in explain(pg, q), q
        assert sorted(r[0] for r in pg.execute(q)) == sorted(expected), q


def test_string_literals_are_escaped(pg, events):
    # the tag of row 7 is x%_\' : quotes, backslash and LIKE wildcards
    got = pg.execute(f"SELECT id FROM {events} WHERE tag = %s", ["x%_\\'"]).fetchall()
    assert got == [(7,)]
    got = pg.execute(f"SELECT id FROM {events} WHERE tag = 'x'' OR 1=1 --'").fetchall()
    assert got == []


def test_unpushable_clause_runs_locally(pg, events):
    q = f"SELECT id FROM {events} WHERE md5(name) = md5('name3') AND id < 10"
    plan = explain(pg, q)
    assert "Filter: (md5(" in plan
    [sql] = remote_sql(pg, q)
    assert "md5" not in sql and "`id` < 10" in sql
    assert pg.execute(q).fetchall() == [(3,)]


def test_order_by_and_limit_pushed(pg, events):
    q = f"SELECT id, score FROM {events} ORDER BY score DESC NULLS LAST, id LIMIT 3 OFFSET 1"
    [sql] = remote_sql(pg, q)
    assert "ORDER BY" in sql and "LIMIT 4" in sql
    assert "Sort" not in explain(pg, q)
    assert pg.execute(q).fetchall() == [(18, 9.0), (17, 8.5), (15, 7.5)]


def test_limit_not_pushed_with_local_filter_or_join(pg, events):
    q = f"SELECT id FROM {events} WHERE md5(name) <> '' ORDER BY id LIMIT 2"
    [sql] = remote_sql(pg, q)
    assert "LIMIT" not in sql
    assert pg.execute(q).fetchall() == [(1,), (2,)]
    pg.execute("CREATE TEMP TABLE wanted (id bigint)")
    pg.execute("INSERT INTO wanted VALUES (3), (5), (7)")
    q = f"SELECT e.id FROM {events} e JOIN wanted w ON w.id = e.id ORDER BY e.id LIMIT 2"
    for sql in remote_sql(pg, q):
        assert "LIMIT" not in sql
    assert pg.execute(q).fetchall() == [(3,), (5,)]


def test_text_order_follows_collation(pg, events):
    # the test database's collation is C.UTF-8: code point = byte order, as
    # ClickHouse's, so the ordering is sent (ch_fdw/collations.py)
    for coll in ("", ' COLLATE "C"'):
        q = f"SELECT name FROM {events} ORDER BY name{coll} LIMIT 3"
        [sql] = remote_sql(pg, q)
        assert "ORDER BY" in sql
        assert [r[0] for r in pg.execute(q)] == ["name1", "name10", "name11"]
    # a linguistic collation keeps the ordering in PostgreSQL
    if not pg.execute("SELECT 1 FROM pg_collation WHERE collname = 'en-US-x-icu'").fetchone():
        pytest.skip("this PostgreSQL build has no ICU collations (en-US-x-icu)")
    q = f'SELECT name FROM {events} ORDER BY name COLLATE "en-US-x-icu" DESC LIMIT 3'
    for sql in remote_sql(pg, q):
        assert "ORDER BY" not in sql
    names = [r[0] for r in pg.execute(f"SELECT name FROM {events}")]
    expected = pg.execute('SELECT x FROM unnest(%s::text[]) x ORDER BY x COLLATE "en-US-x-icu" '
                          "DESC LIMIT 3", [names]).fetchall()
    assert pg.execute(q).fetchall() == expected


def test_prepared_statement_custom_and_generic(pg, events):
    pg.execute(f"PREPARE byid(bigint, text) AS SELECT id, name FROM {events} WHERE id > $1 AND name <> $2 ORDER BY id")
    for mode in ("force_custom_plan", "force_generic_plan"):
        pg.execute(f"SET plan_cache_mode = {mode}")
        assert pg.execute("EXECUTE byid(17, 'name19')").fetchall() == [(18, "name18"), (20, "name20")]
        plan = explain(pg, "EXECUTE byid(17, 'name19')")
        assert "Filter:" not in plan
        [sql] = re.findall(r"Remote SQL: (.*)", plan)
        assert "WHERE" in sql


def test_plpgsql_parameters(pg, events):
    pg.execute(f"""CREATE OR REPLACE FUNCTION count_above_{events}(lim bigint) RETURNS bigint
                   LANGUAGE plpgsql AS $$
                   DECLARE n bigint;
                   BEGIN SELECT count(*) INTO n FROM {events} WHERE id > lim; RETURN n; END $$""")
    for lim, expected in ((0, 20), (15, 5), (100, 0), (15, 5)):
        assert pg.execute(f"SELECT count_above_{events}(%s)", [lim]).fetchone()[0] == expected


def test_explain_analyze(pg, events):
    plan = explain(pg, f"SELECT * FROM {events} WHERE id < 4", verbose=False)
    assert "Remote SQL" in plan
    rows = pg.execute(f"EXPLAIN ANALYZE SELECT * FROM {events} WHERE id < 4").fetchall()
    text = "\n".join(r[0] for r in rows)
    assert "actual time" in text and "rows=3" in text and "Remote SQL" in text


def test_hostile_table_and_column_names(pg, engine, server, uniq):
    from ch_fdw.translate.quoting import quote_identifier as q
    ch_table = "we`ird\\'\";drop " + uniq
    ch_col = "co`l'\"x"
    engine.command(f"CREATE TABLE default.{q(ch_table)} ({q(ch_col)} Int32) ENGINE = Memory")
    engine.insert(f"default.{q(ch_table)}", [(1,), (2,)], [ch_col])
    pg.execute(f"CREATE FOREIGN TABLE hostile_{uniq} (v integer OPTIONS (column_name %s)) "
               f"SERVER {server} OPTIONS (table_name %s)".replace("%s", "{}").format(
                   "'" + ch_col.replace("'", "''") + "'", "'" + ch_table.replace("'", "''") + "'"))
    assert pg.execute(f"SELECT v FROM hostile_{uniq} WHERE v > 1").fetchall() == [(2,)]



def test_two_scans_of_one_server_stream_at_once(pg, events):
    # a merge/nested-loop join reads both foreign scans interleaved: each
    # needs its own connection
    pg.execute("SET enable_hashjoin = off")
    for method in ("enable_mergejoin", "enable_nestloop"):
        pg.execute(f"SET {method} = on")
        other = "enable_nestloop" if method == "enable_mergejoin" else "enable_mergejoin"
        pg.execute(f"SET {other} = off")
        got = pg.execute(f"SELECT a.id, b.name FROM {events} a JOIN {events} b ON b.id = a.id + 1 "
                         f"ORDER BY a.id").fetchall()
        assert got == [(i, f"name{i + 1}") for i in range(1, 20)]


def test_filter_on_a_later_table_of_the_query(pg, events):
    # the foreign table is range table entry 2 here: its clause must still
    # be deparsed and pushed
    pg.execute("CREATE TEMP TABLE firsts (id bigint)")
    pg.execute("INSERT INTO firsts VALUES (2), (3), (5)")
    q = f"SELECT f.id, e.name FROM firsts f JOIN {events} e ON e.id = f.id WHERE e.name <> 'name3' ORDER BY 1"
    [sql] = remote_sql(pg, q)
    assert "`name` != 'name3'" in sql or "`name` <> 'name3'" in sql
    assert pg.execute(q).fetchall() == [(2, "name2"), (5, "name5")]

@pytest.fixture(autouse=True)
def per_table_path(pg):
    """These tests are about the per-table scan path."""
    pg.execute("SET ch_fdw.query_pushdown = off")
