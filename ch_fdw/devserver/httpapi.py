"""ClickHouse HTTP interface on top of the chDB engine.

Implements what clickhouse-connect (and curl users) rely on: query by GET/POST,
URL parameters (database, query_id, session_id, settings, param_*), INSERT with
data in the body, /ping, ClickHouse's error status/header/text, and results
streamed block by block with chunked transfer encoding.
"""

import json
import re
import select
import socket
import threading
import uuid
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlsplit

from .engine import ChError
from .multipart import external_table_params, external_tables, parse_form
from .statement import KILL_RE as _KILL_RE, BodyNotRead, kill_by_query_id, prepare as _prepare, stream_insert

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

    @staticmethod
    def wants_kill(sock):
        """Whether what the client sent means its query must stop: here, EOF."""
        try:
            return sock.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT) == b""
        except BlockingIOError:
            return False
        except OSError:
            return True

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
                gone = self.wants_kill(sock)
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
        externals = []
        form = "multipart/form-data" in self.headers.get("Content-Type", "")
        if form:
            # query, param_* and settings as form fields; file parts are external tables
            fields, files = parse_form(self.headers["Content-Type"], b"".join(self._decoded_body()))
            params = {**params, **fields}
            externals = external_tables(files, params)
            for k in external_table_params(externals):
                params.pop(k, None)
        sql = params.get("query", "")
        insert = None
        if method == "POST" and not form:
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
                sql = kill_by_query_id(self.server.engine, kill)

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
                for t in externals:
                    _load_external(engine, conn, run, t)
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
            if session is not None:
                for t in externals:   # they belong to this query only
                    try:
                        engine.query_text(f"DROP TEMPORARY TABLE IF EXISTS {_quote_db(t.name)}", conn)
                    except ChError:
                        pass
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

    def _insert(self, conn, run, head, fmt, chunks, query_id, qparams=None):
        try:
            written, unread = stream_insert(self.server.engine, conn, run, head, fmt, chunks, qparams)
        except BodyNotRead:
            self.close_connection = True  # the rest of the body stays unread
            raise
        if unread:
            self.close_connection = True
        summary = {"read_rows": "0", "written_rows": str(written), "result_rows": str(written)}
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
        if res is not None and res.has_error():
            raise ChError.from_engine(res.error_message())
        last = res is None or res.rows_read() == 0
        if last and run.cancelled.is_set():
            # a killed query can end like a finished one: never pass it off as complete
            raise ChError(394, "Query was cancelled. (QUERY_WAS_CANCELLED)")
        if res is None:
            return b"", True
        # The last fetch has no rows but may carry a format's suffix (JSON's totals).
        return res.bytes(), last

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


def _load_external(engine, conn, run, table):
    """An external data table as a temporary table of the query's connection."""
    name = _quote_db(table.name)
    engine.query_text(f"CREATE TEMPORARY TABLE {name} ({table.structure}) ENGINE = Memory", conn)
    stream_insert(engine, conn, run, f"INSERT INTO {name}", table.fmt, [table.data])


def _quote_db(name):
    return "`" + name.replace("\\", "\\\\").replace("`", "\\`") + "`"


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
