"""TPC-H through ch_fdw vs the same remote SQL sent directly (modern engine).

Results are derived from TPC-H; they are not comparable to official TPC-H
results.

For each of the 22 queries, on the chDB devserver (modern ClickHouse, HTTP):
  * ch_fdw: the query sent to PostgreSQL with psycopg, end to end (planning,
    ClickHouse, streaming, conversion), best of --repeat after a warm-up;
  * direct: the Remote SQL ch_fdw sent, run with clickhouse-connect reading
    all result blocks, best of --repeat;
  * planning: EXPLAIN's planning time, first for a query text the backend has
    not seen (translation not cached; connection and table metadata warm)
    and then cached.
Prints per-query numbers, the summed ratio and the median planning times.

Run: dev/run bench-tpch [--scale 1]     (as non-root: python bench/tpch.py)
"""

from __future__ import annotations

import argparse
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

import psycopg

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "dev"))
sys.path.insert(0, str(ROOT / "tests"))
import difftest as D  # noqa: E402
from servers import DevServer, Postgres, free_port  # noqa: E402


def load(ch, tbl: Path) -> None:
    schema = D.parse_schema((D.TPCH_DIR / "schema.sql").read_text())
    ch.command("CREATE DATABASE IF NOT EXISTS tpch")
    for t, cols in schema.items():
        coldefs = ", ".join(f"`{c}` {D.pg_to_ch_type(ty)}" for c, ty in cols)
        ch.command(f"CREATE TABLE tpch.{t} ({coldefs}) ENGINE = MergeTree ORDER BY tuple()")
        # stream the .tbl file in pieces: SF1's lineitem is ~750 MB
        with open(tbl / f"{t}.tbl", "rb") as f:
            while True:
                lines = f.readlines(64 << 20)
                if not lines:
                    break
                body = b"".join(lines).replace(b"|\n", b"\n").replace(b"|", b"\t")
                ch.raw_insert(f"tpch.{t}", [c for c, _ in cols], insert_block=body, fmt="TSV")


def timed(fn, repeat: int) -> float:
    best = None
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        dt = time.perf_counter() - t0
        best = dt if best is None else min(best, dt)
    return best


def planning_ms(conn, sql: str) -> float:
    plan = "\n".join(r[0] for r in conn.execute("EXPLAIN (SUMMARY) " + sql))
    return float(re.search(r"Planning Time: ([\d.]+) ms", plan).group(1))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--scale", type=float, default=1.0)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="ch_fdw-tpch-"))
    print(f"generating TPC-H SF {args.scale} ...", flush=True)
    tbl = D.generate_tpch(tmp / "tbl", args.scale)
    (tmp / "devserver").mkdir()
    dev = DevServer(tmp / "devserver" / "data", free_port()).start()
    pg = Postgres(tmp / "pg", free_port()).start()
    try:
        import clickhouse_connect
        ch = clickhouse_connect.get_client(host="127.0.0.1", port=dev.http_port,
                                           autogenerate_session_id=False, send_receive_timeout=3600)
        t0 = time.perf_counter()
        load(ch, tbl)
        print(f"loaded into ClickHouse in {time.perf_counter() - t0:.0f} s", flush=True)
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

        rows = []
        with psycopg.connect(dsn, autocommit=True) as c:
            c.execute("SELECT count(*) FROM region").fetchall()   # connection + metadata warm
            for name, sql in D.tpch_queries().items():
                # first planning of this query in the backend: not translated yet
                cold = planning_ms(c, sql)
                cached = planning_ms(c, sql)
                plan = "\n".join(r[0] for r in c.execute("EXPLAIN (VERBOSE) " + sql))
                pushed = "Custom Scan (ClickHouseQuery)" in plan
                c.execute(sql).fetchall()                            # warm-up
                t_fdw = timed(lambda: c.execute(sql).fetchall(), args.repeat)
                t_direct = None
                if pushed:
                    remote = re.search(r"Remote SQL: (.*)", plan).group(1)

                    def direct():
                        with ch.query_column_block_stream(remote) as s:
                            for _ in s:
                                pass
                    direct()
                    t_direct = timed(direct, args.repeat)
                rows.append((name, pushed, t_fdw, t_direct, cold, cached))
                print(f"{name}: pushed={pushed} ch_fdw={t_fdw * 1000:.1f} ms "
                      f"direct={'-' if t_direct is None else f'{t_direct * 1000:.1f} ms'} "
                      f"planning cold={cold:.2f} ms cached={cached:.2f} ms", flush=True)

        print("\nDerived from TPC-H; not comparable to official TPC-H results.")
        print(f"TPC-H SF {args.scale}, chDB devserver (ClickHouse {ch.server_version}), best of {args.repeat}")
        print(f"{'query':<6} {'pushed':<7} {'ch_fdw ms':>10} {'direct ms':>10} {'ratio':>6} "
              f"{'plan cold':>10} {'plan cached':>12}")
        for name, pushed, f, d, cold, cached in rows:
            ratio = f"{f / d:.2f}" if d else "-"
            print(f"{name:<6} {str(pushed):<7} {f * 1000:>10.1f} {'-' if d is None else f'{d * 1000:.1f}':>10} "
                  f"{ratio:>6} {cold:>10.2f} {cached:>12.2f}")
        pushed_rows = [r for r in rows if r[1]]
        if pushed_rows:
            total_f = sum(r[2] for r in pushed_rows)
            total_d = sum(r[3] for r in pushed_rows)
            print(f"\npushed down whole: {len(pushed_rows)}/{len(rows)}")
            print(f"sum over pushed queries: ch_fdw {total_f:.3f} s, direct {total_d:.3f} s, "
                  f"ratio {total_f / total_d:.3f}")
        print(f"median planning time: {statistics.median(r[4] for r in rows):.2f} ms (translation not cached), "
              f"{statistics.median(r[5] for r in rows):.2f} ms (cached)")
    finally:
        pg.stop()
        dev.stop()


if __name__ == "__main__":
    main()
