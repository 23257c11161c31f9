"""A TCP relay on 127.0.0.1 that injects network faults, for tests and bench.

    relay = FaultRelay(upstream_port)          # listens on relay.port
    relay.set("stall", after=256 * 1024)       # forward 256 KiB more, then nothing
    ...
    relay.set("pass")                          # heal: new connections work again
    relay.stop()

Faults (applied from the moment set() is called, to every connection):
  pass       forward everything;
  stall      after `after` more bytes in `direction` stop reading and
             forwarding that way (the sockets stay open: a stalled network);
  drop       after `after` more bytes close both sides of every connection;
  blackhole  accept new connections and never answer them (nothing is read
             or sent; existing connections keep working);
  trickle    forward `rate` bytes every `interval` seconds in `direction`.
direction is "down" (server to client), "up" or "both".

With tls_context (a server-side ssl.SSLContext) the relay terminates TLS:
clients speak TLS to it, it speaks plain TCP upstream — a real TLS server in
front of a plain one.

Bounded: everything stops by itself after `lifetime` seconds; threads are
daemons and every socket call has a timeout.
"""

from __future__ import annotations

import select
import socket
import ssl
import threading
import time

_CHUNK = 64 * 1024


class FaultRelay:
    def __init__(self, upstream_port: int, upstream_host: str = "127.0.0.1",
                 lifetime: float = 120.0, tls_context: ssl.SSLContext | None = None):
        self.upstream = (upstream_host, upstream_port)
        self.tls_context = tls_context
        self._lock = threading.Lock()
        self._fault = ("pass", 0, "down", 0, 0.0)
        self._budget = {"up": 0, "down": 0}
        self._socks: list[socket.socket] = []
        self._stopped = threading.Event()
        self.accepted = 0
        self.tls_errors: list[str] = []
        self._listener = socket.socket()
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(16)
        self._listener.settimeout(0.2)
        self.port = self._listener.getsockname()[1]
        self._deadline = time.monotonic() + lifetime
        self._spawn(self._accept_loop)

    # -- control -------------------------------------------------------------
    def set(self, fault: str = "pass", after: int = 0, direction: str = "down",
            rate: int = 64, interval: float = 0.01) -> None:
        assert fault in ("pass", "stall", "drop", "blackhole", "trickle"), fault
        assert direction in ("up", "down", "both"), direction
        with self._lock:
            self._fault = (fault, after, direction, rate, interval)
            self._budget = {"up": after, "down": after}

    def stop(self) -> None:
        self._stopped.set()
        with self._lock:
            socks, self._socks = self._socks, []
        for s in socks + [self._listener]:
            try:
                s.close()
            except OSError:
                pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()

    # -- machinery -----------------------------------------------------------
    def _spawn(self, fn, *args) -> None:
        threading.Thread(target=fn, args=args, daemon=True).start()

    def _running(self) -> bool:
        if time.monotonic() > self._deadline and not self._stopped.is_set():
            self.stop()
        return not self._stopped.is_set()

    def _track(self, s: socket.socket) -> None:
        with self._lock:
            self._socks.append(s)

    def _accept_loop(self) -> None:
        while self._running():
            try:
                client, _ = self._listener.accept()
            except OSError:
                continue
            self.accepted += 1
            self._track(client)
            if self._fault[0] == "blackhole":
                continue            # held open, never read, never answered
            self._spawn(self._serve, client)

    def _serve(self, client: socket.socket) -> None:
        try:
            if self.tls_context is not None:
                client.settimeout(5)
                try:
                    client = self.tls_context.wrap_socket(client, server_side=True)
                except (ssl.SSLError, OSError) as e:
                    self.tls_errors.append(str(e))
                    client.close()
                    return
                self._track(client)
            upstream = socket.create_connection(self.upstream, timeout=5)
        except OSError:
            client.close()
            return
        self._track(upstream)
        for s in (client, upstream):
            s.settimeout(0.2)
        self._spawn(self._pump, upstream, client, "down")
        self._pump(client, upstream, "up")

    def _allowance(self, direction: str) -> tuple[int, float]:
        """(bytes that may be forwarded now, seconds to pause after)."""
        with self._lock:
            fault, _, applies, rate, interval = self._fault
            if fault == "pass" or fault == "blackhole" or applies not in (direction, "both"):
                return _CHUNK, 0.0
            if fault == "trickle":
                return rate, interval
            return max(0, min(_CHUNK, self._budget[direction])), 0.0

    def _pump(self, src: socket.socket, dst: socket.socket, direction: str) -> None:
        try:
            while self._running():
                n, pause = self._allowance(direction)
                if n == 0:
                    if self._fault[0] == "drop":
                        break
                    time.sleep(0.02)            # stalled: leave the data unread
                    continue
                if not (getattr(src, "pending", lambda: 0)() or select.select([src], [], [], 0.1)[0]):
                    continue
                try:
                    data = src.recv(n)
                except (socket.timeout, ssl.SSLWantReadError):
                    continue
                if not data:
                    break
                with self._lock:
                    if self._fault[0] in ("stall", "drop"):
                        self._budget[direction] -= len(data)
                view = memoryview(data)
                while view and self._running():
                    try:
                        view = view[dst.send(view):]
                    except socket.timeout:
                        continue
                if pause:
                    time.sleep(pause)
        except (OSError, ValueError):       # (ValueError: closed by the other pump)
            pass
        for s in (src, dst):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            try:
                s.close()
            except OSError:
                pass
