"""Smoke test of a build: the extension loads (preloaded), IMPORT FOREIGN
SCHEMA, one query pushed down whole and one planned per table, against the
modern engine (whole-query pushdown needs ClickHouse >= 24.3).

CI runs only this file on the PostgreSQL versions it does not run the whole
suite on (see .ci/run); on the others it is part of the suite.
"""

from __future__ import annotations

import subprocess

from helpers import PG_CONFIG, explain, foreign_table


def test_server_is_the_one_built_for(pg):
    """The fixtures started the PostgreSQL of $PG_CONFIG, with ch_fdw preloaded."""
    built = subprocess.check_output([PG_CONFIG, "--version"], text=True).split()[1]
    assert pg.execute("SHOW server_version").fetchone()[0].split()[0] == built
    assert "ch_fdw" in pg.execute("SHOW shared_preload_libraries").fetchone()[0]
    assert pg.execute("SELECT extversion FROM pg_extension WHERE extname = 'ch_fdw'").fetchone() == ("0.1.0",)


def test_import_pushed_and_per_table(pg, modern, uniq):
    db = f"smoke_{uniq}"
    modern.command(f"CREATE DATABASE IF NOT EXISTS {db}")
    modern.command(f"CREATE TABLE {db}.events (id Int64, kind String, v Nullable(Float64)) "
                   "ENGINE = MergeTree ORDER BY id")
    modern.insert(f"{db}.events", [(1, "a", 1.5), (2, "b", None), (3, "a", 2.5)], ["id", "kind", "v"])
    pg.execute(f"CREATE SERVER {db} FOREIGN DATA WRAPPER ch_fdw OPTIONS ({modern.server_options})")
    pg.execute(f"CREATE USER MAPPING FOR CURRENT_USER SERVER {db} OPTIONS (user 'default', password '')")
    pg.execute(f"CREATE SCHEMA {db}")
    pg.execute(f"IMPORT FOREIGN SCHEMA {db} FROM SERVER {db} INTO {db}")
    cols = pg.execute("SELECT column_name, data_type, is_nullable FROM information_schema.columns "
                      "WHERE table_schema = %s AND table_name = 'events' ORDER BY ordinal_position",
                      (db,)).fetchall()
    assert cols == [("id", "bigint", "NO"), ("kind", "text", "NO"), ("v", "double precision", "YES")]

    # Whole query: one CustomScan that returns the final rows.
    q = f"SELECT kind, count(*), sum(v) FROM {db}.events GROUP BY kind ORDER BY count(*) DESC"
    plan = explain(pg, q)
    assert "Custom Scan (ClickHouseQuery)" in plan, plan
    assert pg.execute(q).fetchall() == [("a", 2, 4.0), ("b", 1, None)]

    # Per table: a join with a local table leaves only the scan to ClickHouse.
    pg.execute(f"CREATE TABLE {db}.kinds (kind text, label text)")
    pg.execute(f"INSERT INTO {db}.kinds VALUES ('a', 'alpha'), ('b', 'beta')")
    q = (f"SELECT e.id, k.label FROM {db}.events e JOIN {db}.kinds k USING (kind) "
         "WHERE e.id >= 2 ORDER BY e.id")
    plan = explain(pg, q)
    assert "Foreign Scan" in plan and "Custom Scan" not in plan, plan
    assert "Remote SQL:" in plan and ">= 2" in plan, plan
    assert pg.execute(q).fetchall() == [(2, "beta"), (3, "alpha")]


def test_explain_of_pushed_window_function(pg, modern, uniq):
    """EXPLAIN VERBOSE of a pushed window function: each version's own form.
    18 prints a window's definition only from a WindowAgg node, which a
    pushed query has none of, so there it is a plain call."""
    srv = f"smokew_{uniq}"
    pg.execute(f"CREATE SERVER {srv} FOREIGN DATA WRAPPER ch_fdw OPTIONS ({modern.server_options})")
    pg.execute(f"CREATE USER MAPPING FOR CURRENT_USER SERVER {srv} OPTIONS (user 'default', password '')")
    foreign_table(pg, modern, srv, uniq, "id Int64, g Int64", "id bigint, g bigint",
                  [(1, 1), (2, 1), (3, 2)], ["id", "g"])
    q = f"SELECT id, row_number() OVER (PARTITION BY g ORDER BY id) FROM {uniq} ORDER BY id"
    plan = explain(pg, q)
    assert "Custom Scan (ClickHouseQuery)" in plan, plan
    expected = "(row_number())" if pg.info.server_version >= 180000 else "(row_number() OVER (?))"
    assert f"Output: id, {expected}" in plan, plan
    assert "row_number() OVER (PARTITION BY" in plan, plan    # the Remote SQL has it whole
    assert pg.execute(q).fetchall() == [(1, 1), (2, 2), (3, 1)]
