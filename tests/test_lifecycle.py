"""Connection lifecycle and the embedded interpreter's neighbours:
one ClickHouse connection per backend, reused across queries and closed when
the backend exits; PL/Python in the same session, whichever starts Python
first."""

from __future__ import annotations

import os
import time

import psycopg
import pytest

from helpers import foreign_table


def _server_process(engine, request):
    """(pid, listening port) of the server process behind engine."""
    if engine.name == "ch18-native":
        srv = request.getfixturevalue("ch18")
        return srv.proc.pid, srv.tcp_port
    if engine.name in ("modern-http", "modern-native"):
        srv = request.getfixturevalue("devserver")
        return srv.proc.pid, srv.http_port if engine.protocol == "http" else srv.tcp_port
    pytest.skip(f"no server process to inspect for {engine.name}")


def _established(pid: int, port: int) -> int:
    """Established TCP connections the server process holds on its port
    (read from /proc; the servers run as this test's user)."""
    inodes = set()
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            link = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue
        if link.startswith("socket:["):
            inodes.add(link[8:-1])
    n = 0
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = open(table).read().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            f = line.split()
            if f[3] == "01" and int(f[1].rsplit(":", 1)[1], 16) == port and f[9] in inodes:
                n += 1
    return n


def _stable(count, settle: float = 0.3, timeout: float = 5.0) -> int:
    """count() once it has not changed for `settle` seconds."""
    deadline = time.monotonic() + timeout
    last = count()
    since = time.monotonic()
    while time.monotonic() < deadline:
        time.sleep(0.05)
        now = count()
        if now != last:
            last, since = now, time.monotonic()
        elif time.monotonic() - since >= settle:
            return now
    return last


def _wait_for(count, want: int, timeout: float = 3.0) -> int:
    deadline = time.monotonic() + timeout
    while True:
        n = count()
        if n == want or time.monotonic() > deadline:
            return n
        time.sleep(0.05)


def test_connection_reused_and_closed_at_exit(pg, pg_dsn, engine, server, uniq, request):
    pid, port = _server_process(engine, request)
    foreign_table(pg, engine, server, uniq, "id Int64, s String", "id bigint, s text",
                  [(i, f"s{i}") for i in range(100)], ["id", "s"])
    pg.close()
    count = lambda: _established(pid, port)  # noqa: E731
    before = _stable(count)
    with psycopg.connect(pg_dsn, autocommit=True) as s:
        for q in (f"SELECT count(*) FROM {uniq}",
                  f"SELECT s FROM {uniq} WHERE id = 5",
                  f"SELECT id FROM {uniq} ORDER BY id DESC LIMIT 3",
                  f"EXPLAIN VERBOSE SELECT * FROM {uniq}",
                  f"SELECT max(id) FROM {uniq} WHERE s LIKE 's9%'"):
            for _ in range(3):
                s.execute(q).fetchall()
        during = count()
        if engine.protocol == "native":
            assert during == before + 1, (before, during)
        else:   # HTTP keep-alive: one pooled connection, or none while idle
            assert before <= during <= before + 1, (before, during)
    after = _wait_for(count, before)
    assert after == before, (before, during, after)


def test_ch18_tcp_connection_metric(pg_dsn, engine, server, uniq, pg):
    """The server's own view: system.metrics TCPConnection."""
    if engine.name != "ch18-native":
        pytest.skip("ClickHouse 18.16 server metric")
    foreign_table(pg, engine, server, uniq, "id Int64", "id bigint", [(1,)], ["id"])
    pg.close()
    metric = lambda: engine.query(  # noqa: E731
        "SELECT value FROM system.metrics WHERE metric = 'TCPConnection'")[0][0]
    before = _stable(metric)
    with psycopg.connect(pg_dsn, autocommit=True) as s:
        for _ in range(5):
            assert s.execute(f"SELECT id FROM {uniq}").fetchall() == [(1,)]
        assert metric() - before == 1
    assert _wait_for(metric, before) == before


# ------------------------------------------------------------ PL/Python

