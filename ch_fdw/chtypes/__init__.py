"""The ClickHouse type model and its type families.

parse_type() parses a ClickHouse type string once into a ChType (model.py).
Each family module (integers, floats, decimals, bools, strings, enums,
network, dates, datetimes, arrays, composites, geo, aggregates) owns, for its
types, the PostgreSQL type IMPORT FOREIGN SCHEMA declares, the read plan of
scans (read.py dispatches) and the write conversion of INSERT/UPDATE
(write.py dispatches); families.py says which family has which type.
"""

from .mapping import pg_type_for, pg_type_info
from .model import ChType, parse_type
from .pgnames import normalize_pg_type
from .pgtext import RaggedArray, pg_array_literal
from .jsontext import to_json_text
from .read import ColumnFetch, fetch_plan
from .write import ColumnEncoder

__all__ = ["ChType", "parse_type", "pg_type_for", "pg_type_info", "ColumnFetch", "fetch_plan",
           "normalize_pg_type", "pg_array_literal", "RaggedArray", "to_json_text", "ColumnEncoder"]
