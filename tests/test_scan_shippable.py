"""The per-table path's shippability walker (src/scan.c) on expression shapes
that once escaped it as `unrecognized node type: 231` (a bare argument List
reached exprType()): non-constant ARRAY[...], COALESCE, GREATEST/LEAST and,
in generic plans, `col IN ($1, 'x')`.  Each clause must plan, EXPLAIN, and
select exactly the ids a local PostgreSQL table selects, on every engine.
Found by the differential query generator (tests/querygen.py) and by
sqlsmith (issue 8)."""

from __future__ import annotations

import pytest

from helpers import explain, foreign_table

ROWS = [(1, 1, 1, "a"), (2, 2, 3, "b"), (3, None, 3, None), (4, 4, None, "x"),
        (5, None, None, "a"), (6, 7, 6, "zz")]


@pytest.fixture
def tables(pg, engine, server, uniq):
    foreign_table(pg, engine, server, uniq,
                  "id Int32, a Nullable(Int32), b Nullable(Int64), t Nullable(String)",
                  "id int, a int, b bigint, t text", ROWS, ["id", "a", "b", "t"])
    local = f"{uniq}_local"
    pg.execute(f"CREATE TABLE {local} (id int, a int, b bigint, t text)")
    for r in ROWS:
        pg.execute(f"INSERT INTO {local} VALUES (%s, %s, %s, %s)", r)
    pg.execute("SET ch_fdw.query_pushdown = off")   # the per-table path on every engine
    yield uniq, local
    pg.execute("RESET ch_fdw.query_pushdown")


def _same_ids(pg, tables, where: str, params=None):
    ft, local = tables
    q = "SELECT id FROM {} WHERE " + where + " ORDER BY id"
    explain(pg, q.format(ft), params)                       # planning must not raise
    want = pg.execute(q.format(local), params).fetchall()
    got = pg.execute(q.format(ft), params).fetchall()
    assert got == want, f"{where}: ch_fdw {got} vs PostgreSQL {want}"
    return want


def test_any_of_array_of_columns(pg, tables):
    assert _same_ids(pg, tables, "a = ANY (ARRAY[b])") == [(1,)]
    _same_ids(pg, tables, "a = ANY (ARRAY[b, 4, id])")
    _same_ids(pg, tables, "b <> ALL (ARRAY[a, 3])")


def test_array_constructor_of_columns(pg, tables):
    _same_ids(pg, tables, "ARRAY[a, b] = ARRAY[1, 1]::bigint[]")
    _same_ids(pg, tables, "array_length(ARRAY[a, id], 1) = 2 AND a > 1")


def test_coalesce(pg, tables):
    _same_ids(pg, tables, "COALESCE(a, b) = 3")
    _same_ids(pg, tables, "COALESCE(a, b, id) > 2")
    _same_ids(pg, tables, "COALESCE(t, 'none') = 'none'")


def test_greatest_least(pg, tables):
    _same_ids(pg, tables, "GREATEST(a, b) >= 3")
    _same_ids(pg, tables, "LEAST(a, b, id) = 1")
    _same_ids(pg, tables, "GREATEST(a, 2) = 2 OR LEAST(b, 0) IS NULL")


def test_case_in_where(pg, tables):
    _same_ids(pg, tables, "CASE WHEN a > 1 THEN b ELSE id END = 3")
    _same_ids(pg, tables, "CASE a WHEN 1 THEN true WHEN 4 THEN true ELSE false END")


@pytest.mark.parametrize("mode", ["force_custom_plan", "force_generic_plan"])
def test_in_list_with_parameter(pg, tables, mode):
    pg.execute(f"SET plan_cache_mode = {mode}")
    try:
        ft, local = tables
        for name, t in (("p_ft", ft), ("p_local", local)):
            pg.execute(f"PREPARE {name}(text, int) AS SELECT id FROM {t} "
                       "WHERE t IN ($1, 'x') OR a IN ($2, b) ORDER BY id")
        for args in (("a", 2), ("zz", 0), (None, None)):
            ph = "NULL, NULL" if args[0] is None else f"'{args[0]}', {args[1]}"
            explain(pg, f"EXECUTE p_ft({ph})")
            want = pg.execute(f"EXECUTE p_local({ph})").fetchall()
            got = pg.execute(f"EXECUTE p_ft({ph})").fetchall()
            assert got == want, (mode, args)
    finally:
        pg.execute("DEALLOCATE ALL")
        pg.execute("RESET plan_cache_mode")
