"""Collations (issue 10): which text comparisons and orderings run in
ClickHouse (byte order) is decided from the collations each query uses
(src/query.c collects them, ch_fdw/collations.py decides).

* a C.UTF-8 database orders by code point = UTF-8 byte order: text ORDER BY,
  min/max and < are pushed, as in a C database;
* COLLATE "C" / "POSIX" / "ucs_basic" in a query under a linguistic default
  (ICU en-US) is byte order too and pushed;
* a linguistic collation anywhere -- the database's, a column's COLLATE, an
  explicit one -- keeps text ordering in PostgreSQL: a final ORDER BY (and
  its LIMIT/OFFSET) runs in a Sort (Limit) above the pushed query; text
  comparisons and min/max under it keep the whole query on the per-table
  path (EXPLAIN VERBOSE says why);
* a nondeterministic collation refuses the whole query (even = differs).

Every query is compared with the same query on local tables (the query
generator's data in C, C.UTF-8 and ICU databases, tests/querydiff.py).
"""

from __future__ import annotations

import psycopg
import pytest

import querydiff as QD
from test_querygen import foreign_schemas, qgen_dbs  # noqa: F401  (fixture)

PUSHED = "Custom Scan (ClickHouseQuery)"


def check(modern, qgen_dbs, collation, sql, *, pushed: bool, reason: str = "",  # noqa: F811
          path: str = "whole", sorted_above: bool = False):
    schema = foreign_schemas(modern, qgen_dbs)[collation]
    ordered = " ORDER BY " in sql.upper()
    out = QD.check_query(qgen_dbs[collation], schema, sql, path=path, ordered=ordered)
    assert out.kind == "same", f"{out.kind}: {out.message}\nSQL: {sql}"
    with psycopg.connect(qgen_dbs[collation], autocommit=True) as c:
        c.execute(f"SET search_path = {schema}, pg_catalog")
        if path != "whole":
            c.execute("SET ch_fdw.query_pushdown = off")
        plan = "\n".join(r[0] for r in c.execute(f"EXPLAIN (VERBOSE, COSTS OFF) {sql}"))
    if path == "whole":
        assert (PUSHED in plan) == pushed, plan
        assert reason in plan, plan
        # PostgreSQL sorts (and limits) the pushed query's rows
        assert (plan.startswith(("Sort", "Limit")) and "Foreign Scan" not in plan) == sorted_above, plan
    return plan


# a final ORDER BY on text (PostgreSQL sorts above the pushed query under a
# linguistic collation)
SORT_QUERIES = [
    "SELECT s, count(*) FROM t2 GROUP BY s ORDER BY s",
    "SELECT s, count(*) FROM t2 GROUP BY s ORDER BY s DESC NULLS LAST LIMIT 3 OFFSET 1",
    "SELECT t3.v, count(*), sum(t2.k) FROM t2 JOIN t3 ON t2.id = t3.id "
    "GROUP BY t3.v ORDER BY t3.v DESC LIMIT 2",
    "SELECT id FROM t2 WHERE s = 'x' OR s IS NULL ORDER BY s, id",      # a junk sort key
    "SELECT s FROM t2 UNION SELECT v FROM t3 ORDER BY 1",
]
# text ordering inside the query
ORDER_QUERIES = [
    "SELECT min(s), max(s), min(v), max(v) FROM t2, t3 WHERE t2.id = t3.id",
    "SELECT id, s FROM t2 WHERE s < 'm' OR s >= 'é' ORDER BY s DESC, id",
    "SELECT id FROM t2 WHERE s BETWEEN 'a' AND 'z' ORDER BY id",
    "SELECT greatest(s, 'k') AS g, id FROM t2 ORDER BY g, id LIMIT 5",
]


@pytest.mark.parametrize("sql", SORT_QUERIES + ORDER_QUERIES)
def test_c_utf8_database_orders_text_in_clickhouse(modern, qgen_dbs, sql):  # noqa: F811
    check(modern, qgen_dbs, "cutf8", sql, pushed=True)


@pytest.mark.parametrize("coll", ["C", "POSIX", "ucs_basic"])
def test_collate_c_is_pushed_under_a_linguistic_default(modern, qgen_dbs, coll):  # noqa: F811
    check(modern, qgen_dbs, "icu", f'SELECT s, id FROM t2 ORDER BY s COLLATE "{coll}", id',
          pushed=True)
    check(modern, qgen_dbs, "icu", f'SELECT max(s COLLATE "{coll}") FROM t2 '
                                   f'WHERE s COLLATE "{coll}" > \'a\'', pushed=True)


