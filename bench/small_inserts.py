"""Many small INSERT statements: N single-row INSERTs through one PostgreSQL
connection (psycopg 3 executemany, one statement per row, as ORMs and
pandas to_sql send them) through ch_fdw, vs the same rows inserted one
statement at a time by the driver directly.  Native: Debian's ClickHouse
18.16 with clickhouse-driver; http: the chDB devserver with
clickhouse-connect.  Prints total seconds and ms per statement.

Run: python bench/small_inserts.py [--rows N]   (as a non-root user, like bench/stream.py)
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "dev"))
from servers import DevServer, Postgres, free_port, start_clickhouse_18  # noqa: E402

DDL = "CREATE TABLE {t} (i Int64, s String, d String DEFAULT 'x') ENGINE = MergeTree ORDER BY i"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=1000)
    n = ap.parse_args().rows
    tmp = Path(tempfile.mkdtemp(prefix="ch_fdw-bench-small-"))
    pg = Postgres(tmp / "pg", free_port()).start()
    ch18 = start_clickhouse_18(tmp / "ch18", free_port(), free_port())
    (tmp / "devserver").mkdir()
    dev = DevServer(tmp / "devserver" / "data", free_port()).start()
    try:
        from clickhouse_driver import Client
        import clickhouse_connect
        native = Client("127.0.0.1", port=ch18.tcp_port)
        http = clickhouse_connect.get_client(host="127.0.0.1", port=dev.http_port)
        clients = {
            "native": (native.execute, lambda row: native.execute("INSERT INTO w_direct (i, s) VALUES", [row]),
                       lambda sql: native.execute(sql)[0][0]),
            "http": (http.command, lambda row: http.insert("w_direct", [row], column_names=["i", "s"]),
                     lambda sql: http.query(sql).result_rows[0][0]),
        }
        rows = [(i, f"row-{i}") for i in range(n)]
        print(f"{n:,} single-row INSERT statements, one connection")
        print(f"{'protocol':<8} {'direct s':>9} {'ms/stmt':>8} {'ch_fdw s':>9} {'ms/stmt':>8} {'ratio':>6}")
        with psycopg.connect(pg.dsn, autocommit=True) as c:
            c.execute("CREATE EXTENSION ch_fdw")
            for name, port in (("native", ch18.tcp_port), ("http", dev.http_port)):
                command, insert_one, scalar = clients[name]
                for t in ("w_fdw", "w_direct"):
                    command(f"DROP TABLE IF EXISTS {t}")
                    command(DDL.format(t=t))
                c.execute(f"CREATE SERVER {name} FOREIGN DATA WRAPPER ch_fdw "
                          f"OPTIONS (host '127.0.0.1', port '{port}', protocol '{name}')")
                c.execute(f"CREATE USER MAPPING FOR CURRENT_USER SERVER {name}")
                c.execute(f"CREATE FOREIGN TABLE {name}_fdw (i bigint, s text) "
                          f"SERVER {name} OPTIONS (table_name 'w_fdw')")
                c.execute(f"SELECT count(*) FROM {name}_fdw").fetchone()   # load Python, connect
                t0 = time.perf_counter()
                for row in rows:
                    insert_one(row)
                direct = time.perf_counter() - t0
                t0 = time.perf_counter()
                with c.cursor() as cur:
                    cur.executemany(f"INSERT INTO {name}_fdw (i, s) VALUES (%s, %s)", rows)
                fdw = time.perf_counter() - t0
                assert scalar("SELECT count() FROM w_fdw") == n == scalar("SELECT count() FROM w_direct")
                print(f"{name:<8} {direct:>9.2f} {direct / n * 1000:>8.2f} {fdw:>9.2f} "
                      f"{fdw / n * 1000:>8.2f} {fdw / direct:>6.2f}", flush=True)
    finally:
        dev.stop()
        ch18.stop()
        pg.stop()


if __name__ == "__main__":
    main()
