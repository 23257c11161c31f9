"""Bad input gets a clear PostgreSQL error, never a crash or a hang:
unknown remote tables and columns, ClickHouse errors during a query,
unreachable and silent servers, hostile identifiers.  After every error the
same session (same backend) keeps working."""

from __future__ import annotations

import itertools
import socket
import threading
import time

import psycopg
import pytest

from helpers import foreign_table

_n = itertools.count()


def _lit(s: str) -> str:
    return "'" + s.replace("'", "''") + "'"


def _fails(pg, sql: str) -> psycopg.Error:
    """Run sql, expect an error, and check the backend survived it."""
    pid = pg.execute("SELECT pg_backend_pid()").fetchone()[0]
    with pytest.raises(psycopg.Error) as ei:
        pg.execute(sql)
    assert not isinstance(ei.value, psycopg.OperationalError) or ei.value.diag.sqlstate, \
        f"connection lost: {ei.value}"
    assert pg.execute("SELECT 1, pg_backend_pid()").fetchone() == (1, pid)
    return ei.value


def _dead_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# ------------------------------------------------------------ remote objects

def test_unknown_remote_table(pg, engine, server, uniq):
    missing = f"no_such_{uniq}"
    pg.execute(f"CREATE FOREIGN TABLE {uniq} (id bigint) SERVER {server} OPTIONS (table_name '{missing}')")
    e = _fails(pg, f"SELECT * FROM {uniq}")
    assert e.diag.sqlstate == "HV00R", e
    assert missing in e.diag.message_primary
    e = _fails(pg, f"EXPLAIN SELECT * FROM {uniq}")
    assert e.diag.sqlstate == "HV00R", e


def test_unknown_remote_database(pg, engine, server, uniq):
    pg.execute(f"CREATE FOREIGN TABLE {uniq} (id bigint) SERVER {server} "
               f"OPTIONS (dbname 'nodb_{uniq}', table_name 'x')")
    e = _fails(pg, f"SELECT * FROM {uniq}")
    assert e.diag.sqlstate == "HV00R", e
    assert f"nodb_{uniq}" in e.diag.message_primary


def test_missing_remote_column(pg, engine, server, uniq):
    foreign_table(pg, engine, server, uniq, "id Int64, name String", "id bigint, nmae text",
                  [(1, "a")], ["id", "name"])
    e = _fails(pg, f"SELECT id, nmae FROM {uniq}")
    assert e.diag.sqlstate == "HV005", e
    assert "nmae" in e.diag.message_primary
    assert "name" in (e.diag.message_detail or "")        # what the table has
    # the existing column still works
    assert pg.execute(f"SELECT id FROM {uniq}").fetchall() == [(1,)]


def test_missing_remote_column_in_where_only(pg, engine, server, uniq):
    foreign_table(pg, engine, server, uniq, "id Int64, name String", "id bigint, nmae text",
                  [(1, "a")], ["id", "name"])
    e = _fails(pg, f"SELECT id FROM {uniq} WHERE nmae = 'a'")
    assert e.diag.sqlstate == "HV005", e
    assert "nmae" in e.diag.message_primary


def test_column_name_option_to_missing_column(pg, engine, server, uniq):
    foreign_table(pg, engine, server, uniq, "id Int64", "id bigint", [(1,)], ["id"])
    pg.execute(f"ALTER FOREIGN TABLE {uniq} ALTER COLUMN id OPTIONS (ADD column_name 'ghost')")
    e = _fails(pg, f"SELECT id FROM {uniq}")
    assert e.diag.sqlstate == "HV005", e
    assert "ghost" in (e.diag.message_primary + (e.diag.message_detail or ""))


# ------------------------------------------------------------ ClickHouse errors

def _view(pg, engine, server, name: str, select: str, pg_cols: str) -> None:
    engine.command(f"DROP TABLE IF EXISTS default.{name}")
    engine.command(f"CREATE VIEW default.{name} AS {select}")
    pg.execute(f"CREATE FOREIGN TABLE {name} ({pg_cols}) SERVER {server}")


