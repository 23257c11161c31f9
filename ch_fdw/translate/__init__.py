"""PostgreSQL -> ClickHouse translation (per-table scan path)."""

from .quoting import quote_identifier, quote_string
from .scan import (ColumnInfo, Dialect, RemoteCondition, translate_condition,
                   translate_sort_key)

__all__ = ["quote_identifier", "quote_string", "ColumnInfo", "Dialect",
           "RemoteCondition", "translate_condition", "translate_sort_key"]
