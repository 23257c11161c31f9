"""Tests for ch-fdw-devserver's native TCP protocol (clickhouse-driver, as
is) and the multipart/form-data bodies of its HTTP interface.

Every test talks to a real devserver subprocess; clickhouse-driver is used
unmodified, and its low-level Connection where the protocol detail (Cancel,
revision) is the point.
"""

import datetime as dt
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request

import pytest

pytest.importorskip("chdb")
from clickhouse_driver import Client  # noqa: E402
from clickhouse_driver.errors import ServerException  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from test_devserver import TYPES, _same  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    path = tmp_path_factory.mktemp("native") / "data"
    http, tcp = _port(), _port()
    proc = subprocess.Popen([sys.executable, "-m", "ch_fdw.devserver", "--path", str(path),
                             "--http-port", str(http), "--tcp-port", str(tcp)],
                            cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while True:
        if proc.poll() is not None:
            raise RuntimeError("devserver exited: " + proc.stderr.read())
        try:
            socket.create_connection(("127.0.0.1", tcp), 0.5).close()
            break
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)
    proc.http_port, proc.tcp_port = http, tcp
    yield proc
    proc.terminate()
    proc.wait(20)


def client(server, **kw):
    return Client("127.0.0.1", port=server.tcp_port, **kw)


def http(server, sql):
    with urllib.request.urlopen(f"http://127.0.0.1:{server.http_port}/",
                                data=sql.encode(), timeout=30) as r:
        return r.read().decode()


# JSON goes last: chDB's JSON layout is walked only where it is the one
# variable-width column left (see blocks.py).
# clickhouse-driver writes DateTime64 through a float (a pre-1970 value with
# a fraction lands a second late, 2262 gains a microsecond), so those
# extremes are whole seconds here.
NATIVE_TYPES = [("t64", "DateTime64(3)", [dt.datetime(1900, 1, 1), dt.datetime(2262, 4, 11, 23, 47, 16)])
                if t[0] == "t64" else t for t in TYPES if t[1] != "JSON"]


@pytest.mark.parametrize("compression", [False, "lz4", "zstd"])
def test_every_type_round_trips_through_clickhouse_driver(server, compression):
    c = client(server, compression=compression)
    table = f"native_types_{compression or 'plain'}"
    c.execute(f"DROP TABLE IF EXISTS {table}")
    c.execute(f"CREATE TABLE {table} (id UInt8, " + ", ".join(f"{n} {t}" for n, t, _ in NATIVE_TYPES)
              + ") ENGINE = MergeTree ORDER BY id")
    rows = [[i] + [vals[i] for _, _, vals in NATIVE_TYPES] for i in range(2)]
    cols = ", ".join(["id"] + [n for n, _, _ in NATIVE_TYPES])
    assert c.execute(f"INSERT INTO {table} ({cols}) VALUES", rows) == 2
    got, types = c.execute(f"SELECT * FROM {table} ORDER BY id", with_column_types=True)
    assert [t for _, t in types[1:]] == [t for _, t, _ in NATIVE_TYPES]
    assert len(got) == 2
    for i in range(2):
        for col, (name, typ, vals) in enumerate(NATIVE_TYPES, start=1):
            if typ.startswith("FixedString"):   # clickhouse-driver decodes these as text
                continue
            assert _same(vals[i], got[i][col]), (name, typ, vals[i], got[i][col])
    assert client(server, settings={"strings_as_bytes": True}).execute(
        f"SELECT fs FROM {table} ORDER BY id") == [(b"ab\x00\x00",), (b"\xff\x00ab",)]
    # the engine's own view of the data agrees
    assert c.execute(f"SELECT toString(i256), toString(d76), s, toString(u256) FROM {table} WHERE id = 1") == \
        [(str(2**255 - 1), "1.5", "héllo\tworld\n\x00'\"", str(2**256 - 1))]
    # NULLs everywhere a Nullable can be, and an empty result still has its header
    assert c.execute(f"SELECT n, lcn, arr FROM {table} WHERE id = 0") == [(None, None, [])]
    assert c.execute(f"SELECT * FROM {table} WHERE id > 5", with_column_types=True)[1] == types
    c.disconnect()