def test_clickhouse_error_mid_query(pg, engine, server, uniq):
    _view(pg, engine, server, uniq,
          "SELECT number AS n, throwIf(number = 3) AS t FROM system.numbers LIMIT 10",
          "n bigint, t smallint")
    e = _fails(pg, f"SELECT n, t FROM {uniq}")
    msg = e.diag.message_primary
    assert "ClickHouse error 395" in msg, msg          # FUNCTION_THROW_IF_VALUE_IS_NON_ZERO
    assert "throwIf" in msg or "throwIf" in (e.diag.message_detail or "")
    assert "Stack trace" not in msg


def test_clickhouse_division_by_zero(pg, engine, server, uniq):
    _view(pg, engine, server, uniq, "SELECT intDiv(number, number - 3) AS q FROM numbers(10)",
          "q bigint")
    e = _fails(pg, f"SELECT q FROM {uniq}")
    assert e.diag.sqlstate == "22012", e
    assert "ClickHouse error 153" in e.diag.message_primary
    assert "ivision by zero" in e.diag.message_primary


def test_clickhouse_type_error_in_remote_expression(pg, engine, server, uniq):
    """A pushed-down comparison ClickHouse rejects for the column's real type."""
    foreign_table(pg, engine, server, uniq, "s String", "s bigint", [("abc",)], ["s"])
    e = _fails(pg, f"SELECT s FROM {uniq}")
    assert e.diag.sqlstate.startswith(("HV", "22", "42")), e
    assert "s" in e.diag.message_primary


def test_error_after_rows_streamed(pg, engine, server, uniq):
    """The exception arrives after blocks were already returned."""
    _view(pg, engine, server, uniq,
          "SELECT number AS n, throwIf(number = 150000) AS t FROM system.numbers LIMIT 200000",
          "n bigint, t smallint")
    pg.execute("SET max_parallel_workers_per_gather = 0")
    e = _fails(pg, f"SELECT count(*) FROM {uniq} WHERE t = 0")
    assert "ClickHouse error 395" in e.diag.message_primary
    # the connection is usable afterwards (no half-read stream left behind)
    foreign_table(pg, engine, server, f"{uniq}_ok", "n Int64", "n bigint", [(1,), (2,)], ["n"])
    for _ in range(3):
        assert pg.execute(f"SELECT sum(n) FROM {uniq}_ok").fetchone()[0] == 3


# ------------------------------------------------------------ unreachable servers

def _server_at(pg, engine, port: int, timeout: float) -> str:
    name = f"unreach_{next(_n)}"
    pg.execute(f"CREATE SERVER {name} FOREIGN DATA WRAPPER ch_fdw OPTIONS "
               f"(host '127.0.0.1', port '{port}', protocol '{engine.protocol}', connect_timeout '{timeout}')")
    pg.execute(f"CREATE USER MAPPING FOR CURRENT_USER SERVER {name}")
    pg.execute(f"CREATE FOREIGN TABLE {name}_t (id bigint) SERVER {name}")
    return name


def test_connection_refused_fails_fast(pg, engine):
    name = _server_at(pg, engine, _dead_port(), 10)
    try:
        t0 = time.monotonic()
        e = _fails(pg, f"SELECT * FROM {name}_t")
        elapsed = time.monotonic() - t0
        assert e.diag.sqlstate == "08001", e
        assert "could not connect" in e.diag.message_primary
        assert elapsed < 1.5, elapsed
        # again: a failed connect is not cached as a broken connection
        e = _fails(pg, f"SELECT * FROM {name}_t")
        assert e.diag.sqlstate == "08001", e
    finally:
        pg.execute(f"DROP SERVER {name} CASCADE")


