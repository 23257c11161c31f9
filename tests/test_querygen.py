"""The differential query generator in the suite (issue 8): seeded random
SELECTs (tests/querygen.py) run on local tables and through ch_fdw on the
same data, on every engine, in C, C.UTF-8 and ICU en-US databases (TimeZone
America/New_York), on both planning paths (tests/querydiff.py).

A bounded run by default; dev/querygen.py runs long batches with
QUERYGEN_SEED (first seed), QUERYGEN_COUNT (seeds per engine and database)
and QUERYGEN_REPORT (a file for every failure, and the counts).
"""

from __future__ import annotations

import os

import psycopg
import pytest

import querydiff as QD
import querygen as G

SEED = int(os.environ.get("QUERYGEN_SEED", "1"))
COUNT = int(os.environ.get("QUERYGEN_COUNT", "20"))
REPORT = os.environ.get("QUERYGEN_REPORT")


@pytest.fixture(scope="session")
def qgen_dbs(postgresql_proc):
    """{collation: dsn}: one database per collation with the local tables."""
    p = postgresql_proc
    base = f"host={p.host} port={p.port} user={p.user}"
    with psycopg.connect(base + " dbname=postgres", autocommit=True) as c:
        if not c.execute("SELECT 1 FROM pg_collation WHERE collname = 'en-US-x-icu'").fetchone():
            pytest.skip(f"this PostgreSQL build ({c.info.server_version}) has no ICU collations; "
                        "the generator's tables use en-US-x-icu (Debian's 15 runs it)")
    rows = G.data()
    out = {}
    for coll in QD.COLLATIONS:
        name = f"qgen_{coll}"
        QD.create_database(base + " dbname=postgres", name, coll)
        with psycopg.connect(base + f" dbname={name}", autocommit=True) as c:
            QD.load_local(c, rows)
        out[coll] = base + f" dbname={name}"
    return out


_loaded: dict[str, dict[str, str]] = {}


def _schema_exists(dsn: str, schema: str) -> bool:
    with psycopg.connect(dsn, autocommit=True) as c:
        return c.execute("SELECT 1 FROM pg_namespace WHERE nspname = %s", [schema]).fetchone() is not None


def foreign_schemas(engine, qgen_dbs) -> dict[str, str]:
    """{collation: foreign schema} for engine (ClickHouse data loaded once,
    again if a database was re-created since, e.g. by a second import of
    this module's session fixture)."""
    if engine.name in _loaded and not all(_schema_exists(qgen_dbs[c], s)
                                          for c, s in _loaded[engine.name].items()):
        del _loaded[engine.name]
    if engine.name not in _loaded:
        QD.load_clickhouse(engine, G.data())
        _loaded[engine.name] = {}
        for coll, dsn in qgen_dbs.items():
            with psycopg.connect(dsn, autocommit=True) as c:
                _loaded[engine.name][coll] = QD.create_foreign(c, engine)
    return _loaded[engine.name]


@pytest.fixture
def qgen_engine(engine, qgen_dbs):
    return foreign_schemas(engine, qgen_dbs)


@pytest.mark.parametrize("collation", list(QD.COLLATIONS))
def test_generated_queries(engine, qgen_engine, qgen_dbs, collation):
    batch = QD.Batch(qgen_dbs[collation], qgen_engine[collation],
                     f"{engine.name} {collation}", engine.modern)
    try:
        for seed in range(SEED, SEED + COUNT):
            batch.run_seed(seed)
    finally:
        batch.close()
    summary = QD.format_counts(batch.counts)
    totals = QD.known_totals(batch)
    known = ", ".join(f"{k} {v}" for k, v in totals.most_common())
    print(f"\nquerygen seeds {SEED}..{SEED + COUNT - 1}\n{summary}\nknown classes: {known or 'none'}")
    if REPORT:
        with open(REPORT, "a") as f:
            f.write(f"=== {engine.name} {collation} seeds {SEED}..{SEED + COUNT - 1}\n{summary}\n"
                    f"{QD.counts_json(batch)}\n")
            for name, fl in batch.known_examples.items():
                f.write(f"[known {name}, first of {totals[name]}]\n{fl.report()}\n")
            for fl in batch.failures:
                f.write(fl.report() + "\n")
    assert not batch.failures, (f"{len(batch.failures)} of {COUNT} generated queries differ "
                                f"(first seed {SEED}):\n" +
                                "\n".join(fl.report() for fl in batch.failures[:5]))
