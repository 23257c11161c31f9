"""Connections to ClickHouse, one per (server, user mapping) per backend.

Two protocols behind one small interface:
  * native — clickhouse-driver over TCP; waits for data with select() so a
    PostgreSQL cancel is noticed within POLL_SECONDS and sent to the server
    as a Cancel packet;
  * http — clickhouse-connect; a watchdog thread notices the cancel, closes
    the response and KILLs the query by its query_id.

Every driver exception leaves this module as a ChFdwError with the
ClickHouse code and text, the password scrubbed.
"""

from __future__ import annotations

import re
import select
import signal
import socket
import threading
import time
import uuid
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Iterator

from . import errors
from .errors import ChFdwError, Interrupted
from .interrupts import POLL_SECONDS, interrupt_pending, watchdog
from .options import ServerConfig

_CODE_RE = re.compile(r"Code:\s*(\d+)")


@dataclass
class Block:
    """A columnar block: nrows rows, one sequence per column."""
    nrows: int
    columns: list
    types: list[str]


def _run_interruptible(fn, cleanup=None):
    """Return fn() run on a helper thread, re-raising its exception, while
    this (the backend's) thread watches for a PostgreSQL cancel.

    For blocking steps that no select() loop covers: the TCP/TLS connect and
    the server's hello (native), the connect-time probe (http).  They are
    bounded by connect_timeout, which may be long; a cancel or
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

    # PostgreSQL's signal handlers must keep running on the backend's thread.
    old = signal.pthread_sigmask(signal.SIG_BLOCK, signal.valid_signals())
    try:
        threading.Thread(target=run, name="ch_fdw-connect", daemon=True).start()
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)
    while not done.wait(POLL_SECONDS):
        if interrupt_pending():
            with lock:
                if not done.is_set():
                    state["abandoned"] = True
                    raise Interrupted()
    if "error" in state:
        raise state["error"]
    return state["value"]


def _tls_kwargs(config: ServerConfig, ca: str, cert: str, key: str, host: str) -> dict:
    """The TLS options that are set, under the driver's own argument names."""
    pairs = ((ca, config.ca_cert), (cert, config.client_cert), (key, config.client_key),
             (host, config.server_hostname))
    return {name: value for name, value in pairs if value}


class Connection:
    protocol = "?"

    def __init__(self, config: ServerConfig):
        self.config = config
        self.server_version: tuple[int, ...] = (0,)
        # shared by the pool's connections (see get_connection)
        self._describe_cache: dict[tuple[str, str], list[tuple[str, str]]] = {}
        self.active_streams = 0
        errors.register_secret(config.password)

    def _error(self, exc: BaseException, context: str | None = None) -> ChFdwError:
        raise NotImplementedError

    # -- public API ---------------------------------------------------------
    def stream(self, sql: str, settings: dict | None = None) -> Iterator[Block]:
        """Yield the result of a SELECT as columnar blocks.  Closing the
        generator early cancels the query on the server.  While it runs the
        connection is busy and get_connection() hands out another one."""
        self.active_streams += 1
        try:
            yield from self._stream(sql, settings)
        finally:
            self.active_streams -= 1

    def _stream(self, sql: str, settings: dict | None = None) -> Iterator[Block]:
        raise NotImplementedError

    def execute(self, sql: str, settings: dict | None = None) -> list[tuple]:
        """Run a small query and return all rows as tuples."""
        rows: list[tuple] = []
        for block in self.stream(sql, settings):
            rows.extend(zip(*block.columns)) if block.columns else None
        return rows

    def describe(self, db: str, table: str) -> list[tuple[str, str]]:
        """(name, type) of the remote table's columns, cached per backend."""
        key = (db, table)
        if key not in self._describe_cache:
            from .translate.quoting import quote_identifier
            try:
                rows = self.execute(f"DESCRIBE TABLE {quote_identifier(db)}.{quote_identifier(table)}")
            except ChFdwError as e:
                if e.sqlstate in (errors.UNDEFINED_TABLE, errors.INVALID_SCHEMA_NAME):
                    raise ChFdwError(f'ClickHouse table {db}.{table} does not exist',
                                     errors.FDW_TABLE_NOT_FOUND, detail=e.message,
                                     hint="Check the foreign table's dbname and table_name options.") from None
                raise
            self._describe_cache[key] = [(r[0], r[1]) for r in rows]
        return self._describe_cache[key]

    def result_types(self, sql: str) -> list[tuple[str, str]]:
        """(name, ClickHouse type) of a SELECT's result columns, without
        fetching rows."""
        raise NotImplementedError

    def command(self, sql: str, settings: dict | None = None) -> None:
        """Run a statement that returns no rows (ALTER, DELETE, ...)."""
        for _ in self.stream(sql, settings):
            pass

    def insert(self, db: str, table: str, names: list[str], types: list[str], columns: list,
               settings: dict | None = None) -> None:
        """INSERT one block of columns (driver values) naming only `names`."""
        raise NotImplementedError

    def forget(self, db: str, table: str) -> None:
        self._describe_cache.pop((db, table), None)

    def close(self) -> None:
        pass


