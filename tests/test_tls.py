"""TLS end to end: secure 'true' with verification against a test CA, with
verification off, with a wrong CA (a clear error, no hang) and with
server_hostname naming the certificate's host.

What is verified against what (see also README, "TLS"):
  * native: Debian's ClickHouse 18.16 serving TLS itself (tcp_port_secure,
    a certificate made here with openssl) — real ClickHouse TLS;
  * http: clickhouse-connect cannot run queries on 18.16 (its settings
    probe fails), so queries go to the chDB devserver behind a
    TLS-terminating relay (Python's ssl, i.e. OpenSSL, serving the same
    certificate); and one test shows 18.16's own https_port completes the
    verified handshake (the error is then ClickHouse's, not TLS's).
The certificate names only the host ch.test: without server_hostname
'ch.test' a verifying client must refuse 127.0.0.1.
"""

from __future__ import annotations

import subprocess
import time

import psycopg
import pytest

from chserver import start_clickhouse_18
from conftest import free_port
from faultrelay import FaultRelay

CERT_HOST = "ch.test"


def _openssl(*args: str, cwd) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True, timeout=60)


@pytest.fixture(scope="module")
def certs(tmp_path_factory):
    """A test CA, a server certificate for ch.test signed by it, and an
    unrelated CA (the wrong one)."""
    d = tmp_path_factory.mktemp("tls")
    for ca in ("ca", "wrong_ca"):
        _openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                 "-keyout", f"{ca}.key", "-out", f"{ca}.crt", "-subj", f"/CN=ch_fdw test {ca}", cwd=d)
    (d / "server.ext").write_text(f"subjectAltName=DNS:{CERT_HOST}\nbasicConstraints=CA:FALSE\n"
                                  "keyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n")
    _openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", "server.key", "-out", "server.csr",
             "-subj", f"/CN={CERT_HOST}", cwd=d)
    _openssl("x509", "-req", "-in", "server.csr", "-CA", "ca.crt", "-CAkey", "ca.key",
             "-CAcreateserial", "-days", "2", "-out", "server.crt", "-extfile", "server.ext", cwd=d)
    return d


@pytest.fixture(scope="module")
def ch18_tls(tmp_path_factory, certs):
    ports = dict(tcp_port_secure=free_port(), https_port=free_port())
    srv = start_clickhouse_18(tmp_path_factory.mktemp("ch18tls"), free_port(), free_port(),
                              tls=dict(cert=certs / "server.crt", key=certs / "server.key", **ports))
    srv.ports = ports
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def https_relay(devserver, certs):
    import ssl
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(certs / "server.crt", certs / "server.key")
    relay = FaultRelay(devserver.http_port, lifetime=600, tls_context=ctx)
    yield relay
    relay.stop()


@pytest.fixture(params=["native", "http"])
def tls_target(request, certs):
    """(protocol, port) of a TLS server with the test certificate."""
    if request.param == "native":
        srv = request.getfixturevalue("ch18_tls")
        return "native", srv.ports["tcp_port_secure"]
    return "http", request.getfixturevalue("https_relay").port


def _server(pg, name: str, protocol: str, port: int, **options: str) -> None:
    opts = {"host": "127.0.0.1", "port": str(port), "protocol": protocol, "secure": "true",
            "connect_timeout": "5", **options}
    pg.execute(f"CREATE SERVER {name} FOREIGN DATA WRAPPER ch_fdw OPTIONS ("
               + ", ".join(f"{k} '{v}'" for k, v in opts.items()) + ")")
    pg.execute(f"CREATE USER MAPPING FOR CURRENT_USER SERVER {name} OPTIONS (user 'default')")
    # a remote table every ClickHouse has
    pg.execute(f"CREATE FOREIGN TABLE {name}_one (dummy smallint) SERVER {name} "
               "OPTIONS (dbname 'system', table_name 'one')")


@pytest.fixture
def tls_server(pg, uniq):
    made: list[str] = []

    def make(protocol: str, port: int, **options: str) -> str:
        name = f"{uniq}_tls{len(made)}"
        _server(pg, name, protocol, port, **options)
        made.append(name)
        return f"{name}_one"
    yield make
    for name in made:
        pg.execute(f"DROP SERVER IF EXISTS {name} CASCADE")


def _works(pg, table: str) -> None:
    assert pg.execute(f"SELECT dummy FROM {table}").fetchall() == [(0,)]
    assert pg.execute(f"SELECT count(*) FROM {table} WHERE dummy = 0").fetchone()[0] == 1