@pytest.mark.parametrize("sql", SORT_QUERIES)
def test_linguistic_final_order_by_sorts_above_the_pushed_query(modern, qgen_dbs, sql):  # noqa: F811
    check(modern, qgen_dbs, "icu", sql, pushed=True, sorted_above=True)


@pytest.mark.parametrize("sql", ORDER_QUERIES)
def test_linguistic_text_ordering_inside_stays_in_postgresql(modern, qgen_dbs, sql):  # noqa: F811
    check(modern, qgen_dbs, "icu", sql, pushed=False, reason="non-C collation")


def test_limit_with_a_subquery_is_not_sorted_above(modern, qgen_dbs):  # noqa: F811
    # the Limit node above the CustomScan could not run a subquery
    check(modern, qgen_dbs, "icu", "SELECT s, id FROM t2 ORDER BY s, id "
                                   "LIMIT (SELECT count(*) FROM t3)", pushed=False)


@pytest.mark.parametrize("mode", ["force_generic_plan", "force_custom_plan"])
def test_sorted_above_with_parameters(modern, qgen_dbs, mode):  # noqa: F811
    schema = foreign_schemas(modern, qgen_dbs)["icu"]
    sql = ("SELECT s, count(*) FROM {} WHERE k > $1 GROUP BY s ORDER BY s NULLS FIRST "
           "LIMIT $2 OFFSET $3")
    out = []
    for sp in (schema, "gl"):
        with psycopg.connect(qgen_dbs["icu"], autocommit=True) as c:
            c.execute(f"SET plan_cache_mode = {mode}")
            c.execute(f"PREPARE p(int, bigint, bigint) AS {sql.format(sp + '.t2')}")
            out.append([c.execute(f"EXECUTE p({args})").fetchall()
                        for args in ["0, 3, 0", "2, 2, 1", "-1, NULL, 2"]])
            plan = "\n".join(r[0] for r in c.execute("EXPLAIN (VERBOSE, COSTS OFF) EXECUTE p(0, 3, 0)"))
            if sp == schema:
                assert plan.startswith("Limit") and PUSHED in plan, plan
    assert out[0] == out[1]


def test_text_equality_is_pushed_under_a_linguistic_default(modern, qgen_dbs):  # noqa: F811
    check(modern, qgen_dbs, "icu", "SELECT count(*) FROM t2 WHERE s = 'x' OR s IN ('a', 'b')",
          pushed=True)


@pytest.mark.parametrize("collation", ["c", "cutf8"])
def test_column_collation_is_honoured(modern, qgen_dbs, collation):  # noqa: F811
    # t1.sc is declared COLLATE "en-US-x-icu" in a byte-order database
    check(modern, qgen_dbs, collation, "SELECT max(sc) FROM t1", pushed=False,
          reason="non-C collation")
    check(modern, qgen_dbs, collation, "SELECT id FROM t1 WHERE sc > 'a' ORDER BY id",
          pushed=False, reason="non-C collation")
    check(modern, qgen_dbs, collation, "SELECT id, sc FROM t1 ORDER BY sc, id", pushed=True,
          sorted_above=True)
    check(modern, qgen_dbs, collation, 'SELECT id FROM t1 ORDER BY sc COLLATE "C", id',
          pushed=True)


def test_explicit_linguistic_collation_in_a_c_database(modern, qgen_dbs):  # noqa: F811
    check(modern, qgen_dbs, "c", 'SELECT s FROM t2 ORDER BY s COLLATE "en-US-x-icu", id',
          pushed=True, sorted_above=True)
    check(modern, qgen_dbs, "c", 'SELECT max(s COLLATE "en-US-x-icu") FROM t2',
          pushed=False, reason="non-C collation")


def test_nondeterministic_collation_is_not_pushed(modern, qgen_dbs):  # noqa: F811
    with psycopg.connect(qgen_dbs["c"], autocommit=True) as c:
        c.execute("CREATE COLLATION IF NOT EXISTS public.nd_ci "
                  "(provider = icu, locale = 'und-u-ks-level2', deterministic = false)")
    check(modern, qgen_dbs, "c", "SELECT count(*) FROM t2 WHERE s = 'X' COLLATE public.nd_ci",
          pushed=False, reason='nondeterministic collation "nd_ci"')


@pytest.mark.parametrize("collation", ["c", "cutf8"])
def test_per_table_path_sorts_text_in_clickhouse_in_byte_order_databases(
        modern, qgen_dbs, collation):  # noqa: F811
    plan = check(modern, qgen_dbs, collation, "SELECT s, id FROM t2 ORDER BY s, id",
                 pushed=True, path="per-table")
    assert "ORDER BY `s`" in plan, plan
