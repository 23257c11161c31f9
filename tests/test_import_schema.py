"""Tests of ch_fdw.import_schema: the listing SQL runs on ClickHouse 18.16 and
on a modern ClickHouse; the generated statements run in PostgreSQL 15 (with
a validator-less FDW so that only the SQL itself is checked)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(0, str(Path(__file__).parent.parent))

from ch_fdw import errors  # noqa: E402
from ch_fdw.errors import ChFdwError  # noqa: E402
from ch_fdw.import_schema import (build_statements, columns_query,  # noqa: E402
                                  quote_ident, quote_literal)
from test_types import ch18, modern, pg  # noqa: E402,F401  (fixtures)


def test_quote_ident():
    assert quote_ident("events") == "events"
    assert quote_ident("Events") == '"Events"'
    assert quote_ident("select") == '"select"'
    assert quote_ident("user") == '"user"'
    assert quote_ident("a b") == '"a b"'
    assert quote_ident('we"ird') == '"we""ird"'
    assert quote_ident("1abc") == '"1abc"'
    assert quote_ident("ünï") == '"ünï"'
    assert quote_ident("_x1") == "_x1"


def test_quote_literal():
    assert quote_literal("it's") == "'it''s'"
    assert quote_literal("a\\b") == "E'a\\\\b'"


ROWS = [
    ("Events", "Id", "UInt64", 1),
    ("Events", "when", "DateTime('UTC')", 2),
    ("Events", "payload", "Nullable(String)", 3),
    ("Events", "tags", "Array(LowCardinality(String))", 4),
    ("Events", "st", "AggregateFunction(uniq, UInt64)", 5),
    ("Events", "odd", "SomethingNew(3)", 6),
    ("plain", "x", "Int32", 1),
    ("it's", "a b", "Decimal(9, 2)", 1),
]


def _one(stmts, name):
    hits = [s for s in stmts if f".{name} (" in s or f'."{name}" (' in s]
    assert len(hits) == 1, stmts
    return hits[0]


def test_build_statements_shape():
    stmts = build_statements(ROWS, server_name="My Server", local_schema="public",
                             remote_db="db'1", list_type="ALL", tables=[],
                             options={})
    assert len(stmts) == 3
    ev = _one(stmts, "Events")
    assert ev.startswith('CREATE FOREIGN TABLE public."Events" (')
    assert '"Id" numeric(20,0) NOT NULL' in ev
    assert '"when" timestamp(0) with time zone NOT NULL' in ev
    assert "payload text," in ev and "payload text NOT NULL" not in ev
    assert "tags text[] NOT NULL" in ev
    assert "st bytea NOT NULL" in ev
    assert "odd text NOT NULL" in ev and "SomethingNew(3)" in ev
    assert 'SERVER "My Server"' in ev
    assert "OPTIONS (dbname 'db''1', table_name 'Events')" in ev
    assert "column_name" not in ev
    q = _one(stmts, "it's")
    assert "table_name 'it''s'" in q and '"a b" numeric(9,2) NOT NULL' in q


def test_limit_to_and_except_are_case_sensitive():
    s = build_statements(ROWS, server_name="s", local_schema="l", remote_db="d",
                         list_type="LIMIT TO", tables=["events", "plain"], options={})
    assert len(s) == 1 and "l.plain" in s[0]
    s = build_statements(ROWS, server_name="s", local_schema="l", remote_db="d",
                         list_type="EXCEPT", tables=["Events"], options={})
    assert len(s) == 2 and not any('"Events"' in x for x in s)


def test_import_options():
    s = build_statements(ROWS, server_name="s", local_schema="l", remote_db="d",
                         list_type="ALL", tables=[],
                         options={"import_not_null": "false",
                                  "import_unknown_types": "false"})
    ev = _one(s, "Events")
    assert "NOT NULL" not in ev and "odd" not in ev
    with pytest.raises(ChFdwError) as ei:
        build_statements(ROWS, server_name="s", local_schema="l", remote_db="d",
                         list_type="ALL", tables=[], options={"bogus": "1"})
    assert ei.value.sqlstate == errors.FDW_INVALID_OPTION_NAME
    assert "bogus" in ei.value.message
    with pytest.raises(ChFdwError) as ei:
        build_statements(ROWS, server_name="s", local_schema="l", remote_db="d",
                         list_type="ALL", tables=[],
                         options={"import_not_null": "maybe"})
    assert ei.value.sqlstate == errors.FDW_INVALID_ATTRIBUTE_VALUE


def test_long_names_get_column_name_option():
    long = "c" * 70
    s = build_statements([("t", long, "Int8", 1)], server_name="s",
                         local_schema="l", remote_db="d", list_type="ALL",
                         tables=[], options={})
    assert f"{'c' * 63} smallint OPTIONS (column_name '{long}') NOT NULL" in s[0]


def _setup_pg(pg):
    pg.conn.execute("DROP SCHEMA IF EXISTS imp CASCADE")
    pg.conn.execute("CREATE SCHEMA imp")
    pg.conn.execute("DROP SERVER IF EXISTS \"My Server\" CASCADE")
    pg.conn.execute("DROP FOREIGN DATA WRAPPER IF EXISTS dummy_fdw CASCADE")
    pg.conn.execute("CREATE FOREIGN DATA WRAPPER dummy_fdw")
    pg.conn.execute('CREATE SERVER "My Server" FOREIGN DATA WRAPPER dummy_fdw')


def _columns(pg, table):
    return pg.conn.execute(
        "SELECT attname, format_type(atttypid, atttypmod), attnotnull "
        "FROM pg_attribute WHERE attrelid = %s::regclass AND attnum > 0 "
        "ORDER BY attnum", (table,)).fetchall()


def test_statements_run_in_postgres(pg):
    _setup_pg(pg)
    rows = ROWS + [("t2", "long" * 20, "Int8", 1), ("t2", "ok", "Map(String, UInt8)", 2)]
    for s in build_statements(rows, server_name="My Server", local_schema="imp",
                              remote_db="d", list_type="ALL", tables=[], options={}):
        pg.conn.execute(s)
    assert _columns(pg, 'imp."Events"') == [
        ("Id", "numeric(20,0)", True), ("when", "timestamp(0) with time zone", True),
        ("payload", "text", False), ("tags", "text[]", True),
        ("st", "bytea", True), ("odd", "text", True)]
    assert _columns(pg, 'imp."it\'s"') == [("a b", "numeric(9,2)", True)]
    opts = pg.conn.execute("SELECT ftoptions FROM pg_foreign_table "
                           "WHERE ftrelid = 'imp.\"it''s\"'::regclass").fetchone()[0]
    assert opts == ["dbname=d", "table_name=it's"]
    assert _columns(pg, "imp.t2")[0][0] == ("long" * 20)[:63]


def _import_end_to_end(pg, rows, db):
    _setup_pg(pg)
    stmts = build_statements(rows, server_name="My Server", local_schema="imp",
                             remote_db=db, list_type="ALL", tables=[], options={})
    for s in stmts:
        pg.conn.execute(s)
    return stmts


def test_ch18_import(ch18, pg):
    ch18.execute("CREATE DATABASE IF NOT EXISTS `Imp DB`")
    ch18.execute("DROP TABLE IF EXISTS `Imp DB`.`Events`")
    ch18.execute("DROP TABLE IF EXISTS `Imp DB`.events")
    ch18.execute("CREATE TABLE `Imp DB`.`Events` (`Zeta` UInt8, alpha Nullable(String), "
                 "`select` Array(Int32), `d` Decimal(18, 4), `a.b` String) ENGINE = Memory")
    ch18.execute("CREATE TABLE `Imp DB`.events (x Int64) ENGINE = Memory")
    ch18.execute("CREATE VIEW IF NOT EXISTS `Imp DB`.v AS SELECT 1 AS one")
    q = columns_query("Imp DB", "LIMIT TO", ["Events", "v"], ch18.server_version)
    rows = ch18.execute(q)
    assert {r[0] for r in rows} == {"Events", "v"}
    _import_end_to_end(pg, rows, "Imp DB")
    assert _columns(pg, 'imp."Events"') == [
        ("Zeta", "smallint", True), ("alpha", "text", False),
        ("select", "integer[]", True), ("d", "numeric(18,4)", True),
        ("a.b", "text", True)]
    assert _columns(pg, "imp.v") == [("one", "smallint", True)]
    rows = ch18.execute(columns_query("Imp DB", "EXCEPT", ["Events"], ch18.server_version))
    assert {r[0] for r in rows} == {"events", "v"}


def test_modern_import(modern, pg):
    modern.command("CREATE DATABASE IF NOT EXISTS imp_db")
    modern.command("DROP TABLE IF EXISTS imp_db.`Mixed`")
    modern.command("CREATE TABLE imp_db.`Mixed` (z Int8, `A` Nullable(DateTime64(3, 'UTC')), "
                   "m Map(String, Array(UInt8)), lc LowCardinality(Nullable(String)), "
                   "n Nested(x Int32, y String)) ENGINE = MergeTree ORDER BY z")
    v = tuple(int(x) for x in modern.server_version.split("."))
    rows = modern.query(columns_query("imp_db", "ALL", [], v)).result_rows
    _import_end_to_end(pg, rows, "imp_db")
    assert _columns(pg, 'imp."Mixed"') == [
        ("z", "smallint", True), ("A", "timestamp(3) with time zone", False),
        ("m", "jsonb", True), ("lc", "text", False),
        ("n.x", "integer[]", True), ("n.y", "text[]", True)]
