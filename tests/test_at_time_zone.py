"""`AT TIME ZONE` pushed whole with PostgreSQL's semantics (issue 10).

Django (USE_TZ=True) writes `col AT TIME ZONE 'UTC'` (or `AT TIME ZONE %s`)
for TruncDay/TruncHour/ExtractHour/__date.  The rule is
ch_fdw/translate/zones.py ([at-time-zone]); here the same queries run over
local tables and through ch_fdw, on wall clocks and instants around DST gaps
and folds, under two session time zones, and must return the same rows.
"""

from __future__ import annotations

import datetime as dt

import psycopg
import pytest

import difftest as D
from test_query_pushdown import qdb  # noqa: F401  (fixture)

PUSHED = "Custom Scan (ClickHouseQuery)"

# wall clocks (timestamp) and the same digits read as UTC instants (timestamptz)
CLOCKS = [
    "2024-03-10 01:59:59", "2024-03-10 02:00:00", "2024-03-10 02:30:00.5", "2024-03-10 03:00:00",
    "2024-03-10 06:59:59", "2024-03-10 07:00:00", "2024-03-10 07:30:00",
    "2024-11-03 00:59:59", "2024-11-03 01:00:00", "2024-11-03 01:30:00", "2024-11-03 01:59:59.999999",
    "2024-11-03 02:00:00", "2024-11-03 05:30:00", "2024-11-03 06:00:00", "2024-11-03 06:30:00",
    "2024-03-31 02:30:00", "2024-10-27 02:30:00", "2024-10-27 00:30:00", "2024-10-27 01:30:00",
    "2024-06-01 12:00:00", "2024-12-31 23:30:00", "2000-02-29 22:15:00",
    "2024-10-06 02:15:00", "2024-04-07 01:45:00",
]

ZONES = ["UTC", "America/New_York", "america/new_york", "Europe/Berlin", "Asia/Kolkata",
         "Australia/Lord_Howe", "+02", "-05:30", "UTC+3", "Etc/GMT+5"]
REFUSED_ZONES = ["EST", "CET", "MSK"]

SHAPES = {
    "both_ways": "SELECT id, tz AT TIME ZONE {z}, ts AT TIME ZONE {z} FROM tzt ORDER BY id",
    "round_trip": "SELECT id, (tz AT TIME ZONE {z}) AT TIME ZONE {z}, (ts AT TIME ZONE {z}) AT TIME ZONE {z} FROM tzt ORDER BY id",
    "trunc_day": "SELECT date_trunc('day', tz AT TIME ZONE {z}) AS d, count(*) FROM tzt GROUP BY 1 ORDER BY 1",
    "trunc_hour": "SELECT date_trunc('hour', tz AT TIME ZONE {z}) AS d, count(*) FROM tzt GROUP BY 1 ORDER BY 1",
    "extract_hour": "SELECT extract(hour FROM tz AT TIME ZONE {z}) AS h, count(*) FROM tzt GROUP BY 1 ORDER BY 1",
    "as_date": "SELECT (tz AT TIME ZONE {z})::date AS d, count(*) FROM tzt GROUP BY 1 ORDER BY 1",
    "filter_day": "SELECT id FROM tzt WHERE extract(day FROM tz AT TIME ZONE {z}) = 3 ORDER BY id",
    "function_form": "SELECT id, timezone({z}, tz) FROM tzt ORDER BY id",
}


