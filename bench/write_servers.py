"""Shared setup of the write benchmarks (small_inserts.py, copy_bench.py):
a throw-away PostgreSQL with ch_fdw, Debian's ClickHouse 18.16 (native,
clickhouse-driver) and the chDB devserver (http, clickhouse-connect), each
with a ch_fdw server named after its protocol, and the driver's own calls
for the direct side of each comparison."""

from __future__ import annotations

import sys
import tempfile
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "dev"))
from servers import DevServer, Postgres, free_port, start_clickhouse_18  # noqa: E402


@dataclass
class Target:
    """One ClickHouse engine as the benchmark drives it directly."""
    name: str                                   # native | http: also the ch_fdw server's name
    port: int
    command: Callable[[str], object]
    scalar: Callable[[str], object]
    insert: Callable[[str, list[str], list[tuple]], object]   # (table, columns, rows): one INSERT


@dataclass
class Servers:
    pg: Postgres
    targets: list[Target]


@contextmanager
def write_servers(prefix: str) -> Iterator[Servers]:
    tmp = Path(tempfile.mkdtemp(prefix=prefix))
    pg = Postgres(tmp / "pg", free_port()).start()
    ch18 = start_clickhouse_18(tmp / "ch18", free_port(), free_port())
    (tmp / "devserver").mkdir()
    dev = DevServer(tmp / "devserver" / "data", free_port()).start()
    try:
        from clickhouse_driver import Client
        import clickhouse_connect
        native = Client("127.0.0.1", port=ch18.tcp_port)
        http = clickhouse_connect.get_client(host="127.0.0.1", port=dev.http_port)
        targets = [
            Target("native", ch18.tcp_port, native.execute, lambda sql: native.execute(sql)[0][0],
                   lambda t, cols, rows: native.execute(f"INSERT INTO {t} ({', '.join(cols)}) VALUES", rows)),
            Target("http", dev.http_port, http.command, lambda sql: http.query(sql).result_rows[0][0],
                   lambda t, cols, rows: http.insert(t, rows, column_names=cols)),
        ]
        with psycopg.connect(pg.dsn, autocommit=True) as c:
            c.execute("CREATE EXTENSION ch_fdw")
            for t in targets:
                c.execute(f"CREATE SERVER {t.name} FOREIGN DATA WRAPPER ch_fdw "
                          f"OPTIONS (host '127.0.0.1', port '{t.port}', protocol '{t.name}')")
                c.execute(f"CREATE USER MAPPING FOR CURRENT_USER SERVER {t.name}")
        yield Servers(pg, targets)
    finally:
        dev.stop()
        ch18.stop()
        pg.stop()