def test_json_and_several_string_columns(server):
    c = client(server)
    c.execute("DROP TABLE IF EXISTS native_json")
    c.execute("CREATE TABLE native_json (id UInt8, a String, b Array(String), j JSON) ENGINE = Memory")
    c.execute("INSERT INTO native_json FORMAT JSONEachRow", [])  # nothing: no rows sent
    http(server, "INSERT INTO native_json VALUES (1, 'x', ['y', ''], '{\"k\": 5}')")
    assert c.execute("SELECT id, a, b, toString(j.k) FROM native_json") == [(1, "x", ["y", ""], "5")]
    c.disconnect()


def test_big_results_stream_with_flat_server_memory(server):
    c = client(server, settings={"max_block_size": 65536})

    def rss_mib():
        with open(f"/proc/{server.pid}/status") as f:
            return next(int(line.split()[1]) for line in f if line.startswith("VmRSS:")) / 1024

    def stream(n):
        total = count = 0
        for row in c.execute_iter(f"SELECT number, concat('str-', toString(number)) FROM numbers({n})"):
            total += row[0]
            count += 1
        assert count == n and total == n * (n - 1) // 2

    stream(300_000)
    before = rss_mib()
    stream(3_000_000)
    assert rss_mib() - before < 200, (before, rss_mib())
    c.disconnect()


def test_errors_carry_clickhouse_code_and_message(server):
    c = client(server)
    with pytest.raises(ServerException) as e:
        c.execute("SELECT * FROM no_such_table")
    assert e.value.code == 60 and "no_such_table" in e.value.message
    with pytest.raises(ServerException) as e:
        c.execute("SELEC 1")
    assert e.value.code == 62 and "Syntax error" in e.value.message
    with pytest.raises(ServerException) as e:   # after some blocks were streamed
        list(c.execute_iter("SELECT throwIf(number = 200000, 'boom') FROM numbers(300000)",
                            settings={"max_block_size": 1000}))
    assert e.value.code == 395 and "boom" in e.value.message
    assert c.execute("SELECT 1") == [(1,)]   # the connection is still usable
    c.disconnect()


def test_settings_parameters_query_id_and_session(server):
    c = client(server, settings={"server_side_params": True})
    assert c.execute("SELECT {s:String}, {n:UInt8} + 1, {a:Array(String)}",
                     {"s": "it's \\ a\ttab", "n": 41, "a": ["x", "y'"]}) == [("it's \\ a\ttab", 42, ["x", "y'"])]
    assert c.execute("SELECT getSetting('max_threads')", settings={"max_threads": 3}) == [(3,)]
    assert c.execute("SELECT getSetting('max_threads')") != [(3,)]   # per query only
    c.execute("SET max_threads = 2")                                   # but SET sticks
    assert c.execute("SELECT getSetting('max_threads')") == [(2,)]
    c.execute("CREATE DATABASE IF NOT EXISTS native_db")
    c.execute("USE native_db")
    assert c.execute("SELECT currentDatabase()") == [("native_db",)]
    assert client(server, database="native_db").execute("SELECT currentDatabase()") == [("native_db",)]
    with pytest.raises(ServerException) as e:
        client(server, database="no_such_db").execute("SELECT 1")
    assert e.value.code == 81
    c.disconnect()


@pytest.mark.parametrize("revision", [54405, 54429, 54453, 54460])
def test_older_client_revisions_are_served(server, revision):
    c = client(server, client_revision=revision)
    assert c.execute("SELECT number, toString(number), toLowCardinality('x') FROM numbers(3)") == \
        [(0, "0", "x"), (1, "1", "x"), (2, "2", "x")]
    c.execute("CREATE TABLE IF NOT EXISTS native_rev (a UInt32, s String) ENGINE = Memory")
    c.execute("INSERT INTO native_rev (a, s) VALUES", [(revision, "r")])
    assert (revision, "r") in c.execute("SELECT a, s FROM native_rev")
    assert c.connection.server_info.used_revision == revision
    c.disconnect()


