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
                    "(and, with --tcp-port, the native TCP protocol) "
                    "(for developing and testing ch_fdw; not a production ClickHouse).")
    p.add_argument("--path", required=True, help="data directory (created if missing; kept across restarts)")
    p.add_argument("--http-port", type=int, default=8123, help="HTTP port (default 8123)")
    p.add_argument("--tcp-port", type=int, help="native TCP protocol port (off unless given; 9000 is ClickHouse's usual one)")
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
    servers = [server]
    if args.tcp_port is not None:
        from .native import NativeServer
        try:
            servers.append(NativeServer((args.host, args.tcp_port), engine, args.verbose, args.http_port))
        except OSError as e:
            _say(f"cannot listen on {args.host}:{args.tcp_port}: {e}")
            server.server_close()
            engine.close()
            return 1

    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    for srv in servers:
        threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.2},
                         name=type(srv).__name__, daemon=True).start()
    native = f" and native tcp://{args.host}:{args.tcp_port}" if args.tcp_port is not None else ""
    _say(f"ClickHouse {engine.version} (chDB) listening on http://{args.host}:{args.http_port}{native} "
         f"data {path} pid {os.getpid()}")
    while not stop.wait(0.5):
        pass

    _say("shutting down")
    for srv in servers:
        srv.shutdown()           # no new requests
    engine.kill_all()            # running queries end now, not at their natural end
    for srv in servers:
        getattr(srv, "close_clients", lambda: None)()   # native sessions end too
    deadline = time.monotonic() + 5
    for srv in servers:
        with srv.active_cond:
            while srv.active and time.monotonic() < deadline:
                srv.active_cond.wait(0.2)
        srv.server_close()
    engine.close()
    os.close(fd)
    _say("stopped")
    return 0
