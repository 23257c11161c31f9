"""Tests of ch_fdw.types: parsing, the PG type map, and the read path.

The read-path tests use real servers only: Debian's ClickHouse 18.16 through
clickhouse-driver (native), a modern ClickHouse (chDB behind the project's
devserver) through clickhouse-connect (HTTP), and a PostgreSQL 15 that
checks what the C bridge would make of each converted value (a Python value
of the bridge contract is turned into SQL the same way: str through the
type's input function, ints as microseconds/days, ...).
"""

from __future__ import annotations

import datetime as dt
import decimal
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(0, str(Path(__file__).parent.parent))

from ch_fdw import errors  # noqa: E402
from ch_fdw.errors import ChFdwError  # noqa: E402
from ch_fdw.chtypes import (ChType, fetch_plan, normalize_pg_type,  # noqa: E402
                          parse_type, pg_array_literal, pg_type_for,
                          to_json_text)

from helpers import PG_BIN  # noqa: E402


# ===========================================================================
# parse_type
# ===========================================================================

@pytest.mark.parametrize("text,name,args,nullable,lc", [
    ("Int8", "Int8", (), False, False),
    ("UInt256", "UInt256", (), False, False),
    ("Nullable(String)", "String", (), True, False),
    ("LowCardinality(String)", "String", (), False, True),
    ("LowCardinality(Nullable(String))", "String", (), True, True),
    ("Decimal(38, 10)", "Decimal", (38, 10), False, False),
    ("FixedString(16)", "FixedString", (16,), False, False),
    ("DateTime", "DateTime", (), False, False),
    ("DateTime('Europe/Berlin')", "DateTime", ("Europe/Berlin",), False, False),
    ("DateTime64(3, 'UTC')", "DateTime64", (3, "UTC"), False, False),
    ("Nullable(DateTime64(9))", "DateTime64", (9,), True, False),
    ("Object('json')", "Object", ("json",), False, False),
    ("Dynamic", "Dynamic", (), False, False),
    ("Dynamic(max_types=10)", "Dynamic", ("max_types=10",), False, False),
    ("Time64(3)", "Time64", (3,), False, False),
    ("Nothing", "Nothing", (), False, False),
    ("Nullable(Nothing)", "Nothing", (), True, False),
])
def test_parse_simple(text, name, args, nullable, lc):
    t = parse_type(text)
    assert (t.name, t.args, t.nullable, t.low_cardinality) == (name, args, nullable, lc)


def test_parse_nested_arrays():
    t = parse_type("Array(Array(Nullable(Int32)))")
    assert t.name == "Array" and t.array_depth == 2
    assert t.element.name == "Array"
    assert t.innermost.name == "Int32" and t.innermost.nullable
    assert not t.nullable


def test_parse_map_and_tuples():
    m = parse_type("Map(String, Array(UInt8))")
    assert m.key.name == "String" and m.value.name == "Array"
    assert m.value.element.name == "UInt8"
    nt = parse_type("Tuple(a Int32, b Nullable(String))")
    assert nt.names == ("a", "b")
    assert [a.name for a in nt.args] == ["Int32", "String"] and nt.args[1].nullable
    ut = parse_type("Tuple(Int32, DateTime('UTC'), Decimal(9, 2))")
    assert ut.names == () and ut.args[1].timezone == "UTC" and ut.args[2].scale == 2
    # system.columns pretty-prints long tuples over several lines
    ml = parse_type("Tuple(\n    a Int32,\n    `b c` String)")
    assert ml.names == ("a", "b c")
    n = parse_type("Nested(x Int32, y Array(String))")
    assert n.name == "Nested" and n.names == ("x", "y") and n.args[1].element.name == "String"


def test_parse_enum_escapes():
    t = parse_type("Enum8('a' = 1, 'b\\'c' = 2, 'd,e=(' = -3)")
    assert t.enum_values == (("a", 1), ("b'c", 2), ("d,e=(", -3))
    t16 = parse_type("Enum16('x' = 1000)")
    assert t16.name == "Enum16" and t16.enum_values == (("x", 1000),)


def test_parse_decimal_variants():
    for text, p, s in [("Decimal32(4)", 9, 4), ("Decimal64(4)", 18, 4),
                       ("Decimal128(10)", 38, 10), ("Decimal256(20)", 76, 20),
                       ("Decimal(9, 0)", 9, 0)]:
        t = parse_type(text)
        assert (t.precision, t.scale) == (p, s), text


def test_parse_datetime_properties():
    t = parse_type("DateTime64(6, 'Asia/Kolkata')")
    assert t.precision == 6 and t.timezone == "Asia/Kolkata"
    assert parse_type("DateTime").timezone is None
    assert parse_type("DateTime64(3)").timezone is None


def test_parse_aggregate_functions():
    s = parse_type("SimpleAggregateFunction(sum, UInt64)")
    assert s.name == "UInt64" and s.simple_aggregate == "sum"
    a = parse_type("AggregateFunction(quantiles(0.5, 0.9), Nullable(Float64))")
    assert a.name == "AggregateFunction" and a.args[0] == "quantiles(0.5, 0.9)"
    assert a.args[1].name == "Float64" and a.args[1].nullable


def test_parse_modern_json_and_variant():
    j = parse_type("JSON(max_dynamic_paths=10, a.b UInt32, SKIP a.c)")
    assert j.name == "JSON" and len(j.args) == 3
    v = parse_type("Variant(String, UInt64, Array(Int8))")
    assert [a.name for a in v.args] == ["String", "UInt64", "Array"]


def test_parse_aliases():
    assert parse_type("INT UNSIGNED").name == "UInt32"
    assert parse_type("DOUBLE PRECISION").name == "Float64"
    assert parse_type("VARCHAR").name == "String"


@pytest.mark.parametrize("bad", ["", "Array(", "Nullable(Int8", "Enum8('a)",
                                 "Nullable(Int8, Int16)", "Int8)"])
