"""Writes as applications do them: now() into DateTime/DateTime64 rounds as
PostgreSQL's timestamp(p) does, IMPORT declares the precision, error
DETAILs show timestamps as timestamps.  Runs on every engine."""

from __future__ import annotations

import datetime as dt

import psycopg
import pytest

from helpers import explain, foreign_table


@pytest.fixture(scope="module")
def pg(pg_dsn):
    with psycopg.connect(pg_dsn, autocommit=True) as c:
        c.execute("SET TimeZone = 'UTC'")
        yield c


# half-way cases on both sides of PostgreSQL's epoch (2000-01-01), where its
# half-away-from-zero rounding goes different ways
STAMPS = ["2024-05-06 07:08:09.5+00", "2024-05-06 07:08:09.4999+00", "1999-12-31 23:59:59.5+00",
          "1999-12-31 23:59:58.0005+00", "2024-05-06 07:08:09.1235+00", "1985-01-01 00:00:00.0625+00"]


@pytest.mark.parametrize("ch_type,p", [("DateTime('UTC')", 0), ("DateTime64(3, 'UTC')", 3),
                                       ("DateTime64(1, 'UTC')", 1)])
def test_timestamps_round_as_postgresql_timestamp_p(pg, engine, server, uniq, ch_type, p):
    if "64" in ch_type and not engine.modern:
        pytest.skip("ClickHouse 18.16 has no DateTime64")
    foreign_table(pg, engine, server, uniq, f"id UInt32, ts {ch_type}", "id int, ts timestamptz",
                  engine_clause="MergeTree ORDER BY id")
    with pg.cursor() as cur:
        cur.executemany(f"INSERT INTO {uniq} VALUES (%s, %s::timestamptz)", list(enumerate(STAMPS)))
        pg.execute(f"INSERT INTO {uniq} VALUES (100, now()), (101, clock_timestamp())")
    got = pg.execute(f"SELECT id, ts FROM {uniq} WHERE id < 100 ORDER BY id").fetchall()
    want = [(i, pg.execute(f"SELECT %s::timestamptz({p})", (s,)).fetchone()[0])
            for i, s in enumerate(STAMPS)]
    assert got == want
    assert pg.execute(f"SELECT count(*) FROM {uniq} WHERE id >= 100").fetchone()[0] == 2


def test_timestamp_without_time_zone_and_update_round(pg, engine, server, uniq):
    foreign_table(pg, engine, server, uniq, "id UInt32, ts DateTime('UTC')", "id int, ts timestamp",
                  engine_clause="MergeTree ORDER BY id")
    pg.execute(f"INSERT INTO {uniq} VALUES (1, '2024-01-01 10:00:00.7'), (2, localtimestamp)")
    assert pg.execute(f"SELECT ts::text FROM {uniq} WHERE id = 1").fetchone()[0] == "2024-01-01 10:00:01"
    pg.execute(f"UPDATE {uniq} SET ts = '2024-01-01 10:00:02.5' WHERE id = 1")
    assert pg.execute(f"SELECT ts::text FROM {uniq} WHERE id = 1").fetchone()[0] == "2024-01-01 10:00:03"


def test_import_declares_precision_and_postgresql_rounds(pg, engine, server, uniq):
    cols = "id UInt32, a DateTime('UTC')" + (", b DateTime64(3, 'UTC'), c DateTime64(9, 'UTC')"
                                            if engine.modern else "")
    engine.command(f"CREATE TABLE default.{uniq} ({cols}) ENGINE = MergeTree ORDER BY id")
    pg.execute(f"CREATE SCHEMA s_{uniq}")
    pg.execute(f'IMPORT FOREIGN SCHEMA "default" LIMIT TO ({uniq}) FROM SERVER {server} INTO s_{uniq}')
    types = dict(pg.execute("SELECT attname, format_type(atttypid, atttypmod) FROM pg_attribute "
                            "WHERE attrelid = %s::regclass AND attnum > 0", (f"s_{uniq}.{uniq}",)).fetchall())
    assert types["a"] == "timestamp(0) with time zone"
    if engine.modern:
        assert types["b"] == "timestamp(3) with time zone"
        assert types["c"] == "timestamp with time zone"
        pg.execute(f"INSERT INTO s_{uniq}.{uniq} VALUES (1, now(), now(), now())")
    else:
        pg.execute(f"INSERT INTO s_{uniq}.{uniq} VALUES (1, now())")
    assert engine.query(f"SELECT count() FROM default.{uniq}")[0][0] == 1


def test_error_detail_shows_the_timestamp(pg, engine, server, uniq):
    foreign_table(pg, engine, server, uniq, "id UInt32, ts DateTime('UTC')", "id int, ts timestamptz")
    with pytest.raises(psycopg.errors.NumericValueOutOfRange) as exc:
        pg.execute(f"INSERT INTO {uniq} VALUES (1, '2200-01-02 03:04:05+00')")
    assert "Value: 2200-01-02 03:04:05+00." in exc.value.diag.message_detail


@pytest.mark.parametrize("value", ['{"i": 0}', '{"i": 1.50}', '{"i": true}'])
def test_jsonb_non_string_into_string_map_refused(pg, engine, server, uniq, value):
    if not engine.modern:
        pytest.skip("ClickHouse 18.16 has no Map")
    foreign_table(pg, engine, server, uniq, "id UInt32, m Map(String, String)", "id int, m jsonb")
    with pytest.raises(psycopg.errors.DatatypeMismatch) as exc:
        pg.execute(f"INSERT INTO {uniq} VALUES (1, %s)", (value,))
    assert "is not a string" in exc.value.diag.message_primary
    pg.execute(f"INSERT INTO {uniq} VALUES (2, %s)", ('{"i": "0", "j": ""}',))
    assert engine.query(f"SELECT id, toString(m) FROM default.{uniq}") == [(2, "{'i':'0','j':''}")]


