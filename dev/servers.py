"""Throw-away servers for the demo and the benchmarks: a PostgreSQL 15
cluster with ch_fdw preloaded, the chDB devserver, and Debian's ClickHouse
18.16.  Run as a non-root user (PostgreSQL refuses root; dev/run switches to
the postgres user)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

# The PostgreSQL to run: the one whose pg_config is in $PG_CONFIG, else Debian's 15.
PG_BIN = Path(subprocess.check_output(
    [os.environ.get("PG_CONFIG") or "/usr/lib/postgresql/15/bin/pg_config", "--bindir"],
    text=True).strip())
REPO = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def port_open(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.2)
        return s.connect_ex(("127.0.0.1", port)) == 0


class Postgres:
    def __init__(self, datadir: Path, port: int):
        self.datadir, self.port = Path(datadir), port
        self.host = "/tmp"

    @property
    def dsn(self) -> str:
        return f"host={self.host} port={self.port} dbname=postgres user={os.environ.get('USER') or 'postgres'}"

    def start(self) -> "Postgres":
        if not (self.datadir / "PG_VERSION").exists():
            subprocess.run([PG_BIN / "initdb", "-D", self.datadir, "-A", "trust", "-E", "UTF8",
                            "--locale=C.UTF-8", "--lc-collate=C", "-U", "postgres"],
                           check=True, stdout=subprocess.DEVNULL)
            with open(self.datadir / "postgresql.conf", "a") as f:
                f.write(f"\nport = {self.port}\nlisten_addresses = '127.0.0.1'\n"
                        f"unix_socket_directories = '/tmp'\nshared_preload_libraries = 'ch_fdw'\n"
                        "lc_messages = 'C'\n")
        subprocess.run([PG_BIN / "pg_ctl", "-D", self.datadir, "-l", self.datadir / "server.log",
                        "-w", "start"], check=True, stdout=subprocess.DEVNULL)
        return self

    def stop(self) -> None:
        subprocess.run([PG_BIN / "pg_ctl", "-D", self.datadir, "-m", "fast", "stop"],
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


class DevServer:
    """The chDB-backed local ClickHouse (HTTP, and native with tcp_port)."""

    def __init__(self, path: Path, http_port: int, tcp_port: int | None = None):
        self.path, self.http_port, self.tcp_port = Path(path), http_port, tcp_port
        self.proc: subprocess.Popen | None = None

    def start(self, detach: bool = False) -> "DevServer":
        log = open(self.path.parent / "devserver.log", "ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "ch_fdw.devserver", "--path", str(self.path),
             "--http-port", str(self.http_port)]
            + (["--tcp-port", str(self.tcp_port)] if self.tcp_port else []),
            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            cwd=REPO, start_new_session=detach)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"devserver exited ({self.proc.returncode}); "
                                   f"see {self.path.parent / 'devserver.log'}")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.http_port}/ping", timeout=1):
                    return self
            except OSError:
                time.sleep(0.2)
        raise RuntimeError("devserver did not start within 60 s")

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(30)


def start_clickhouse_18(directory: Path, tcp_port: int, http_port: int):
    sys.path.insert(0, str(REPO / "tests"))
    from chserver import start_clickhouse_18 as start
    return start(directory, tcp_port, http_port)
