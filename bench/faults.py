"""Cancel and timeout latency under network faults, per protocol.

A fault-injecting relay (tests/faultrelay.py) sits between PostgreSQL and
ClickHouse (native: Debian's ClickHouse 18.16; http: the chDB devserver).
Each fault runs `--repeat` times (default 5) per protocol; printed is the
latency from the moment the cancel/timeout is due (statement_timeout 1 s
after the query started, the pg_cancel_backend call, receive_timeout 1 s
after the stall) to the error, min/median/max, plus hangs (no error within
30 s), backend crashes (the session is gone) and whether the next query on
the same session worked every time.

Run: dev/run bench-faults [--repeat N]   (as a non-root user: python bench/faults.py)
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import psycopg

root = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(root / "dev"))
sys.path.insert(0, str(root / "tests"))
from servers import DevServer, Postgres, free_port, start_clickhouse_18  # noqa: E402
from faultrelay import FaultRelay  # noqa: E402

ROWS = 2_000_000
STREAM = "SELECT count(*) FROM big WHERE random() >= 0"
HANG = 30.0


def _query_in_thread(c, sql: str) -> dict:
    out: dict = {}

    def run():
        try:
            c.execute(sql).fetchall()
        except psycopg.Error as e:
            out["error"] = e
        out["end"] = time.monotonic()

    t = threading.Thread(target=run, daemon=True)
    out["thread"] = t
    t.start()
    return out


def one_run(dsn: str, relay: FaultRelay, fault: str, trigger: str) -> tuple[float | None, str, bool, bool]:
    """(latency or None on a hang, SQLSTATE, next query worked, backend crashed)."""
    with psycopg.connect(dsn, autocommit=True) as c:
        if fault != "blackhole":     # (a new session's first connect is the point there)
            c.execute("SELECT * FROM small").fetchall()          # Python loaded, connected
        pid = c.execute("SELECT pg_backend_pid()").fetchone()[0]
        if trigger == "statement_timeout":
            c.execute("SET statement_timeout = '1s'")
        sql = "SELECT * FROM small" if fault == "blackhole" else STREAM
        relay.set(*FAULTS[fault])
        start = time.monotonic()
        out = _query_in_thread(c, sql)
        if trigger == "pg_cancel_backend":
            time.sleep(0.5)
            with psycopg.connect(dsn, autocommit=True) as other:
                due = time.monotonic()
                other.execute("SELECT pg_cancel_backend(%s)", (pid,))
        else:
            due = start + 1.0
        out["thread"].join(HANG)
        relay.set("pass")
        if out["thread"].is_alive():
            return None, "hang", False, False
        state = getattr(out.get("error"), "sqlstate", None) or "no error"
        try:
            c.execute("SELECT 1")
        except psycopg.Error:
            return max(0.0, out["end"] - due), state, False, True
        try:
            c.execute("RESET statement_timeout")
            ok = c.execute("SELECT sum(id) FROM small").fetchone()[0] == 3 and \
                c.execute(STREAM).fetchone()[0] == ROWS
        except psycopg.Error:
            ok = False
        return max(0.0, out["end"] - due), state, ok, False


# fault name -> FaultRelay.set() arguments
FAULTS = {
    "stall first byte": ("stall", 0),
    "stall mid-stream": ("stall", 256 * 1024),
    "slow trickle": ("trickle", 0, "down", 512, 0.01),
    "blackhole": ("blackhole",),
}
CASES = [(f, "statement_timeout") for f in FAULTS] + [
    ("stall mid-stream", "pg_cancel_backend"),
    ("stall mid-stream", "receive_timeout"),
]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="ch_fdw-bench-faults-"))
    pg = Postgres(tmp / "pg", free_port()).start()
    ch18 = start_clickhouse_18(tmp / "ch18", free_port(), free_port())
    (tmp / "devserver").mkdir()
    dev = DevServer(tmp / "devserver" / "data", free_port())
    dev.start()
    relays = {"native": FaultRelay(ch18.tcp_port, lifetime=3600),
              "http": FaultRelay(dev.http_port, lifetime=3600)}
    try:
        from clickhouse_driver import Client
        import clickhouse_connect
        admin = {"native": Client("127.0.0.1", port=ch18.tcp_port).execute,
                 "http": clickhouse_connect.get_client(host="127.0.0.1", port=dev.http_port).command}
        with psycopg.connect(pg.dsn, autocommit=True) as c:
            c.execute("CREATE EXTENSION ch_fdw")
        results = []
        for proto, relay in relays.items():
            run = admin[proto]
            run("DROP TABLE IF EXISTS big")
            run(f"CREATE VIEW big AS SELECT number AS n FROM system.numbers LIMIT {ROWS}")
            run("DROP TABLE IF EXISTS small")
            run("CREATE TABLE small ENGINE = Memory AS SELECT toInt64(number + 1) AS id FROM numbers(2)")
            with psycopg.connect(pg.dsn, autocommit=True) as c:
                c.execute("DROP SERVER IF EXISTS faulty CASCADE")
                c.execute(f"CREATE SERVER faulty FOREIGN DATA WRAPPER ch_fdw OPTIONS (host '127.0.0.1', "
                          f"port '{relay.port}', protocol '{proto}', connect_timeout '30', receive_timeout '1')")
                c.execute("CREATE USER MAPPING FOR CURRENT_USER SERVER faulty")
                c.execute("CREATE FOREIGN TABLE big (n bigint) SERVER faulty")
                c.execute("CREATE FOREIGN TABLE small (id bigint) SERVER faulty")
            for fault, trigger in CASES:
                limit = "1" if trigger == "receive_timeout" else "300"
                with psycopg.connect(pg.dsn, autocommit=True) as c:
                    c.execute(f"ALTER SERVER faulty OPTIONS (SET receive_timeout '{limit}')")
                runs = [one_run(pg.dsn, relay, fault, trigger) for _ in range(args.repeat)]
                lat = [r[0] for r in runs if r[0] is not None]
                results.append((proto, fault, trigger, lat, runs))
        print(f"\nch_fdw cancel/timeout latency under network faults ({args.repeat} runs each)")
        print(f"{'protocol':<8} {'fault':<17} {'trigger':<18} {'min':>6} {'median':>7} {'max':>6} "
              f"{'hangs':>5} {'crash':>5} {'next ok':>7}  SQLSTATE")
        for proto, fault, trigger, lat, runs in results:
            hangs = sum(r[0] is None for r in runs)
            crashes = sum(r[3] for r in runs)
            states = ",".join(sorted({r[1] for r in runs}))
            fmt = (lambda v: f"{v:6.2f}") if lat else (lambda v: "   -  ")
            print(f"{proto:<8} {fault:<17} {trigger:<18} {fmt(min(lat) if lat else 0)} "
                  f"{fmt(statistics.median(lat) if lat else 0):>7} {fmt(max(lat) if lat else 0)} "
                  f"{hangs:>5} {crashes:>5} {sum(r[2] for r in runs):>4}/{len(runs)}  {states}")
        print("(seconds from when the cancel/timeout was due to the error)")
    finally:
        for r in relays.values():
            r.stop()
        dev.stop()
        ch18.stop()
        pg.stop()


if __name__ == "__main__":
    main()
