"""Shared fixtures: a real PostgreSQL (the one $PG_CONFIG names, default
Debian's 15) with ch_fdw installed and preloaded, Debian's
ClickHouse 18.16 (native protocol) and the chDB devserver (modern ClickHouse,
HTTP and, where served, native).  Nothing here is mocked.

The suite runs as the postgres user (PostgreSQL refuses root); `make test`
arranges that.
"""

from __future__ import annotations

import itertools
import os
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
import pytest
from pytest_postgresql import factories

sys.path.insert(0, str(Path(__file__).parent))
from chserver import start_clickhouse_18  # noqa: E402
from helpers import PG_BIN  # noqa: E402

postgresql_proc = factories.postgresql_proc(
    executable=str(PG_BIN / "pg_ctl"), port=None, unixsocketdir="/tmp",
    postgres_options="-c shared_preload_libraries=ch_fdw -c lc_messages=C")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# ---------------------------------------------------------------- ClickHouse

@dataclass
class Engine:
    """A ClickHouse endpoint as a test sees it."""
    name: str                 # test id: ch18-native, modern-http, modern-native
    protocol: str             # native | http
    port: int
    version: tuple
    modern: bool
    admin: object = field(repr=False, default=None)   # direct client for setup

    @property
    def server_options(self) -> str:
        return f"host '127.0.0.1', port '{self.port}', protocol '{self.protocol}'"

    def command(self, sql: str) -> None:
        if self.protocol == "native":
            self.admin.execute(sql)
        else:
            self.admin.command(sql)

    def query(self, sql: str) -> list[tuple]:
        if self.protocol == "native":
            return self.admin.execute(sql)
        return [tuple(r) for r in self.admin.query(sql).result_rows]

    def insert(self, table: str, rows: list[tuple], columns: list[str]) -> None:
        """Insert rows; column names are plain (unquoted) ClickHouse names."""
        if self.protocol == "native":
            from ch_fdw.translate.quoting import quote_identifier
            cols = ", ".join(c if c.startswith("`") else quote_identifier(c) for c in columns)
            self.admin.execute(f"INSERT INTO {table} ({cols}) VALUES", rows)
        else:
            self.admin.insert(table, rows, column_names=columns)


@pytest.fixture(scope="session")
def ch18(tmp_path_factory):
    srv = start_clickhouse_18(tmp_path_factory.mktemp("ch18"), free_port(), free_port())
    yield srv
    srv.stop()


class DevServer:
    def __init__(self, path: Path, http_port: int, tcp_port: int | None):
        self.http_port, self.tcp_port = http_port, tcp_port
        cmd = [sys.executable, "-m", "ch_fdw.devserver", "--path", str(path),
               "--http-port", str(http_port)]
        if tcp_port:
            cmd += ["--tcp-port", str(tcp_port)]
        self.log = open(path.parent / "devserver.log", "ab")
        self.proc = subprocess.Popen(cmd, stdout=self.log, stderr=subprocess.STDOUT,
                                     cwd=Path(__file__).parent.parent)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"devserver exited: {self.proc.returncode}")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{http_port}/ping", timeout=1) as r:
                    if r.read().startswith(b"Ok"):
                        return
            except OSError:
                time.sleep(0.2)
        raise RuntimeError("devserver did not start")

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(20)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def devserver_serves_native() -> bool:
    try:
        from ch_fdw import devserver  # noqa: F401
        import ch_fdw.devserver as d
        return bool(getattr(d, "SERVES_NATIVE", False))
    except ImportError:
        return False


@pytest.fixture(scope="session")
def devserver(tmp_path_factory):
    d = tmp_path_factory.mktemp("devserver")
    srv = DevServer(d / "data", free_port(), free_port() if devserver_serves_native() else None)
    yield srv
    srv.stop()


ENGINE_IDS = ["ch18-native", "modern-http"] + (["modern-native"] if devserver_serves_native() else [])


