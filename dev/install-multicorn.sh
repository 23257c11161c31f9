#!/usr/bin/env bash
# dev/install-multicorn.sh [TARBALL]: build multicorn2 from its source tarball
# into the PostgreSQL named by $PG_CONFIG, for the tests of ch_fdw's multicorn
# wrapper (tests/test_multicorn.py).  multicorn2 is in no package registry, so
# its source comes from a file: TARBALL, $MULTICORN_TARBALL, or
# ../shared/vendor/multicorn2-*.tar.gz next to the repository.  Without one it
# does nothing (the tests then skip, saying why).
#
# Installs: multicorn.so and the extension files into the PostgreSQL
# installation, and multicorn's Python package into
# $(pg_config --pkglibdir)/multicorn_python (not the system site-packages:
# multicorn's own `make install` would pip-install there).
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
PG_CONFIG=${PG_CONFIG:-/usr/lib/postgresql/15/bin/pg_config}
PYTHON=${PYTHON:-/usr/bin/python3}

tarball=${1:-${MULTICORN_TARBALL:-}}
if [ -z "$tarball" ]; then
  for d in "$repo/../shared/vendor" "$repo/../../shared/vendor" /work/shared/vendor; do
    for f in "$d"/multicorn2-*.tar.gz; do
      [ -f "$f" ] && { tarball=$f; break 2; }
    done
  done
fi
if [ -z "$tarball" ] || [ ! -f "$tarball" ]; then
  echo "install-multicorn: no multicorn2 source tarball found; skipping" >&2
  exit 0
fi

pkglib=$("$PG_CONFIG" --pkglibdir)
share=$("$PG_CONFIG" --sharedir)
stamp="$pkglib/multicorn_python/.ch_fdw-built-from"
want="$(basename "$tarball") $(stat -c %s "$tarball")"
if [ -f "$pkglib/multicorn.so" ] && [ -f "$share/extension/multicorn.control" ] \
   && [ "$(cat "$stamp" 2>/dev/null)" = "$want" ]; then
  exit 0
fi

build=$(mktemp -d /tmp/ch_fdw-multicorn-build.XXXXXX)
trap 'rm -rf "$build"' EXIT
tar -C "$build" -xzf "$tarball"
src=$(find "$build" -mindepth 1 -maxdepth 1 -type d | head -1)
cd "$src"
# setup.py (the multicorn._utils extension) asks `pg_config` on PATH
export PATH="$(dirname "$PG_CONFIG"):$PATH"
make -s PG_CONFIG="$PG_CONFIG" PYTHON="$PYTHON" >/dev/null
# -o python_code: skip multicorn's pip install into the system site-packages
make -s -o python_code PG_CONFIG="$PG_CONFIG" PYTHON="$PYTHON" install >/dev/null
rm -rf "$pkglib/multicorn_python.new"
PIP_DISABLE_PIP_VERSION_CHECK=1 "$PYTHON" -m pip install --quiet --no-deps --no-compile \
  --root-user-action=ignore --no-warn-script-location --target "$pkglib/multicorn_python.new" .
echo "$want" > "$pkglib/multicorn_python.new/.ch_fdw-built-from"
rm -rf "$pkglib/multicorn_python"
mv "$pkglib/multicorn_python.new" "$pkglib/multicorn_python"
chmod -R a+rX "$pkglib/multicorn_python"
echo "install-multicorn: multicorn2 from $(basename "$tarball") installed for $("$PG_CONFIG" --version)"
