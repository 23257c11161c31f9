"""Differential testing: the same SQL over local PostgreSQL tables and over
ClickHouse tables holding identical data must give the same rows.

The harness is independent of *how* the ClickHouse side runs a query: a
``Runner`` is any callable taking the PostgreSQL query text and returning
``(rows, info)``.  Two runners are provided here:

* ``TranslatorRunner``: deparses the query in PostgreSQL (the view trick:
  ``pg_get_viewdef`` prints the same ruleutils text the planner hook gets from
  ``pg_get_querydef``), translates it with ch_fdw.translate.query and runs the
  ClickHouse SQL through a ``ClickHouse`` backend (chDB in-process, or a
  clickhouse-driver client for Debian's 18.16).
* ``ForeignTableRunner``: runs the SQL through psycopg on ch_fdw foreign
  tables (end to end, once the planner hook is in), optionally asserting
  that EXPLAIN shows whole-query pushdown.

``compare(expected, actual, ordered)`` compares as multisets (or as sequences
when the query has a top-level ORDER BY), with a small relative tolerance for
floats and numerics.
"""

from __future__ import annotations

import datetime as _dt
import itertools
import math
import re
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Callable, Iterable

import sqlglot
from sqlglot import exp

REL_TOL = 1e-9

# ------------------------------------------------------------------ values


def _norm(v):
    """A comparable, hashable form of a result value."""
    if v is None:
        return None
    if isinstance(v, bool):
        return bool(v)
    if isinstance(v, (int, Decimal, float)):
        if isinstance(v, float) and math.isnan(v):
            return ("nan",)
        if isinstance(v, float) and math.isinf(v):
            return ("inf", v > 0)
        return ("num", v)
    if isinstance(v, _dt.datetime):
        if v.tzinfo is not None:
            v = v.astimezone(_dt.timezone.utc).replace(tzinfo=None)
        return ("ts", v)
    if isinstance(v, _dt.date):
        return ("date", v)
    if isinstance(v, (bytes, memoryview)):
        return bytes(v)
    if isinstance(v, (list, tuple)):
        return tuple(_norm(x) for x in v)
    return v


def _num_close(a, b, rel) -> bool:
    if a == b:
        return True
    fa, fb = float(a), float(b)
    return math.isclose(fa, fb, rel_tol=rel, abs_tol=1e-12)


def values_equal(a, b, rel=REL_TOL) -> bool:
    na, nb = _norm(a), _norm(b)
    if isinstance(na, tuple) and na and na[0] == "num" and isinstance(nb, tuple) and nb \
            and nb[0] == "num":
        return _num_close(na[1], nb[1], rel)
    if isinstance(na, tuple) and isinstance(nb, tuple) and len(na) == len(nb) and \
            not (na and na[0] in ("num", "ts", "date", "nan", "inf")):
        return all(values_equal(x, y, rel) for x, y in zip(na, nb))
    return na == nb


def rows_equal(a, b, rel=REL_TOL) -> bool:
    return len(a) == len(b) and all(values_equal(x, y, rel) for x, y in zip(a, b))


def _sort_key(row):
    out = []
    for v in row:
        n = _norm(v)
        if n is None:
            out.append((0, ""))
        elif isinstance(n, tuple) and n and n[0] == "num":
            # round so values equal within tolerance sort together
            f = float(n[1])
            out.append((1, float(f"{f:.9g}")))
        else:
            out.append((2, repr(n)))
    return out


@dataclass
class Diff:
    ok: bool
    message: str = ""

    def __bool__(self):
        return self.ok


