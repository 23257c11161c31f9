"""Writes through the real extension: INSERT / COPY in batches, exact type
conversion (round trip per type: write through ch_fdw, read back directly
from ClickHouse and through ch_fdw), ClickHouse defaults for omitted
columns, RETURNING, bad input, UPDATE/DELETE as mutations and the refusals.
Runs against every engine (ClickHouse 18.16 native, modern engine over HTTP);
types and statements 18.16 lacks run on the modern engine only.
"""

from __future__ import annotations

import datetime as dt
import math
import uuid
from decimal import Decimal as D
from zoneinfo import ZoneInfo

import psycopg
import pytest

from helpers import explain, foreign_table

UTC = dt.timezone.utc
TOKYO = ZoneInfo("Asia/Tokyo")


@pytest.fixture(scope="module")
def pg(pg_dsn):
    """One session for the whole module (conftest's pg opens a backend per
    test; starting Python in each costs ~0.7 s).  Tests leave it autocommit."""
    with psycopg.connect(pg_dsn, autocommit=True) as c:
        yield c


def same(a, b) -> bool:
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a):
        return math.isnan(b)
    return type(a) is type(b) and a == b


# ---------------------------------------------------------------- round trips

# (id, ClickHouse type, PostgreSQL type, values written, direct-read
#  expression, expected direct-read values, modern only)
TYPES = [
    ("int8", "Int8", "smallint", [-128, 0, 127], "toString(v)", ["-128", "0", "127"], False),
    ("uint8", "UInt8", "smallint", [0, 255], "toString(v)", ["0", "255"], False),
    ("int16", "Int16", "smallint", [-32768, 32767], "toString(v)", ["-32768", "32767"], False),
    ("uint16", "UInt16", "integer", [0, 65535], "toString(v)", ["0", "65535"], False),
    ("int32", "Int32", "integer", [-2 ** 31, 2 ** 31 - 1], "toString(v)",
     [str(-2 ** 31), str(2 ** 31 - 1)], False),
    ("uint32", "UInt32", "bigint", [0, 2 ** 32 - 1], "toString(v)", ["0", str(2 ** 32 - 1)], False),
    ("int64", "Int64", "bigint", [-2 ** 63, 2 ** 63 - 1], "toString(v)",
     [str(-2 ** 63), str(2 ** 63 - 1)], False),
    ("uint64", "UInt64", "numeric(20,0)", [D(0), D(2 ** 64 - 1)], "toString(v)",
     ["0", str(2 ** 64 - 1)], False),
    ("int128", "Int128", "numeric", [D(-2 ** 127), D(2 ** 127 - 1)], "toString(v)",
     [str(-2 ** 127), str(2 ** 127 - 1)], True),
    ("uint256", "UInt256", "numeric", [D(2 ** 256 - 1)], "toString(v)", [str(2 ** 256 - 1)], True),
    ("float32", "Float32", "real", [1.5, -2.25, math.inf, math.nan], "toString(v)",
     ["1.5", "-2.25", "inf", "nan"], False),
    ("float64", "Float64", "double precision", [0.1, 1e308, -math.inf, 5e-324],
     "toString(v)", ["0.1", "1e308", "-inf", "5e-324"], False),
    ("decimal", "Decimal(10,2)", "numeric(10,2)", [D("12345678.91"), D("-0.01")], "toString(v)",
     ["12345678.91", "-0.01"], False),
    ("decimal128", "Decimal(38,10)", "numeric(38,10)",
     [D("1234567890123456789012345678.0123456789")],
     # (18.16's toString garbles large Decimal128 values; compare instead)
     "toString(v = toDecimal128('1234567890123456789012345678.0123456789', 10))", ["1"], False),
    ("string", "String", "text", ["", "héllo", "quote ' back \\ tab\t", "日本"], "toString(v)",
     ["", "héllo", "quote ' back \\ tab\t", "日本"], False),
    ("fixedstring", "FixedString(4)", "text", ["ab", "abcd"], "hex(v)", ["61620000", "61626364"], False),
    ("bytea", "String", "bytea", [b"\x00\xff\x01", b""], "hex(v)", ["00FF01", ""], False),
    ("uuid", "UUID", "uuid", [uuid.UUID("6d2b5f0a-1c1e-4b8e-9d3c-0f5a7e0b9c11")], "toString(v)",
     ["6d2b5f0a-1c1e-4b8e-9d3c-0f5a7e0b9c11"], False),
    ("date", "Date", "date", [dt.date(1970, 1, 1), dt.date(2024, 2, 29), dt.date(2149, 6, 6)],
     "toString(toUInt16(v))", ["0", "19782", "65535"], False),
    ("date32", "Date32", "date", [dt.date(1900, 1, 1), dt.date(2299, 12, 31)], "toString(v)",
     ["1900-01-01", "2299-12-31"], True),
    ("datetime", "DateTime('UTC')", "timestamp with time zone",
     [dt.datetime(2024, 5, 6, 7, 8, 9, tzinfo=UTC), dt.datetime(1970, 1, 1, tzinfo=UTC)],
     "toString(toUInt32(v))", ["1714979289", "0"], False),
    ("datetime_wall", "DateTime('Asia/Tokyo')", "timestamp without time zone",
     [dt.datetime(2024, 5, 6, 7, 8, 9)], "toString(toUnixTimestamp(v))",
     [str(int(dt.datetime(2024, 5, 6, 7, 8, 9, tzinfo=TOKYO).timestamp()))], False),
    ("datetime64", "DateTime64(6, 'UTC')", "timestamp with time zone",
     [dt.datetime(2024, 5, 6, 7, 8, 9, 123456, tzinfo=UTC), dt.datetime(1900, 1, 1, tzinfo=UTC)],
     "toString(v)", ["2024-05-06 07:08:09.123456", "1900-01-01 00:00:00.000000"], True),
    ("datetime64_wall", "DateTime64(3, 'Asia/Tokyo')", "timestamp without time zone",
     [dt.datetime(2024, 5, 6, 7, 8, 9, 125000)], "toString(v)", ["2024-05-06 07:08:09.125"], True),
    ("enum", "Enum8('a' = 1, 'b c' = -2)", "text", ["a", "b c"], "toString(v)", ["a", "b c"], False),
    ("nullable", "Nullable(Int32)", "integer", [None, 5], "toString(v)", [None, "5"], False),
    ("lowcard", "LowCardinality(String)", "text", ["x", "y"], "toString(v)", ["x", "y"], True),
    ("array_int", "Array(Int32)", "integer[]", [[1, 2, 3], []], "toString(v)", ["[1,2,3]", "[]"], False),
    ("array_str", "Array(Nullable(String))", "text[]", [["a", 'b"c', None]], "toString(v)",
     ["['a','b\"c',NULL]"], False),
    ("array_2d", "Array(Array(Int64))", "bigint[]", [[[1, 2], [3, 4]]], "toString(v)",
     ["[[1,2],[3,4]]"], False),
    ("bool", "Bool", "boolean", [True, False], "toString(v)", ["true", "false"], True),
    ("ipv4", "IPv4", "inet", ["10.1.2.3"], "toString(v)", ["10.1.2.3"], True),
    ("ipv6", "IPv6", "inet", ["2001:db8::1"], "toString(v)", ["2001:db8::1"], True),
    ("map", "Map(String, Int64)", "jsonb", [{"a": 1, "b": -2}], "toString(v)", ["{'a':1,'b':-2}"], True),
]


