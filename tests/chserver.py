"""Start a throw-away ClickHouse 18.16 (Debian's clickhouse-server) for tests.

Usage::

    srv = start_clickhouse_18(tmpdir, tcp_port=17201, http_port=17202)
    ...  # clickhouse_driver.Client("127.0.0.1", port=srv.tcp_port)
    srv.stop()

Everything the server writes (data, tmp, logs, user files, format schemas)
lives under tmpdir; it listens on 127.0.0.1 only; no ZooKeeper, no
remote_servers.  The server runs as the current user (root is fine for
ClickHouse).  stop() terminates exactly the process it started.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from pathlib import Path

CLICKHOUSE_SERVER = "/usr/sbin/clickhouse-server"

_CONFIG = """<?xml version="1.0"?>
<yandex>
    <logger>
        <level>warning</level>
        <log>{d}/log/clickhouse-server.log</log>
        <errorlog>{d}/log/clickhouse-server.err.log</errorlog>
        <size>10M</size>
        <count>1</count>
    </logger>
    <http_port>{http_port}</http_port>
    <tcp_port>{tcp_port}</tcp_port>
{tls}    <listen_host>127.0.0.1</listen_host>
    <max_connections>256</max_connections>
    <keep_alive_timeout>3</keep_alive_timeout>
    <max_concurrent_queries>100</max_concurrent_queries>
    <uncompressed_cache_size>67108864</uncompressed_cache_size>
    <mark_cache_size>67108864</mark_cache_size>
    <path>{d}/data/</path>
    <tmp_path>{d}/tmp/</tmp_path>
    <user_files_path>{d}/user_files/</user_files_path>
    <format_schema_path>{d}/format_schemas/</format_schema_path>
    <users_config>{d}/users.xml</users_config>
    <default_profile>default</default_profile>
    <default_database>default</default_database>
    <timezone>UTC</timezone>
    <mlock_executable>false</mlock_executable>
    <builtin_dictionaries_reload_interval>3600</builtin_dictionaries_reload_interval>
    <max_session_timeout>3600</max_session_timeout>
    <default_session_timeout>60</default_session_timeout>
</yandex>
"""

# TLS ports and the server certificate (start_clickhouse_18's tls argument)
_TLS = """    <tcp_port_secure>{tcp_port_secure}</tcp_port_secure>
    <https_port>{https_port}</https_port>
    <openSSL>
        <server>
            <certificateFile>{cert}</certificateFile>
            <privateKeyFile>{key}</privateKeyFile>
            <verificationMode>none</verificationMode>
            <loadDefaultCAFile>false</loadDefaultCAFile>
            <cacheSessions>true</cacheSessions>
            <disableProtocols>sslv2,sslv3</disableProtocols>
            <preferServerCiphers>true</preferServerCiphers>
        </server>
    </openSSL>
"""

_USERS = """<?xml version="1.0"?>
<yandex>
    <profiles>
        <default>
            <max_memory_usage>2000000000</max_memory_usage>
            <use_uncompressed_cache>0</use_uncompressed_cache>
            <load_balancing>random</load_balancing>
        </default>
        <readonly>
            <readonly>1</readonly>
        </readonly>
    </profiles>
    <users>
        <default>
            <password></password>
            <networks><ip>127.0.0.1</ip><ip>::1</ip></networks>
            <profile>default</profile>
            <quota>default</quota>
        </default>
{extra_users}    </users>
    <quotas>
        <default>
            <interval>
                <duration>3600</duration>
                <queries>0</queries>
                <errors>0</errors>
                <result_rows>0</result_rows>
                <read_rows>0</read_rows>
                <execution_time>0</execution_time>
            </interval>
        </default>
    </quotas>
