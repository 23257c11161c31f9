"""ClickHouse HTTP interface on top of the chDB engine.

Implements what clickhouse-connect (and curl users) rely on: query by GET/POST,
URL parameters (database, query_id, session_id, settings, param_*), INSERT with
data in the body, /ping, ClickHouse's error status/header/text, and results
streamed block by block with chunked transfer encoding.
"""

import errno
import json
import os
import re
import select
import socket
import tempfile
import threading
import time
import uuid
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlsplit

from .engine import ChError, sql_string

# URL parameters that are part of the HTTP protocol, not engine settings.
# The http/progress/compression settings clickhouse-connect sends describe
# this HTTP layer (which answers uncompressed, without progress headers, and
# always cancels on disconnect), so they are consumed here.
_PROTOCOL_PARAMS = {
    "query", "database", "default_format", "query_id", "session_id",
    "session_timeout", "session_check", "user", "password", "quota_key",
    "compress", "decompress", "buffer_size", "wait_end_of_query", "stacktrace",
    "role", "readonly", "enable_http_compression", "send_progress_in_http_headers",
    "cancel_http_readonly_queries_on_client_close", "add_http_cors_header",
    # chDB writes Native as protocol revision 0 (no block info); clients that
    # probe for a newer revision see that from the reply and fall back.
    "client_protocol_version",
}

_FORMAT_RE = re.compile(r"\bFORMAT\s+(\w+)\s*;?\s*$", re.I)
_INSERT_RE = re.compile(r"^\s*(INSERT\s+INTO\s+.*?)\s+FORMAT\s+(\w+)\s*$", re.I | re.S)
_KILL_RE = re.compile(r"^\s*KILL\s+QUERY\s+WHERE\s+query_id\s*=\s*'((?:[^'\\]|\\.)*)'"
                      r"\s*(SYNC|ASYNC|TEST)?\s*(?:FORMAT\s+(\w+))?\s*;?\s*$", re.I)
_NOT_STREAMABLE = "Streaming query is not supported"
_STATUS = {62: 400, 6: 400, 26: 400, 27: 400, 36: 400, 38: 400, 41: 400, 42: 400, 43: 400,
           53: 400, 72: 400, 115: 400, 456: 400, 457: 400,
           16: 404, 46: 404, 47: 404, 50: 404, 60: 404, 73: 404, 81: 404, 372: 404,
           164: 403, 497: 403}
_CHUNK = 1 << 20


def _content_type(fmt):
    f = fmt.lower()
    if f.startswith("json"):
        return "application/json; charset=UTF-8"
    if f.startswith(("tabseparated", "tsv")):
        return "text/tab-separated-values; charset=UTF-8"
    if f.startswith("csv"):
        return "text/csv; charset=UTF-8"
    if f in ("native", "rowbinary", "rowbinarywithnamesandtypes", "parquet", "arrow",
             "arrowstream", "orc", "avro"):
        return "application/octet-stream"
    return "text/plain; charset=UTF-8"


class DisconnectMonitor(threading.Thread):
    """Notices clients that hang up while their query runs inside the engine.

    A streaming write fails on its own when the peer is gone, but a query that
    has not produced a block yet (a long aggregation) writes nothing; peeking
    at the socket finds the EOF so the query can be killed promptly.
    """

    def __init__(self, engine):
        super().__init__(name="disconnect-monitor", daemon=True)
        self.engine = engine
        self._lock = threading.Lock()
        self._watched = {}

    def watch(self, sock, run):
        with self._lock:
            self._watched[sock] = run

    def unwatch(self, sock):
        with self._lock:
            self._watched.pop(sock, None)

    def run(self):
        while True:
            with self._lock:
                socks = list(self._watched)
            if not socks:
                threading.Event().wait(0.2)
                continue
            try:
                readable, _, _ = select.select(socks, [], [], 0.2)
            except (OSError, ValueError):
                readable = []
            for sock in readable:
                try:
                    gone = sock.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT) == b""
                except BlockingIOError:
                    gone = False
                except OSError:
                    gone = True
                with self._lock:
                    run = self._watched.pop(sock, None) if gone else None
                if run is not None:
                    threading.Thread(target=self.engine.kill, args=(run,), daemon=True).start()
            if readable:
                threading.Event().wait(0.05)  # pipelined data stays readable; do not spin


class DevHTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address, engine, verbose=False):
        super().__init__(address, Handler)
        self.engine = engine
        self.verbose = verbose
        self.monitor = DisconnectMonitor(engine)
        self.monitor.start()
        self.active = 0
        self.active_cond = threading.Condition()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "ch-fdw-devserver"

    def log_message(self, fmt, *args):
        if self.server.verbose:
            super().log_message(fmt, *args)

    def send_error(self, code, message=None, explain=None):
        # http.server's own rejections (bad request line, bad headers) in ClickHouse's shape.
        self._error(ChError(1, f"{message or 'Bad request'}: {explain or code}. (HTTP_{code})"), code)

    def do_GET(self):
        self._handle("GET")

    def do_POST(self):
        self._handle("POST")

    def do_HEAD(self):
        self._reply(200, b"", "text/plain; charset=UTF-8")

    def _handle(self, method):
        srv = self.server
        with srv.active_cond:
            srv.active += 1
        self.headers_sent = False
        try:
            path = urlsplit(self.path)
            if path.path in ("/ping", "/replicas_status") or (
                    method == "GET" and path.path == "/" and "query=" not in path.query):
                self._discard_body()
                return self._reply(200, b"Ok.\n", "text/plain; charset=UTF-8")
            if path.path != "/":
                self._discard_body()
                raise ChError(1, f"There is no handle {path.path} in ch-fdw-devserver. (UNSUPPORTED_METHOD)")
            self._query(method, dict(parse_qsl(path.query, keep_blank_values=True)))
        except ChError as e:
            self._error(e)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True
        except Exception as e:  # never let a bad request take the server down
            self._error(ChError(1001, f"{type(e).__name__}: {e}. (STD_EXCEPTION)"))
        finally:
            with srv.active_cond:
                srv.active -= 1
                srv.active_cond.notify_all()

    # -- request parsing ----------------------------------------------------
    def _body_chunks(self):
        """Yield the request body in pieces (Content-Length or chunked)."""
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            truncated = ChError(33, "Unexpected end of chunked request body. (CANNOT_READ_ALL_DATA)")
            while True:
                line = self.rfile.readline()
                if not line.endswith(b"\n"):  # the client went away mid-body
                    raise truncated
                try:
                    size = int(line.split(b";")[0].strip(), 16)
                except ValueError:
                    raise ChError(33, "Malformed chunk size in request body. (CANNOT_READ_ALL_DATA)") from None
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return
                data = self.rfile.read(size)
                if len(data) != size or not self.rfile.readline().endswith(b"\n"):
                    raise truncated
                yield data
        else:
            left = int(self.headers.get("Content-Length") or 0)
            while left > 0:
                data = self.rfile.read(min(left, _CHUNK))
                if not data:
                    raise ChError(33, "Unexpected end of request body. (CANNOT_READ_ALL_DATA)")
                left -= len(data)
                yield data

    def _discard_body(self):
        for _ in self._body_chunks():
            pass

    def _decoded_body(self):
        """The request body as decompressed pieces (clickhouse-connect compresses inserts)."""
        enc = self.headers.get("Content-Encoding", "").strip().lower()
        chunks = self._body_chunks()
        if enc in ("", "identity"):
            return chunks
        return _decompress(chunks, enc)

    # -- query execution ----------------------------------------------------
    def _query(self, method, params):
        engine = self.server.engine
        if params.get("decompress") in ("1", "true"):
            raise ChError(1, "decompress=1 (ClickHouse native compression) is not supported "
                             "by ch-fdw-devserver; use Content-Encoding. (UNSUPPORTED_METHOD)")
        if "multipart/form-data" in self.headers.get("Content-Type", ""):
            raise ChError(1, "External data (multipart/form-data) is not supported by "
                             "ch-fdw-devserver. (UNSUPPORTED_METHOD)")
        sql = params.get("query", "")
        insert = None
        if method == "POST":
            body = self._decoded_body()
            m = _INSERT_RE.match(sql) if sql else None
            if m:
                insert = (m.group(1), m.group(2), body)
            else:
                first, rest = _first_line(body)
                im = None if sql else _INSERT_RE.match(first.decode("utf-8", "replace"))
                if im:  # "INSERT ... FORMAT X" on the first line, data after it
                    insert = (im.group(1), im.group(2), rest)
                else:
                    # _first_line dropped the newline: "INSERT INTO t\nSELECT ..."
                    text = (first + b"\n" + b"".join(rest)).decode("utf-8")
                    sql = (sql + "\n" + text) if sql and text.strip() else (sql or text)
        if not sql.strip() and insert is None:
            raise ChError(62, "Empty query. (SYNTAX_ERROR)")

        query_id = params.get("query_id") or str(uuid.uuid4())
        settings = {k: v for k, v in params.items()
                    if k not in _PROTOCOL_PARAMS and not k.startswith(("param_", "http_"))}
        qparams = {k[6:]: v for k, v in params.items() if k.startswith("param_")}
        fmt = params.get("default_format") or "TabSeparated"
        if insert is None:
            m = _FORMAT_RE.search(sql)
            fmt = m.group(1) if m else fmt
            kill = _KILL_RE.match(sql)
            if kill:
                sql = self._kill(kill)

        run = engine.register(query_id)
        session = conn = restore = None
        try:
            if params.get("session_id"):
                session = engine.acquire_session(
                    params["session_id"], float(params.get("session_timeout") or 60),
                    params.get("session_check") in ("1", "true"))
                conn = session.conn
            else:
                conn = engine.connect()
            restore = _prepare(engine, conn, session is not None, params.get("database"), settings)
            if insert is None and (method == "GET" or params.get("readonly") in ("1", "2")):
                cls = conn.classify_query(sql)["query_class"]
                if int(cls) == 1:  # MUTATING
                    raise ChError(164, "Cannot execute query in readonly mode. For queries over HTTP, "
                                       "method GET implies readonly. You should use method POST for "
                                       "modifying queries. (READONLY)")
            self.server.monitor.watch(self.connection, run)
            self._wait_gate(run)
            try:
                tz = settings.get("session_timezone") or engine.timezone
                if insert is not None:
                    self._insert(conn, run, *insert, query_id=query_id, qparams=qparams)
                else:
                    self._select(conn, run, sql, fmt, qparams, query_id, tz)
            except ChError as e:
                # Report syntax error positions in the client's text, not ours.
                e.text = re.sub(r"(failed at position )(\d+)", lambda m: m.group(1) + str(
                    max(1, int(m.group(2)) - len(run.marker))), e.text)
                raise
            finally:
                engine.gate.release()
        finally:
            self.server.monitor.unwatch(self.connection)
            engine.unregister(run)
            if restore:
                try:
                    restore()
                except ChError:
                    pass
            if session is not None:
                engine.release_session(session)
            elif conn is not None:
                conn.close()

    def _wait_gate(self, run):
        while not self.server.engine.gate.acquire(timeout=0.2):
            if run.cancelled.is_set():
                raise ChError(394, "Query was cancelled while waiting for a free engine slot. "
                                   "(QUERY_WAS_CANCELLED)")

    def _kill(self, m):
        """KILL QUERY WHERE query_id = '...' by HTTP query_id, answered by the engine.

        chDB assigns its own query ids, so the devserver resolves the client's
        id itself; the reply is built as a SELECT so any output FORMAT works.
        """
        qid = re.sub(r"\\(.)", r"\1", m.group(1))
        run = self.server.engine.find(qid)
        if run is not None and (m.group(2) or "").upper() != "TEST":
            self.server.engine.kill(run)
        status = "finished" if (m.group(2) or "SYNC").upper() == "SYNC" else "waiting"
        return (f"SELECT {sql_string(status)} AS kill_status, {sql_string(qid)} AS query_id, "
                f"'default' AS user, {sql_string(run.sql if run else '')} AS query "
                f"WHERE {1 if run else 0}" + (f" FORMAT {m.group(3)}" if m.group(3) else ""))

    def _insert(self, conn, run, head, fmt, chunks, query_id, qparams=None):
        """INSERT ... FORMAT fmt with the body streamed into the engine.

        chDB's own streaming-insert API (send_insert/insert_append/insert_done)
        loses errors raised where the rows land (CHECK constraints, throwing
        materialized views, type conversion): insert_done reports the rows as
        written while none were stored. So the INSERT runs as an ordinary query
        reading ``FROM INFILE`` a private FIFO, which reports every error the
        way any query does, while this thread copies the body into the FIFO.
        """
        run.sql = head
        with tempfile.TemporaryDirectory(prefix="ch-fdw-devserver-") as tmp:
            fifo = os.path.join(tmp, "body")
            os.mkfifo(fifo, 0o600)
            sql = run.marker + _from_infile(head, fifo) + f" FORMAT {fmt}"
            outcome = {}
            finished = threading.Event()

            def execute():
                try:
                    outcome["res"] = conn.query(sql, "TabSeparated", params=qparams or {})
                except RuntimeError as e:
                    outcome["err"] = ChError.from_engine(e)
                except BaseException as e:  # noqa: BLE001 - reported to the client below
                    outcome["err"] = ChError(1001, f"{type(e).__name__}: {e}. (STD_EXCEPTION)")
                finally:
                    finished.set()

            worker = threading.Thread(target=execute, name="insert", daemon=True)
            worker.start()
            fd = _open_writer(fifo, finished)
            failure = None
            try:
                if fd is not None:
                    for data in chunks:
                        if run.cancelled.is_set():
                            raise ChError(394, "Query was cancelled. (QUERY_WAS_CANCELLED)")
                        if data and not _feed(fd, data, finished):
                            self.close_connection = True  # the rest of the body stays unread
                            break  # the engine stopped reading: its error is in outcome
            except BaseException as e:
                failure = e
            if fd is not None:
                if failure is not None and not finished.is_set():
                    # End of input must not look like a complete body: cancel the
                    # query first, so what was already fed is not committed.
                    self.server.engine.kill(run, sync=False)
                os.close(fd)
            worker.join()
        if failure is not None:
            raise failure
        if "err" in outcome:
            e = outcome["err"]
            # FROM INFILE is our plumbing: say it the way an HTTP body error reads.
            text = re.sub(r"^(Code: \d+\. DB::Exception: )\1", r"\1", e.text)
            text = re.sub(r"(\(\w+\)) \(version [^)]*\)\. \1$", r"\1", text.replace(f" (in file/uri {fifo})", ""))
            raise ChError(e.code, text)
        res = outcome.get("res")
        if res is not None and res.has_error():
            raise ChError.from_engine(res.error_message())
        written = str(res.rows_written() if res is not None else 0)
        summary = {"read_rows": "0", "written_rows": written, "result_rows": written}
        self._reply(200, b"", "text/plain; charset=UTF-8", query_id=query_id, summary=summary)

    def _select(self, conn, run, sql, fmt, qparams, query_id, tz):
        run.sql = sql
        full = run.marker + sql
        try:
            stream = conn.send_query(full, fmt, params=qparams)
        except RuntimeError as e:
            err = ChError.from_engine(e)
            if _NOT_STREAMABLE not in err.text:
                raise err from None
            try:  # DDL, INSERT ... VALUES/SELECT, SET, USE: run to completion
                res = conn.query(full, fmt, params=qparams)
            except RuntimeError as e2:
                raise ChError.from_engine(e2) from None
            if res is not None and res.has_error():
                raise ChError.from_engine(res.error_message())
            data = res.bytes() if res is not None else b""
            summary = {"read_rows": str(res.rows_read()), "written_rows": str(res.rows_written())} if res else None
            return self._reply(200, data, _content_type(fmt), query_id=query_id, fmt=fmt, tz=tz, summary=summary)

        done = False
        try:
            chunk, done = self._fetch(conn, stream, run)  # errors before output get a real status
            tag = uuid.uuid4().hex[:16]
            self.send_response(200)
            self._common_headers(_content_type(fmt), query_id, fmt, tz)
            self.send_header("X-ClickHouse-Exception-Tag", tag)
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            self.headers_sent = True
            try:
                while True:
                    if chunk:
                        self.wfile.write(b"%X\r\n" % len(chunk) + chunk + b"\r\n")
                    if done:
                        break
                    chunk, done = self._fetch(conn, stream, run)
            except (BrokenPipeError, ConnectionResetError):
                raise
            except Exception as e:
                # Headers are gone; use ClickHouse's in-band exception block.
                if not isinstance(e, ChError):
                    e = ChError(1001, f"{type(e).__name__}: {e}. (STD_EXCEPTION)")
                msg = e.text.encode() + b"\n"
                block = b"__exception__\r\n%s\r\n%s%d %s\r\n__exception__\r\n" % (
                    tag.encode(), msg, len(msg), tag.encode())
                self.wfile.write(b"%X\r\n" % len(block) + block + b"\r\n")
                self.close_connection = True
            self.wfile.write(b"0\r\n\r\n")
        finally:
            if not done:
                try:
                    conn.streaming_cancel_query(stream)
                except Exception:
                    pass

    def _fetch(self, conn, stream, run):
        """Next block of output as (bytes, finished)."""
        if run.cancelled.is_set():
            raise ChError(394, "Query was cancelled. (QUERY_WAS_CANCELLED)")
        try:
            res = conn.streaming_fetch_result(stream)
        except RuntimeError as e:
            raise ChError.from_engine(e) from None
        if res is None:
            return b"", True
        if res.has_error():
            raise ChError.from_engine(res.error_message())
        # The last fetch has no rows but may carry a format's suffix (JSON's totals).
        return res.bytes(), res.rows_read() == 0

    # -- responses ------------------------------------------------------------
    def _common_headers(self, ctype, query_id=None, fmt=None, tz=None, summary=None):
        self.send_header("Content-Type", ctype)
        self.send_header("X-ClickHouse-Server-Display-Name", "ch-fdw-devserver")
        if query_id:
            self.send_header("X-ClickHouse-Query-Id", query_id)
        if fmt:
            self.send_header("X-ClickHouse-Format", fmt)
        if tz:
            self.send_header("X-ClickHouse-Timezone", tz)
        self.send_header("X-ClickHouse-Summary", json.dumps(summary or {"read_rows": "0", "written_rows": "0"}))

    def _reply(self, status, body, ctype, **headers):
        self.send_response(status)
        self._common_headers(ctype, **headers)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.headers_sent = True
        if body and self.command != "HEAD":
            self.wfile.write(body)

    def _error(self, e, status=None):
        if getattr(self, "headers_sent", False):
            self.close_connection = True
            return
        self.close_connection = True  # the request body may be unread
        text = e.text.rstrip()
        if not text.endswith(")") or "(version " not in text[-40:]:  # chDB adds it to some errors
            text += f" (version {self.server.engine.version})"
        body = (text + "\n").encode()
        self.send_response(status or _STATUS.get(e.code, 500))
        self.send_header("X-ClickHouse-Exception-Code", str(e.code))
        self.send_header("Content-Type", "text/plain; charset=UTF-8")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Connection", "close")
        self.end_headers()
        try:
            self.wfile.write(body)
        except OSError:
            pass


