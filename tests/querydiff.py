"""Run generated queries (tests/querygen.py) on local PostgreSQL tables and
through ch_fdw on the same data, and classify each outcome.

Outcomes:
  same          equal results (multisets; sequences when ORDER BY fixes the order)
  differs       different rows
  text          numerics equal up to the last digit of the shorter scale, or
                equal values of different text (numeric scale: 1.5 vs 1.50)
  chfdw_error   ch_fdw raised where PostgreSQL returned rows, or raised a
                different SQLSTATE class than PostgreSQL
  pg_error      PostgreSQL raised, ch_fdw returned rows
  both_error    both raised, same SQLSTATE class
  timeout       the local query hit statement_timeout (not compared)
  crash         the backend died (connection lost)

A database per collation (C, C.UTF-8, ICU en-US), all with TimeZone
America/New_York; schema ``gl`` holds the local tables, ``gf_<engine>`` the
foreign tables of each ClickHouse engine (ClickHouse database ``qgen``).
"""

from __future__ import annotations

import datetime as _dt
import math
import random
from collections import Counter
from dataclasses import dataclass, field
from decimal import Decimal

import psycopg

import querygen as G
from querygen_known import known_class

COLLATIONS = {
    "c": "LC_COLLATE 'C' LC_CTYPE 'C.UTF-8'",
    "cutf8": "LC_COLLATE 'C.UTF-8' LC_CTYPE 'C.UTF-8'",
    "icu": "LOCALE_PROVIDER icu ICU_LOCALE 'en-US' LC_COLLATE 'C.UTF-8' LC_CTYPE 'C.UTF-8'",
}
TIMEZONE = "America/New_York"
CH_DATABASE = "qgen"
STATEMENT_TIMEOUT_MS = 20000
REL_TOL = 1e-9

# ------------------------------------------------------------------ setup


def load_clickhouse(engine, rows: dict) -> None:
    """Create database qgen on engine with the generator's tables and rows."""
    engine.command(f"CREATE DATABASE IF NOT EXISTS {CH_DATABASE}")
    for t, cols in G.ch_columns(engine.modern).items():
        engine.command(f"DROP TABLE IF EXISTS {CH_DATABASE}.{t}")
        engine.command(f"CREATE TABLE {CH_DATABASE}.{t} ("
                       + ", ".join(f"`{c}` {ty}" for c, ty in cols)
                       + ") ENGINE = MergeTree ORDER BY tuple()")
        data = [tuple(int(v) if isinstance(v, bool) and not engine.modern else v for v in r)
                for r in rows[t]]
        engine.insert(f"{CH_DATABASE}.{t}", data, [c for c, _ in cols])


def create_database(admin_dsn: str, name: str, collation: str) -> None:
    with psycopg.connect(admin_dsn, autocommit=True) as c:
        c.execute(f"DROP DATABASE IF EXISTS {name}")
        c.execute(f"CREATE DATABASE {name} TEMPLATE template0 ENCODING 'UTF8' "
                  f"{COLLATIONS[collation]}")
        c.execute(f"ALTER DATABASE {name} SET TimeZone = '{TIMEZONE}'")


def _decl(t: str) -> str:
    return ", ".join(f"{c} {d}" for c, d in G.PG_DECL[t])


def load_local(conn, rows: dict) -> None:
    conn.execute("CREATE EXTENSION IF NOT EXISTS ch_fdw")
    conn.execute("DROP SCHEMA IF EXISTS gl CASCADE")
    conn.execute("CREATE SCHEMA gl")
    for t in G.PG_DECL:
        conn.execute(f"CREATE TABLE gl.{t} ({_decl(t)})")
        with conn.cursor().copy(f"COPY gl.{t} FROM STDIN") as cp:
            for r in rows[t]:
                cp.write_row(r)
        conn.execute(f"ANALYZE gl.{t}")


def create_foreign(conn, engine) -> str:
    """Server, user mapping and schema gf_<engine> of foreign tables."""
    name = engine.name.replace("-", "_")
    server, schema = f"qg_{name}", f"gf_{name}"
    conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
    conn.execute(f"DROP SERVER IF EXISTS {server} CASCADE")
    conn.execute(f"CREATE SERVER {server} FOREIGN DATA WRAPPER ch_fdw OPTIONS "
                 f"({engine.server_options}, dbname '{CH_DATABASE}')")
    conn.execute(f"CREATE USER MAPPING FOR CURRENT_USER SERVER {server}")
    conn.execute(f"CREATE SCHEMA {schema}")
    for t in G.PG_DECL:
        conn.execute(f"CREATE FOREIGN TABLE {schema}.{t} ({_decl(t)}) SERVER {server}")
    return schema


# ------------------------------------------------------------------ running

@dataclass
class Result:
    rows: list | None = None
    sqlstate: str | None = None
    error: str = ""
    crashed: bool = False


