"""Options on the server, user mapping, foreign table and column: valid
values are accepted and work, unknown names and malformed values are
rejected at CREATE/ALTER time naming the option, the password stays in the
user mapping and out of EXPLAIN, errors and the server log, and a changed
server option takes effect in the same session."""

from __future__ import annotations

import itertools
import socket

import psycopg
import pytest

from chserver import start_clickhouse_18
from conftest import free_port
from helpers import explain, foreign_table

PW_USER = "fdw_pw_user"
PW = "Sup3r-S3cret-pw_9f2c"          # never to be seen outside the user mapping
_n = itertools.count()


def _name(prefix: str) -> str:
    return f"{prefix}_{next(_n)}"


def _lit(s: str) -> str:
    return "'" + s.replace("'", "''") + "'"


@pytest.fixture(scope="module")
def ch_pw(tmp_path_factory):
    """A ClickHouse 18.16 with a user that has a password."""
    srv = start_clickhouse_18(tmp_path_factory.mktemp("ch18pw"), free_port(), free_port(),
                              users={PW_USER: PW})
    yield srv
    srv.stop()


@pytest.fixture
def bare_server(pg):
    """A server that is never connected to (validation only)."""
    name = _name("opt_srv")
    pg.execute(f"CREATE SERVER {name} FOREIGN DATA WRAPPER ch_fdw OPTIONS (host '127.0.0.1')")
    pg.execute(f"CREATE USER MAPPING FOR CURRENT_USER SERVER {name}")
    pg.execute(f"CREATE FOREIGN TABLE {name}_t (a int) SERVER {name}")
    yield name
    pg.execute(f"DROP SERVER {name} CASCADE")


def _error(pg, sql: str) -> psycopg.Error:
    with pytest.raises(psycopg.Error) as ei:
        pg.execute(sql)
    assert pg.execute("SELECT 1").fetchone() == (1,)      # backend still alive
    return ei.value


# ------------------------------------------------------------ valid options

def test_every_option_accepted_and_working(pg, engine, uniq):
    """Every option with a valid value, then a real query through them."""
    srv = _name("all_opts")
    pg.execute(f"""CREATE SERVER {srv} FOREIGN DATA WRAPPER ch_fdw OPTIONS (
        host '127.0.0.1', port '{engine.port}', dbname 'default', protocol '{engine.protocol}',
        secure 'false', verify 'true', connect_timeout '2.5', receive_timeout '30', fetch_size '3',
        settings 'max_threads=2, max_execution_time=60')""")
    try:
        pg.execute(f"CREATE USER MAPPING FOR CURRENT_USER SERVER {srv} "
                   f"OPTIONS (user 'default', password '')")
        engine.command(f"DROP TABLE IF EXISTS default.{uniq}")
        engine.command(f"CREATE TABLE default.{uniq} (id Int64, `Remote Name` String) "
                       "ENGINE = MergeTree ORDER BY id")
        engine.command(f"INSERT INTO default.{uniq} SELECT number, concat('v', toString(number)) FROM numbers(10)")
        pg.execute(f"""CREATE FOREIGN TABLE {uniq} (id bigint, val text OPTIONS (column_name 'Remote Name'))
                       SERVER {srv} OPTIONS (dbname 'default', table_name '{uniq}', fetch_size '4')""")
        got = pg.execute(f"SELECT id, val FROM {uniq} WHERE id >= 5 ORDER BY id").fetchall()
        assert got == [(i, f"v{i}") for i in range(5, 10)]
        # TLS options are accepted at CREATE time (the files are checked on connect).
        pg.execute(f"""ALTER SERVER {srv} OPTIONS (ADD ca_cert '/nonexistent/ca.pem',
                       ADD client_cert '/nonexistent/c.pem', ADD client_key '/nonexistent/c.key',
                       ADD server_hostname 'ch.example.com')""")
        pg.execute(f"ALTER SERVER {srv} OPTIONS (SET secure 'off', SET verify 'no', SET protocol 'NATIVE')")
    finally:
        pg.execute(f"DROP SERVER {srv} CASCADE")


# ------------------------------------------------------------ unknown names

@pytest.mark.parametrize("level", ["server", "user mapping", "foreign table", "column", "wrapper"])
def test_unknown_option_rejected(pg, bare_server, level):
    stmt = {
        "server": f"CREATE SERVER {bare_server}_x FOREIGN DATA WRAPPER ch_fdw OPTIONS (hots 'h')",
        "user mapping": f"ALTER USER MAPPING FOR CURRENT_USER SERVER {bare_server} OPTIONS (ADD hots 'h')",
        "foreign table": f"CREATE FOREIGN TABLE {bare_server}_y (a int) SERVER {bare_server} OPTIONS (hots 'h')",
        "column": f"CREATE FOREIGN TABLE {bare_server}_y (a int OPTIONS (hots 'h')) SERVER {bare_server}",
        "wrapper": "ALTER FOREIGN DATA WRAPPER ch_fdw OPTIONS (ADD hots 'h')",
    }[level]
    e = _error(pg, stmt)
    assert e.diag.sqlstate == "HV00D", e
    assert '"hots"' in e.diag.message_primary


