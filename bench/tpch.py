"""TPC-H through ch_fdw vs the same remote SQL sent directly (modern engine).

Results are derived from TPC-H; they are not comparable to official TPC-H
results.

For each of the 22 queries, on the chDB devserver (modern ClickHouse, HTTP):
  * ch_fdw: the query sent to PostgreSQL with psycopg, end to end (planning,
    ClickHouse, streaming, conversion), best of --repeat after a warm-up;
  * direct: the Remote SQL ch_fdw sent, run with clickhouse-connect reading
    all result blocks, best of --repeat;
  * hand: a hand-tuned ClickHouse version of the query (bench/tpch_hand/,
    see SOURCES.md there) sent directly, where one exists, checked to return
    ch_fdw's rows;
  * pg: plain PostgreSQL on local tables with TPC-H's keys indexed
    (--no-pg skips loading them);
  * planning: EXPLAIN's planning time, first for a query text the backend has
    not seen (translation not cached; connection and table metadata warm)
    and then cached.
The timed runs are interleaved (one of each per round, best of --repeat).
Prints per-query numbers, the summed ratios and the median planning times.

Run: dev/run bench-tpch [--scale 1]     (as non-root: python bench/tpch.py)
"""

from __future__ import annotations

import argparse
import os
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


HAND_DIR = ROOT / "bench" / "tpch_hand"


def same_rows(fdw_rows, hand_rows, ordered: bool) -> bool:
    """ch_fdw's rows vs the hand-tuned SQL's: character(n) padding and the
    numeric type (numeric vs Decimal/UInt16/Float64) are presentation, the
    values must agree (within the differential tests' tolerance)."""
    from decimal import Decimal

    def norm(v):
        if isinstance(v, str):
            return v.rstrip(" ")
        if isinstance(v, (Decimal, int)) and not isinstance(v, bool):
            return float(v)
        return v
    return bool(D.compare([tuple(map(norm, r)) for r in fdw_rows],
                          [tuple(map(norm, r)) for r in hand_rows], ordered))


