"""End-to-end type tests through the real extension.

Every ClickHouse type is created in ClickHouse, imported with IMPORT FOREIGN
SCHEMA ... LIMIT TO into a fresh PostgreSQL schema, checked in the catalog
(format_type, NOT NULL) and read back through psycopg -> PostgreSQL 15 ->
ch_fdw -> ClickHouse, comparing with the exact Python values psycopg
returns.  Runs on every engine of the `engine` fixture; types ClickHouse
18.16 lacks are skipped there with the reason.  Every read goes through both
planning paths: the whole-query pushdown (CustomScan) and the per-table
ForeignScan (ch_fdw.query_pushdown = off).

Known product bugs outside the type layer are strict xfails (the test fails
once they are fixed): see check_values(known_bugs=...) and NARROWING_BUGS.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import math
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass
from decimal import Decimal as D
from zoneinfo import ZoneInfo

import psycopg
import pytest

UTC = dt.timezone.utc
I64_MIN, I64_MAX = -2 ** 63, 2 ** 63 - 1


# ---------------------------------------------------------------- helpers

@pytest.fixture(scope="module")
def _backend(pg_dsn):
    holder: dict = {}
    yield holder
    if holder.get("conn") is not None:
        holder["conn"].close()


@pytest.fixture
def pg(pg_dsn, _backend):
    """One backend for the whole module (overrides conftest's backend per
    test): starting ch_fdw's Python in a new backend costs ~1 s, which would
    multiply the runtime.  Settings are reset before each test; a backend
    that died is replaced."""
    c = _backend.get("conn")
    if c is None or c.closed or c.broken:
        c = _backend["conn"] = psycopg.connect(pg_dsn, autocommit=True)
    c.execute("RESET ALL")
    yield c


@pytest.fixture
def ch(engine, request):
    """Run one ClickHouse statement (DDL, INSERT ... VALUES with inline SQL
    literals).  ClickHouse 18.16 over the native protocol waits for a data
    block after an INSERT with inline VALUES, so for it statements go over
    its HTTP port; other engines use engine.command()."""
    if engine.name != "ch18-native":
        return engine.command
    port = request.getfixturevalue("ch18").http_port
    url = (f"http://127.0.0.1:{port}/?allow_experimental_low_cardinality_type=1"
           "&input_format_values_interpret_expressions=1")

    def run(sql: str) -> None:
        req = urllib.request.Request(url, data=sql.encode(), method="POST")
        try:
            with urllib.request.urlopen(req, timeout=30) as r:
                r.read()
        except urllib.error.HTTPError as ex:
            raise RuntimeError(f"ClickHouse: {ex.read().decode(errors='replace')[:500]}\n"
                               f"SQL: {sql[:500]}") from None
    return run


def import_table(pg, ch, server, uniq, ch_type: str, literals: list[str]) -> str:
    """ClickHouse table default.<uniq> (id UInt32, v <ch_type>) holding one
    row per SQL literal (id = 1, 2, ...), imported with LIMIT TO into a fresh
    schema s_<uniq>.  Returns the qualified PostgreSQL name."""
    ch(f"DROP TABLE IF EXISTS default.{uniq}")
    ch(f"CREATE TABLE default.{uniq} (id UInt32, v {ch_type}) "
       "ENGINE = MergeTree ORDER BY id")
    if literals:
        rows = ", ".join(f"({i}, {lit})" for i, lit in enumerate(literals, 1))
        ch(f"INSERT INTO default.{uniq} (id, v) VALUES {rows}")
    pg.execute(f"CREATE SCHEMA s_{uniq}")
    pg.execute(f'IMPORT FOREIGN SCHEMA "default" LIMIT TO ({uniq}) '
               f"FROM SERVER {server} INTO s_{uniq}")
    return f"s_{uniq}.{uniq}"


def column_types(pg, rel: str) -> dict[str, tuple[str, bool]]:
    rows = pg.execute("SELECT attname, format_type(atttypid, atttypmod), attnotnull "
                      "FROM pg_attribute WHERE attrelid = %s::regclass AND attnum > 0 "
                      "AND NOT attisdropped ORDER BY attnum", (rel,)).fetchall()
    return {n: (t, nn) for n, t, nn in rows}


PATHS = ("whole-query", "per-table scan")


def read(pg, rel: str, path: str, col: str = "v") -> list:
    """The column's values in id order, through the whole-query pushdown
    (CustomScan) or through the per-table ForeignScan."""
    pg.execute(f"SET ch_fdw.query_pushdown = {'on' if path == PATHS[0] else 'off'}")
    sql = f"SELECT {col} FROM {rel} ORDER BY id"
    try:
        if path == PATHS[0]:
            # every type the per-table path reads is returnable from a pushed
            # query (issue 10); only 18.16's version gate keeps it per table
            plan = "\n".join(r[0] for r in pg.execute(f"EXPLAIN (VERBOSE, COSTS OFF) {sql}"))
            assert "Custom Scan (ClickHouseQuery)" in plan or \
                "whole-query pushdown needs ClickHouse >=" in plan, plan
        return [r[0] for r in pg.execute(sql).fetchall()]
    finally:
        pg.execute("RESET ch_fdw.query_pushdown")


def check_values(pg, rel: str, expected: list, col: str = "v", known_bugs=None) -> None:
    """Both planning paths return exactly `expected`.  known_bugs maps a path
    to the reason it is known to be wrong (a strict xfail: the test fails
    once the bug is fixed, so the marker gets removed)."""
    known_bugs = known_bugs or {}
    problems, xfails = [], []
    for path in PATHS:
        try:
            got = read(pg, rel, path, col)
            ok = same(got, expected)
            msg = f"{path}:\n   got      {got!r}\n   expected {expected!r}"
        except psycopg.Error as ex:
            ok, msg = False, f"{path}: {type(ex).__name__} [{ex.sqlstate}] {ex}"
        if path in known_bugs:
            if ok:
                problems.append(f"{path}: known bug is fixed, remove the marker: {known_bugs[path]}")
            else:
                xfails.append(f"{known_bugs[path]} ({msg.strip()})")
        elif not ok:
            problems.append(msg)
    assert not problems, "\n".join(problems)
    if xfails:
        pytest.xfail("; ".join(xfails))


def same(a, b) -> bool:
    """Equality that also holds for NaN and checks types/zone-awareness."""
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if type(a) is not type(b):
        return False
    if isinstance(a, float) and math.isnan(a):
        return math.isnan(b)
    if isinstance(a, float) and a == 0:
        return math.copysign(1, a) == math.copysign(1, b)
    if isinstance(a, D):
        # same value and same scale (numeric(p,s) keeps trailing zeros)
        return str(a) == str(b)
    if isinstance(a, dt.datetime):
        return a == b and (a.tzinfo is None) == (b.tzinfo is None)
    return a == b


def need(engine, feature: str, ok: bool):
    if not ok:
        pytest.skip(f"ClickHouse {'.'.join(map(str, engine.version))} ({engine.name}) "
                    f"has no {feature}")


def server_tz(engine) -> ZoneInfo:
    return ZoneInfo(engine.query("SELECT timezone()")[0][0])


# ---------------------------------------------------------------- cases

@dataclass
class Case:
    id: str
    ch_type: str
    literals: list[str]
    pg_type: str
    expected: list
    not_null: bool = True
    modern_only: str | None = None     # the feature 18.16 lacks
    known_bugs: dict | None = None     # path -> reason (see check_values)


U = uuid.UUID
CASES = [
    # -- integers
    Case("Int8", "Int8", ["-128", "127", "0"], "smallint", [-128, 127, 0]),
    Case("UInt8", "UInt8", ["0", "255"], "smallint", [0, 255]),
    Case("Int16", "Int16", ["-32768", "32767"], "smallint", [-32768, 32767]),
    Case("UInt16", "UInt16", ["0", "65535"], "integer", [0, 65535]),
    Case("Int32", "Int32", ["-2147483648", "2147483647"], "integer",
         [-2147483648, 2147483647]),
    Case("UInt32", "UInt32", ["0", "4294967295"], "bigint", [0, 4294967295]),
    Case("Int64", "Int64", ["-9223372036854775808", "9223372036854775807", "-1"], "bigint",
         [I64_MIN, I64_MAX, -1]),
    Case("UInt64", "UInt64", ["0", "9223372036854775808", "18446744073709551615"],
         "numeric(20,0)", [D(0), D(2 ** 63), D(2 ** 64 - 1)]),
    Case("Int128", "Int128", [f"toInt128('{-2 ** 127}')", f"toInt128('{2 ** 127 - 1}')", "0"],
         "numeric", [D(-2 ** 127), D(2 ** 127 - 1), D(0)], modern_only="Int128"),
    Case("UInt128", "UInt128", ["0", f"toUInt128('{2 ** 128 - 1}')"],
         "numeric", [D(0), D(2 ** 128 - 1)], modern_only="UInt128"),
    Case("Int256", "Int256", [f"toInt256('{-2 ** 255}')", f"toInt256('{2 ** 255 - 1}')"],
         "numeric", [D(-2 ** 255), D(2 ** 255 - 1)], modern_only="Int256"),
    Case("UInt256", "UInt256", ["0", f"toUInt256('{2 ** 256 - 1}')"],
         "numeric", [D(0), D(2 ** 256 - 1)], modern_only="UInt256"),
    # -- floats
    Case("Float32", "Float32",
         ["0.1", "-3.4028235e38", "nan", "inf", "-inf", "1e-45", "-0.0"],
         "real", [0.1, -3.4028235e38, math.nan, math.inf, -math.inf, 1e-45, -0.0]),
    Case("Float64", "Float64",
         ["0.1", "1.7976931348623157e308", "nan", "inf", "-inf", "2.2250738585072014e-308", "-0.0"],
         "double precision",
         [0.1, 1.7976931348623157e308, math.nan, math.inf, -math.inf, 2.2250738585072014e-308, -0.0]),
    # -- decimals (scale kept: numeric(p,s) prints trailing zeros)
    Case("Decimal(9,2)", "Decimal(9, 2)", ["-9999999.99", "0.01", "1.5"],
         "numeric(9,2)", [D("-9999999.99"), D("0.01"), D("1.50")]),
    Case("Decimal(18,18)", "Decimal(18, 18)", ["0.999999999999999999", "-0.000000000000000001"],
         "numeric(18,18)", [D("0.999999999999999999"), D("-0.000000000000000001")]),
    Case("Decimal(38,10)", "Decimal(38, 10)",
         ["-9999999999999999999999999999.9999999999", "0"],
         "numeric(38,10)", [D("-9999999999999999999999999999.9999999999"),
                            D("0E-10")]),
    Case("Decimal(76,20)", "Decimal(76, 20)",
         ["9" * 56 + "." + "9" * 20, "-1.00000000000000000001"],
         "numeric(76,20)", [D("9" * 56 + "." + "9" * 20), D("-1.00000000000000000001")],
         modern_only="Decimal256"),
    # -- strings
    Case("String", "String",
         ["''", "'héllo wörld'", "'😀 emoji 𝄞 中文'", "'quote\\'s \"x\" \\\\ {a,b} NULL'",
          "'tab\\tnl\\ncr\\r'", "'" + "x" * 5000 + "'"],
         "text", ["", "héllo wörld", "😀 emoji 𝄞 中文", "quote's \"x\" \\ {a,b} NULL",
                  "tab\tnl\ncr\r", "x" * 5000]),
    Case("FixedString(4)", "FixedString(4)", ["'ab'", "'abcd'", "''", "'é'"],
         "text", ["ab", "abcd", "", "é"]),
    Case("UUID", "UUID", ["'00000000-0000-0000-0000-000000000000'",
                          "'12345678-9abc-def0-1234-56789abcdef0'",
                          "'ffffffff-ffff-ffff-ffff-ffffffffffff'"],
         "uuid", [U(int=0), U("12345678-9abc-def0-1234-56789abcdef0"), U(int=2 ** 128 - 1)]),
    Case("Enum8", "Enum8('a' = -128, 'b c' = 0, 'é😀' = 127)", ["'a'", "'b c'", "'é😀'"],
         "text", ["a", "b c", "é😀"]),
    Case("Enum16", "Enum16('lo' = -32768, 'hi' = 32767)", ["'hi'", "'lo'"],
         "text", ["hi", "lo"]),
    Case("LowCardinality(String)", "LowCardinality(String)", ["'x'", "''", "'ü😀'", "'x'"],
         "text", ["x", "", "ü😀", "x"],),
    Case("LowCardinality(Nullable(String))", "LowCardinality(Nullable(String))",
         ["NULL", "'a'", "''"], "text", [None, "a", ""], not_null=False,),
    # -- dates
    Case("Date", "Date", ["'1970-01-01'", "'2000-02-29'", "'2105-12-31'"],
         "date", [dt.date(1970, 1, 1), dt.date(2000, 2, 29), dt.date(2105, 12, 31)]),
    Case("Date max", "Date", ["'2149-06-06'"], "date", [dt.date(2149, 6, 6)],
         modern_only="Date values after 2105"),
    Case("Date32", "Date32", ["'1900-01-01'", "'1969-12-31'", "'2299-12-31'"],
         "date", [dt.date(1900, 1, 1), dt.date(1969, 12, 31), dt.date(2299, 12, 31)],
         modern_only="Date32"),
    # -- Nullable
    Case("Nullable(Int32)", "Nullable(Int32)", ["NULL", "-2147483648", "0"], "integer",
         [None, -2147483648, 0], not_null=False),
    Case("Nullable(String)", "Nullable(String)", ["NULL", "''", "'NULL'"], "text",
         [None, "", "NULL"], not_null=False),
    Case("Nullable(Float64)", "Nullable(Float64)", ["NULL", "nan"], "double precision",
         [None, math.nan], not_null=False),
    Case("Nullable(Decimal(18,4))", "Nullable(Decimal(18, 4))",
         ["NULL", "-99999999999999.9999"], "numeric(18,4)",
         [None, D("-99999999999999.9999")], not_null=False),
    Case("Nullable(UInt64)", "Nullable(UInt64)", ["NULL", "18446744073709551615"],
         "numeric(20,0)", [None, D(2 ** 64 - 1)], not_null=False),
    Case("Nullable(Date)", "Nullable(Date)", ["NULL", "'2020-02-29'"], "date",
         [None, dt.date(2020, 2, 29)], not_null=False),
    Case("Nullable(UUID)", "Nullable(UUID)", ["NULL", "'12345678-9abc-def0-1234-56789abcdef0'"],
         "uuid", [None, U("12345678-9abc-def0-1234-56789abcdef0")], not_null=False),
    # -- arrays
    Case("Array(Int32)", "Array(Int32)", ["[]", "[1, -2147483648, 2147483647]"],
         "integer[]", [[], [1, -2147483648, 2147483647]]),
    Case("Array(Nullable(Int64))", "Array(Nullable(Int64))",
         ["[NULL]", "[-9223372036854775808, NULL, 9223372036854775807]"],
         "bigint[]", [[None], [I64_MIN, None, I64_MAX]]),
    Case("Array(UInt64)", "Array(UInt64)", ["[0, 18446744073709551615]"],
         "numeric(20,0)[]", [[D(0), D(2 ** 64 - 1)]]),
    Case("Array(Nullable(String))", "Array(Nullable(String))",
         ["['a\"b', 'c\\\\d', 'NULL', NULL, '', '{}', ' sp ', '😀,é']", "[]"],
         "text[]", [['a"b', "c\\d", "NULL", None, "", "{}", " sp ", "😀,é"], []]),
    Case("Array(Array(Int64))", "Array(Array(Int64))",
         ["[[1, 2], [3, 4]]", "[]", "[[-9223372036854775808]]"],
         "bigint[]", [[[1, 2], [3, 4]], [], [[I64_MIN]]]),
    Case("Array(Array(Nullable(String)))", "Array(Array(Nullable(String)))",
         ["[['a', NULL], [NULL, 'ü']]"], "text[]", [[["a", None], [None, "ü"]]]),
    Case("Array(Array(Array(Int8)))", "Array(Array(Array(Int8)))",
         ["[[[1], [2]], [[3], [4]]]"], "smallint[]", [[[[1], [2]], [[3], [4]]]]),
    Case("Array(Float64)", "Array(Float64)", ["[nan, inf, -inf, 1.5, -0.0]"],
         "double precision[]", [[math.nan, math.inf, -math.inf, 1.5, -0.0]]),
    Case("Array(Decimal(9,3))", "Array(Decimal(9, 3))",
         ["[1.5, -999999.999]"],
         "numeric(9,3)[]", [[D("1.500"), D("-999999.999")]]),
    Case("Array(Date)", "Array(Date)", ["['1970-01-01', '2105-12-31']"],
         "date[]", [[dt.date(1970, 1, 1), dt.date(2105, 12, 31)]]),
    Case("Array(DateTime('UTC'))", "Array(DateTime('UTC'))",
         ["['2020-01-01 12:00:00', '1970-01-01 00:00:01']"],
         "timestamp(0) with time zone[]",
         [[dt.datetime(2020, 1, 1, 12, tzinfo=UTC), dt.datetime(1970, 1, 1, 0, 0, 1, tzinfo=UTC)]]),
    Case("Array(UUID)", "Array(UUID)", ["['12345678-9abc-def0-1234-56789abcdef0']"],
         "uuid[]", [[U("12345678-9abc-def0-1234-56789abcdef0")]]),
    Case("Array(LowCardinality(String))", "Array(LowCardinality(String))",
         ["['x', 'y', 'x']"], "text[]", [["x", "y", "x"]],),
    Case("Array(Enum8)", "Array(Enum8('a' = 1, 'b' = 2))", ["['b', 'a']"],
         "text[]", [["b", "a"]]),
    Case("Array(Bool)", "Array(Nullable(Bool))", ["[true, NULL, false]"], "boolean[]",
         [[True, None, False]], modern_only="Bool"),
    Case("Array(IPv6)", "Array(IPv6)", ["['::ffff:1.2.3.4', '2001:db8::1']"], "inet[]",
         [[ipaddress.ip_address("::ffff:1.2.3.4"), ipaddress.ip_address("2001:db8::1")]],
         modern_only="IPv6"),
    # -- jsonb shapes
    Case("Tuple(Int32, String)", "Tuple(Int32, String)", ["(1, 'x\"y😀')", "(-1, '')"],
         "jsonb", [[1, 'x"y😀'], [-1, ""]]),
    Case("Tuple nested", "Tuple(Nullable(Decimal(18, 2)), Array(Nullable(Int8)), UInt64)",
         ["(1.10, [1, NULL], 18446744073709551615)",
          "(NULL, [], 0)"],
         "jsonb", [[1.1, [1, None], 2 ** 64 - 1], [None, [], 0]]),
    Case("Array(Tuple)", "Array(Tuple(String, Int8))", ["[('a', 1), ('b', -2)]"],
         "jsonb", [[["a", 1], ["b", -2]]],
         modern_only="Array(Tuple) columns (18.16 stores them as Nested subcolumns)"),
    Case("named Tuple", "Tuple(a Int32, `b c` String)", ["(1, 'x')"], "jsonb",
         [{"a": 1, "b c": "x"}], modern_only="named Tuple elements"),
    Case("Map(String, UInt64)", "Map(String, UInt64)",
         ["map('a', 1, 'ü😀', 18446744073709551615)", "map()"], "jsonb",
         [{"a": 1, "ü😀": 2 ** 64 - 1}, {}], modern_only="Map"),
    Case("Map(UInt8, Array(Nullable(String)))", "Map(UInt8, Array(Nullable(String)))",
         ["map(1, ['x', NULL], 2, [])"], "jsonb", [{"1": ["x", None], "2": []}],
         modern_only="Map"),
    Case("JSON", "JSON", ["'{\"a\": {\"b\": \"ü\", \"c\": [1, 2]}, \"d\": null}'", "'{}'"], "jsonb",
         [{"a": {"b": "ü", "c": [1, 2]}}, {}], modern_only="JSON"),
    # -- network, bool
    Case("IPv4", "IPv4", ["'0.0.0.0'", "'255.255.255.255'", "'10.1.2.3'"], "inet",
         [ipaddress.ip_address("0.0.0.0"), ipaddress.ip_address("255.255.255.255"),
          ipaddress.ip_address("10.1.2.3")], modern_only="IPv4"),
    Case("IPv6", "IPv6", ["'::'", "'2001:db8::1'", "'::ffff:1.2.3.4'",
                          "'ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff'"], "inet",
         [ipaddress.ip_address("::"), ipaddress.ip_address("2001:db8::1"),
          ipaddress.ip_address("::ffff:1.2.3.4"),
          ipaddress.ip_address("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff")],
         modern_only="IPv6"),
    Case("Nullable(IPv4)", "Nullable(IPv4)", ["NULL", "'1.2.3.4'"], "inet",
         [None, ipaddress.ip_address("1.2.3.4")], not_null=False, modern_only="IPv4"),
    Case("Bool", "Bool", ["true", "false"], "boolean", [True, False], modern_only="Bool"),
    Case("Nullable(Bool)", "Nullable(Bool)", ["NULL", "true"], "boolean", [None, True],
         not_null=False, modern_only="Bool"),
]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_type_import_and_values(pg, engine, ch, server, uniq, case):
    if case.modern_only:
        need(engine, case.modern_only, engine.modern)
    rel = import_table(pg, ch, server, uniq, case.ch_type, case.literals)
    assert column_types(pg, rel) == {"id": ("bigint", True),
                                     "v": (case.pg_type, case.not_null)}
    check_values(pg, rel, case.expected, known_bugs=case.known_bugs)


# ---------------------------------------------------------------- time zones

ZONES = ["UTC", "America/Los_Angeles", "Asia/Kathmandu", "Australia/Lord_Howe"]


def _dt_columns(engine):
    """(name, ClickHouse type, wall-clock literals in the column's zone,
    zone of the wall clock, microsecond floor) for the DateTime tests."""
    stz = server_tz(engine).key
    cols = [
        ("k", "DateTime('Asia/Kolkata')",
         ["2020-01-01 05:30:00", "1970-01-01 05:30:00", "2105-12-31 23:59:59"], "Asia/Kolkata"),
        # just after the spring-forward gap and during the last EDT hour
        ("ny", "DateTime('America/New_York')",
         ["2021-03-14 03:30:00", "2021-11-07 00:30:00", "1970-01-02 00:00:00"], "America/New_York"),
        ("p", "DateTime", ["2000-02-29 23:59:59", "1970-01-01 00:00:00", "2038-01-19 03:14:08"], stz),
    ]
    if engine.modern:
        cols += [
            ("k64", "DateTime64(3, 'Asia/Kolkata')",
             ["2020-01-01 05:30:00.123", "1970-01-01 05:29:59.999", "2299-12-31 23:59:59.999"],
             "Asia/Kolkata"),
            ("p64", "DateTime64(6)",
             ["1900-01-01 00:00:00.000001", "2020-06-15 12:34:56.789012",
              "1969-12-31 23:59:59.999999"], stz),
            # precision 9 is floored to microseconds
            ("u9", "DateTime64(9, 'UTC')",
             ["1969-12-31 23:59:59.999999999", "2262-04-11 23:47:16.854775807",
              "2020-01-01 00:00:00.000000500"], "UTC"),
            ("nb", "Nullable(DateTime64(3, 'Europe/Berlin'))",
             [None, "2021-03-28 03:00:00.5", "2021-10-31 03:00:00"], "Europe/Berlin"),
        ]
    return cols


def _instant(wall: str | None, zone: str):
    if wall is None:
        return None
    w = wall
    if "." in w:
        head, frac = w.split(".")
        w = f"{head}.{frac[:6]:0<6}"
    return dt.datetime.fromisoformat(w).replace(tzinfo=ZoneInfo(zone)).astimezone(UTC)


@pytest.fixture
def dt_table(pg, engine, ch, server, uniq):
    cols = _dt_columns(engine)
    ch(f"DROP TABLE IF EXISTS default.{uniq}")
    ch(f"CREATE TABLE default.{uniq} (id UInt32, "
       + ", ".join(f"{n} {t}" for n, t, _, _ in cols) + ") ENGINE = MergeTree ORDER BY id")
    rows = []
    for i in range(3):
        lits = ["NULL" if c[2][i] is None else f"'{c[2][i]}'" for c in cols]
        rows.append(f"({i + 1}, {', '.join(lits)})")
    ch(f"INSERT INTO default.{uniq} VALUES {', '.join(rows)}")
    pg.execute(f"CREATE SCHEMA s_{uniq}")
    pg.execute(f'IMPORT FOREIGN SCHEMA "default" LIMIT TO ({uniq}) FROM SERVER {server} INTO s_{uniq}')
    return f"s_{uniq}.{uniq}", cols


def test_datetime_import_types(pg, engine, dt_table):
    rel, cols = dt_table
    got = column_types(pg, rel)
    for name, ch_type, _, _ in cols:
        p = "0" if "DateTime(" in ch_type or ch_type.endswith("DateTime") else ch_type.split("DateTime64(")[-1][0]
        want = f"timestamp({p}) with time zone" if int(p) <= 6 else "timestamp with time zone"
        assert got[name] == (want, not ch_type.startswith("Nullable")), name


def test_datetime_same_instant_in_every_session_zone(pg, engine, dt_table):
    """timestamptz values are the same instants whatever TimeZone is, and
    PostgreSQL renders them in the session zone."""
    rel, cols = dt_table
    problems = []
    for zone in ZONES:
        pg.execute(f"SET TimeZone = '{zone}'")
        for name, _, walls, wall_zone in cols:
            expected = [_instant(w, wall_zone) for w in walls]
            for path in PATHS:
                got = read(pg, rel, path, name)
                if got != expected:
                    problems.append(f"{name} {path} TimeZone={zone}: got {got}, expected {expected}")
                for g in got:
                    if g is not None and g.utcoffset() != g.astimezone(ZoneInfo(zone)).utcoffset():
                        problems.append(f"{name} {path} TimeZone={zone}: {g} not in the session zone")
    assert not problems, "\n".join(problems)


def test_datetime_prepared_statement_across_timezone_changes(pg, engine, dt_table):
    """A prepared (cached-plan) query keeps giving the same instants when the
    session TimeZone changes between executions."""
    rel, cols = dt_table
    name, _, walls, wall_zone = cols[0]
    expected = [_instant(w, wall_zone) for w in walls]
    cur = pg.cursor()
    for zone in ZONES + ZONES:
        pg.execute(f"SET TimeZone = '{zone}'")
        got = [r[0] for r in cur.execute(f"SELECT {name} FROM {rel} ORDER BY id",
                                         prepare=True).fetchall()]
        assert got == expected, zone


def test_datetime_declared_timestamp_and_date_give_wall_clock(pg, engine, ch, server, uniq):
    """Declared timestamp (without time zone): the wall clock in the column's
    zone; declared date: the calendar day there."""
    foreign = "id integer, k timestamp, kd date OPTIONS (column_name 'k'), ny timestamp(3)"
    ch(f"DROP TABLE IF EXISTS default.{uniq}")
    ch(f"CREATE TABLE default.{uniq} (id UInt32, k DateTime('Asia/Kolkata'), "
       "ny DateTime('America/New_York')) ENGINE = MergeTree ORDER BY id")
    ch(f"INSERT INTO default.{uniq} VALUES (1, '2020-01-01 00:30:00', '2021-03-14 03:30:00'), "
       "(2, '1970-01-01 05:30:00', '1999-12-31 23:59:59')")
    pg.execute(f"CREATE FOREIGN TABLE {uniq} ({foreign}) SERVER {server} "
               f"OPTIONS (table_name '{uniq}')")
    pg.execute("SET TimeZone = 'Pacific/Chatham'")
    check_values(pg, uniq, [dt.datetime(2020, 1, 1, 0, 30), dt.datetime(1970, 1, 1, 5, 30)], "k")
    check_values(pg, uniq, [dt.date(2020, 1, 1), dt.date(1970, 1, 1)], "kd")
    check_values(pg, uniq, [dt.datetime(2021, 3, 14, 3, 30), dt.datetime(1999, 12, 31, 23, 59, 59)],
                 "ny")


# ---------------------------------------------------------------- errors

def _error(pg, sql: str, path: str) -> psycopg.Error:
    pg.execute(f"SET ch_fdw.query_pushdown = {'on' if path == PATHS[0] else 'off'}")
    try:
        with pytest.raises(psycopg.Error) as ei:
            pg.execute(sql).fetchall()
    finally:
        pg.execute("RESET ch_fdw.query_pushdown")
    return ei.value


def _full_text(ex: psycopg.Error) -> str:
    d = ex.diag
    return "\n".join(x for x in (d.message_primary, d.message_detail, d.message_hint,
                                 d.context) if x)


@pytest.fixture
def bad_table(pg, engine, ch, server, uniq):
    """ClickHouse columns with values that do not fit the declarations."""
    ch(f"DROP TABLE IF EXISTS default.{uniq}")
    ch(f"CREATE TABLE default.{uniq} (id UInt32, s String, a Array(Int32), i64 Int64, "
       "u64 UInt64, u32 UInt32, i32 Int32, f64 Float64, nul String, d Decimal(18, 4)) "
       "ENGINE = MergeTree ORDER BY id")
    ch(f"INSERT INTO default.{uniq} VALUES "
       "(1, 'x', [1], 1, 1, 1, 1, 1.5, 'ok', 1.5), "
       "(2, 'y', [2], 2147483648, 18446744073709551615, 4294967295, 40000, 1e300, 'a\\0b', "
       "99999999999999.9999)")
    return uniq


INCOMPATIBLE = [
    ("s", "integer", "String"),
    ("a", "integer", "Array(Int32)"),
    ("s", "timestamp with time zone", "String"),
    ("f64", "integer", "Float64"),
    ("d", "integer", "Decimal(18, 4)"),
    ("i64", "integer[]", "Int64"),
]


@pytest.mark.parametrize("col,pg_type,ch_type", INCOMPATIBLE,
                         ids=[f"{c}-{t}" for c, t, _ in INCOMPATIBLE])
def test_incompatible_declaration_is_a_clear_error(pg, bad_table, server, col, pg_type, ch_type):
    ft = f"{bad_table}_{col}"
    pg.execute(f"CREATE FOREIGN TABLE {ft} (id integer, {col} {pg_type}) SERVER {server} "
               f"OPTIONS (table_name '{bad_table}')")
    for path in PATHS:
        ex = _error(pg, f"SELECT {col} FROM {ft}", path)
        msg = ex.diag.message_primary
        assert ex.sqlstate == "HV004", (path, ex.sqlstate, msg)          # fdw_invalid_data_type
        assert f'"{col}"' in msg and ft in msg, (path, msg)
        assert f"ClickHouse type {ch_type}" in msg and f"PostgreSQL type {pg_type}" in msg, (path, msg)


NARROWING = [
    # column, declared type, the out-of-range value as the error prints it
    ("i64", "integer", "2147483648"),
    ("u64", "bigint", "18446744073709551615"),
    ("u32", "integer", "4294967295"),
    ("i32", "smallint", "40000"),
    ("f64", "real", "1e+300"),
]
FIRST_ROW = {"i64": 1, "u64": 1, "u32": 1, "i32": 1, "f64": 1.5}
NARROWING_BUGS = {
    ("f64", "real"): "toFloat32",
}


@pytest.mark.parametrize("col,pg_type,value", NARROWING, ids=[f"{c}-{t}" for c, t, _ in NARROWING])
def test_narrowing_out_of_range_value_is_an_error(pg, bad_table, server, col, pg_type, value):
    ft = f"{bad_table}_{col}"
    pg.execute(f"CREATE FOREIGN TABLE {ft} (id integer, {col} {pg_type}) SERVER {server} "
               f"OPTIONS (table_name '{bad_table}')")
    # the in-range first row reads fine
    pg.execute("SET ch_fdw.query_pushdown = off")
    first = pg.execute(f"SELECT {col} FROM {ft} ORDER BY id LIMIT 1").fetchone()[0]
    pg.execute("RESET ch_fdw.query_pushdown")
    assert first == FIRST_ROW[col]
    problems, bug = [], None
    for path in PATHS:
        try:
            ex = _error(pg, f"SELECT {col} FROM {ft} ORDER BY id", path)
        except pytest.fail.Exception:
            got = [r[0] for r in pg.execute(f"SELECT {col} FROM {ft} ORDER BY id").fetchall()]
            if path == PATHS[0] and (col, pg_type) in NARROWING_BUGS:
                bug = (f"BUG translate/query.py: {pg_type} output of {col} is wrapped in "
                       f"{NARROWING_BUGS[col, pg_type]}(), which wraps around silently: {got}")
                continue
            problems.append(f"{path}: no error, got {got}")
            continue
        text = _full_text(ex)
        names_column = f'"{col}"' in text and pg_type in text
        if path == PATHS[0] and "cannot be safely converted" in text:
            # pushed whole: ClickHouse's accurateCast() refuses the value; it
            # names the ClickHouse types, not the PostgreSQL column
            names_column = True
        if ex.sqlstate != "22003" or not names_column:
            problems.append(f"{path}: [{ex.sqlstate}] {text}")
    assert not problems, "\n".join(problems)
    if bug:
        pytest.xfail(bug)


def test_nul_byte_in_string_is_a_clear_error(pg, bad_table, server):
    ft = f"{bad_table}_nul"
    pg.execute(f"CREATE FOREIGN TABLE {ft} (id integer, nul text, raw bytea "
               f"OPTIONS (column_name 'nul')) SERVER {server} OPTIONS (table_name '{bad_table}')")
    for path in PATHS:
        ex = _error(pg, f"SELECT nul FROM {ft} ORDER BY id", path)
        text = _full_text(ex)
        assert ex.sqlstate == "22P05", (path, text)          # untranslatable_character
        assert "NUL" in ex.diag.message_primary and '"nul"' in text and "bytea" in text, (path, text)
    # declared bytea, the exact bytes come back
    check_values(pg, ft, [b"ok", b"a\x00b"], "raw")