def test_option_of_other_level_rejected(pg, bare_server):
    # table_name is a table option, host a server option
    e = _error(pg, f"ALTER SERVER {bare_server} OPTIONS (ADD table_name 'x')")
    assert e.diag.sqlstate == "HV00D" and '"table_name"' in e.diag.message_primary
    assert "host" in (e.diag.message_hint or "")
    e = _error(pg, f"ALTER FOREIGN TABLE {bare_server}_t OPTIONS (ADD host 'x')")
    assert e.diag.sqlstate == "HV00D" and '"host"' in e.diag.message_primary


def test_password_on_server_rejected_with_hint(pg):
    e = _error(pg, f"CREATE SERVER {_name('pw_srv')} FOREIGN DATA WRAPPER ch_fdw "
                   f"OPTIONS (password {_lit(PW)})")
    assert e.diag.sqlstate == "HV00D"
    assert '"password"' in e.diag.message_primary
    assert "user mapping" in (e.diag.message_hint or "").lower()
    for text in (e.diag.message_primary, e.diag.message_detail, e.diag.message_hint):
        assert PW not in (text or "")


# ------------------------------------------------------------ malformed values

BAD_VALUES = [
    ("port", "abc"), ("port", "70000"), ("port", "0"), ("port", ""),
    ("protocol", "grpc"), ("secure", "maybe"), ("verify", "perhaps"),
    ("connect_timeout", "-1"), ("connect_timeout", "soon"),
    ("receive_timeout", "-1"), ("receive_timeout", "never"),
    ("fetch_size", "0"), ("fetch_size", "1.5"), ("host", ""), ("settings", "max_threads"),
]


@pytest.mark.parametrize("option,value", BAD_VALUES)
def test_malformed_server_option_rejected(pg, option, value):
    e = _error(pg, f"CREATE SERVER {_name('bad')} FOREIGN DATA WRAPPER ch_fdw "
                   f"OPTIONS ({option} {_lit(value)})")
    assert e.diag.sqlstate == "HV024", e
    assert f'"{option}"' in e.diag.message_primary


def test_alter_validates(pg, bare_server):
    for stmt, option in [
        (f"ALTER SERVER {bare_server} OPTIONS (ADD port '70000')", "port"),
        (f"ALTER SERVER {bare_server} OPTIONS (SET host '')", "host"),
        (f"ALTER SERVER {bare_server} OPTIONS (ADD protocol 'grpc')", "protocol"),
        (f"ALTER FOREIGN TABLE {bare_server}_t OPTIONS (ADD fetch_size '0')", "fetch_size"),
        (f"ALTER FOREIGN TABLE {bare_server}_t OPTIONS (ADD table_name '')", "table_name"),
        (f"ALTER FOREIGN TABLE {bare_server}_t ALTER COLUMN a OPTIONS (ADD column_name '')", "column_name"),
    ]:
        e = _error(pg, stmt)
        assert e.diag.sqlstate == "HV024", (stmt, e)
        assert f'"{option}"' in e.diag.message_primary, stmt
    e = _error(pg, f"ALTER FOREIGN TABLE {bare_server}_t ALTER COLUMN a OPTIONS (ADD colum_name 'x')")
    assert e.diag.sqlstate == "HV00D" and '"colum_name"' in e.diag.message_primary
    # nothing was changed by the failed statements
    opts = pg.execute("SELECT srvoptions FROM pg_foreign_server WHERE srvname = %s",
                      (bare_server,)).fetchone()[0]
    assert opts == ["host=127.0.0.1"]


# ------------------------------------------------------------ passwords

@pytest.fixture
def pw_server(pg, engine, ch_pw):
    """A server + user mapping whose password is PW (ClickHouse 18.16 with a
    real password user; the devserver accepts any password)."""
    name = _name("pw")
    port = ch_pw.tcp_port if engine.name == "ch18-native" else engine.port
    pg.execute(f"CREATE SERVER {name} FOREIGN DATA WRAPPER ch_fdw "
               f"OPTIONS (host '127.0.0.1', port '{port}', protocol '{engine.protocol}')")
    pg.execute(f"CREATE USER MAPPING FOR CURRENT_USER SERVER {name} "
               f"OPTIONS (user '{PW_USER}', password {_lit(PW)})")
    yield name
    pg.execute(f"DROP SERVER {name} CASCADE")


def _no_password(e: psycopg.Error) -> None:
    for text in (e.diag.message_primary, e.diag.message_detail, e.diag.message_hint,
                 e.diag.context, str(e)):
        assert PW not in (text or ""), text


