"""IMPORT FOREIGN SCHEMA: list remote tables and build CREATE FOREIGN TABLE.

columns_query() is the ClickHouse SQL that lists (table, column, type,
position) rows for a database; build_statements() turns those rows into one
CREATE FOREIGN TABLE statement per table.

Decisions:
* Tables and views are imported (system.tables engine not a dictionary /
  system-internal); ClickHouse names are case-sensitive, so LIMIT TO / EXCEPT
  compare names exactly (PostgreSQL has already folded unquoted names in the
  IMPORT statement, so users write LIMIT TO ("Events")).
* The local table and column names are the remote names, exactly; they are
  double-quoted when PostgreSQL requires it.  column_name options are only
  written when the local name differs from the remote one (never, with the
  default behaviour, except for names PostgreSQL cannot hold: longer than
  63 bytes are truncated by PostgreSQL, so we emit column_name then).
* Unknown ClickHouse types are imported as text (read through toString())
  with a SQL comment naming the ClickHouse type.
* IMPORT options: import_not_null ('true' default: NOT NULL for non-Nullable
  columns), import_unknown_types ('true' default; 'false' skips columns of
  unknown types).  Any other option raises FDW_INVALID_OPTION_NAME.
* A remote database that does not exist is an error (FDW_SCHEMA_NOT_FOUND,
  like postgres_fdw), not an import of nothing.
"""

from __future__ import annotations

from typing import Iterable

from ch_fdw import errors
from ch_fdw.chtypes import parse_type, pg_type_info

__all__ = ["columns_query", "build_statements", "quote_ident", "quote_literal",
           "IMPORT_OPTIONS"]

IMPORT_OPTIONS = {"import_not_null": "true", "import_unknown_types": "true"}
FDW_SCHEMA_NOT_FOUND = "HV00Q"

# PostgreSQL reserved and type/func-name keywords (kwlist.h categories
# RESERVED_KEYWORD, TYPE_FUNC_NAME_KEYWORD, COL_NAME_KEYWORD) — quote_ident()
# quotes all non-unreserved keywords.
_KEYWORDS = set("""
all analyse analyze and any array as asc asymmetric authorization between
bigint binary bit boolean both case cast char character check coalesce collate
collation column concurrently constraint create cross current_catalog
current_date current_role current_schema current_time current_timestamp
current_user dec decimal default deferrable desc distinct do else end except
exists extract false fetch float for foreign freeze from full grant greatest
group grouping having ilike in initially inner inout int integer intersect
interval into is isnull join json json_array json_arrayagg json_exists
json_object json_objectagg json_query json_scalar json_serialize json_table
json_value lateral leading least left like limit localtime localtimestamp
national natural nchar none normalize not notnull null nullif numeric offset
on only or order out outer overlaps overlay placing position precision primary
real references returning right row select session_user setof similar smallint
some substring symmetric system_user table tablesample then time timestamp to
trailing treat trim true union unique user using values varchar variadic
verbose when where window with xmlattributes xmlconcat xmlelement xmlexists
xmlforest xmlnamespaces xmlparse xmlpi xmlroot xmlserialize xmltable
""".split())

NAMEDATALEN = 64


def quote_ident(name: str) -> str:
    """PostgreSQL's quote_ident(): quote unless a plain lower-case
    identifier that is not a keyword."""
    if name and (name[0].islower() or name[0] == "_") and name.isascii() and \
            all(c.islower() or c.isdigit() or c == "_" for c in name) and \
            name not in _KEYWORDS:
        return name
    return '"' + name.replace('"', '""') + '"'


def quote_literal(value: str) -> str:
    """A standard-conforming SQL string literal (E'' when backslashes)."""
    if "\x00" in value:
        raise errors.ChFdwError("identifier contains a NUL character",
                                errors.FDW_INVALID_ATTRIBUTE_VALUE)
    body = value.replace("'", "''")
    if "\\" in body:
        return "E'" + body.replace("\\", "\\\\") + "'"
    return "'" + body + "'"


def _ch_string(s: str) -> str:
    return "'" + s.replace("\\", "\\\\").replace("'", "\\'") + "'"


def columns_query(remote_db: str, list_type: str = "ALL",
                  tables: list[str] | None = None,
                  server_version=None) -> str:
    """ClickHouse SQL returning (table, name, type, position) for the tables
    and views of remote_db, ordered by table and column position.  LIMIT TO
    / EXCEPT filtering is done here too (case-sensitive), and again in
    build_statements()."""
    lt = _list_type(list_type)
    tables = list(tables or [])
    db = _ch_string(remote_db)
    conds = [f"database = {db}", "is_temporary = 0",
             "engine NOT IN ('Dictionary', 'Set')",
             "NOT startsWith(name, '.inner')"]
    if lt == "LIMIT TO":
        conds.append("name IN (" + ", ".join(_ch_string(x) for x in tables) + ")"
                     if tables else "0")
    elif lt == "EXCEPT" and tables:
        conds.append("name NOT IN (" + ", ".join(_ch_string(x) for x in tables) + ")")
    # system.columns.position exists since ClickHouse 20; before, the rows of
    # system.columns come in column order.
    v = tuple(server_version) if server_version is not None else (99,)
    pos = "rowNumberInAllBlocks()" if v < (20,) else "position"
    where = (f"database = {db} AND table IN (SELECT name FROM system.tables "
             f"WHERE {' AND '.join(conds)})")
    # When no column matches, one sentinel row ('', '', '', 0) says that the
    # database exists; no row at all means it does not (build_statements
    # raises then).
    return (f"SELECT table, name, type, {pos} AS position FROM system.columns "
            f"WHERE {where} ORDER BY table, position "
            f"UNION ALL SELECT '', '', '', toUInt64(0) FROM system.databases "
            f"WHERE name = {db} AND (SELECT count() FROM system.columns WHERE {where}) = 0")


