"""Small helpers shared by the integration tests."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

# The PostgreSQL under test: the one whose pg_config is in $PG_CONFIG
# (dev/run passes it), else Debian's 15.
PG_CONFIG = os.environ.get("PG_CONFIG") or "/usr/lib/postgresql/15/bin/pg_config"
PG_BIN = Path(subprocess.check_output([PG_CONFIG, "--bindir"], text=True).strip())


def explain(pg, sql: str, params=None, verbose: bool = True) -> str:
    opts = "VERBOSE, COSTS OFF" if verbose else "COSTS OFF"
    rows = pg.execute(f"EXPLAIN ({opts}) {sql}", params).fetchall()
    return "\n".join(r[0] for r in rows)


def remote_sql(pg, sql: str, params=None) -> list[str]:
    """The Remote SQL line(s) of the query's plan."""
    return re.findall(r"Remote SQL: (.*)", explain(pg, sql, params))


def foreign_table(pg, engine, server: str, name: str, ch_columns: str, pg_columns: str,
                  rows: list[tuple] | None = None, column_names: list[str] | None = None,
                  engine_clause: str = "MergeTree ORDER BY tuple()") -> None:
    """Create ClickHouse table default.<name> and foreign table <name>."""
    engine.command(f"DROP TABLE IF EXISTS default.{name}")
    engine.command(f"CREATE TABLE default.{name} ({ch_columns}) ENGINE = {engine_clause}")
    if rows:
        engine.insert(f"default.{name}", rows, column_names)
    pg.execute(f"DROP FOREIGN TABLE IF EXISTS {name}")
    pg.execute(f"CREATE FOREIGN TABLE {name} ({pg_columns}) SERVER {server} "
               f"OPTIONS (table_name '{name}')")