def compare(expected: list, actual: list, ordered: bool, rel=REL_TOL) -> Diff:
    """Compare two result sets (lists of row tuples)."""
    expected = [tuple(r) for r in expected]
    actual = [tuple(r) for r in actual]
    if len(expected) != len(actual):
        return Diff(False, f"row count: PostgreSQL {len(expected)}, ClickHouse {len(actual)}"
                           + _sample(expected, actual))
    if expected and len(expected[0]) != len(actual[0]):
        return Diff(False, f"column count: {len(expected[0])} vs {len(actual[0])}")
    if ordered:
        for i, (e, a) in enumerate(zip(expected, actual)):
            if not rows_equal(e, a, rel):
                # rows tied on the sort keys may come in either order: accept
                # the sequence if the multisets agree and the first
                # difference is within a tie group (checked loosely)
                m = compare(expected, actual, False, rel)
                if m.ok and _ties_only(expected, actual):
                    return Diff(True, "equal up to order of ties")
                return Diff(False, f"row {i}: PostgreSQL {e!r} != ClickHouse {a!r}")
        return Diff(True)
    es = sorted(expected, key=_sort_key)
    as_ = sorted(actual, key=_sort_key)
    for e, a in zip(es, as_):
        if not rows_equal(e, a, rel):
            return Diff(False, f"multiset differs: PostgreSQL row {e!r} vs ClickHouse row {a!r}")
    return Diff(True)


def _ties_only(expected, actual) -> bool:
    # Without the sort keys we can only check that every position holds a row
    # that is equal in *some* leading column prefix; used only as a fallback.
    return all(values_equal(e[0], a[0]) for e, a in zip(expected, actual))


def _sample(e, a):
    return f"\n  PostgreSQL first rows: {e[:3]!r}\n  ClickHouse first rows: {a[:3]!r}"


def has_top_level_order_by(sql: str) -> bool:
    try:
        tree = sqlglot.parse_one(sql, read="postgres")
    except sqlglot.errors.SqlglotError:
        return bool(re.search(r"order\s+by", sql.split(")")[-1], re.I))
    return tree.args.get("order") is not None


# ------------------------------------------------------------------ PostgreSQL side

class PgDeparser:
    """Deparse queries the way the planner hook will see them (view trick)."""

    _n = itertools.count()

    def __init__(self, conn, schema: str = "public"):
        self.conn = conn
        self.schema = schema

    def deparse(self, sql: str) -> tuple[str, list[str]]:
        """(deparsed text, output column types as format_type)."""
        name = f"_difftest_v{next(self._n)}"
        c = self.conn
        sql = sql.strip().rstrip(";")
        # name the view's columns (queries may repeat output names)
        cur = c.execute(f"SELECT * FROM ({sql}) _q LIMIT 0")
        ncols = len(cur.description)
        cols = ", ".join(f"c{i + 1}" for i in range(ncols))
        c.execute(f"CREATE VIEW {self.schema}.{name} ({cols}) AS {sql}")
        try:
            c.execute("SET search_path = pg_catalog")
            c.execute("SET datestyle = ISO")
            c.execute("SET intervalstyle = postgres")
            c.execute("SET extra_float_digits = 3")
            text = c.execute(f"SELECT pg_get_viewdef('{self.schema}.{name}'::regclass)").fetchone()[0]
            types = [r[0] for r in c.execute(
                "SELECT format_type(atttypid, atttypmod) FROM pg_attribute "
                f"WHERE attrelid = '{self.schema}.{name}'::regclass AND attnum > 0 "
                "AND NOT attisdropped ORDER BY attnum")]
        finally:
            c.execute("RESET search_path")
            c.execute(f"DROP VIEW {self.schema}.{name}")
        return text, types


def pg_rows(conn, sql: str) -> list[tuple]:
    return [tuple(r) for r in conn.execute(sql).fetchall()]


# ------------------------------------------------------------------ ClickHouse backends

_TSV_ESC = {"\\": "\\", "t": "\t", "n": "\n", "r": "\r", "0": "\0", "b": "\b", "f": "\f",
            "'": "'", "N": None}


def _unescape_tsv(s: str) -> str:
    if "\\" not in s:
        return s
    out, i = [], 0
    while i < len(s):
        ch = s[i]
        if ch == "\\" and i + 1 < len(s):
            nxt = s[i + 1]
            out.append(_TSV_ESC.get(nxt, nxt) or "")
            i += 2
            continue
        out.append(ch)
        i += 1
    return "".join(out)


def _strip_wrappers(t: str) -> tuple[str, bool]:
    nullable = False
    while True:
        m = re.fullmatch(r"(Nullable|LowCardinality)\((.*)\)", t)
        if not m:
            return t, nullable
        nullable = nullable or m.group(1) == "Nullable"
        t = m.group(2)