@pytest.mark.parametrize("case", TYPES, ids=[t[0] for t in TYPES])
def test_round_trip(pg, engine, server, uniq, case):
    _, ch_type, pg_type, values, expr, expected, modern_only = case
    if modern_only and not engine.modern:
        pytest.skip(f"ClickHouse 18.16 has no {ch_type}")
    foreign_table(pg, engine, server, uniq, f"id UInt32, v {ch_type}", f"id int, v {pg_type}",
                  engine_clause="MergeTree ORDER BY id")
    rows = [(i, psycopg.types.json.Jsonb(v) if pg_type == "jsonb" else v)
            for i, v in enumerate(values, 1)]
    with pg.cursor() as cur:
        cur.executemany(f"INSERT INTO {uniq} (id, v) VALUES (%s, %s::{pg_type})", rows)
    direct = [r[0] for r in engine.query(f"SELECT {expr} FROM default.{uniq} ORDER BY id")]
    if ch_type.startswith("Nullable"):
        direct = [r[0] for r in engine.query(
            f"SELECT if(isNull(v), NULL, toString(v)) FROM default.{uniq} ORDER BY id")]
    assert direct == expected
    back = [r[0] for r in pg.execute(f"SELECT v FROM {uniq} ORDER BY id").fetchall()]
    if pg_type == "inet":
        back = [str(v) for v in back]
    assert same(back, values), (back, values)


