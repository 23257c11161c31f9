"""now(), current_date, ... and date/timestamptz parameters reach ClickHouse
(issue 9).

Statement-stable values (now(), current_timestamp, current_date,
localtimestamp, statement_timestamp(), transaction_timestamp() and
expressions over them) are computed by PostgreSQL at execution (src/stable.c)
and sent as parameters; date and timestamptz parameters, including generic
plans' and out-of-range values, are compared with the column per value
(ch_fdw/translate/scan_bounds.py).  Every clause must be pushed (a WHERE in
the Remote SQL) and select exactly the rows a local table selects, under a
DST time zone; clock_timestamp() stays volatile and local.
"""

from __future__ import annotations

import datetime as dt

import pytest

from helpers import explain, foreign_table, remote_sql

NOW = dt.datetime.now(dt.timezone.utc).replace(microsecond=0, tzinfo=None)
TODAY = NOW.date()


def _rows():
    offsets = [-2 * 3600, -25 * 3600, -8 * 86400, -30 * 86400, 86400, 3600, -3 * 3600 - 1, 0]
    rows = []
    for i, off in enumerate(offsets):
        ts = NOW + dt.timedelta(seconds=off)
        rows.append((i + 1, ts, (ts - dt.timedelta(hours=5)).date()))
    rows.append((20, dt.datetime(1970, 1, 1, 0, 0, 5), dt.date(1970, 1, 1)))
    rows.append((21, dt.datetime(2105, 6, 1, 12, 0, 0), dt.date(2105, 6, 1)))
    rows.append((22, None, None))
    return rows


ROWS = _rows()


@pytest.fixture
def tables(pg, engine, server, uniq):
    utc = [(i, ts and ts.replace(tzinfo=dt.timezone.utc), d) for i, ts, d in ROWS]
    foreign_table(pg, engine, server, uniq,
                  "id Int32, ts Nullable(DateTime('UTC')), d Nullable(Date)",
                  "id int, ts timestamptz, d date", utc, ["id", "ts", "d"])
    local = f"{uniq}_local"
    pg.execute(f"CREATE TABLE {local} (id int, ts timestamptz, d date)")
    for i, ts, d in ROWS:
        pg.execute(f"INSERT INTO {local} VALUES (%s, %s::timestamp AT TIME ZONE 'UTC', %s)",
                   (i, ts, d))
    pg.execute("SET ch_fdw.query_pushdown = off")   # the per-table path on every engine
    pg.execute("SET TimeZone = 'America/New_York'")
    yield uniq, local
    pg.execute("RESET ch_fdw.query_pushdown")
    pg.execute("RESET TimeZone")


def _same_ids(pg, tables, where: str, params=None, pushed=True):
    ft, local = tables
    q = "SELECT id FROM {} WHERE " + where + " ORDER BY id"
    sql = remote_sql(pg, q.format(ft), params)
    assert len(sql) == 1
    assert (" WHERE " in sql[0]) == pushed, f"{where}: {sql[0]}"
    with pg.transaction():   # one now() for both
        want = pg.execute(q.format(local), params).fetchall()
        got = pg.execute(q.format(ft), params).fetchall()
    assert got == want, f"{where}: ch_fdw {got} vs PostgreSQL {want}"
    return want


STABLE_FILTERS = [
    "ts >= now() - interval '1 day'",
    "ts < current_timestamp",
    "ts > current_timestamp(0) - interval '3 hours'",
    "ts >= statement_timestamp() - interval '7 days'",
    "ts <= transaction_timestamp() + interval '90 minutes'",
    "ts >= date_trunc('day', now())",
    "ts BETWEEN now() - interval '2 days' AND now()",
    "d >= current_date - 7",
    "d = current_date",
    "d < current_date",
    "d > localtimestamp::date - 2",
    "d >= (now() AT TIME ZONE 'UTC')::date",
    "ts IN (now(), date_trunc('hour', now()))",
    "ts >= now() - interval '1 day' OR d = current_date - 30",
]


@pytest.mark.parametrize("where", STABLE_FILTERS)
def test_stable_time_values_pushed(pg, tables, where):
    _same_ids(pg, tables, where)