def parse_ch_value(text: str, ch_type: str):
    """A ClickHouse TSV field of the given type -> Python value."""
    base, _ = _strip_wrappers(ch_type)
    if text == "\\N":
        return None
    if re.match(r"U?Int\d+$", base):
        return int(text)
    if base.startswith("Decimal"):
        return Decimal(text)
    if base.startswith("Float"):
        t = text.lower()
        if t in ("nan", "-nan"):
            return float("nan")
        if t in ("inf", "+inf"):
            return float("inf")
        if t == "-inf":
            return float("-inf")
        return float(text)
    if base == "Bool":
        return text == "true"
    if base in ("Date", "Date32"):
        return _dt.date.fromisoformat(text)
    if base.startswith("DateTime"):
        fmt = "%Y-%m-%d %H:%M:%S.%f" if "." in text else "%Y-%m-%d %H:%M:%S"
        return _dt.datetime.strptime(text, fmt)
    return _unescape_tsv(text)


class ChdbBackend:
    """Modern ClickHouse in-process (chDB)."""

    def __init__(self, path: str | None = None):
        from chdb import session
        self.s = session.Session(path) if path else session.Session()
        self.version = tuple(int(x) for x in self.query_text("SELECT version()").strip().split(".")[:3])

    def query_text(self, sql: str, fmt: str = "TSV") -> str:
        try:
            return str(self.s.query(sql, fmt))
        except Exception:
            # chDB keeps the failed query's already-written header and
            # prepends it to the next result: flush it with a dummy query
            try:
                self.s.query("SELECT 1", "TSV")
            except Exception:
                pass
            raise

    def command(self, sql: str) -> None:
        self.s.query(sql)

    def query(self, sql: str) -> list[tuple]:
        out = self.query_text(sql, "TSVWithNamesAndTypes")
        lines = out.split("\n")
        if lines and lines[-1] == "":
            lines.pop()
        if len(lines) < 2:
            return []
        types = lines[1].split("\t")
        types = [_unescape_tsv(t) for t in types]
        rows = []
        try:
            for ln in lines[2:]:
                fields = ln.split("\t")
                if len(fields) != len(types):
                    raise ValueError("field count")
                rows.append(tuple(parse_ch_value(f, t) for f, t in zip(fields, types)))
        except (ValueError, ArithmeticError) as e:
            # an exception after the header was streamed: chDB may return
            # partial output instead of raising
            raise RuntimeError(f"unparseable ClickHouse output ({e}): {out[:2000]}")
        return rows

    def close(self):
        try:
            self.s.close()
        except Exception:
            pass


class DriverBackend:
    """A ClickHouse server over the native protocol (e.g. Debian's 18.16)."""

    def __init__(self, client):
        self.client = client
        client.execute("SELECT 1")
        v = client.connection.server_info
        self.version = (v.version_major, v.version_minor, v.version_patch)

    def command(self, sql: str) -> None:
        self.client.execute(sql)

    def query(self, sql: str) -> list[tuple]:
        return [tuple(r) for r in self.client.execute(sql)]


# ------------------------------------------------------------------ runners

@dataclass
class RunInfo:
    remote_sql: str = ""
    refused: str | None = None        # NotPushable reason
    deparsed: str = ""


Runner = Callable[[str], tuple]       # pg_sql -> (rows, RunInfo)


def tr_pg_numeric(text, i, deparser, sql) -> bool:
    _, types = deparser.deparse(sql)
    return types[i].startswith("numeric")