def test_round_trip_copy(pg, engine, server, uniq):
    """COPY FROM STDIN carries every column type through the same path."""
    foreign_table(pg, engine, server, uniq,
                  "id Int64, f Float64, s String, t DateTime('UTC'), d Decimal(18,4), n Nullable(String)",
                  "id bigint, f float8, s text, t timestamptz, d numeric(18,4), n text")
    rows = [(i, i / 7, f"s{i}\t\\x", dt.datetime(2020, 1, 1, tzinfo=UTC) + dt.timedelta(seconds=i),
             D(i) / 8, None if i % 3 else f"n{i}") for i in range(1, 501)]
    with pg.cursor() as cur:
        with cur.copy(f"COPY {uniq} FROM STDIN") as copy:
            for r in rows:
                copy.write_row(r)
    assert engine.query(f"SELECT count(), sum(id), countIf(isNull(n)) FROM default.{uniq}")[0] == \
        (500, sum(range(1, 501)), sum(1 for r in rows if r[5] is None))
    back = pg.execute(f"SELECT id, f, s, t, d, n FROM {uniq} ORDER BY id").fetchall()
    assert back == [(r[0], r[1], r[2], r[3], r[4].quantize(D("0.0001")), r[5]) for r in rows]


# ---------------------------------------------------------------- batches

def test_batches_and_error_mid_stream_counts_rows_sent(pg, engine, server, uniq):
    foreign_table(pg, engine, server, uniq, "id Int64, v UInt8", "id bigint, v int")
    pg.execute(f"ALTER FOREIGN TABLE {uniq} OPTIONS (ADD batch_size '100')")
    pg.execute(f"INSERT INTO {uniq} SELECT g, g % 200 FROM generate_series(1, 1000) g")
    assert engine.query(f"SELECT count(), sum(id) FROM default.{uniq}")[0] == (1000, 500500)
    engine.command(f"TRUNCATE TABLE default.{uniq}")
    # row 250 overflows UInt8: batches 1-200 were sent, 201-300 was not
    with pytest.raises(psycopg.errors.NumericValueOutOfRange) as exc:
        with pg.cursor() as cur:
            with cur.copy(f"COPY {uniq} FROM STDIN") as copy:
                for i in range(1, 1001):
                    copy.write_row((i, 300 if i == 250 else 1))
    msg, detail = exc.value.diag.message_primary, exc.value.diag.message_detail
    assert f'column "v" of foreign table public.{uniq}' in msg and "UInt8" in msg
    assert "Row 250 of the statement" in detail
    assert "200 rows of this statement had already been sent to ClickHouse (2 INSERTs)" in detail
    assert engine.query(f"SELECT count(), max(id) FROM default.{uniq}")[0] == (200, 200)


def test_batch_size_option_validated(pg, server):
    with pytest.raises(psycopg.errors.FdwInvalidAttributeValue):
        pg.execute(f"ALTER SERVER {server} OPTIONS (ADD batch_size '0')")
    pg.execute(f"ALTER SERVER {server} OPTIONS (ADD batch_size '5000')")
    pg.execute(f"ALTER SERVER {server} OPTIONS (DROP batch_size)")