def _make_engine(name: str, request) -> Engine:
    if name == "ch18-native":
        from clickhouse_driver import Client
        srv = request.getfixturevalue("ch18")
        admin = Client("127.0.0.1", port=srv.tcp_port)
        v = admin.connection.server_info if admin.execute("SELECT 1") else None
        return Engine(name, "native", srv.tcp_port,
                      (v.version_major, v.version_minor, v.version_patch), False, admin)
    srv = request.getfixturevalue("devserver")
    if name == "modern-native":
        from clickhouse_driver import Client
        admin = Client("127.0.0.1", port=srv.tcp_port)
        admin.execute("SELECT 1")
        v = admin.connection.server_info
        return Engine(name, "native", srv.tcp_port,
                      (v.version_major, v.version_minor, v.version_patch), True, admin)
    import clickhouse_connect
    admin = clickhouse_connect.get_client(host="127.0.0.1", port=srv.http_port,
                                          autogenerate_session_id=False)
    version = tuple(int(x) for x in admin.server_version.split(".")[:3])
    return Engine(name, "http", srv.http_port, version, True, admin)


_engines: dict[str, Engine] = {}


@pytest.fixture(scope="session", params=ENGINE_IDS)
def engine(request) -> Engine:
    if request.param not in _engines:
        _engines[request.param] = _make_engine(request.param, request)
    return _engines[request.param]


@pytest.fixture(scope="session")
def modern(request) -> Engine:
    """The modern engine over HTTP, for tests that need modern ClickHouse."""
    if "modern-http" not in _engines:
        _engines["modern-http"] = _make_engine("modern-http", request)
    return _engines["modern-http"]


# ---------------------------------------------------------------- PostgreSQL

@pytest.fixture(scope="session")
def pg_dsn(postgresql_proc) -> str:
    p = postgresql_proc
    base = f"host={p.host} port={p.port} user={p.user}"
    with psycopg.connect(base + " dbname=postgres", autocommit=True) as c:
        c.execute("DROP DATABASE IF EXISTS chfdw_test")
        c.execute("CREATE DATABASE chfdw_test TEMPLATE template0 ENCODING 'UTF8' LC_COLLATE 'C.UTF-8' LC_CTYPE 'C.UTF-8'")
    dsn = base + " dbname=chfdw_test"
    with psycopg.connect(dsn, autocommit=True) as c:
        c.execute("CREATE EXTENSION ch_fdw")
    return dsn


_scratch = itertools.count()


@pytest.fixture(scope="module")
def scratch_db(postgresql_proc):
    """An autocommit connection to a new, empty database of the session
    cluster (for tests that need plain PostgreSQL tables)."""
    p = postgresql_proc
    base = f"host={p.host} port={p.port} user={p.user}"
    name = f"scratch_{next(_scratch)}"
    with psycopg.connect(base + " dbname=postgres", autocommit=True) as c:
        c.execute(f"DROP DATABASE IF EXISTS {name}")
        c.execute(f"CREATE DATABASE {name} TEMPLATE template0 ENCODING 'UTF8' "
                  "LC_COLLATE 'C.UTF-8' LC_CTYPE 'C.UTF-8'")
    conn = psycopg.connect(base + f" dbname={name}", autocommit=True)
    yield conn
    conn.close()


@pytest.fixture
def pg(pg_dsn):
    """A fresh autocommit session (its own backend) per test."""
    with psycopg.connect(pg_dsn, autocommit=True) as c:
        yield c


_servers: set[str] = set()
_counter = itertools.count()


@pytest.fixture
def server(engine, pg_dsn) -> str:
    """Name of a ch_fdw server (with user mapping) pointing at engine."""
    name = engine.name.replace("-", "_")
    if name not in _servers:
        with psycopg.connect(pg_dsn, autocommit=True) as c:
            c.execute(f"CREATE SERVER {name} FOREIGN DATA WRAPPER ch_fdw OPTIONS ({engine.server_options})")
            c.execute(f"CREATE USER MAPPING FOR CURRENT_USER SERVER {name} OPTIONS (user 'default', password '')")
        _servers.add(name)
    return name


@pytest.fixture
def uniq() -> str:
    """A name unique in this test session (for tables on both sides)."""
    return f"t{os.getpid()}_{next(_counter)}"
