"""Planning time of whole-query pushdown, TPC-H queries (modern engine).

For each of the 22 queries, EXPLAIN's "Planning Time":
  * uncached: in a fresh backend whose connection and table metadata are
    warm but which has not translated this query yet (median of --cold
    backends);
  * cached: the same backend planning it again (median of --cached runs).
Prints per-query medians and the median over queries of each.  Repeated
runs on a quiet machine are what bench/tpch.py's single sample is not.

Run (as the postgres user, after dev/run has installed the build):
  PG_CONFIG=... .venv/bin/python bench/planning.py [--cold 5 --cached 20]
"""

from __future__ import annotations

import argparse
import re
import statistics
import sys
import tempfile
from pathlib import Path

import psycopg

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "dev"))
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "bench"))
import difftest as D  # noqa: E402
from servers import DevServer, Postgres, free_port  # noqa: E402
from tpch import load, planning_ms  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--cold", type=int, default=5)
    ap.add_argument("--cached", type=int, default=20)
    args = ap.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="ch_fdw-planning-"))
    tbl = D.generate_tpch(tmp / "tbl", 0.01)
    (tmp / "devserver").mkdir()
    dev = DevServer(tmp / "devserver" / "data", free_port()).start()
    pg = Postgres(tmp / "pg", free_port()).start()
    try:
        import clickhouse_connect
        ch = clickhouse_connect.get_client(host="127.0.0.1", port=dev.http_port,
                                           autogenerate_session_id=False)
        load(ch, tbl)
        with psycopg.connect(pg.dsn, autocommit=True) as c:
            c.execute("CREATE DATABASE tpch TEMPLATE template0 LC_COLLATE 'C' LC_CTYPE 'C.UTF-8'")
        dsn = pg.dsn.replace("dbname=postgres", "dbname=tpch")
        with psycopg.connect(dsn, autocommit=True) as c:
            c.execute("CREATE EXTENSION ch_fdw")
            c.execute(f"CREATE SERVER ch FOREIGN DATA WRAPPER ch_fdw OPTIONS "
                      f"(host '127.0.0.1', port '{dev.http_port}', protocol 'http', dbname 'tpch')")
            c.execute("CREATE USER MAPPING FOR CURRENT_USER SERVER ch")
            ddl = (D.TPCH_DIR / "schema.sql").read_text()
            for name, cols in re.findall(r"CREATE TABLE (\w+) \((.*?)\);", ddl, re.S):
                c.execute(f"CREATE FOREIGN TABLE {name} ({cols}) SERVER ch")

        cold_med, cached_med = [], []
        print(f"{'query':<6} {'uncached ms':>12} {'cached ms':>10}")
        for name, sql in D.tpch_queries().items():
            cold = []
            for _ in range(args.cold):
                with psycopg.connect(dsn, autocommit=True) as c:
                    c.execute("SELECT count(*) FROM region").fetchall()   # connection + metadata warm
                    for t in ("nation", "supplier", "customer", "orders", "lineitem", "part", "partsupp"):
                        c.execute(f"EXPLAIN SELECT 1 FROM {t} LIMIT 0").fetchall()
                    cold.append(planning_ms(c, sql))
            with psycopg.connect(dsn, autocommit=True) as c:
                planning_ms(c, sql)
                cached = [planning_ms(c, sql) for _ in range(args.cached)]
            cold_med.append(statistics.median(cold))
            cached_med.append(statistics.median(cached))
            print(f"{name:<6} {cold_med[-1]:>12.2f} {cached_med[-1]:>10.3f}", flush=True)
        print(f"median over queries: {statistics.median(cold_med):.2f} ms uncached, "
              f"{statistics.median(cached_med):.3f} ms cached "
              f"({args.cold} fresh backends, {args.cached} cached runs per query)")
    finally:
        pg.stop()
        dev.stop()


if __name__ == "__main__":
    main()