def test_parse_errors(bad):
    with pytest.raises(ChFdwError) as ei:
        parse_type(bad)
    assert ei.value.sqlstate == errors.FDW_INVALID_DATA_TYPE


# ===========================================================================
# pg_type_for
# ===========================================================================

PG_TYPE_CASES = [
    ("Int8", "smallint", True), ("UInt8", "smallint", True),
    ("Int16", "smallint", True), ("UInt16", "integer", True),
    ("Int32", "integer", True), ("UInt32", "bigint", True),
    ("Int64", "bigint", True), ("UInt64", "numeric(20,0)", True),
    ("Int128", "numeric", True), ("UInt128", "numeric", True),
    ("Int256", "numeric", True), ("UInt256", "numeric", True),
    ("Float32", "real", True), ("Float64", "double precision", True),
    ("BFloat16", "real", True),
    ("Decimal(38, 10)", "numeric(38,10)", True),
    ("Decimal64(4)", "numeric(18,4)", True),
    ("String", "text", True), ("FixedString(16)", "text", True),
    ("UUID", "uuid", True), ("Date", "date", True), ("Date32", "date", True),
    ("DateTime", "timestamp(0) with time zone", True),
    ("DateTime('Europe/Berlin')", "timestamp(0) with time zone", True),
    ("DateTime64(3)", "timestamp(3) with time zone", True),
    ("DateTime64(6, 'UTC')", "timestamp(6) with time zone", True),
    ("DateTime64(9, 'UTC')", "timestamp with time zone", True),
    ("Enum8('a' = 1)", "text", True), ("Enum16('a' = 1)", "text", True),
    ("LowCardinality(String)", "text", True),
    ("LowCardinality(Nullable(String))", "text", False),
    ("Nullable(Int32)", "integer", False),
    ("Array(Int32)", "integer[]", True),
    ("Array(Array(Nullable(Int32)))", "integer[]", True),
    ("Array(LowCardinality(String))", "text[]", True),
    ("Array(DateTime64(3))", "timestamp(3) with time zone[]", True),
    ("Array(Tuple(Int32, String))", "jsonb", True),
    ("Map(String, UInt64)", "jsonb", True),
    ("Tuple(a Int32, b String)", "jsonb", True), ("Tuple(Int32)", "jsonb", True),
    ("JSON", "jsonb", True), ("Object('json')", "jsonb", True),
    ("Variant(String, UInt64)", "jsonb", False), ("Dynamic", "jsonb", False),
    ("Nested(x Int32)", "jsonb", True),
    ("IPv4", "inet", True), ("IPv6", "inet", True), ("Bool", "boolean", True),
    ("AggregateFunction(uniq, UInt64)", "bytea", True),
    ("SimpleAggregateFunction(sum, UInt64)", "numeric(20,0)", True),
    ("SimpleAggregateFunction(anyLast, Nullable(String))", "text", False),
    ("Nothing", "text", False), ("Nullable(Nothing)", "text", False),
    ("Point", "point", True), ("Ring", "jsonb", True),
    ("MultiPolygon", "jsonb", True),
    ("Time", "interval", True), ("Time64(3)", "interval", True),
    ("SomethingNew(1, 'x')", "text", True),
]


@pytest.mark.parametrize("ch,pg,not_null", PG_TYPE_CASES)
def test_pg_type_for(ch, pg, not_null):
    assert pg_type_for(ch) == (pg, not_null)


# ===========================================================================
# fetch_plan: compatibility matrix and expressions (no server)
# ===========================================================================

V18 = (18, 16, 1)
V26 = (26, 9, 2, 1)


@pytest.mark.parametrize("ch,pg", [
    ("Int32", "bigint"), ("Int32", "numeric"), ("Int64", "integer"),
    ("UInt64", "bigint"), ("UInt8", "boolean"), ("Int32", "text"),
    ("Int32", "character varying(10)"), ("Float32", "double precision"),
    ("Decimal(9, 0)", "integer"), ("Decimal(9, 2)", "double precision"),
    ("String", "jsonb"), ("String", "bytea"), ("String", "uuid"),
    ("DateTime", "timestamp without time zone"), ("DateTime", "date"),
    ("Date", "timestamp"), ("Array(Int32)", "bigint[]"),
    ("Array(Array(Int32))", "integer[]"), ("Array(Int32)", "jsonb"),
    ("Array(String)", "text"), ("Map(String, String)", "text"),
    ("Enum8('a' = 1)", "public.my_enum"), ("Nothing", "integer"),
    ("AggregateFunction(uniq, UInt64)", "bytea"), ("IPv4", "inet"),
    ("Nullable(DateTime64(3))", "timestamptz"), ("Time", "interval"),
])
def test_fetch_plan_accepts(ch, pg):
    p = fetch_plan(ch, pg, "c", V26)
    assert p.expression.format("`c`").count("`c`") >= 1
    p18 = fetch_plan(ch, pg, "c", V18)
    assert "{" not in p18.expression.format("`c`")


@pytest.mark.parametrize("ch,pg", [
    ("String", "integer"), ("String", "timestamp with time zone"),
    ("Array(Int32)", "integer"), ("DateTime", "boolean"),
    ("Float64", "integer"), ("Decimal(9, 2)", "bigint"),
    ("Int32", "date"), ("UUID", "integer"), ("Int32", "integer[]"),
    ("Array(String)", "integer[]"), ("Map(String, String)", "integer"),
    ("AggregateFunction(uniq, UInt64)", "text"), ("Int64", "boolean"),
    ("Date", "integer"), ("IPv6", "bigint"),
])
def test_fetch_plan_refuses(ch, pg):
    with pytest.raises(ChFdwError) as ei:
        fetch_plan(ch, pg, 'column "c1" of foreign table ft', V26)
    e = ei.value
    assert e.sqlstate == errors.FDW_INVALID_DATA_TYPE
    assert "c1" in e.message and ch in e.message and pg in e.message
    assert e.hint and pg_type_for(ch)[0] in e.hint


