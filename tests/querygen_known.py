"""Known bug classes the differential generator finds (issue 8), each with
the named regression test that holds its minimal repro.  A generated failure
matching one is counted under its class instead of failing the suite; any
other failure fails it.  Remove an entry when its test passes (the xfail
tests are strict, so a fix shows up as XPASS)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable


@dataclass
class Known:
    name: str
    test: str                       # the regression test with the minimal repro
    match: Callable[[object], bool]  # (querydiff.Failure) -> bool


def _err(pattern: str):
    rx = re.compile(pattern, re.S)
    return lambda f: f.outcome.kind == "chfdw_error" and bool(rx.search(f.outcome.message))


def _sql(pattern: str):
    return re.compile(pattern, re.S | re.I).search


R = "test_querygen_regressions.py::"


def _whole(f) -> bool:
    return f.path.endswith("whole")


def _timeout_only_remote(f) -> bool:
    return f.outcome.kind == "chfdw_error" and f.remote.sqlstate == "57014" and f.local.rows is not None


KNOWN: list[Known] = [
    # whole-query translator (ch_fdw/translate/query/)
    # per-table path: correlated subplans rescan the foreign table once per outer row
    Known("per-table-rescans-slow", "(none: performance, see report)", _timeout_only_remote),
]


def known_class(failure) -> str | None:
    for k in KNOWN:
        if k.match(failure):
            return k.name
    return None