class TranslatorRunner:
    """Translate with ch_fdw.translate.query and run on a ClickHouse backend."""

    def __init__(self, pg_conn, backend, tables: dict, *, text_collation_c=True,
                 timezone: str | None = None, schema="public"):
        self.deparser = PgDeparser(pg_conn, schema)
        self.backend = backend
        self.tables = tables
        self.tz = timezone
        from ch_fdw.translate.scan import Dialect
        self.dialect = Dialect(tuple(backend.version), text_collation_c)

    def translate(self, sql: str):
        from ch_fdw.translate.query import translate_query
        text, types = self.deparser.deparse(sql)
        return text, translate_query(text, self.tables, {}, types, self.dialect, timezone=self.tz,
                                     fetch_expressions=False)

    def __call__(self, sql: str):
        from ch_fdw.translate.query import NotPushable
        info = RunInfo()
        try:
            text, tr = self.translate(sql)
        except NotPushable as e:
            info.refused = e.reason
            return None, info
        info.deparsed = text
        info.remote_sql = tr.render({})
        rows = self.backend.query(info.remote_sql)
        # numerics with a per-row scale come as PostgreSQL's text (the
        # bridge parses them with numeric's input function)
        texts = [i for i, ct in enumerate(tr.output_ch_types) if ct in ("String", "Nullable(String)")
                 and tr_pg_numeric(text, i, self.deparser, sql)]
        if texts:
            rows = [tuple(Decimal(v) if i in texts and v is not None else v
                          for i, v in enumerate(r)) for r in rows]
        return rows, info


class ForeignTableRunner:
    """End to end: the same SQL on ch_fdw foreign tables through psycopg.
    search_path must make the foreign tables visible under the same names."""

    def __init__(self, conn, search_path: str, require_pushdown: bool = True):
        self.conn = conn
        self.search_path = search_path
        self.require_pushdown = require_pushdown

    def __call__(self, sql: str):
        info = RunInfo()
        self.conn.execute(f"SET search_path = {self.search_path}")
        plan = "\n".join(r[0] for r in self.conn.execute("EXPLAIN (VERBOSE) " + sql))
        info.remote_sql = plan
        if self.require_pushdown and "Custom Scan" not in plan:
            info.refused = "not pushed down whole:\n" + plan
        rows = pg_rows(self.conn, sql)
        self.conn.execute("RESET search_path")
        return rows, info


def run_diff(pg_conn, sql: str, runner: Runner, *, rel=REL_TOL,
             ordered: bool | None = None) -> tuple[Diff, RunInfo]:
    """Run sql on local PostgreSQL tables and through runner; compare."""
    expected = pg_rows(pg_conn, sql)
    actual, info = runner(sql)
    if info.refused is not None:
        return Diff(False, f"refused: {info.refused}"), info
    if ordered is None:
        ordered = has_top_level_order_by(sql)
    return compare(expected, actual, ordered, rel), info


# ------------------------------------------------------------------ TPC-H fixtures

TPCH_DIR = Path(__file__).resolve().parent / "tpch"
TPCH_TABLES = ["region", "nation", "part", "supplier", "partsupp", "customer", "orders",
               "lineitem"]


def pg_to_ch_type(pg: str) -> str:
    pg = pg.lower().strip()
    if pg in ("integer", "int", "int4"):
        return "Int32"
    if pg in ("bigint", "int8"):
        return "Int64"
    m = re.fullmatch(r"(?:numeric|decimal)\((\d+),\s*(\d+)\)", pg)
    if m:
        return f"Decimal({m.group(1)}, {m.group(2)})"
    if pg.startswith(("char", "varchar", "character", "text")):
        return "String"
    if pg == "date":
        return "Date"
    raise ValueError(pg)


def parse_schema(schema_sql: str) -> dict[str, list[tuple[str, str]]]:
    """CREATE TABLE statements -> {table: [(column, pg type), ...]}."""
    out = {}
    for m in re.finditer(r"CREATE TABLE (\w+) \((.*?)\n\);", schema_sql, re.S):
        cols = []
        for line in m.group(2).splitlines():
            line = line.strip().rstrip(",")
            if not line or line.startswith("--"):
                continue
            mm = re.match(r"(\w+)\s+(.+?)(\s+NOT NULL)?$", line)
            cols.append((mm.group(1), re.sub(r"\s+", "", mm.group(2))
                         .replace("varchar", "character varying")
                         .replace("char(", "character(")))
        out[m.group(1)] = cols
    return out