def test_fetch_plan_identity_for_common_types():
    # the 1M rows/s target: no Python converter for the common scalars
    for ch, pg in [("Int32", "integer"), ("Int64", "bigint"),
                   ("UInt64", "numeric(20,0)"), ("Float64", "double precision"),
                   ("Nullable(Float32)", "real"), ("Decimal(18, 4)", "numeric(18,4)"),
                   ("Date", "date"), ("DateTime", "timestamp with time zone"),
                   ("DateTime64(3, 'UTC')", "timestamp with time zone"),
                   ("UUID", "uuid"), ("LowCardinality(Nullable(String))", "text"),
                   ("String", "text")]:
        assert fetch_plan(ch, pg, "c", V26).convert is None, (ch, pg)


def test_fetch_plan_expressions_by_version():
    assert fetch_plan("String", "text", "c", V26).expression == "toValidUTF8({})"
    assert fetch_plan("String", "text", "c", V18).expression == "{}"
    assert fetch_plan("DateTime", "timestamptz", "c", V18).expression == \
        "toInt64(toUnixTimestamp({})) * 1000000"
    assert fetch_plan("DateTime64(3)", "timestamptz", "c", V26).expression == \
        "toUnixTimestamp64Micro({})"
    assert "toJSONString" in fetch_plan("Map(String, Int8)", "jsonb", "c", V26).expression
    assert "toJSONString" not in fetch_plan("Tuple(Int8)", "jsonb", "c", V18).expression
    assert fetch_plan("Array(Int32)", "integer[]", "c", V26).expression == "{}"
    assert fetch_plan("Array(Array(DateTime))", "timestamptz[]", "c", V26).expression == \
        "arrayMap(x -> arrayMap(x -> toString(x, 'UTC'), x), {})"


def test_normalize_pg_type():
    assert normalize_pg_type("integer") == ("integer", 0)
    assert normalize_pg_type("int4[]") == ("integer", 1)
    assert normalize_pg_type("numeric(20,0)") == ("numeric", 0)
    assert normalize_pg_type("character varying(10)[]") == ("text", 1)
    assert normalize_pg_type("timestamp(3) with time zone") == ("timestamptz", 0)
    assert normalize_pg_type("pg_catalog.timestamptz") == ("timestamptz", 0)
    assert normalize_pg_type("integer[][]") == ("integer", 2)
    assert normalize_pg_type("public.mood") == ("other:public.mood", 0)


# ===========================================================================
# converters on hand-made driver values (no server)
# ===========================================================================

def test_array_literal_quoting():
    assert pg_array_literal([1, None, 3]) == "{1,NULL,3}"
    assert pg_array_literal(['a"b', "c\\d", "NULL", "", "{x}", None]) == \
        '{"a\\"b","c\\\\d","NULL","","{x}",NULL}'
    assert pg_array_literal([[1, 2], [3, 4]]) == "{{1,2},{3,4}}"
    assert pg_array_literal([]) == "{}"
    assert pg_array_literal([[], []]) == "{}"
    assert pg_array_literal([float("nan"), float("inf"), -float("inf"), 1.5]) == \
        "{NaN,Infinity,-Infinity,1.5}"
    assert pg_array_literal([decimal.Decimal("1.50")]) == "{1.50}"


def test_array_ragged_is_an_error():
    p = fetch_plan("Array(Array(Int32))", "integer[]", "c", V26)
    with pytest.raises(ChFdwError) as ei:
        p.convert([[[1, 2], [3]]])
    assert "jsonb" in ei.value.hint
    with pytest.raises(ChFdwError):
        p.convert([[[1], []]])


def test_python_json_encoder():
    t = parse_type("Tuple(a Int32, b Map(UInt64, Array(Nullable(Decimal(38, 2)))))")
    v = (1, {18446744073709551615: [decimal.Decimal("1.10"), None]})
    assert to_json_text(v, t) == '{"a":1,"b":{"18446744073709551615":[1.1,null]}}'
    assert to_json_text([float("nan"), 1e300, "x\x00y"]) == '[null,1e+300,"xy"]'
    assert to_json_text((b"ab\x00\x00",), parse_type("Tuple(FixedString(4))")) == '["ab"]'
    assert to_json_text({"a": 1, "b": "x"}, parse_type("Tuple(a Int8, b String)")) == '{"a":1,"b":"x"}'


def test_json_fix_removes_nul_escapes():
    p = fetch_plan("Tuple(String)", "jsonb", "c", V26)
    assert p.convert(['["a\\u0000b"]', '["\\\\u0000"]', None]) == \
        ['["ab"]', '["\\\\u0000"]', None]


def test_utf8_fix_native_old_server():
    p = fetch_plan("Nullable(String)", "text", "c", V18)
    out = p.convert(["ok", b"\xff\xfeab", None])
    assert out == ["ok", "\ufffd\ufffdab", None]
    same = ["a", "b"]
    assert p.convert(same) is same          # no copy when nothing to fix


# ===========================================================================
# Servers
# ===========================================================================

def _port_free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _ports(n: int, lo: int = 17230, hi: int = 17299) -> list[int]:
    out = []
    for p in range(lo, hi + 1):
        if _port_free(p):
            out.append(p)
            if len(out) == n:
                return out
    raise RuntimeError("no free ports in range")


