"""ch_fdw.multicorn.ClickHouseFdw under a real multicorn2 3.2, against every
ClickHouse engine: types, filters (same rows as local PostgreSQL tables),
sort + limit, IMPORT FOREIGN SCHEMA, INSERT, errors, a 1M-row scan in flat
memory, cancellation, and living next to the ch_fdw extension.

The main cluster has no ch_fdw extension at all (the "cannot load another
C extension" case); the coexistence tests use a second one with
shared_preload_libraries = ch_fdw."""

from __future__ import annotations

import datetime as dt
import os
import time
from decimal import Decimal

import psycopg
import pytest

from mcluster import Cluster, multicorn_missing

_why = multicorn_missing()
pytestmark = pytest.mark.skipif(_why is not None, reason=_why or "")


@pytest.fixture(scope="module")
def mc_cluster(tmp_path_factory):
    c = Cluster(tmp_path_factory.mktemp("mc"), preload_ch_fdw=False)
    with psycopg.connect(c.dsn, autocommit=True) as conn:
        conn.execute("CREATE EXTENSION multicorn")
    yield c
    c.remove()


_mc_servers: set = set()


def _mc_server(conn, engine, name=None, extra="") -> str:
    name = name or "mc_" + engine.name.replace("-", "_")
    if (conn.info.port, name) not in _mc_servers:
        conn.execute(f"CREATE SERVER {name} FOREIGN DATA WRAPPER multicorn OPTIONS ("
                     f"wrapper 'ch_fdw.multicorn.ClickHouseFdw', {engine.server_options}{extra})")
        conn.execute(f"CREATE USER MAPPING FOR CURRENT_USER SERVER {name} OPTIONS (user 'default', password '')")
        _mc_servers.add((conn.info.port, name))
    return name


@pytest.fixture
def mc(mc_cluster):
    with psycopg.connect(mc_cluster.dsn, autocommit=True) as c:
        yield c


@pytest.fixture
def mserver(mc, engine) -> str:
    return _mc_server(mc, engine)


def _table(mc, engine, server, name, ch_cols, pg_cols, rows=None, names=None, order="tuple()"):
    engine.command(f"DROP TABLE IF EXISTS default.{name}")
    engine.command(f"CREATE TABLE default.{name} ({ch_cols}) ENGINE = MergeTree ORDER BY {order}")
    if rows:
        engine.insert(f"default.{name}", rows, names)
    mc.execute(f"DROP FOREIGN TABLE IF EXISTS {name}")
    mc.execute(f"CREATE FOREIGN TABLE {name} ({pg_cols}) SERVER {server} OPTIONS (table_name '{name}')")


def _plan(mc, sql: str) -> str:
    return "\n".join(r[0] for r in mc.execute("EXPLAIN (VERBOSE, COSTS OFF) " + sql))


# ------------------------------------------------------------------ types

def test_types_round_trip(mc, engine, mserver, uniq):
    cols = ("i8 Int8, u8 UInt8, i32 Int32, u32 UInt32, i64 Int64, u64 UInt64, f32 Float32, f64 Float64, "
            "d Decimal(10,2), s String, fs FixedString(3), n Nullable(Int32), dt Date, ts DateTime('UTC'), "
            "u UUID, a Array(Int32), sa Array(String)")
    names = ["i8", "u8", "i32", "u32", "i64", "u64", "f32", "f64", "d", "s", "fs", "n", "dt", "ts", "u", "a", "sa"]
    import uuid
    rows = [(-128, 255, -2 ** 31, 2 ** 32 - 1, -2 ** 63, 2 ** 64 - 1, 1.5, float("nan"), Decimal("-12345678.90"),
             "héllo 'q' \\ \"x\"", "ab", None, dt.date(2024, 2, 29), dt.datetime(2024, 2, 29, 23, 59, 58),
             uuid.UUID("12345678-1234-5678-1234-567812345678"), [1, -2, 3], ["a b", "c,d", "é\"}"]),
            (0, 0, 0, 0, 0, 0, -0.25, float("-inf"), Decimal("0.05"), "", "xyz", 7, dt.date(1970, 1, 1),
             dt.datetime(1970, 1, 1, 0, 0, 1), uuid.UUID(int=0), [], [])]
    _table(mc, engine, mserver, uniq, cols, "i8 smallint, u8 smallint, i32 integer, u32 bigint, i64 bigint, "
           "u64 numeric(20,0), f32 real, f64 double precision, d numeric(10,2), s text, fs text, n integer, "
           "dt date, ts timestamptz, u uuid, a integer[], sa text[]", rows, names)
    mc.execute("SET TimeZone = 'UTC'")
    got = mc.execute(f"SELECT {', '.join(names)} FROM {uniq} ORDER BY i8").fetchall()
    want = sorted(rows, key=lambda r: r[0])
    assert len(got) == 2
    for g, w in zip(got, want):
        for name, a, b in zip(names, g, w):
            if name == "f64" and isinstance(b, float) and b != b:
                assert a != a, name
            elif name == "ts":
                assert a == b.replace(tzinfo=dt.timezone.utc), name
            elif name == "fs":
                assert a == b.rstrip("\x00"), name
            else:
                assert a == b, name


