"""Streaming benchmark: rows/s and backend peak RSS for a scan-only query.

Streams a ClickHouse table of (Int64, Float64, ~16-char String) through
  SELECT count(*), sum(length(s)) FROM (SELECT * FROM ft OFFSET 0) q
(the OFFSET 0 keeps PostgreSQL from pushing anything but the scan), over
the native protocol (Debian's ClickHouse 18.16), HTTP and native (the chDB
devserver), at two sizes so flat memory shows as equal peaks.

Run: dev/run bench [--rows N]      (as a non-root user: python bench/stream.py)
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

QUERY = "SELECT count(*), sum(length(s)) FROM (SELECT * FROM {t} OFFSET 0) q"
FILL = ("INSERT INTO {t} SELECT number, number * 1.5, "
        "concat('str-', toString(number + 100000000000)) FROM numbers({n})")


def servers(ch18, dev):
    """(name, port, protocol): 18.16 over native, the devserver over HTTP and native."""
    return (("native", ch18.tcp_port, "native"), ("http", dev.http_port, "http"),
            ("dev_native", dev.tcp_port, "native"))


def vm_kib(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def run(pg: Postgres, server: str, table: str, rows: int, repeat: int) -> dict:
    with psycopg.connect(pg.dsn, autocommit=True) as c:
        pid = c.execute("SELECT pg_backend_pid()").fetchone()[0]
        # measure streaming: keep the aggregate in PostgreSQL even where the
        # whole query could run in ClickHouse
        c.execute("SET ch_fdw.query_pushdown = off")
        c.execute(f"SELECT * FROM {table} LIMIT 1").fetchall()   # load Python, connect
        base = vm_kib(pid, "VmRSS")
        best = None
        for _ in range(repeat):
            t0 = time.perf_counter()
            n, total = c.execute(QUERY.format(t=table)).fetchone()
            dt = time.perf_counter() - t0
            assert n == rows, (n, rows)
            best = dt if best is None else min(best, dt)
        peak = vm_kib(pid, "VmHWM")
    return {"server": server, "rows": rows, "seconds": best, "rows_per_s": rows / best,
            "rss_before_mib": base / 1024, "peak_rss_mib": peak / 1024}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=10_000_000)
    ap.add_argument("--repeat", type=int, default=2)
    args = ap.parse_args()
    sizes = [args.rows // 10, args.rows]

    tmp = Path(tempfile.mkdtemp(prefix="ch_fdw-bench-"))
    pg = Postgres(tmp / "pg", free_port()).start()
    ch18 = start_clickhouse_18(tmp / "ch18", free_port(), free_port())
    dev = DevServer(tmp / "devserver" / "data", free_port(), free_port())
    (tmp / "devserver").mkdir()
    dev.start()
    try:
        from clickhouse_driver import Client
        import clickhouse_connect
        native = Client("127.0.0.1", port=ch18.tcp_port)
        http = clickhouse_connect.get_client(host="127.0.0.1", port=dev.http_port)
        for n in sizes:
            ddl = f"CREATE TABLE s{n} (i Int64, f Float64, s String) ENGINE = MergeTree ORDER BY i"
            native.execute(ddl)
            native.execute(FILL.format(t=f"s{n}", n=n))
            http.command(ddl)
            http.command(FILL.format(t=f"s{n}", n=n))
        with psycopg.connect(pg.dsn, autocommit=True) as c:
            c.execute("CREATE EXTENSION ch_fdw")
            for name, port, proto in servers(ch18, dev):
                c.execute(f"CREATE SERVER {name} FOREIGN DATA WRAPPER ch_fdw "
                          f"OPTIONS (host '127.0.0.1', port '{port}', protocol '{proto}')")
                c.execute(f"CREATE USER MAPPING FOR CURRENT_USER SERVER {name}")
                for n in sizes:
                    c.execute(f"CREATE FOREIGN TABLE {name}_{n} (i bigint, f float8, s text) "
                              f"SERVER {name} OPTIONS (table_name 's{n}')")
        results = []
        for name, _, _ in servers(ch18, dev):
            for n in sizes:
                results.append(run(pg, name, f"{name}_{n}", n, args.repeat))
        print(f"\nch_fdw streaming benchmark: {QUERY.format(t='ft')}")
        print(f"{'protocol':<10} {'rows':>11} {'seconds':>8} {'rows/s':>12} {'RSS before':>11} {'peak RSS':>9}")
        for r in results:
            print(f"{r['server']:<10} {r['rows']:>11,} {r['seconds']:>8.2f} {r['rows_per_s']:>12,.0f} "
                  f"{r['rss_before_mib']:>9.1f}Mi {r['peak_rss_mib']:>7.1f}Mi")
        print("(peak RSS = the backend's VmHWM after the runs; equal peaks at both sizes mean flat memory)")
    finally:
        dev.stop()
        ch18.stop()
        pg.stop()


if __name__ == "__main__":
    main()