def _list_type(list_type: str) -> str:
    lt = " ".join((list_type or "ALL").upper().replace("_", " ").split())
    if lt in ("ALL", "FDW IMPORT SCHEMA ALL"):
        return "ALL"
    if lt in ("LIMIT TO", "LIMIT", "FDW IMPORT SCHEMA LIMIT TO"):
        return "LIMIT TO"
    if lt in ("EXCEPT", "FDW IMPORT SCHEMA EXCEPT"):
        return "EXCEPT"
    raise errors.ChFdwError(f"invalid IMPORT FOREIGN SCHEMA list type {list_type!r}",
                            errors.FDW_ERROR)


def _bool_option(name: str, value: str) -> bool:
    v = str(value).strip().lower()
    if v in ("true", "on", "yes", "1", "t", "y"):
        return True
    if v in ("false", "off", "no", "0", "f", "n"):
        return False
    raise errors.ChFdwError(
        f"invalid value for boolean option \"{name}\": {value}",
        errors.FDW_INVALID_ATTRIBUTE_VALUE)


def build_statements(rows: Iterable, *, server_name: str, local_schema: str,
                     remote_db: str, list_type: str = "ALL",
                     tables: list[str] | None = None,
                     options: dict[str, str] | None = None) -> list[str]:
    """One CREATE FOREIGN TABLE per remote table.

    rows: (table, column, type[, position]) tuples, e.g. from columns_query();
    tables keep the order of first appearance, columns are ordered by
    position when given, else by appearance."""
    opts = dict(options or {})
    for k in opts:
        if k not in IMPORT_OPTIONS:
            raise errors.ChFdwError(
                f'invalid option "{k}" for IMPORT FOREIGN SCHEMA',
                errors.FDW_INVALID_OPTION_NAME,
                hint="Valid options in this context are: " +
                     ", ".join(sorted(IMPORT_OPTIONS)))
    not_null_opt = _bool_option("import_not_null",
                                opts.get("import_not_null", "true"))
    unknown_opt = _bool_option("import_unknown_types",
                               opts.get("import_unknown_types", "true"))
    lt = _list_type(list_type)
    wanted = set(tables or [])

    by_table: dict[str, list] = {}
    rows = list(rows)
    if not rows:
        # columns_query() returns a sentinel row for an existing database
        raise errors.ChFdwError(
            f'ClickHouse database "{remote_db}" does not exist on server "{server_name}"',
            FDW_SCHEMA_NOT_FOUND,
            hint="IMPORT FOREIGN SCHEMA takes a ClickHouse database name, which is "
                 "case-sensitive; quote it, e.g. IMPORT FOREIGN SCHEMA \"MyDb\".")
    for i, row in enumerate(rows):
        row = tuple(row)
        table, col, ch_type = row[0], row[1], row[2]
        if ch_type == "":
            continue                  # the "database exists" sentinel
        pos = row[3] if len(row) > 3 and row[3] is not None else i
        if lt == "LIMIT TO" and table not in wanted:
            continue
        if lt == "EXCEPT" and table in wanted:
            continue
        by_table.setdefault(table, []).append((pos, i, col, ch_type))

    stmts = []
    for table, cols in by_table.items():
        cols.sort(key=lambda c: (c[0], c[1]))
        lines = []
        for _, _, col, ch_type in cols:
            try:
                pg, not_null, known = pg_type_info(parse_type(ch_type))
            except errors.ChFdwError:
                pg, not_null, known = "text", True, False
            if not known and not unknown_opt:
                continue
            local = _local_name(col)
            line = f"  {quote_ident(local)} {pg}"
            if local != col:
                line += f" OPTIONS (column_name {quote_literal(col)})"
            if not_null and not_null_opt:
                line += " NOT NULL"
            if not known:
                line += f"  /* ClickHouse type {ch_type.replace('*/', '* /')} read as text */"
            lines.append(line)
        # comments must not swallow the separating commas
        body = []
        for k, line in enumerate(lines):
            sep = "," if k < len(lines) - 1 else ""
            if "/*" in line:
                code, comment = line.split("  /*", 1)
                body.append(f"{code}{sep}  /*{comment}")
            else:
                body.append(line + sep)
        local_table = _local_name(table)
        stmt = (f"CREATE FOREIGN TABLE {quote_ident(local_schema)}."
                f"{quote_ident(local_table)} (\n" + "\n".join(body) +
                ("\n" if body else "") +
                f") SERVER {quote_ident(server_name)}\n"
                f"OPTIONS (dbname {quote_literal(remote_db)}, "
                f"table_name {quote_literal(table)})")
        stmts.append(stmt)
    return stmts


def _local_name(name: str) -> str:
    """The remote name, truncated to PostgreSQL's NAMEDATALEN-1 bytes on a
    character boundary (PostgreSQL would truncate it itself, silently)."""
    b = name.encode("utf-8")
    if len(b) < NAMEDATALEN:
        return name
    return b[:NAMEDATALEN - 1].decode("utf-8", "ignore")