def test_wrong_declared_type_is_an_error_naming_the_column(mc, engine, mserver, uniq):
    _table(mc, engine, mserver, uniq, "id Int32, s String", "id integer, s integer", [(1, "x")], ["id", "s"])
    with pytest.raises(psycopg.Error) as e:
        mc.execute(f"SELECT s FROM {uniq}").fetchall()
    assert 'column "s"' in str(e.value) and "String" in str(e.value)


def test_nul_in_text_is_an_error(mc, engine, mserver, uniq):
    _table(mc, engine, mserver, uniq, "s String", "s text", [("a\x00b",)], ["s"])
    with pytest.raises(psycopg.Error, match="NUL"):
        mc.execute(f"SELECT s FROM {uniq}").fetchall()


# ------------------------------------------------------------------ filters

FILTER_ROWS = [(i, None if i % 7 == 0 else i * 0.1, f"n{i % 5}" if i % 6 else None,
                Decimal(i) / 4, dt.date(2024, 1, 1) + dt.timedelta(days=i),
                dt.datetime(2024, 1, 1) + dt.timedelta(seconds=i * 3601), i % 3 == 0)
               for i in range(1, 61)]
FILTERS = [
    "id = 5", "id <> 5", "id < 10", "id >= 55", "id > 3000000000", "id IN (1, 2, 60, 99)",
    "id NOT IN (1, 2, 3)", "id = 5::bigint", "x = 0.5", "x > 1.5", "x <= 2.0000000000000004",
    "x < 1e-300", "x IS NULL", "x IS NOT NULL", "x = 'NaN'", "x IN (0.1, 0.2)",
    "s = 'n1'", "s <> 'n1'", "s IS NULL", "s LIKE 'n%'", "s NOT LIKE '%1'", "s IN ('n1', 'n2')",
    "s < 'n2'", "d = 2.5", "d > 10", "d <= 0.75", "d = 0.1", "day = '2024-01-05'", "day < '2024-01-10'",
    "day >= '2024-02-01'::date", "ts = '2024-01-01 01:00:01'", "ts > '2024-01-02 00:00:00.5'",
    "ts <= '2024-01-02 01:00:00'", "ts < '2024-01-01 05:00:00'::timestamptz",
    "ts = '2024-01-01 02:00:02+00'::timestamptz", "flag", "NOT flag", "flag IS TRUE",
    "flag IS NOT FALSE", "flag = true", "id > 10 AND s = 'n2'", "id < 5 OR s = 'n3'",
    "id % 7 = 0", "upper(s) = 'N1'", "x + 1 > 2",
    # values computed at execution (initplan parameters)
    "ts < (SELECT now())", "day <= (SELECT current_date)", "id < (SELECT 7)",
]


