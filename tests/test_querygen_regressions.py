"""Minimal repros of the bug classes the differential query generator found
(tests/querygen_known.py lists them with these test names).  Each compares
PostgreSQL's rows with ch_fdw's on the generator's tables.

A bug found but not fixed yet is marked xfail(strict=True) with its seed;
the fix turns it into XPASS, which fails until the marker is removed.
"""

from __future__ import annotations

import pytest

import querydiff as QD
from test_querygen import foreign_schemas, qgen_dbs  # noqa: F401  (fixture)


def _check(modern, qgen_dbs, sql, *, collation="c", path="whole", ordered=False,  # noqa: F811
           expect="same"):
    """expect "both_error": PostgreSQL and ch_fdw raise the same class of error."""
    schema = foreign_schemas(modern, qgen_dbs)[collation]
    out = QD.check_query(qgen_dbs[collation], schema, sql, path=path, ordered=ordered)
    assert out.kind == expect, f"{out.kind}: {out.message}\nSQL: {sql}"


def test_group_by_constant(modern, qgen_dbs):  # noqa: F811
    _check(modern, qgen_dbs, "SELECT 5 AS y, count(*) FROM t2 GROUP BY y")


def test_rollup_on_not_null_column(modern, qgen_dbs):  # noqa: F811
    _check(modern, qgen_dbs, "SELECT id, count(*) FROM t3 GROUP BY ROLLUP (id)")


def test_numeric_result_scale(modern, qgen_dbs):  # noqa: F811
    _check(modern, qgen_dbs, "SELECT avg(n) FROM t1")


def test_alias_named_like_another_table(modern, qgen_dbs):  # noqa: F811
    _check(modern, qgen_dbs, "SELECT min(a.i8), max(a.i8), count(*) FROM t2 b CROSS JOIN t1 a")


def test_column_collation_compared_as_bytes(modern, qgen_dbs):  # noqa: F811
    _check(modern, qgen_dbs, "SELECT max(sc), count(*) FILTER (WHERE sc < 'é') FROM t1")


def test_is_not_true_as_a_value(modern, qgen_dbs):  # noqa: F811
    _check(modern, qgen_dbs, "SELECT id, flag IS NOT TRUE, flag IS NOT FALSE FROM t1")


def test_grouping_sets_over_no_rows(modern, qgen_dbs):  # noqa: F811
    _check(modern, qgen_dbs, "SELECT i8, count(*) FROM t2 WHERE id < 0 GROUP BY ROLLUP (i8)")


def test_order_by_only_constants(modern, qgen_dbs):  # noqa: F811
    _check(modern, qgen_dbs, "SELECT 'B' AS x FROM t3 ORDER BY 1 LIMIT 2")


def test_window_aggregate_with_order_by(modern, qgen_dbs):  # noqa: F811
    _check(modern, qgen_dbs, "SELECT id, max(f) OVER (PARTITION BY flag ORDER BY id) FROM t1")


def test_any_of_array_subquery(modern, qgen_dbs):  # noqa: F811
    _check(modern, qgen_dbs, "SELECT id FROM t2 WHERE k = ANY (ARRAY(SELECT g FROM t3))")


def test_correlated_subquery_clickhouse_refuses(modern, qgen_dbs):  # noqa: F811
    _check(modern, qgen_dbs, "SELECT id FROM t1 a WHERE a.d IN (SELECT d FROM t2 b WHERE b.k = a.i2)")


def test_grouping_sets_null_key_and_total(modern, qgen_dbs):  # noqa: F811
    _check(modern, qgen_dbs, "SELECT s, i8 FROM t2 WHERE id = 12 "
                             "GROUP BY GROUPING SETS ((s), (i8), ())")


def test_numeric_text_over_native(engine, qgen_dbs):  # noqa: F811
    """Seeds 1060, 2050, 2064 (modern-native only): clickhouse_driver reads a
    Decimal as raw / 10^S, dropping trailing zeros (1.50 -> 1.5, 0.0000 -> 0),
    which showed wherever the output's typmod did not restore the scale
    (aggregates, expressions, UNION branches).  chtypes/decimals.py keeps it."""
    if engine.name != "modern-native":
        pytest.skip("only the native driver drops the zeros (HTTP and 18.16 run the generator)")
    from test_querygen import foreign_schemas
    schema = foreign_schemas(engine, qgen_dbs)["c"]
    for sql in ["SELECT min(n) FROM t1 UNION ALL SELECT n FROM t1",
                "SELECT abs(CASE WHEN b1.s <= b1.s THEN b1.n ELSE b1.n END) FROM t2 b1"]:
        out = QD.check_query(qgen_dbs["c"], schema, sql)
        assert out.kind == "same", f"{out.kind}: {out.message}\nSQL: {sql}"


