"""ch-fdw-devserver: a local ClickHouse endpoint backed by chDB.

For trying, developing and testing ch_fdw against a modern ClickHouse engine
without installing one. Not a production ClickHouse: one embedded engine in
one process. See docs/devserver.md.

    python -m ch_fdw.devserver --path DIR --http-port 8123
"""

from .cli import main

# The devserver serves the native TCP protocol (--tcp-port); the test suite
# then runs every engine-parametrized test over it too.
SERVES_NATIVE = True

__all__ = ["main"]