class SilentServer:
    """Accepts TCP connections and never answers."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.conns: list[socket.socket] = []
        self.stop = False
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        self.sock.settimeout(0.2)
        while not self.stop:
            try:
                c, _ = self.sock.accept()
                self.conns.append(c)
            except OSError:
                pass

    def close(self):
        self.stop = True
        self.thread.join(2)
        for c in self.conns:
            c.close()
        self.sock.close()


@pytest.fixture
def silent():
    s = SilentServer()
    yield s
    s.close()


def test_silent_server_fails_within_connect_timeout(pg, engine, silent):
    timeout = 1.0
    name = _server_at(pg, engine, silent.port, timeout)
    try:
        t0 = time.monotonic()
        e = _fails(pg, f"SELECT * FROM {name}_t")
        elapsed = time.monotonic() - t0
        assert elapsed < timeout + 1.5, elapsed
        assert e.diag.sqlstate in ("08001", "08006"), e
        assert silent.conns, "the server was never contacted"
    finally:
        pg.execute(f"DROP SERVER {name} CASCADE")


def test_silent_server_can_be_cancelled(pg, engine, silent):
    """A long connect_timeout is still bounded by statement_timeout."""
    name = _server_at(pg, engine, silent.port, 30)
    try:
        pg.execute("SET statement_timeout = '1s'")
        t0 = time.monotonic()
        e = _fails(pg, f"SELECT * FROM {name}_t")
        elapsed = time.monotonic() - t0
        pg.execute("RESET statement_timeout")
        assert elapsed < 2.5, elapsed
        assert e.diag.sqlstate in ("57014", "08001", "08006"), e
    finally:
        pg.execute(f"DROP SERVER {name} CASCADE")


# ------------------------------------------------------------ hostile identifiers

HOSTILE = [
    "we`ird",
    "quo'te",
    'dq"uote',
    "back\\slash",
    "semi;colon",
    "x` FROM system.one; DROP TABLE default.canary --",
    "x'; DROP TABLE default.canary; --",
    "trailing\\",
    "ünï cödé 表",
]


def _q(name: str) -> str:
    from ch_fdw.translate.quoting import quote_identifier
    return quote_identifier(name)


@pytest.fixture
def canary(engine, uniq):
    name = f"canary_{uniq}"
    engine.command(f"CREATE TABLE default.{name} (x UInt8) ENGINE = Memory")
    yield name
    assert engine.query(f"EXISTS TABLE default.{name}") == [(1,)]
    engine.command(f"DROP TABLE default.{name}")


def test_hostile_identifiers(pg, engine, server, uniq, canary):
    """Each name finds exactly the ClickHouse table/column of that name, or
    fails cleanly with a not-found error; nothing else runs (the canary
    table survives), and the session stays usable throughout."""
    for i, hostile in enumerate(h.replace("canary", canary) for h in HOSTILE):
        table = f"{uniq}_{i}_{hostile}"
        engine.command(f"DROP TABLE IF EXISTS default.{_q(table)}")
        engine.command(f"CREATE TABLE default.{_q(table)} ({_q(hostile)} Int64, plain String) "
                       "ENGINE = Memory")
        engine.command(f"INSERT INTO default.{_q(table)} SELECT 42, 'ok'")
        ft = f"{uniq}_{i}"
        pg.execute(f"CREATE FOREIGN TABLE {ft} (v bigint OPTIONS (column_name {_lit(hostile)}), "
                   f"plain text) SERVER {server} OPTIONS (table_name {_lit(table)})")
        got = pg.execute(f"SELECT v, plain FROM {ft} WHERE v = 42 AND plain = 'ok' ORDER BY v").fetchall()
        assert got == [(42, "ok")], hostile
        assert pg.execute(f"SELECT count(*) FROM {ft}").fetchone()[0] == 1, hostile

        # the hostile name as a table that does not exist
        pg.execute(f"CREATE FOREIGN TABLE {ft}_nt (v bigint) SERVER {server} "
                   f"OPTIONS (table_name {_lit(hostile)})")
        e = _fails(pg, f"SELECT v FROM {ft}_nt")
        assert e.diag.sqlstate == "HV00R", (hostile, e)
        # ... and as a column that does not exist, on a real table
        pg.execute(f"CREATE FOREIGN TABLE {ft}_nc (v bigint OPTIONS (column_name {_lit(hostile)})) "
                   f"SERVER {server} OPTIONS (table_name {_lit(canary)})")
        e = _fails(pg, f"SELECT v FROM {ft}_nc")
        assert e.diag.sqlstate == "HV005", (hostile, e)
        engine.command(f"DROP TABLE default.{_q(table)}")


def test_hostile_foreign_table_name_without_table_name_option(pg, engine, server, uniq):
    """The relation's own (quoted) name is the remote name when no option is set."""
    local = f'{uniq} we"ird.na`me'
    engine.command(f"CREATE TABLE default.{_q(local)} (id Int64) ENGINE = Memory")
    engine.command(f"INSERT INTO default.{_q(local)} SELECT 5")
    ident = '"' + local.replace('"', '""') + '"'
    pg.execute(f"CREATE FOREIGN TABLE {ident} (id bigint) SERVER {server}")
    assert pg.execute(f"SELECT id FROM {ident}").fetchall() == [(5,)]