def test_ping_and_cancel_stop_the_remote_query(server):
    from clickhouse_driver.protocol import ServerPacketTypes
    c = client(server, send_receive_timeout=30)
    c.execute("SELECT 1")
    conn = c.connection
    assert conn.ping()
    marker = f"cancel_me_{os.getpid()}"
    # busy inside the engine: no block to send for a long time
    conn.send_query(f"SELECT count() FROM numbers_mt(1e13) WHERE NOT ignore('{marker}')")
    conn.send_external_tables(None)
    deadline = time.monotonic() + 20
    while marker not in http(server, "SELECT query FROM system.processes"):
        assert time.monotonic() < deadline, "query never started"
        time.sleep(0.1)
    t0 = time.monotonic()
    conn.send_cancel()
    while True:
        packet = conn.receive_packet()
        if packet.type in (ServerPacketTypes.END_OF_STREAM, ServerPacketTypes.EXCEPTION):
            break
    assert packet.type == ServerPacketTypes.END_OF_STREAM
    assert time.monotonic() - t0 < 10
    assert marker not in http(server, "SELECT query FROM system.processes WHERE query NOT LIKE '%system.processes%'")
    conn.is_query_executing = False
    assert c.execute("SELECT 2") == [(2,)]   # the connection goes on
    c.disconnect()


def test_cancel_mid_stream_ends_the_stream(server):
    from clickhouse_driver.protocol import ServerPacketTypes
    c = client(server, settings={"max_block_size": 1000})
    c.execute("SELECT 1")
    conn = c.connection
    conn.send_query("SELECT number FROM numbers(100000000)")
    conn.send_external_tables(None)
    blocks = 0
    while blocks < 3:
        if conn.receive_packet().type == ServerPacketTypes.DATA:
            blocks += 1
    conn.send_cancel()
    while conn.receive_packet().type != ServerPacketTypes.END_OF_STREAM:
        pass
    conn.is_query_executing = False
    assert c.execute("SELECT 3") == [(3,)]
    c.disconnect()


def test_insert_errors_are_reported_and_commit_nothing_partial(server):
    c = client(server)
    c.execute("CREATE TABLE IF NOT EXISTS native_check (a Int32, CONSTRAINT pos CHECK a > 0) ENGINE = MergeTree ORDER BY a")
    with pytest.raises(ServerException) as e:
        c.execute("INSERT INTO native_check (a) VALUES", [(1,), (-1,)])
    assert e.value.code == 469
    assert client(server).execute("SELECT count() FROM native_check") == [(0,)]
    with pytest.raises(ServerException) as e:
        c.execute("INSERT INTO no_such_table (a) VALUES", [(1,)])
    assert e.value.code == 60


def test_concurrent_native_clients(server):
    results, errors = {}, []

    def work(i):
        try:
            results[i] = client(server).execute(f"SELECT sum(number) + {i} FROM numbers(100000)")[0][0]
        except Exception as e:  # noqa: BLE001
            errors.append(e)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors
    assert results == {i: 4999950000 + i for i in range(6)}


def test_http_client_on_the_native_port_is_told_so(server):
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(f"http://127.0.0.1:{server.tcp_port}/?query=SELECT+1", timeout=10)
    assert e.value.code == 400
    body = e.value.read().decode()
    assert f"Port {server.tcp_port} is for clickhouse-client program" in body
    assert str(server.http_port) in body


# --- HTTP: multipart/form-data ------------------------------------------------

def _post_form(server, fields, query=""):
    from urllib3 import encode_multipart_formdata
    body, ctype = encode_multipart_formdata(fields)
    req = urllib.request.Request(f"http://127.0.0.1:{server.http_port}/{query}", data=body,
                                 headers={"Content-Type": ctype})
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def test_multipart_query_and_parameters(server):
    assert _post_form(server, {"query": "SELECT {x:String}, {n:UInt8} + 1", "param_x": "it's",
                               "param_n": "41"}) == (200, "it\\'s\t42\n")
    # the query in the URL, parameters in the form (as some clients send them)
    assert _post_form(server, {"param_v": "7"}, "?query=SELECT+%7Bv%3AInt32%7D+*+2") == (200, "14\n")
    status, text = _post_form(server, {"query": "SELECT nope"})
    assert status == 404 and "Code: 47" in text