def _prepare(engine, conn, is_session, database, settings):
    """Apply the request's database and settings; return how to undo them.

    A fresh connection dies with the request, so nothing to undo. In a session
    the URL's database and settings belong to this one query (as in ClickHouse),
    so their previous values are restored afterwards.
    """
    undo = []
    try:
        _apply(engine, conn, is_session, database, settings, undo)
    except BaseException:
        # A session must not keep the database of a request that failed here.
        for fn in reversed(undo):
            try:
                fn()
            except ChError:
                pass
        raise
    if not undo:
        return None

    def restore():
        for fn in reversed(undo):
            fn()
    return restore


def _apply(engine, conn, is_session, database, settings, undo):
    if database:
        if is_session:
            prev_db = engine.query_text("SELECT currentDatabase()", conn).strip()
            undo.append(lambda: engine.query_text(f"USE {_quote_db(prev_db)}", conn)
                        if engine.query_text("SELECT currentDatabase()", conn).strip() == database else None)
        engine.query_text(f"USE {_quote_db(database)}", conn)
    if settings:
        if is_session:
            names = ", ".join(sql_string(n) for n in settings)
            rows = engine.query_text(f"SELECT name, value FROM system.settings WHERE name IN ({names})", conn)
            prev = {n: _tsv_unescape(v) for n, v in
                    (line.split("\t", 1) for line in rows.splitlines() if "\t" in line)}
            if prev:
                undo.append(lambda: engine.query_text(
                    "SET " + ", ".join(f"{n} = {sql_string(v)}" for n, v in prev.items()), conn))
        engine.query_text("SET " + ", ".join(
            f"{_ident(n)} = {sql_string(v)}" for n, v in settings.items()), conn)