@pytest.fixture
def filtered(mc, engine, mserver, uniq):
    cols = ("id Int64, x Nullable(Float64), s Nullable(String), d Decimal(10,2), day Date, "
            "ts DateTime('UTC'), flag UInt8")
    _table(mc, engine, mserver, uniq, cols, "id bigint, x double precision, s text, d numeric(10,2), day date, "
           "ts timestamp, flag boolean", FILTER_ROWS, ["id", "x", "s", "d", "day", "ts", "flag"], order="id")
    local = f"local_{uniq}"
    mc.execute(f"CREATE TABLE {local} (id bigint, x double precision, s text, d numeric(10,2), day date, "
               "ts timestamp, flag boolean)")
    with mc.cursor() as cur:
        cur.executemany(f"INSERT INTO {local} VALUES (%s, %s, %s, %s, %s, %s, %s)", FILTER_ROWS)
    yield uniq, local
    mc.execute(f"DROP TABLE {local}")


def test_filters_return_postgres_rows(mc, filtered):
    ft, local = filtered
    for cond in FILTERS:
        q = "SELECT id FROM {} WHERE " + cond + " ORDER BY id"
        want = mc.execute(q.format(local)).fetchall()
        got = mc.execute(q.format(ft)).fetchall()
        assert got == want, cond


@pytest.mark.xfail(reason="multicorn2 3.2 bug: for `column op stable-function()` it reads the value's "
                          "type from a node that is not a Param and fails with 'lookup failed for type'; "
                          "workaround: (SELECT now()); whether it fails depends on memory contents", strict=False)
def test_stable_function_constant_multicorn_bug(mc, filtered):
    ft, local = filtered
    for cond in ("ts < now()", "ts < localtimestamp", "day <= current_date"):
        q = "SELECT id FROM {} WHERE " + cond + " ORDER BY id"
        assert mc.execute(q.format(ft)).fetchall() == mc.execute(q.format(local)).fetchall(), cond


def test_filters_are_pushed_when_exact(mc, filtered):
    ft, _ = filtered
    plan = _plan(mc, f"SELECT id FROM {ft} WHERE id = 5 AND s = 'n1'")
    assert "ClickHouse query: SELECT" in plan and "WHERE" in plan and "`id` = 5" in plan and "'n1'" in plan
    # a float constant is known to its last printed digit: a range is sent
    plan = _plan(mc, f"SELECT id FROM {ft} WHERE x = 0.5")
    assert "`x` >= 0.45" in plan and "`x` <= 0.55" in plan
    # expressions multicorn does not hand over stay in PostgreSQL
    plan = _plan(mc, f"SELECT id FROM {ft} WHERE id % 7 = 0")
    assert "WHERE" not in plan.split("ClickHouse query:")[1].splitlines()[0]


def test_projection_fetches_only_needed_columns(mc, filtered):
    ft, _ = filtered
    plan = _plan(mc, f"SELECT s FROM {ft}")
    line = plan.split("ClickHouse query:")[1].splitlines()[0]
    assert "`s`" in line and "`id`" not in line and "`x`" not in line
    assert mc.execute(f"SELECT count(*) FROM {ft}").fetchone()[0] == len(FILTER_ROWS)


def test_prepared_statement_parameters(mc, filtered):
    ft, local = filtered
    for v in (3, 17):
        got = mc.execute(f"SELECT id FROM {ft} WHERE id > %s AND id < %s + 5 ORDER BY id", (v, v)).fetchall()
        want = mc.execute(f"SELECT id FROM {local} WHERE id > %s AND id < %s + 5 ORDER BY id", (v, v)).fetchall()
        assert got == want


# ------------------------------------------------------------------ sort + limit

def test_sort_and_limit_are_pushed(mc, filtered):
    ft, local = filtered
    q = "SELECT id, x FROM {} ORDER BY x DESC NULLS LAST, id LIMIT 5 OFFSET 3"
    plan = _plan(mc, q.format(ft))
    line = plan.split("ClickHouse query:")[1].splitlines()[0]
    assert "ORDER BY" in line and "LIMIT 8" in line
    assert "Limit" not in plan.split("Foreign Scan")[0] or "Sort" not in plan
    assert mc.execute(q.format(ft)).fetchall() == mc.execute(q.format(local)).fetchall()