def generate_tpch(out_dir: Path, scale: float = 0.01) -> Path:
    """Generate .tbl files with tpchgen-cli (cached in out_dir)."""
    import shutil
    import subprocess
    import sys
    out_dir = Path(out_dir)
    if all((out_dir / f"{t}.tbl").exists() for t in TPCH_TABLES):
        return out_dir
    exe = Path(sys.executable).parent / "tpchgen-cli"
    cmd = [str(exe) if exe.exists() else shutil.which("tpchgen-cli") or "tpchgen-cli",
           "-s", str(scale), f"--output-dir={out_dir}"]
    subprocess.run(cmd, check=True, capture_output=True)
    return out_dir


def tbl_rows(path: Path) -> Iterable[list[str]]:
    with open(path, encoding="utf-8") as f:
        for line in f:
            yield line.rstrip("\n").rstrip("|").split("|")


def load_tpch_pg(conn, tbl_dir: Path, schema_sql: str) -> None:
    conn.execute(schema_sql)
    for t in TPCH_TABLES:
        with conn.cursor().copy(f"COPY {t} FROM STDIN") as cp:
            for r in tbl_rows(tbl_dir / f"{t}.tbl"):
                cp.write_row(r)
    # keys and one index so PostgreSQL's correlated subplans (Q2, Q17, Q20,
    # Q21) do not dominate the suite's runtime; data is unchanged
    for line in schema_sql.splitlines():
        m = re.match(r"--\s*(ALTER TABLE .* PRIMARY KEY .*;)", line)
        if m:
            conn.execute(m.group(1))
    conn.execute("CREATE INDEX ON lineitem (l_partkey, l_suppkey)")
    for t in TPCH_TABLES:
        conn.execute(f"ANALYZE {t}")


def _py_value(text: str, ch_type: str):
    if ch_type.startswith("Int"):
        return int(text)
    if ch_type.startswith("Decimal"):
        return Decimal(text)
    if ch_type == "Date":
        return _dt.date.fromisoformat(text)
    return text


def load_tpch_ch(backend, tbl_dir: Path, schema_sql: str, database: str = "tpch",
                 work_dir: Path | None = None) -> dict[str, list[tuple[str, str]]]:
    """Create MergeTree tables with matching types and load the data."""
    schema = parse_schema(schema_sql)
    backend.command(f"CREATE DATABASE IF NOT EXISTS {database}")
    for t, cols in schema.items():
        coldefs = ", ".join(f"`{c}` {pg_to_ch_type(ty)}" for c, ty in cols)
        backend.command(f"DROP TABLE IF EXISTS {database}.{t}")
        backend.command(f"CREATE TABLE {database}.{t} ({coldefs}) ENGINE = MergeTree "
                        f"ORDER BY tuple()")
        if isinstance(backend, ChdbBackend):
            tsv = Path(work_dir or tbl_dir) / f"{t}.tsv"
            with open(tsv, "w", encoding="utf-8") as f:
                for r in tbl_rows(tbl_dir / f"{t}.tbl"):
                    f.write("\t".join(r) + "\n")
            structure = ", ".join(f"`{c}` {pg_to_ch_type(ty)}" for c, ty in cols)
            backend.command(f"INSERT INTO {database}.{t} SELECT * FROM "
                            f"file('{tsv}', 'TSV', '{structure}')")
        else:
            types = [pg_to_ch_type(ty) for _, ty in cols]
            rows = [tuple(_py_value(v, ct) for v, ct in zip(r, types))
                    for r in tbl_rows(tbl_dir / f"{t}.tbl")]
            names = ", ".join(f"`{c}`" for c, _ in cols)
            for i in range(0, len(rows), 20000):
                backend.client.execute(f"INSERT INTO {database}.{t} ({names}) VALUES",
                                       rows[i:i + 20000])
    return schema


def table_infos(schema: dict, database: str, pg_schema: str = "public") -> dict:
    """TableInfo for each table as the planner hook would describe it."""
    from ch_fdw.translate.query import TableInfo
    from ch_fdw.translate.scan import ColumnInfo
    out = {}
    for t, cols in schema.items():
        name = f"{pg_schema}.{t}"
        out[name] = TableInfo(name, database, t, {
            c: ColumnInfo(c, c, ty, pg_to_ch_type(ty)) for c, ty in cols})
    return out


def tpch_queries() -> dict[str, str]:
    return {p.stem: p.read_text() for p in sorted(TPCH_DIR.glob("q*.sql"))}
