"""Connections to ClickHouse, one per (server, user mapping) per backend.

Two protocols behind one small interface:
  * native — clickhouse-driver over TCP; a cancel is sent to the server as
    a Cancel packet;
  * http — clickhouse-connect; a cancel drops the HTTP connection and KILLs
    the query by its query_id from another connection, in the background.

Both drivers' sockets are CancellableSockets (see netio): every wait notices
a PostgreSQL cancel within POLL_SECONDS, and waits for data are bounded by
the receive_timeout option (connect_timeout while connecting).

Every driver exception leaves this module as a ChFdwError with the
ClickHouse code and text, the password scrubbed.
"""

from __future__ import annotations

import re
import socket
import uuid
from dataclasses import dataclass
from typing import Iterator

from . import errors
from .errors import ChFdwError, Interrupted
from .interrupts import interrupt_pending
from .netio import Waits, WaitTimeout, http_pool_manager, start_thread
from .netio import CancellableSocket, run_interruptible as _run_interruptible
from .options import ServerConfig

_CODE_RE = re.compile(r"Code:\s*(\d+)")


@dataclass
class Block:
    """A columnar block: nrows rows, one sequence per column."""
    nrows: int
    columns: list
    types: list[str]


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
        # The waits (the server's hello, then every packet) are bounded by
        # self.waits: connect_timeout while connecting, then receive_timeout.
        self.waits = Waits(config.connect_timeout, "connect_timeout")
        kwargs = dict(host=config.host, port=config.port, database=config.dbname,
                      user=config.user, password=config.password,
                      connect_timeout=config.connect_timeout,
                      send_receive_timeout=None,
                      sync_request_timeout=min(5, config.connect_timeout),
                      secure=config.secure, verify=config.verify,
                      client_name="ch_fdw", settings={"strings_encoding": "utf-8"})
        kwargs.update(_tls_kwargs(config, "ca_certs", "certfile", "keyfile", "server_hostname"))
        self._client_kwargs = kwargs
        self.client = self._new_client()
        self._connect()

    def _new_client(self):
        from clickhouse_driver import Client
        client = Client(**self._client_kwargs)
        conn = client.connection
        create = conn._create_socket     # returns the connected (TLS) socket
        conn._create_socket = lambda host, port: CancellableSocket(
            create(host, port), self.waits, honor_settimeout=True)   # (the ping's timeout)
        return client

    def _connect(self) -> None:
        """(Re)connect; a cancel interrupts it (see _run_interruptible)."""
        client = self.client
        conn = client.connection

        def connect() -> None:
            conn.connect()

        self.waits.limit, self.waits.option = self.config.connect_timeout, "connect_timeout"
        try:
            _run_interruptible(connect, cleanup=lambda _: client.disconnect())
        except Interrupted:
            # The abandoned attempt still owns that client; use a new one.
            self.client = self._new_client()
            raise
        except Exception as e:
            raise self._error(e, "could not connect to ClickHouse") from None
        self.waits.limit, self.waits.option = self.config.receive_timeout or None, "receive_timeout"
        info = conn.server_info
        self.server_version = (info.version_major, info.version_minor, info.version_patch)

    def _ensure_connected(self) -> None:
        """Reconnect if the connection was dropped (after a cancel or a
        network error) or does not answer a ping; here rather than in the
        driver, whose reconnect a cancel could not interrupt."""
        conn = self.client.connection
        if conn.connected and conn.is_query_executing:
            conn.disconnect()       # a result left half read
        if conn.connected:
            try:
                alive = conn.ping()
            except Interrupted:
                conn.disconnect()
                raise
            if not alive:
                conn.disconnect()
        if not conn.connected:
            self._connect()

    def _error(self, exc: BaseException, context: str | None = None) -> ChFdwError:
        from clickhouse_driver import errors as cherr
        where = f"{self.config.host}:{self.config.port}"
        if isinstance(exc, ChFdwError):
            return exc
        if isinstance(exc, cherr.ServerException):
            return errors.clickhouse_error(exc.code, exc.message, context=context).scrubbed(self.config.password)
        connecting = context == "could not connect to ClickHouse"
        if isinstance(exc, WaitTimeout) and not connecting:
            return exc.error(where)
        if isinstance(exc, cherr.UnexpectedPacketFromServerError) and "expected Hello" in str(exc):
            # An HTTP server answers the native Hello with "HTTP/1.x 400 ...".
            return ChFdwError(f"could not connect to ClickHouse server at {where} (native protocol): "
                              "the server does not speak the native protocol",
                              errors.UNABLE_TO_CONNECT, detail=errors.scrub(str(exc), self.config.password),
                              hint=f"Port {self.config.port} looks like ClickHouse's HTTP port: use protocol 'http' "
                                   "for it, or the native port (usually 9000, 9440 with TLS).")
        if isinstance(exc, (cherr.NetworkError, cherr.SocketTimeoutError, socket.error, EOFError)):
            msg = f"could not connect to ClickHouse server at {where} (native protocol)" if connecting \
                else f"lost connection to ClickHouse server at {where}"
            text = getattr(exc, "message", None) or str(exc) or ""
            if isinstance(exc, (cherr.SocketTimeoutError, socket.timeout)) and "_timeout)" not in text:
                text = f"timed out after {self.config.connect_timeout:g} s (connect_timeout) {text}".strip()
            return ChFdwError(msg, errors.UNABLE_TO_CONNECT if connecting else errors.CONNECTION_FAILURE,
                              detail=errors.scrub(text, self.config.password),
                              hint="Check the server's host, port and protocol options and that ClickHouse is running.")
        if isinstance(exc, cherr.Error):
            return errors.clickhouse_error(getattr(exc, "code", None), getattr(exc, "message", str(exc)),
                                           context=context).scrubbed(self.config.password)
        return ChFdwError(f"{context or 'ClickHouse request failed'}: {errors.scrub(str(exc), self.config.password)}")

    @staticmethod
    def _wait_readable(conn) -> None:
        """Block until the next packet can be read, watching for cancel.
        Checked before every packet too: a server busy aggregating sends a
        steady stream of Progress packets and never lets a wait time out."""
        if interrupt_pending():
            raise Interrupted()
        fin = conn.fin
        if fin.position < fin.current_buffer_size:
            return
        conn.socket.wait_readable()

    # How long a cancelled query's remaining packets are read to keep the
    # connection for the next query; a server that does not answer by then
    # is disconnected (which also ends the query there).
    CANCEL_DRAIN_SECONDS = 0.25

    def _cancel(self, conn, between_packets: bool = True) -> None:
        """Ask the server to stop the running query, then drain or drop.
        Interrupted in the middle of a packet, the stream cannot be read
        on: send the Cancel and drop the connection."""
        from clickhouse_driver.protocol import ServerPacketTypes
        sock = conn.socket
        if sock is None:
            return
        try:
            with sock.bounded(self.CANCEL_DRAIN_SECONDS):
                conn.send_cancel()
                while between_packets:
                    self._wait_readable_bounded(conn)
                    packet = conn.receive_packet()
                    if packet.type in (ServerPacketTypes.END_OF_STREAM, ServerPacketTypes.EXCEPTION):
                        conn.is_query_executing = False
                        return
        except Exception:
            pass
        conn.disconnect()

    @staticmethod
    def _wait_readable_bounded(conn) -> None:
        fin = conn.fin
        if fin.position >= fin.current_buffer_size:
            conn.socket.wait_readable()

    def _stream(self, sql: str, settings: dict | None = None) -> Iterator[Block]:
        from clickhouse_driver.protocol import ServerPacketTypes
        try:
            self._ensure_connected()
        except Interrupted:
            raise
        except ChFdwError:
            raise
        except Exception as e:
            self.client.connection.disconnect()
            raise self._error(e) from None
        client = self.client
        conn = client.connection
        finished = False
        try:
            try:
                client.make_query_settings(_settings_dict(self.config, settings))
                client.last_query = None
                conn.is_query_executing = True
                conn.send_query(sql, query_id=str(uuid.uuid4()))
                conn.send_external_tables(None)
            except Exception as e:
                conn.disconnect()
                finished = True
                if isinstance(e, Interrupted):
                    raise
                raise self._error(e) from None
            while True:
                try:
                    self._wait_readable(conn)
                except Interrupted:
                    self._cancel(conn)
                    finished = True
                    raise
                try:
                    packet = conn.receive_packet()
                except Interrupted:
                    self._cancel(conn, between_packets=False)
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
            self._ensure_connected()
            # (the driver disconnects on any error, a cancel included)
            self.client.execute(sql, columns, columnar=True, types_check=False,
                                settings=_settings_dict(self.config, settings))
        except (Interrupted, ChFdwError):
            raise
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
        # connect_timeout bounds the connect-time probe query, receive_timeout
        # every wait after it (see netio; urllib3's timeouts do not apply).
        self.waits = Waits(config.connect_timeout, "connect_timeout")
        tls: dict = {}
        if config.secure:
            # with our own pool manager, clickhouse-connect leaves TLS to it
            tls = dict(verify=config.verify, **_tls_kwargs(config, "ca_cert", "client_cert",
                                                           "client_cert_key", "server_hostname"))
            if config.server_hostname and config.verify:
                tls["assert_hostname"] = config.server_hostname
        self._pool = http_pool_manager(self.waits, **tls)
        kwargs = dict(host=config.host, port=config.port, username=config.user,
                      password=config.password, database=config.dbname,
                      secure=config.secure, verify=config.verify,
                      connect_timeout=config.connect_timeout,
                      # (not a socket timeout here: it sets how often the server
                      # sends progress headers while a query runs, which keeps
                      # the first-byte wait under receive_timeout)
                      send_receive_timeout=max(15, int(config.receive_timeout or 300)),
                      compress=False, query_limit=0, client_name="ch_fdw",
                      autogenerate_session_id=False, pool_mgr=self._pool)
        kwargs.update(_tls_kwargs(config, "ca_cert", "client_cert", "client_cert_key",
                                  "server_host_name"))
        try:
            self.client = clickhouse_connect.get_client(**kwargs)
        except Exception as e:
            self._pool.clear()
            raise self._failed(e, context="could not connect to ClickHouse") from None
        self.waits.limit, self.waits.option = config.receive_timeout or None, "receive_timeout"
        self.server_version = tuple(int(p) for p in re.findall(r"\d+", self.client.server_version or "0")[:3])

    def _failed(self, exc: BaseException, query_id: str | None = None,
                context: str | None = None) -> Exception:
        """What to raise for exc, an exception out of the driver: Interrupted
        on a cancel (then the query is KILLed in the background), else the
        ChFdwError, naming the timeout option if a wait timed out."""
        if isinstance(exc, Interrupted) or interrupt_pending():
            if query_id:
                self._kill_later(query_id)
            return Interrupted()
        timeout, self.waits.last_timeout = self.waits.last_timeout, None
        where = f"{self.config.host}:{self.config.port}"
        if timeout is not None and context is None:
            return timeout.error(where)
        if timeout is not None:
            return ChFdwError(f"could not connect to ClickHouse server at {where} (http protocol)",
                              errors.UNABLE_TO_CONNECT, detail=timeout.strerror,
                              hint="Check the server's host, port and protocol options and that ClickHouse is running.")
        return self._error(exc, context)

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

    # The backend's thread holds the GIL whenever it runs PostgreSQL code,
    # so a helper thread only runs while this one waits in Python: the KILL
    # gets this long before the cancel returns (the rest, if any, waits for
    # the backend's next use of Python; dropping the connection is what
    # stops a read-only query meanwhile).
    KILL_WAIT_SECONDS = 0.2
    # How long an abandoned result (LIMIT satisfied, a cursor closed) is
    # read on so the connection can be reused, before it is dropped.
    DRAIN_SECONDS = 0.25

    def _kill_later(self, query_id: str) -> None:
        import threading
        done = threading.Event()

        def kill() -> None:
            self._kill(query_id)
            done.set()
        start_thread(kill, "ch_fdw-kill")
        done.wait(self.KILL_WAIT_SECONDS)

    def _kill(self, query_id: str) -> None:
        """Runs on a thread of its own after a cancel: stop the remote query
        (best effort; dropping the connection stops a read-only one too)."""
        try:
            import clickhouse_connect
            c = self.config
            killer = clickhouse_connect.get_client(
                host=c.host, port=c.port, username=c.user, password=c.password,
                secure=c.secure, verify=c.verify, connect_timeout=2, send_receive_timeout=5,
                compress=False, autogenerate_session_id=False,
                **_tls_kwargs(c, "ca_cert", "client_cert", "client_cert_key", "server_host_name"))
            killer.command(f"KILL QUERY WHERE query_id = '{query_id}' SYNC")
            killer.close()
        except Exception:
            pass

    def _stream(self, sql: str, settings: dict | None = None) -> Iterator[Block]:
        query_id = str(uuid.uuid4())
        s = _settings_dict(self.config, settings)
        s.setdefault("cancel_http_readonly_queries_on_client_close", 1)
        self.waits.last_timeout = None
        try:
            ctx = self.client.query_column_block_stream(sql, settings=dict(s, query_id=query_id))
            with ctx as blocks:
                types = [t.name for t in getattr(ctx.source, "column_types", ())]
                try:
                    for cols in blocks:
                        n = len(cols[0]) if cols else 0
                        if n:
                            yield Block(n, cols, types)
                        if interrupt_pending():
                            raise Interrupted()
                except BaseException as e:
                    # Abandoned: leaving `with` reads the rest of the result
                    # first, for as long as the network takes.  After a cancel
                    # or an error, drop the connection instead; otherwise (LIMIT
                    # satisfied, a cursor closed) read on for a moment.
                    if isinstance(e, GeneratorExit) and not interrupt_pending():
                        self.waits.last_timeout = None
                        self.waits.expire_active(self.DRAIN_SECONDS)
                    else:
                        self.waits.drop_active()
                    raise
        except GeneratorExit:
            if self.waits.last_timeout is not None:      # the drain was cut short
                self._kill_later(query_id)
            else:
                self.waits.expire_active(None)           # drained: reusable
            raise
        except Exception as e:
            raise self._failed(e, query_id) from None

    def command(self, sql: str, settings: dict | None = None) -> None:
        query_id = str(uuid.uuid4())
        self.waits.last_timeout = None
        try:
            self.client.command(sql, settings=dict(_settings_dict(self.config, settings), query_id=query_id))
        except Exception as e:
            raise self._failed(e, query_id) from None

    def insert(self, db: str, table: str, names: list[str], types: list[str], columns: list,
               settings: dict | None = None) -> None:
        self.waits.last_timeout = None
        try:
            self.client.insert(table, columns, column_names=names, database=db,
                               column_type_names=types, column_oriented=True,
                               settings=_settings_dict(self.config, settings))
        except Exception as e:
            raise self._failed(e) from None

    def result_types(self, sql: str) -> list[tuple[str, str]]:
        self.waits.last_timeout = None
        try:
            r = self.client.query(f"SELECT * FROM ({sql}) LIMIT 0")
        except Exception as e:
            raise self._failed(e) from None
        return [(n, t.name) for n, t in zip(r.column_names, r.column_types)]

    def close(self) -> None:
        try:
            self.client.close()
            self._pool.clear()
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
