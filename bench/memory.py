"""Backend memory benchmark: private memory of a ch_fdw backend per phase.

For each backend phase it reads /proc/PID/smaps_rollup and reports
Private (Private_Clean + Private_Dirty: what this backend alone costs the
machine), Rss and the peak RSS (VmHWM).  Phases, each in its own fresh
connection where it says so:

  * fresh: a new connection, nothing of ch_fdw touched yet;
  * first query: after the first query on a foreign table (interpreter and
    Python core loaded, or inherited from the postmaster with preload);
  * streamed N: after streaming N rows over HTTP / native (the chDB
    devserver) through the per-table path (the aggregate stays in
    PostgreSQL, as in bench/stream.py), at two sizes: flat memory shows as
    equal numbers;
  * tpch: after a few TPC-H queries pushed down whole (SF --tpch-scale);
  * idle: a new connection after one query, idle for a second.

All of it twice: with shared_preload_libraries = 'ch_fdw' (the interpreter
and the imports are made in the postmaster and shared copy-on-write) and
without (each backend loads them itself).

PostgreSQL's JIT is off unless --jit (LLVM is PostgreSQL's memory, not ch_fdw's).

Run (not as root): PG_CONFIG=... python bench/memory.py [--rows 1000000] [--jit]
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import tempfile
import time
from pathlib import Path

import psycopg

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "dev"))
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "bench"))
import difftest as D  # noqa: E402
from servers import DevServer, Postgres, free_port  # noqa: E402

# a few TPC-H queries pushed down whole (scan-heavy aggregates and joins;
# the correlated ones are slow on the devserver and add nothing here)
TPCH = ("q01", "q03", "q05", "q06", "q10", "q12", "q14")
QUERY = "SELECT count(*), sum(length(s)) FROM (SELECT * FROM {t} OFFSET 0) q"
FILL = ("INSERT INTO {t} SELECT number, number * 1.5, "
        "concat('str-', toString(number + 100000000000)) FROM numbers({n})")


def memory_mib(pid: int) -> dict:
    """Private, Rss (smaps_rollup) and peak RSS (status VmHWM) in MiB."""
    kib = {}
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
        m = re.match(r"(\w+):\s+(\d+) kB", line)
        if m:
            kib[m.group(1)] = int(m.group(2))
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            kib["VmHWM"] = int(line.split()[1])
    return {"private": (kib["Private_Clean"] + kib["Private_Dirty"]) / 1024,
            "dirty": kib["Private_Dirty"] / 1024,
            "rss": kib["Rss"] / 1024, "peak": kib["VmHWM"] / 1024}


def top_mappings(pid: int, n: int = 4) -> str:
    """The n mappings holding the most private memory (where it went)."""
    sizes: dict[str, int] = {}
    name = "?"
    for line in Path(f"/proc/{pid}/smaps").read_text().splitlines():
        f = line.split()
        if re.match(r"[0-9a-f]+-[0-9a-f]+ ", line):
            name = f[5] if len(f) > 5 else "[anon]"
        elif f[0] in ("Private_Clean:", "Private_Dirty:"):
            sizes[name] = sizes.get(name, 0) + int(f[1])
    top = sorted(sizes.items(), key=lambda kv: -kv[1])[:n]
    return ", ".join(f"{Path(k).name} {v / 1024:.1f}" for k, v in top)


JIT = False


def connect(dsn: str):
    c = psycopg.connect(dsn, autocommit=True)
    if not JIT:
        # PostgreSQL's JIT (jit_above_cost) starts for the larger scans and
        # maps LLVM (~7 MiB private, ~50 MiB of RSS): PostgreSQL's cost, not ch_fdw's
        c.execute("SET jit = off")
    return c, c.execute("SELECT pg_backend_pid()").fetchone()[0]


def phases(dsn: str, sizes: list[int], tpch: bool) -> list[tuple[str, dict]]:
    out = []
    for proto in ("http", "native"):
        c, pid = connect(dsn)
        with c:
            out.append((f"{proto}: fresh connection", memory_mib(pid)))
            c.execute("SET ch_fdw.query_pushdown = off")
            c.execute(f"SELECT * FROM {proto}_{sizes[0]} LIMIT 1").fetchall()
            out.append((f"{proto}: after first query", memory_mib(pid)))
            for n in sizes:
                got = c.execute(QUERY.format(t=f"{proto}_{n}")).fetchone()[0]
                assert got == n, (got, n)
                out.append((f"{proto}: streamed {n:,} rows", memory_mib(pid)))
                print(*out[-1], "| top:", top_mappings(pid), flush=True)
    if tpch:
        c, pid = connect(dsn.replace("dbname=postgres", "dbname=tpch"))
        with c:
            queries = D.tpch_queries()
            for name in TPCH:
                c.execute(queries[name]).fetchall()
            out.append((f"tpch: after {len(TPCH)} queries", memory_mib(pid)))
    c, pid = connect(dsn)
    with c:
        c.execute(f"SELECT count(*) FROM http_{sizes[0]}").fetchall()
        time.sleep(1)
        out.append(("idle after one query", memory_mib(pid)))
    return out


def setup(pg: Postgres, dev: DevServer, sizes: list[int], tpch_scale: float, tmp: Path) -> None:
    import clickhouse_connect
    ch = clickhouse_connect.get_client(host="127.0.0.1", port=dev.http_port,
                                       autogenerate_session_id=False, send_receive_timeout=3600)
    for n in sizes:
        ch.command(f"CREATE TABLE s{n} (i Int64, f Float64, s String) ENGINE = MergeTree ORDER BY i")
        ch.command(FILL.format(t=f"s{n}", n=n))
    with psycopg.connect(pg.dsn, autocommit=True) as c:
        c.execute("CREATE EXTENSION ch_fdw")
        for proto, port in (("http", dev.http_port), ("native", dev.tcp_port)):
            c.execute(f"CREATE SERVER {proto} FOREIGN DATA WRAPPER ch_fdw "
                      f"OPTIONS (host '127.0.0.1', port '{port}', protocol '{proto}')")
            c.execute(f"CREATE USER MAPPING FOR CURRENT_USER SERVER {proto}")
            for n in sizes:
                c.execute(f"CREATE FOREIGN TABLE {proto}_{n} (i bigint, f float8, s text) "
                          f"SERVER {proto} OPTIONS (table_name 's{n}')")
        if tpch_scale:
            c.execute("CREATE DATABASE tpch TEMPLATE template0 LC_COLLATE 'C' LC_CTYPE 'C.UTF-8'")
    if tpch_scale:
        from tpch import load
        load(ch, D.generate_tpch(tmp / "tbl", tpch_scale))
        with psycopg.connect(pg.dsn.replace("dbname=postgres", "dbname=tpch"), autocommit=True) as c:
            c.execute("CREATE EXTENSION ch_fdw")
            c.execute(f"CREATE SERVER ch FOREIGN DATA WRAPPER ch_fdw OPTIONS "
                      f"(host '127.0.0.1', port '{dev.http_port}', protocol 'http', dbname 'tpch')")
            c.execute("CREATE USER MAPPING FOR CURRENT_USER SERVER ch")
            ddl = (D.TPCH_DIR / "schema.sql").read_text()
            for name, cols in re.findall(r"CREATE TABLE (\w+) \((.*?)\);", ddl, re.S):
                c.execute(f"CREATE FOREIGN TABLE {name} ({cols}) SERVER ch")


def set_preload(pg: Postgres, on: bool) -> None:
    pg.stop()
    with open(pg.datadir / "postgresql.conf", "a") as f:   # the last line wins
        f.write(f"shared_preload_libraries = '{'ch_fdw' if on else ''}'\n")
    pg.start()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=1_000_000,
                    help="the larger streaming size (the smaller is a tenth); 10000000 for the issue's target")
    ap.add_argument("--tpch-scale", type=float, default=0.01, help="0 skips the TPC-H phase")
    ap.add_argument("--jit", action="store_true", help="leave PostgreSQL's JIT on (default: off)")
    args = ap.parse_args()
    global JIT
    JIT = args.jit
    sizes = [args.rows // 10, args.rows]

    tmp = Path(tempfile.mkdtemp(prefix="ch_fdw-memory-"))
    (tmp / "devserver").mkdir()
    dev = DevServer(tmp / "devserver" / "data", free_port(), free_port()).start()
    pg = Postgres(tmp / "pg", free_port()).start()
    try:
        setup(pg, dev, sizes, args.tpch_scale, tmp)
        results = {}
        for preload in (True, False):
            set_preload(pg, preload)
            results[preload] = phases(pg.dsn, sizes, bool(args.tpch_scale))
        print(f"\nch_fdw backend memory (MiB; private = Private_Clean + Private_Dirty of "
              f"/proc/PID/smaps_rollup), load average {os.getloadavg()[0]:.2f}")
        print(f"{'phase':<32} {'private':>8} {'dirty':>7} {'rss':>7} {'peak':>7}   "
              f"{'private':>8} {'dirty':>7} {'rss':>7} {'peak':>7}")
        print(f"{'':<32} {'with shared_preload_libraries':^32}   {'without':^32}")
        for (name, a), (_, b) in zip(results[True], results[False]):
            print(f"{name:<32} {a['private']:>8.1f} {a['dirty']:>7.1f} {a['rss']:>7.1f} {a['peak']:>7.1f}   "
                  f"{b['private']:>8.1f} {b['dirty']:>7.1f} {b['rss']:>7.1f} {b['peak']:>7.1f}")
    finally:
        pg.stop()
        dev.stop()


if __name__ == "__main__":
    main()
