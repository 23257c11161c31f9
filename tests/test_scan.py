"""Per-table scans through the real extension: projection, WHERE, ORDER BY
and LIMIT pushdown (asserted on EXPLAIN's Remote SQL), local fallback, and
parameters.  Runs against every engine."""

from __future__ import annotations

import pytest

from helpers import explain, foreign_table, remote_sql

ROWS = [(i, f"name{i}", None if i % 4 == 0 else i * 0.5, "x%_\\'" if i == 7 else f"s{i % 3}")
        for i in range(1, 21)]


@pytest.fixture
def events(pg, engine, server, uniq):
    foreign_table(pg, engine, server, uniq,
                  "id Int64, name String, score Nullable(Float64), tag String",
                  "id bigint, name text, score float8, tag text",
                  ROWS, ["id", "name", "score", "tag"],
                  engine_clause="MergeTree ORDER BY id")
    return uniq


def test_select_all_rows(pg, events):
    got = pg.execute(f"SELECT id, name, score, tag FROM {events} ORDER BY id").fetchall()
    assert got == [tuple(r) for r in ROWS]


def test_only_referenced_columns_are_fetched(pg, events):
    [sql] = remote_sql(pg, f"SELECT name FROM {events}")
    assert "`name`" in sql and "`score`" not in sql and "`id`" not in sql


def test_count_star_fetches_no_column(pg, events):
    assert pg.execute(f"SELECT count(*) FROM {events}").fetchone()[0] == 20
    [sql] = remote_sql(pg, f"SELECT count(*) FROM {events}")
    assert sql.startswith("SELECT 1 FROM")


@pytest.fixture(autouse=True)
def per_table_path(pg):
    """These tests are about the per-table scan path."""
    pg.execute("SET ch_fdw.query_pushdown = off")