class PG:
    """A throw-away PostgreSQL 15 cluster run as the postgres user."""

    def __init__(self):
        import pwd
        self.dir = Path(tempfile.mkdtemp(prefix="chfdw-types-pg-"))
        os.chmod(self.dir, 0o777)
        self.port = _ports(1, 17280)[0]
        self.asroot = os.geteuid() == 0
        if self.asroot:
            pw = pwd.getpwnam("postgres")
            os.chown(self.dir, pw.pw_uid, pw.pw_gid)
        self.data = self.dir / "data"
        self._run([str(PG_BIN / "initdb"), "-D", str(self.data), "-A", "trust",
                   "-U", "postgres", "--no-sync", "-E", "UTF8", "--locale=C"])
        self._run([str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-w", "-l",
                   str(self.dir / "log"), "-o",
                   f"-p {self.port} -k {self.dir} -c listen_addresses='' -c fsync=off",
                   "start"])
        import psycopg
        self.conn = psycopg.connect(host=str(self.dir), port=self.port,
                                    user="postgres", dbname="postgres",
                                    autocommit=True)
        self.conn.execute("SET TimeZone = 'UTC'")

    def _run(self, cmd):
        if self.asroot:
            cmd = ["runuser", "-u", "postgres", "--"] + cmd
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL,
                       stderr=subprocess.PIPE)

    def stop(self):
        try:
            self.conn.close()
        finally:
            self._run([str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-m",
                       "immediate", "stop"])
            shutil.rmtree(self.dir, ignore_errors=True)

    def as_bridge(self, value, pg_type: str):
        """What the C bridge makes of a Python value for pg_type, as text
        (PostgreSQL's output function), following the bridge contract."""
        cat, dims = normalize_pg_type(pg_type)
        if value is None:
            return None
        c = value.__class__
        if c is str:
            sql, arg = f"SELECT %s::text::{pg_type}", value
        elif c is bool:
            assert cat == "boolean" and not dims, (value, pg_type)
            sql, arg = f"SELECT %s::boolean::{pg_type}", value
        elif c is int:
            assert not dims, (value, pg_type)
            # exact: whole seconds and the microsecond rest separately
            us = ("(%(v)s::bigint / 1000000) * interval '1 second' + "
                  "(%(v)s::bigint %% 1000000) * interval '1 microsecond'")
            if cat == "timestamptz":
                sql = (f"SELECT (timestamptz '1970-01-01 00:00:00+00' + {us})"
                       f"::{pg_type}")
            elif cat == "timestamp":
                sql = f"SELECT (timestamp '1970-01-01 00:00:00' + {us})::{pg_type}"
            elif cat == "date":
                sql = "SELECT date '1970-01-01' + %s::integer"
            elif cat in ("smallint", "integer", "bigint", "numeric", "real",
                         "double precision"):
                sql = f"SELECT %s::numeric::{pg_type}"
            else:
                raise AssertionError(f"int not allowed for {pg_type}")
            arg = value
            if cat in ("timestamptz", "timestamp"):
                return self.conn.execute(
                    f"SELECT format('%%s', ({sql}))", {"v": arg}).fetchone()[0]
        elif c is float:
            assert cat in ("real", "double precision", "numeric"), pg_type
            sql, arg = f"SELECT %s::float8::{pg_type}", value
        elif c is bytes:
            assert cat == "bytea", pg_type
            sql, arg = "SELECT %s::bytea", value
        elif c is decimal.Decimal:
            assert cat == "numeric", pg_type
            sql, arg = f"SELECT %s::numeric::{pg_type}", value
        elif c in (dt.date, dt.datetime, uuid.UUID):
            sql, arg = f"SELECT %s::{pg_type}", value
        else:
            sql, arg = f"SELECT %s::text::{pg_type}", str(value)
        # format('%s') uses the type's output function (inet::text would
        # add the netmask)
        return self.conn.execute(f"SELECT format('%%s', ({sql}))",
                                 (arg,)).fetchone()[0]


@pytest.fixture(scope="module")
def pg():
    if not (PG_BIN / "initdb").exists():
        pytest.skip("PostgreSQL 15 not installed")
    p = PG()
    yield p
    p.stop()


@pytest.fixture(scope="module")
def ch18():
    from chserver import start_clickhouse_18
    d = tempfile.mkdtemp(prefix="chfdw-types-ch18-")
    tcp, http = _ports(2, 17230)
    srv = start_clickhouse_18(d, tcp, http)
    from clickhouse_driver import Client
    c = Client("127.0.0.1", port=tcp,
               settings={"allow_experimental_low_cardinality_type": 1})
    c.server_version = tuple(int(x) for x in
                             c.execute("SELECT version()")[0][0].split("."))
    yield c
    c.disconnect()
    srv.stop()
    shutil.rmtree(d, ignore_errors=True)


class DevServer:
    def __init__(self):
        self.dir = Path(tempfile.mkdtemp(prefix="chfdw-types-dev-"))
        self.port = _ports(1, 17260)[0]
        self.log = open(self.dir / "log", "ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "ch_fdw.devserver", "--path",
             str(self.dir / "data"), "--http-port", str(self.port)],
            stdout=self.log, stderr=subprocess.STDOUT,
            cwd=Path(__file__).parent.parent)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("devserver exited: " +
                                   (self.dir / "log").read_text()[-2000:])
            try:
                with urllib.request.urlopen(
                        f"http://127.0.0.1:{self.port}/ping", timeout=1) as r:
                    if r.read().startswith(b"Ok"):
                        return
            except OSError:
                time.sleep(0.2)
        self.stop()
        raise RuntimeError("devserver did not start")

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.log.close()
        shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture(scope="module")
def modern():
    """clickhouse-connect on a modern ClickHouse: over HTTP to the devserver
    when the project has one, else to chDB in-process (same Native parser)."""
    import clickhouse_connect
    try:
        import ch_fdw.devserver  # noqa: F401
        srv = DevServer()
    except ImportError:
        srv = None
    if srv is not None:
        c = clickhouse_connect.get_client(host="127.0.0.1", port=srv.port)
    else:
        d = tempfile.mkdtemp(prefix="chfdw-types-chdb-")
        c = clickhouse_connect.get_client(interface="chdb", path=d)
    c.server_version_tuple = tuple(int(x) for x in c.server_version.split("."))
    yield c
    c.close()
    if srv is not None:
        srv.stop()


def read_native(client, table, ch_type, pg_type, col, order="id"):
    """Fetch one column the way the scan does (native driver)."""
    plan = fetch_plan(ch_type, pg_type, col, client.server_version,
                      driver="native")
    expr = plan.expression.format(f"`{col}`")
    cols = client.execute(f"SELECT {expr} FROM {table} ORDER BY {order}",
                          columnar=True)
    values = list(cols[0]) if cols else []
    return plan.convert(values) if plan.convert else values


