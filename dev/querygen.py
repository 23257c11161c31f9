#!/usr/bin/env python3
"""Long runs of the differential query generator (issue 8).

    dev/querygen.py --seed 1 --count 2000 [--engine ch18-native] [--report FILE]

Runs tests/test_querygen.py (every engine x C / C.UTF-8 / ICU database x
both planning paths) for seeds S..S+N-1 per engine and database, at low
priority, and prints the counts by outcome and by known bug class.  Needs the
extension installed in the PostgreSQL of $PG_CONFIG (./dev/run test does that).  As root, runs as postgres.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--count", type=int, default=500, help="seeds per engine and database")
    ap.add_argument("--engine", help="only this engine (ch18-native, modern-http, ...)")
    ap.add_argument("--report", default=f"/tmp/querygen-{os.getpid()}.txt")
    args = ap.parse_args()
    Path(args.report).unlink(missing_ok=True)
    env = dict(os.environ, QUERYGEN_SEED=str(args.seed), QUERYGEN_COUNT=str(args.count),
               QUERYGEN_REPORT=args.report, PYTHONDONTWRITEBYTECODE="1")
    # the PostgreSQL whose pg_config is $PG_CONFIG (as dev/run), else Debian's 15
    pg_config = os.environ.get("PG_CONFIG", "/usr/lib/postgresql/15/bin/pg_config")
    cmd = ["env", f"PG_CONFIG={pg_config}", "nice", "-n", "15", str(REPO / ".venv/bin/python"), "-m", "pytest", "-q", "-p", "no:cacheprovider",
           "tests/test_querygen.py"]
    if args.engine:
        cmd += ["-k", args.engine]
    if os.getuid() == 0:
        cmd = ["runuser", "-u", "postgres", "--"] + cmd
        Path(args.report).touch()
        os.chmod(args.report, 0o666)
    rc = subprocess.call(cmd, cwd=REPO, env=env, stdout=subprocess.DEVNULL)
    print(summarize(args.report))
    print(f"failures and their queries: {args.report}")
    return rc


def summarize(report: str) -> str:
    """Totals per engine and path, and per known class, from the report's JSON lines."""
    by_path, known = {}, Counter()
    for line in Path(report).read_text().splitlines():
        if not line.startswith("{"):
            continue
        d = json.loads(line)
        engine, _coll, path = d["label"].split(" ", 2)
        c = by_path.setdefault(f"{engine} {path}", Counter())
        c.update(d["counts"])
        known.update(d.get("known", {}))
    out = []
    for k in sorted(by_path):
        c = by_path[k]
        out.append(f"{k:<24} total {sum(c.values()):>6}  " + "  ".join(f"{n} {v}" for n, v in sorted(c.items())))
    out.append(f"all: {sum(sum(c.values()) for c in by_path.values())} queries")
    if known:
        out.append("known classes: " + ", ".join(f"{n} {v}" for n, v in known.most_common()))
    return "\n".join(out)


if __name__ == "__main__":
    sys.exit(main())
