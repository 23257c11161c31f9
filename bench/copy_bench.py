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
Prints rows/s, the ratio ch_fdw/direct, and the backend's peak RSS (VmHWM)
for a small and the full load in fresh backends (equal peaks = flat memory).

Run: python bench/copy_bench.py [--rows N]   (as a non-root user, like bench/stream.py)
"""

from __future__ import annotations

import sys
from pathlib import Path

# This file is named copy.py: keep its directory off sys.path so that
# `import copy` elsewhere gets the standard library module.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

import argparse  # noqa: E402
import datetime as dt  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402

import psycopg  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "dev"))
from servers import DevServer, Postgres, free_port, start_clickhouse_18  # noqa: E402

DDL = "CREATE TABLE {t} (i Int64, f Float64, s String, t DateTime('UTC')) ENGINE = MergeTree ORDER BY i"
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


def via_ch_fdw(pg: Postgres, ft: str, data: bytes, rows: int, count) -> dict:
    with psycopg.connect(pg.dsn, autocommit=True) as c:
        pid = c.execute("SELECT pg_backend_pid()").fetchone()[0]
        c.execute(f"SELECT count(*) FROM {ft}").fetchone()      # load Python, connect
        base = vm_kib(pid, "VmRSS")
        t0 = time.perf_counter()
        with c.cursor().copy(f"COPY {ft} FROM STDIN") as cp:
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

    tmp = Path(tempfile.mkdtemp(prefix="ch_fdw-bench-copy-"))
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
            "native": (lambda sql: native.execute(sql), lambda t, rows: native.execute(
                f"INSERT INTO {t} (i, f, s, t) VALUES", rows),
                lambda sql: native.execute(sql)[0][0]),
            "http": (lambda sql: http.command(sql), lambda t, rows: http.insert(
                t, rows, column_names=["i", "f", "s", "t"]),
                lambda sql: http.query(sql).result_rows[0][0]),
        }
        with psycopg.connect(pg.dsn, autocommit=True) as c:
            c.execute("CREATE EXTENSION ch_fdw")
            for name, port in (("native", ch18.tcp_port), ("http", dev.http_port)):
                c.execute(f"CREATE SERVER {name} FOREIGN DATA WRAPPER ch_fdw "
                          f"OPTIONS (host '127.0.0.1', port '{port}', protocol '{name}')")
                c.execute(f"CREATE USER MAPPING FOR CURRENT_USER SERVER {name}")
                for tag in ("fdw", "fdwsmall"):
                    c.execute(f"CREATE FOREIGN TABLE {name}_{tag} (i bigint, f float8, s text, t timestamptz) "
                              f"SERVER {name} OPTIONS (table_name 'w_{tag}')")

        print(f"building {n:,} rows ...", flush=True)
        rows = make_rows(n)
        data = copy_text(n)
        data_small = copy_text(small)
        results = []
        for name, (command, insert, scalar) in clients.items():
            for t in ("w_fdw", "w_fdwsmall", "w_direct"):
                command(f"DROP TABLE IF EXISTS {t}")
                command(DDL.format(t=t))
            t0 = time.perf_counter()
            insert("w_direct", rows)
            direct_s = time.perf_counter() - t0
            assert scalar("SELECT count() FROM w_direct") == n
            small_r = via_ch_fdw(pg, f"{name}_fdwsmall", data_small, small,
                                 lambda: scalar("SELECT count() FROM w_fdwsmall"))
            full_r = via_ch_fdw(pg, f"{name}_fdw", data, n, lambda: scalar("SELECT count() FROM w_fdw"))
            same = scalar("SELECT count() FROM (SELECT i, f, s, t FROM w_fdw EXCEPT SELECT i, f, s, t "
                          "FROM w_direct)") if name == "http" else \
                scalar("SELECT sum(cityHash64(i, f, s, t)) FROM w_fdw") - \
                scalar("SELECT sum(cityHash64(i, f, s, t)) FROM w_direct")
            results.append((name, n / direct_s, direct_s, full_r, small_r, same))

        print(f"\nch_fdw COPY benchmark: {n:,} rows (Int64, Float64, String, DateTime) into MergeTree")
        print(f"{'protocol':<8} {'direct rows/s':>14} {'ch_fdw rows/s':>14} {'ratio':>6} "
              f"{'RSS before':>11} {'peak RSS':>9} {'peak @' + format(small, ','):>14} {'same data':>10}")
        for name, direct_rps, _, full, sm, same in results:
            print(f"{name:<8} {direct_rps:>14,.0f} {full['rows_per_s']:>14,.0f} "
                  f"{full['rows_per_s'] / direct_rps:>6.2f} {full['rss_before_mib']:>9.1f}Mi "
                  f"{full['peak_rss_mib']:>7.1f}Mi {sm['peak_rss_mib']:>12.1f}Mi {'yes' if same == 0 else 'NO'}")
        print("(direct = the driver inserting prebuilt Python tuples; ch_fdw = COPY FROM STDIN of the "
              "same rows as text; peak RSS = backend VmHWM, fresh backend per load)")
    finally:
        dev.stop()
        ch18.stop()
        pg.stop()


if __name__ == "__main__":
    main()
