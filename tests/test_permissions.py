"""Privileges are checked on both planning paths, on every PostgreSQL version.

The plan of a query pushed down whole is built by ch_fdw, not by the
standard planner, so it must carry what the executor checks: up to 15 each
range table entry's requiredPerms, from 16 on the RTEPermissionInfo list
(including those of nested subqueries).  Through a view, tables are read
with the view owner's rights.
"""

from __future__ import annotations

import psycopg
import pytest

from helpers import explain, foreign_table

PUSHED = "Custom Scan (ClickHouseQuery)"


@pytest.fixture
def perm(pg, modern, uniq):
    """Foreign tables <uniq>_a (granted to the role) and <uniq>_b (not), and
    a view over _b that the role may read; yields (pg, role, a, b, view)."""
    srv, role = f"perm_{uniq}", f"role_{uniq}"
    a, b, view = f"{uniq}_a", f"{uniq}_b", f"{uniq}_v"
    pg.execute(f"CREATE SERVER {srv} FOREIGN DATA WRAPPER ch_fdw OPTIONS ({modern.server_options})")
    pg.execute(f"CREATE USER MAPPING FOR PUBLIC SERVER {srv} OPTIONS (user 'default', password '')")
    for t in (a, b):
        foreign_table(pg, modern, srv, t, "id Int64", "id bigint", [(1,), (2,), (3,)], ["id"])
    pg.execute(f"CREATE VIEW {view} AS SELECT id FROM {b} WHERE id > 1")
    pg.execute(f"CREATE ROLE {role}")
    pg.execute(f"GRANT SELECT ON {a}, {view} TO {role}")
    yield pg, role, a, b, view
    pg.execute("RESET ROLE")
    pg.execute(f"DROP OWNED BY {role}")
    pg.execute(f"DROP ROLE {role}")
    pg.execute(f"DROP SERVER {srv} CASCADE")


def as_role(pg, role, sql):
    pg.execute(f"SET ROLE {role}")
    try:
        return pg.execute(sql).fetchall()
    finally:
        pg.execute("RESET ROLE")


@pytest.mark.parametrize("pushdown", ["on", "off"])
def test_granted_table_reads(perm, pushdown):
    pg, role, a, _, _ = perm
    pg.execute(f"SET ch_fdw.query_pushdown = {pushdown}")
    q = f"SELECT count(*), sum(id) FROM {a}"
    assert (PUSHED in explain(pg, q)) == (pushdown == "on")
    assert as_role(pg, role, q) == [(3, 6)]


@pytest.mark.parametrize("pushdown", ["on", "off"])
@pytest.mark.parametrize("where", ["top", "nested"])
def test_table_without_select_is_refused(perm, pushdown, where):
    pg, role, a, b, _ = perm
    pg.execute(f"SET ch_fdw.query_pushdown = {pushdown}")
    q = (f"SELECT count(*) FROM {b}" if where == "top"
         else f"SELECT count(*) FROM {a} WHERE id IN (SELECT id FROM {b})")
    # As the superuser the query takes the path under test ...
    assert (PUSHED in explain(pg, q)) == (pushdown == "on")
    # ... and the role without SELECT on b gets PostgreSQL's own error.
    with pytest.raises(psycopg.errors.InsufficientPrivilege, match=f'permission denied for foreign table {b}'):
        as_role(pg, role, q)


def test_view_reads_with_owner_rights(perm):
    pg, role, _, b, view = perm
    q = f"SELECT count(*) FROM {view}"
    plan = explain(pg, q)
    # A view is not pushed down whole (on 16+ it is a subquery entry, on 15 a
    # relation entry inside one: refused alike), its table is scanned.
    assert PUSHED not in plan and f"Foreign Scan on public.{b}" in plan, plan
    assert as_role(pg, role, q) == [(2,)]
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        as_role(pg, role, f"SELECT count(*) FROM {b}")
