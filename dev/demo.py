"""make demo / dev/run demo: ch_fdw end to end against a local ClickHouse.

Starts a throw-away PostgreSQL 15 (ch_fdw preloaded) and the chDB devserver
(modern ClickHouse over HTTP) under /tmp/ch_fdw-demo, loads a small
web-analytics dataset into ClickHouse, connects PostgreSQL to it and runs a
few queries with their EXPLAIN.  Both servers keep running so you can try
your own queries; `dev/run demo --stop` stops them.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import sys
from pathlib import Path

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent))
from servers import PG_BIN, DevServer, Postgres, free_port  # noqa: E402

HOME = Path(os.environ.get("CH_FDW_DEMO_DIR", "/tmp/ch_fdw-demo"))
STATE = HOME / "state.json"

CLICKHOUSE_SETUP = [
    "CREATE DATABASE IF NOT EXISTS analytics",
    """CREATE TABLE analytics.events (
         event_time DateTime('UTC'),
         user_id UInt32,
         url String,
         country LowCardinality(String),
         duration_ms Nullable(UInt32),
         tags Array(String)
       ) ENGINE = MergeTree ORDER BY (event_time, user_id)""",
    """INSERT INTO analytics.events
       SELECT toDateTime('2026-11-01 00:00:00', 'UTC') + number * 13,
              number % 5000,
              concat('/page/', toString(number % 97)),
              ['DE', 'US', 'FR', 'BR', 'JP'][1 + number % 5],
              if(number % 11 = 0, NULL, toUInt32(number % 3000)),
              if(number % 7 = 0, ['promo', 'mobile'], ['web'])
       FROM numbers(200000)""",
]

QUERIES = [
    ("Analytics run inside ClickHouse: the whole query is one remote query",
     "SELECT country, count(*) AS events, count(DISTINCT user_id) AS users, "
     "round(avg(duration_ms)) AS avg_ms FROM events GROUP BY country ORDER BY events DESC"),
    ("Top pages of a day: WHERE, GROUP BY, ORDER BY and LIMIT in ClickHouse",
     "SELECT url, count(*) AS views FROM events "
     "WHERE event_time >= '2026-11-02 00:00:00+00' AND event_time < '2026-11-03 00:00:00+00' "
     "GROUP BY url ORDER BY views DESC, url LIMIT 5"),
    ("Joining with a local PostgreSQL table: ClickHouse filters, PostgreSQL joins",
     "SELECT c.name, count(*) FROM events e JOIN countries c ON c.code = e.country "
     "WHERE e.event_time >= '2026-11-01 12:00:00+00' AND e.event_time < '2026-11-01 13:00:00+00' "
     "GROUP BY c.name ORDER BY 2 DESC, 1"),
    ("Arrays, NULLs and time zones arrive typed",
     "SELECT event_time, duration_ms, tags FROM events WHERE user_id = 0 ORDER BY event_time LIMIT 3"),
]


def stop() -> None:
    if not STATE.exists():
        print("ch_fdw demo: nothing running")
        return
    state = json.loads(STATE.read_text())
    Postgres(Path(state["pgdata"]), state["pg_port"]).stop()
    try:
        os.kill(state["devserver_pid"], signal.SIGTERM)
    except ProcessLookupError:
        pass
    STATE.unlink()
    print("ch_fdw demo: stopped PostgreSQL and the devserver")


def psql(pg: Postgres, sql: str) -> None:
    """Run sql with psql, so the output is exactly what a user sees."""
    import subprocess
    subprocess.run([str(PG_BIN / "psql"), "-X", "-h", pg.host, "-p", str(pg.port), "-U", "postgres",
                    "-d", "postgres", "-c", sql], check=False)


def show(pg: Postgres, title: str, sql: str) -> None:
    print(f"\n-- {title}\n{sql};", flush=True)
    psql(pg, sql)
    psql(pg, "EXPLAIN (COSTS OFF) " + sql)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--stop", action="store_true", help="stop the demo servers")
    args = ap.parse_args()
    if args.stop:
        stop()
        return
    if STATE.exists():
        stop()
    shutil.rmtree(HOME, ignore_errors=True)
    (HOME / "devserver").mkdir(parents=True)

    print("ch_fdw demo: starting the ClickHouse devserver (chDB) and PostgreSQL 15 ...")
    dev = DevServer(HOME / "devserver" / "data", free_port()).start(detach=True)
    pg = Postgres(HOME / "pgdata", free_port()).start()
    STATE.write_text(json.dumps({"pgdata": str(pg.datadir), "pg_port": pg.port,
                                 "devserver_pid": dev.proc.pid, "http_port": dev.http_port}))

    import clickhouse_connect
    ch = clickhouse_connect.get_client(host="127.0.0.1", port=dev.http_port)
    for stmt in CLICKHOUSE_SETUP:
        ch.command(stmt)
    print(f"ClickHouse {ch.server_version}: analytics.events has "
          f"{ch.command('SELECT count() FROM analytics.events')} rows")

    setup = [
        "CREATE EXTENSION ch_fdw",
        f"CREATE SERVER clickhouse FOREIGN DATA WRAPPER ch_fdw "
        f"OPTIONS (host '127.0.0.1', port '{dev.http_port}', protocol 'http', dbname 'analytics')",
        "CREATE USER MAPPING FOR CURRENT_USER SERVER clickhouse OPTIONS (user 'default', password '')",
        "IMPORT FOREIGN SCHEMA analytics LIMIT TO (events) FROM SERVER clickhouse INTO public",
        "CREATE TABLE countries (code text PRIMARY KEY, name text)",
        "INSERT INTO countries VALUES ('DE', 'Germany'), ('US', 'United States'), "
        "('FR', 'France'), ('BR', 'Brazil'), ('JP', 'Japan')",
    ]
    with psycopg.connect(pg.dsn, autocommit=True) as conn, conn.cursor() as cur:
        for stmt in setup:
            print(stmt + ";")
            cur.execute(stmt)
    print()
    psql(pg, "\\d events")
    for title, sql in QUERIES:
        show(pg, title, sql)

    print(f"""
The demo servers keep running.  Try your own queries:
   psql -h /tmp -p {pg.port} -U postgres postgres        (as the postgres user: runuser -u postgres -- psql ...)
ClickHouse (devserver, HTTP) listens on 127.0.0.1:{dev.http_port}.
Stop everything with:
   dev/run demo --stop""")


if __name__ == "__main__":
    main()
