"""INSERT / COPY into ClickHouse: the batched writer.

The C bridge (src/modify.c) collects rows column by column into Python
lists, in the forms src/convert.c's chfdw_datum_to_py() produces:

  None (NULL); bool; int (int2/4/8; date: days since 1970-01-01;
  timestamp/timestamptz: microseconds since 1970-01-01 00:00:00, UTC for
  timestamptz, wall clock for timestamp); float (float4/8); str (text types,
  and every other type as its output-function text in ISO/extra_float_digits=3
  form, including 'infinity' dates and timestamps); bytes (bytea).

Every batch_size rows it calls Writer.write(n, columns); the rest is sent by
Writer.write() from EndForeignModify.  write() converts each column to the
driver's form for the ClickHouse column type *exactly* (a value that
ClickHouse cannot hold unchanged is an error naming the column, never a
silent rounding, truncation or wrap-around; the one rounding is PostgreSQL's
own timestamp(p) rule for sub-second digits, see chtypes/datetimes.py) and sends the batch as one
INSERT naming only the columns the statement gave, so ClickHouse fills the
others with its DEFAULT expressions.  A batch is converted completely before
any of it is sent: a bad value sends nothing of its batch, and the error
says how many rows of the statement had already been sent.

Per-type conversion lives with the type families (ch_fdw/chtypes/, through
chtypes.write.ColumnEncoder).
"""

from __future__ import annotations

import decimal as _decimal
import gc

from . import errors
from .chtypes.base import BadAt
from .chtypes.write import ColumnEncoder
from .connection import Connection, get_connection
from .errors import ChFdwError, Interrupted
from .translate.quoting import quote_identifier

DEFAULT_BATCH_SIZE = 65536


# ---------------------------------------------------------------------------
# Table facts (also used by ch_fdw.mutation)
# ---------------------------------------------------------------------------

def table_ref(ctx: dict):
    from .scan import table_ref as scan_table_ref
    return scan_table_ref(ctx)


def server_tz(conn: Connection) -> str | None:
    """The server's time zone (wall clock of DateTime columns without one),
    cached per connection."""
    key = ("server_timezone",)
    cache = conn._describe_cache
    if key not in cache:
        try:
            rows = conn.execute("SELECT timezone()")
            cache[key] = rows[0][0] if rows else None   # type: ignore[assignment]
        except ChFdwError:
            cache[key] = None   # type: ignore[assignment]
    return cache[key]  # type: ignore[return-value]


def encoders(ctx: dict, conn: Connection, ref, attnums: list[int]) -> list[ColumnEncoder]:
    """One ColumnEncoder per written column; errors name a column that is
    missing remotely or whose type pair cannot be written."""
    remote_types = dict(conn.describe(ref.db, ref.table))
    by_attnum = {c["attnum"]: c for c in ctx["columns"]}
    tz = server_tz(conn)
    out = []
    for a in attnums:
        col = by_attnum[a]
        remote = col["options"].get("column_name", col["name"])
        label = f'column "{col["name"]}" of foreign table {ctx["relname"]}'
        ch = remote_types.get(remote)
        if ch is None:
            have = ", ".join(remote_types)
            raise ChFdwError(f"{label} does not exist in ClickHouse table {ref.db}.{ref.table}",
                             errors.FDW_COLUMN_NAME_NOT_FOUND,
                             detail=f"ClickHouse column looked up: {remote!r}. The table has: {have}.",
                             hint="Set the column's column_name option, or fix the foreign table definition.")
        out.append(ColumnEncoder(col["name"], remote, col["type"], ch, label, tz))
    return out


ASYNC_INSERT_SINCE = (21, 11)


def async_insert_option(ctx: dict) -> dict:
    """ClickHouse's async_insert settings when the async_insert option is on
    (the foreign table's over the server's)."""
    from .options import parse_bool

    def option(name: str, default: bool) -> bool:
        v = ctx["table"].get(name, ctx["server"].get(name))
        return default if v is None else parse_bool(name, v)

    if not option("async_insert", False):
        return {}
    return {"async_insert": "1", "wait_for_async_insert": "1" if option("wait_for_async_insert", True) else "0"}


def async_insert_settings(ctx: dict, conn: Connection) -> dict:
    """async_insert_option(), refused before anything is sent on a server
    older than 21.11, which has no such setting."""
    out = async_insert_option(ctx)
    if out and tuple(conn.server_version) < ASYNC_INSERT_SINCE:
        have = ".".join(str(p) for p in conn.server_version)
        raise ChFdwError(f"option async_insert of foreign table {ctx['relname']} needs ClickHouse 21.11 or later; "
                         f"the server is ClickHouse {have}", errors.FEATURE_NOT_SUPPORTED,
                         hint="Drop the option (ALTER SERVER/FOREIGN TABLE ... OPTIONS (DROP async_insert)); "
                              "on this server, batch rows into fewer INSERT or COPY statements instead.")
    return out