def test_statement_rows_arrive_together_and_rollback_keeps_them(pg, engine, server, uniq):
    """Rows are sent at the end of the statement (not per row, not at
    COMMIT); ROLLBACK cannot take back what a finished statement sent."""
    foreign_table(pg, engine, server, uniq, "id Int64", "id bigint")
    pg.autocommit = False
    try:
        pg.execute(f"INSERT INTO {uniq} SELECT generate_series(1, 10)")
        assert engine.query(f"SELECT count() FROM default.{uniq}")[0][0] == 10
    finally:
        pg.rollback()
        pg.autocommit = True
    assert engine.query(f"SELECT count() FROM default.{uniq}")[0][0] == 10
    if engine.modern:   # one INSERT -> one part
        parts = engine.query(f"SELECT count() FROM system.parts WHERE database = 'default' "
                             f"AND table = '{uniq}' AND active")[0][0]
        assert parts == 1


def test_idempotent_load_with_deduplication_token(pg, engine, server, uniq):
    """insert_settings carries insert_deduplication_token: re-running the
    same load (same rows, same batch_size) stores nothing twice."""
    if not engine.modern:
        pytest.skip("insert_deduplication_token needs ClickHouse >= 22.2")
    foreign_table(pg, engine, server, uniq, "id Int64", "id bigint",
                  engine_clause="MergeTree ORDER BY id SETTINGS non_replicated_deduplication_window = 100")
    pg.execute(f"ALTER FOREIGN TABLE {uniq} OPTIONS (ADD batch_size '100', "
               "ADD insert_settings 'insert_deduplication_token=load-1')")
    for _ in range(2):
        pg.execute(f"INSERT INTO {uniq} SELECT generate_series(1, 250)")
    assert engine.query(f"SELECT count() FROM default.{uniq}")[0][0] == 250
    pg.execute(f"ALTER FOREIGN TABLE {uniq} OPTIONS (SET insert_settings 'insert_deduplication_token=load-2')")
    pg.execute(f"INSERT INTO {uniq} SELECT generate_series(1, 250)")
    assert engine.query(f"SELECT count() FROM default.{uniq}")[0][0] == 500


# ---------------------------------------------------------------- defaults, RETURNING

def test_omitted_columns_get_clickhouse_defaults(pg, engine, server, uniq):
    foreign_table(pg, engine, server, uniq,
                  "id Int64, s String DEFAULT 'dflt', m Int64 DEFAULT id * 2, n Nullable(Int32)",
                  "id bigint, s text, m bigint, n int")
    pg.execute(f"INSERT INTO {uniq} (id) VALUES (1), (2)")
    pg.execute(f"INSERT INTO {uniq} (id, s, m, n) VALUES (3, 'given', 7, NULL)")
    assert engine.query(f"SELECT id, s, m, n FROM default.{uniq} ORDER BY id") == \
        [(1, "dflt", 2, None), (2, "dflt", 4, None), (3, "given", 7, None)]
    assert "(`id`) VALUES" in explain(pg, f"INSERT INTO {uniq} (id) VALUES (1)")


def test_returning_given_columns_and_refusal_for_defaults(pg, engine, server, uniq):
    foreign_table(pg, engine, server, uniq, "id Int64, s String DEFAULT 'dflt'", "id bigint, s text")
    got = pg.execute(f"INSERT INTO {uniq} (id, s) VALUES (1, 'a'), (2, 'b') RETURNING s, id").fetchall()
    assert got == [("a", 1), ("b", 2)]
    with pytest.raises(psycopg.errors.FeatureNotSupported) as exc:
        pg.execute(f"INSERT INTO {uniq} (id) VALUES (3) RETURNING s")
    assert 'RETURNING column "s"' in str(exc.value)
    with pytest.raises(psycopg.errors.FeatureNotSupported):
        pg.execute(f"INSERT INTO {uniq} (id) VALUES (3) RETURNING *")
    assert engine.query(f"SELECT count() FROM default.{uniq}")[0][0] == 2


def test_on_conflict_refused(pg, engine, server, uniq):
    foreign_table(pg, engine, server, uniq, "id Int64", "id bigint")
    with pytest.raises(psycopg.errors.FeatureNotSupported, match="ON CONFLICT"):
        pg.execute(f"INSERT INTO {uniq} VALUES (1) ON CONFLICT DO NOTHING")


# ---------------------------------------------------------------- bad input

