"""Writes as applications do them: now() into DateTime/DateTime64 rounds as
PostgreSQL's timestamp(p) does, IMPORT declares the precision, error
DETAILs show timestamps as timestamps.  Runs on every engine."""

from __future__ import annotations

import psycopg
import pytest

from helpers import foreign_table


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
