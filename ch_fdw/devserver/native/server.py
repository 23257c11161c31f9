"""The native TCP protocol server: one thread and one chDB connection (its
session: USE and SET persist) per client connection, sharing the Engine
(and its query gate, running-query registry and KILL) with the HTTP side."""

import re
import select
import socket
import socketserver
import threading
import time
import uuid

from ..engine import ChError
from ..httpapi import DisconnectMonitor
from ..statement import KILL_RE, kill_by_query_id, prepare, stream_insert, tsv_unescape
from . import blocks, packets
from .wire import (C_CANCEL, C_DATA, C_HELLO, C_PING, C_QUERY, METHOD_LZ4, METHOD_ZSTD,
                   REV_ADDENDUM, REV_LOW_CARDINALITY, REV_PROFILE_EVENTS_IN_INSERT,
                   REV_TEMPORARY_TABLES, S_DATA, S_END_OF_STREAM, S_PONG, S_PROFILE_EVENTS,
                   SERVER_REVISION, FrameReader, ProtocolError, SocketReader, compress,
                   string, varint)

_NOT_STREAMABLE = "Streaming query is not supported"
# An INSERT whose rows the client sends as Data blocks (nothing after VALUES / FORMAT x).
_INSERT_RE = re.compile(r"^\s*(INSERT\s+INTO\s+.*?)\s+(?:VALUES|FORMAT\s+\w+)\s*;?\s*$", re.I | re.S)
_INSERT_TARGET_RE = re.compile(
    r"^INSERT\s+INTO\s+(?:TABLE\s+)?((?:`(?:[^`\\]|\\.)*`|\"(?:[^\"\\]|\\.)*\"|[\w.])+)\s*"
    r"(?:\((.*)\))?\s*(?:SETTINGS\b.*)?$", re.I | re.S)
_SELECTISH_RE = re.compile(r"^\s*(\(|SELECT\b|WITH\b)", re.I)
_PROFILE_EVENTS_COLUMNS = [("host_name", "String"), ("current_time", "DateTime"),
                           ("thread_id", "UInt64"), ("type", "Int8"), ("name", "String"),
                           ("value", "Int64")]
_USE_RE = re.compile(r"^\s*USE\s+(\S+?)\s*;?\s*$", re.I)
_HTTP_RE = re.compile(rb"^(GET|POST|PUT|HEAD|OPTIONS|DELETE) ")


class Cancelled(Exception):
    pass


class CancelMonitor(DisconnectMonitor):
    """Kills the engine query when the client hangs up or sends Cancel while
    the query is busy inside the engine (no block to send, no chance to look)."""

    @staticmethod
    def wants_kill(sock):
        try:
            head = sock.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT)
        except BlockingIOError:
            return False
        except OSError:
            return True
        return head in (b"", bytes((C_CANCEL,)))


class NativeServer(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address, engine, verbose=False, http_port=None):
        super().__init__(address, Handler)
        self.engine = engine
        self.verbose = verbose
        self.http_port = http_port
        self.monitor = CancelMonitor(engine)
        self.monitor.start()
        self.active = 0
        self.active_cond = threading.Condition()
        self.clients = set()

    def close_clients(self):
        """Hang up on every client (at shutdown: their sessions must close
        before the engine can)."""
        with self.active_cond:
            socks = list(self.clients)
        for sock in socks:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


