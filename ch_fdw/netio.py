"""Network waits that a PostgreSQL cancel interrupts and a timeout bounds.

Both drivers block in socket calls deep inside their own code: the native
driver's buffered reader in recv_into(), http.client under urllib3 in
recv_into() and sendall().  Closing a socket from another thread does not
wake a blocked recv(), so instead every socket the drivers use is wrapped in
a CancellableSocket: the real socket gets a short timeout (POLL_SECONDS) and
each wait is a loop of such slices that checks PostgreSQL's interrupt flag
in between (raising Interrupted) and gives up after the configured limit
(raising WaitTimeout, which names the option that set it).

The TCP connect and TLS handshake happen inside the drivers' connect code
and are bounded by connect_timeout; run_interruptible() runs them on a
helper thread so a cancel does not wait for that.
"""

from __future__ import annotations

import errno
import select
import signal
import socket
import threading
import time
from contextlib import contextmanager
from typing import Callable, Iterator

from .errors import Interrupted
from .interrupts import POLL_SECONDS, interrupt_pending


def start_thread(fn: Callable[[], None], name: str) -> None:
    """Start a daemon thread with every signal blocked: PostgreSQL's signal
    handlers must keep running on the backend's own thread."""
    old = signal.pthread_sigmask(signal.SIG_BLOCK, signal.valid_signals())
    try:
        threading.Thread(target=fn, name=name, daemon=True).start()
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)


def run_interruptible(fn, cleanup=None):
    """Return fn() run on a helper thread, re-raising its exception, while
    this (the backend's) thread watches for a PostgreSQL cancel.

    For blocking steps no socket slice covers: the TCP/TLS connect.  They
    are bounded by connect_timeout, which may be long; a cancel or
    statement_timeout must not wait for it.  On a cancel this raises
    Interrupted at once and leaves fn to finish in the background; if it
    then succeeds, cleanup(result) closes what it opened."""
    state: dict = {}
    lock = threading.Lock()
    done = threading.Event()

    def run() -> None:
        try:
            state["value"] = fn()
        except BaseException as e:  # noqa: BLE001 - handed to the caller
            state["error"] = e
        with lock:
            done.set()
            late = state.get("abandoned", False)
        if late and cleanup is not None and "value" in state:
            try:
                cleanup(state["value"])
            except Exception:
                pass

    start_thread(run, "ch_fdw-connect")
    while not done.wait(POLL_SECONDS):
        if interrupt_pending():
            with lock:
                if not done.is_set():
                    state["abandoned"] = True
                    raise Interrupted()
    if "error" in state:
        raise state["error"]
    return state["value"]


class WaitTimeout(TimeoutError):
    """A single wait on the network exceeded its limit.  A TimeoutError
    (socket.timeout), so the drivers treat it as the timeout it is."""

    def __init__(self, seconds: float, option: str, sending: bool):
        what = "accepted no data" if sending else "sent no data"
        super().__init__(errno.ETIMEDOUT, f"ClickHouse {what} for {seconds:g} s ({option})")
        self.seconds = seconds
        self.option = option

    def error(self, where: str):
        """The PostgreSQL error for this timeout on the connection to where."""
        from ch_fdw import errors
        return errors.ChFdwError(
            f"lost connection to ClickHouse server at {where}: {self.strerror}", errors.CONNECTION_FAILURE,
            hint=f"The server option {self.option} bounds each wait for ClickHouse "
                 "(0 = no limit); raise it if queries take longer to send data.")


class Waits:
    """The limits for one ch_fdw connection's sockets, and the last
    timeout they raised (drivers re-wrap exceptions; this keeps the cause)."""

    def __init__(self, limit: float | None, option: str):
        self.limit = limit          # seconds; None = no limit
        self.option = option        # the option that set it, for the error
        self.last_timeout: WaitTimeout | None = None
        self.active: CancellableSocket | None = None     # the socket last waited on

    def expire_active(self, seconds: float | None) -> None:
        """Every later wait on the last-used socket ends `seconds` from now,
        without checking for a cancel (for draining an abandoned response);
        None lifts that again."""
        if self.active is not None:
            self.active._deadline = None if seconds is None else time.monotonic() + seconds

    def drop_active(self) -> None:
        """Shut the last-used socket down: whatever still reads from it
        (a driver draining an abandoned response) gets EOF at once."""
        sock, self.active = self.active, None
        if sock is not None:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


