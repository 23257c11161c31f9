"""Running one statement on a chDB connection: per-query database and
settings (undone afterwards in a session), and INSERTs whose data arrives as a
stream (an HTTP body, native-protocol Data blocks).
Shared by the HTTP and the native-protocol interfaces."""

import errno
import os
import re
import select
import tempfile
import threading

from .engine import ChError, sql_string


KILL_RE = re.compile(r"^\s*KILL\s+QUERY\s+WHERE\s+query_id\s*=\s*'((?:[^'\\]|\\.)*)'"
                      r"\s*(SYNC|ASYNC|TEST)?\s*(?:FORMAT\s+(\w+))?\s*;?\s*$", re.I)


def kill_by_query_id(engine, m):
    """KILL QUERY WHERE query_id = '...' (m: a KILL_RE match) by the client's
    query_id, whichever interface ran it; returns the SELECT that answers.

    chDB assigns its own query ids, so the devserver resolves the client's
    id itself; the reply is built as a SELECT so any output FORMAT works.
    """
    qid = re.sub(r"\\(.)", r"\1", m.group(1))
    run = engine.find(qid)
    if run is not None and (m.group(2) or "").upper() != "TEST":
        engine.kill(run)
    status = "finished" if (m.group(2) or "SYNC").upper() == "SYNC" else "waiting"
    return (f"SELECT {sql_string(status)} AS kill_status, {sql_string(qid)} AS query_id, "
            f"'default' AS user, {sql_string(run.sql if run else '')} AS query "
            f"WHERE {1 if run else 0}" + (f" FORMAT {m.group(3)}" if m.group(3) else ""))


class BodyNotRead(ChError):
    """The engine failed before it had read all the input: the client's
    connection still holds unread data."""


def stream_insert(engine, conn, run, head, fmt, chunks, qparams=None):
    """INSERT ... FORMAT fmt with the body streamed into the engine.

    Returns (rows written, whether input was left unread).

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
        unread = False
        try:
            if fd is not None:
                for data in chunks:
                    if run.cancelled.is_set():
                        raise ChError(394, "Query was cancelled. (QUERY_WAS_CANCELLED)")
                    if data and not _feed(fd, data, finished):
                        unread = True  # the rest of the input stays unread
                        break  # the engine stopped reading: its error is in outcome
        except BaseException as e:
            failure = e
        if fd is not None:
            if failure is not None and not finished.is_set():
                # End of input must not look like a complete body: cancel the
                # query first, so what was already fed is not committed.
                engine.kill(run, sync=False)
            os.close(fd)
        worker.join()
    if failure is not None:
        raise failure
    if "err" in outcome:
        e = outcome["err"]
        # FROM INFILE is our plumbing: say it the way an HTTP body error reads.
        text = re.sub(r"^(Code: \d+\. DB::Exception: )\1", r"\1", e.text)
        text = re.sub(r"(\(\w+\)) \(version [^)]*\)\. \1$", r"\1", text.replace(f" (in file/uri {fifo})", ""))
        raise (BodyNotRead if unread else ChError)(e.code, text)
    res = outcome.get("res")
    if res is not None and res.has_error():
        raise ChError.from_engine(res.error_message())
    return (res.rows_written() if res is not None else 0), unread


def prepare(engine, conn, is_session, database, settings):
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
            prev = {n: tsv_unescape(v) for n, v in
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


def tsv_unescape(s):
    return re.sub(r"\\(.)", lambda m: {"t": "\t", "n": "\n", "\\": "\\", "0": "\0"}.get(m.group(1), m.group(1)), s)
