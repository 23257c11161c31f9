"""ch_fdw: the Python core of the ClickHouse foreign data wrapper for PostgreSQL.

The C bridge in src/ calls only ch_fdw.bridge; everything ClickHouse-specific
(options, connections, types, SQL translation) lives in this package.
"""

__version__ = "0.1.0"
