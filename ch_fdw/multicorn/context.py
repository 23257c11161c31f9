"""The core's table context, built from what multicorn gives a wrapper.

The C bridge builds a context dict from the catalogs (src/context.c).
multicorn instead passes one dict that merges the foreign table's, the
server's and the user mapping's options (in that order, so a server option
overrides a table option of the same name), plus the columns as
multicorn.ColumnDefinition objects.  This module splits the options back by
name, validates them with the extension's own rules (ch_fdw/options.py) and
builds the same context dict, so every core entry point works unchanged.

multicorn does not tell the wrapper the foreign table's name, so table_name
is required (IMPORT FOREIGN SCHEMA always writes it).
"""

from __future__ import annotations

import traceback

from .. import errors, options
from ..errors import ChFdwError, Interrupted

_BOTH = set(options.SERVER_OPTIONS) & set(options.TABLE_OPTIONS)


def _catalog_of(name: str) -> str | None:
    for catalog, specs in (("server", options.SERVER_OPTIONS), ("foreign_table", options.TABLE_OPTIONS),
                           ("user_mapping", options.USER_MAPPING_OPTIONS)):
        if name in specs:
            return catalog
    return None


def split_options(merged: dict) -> tuple[dict, dict, dict]:
    """(server, user mapping, table) options; names in both server and
    table options go to both (multicorn kept only one value)."""
    server, user, table = {}, {}, {}
    for name, value in merged.items():
        catalog = _catalog_of(name)
        if catalog is None:
            valid = sorted(set(options.SERVER_OPTIONS) | set(options.TABLE_OPTIONS)
                           | set(options.USER_MAPPING_OPTIONS))
            raise ChFdwError(f'invalid option "{name}"', errors.FDW_INVALID_OPTION_NAME,
                             hint="Valid options for ch_fdw.multicorn.ClickHouseFdw are: "
                                  + ", ".join(valid) + ".")
        if name in _BOTH:
            server[name] = table[name] = value
        elif catalog == "server":
            server[name] = value
        elif catalog == "user_mapping":
            user[name] = value
        else:
            table[name] = value
    options.validate("server", server)
    options.validate("user_mapping", user)
    options.validate("foreign_table", table)
    return server, user, table


def server_context(server: dict, user: dict) -> dict:
    # The connection pool is keyed by server and user mapping; multicorn has
    # no OIDs to give, so the options themselves are the key.
    return {
        "server_id": ("multicorn",) + tuple(sorted(server.items())),
        "user_mapping_id": tuple(sorted(user.items())),
        "server_name": server.get("host", "127.0.0.1"),
        "server": server,
        "user": user,
        "text_collation_c": False,   # the database collation is not known here
    }


def table_context(merged: dict, columns: dict) -> dict:
    server, user, table = split_options(merged)
    if "table_name" not in table:
        raise ChFdwError('option "table_name" is required for ch_fdw.multicorn.ClickHouseFdw',
                         errors.FDW_OPTION_NAME_NOT_FOUND,
                         hint="multicorn does not tell the wrapper the foreign table's name: add "
                              "OPTIONS (table_name '...') to the foreign table.")
    ctx = server_context(server, user)
    db = table.get("dbname", server.get("dbname", "default"))
    ctx.update({
        "relname": f"{db}.{table['table_name']}",
        "table_default_name": table["table_name"],
        "table": table,
        "columns": [],
    })
    for i, (name, col) in enumerate(columns.items(), start=1):
        col_opts = dict(getattr(col, "options", None) or {})
        options.validate("column", col_opts)
        ctx["columns"].append({
            "attnum": i, "name": name, "type": col.type_name, "typoid": col.type_oid,
            "typmod": col.typmod, "not_null": False, "options": col_opts,
        })
    return ctx


# ---------------------------------------------------------------- errors

def multicorn_error(exc: BaseException) -> Exception:
    """The exception multicorn reports as a PostgreSQL ERROR with message,
    detail and hint (multicorn cannot set a SQLSTATE: it reports XX000, so
    the one the extension would use is named in the detail)."""
    from multicorn.utils import ERROR, MulticornException, REPORT_CODES
    if isinstance(exc, Interrupted):
        message, sqlstate = "canceling statement (cancel request or statement_timeout)", errors.QUERY_CANCELED
        detail, hint = "The ClickHouse query was cancelled.", None
    elif isinstance(exc, ChFdwError):
        message, sqlstate, detail, hint = exc.message, exc.sqlstate, exc.detail, exc.hint
    else:
        tb = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__, limit=8))
        message = f"ch_fdw internal error: {type(exc).__name__}: {exc}"
        sqlstate, detail = errors.FDW_ERROR, tb.strip()
        hint = "This is a bug in ch_fdw; please report it with the query."
    detail = ((detail + "\n") if detail else "") + f"SQLSTATE: {sqlstate}"
    return MulticornException(errors.scrub(message), REPORT_CODES[ERROR], errors.scrub(hint),
                              errors.scrub(detail))