@pytest.fixture(scope="module")
def plpython(pg_dsn):
    with psycopg.connect(pg_dsn, autocommit=True) as c:
        if not c.execute("SELECT 1 FROM pg_available_extensions WHERE name = 'plpython3u'").fetchone():
            # The PyPI builds of 16 and 18 (dev/pg-wheel) are configured without Python.
            pytest.skip(f"this PostgreSQL {c.info.server_version // 10000} build ships no plpython3u")
        c.execute("CREATE EXTENSION IF NOT EXISTS plpython3u")
        c.execute("""CREATE OR REPLACE FUNCTION lc_py_version() RETURNS text LANGUAGE plpython3u AS $$
import sys
return sys.version
$$""")
        c.execute("""CREATE OR REPLACE FUNCTION lc_py_shared() RETURNS bool LANGUAGE plpython3u AS $$
import sys
return 'ch_fdw.bridge' in sys.modules
$$""")
        c.execute("""CREATE OR REPLACE FUNCTION lc_py_scan(tbl text) RETURNS bigint LANGUAGE plpython3u AS $$
return plpy.execute("SELECT sum(id) AS s FROM " + plpy.quote_ident(tbl))[0]["s"]
$$""")
        c.execute("""CREATE OR REPLACE FUNCTION lc_py_scan_error(tbl text) RETURNS text LANGUAGE plpython3u AS $$
try:
    plpy.execute("SELECT * FROM " + plpy.quote_ident(tbl))
except plpy.SPIError as e:
    return e.sqlstate + ' ' + str(e)
return 'no error'
$$""")
    return True


@pytest.fixture
def py_tables(pg, engine, server, uniq, plpython):
    foreign_table(pg, engine, server, uniq, "id Int64", "id bigint", [(1,), (2,), (3,)], ["id"])
    pg.execute(f"CREATE FOREIGN TABLE {uniq}_missing (id bigint) SERVER {server} "
               f"OPTIONS (table_name 'no_such_{uniq}')")
    pg.close()
    return uniq


def _python_version(dsn) -> str:
    with psycopg.connect(dsn) as c:
        return c.execute("SELECT lc_py_version()").fetchone()[0]


def test_plpython_first_then_ch_fdw(pg_dsn, py_tables):
    t = py_tables
    with psycopg.connect(pg_dsn, autocommit=True) as s:
        version = s.execute("SELECT lc_py_version()").fetchone()[0]
        # (the test cluster preloads ch_fdw, which starts Python in the
        # postmaster: PL/Python joins that interpreter from the start)
        assert s.execute(f"SELECT sum(id) FROM {t}").fetchone()[0] == 6
        assert s.execute("SELECT lc_py_shared()").fetchone()[0] is True   # one interpreter
        assert s.execute("SELECT lc_py_version()").fetchone()[0] == version
        assert s.execute("SELECT lc_py_scan(%s)", (t,)).fetchone()[0] == 6
        err = s.execute("SELECT lc_py_scan_error(%s)", (f"{t}_missing",)).fetchone()[0]
        assert err.startswith("HV00R") and f"no_such_{t}" in err, err
        assert s.execute(f"SELECT count(*) FROM {t}").fetchone()[0] == 3


def test_ch_fdw_first_then_plpython(pg_dsn, py_tables):
    t = py_tables
    with psycopg.connect(pg_dsn, autocommit=True) as s:
        assert s.execute(f"SELECT sum(id) FROM {t}").fetchone()[0] == 6
        version = s.execute("SELECT lc_py_version()").fetchone()[0]
        assert s.execute("SELECT lc_py_shared()").fetchone()[0] is True
        assert s.execute("SELECT lc_py_scan(%s)", (t,)).fetchone()[0] == 6
        err = s.execute("SELECT lc_py_scan_error(%s)", (f"{t}_missing",)).fetchone()[0]
        assert err.startswith("HV00R"), err
        assert s.execute(f"SELECT count(*) FROM {t}").fetchone()[0] == 3
        assert s.execute("SELECT lc_py_version()").fetchone()[0] == version
    assert _python_version(pg_dsn) == version     # same Python either way


def test_validator_first_then_plpython(pg_dsn, plpython):
    """CREATE SERVER (the validator) is what starts Python in a new session."""
    with psycopg.connect(pg_dsn, autocommit=True) as s:
        s.execute("CREATE SERVER lc_val_first FOREIGN DATA WRAPPER ch_fdw OPTIONS (port '1')")
        try:
            assert s.execute("SELECT lc_py_shared()").fetchone()[0] is True
            assert s.execute("SELECT lc_py_version()").fetchone()[0]
        finally:
            s.execute("DROP SERVER lc_val_first")
