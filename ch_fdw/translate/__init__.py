"""PostgreSQL -> ClickHouse translation.  This package's names are the
per-table scan path (scan.py); the whole-query translator is
ch_fdw.translate.query."""

from .quoting import quote_identifier, quote_string
from .scan import (ColumnInfo, Dialect, RemoteCondition, translate_condition,
                   translate_sort_key)

__all__ = ["quote_identifier", "quote_string", "ColumnInfo", "Dialect",
           "RemoteCondition", "translate_condition", "translate_sort_key"]