def test_text_sort_only_pushed_under_c_collation(mc, filtered):
    ft, local = filtered
    q = "SELECT id, s FROM {} ORDER BY s COLLATE \"C\" NULLS FIRST, id LIMIT 10"
    line = _plan(mc, q.format(ft)).split("ClickHouse query:")[1].splitlines()[0]
    assert "ORDER BY `s`" in line
    assert mc.execute(q.format(ft)).fetchall() == mc.execute(q.format(local)).fetchall()
    q = "SELECT id, s FROM {} ORDER BY s, id LIMIT 10"
    line = _plan(mc, q.format(ft)).split("ClickHouse query:")[1].splitlines()[0]
    assert "ORDER BY" not in line
    assert mc.execute(q.format(ft)).fetchall() == mc.execute(q.format(local)).fetchall()


def test_limit_with_local_filter_stops_the_remote_query(mc, filtered):
    ft, local = filtered
    q = "SELECT id FROM {} WHERE id % 2 = 0 ORDER BY id LIMIT 3"
    assert mc.execute(q.format(ft)).fetchall() == mc.execute(q.format(local)).fetchall()
    # the connection is usable right after an abandoned stream
    assert mc.execute(f"SELECT count(*) FROM {ft}").fetchone()[0] == len(FILTER_ROWS)


# ------------------------------------------------------------------ IMPORT

