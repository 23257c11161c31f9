"""Write benchmark: COPY into a ClickHouse MergeTree table through ch_fdw vs
the driver inserting the same rows directly, in the same run.

Rows: (Int64, Float64, String ~20 chars, DateTime).  For each protocol
(native: Debian's ClickHouse 18.16 with clickhouse-driver; http: the chDB
devserver with clickhouse-connect):
  * ch_fdw:  COPY ft FROM STDIN (text format, the rows pre-rendered in
    memory, so the time is PostgreSQL parsing + ch_fdw + ClickHouse);
  * direct:  the driver's own insert of the same rows as Python tuples
    (clickhouse-driver `execute("INSERT ... VALUES", rows)`,
    clickhouse-connect `insert(table, rows)`), rows built before timing.
  * column list: the same rows into a table with two more columns, one
    DEFAULT and one MATERIALIZED, that the foreign table also declares:
    `COPY ft (i, f, s, t) FROM STDIN` vs the driver's INSERT naming the
    same four columns; both leave the other two to ClickHouse.
Prints rows/s, the ratio ch_fdw/direct, and the backend's peak RSS (VmHWM)
for a small and the full load in fresh backends (equal peaks = flat memory).

Run: python bench/copy_bench.py [--rows N]   (as a non-root user, like bench/stream.py)
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import time
from pathlib import Path

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent))
from write_servers import write_servers  # noqa: E402

COLUMNS = "i Int64, f Float64, s String, t DateTime('UTC')"
DEFAULTED = ", d String DEFAULT concat('d', toString(i)), m Int64 MATERIALIZED i * 2"
DDL = "CREATE TABLE {t} ({cols}) ENGINE = MergeTree ORDER BY i"
EPOCH = 1_700_000_000


def make_rows(n: int) -> list[tuple]:
    base = dt.datetime.fromtimestamp(EPOCH, dt.timezone.utc)
    step = dt.timedelta(seconds=1)
    return [(i, i * 1.5, f"str-{i + 100000000000}", base + step * (i % 86400)) for i in range(n)]


def copy_text(n: int) -> bytes:
    lines = []
    base = dt.datetime.fromtimestamp(EPOCH, dt.timezone.utc)
    for i in range(n):
        ts = (base + dt.timedelta(seconds=i % 86400)).strftime("%Y-%m-%d %H:%M:%S+00")
        lines.append(f"{i}\t{i * 1.5!r}\tstr-{i + 100000000000}\t{ts}\n")
    return "".join(lines).encode()


def vm_kib(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def via_ch_fdw(pg, ft: str, data: bytes, rows: int, count, column_list: str = "") -> dict:
    with psycopg.connect(pg.dsn, autocommit=True) as c:
        pid = c.execute("SELECT pg_backend_pid()").fetchone()[0]
        c.execute(f"SELECT count(*) FROM {ft}").fetchone()      # load Python, connect
        base = vm_kib(pid, "VmRSS")
        t0 = time.perf_counter()
        with c.cursor().copy(f"COPY {ft} {column_list} FROM STDIN") as cp:
            view = memoryview(data)
            for off in range(0, len(data), 1 << 20):
                cp.write(view[off:off + (1 << 20)])
        seconds = time.perf_counter() - t0
        peak = vm_kib(pid, "VmHWM")
    assert count() == rows, (count(), rows)
    return {"seconds": seconds, "rows_per_s": rows / seconds, "rss_before_mib": base / 1024,
            "peak_rss_mib": peak / 1024}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=1_000_000)
    args = ap.parse_args()
    n = args.rows
    small = max(n // 10, 1)

    with write_servers("ch_fdw-bench-copy-") as servers:
        pg = servers.pg
        with psycopg.connect(pg.dsn, autocommit=True) as c:
            for t in servers.targets:
                for tag in ("fdw", "fdwsmall"):
                    c.execute(f"CREATE FOREIGN TABLE {t.name}_{tag} (i bigint, f float8, s text, t timestamptz) "
                              f"SERVER {t.name} OPTIONS (table_name 'w_{tag}')")
                c.execute(f"CREATE FOREIGN TABLE {t.name}_fdwcols (i bigint, f float8, s text, t timestamptz, "
                          f"d text, m bigint) SERVER {t.name} OPTIONS (table_name 'w_fdwcols')")

        print(f"building {n:,} rows ...", flush=True)
        rows = make_rows(n)
        data = copy_text(n)
        data_small = copy_text(small)
        four = ["i", "f", "s", "t"]
        results = []
        for t in servers.targets:
            for name, cols in (("w_warm", COLUMNS), ("w_fdw", COLUMNS), ("w_fdwsmall", COLUMNS), ("w_direct", COLUMNS),
                               ("w_fdwcols", COLUMNS + DEFAULTED), ("w_directcols", COLUMNS + DEFAULTED)):
                t.command(f"DROP TABLE IF EXISTS {name}")
                t.command(DDL.format(t=name, cols=cols))
            # the first insert of a fresh server is slower (measured ~2x on the devserver)
            t.insert("w_warm", four, rows[:max(n // 10, 1)])
            t0 = time.perf_counter()
            t.insert("w_direct", four, rows)
            direct_s = time.perf_counter() - t0
            assert t.scalar("SELECT count() FROM w_direct") == n
            small_r = via_ch_fdw(pg, f"{t.name}_fdwsmall", data_small, small,
                                 lambda: t.scalar("SELECT count() FROM w_fdwsmall"))
            full_r = via_ch_fdw(pg, f"{t.name}_fdw", data, n, lambda: t.scalar("SELECT count() FROM w_fdw"))
            results.append((t.name, n / direct_s, full_r, small_r, same(t, "w_fdw", "w_direct", four)))
            t0 = time.perf_counter()
            t.insert("w_directcols", four, rows)
            direct_s = time.perf_counter() - t0
            cols_r = via_ch_fdw(pg, f"{t.name}_fdwcols", data, n, lambda: t.scalar("SELECT count() FROM w_fdwcols"),
                                column_list="(i, f, s, t)")
            results.append((t.name + " (i,f,s,t)", n / direct_s, cols_r, None,
                            same(t, "w_fdwcols", "w_directcols", four + ["d", "m"])))

        print(f"\nch_fdw COPY benchmark: {n:,} rows (Int64, Float64, String, DateTime) into MergeTree")
        print(f"{'load':<18} {'direct rows/s':>14} {'ch_fdw rows/s':>14} {'ratio':>6} "
              f"{'RSS before':>11} {'peak RSS':>9} {'peak @' + format(small, ','):>14} {'same data':>10}")
        for name, direct_rps, full, sm, same_data in results:
            small_peak = f"{sm['peak_rss_mib']:>12.1f}Mi" if sm else f"{'-':>14}"
            print(f"{name:<18} {direct_rps:>14,.0f} {full['rows_per_s']:>14,.0f} "
                  f"{full['rows_per_s'] / direct_rps:>6.2f} {full['rss_before_mib']:>9.1f}Mi "
                  f"{full['peak_rss_mib']:>7.1f}Mi {small_peak} {'yes' if same_data else 'NO'}")
        print("(direct = the driver inserting prebuilt Python tuples; ch_fdw = COPY FROM STDIN of the "
              "same rows as text; (i,f,s,t) = both name those columns of a table with a DEFAULT and a "
              "MATERIALIZED column; peak RSS = backend VmHWM, fresh backend per load)")


def same(t, a: str, b: str, cols: list[str]) -> bool:
    """The two tables hold the same rows (defaulted columns included)."""
    c = ", ".join(cols)
    if t.name == "http":
        return t.scalar(f"SELECT count() FROM (SELECT {c} FROM {a} EXCEPT SELECT {c} FROM {b})") == 0
    # ClickHouse 18.16 has no EXCEPT
    return t.scalar(f"SELECT sum(cityHash64({c})) FROM {a}") == t.scalar(f"SELECT sum(cityHash64({c})) FROM {b}")


if __name__ == "__main__":
    main()