class CancellableSocket:
    """A connected socket (plain or TLS) whose blocking calls can be
    cancelled; everything else is passed through to the real socket.

    The drivers' own settimeout() values are kept as an extra bound when
    honor_settimeout is set (the native driver's ping timeout); urllib3's
    are ignored, the Waits limit rules."""

    def __init__(self, sock: socket.socket, waits: Waits, honor_settimeout: bool = False):
        self._sock = sock
        self._waits = waits
        self._honor = honor_settimeout
        self._driver_timeout = sock.gettimeout()
        self._deadline: float | None = None     # set by bounded()
        sock.settimeout(POLL_SECONDS)

    # -- the waits -----------------------------------------------------------
    def _limit(self) -> float | None:
        limits = [t for t in (self._waits.limit, self._driver_timeout if self._honor else None) if t]
        return min(limits) if limits else None

    def _wait(self, op, args, sending: bool = False):
        if self._deadline is not None:
            deadline, check = self._deadline, False
        else:
            limit = self._limit()
            deadline, check = (time.monotonic() + limit if limit else None), True
        self._waits.active = self
        while True:
            if check and interrupt_pending():
                raise Interrupted()
            try:
                return op(*args)
            except socket.timeout:
                pass    # one slice elapsed
            if deadline is not None and time.monotonic() >= deadline:
                err = WaitTimeout(self._limit() or 0, self._waits.option, sending)
                self._waits.last_timeout = err
                raise err

    def recv_into(self, buffer, nbytes: int = 0, flags: int = 0) -> int:
        return self._wait(self._sock.recv_into, (buffer, nbytes, flags))

    def recv(self, bufsize: int, flags: int = 0) -> bytes:
        return self._wait(self._sock.recv, (bufsize, flags))

    def send(self, data, flags: int = 0) -> int:
        return self._wait(self._sock.send, (data, flags), sending=True)

    def sendall(self, data, flags: int = 0) -> None:
        # send() in slices: a timed-out sendall() would not say how much went
        view = memoryview(data).cast("B")
        while view:
            view = view[self.send(view, flags):]

    def wait_readable(self) -> None:
        """Block until the socket has data (or EOF) to read."""
        def poll() -> bool:
            pending = getattr(self._sock, "pending", None)     # TLS: decrypted bytes
            if pending is not None and pending() > 0:
                return True
            readable, _, _ = select.select([self._sock], [], [], POLL_SECONDS)
            if not readable:
                raise socket.timeout()
            return True
        self._wait(poll, ())

    @contextmanager
    def bounded(self, seconds: float) -> Iterator[None]:
        """Waits inside end after `seconds` in all, without checking for a
        cancel: for cleanup after one (draining a cancelled query)."""
        old = self._deadline
        self._deadline = time.monotonic() + seconds
        try:
            yield
        finally:
            self._deadline = old

    # -- the rest of the socket API the drivers use --------------------------
    def settimeout(self, value: float | None) -> None:
        self._driver_timeout = value

    def gettimeout(self) -> float | None:
        return self._driver_timeout

    def fileno(self) -> int:
        return self._sock.fileno()

    def close(self) -> None:
        self._sock.close()

    def makefile(self, mode: str = "r", buffering: int | None = None, **kwargs):
        """http.client reads its response through this; the reads must go
        through recv_into above.  Shares the real socket's reference count
        so close() waits for the file, as with a plain socket."""
        import io
        if mode != "rb":
            raise ValueError(f"CancellableSocket.makefile supports 'rb' only, not {mode!r}")
        self._sock._io_refs += 1
        raw = socket.SocketIO(self, "rb")
        return io.BufferedReader(raw, buffering if buffering and buffering > 0 else io.DEFAULT_BUFFER_SIZE)

    def _decref_socketios(self) -> None:
        self._sock._decref_socketios()

    def __getattr__(self, name: str):
        return getattr(self._sock, name)


# ------------------------------------------------------------------ urllib3

def http_pool_manager(waits: Waits, **tls_options):
    """A urllib3 PoolManager of clickhouse-connect's usual configuration
    whose connections connect interruptibly and wrap their sockets in
    CancellableSocket.  One per ch_fdw connection, so the limits are its."""
    from clickhouse_connect.driver.httputil import get_pool_manager
    from urllib3.connection import HTTPConnection, HTTPSConnection
    from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

    def connect(conn, base_connect) -> None:
        run_interruptible(lambda: base_connect(conn), cleanup=lambda _: conn.close())
        conn.sock = CancellableSocket(conn.sock, waits)

    class Conn(HTTPConnection):
        def connect(self) -> None:
            connect(self, HTTPConnection.connect)

    class SConn(HTTPSConnection):
        def connect(self) -> None:
            connect(self, HTTPSConnection.connect)

    class Pool(HTTPConnectionPool):
        ConnectionCls = Conn

    class SPool(HTTPSConnectionPool):
        ConnectionCls = SConn

    manager = get_pool_manager(maxsize=2, **tls_options)
    manager.pool_classes_by_scheme = {"http": Pool, "https": SPool}
    return manager