def test_current_date_follows_session_timezone(pg, tables):
    """current_date is PostgreSQL's, in the session's zone: at 03:00 UTC it is
    still yesterday in New York."""
    ft, _ = tables
    for tz in ("America/New_York", "Pacific/Kiritimati", "UTC"):
        pg.execute(f"SET TimeZone = '{tz}'")
        want = pg.execute("SELECT current_date").fetchone()[0]
        got = pg.execute(f"SELECT count(*) FROM {ft} WHERE d = current_date").fetchone()[0]
        local_n = sum(1 for _, _, d in ROWS if d == want)
        assert got == local_n, tz
        _same_ids(pg, tables, "d = current_date")


def test_volatile_time_stays_local(pg, tables):
    _same_ids(pg, tables, "ts > clock_timestamp() - interval '1 day'", pushed=False)
    # random() differs between the two runs: only check it is not sent
    ft, _ = tables
    sql = remote_sql(pg, f"SELECT id FROM {ft} WHERE ts > now() - random() * interval '1 day'")
    assert " WHERE " not in sql[0], sql


def test_stable_value_shown_and_reevaluated(pg, tables):
    """The remote SQL carries the value, computed again for each execution
    (a prepared statement's generic plan keeps working as time moves)."""
    ft, local = tables
    pg.execute("SET plan_cache_mode = force_generic_plan")
    try:
        pg.execute(f"PREPARE s_ft AS SELECT id FROM {ft} WHERE ts >= now() - interval '1 day' "
                   "ORDER BY id")
        pg.execute(f"PREPARE s_local AS SELECT id FROM {local} WHERE ts >= now() - interval '1 day' "
                   "ORDER BY id")
        plan = explain(pg, "EXECUTE s_ft")
        assert "WHERE" in plan and "$200001" in plan, plan
        for _ in range(7):
            with pg.transaction():
                assert (pg.execute("EXECUTE s_ft").fetchall()
                        == pg.execute("EXECUTE s_local").fetchall())
    finally:
        pg.execute("DEALLOCATE ALL")
        pg.execute("RESET plan_cache_mode")


PARAM_VALUES = {
    "timestamptz": [NOW.isoformat(" ") + "+00", (NOW - dt.timedelta(hours=2)).isoformat(" ") + "+00",
                    (NOW - dt.timedelta(hours=2)).isoformat(" ") + ".5+00",
                    "1970-01-01 00:00:05+00", "1970-01-01 00:00:04.999999+00",
                    "1969-12-31 19:00:05-05", "1960-01-01 00:00:00+00", "2105-06-01 12:00:00+00",
                    "2200-01-01 00:00:00+00", "infinity", "-infinity", "0044-03-15 12:00:00+00 BC",
                    None],
    "date": [TODAY.isoformat(), (TODAY - dt.timedelta(days=8)).isoformat(), "1970-01-01",
             "1969-12-31", "2105-06-01", "2140-01-01", "3000-01-01", "infinity", "-infinity",
             "0044-03-15 BC", None],
}


@pytest.mark.parametrize("mode", ["force_custom_plan", "force_generic_plan"])
@pytest.mark.parametrize("ptype,col", [("timestamptz", "ts"), ("date", "d")])
def test_date_and_timestamptz_parameters(pg, tables, mode, ptype, col):
    ft, local = tables
    pg.execute(f"SET plan_cache_mode = {mode}")
    try:
        for op_i, op in enumerate(["<", "<=", "=", "<>", ">", ">="]):
            for name, t in ((f"p{op_i}_ft", ft), (f"p{op_i}_local", local)):
                pg.execute(f"PREPARE {name}({ptype}) AS SELECT id FROM {t} "
                           f"WHERE {col} {op} $1 ORDER BY id")
            # the generic plan pushes the comparison too
            plan = explain(pg, f"EXECUTE p{op_i}_ft('{PARAM_VALUES[ptype][0]}')")
            assert "WHERE" in plan, plan
            for v in PARAM_VALUES[ptype]:
                arg = "NULL" if v is None else f"'{v}'"
                got = pg.execute(f"EXECUTE p{op_i}_ft({arg})").fetchall()
                want = pg.execute(f"EXECUTE p{op_i}_local({arg})").fetchall()
                assert got == want, f"{col} {op} {v!r}: ch_fdw {got} vs PostgreSQL {want}"
    finally:
        pg.execute("DEALLOCATE ALL")
        pg.execute("RESET plan_cache_mode")


# ------------------------------------------------------------ whole query

