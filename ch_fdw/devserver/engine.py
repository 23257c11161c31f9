"""The chDB engine behind the devserver: connections, sessions, running queries.

chDB runs one ClickHouse engine per process; every ``_chdb.connect(path)`` is a
cheap, independent session (own current database and settings) on that engine,
and the engine runs queries from different connections concurrently and safely
(it is ClickHouse's own server-side context underneath). So:

* a request without ``session_id`` gets a fresh connection: its settings and
  ``USE`` can never leak into another request;
* a ``session_id`` maps to one long-lived connection, used by one request at a
  time (ClickHouse answers a second one with SESSION_IS_LOCKED, so do we);
* ``gate`` bounds how many queries run at once; further clients queue.
  It is a bound, not a mutex, on purpose: a client holding an open result
  stream (e.g. the outer side of a nested loop in Postgres) must not block a
  second query from the same client forever.
"""

import re
import threading
import time
import uuid

from chdb import _chdb

_CODE_RE = re.compile(r"Code: (\d+)\.")


class ChError(Exception):
    """A ClickHouse-style error: numeric code + 'Code: N. DB::Exception: ...' text."""

    def __init__(self, code, text):
        self.code = int(code)
        if not text.startswith("Code: "):
            text = f"Code: {self.code}. DB::Exception: {text}"
        super().__init__(text)
        self.text = text

    @classmethod
    def from_engine(cls, exc):
        text = str(exc).strip()
        # chDB wraps some errors ("Failed to ...: Code: 60. ..."); keep the ClickHouse part.
        pos = text.find("Code: ")
        if pos > 0:
            text = text[pos:]
        m = _CODE_RE.match(text)
        return cls(int(m.group(1)) if m else 1001, text)


def sql_string(value):
    """Quote a Python str as a ClickHouse string literal."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


class Running:
    """One query in flight, findable by its HTTP query_id."""

    def __init__(self, query_id):
        self.query_id = query_id
        # The marker is prefixed to the SQL text chDB runs, so the query can be
        # found in system.processes and killed from another connection.
        self.marker = f"/* ch-fdw-devserver {uuid.uuid4().hex} */ "
        self.cancelled = threading.Event()
        self.sql = ""


class Session:
    def __init__(self, conn, timeout):
        self.conn = conn
        self.timeout = timeout
        self.lock = threading.Lock()
        self.last_used = time.monotonic()


class Engine:
    def __init__(self, path, max_concurrent_queries=8):
        self.path = path
        # Held for the server's lifetime: opening the first connection starts
        # the embedded engine (and takes chDB's lock on the data directory).
        self._anchor = _chdb.connect(path)
        self.gate = threading.BoundedSemaphore(max_concurrent_queries)
        self._lock = threading.Lock()
        self._running = {}
        self._sessions = {}
        self.timezone = self.query_text("SELECT timezone()").strip()
        self.version = self.query_text("SELECT version()").strip()

    def connect(self):
        try:
            return _chdb.connect(self.path)
        except RuntimeError as e:
            raise ChError.from_engine(e) from None

    def query_text(self, sql, conn=None, params=None):
        """Run a small statement and return its TabSeparated output."""
        conn = conn or self._anchor
        try:
            res = conn.query(sql, "TabSeparated", params=params or {})
        except RuntimeError as e:
            raise ChError.from_engine(e) from None
        return res.bytes().decode("utf-8", "replace") if res is not None else ""

    # -- sessions ---------------------------------------------------------
    def acquire_session(self, session_id, timeout, check=False, wait=5.0):
        """Return the locked Session for session_id (creating it unless check).

        A session serves one query at a time. A client's next request can
        arrive before the previous handler has let go, so wait briefly before
        answering SESSION_IS_LOCKED.
        """
        while True:
            now = time.monotonic()
            with self._lock:
                for sid, s in list(self._sessions.items()):
                    if now - s.last_used > s.timeout and s.lock.acquire(blocking=False):
                        del self._sessions[sid]
                        _close(s.conn)
                s = self._sessions.get(session_id)
                if s is None:
                    if check:
                        raise ChError(372, f"Session {session_id} not found. (SESSION_NOT_FOUND)")
                    s = self._sessions[session_id] = Session(self.connect(), timeout)
            if not s.lock.acquire(timeout=wait):
                raise ChError(373, f"Session {session_id} is locked by a concurrent client. (SESSION_IS_LOCKED)")
            with self._lock:
                if self._sessions.get(session_id) is s:  # not reaped while we waited
                    s.timeout = timeout
                    return s
            s.lock.release()

    def release_session(self, session):
        session.last_used = time.monotonic()
        session.lock.release()

    # -- running queries --------------------------------------------------
    def register(self, query_id):
        with self._lock:
            if query_id in self._running:
                raise ChError(216, f"Query with id = {query_id} is already running. "
                                   "(QUERY_WITH_SAME_ID_IS_ALREADY_RUNNING)")
            run = self._running[query_id] = Running(query_id)
            return run

    def unregister(self, run):
        with self._lock:
            if self._running.get(run.query_id) is run:
                del self._running[run.query_id]

    def find(self, query_id):
        with self._lock:
            return self._running.get(query_id)

    def kill(self, run, sync=True):
        """Cancel a running query; returns once the engine has stopped it.

        The flag stops a stream between blocks; KILL ... SYNC on a separate
        connection stops a query that is busy inside the engine (e.g. a long
        aggregation that has not produced its first block yet). With
        sync=False it returns as soon as the engine has marked the query
        cancelled (it stops at its next check, e.g. when its input ends).
        """
        run.cancelled.set()
        conn = self.connect()
        try:
            self.query_text("KILL QUERY WHERE startsWith(query, "
                            f"{sql_string(run.marker)}) {'SYNC' if sync else 'ASYNC'} FORMAT Null", conn)
        except ChError:
            pass  # the query finished meanwhile
        finally:
            _close(conn)

    def kill_all(self):
        with self._lock:
            runs = list(self._running.values())
        for run in runs:
            self.kill(run)

    def close(self):
        with self._lock:
            sessions, self._sessions = list(self._sessions.values()), {}
        for s in sessions:
            _close(s.conn)
        _close(self._anchor)


def _close(conn):
    try:
        conn.close()
    except Exception:
        pass