def _from_infile(head, path):
    """Make "INSERT INTO t [(cols)] [SETTINGS ...]" read its data from path."""
    clause = f" FROM INFILE {sql_string(path)} COMPRESSION 'none'"
    pos = _top_level_keyword(head, "SETTINGS")
    if pos is None:
        return head.rstrip().rstrip(";").rstrip() + clause
    return head[:pos].rstrip() + clause + " " + head[pos:]


def _top_level_keyword(sql, word):
    """Offset of the first `word` outside quotes, comments and parentheses."""
    i, depth, n = 0, 0, len(sql)
    while i < n:
        c = sql[i]
        if c in "'\"`":
            i += 1
            while i < n and sql[i] != c:
                i += 2 if sql[i] == "\\" else 1
        elif sql.startswith("--", i) or c == "#":
            i = sql.find("\n", i)
            i = n if i < 0 else i
        elif sql.startswith("/*", i):
            i = sql.find("*/", i + 2)
            i = n if i < 0 else i + 1
        elif c == "(":
            depth += 1
        elif c == ")":
            depth -= 1
        elif depth == 0 and (c.isalpha() or c == "_") and (i == 0 or not (sql[i - 1].isalnum() or sql[i - 1] == "_")):
            m = re.match(r"\w+", sql[i:])
            if m.group(0).upper() == word:
                return i
            i += len(m.group(0))
            continue
        i += 1
    return None