WHOLE_QUERIES = [
    "SELECT count(*) FROM {t} WHERE ts >= now() - interval '1 day'",
    "SELECT id FROM {t} WHERE d >= current_date - 7 ORDER BY id",
    "SELECT id FROM {t} WHERE ts >= date_trunc('day', current_timestamp) ORDER BY id",
    "SELECT id, ts < statement_timestamp() FROM {t} ORDER BY id",
    "SELECT d = current_date, count(*) FROM {t} GROUP BY 1 ORDER BY 1",
    "SELECT id FROM {t} WHERE d > localtimestamp::date - 3 ORDER BY id",
]


@pytest.fixture
def whole(pg, tables, engine):
    if not engine.modern:
        pytest.skip("whole-query pushdown needs ClickHouse >= 24.3; 18.16 runs these per table")
    pg.execute("SET ch_fdw.query_pushdown = on")
    return tables


@pytest.mark.parametrize("query", WHOLE_QUERIES)
def test_stable_values_pushed_whole(pg, whole, query):
    ft, local = whole
    plan = explain(pg, query.format(t=ft))
    assert "Custom Scan (ClickHouseQuery)" in plan, plan
    with pg.transaction():
        want = pg.execute(query.format(t=local)).fetchall()
        got = pg.execute(query.format(t=ft)).fetchall()
    assert got == want, f"{query}: ch_fdw {got} vs PostgreSQL {want}"


# ------------------------------------------------------------ array parameters

ARRAYS = ["{1,3}", "{1,NULL}", "{NULL}", "{}", None, "{{1,2},{3,20}}", "[0:1]={2,21}",
          "{5000000000,4}", "{5000000000}", "{22}"]


@pytest.mark.parametrize("mode", ["force_custom_plan", "force_generic_plan"])
@pytest.mark.parametrize("where", ["id = ANY($1)", "id <> ALL($1)", "NOT (id = ANY($1))"])
def test_array_parameters(pg, tables, mode, where):
    ft, local = tables
    pg.execute(f"SET plan_cache_mode = {mode}")
    try:
        for name, t in (("a_ft", ft), ("a_local", local)):
            pg.execute(f"PREPARE {name}(bigint[]) AS SELECT id, id = ANY($1) FROM {t} "
                       f"WHERE {where} ORDER BY id")
        plan = explain(pg, "EXECUTE a_ft('{1,2}')")
        assert "WHERE" in plan, plan
        for v in ARRAYS:
            arg = "NULL" if v is None else f"'{v}'"
            got = pg.execute(f"EXECUTE a_ft({arg})").fetchall()
            want = pg.execute(f"EXECUTE a_local({arg})").fetchall()
            assert got == want, f"{where} with {v!r}: ch_fdw {got} vs PostgreSQL {want}"
    finally:
        pg.execute("DEALLOCATE ALL")
        pg.execute("RESET plan_cache_mode")


def test_local_filter_reasons_in_explain_verbose(pg, tables):
    """Each filter left to PostgreSQL is named with the reason (a full scan
    shows coming); pushed filters get no such line."""
    ft, _ = tables
    plan = explain(pg, f"SELECT id FROM {ft} WHERE ts > clock_timestamp() - interval '1 day' "
                       "AND ts::text = 'x' AND d = current_date AND id > 1")
    reasons = [line.strip() for line in plan.splitlines() if "Local Filter Reason:" in line]
    assert len(reasons) == 2, plan
    assert any("clock_timestamp() is volatile" in r for r in reasons), plan
    assert any("ts)::text" in r and "cast" in r for r in reasons), plan
    assert not any("current_date" in r or "id > 1" in r for r in reasons), plan
    plan = explain(pg, f"SELECT id FROM {ft} WHERE d = current_date")
    assert "Local Filter Reason" not in plan, plan
    json_plan = pg.execute(f"EXPLAIN (VERBOSE, FORMAT JSON) SELECT id FROM {ft} "
                           "WHERE ts > clock_timestamp()").fetchone()[0]
    assert "clock_timestamp() is volatile" in json_plan[0]["Plan"]["Local Filter Reasons"][0]


# ------------------------------------------------------------ ::date, AT TIME ZONE

DAY = (NOW - dt.timedelta(hours=25)).date().isoformat()
DATE_FILTERS = [
    f"ts::date = date '{DAY}'",
    f"ts::date >= '{DAY}'",
    f"ts::date BETWEEN '{DAY}' AND current_date",
    f"(ts AT TIME ZONE 'UTC')::date = '{DAY}'",
    f"(ts AT TIME ZONE 'UTC')::date < '{DAY}'",
    "(ts AT TIME ZONE 'UTC')::date >= current_date - 7",
    f"(ts AT TIME ZONE 'UTC') >= '{DAY} 12:00:00'::timestamp",
    f"(ts AT TIME ZONE 'Etc/GMT+5') < '{DAY} 12:00:00'",
    "(ts AT TIME ZONE 'UTC')::date = '1970-01-01'",
    "(ts AT TIME ZONE 'UTC')::date IN ('1970-01-01', current_date)",
    f"ts::date IN ('1970-01-02', '{DAY}')",
]