def _refused(pg, table: str) -> psycopg.Error:
    t0 = time.monotonic()
    with pytest.raises(psycopg.Error) as ei:
        pg.execute(f"SELECT dummy FROM {table}").fetchall()
    assert time.monotonic() - t0 < 10, "a refused TLS handshake must not hang"
    e = ei.value
    assert e.diag.sqlstate == "08001", e
    assert "could not connect" in str(e)
    assert pg.execute("SELECT 1").fetchone() == (1,)     # the session survives
    return e


def test_verified_with_test_ca_and_server_hostname(pg, tls_server, tls_target, certs):
    protocol, port = tls_target
    _works(pg, tls_server(protocol, port, ca_cert=str(certs / "ca.crt"), server_hostname=CERT_HOST))


def test_verification_off(pg, tls_server, tls_target):
    protocol, port = tls_target
    _works(pg, tls_server(protocol, port, verify="false"))


def test_wrong_ca_is_refused(pg, tls_server, tls_target, certs):
    protocol, port = tls_target
    e = _refused(pg, tls_server(protocol, port, ca_cert=str(certs / "wrong_ca.crt"),
                                server_hostname=CERT_HOST))
    assert "certificate verify failed" in str(e), e


def test_host_name_must_match_certificate(pg, tls_server, tls_target, certs):
    """Right CA, but 127.0.0.1 is not ch.test: refused unless
    server_hostname names the certificate's host."""
    protocol, port = tls_target
    e = _refused(pg, tls_server(protocol, port, ca_cert=str(certs / "ca.crt")))
    assert "certificate verify failed" in str(e) or "match" in str(e), e
    _works(pg, tls_server(protocol, port, ca_cert=str(certs / "ca.crt"), server_hostname=CERT_HOST))


def test_plain_client_on_tls_port_fails_cleanly(pg, tls_server, tls_target):
    protocol, port = tls_target
    table = tls_server(protocol, port, secure="false")
    t0 = time.monotonic()
    with pytest.raises(psycopg.Error) as ei:
        pg.execute(f"SELECT dummy FROM {table}").fetchall()
    assert time.monotonic() - t0 < 10
    assert ei.value.diag.sqlstate in ("08001", "08006"), ei.value
    assert pg.execute("SELECT 1").fetchone() == (1,)


def test_http_handshake_with_clickhouse_18_https_port(pg, tls_server, ch18_tls, certs):
    """18.16's own HTTPS: the verified handshake succeeds (what fails is
    clickhouse-connect's settings probe, a ClickHouse error), and the wrong
    CA is refused by TLS."""
    port = ch18_tls.ports["https_port"]
    with pytest.raises(psycopg.Error) as ei:
        pg.execute(f"SELECT dummy FROM {tls_server('http', port, ca_cert=str(certs / 'ca.crt'), server_hostname=CERT_HOST)}")
    assert "ClickHouse error" in str(ei.value) and "certificate" not in str(ei.value), ei.value
    e = _refused(pg, tls_server("http", port, ca_cert=str(certs / "wrong_ca.crt"), server_hostname=CERT_HOST))
    assert "certificate verify failed" in str(e), e


def test_cancel_stalled_tls_stream(pg, tls_server, tls_target, certs):
    """A TLS stream that stalls mid-way is cancelled like a plain one (the
    relay forwards the encrypted bytes, then stops)."""
    protocol, port = tls_target
    with FaultRelay(port, lifetime=60) as relay:
        table = tls_server(protocol, relay.port, ca_cert=str(certs / "ca.crt"), server_hostname=CERT_HOST)
        _works(pg, table)
        big = table.replace("_one", "_nums")
        pg.execute(f"CREATE FOREIGN TABLE {big} (number bigint) SERVER {table[:-4]} "
                   "OPTIONS (dbname 'system', table_name 'numbers')")
        relay.set("stall", after=64 * 1024)
        pg.execute("SET statement_timeout = '1s'")
        t0 = time.monotonic()
        with pytest.raises(psycopg.errors.QueryCanceled):
            pg.execute(f"SELECT count(*) FROM (SELECT number FROM {big} LIMIT 5000000) s "
                       "WHERE random() >= 0").fetchall()
        assert time.monotonic() - t0 < 5
        pg.execute("RESET statement_timeout")
        relay.set("pass")
        _works(pg, table)
