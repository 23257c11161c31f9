"""How much of a MergeTree table a ClickHouse query selects through its
partition and primary keys: `EXPLAIN indexes = 1` on the modern engine, which
prints, per index it used, lines such as `Parts: 3/10` and `Granules: 5/782`
(selected/total, the last index being the final selection).  A query whose
plan has no index section reads every granule.

compare_granules() runs the Remote SQL ch_fdw sends (from EXPLAIN VERBOSE)
and a hand-written ClickHouse query through it, so a test can assert that
ch_fdw selects no more parts and granules than the natural query."""

from __future__ import annotations

import re
from dataclasses import dataclass

import psycopg
import pytest

from helpers import explain

_COUNT = re.compile(r"^\s*(Parts|Granules):\s*(\d+)/(\d+)")


@dataclass(frozen=True)
class Selection:
    parts: int | None        # None: no index used (every part)
    granules: int | None     # None: no index used (every granule)
    total_granules: int | None

    def covers_at_most(self, other: "Selection") -> bool:
        """Selects no more parts and granules than other."""
        def le(a, b):
            return b is None or (a is not None and a <= b)
        return le(self.parts, other.parts) and le(self.granules, other.granules)


def selection(engine, sql: str) -> Selection:
    """Parts and granules `sql` selects, from EXPLAIN indexes = 1."""
    rows = engine.query(f"EXPLAIN indexes = 1 {sql}")
    parts = granules = total = None
    for (line,) in rows:
        m = _COUNT.match(line)
        if m is None:
            continue
        if m.group(1) == "Parts":
            parts = int(m.group(2))
        else:
            granules, total = int(m.group(2)), int(m.group(3))
    return Selection(parts, granules, total)


def remote_sqls(pg, pg_sql: str, params=None) -> list[str]:
    return re.findall(r"Remote SQL: (.*)", explain(pg, pg_sql, params))


def compare_granules(pg, engine, pg_sql: str, natural_sql: str, params=None
                     ) -> tuple[Selection, Selection]:
    """(ch_fdw's selection, the natural query's), for a query reading one
    foreign table; the caller asserts on them."""
    sqls = remote_sqls(pg, pg_sql, params)
    assert len(sqls) == 1, f"expected one remote query: {sqls}"
    return selection(engine, sqls[0]), selection(engine, natural_sql)


# ------------------------------------------------------------------ a C-collation database
# Text ordering (<, BETWEEN, ORDER BY) is pushed only when the database's
# collation is C; the session database is C.UTF-8.  Tests of text keys use
# their own database created with LC_COLLATE 'C'.

@pytest.fixture(scope="session")
def c_dsn(postgresql_proc) -> str:
    p = postgresql_proc
    base = f"host={p.host} port={p.port} user={p.user}"
    with psycopg.connect(base + " dbname=postgres", autocommit=True) as c:
        c.execute("DROP DATABASE IF EXISTS chfdw_c_collation")
        c.execute("CREATE DATABASE chfdw_c_collation TEMPLATE template0 ENCODING 'UTF8' "
                  "LC_COLLATE 'C' LC_CTYPE 'C.UTF-8'")
    dsn = base + " dbname=chfdw_c_collation"
    with psycopg.connect(dsn, autocommit=True) as c:
        c.execute("CREATE EXTENSION ch_fdw")
    return dsn


@pytest.fixture
def cpg(c_dsn):
    """A session on the C-collation database (like conftest's pg)."""
    with psycopg.connect(c_dsn, autocommit=True) as c:
        yield c


@pytest.fixture
def cserver(engine, cpg) -> str:
    """A ch_fdw server for engine in the C-collation database."""
    name = engine.name.replace("-", "_")
    # asked of the database, not remembered: each test module importing
    # these fixtures runs c_dsn once, re-creating the database
    if cpg.execute("SELECT 1 FROM pg_foreign_server WHERE srvname = %s", (name,)).fetchone() is None:
        cpg.execute(f"CREATE SERVER {name} FOREIGN DATA WRAPPER ch_fdw OPTIONS ({engine.server_options})")
        cpg.execute(f"CREATE USER MAPPING FOR CURRENT_USER SERVER {name} OPTIONS (user 'default', password '')")
    return name
