"""Unit tests of the translator API: quoting, parameter rendering, refusals.
Quoting is checked for real against chDB (ClickHouse 26.x)."""

from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from ch_fdw.translate import (ColumnInfo, Dialect, quote_identifier, quote_string,  # noqa: E402
                              translate_condition, translate_sort_key)
from ch_fdw.translate.literals import Unsupported, float4_value, parse_pg_array  # noqa: E402

NEW = Dialect((26, 9, 2), False)
OLD = Dialect((18, 16, 1), False)

HOSTILE = ["plain", "a`b", "a'b", "a\\b", "a\\`b", "`; DROP TABLE x; --", "new\nline",
           "tab\there", "uni\u00e9\u212a\U0001F600", "nul\0byte", "\\", "`", "'", "a\r\x01b",
           "trailing\\"]


def cols(*specs):
    return {s[0]: ColumnInfo(s[0], s[1] if len(s) > 3 else s[0], s[-2], s[-1]) for s in specs}


C = cols(("id", "bigint", "Int64"), ("i", "integer", "Nullable(Int32)"),
         ("f", "double precision", "Float64"), ("t", "text", "Nullable(String)"),
         ("c", "character(3)", "FixedString(3)"), ("j", "jsonb", "String"),
         ("a", "integer[]", "Array(Int32)"), ("u", "uuid", "UUID"),
         ("ts", "timestamp with time zone", "DateTime('UTC')"),
         ("tb", "timestamp without time zone", "DateTime('Europe/Berlin')"),
         ("tu", "timestamp without time zone", "DateTime"),
         ("s32", "text", "Int32"), ("fl", "numeric", "Float64"), ("e", "text", "Enum8('a' = 1)"),
         ("lc", "text", "LowCardinality(Nullable(String))"), ("r", "real", "Float64"))


@pytest.fixture(scope="module")
def chdb():
    chdb_session = pytest.importorskip("chdb.session")
    d = tempfile.mkdtemp(prefix="trunit-", dir="/tmp")
    s = chdb_session.Session(d)
    yield s
    s.close()
    shutil.rmtree(d, ignore_errors=True)


# ------------------------------------------------------------------ quoting

def test_quote_identifier_always_backticks():
    assert quote_identifier("id") == "`id`"
    assert quote_identifier("a`b") == "`a\\`b`"
    assert quote_identifier("a\\b") == "`a\\\\b`"
    assert quote_identifier("x\0y") == "`x\\0y`"
    with pytest.raises(ValueError):
        quote_identifier("")


def test_quote_string_escapes():
    assert quote_string("it's") == "'it\\'s'"
    assert quote_string("a\\b") == "'a\\\\b'"
    assert quote_string("a\nb") == "'a\\nb'"
    assert "\0" not in quote_string("x\0y")
    with pytest.raises(TypeError):
        quote_string(5)


@pytest.mark.parametrize("value", HOSTILE)
def test_quote_string_round_trips_in_clickhouse(chdb, value):
    out = chdb.query(f"SELECT hex({quote_string(value)})", "TSV").bytes().decode().strip()
    assert bytes.fromhex(out).decode() == value


def test_hostile_identifiers_work_as_columns(chdb):
    names = [n for n in HOSTILE if n != "nul\0byte"]   # ClickHouse rejects NUL in names
    coldefs = ", ".join(f"{quote_identifier(n)} Int32" for n in names)
    chdb.query("DROP TABLE IF EXISTS hostile")
    chdb.query(f"CREATE TABLE hostile ({coldefs}) ENGINE = Memory")
    got = chdb.query("SELECT name FROM system.columns WHERE table = 'hostile' "
                     "AND database = currentDatabase() ORDER BY position FORMAT JSONCompactEachRow",
                     "TSV").bytes().decode()
    import json
    assert [json.loads(line)[0] for line in got.splitlines()] == names
    # and a translated clause over each hostile column runs and means what it says
    vals = ", ".join(str(k) for k in range(len(names)))
    chdb.query(f"INSERT INTO hostile VALUES ({vals})")
    for k, n in enumerate(names):
        pgname = '"' + n.replace('"', '""') + '"'
        cond = translate_condition(f"({pgname} = {k})",
                                   {n: ColumnInfo(n, n, "integer", "Int32")}, {}, NEW)
        assert cond is not None
        assert chdb.query(f"SELECT count() FROM hostile WHERE {cond.render({})}",
                          "TSV").bytes().decode().strip() == "1"