# Found by the generator on the merged code of 2026-12-02 (dev/querygen.py
# --seed 5000 --count 300), fixed the same day.

def test_abs_of_smallest_integer_raises(modern, qgen_dbs):  # noqa: F811
    """Seed 5122: abs(-32768::int2) is out of range in PostgreSQL."""
    _check(modern, qgen_dbs, "SELECT sum(abs(i2)) FROM t1", expect="both_error")
    _check(modern, qgen_dbs, "SELECT id, abs(i2) FROM t1", expect="both_error")
    _check(modern, qgen_dbs, "SELECT id, abs(i2) FROM t1 WHERE i2 > -32768")
    _check(modern, qgen_dbs, "SELECT id, abs(i8), abs(i4) FROM t1")


def test_rollup_having_order_by(modern, qgen_dbs):  # noqa: F811
    """Seed 5134: ClickHouse merged the NULL-key group and the () row when
    the query's HAVING had no aggregate; such a query is not pushed."""
    for sql in ["SELECT s FROM t2 GROUP BY ROLLUP (s) HAVING '' <= '' ORDER BY 1 DESC NULLS LAST",
                "SELECT s FROM t2 GROUP BY ROLLUP (s) HAVING s IS NULL OR s > ''",
                "SELECT s FROM t2 GROUP BY ROLLUP (s) HAVING count(*) > 0 AND '' <= ''",
                "SELECT s, count(*) FROM t2 GROUP BY CUBE (s) HAVING '' <= ''"]:
        _check(modern, qgen_dbs, sql)


def test_case_numeric_branches_keep_their_scale(modern, qgen_dbs):  # noqa: F811
    """Seed 5202: a numeric keeps each value's display scale; CASE and
    COALESCE over branches of different scales show the branch taken's."""
    for sql in ["SELECT id, CASE WHEN id > 3 THEN 0.1 ELSE 10.00 END FROM t1",
                "SELECT id, CASE WHEN id > 3 THEN n WHEN id > 1 THEN 2 ELSE 0.5 END FROM t1",
                "SELECT id, COALESCE(n, 0) FROM t1",
                "SELECT id, COALESCE(CASE WHEN id > 2 THEN n END, 0.125, 7) FROM t1",
                "SELECT sum(CASE WHEN id > 3 THEN n ELSE 0 END) FROM t1",
                "SELECT sum(CASE WHEN id > 1000 THEN n ELSE 0 END), sum(COALESCE(n, 0.5)) FROM t1",
                "SELECT flag, sum(CASE WHEN id > 3 THEN 0.125 ELSE 1 END) FROM t1 GROUP BY flag",
                "SELECT id, CASE WHEN id > 3 THEN 0.1 ELSE 10.00 END::numeric(6,3) FROM t1",
                "SELECT DISTINCT CASE WHEN id > 3 THEN 0.1 ELSE 0.10 END FROM t1",
                "SELECT count(*) FROM (SELECT DISTINCT COALESCE(n, 0) FROM t1) q",
                "SELECT CASE WHEN id > 3 THEN 0.1 ELSE 0.10 END FROM t1 UNION SELECT 0.100 FROM t2",
                "SELECT CASE WHEN id > 3 THEN 1.0 ELSE 1 END AS x, count(*) FROM t1 GROUP BY 1"]:
        _check(modern, qgen_dbs, sql)
    _check(modern, qgen_dbs, "SELECT id, CASE WHEN id > 3 THEN 9.5 ELSE 10.00 END AS x FROM t1 "
                             "ORDER BY x DESC, id", ordered=True)


def test_full_join_constant_outputs_per_table(modern, qgen_dbs):  # noqa: F811
    """Seeds 7912, 8117 (per-table path): a FULL JOIN over a subquery with
    constant outputs makes PostgreSQL evaluate PlaceHolderVars in the foreign
    scan's target list; planning raised 'unrecognized node type: 212'."""
    for path in ("table", "whole"):
        _check(modern, qgen_dbs,
               "SELECT false AS x2, x1 FROM (SELECT COALESCE(q3.x1, q3.x1) AS x1 FROM t3 c1 "
               "FULL JOIN (SELECT c2.g AS x1, '-2'::float8 AS x2, c2.x AS x3, 0.1::float8 AS x4 "
               "FROM t3 c2 WHERE c2.id > 2) q3 ON true "
               "WHERE q3.x2 < q3.x4) q4 ORDER BY 1", path=path)
