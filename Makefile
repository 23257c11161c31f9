# ch_fdw — PGXS build of the C bridge plus the Python core it embeds.
#
#   make && make install   build the extension; install it and the Python
#                          package (with its dependencies) where the embedded
#                          interpreter finds them
#   make test              integration + unit tests (needs `make install`)
#   make demo              end-to-end demo against a local ClickHouse
#   make bench             streaming benchmark (bench-tpch, bench-copy, bench-faults: the others)

EXTENSION  = ch_fdw
MODULE_big = ch_fdw
OBJS       = src/ch_fdw.o src/python.o src/context.o src/convert.o src/rows.o src/scan.o src/query.o src/modify.o src/stable.o
DATA       = sql/ch_fdw--0.1.0.sql
PGFILEDESC = "ch_fdw - foreign data wrapper for ClickHouse"

PG_CONFIG ?= pg_config
# The interpreter the extension embeds; its pip installs our dependencies.
# Our own names: PGXS's Makefile.global sets PYTHON (to the one PostgreSQL
# was configured with, or to nothing), which would override a plain PYTHON.
CH_FDW_PYTHON        ?= /usr/bin/python3
CH_FDW_PYTHON_CONFIG ?= $(CH_FDW_PYTHON)-config

PGXS := $(shell $(PG_CONFIG) --pgxs)
PKGLIBDIR := $(shell $(PG_CONFIG) --pkglibdir)
CH_FDW_PYTHON_DIR ?= $(PKGLIBDIR)/ch_fdw_python

PG_CPPFLAGS = $(shell $(CH_FDW_PYTHON_CONFIG) --includes) \
              -DCH_FDW_PYTHON_PATH='"$(CH_FDW_PYTHON_DIR)"'
SHLIB_LINK  = $(shell $(CH_FDW_PYTHON_CONFIG) --embed --ldflags)

include $(PGXS)

# A server built with another compiler (e.g. clang, or a newer gcc) hands us
# warning flags our $(CC) may not know, and gcc rejects an unknown -Wfoo.
# Keep only the -W flags $(CC) accepts; everything else is left as built.
cc_accepts = $(shell $(CC) $(1) -x c -c -o /dev/null /dev/null 2>/dev/null && echo $(1))
override CFLAGS := $(foreach f,$(CFLAGS),$(if $(filter -W%,$(filter-out -Wno-%,$(f))),$(call cc_accepts,$(f)),$(f)))

# Objects built for another PostgreSQL (or interpreter) must not be reused:
# .build-config records what they were built for and changes with it.
CH_FDW_BUILD := $(PG_CONFIG) $(shell $(PG_CONFIG) --version) $(CH_FDW_PYTHON) $(CH_FDW_PYTHON_DIR)
$(shell [ "$$(cat .build-config 2>/dev/null)" = '$(CH_FDW_BUILD)' ] || echo '$(CH_FDW_BUILD)' > .build-config)
$(OBJS): .build-config src/ch_fdw.h src/compat.h
EXTRA_CLEAN = .build-config

.PHONY: install-python venv test demo bench bench-tpch bench-copy bench-faults

install: install-python

# Installs the package and its pinned-range dependencies into a private
# directory (not the system site-packages) that the bridge puts on sys.path.
install-python:
	rm -rf '$(DESTDIR)$(CH_FDW_PYTHON_DIR).new' '$(DESTDIR)$(CH_FDW_PYTHON_DIR).old'
	PIP_DISABLE_PIP_VERSION_CHECK=1 $(CH_FDW_PYTHON) -m pip install --quiet --no-compile --root-user-action=ignore \
	    --no-warn-script-location --target '$(DESTDIR)$(CH_FDW_PYTHON_DIR).new' .
	# swap in the new tree so running backends never see a half-written one
	if [ -d '$(DESTDIR)$(CH_FDW_PYTHON_DIR)' ]; then \
	    mv '$(DESTDIR)$(CH_FDW_PYTHON_DIR)' '$(DESTDIR)$(CH_FDW_PYTHON_DIR).old'; fi
	mv '$(DESTDIR)$(CH_FDW_PYTHON_DIR).new' '$(DESTDIR)$(CH_FDW_PYTHON_DIR)'
	rm -rf '$(DESTDIR)$(CH_FDW_PYTHON_DIR).old' build ch_fdw.egg-info

VENV ?= .venv
venv: $(VENV)/.done
$(VENV)/.done: pyproject.toml
	$(CH_FDW_PYTHON) -m venv $(VENV)
	PIP_DISABLE_PIP_VERSION_CHECK=1 $(VENV)/bin/pip install --quiet -e '.[test]'
	touch $@

# Tests start their own PostgreSQL and ClickHouse servers; PostgreSQL
# refuses to run as root, so as root the suite runs as the postgres user.
AS_PG = $(if $(filter 0,$(shell id -u)),runuser -u postgres --,)
test: venv
	$(AS_PG) env PYTHONDONTWRITEBYTECODE=1 PG_CONFIG=$(PG_CONFIG) $(VENV)/bin/python -m pytest $(PYTEST_ARGS)

demo: venv
	$(AS_PG) env PYTHONDONTWRITEBYTECODE=1 PG_CONFIG=$(PG_CONFIG) $(VENV)/bin/python dev/demo.py $(DEMO_ARGS)

bench: venv
	$(AS_PG) env PYTHONDONTWRITEBYTECODE=1 PG_CONFIG=$(PG_CONFIG) $(VENV)/bin/python bench/stream.py $(BENCH_ARGS)

bench-tpch: venv
	$(AS_PG) env PYTHONDONTWRITEBYTECODE=1 PG_CONFIG=$(PG_CONFIG) $(VENV)/bin/python bench/tpch.py $(BENCH_ARGS)

bench-copy: venv
	$(AS_PG) env PYTHONDONTWRITEBYTECODE=1 PG_CONFIG=$(PG_CONFIG) $(VENV)/bin/python bench/copy_bench.py $(BENCH_ARGS)

bench-faults: venv
	$(AS_PG) env PYTHONDONTWRITEBYTECODE=1 PG_CONFIG=$(PG_CONFIG) $(VENV)/bin/python bench/faults.py $(BENCH_ARGS)
