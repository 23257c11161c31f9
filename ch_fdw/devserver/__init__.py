"""ch-fdw-devserver: a local ClickHouse endpoint backed by chDB.

For trying, developing and testing ch_fdw against a modern ClickHouse engine
without installing one. Not a production ClickHouse: one embedded engine in
one process. See docs/devserver.md.

    python -m ch_fdw.devserver --path DIR --http-port 8123
"""

from .cli import main

__all__ = ["main"]