def _settings_dict(config: ServerConfig, extra: dict | None) -> dict:
    s = dict(config.settings)
    if extra:
        s.update(extra)
    return s


class NativeConnection(Connection):
    protocol = "native"
    stream_header: list | None = None

    def __init__(self, config: ServerConfig):
        super().__init__(config)
        from clickhouse_driver import Client
        kwargs = dict(host=config.host, port=config.port, database=config.dbname,
                      user=config.user, password=config.password,
                      connect_timeout=config.connect_timeout,
                      # also bounds the wait for the server's hello, so a
                      # silent server fails within connect_timeout; query
                      # results are awaited with select() (no limit).
                      send_receive_timeout=config.connect_timeout,
                      sync_request_timeout=min(5, config.connect_timeout),
                      secure=config.secure, verify=config.verify,
                      client_name="ch_fdw", settings={"strings_encoding": "utf-8"})
        kwargs.update(_tls_kwargs(config, "ca_certs", "certfile", "keyfile", "server_hostname"))
        self._client_kwargs = kwargs
        self.client = Client(**kwargs)
        self._connect()

    def _connect(self) -> None:
        """(Re)connect; a cancel interrupts it (see _run_interruptible)."""
        client = self.client
        conn = client.connection

        def connect() -> None:
            conn.force_connect()
            conn.is_query_executing = False   # force_connect() marks a query as started

        try:
            _run_interruptible(connect, cleanup=lambda _: client.disconnect())
        except Interrupted:
            # The abandoned attempt still owns that client; use a new one.
            from clickhouse_driver import Client
            self.client = Client(**self._client_kwargs)
            raise
        except Exception as e:
            raise self._error(e, "could not connect to ClickHouse") from None
        info = conn.server_info
        self.server_version = (info.version_major, info.version_minor, info.version_patch)

    def _error(self, exc: BaseException, context: str | None = None) -> ChFdwError:
        from clickhouse_driver import errors as cherr
        where = f"{self.config.host}:{self.config.port}"
        if isinstance(exc, ChFdwError):
            return exc
        if isinstance(exc, cherr.ServerException):
            return errors.clickhouse_error(exc.code, exc.message, context=context).scrubbed(self.config.password)
        if isinstance(exc, cherr.UnexpectedPacketFromServerError) and "expected Hello" in str(exc):
            # An HTTP server answers the native Hello with "HTTP/1.x 400 ...".
            return ChFdwError(f"could not connect to ClickHouse server at {where} (native protocol): "
                              "the server does not speak the native protocol",
                              errors.UNABLE_TO_CONNECT, detail=errors.scrub(str(exc), self.config.password),
                              hint=f"Port {self.config.port} looks like ClickHouse's HTTP port: use protocol 'http' "
                                   "for it, or the native port (usually 9000, 9440 with TLS).")
        if isinstance(exc, (cherr.NetworkError, cherr.SocketTimeoutError, socket.error, EOFError)):
            msg = f"could not connect to ClickHouse server at {where} (native protocol)" \
                if context == "could not connect to ClickHouse" else \
                f"lost connection to ClickHouse server at {where}"
            text = getattr(exc, "message", None) or str(exc) or ""
            if isinstance(exc, (cherr.SocketTimeoutError, socket.timeout)):
                text = f"timed out after {self.config.connect_timeout:g} s {text}".strip()
            return ChFdwError(msg, errors.UNABLE_TO_CONNECT if "connect" in msg else errors.CONNECTION_FAILURE,
                              detail=errors.scrub(text, self.config.password),
                              hint="Check the server's host, port and protocol options and that ClickHouse is running.")
        if isinstance(exc, cherr.Error):
            return errors.clickhouse_error(getattr(exc, "code", None), getattr(exc, "message", str(exc)),
                                           context=context).scrubbed(self.config.password)
        return ChFdwError(f"{context or 'ClickHouse request failed'}: {errors.scrub(str(exc), self.config.password)}")

    def _wait_readable(self, conn) -> None:
        """Block until the next packet can be read, watching for cancel.
        Checked before every packet too: a server busy aggregating sends a
        steady stream of Progress packets and never lets select() time out."""
        if interrupt_pending():
            raise Interrupted()
        fin = conn.fin
        if fin.position < fin.current_buffer_size:
            return
        sock = conn.socket
        pending = getattr(sock, "pending", None)
        if pending is not None and pending() > 0:
            return
        while True:
            readable, _, _ = select.select([sock], [], [], POLL_SECONDS)
            if readable:
                return
            if interrupt_pending():
                raise Interrupted()

    def _cancel(self, conn) -> None:
        """Ask the server to stop the running query, then drain or drop."""
        from clickhouse_driver.protocol import ServerPacketTypes
        try:
            conn.send_cancel()
            deadline = time.monotonic() + 0.5
            while time.monotonic() < deadline:
                readable, _, _ = select.select([conn.socket], [], [], 0.1) \
                    if conn.fin.position >= conn.fin.current_buffer_size else ([True], [], [])
                if not readable:
                    continue
                packet = conn.receive_packet()
                if packet.type in (ServerPacketTypes.END_OF_STREAM, ServerPacketTypes.EXCEPTION):
                    conn.is_query_executing = False
                    return
        except Exception:
            pass
        conn.disconnect()

    def _stream(self, sql: str, settings: dict | None = None) -> Iterator[Block]:
        from clickhouse_driver.protocol import ServerPacketTypes
        if not self.client.connection.connected:
            self._connect()   # dropped after a cancel or a network error
        client = self.client
        conn = client.connection
        finished = False
        try:
            try:
                client.make_query_settings(_settings_dict(self.config, settings))
                conn.force_connect()
                client.last_query = None
                conn.send_query(sql, query_id=str(uuid.uuid4()))
                conn.send_external_tables(None)
            except Exception as e:
                conn.disconnect()
                raise self._error(e) from None
            while True:
                try:
                    self._wait_readable(conn)
                    packet = conn.receive_packet()
                except Interrupted:
                    self._cancel(conn)
                    finished = True
                    raise
                except Exception as e:
                    conn.disconnect()
                    finished = True
                    raise self._error(e) from None
                ptype = packet.type
                if ptype == ServerPacketTypes.DATA:
                    block = packet.block
                    if self.stream_header is None and block.columns_with_types:
                        self.stream_header = list(block.columns_with_types)
                    if block.num_rows:
                        yield Block(block.num_rows, block.get_columns(),
                                    [t for _, t in block.columns_with_types])
                elif ptype == ServerPacketTypes.EXCEPTION:
                    finished = True
                    conn.is_query_executing = False
                    # the server ends the stream after an exception
                    raise self._error(packet.exception) from None
                elif ptype == ServerPacketTypes.END_OF_STREAM:
                    finished = True
                    return
        finally:
            if not finished:
                # Abandoned mid-stream (LIMIT satisfied, error, cancel).
                self._cancel(conn)

    def insert(self, db: str, table: str, names: list[str], types: list[str], columns: list,
               settings: dict | None = None) -> None:
        from .translate.quoting import quote_identifier as q
        sql = f"INSERT INTO {q(db)}.{q(table)} ({', '.join(q(n) for n in names)}) VALUES"
        try:
            self.client.execute(sql, columns, columnar=True, types_check=False,
                                settings=_settings_dict(self.config, settings))
        except Exception as e:
            self.client.disconnect()
            raise self._error(e) from None

    def result_types(self, sql: str) -> list[tuple[str, str]]:
        self.stream_header = None
        for _ in self.stream(f"SELECT * FROM ({sql}) LIMIT 0"):
            pass
        return self.stream_header or []

    def close(self) -> None:
        try:
            self.client.disconnect()
        except Exception:
            pass