def interleaved(fns: dict, repeat: int) -> dict:
    """Best time of each function, running them one after another per round."""
    best: dict = {}
    for _ in range(repeat):
        for k, fn in fns.items():
            t0 = time.perf_counter()
            fn()
            dt = time.perf_counter() - t0
            best[k] = min(best.get(k, dt), dt)
    return best


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
    ap.add_argument("--no-pg", action="store_true", help="skip plain PostgreSQL on local tables")
    ap.add_argument("--queries", default="", help="comma-separated subset, e.g. q01,q05")
    args = ap.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="ch_fdw-tpch-"))
    print(f"generating TPC-H SF {args.scale} ...", flush=True)
    tbl = D.generate_tpch(tmp / "tbl", args.scale)
    (tmp / "devserver").mkdir()
    dev = DevServer(tmp / "devserver" / "data", free_port()).start()
    pg = Postgres(tmp / "pg", free_port()).start()
    local = None
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
        if not args.no_pg:
            with psycopg.connect(pg.dsn, autocommit=True) as c:
                c.execute("CREATE DATABASE tpch_local TEMPLATE template0 LC_COLLATE 'C' LC_CTYPE 'C.UTF-8'")
            local = psycopg.connect(pg.dsn.replace("dbname=postgres", "dbname=tpch_local"), autocommit=True)
            t0 = time.perf_counter()
            D.load_tpch_pg(local, tbl, (D.TPCH_DIR / "schema.sql").read_text())
            print(f"loaded into PostgreSQL (keys indexed) in {time.perf_counter() - t0:.0f} s", flush=True)

        rows = []
        queries = D.tpch_queries()
        if args.queries:
            queries = {q: queries[q] for q in args.queries.split(",")}
        with psycopg.connect(dsn, autocommit=True) as c:
            c.execute("SELECT count(*) FROM region").fetchall()   # connection + metadata warm
            for name, sql in queries.items():
                # first planning of this query in the backend: not translated yet
                cold = planning_ms(c, sql)
                cached = planning_ms(c, sql)
                plan = "\n".join(r[0] for r in c.execute("EXPLAIN (VERBOSE) " + sql))
                pushed = "Custom Scan (ClickHouseQuery)" in plan
                fdw_rows = c.execute(sql).fetchall()                 # warm-up
                fns = {"fdw": lambda: c.execute(sql).fetchall()}

                def drain(q):
                    with ch.query_column_block_stream(q) as s:
                        for _ in s:
                            pass
                if pushed:
                    remote = re.search(r"Remote SQL: (.*)", plan).group(1)
                    fns["direct"] = lambda: drain(remote)
                hand_file = HAND_DIR / f"{name}.sql"
                same = "-"
                if hand_file.exists():
                    hand = hand_file.read_text()
                    got = [tuple(r) for r in ch.query(hand).result_rows]
                    same = same_rows(fdw_rows, got, D.has_top_level_order_by(sql))
                    fns["hand"] = lambda: drain(hand)
                if local is not None:
                    local.execute(sql).fetchall()
                    fns["pg"] = lambda: local.execute(sql).fetchall()
                for fn in fns.values():
                    fn()                                              # warm
                t = interleaved(fns, args.repeat)
                rows.append((name, pushed, t["fdw"], t.get("direct"), cold, cached,
                             t.get("hand"), same, t.get("pg")))

                def ms(k):
                    return "-" if k not in t else f"{t[k] * 1000:.1f} ms"
                print(f"{name}: pushed={pushed} ch_fdw={ms('fdw')} direct={ms('direct')} "
                      f"hand={ms('hand')} (same rows: {same}) pg={ms('pg')} "
                      f"planning cold={cold:.2f} ms cached={cached:.2f} ms", flush=True)

        print("\nDerived from TPC-H; not comparable to official TPC-H results.")
        print(f"TPC-H SF {args.scale}, chDB devserver (ClickHouse {ch.server_version}), best of {args.repeat}")
        print(f"load average {os.getloadavg()[0]:.2f}")
        print(f"{'query':<6} {'pushed':<7} {'ch_fdw ms':>10} {'direct ms':>10} {'ratio':>6} "
              f"{'hand ms':>9} {'fdw/hand':>9} {'same':>5} {'pg ms':>9} {'plan cold':>10} {'plan cached':>12}")

        def f1(x):
            return "-" if x is None else f"{x * 1000:.1f}"
        for name, pushed, f, d, cold, cached, h, same, p in rows:
            ratio = f"{f / d:.2f}" if d else "-"
            hr = f"{f / h:.2f}" if h else "-"
            print(f"{name:<6} {str(pushed):<7} {f * 1000:>10.1f} {f1(d):>10} {ratio:>6} "
                  f"{f1(h):>9} {hr:>9} {str(same):>5} {f1(p):>9} {cold:>10.2f} {cached:>12.2f}")
        hand_rows = [r for r in rows if r[6]]
        if hand_rows:
            print(f"sum over {len(hand_rows)} hand-tuned queries: ch_fdw {sum(r[2] for r in hand_rows):.3f} s, "
                  f"hand-tuned direct {sum(r[6] for r in hand_rows):.3f} s, ratio "
                  f"{sum(r[2] for r in hand_rows) / sum(r[6] for r in hand_rows):.3f}")
        if local is not None:
            print(f"ch_fdw faster than plain PostgreSQL in {sum(r[2] < r[8] for r in rows)}/{len(rows)} queries; "
                  f"sums ch_fdw {sum(r[2] for r in rows):.3f} s, PostgreSQL {sum(r[8] for r in rows):.3f} s")
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
        if local is not None:
            local.close()
        pg.stop()
        dev.stop()


if __name__ == "__main__":
    main()