class Handler(socketserver.BaseRequestHandler):
    def handle(self):
        srv = self.server
        self.sock = self.request
        with srv.active_cond:
            srv.active += 1
            srv.clients.add(self.sock)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.r = SocketReader(self.sock)
        self.conn = None
        try:
            if self._handshake():
                self._serve()
        except (EOFError, ConnectionError, OSError):
            pass
        except ProtocolError as e:
            self._send_error(ChError(101, f"{e} (UNEXPECTED_PACKET_FROM_CLIENT)"))
        finally:
            if self.conn is not None:
                try:
                    self.conn.close()
                except Exception:
                    pass
            with srv.active_cond:
                srv.active -= 1
                srv.clients.discard(self.sock)
                srv.active_cond.notify_all()

    def _log(self, msg):
        if self.server.verbose:
            import sys
            print(f"ch-fdw-devserver native {self.client_address[0]}: {msg}", file=sys.stderr, flush=True)

    def _send(self, *parts):
        self.sock.sendall(b"".join(parts))

    def _send_error(self, e):
        try:
            self._send(packets.exception(e.code, e.text))
        except OSError:
            pass

    # -- connection ---------------------------------------------------------
    def _handshake(self):
        self.r.more(1)
        if _HTTP_RE.match(bytes(self.r.buf[:8])):
            # An HTTP client on the native port: answer as ClickHouse does.
            port = self.server.server_address[1]
            body = (f"Port {port} is for clickhouse-client program\n"
                    + (f"You must use port {self.server.http_port} for HTTP.\n" if self.server.http_port else "")).encode()
            self._send(b"HTTP/1.0 400 Bad Request\r\nContent-Type: text/plain; charset=UTF-8\r\n"
                       b"Content-Length: %d\r\nConnection: close\r\n\r\n" % len(body), body)
            return False
        if self.r.varint() != C_HELLO:
            raise ProtocolError("Unexpected packet from client (no Hello packet)")
        hello = packets.read_hello(self.r)
        self.revision = min(hello.revision, SERVER_REVISION)
        engine = self.server.engine
        try:
            self.conn = engine.connect()
            self.database = hello.database
            if hello.database:
                engine.query_text(f"USE {_quote(hello.database)}", self.conn)
        except ChError as e:
            self._send_error(e)
            return False
        self._send(packets.server_hello(self.revision, engine.version, engine.timezone))
        if self.revision >= REV_ADDENDUM:
            self.r.string()   # quota key
        self._log(f"hello from {hello.client_name} revision {hello.revision}, using {self.revision}")
        return True

    def _serve(self):
        while True:
            ptype = self.r.varint()
            if ptype == C_PING:
                self._send(varint(S_PONG))
            elif ptype == C_QUERY:
                if not self._query(packets.read_query(self.r, self.revision)):
                    return
            elif ptype == C_CANCEL:
                pass   # the query it meant has ended already
            else:
                raise ProtocolError(f"Unexpected packet {ptype} from client")

    # -- one query ----------------------------------------------------------
    def _data_packet(self, block, compressed=None):
        """A Data packet (or ProfileEvents: never compressed) around a block."""
        comp = self.q.compression if compressed is None else compressed
        if comp:
            block = compress(block, self.method)
        return b"".join([varint(S_DATA), string("") if self.revision >= REV_TEMPORARY_TABLES else b"", block])

    def _read_data_packet(self):
        """The next client Data packet's (table name, rows, columns, Native bytes)."""
        ptype = self.r.varint()
        if ptype == C_CANCEL:
            raise Cancelled()
        if ptype != C_DATA:
            raise ProtocolError(f"Unexpected packet {ptype} from client, expected Data")
        name = self.r.string() if self.revision >= REV_TEMPORARY_TABLES else ""
        src = FrameReader(self.r) if self.q.compression else self.r
        rows, cols, native = blocks.read_client_block(src, self.revision)
        return name, rows, cols, native

    def _query(self, q):
        """Run one Query; False if the connection must be closed afterwards."""
        self.q = q
        self.close_after = False
        self.method = METHOD_ZSTD if q.settings.get("network_compression_method", "").lower() == "zstd" \
            else METHOD_LZ4
        engine = self.server.engine
        self._log(f"query {q.query_id!r}: {q.sql[:200]!r}")
        while True:   # external tables, then an empty block
            name, rows, cols, _ = self._read_data_packet()
            if not cols and not rows and not name:
                break
            if name:
                self._send_error(ChError(48, f"External table {name} is not supported by "
                                             "ch-fdw-devserver's native protocol. (NOT_IMPLEMENTED)"))
                return False
        settings = {k: v for k, v in q.settings.items() if k != "network_compression_method"}
        if self.revision < REV_LOW_CARDINALITY:
            settings["low_cardinality_allow_in_native_format"] = "0"
        run = None
        restore = None
        keep = True
        try:
            run = engine.register(q.query_id or str(uuid.uuid4()))
            restore = prepare(engine, self.conn, True, None, settings)
            self.server.monitor.watch(self.sock, run)
            self._wait_gate(run)
            try:
                ins = _INSERT_RE.match(q.sql)
                if ins:
                    keep = self._insert(run, ins.group(1))
                else:
                    kill = KILL_RE.match(q.sql)
                    self._select(run, kill_by_query_id(engine, kill) if kill else q.sql)
                    use = _USE_RE.match(q.sql)
                    if use:   # the session's database, for _describe's side connection
                        self.database = re.sub(r'^[`"](.*)[`"]$', r"\1", use.group(1))
            except ChError as e:
                e.text = re.sub(r"(failed at position )(\d+)", lambda m: m.group(1) + str(
                    max(1, int(m.group(2)) - len(run.marker))), e.text)
                raise
            finally:
                engine.gate.release()
        except Cancelled:
            self._send(varint(S_END_OF_STREAM))
        except blocks.Unsupported as e:
            self.close_after = self.close_after or bool(_INSERT_RE.match(q.sql))  # blocks left unread
            self._send_error(ChError(48, f"{e}. (NOT_IMPLEMENTED)"))
        except ChError as e:
            if run is not None and run.cancelled.is_set() and self._client_cancelled():
                self._send(varint(S_END_OF_STREAM))
            else:
                self._send_error(e)
        finally:
            self.server.monitor.unwatch(self.sock)
            if run is not None:
                engine.unregister(run)
            if restore:
                try:
                    restore()
                except ChError:
                    pass
        return keep and not self.close_after

    def _wait_gate(self, run):
        while not self.server.engine.gate.acquire(timeout=0.2):
            if run.cancelled.is_set():
                raise ChError(394, "Query was cancelled while waiting for a free engine slot. "
                                   "(QUERY_WAS_CANCELLED)")

    def _client_cancelled(self, wait=0.0):
        """Whether the client has sent Cancel (consumed here); EOFError if it is gone."""
        if not self.r.buffered():
            readable, _, _ = select.select([self.sock], [], [], wait)
            if not readable:
                return False
        ptype = self.r.varint()
        if ptype == C_CANCEL:
            return True
        raise ProtocolError(f"Unexpected packet {ptype} from client while a query runs")

    def _select(self, run, sql):
        run.sql = sql
        full = run.marker + sql
        conn = self.conn
        frames = blocks.EngineBlocks(self.revision, (lambda: self._describe(sql, aside=True))
                                     if _SELECTISH_RE.match(sql) else None)
        started = time.monotonic_ns()
        rows = nbytes = nblocks = 0
        try:
            stream = conn.send_query(full, "Native", params=self.q.params)
        except RuntimeError as e:
            err = ChError.from_engine(e)
            if _NOT_STREAMABLE not in err.text:
                raise err from None
            try:  # DDL, INSERT ... VALUES/SELECT, SET, USE: run to completion
                res = conn.query(full, "Native", params=self.q.params)
            except RuntimeError as e2:
                raise ChError.from_engine(e2) from None
            if res is not None and res.has_error():
                raise ChError.from_engine(res.error_message())
            if run.cancelled.is_set():
                raise ChError(394, "Query was cancelled. (QUERY_WAS_CANCELLED)")
            data = res.bytes() if res is not None else b""
            if data:
                for n, block in frames.frame(data, res.rows_read()):
                    self._send(self._data_packet(block))
            written = res.rows_written() if res is not None else 0
            self._send(packets.progress(self.revision, written_rows=written,
                                        elapsed_ns=time.monotonic_ns() - started),
                       varint(S_END_OF_STREAM))
            return
        done = False
        try:
            while True:
                if self._client_cancelled():
                    raise Cancelled()
                if run.cancelled.is_set():   # KILLed (or Cancel seen by the monitor)
                    raise ChError(394, "Query was cancelled. (QUERY_WAS_CANCELLED)")
                try:
                    res = conn.streaming_fetch_result(stream)
                except RuntimeError as e:
                    raise ChError.from_engine(e) from None
                if res is not None and res.has_error():
                    raise ChError.from_engine(res.error_message())
                data = res.bytes() if res is not None else b""
                if res is None or (not data and res.rows_read() == 0):
                    done = True
                    if run.cancelled.is_set():   # killed can end like finished: never pass it off as complete
                        raise ChError(394, "Query was cancelled. (QUERY_WAS_CANCELLED)")
                    break
                out = []
                first = frames.columns is None
                for n, block in frames.frame(data, res.rows_read()):
                    if first:
                        out.append(self._data_packet(blocks.header(frames.columns, self.revision)))
                        first = False
                    out.append(self._data_packet(block))
                    rows += n
                    nblocks += 1
                nbytes += len(data)
                self._send(*out)
        finally:
            if not done:
                try:
                    conn.streaming_cancel_query(stream)
                except Exception:
                    pass
        if frames.columns is None and _SELECTISH_RE.match(sql):
            cols = self._describe(sql)
            if cols:
                self._send(self._data_packet(blocks.header(cols, self.revision)))
        self._send(packets.profile_info(rows, nblocks, nbytes),
                   packets.progress(self.revision, rows, nbytes, elapsed_ns=time.monotonic_ns() - started),
                   varint(S_END_OF_STREAM))

    def _describe(self, sql, aside=False):
        """(name, type) of a query's result, for the header of an empty one
        (chDB's Native output has no block at all then). aside: while the
        query streams, on a connection of its own in the same database."""
        engine = self.server.engine
        body = re.sub(r"\s*;\s*$", "", sql)
        conn = engine.connect() if aside else self.conn
        try:
            if aside and self.database:
                engine.query_text(f"USE {_quote(self.database)}", conn)
            text = engine.query_text(f"DESCRIBE TABLE ({body})", conn, self.q.params)
        except ChError:
            return None
        finally:
            if aside:
                conn.close()
        cols = []
        for line in text.splitlines():
            f = line.split("\t")
            if len(f) >= 2:
                cols.append((tsv_unescape(f[0]), tsv_unescape(f[1])))
        return cols

    def _insert(self, run, head):
        """INSERT whose rows come as Data blocks: send the table's header,
        then stream the blocks into the engine as Native."""
        engine = self.server.engine
        m = _INSERT_TARGET_RE.match(head.strip())
        if not m:
            raise ChError(62, f"Cannot parse the target of {head[:100]} (use INSERT INTO table [(columns)]). (SYNTAX_ERROR)")
        table, cols = m.group(1), m.group(2)
        text = engine.query_text(f"DESCRIBE TABLE (SELECT {cols or '*'} FROM {table})", self.conn)
        columns = [(tsv_unescape(f[0]), tsv_unescape(f[1])) for f in
                   (line.split("\t") for line in text.splitlines()) if len(f) >= 2]
        self._send(self._data_packet(blocks.header(columns, self.revision)))
        events = self.revision >= REV_PROFILE_EVENTS_IN_INSERT
        state = {"ended": False, "rows": 0}

        def chunks():
            while True:
                _, rows, cols_, native = self._read_data_packet()
                if events:   # clients wait for one after each block
                    self._send(varint(S_PROFILE_EVENTS), string(""),
                               blocks.header(_PROFILE_EVENTS_COLUMNS, self.revision))
                if not cols_ and not rows:
                    state["ended"] = True
                    return
                state["rows"] += rows
                if rows:
                    yield native

        try:
            written, _ = stream_insert(engine, self.conn, run, head, "Native", chunks(), self.q.params)
        except ChError:
            self.close_after = not state["ended"]   # unread blocks are still on the wire
            raise
        if not state["ended"]:
            # The engine stopped reading early; the connection holds blocks we did not read.
            self._send(varint(S_END_OF_STREAM))
            return False
        self._send(packets.progress(self.revision, written_rows=written or state["rows"]),
                   varint(S_END_OF_STREAM))
        return True


def _quote(name):
    return "`" + name.replace("\\", "\\\\").replace("`", "\\`") + "`"