def batch_size_of(ctx: dict) -> int:
    v = ctx["table"].get("batch_size") or ctx["server"].get("batch_size")
    return int(v) if v else DEFAULT_BATCH_SIZE


# ---------------------------------------------------------------------------
# INSERT / COPY
# ---------------------------------------------------------------------------

def plan_insert(ctx: dict, attnums: list[int]) -> None:
    """Planning-time check: every column the INSERT gives exists remotely and
    its type can be written (errors name the column)."""
    conn = get_connection(ctx)
    ref = table_ref(ctx)
    conn.forget(ref.db, ref.table)
    encoders(ctx, conn, ref, attnums)
    async_insert_settings(ctx, conn)


class Writer:
    """One INSERT/COPY statement's stream of batches into one table."""

    def __init__(self, ctx: dict, attnums: list[int]):
        self.conn = get_connection(ctx)
        self.ref = table_ref(ctx)
        self.relname = ctx["relname"]
        self.encoders = encoders(ctx, self.conn, self.ref, attnums)
        self.batch_size = batch_size_of(ctx)
        from .options import parse_settings
        self.settings = async_insert_settings(ctx, self.conn)
        self.settings.update(parse_settings(ctx["server"].get("insert_settings", "")))
        self.settings.update(parse_settings(ctx["table"].get("insert_settings", "")))
        self.rows_sent = 0
        self.batches_sent = 0
        self.column_names = [e.remote for e in self.encoders]
        self.column_types = [e.ch_text for e in self.encoders]

    def _sent_detail(self, n: int, server: bool = False) -> str:
        if self.rows_sent == 0:
            before = "No row of this statement had been sent to ClickHouse before this error."
        else:
            before = (f"{self.rows_sent} row{'s' if self.rows_sent != 1 else ''} of this statement had already "
                      f"been sent to ClickHouse ({self.batches_sent} INSERT{'s' if self.batches_sent != 1 else ''})"
                      " and stay there: ClickHouse is not transactional.")
        if server:
            return before + (f" ClickHouse rejected the INSERT of the next {n} row{'s' if n != 1 else ''} "
                             "(normally storing none of them; a batch spanning several partitions may be "
                             "partly stored).")
        return before + f" Nothing of the failed batch of {n} row{'s' if n != 1 else ''} was sent."

    def _batch_settings(self) -> dict | None:
        """Settings for the next INSERT.  A deduplication token gets the batch
        number appended (token-1, token-2, ...): each batch is its own INSERT,
        and re-running the same load reproduces the same tokens."""
        token = self.settings.get("insert_deduplication_token")
        if not token:
            return self.settings or None
        return dict(self.settings, insert_deduplication_token=f"{token}-{self.batches_sent + 1}")

    def write(self, n: int, columns: list) -> int:
        """Convert and send n rows (one INSERT); returns rows sent so far."""
        if n == 0:
            return self.rows_sent
        data = []
        for enc, col in zip(self.encoders, columns):
            try:
                data.append(enc.encode(col))
            except BadAt as e:
                row = self.rows_sent + e.index + 1
                shown = "" if e.value is None else f" Value: {enc.shown(e.value)}."
                raise ChFdwError(f"{enc.label}: {e.bad.message}", e.bad.sqlstate,
                                 detail=f"Row {row} of the statement.{shown} " + self._sent_detail(n)) from None
        try:
            with _decimal.localcontext(_decimal.Context(prec=100)):
                self.conn.insert(self.ref.db, self.ref.table, self.column_names, self.column_types, data,
                                 self._batch_settings())
        except Interrupted:
            raise
        except ChFdwError as e:
            raise ChFdwError(f"INSERT into ClickHouse table {self.ref.db}.{self.ref.table} failed: {e.message}",
                             e.sqlstate, detail=(e.detail + "\n" if e.detail else "") + self._sent_detail(n, True),
                             hint=e.hint) from None
        self.rows_sent += n
        self.batches_sent += 1
        del data
        if self.conn.protocol == "http":
            # clickhouse-connect's insert leaves reference cycles that hold the
            # batch; the backend allocates few Python containers, so the cyclic
            # GC would rarely run and memory would grow with every batch.
            gc.collect()
        return self.rows_sent


def begin_insert(ctx: dict, attnums: list[int]) -> Writer:
    return Writer(ctx, attnums)


def explain_insert(ctx: dict, attnums: list[int]) -> str:
    ref = table_ref(ctx)
    by_attnum = {c["attnum"]: c for c in ctx["columns"]}
    cols = ", ".join(quote_identifier(by_attnum[a]["options"].get("column_name", by_attnum[a]["name"]))
                     for a in attnums)
    settings = "".join(f" SETTINGS {', '.join(f'{k} = {v}' for k, v in a.items())}"
                       for a in [async_insert_option(ctx)] if a)
    return f"INSERT INTO {quote_identifier(ref.db)}.{quote_identifier(ref.table)} ({cols}){settings} VALUES"