class HttpConnection(Connection):
    protocol = "http"

    def __init__(self, config: ServerConfig):
        super().__init__(config)
        import clickhouse_connect
        kwargs = dict(host=config.host, port=config.port, username=config.user,
                      password=config.password, database=config.dbname,
                      secure=config.secure, verify=config.verify,
                      connect_timeout=config.connect_timeout,
                      # the connect-time probe must fail within connect_timeout
                      send_receive_timeout=config.connect_timeout,
                      compress=False, query_limit=0, client_name="ch_fdw",
                      autogenerate_session_id=False)
        kwargs.update(_tls_kwargs(config, "ca_cert", "client_cert", "client_cert_key",
                                  "server_host_name"))
        try:
            # the connect-time probe query, interruptible by a cancel
            self.client = _run_interruptible(lambda: clickhouse_connect.get_client(**kwargs),
                                             cleanup=lambda client: client.close())
        except Interrupted:
            raise
        except Exception as e:
            raise self._error(e, "could not connect to ClickHouse") from None
        self.server_version = tuple(int(p) for p in re.findall(r"\d+", self.client.server_version or "0")[:3])
        # Queries may legitimately take long before the first byte; PostgreSQL's
        # statement_timeout and cancel (see stream) bound them instead.
        try:
            from urllib3 import Timeout
            self.client._backend.timeout = Timeout(connect=config.connect_timeout, read=None)
        except Exception:
            pass

    def _error(self, exc: BaseException, context: str | None = None) -> ChFdwError:
        if isinstance(exc, ChFdwError):
            return exc
        text = errors.scrub(str(exc), self.config.password) or type(exc).__name__
        if "is for clickhouse-client program" in text:
            # what ClickHouse's native port answers an HTTP request
            return ChFdwError(f"could not connect to ClickHouse server at {self.config.host}:{self.config.port} "
                              "(http protocol): the port speaks ClickHouse's native protocol",
                              errors.UNABLE_TO_CONNECT, detail=text,
                              hint=f"Port {self.config.port} is ClickHouse's native port: use protocol 'native' "
                                   "for it, or the HTTP port (usually 8123, 8443 with TLS).")
        m = _CODE_RE.search(text)
        if m:
            # Keep ClickHouse's own message, not the driver's preamble.
            server_text = text[m.start():]
            server_text = re.sub(r"^Code:\s*\d+\.\s*(DB::Exception:\s*)?", "", server_text)
            return errors.clickhouse_error(int(m.group(1)), server_text, context=context)
        from clickhouse_connect.driver import exceptions as cce
        where = f"{self.config.host}:{self.config.port}"
        if isinstance(exc, cce.OperationalError) or isinstance(exc, OSError):
            connecting = context == "could not connect to ClickHouse"
            msg = (f"could not connect to ClickHouse server at {where} (http protocol)" if connecting
                   else f"lost connection to ClickHouse server at {where}")
            return ChFdwError(msg, errors.UNABLE_TO_CONNECT if connecting else errors.CONNECTION_FAILURE,
                              detail=text,
                              hint="Check the server's host, port and protocol options and that ClickHouse is running.")
        return ChFdwError(f"{context or 'ClickHouse request failed'}: {text}")

    def _kill(self, query_id: str, stream_ctx) -> None:
        """Runs on the watchdog thread: stop the remote query and unblock
        the reader."""
        try:
            src = getattr(stream_ctx, "source", None)
            close = getattr(src, "close", None)
            if close:
                close()
        except Exception:
            pass
        try:
            import clickhouse_connect
            c = self.config
            killer = clickhouse_connect.get_client(
                host=c.host, port=c.port, username=c.user, password=c.password,
                secure=c.secure, verify=c.verify, connect_timeout=2, send_receive_timeout=5,
                compress=False, autogenerate_session_id=False)
            killer.command(f"KILL QUERY WHERE query_id = '{query_id}' SYNC")
            killer.close()
        except Exception:
            pass

    def _stream(self, sql: str, settings: dict | None = None) -> Iterator[Block]:
        query_id = str(uuid.uuid4())
        s = _settings_dict(self.config, settings)
        s.setdefault("cancel_http_readonly_queries_on_client_close", 1)
        interrupted: list[bool] = []
        holder: list = []

        def on_interrupt() -> None:
            # Watchdog thread: the main thread may be blocked waiting for
            # the response headers or the next block.
            interrupted.append(True)
            self._kill(query_id, holder[0] if holder else None)

        with watchdog.guard(on_interrupt):
            try:
                ctx = self.client.query_column_block_stream(sql, settings=dict(s, query_id=query_id))
                holder.append(ctx)
                with ctx as blocks:
                    types = [t.name for t in getattr(ctx.source, "column_types", ())]
                    for cols in blocks:
                        n = len(cols[0]) if cols else 0
                        if n:
                            yield Block(n, cols, types)
                        if interrupt_pending():
                            raise Interrupted()
            except (Interrupted, GeneratorExit):
                raise
            except Exception as e:
                if interrupted or interrupt_pending():
                    raise Interrupted() from None
                raise self._error(e) from None

    def command(self, sql: str, settings: dict | None = None) -> None:
        try:
            self.client.command(sql, settings=_settings_dict(self.config, settings))
        except Exception as e:
            raise self._error(e) from None

    def insert(self, db: str, table: str, names: list[str], types: list[str], columns: list,
               settings: dict | None = None) -> None:
        try:
            self.client.insert(table, columns, column_names=names, database=db,
                               column_type_names=types, column_oriented=True,
                               settings=_settings_dict(self.config, settings))
        except Exception as e:
            raise self._error(e) from None

    def result_types(self, sql: str) -> list[tuple[str, str]]:
        try:
            r = self.client.query(f"SELECT * FROM ({sql}) LIMIT 0")
        except Exception as e:
            raise self._error(e) from None
        return [(n, t.name) for n, t in zip(r.column_names, r.column_types)]

    def close(self) -> None:
        try:
            self.client.close()
        except Exception:
            pass


@dataclass
class _Pool:
    config: ServerConfig
    conns: list
    describe_cache: dict


_pools: dict[tuple, _Pool] = {}


def get_connection(ctx: dict) -> Connection:
    """An idle connection of this backend for the server and user mapping.

    Connections are reused for the life of the backend; one that is still
    streaming a result (e.g. the other side of a join) is busy, so another
    is opened next to it.  Changed server or user mapping options close the
    old ones."""
    config = ServerConfig.from_options(ctx["server"], ctx["user"])
    key = (ctx["server_id"], ctx.get("user_mapping_id"))
    pool = _pools.get(key)
    if pool is not None and pool.config != config:
        for c in pool.conns:
            c.close()
        pool = None
    if pool is None:
        pool = _pools[key] = _Pool(config, [], {})
    for conn in pool.conns:
        if conn.active_streams == 0:
            return conn
    conn: Connection = NativeConnection(config) if config.protocol == "native" else HttpConnection(config)
    conn._describe_cache = pool.describe_cache
    pool.conns.append(conn)
    return conn


def close_all() -> None:
    for pool in _pools.values():
        for conn in pool.conns:
            conn.close()
    _pools.clear()
