"""A PostgreSQL cluster with multicorn2 for the wrapper's tests and bench.

multicorn2 is in no package registry; dev/install-multicorn.sh builds it from
its source tarball into the PostgreSQL under test (dev/run does that as root
before the tests).  Its Python package lives in
$(pkglibdir)/multicorn_python, ch_fdw's in $(pkglibdir)/ch_fdw_python; the
cluster's postmaster gets both on PYTHONPATH, which is how a user makes
multicorn's embedded Python find them too (see README).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
from pathlib import Path

from helpers import PG_BIN, PG_CONFIG

REPO = Path(__file__).resolve().parent.parent
PKGLIB = Path(subprocess.check_output([PG_CONFIG, "--pkglibdir"], text=True).strip())
SHARE = Path(subprocess.check_output([PG_CONFIG, "--sharedir"], text=True).strip())
MC_PYTHON = PKGLIB / "multicorn_python"
CH_PYTHON = PKGLIB / "ch_fdw_python"


def multicorn_missing() -> str | None:
    """Why multicorn2 cannot be used here, or None.  Builds it first when
    this user may write into the PostgreSQL installation."""
    def missing():
        for p in (PKGLIB / "multicorn.so", SHARE / "extension" / "multicorn.control", MC_PYTHON / "multicorn"):
            if not p.exists():
                return f"multicorn2 is not installed for {PG_CONFIG} ({p} missing)"
        return None
    if missing() and os.access(PKGLIB, os.W_OK) and os.access(SHARE / "extension", os.W_OK):
        subprocess.run([str(REPO / "dev" / "install-multicorn.sh")], env=dict(os.environ, PG_CONFIG=PG_CONFIG),
                       check=False, timeout=600)
    why = missing()
    if why:
        return why + ("; dev/run test builds it from the multicorn2 source tarball "
                      "(../shared/vendor/multicorn2-*.tar.gz or $MULTICORN_TARBALL), none was found or it failed")
    if not (CH_PYTHON / "ch_fdw" / "multicorn").is_dir():
        return f"{CH_PYTHON} has no ch_fdw.multicorn (run make install)"
    return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Cluster:
    """initdb + pg_ctl start in base; stop() stops exactly this cluster."""

    def __init__(self, base: Path, preload_ch_fdw: bool):
        self.data = base / "data"
        self.port = _free_port()
        self.log = base / "postgres.log"
        subprocess.run([str(PG_BIN / "initdb"), "-D", str(self.data), "-U", "postgres", "--auth=trust",
                        "-E", "UTF8", "--locale=C.UTF-8"], check=True, capture_output=True, timeout=120)
        opts = (f"-p {self.port} -c listen_addresses='' -c unix_socket_directories=/tmp "
                f"-c lc_messages=C -c fsync=off")
        if preload_ch_fdw:
            opts += " -c shared_preload_libraries=ch_fdw"
        env = dict(os.environ, PYTHONPATH=f"{MC_PYTHON}:{CH_PYTHON}")
        subprocess.run([str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-o", opts, "-l", str(self.log),
                        "-w", "-t", "60", "start"], check=True, env=env, capture_output=True, timeout=120)
        self.dsn = f"host=/tmp port={self.port} user=postgres dbname=postgres"

    def stop(self) -> None:
        subprocess.run([str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-m", "fast", "-w", "stop"],
                       check=False, capture_output=True, timeout=120)

    def remove(self) -> None:
        self.stop()
        shutil.rmtree(self.data, ignore_errors=True)
