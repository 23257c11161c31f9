"""IMPORT FOREIGN SCHEMA end to end: psycopg -> PostgreSQL 15 -> ch_fdw ->
ClickHouse, on every engine of the `engine` fixture.  ALL / LIMIT TO /
EXCEPT, mixed-case and hostile names (quotes, spaces, backticks, keywords,
dots, non-ASCII) that import and are queryable on both planning paths,
NOT NULL marking, import options, and clear errors for a bad option or a
remote database that does not exist."""

from __future__ import annotations

import psycopg
import pytest
from psycopg import sql

from test_e2e_types import PATHS, _backend, ch, column_types, pg, read  # noqa: F401 (fixtures)

MIXED = "Mixed Case"
HOSTILE = "it's \"q\" `b` \\ x"
KEYWORD = "user"
PLAIN = "events"
TABLES = [PLAIN, MIXED, HOSTILE, KEYWORD]

# (ClickHouse column name, ClickHouse type, PostgreSQL type, NOT NULL, literal, psycopg value)
MIXED_COLUMNS = [
    ("Id", "UInt8", "smallint", True, "1", 1),
    ("select", "Nullable(String)", "text", False, "NULL", None),
    ('we"ird', "Int32", "integer", True, "-1", -1),
    ("back`tick", "String", "text", True, "'bt'", "bt"),
    ("with space", "Float64", "double precision", True, "1.5", 1.5),
    ("ünï", "String", "text", True, "'ü😀'", "ü😀"),
    ("UPPER", "Nullable(Int64)", "bigint", False, "7", 7),
    ("a.b", "Array(Nullable(Int32))", "integer[]", True, "[1, NULL]", [1, None]),
]


def ch_ident(name: str) -> str:
    return "`" + name.replace("\\", "\\\\").replace("`", "\\`") + "`"


def ch_string(s: str) -> str:
    return "'" + s.replace("\\", "\\\\").replace("'", "\\'") + "'"


def ident(pg, *names: str) -> str:
    return sql.Identifier(*names).as_string(pg)


@pytest.fixture
def remote_db(ch, uniq):
    """A ClickHouse database "Db <uniq>" (mixed case, a space) with four tables."""
    db = f"Db {uniq}"
    ch(f"DROP DATABASE IF EXISTS {ch_ident(db)}")
    ch(f"CREATE DATABASE {ch_ident(db)}")
    q = ch_ident(db) + "."
    ch(f"CREATE TABLE {q}{ch_ident(PLAIN)} (id Int64, note Nullable(String)) ENGINE = Memory")
    cols = ", ".join(f"{ch_ident(n)} {t}" for n, t, *_ in MIXED_COLUMNS)
    ch(f"CREATE TABLE {q}{ch_ident(MIXED)} ({cols}) ENGINE = Memory")
    ch(f"INSERT INTO {q}{ch_ident(MIXED)} VALUES ({', '.join(c[4] for c in MIXED_COLUMNS)})")
    ch(f"CREATE TABLE {q}{ch_ident(HOSTILE)} (x Int8) ENGINE = Memory")
    ch(f"INSERT INTO {q}{ch_ident(HOSTILE)} VALUES (42)")
    ch(f"CREATE TABLE {q}{ch_ident(KEYWORD)} ({ch_ident('order')} Int8) ENGINE = Memory")
    yield db
    ch(f"DROP DATABASE IF EXISTS {ch_ident(db)}")


def import_into(pg, server: str, remote: str, local: str, clause: str = "", options: str = ""):
    pg.execute(f"CREATE SCHEMA {ident(pg, local)}")
    pg.execute(f"IMPORT FOREIGN SCHEMA {ident(pg, remote)} {clause} FROM SERVER {server} "
               f"INTO {ident(pg, local)} {options}")


def imported(pg, local: str) -> dict[str, list[str]]:
    rows = pg.execute(
        "SELECT c.relname, ft.ftoptions FROM pg_foreign_table ft "
        "JOIN pg_class c ON c.oid = ft.ftrelid JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE n.nspname = %s", (local,)).fetchall()
    return {r[0]: sorted(r[1]) for r in rows}


def test_import_all(pg, server, remote_db, uniq):
    import_into(pg, server, remote_db, f"all_{uniq}")
    got = imported(pg, f"all_{uniq}")
    assert set(got) == set(TABLES)
    for t in TABLES:
        assert got[t] == sorted([f"dbname={remote_db}", f"table_name={t}"]), t


def test_import_limit_to(pg, server, remote_db, uniq):
    clause = f"LIMIT TO ({ident(pg, MIXED)}, {PLAIN}, {ident(pg, 'no such table')})"
    import_into(pg, server, remote_db, f"lim_{uniq}", clause)
    assert set(imported(pg, f"lim_{uniq}")) == {MIXED, PLAIN}


