"""COPY with a column list: the columns COPY does not list get ClickHouse's
DEFAULT/MATERIALIZED values, as INSERT with a column list gives them; an
explicit NULL in the data stays NULL.  Runs on every engine."""

from __future__ import annotations

import psycopg
import pytest

from helpers import foreign_table


@pytest.fixture(scope="module")
def pg(pg_dsn):
    with psycopg.connect(pg_dsn, autocommit=True) as c:
        yield c


CH_COLUMNS = ("id Int64, s String, d String DEFAULT concat('d', toString(id)), "
              "m Int64 MATERIALIZED id * 2, n Nullable(Int32) DEFAULT 7")
PG_COLUMNS = "id bigint, s text, d text, m bigint, n int"


def stored(engine, name):
    return engine.query(f"SELECT id, s, d, m, n FROM default.{name} ORDER BY id")


def copy_text(pg, sql: str, data: str) -> None:
    with pg.cursor() as cur, cur.copy(sql) as copy:
        copy.write(data.encode())


def test_copy_text_column_list_leaves_the_rest_to_clickhouse(pg, engine, server, uniq):
    foreign_table(pg, engine, server, uniq, CH_COLUMNS, PG_COLUMNS)
    copy_text(pg, f"COPY {uniq} (id, s) FROM STDIN", "1\ta\n2\tb\n")
    assert stored(engine, uniq) == [(1, "a", "d1", 2, 7), (2, "b", "d2", 4, 7)]


def test_copy_csv_other_order_and_explicit_null_kept(pg, engine, server, uniq):
    foreign_table(pg, engine, server, uniq, CH_COLUMNS, PG_COLUMNS)
    # n is listed: its NULL is data, not "use the default" (n is Nullable DEFAULT 7)
    copy_text(pg, f"COPY {uniq} (n, s, id) FROM STDIN (FORMAT csv)", ",x,1\n5,y,2\n")
    assert stored(engine, uniq) == [(1, "x", "d1", 2, None), (2, "y", "d2", 4, 5)]


def test_psycopg_copy_write_row_with_column_list(pg, engine, server, uniq):
    foreign_table(pg, engine, server, uniq, CH_COLUMNS, PG_COLUMNS)
    with pg.cursor() as cur, cur.copy(f"COPY {uniq} (s, id, d) FROM STDIN") as copy:
        for i in range(1, 1001):
            copy.write_row((f"s{i}", i, f"given{i}"))
    rows = stored(engine, uniq)
    assert len(rows) == 1000
    assert rows[0] == (1, "s1", "given1", 2, 7)
    assert rows[999] == (1000, "s1000", "given1000", 2000, 7)


def test_binary_copy_with_column_list(pg, engine, server, uniq):
    foreign_table(pg, engine, server, uniq, CH_COLUMNS, PG_COLUMNS)
    with pg.cursor() as cur, cur.copy(f"COPY {uniq} (id, n) FROM STDIN (FORMAT binary)") as copy:
        copy.set_types(["int8", "int4"])
        copy.write_row((1, None))
        copy.write_row((2, 3))
    assert stored(engine, uniq) == [(1, "", "d1", 2, None), (2, "", "d2", 4, 3)]


def test_explicit_null_into_non_nullable_listed_column_is_refused(pg, engine, server, uniq):
    foreign_table(pg, engine, server, uniq, CH_COLUMNS, PG_COLUMNS)
    with pytest.raises(psycopg.errors.NotNullViolation, match='column "d"'):
        copy_text(pg, f"COPY {uniq} (id, d) FROM STDIN", "1\t\\N\n")
    assert stored(engine, uniq) == []


def test_postgresql_default_of_an_unlisted_column_is_sent(pg, engine, server, uniq):
    foreign_table(pg, engine, server, uniq, CH_COLUMNS, "id bigint, s text DEFAULT 'pg', d text, n int")
    copy_text(pg, f"COPY {uniq} (id) FROM STDIN", "1\n")
    assert stored(engine, uniq) == [(1, "pg", "d1", 2, 7)]


def test_copy_without_column_list_sends_every_column(pg, engine, server, uniq):
    foreign_table(pg, engine, server, uniq, CH_COLUMNS, "id bigint, s text, d text, n int")
    copy_text(pg, f"COPY {uniq} FROM STDIN", "1\ta\tgiven\t\\N\n")
    assert stored(engine, uniq) == [(1, "a", "given", 2, None)]


def test_insert_select_unchanged(pg, engine, server, uniq):
    foreign_table(pg, engine, server, uniq, CH_COLUMNS, "id bigint, s text, d text, n int")
    pg.execute(f"INSERT INTO {uniq} (id, s) SELECT g, 'i' || g FROM generate_series(1, 2) g")
    pg.execute(f"INSERT INTO {uniq} SELECT 3, 'all', 'given', NULL")
    assert stored(engine, uniq) == [(1, "i1", "d1", 2, 7), (2, "i2", "d2", 4, 7), (3, "all", "given", 6, None)]


def test_rows_routed_through_a_partitioned_table(pg, engine, server, uniq):
    foreign_table(pg, engine, server, uniq, CH_COLUMNS, "id bigint, s text, d text, n int")
    pg.execute(f"DROP FOREIGN TABLE {uniq}")
    parent = f"{uniq}_p"
    pg.execute(f"DROP TABLE IF EXISTS {parent}")
    pg.execute(f"CREATE TABLE {parent} (id bigint, s text DEFAULT 'parent', d text, n int) PARTITION BY RANGE (id)")
    pg.execute(f"CREATE FOREIGN TABLE {uniq} PARTITION OF {parent} FOR VALUES FROM (0) TO (100) "
               f"SERVER {server} OPTIONS (table_name '{uniq}')")
    try:
        copy_text(pg, f"COPY {parent} (n, id) FROM STDIN", "\\N\t1\n")
        pg.execute(f"INSERT INTO {parent} (id) VALUES (2)")
        assert stored(engine, uniq) == [(1, "parent", "d1", 2, None), (2, "parent", "d2", 4, 7)]
    finally:
        pg.execute(f"DROP TABLE {parent}")


def test_before_row_trigger_sends_every_column(pg, engine, server, uniq):
    foreign_table(pg, engine, server, uniq, CH_COLUMNS, "id bigint, s text, d text, n int")
    pg.execute(f"CREATE FUNCTION {uniq}_trg() RETURNS trigger LANGUAGE plpgsql AS "
               "$$BEGIN NEW.d := 'trg'; RETURN NEW; END$$")
    pg.execute(f"CREATE TRIGGER t BEFORE INSERT ON {uniq} FOR EACH ROW EXECUTE FUNCTION {uniq}_trg()")
    try:
        copy_text(pg, f"COPY {uniq} (id, s) FROM STDIN", "1\ta\n")
        assert stored(engine, uniq) == [(1, "a", "trg", 2, None)]
    finally:
        pg.execute(f"DROP FUNCTION {uniq}_trg() CASCADE")