def test_multipart_external_tables(server):
    assert _post_form(server, {"t": ("t.tsv", b"1\ta\n2\tb\n"), "query": "SELECT sum(id), groupArray(s) FROM t"},
                      "?t_structure=id+UInt32,+s+String") == (200, "3\t['a','b']\n")
    assert _post_form(server, {"t": ("t.csv", b"1,x\n2,y\n"), "t_types": "UInt8,String", "t_format": "CSV",
                               "query": "SELECT _2 FROM t ORDER BY _1 DESC"}) == (200, "y\nx\n")
    status, text = _post_form(server, {"t": ("t.tsv", b"1\n"), "query": "SELECT * FROM t"})
    assert status == 400 and "t_structure" in text


def test_unsupported_layout_is_an_error_not_a_dropped_connection(server):
    c = client(server)
    # a JSON column before another variable-width one cannot be re-framed
    with pytest.raises(ServerException) as e:
        c.execute("SELECT '{\"a\": 1}'::JSON AS j, 'x' AS s")
    assert e.value.code == 48 and "JSON" in e.value.message
    assert c.execute("SELECT 'x' AS s, '{\"a\": 1}'::JSON AS j")[0][0] == "x"   # last: fine
    c.disconnect()


def test_kill_query_by_query_id_across_interfaces(server):
    """KILL QUERY WHERE query_id = ... from an HTTP client stops a native query, and back."""
    from clickhouse_driver.protocol import ServerPacketTypes
    c = client(server, send_receive_timeout=30)
    c.execute("SELECT 1")
    conn = c.connection
    conn.send_query("SELECT count() FROM numbers_mt(1e13)", query_id="native-victim")
    conn.send_external_tables(None)
    deadline = time.monotonic() + 20
    while "native-victim" not in http(server, "KILL QUERY WHERE query_id = 'native-victim' SYNC FORMAT TSV"):
        assert time.monotonic() < deadline, "query never found"
        time.sleep(0.1)
    packet = conn.receive_packet()
    while packet.type not in (ServerPacketTypes.END_OF_STREAM, ServerPacketTypes.EXCEPTION):
        packet = conn.receive_packet()
    assert packet.type == ServerPacketTypes.EXCEPTION and packet.exception.code == 394
    c.disconnect()
    # and a native client's KILL finds an HTTP query by its id
    t = threading.Thread(target=_swallow, args=(server,))
    t.start()
    k = client(server)
    deadline = time.monotonic() + 20
    while not k.execute("KILL QUERY WHERE query_id = 'http-victim' SYNC"):
        assert time.monotonic() < deadline, "query never found"
        time.sleep(0.1)
    t.join(20)
    assert not t.is_alive()
    k.disconnect()


def _swallow(server):
    try:
        urllib.request.urlopen(f"http://127.0.0.1:{server.http_port}/?query_id=http-victim",
                               data=b"SELECT count() FROM numbers_mt(1e13)", timeout=60).read()
    except (urllib.error.HTTPError, OSError):
        pass


def test_many_blocks_of_variable_width_columns_are_reframed_exactly(server):
    """Columns whose length is only known by walking them (String, Array,
    LowCardinality, Nullable, Map) before a fixed one, over many blocks."""
    c = client(server, settings={"max_block_size": 7000})
    n = 50_000
    rows = c.execute(
        "SELECT toString(number) a, [toString(number), ''] b, toLowCardinality(toString(number % 7)) c, "
        "if(number % 3 = 0, NULL, repeat('x', number % 200)) d, map(toString(number), number) m, number "
        f"FROM numbers({n}) ORDER BY number")
    assert len(rows) == n
    for i in (0, 1, 6999, 7000, 7001, n - 1):
        a, b, lc, d, m, num = rows[i]
        assert (a, b, lc, num, m) == (str(i), [str(i), ""], str(i % 7), i, {str(i): i})
        assert d == (None if i % 3 == 0 else "x" * (i % 200))
    assert sum(r[5] for r in rows) == n * (n - 1) // 2
    c.disconnect()
