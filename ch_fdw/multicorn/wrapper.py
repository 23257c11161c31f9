"""ClickHouseFdw: ch_fdw's core behind multicorn2's ForeignDataWrapper API.

Every method calls the entry points the C bridge calls (ch_fdw/scan.py,
ch_fdw/modify.py, ch_fdw/import_schema.py): the same option validation,
connection pool, type map, per-table translator and batched writer.  What
multicorn allows to be pushed down is less than the extension's: quals
(column op constant), the columns, ORDER BY and LIMIT/OFFSET, no
aggregates or joins.
"""

from __future__ import annotations

import functools
import itertools
import weakref

from multicorn import ForeignDataWrapper

from .. import import_schema as imp
from ..connection import get_connection
from ..errors import ChFdwError, FEATURE_NOT_SUPPORTED
from ..insert import Writer
from ..scan import begin_scan, build_scan, can_sort, explain_scan, plan_scan
from ..translate.kinds import pg_type
from . import context, quals as qualtext, values

_C_COLLATIONS = ("C", "POSIX")


def _backend_setup() -> None:
    """With shared_preload_libraries = ch_fdw the interpreter was started in
    the postmaster: let the C bridge finish its per-backend set-up now,
    before this code starts threads, rather than on its own first use."""
    try:
        import _ch_fdw   # type: ignore[import-not-found]
    except ImportError:
        return           # multicorn started the interpreter in this backend
    after_fork = getattr(_ch_fdw, "after_fork", None)
    if after_fork is not None:
        after_fork()


def _reported(method):
    """Turn every exception into one multicorn reports as a PostgreSQL
    error (message, detail, hint; passwords scrubbed)."""
    @functools.wraps(method)
    def call(*args, **kwargs):
        try:
            return method(*args, **kwargs)
        except Exception as exc:
            raise context.multicorn_error(exc) from None
    return call


