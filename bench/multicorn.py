"""The ch_fdw extension vs the multicorn2 wrapper (ch_fdw.multicorn), same run.

One PostgreSQL with both (shared_preload_libraries = ch_fdw, CREATE
EXTENSION multicorn and ch_fdw), a 1M-row ClickHouse table of (Int64,
Float64, ~16-char String) on Debian's ClickHouse 18.16 (native) and on the
chDB devserver (HTTP), and two queries:

  scan     SELECT count(*), sum(length(s)) FROM (SELECT * FROM ft OFFSET 0) q
  filtered SELECT count(*) FROM ft WHERE i < 100000

For the extension, "ext" is its default plan (the filtered count runs whole
in ClickHouse where whole-query pushdown applies) and "ext per-table" sets
ch_fdw.query_pushdown = off; the multicorn wrapper always streams the
(filtered) rows and PostgreSQL counts them.  rows/s = table rows / seconds.

Needs multicorn2 installed for $PG_CONFIG (dev/install-multicorn.sh).
Run (not as root): PG_CONFIG=... .venv/bin/python bench/multicorn.py [--rows N]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import psycopg

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "dev"))
sys.path.insert(0, str(ROOT / "tests"))
from servers import DevServer, free_port, start_clickhouse_18  # noqa: E402
from mcluster import Cluster, multicorn_missing  # noqa: E402

QUERIES = {
    "scan": "SELECT count(*), sum(length(s)) FROM (SELECT * FROM {t} OFFSET 0) q",
    "filtered": "SELECT count(*) FROM {t} WHERE i < {k}",
}
FILL = ("INSERT INTO {t} SELECT number, number * 1.5, "
        "concat('str-', toString(number + 100000000000)) FROM numbers({n})")


def best_time(dsn: str, sql: str, settings: list[str], repeat: int) -> float:
    with psycopg.connect(dsn, autocommit=True) as c:
        for s in settings:
            c.execute(s)
        c.execute(f"SELECT * FROM ({sql}) w LIMIT 0").fetchall()   # load Python, connect
        best = None
        for _ in range(repeat):
            t0 = time.perf_counter()
            c.execute(sql).fetchall()
            dt = time.perf_counter() - t0
            best = dt if best is None else min(best, dt)
        return best


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--repeat", type=int, default=2)
    args = ap.parse_args()
    why = multicorn_missing()
    if why:
        sys.exit(f"bench/multicorn.py: {why}")
    n = args.rows
    tmp = Path(tempfile.mkdtemp(prefix="ch_fdw-bench-mc-"))
    pg = Cluster(tmp, preload_ch_fdw=True)
    ch18 = start_clickhouse_18(tmp / "ch18", free_port(), free_port())
    (tmp / "devserver").mkdir()
    dev = DevServer(tmp / "devserver" / "data", free_port())
    dev.start()
    try:
        from clickhouse_driver import Client
        import clickhouse_connect
        native = Client("127.0.0.1", port=ch18.tcp_port)
        http = clickhouse_connect.get_client(host="127.0.0.1", port=dev.http_port)
        ddl = "CREATE TABLE b (i Int64, f Float64, s String) ENGINE = MergeTree ORDER BY i"
        native.execute(ddl)
        native.execute(FILL.format(t="b", n=n))
        http.command(ddl)
        http.command(FILL.format(t="b", n=n))
        with psycopg.connect(pg.dsn, autocommit=True) as c:
            c.execute("CREATE EXTENSION ch_fdw")
            c.execute("CREATE EXTENSION multicorn")
            for name, port, proto in (("native", ch18.tcp_port, "native"), ("http", dev.http_port, "http")):
                opts = f"host '127.0.0.1', port '{port}', protocol '{proto}'"
                c.execute(f"CREATE SERVER x_{name} FOREIGN DATA WRAPPER ch_fdw OPTIONS ({opts})")
                c.execute(f"CREATE USER MAPPING FOR CURRENT_USER SERVER x_{name}")
                c.execute(f"CREATE SERVER m_{name} FOREIGN DATA WRAPPER multicorn "
                          f"OPTIONS (wrapper 'ch_fdw.multicorn.ClickHouseFdw', {opts})")
                c.execute(f"CREATE USER MAPPING FOR CURRENT_USER SERVER m_{name}")
                for kind in ("x", "m"):
                    c.execute(f"CREATE FOREIGN TABLE {kind}_{name} (i bigint, f float8, s text) "
                              f"SERVER {kind}_{name} OPTIONS (table_name 'b')")
        paths = [("ext", "x", []), ("ext per-table", "x", ["SET ch_fdw.query_pushdown = off"]),
                 ("multicorn", "m", [])]
        results = []
        for name in ("native", "http"):
            for qname, q in QUERIES.items():
                for label, kind, settings in paths:
                    if qname == "scan" and label == "ext":
                        continue     # OFFSET 0 keeps the scan per-table anyway
                    sql = q.format(t=f"{kind}_{name}", k=n // 10)
                    results.append((name, qname, label, best_time(pg.dsn, sql, settings, args.repeat)))
        print(f"\nch_fdw extension vs multicorn wrapper, {n:,}-row table (rows/s = {n:,} / seconds)")
        for qname, q in QUERIES.items():
            print(f"  {qname:<8} {q.format(t='ft', k=n // 10)}")
        print(f"{'protocol':<8} {'query':<9} {'path':<14} {'seconds':>8} {'rows/s':>12}")
        for name, qname, label, secs in results:
            print(f"{name:<8} {qname:<9} {label:<14} {secs:>8.3f} {n / secs:>12,.0f}")
    finally:
        dev.stop()
        ch18.stop()
        pg.remove()


if __name__ == "__main__":
    main()
