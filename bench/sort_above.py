"""Sort above the pushed query: a top-N-by-text dashboard query in databases
of two collations, through the chDB devserver (HTTP).

  SELECT url, count(*), sum(d) FROM hits GROUP BY url ORDER BY url LIMIT 10

C.UTF-8 (byte order): pushed whole, ClickHouse sorts (before issue 10: per
table, C.UTF-8 counted as linguistic).  ICU en-US: the query
without ORDER BY/LIMIT is pushed (ClickHouse aggregates), PostgreSQL sorts
the groups above the CustomScan -- before issue 10 the whole query ran per
table (every row streamed into PostgreSQL), which the `per-table` line
measures (ch_fdw.query_pushdown = off).

Run (as a non-root user; PG_CONFIG picks the PostgreSQL):
  runuser -u postgres -- env PG_CONFIG=... .venv/bin/python bench/sort_above.py [--rows N]
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "dev"))
from servers import DevServer, Postgres, free_port  # noqa: E402

QUERY = "SELECT url, count(*), sum(d) FROM hits GROUP BY url ORDER BY url LIMIT 10"
DATABASES = {
    "cutf8": "LC_COLLATE 'C.UTF-8' LC_CTYPE 'C.UTF-8'",
    "icu": "LOCALE_PROVIDER icu ICU_LOCALE 'en-US' LC_COLLATE 'C.UTF-8' LC_CTYPE 'C.UTF-8'",
}


def timed(c, sql: str, repeat: int) -> tuple[float, list]:
    best, rows = None, None
    for _ in range(repeat):
        t0 = time.perf_counter()
        rows = c.execute(sql).fetchall()
        dt = time.perf_counter() - t0
        best = dt if best is None else min(best, dt)
    return best, rows


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=2_000_000)
    ap.add_argument("--urls", type=int, default=10_000)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="ch_fdw-bench-"))
    pg = Postgres(tmp / "pg", free_port()).start()
    (tmp / "devserver").mkdir()
    dev = DevServer(tmp / "devserver" / "data", free_port(), free_port()).start()
    try:
        import clickhouse_connect
        ch = clickhouse_connect.get_client(host="127.0.0.1", port=dev.http_port)
        ch.command("CREATE TABLE hits (id Int64, url String, d Int32) ENGINE = MergeTree ORDER BY id")
        ch.command(f"INSERT INTO hits SELECT number, concat(if(number % 3 = 0, '/Ä', '/a'), "
                   f"toString(number % {args.urls})), toInt32(number % 100) FROM numbers({args.rows})")
        results = []
        for db, locale in DATABASES.items():
            with psycopg.connect(pg.dsn, autocommit=True) as c:
                c.execute(f"CREATE DATABASE {db} TEMPLATE template0 ENCODING 'UTF8' {locale}")
            with psycopg.connect(pg.dsn.replace("dbname=postgres", f"dbname={db}"), autocommit=True) as c:
                c.execute("CREATE EXTENSION ch_fdw")
                c.execute(f"CREATE SERVER dev FOREIGN DATA WRAPPER ch_fdw "
                          f"OPTIONS (host '127.0.0.1', port '{dev.http_port}', protocol 'http')")
                c.execute("CREATE USER MAPPING FOR CURRENT_USER SERVER dev")
                c.execute("CREATE FOREIGN TABLE hits (id bigint, url text, d integer) "
                          "SERVER dev OPTIONS (table_name 'hits')")
                plan = [r[0] for r in c.execute(f"EXPLAIN (COSTS OFF) {QUERY}")]
                pushed, rows = timed(c, QUERY, args.repeat)
                c.execute("SET ch_fdw.query_pushdown = off")
                per_table, rows2 = timed(c, QUERY, 1)
                assert rows == rows2, (rows, rows2)
                results.append((db, plan[0].strip(), pushed, per_table))
        print(f"\nch_fdw sort-above benchmark, {args.rows:,} rows, {args.urls:,} urls: {QUERY}")
        print(f"{'database':<9} {'plan top':<36} {'pushed s':>9} {'per-table s':>12} {'speedup':>8}")
        for db, top, a, b in results:
            print(f"{db:<9} {top:<36} {a:>9.3f} {b:>12.3f} {b / a:>7.1f}x")
    finally:
        dev.stop()
        pg.stop()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