def read_http(client, table, ch_type, pg_type, col, order="id"):
    plan = fetch_plan(ch_type, pg_type, col, client.server_version_tuple,
                      driver="http")
    expr = plan.expression.format(f"`{col}`")
    values = []
    with client.query_column_block_stream(
            f"SELECT {expr} FROM {table} ORDER BY {order}") as stream:
        for block in stream:
            values.extend(block[0])
    return plan.convert(values) if plan.convert else values


# ===========================================================================
# ClickHouse 18.16, native protocol
# ===========================================================================

CH18_COLUMNS = {
    "i8": "Int8", "u8": "UInt8", "i16": "Int16", "u16": "UInt16",
    "i32": "Int32", "u32": "UInt32", "i64": "Int64", "u64": "UInt64",
    "f32": "Float32", "f64": "Float64", "d": "Decimal(18, 4)",
    "d38": "Decimal(38, 10)", "s": "String", "fs": "FixedString(4)",
    "u": "UUID", "dt": "Date", "dtt": "DateTime",
    "dtz": "DateTime('Europe/Berlin')", "e": "Enum8('b\\'c' = -2, 'a' = 1)",
    "lc": "LowCardinality(String)", "ns": "Nullable(String)",
    "ni": "Nullable(Int64)", "ndt": "Nullable(DateTime)",
    "an": "Array(Nullable(Int32))", "ast": "Array(String)",
    "aa": "Array(Array(Int64))", "af": "Array(Float64)",
    "adt": "Array(DateTime('Europe/Berlin'))", "t": "Tuple(Int32, String)",
    "td": "Tuple(String, Nullable(Decimal(18, 2)))",
}

D = decimal.Decimal
CH18_ROWS = [
    dict(id=1, i8=-128, u8=255, i16=-32768, u16=65535, i32=-2147483648,
         u32=4294967295, i64=-2 ** 63, u64=2 ** 64 - 1, f32=0.1,
         f64=float("nan"), d=D("-99999999999999.9999"),
         d38=D("-9999999999999999999999999999.9999999999"),
         s='héllo "q" \\ {x},NULL', fs="ab", u=uuid.UUID(int=0),
         dt=dt.date(1970, 1, 1), dtt=dt.datetime(1970, 1, 1, 0, 0, 1),
         dtz=dt.datetime(2020, 7, 1, 12, 0, 0), e="b'c", lc="x", ns=None,
         ni=None, ndt=None, an=[1, None, -2147483648],
         ast=['a"b', "c\\d", "NULL", "", "{}", "ü"], aa=[[1, 2], [3, 4]],
         af=[float("nan"), float("inf"), -float("inf"), 1.5],
         adt=[dt.datetime(2020, 1, 1, 12, 0, 0)], t=(1, 'x"y'),
         td=("a", D("1.10"))),
    dict(id=2, i8=127, u8=0, i16=32767, u16=0, i32=2147483647, u32=0,
         i64=2 ** 63 - 1, u64=0, f32=-float("inf"), f64=1e308,
         d=D("1.5"), d38=D("0"), s="", fs="abcd",
         u=uuid.UUID("12345678-1234-5678-1234-567812345678"),
         dt=dt.date(2105, 12, 31), dtt=dt.datetime(2106, 2, 7, 6, 28, 15),
         dtz=dt.datetime(2020, 1, 1, 0, 30, 0), e="a", lc="", ns="ß",
         ni=-1, ndt=dt.datetime(2000, 2, 29, 23, 59, 59), an=[], ast=[],
         aa=[], af=[], adt=[], t=(0, ""), td=("", None)),
]
# expected PostgreSQL text per (column, pg type)
CH18_EXPECT = [
    ("i8", "smallint", ["-128", "127"]),
    ("u8", "smallint", ["255", "0"]),
    ("u8", "boolean", ["t", "f"]),
    ("i16", "smallint", ["-32768", "32767"]),
    ("u16", "integer", ["65535", "0"]),
    ("i32", "integer", ["-2147483648", "2147483647"]),
    ("i32", "bigint", ["-2147483648", "2147483647"]),
    ("u32", "bigint", ["4294967295", "0"]),
    ("i64", "bigint", ["-9223372036854775808", "9223372036854775807"]),
    ("i64", "numeric", ["-9223372036854775808", "9223372036854775807"]),
    ("u64", "numeric(20,0)", ["18446744073709551615", "0"]),
    ("i64", "text", ["-9223372036854775808", "9223372036854775807"]),
    ("f32", "real", ["0.1", "-Infinity"]),
    ("f64", "double precision", ["NaN", "1e+308"]),
    ("f64", "numeric", ["NaN", "1" + "0" * 308]),
    ("d", "numeric(18,4)", ["-99999999999999.9999", "1.5000"]),
    ("d", "double precision", ["-100000000000000", "1.5"]),
    ("d", "text", ["-99999999999999.9999", "1.5000"]),
    ("d38", "numeric(38,10)", ["-9999999999999999999999999999.9999999999",
                               "0.0000000000"]),
    ("s", "text", ['héllo "q" \\ {x},NULL', ""]),
    ("s", "bytea", ["\\x68c3a96c6c6f20227122205c207b787d2c4e554c4c", "\\x"]),
    ("fs", "text", ["ab", "abcd"]),
    ("fs", "bytea", ["\\x61620000", "\\x61626364"]),
    ("u", "uuid", ["00000000-0000-0000-0000-000000000000",
                   "12345678-1234-5678-1234-567812345678"]),
    ("u", "text", ["00000000-0000-0000-0000-000000000000",
                   "12345678-1234-5678-1234-567812345678"]),
    ("dt", "date", ["1970-01-01", "2105-12-31"]),
    ("dt", "timestamp", ["1970-01-01 00:00:00", "2105-12-31 00:00:00"]),
    ("dt", "timestamptz", ["1970-01-01 00:00:00+00", "2105-12-31 00:00:00+00"]),
    ("dtt", "timestamp with time zone", ["1970-01-01 00:00:01+00",
                                         "2106-02-07 06:28:15+00"]),
    # Berlin wall clock 12:00 CEST = 10:00 UTC; 00:30 CET = 23:30 UTC
    ("dtz", "timestamptz", ["2020-07-01 10:00:00+00", "2019-12-31 23:30:00+00"]),
    ("dtz", "timestamp", ["2020-07-01 12:00:00", "2020-01-01 00:30:00"]),
    ("dtz", "date", ["2020-07-01", "2020-01-01"]),
    ("dtz", "text", ["2020-07-01 12:00:00", "2020-01-01 00:30:00"]),
    ("e", "text", ["b'c", "a"]),
    ("e", "smallint", ["-2", "1"]),
    ("lc", "text", ["x", ""]),
    ("ns", "text", [None, "ß"]),
    ("ni", "bigint", [None, "-1"]),
    ("ni", "integer", [None, "-1"]),
    ("ndt", "timestamptz", [None, "2000-02-29 23:59:59+00"]),
    ("an", "integer[]", ["{1,NULL,-2147483648}", "{}"]),
    ("an", "bigint[]", ["{1,NULL,-2147483648}", "{}"]),
    ("an", "text", ["[1,NULL,-2147483648]", "[]"]),
    ("an", "jsonb", ["[1, null, -2147483648]", "[]"]),
    ("ast", "text[]", ['{"a\\"b","c\\\\d","NULL","","{}",ü}', "{}"]),
    ("aa", "bigint[]", ["{{1,2},{3,4}}", "{}"]),
    ("aa", "jsonb", ["[[1, 2], [3, 4]]", "[]"]),
    ("af", "double precision[]", ["{NaN,Infinity,-Infinity,1.5}", "{}"]),
    ("adt", "timestamptz[]", ['{"2020-01-01 11:00:00+00"}', "{}"]),
    ("adt", "timestamp[]", ['{"2020-01-01 12:00:00"}', "{}"]),
    ("t", "jsonb", ['[1, "x\\"y"]', '[0, ""]']),
    ("td", "jsonb", ['["a", 1.1]', '["", null]']),
]