def test_import_limit_to_is_case_sensitive(pg, server, remote_db, uniq):
    # unquoted Mixed folds to mixed, which is not the ClickHouse name
    import_into(pg, server, remote_db, f"cs_{uniq}", 'LIMIT TO ("mixed case", EVENTS)')
    assert set(imported(pg, f"cs_{uniq}")) == {PLAIN}


def test_import_except(pg, server, remote_db, uniq):
    clause = f"EXCEPT ({ident(pg, MIXED)}, {ident(pg, HOSTILE)})"
    import_into(pg, server, remote_db, f"exc_{uniq}", clause)
    assert set(imported(pg, f"exc_{uniq}")) == {PLAIN, KEYWORD}


def test_hostile_names_import_and_are_queryable(pg, server, remote_db, uniq):
    local = f"Host {uniq}"
    import_into(pg, server, remote_db, local)
    rel = ident(pg, local, MIXED)
    assert column_types(pg, f"{rel}") == {n: (pt, nn) for n, _, pt, nn, _, _ in MIXED_COLUMNS}
    cols = ", ".join(ident(pg, n) for n, *_ in MIXED_COLUMNS)
    expected = tuple(c[5] for c in MIXED_COLUMNS)
    for path in PATHS:
        pg.execute(f"SET ch_fdw.query_pushdown = {'on' if path == PATHS[0] else 'off'}")
        assert pg.execute(f"SELECT {cols} FROM {rel}").fetchall() == [expected], path
        # each column on its own too (projection pushdown of one quoted name)
        for n, *_, value in MIXED_COLUMNS:
            got = pg.execute(f"SELECT {ident(pg, n)} FROM {rel}").fetchall()
            assert got == [(value,)], (path, n)
        assert pg.execute(f"SELECT x FROM {ident(pg, local, HOSTILE)}").fetchall() == [(42,)], path
        assert pg.execute(f'SELECT "order" FROM {ident(pg, local, KEYWORD)}').fetchall() == [], path
    pg.execute("RESET ch_fdw.query_pushdown")


def test_not_null_marking_and_import_not_null_option(pg, server, remote_db, uniq):
    import_into(pg, server, remote_db, f"nn_{uniq}", f"LIMIT TO ({PLAIN})")
    assert column_types(pg, f"nn_{uniq}.{PLAIN}") == {"id": ("bigint", True), "note": ("text", False)}
    import_into(pg, server, remote_db, f"nn2_{uniq}", f"LIMIT TO ({PLAIN})",
                "OPTIONS (import_not_null 'false')")
    assert column_types(pg, f"nn2_{uniq}.{PLAIN}") == {"id": ("bigint", False), "note": ("text", False)}


def test_unknown_import_option_is_rejected(pg, server, remote_db, uniq):
    with pytest.raises(psycopg.Error) as ei:
        import_into(pg, server, remote_db, f"opt_{uniq}", "", "OPTIONS (bogus_option 'x')")
    assert ei.value.sqlstate == "HV00D"                       # fdw_invalid_option_name
    assert '"bogus_option"' in ei.value.diag.message_primary
    assert "import_not_null" in (ei.value.diag.message_hint or "")
    with pytest.raises(psycopg.Error) as ei:
        import_into(pg, server, remote_db, f"opt2_{uniq}", "", "OPTIONS (import_not_null 'maybe')")
    assert ei.value.sqlstate == "HV024"                       # fdw_invalid_attribute_value
    assert "import_not_null" in ei.value.diag.message_primary


def test_nonexistent_remote_database_is_an_error(pg, server, uniq):
    missing = f"No Such Db {uniq}"
    with pytest.raises(psycopg.Error) as ei:
        import_into(pg, server, missing, f"miss_{uniq}")
    assert ei.value.sqlstate == "HV00Q", ei.value             # fdw_schema_not_found
    assert f'"{missing}"' in ei.value.diag.message_primary
    assert "does not exist" in ei.value.diag.message_primary


def test_empty_remote_database_imports_nothing(pg, ch, server, uniq):
    db = f"empty_{uniq}"
    ch(f"CREATE DATABASE {db}")
    try:
        import_into(pg, server, db, f"emp_{uniq}")
        assert imported(pg, f"emp_{uniq}") == {}
        import_into(pg, server, db, f"emp2_{uniq}", "LIMIT TO (nothing_here)")
        assert imported(pg, f"emp2_{uniq}") == {}
    finally:
        ch(f"DROP DATABASE IF EXISTS {db}")