def test_import_foreign_schema_limit_to_and_except(mc, engine, uniq):
    db = f"imp_{uniq}"
    engine.command(f"CREATE DATABASE {db}")
    try:
        engine.command(f"CREATE TABLE {db}.a (id Int64, name Nullable(String)) ENGINE = MergeTree ORDER BY id")
        engine.command(f"CREATE TABLE {db}.b (v Float64) ENGINE = MergeTree ORDER BY tuple()")
        engine.command(f"CREATE TABLE {db}.`C` (d Date) ENGINE = MergeTree ORDER BY tuple()")
        engine.insert(f"{db}.a", [(1, "x"), (2, None)], ["id", "name"])
        server = _mc_server(mc, engine, name=f"mci_{uniq}", extra=f", dbname '{db}'")
        for s in ("s1", "s2", "s3"):
            mc.execute(f"CREATE SCHEMA {s}_{uniq}")
        mc.execute(f"IMPORT FOREIGN SCHEMA {db} LIMIT TO (a, \"C\") FROM SERVER {server} INTO s1_{uniq}")
        mc.execute(f"IMPORT FOREIGN SCHEMA {db} EXCEPT (a) FROM SERVER {server} INTO s2_{uniq}")
        mc.execute(f"IMPORT FOREIGN SCHEMA {db} FROM SERVER {server} INTO s3_{uniq}")

        def tables(s):
            return sorted(r[0] for r in mc.execute(
                "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                "WHERE n.nspname = %s AND c.relkind = 'f'", (f"{s}_{uniq}",)))
        assert tables("s1") == ["C", "a"] and tables("s2") == ["C", "b"] and tables("s3") == ["C", "a", "b"]
        assert mc.execute(f"SELECT id, name FROM s1_{uniq}.a ORDER BY id").fetchall() == [(1, "x"), (2, None)]
        cols = mc.execute("SELECT attname, format_type(atttypid, atttypmod), attnotnull FROM pg_attribute "
                          f"WHERE attrelid = 's1_{uniq}.a'::regclass AND attnum > 0 ORDER BY attnum").fetchall()
        assert cols == [("id", "bigint", True), ("name", "text", False)]
        with pytest.raises(psycopg.Error, match="does not exist"):
            mc.execute(f"IMPORT FOREIGN SCHEMA nosuchdb_{uniq} FROM SERVER {_mc_server(mc, engine)} "
                       f"INTO s1_{uniq}")
        with pytest.raises(psycopg.Error, match="dbname"):
            mc.execute(f"IMPORT FOREIGN SCHEMA \"default\" FROM SERVER {server} INTO s1_{uniq}")
    finally:
        engine.command(f"DROP DATABASE IF EXISTS {db}")


# ------------------------------------------------------------------ INSERT

def test_insert_batches_and_values(mc, engine, mserver, uniq):
    cols = "id Int64, s Nullable(String), d Decimal(10,2), f Float64, day Date, ts DateTime('UTC'), ok UInt8"
    _table(mc, engine, mserver, uniq, cols, "id bigint, s text, d numeric(10,2), f double precision, day date, "
           "ts timestamptz, ok boolean", order="id")
    mc.execute(f"ALTER FOREIGN TABLE {uniq} OPTIONS (ADD batch_size '4000')")
    mc.execute(f"INSERT INTO {uniq} VALUES (1, 'a''b', 12345678.91, 0.1, '2024-02-29', "
               "'2024-01-01 10:00:00+02', true), (2, NULL, -0.05, 'NaN', '1970-01-01', '1970-01-01 00:00:00+00', false)")
    r = mc.execute(f"INSERT INTO {uniq} SELECT g, 'v' || g, g / 100.0, g * 0.5, '2024-01-01'::date + g % 100, "
                   "'2024-01-01 00:00:00+00'::timestamptz + g * interval '1 second', g % 2 = 0 "
                   "FROM generate_series(3, 10002) g RETURNING id")
    assert len(r.fetchall()) == 10000
    assert engine.query(f"SELECT count(), sum(id) FROM default.{uniq}")[0] == (10002, sum(range(1, 10003)))
    got = engine.query(f"SELECT id, s, toString(d), f, toString(day), toString(ts), ok FROM default.{uniq} "
                       "WHERE id <= 2 ORDER BY id")
    assert got[0] == (1, "a'b", "12345678.91", 0.1, "2024-02-29", "2024-01-01 08:00:00", 1)
    assert got[1][:3] == (2, None, "-0.05") and got[1][3] != got[1][3] and got[1][6] == 0
    # (18.16 prints the epoch as 0000-00-00)
    assert engine.query(f"SELECT toUInt16(day), toUInt32(ts) FROM default.{uniq} WHERE id = 2") == [(0, 0)]
    # read back through the wrapper
    assert mc.execute(f"SELECT d, s FROM {uniq} WHERE id = 10002").fetchone() == (Decimal("100.02"), "v10002")


def test_insert_errors_send_nothing_of_the_batch(mc, engine, mserver, uniq):
    _table(mc, engine, mserver, uniq, "id Int64, small UInt8, s String", "id bigint, small integer, s text")
    with pytest.raises(psycopg.Error, match="out of range") as e:
        mc.execute(f"INSERT INTO {uniq} VALUES (1, 1, 'a'), (2, 300, 'b')")
    assert "small" in str(e.value)
    with pytest.raises(psycopg.Error, match="NULL") as e:
        mc.execute(f"INSERT INTO {uniq} (id, small) VALUES (3, 3)")   # s omitted: multicorn sends NULL
    assert engine.query(f"SELECT count() FROM default.{uniq}")[0][0] == 0
    engine.insert(f"default.{uniq}", [(1, 1, "a")], ["id", "small", "s"])
    with pytest.raises(psycopg.Error, match="UPDATE and DELETE"):
        mc.execute(f"DELETE FROM {uniq} WHERE id = 1")
    with pytest.raises(psycopg.Error, match="UPDATE and DELETE"):
        mc.execute(f"UPDATE {uniq} SET s = 'b'")


def test_insert_refuses_types_multicorn_converts_with_loss(mc, engine, mserver, uniq):
    _table(mc, engine, mserver, uniq, "d Decimal(38,10), ts DateTime('UTC')", "d numeric, ts timestamp")
    with pytest.raises(psycopg.Error, match="as float"):
        mc.execute(f"INSERT INTO {uniq} (d) VALUES (0.1000000000000000001)")
    assert engine.query(f"SELECT count() FROM default.{uniq}")[0][0] == 0


# ------------------------------------------------------------------ errors

def test_errors_carry_clickhouse_text_and_no_password(mc, engine, uniq):
    secret = f"pw-{uniq}-secret"
    name = f"mcbad_{uniq}"
    mc.execute(f"CREATE SERVER {name} FOREIGN DATA WRAPPER multicorn OPTIONS ("
               f"wrapper 'ch_fdw.multicorn.ClickHouseFdw', {engine.server_options})")
    mc.execute(f"CREATE USER MAPPING FOR CURRENT_USER SERVER {name} OPTIONS (user 'nobody_{uniq}', "
               f"password '{secret}')")
    mc.execute(f"CREATE FOREIGN TABLE {name}_t (id bigint) SERVER {name} OPTIONS (table_name 'x')")
    with pytest.raises(psycopg.Error) as e:
        mc.execute(f"SELECT * FROM {name}_t").fetchall()
    text = str(e.value) + str(e.value.diag.message_detail) + str(e.value.diag.message_hint)
    assert "ClickHouse" in text and secret not in text
    with pytest.raises(psycopg.Error) as e:
        mc.execute(f"EXPLAIN SELECT * FROM {name}_t")
    assert secret not in str(e.value) + str(e.value.diag.message_detail)


def test_missing_table_and_bad_options(mc, engine, mserver, uniq):
    mc.execute(f"CREATE FOREIGN TABLE {uniq} (id bigint) SERVER {mserver} OPTIONS (table_name 'nope_{uniq}')")
    with pytest.raises(psycopg.Error, match="does not exist") as e:
        mc.execute(f"SELECT * FROM {uniq}").fetchall()
    assert "SQLSTATE: HV00R" in e.value.diag.message_detail
    mc.execute(f"CREATE FOREIGN TABLE {uniq}_o (id bigint) SERVER {mserver} OPTIONS (table_name 'x', fetchsize '1')")
    with pytest.raises(psycopg.Error, match='invalid option "fetchsize"'):
        mc.execute(f"SELECT * FROM {uniq}_o").fetchall()
    mc.execute(f"CREATE FOREIGN TABLE {uniq}_n (id bigint) SERVER {mserver}")
    with pytest.raises(psycopg.Error, match="table_name"):
        mc.execute(f"SELECT * FROM {uniq}_n").fetchall()
    mc.execute(f"CREATE FOREIGN TABLE {uniq}_v (id bigint) SERVER {mserver} OPTIONS (table_name 'x', fetch_size '0')")
    with pytest.raises(psycopg.Error, match="fetch_size"):
        mc.execute(f"SELECT * FROM {uniq}_v").fetchall()


# ------------------------------------------------------------------ streaming

def _rss_kb(pid: int, field: str) -> int:
    for line in open(f"/proc/{pid}/status"):
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise AssertionError(field)


def test_million_row_scan_in_flat_memory(mc, engine, mserver, uniq):
    engine.command(f"DROP TABLE IF EXISTS default.{uniq}")
    engine.command(f"CREATE TABLE default.{uniq} (id UInt64, pad String) ENGINE = MergeTree ORDER BY id")
    engine.command(f"INSERT INTO default.{uniq} SELECT number, concat('row-', toString(number), "
                   "'-xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx') "
                   "FROM system.numbers LIMIT 1000000")
    mc.execute(f"CREATE FOREIGN TABLE {uniq} (id bigint, pad text) SERVER {mserver} "
               f"OPTIONS (table_name '{uniq}'{os.environ.get('MC_FETCH', '')})")
    pid = mc.execute("SELECT pg_backend_pid()").fetchone()[0]
    mc.execute(f"SELECT count(*) FROM (SELECT * FROM {uniq} LIMIT 1000) s").fetchone()   # warm up
    before = _rss_kb(pid, "VmRSS")
    n, total, width = mc.execute(f"SELECT count(*), sum(id), sum(length(pad)) FROM {uniq}").fetchone()
    assert n == 1_000_000 and total == 999999 * 1000000 // 2 and width > 90_000_000
    first = _rss_kb(pid, "VmHWM") - before
    for _ in range(2):
        assert mc.execute(f"SELECT count(*) FROM {uniq} WHERE pad <> ''").fetchone()[0] == 1_000_000
    again = _rss_kb(pid, "VmHWM") - before - first
    # flat: the first scan's batch-sized working set (the rows hold ~100 MB
    # of text) is reused by the next scans, which raise the peak by ~nothing
    assert first < 120_000 and again < 10_000, (first, again)


def test_statement_timeout_cancels_the_remote_query(mc, engine, mserver, uniq):
    # seconds of work in ClickHouse before the first row
    engine.command(f"CREATE VIEW default.{uniq} AS SELECT sum(sipHash64(number)) AS x "
                   "FROM numbers(3000000000)")
    mc.execute(f"CREATE FOREIGN TABLE {uniq} (x numeric) SERVER {mserver} OPTIONS (table_name '{uniq}')")
    # a new backend imports the Python core on first use, which no cancel
    # can interrupt (seconds on a loaded machine): do that first
    mc.execute(f"EXPLAIN SELECT x FROM {uniq}")
    mc.execute("SET statement_timeout = '1s'")
    t0 = time.monotonic()
    with pytest.raises(psycopg.Error, match="canceling statement"):
        mc.execute(f"SELECT x FROM {uniq}").fetchone()
    assert time.monotonic() - t0 < 4
    deadline = time.monotonic() + 3
    while engine.query(f"SELECT count() FROM system.processes WHERE query LIKE '%{uniq}%' "
                       "AND query NOT LIKE '%system.processes%'")[0][0]:
        assert time.monotonic() < deadline, "the ClickHouse query is still running"
        time.sleep(0.1)
    mc.execute("RESET statement_timeout")
    assert mc.execute("SELECT 1").fetchone() == (1,)


# ------------------------------------------------------------------ next to the extension

@pytest.fixture(scope="module")
def both_cluster(tmp_path_factory):
    """shared_preload_libraries = ch_fdw (the interpreter starts in the
    postmaster), with both extensions in one database."""
    c = Cluster(tmp_path_factory.mktemp("mcboth"), preload_ch_fdw=True)
    with psycopg.connect(c.dsn, autocommit=True) as conn:
        conn.execute("CREATE EXTENSION multicorn")
        conn.execute("CREATE EXTENSION ch_fdw")
    yield c
    c.remove()


def test_wrapper_and_extension_in_one_backend(both_cluster, engine, uniq):
    rows = [(i, f"v{i}", i * 0.25, dt.date(2020, 1, 1) + dt.timedelta(days=i)) for i in range(1, 201)]
    engine.command(f"CREATE TABLE default.{uniq} (id Int64, s String, f Float64, d Date) "
                   "ENGINE = MergeTree ORDER BY id")
    engine.insert(f"default.{uniq}", rows, ["id", "s", "f", "d"])
    with psycopg.connect(both_cluster.dsn, autocommit=True) as c:
        ms = _mc_server(c, engine, name=f"mcb_{uniq}")
        c.execute(f"CREATE SERVER xb_{uniq} FOREIGN DATA WRAPPER ch_fdw OPTIONS ({engine.server_options})")
        c.execute(f"CREATE USER MAPPING FOR CURRENT_USER SERVER xb_{uniq} OPTIONS (user 'default')")
        c.execute(f"CREATE FOREIGN TABLE m_{uniq} (id bigint, s text, f float8, d date) SERVER {ms} "
                  f"OPTIONS (table_name '{uniq}')")
        c.execute(f"CREATE FOREIGN TABLE x_{uniq} (id bigint, s text, f float8, d date) SERVER xb_{uniq} "
                  f"OPTIONS (table_name '{uniq}')")
    q = "SELECT id, s, f, d FROM {} WHERE id > 50 AND f < 40 ORDER BY id"
    for first, second in (("m", "x"), ("x", "m")):    # either may run Python first in a backend
        with psycopg.connect(both_cluster.dsn, autocommit=True) as c:
            a = c.execute(q.format(f"{first}_{uniq}")).fetchall()
            b = c.execute(q.format(f"{second}_{uniq}")).fetchall()
            j = c.execute(f"SELECT count(*) FROM m_{uniq} m JOIN x_{uniq} x USING (id, s, f, d)").fetchone()[0]
            assert a == b == [r for r in rows if r[0] > 50 and r[2] < 40] and j == 200