def _open_writer(fifo, finished):
    """Open the FIFO for writing once the engine opens it for reading.

    None if the engine finished (failed) without ever opening it.
    """
    while True:
        try:
            return os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
        except OSError as e:
            if e.errno != errno.ENXIO:  # ENXIO: no reader yet
                raise
        if finished.wait(0.002):
            return None


def _feed(fd, data, finished):
    """Write data to the FIFO; False if the engine stopped reading."""
    view = memoryview(data)
    while view:
        try:
            view = view[os.write(fd, view):]
            continue
        except BlockingIOError:
            pass
        except BrokenPipeError:
            return False
        select.select([], [fd], [], 0.2)
        if finished.is_set():
            return False
    return True


def _quote_db(name):
    return "`" + name.replace("\\", "\\\\").replace("`", "\\`") + "`"


def _ident(name):
    if not re.fullmatch(r"\w+", name):
        raise ChError(115, f"Unknown setting '{name}'. (UNKNOWN_SETTING)")
    return name


def _tsv_unescape(s):
    return re.sub(r"\\(.)", lambda m: {"t": "\t", "n": "\n", "\\": "\\", "0": "\0"}.get(m.group(1), m.group(1)), s)


def _first_line(chunks, limit=1 << 20):
    """Split a body stream into its first line (an INSERT header?) and the rest."""
    chunks = iter(chunks)
    head = b""
    for data in chunks:
        head += data
        pos = head.find(b"\n")
        if pos >= 0 or len(head) > limit:
            pos = pos if pos >= 0 else len(head)
            return head[:pos], _chain(head[pos + 1:], chunks)
    return head, iter(())


def _chain(first, rest):
    if first:
        yield first
    yield from rest


def _decompressor(enc):
    if enc in ("gzip", "x-gzip"):
        return zlib.decompressobj(47)
    if enc == "deflate":
        return zlib.decompressobj(15)
    try:
        if enc == "lz4":
            import lz4.frame  # a dependency of clickhouse-connect, hence of ch_fdw
            return lz4.frame.LZ4FrameDecompressor()
        if enc == "zstd":
            try:
                from compression import zstd  # Python >= 3.14
            except ImportError:
                from backports import zstd  # clickhouse-connect's dependency before 3.14
            return zstd.ZstdDecompressor()
        if enc == "br":
            import brotli
            return brotli.Decompressor()
    except ImportError:
        pass
    raise ChError(1, f"Unsupported Content-Encoding {enc}. (UNSUPPORTED_METHOD)")


def _decompress(chunks, enc):
    """Stream-decompress, allowing concatenated frames (one per client block)."""
    dec = _decompressor(enc)
    for data in chunks:
        while data:
            if hasattr(dec, "process"):  # brotli
                yield dec.process(data)
                break
            yield dec.decompress(data)
            if not getattr(dec, "eof", False):
                break
            data = dec.unused_data
            dec = _decompressor(enc)