@pytest.fixture
def tzt(qdb, engine):  # noqa: F811
    name = engine.name.replace("-", "_")
    server = f"tz_{name}"
    with psycopg.connect(qdb, autocommit=True) as c:
        if not c.execute("SELECT 1 FROM pg_foreign_server WHERE srvname = %s", [server]).fetchone():
            c.execute(f"CREATE SERVER {server} FOREIGN DATA WRAPPER ch_fdw OPTIONS ({engine.server_options})")
            c.execute(f"CREATE USER MAPPING FOR CURRENT_USER SERVER {server}")
            engine.command("DROP TABLE IF EXISTS default.tzt")
            ty = "DateTime64(6, 'UTC')" if engine.modern else "DateTime('UTC')"
            engine.command(f"CREATE TABLE default.tzt (id Int32, tz {ty}, ts {ty}) ENGINE = MergeTree ORDER BY id")
            clocks = CLOCKS if engine.modern else [c for c in CLOCKS if "." not in c]
            rows = [(i, *(dt.datetime.fromisoformat(s).replace(tzinfo=dt.timezone.utc),) * 2)
                    for i, s in enumerate(clocks, 1)]
            engine.insert("default.tzt", rows, ["id", "tz", "ts"])
            c.execute(f"CREATE SCHEMA tz_{name}")
            c.execute(f"CREATE FOREIGN TABLE tz_{name}.tzt (id integer, tz timestamptz, ts timestamp) "
                      f"SERVER {server}")
            c.execute(f"DROP SCHEMA IF EXISTS tz_local_{name} CASCADE")
            c.execute(f"CREATE SCHEMA tz_local_{name}")
            c.execute(f"CREATE TABLE tz_local_{name}.tzt (id integer, tz timestamptz, ts timestamp)")
            with c.cursor() as cur:
                cur.executemany(f"INSERT INTO tz_local_{name}.tzt VALUES (%s, (%s || '+00')::timestamptz, %s::timestamp)",
                                [(i, s, s) for i, s in enumerate(clocks, 1)])
    with psycopg.connect(qdb, autocommit=True) as c:
        yield c, f"tz_{name}", f"tz_local_{name}"


def _run(conn, schema, sql):
    conn.execute(f"SET search_path = {schema}, public")
    plan = "\n".join(r[0] for r in conn.execute("EXPLAIN (VERBOSE) " + sql))
    return conn.execute(sql).fetchall(), plan


@pytest.mark.parametrize("session_tz", ["UTC", "America/New_York"])
@pytest.mark.parametrize("shape", sorted(SHAPES))
def test_at_time_zone_matches_postgres(tzt, engine, shape, session_tz):
    conn, foreign, local = tzt
    conn.execute(f"SET TimeZone = '{session_tz}'")
    bad = []
    for z in ZONES + REFUSED_ZONES:
        sql = SHAPES[shape].format(z=f"'{z}'")
        got, plan = _run(conn, foreign, sql)
        want, _ = _run(conn, local, sql)
        if got != want:
            bad.append(f"{z}: {D.compare(want, got, ordered=True).message}")
        if engine.modern:
            pushed = PUSHED in plan
            if (z in ZONES) != pushed:
                bad.append(f"{z}: pushed={pushed}\n{plan}")
    assert not bad, f"{shape} under TimeZone {session_tz}:\n" + "\n".join(bad)


@pytest.mark.parametrize("mode", ["force_custom_plan", "force_generic_plan"])
def test_zone_as_parameter(tzt, engine, mode):
    """Django with server-side binding sends `AT TIME ZONE $1`."""
    conn, foreign, local = tzt
    conn.execute("SET TimeZone = 'America/New_York'")
    conn.execute(f"SET plan_cache_mode = {mode}")
    out = []
    for schema in (foreign, local):
        conn.execute(f"SET search_path = {schema}, public")
        conn.execute("DEALLOCATE ALL")
        conn.execute("PREPARE z(text) AS SELECT date_trunc('hour', tz AT TIME ZONE $1), count(*) "
                     "FROM tzt GROUP BY 1 ORDER BY 1")
        out.append([conn.execute(f"EXECUTE z('{z}')").fetchall() for z in ZONES + REFUSED_ZONES])
        if schema == foreign and engine.modern:
            plan = "\n".join(r[0] for r in conn.execute("EXPLAIN (VERBOSE) EXECUTE z('Europe/Berlin')"))
            assert PUSHED in plan, plan
    assert out[0] == out[1]