def _run(conn, q: G.GenQuery, generic: bool) -> Result:
    try:
        if q.params:
            conn.execute("SET plan_cache_mode = " +
                         ("force_generic_plan" if generic else "force_custom_plan"))
            cur = conn.execute(q.sql, q.params, prepare=True)
        else:
            cur = conn.execute(q.sql)
        return Result(rows=[tuple(r) for r in cur.fetchall()])
    except psycopg.OperationalError as e:
        if conn.closed or conn.broken:
            return Result(sqlstate=e.sqlstate, error=str(e), crashed=True)
        return Result(sqlstate=e.sqlstate, error=str(e))
    except psycopg.Error as e:
        where = ""
        if e.sqlstate == "XX000":  # an internal error: say where, to find it fast
            where = f" (at {e.diag.source_function}, {e.diag.source_file}:{e.diag.source_line})"
        return Result(sqlstate=e.sqlstate, error=str(e).strip() + where)


def _norm(v):
    if isinstance(v, float):
        if math.isnan(v):
            return ("nan",)
        return ("num", v)
    if isinstance(v, (int, Decimal)) and not isinstance(v, bool):
        return ("num", v)
    if isinstance(v, list):
        return tuple(_norm(x) for x in v)
    return v


def _key(row):
    out = []
    for v in row:
        n = _norm(v)
        if n is None:
            out.append((0, ""))
        elif isinstance(n, tuple) and n and n[0] == "num":
            out.append((1, float(f"{float(n[1]):.9g}")))
        else:
            out.append((2, repr(n)))
    return out


def _value_eq(a, b, scale_loose: bool = False) -> bool:
    """Equal values (floats within REL_TOL).  scale_loose: numerics equal up
    to half a unit in the last place of the shorter scale (1.5 vs 1.50,
    176366.714285714286 vs 176366.71428571428571...)."""
    if scale_loose and isinstance(a, Decimal) and isinstance(b, Decimal) and a.is_finite() \
            and b.is_finite():
        return abs(a - b) * 2 <= Decimal(10) ** max(a.as_tuple().exponent, b.as_tuple().exponent)
    if isinstance(a, (float, Decimal, int)) and isinstance(b, (float, Decimal, int)) \
            and not isinstance(a, bool) and not isinstance(b, bool):
        if isinstance(a, float) and math.isnan(a) or isinstance(b, float) and math.isnan(b):
            return isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b)
        if a == b:
            return True
        if isinstance(a, float) or isinstance(b, float):
            return math.isclose(float(a), float(b), rel_tol=REL_TOL, abs_tol=1e-12)
        return False
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_value_eq(x, y, scale_loose) for x, y in zip(a, b))
    return a == b


def _rows_eq(e, a, scale_loose: bool = False) -> bool:
    return len(e) == len(a) and all(_value_eq(x, y, scale_loose) for x, y in zip(e, a))


def compare(expected: list, actual: list, ordered: bool) -> tuple[str, str]:
    """('same' | 'differs' | 'text', message)."""
    if len(expected) != len(actual):
        return "differs", f"row count: PostgreSQL {len(expected)}, ch_fdw {len(actual)}"
    if not ordered:
        expected, actual = sorted(expected, key=_key), sorted(actual, key=_key)
    where = "" if ordered else " (sorted)"
    for i, (e, a) in enumerate(zip(expected, actual)):
        if not _rows_eq(e, a, scale_loose=True):
            return "differs", f"row {i}{where}: PostgreSQL {e!r} vs ch_fdw {a!r}"
    for i, (e, a) in enumerate(zip(expected, actual)):
        # exact values and text for everything but floats (summation order may differ)
        if not _rows_eq(e, a) or [str(x) for x in e if not isinstance(x, float)] != \
                [str(x) for x in a if not isinstance(x, float)]:
            return "text", f"row {i}{where}: PostgreSQL {e!r} vs ch_fdw {a!r}"
    return "same", ""


@dataclass
class Outcome:
    kind: str
    message: str = ""


def classify(local: Result, remote: Result, ordered: bool) -> Outcome:
    if remote.crashed:
        return Outcome("crash", remote.error)
    if local.sqlstate == "57014":
        return Outcome("timeout")
    if local.rows is not None and remote.rows is not None:
        kind, msg = compare(local.rows, remote.rows, ordered)
        return Outcome(kind, msg)
    if local.rows is not None:
        return Outcome("chfdw_error", f"ch_fdw [{remote.sqlstate}] {remote.error}")
    if remote.rows is not None:
        return Outcome("pg_error", f"PostgreSQL [{local.sqlstate}] {local.error}; "
                                   f"ch_fdw returned {len(remote.rows)} rows")
    if (local.sqlstate or "")[:2] == (remote.sqlstate or "")[:2]:
        return Outcome("both_error", local.error)
    return Outcome("chfdw_error", f"PostgreSQL [{local.sqlstate}] {local.error}; "
                                  f"ch_fdw [{remote.sqlstate}] {remote.error}")


