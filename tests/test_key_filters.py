"""Filters compare a column as stored with a literal of its own type
(ch_fdw/translate/fit.py), on the per-table path and the whole-query path:
a UInt64 key imported as numeric(20,0) is sent as `id < 1000`, not as a
Decimal128 comparison (which reads every granule on modern ClickHouse and is
an error on 18.16's primary key), and a constant that is not one of the
column's values gives PostgreSQL's answer without being sent (id = -1,
id = 1.5, id > 2^64: no rows; id <> -1: every non-NULL row).  Each clause
is compared with the same data in a local PostgreSQL table."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest

from helpers import explain, foreign_table

from ch_fdw.translate.fit import exact_value, fit_compare, numeric_domain

U64_MAX = (1 << 64) - 1
ROWS = [  # id UInt64, n Nullable(UInt64), i Int32, d Decimal(10,2), nd Nullable(Decimal(10,2))
    (0, None, -5, Decimal("-3.00"), None),
    (1, 1, 0, Decimal("1.50"), Decimal("1.50")),
    (2, 2, 1, Decimal("1.55"), None),
    (999, None, 2, Decimal("1.56"), Decimal("1.56")),
    (1000, 1000, 1000, Decimal("0.01"), Decimal("-0.01")),
    (1001, 1001, -2147483648, Decimal("99999999.99"), Decimal("99999999.99")),
    (1 << 63, 1 << 63, 2147483647, Decimal("-99999999.99"), None),
    (U64_MAX, U64_MAX, 7, Decimal("0.00"), Decimal("0.00")),
]
CH_COLS = ("id UInt64, n Nullable(UInt64), i Int32, d Decimal(10, 2), "
           "nd Nullable(Decimal(10, 2))")
PG_COLS = "id numeric(20,0), n numeric(20,0), i integer, d numeric(10,2), nd numeric(10,2)"

# (WHERE clause, regex the remote WHERE must contain or None)
CLAUSES = [
    ("id < 1000", r"`id` < 1000\b"),
    ("id = 1000", r"`id` = 1000\b"),
    ("1000 <= id", r"`id` >= 1000\b"),
    ("id IN (1, 1000, 18446744073709551615)", r"`id` IN \(1, 1000, 18446744073709551615\)"),
    ("id IN (1, -1, 2.5, 999)", r"`id` IN \(1, 999\)"),
    ("id BETWEEN 2 AND 1000", r"`id` >= 2\b.*`id` <= 1000\b"),
    ("id = 9223372036854775808", r"`id` = 9223372036854775808\b"),
    ("id >= 0.5", r"`id` >= 1\b"),
    ("id < 999.5", r"`id` <= 999\b"),
    ("id = -1", None),
    ("id = 1.5", None),
    ("id < -1", None),
    ("id > 18446744073709551616", None),
    ("id <= 18446744073709551616", None),
    ("id <> -1", None),
    ("id NOT IN (1, -1, 2.5)", r"`id` != 1\b"),
    ("n <> -1", r"`n`"),
    ("n = 1000 OR n IS NULL", r"`n` = 1000\b"),
    ("n NOT IN (1, 2, 0.5)", r"`n` NOT IN \(1, 2\)"),
    ("n IN (-1, 0.5)", None),
    ("NOT (n < 1000)", r"`n` >= 1000\b"),
    ("n IS DISTINCT FROM -1", None),
    ("i < 1.5", r"`i` <= 1\b"),
    ("i > 3000000000", None),
    ("i >= -2147483649", None),
    ("i IN (0, 2, 5000000000)", r"`i` IN \(0, 2\)"),
    ("d > 1.555", r"`d` >= toDecimal64\('1\.56', 2\)"),
    ("d = 1.5", r"`d` = toDecimal64\('1\.50', 2\)"),
    ("d = 1.505", None),
    ("d < 100000000.001", None),
    # 18.16 cannot build an IN set of Decimal literals: an OR chain there
    ("d IN (1.5, 1.555, 0.01)", r"`d` (IN \(|= )toDecimal64\('1\.50', 2\)"),
    ("nd <= 1.559", r"`nd` <= toDecimal64\('1\.55', 2\)"),
    ("nd <> 1.555", None),
]


@pytest.fixture(params=["per-table", "whole-query"])
def tables(request, pg, engine, server, uniq):
    if request.param == "whole-query" and not engine.modern:
        pytest.skip("whole-query pushdown needs ClickHouse 24.3 (18.16 uses the per-table path)")
    foreign_table(pg, engine, server, uniq, CH_COLS, PG_COLS, ROWS,
                  ["id", "n", "i", "d", "nd"], "MergeTree ORDER BY id")
    local = f"{uniq}_local"
    pg.execute(f"CREATE TABLE {local} ({PG_COLS})")
    for r in ROWS:
        pg.execute(f"INSERT INTO {local} VALUES (%s, %s, %s, %s, %s)", r)
    pg.execute(f"SET ch_fdw.query_pushdown = {'off' if request.param == 'per-table' else 'on'}")
    yield uniq, local, request.param
    pg.execute("RESET ch_fdw.query_pushdown")


def remote_where(plan: str) -> str:
    m = re.search(r"Remote SQL: .*?\bWHERE\b(.*?)(\bORDER BY\b|\bGROUP BY\b|\bLIMIT\b|\bSETTINGS\b|$)",
                  plan, re.M)
    return m.group(1) if m else ""


def _check(pg, tables, where: str, pattern: str | None, params=None):
    ft, local, path = tables
    q = "SELECT id FROM {} WHERE " + where + " ORDER BY id"
    plan = explain(pg, q.format(ft), params)
    if path == "whole-query":
        assert "Custom Scan (ClickHouseQuery)" in plan, plan
    cond = remote_where(plan)
    assert "toDecimal128" not in cond, plan
    if pattern is not None:
        assert re.search(pattern, cond), f"{where}: {pattern!r} not in {cond!r}"
    want = pg.execute(q.format(local), params).fetchall()
    got = pg.execute(q.format(ft), params).fetchall()
    assert got == want, f"{where}: ch_fdw {got} vs PostgreSQL {want}"


@pytest.mark.parametrize("where,pattern", CLAUSES, ids=[c[0] for c in CLAUSES])
def test_filter_in_column_type(pg, tables, where, pattern):
    _check(pg, tables, where, pattern)


def test_custom_plan_parameters(pg, tables):
    """A parameter of a custom plan is a constant: fitted the same way."""
    ft, local, _ = tables
    pg.execute("SET plan_cache_mode = force_custom_plan")
    try:
        for name, t in (("p_ft", ft), ("p_local", local)):
            pg.execute(f"PREPARE {name}(numeric, numeric) AS SELECT id FROM {t} "
                       "WHERE id >= $1 AND n <> $2 ORDER BY id")
        for args in (("2", "-1"), ("0.5", "1000"), ("-7", "1.5"), ("18446744073709551616", "0")):
            got = pg.execute(f"EXECUTE p_ft({args[0]}, {args[1]})").fetchall()
            want = pg.execute(f"EXECUTE p_local({args[0]}, {args[1]})").fetchall()
            assert got == want, args
        plan = explain(pg, "EXECUTE p_ft(1000, 2)")
        where = remote_where(plan)
        # per-table: the folded constant; whole query: the parameter's slot,
        # fitted per execution (EXPLAIN shows it as $1), on the bare column
        assert "toDecimal128" not in where and ("1000" in where or "`id` >= $1)" in where), plan
    finally:
        pg.execute("DEALLOCATE ALL")
        pg.execute("RESET plan_cache_mode")


# ------------------------------------------------------------------ the rule itself

F, NN = "false", "not null"
FIT_UNIT_CASES = [
    ("UInt64", "=", "-1", F), ("UInt64", "=", "1.5", F), ("UInt64", "<", "-1", F),
    ("UInt64", "<", "0", F), ("UInt64", "<=", "0", ("<=", "0")), ("UInt64", ">", "-0.5", NN),
    ("UInt64", ">=", "0", NN), ("UInt64", ">", "18446744073709551616", F),
    ("UInt64", ">", "18446744073709551615", F), ("UInt64", "<=", "18446744073709551615", NN),
    ("UInt64", "<", "18446744073709551615", ("<", "18446744073709551615")),
    ("UInt64", "<>", "-1", NN), ("UInt64", ">=", "0.5", (">=", "1")),
    ("UInt64", ">", "0.5", (">=", "1")), ("UInt64", "<", "999.5", ("<=", "999")),
    ("Nullable(UInt64)", "<", "1000", ("<", "1000")),
    ("Int8", "=", "-128", ("=", "(-128)")), ("Int8", "<", "-128", F), ("Int8", ">", "127", F),
    ("Int32", "<=", "-2.5", ("<=", "(-3)")), ("Int32", ">=", "-2.5", (">=", "(-2)")),
    ("Int128", "=", "170141183460469231731687303715884105727",
     ("=", "toInt128('170141183460469231731687303715884105727')")),
    ("Decimal(10, 2)", "=", "1.5", ("=", "toDecimal64('1.50', 2)")),
    ("Decimal(10, 2)", "=", "1.505", F), ("Decimal(10, 2)", ">", "1.555", (">=", "toDecimal64('1.56', 2)")),
    ("Decimal(9, 2)", "<", "-0.001", ("<=", "toDecimal32('-0.01', 2)")),
    ("Decimal(9, 2)", "<", "0.001", ("<=", "toDecimal32('0.00', 2)")),
    ("Decimal32(2)", ">", "9999999.99", F), ("Decimal(38, 0)", ">=", "5", (">=", "toDecimal128('5', 0)")),
    ("LowCardinality(Nullable(Decimal(40, 3)))", "=", "-7", ("=", "toDecimal256('-7.000', 3)")),
]

@pytest.mark.parametrize("ch,op,value,want", FIT_UNIT_CASES,
                         ids=[f"{c[0]} {c[1]} {c[2]}" for c in FIT_UNIT_CASES])
def test_fit_rule(ch, op, value, want):
    f = fit_compare(numeric_domain(ch), op, exact_value(Decimal(value)))
    got = (f.op, f.literal) if f.op is not None else f.outcome
    assert got == want


@pytest.mark.parametrize("sql", [
    "SELECT id, count(*) FROM {} GROUP BY id ORDER BY id",
    "SELECT n, count(*), sum(d) FROM {} GROUP BY n ORDER BY n DESC NULLS LAST",
    "SELECT d, max(id) FROM {} GROUP BY d ORDER BY d LIMIT 4",
    "SELECT id FROM {} ORDER BY n NULLS FIRST, id DESC LIMIT 5",
    "SELECT DISTINCT n FROM {} ORDER BY n",
])
def test_keys_grouped_and_sorted_as_stored(pg, tables, sql):
    """GROUP BY / ORDER BY a UInt64 or Decimal column use the column itself
    (it groups and sorts like its numeric reading), not a conversion."""
    ft, local, path = tables
    plan = explain(pg, sql.format(ft))
    if path == "whole-query":
        assert "Custom Scan (ClickHouseQuery)" in plan, plan
        tail = re.split(r"\bFROM\b", plan.split("Remote SQL:")[1], maxsplit=1)[1]
        assert "toDecimal128" not in tail, plan
    assert pg.execute(sql.format(ft)).fetchall() == pg.execute(sql.format(local)).fetchall()


def test_generic_plan_integer_parameters(pg, tables):
    """An integer parameter of a generic plan compared with a UInt64 key is
    fitted when its value is known (at execution): -1 is never sent."""
    ft, local, _ = tables
    pg.execute("SET plan_cache_mode = force_generic_plan")
    try:
        for name, t in (("g_ft", ft), ("g_local", local)):
            pg.execute(f"PREPARE {name}(bigint, int) AS SELECT id FROM {t} "
                       "WHERE id >= $1 AND i < $2 AND n <> $1 ORDER BY id")
        for args in ((2, 5), (-1, 1000), (-9223372036854775808, 2147483647), (1001, -1)):
            got = pg.execute(f"EXECUTE g_ft({args[0]}, {args[1]})").fetchall()
            want = pg.execute(f"EXECUTE g_local({args[0]}, {args[1]})").fetchall()
            assert got == want, args
    finally:
        pg.execute("DEALLOCATE ALL")
        pg.execute("RESET plan_cache_mode")
