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


KNOWN: list[Known] = [
    Known("group-by-constant", "test_querygen_regressions.py::test_group_by_constant",
          _err(r"error 36: Positional argument")),
    Known("rollup-not-null", "test_querygen_regressions.py::test_rollup_on_not_null_column",
          lambda f: _err(r"error 349")(f) and bool(_sql(r"ROLLUP|CUBE|GROUPING SETS")(f.query.sql))),
    Known("numeric-scale", "test_querygen_regressions.py::test_numeric_result_scale",
          lambda f: f.outcome.kind == "text"),
]


def known_class(failure) -> str | None:
    for k in KNOWN:
        if failure.path.endswith("whole") or "per-table" in k.name:
            if k.match(failure):
                return k.name
    return None