@pytest.fixture(scope="module")
def ch18_table(ch18):
    ch18.execute("DROP TABLE IF EXISTS types_t")
    cols = ", ".join(f"`{k}` {v}" for k, v in CH18_COLUMNS.items())
    ch18.execute(f"CREATE TABLE types_t (id UInt32, {cols}) ENGINE = Memory")
    names = ["id"] + list(CH18_COLUMNS)
    quoted = ", ".join(f"`{n}`" for n in names)
    ch18.execute(f"INSERT INTO types_t ({quoted}) VALUES",
                 [[r[n] for n in names] for r in CH18_ROWS])
    # a String that is not valid UTF-8
    ch18.execute("INSERT INTO types_t (id, s, ns) VALUES",
                 [[3, b"a\xffb", b"\xfe"]])
    return "types_t"


@pytest.mark.parametrize("col,pg_type,expected", CH18_EXPECT,
                         ids=[f"{c}-{p}" for c, p, _ in CH18_EXPECT])
def test_ch18_native_values(ch18, ch18_table, pg, col, pg_type, expected):
    ch_type = CH18_COLUMNS[col]
    values = read_native(ch18, f"{ch18_table} WHERE id <= 2", ch_type,
                         pg_type, col)
    got = [pg.as_bridge(v, pg_type) for v in values]
    assert got == expected


def test_ch18_system_columns_types_parse(ch18, ch18_table):
    rows = ch18.execute("SELECT name, type FROM system.columns "
                        "WHERE database = currentDatabase() AND table = 'types_t'")
    got = {n: t for n, t in rows}
    for name, t in CH18_COLUMNS.items():
        assert parse_type(got[name]) == parse_type(t)
        pg_type_for(got[name])


def test_ch18_invalid_utf8(ch18, ch18_table, pg):
    vals = read_native(ch18, f"{ch18_table} WHERE id = 3", "String", "text", "s")
    assert vals == ["a\ufffdb"]
    assert pg.as_bridge(vals[0], "text") == "a\ufffdb"
    vals = read_native(ch18, f"{ch18_table} WHERE id = 3", "Nullable(String)",
                       "text", "ns")
    assert vals == ["\ufffd"]
    raw = read_native(ch18, f"{ch18_table} WHERE id = 3", "String", "bytea", "s")
    assert raw == [b"a\xffb"]


def test_ch18_ragged_array_refused(ch18, pg):
    ch18.execute("DROP TABLE IF EXISTS types_rag")
    ch18.execute("CREATE TABLE types_rag (id UInt8, a Array(Array(Int32))) ENGINE = Memory")
    ch18.execute("INSERT INTO types_rag VALUES", [[1, [[1, 2], [3]]]])
    with pytest.raises(ChFdwError):
        read_native(ch18, "types_rag", "Array(Array(Int32))", "integer[]", "a")
    js = read_native(ch18, "types_rag", "Array(Array(Int32))", "jsonb", "a")
    assert pg.as_bridge(js[0], "jsonb") == "[[1, 2], [3]]"


def test_ch18_aggregate_state_bytea(ch18):
    ch18.execute("DROP TABLE IF EXISTS types_agg")
    ch18.execute("CREATE TABLE types_agg (id UInt8, a AggregateFunction(uniq, UInt64)) "
                 "ENGINE = AggregatingMergeTree ORDER BY id")
    ch18.execute("INSERT INTO types_agg SELECT 1, uniqState(toUInt64(1))")
    v = read_native(ch18, "types_agg", "AggregateFunction(uniq, UInt64)", "bytea", "a")
    assert isinstance(v[0], bytes) and len(v[0]) > 0
    again = ch18.execute("SELECT hex(CAST(a AS String)) FROM types_agg")[0][0]
    assert v[0] == bytes.fromhex(again)


