"""[join-on] The join form of pushed queries (ch_fdw/translate/query/joinkeys.py).

Comma joins are sent as INNER JOIN ... ON their column equalities, in an
order where each table has a key to one before it; keys whose equality
could differ between ON and WHERE stay in WHERE.  That the rows stay
PostgreSQL's is checked by the differential tests (all 22 TPC-H queries in
tests/test_translate_query.py run these shapes); here, the form itself.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from ch_fdw.translate.query import TableInfo, translate_query  # noqa: E402
from ch_fdw.translate.scan import ColumnInfo, Dialect  # noqa: E402

MODERN = Dialect((26, 9, 2), True)
COLS = {
    "a": [("id", "bigint", "Int64"), ("f", "double precision", "Float64")],
    "b": [("id", "bigint", "Int64"), ("a_id", "bigint", "Int64"), ("f", "double precision", "Float64")],
    "c": [("id", "bigint", "Int64"), ("b_id", "bigint", "Int64"), ("f", "double precision", "Float64")],
}
TABLES = {f"public.{t}": TableInfo(f"public.{t}", "db", t, {c: ColumnInfo(c, c, pg, ch) for c, pg, ch in cols})
          for t, cols in COLS.items()}


def remote(sql: str) -> str:
    return translate_query(sql, TABLES, {}, ["bigint"], MODERN, fetch_expressions=False).render({})


def test_comma_join_keys_move_to_on():
    sql = remote("SELECT count(*) AS count FROM public.a, public.b "
                 "WHERE ((a.id = b.a_id) AND (b.f > (1)::double precision))")
    assert "CROSS JOIN" not in sql
    assert re.search(r"INNER JOIN `db`.`b` AS `t2` ON \(`t1`.`id` = `t2`.`a_id`\) WHERE", sql), sql
    assert "`t2`.`f` >" in sql.split(" WHERE ")[1]          # the filter stays in WHERE


def test_tables_are_ordered_by_keys():
    # a and c have no key between them: c comes after b, which links both
    sql = remote("SELECT count(*) AS count FROM public.a, public.c, public.b "
                 "WHERE ((a.id = b.a_id) AND (c.b_id = b.id))")
    assert "CROSS JOIN" not in sql
    assert sql.index("`db`.`b`") < sql.index("`db`.`c`"), sql


def test_unkeyed_comma_join_stays_cross():
    sql = remote("SELECT count(*) AS count FROM public.a, public.b WHERE (b.f > (1)::double precision)")
    assert " CROSS JOIN " in sql and " ON " not in sql


def test_float_equality_stays_in_where():
    # a float's NaN compares differently as a join key: kept in WHERE
    sql = remote("SELECT count(*) AS count FROM public.a, public.b WHERE (a.f = b.f)")
    assert " CROSS JOIN " in sql and " WHERE " in sql