def _connect(dsn: str, search_path: str):
    conn = psycopg.connect(dsn, autocommit=True)
    conn.execute(f"SET search_path = {search_path}, pg_catalog")
    conn.execute(f"SET statement_timeout = {STATEMENT_TIMEOUT_MS}")
    return conn


@dataclass
class Failure:
    seed: int
    path: str
    outcome: Outcome
    query: G.GenQuery
    local: Result
    remote: Result
    plan: str = ""

    def report(self) -> str:
        def res(r: Result):
            if r.rows is None:
                return f"error [{r.sqlstate}] {r.error}"
            return f"{len(r.rows)} rows: {r.rows[:6]!r}"
        return (f"--- seed {self.seed} [{self.path}] {self.outcome.kind}: {self.outcome.message}\n"
                f"SQL: {self.query.sql}\nparams: {self.query.params}\n"
                f"PostgreSQL: {res(self.local)}\nch_fdw:     {res(self.remote)}\n{self.plan}")


@dataclass
class Batch:
    """One collation database x one engine: runs seeds and counts outcomes."""
    dsn: str
    foreign_schema: str
    label: str
    modern: bool
    counts: Counter = field(default_factory=Counter)
    failures: list = field(default_factory=list)     # not of a known class
    known: Counter = field(default_factory=Counter)
    known_examples: dict = field(default_factory=dict)

    def __post_init__(self):
        self.local = _connect(self.dsn, "gl")
        self.remote = _connect(self.dsn, self.foreign_schema)

    def paths(self) -> list[str]:
        return ["whole", "per-table"] if self.modern else ["per-table"]

    def run_seed(self, seed: int) -> None:
        q = G.QueryGen(seed).query()
        path = self.paths()[seed % len(self.paths())]
        generic = bool(random.Random(seed).getrandbits(1))
        self.remote.execute("SET ch_fdw.query_pushdown = " + ("on" if path == "whole" else "off"))
        local = _run(self.local, q, generic)
        remote = _run(self.remote, q, generic)
        out = classify(local, remote, q.ordered)
        self.counts[(f"{self.label} {path}", out.kind)] += 1
        if out.kind not in ("same", "both_error", "timeout"):
            plan = ""
            if remote.crashed:
                self.remote = _connect(self.dsn, self.foreign_schema)
            else:
                plan = self._plan(q)
            f = Failure(seed, f"{self.label} {path}", out, q, local, remote, plan)
            cls = known_class(f)
            if cls:
                self.known[(f.path, cls)] += 1
                self.known_examples.setdefault(cls, f)
            else:
                self.failures.append(f)

    def _plan(self, q: G.GenQuery) -> str:
        try:
            rows = self.remote.execute("EXPLAIN (VERBOSE, COSTS OFF) " + q.sql, q.params or None)
            return "\n".join(r[0] for r in rows if "Remote SQL" in r[0] or "Not pushed" in r[0])
        except psycopg.Error as e:
            return f"(EXPLAIN failed: {e})"

    def close(self):
        for c in (self.local, self.remote):
            try:
                c.close()
            except Exception:
                pass


def counts_json(batch: Batch) -> str:
    """One JSON line per label (engine collation path) for dev/querygen.py."""
    import json
    out = []
    for label in sorted({k[0] for k in batch.counts}):
        out.append(json.dumps({"label": label,
                               "counts": {k: v for (lb, k), v in batch.counts.items() if lb == label},
                               "known": {k: v for (lb, k), v in batch.known.items() if lb == label}}))
    return "\n".join(out)


def known_totals(batch: Batch) -> Counter:
    out = Counter()
    for (_, cls), v in batch.known.items():
        out[cls] += v
    return out


def format_counts(counts: Counter) -> str:
    kinds = ["same", "differs", "text", "chfdw_error", "pg_error", "both_error", "timeout", "crash"]
    lines = []
    for label in sorted({k[0] for k in counts}):
        row = {k: counts.get((label, k), 0) for k in kinds}
        lines.append(f"{label:<28} total {sum(row.values()):>6}  " +
                     "  ".join(f"{k} {v}" for k, v in row.items()))
    return "\n".join(lines)


def check_query(dsn: str, foreign_schema: str, sql: str, *, path: str = "whole",
                params: list | None = None, ordered: bool = False) -> Outcome:
    """One hand-written query through the generator's harness (regression tests)."""
    local, remote = _connect(dsn, "gl"), _connect(dsn, foreign_schema)
    try:
        remote.execute("SET ch_fdw.query_pushdown = " + ("on" if path == "whole" else "off"))
        q = G.GenQuery(sql, params or [], ordered)
        return classify(_run(local, q, False), _run(remote, q, False), ordered)
    finally:
        local.close()
        remote.close()