@pytest.mark.parametrize("ch_type,pg_type,value,error,text", [
    ("UInt8", "integer", 256, psycopg.errors.NumericValueOutOfRange, "out of range for ClickHouse type UInt8"),
    ("Int32", "bigint", 2 ** 31, psycopg.errors.NumericValueOutOfRange, "out of range"),
    ("UInt64", "bigint", -1, psycopg.errors.NumericValueOutOfRange, "out of range"),
    ("String", "text", None, psycopg.errors.NotNullViolation, "not Nullable"),
    ("FixedString(2)", "text", "abc", psycopg.errors.StringDataRightTruncation, "too long for ClickHouse type FixedString(2)"),
    ("Decimal(5,2)", "numeric", D("1.234"), psycopg.errors.NumericValueOutOfRange, "more than 2 decimal places"),
    ("Decimal(5,2)", "numeric", D("1000"), psycopg.errors.NumericValueOutOfRange, "out of range"),
    ("DateTime('UTC')", "timestamptz", dt.datetime(1969, 12, 31, 23, 0, 0, tzinfo=UTC),
     psycopg.errors.NumericValueOutOfRange, "out of range for ClickHouse type DateTime"),
    ("Date", "date", dt.date(1969, 12, 31), psycopg.errors.NumericValueOutOfRange, "out of range for ClickHouse type Date"),
    ("Enum8('a' = 1)", "text", "b", psycopg.errors.InvalidTextRepresentation, "is not a value of"),
], ids=["uint8", "int32", "uint64-negative", "null", "fixedstring", "decimal-scale", "decimal-precision",
        "datetime-range", "date-range", "enum"])
def test_bad_value_is_an_error_naming_the_column(pg, engine, server, uniq, ch_type, pg_type, value, error, text):
    foreign_table(pg, engine, server, uniq, f"id Int64, val {ch_type}", f"id bigint, val {pg_type}")
    with pytest.raises(error) as exc:
        pg.execute(f"INSERT INTO {uniq} VALUES (2, %s::{pg_type})", (value,))
    assert f'column "val" of foreign table public.{uniq}' in exc.value.diag.message_primary
    assert text in exc.value.diag.message_primary
    assert "No row of this statement had been sent" in exc.value.diag.message_detail
    assert engine.query(f"SELECT count() FROM default.{uniq}")[0][0] == 0


def test_unknown_column_and_unwritable_type_refused_before_sending(pg, engine, server, uniq):
    foreign_table(pg, engine, server, uniq, "id Int64, d Date", "id bigint, nope text, d date")
    with pytest.raises(psycopg.errors.FdwColumnNameNotFound) as exc:
        pg.execute(f"INSERT INTO {uniq} (id, nope) VALUES (1, 'x')")
    assert f'column "nope" of foreign table public.{uniq}' in str(exc.value)
    pg.execute(f"INSERT INTO {uniq} (id, d) VALUES (1, '2024-01-01')")   # nope omitted: fine
    pg.execute(f"DROP FOREIGN TABLE {uniq}")
    pg.execute(f"CREATE FOREIGN TABLE {uniq} (id bigint, d timestamptz) SERVER {server}")
    with pytest.raises(psycopg.errors.FdwInvalidDataType, match='column "d"'):
        pg.execute(f"INSERT INTO {uniq} VALUES (1, now())")
    assert engine.query(f"SELECT count() FROM default.{uniq}")[0][0] == 1


def test_clickhouse_rejection_reports_rows_sent(pg, engine, server, uniq):
    """An INSERT ClickHouse itself rejects (here a materialized view that
    throws on id 15) fails the statement with ClickHouse's error, naming the
    table and the rows already sent."""
    foreign_table(pg, engine, server, uniq, "id Int64", "id bigint")
    engine.command(f"CREATE MATERIALIZED VIEW default.{uniq}_mv ENGINE = Memory "
                   f"AS SELECT throwIf(id = 15) AS x FROM default.{uniq}")
    pg.execute(f"ALTER FOREIGN TABLE {uniq} OPTIONS (ADD batch_size '10')")
    with pytest.raises(psycopg.Error) as exc:
        pg.execute(f"INSERT INTO {uniq} SELECT generate_series(1, 25)")
    assert f"INSERT into ClickHouse table default.{uniq} failed" in exc.value.diag.message_primary
    assert "throwIf" in exc.value.diag.message_primary
    assert "10 rows of this statement had already been sent" in exc.value.diag.message_detail
    assert engine.query(f"SELECT min(id) FROM default.{uniq}")[0][0] == 1