def test_hostile_string_constant_in_clause(chdb):
    for v in HOSTILE:
        if "\0" in v:
            continue   # PostgreSQL text cannot contain NUL
        pg_lit = "'" + v.replace("'", "''") + "'::text"
        cond = translate_condition(f"(t = {pg_lit})", C, {}, NEW)
        assert cond is not None, v
        sql = cond.render({}).replace("`t`", quote_string(v))
        assert chdb.query(f"SELECT {sql}", "TSV").bytes().decode().strip() == "1"


def test_remote_name_is_used():
    c = {"Name": ColumnInfo("Name", "remote col`x", "text", "String")}
    cond = translate_condition("(\"Name\" = 'x'::text)", c, {}, NEW)
    assert cond.sql_template == "(`remote col\\`x` = 'x')"


# ------------------------------------------------------------------ params

def test_params_are_rendered_safely():
    cond = translate_condition("((t = $1) OR (t = '$1'::text))", C, {1: "text"}, NEW)
    assert cond.param_ids == (1,)
    assert cond.sql_template == "((`t` = $1) OR (`t` = '$1'))"
    assert cond.render({1: "x' OR 1=1 --\\"}) == \
        "((`t` = 'x\\' OR 1=1 --\\\\') OR (`t` = '$1'))"
    assert cond.render({1: None}) == "((`t` = NULL) OR (`t` = '$1'))"
    with pytest.raises(KeyError):
        cond.render({})


def test_param_types():
    cond = translate_condition("((id > $1) AND (f < $2) AND (id <> $1))", C,
                               {1: "bigint", 2: "double precision"}, NEW)
    assert cond.param_ids == (1, 2)
    out = cond.render({1: "-9223372036854775808", 2: "Infinity"})
    assert "(-9223372036854775808)" in out and "inf" in out
    assert "nan" in cond.render({1: "1", 2: "NaN"})
    with pytest.raises(Unsupported):
        cond.render({1: "1; DROP", 2: "1"})   # not an integer: never spliced in


@pytest.mark.parametrize("ptype", ["date", "timestamp with time zone", "numeric", "jsonb",
                                   "integer[]", "interval"])
def test_params_of_range_limited_types_are_refused(ptype):
    assert translate_condition("(id = $1)", C, {1: ptype}, NEW) is None


def test_unknown_param_type_refused():
    assert translate_condition("(id = $1)", C, {}, NEW) is None


# ------------------------------------------------------------------ refusals

@pytest.mark.parametrize("clause", [
    "(c = 'ab'::bpchar)",                 # blank-padded semantics
    "(j = '{}'::jsonb)",
    "(a = '{1}'::integer[])",
    "(u = 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'::uuid)",
    "(nosuch = 1)",
    "(t ~ 'a'::text)", "(t ~* 'a'::text)", "(t !~ 'a'::text)",
    "(t ~~* 'abc'::text)",                # ILIKE with letters: Unicode folding differs
    "(t ~~ like_escape('a'::text, '!'::text))",
    "(t ~~ 'a\\'::text)",                 # PG: error (pattern ends with escape)
    "(t > 'a'::text)",                    # collation not C
    "(lower(t) = 'x'::text)",
    "(tb > '2024-01-01 00:00:00'::timestamp without time zone)",   # DST zone
    "(tu > '2024-01-01 00:00:00'::timestamp without time zone)",   # zone unknown
    "(ts > '1969-12-31 23:00:00+00'::timestamp with time zone)",   # outside DateTime
    "(ts > 'infinity'::timestamp with time zone)",
    "(s32 = '1'::text)",                  # remote type differs
    "(fl = 1.5)",                         # numeric over Float64
    "(e < 'a'::text)",                    # enum ordering under a non-C collation
    "(f / (0)::double precision > 1)", "((f)::numeric > 1.5)",
    "((i)::integer = 1) AND (x = 1)",
    "(id < ANY ($1))",                    # array parameters: = ANY / <> ALL only
    "(id > 'NaN'::numeric)", "(id > 123456789012345678901234567890123456789.5)",
    "(i = (1.5)::integer)",
    "((f)::integer = 1)",
    "(id = (SELECT 1))",
    "(id = 1); DROP TABLE t",
])
def test_refused(clause):
    assert translate_condition(clause, C, {1: "bigint[]"}, NEW) is None


def test_array_parameter():
    """= ANY($1) / <> ALL($1): the IN list is built per execution, with
    PostgreSQL's NULL rules (x = ANY('{1,NULL}') is NULL when no match)."""
    cond = translate_condition("(id = ANY ($1))", C, {1: "bigint[]"}, NEW)
    assert cond.render({1: "{1,NULL,3}"}) == "(`id` IN (1, 3))"
    assert cond.render({1: "{{1},{2}}"}) == "(`id` IN (1, 2))"
    assert [cond.render({1: v}) for v in ("{}", None, "{NULL}")] == ["0", "0", "0"]
    cond = translate_condition("(id <> ALL ($1))", C, {1: "bigint[]"}, NEW)
    assert cond.render({1: "{1,3}"}) == "(`id` NOT IN (1, 3))"
    assert [cond.render({1: v}) for v in ("{1,NULL}", "{}")] == ["0", "1"]
    with pytest.raises(Unsupported):
        cond.render({1: "{1; DROP}"})   # not an integer: never spliced in


