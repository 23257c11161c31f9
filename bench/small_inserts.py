"""Many small INSERT statements: N single-row INSERTs through one PostgreSQL
connection (psycopg 3 executemany, one statement per row, as ORMs and
pandas to_sql send them) through ch_fdw, vs the same rows inserted one
statement at a time by the driver directly.  Native: Debian's ClickHouse
18.16 with clickhouse-driver; http: the chDB devserver with
clickhouse-connect.  Prints total seconds and ms per statement.

Where the time goes, per statement, in the same run:
  * direct     the driver's own single-row INSERT (ClickHouse's cost);
  * local      the same executemany into a local PostgreSQL table
               (PostgreSQL + psycopg's own per-statement cost);
  * ch_fdw     executemany through ch_fdw (psycopg prepares the statement
               after 5 executions, so PostgreSQL plans it once);
  * unprepared the same with prepare_threshold=None: every statement is
               planned (psql, JDBC without prepare);
  * async      ch_fdw with the async_insert option (servers >= 21.11 only),
               wait_for_async_insert on and off.

Run: python bench/small_inserts.py [--rows N]   (as a non-root user, like bench/stream.py)
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent))
from write_servers import write_servers  # noqa: E402

DDL = "CREATE TABLE {t} (i Int64, s String, d String DEFAULT 'x') ENGINE = MergeTree ORDER BY i"


def executemany(c, table: str, rows: list[tuple]) -> float:
    t0 = time.perf_counter()
    with c.cursor() as cur:
        cur.executemany(f"INSERT INTO {table} (i, s) VALUES (%s, %s)", rows)
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=1000)
    n = ap.parse_args().rows
    rows = [(i, f"row-{i}") for i in range(n)]
    with write_servers("ch_fdw-bench-small-") as servers:
        print(f"{n:,} single-row INSERT statements, one connection; ms per statement")
        print(f"{'protocol':<8} {'direct':>7} {'local':>7} {'ch_fdw':>7} {'unprep':>7} "
              f"{'async':>7} {'async0':>7}  ch_fdw total s")
        with psycopg.connect(servers.pg.dsn, autocommit=True) as c:
            c.execute("CREATE TABLE local_t (i bigint, s text, d text DEFAULT 'x')")
            local = executemany(c, "local_t", rows)
            for t in servers.targets:
                variants = ["fdw", "unprep"] + (["async", "async0"] if t.name == "http" else [])
                for v in ["direct"] + variants:
                    t.command(f"DROP TABLE IF EXISTS w_{v}")
                    t.command(DDL.format(t=f"w_{v}"))
                for v in variants:
                    opts = {"async": ", async_insert 'true'",
                            "async0": ", async_insert 'true', wait_for_async_insert 'false'"}.get(v, "")
                    c.execute(f"CREATE FOREIGN TABLE {t.name}_{v} (i bigint, s text) "
                              f"SERVER {t.name} OPTIONS (table_name 'w_{v}'{opts})")
                c.execute(f"SELECT count(*) FROM {t.name}_fdw").fetchone()   # load Python, connect
                t0 = time.perf_counter()
                for row in rows:
                    t.insert("w_direct", ["i", "s"], [row])
                secs = {"direct": time.perf_counter() - t0}
                for v in variants:
                    if v == "unprep":
                        with psycopg.connect(servers.pg.dsn, autocommit=True, prepare_threshold=None) as u:
                            u.execute(f"SELECT count(*) FROM {t.name}_fdw").fetchone()
                            secs[v] = executemany(u, f"{t.name}_{v}", rows)
                    else:
                        secs[v] = executemany(c, f"{t.name}_{v}", rows)
                time.sleep(1)   # async0: the last rows may still be in ClickHouse's buffer
                for v in ["direct"] + variants:
                    got = t.scalar(f"SELECT count() FROM w_{v}")
                    assert got == n or v == "async0", (v, got)
                ms = {k: f"{s / n * 1000:7.2f}" for k, s in secs.items()}
                print(f"{t.name:<8} {ms['direct']} {local / n * 1000:7.2f} {ms['fdw']} {ms['unprep']} "
                      f"{ms.get('async', '      -')} {ms.get('async0', '      -')}  {secs['fdw']:.2f}", flush=True)


if __name__ == "__main__":
    main()