# ---------------------------------------------------------------- UPDATE / DELETE

@pytest.fixture
def rows(pg, engine, server, uniq):
    foreign_table(pg, engine, server, uniq,
                  "id Int64, s String, v UInt8, n Nullable(Int64)",
                  "id bigint, s text, v smallint, n bigint",
                  [(i, f"s{i}", i, None) for i in range(1, 11)], ["id", "s", "v", "n"],
                  engine_clause="MergeTree ORDER BY id")
    return uniq


def test_delete_pushed_down_waits_and_counts(pg, engine, rows):
    plan = explain(pg, f"DELETE FROM {rows} WHERE id > 7")
    sql = "DELETE FROM `default`" if engine.version >= (23, 3) else "ALTER TABLE `default`"
    assert sql in plan and "WHERE (`id` > 7)" in plan
    cur = pg.execute(f"DELETE FROM {rows} WHERE id > 7")
    assert cur.rowcount == 3
    assert engine.query(f"SELECT count() FROM default.{rows}")[0][0] == 7      # visible at once
    assert pg.execute(f"SELECT count(*) FROM {rows}").fetchone()[0] == 7
    assert pg.execute(f"DELETE FROM {rows} WHERE id > 100").rowcount == 0
    assert pg.execute(f"DELETE FROM {rows}").rowcount == 7
    assert engine.query(f"SELECT count() FROM default.{rows}")[0][0] == 0


def test_update_constants_params_and_columns(pg, engine, rows):
    cur = pg.execute(f"UPDATE {rows} SET s = %s, n = %s WHERE id BETWEEN %s AND %s",
                     ("new", 2 ** 40, 2, 4))
    assert cur.rowcount == 3
    assert engine.query(f"SELECT id, s, n FROM default.{rows} WHERE id <= 5 ORDER BY id") == \
        [(1, "s1", None), (2, "new", 2 ** 40), (3, "new", 2 ** 40), (4, "new", 2 ** 40), (5, "s5", None)]
    assert pg.execute(f"UPDATE {rows} SET n = NULL, s = upper('x' || 'y') WHERE id = 2").rowcount == 1
    assert pg.execute(f"SELECT s, n FROM {rows} WHERE id = 2").fetchone() == ("XY", None)
    assert "ALTER TABLE `default`" in explain(pg, f"UPDATE {rows} SET s = 'q' WHERE id = 1")


def test_update_value_checked_before_anything_changes(pg, engine, rows):
    with pytest.raises(psycopg.errors.NumericValueOutOfRange, match='column "v"'):
        pg.execute(f"UPDATE {rows} SET v = 300 WHERE id = 1")
    with pytest.raises(psycopg.errors.NotNullViolation, match='column "s"'):
        pg.execute(f"UPDATE {rows} SET s = NULL WHERE id = 1")
    assert engine.query(f"SELECT v, s FROM default.{rows} WHERE id = 1") == [(1, "s1")]


@pytest.mark.parametrize("sql,reason", [
    ("DELETE FROM {t} WHERE s ~ 'x'", "cannot be evaluated by ClickHouse"),
    ("DELETE FROM {t} WHERE id = 1 RETURNING id", "RETURNING is not supported"),
    ("UPDATE {t} SET s = md5(s) WHERE id = 1", "SET s = md5(s)"),
    ("UPDATE {t} SET v = (random() * 10)::int WHERE id = 1", 'value for column "v" must be computed row by row'),
    ("DELETE FROM {t} USING generate_series(1, 2) AS g WHERE {t}.id = g", "reads other tables"),
], ids=["local-where", "returning", "set-expression", "volatile", "join"])
def test_update_delete_refused_with_reason(pg, engine, rows, sql, reason):
    with pytest.raises(psycopg.errors.FeatureNotSupported) as exc:
        pg.execute(sql.format(t=rows))
    assert reason in str(exc.value)
    assert engine.query(f"SELECT count(), sum(length(s)) FROM default.{rows}")[0] == (10, 21)
