"""Every type the per-table path reads is returnable from a pushed query
(issue 10): uuid, inet, arrays, jsonb (Tuple, Map), bytea, Enum and
FixedString as text, LowCardinality/Nullable variants, timestamp over a
non-UTC DateTime.  Such columns are [opaque] to the translator
(ch_fdw/translate/query/relations.py): returned as bare columns, read with
the per-table path's fetch plan, never computed on.

Each query runs twice -- whole-query pushdown on, and off (per table) -- and
must give the same rows, with NULLs, empty arrays and NUL bytes in bytea.  On
the modern engines the query must also be one ClickHouseQuery CustomScan (or,
for the refused shapes, EXPLAIN VERBOSE says why); ClickHouse 18.16 is below
the whole-query version gate and checks the per-table values only.
"""

from __future__ import annotations

import uuid

import pytest

from helpers import explain
from test_e2e_types import ch  # noqa: F401  (fixture: inline VALUES on every engine)

PUSHED = "Custom Scan (ClickHouseQuery)"

# (name, ClickHouse type, PostgreSQL type, literals for ids 1, 2, 3, modern only)
COLUMNS = [
    ("u", "Nullable(UUID)", "uuid",
     ["'12345678-9abc-def0-1234-56789abcdef0'", "NULL", "'00000000-0000-0000-0000-000000000000'"], False),
    ("arr", "Array(Nullable(String))", "text[]",
     ["['a\"b', NULL, '', '{x,y}', 'ü😀']", "[]", "['NULL']"], False),
    ("ai", "Array(Int32)", "integer[]", ["[1, -2147483648]", "[]", "[0]"], False),
    ("by", "String", "bytea", ["'a\\0b'", "''", "'\\0\\0\\xff'"], False),
    ("e", "Enum8('a' = 1, 'b c' = 2)", "text", ["'a'", "'b c'", "'a'"], False),
    ("fs", "FixedString(3)", "text", ["'ab'", "''", "'xyz'"], False),
    ("lc", "LowCardinality(Nullable(String))", "text", ["'x'", "NULL", "''"], False),
    ("tup", "Tuple(Int32, String)", "jsonb", ["(1, 'x\"y')", "(-1, '')", "(0, 'ü')"], False),
    ("kt", "DateTime('Asia/Kathmandu')", "timestamp",
     ["'2024-03-31 01:30:00'", "'1970-01-02 00:00:00'", "'2038-01-01 12:00:00'"], False),
    ("ip", "Nullable(IPv6)", "inet", ["'2001:db8::1'", "NULL", "'::ffff:1.2.3.4'"], True),
    ("m", "Map(String, UInt64)", "jsonb", ["map('a', 1, 'ü', 18446744073709551615)", "map()",
                                           "map('', 0)"], True),
    ("ab", "Array(Nullable(Bool))", "boolean[]", ["[true, NULL]", "[]", "[false]"], True),
]


@pytest.fixture
def ft(pg, engine, ch, server, uniq):  # noqa: F811
    """Foreign table <uniq> (id bigint, one column per COLUMNS entry)."""
    cols = [c for c in COLUMNS if engine.modern or not c[4]]
    ch(f"DROP TABLE IF EXISTS default.{uniq}")
    ch(f"CREATE TABLE default.{uniq} (id Int64, "
       + ", ".join(f"`{n}` {t}" for n, t, _, _, _ in cols) + ") ENGINE = MergeTree ORDER BY id")
    rows = ", ".join("(" + ", ".join([str(i + 1)] + [c[3][i] for c in cols]) + ")" for i in range(3))
    ch(f"INSERT INTO default.{uniq} (id, " + ", ".join(f"`{c[0]}`" for c in cols)
       + f") VALUES {rows}")
    pg.execute(f"CREATE FOREIGN TABLE {uniq} (id bigint NOT NULL, "
               + ", ".join(f'"{n}" {p}' for n, _, p, _, _ in cols)
               + f") SERVER {server} OPTIONS (table_name '{uniq}')")
    return uniq, [c[0] for c in cols]


def both_paths(pg, sql: str) -> tuple[list, list, str]:
    """(rows pushed, rows per table, EXPLAIN VERBOSE of the pushed run)."""
    plan = explain(pg, sql)
    pushed = pg.execute(sql).fetchall()
    pg.execute("SET ch_fdw.query_pushdown = off")
    try:
        per_table = pg.execute(sql).fetchall()
    finally:
        pg.execute("RESET ch_fdw.query_pushdown")
    return pushed, per_table, plan


def check_pushed(pg, engine, sql: str) -> list:
    pushed, per_table, plan = both_paths(pg, sql)
    assert pushed == per_table, f"{sql}\npushed    {pushed}\nper table {per_table}"
    if engine.modern:
        assert PUSHED in plan, plan
    return pushed