def test_devserver_accepts_insert_newline_select(devserver, uniq):
    """Real ClickHouse accepts "INSERT INTO t" then a newline and a SELECT
    in the request body; the devserver once took the first line as an
    INSERT header with inline data."""
    import urllib.request

    def post(sql: str) -> bytes:
        with urllib.request.urlopen(f"http://127.0.0.1:{devserver.http_port}/", sql.encode(),
                                    timeout=30) as r:
            return r.read()
    post(f"CREATE TABLE default.{uniq} (x Int32) ENGINE = Memory")
    post(f"INSERT INTO default.{uniq}\nSELECT 7")
    post(f"INSERT INTO default.{uniq} (x)\nSELECT 8\nUNION ALL SELECT 9")
    assert post(f"SELECT groupArray(x) FROM (SELECT x FROM default.{uniq} ORDER BY x)") == b"[7,8,9]\n"


def test_orm_save_sets_key_columns_to_their_values(pg, engine, server, uniq):
    """Django's save() of an existing row: UPDATE ... SET <every column>
    WHERE pk = %s, the sorting key included.  A key column SET to itself or
    to the value every matching row already holds is left out; a real change
    is refused, naming the column, before anything changes."""
    foreign_table(pg, engine, server, uniq, "id Int64, d Date, s String",
                  "id bigint, d date, s text", [(1, dt.date(2024, 1, 1), "a"), (2, dt.date(2024, 1, 2), "b")],
                  ["id", "d", "s"], engine_clause="MergeTree PARTITION BY d ORDER BY id")
    d1 = dt.date(2024, 1, 1)
    assert pg.execute(f"UPDATE {uniq} SET id = %s, d = %s, s = %s WHERE id = %s",
                      (1, d1, "A", 1)).rowcount == 1
    assert pg.execute(f"UPDATE {uniq} SET id = id, s = 'B' WHERE id = 2").rowcount == 1
    assert pg.execute(f"UPDATE {uniq} SET id = %s WHERE id = %s", (1, 1)).rowcount == 1
    assert engine.query(f"SELECT id, s FROM default.{uniq} ORDER BY id") == [(1, "A"), (2, "B")]
    with pytest.raises(psycopg.errors.FeatureNotSupported) as exc:
        pg.execute(f"UPDATE {uniq} SET id = %s, s = %s WHERE id = %s", (5, "X", 1))
    assert 'column "id"' in exc.value.diag.message_primary and "key" in exc.value.diag.message_primary
    with pytest.raises(psycopg.errors.FeatureNotSupported, match='column "d"'):
        pg.execute(f"UPDATE {uniq} SET d = %s, s = 'X' WHERE s <> ''", (d1,))
    assert engine.query(f"SELECT id, s FROM default.{uniq} ORDER BY id") == [(1, "A"), (2, "B")]


def test_async_insert_option(pg, engine, server, uniq):
    """async_insert sends ClickHouse's async_insert settings; a server older
    than 21.11 has none, so the INSERT (and COPY) is refused before anything
    is sent, naming the server's version."""
    foreign_table(pg, engine, server, uniq, "id UInt32, s String DEFAULT 'd'", "id int, s text")
    with pytest.raises(psycopg.errors.FdwInvalidAttributeValue, match="async_insert"):
        pg.execute(f"ALTER FOREIGN TABLE {uniq} OPTIONS (ADD async_insert 'maybe')")
    pg.execute(f"ALTER FOREIGN TABLE {uniq} OPTIONS (ADD async_insert 'true', ADD wait_for_async_insert 'on')")
    if engine.version < (21, 11):
        v = r"\.".join(str(p) for p in engine.version)
        with pytest.raises(psycopg.errors.FeatureNotSupported, match=rf"needs ClickHouse 21\.11 or later; "
                                                                       rf"the server is ClickHouse {v}"):
            pg.execute(f"INSERT INTO {uniq} (id) VALUES (1)")
        with pytest.raises(psycopg.errors.FeatureNotSupported, match="async_insert"):
            with pg.cursor() as cur, cur.copy(f"COPY {uniq} (id) FROM STDIN") as copy:
                copy.write_row((2,))
        assert engine.query(f"SELECT count() FROM default.{uniq}")[0][0] == 0
        return
    assert "(`id`) SETTINGS async_insert = 1, wait_for_async_insert = 1 VALUES" in \
        explain(pg, f"INSERT INTO {uniq} (id) VALUES (1)")
    with pg.cursor() as cur:
        cur.executemany(f"INSERT INTO {uniq} (id) VALUES (%s)", [(i,) for i in range(1, 21)])
    with pg.cursor() as cur, cur.copy(f"COPY {uniq} (id, s) FROM STDIN") as copy:
        copy.write_row((21, "c"))
    # wait_for_async_insert: every row is stored when the statement returns
    assert engine.query(f"SELECT count(), countIf(s = 'd') FROM default.{uniq}")[0] == (21, 20)
    pg.execute(f"ALTER FOREIGN TABLE {uniq} OPTIONS (SET wait_for_async_insert 'false')")
    assert "SETTINGS async_insert = 1, wait_for_async_insert = 0 VALUES" in \
        explain(pg, f"INSERT INTO {uniq} (id) VALUES (1)")
