"""Command line, data-directory lock, start-up and clean shutdown."""

import argparse
import errno
import fcntl
import os
import signal
import sys
import threading
import time

LOCK_NAME = ".ch-fdw-devserver.lock"


def _parse(argv):
    p = argparse.ArgumentParser(
        prog="ch-fdw-devserver",
        description="Serve a chDB data directory over the ClickHouse HTTP interface "
                    "(for developing and testing ch_fdw; not a production ClickHouse).")
    p.add_argument("--path", required=True, help="data directory (created if missing; kept across restarts)")
    p.add_argument("--http-port", type=int, default=8123, help="HTTP port (default 8123)")
    p.add_argument("--tcp-port", type=int, help="native TCP port: not supported, see docs/devserver.md")
    p.add_argument("--host", default="127.0.0.1", help="listen address (default 127.0.0.1)")
    p.add_argument("--max-concurrent-queries", type=int, default=8,
                   help="queries run at once; more clients queue (default 8)")
    p.add_argument("--verbose", action="store_true", help="log every request to stderr")
    return p.parse_args(argv)


def _say(msg):
    print(f"ch-fdw-devserver: {msg}", file=sys.stderr, flush=True)


def _lock_dir(path):
    """Take an exclusive lock on DIR, or return None if someone else holds it."""
    fd = os.open(os.path.join(path, LOCK_NAME), os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as e:
        if e.errno not in (errno.EAGAIN, errno.EACCES):
            raise
        holder = os.read(fd, 32).decode(errors="replace").strip()
        os.close(fd)
        return None, holder
    os.ftruncate(fd, 0)
    os.write(fd, str(os.getpid()).encode())
    return fd, None


def main(argv=None):
    args = _parse(argv)
    if args.tcp_port is not None:
        _say("--tcp-port: the native TCP protocol is not served by the devserver "
             "(use the HTTP interface, or a real ClickHouse for clickhouse-driver)")
        return 2
    path = os.path.abspath(args.path)
    try:
        os.makedirs(path, exist_ok=True)
        fd, holder = _lock_dir(path)
    except OSError as e:
        _say(f"cannot use data directory {path}: {e}")
        return 1
    if fd is None:
        _say(f"data directory {path} is already in use by another devserver (pid {holder or '?'})")
        return 1

    from .engine import Engine  # chDB is heavy; import after the cheap checks
    from .httpapi import DevHTTPServer
    try:
        engine = Engine(path, args.max_concurrent_queries)
    except Exception as e:
        _say(f"cannot open data directory {path} with chDB (is another chDB process using it?): {e}")
        return 1
    try:
        server = DevHTTPServer((args.host, args.http_port), engine, args.verbose)
    except OSError as e:
        _say(f"cannot listen on {args.host}:{args.http_port}: {e}")
        engine.close()
        return 1

    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.2},
                     name="http", daemon=True).start()
    _say(f"ClickHouse {engine.version} (chDB) listening on http://{args.host}:{args.http_port} "
         f"data {path} pid {os.getpid()}")
    while not stop.wait(0.5):
        pass

    _say("shutting down")
    server.shutdown()            # no new requests
    engine.kill_all()            # running queries end now, not at their natural end
    deadline = time.monotonic() + 5
    with server.active_cond:
        while server.active and time.monotonic() < deadline:
            server.active_cond.wait(0.2)
    server.server_close()
    engine.close()
    os.close(fd)
    _say("stopped")
    return 0
