"""Minimal repros of the bug classes the differential query generator found
(tests/querygen_known.py lists them with these test names).  Each compares
PostgreSQL's rows with ch_fdw's on the generator's tables.

Whole-query translator bugs are marked xfail(strict=True): they are the
worklist of the translator change that follows the layout split
(ch_fdw/translate/query.py); a fix turns them into XPASS, which fails until
the marker (and the class in querygen_known.py) is removed.
"""

from __future__ import annotations

import pytest

import querydiff as QD
from test_querygen import foreign_schemas, qgen_dbs  # noqa: F401  (fixture)


def _check(modern, qgen_dbs, sql, *, collation="c", path="whole", ordered=False):  # noqa: F811
    schema = foreign_schemas(modern, qgen_dbs)[collation]
    out = QD.check_query(qgen_dbs[collation], schema, sql, path=path, ordered=ordered)
    assert out.kind == "same", f"{out.kind}: {out.message}\nSQL: {sql}"


def translator(reason: str):
    return pytest.mark.xfail(strict=True, reason="whole-query translator (issue 8): " + reason)


@translator("a constant GROUP BY key is sent as GROUP BY 5 (ClickHouse error 36)")
def test_group_by_constant(modern, qgen_dbs):  # noqa: F811
    _check(modern, qgen_dbs, "SELECT 5 AS y, count(*) FROM t2 GROUP BY y")


@translator("ROLLUP/CUBE/GROUPING SETS output of a NOT NULL column is not Nullable (error 349)")
def test_rollup_on_not_null_column(modern, qgen_dbs):  # noqa: F811
    _check(modern, qgen_dbs, "SELECT id, count(*) FROM t3 GROUP BY ROLLUP (id)")


@translator("numeric results carry 20 decimals instead of PostgreSQL's display scale")
def test_numeric_result_scale(modern, qgen_dbs):  # noqa: F811
    _check(modern, qgen_dbs, "SELECT avg(n) FROM t1")