def test_gating_on_old_servers():
    frac = "(ts > '2024-01-01 00:00:00.5+00'::timestamp with time zone)"
    assert translate_condition(frac, C, {}, OLD) is None
    assert "toDateTime64" in translate_condition(frac, C, {}, NEW).sql_template
    assert translate_condition("(t ~~* '%'::text)", C, {}, OLD).sql_template == "(`t` LIKE '%')"
    # boolean constants are 1/0 (18.16 has no true/false literals)
    b = {"flag": ColumnInfo("flag", "flag", "boolean", "UInt8")}
    assert translate_condition("(flag = true)", b, {}, OLD).sql_template == "(`flag` = 1)"


def test_text_ordering_only_with_c_collation():
    assert translate_condition("(t > 'a'::text)", C, {}, NEW) is None
    cond = translate_condition("(t > 'a'::text)", C, {}, Dialect((26, 9, 2), True))
    assert cond.sql_template == "(`t` > 'a')"
    assert translate_condition("(lc = 'a'::text)", C, {}, NEW).sql_template == "(`lc` = 'a')"


# ------------------------------------------------------------------ shapes

def test_shapes():
    def t(clause, d=NEW):
        r = translate_condition(clause, C, {}, d)
        return r.sql_template if r else None
    assert t("((id % 2) = 0)") == "((toInt64(`id`) % 2) = 0)"
    assert t("((i / 2) = 1)") == "(intDiv(toInt64(`i`), 2) = 1)"
    assert t("(f > '1.5'::double precision)") == "((`f` > 1.5) OR isNaN(`f`))"
    assert t("(id <> ALL ('{1,NULL}'::bigint[]))") == "0"
    assert t("(i <> ALL ('{1,2}'::integer[]))") == "((`i` IS NOT NULL) AND `i` NOT IN (1, 2))"
    assert t("(id = ANY ('{}'::bigint[]))") == "0"
    assert t("(NOT (i = 1))") == "(`i` != 1)"
    assert t("(NOT ((i > 1) AND (id < 5)))") == "((`i` <= 1) OR (`id` >= 5))"
    assert t("(t ~~ 'a\\b\\%\\_\\\\%'::text)") == "(`t` LIKE 'ab\\\\%\\\\_\\\\\\\\%')"
    assert t("(ts = '2024-01-01 01:00:00+01'::timestamp with time zone)") == \
        "(`ts` = toDateTime('2024-01-01 00:00:00', 'UTC'))"
    assert t("(r > '1.5'::double precision)") is None   # real column over Float64


def test_sort_key_basic():
    assert translate_sort_key(ColumnInfo("id", "x`y", "bigint", "Int64"), False, False, NEW) == \
        "`x\\`y` ASC NULLS LAST"
    assert translate_sort_key(ColumnInfo("f", "f", "double precision", "Float64"), False, True,
                              NEW) == "isNaN(`f`) ASC NULLS FIRST, `f` ASC NULLS FIRST"
    assert translate_sort_key(ColumnInfo("f", "f", "double precision", "Float64"), True, True,
                              NEW) == "`f` DESC NULLS FIRST"


# ------------------------------------------------------------------ literals

def test_float4_correct_rounding():
    import struct
    for s in ["0.1", "1.1", "3.4028235e38", "1e-38", "16777217", "0.3"]:
        # reference: PostgreSQL float4in is strtof (correctly rounded)
        import ctypes
        libc = ctypes.CDLL(None)
        libc.strtof.restype = ctypes.c_float
        ref = libc.strtof(s.encode(), None)
        assert struct.pack("f", float4_value(s)) == struct.pack("f", ref), s


def test_parse_pg_array():
    assert parse_pg_array('{1,2,NULL}') == ["1", "2", None]
    assert parse_pg_array('{a,"b c","d\\"e","f\\\\g","NULL",""}') == \
        ["a", "b c", 'd"e', "f\\g", "NULL", ""]
    assert parse_pg_array("{}") == []
    with pytest.raises(Unsupported):
        parse_pg_array("{{1,2},{3,4}}")
    with pytest.raises(Unsupported):
        parse_pg_array("[1:2]={1,2}")