class ClickHouseFdw(ForeignDataWrapper):
    """A ClickHouse table through multicorn2:
    CREATE SERVER ch FOREIGN DATA WRAPPER multicorn OPTIONS (
        wrapper 'ch_fdw.multicorn.ClickHouseFdw', host '...', ...)."""

    @_reported
    def __init__(self, fdw_options, fdw_columns):
        super().__init__(fdw_options, fdw_columns)
        _backend_setup()
        self.ctx = context.table_context(dict(fdw_options), fdw_columns)
        self.names = [c["name"] for c in self.ctx["columns"]]
        self.attnum = {c["name"]: c["attnum"] for c in self.ctx["columns"]}
        self.kinds = {}
        for c in self.ctx["columns"]:
            t = pg_type(c["type"])
            if t is not None:
                self.kinds[c["name"]] = t.kind
        self._nones = (None,) * len(self.names)
        self._open = weakref.WeakSet()     # scans of this table still streaming
        self._writer: Writer | None = None
        self._pending: list[dict] = []

    # ------------------------------------------------------------ planning

    def _clauses(self, quals) -> list[str]:
        out = []
        for q in quals:
            text = qualtext.clause(q, self.kinds)
            if text is not None:
                out.append(text)
        return out

    @_reported
    def get_rel_size(self, quals, columns):
        clauses = self._clauses(quals)
        rows = plan_scan(self.ctx, clauses, {})["rows"]   # ClickHouse's row count
        for q in clauses:   # PostgreSQL-like default selectivities
            rows *= 0.01 if " = " in q or " IS NULL" in q else 0.33
        width = sum(8 if self.kinds.get(c) not in ("text", None) else 32 for c in columns)
        return (max(int(rows), 1), max(width, 1))

    def _sort_key(self, key):
        collation_c = key.collate in _C_COLLATIONS
        return (self.attnum[key.attname], bool(key.is_reversed), bool(key.nulls_first), collation_c)

    @_reported
    def can_sort(self, sortkeys):
        accepted = []
        for key in sortkeys:
            if key.attname not in self.attnum or not can_sort(self.ctx, [self._sort_key(key)]):
                break        # sorts are cumulative: only a prefix can be pushed
            accepted.append(key)
        return accepted

    def can_limit(self, limit, offset):
        # multicorn asks only when nothing is filtered locally and the whole
        # ORDER BY is pushed; a negative value must reach PostgreSQL's error
        return (limit is None or limit >= 0) and (offset is None or offset >= 0)

    # ------------------------------------------------------------ scans

    def _plan(self, quals, columns, sortkeys, limit, offset):
        clauses = self._clauses(quals)
        pushed = [c for c, ok in zip(clauses, plan_scan(self.ctx, clauses, {})["pushed"]) if ok]
        retrieved = sorted(self.attnum[c] for c in columns if c in self.attnum)
        sort = [self._sort_key(k) for k in sortkeys or ()]
        fetch_limit = None if limit is None else limit + (offset or 0)
        plan_json = build_scan(self.ctx, retrieved, pushed, {}, sort or None, fetch_limit is not None)
        return plan_json, retrieved, fetch_limit, len(clauses) - len(pushed) + (len(quals) - len(clauses))

    @_reported
    def explain(self, quals, columns, sortkeys=None, verbose=False, limit=None, offset=None):
        plan_json, _, fetch_limit, local = self._plan(quals, columns, sortkeys, limit, offset)
        lines = [f"ClickHouse query: {explain_scan(plan_json, fetch_limit)}"]
        if verbose:
            lines.append(f"Quals checked only in PostgreSQL: {local} of {len(quals)}")
        return lines

    def execute(self, quals, columns, sortkeys=None, limit=None, offset=None):
        rows = self._rows(quals, columns, sortkeys, limit, offset)
        self._open.add(rows)
        return rows

    def _rows(self, quals, columns, sortkeys, limit, offset):
        """Rows as tuples of every column (None where not requested),
        streamed one ClickHouse block at a time."""
        scan = None
        try:
            plan_json, retrieved, fetch_limit, _ = self._plan(quals, columns, sortkeys, limit, offset)
            scan = begin_scan(self.ctx, plan_json, {}, fetch_limit)
            cols = self.ctx["columns"]
            adapters = [values.scan_adapter(cols[a - 1]["type"], f'column "{cols[a - 1]["name"]}"')
                        for a in retrieved]
            position = {a: i for i, a in enumerate(retrieved)}
            slots = [position.get(a) for a in range(1, len(self.names) + 1)]
            skip = offset or 0
            none = itertools.repeat(None)
            while True:
                batch = scan.fetch()
                if batch is None:
                    return
                n, fetched = batch
                if not retrieved:
                    block = itertools.repeat(self._nones, n)
                else:
                    fetched = [f if ad is None else ad(f) for f, ad in zip(fetched, adapters)]
                    block = zip(*[none if s is None else fetched[s] for s in slots])
                if skip:
                    dropped = min(skip, n)
                    block = itertools.islice(block, dropped, None)
                    skip -= dropped
                yield from block
        except GeneratorExit:
            raise
        except Exception as exc:
            raise context.multicorn_error(exc) from None
        finally:
            if scan is not None:
                scan.close()

    def _close_scans(self):
        for rows in list(self._open):
            rows.close()     # cancels a ClickHouse query still streaming
        self._open.clear()

    def end_scan(self):
        self._close_scans()

    # ------------------------------------------------------------ writes

    @property
    def modify_batch_size(self):
        # 1: multicorn would use PostgreSQL's batch-insert API even with
        # RETURNING, whose rows PostgreSQL then drops.  Rows are still
        # collected here and sent batch_size at a time.
        return 1

    @property
    def rowid_column(self):
        # multicorn asks for it before every INSERT too; UPDATE and DELETE
        # then fail on their first row (update()/delete() below)
        return self.names[0]

    def _no_row_updates(self):
        raise context.multicorn_error(ChFdwError(
            "UPDATE and DELETE are not supported through multicorn", FEATURE_NOT_SUPPORTED,
            hint="multicorn changes one row at a time by a row id, which ClickHouse tables do not have; "
                 "use the ch_fdw extension, which runs them as ClickHouse mutations."))

    def update(self, oldvalues, newvalues):
        self._no_row_updates()

    def delete(self, oldvalues):
        self._no_row_updates()

    def _start_writer(self) -> Writer:
        cols = self.ctx["columns"]
        adapters = []
        for c in cols:
            label = f'column "{c["name"]}" of foreign table {self.ctx["relname"]}'
            values.check_array_writable(c["type"], label)
            adapters.append(values.write_adapter(c["type"], label))
        writer = Writer(self.ctx, [c["attnum"] for c in cols])   # checks every column
        writer.multicorn_adapters = adapters
        return writer

    def _flush(self, force: bool) -> None:
        w = self._writer
        if w is None:
            return
        while self._pending and (force or len(self._pending) >= w.batch_size):
            rows, self._pending = self._pending[:w.batch_size], self._pending[w.batch_size:]
            columns = [[r.get(name) for r in rows] for name in self.names]
            columns = [c if ad is None else ad(c) for c, ad in zip(columns, w.multicorn_adapters)]
            w.write(len(rows), columns)

    @_reported
    def insert(self, values_):
        return self.bulk_insert([values_])[0]

    @_reported
    def bulk_insert(self, all_values):
        if self._writer is None:
            self._writer = self._start_writer()
            self._pending = []
        self._pending.extend(all_values)
        self._flush(False)
        return all_values

    @_reported
    def end_modify(self):
        try:
            self._flush(True)
        finally:
            self._writer, self._pending = None, []

    # ------------------------------------------------------------ transactions

    def rollback(self):
        self._writer, self._pending = None, []
        self._close_scans()

    def sub_rollback(self, level):
        self._close_scans()

    # ------------------------------------------------------------ IMPORT

    @classmethod
    @_reported
    def import_schema(cls, schema, srv_options, options, restriction_type, restricts):
        _backend_setup()
        server, user, _ = context.split_options(dict(srv_options))
        if server.get("dbname", schema) != schema:
            raise ChFdwError(
                f'IMPORT FOREIGN SCHEMA "{schema}" through multicorn needs a server whose dbname is '
                f'"{schema}" or unset (it is "{server["dbname"]}")', FEATURE_NOT_SUPPORTED,
                hint="multicorn gives a server option precedence over the table option of the same "
                     "name, so the imported tables' dbname would be ignored. Create one server per "
                     "ClickHouse database, or omit dbname from the server.")
        ctx = context.server_context(server, user)
        list_type = {"limit": "LIMIT TO", "except": "EXCEPT"}.get(restriction_type, "ALL")
        tables = list(restricts or [])
        conn = get_connection(ctx)
        rows = conn.execute(imp.columns_query(schema, list_type, tables, conn.server_version))
        opts = dict(options or {})
        # validates the options and the database now; statements come later
        count = len(imp.build_statements(rows, server_name="s", local_schema="s", remote_db=schema,
                                         list_type=list_type, tables=tables, options=opts))
        result = _Imported(rows, schema, list_type, tables, opts)
        return [_ImportedTable(result, i) for i in range(count)]


class _Imported:
    """IMPORT's statements, built once multicorn names the local schema and
    server (it asks each table for its statement)."""

    def __init__(self, rows, schema, list_type, tables, opts):
        self.args = (rows, schema, list_type, tables, opts)
        self._stmts: dict[tuple[str, str], list[str]] = {}

    def statements(self, local_schema: str, server_name: str) -> list[str]:
        key = (local_schema, server_name)
        if key not in self._stmts:
            rows, schema, list_type, tables, opts = self.args
            self._stmts[key] = imp.build_statements(rows, server_name=server_name, local_schema=local_schema,
                                                    remote_db=schema, list_type=list_type, tables=tables,
                                                    options=opts)
        return self._stmts[key]


class _ImportedTable:
    def __init__(self, result: _Imported, index: int):
        self.result, self.index = result, index

    @_reported
    def to_statement(self, schema_name, server_name):
        return self.result.statements(schema_name, server_name)[self.index]
