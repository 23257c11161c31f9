"""Entry points called by the C bridge (src/), and nothing else.

Contract with the bridge:
  * Arguments are plain dicts/lists/str/int built from the catalogs
    (see src/context.c for the shape of a context dict).
  * Scan batches are (nrows, [column, ...]); each column is a list or tuple
    of nrows values in a form src/convert.c turns into a Datum:
      None -> NULL; bool; int (int2/4/8, numeric, float; for date: days since
      1970-01-01; for timestamp/timestamptz: microseconds since
      1970-01-01 00:00:00 UTC, wall clock for timestamp); float; str (text
      types directly, any other type through its input function); bytes
      (bytea); Decimal; datetime.date / datetime.datetime; uuid.UUID.
  * Exceptions: ChFdwError carries SQLSTATE/message/detail/hint; Interrupted
    means PostgreSQL's pending cancel should be raised; anything else is an
    internal error (HV000).  describe_error() makes that classification.
"""

from __future__ import annotations

import logging
import traceback

from . import connection, errors, options
from .errors import ChFdwError, Interrupted
from .query import begin_query, explain_query, plan_query
from .scan import begin_scan, build_scan, can_sort, explain_scan, plan_scan
from .insert import begin_insert, explain_insert, plan_insert  # noqa: F401
from .mutation import execute_direct_modify, explain_direct_modify, plan_direct_modify  # noqa: F401

# The drivers log tracebacks for errors we already report as PostgreSQL
# errors; keep them out of the server log.
for _name in ("clickhouse_driver", "clickhouse_connect"):
    logging.getLogger(_name).setLevel(logging.CRITICAL)

__all__ = ["validate_options", "plan_scan", "can_sort", "build_scan", "begin_scan",
           "explain_scan", "plan_query", "begin_query", "explain_query", "import_schema",
           "describe_error", "shutdown", "plan_insert", "begin_insert", "explain_insert",
           "plan_direct_modify", "execute_direct_modify", "explain_direct_modify"]


def validate_options(catalog: str, opts: dict) -> None:
    options.validate(catalog, opts)


def import_schema(ctx: dict, remote_schema: str, list_type: str, tables: list,
                  local_schema: str, import_options: dict) -> list:
    from . import import_schema as imp
    conn = connection.get_connection(ctx)
    sql = imp.columns_query(remote_schema, list_type, tables, conn.server_version)
    rows = conn.execute(sql)
    return imp.build_statements(rows, server_name=ctx["server_name"], local_schema=local_schema,
                                remote_db=remote_schema, list_type=list_type, tables=tables,
                                options=import_options)


def describe_error(exc: BaseException):
    """(kind, sqlstate, message, detail, hint) for the bridge's ereport."""
    if isinstance(exc, Interrupted):
        return ("interrupt", errors.QUERY_CANCELED, "canceling statement due to user request", None, None)
    if isinstance(exc, ChFdwError):
        return ("error", exc.sqlstate, errors.scrub(exc.message), errors.scrub(exc.detail),
                errors.scrub(exc.hint))
    if isinstance(exc, MemoryError):
        return ("error", errors.OUT_OF_MEMORY, "out of memory in ch_fdw's Python core", None, None)
    tb = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__, limit=8))
    return ("error", errors.FDW_ERROR, errors.scrub(f"ch_fdw internal error: {type(exc).__name__}: {exc}"),
            errors.scrub(tb.strip()), "This is a bug in ch_fdw; please report it with the query.")


def preload() -> None:
    """Import everything a backend will need (run once in the postmaster
    with shared_preload_libraries; backends inherit it at fork)."""
    import clickhouse_connect  # noqa: F401
    import clickhouse_driver  # noqa: F401
    from . import import_schema, insert, mutation  # noqa: F401
    from .translate import query
    from .translate.scan import Dialect
    try:  # sqlglot builds its tables on first use; pay that here, once
        query.translate_query("SELECT 1 AS one", {}, {}, ["integer"], Dialect((26, 1), True))
    except Exception:
        pass
    # Backends share the postmaster's objects copy-on-write; a garbage
    # collection would write to every tracked object's header and so copy
    # every page of them into each backend.  Frozen objects are never
    # examined (the collector still runs for the backend's own objects).
    import gc
    gc.collect()
    gc.freeze()


def shutdown() -> None:
    connection.close_all()
