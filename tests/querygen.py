"""A seeded generator of random read-only PostgreSQL SELECTs for
differential testing (issue 8).

``QueryGen(seed).query()`` returns a ``GenQuery``: SQL text over the schema
below (tables t1, t2, t3, unqualified), the parameter values it uses
(``%s`` placeholders, psycopg style) and whether its top-level ORDER BY fixes
the row order.  The same seed always gives the same queries.

Shapes: joins of every type, nested (a join or a subquery on the left of a
JOIN), derived tables, subqueries in every position (scalar, IN, NOT IN,
EXISTS, = ANY (ARRAY(...)), correlated or not, in SELECT / WHERE / HAVING /
ORDER BY), aggregates with FILTER and DISTINCT, GROUP BY (columns,
positions, constants, ROLLUP, CUBE, GROUPING SETS), set operations, window
functions (ranking, aggregates with and without ORDER BY frames), CASE,
COALESCE, GREATEST/LEAST, NULLIF, ORDER BY / LIMIT / OFFSET, parameters.

Determinism: every ORDER BY that a LIMIT or an ordered comparison depends on
ends with all output columns, so rows tied on it are identical rows; window
functions that depend on a total order (row_number) order by a unique key.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

# ------------------------------------------------------------------ schema
# column -> generator type; int columns carry their width.
SCHEMA: dict[str, dict[str, str]] = {
    "t1": {"id": "int", "i2": "int", "i4": "int", "i8": "int", "n": "num", "f": "float",
           "c": "char", "s": "text", "sc": "text", "ts": "ts", "d": "date", "arr": "arr",
           "e": "text", "flag": "bool"},
    "t2": {"id": "int", "k": "int", "i8": "int", "n": "num", "s": "text", "d": "date",
           "ts": "ts", "flag": "bool"},
    "t3": {"id": "int", "g": "int", "v": "text", "x": "num"},
}
UNIQUE_KEY = "id"
# PostgreSQL declarations (local tables and foreign tables alike)
PG_DECL: dict[str, list[tuple[str, str]]] = {
    "t1": [("id", "integer NOT NULL"), ("i2", "smallint"), ("i4", "integer"), ("i8", "bigint"),
           ("n", "numeric(10,2)"), ("f", "double precision"), ("c", "character(3)"),
           ("s", "text"), ("sc", 'text COLLATE "en-US-x-icu"'), ("ts", "timestamp with time zone"),
           ("d", "date"), ("arr", "integer[] NOT NULL"), ("e", "text NOT NULL"),
           ("flag", "boolean")],
    "t2": [("id", "integer NOT NULL"), ("k", "integer NOT NULL"), ("i8", "bigint"),
           ("n", "numeric(12,4)"), ("s", "text"), ("d", "date"), ("ts", "timestamp with time zone"),
           ("flag", "boolean NOT NULL")],
    "t3": [("id", "integer NOT NULL"), ("g", "integer"), ("v", "text NOT NULL"),
           ("x", "numeric(6,1)")],
}
CMP_TYPES = ("int", "num", "float", "text", "char", "date", "ts")
NUMERIC = ("int", "num", "float")


def ch_columns(modern: bool) -> dict[str, list[tuple[str, str]]]:
    """ClickHouse column types matching PG_DECL (18.16 lacks Bool and DateTime64)."""
    b = "Bool" if modern else "UInt8"
    ts = "DateTime64(6, 'UTC')" if modern else "DateTime('UTC')"
    return {
        "t1": [("id", "Int32"), ("i2", "Nullable(Int16)"), ("i4", "Nullable(Int32)"),
               ("i8", "Nullable(Int64)"), ("n", "Nullable(Decimal(10, 2))"),
               ("f", "Nullable(Float64)"), ("c", "Nullable(FixedString(3))"),
               ("s", "Nullable(String)"), ("sc", "String"), ("ts", f"Nullable({ts})"),
               ("d", "Nullable(Date)"), ("arr", "Array(Int32)"),
               ("e", "Enum8('beta' = 1, 'alpha' = 2, 'gamma' = 3)"), ("flag", f"Nullable({b})")],
        "t2": [("id", "Int32"), ("k", "Int32"), ("i8", "Nullable(Int64)"),
               ("n", "Nullable(Decimal(12, 4))"), ("s", "Nullable(String)"),
               ("d", "Nullable(Date)"), ("ts", f"Nullable({ts})"), ("flag", b)],
        "t3": [("id", "Int32"), ("g", "Nullable(Int32)"), ("v", "String"),
               ("x", "Nullable(Decimal(6, 1))")],
    }


def data(seed: int = 8) -> dict[str, list[tuple]]:
    """The rows (Python values; timestamps are UTC-aware, whole seconds)."""
    import datetime as dt
    from decimal import Decimal
    r = random.Random(seed)
    utc = dt.timezone.utc
    texts = ["a", "B", "b", "ab", "Ab", "é", "e", "z", "", " a", "a b", "ß", "résumé", "A", "10", "9"]
    ints = [0, 1, -1, 2, 3, 7, -7, 10, 100, 32767, -32768]

    def maybe(v, p=0.15):
        return None if r.random() < p else v

    def ts():
        base = dt.datetime(2024, 3, 10, 6, 30, tzinfo=utc)      # New York DST switch day
        return base + dt.timedelta(hours=r.choice([-30, -7, -1, 0, 1, 2, 5, 24, 24 * 200, -24 * 300]),
                                   minutes=r.choice([0, 0, 15, 59]))

    def day():
        return dt.date(2024, 1, 1) + dt.timedelta(days=r.choice([-400, -1, 0, 1, 31, 59, 60, 365]))

    t1 = []
    for i in range(1, 31):
        t1.append((i, maybe(r.choice(ints)), maybe(r.choice(ints + [2147483647, 123456])),
                   maybe(r.choice(ints + [9007199254740993, -5000000000])),
                   maybe(Decimal(r.choice(["0.00", "1.50", "-2.25", "10.00", "99999999.99", "3.33",
                                           "0.01"]))),
                   maybe(r.choice([0.0, 1.5, -0.5, 2.0, 1e10, 0.1, -3.0])),
                   maybe(r.choice(["a", "ab", "abc", "b", "", "é"])), maybe(r.choice(texts)),
                   r.choice(texts), maybe(ts()), maybe(day()),
                   r.sample([1, 2, 3, 5, 7, 10], r.choice([0, 1, 2, 3])),
                   r.choice(["alpha", "beta", "gamma"]), maybe(r.choice([True, False]))))
    t2 = []
    for i in range(1, 21):
        t2.append((i, r.choice([1, 2, 3, 7, 10, 0]), maybe(r.choice(ints)),
                   maybe(Decimal(r.choice(["1.0000", "1.5000", "-0.1250", "3.3333", "0.0000"]))),
                   maybe(r.choice(texts)), maybe(day()), maybe(ts()), r.choice([True, False])))
    t3 = [(i, maybe(r.choice([1, 2, 3, None])), r.choice(texts),
           maybe(Decimal(r.choice(["0.5", "1.0", "2.5", "-1.0"])))) for i in range(1, 9)]
    return {"t1": t1, "t2": t2, "t3": t3}


# ------------------------------------------------------------------ generator

@dataclass
class GenQuery:
    sql: str
    params: list = field(default_factory=list)
    ordered: bool = False          # top-level ORDER BY fixes the row order


@dataclass
class Col:
    sql: str
    type: str


class Scope:
    """Columns visible in one query level; unique_alias: a base table alias
    whose id is unique in the FROM (windows needing a total order use it)."""

    def __init__(self, cols: list[Col], unique_alias: str | None = None):
        self.cols = cols
        self.unique_alias = unique_alias

    def of(self, t: str) -> list[Col]:
        return [c for c in self.cols if c.type == t]


class QueryGen:
    def __init__(self, seed: int, *, params: bool = True, max_depth: int = 2):
        self.r = random.Random(seed)
        self.allow_params = params
        self.max_depth = max_depth

    # ---- entry
    def query(self) -> GenQuery:
        self.n_alias = 0
        self.params: list = []
        self.use_params = self.allow_params and self.r.random() < 0.15
        sql, types, ordered = self.select(depth=0, outer=None, top=True)
        return GenQuery(sql, list(self.params), ordered)

    # ---- helpers
    def p(self, prob: float) -> bool:
        return self.r.random() < prob

    def pick(self, seq):
        return self.r.choice(list(seq))

    def alias(self, base: str) -> str:
        self.n_alias += 1
        return f"{base}{self.n_alias}"

    def pct(self) -> str:
        return "%%" if self.use_params else "%"

    def literal(self, t: str) -> str:
        r = self.r
        if self.use_params and t in ("int", "text", "num") and self.p(0.3):
            v = {"int": lambda: r.choice([0, 1, 2, 3, 7, -1]),
                 "text": lambda: r.choice(["a", "b", "ab", "é", "B"]),
                 "num": lambda: r.choice(["1.5", "0", "-2.25"])}[t]()
            self.params.append(v)
            return "%s::" + {"int": "int", "text": "text", "num": "numeric"}[t]
        if self.p(0.05) and t != "bool":
            return "NULL::" + {"int": "int", "num": "numeric", "float": "float8", "text": "text",
                               "date": "date", "ts": "timestamptz", "char": "char(3)"}[t]
        if t == "int":
            return str(r.choice([0, 1, 2, 3, 5, 7, 10, -1, 100, 32767]))
        if t == "num":
            return r.choice(["1.5", "0.25", "2", "-3.75", "10.00", "0.1"])
        if t == "float":
            return r.choice(["1.5::float8", "0.1::float8", "'-2'::float8", "2e10::float8"])
        if t in ("text", "char"):
            return r.choice(["'a'", "'b'", "'ab'", "'é'", "'B'", "''", "'z'", "'abc'", "'ß'"])
        if t == "date":
            return r.choice(["DATE '2024-01-01'", "DATE '2024-03-01'", "DATE '2023-12-31'"])
        if t == "ts":
            return r.choice(["TIMESTAMPTZ '2024-03-10 03:00:00-04'", "TIMESTAMPTZ '2024-03-10 12:00:00+00'",
                             "TIMESTAMPTZ '2024-01-01 00:00:00 America/New_York'"])
        return r.choice(["true", "false"])

    # ---- expressions
    def expr(self, t: str, sc: Scope, depth: int, agg: bool = False, outer: Scope | None = None,
             grouped: list[Col] | None = None) -> str:
        """An expression of type t.  agg: aggregates allowed (and, with
        grouped, bare columns only from the group keys)."""
        r = self.r
        vis = Scope(grouped) if grouped is not None else sc
        cols = vis.cols
        cand = [c for c in cols if c.type == t or (t == "text" and c.type == "char")]
        if agg and self.p(0.45) and t in ("int", "num", "float", "text", "date", "ts", "bool"):
            return self.aggregate(t, sc, depth)
        if depth >= 3 or self.p(0.45):
            if cand and self.p(0.9):
                c = self.pick(cand)
                return c.sql if c.type == t else f"{c.sql}::text"
            if outer and self.p(0.3) and outer.of(t):
                return self.pick(outer.of(t)).sql
            return self.literal(t)
        d = depth + 1
        sub = lambda tt=t: self.expr(tt, sc, d, agg, outer, grouped)  # noqa: E731
        choice = r.random()
        if choice < 0.12:
            return f"CASE WHEN {self.cond(sc, d, agg, outer, grouped)} THEN {sub()} ELSE {sub()} END"
        if choice < 0.2 and t != "bool":
            return f"COALESCE({sub()}, {sub()})"
        if choice < 0.25 and t in CMP_TYPES:
            return f"{self.pick(['GREATEST', 'LEAST'])}({sub()}, {sub()})"
        if choice < 0.29 and t != "bool":
            return f"NULLIF({sub()}, {sub()})"
        if choice < 0.36 and depth < self.max_depth + 1 and t != "bool":
            return self.scalar_subquery(t, sc if grouped is None else Scope(grouped), depth)
        if t == "bool":
            return self.cond(sc, d, agg, outer, grouped)
        if t == "int":
            return r.choice([
                lambda: f"({sub()} {self.pick(['+', '-', '*'])} {sub()})",
                lambda: f"({sub()} / NULLIF({sub()}, 0))",
                lambda: f"({sub()} % NULLIF({sub()}, 0))",
                lambda: f"abs({sub()})",
                lambda: f"length({sub('text')})",
                lambda: f"extract(year FROM {sub('date')})::int",
                lambda: f"extract(hour FROM {sub('ts')})::int",
                lambda: self._arr(vis, "cardinality({})", "int"),
                lambda: self._arr(vis, "{}[1]", "int"),
                lambda: f"(-{sub()})",
            ])()
        if t == "num":
            return r.choice([
                lambda: f"({sub()} {self.pick(['+', '-', '*'])} {sub()})",
                lambda: f"({sub()} / NULLIF({sub()}, 0))",
                lambda: f"round({sub()}, {r.choice([0, 1, 2])})",
                lambda: f"{sub('int')}::numeric",
                lambda: f"abs({sub()})",
                lambda: f"{sub()}::numeric(12,3)",
            ])()
        if t == "float":
            return r.choice([
                lambda: f"({sub()} {self.pick(['+', '-', '*'])} {sub()})",
                lambda: f"{sub('int')}::float8",
                lambda: f"{sub('num')}::float8",
                lambda: f"abs({sub()})",
                lambda: f"floor({sub()})",
            ])()
        if t == "text":
            return r.choice([
                lambda: f"({sub()} || {sub()})",
                lambda: f"substr({sub()}, 1, {r.choice([1, 2])})",
                lambda: f"lower({sub()})",
                lambda: f"{sub('int')}::text",
                lambda: f"concat({sub()}, '-', {sub()})",
                lambda: f"btrim({sub()})",
                lambda: f"{sub('char')}::text" if cand else self.literal("text"),
            ])()
        if t == "char":
            return self.literal("char")
        if t == "date":
            return r.choice([
                lambda: f"({sub()} + {r.choice([1, 7, 30, -1])})",
                lambda: f"date_trunc('month', {sub()})::date",
                lambda: f"({sub('ts')} AT TIME ZONE 'UTC')::date",
            ])()
        if t == "ts":
            return r.choice([
                lambda: f"({sub()} + interval '{r.choice(['1 day', '2 hours', '1 month', '-90 minutes'])}')",
                lambda: f"date_trunc('{r.choice(['day', 'hour', 'month'])}', {sub()})",
                lambda: f"{sub('date')}::timestamptz",
            ])()
        raise AssertionError(t)

    def _arr(self, sc: Scope, fmt: str, t: str) -> str:
        arrs = sc.of("arr")
        return fmt.format(self.pick(arrs).sql) if arrs else self.literal(t)

    def cond(self, sc: Scope, depth: int, agg: bool = False, outer: Scope | None = None,
             grouped: list[Col] | None = None) -> str:
        r = self.r
        d = depth + 1
        vis = Scope(grouped) if grouped is not None else sc
        e = lambda t: self.expr(t, sc, d, agg, outer, grouped)  # noqa: E731
        t = self.pick(CMP_TYPES)
        choice = r.random()
        if depth >= 3 or choice < 0.3:
            return f"{e(t)} {self.pick(['=', '<>', '<', '<=', '>', '>='])} {e(t)}"
        if choice < 0.38:
            return f"({self.cond(sc, d, agg, outer, grouped)} {self.pick(['AND', 'OR'])} " \
                   f"{self.cond(sc, d, agg, outer, grouped)})"
        if choice < 0.42:
            return f"NOT ({self.cond(sc, d, agg, outer, grouped)})"
        if choice < 0.48:
            return f"{e(t)} IS {self.pick(['', 'NOT '])}NULL"
        if choice < 0.52:
            return f"{e(t)} IS {self.pick(['', 'NOT '])}DISTINCT FROM {e(t)}"
        if choice < 0.56:
            return f"{e(t)} {self.pick(['', 'NOT '])}BETWEEN {e(t)} AND {e(t)}"
        if choice < 0.61:
            pat = self.pick(["a", "b", "é", "_", "A"]) + self.pct()
            pat = self.pick([pat, self.pct() + pat])
            return f"{e('text')} {self.pick(['LIKE', 'NOT LIKE', 'ILIKE'])} '{pat}'"
        if choice < 0.66:
            items = ", ".join(e(t) for _ in range(r.randint(1, 3)))
            return f"{e(t)} {self.pick(['IN', 'NOT IN'])} ({items})"
        if choice < 0.69:
            items = ", ".join(e("int") for _ in range(r.randint(1, 3)))
            return f"{e('int')} {self.pick(['= ANY', '<> ALL', '< ANY'])} (ARRAY[{items}])"
        if choice < 0.72 and vis.of("arr"):
            return f"{e('int')} = ANY ({self.pick(vis.of('arr')).sql})"
        if choice < 0.75 and vis.of("bool"):
            c = self.pick(vis.of("bool"))
            return self.pick([c.sql, f"{c.sql} IS NOT TRUE", f"NOT {c.sql}"])
        if depth >= self.max_depth + 1:
            return f"{e(t)} = {e(t)}"
        corr = sc if grouped is None else Scope(grouped)
        if choice < 0.84:
            sub, _, _ = self.select(depth + 1, outer=corr, want=[t])
            return f"{e(t)} {self.pick(['IN', 'NOT IN'])} ({sub})"
        if choice < 0.93:
            sub, _, _ = self.select(depth + 1, outer=corr, want=None, exists=True)
            return f"{self.pick(['', 'NOT '])}EXISTS ({sub})"
        if choice < 0.97:
            sub, _, _ = self.select(depth + 1, outer=corr, want=[t])
            return f"{e(t)} = ANY (ARRAY({sub}))"
        return f"{e(t)} {self.pick(['=', '<', '>='])} {self.scalar_subquery(t, corr, depth)}"

    def aggregate(self, t: str, sc: Scope, depth: int) -> str:
        """An aggregate of result type t over sc (arguments are plain expressions)."""
        r = self.r
        arg = lambda tt: self.expr(tt, sc, depth + 2)  # noqa: E731
        filt = f" FILTER (WHERE {self.cond(sc, depth + 2)})" if self.p(0.2) else ""
        if t == "int":
            return r.choice([
                lambda: f"count(*){filt}",
                lambda: f"count({arg(self.pick(CMP_TYPES))}){filt}",
                lambda: f"count(DISTINCT {arg(self.pick(CMP_TYPES))}){filt}",
                lambda: f"{self.pick(['min', 'max'])}({arg('int')}){filt}",
                lambda: f"sum({arg('int')}){filt}::bigint",
            ])()
        if t == "num":
            return r.choice([
                lambda: f"sum({arg('num')}){filt}",
                lambda: f"avg({arg(self.pick(['int', 'num']))}){filt}",
                lambda: f"{self.pick(['min', 'max'])}({arg('num')}){filt}",
                lambda: f"sum(DISTINCT {arg('num')}){filt}",
                lambda: f"sum({arg('int')}){filt}::numeric",
            ])()
        if t == "float":
            return self.pick([f"sum({arg('float')}){filt}", f"avg({arg('float')}){filt}",
                              f"max({arg('float')}){filt}",
                              f"stddev_samp({arg('int')}){filt}::float8"])
        if t == "bool":
            return f"{self.pick(['bool_and', 'bool_or'])}({self.cond(sc, depth + 2)}){filt}"
        return f"{self.pick(['min', 'max'])}({arg(t)}){filt}"

    def scalar_subquery(self, t: str, outer: Scope, depth: int) -> str:
        sub, _, _ = self.select(depth + 1, outer=outer, want=[t], scalar=True)
        return f"({sub})"

    # ---- FROM
    def table(self) -> tuple[str, Scope]:
        name = self.pick(SCHEMA)
        a = self.alias(name[-1] == "1" and "a" or name[-1] == "2" and "b" or "c")
        cols = [Col(f"{a}.{c}", t) for c, t in SCHEMA[name].items()]
        return f"{name} {a}", Scope(cols, a)

    def from_item(self, depth: int, outer: Scope | None, joins_left: int) -> tuple[str, Scope]:
        r = self.r
        if joins_left > 0 and self.p(0.45):
            left, ls = self.from_item(depth, outer, joins_left - 1)
            right, rs = self.from_item(depth, outer, 0)
            kind = self.pick(["JOIN", "LEFT JOIN", "RIGHT JOIN", "FULL JOIN", "CROSS JOIN",
                              "JOIN", "LEFT JOIN"])
            both = Scope(ls.cols + rs.cols)
            if kind == "CROSS JOIN":
                return f"{left} CROSS JOIN {right}", both
            on = self.join_on(ls, rs, both, depth, full=kind == "FULL JOIN")
            return f"{left} {kind} {right} ON {on}", both
        if depth < self.max_depth and self.p(0.2):
            sub, types, _ = self.select(depth + 1, outer=None, want=None)
            a = self.alias("q")
            return f"({sub}) {a}", Scope([Col(f"{a}.x{i + 1}", t) for i, t in enumerate(types)])
        return self.table()

    def join_on(self, ls: Scope, rs: Scope, both: Scope, depth: int, full: bool = False) -> str:
        pairs = [(a, b) for a in ls.cols for b in rs.cols if a.type == b.type and a.type in CMP_TYPES]
        roll = self.r.random()
        if full:    # PostgreSQL plans FULL JOIN only on hashable/mergeable equalities
            if pairs and roll < 0.8:
                a, b = self.pick(pairs)
                return f"{a.sql} = {b.sql}"
            return "true"
        if pairs and roll < 0.7:
            a, b = self.pick(pairs)
            on = f"{a.sql} = {b.sql}"
            if self.p(0.25):
                on += f" AND {self.cond(both, depth + 2)}"
            return on
        if pairs and roll < 0.85:
            a, b = self.pick(pairs)
            return f"{a.sql} {self.pick(['<', '<=', '<>'])} {b.sql}"
        if roll < 0.92:
            return "true"
        return self.cond(both, depth + 2)

    # ---- SELECT
    def select(self, depth: int, outer: Scope | None, want: list[str] | None = None,
               top: bool = False, scalar: bool = False, exists: bool = False):
        """(sql, output types, ordered).  want: the output column types;
        scalar: at most one row; exists: an EXISTS body."""
        r = self.r
        if want is None and not exists and not scalar and self.p(0.12) and depth < self.max_depth:
            return self.set_operation(depth, outer, top)
        frm, sc = self.from_item(depth, outer, joins_left=r.choice([0, 0, 1, 1, 2]))
        corr = outer if (outer is not None and self.p(0.6)) else None
        grouping = (scalar and self.p(0.7)) or self.p(0.3)
        where = ""
        if self.p(0.6) or corr:
            conds = [self.cond(sc, depth + 1, outer=corr)] if self.p(0.7) or not corr else []
            if corr:
                conds.append(self.correlation(sc, corr))
            where = " WHERE " + " AND ".join(conds)
        if exists:
            tail = ""
            if self.p(0.2):
                tail = f" ORDER BY 1 LIMIT {r.randint(1, 3)}"
            return f"SELECT 1 FROM {frm}{where}{tail}", ["int"], False
        types = list(want) if want else [self.pick(CMP_TYPES + ("bool",))
                                         for _ in range(r.randint(1, 4))]
        group_sql, keys = "", None
        if grouping:
            group_sql, keys, types = self.group_by(sc, types, want is not None, depth)
        items = []
        for i, t in enumerate(types):
            if keys is not None and i < len(keys) and keys[i] is not None:
                items.append(keys[i])
            elif keys is not None and not group_sql:
                items.append(self.aggregate(t, sc, depth))     # one row, whatever the input
            elif keys is not None:
                items.append(self.expr(t, sc, depth + 1, agg=True, outer=corr,
                                       grouped=[Col(k, kt) for k, kt in zip(keys, types) if k]))
            elif not scalar and not exists and depth < 2 and self.p(0.12) and t in ("int", "num", "float"):
                items.append(self.window(t, sc, depth))
            else:
                items.append(self.expr(t, sc, depth + 1, outer=corr))
        distinct = "DISTINCT " if self.p(0.1) else ""
        sel = ", ".join(f"{x} AS x{i + 1}" for i, x in enumerate(items))
        sql = f"SELECT {distinct}{sel} FROM {frm}{where}{group_sql}"
        if keys is not None and self.p(0.25):
            sql += " HAVING " + self.cond(sc, depth + 2, agg=True,
                                          grouped=[Col(k, kt) for k, kt in zip(keys, types) if k])
        ordered = False
        limit = scalar and not grouping
        if limit or self.p(0.35 if top else 0.15):
            keys_sql = [str(i + 1) + self.pick(["", " DESC", " NULLS FIRST", " DESC NULLS LAST"])
                        for i in range(len(items))]
            if not distinct and keys is None and self.p(0.15) and depth < self.max_depth:
                keys_sql.insert(0, self.scalar_subquery(self.pick(CMP_TYPES), sc, depth))
            elif not distinct and keys is None and self.p(0.3):
                keys_sql.insert(0, self.expr(self.pick(CMP_TYPES), sc, depth + 2))
            sql += " ORDER BY " + ", ".join(keys_sql)
            ordered = True
            if limit or self.p(0.5):
                sql += f" LIMIT {1 if limit else r.choice([1, 2, 5, 10])}"
                if not limit and self.p(0.3):
                    sql += f" OFFSET {r.choice([0, 1, 3])}"
        return sql, types, ordered

    def correlation(self, sc: Scope, outer: Scope) -> str:
        pairs = [(a, b) for a in sc.cols for b in outer.cols if a.type == b.type and a.type in CMP_TYPES]
        if not pairs:
            return "true"
        a, b = self.pick(pairs)
        return f"{a.sql} {self.pick(['=', '=', '<', '>='])} {b.sql}"

    def group_by(self, sc: Scope, types: list[str], fixed: bool, depth: int):
        """GROUP BY clause, the key expression per output (None: aggregate)
        and the output types (a constant key may be added)."""
        r = self.r
        usable = [c for c in sc.cols if c.type in CMP_TYPES + ("bool",)]
        nkeys = 0 if fixed else min(len(types) - 1, r.choice([0, 1, 1, 2]))
        keys: list[str | None] = [None] * len(types)
        for i in range(nkeys):
            cand = [c for c in usable if c.type == types[i]]
            if cand:
                keys[i] = self.pick(cand).sql
        kcols = [k for k in keys if k]
        if not kcols:
            if not fixed and self.p(0.1):
                types = ["int"] + types
                keys = ["5"] + keys
                return " GROUP BY " + self.pick(["1", "x1"]), keys, types
            return "", keys, types
        style = r.random()
        if style < 0.55:
            g = ", ".join(kcols)
        elif style < 0.7:
            g = ", ".join(str(i + 1) for i, k in enumerate(keys) if k)
        elif style < 0.8:
            g = f"ROLLUP ({', '.join(kcols)})"
        elif style < 0.9:
            g = f"CUBE ({', '.join(kcols)})"
        else:
            g = "GROUPING SETS (" + ", ".join(f"({k})" for k in kcols) + ", ())"
        return " GROUP BY " + g, keys, types

    def window(self, t: str, sc: Scope, depth: int) -> str:
        part_cols = [c for c in sc.cols if c.type in ("int", "text", "bool", "date")]
        part = f"PARTITION BY {self.pick(part_cols).sql} " if part_cols and self.p(0.7) else ""
        ordc = [c for c in sc.cols if c.type in ("int", "date", "num")]
        order = f"ORDER BY {self.pick(ordc).sql}" if ordc and self.p(0.6) else ""
        if t == "int" and sc.unique_alias and self.p(0.4):
            return f"row_number() OVER ({part}ORDER BY {sc.unique_alias}.{UNIQUE_KEY})"
        if t == "int" and order and self.p(0.5):
            return f"{self.pick(['rank', 'dense_rank'])}() OVER ({part}{order})"
        fn = {"int": self.pick(["count({})", "min({})", "max({})"]),
              "num": self.pick(["sum({})", "avg({})", "min({})"]),
              "float": self.pick(["sum({})", "max({})"])}[t]
        arg = self.expr(t, sc, depth + 2)
        return f"{fn.format(arg)} OVER ({part}{order})"

    def set_operation(self, depth: int, outer: Scope | None, top: bool):
        types = [self.pick(CMP_TYPES) for _ in range(self.r.randint(1, 3))]
        left, _, _ = self.select(depth + 1, outer, want=types)
        right, _, _ = self.select(depth + 1, outer, want=types)
        op = self.pick(["UNION", "UNION ALL", "INTERSECT", "EXCEPT", "INTERSECT ALL", "EXCEPT ALL"])
        sql = f"({left}) {op} ({right})"
        ordered = False
        if self.p(0.3):
            sql += " ORDER BY " + ", ".join(str(i + 1) for i in range(len(types)))
            ordered = True
            if self.p(0.5):
                sql += f" LIMIT {self.r.choice([1, 3, 10])}"
        return sql, types, ordered