@pytest.mark.parametrize("where", DATE_FILTERS)
def test_date_of_timestamptz_pushed(pg, tables, where):
    for tz in ("America/New_York", "Asia/Kolkata"):
        pg.execute(f"SET TimeZone = '{tz}'")
        _same_ids(pg, tables, where)


def test_unsafe_date_shapes_stay_local(pg, tables):
    # a DST zone's wall clock repeats an hour: not pushed
    _same_ids(pg, tables, f"(ts AT TIME ZONE 'America/New_York') < '{DAY} 12:00:00'", pushed=False)
    # west of UTC, 1970-01-01 00:00:05 UTC is on 1969-12-31, which Date cannot hold
    for where in ("ts::date = '1970-01-01'", "ts::date <= '1969-12-31'", "ts::date = d",
                  "(ts AT TIME ZONE 'Etc/GMT+5')::date = '1970-01-01'"):
        assert _same_ids(pg, tables, where, pushed=False) is not None


@pytest.mark.parametrize("mode", ["force_custom_plan", "force_generic_plan"])
def test_date_of_timestamptz_follows_timezone_change(pg, tables, mode):
    """A prepared ts::date = $1 keeps PostgreSQL's meaning when TimeZone
    changes between PREPARE and EXECUTE (translated again)."""
    ft, local = tables
    pg.execute(f"SET plan_cache_mode = {mode}")
    try:
        for name, t in (("d_ft", ft), ("d_local", local)):
            pg.execute(f"PREPARE {name}(date) AS SELECT id FROM {t} WHERE ts::date = '{DAY}' "
                       "OR (ts AT TIME ZONE 'UTC')::date = $1 - 30 ORDER BY id")
        assert "WHERE" in explain(pg, f"EXECUTE d_ft('{DAY}')")
        for tz in ("America/New_York", "Pacific/Kiritimati", "America/New_York", "UTC"):
            pg.execute(f"SET TimeZone = '{tz}'")
            for day in (DAY, TODAY.isoformat(), "1970-01-31", "1970-01-01", "2200-01-01"):
                got = pg.execute(f"EXECUTE d_ft('{day}')").fetchall()
                want = pg.execute(f"EXECUTE d_local('{day}')").fetchall()
                assert got == want, f"{tz} {day}: ch_fdw {got} vs PostgreSQL {want}"
    finally:
        pg.execute("DEALLOCATE ALL")
        pg.execute("RESET plan_cache_mode")


@pytest.mark.parametrize("mode", ["force_custom_plan", "force_generic_plan"])
def test_numeric_parameter_pushed_whole(pg, whole, mode):
    """A numeric parameter (its scale is the value's) is compared in
    ClickHouse; values a Decimal256 cannot hold (NaN, 1e80) run per table."""
    ft, local = whole
    pg.execute(f"SET plan_cache_mode = {mode}")
    try:
        for name, t in (("n_ft", ft), ("n_local", local)):
            pg.execute(f"PREPARE {name}(numeric) AS SELECT id, count(*) OVER () FROM {t} "
                       "WHERE id > $1 AND id <= $1 + 0 + 20 ORDER BY id")
            pg.execute(f"PREPARE {name}c(numeric) AS SELECT count(*) FROM {t} WHERE id >= $1")
        plan = explain(pg, "EXECUTE n_ftc(3)")
        assert "Custom Scan (ClickHouseQuery)" in plan, plan
        for v in ("3", "3.5", "-1e30", "0.000000000000000000000000000001", "20.999", "NaN",
                  "1e80", "-Infinity", "NULL"):
            arg = v if v == "NULL" else f"'{v}'"
            for q in ("n_ft", "n_ftc"):
                got = pg.execute(f"EXECUTE {q}({arg})").fetchall()
                want = pg.execute(f"EXECUTE {q.replace('ft', 'local')}({arg})").fetchall()
                assert got == want, f"{q} {v}: ch_fdw {got} vs PostgreSQL {want}"
    finally:
        pg.execute("DEALLOCATE ALL")
        pg.execute("RESET plan_cache_mode")