# ===========================================================================
# modern ClickHouse over HTTP (clickhouse-connect)
# ===========================================================================

MODERN_COLUMNS = {
    "i128": "Int128", "u256": "UInt256", "u64": "UInt64", "bf": "BFloat16",
    "f32": "Float32", "d256": "Decimal(76, 10)", "s": "String",
    "fs": "FixedString(4)", "d32": "Date32", "dtt": "DateTime",
    "dtz": "DateTime('Asia/Kolkata')", "dt64": "DateTime64(3, 'Europe/Berlin')",
    "dt649": "DateTime64(9, 'UTC')", "e": "Enum16('a' = 1, 'b\\'c' = 1000)",
    "lcn": "LowCardinality(Nullable(String))", "an": "Array(Nullable(Int32))",
    "afs": "Array(FixedString(2))", "adt64": "Array(DateTime64(6, 'UTC'))",
    "aip": "Array(IPv6)", "ab": "Array(Bool)",
    "t": "Tuple(a Int32, b String)", "tu": "Tuple(Int32, Nullable(String))",
    "m": "Map(UInt64, Array(Decimal(38, 2)))", "ip4": "IPv4", "ip6": "IPv6",
    "b": "Bool", "nb": "Nullable(Bool)", "j": "JSON",
    "v": "Variant(String, UInt64)", "dy": "Dynamic",
    "sa": "SimpleAggregateFunction(sum, UInt64)", "pt": "Point",
    "ri": "Ring", "tm": "Time", "tm64": "Time64(3)",
    "ndt64": "Nullable(DateTime64(3, 'UTC'))",
}
MODERN_ROWS = [
    "(1, -170141183460469231731687303715884105728, "
    "'115792089237316195423570985008687907853269984665640564039457584007913129639935', "
    "18446744073709551615, 1.5, 0.1, "
    "'-123456789012345678901234567890123456789012345678901234567890123456.1234567890', "
    "'h\\xffé', 'ab', '1900-01-01', '1970-01-01 00:00:00', '2020-01-01 05:30:00', "
    "'1900-01-01 00:00:00.123', '1969-12-31 23:59:59.999999999', 'b''c', NULL, "
    "[1, NULL, 3], ['a', 'bc'], ['1969-12-31 23:59:59.999999'], ['::ffff:1.2.3.4'], "
    "[true, false], (1, 'x\"y'), (2, NULL), map(18446744073709551615, [1.10, -2]), "
    "'255.255.255.255', '2001:db8::1', true, NULL, "
    "'{\"a\":{\"b\":1.10,\"c\":[1,\"x\"]},\"big\":18446744073709551615}', "
    "'str', [1, 2], 7, (1.5, 2), [(0, 0), (1, 1)], '12:34:56', '-01:02:03.456', NULL)",
    "(2, toInt128('170141183460469231731687303715884105727'), 0, 0, -1.5, nan, 0, "
    "'', '', '2299-12-31', '2106-02-07 06:28:15', '1970-01-01 05:30:00', "
    "'2299-12-31 23:59:59.999', '2262-04-11 23:47:16.854775807', 'a', 'x', "
    "[], [], [], [], [], (0, ''), (0, NULL), map(), '0.0.0.0', '::', false, false, "
    "'{}', NULL, NULL, 0, (0, 0), [], '999:59:59', '00:00:00', "
    "'2020-01-01 00:00:00.001')",
]
MODERN_EXPECT = [
    ("i128", "numeric", ["-170141183460469231731687303715884105728",
                         "170141183460469231731687303715884105727"]),
    ("u256", "numeric", ["115792089237316195423570985008687907853269984665640564039457584007913129639935", "0"]),
    ("u64", "numeric(20,0)", ["18446744073709551615", "0"]),
    ("u64", "text", ["18446744073709551615", "0"]),
    ("bf", "real", ["1.5", "-1.5"]),
    ("f32", "real", ["0.1", "NaN"]),
    ("f32", "text", ["0.1", "NaN"]),
    ("d256", "numeric", ["-123456789012345678901234567890123456789012345678901234567890123456.1234567890",
                         "0.0000000000"]),
    ("s", "text", ["h\ufffdé", ""]),
    ("s", "bytea", ["\\x68ffc3a9", "\\x"]),
    ("fs", "text", ["ab", ""]),
    ("fs", "bytea", ["\\x61620000", "\\x00000000"]),
    ("d32", "date", ["1900-01-01", "2299-12-31"]),
    ("dtt", "timestamptz", ["1970-01-01 00:00:00+00", "2106-02-07 06:28:15+00"]),
    ("dtz", "timestamptz", ["2020-01-01 00:00:00+00", "1970-01-01 00:00:00+00"]),
    ("dtz", "timestamp", ["2020-01-01 05:30:00", "1970-01-01 05:30:00"]),
    ("dtz", "text", ["2020-01-01 05:30:00", "1970-01-01 05:30:00"]),
    ("dt64", "timestamptz", ["1899-12-31 23:00:00.123+00", "2299-12-31 22:59:59.999+00"]),
    ("dt64", "timestamp", ["1900-01-01 00:00:00.123", "2299-12-31 23:59:59.999"]),
    ("dt64", "date", ["1900-01-01", "2299-12-31"]),
    # precision 9 is floored to microseconds
    ("dt649", "timestamptz", ["1969-12-31 23:59:59.999999+00",
                              "2262-04-11 23:47:16.854775+00"]),
    ("dt649", "timestamp", ["1969-12-31 23:59:59.999999", "2262-04-11 23:47:16.854775"]),
    ("e", "text", ["b'c", "a"]),
    ("e", "integer", ["1000", "1"]),
    ("lcn", "text", [None, "x"]),
    ("an", "integer[]", ["{1,NULL,3}", "{}"]),
    ("an", "jsonb", ["[1, null, 3]", "[]"]),
    ("afs", "text[]", ["{a,bc}", "{}"]),
    ("adt64", "timestamptz[]", ['{"1969-12-31 23:59:59.999999+00"}', "{}"]),
    ("aip", "inet[]", ["{::ffff:1.2.3.4}", "{}"]),
    ("ab", "boolean[]", ["{t,f}", "{}"]),
    ("t", "jsonb", ['{"a": 1, "b": "x\\"y"}', '{"a": 0, "b": ""}']),
    ("tu", "jsonb", ["[2, null]", "[0, null]"]),
    ("m", "jsonb", ['{"18446744073709551615": [1.1, -2]}', "{}"]),
    ("ip4", "inet", ["255.255.255.255", "0.0.0.0"]),
    ("ip6", "inet", ["2001:db8::1", "::"]),
    ("ip6", "text", ["2001:db8::1", "::"]),
    ("b", "boolean", ["t", "f"]),
    ("b", "text", ["true", "false"]),
    ("b", "integer", ["1", "0"]),
    ("nb", "boolean", [None, "f"]),
    ("j", "jsonb", ['{"a": {"b": 1.1, "c": [1, "x"]}, "big": 18446744073709551615}', "{}"]),
    ("v", "jsonb", ['"str"', None]),
    ("dy", "jsonb", ["[1, 2]", None]),
    ("sa", "numeric(20,0)", ["7", "0"]),
    ("pt", "point", ["(1.5,2)", "(0,0)"]),
    ("pt", "jsonb", ["[1.5, 2]", "[0, 0]"]),
    ("ri", "jsonb", ["[[0, 0], [1, 1]]", "[]"]),
    ("tm", "interval", ["12:34:56", "999:59:59"]),
    ("tm64", "interval", ["-01:02:03.456", "00:00:00"]),
    ("ndt64", "timestamptz", [None, "2020-01-01 00:00:00.001+00"]),
]