def check_refused(pg, engine, sql: str, reason: str) -> list:
    pushed, per_table, plan = both_paths(pg, sql)
    assert pushed == per_table, f"{sql}\npushed    {pushed}\nper table {per_table}"
    if engine.modern:
        assert PUSHED not in plan and reason in plan, plan
    return pushed


def test_select_star(pg, engine, ft):
    t, cols = ft
    rows = check_pushed(pg, engine, f"SELECT * FROM {t} ORDER BY id")
    assert len(rows) == 3
    r1, r2, r3 = (dict(zip(["id"] + cols, r)) for r in rows)
    assert r1["u"] == uuid.UUID("12345678-9abc-def0-1234-56789abcdef0") and r2["u"] is None
    assert r1["arr"] == ['a"b', None, "", "{x,y}", "ü😀"] and r2["arr"] == [] and r3["arr"] == ["NULL"]
    assert r1["by"] == b"a\0b" and r2["by"] == b"" and r3["by"] == b"\0\0\xff"
    assert (r1["e"], r2["e"], r1["fs"], r3["fs"]) == ("a", "b c", "ab", "xyz")
    assert (r1["lc"], r2["lc"], r3["lc"]) == ("x", None, "")
    assert r1["tup"] == [1, 'x"y'] and r2["ai"] == []
    if engine.modern:
        assert r1["m"] == {"a": 1, "ü": 2 ** 64 - 1} and r2["m"] == {} and r2["ip"] is None
        assert r1["ab"] == [True, None]


def test_each_column_alone(pg, engine, ft):
    t, cols = ft
    for c in cols:
        check_pushed(pg, engine, f'SELECT "{c}" FROM {t} WHERE id >= 2 ORDER BY id DESC')


def test_through_derived_tables_ctes_and_windows(pg, engine, ft):
    t, cols = ft
    check_pushed(pg, engine, f"SELECT s.* FROM (SELECT * FROM {t} WHERE id <> 2) s ORDER BY s.id")
    check_pushed(pg, engine, f"WITH c AS (SELECT id, u, arr, by FROM {t}) "
                             "SELECT c.by, c.arr, c.u FROM c ORDER BY c.id LIMIT 2")
    check_pushed(pg, engine, f"SELECT u, tup, row_number() OVER (ORDER BY id DESC) FROM {t} ORDER BY id")
    check_pushed(pg, engine, f"SELECT a.by FROM {t} a WHERE EXISTS "
                             f"(SELECT * FROM {t} b WHERE b.id = a.id + 1) ORDER BY a.id")


def test_nullable_side_of_an_outer_join(pg, engine, ft):
    t, _ = ft
    # join_use_nulls: Nullable(UUID), LowCardinality(Nullable(String)), Nullable(Enum8)
    rows = check_pushed(pg, engine, f"SELECT a.id, b.u, b.lc, b.e, b.by, b.kt FROM {t} a "
                                    f"LEFT JOIN {t} b ON b.id = a.id + 1 ORDER BY a.id")
    assert rows[2][1:] == (None,) * 5
    # an Array on the nullable side would come back as [] instead of NULL
    rows = check_refused(pg, engine, f"SELECT a.id, b.arr FROM {t} a LEFT JOIN {t} b "
                                     "ON b.id = a.id + 1 ORDER BY a.id",
                         "on the nullable side of an outer join")
    assert rows[2] == (3, None)


@pytest.mark.parametrize("shape,reason", [
    ("SELECT id FROM {t} WHERE u = '12345678-9abc-def0-1234-56789abcdef0'", "column u: type uuid"),
    ("SELECT u FROM {t} ORDER BY u, id", ""),          # PostgreSQL sorts above the pushed scan
    ("SELECT DISTINCT tup FROM {t}", "DISTINCT over column tup"),
    ("SELECT arr, count(*) FROM {t} GROUP BY arr", "column arr"),
    ("SELECT u FROM {t} UNION ALL SELECT u FROM {t}", "set operation over column u"),
    ("SELECT id FROM {t} WHERE id IN (SELECT id FROM {t} WHERE by = '\\x00')", "column by"),
    ("SELECT (SELECT max(x.id) FROM {t} x), u FROM {t}", ""),
    ("SELECT u::text FROM {t}", "column u"),
])
def test_computing_on_them_is_refused_with_the_reason(pg, engine, ft, shape, reason):
    t, _ = ft
    sql = shape.format(t=t)
    if reason:
        check_refused(pg, engine, sql, reason)
    else:
        check_pushed(pg, engine, sql)
