"""Tests for ch-fdw-devserver: the ClickHouse HTTP endpoint backed by chDB.

Every test talks to a real devserver subprocess over HTTP, with
clickhouse-connect where the project uses it and plain urllib/sockets where
the protocol detail itself is the point.
"""

import datetime as dt
import ipaddress
import math
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from decimal import Decimal

import pytest

chdb = pytest.importorskip("chdb")
clickhouse_connect = pytest.importorskip("clickhouse_connect")
from clickhouse_connect.driver.exceptions import DatabaseError  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _free_port():
    for port in range(17050, 17100):
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
                return port
            except OSError:
                continue
    raise RuntimeError("no free port in 17050-17099")


class Devserver:
    def __init__(self, path, port=None):
        self.path, self.port = str(path), port or _free_port()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "ch_fdw.devserver", "--path", self.path, "--http-port", str(self.port)],
            cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    def wait_ready(self, timeout=30):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("devserver exited: " + self.proc.stderr.read())
            try:
                if http_get(self.port, "/ping") == (200, b"Ok.\n"):
                    return self
            except OSError:
                pass
            time.sleep(0.1)
        raise TimeoutError("devserver did not answer /ping")

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode

    def client(self, **kw):
        return clickhouse_connect.get_client(host="127.0.0.1", port=self.port, **kw)


def http_get(port, path, headers=None):
    req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def http_query(port, sql, method="GET", **params):
    qs = urllib.parse.urlencode(dict(params, **({"query": sql} if method == "GET" else {})))
    req = urllib.request.Request(f"http://127.0.0.1:{port}/?{qs}", method=method,
                                 data=sql.encode() if method == "POST" else None)
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, dict(r.headers), r.read()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read()


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    srv = Devserver(tmp_path_factory.mktemp("devserver")).wait_ready()
    yield srv
    srv.stop()


@pytest.fixture
def client(server):
    c = server.client()
    yield c
    c.close()