def test_password_not_in_explain(pg, engine, pw_server, ch_pw, uniq):
    if engine.name == "ch18-native":
        from clickhouse_driver import Client
        admin = Client("127.0.0.1", port=ch_pw.tcp_port)
        admin.execute(f"CREATE TABLE default.{uniq} (id Int64) ENGINE = Memory")
        admin.execute(f"INSERT INTO default.{uniq} VALUES", [(1,), (2,)])
        admin.disconnect()
    else:
        engine.command(f"CREATE TABLE default.{uniq} (id Int64) ENGINE = Memory")
        engine.insert(f"default.{uniq}", [(1,), (2,)], ["id"])
    pg.execute(f"CREATE FOREIGN TABLE {uniq} (id bigint) SERVER {pw_server}")
    assert pg.execute(f"SELECT sum(id) FROM {uniq}").fetchone()[0] == 3
    plan = explain(pg, f"SELECT id FROM {uniq} WHERE id > 1")
    assert "Remote SQL" in plan
    assert PW not in plan
    plan = "\n".join(r[0] for r in pg.execute(
        f"EXPLAIN (ANALYZE, VERBOSE, COSTS OFF, TIMING OFF) SELECT id FROM {uniq}").fetchall())
    assert PW not in plan


def test_wrong_password(pg, pg_dsn, ch_pw, postgresql_proc, uniq):
    name = _name("wrongpw")
    bad = PW + "-wrong"
    pg.execute(f"CREATE SERVER {name} FOREIGN DATA WRAPPER ch_fdw "
               f"OPTIONS (host '127.0.0.1', port '{ch_pw.tcp_port}', protocol 'native')")
    try:
        pg.execute(f"CREATE USER MAPPING FOR CURRENT_USER SERVER {name} "
                   f"OPTIONS (user '{PW_USER}', password {_lit(bad)})")
        pg.execute(f"CREATE FOREIGN TABLE {uniq} (id bigint) SERVER {name} OPTIONS (table_name 'one')")
        e = _error(pg, f"SELECT * FROM {uniq}")
        assert e.diag.sqlstate in ("28P01", "28000"), e
        assert "516" in e.diag.message_primary or "193" in e.diag.message_primary  # ClickHouse's code
        for text in (e.diag.message_primary, e.diag.message_detail, e.diag.message_hint, str(e)):
            assert bad not in (text or "") and PW not in (text or ""), text
        # nor in the server log
        log = open(postgresql_proc.logfile, errors="replace").read()
        assert "WRONG_PASSWORD" in log or "password" in log.lower()
        assert bad not in log.replace(f"password {_lit(bad)}", "")   # except the DDL statement itself
        # fixed in the same session
        pg.execute(f"ALTER USER MAPPING FOR CURRENT_USER SERVER {name} OPTIONS (SET password {_lit(PW)})")
        with pytest.raises(psycopg.Error) as ei:   # authenticated now; table 'one' does not exist
            pg.execute(f"SELECT * FROM {uniq}")
        assert ei.value.diag.sqlstate == "HV00R", ei.value
    finally:
        pg.execute(f"DROP SERVER {name} CASCADE")


def test_password_not_in_connection_error(pg, engine):
    name = _name("pwrefused")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        dead = s.getsockname()[1]
    pg.execute(f"CREATE SERVER {name} FOREIGN DATA WRAPPER ch_fdw "
               f"OPTIONS (port '{dead}', protocol '{engine.protocol}', connect_timeout '2')")
    try:
        pg.execute(f"CREATE USER MAPPING FOR CURRENT_USER SERVER {name} "
                   f"OPTIONS (user 'default', password {_lit(PW)})")
        pg.execute(f"CREATE FOREIGN TABLE {name}_t (id bigint) SERVER {name}")
        e = _error(pg, f"SELECT * FROM {name}_t")
        assert e.diag.sqlstate == "08001", e
        _no_password(e)
    finally:
        pg.execute(f"DROP SERVER {name} CASCADE")


# ------------------------------------------------------------ ALTER takes effect

def test_alter_server_takes_effect_in_session(pg, engine, uniq):
    name = _name("moving")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        dead = s.getsockname()[1]
    pg.execute(f"CREATE SERVER {name} FOREIGN DATA WRAPPER ch_fdw OPTIONS ({engine.server_options})")
    try:
        pg.execute(f"CREATE USER MAPPING FOR CURRENT_USER SERVER {name}")
        foreign_table(pg, engine, name, uniq, "id Int64", "id bigint", [(7,)], ["id"])
        assert pg.execute(f"SELECT id FROM {uniq}").fetchall() == [(7,)]
        pg.execute(f"ALTER SERVER {name} OPTIONS (SET port '{dead}')")
        e = _error(pg, f"SELECT id FROM {uniq}")
        assert e.diag.sqlstate == "08001", e
        assert str(dead) in e.diag.message_primary
        pg.execute(f"ALTER SERVER {name} OPTIONS (SET port '{engine.port}')")
        assert pg.execute(f"SELECT id FROM {uniq}").fetchall() == [(7,)]
        # a table option change too (same session, cached plans notwithstanding)
        engine.command(f"DROP TABLE IF EXISTS default.{uniq}_b")
        engine.command(f"CREATE TABLE default.{uniq}_b (id Int64) ENGINE = Memory")
        engine.insert(f"default.{uniq}_b", [(8,)], ["id"])
        pg.execute(f"ALTER FOREIGN TABLE {uniq} OPTIONS (SET table_name '{uniq}_b')")
        assert pg.execute(f"SELECT id FROM {uniq}").fetchall() == [(8,)]
    finally:
        pg.execute(f"DROP SERVER {name} CASCADE")