</yandex>
"""


class ClickHouse18:
    """A running clickhouse-server; call stop() when done."""

    def __init__(self, proc: subprocess.Popen, directory: Path,
                 tcp_port: int, http_port: int):
        self.proc = proc
        self.directory = directory
        self.tcp_port = tcp_port
        self.http_port = http_port
        self.host = "127.0.0.1"

    def stop(self, timeout: float = 15.0) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)

    def log_tail(self, n: int = 40) -> str:
        out = []
        for name in ("stderr.log", "log/clickhouse-server.err.log"):
            p = self.directory / name
            if p.exists():
                out.append(f"--- {p}")
                out.extend(p.read_text(errors="replace").splitlines()[-n:])
        return "\n".join(out)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()


def _port_open(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.2)
        return s.connect_ex(("127.0.0.1", port)) == 0


def _users_xml(users: dict[str, str] | None) -> str:
    from xml.sax.saxutils import escape
    extra = ""
    for name, password in (users or {}).items():
        if not name.replace("_", "").isalnum():
            raise ValueError(f"bad ClickHouse user name {name!r}")
        extra += (f"        <{name}>\n"
                  f"            <password>{escape(password)}</password>\n"
                  "            <networks><ip>127.0.0.1</ip><ip>::1</ip></networks>\n"
                  "            <profile>default</profile>\n"
                  "            <quota>default</quota>\n"
                  f"        </{name}>\n")
    return _USERS.replace("{extra_users}", extra)


def start_clickhouse_18(tmpdir, tcp_port: int, http_port: int,
                        timeout: float = 30.0,
                        users: dict[str, str] | None = None,
                        tls: dict | None = None) -> ClickHouse18:
    """Start Debian's ClickHouse 18.16 with all state under tmpdir.

    users adds ClickHouse users (name -> plaintext password) next to the
    passwordless 'default' user.  tls (keys cert, key, tcp_port_secure,
    https_port) also serves TLS on those ports.  Waits until the native port accepts a
    query; raises RuntimeError with the server's log tail if it does not
    come up in time."""
    if not os.path.exists(CLICKHOUSE_SERVER):
        raise RuntimeError(f"{CLICKHOUSE_SERVER} not installed")
    d = Path(tmpdir).absolute()
    for sub in ("data", "tmp", "user_files", "format_schemas", "log"):
        (d / sub).mkdir(parents=True, exist_ok=True)
    for port in (tcp_port, http_port):
        if _port_open(port):
            raise RuntimeError(f"port {port} already in use")
    (d / "config.xml").write_text(_CONFIG.format(d=d, tcp_port=tcp_port, http_port=http_port,
                                                 tls=_TLS.format(**tls) if tls else ""))
    (d / "users.xml").write_text(_users_xml(users))
    err = open(d / "stderr.log", "ab")
    proc = subprocess.Popen(
        [CLICKHOUSE_SERVER, f"--config-file={d / 'config.xml'}"],
        cwd=d, stdout=err, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
        start_new_session=True)
    err.close()
    srv = ClickHouse18(proc, d, tcp_port, http_port)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError("clickhouse-server exited with code "
                               f"{proc.returncode}\n{srv.log_tail()}")
        if _port_open(tcp_port) and _ping(srv):
            return srv
        time.sleep(0.1)
    srv.stop()
    raise RuntimeError(f"clickhouse-server did not start in {timeout}s\n"
                       f"{srv.log_tail()}")


def _ping(srv: ClickHouse18) -> bool:
    try:
        from clickhouse_driver import Client
    except ImportError:   # fall back to the HTTP port
        import urllib.request
        try:
            with urllib.request.urlopen(
                    f"http://127.0.0.1:{srv.http_port}/?query=SELECT%201",
                    timeout=2) as r:
                return r.read().strip() == b"1"
        except OSError:
            return False
    c = Client("127.0.0.1", port=srv.tcp_port, connect_timeout=2)
    try:
        return c.execute("SELECT 1") == [(1,)]
    except Exception:
        return False
    finally:
        c.disconnect()


if __name__ == "__main__":   # manual smoke test
    import sys
    import tempfile
    tmp = tempfile.mkdtemp(prefix="ch18-")
    s = start_clickhouse_18(tmp, int(sys.argv[1]) if len(sys.argv) > 1 else 17290,
                            int(sys.argv[2]) if len(sys.argv) > 2 else 17291)
    print("started", s.tcp_port, s.http_port, tmp)
    s.stop()
    shutil.rmtree(tmp, ignore_errors=True)