@pytest.fixture(scope="module")
def modern_table(modern):
    modern.command("DROP TABLE IF EXISTS types_m")
    cols = ", ".join(f"`{k}` {v}" for k, v in MODERN_COLUMNS.items())
    modern.command(f"CREATE TABLE types_m (id UInt32, {cols}) ENGINE = MergeTree "
                   "ORDER BY id SETTINGS allow_nullable_key = 0")
    modern.command("INSERT INTO types_m VALUES " + ", ".join(MODERN_ROWS))
    return "types_m"


@pytest.mark.parametrize("col,pg_type,expected", MODERN_EXPECT,
                         ids=[f"{c}-{p}" for c, p, _ in MODERN_EXPECT])
def test_modern_http_values(modern, modern_table, pg, col, pg_type, expected):
    ch_type = MODERN_COLUMNS[col]
    values = read_http(modern, modern_table, ch_type, pg_type, col)
    got = [pg.as_bridge(v, pg_type) for v in values]
    assert got == expected


def test_modern_system_columns_types_parse(modern, modern_table):
    rows = modern.query("SELECT name, type FROM system.columns WHERE "
                        "database = currentDatabase() AND table = 'types_m'").result_rows
    got = dict(rows)
    for name, t in MODERN_COLUMNS.items():
        assert parse_type(got[name]) == parse_type(t), name
        assert pg_type_for(got[name]) == pg_type_for(t)


def test_modern_json_nul_and_invalid_utf8(modern, pg):
    modern.command("DROP TABLE IF EXISTS types_j")
    modern.command("CREATE TABLE types_j (id UInt8, t Tuple(FixedString(3), String)) "
                   "ENGINE = Memory")
    modern.command("INSERT INTO types_j VALUES (1, ('a', 'x\\0y\\xff'))")
    js = read_http(modern, "types_j", "Tuple(FixedString(3), String)", "jsonb", "t")
    assert pg.as_bridge(js[0], "jsonb") == '["a", "xy\ufffd"]'


def test_modern_aggregate_state_bytea(modern):
    modern.command("DROP TABLE IF EXISTS types_agg")
    modern.command("CREATE TABLE types_agg (id UInt8, a AggregateFunction(uniq, UInt64)) "
                   "ENGINE = AggregatingMergeTree ORDER BY id")
    modern.command("INSERT INTO types_agg SELECT 1, uniqState(toUInt64(1))")
    v = read_http(modern, "types_agg", "AggregateFunction(uniq, UInt64)", "bytea", "a")
    assert v == [bytes.fromhex(modern.query(
        "SELECT hex(CAST(a AS String)) FROM types_agg").result_rows[0][0])]


def test_modern_nested_flattened(modern, pg):
    modern.command("DROP TABLE IF EXISTS types_n")
    modern.command("CREATE TABLE types_n (id UInt8, n Nested(x Int32, y String)) "
                   "ENGINE = Memory")
    modern.command("INSERT INTO types_n VALUES (1, [1, 2], ['p', 'q'])")
    rows = modern.query("SELECT name, type FROM system.columns WHERE "
                        "table = 'types_n' AND name != 'id'").result_rows
    assert rows == [("n.x", "Array(Int32)"), ("n.y", "Array(String)")]
    v = read_http(modern, "types_n", "Array(String)", "text[]", "n.y")
    assert [pg.as_bridge(x, "text[]") for x in v] == ["{p,q}"]


def test_native_driver_modern_objects():
    """clickhouse-driver on modern servers returns Python objects we cannot
    produce from 18.16 (no such types there); the converters must accept
    them.  Values as clickhouse-driver 0.2.11 documents them."""
    import ipaddress
    p = fetch_plan("Array(IPv4)", "inet[]", "c", V26)
    assert p.convert([[ipaddress.IPv4Address("1.2.3.4"), None]]) == ['{"1.2.3.4",NULL}']
    p = fetch_plan("Map(String, Tuple(a Int8, b Decimal(9, 2)))", "jsonb", "c", (21, 1))
    assert p.convert([{"k": (1, D("1.50"))}, None]) == ['{"k":{"a":1,"b":1.5}}', None]
    p = fetch_plan("Array(Bool)", "boolean[]", "c", V26)
    assert p.convert([[True, None, False]]) == ["{t,NULL,f}"]
