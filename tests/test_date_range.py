"""Dates and timestamps that leave ClickHouse's Date/DateTime ranges (issue 8).

ClickHouse's Date holds 1970-01-01..2149-06-06 and DateTime 1970..2106; an
intermediate past either end wraps around (2149-06-06::timestamptz gave
2013-04-29).  Pushed queries compute such intermediates in Date32 /
DateTime64 (1900..2299) and fall back when a value passes even those; the
per-table path does not send date arithmetic at all.  A genuine PostgreSQL
error (date out of range for PostgreSQL) still raises.  TimeZone is
America/New_York (just before the epoch there is still 1969 in UTC+0's 1970).
"""

from __future__ import annotations

import datetime as dt

import psycopg
import pytest

UTC = dt.timezone.utc
ROWS = [  # id, d (Date), ts (DateTime('UTC'), timestamptz), tn (DateTime('UTC'), timestamp)
    (1, dt.date(2149, 6, 6), dt.datetime(1970, 1, 1, 3, 0, tzinfo=UTC), dt.datetime(2069, 12, 31)),
    (2, dt.date(1970, 1, 1), dt.datetime(2106, 2, 7, 6, 28, 15, tzinfo=UTC), dt.datetime(1970, 1, 1)),
    (3, dt.date(1970, 1, 5), dt.datetime(2024, 3, 10, 7, 30, tzinfo=UTC), dt.datetime(2100, 2, 28, 23)),
    (4, dt.date(2024, 2, 29), dt.datetime(1970, 1, 1, 0, 0, 1, tzinfo=UTC), dt.datetime(2024, 2, 29, 12)),
    (5, None, None, None),
]


@pytest.fixture
def dates(pg, engine, server, uniq):
    engine.command(f"CREATE TABLE default.{uniq} (id Int32, d Nullable(Date), "
                   f"ts Nullable(DateTime('UTC')), tn Nullable(DateTime('UTC'))) ENGINE = MergeTree ORDER BY id")
    engine.insert(f"default.{uniq}", [(i, d, ts, tn.replace(tzinfo=UTC) if tn else None)
                                      for i, d, ts, tn in ROWS], ["id", "d", "ts", "tn"])
    cols = "id integer, d date, ts timestamptz, tn timestamp"
    pg.execute(f"CREATE FOREIGN TABLE {uniq} ({cols}) SERVER {server} OPTIONS (table_name '{uniq}')")
    pg.execute(f"CREATE TABLE {uniq}_local ({cols})")
    with pg.cursor() as cur:
        cur.executemany(f"INSERT INTO {uniq}_local VALUES (%s, %s, %s, %s)", ROWS)
    pg.execute("SET TimeZone = 'America/New_York'")
    yield pg, uniq
    pg.execute(f"DROP FOREIGN TABLE {uniq}")
    pg.execute(f"DROP TABLE {uniq}_local")
    engine.command(f"DROP TABLE default.{uniq}")


def _rows(conn, sql):
    return [tuple(str(v) for v in r) for r in conn.execute(sql)]


def _same(conn, t, sql, engine, pushed=True):
    want = _rows(conn, sql.format(t=t + "_local"))
    q = sql.format(t=t)
    plan = "\n".join(r[0] for r in conn.execute("EXPLAIN (VERBOSE) " + q))
    got = _rows(conn, q)
    assert got == want, f"{q}\n{plan}"
    if pushed and engine.modern:
        assert "Custom Scan (ClickHouseQuery)" in plan, plan
    return plan


QUERIES = {
    "date_to_timestamptz": "SELECT id, d::timestamptz FROM {t} ORDER BY id",
    "max_date_plus_days": "SELECT max(d + 20000), min(d - 30), max(20000 + d) FROM {t}",
    "date_minus_days": "SELECT id, d - 30, d + 1 FROM {t} ORDER BY id",
    "timestamp_plus_century": "SELECT id, ts + interval '100 years', tn + interval '100 years' FROM {t} ORDER BY id",
    "timestamp_minus_interval": "SELECT id, ts - interval '1 day', tn - interval '3 hours' FROM {t} ORDER BY id",
    "date_plus_interval": "SELECT id, d + interval '1 day', d + interval '1 hour' FROM {t} ORDER BY id",
    "date_trunc_before_epoch": "SELECT id, date_trunc('day', ts), date_trunc('month', ts), "
                               "date_trunc('year', ts), date_trunc('hour', ts) FROM {t} ORDER BY id",
    "date_trunc_timestamp": "SELECT id, date_trunc('day', tn + interval '100 years') FROM {t} ORDER BY id",
    "filter_on_wide_date": "SELECT id FROM {t} WHERE d + 20000 > date '2100-01-01' ORDER BY id",
    "date_vs_timestamp": "SELECT id FROM {t} WHERE d + 20000 > tn ORDER BY id",
    # an instant just before the epoch with a fraction of a second
    "fraction_before_epoch": "SELECT id, tn - interval '0.5 second', ts - interval '1.5 seconds', "
                             "tn - interval '2 days 0.25 second' FROM {t} ORDER BY id",
}


@pytest.mark.parametrize("name", sorted(QUERIES))
def test_wide_dates_equal_postgres(dates, engine, name):
    conn, t = dates
    _same(conn, t, QUERIES[name], engine)


def test_beyond_date32_falls_back(dates, engine):
    """Past 2299 even Date32 cannot hold the value: the query falls back and
    PostgreSQL computes it."""
    conn, t = dates
    _same(conn, t, "SELECT id, d + 200000 FROM {t} ORDER BY id", engine, pushed=False)
    _same(conn, t, "SELECT id, ts + interval '300 years' FROM {t} ORDER BY id", engine, pushed=False)


def test_per_table_path_does_not_send_date_arithmetic(dates, engine):
    conn, t = dates
    conn.execute("SET ch_fdw.query_pushdown = off")
    plan = _same(conn, t, "SELECT id FROM {t} WHERE d + 20000 > date '2100-01-01' "
                          "AND d::timestamptz > '2100-01-01' ORDER BY id", engine, pushed=False)
    remote = [ln for ln in plan.splitlines() if "Remote SQL" in ln]
    assert remote and "2100" not in remote[0], plan


def test_postgres_date_range_error_still_raises(dates, engine):
    conn, t = dates
    for tbl in (t + "_local", t):
        with pytest.raises(psycopg.errors.DatetimeFieldOverflow):
            conn.execute(f"SELECT d + 2147483000 FROM {tbl} WHERE id = 1").fetchall()