def wait_no_processes(client, timeout=10):
    """True once system.processes shows nothing but the asking query."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        rows = client.query("SELECT query FROM system.processes WHERE query NOT LIKE '%system.processes%'").result_rows
        if not rows:
            return True
        time.sleep(0.1)
    return False


# --- protocol basics -------------------------------------------------------

def test_ping_and_get_post_queries(server):
    assert http_get(server.port, "/ping") == (200, b"Ok.\n")
    status, headers, body = http_query(server.port, "SELECT 1, 'a'")
    assert (status, body) == (200, b"1\ta\n")  # TabSeparated is the HTTP default
    status, headers, body = http_query(server.port, "SELECT 40 + 2 FORMAT JSONEachRow", method="POST")
    assert body == b'{"plus(40, 2)":42}\n' and headers["Content-Type"].startswith("application/json")
    status, _, body = http_query(server.port, "SELECT {x:UInt8} * 2", param_x="21")
    assert body == b"42\n"


def test_errors_carry_clickhouse_code_and_text(server, client):
    status, headers, body = http_query(server.port, "SELECT * FROM no_such_table")
    assert headers["X-ClickHouse-Exception-Code"] == "60"
    assert body.startswith(b"Code: 60. DB::Exception:") and b"no_such_table" in body
    status, headers, body = http_query(server.port, "SELEC 1")
    assert status == 400 and headers["X-ClickHouse-Exception-Code"] == "62"
    assert b"failed at position 7 " in body  # positions refer to the client's SQL text
    with pytest.raises(DatabaseError, match="code: 60"):
        client.query("SELECT * FROM no_such_table")
    with pytest.raises(DatabaseError, match="code: 62"):
        client.command("CREAT TABLE x")


def test_get_is_readonly(server):
    status, headers, body = http_query(server.port, "CREATE TABLE ro (a UInt8) ENGINE = Memory")
    assert headers["X-ClickHouse-Exception-Code"] == "164"
    assert http_query(server.port, "EXISTS TABLE ro")[2] == b"0\n"


def test_malformed_requests_do_not_kill_the_server(server):
    for raw in (b"GARBAGE\r\n\r\n", b"POST / HTTP/1.1\r\nContent-Length: nope\r\n\r\n",
                b"POST / HTTP/1.1\r\nContent-Length: 5\r\nContent-Encoding: lz4\r\n\r\nxxxxx"):
        with socket.create_connection(("127.0.0.1", server.port), timeout=10) as s:
            s.sendall(raw)
            s.shutdown(socket.SHUT_WR)
            reply = b"".join(iter(lambda: s.recv(65536), b""))  # server closes after an error
            assert b"Code: " in reply and b"DB::Exception" in reply, reply
    status, headers, body = http_query(server.port, "SELECT 1", method="POST", default_format="NoSuchFormat")
    assert headers["X-ClickHouse-Exception-Code"] == "73"
    assert http_get(server.port, "/ping") == (200, b"Ok.\n")


# --- types -----------------------------------------------------------------

TYPES = [
    ("i8", "Int8", [-128, 127]), ("i16", "Int16", [-32768, 32767]),
    ("i32", "Int32", [-2**31, 2**31 - 1]), ("i64", "Int64", [-2**63, 2**63 - 1]),
    ("i128", "Int128", [-2**127, 2**127 - 1]), ("i256", "Int256", [-2**255, 2**255 - 1]),
    ("u8", "UInt8", [0, 255]), ("u16", "UInt16", [0, 65535]), ("u32", "UInt32", [0, 2**32 - 1]),
    ("u64", "UInt64", [0, 2**64 - 1]), ("u128", "UInt128", [0, 2**128 - 1]),
    ("u256", "UInt256", [0, 2**256 - 1]),
    ("f32", "Float32", [1.5, float("inf")]), ("f64", "Float64", [float("nan"), float("-inf")]),
    ("d9", "Decimal(9, 2)", [Decimal("-1234567.89"), Decimal("0.01")]),
    ("d38", "Decimal(38, 10)", [Decimal("1234567890123456789012345678.0123456789"), Decimal("-0.0000000001")]),
    ("d76", "Decimal(76, 20)", [Decimal("-" + "9" * 56 + "." + "9" * 20), Decimal("1.5")]),
    ("s", "String", ["", "héllo\tworld\n\x00'\""]),
    ("fs", "FixedString(4)", [b"ab\x00\x00", b"\xff\x00ab"]),
    ("uid", "UUID", [uuid.UUID("00000000-0000-0000-0000-000000000000"), uuid.uuid4()]),
    ("d", "Date", [dt.date(1970, 1, 1), dt.date(2149, 6, 6)]),
    ("d32", "Date32", [dt.date(1900, 1, 1), dt.date(2299, 12, 31)]),
    ("t", "DateTime", [dt.datetime(1970, 1, 1, 0, 0, 1), dt.datetime(2106, 2, 7, 6, 28, 15)]),
    ("ttz", "DateTime('Asia/Tokyo')",
     [dt.datetime(2024, 2, 29, 23, 59, 59, tzinfo=dt.timezone.utc), dt.datetime(2000, 1, 1, tzinfo=dt.timezone.utc)]),
    ("t64", "DateTime64(3)", [dt.datetime(1900, 1, 1, 0, 0, 0, 1000), dt.datetime(2262, 4, 11, 23, 47, 16, 999000)]),
    ("t64tz", "DateTime64(6, 'America/New_York')",
     [dt.datetime(2024, 3, 10, 7, 0, 0, 123456, tzinfo=dt.timezone.utc), dt.datetime(1999, 12, 31, 23, 59, 59, 999999, tzinfo=dt.timezone.utc)]),
    ("e8", "Enum8('a' = -128, 'b' = 127)", ["a", "b"]),
    ("e16", "Enum16('x' = -32768, 'y' = 32767)", ["y", "x"]),
    ("lc", "LowCardinality(String)", ["red", "red"]),
    ("lcn", "LowCardinality(Nullable(String))", [None, "x"]),
    ("n", "Nullable(Int32)", [None, -7]),
    ("arr", "Array(Array(Nullable(Int64)))", [[], [[1, None], [], [2**62]]]),
    ("m", "Map(String, Array(UInt8))", [{}, {"k": [1, 2], "": []}]),
    ("tup", "Tuple(Int32, String, Nullable(Float64))", [(1, "a", None), (-1, "", 2.5)]),
    ("j", "JSON", [{}, {"a": {"b": 42}, "c": "text"}]),
    ("ip4", "IPv4", [ipaddress.IPv4Address("0.0.0.0"), ipaddress.IPv4Address("255.255.255.255")]),
    ("ip6", "IPv6", [ipaddress.IPv6Address("::"), ipaddress.IPv6Address("2001:db8::ff00:42:8329")]),
    ("b", "Bool", [True, False]),
]


def _same(expected, got):
    if isinstance(expected, float) and math.isnan(expected):
        return isinstance(got, float) and math.isnan(got)
    if isinstance(expected, dt.datetime):  # compare instants; naive means UTC
        utc = dt.timezone.utc
        return (expected if expected.tzinfo else expected.replace(tzinfo=utc)) == (
            got if got.tzinfo else got.replace(tzinfo=utc))
    if isinstance(expected, dict) and expected and isinstance(next(iter(expected.values())), dict):
        return got == expected
    return got == expected or (isinstance(expected, tuple) and tuple(got) == expected)


def test_every_type_round_trips_through_clickhouse_connect(server):
    client = server.client()
    client.command("DROP TABLE IF EXISTS all_types")
    client.command("CREATE TABLE all_types (id UInt8, " + ", ".join(f"{n} {t}" for n, t, _ in TYPES)
                   + ") ENGINE = MergeTree ORDER BY id")
    rows = [[i] + [vals[i] for _, _, vals in TYPES] for i in range(2)]
    client.insert("all_types", rows, column_names=["id"] + [n for n, _, _ in TYPES])
    got = client.query("SELECT * FROM all_types ORDER BY id").result_rows
    assert len(got) == 2
    for i in range(2):
        for col, (name, typ, vals) in enumerate(TYPES, start=1):
            assert _same(vals[i], got[i][col]), (name, typ, vals[i], got[i][col])
    # The server's own view of the data agrees (it is not only the client round-tripping).
    assert client.query("SELECT toString(i256), toString(d76), f64, s, toString(j.a.b) FROM all_types WHERE id = 1"
                        ).result_rows == [(str(2**255 - 1), "1.5", float("-inf"), "héllo\tworld\n\x00'\"", "42")]
    assert client.query("SELECT toTypeName(ttz), toString(ttz), toString(t64tz) FROM all_types WHERE id = 0"
                        ).result_rows == [("DateTime('Asia/Tokyo')", "2024-03-01 08:59:59", "2024-03-10 03:00:00.123456")]
    client.close()


# --- settings, database, sessions -----------------------------------------

def test_url_settings_and_database_apply_to_the_query(server, client):
    client.command("CREATE DATABASE IF NOT EXISTS other")
    client.command("CREATE TABLE IF NOT EXISTS other.only_here (x UInt8) ENGINE = Memory")
    assert http_query(server.port, "SELECT getSetting('max_block_size')", max_block_size="777")[2] == b"777\n"
    assert http_query(server.port, "SELECT currentDatabase(), count() FROM only_here", database="other")[2] == b"other\t0\n"
    assert http_query(server.port, "SELECT toString(toDateTime(0))", session_timezone="Asia/Tokyo")[2] == b"1970-01-01 09:00:00\n"
    assert http_query(server.port, "SELECT toDateTime(0, 'UTC')", date_time_output_format="iso")[2] == b"1970-01-01T00:00:00Z\n"
    # max_block_size really drives how the result is cut into blocks.
    blocks = []
    with client.query_column_block_stream("SELECT number FROM numbers(1000)", settings={"max_block_size": 100}) as s:
        blocks = [len(b[0]) for b in s]
    assert sum(blocks) == 1000 and len(blocks) >= 10
    status, headers, _ = http_query(server.port, "SELECT 1", no_such_setting="1")
    assert headers["X-ClickHouse-Exception-Code"] == "115"


def test_session_keeps_use_and_set_but_not_url_settings(server, client):
    client.command("CREATE DATABASE IF NOT EXISTS sessdb")
    sid = "s-" + uuid.uuid4().hex
    assert http_query(server.port, "USE sessdb", method="POST", session_id=sid)[0] == 200
    assert http_query(server.port, "SET max_block_size = 4321", method="POST", session_id=sid)[0] == 200
    assert http_query(server.port, "SELECT getSetting('max_block_size')", session_id=sid, max_threads="3")[2] == b"4321\n"
    assert http_query(server.port, "SELECT currentDatabase(), getSetting('max_threads')", session_id=sid,
                      max_threads="3")[2] == b"sessdb\t3\n"
    # The URL setting belonged to that one query; the session's own SET stays.
    assert http_query(server.port, "SELECT getSetting('max_threads') != 3, getSetting('max_block_size')",
                      session_id=sid)[2] == b"1\t4321\n"
    # Without the session nothing leaked.
    assert http_query(server.port, "SELECT currentDatabase(), getSetting('max_block_size')")[2] == b"default\t65409\n"
    assert http_query(server.port, "SELECT 1", session_id="never-made", session_check="1")[1][
        "X-ClickHouse-Exception-Code"] == "372"


# --- streaming, concurrency, cancellation -----------------------------------

def test_streams_large_result_in_blocks(client):
    total = rows = blocks = 0
    with client.query_column_block_stream(
            "SELECT number, toFloat64(number), toString(number) FROM numbers(2000000)") as stream:
        for block in stream:
            blocks += 1
            rows += len(block[0])
            total += sum(block[0])
            assert block[2][-1] == str(block[0][-1])
    assert rows == 2000000 and total == 2000000 * 1999999 // 2 and blocks > 10


def test_error_in_the_middle_of_a_stream_is_reported(client):
    with pytest.raises(DatabaseError, match="395|throwIf"):
        with client.query_column_block_stream(
                "SELECT throwIf(number = 900000, 'boom') FROM numbers(1000000)",
                settings={"max_block_size": 10000}) as stream:
            for _ in stream:
                pass
    assert client.query("SELECT 1").result_rows == [(1,)]


def test_concurrent_clients_all_get_their_own_answers(server, client):
    client.command("DROP TABLE IF EXISTS conc")
    client.command("CREATE TABLE conc (t UInt8, n UInt32) ENGINE = MergeTree ORDER BY (t, n)")
    errors = []

    def work(t):
        try:
            c = server.client()
            for i in range(5):
                c.insert("conc", [[t, i * 100 + k] for k in range(100)], column_names=["t", "n"])
                want = sum(range(t * 1000, t * 1000 + 50000))
                got = c.query(f"SELECT sum(number) FROM numbers({t * 1000}, 50000)").result_rows[0][0]
                assert got == want
            assert c.query(f"SELECT count(), sum(n) FROM conc WHERE t = {t}").result_rows == [(500, sum(range(500)))]
            c.close()
        except Exception as e:  # pragma: no cover - reported below
            errors.append(repr(e))

    threads = [threading.Thread(target=work, args=(t,)) for t in range(12)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(60)
    assert not errors
    assert client.query("SELECT count() FROM conc").result_rows == [(12 * 500,)]


def test_client_disconnect_cancels_the_query(server, client):
    # Mid-stream: the client reads one block and hangs up.
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as s:
        q = urllib.parse.quote("SELECT number FROM numbers(1000000000000) FORMAT Native")
        s.sendall(f"GET /?query={q} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
        assert s.recv(65536).startswith(b"HTTP/1.1 200")
    # Before the first block: a long aggregation the client abandons.
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as s:
        q = urllib.parse.quote("SELECT count() FROM numbers(100000000000) WHERE sipHash64(number) = 0")
        s.sendall(f"GET /?query={q} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
        time.sleep(0.5)
    assert wait_no_processes(client, timeout=5)
    assert client.query("SELECT 2").result_rows == [(2,)]


def test_kill_query_by_query_id_from_another_client(server, client):
    qid = "long-" + uuid.uuid4().hex
    result = {}

    def long_query():
        try:
            server.client().query("SELECT count() FROM numbers(100000000000) WHERE sipHash64(number) = 0",
                                  settings={"query_id": qid})
            result["ok"] = True
        except DatabaseError as e:
            result["error"] = str(e)

    th = threading.Thread(target=long_query)
    th.start()
    time.sleep(1)
    killed = client.query(f"KILL QUERY WHERE query_id = '{qid}' SYNC").result_rows
    assert killed and killed[0][0] == "finished" and killed[0][1] == qid
    th.join(10)
    assert not th.is_alive() and "394" in result.get("error", "")
    assert wait_no_processes(client, timeout=5)
    assert not [r for r in client.query(f"KILL QUERY WHERE query_id = '{qid}'").result_rows if r and r[0]]


# --- process lifecycle -------------------------------------------------------

def test_data_survives_restart_and_dir_is_exclusive_and_sigterm_is_clean(tmp_path):
    first = Devserver(tmp_path / "data").wait_ready()
    try:
        c = first.client()
        c.command("CREATE TABLE keep (a UInt32, s String) ENGINE = MergeTree ORDER BY a")
        c.insert("keep", [[1, "one"], [2, "two"]], column_names=["a", "s"])
        c.close()
        second = Devserver(tmp_path / "data")
        assert second.proc.wait(30) != 0
        err = second.proc.stderr.read()
        assert str(tmp_path / "data") in err and "in use" in err
        assert http_get(first.port, "/ping") == (200, b"Ok.\n")  # the first one is unharmed
    finally:
        start = time.monotonic()
        assert first.stop() == 0
        assert time.monotonic() - start < 10
    assert "stopped" in first.proc.stderr.read()

    again = Devserver(tmp_path / "data").wait_ready()
    try:
        c = again.client()
        assert c.query("SELECT a, s FROM keep ORDER BY a").result_rows == [(1, "one"), (2, "two")]
        c.close()
    finally:
        assert again.stop() == 0


# --- INSERT errors are reported, never swallowed ------------------------------

def http_insert(port, sql, body, **params):
    qs = urllib.parse.urlencode(dict(params, **({"query": sql} if sql else {})))
    req = urllib.request.Request(f"http://127.0.0.1:{port}/?{qs}", method="POST", data=body)
    try:
        with urllib.request.urlopen(req, timeout=60) as r:
            return r.status, dict(r.headers), r.read()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read()


def count(client, table):
    return client.query(f"SELECT count() FROM {table}").result_rows[0][0]


def assert_ch_error(reply, code, status=500):
    got_status, headers, body = reply
    assert (got_status, headers.get("X-ClickHouse-Exception-Code")) == (status, str(code)), reply
    assert body.startswith(f"Code: {code}. DB::Exception: ".encode()), body
    assert not body.startswith(f"Code: {code}. DB::Exception: Code:".encode()), body  # not wrapped twice


def test_insert_violating_check_constraint_is_an_error(server, client):
    client.command("DROP TABLE IF EXISTS chk")
    client.command("CREATE TABLE chk (x Int32, s String, CONSTRAINT c CHECK x > 0) ENGINE = MergeTree ORDER BY x")
    # clickhouse-connect: Native, lz4-compressed body.
    with pytest.raises(DatabaseError, match="code: 469"):
        client.insert("chk", [[1, "a"], [-1, "b"]], column_names=["x", "s"])
    with pytest.raises(DatabaseError, match="code: 469"):
        server.client(compress=False).insert("chk", [[-5, "c"]], column_names=["x", "s"])
    port = server.port
    assert_ch_error(http_insert(port, "INSERT INTO chk FORMAT TSV", b"5\ta\n-3\tb\n"), 469)
    assert_ch_error(http_insert(port, "INSERT INTO chk (x, s) FORMAT CSV", b"5,a\n-3,b\n"), 469)
    assert_ch_error(http_insert(port, "INSERT INTO chk FORMAT Values", b"(5, 'a'), (-3, 'b')"), 469)
    assert_ch_error(http_insert(port, None, b"INSERT INTO chk FORMAT TSV\n5\ta\n-3\tb\n"), 469)
    assert_ch_error(http_insert(port, "INSERT INTO chk SETTINGS max_insert_block_size = 1 FORMAT TSV",
                                b"5\ta\n-3\tb\n"), 469)
    assert_ch_error(http_insert(port, "INSERT INTO chk VALUES (5, 'a'), (-3, 'b')", b""), 469)
    assert_ch_error(http_insert(port, "INSERT INTO chk SELECT -1, 'x'", b""), 469)
    assert count(client, "chk") == 0
    # Valid rows still go in, and report what they wrote.
    assert client.insert("chk", [[1, "a"], [2, "b"]], column_names=["x", "s"]).written_rows == 2
    status, headers, _ = http_insert(port, "INSERT INTO chk SETTINGS max_insert_block_size = 1 FORMAT TSV", b"3\tc\n")
    assert status == 200 and '"written_rows": "1"' in headers["X-ClickHouse-Summary"]
    assert count(client, "chk") == 3


def test_insert_bad_tsv_value_is_an_error(server, client):
    client.command("DROP TABLE IF EXISTS badtsv")
    client.command("CREATE TABLE badtsv (x Int32, y Int32 DEFAULT throwIf(x = 7, 'bad x') + x, "
                   "e Enum8('a' = 1) DEFAULT 'a') ENGINE = MergeTree ORDER BY x")
    port = server.port
    assert_ch_error(http_insert(port, "INSERT INTO badtsv (x) FORMAT TSV", b"1\nabc\n"), 27, status=400)
    assert_ch_error(http_insert(port, "INSERT INTO badtsv (x, e) FORMAT TSV", b"1\tzzz\n"), 691)
    # A value the format accepts but the table rejects while computing the row.
    assert_ch_error(http_insert(port, "INSERT INTO badtsv (x) FORMAT TSV", b"1\n7\n"), 395)
    with pytest.raises(DatabaseError, match="code: 395"):
        client.insert("badtsv", [[7]], column_names=["x"])
    assert count(client, "badtsv") == 0
    # The error text speaks of the data, not of the devserver's plumbing.
    _, _, body = http_insert(port, "INSERT INTO badtsv (x) FORMAT TSV", b"1\nabc\n")
    assert b"ch-fdw-devserver-" not in body and b"INFILE" not in body


def test_insert_into_table_with_throwing_materialized_view_is_an_error(server, client):
    for stmt in ("DROP VIEW IF EXISTS mv_throw", "DROP TABLE IF EXISTS mv_src", "DROP TABLE IF EXISTS mv_dst",
                 "CREATE TABLE mv_src (x Int32) ENGINE = MergeTree ORDER BY x",
                 "CREATE TABLE mv_dst (y Int32) ENGINE = MergeTree ORDER BY y",
                 "CREATE MATERIALIZED VIEW mv_throw TO mv_dst AS SELECT x + throwIf(x = 13, 'mv says no') AS y FROM mv_src"):
        client.command(stmt)
    with pytest.raises(DatabaseError, match="code: 395"):
        client.insert("mv_src", [[1], [13]], column_names=["x"])
    assert_ch_error(http_insert(server.port, "INSERT INTO mv_src FORMAT TSV", b"2\n13\n"), 395)
    assert_ch_error(http_insert(server.port, "INSERT INTO mv_src FORMAT JSONEachRow", b'{"x": 13}\n'), 395)
    assert count(client, "mv_dst") == 0
    client.insert("mv_src", [[3]], column_names=["x"])
    assert client.query("SELECT y FROM mv_dst").result_rows == [(3,)]


def test_insert_error_after_blocks_were_accepted_is_reported(server, client):
    client.command("DROP TABLE IF EXISTS late_err")
    client.command("CREATE TABLE late_err (x Int64, CONSTRAINT c CHECK x != 2999990) ENGINE = MergeTree ORDER BY x")
    body = b"".join(b"%d\n" % i for i in range(3000000))
    reply = http_insert(server.port, "INSERT INTO late_err FORMAT TSV", body, max_insert_block_size="100000")
    assert_ch_error(reply, 469)
    # Through clickhouse-connect, several Native blocks in one compressed body.
    rows = [[i] for i in range(2999900, 3000000)]
    with pytest.raises(DatabaseError, match="code: 469"):
        client.insert("late_err", rows, column_names=["x"], settings={"max_insert_block_size": 10})
    assert client.query("SELECT count() FROM late_err WHERE x = 2999990").result_rows == [(0,)]


def _send_chunked_insert(port, sql, chunks, finish):
    s = socket.create_connection(("127.0.0.1", port), timeout=30)
    q = urllib.parse.quote(sql)
    s.sendall(f"POST /?query={q} HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n".encode())
    for c in chunks:
        s.sendall(b"%X\r\n%s\r\n" % (len(c), c))
    if finish:
        s.sendall(b"0\r\n\r\n")
    return s


def test_truncated_chunked_insert_body_is_not_committed(server, client):
    client.command("DROP TABLE IF EXISTS trunc")
    client.command("CREATE TABLE trunc (x Int32) ENGINE = MergeTree ORDER BY x")
    # The client dies mid-body: what arrived must not be committed as if complete.
    s = _send_chunked_insert(server.port, "INSERT INTO trunc FORMAT TSV", [b"1\n2\n", b"3\n"], finish=False)
    s.sendall(b"5\r\n4\n")  # half a chunk, then the connection is gone
    s.close()
    time.sleep(1)
    assert count(client, "trunc") == 0
    s = _send_chunked_insert(server.port, "INSERT INTO trunc FORMAT TSV", [b"1\n2\n", b"3\n"], finish=True)
    reply = s.recv(65536)
    s.close()
    assert reply.startswith(b"HTTP/1.1 200")
    assert count(client, "trunc") == 3


def test_killed_insert_reports_cancellation_and_commits_nothing(server, client):
    client.command("DROP TABLE IF EXISTS killed_ins")
    client.command("CREATE TABLE killed_ins (x Int32) ENGINE = MergeTree ORDER BY x")
    qid = "ins-" + uuid.uuid4().hex
    sql = "INSERT INTO killed_ins FORMAT TSV"
    s = socket.create_connection(("127.0.0.1", server.port), timeout=30)
    s.sendall(f"POST /?query_id={qid}&query={urllib.parse.quote(sql)} HTTP/1.1\r\nHost: x\r\n"
              "Transfer-Encoding: chunked\r\n\r\n".encode())
    s.sendall(b"4\r\n1\n2\n\r\n")
    time.sleep(0.5)
    killer = threading.Thread(target=lambda: server.client().query(f"KILL QUERY WHERE query_id = '{qid}' SYNC"))
    killer.start()
    time.sleep(0.5)
    try:
        s.sendall(b"2\r\n3\n\r\n0\r\n\r\n")
    except OSError:
        pass
    reply = s.recv(65536)
    s.close()
    killer.join(15)
    assert not killer.is_alive()
    assert reply.startswith(b"HTTP/1.1 500") and b"X-ClickHouse-Exception-Code: 394" in reply, reply
    assert count(client, "killed_ins") == 0


def test_failed_request_does_not_leave_its_database_in_the_session(server, client):
    client.command("CREATE DATABASE IF NOT EXISTS sess_other")
    sid = "s-" + uuid.uuid4().hex
    assert http_query(server.port, "SELECT 1", session_id=sid)[0] == 200
    status, headers, _ = http_query(server.port, "SELECT 1", session_id=sid, database="sess_other",
                                    no_such_setting="1")
    assert headers["X-ClickHouse-Exception-Code"] == "115"
    assert http_query(server.port, "SELECT currentDatabase()", session_id=sid)[2] == b"default\n"
