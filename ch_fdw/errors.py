"""Errors that cross the C bridge.

Every exception the core lets escape to the bridge is turned into a
PostgreSQL ereport().  ChFdwError carries the SQLSTATE, message, detail and
hint explicitly; any other exception becomes an internal FDW error (HV000)
with its text as the detail.  Interrupted is special: the bridge does not
report it, it lets PostgreSQL's own CHECK_FOR_INTERRUPTS() raise the
cancel/timeout/terminate error the user expects.
"""

from __future__ import annotations

import re

# SQLSTATE codes used by the core (PostgreSQL errcodes.txt).
FDW_ERROR = "HV000"
FDW_INVALID_OPTION_NAME = "HV00D"
FDW_INVALID_ATTRIBUTE_VALUE = "HV024"
FDW_OPTION_NAME_NOT_FOUND = "HV00J"
FDW_UNABLE_TO_ESTABLISH_CONNECTION = "HV00N"
FDW_TABLE_NOT_FOUND = "HV00R"
FDW_INVALID_DATA_TYPE = "HV004"
FDW_COLUMN_NAME_NOT_FOUND = "HV005"
CONNECTION_FAILURE = "08006"
UNABLE_TO_CONNECT = "08001"
INVALID_PASSWORD = "28P01"
INVALID_AUTHORIZATION = "28000"
UNDEFINED_TABLE = "42P01"
UNDEFINED_COLUMN = "42703"
UNDEFINED_FUNCTION = "42883"
INVALID_SCHEMA_NAME = "3F000"
SYNTAX_ERROR = "42601"
DATATYPE_MISMATCH = "42804"
QUERY_CANCELED = "57014"
OUT_OF_MEMORY = "53200"
DIVISION_BY_ZERO = "22012"
NUMERIC_VALUE_OUT_OF_RANGE = "22003"
INVALID_TEXT_REPRESENTATION = "22P02"
STRING_DATA_RIGHT_TRUNCATION = "22001"
NOT_NULL_VIOLATION = "23502"
FEATURE_NOT_SUPPORTED = "0A000"
INSUFFICIENT_PRIVILEGE = "42501"
INVALID_PARAMETER_VALUE = "22023"


class ChFdwError(Exception):
    """An error to be raised in PostgreSQL as-is."""

    def __init__(self, message: str, sqlstate: str = FDW_ERROR,
                 detail: str | None = None, hint: str | None = None,
                 ch_code: int | None = None):
        super().__init__(message)
        self.message = message
        self.sqlstate = sqlstate
        self.detail = detail
        self.hint = hint
        self.ch_code = ch_code      # ClickHouse's error code, when ClickHouse raised it

    def scrubbed(self, secret: str | None) -> "ChFdwError":
        """Return a copy with every occurrence of secret removed."""
        if not secret:
            return self
        return ChFdwError(scrub(self.message, secret), self.sqlstate,
                          scrub(self.detail, secret), scrub(self.hint, secret), self.ch_code)


class Interrupted(Exception):
    """The PostgreSQL backend has a pending cancel/terminate request.

    Raised after the remote query was cancelled; the bridge then calls
    CHECK_FOR_INTERRUPTS() so PostgreSQL reports the right error."""


_secrets: set[str] = set()


def register_secret(secret: str | None) -> None:
    """Remember a password so no error text ever shows it."""
    if secret:
        _secrets.add(secret)


def scrub(text: str | None, secret: str | None = None) -> str | None:
    if text is None:
        return text
    for s in sorted(_secrets | ({secret} if secret else set()), key=len, reverse=True):
        text = text.replace(s, "********")
    return text


# ClickHouse server error codes (src/Common/ErrorCodes.cpp) -> SQLSTATE.
_CLICKHOUSE_SQLSTATE = {
    16: UNDEFINED_COLUMN,          # NO_SUCH_COLUMN_IN_TABLE
    36: INVALID_PARAMETER_VALUE,   # BAD_ARGUMENTS
    43: DATATYPE_MISMATCH,         # ILLEGAL_TYPE_OF_ARGUMENT
    46: UNDEFINED_FUNCTION,        # UNKNOWN_FUNCTION
    47: UNDEFINED_COLUMN,          # UNKNOWN_IDENTIFIER
    53: DATATYPE_MISMATCH,         # TYPE_MISMATCH
    60: UNDEFINED_TABLE,           # UNKNOWN_TABLE
    62: SYNTAX_ERROR,              # SYNTAX_ERROR
    69: NUMERIC_VALUE_OUT_OF_RANGE,  # ARGUMENT_OUT_OF_BOUND
    70: NUMERIC_VALUE_OUT_OF_RANGE,  # CANNOT_CONVERT_TYPE
    72: INVALID_TEXT_REPRESENTATION,  # CANNOT_PARSE_NUMBER
    81: INVALID_SCHEMA_NAME,       # UNKNOWN_DATABASE
    131: STRING_DATA_RIGHT_TRUNCATION,  # TOO_LARGE_STRING_SIZE
    153: DIVISION_BY_ZERO,         # ILLEGAL_DIVISION
    159: QUERY_CANCELED,           # TIMEOUT_EXCEEDED
    164: INSUFFICIENT_PRIVILEGE,   # READONLY
    192: INVALID_AUTHORIZATION,    # UNKNOWN_USER
    193: INVALID_PASSWORD,         # WRONG_PASSWORD
    194: INVALID_PASSWORD,         # REQUIRED_PASSWORD
    195: INVALID_AUTHORIZATION,    # IP_ADDRESS_NOT_ALLOWED
    209: CONNECTION_FAILURE,       # SOCKET_TIMEOUT
    210: CONNECTION_FAILURE,       # NETWORK_ERROR
    241: OUT_OF_MEMORY,            # MEMORY_LIMIT_EXCEEDED
    394: QUERY_CANCELED,           # QUERY_WAS_CANCELLED
    497: INSUFFICIENT_PRIVILEGE,   # ACCESS_DENIED
    516: INVALID_PASSWORD,         # AUTHENTICATION_FAILED
}


# Messages of the throwIf() checks the translators emit -> PostgreSQL's SQLSTATE.
_THROW_IF_SQLSTATES = (
    ("division by zero", DIVISION_BY_ZERO),
    ("out of range", NUMERIC_VALUE_OUT_OF_RANGE),
    ("numeric field overflow", NUMERIC_VALUE_OUT_OF_RANGE),
    # old servers' throwIf takes no message; only the per-table integer
    # range checks (translate/shared.py) emit it there
    ("Value passed to 'throwIf' function is non zero", NUMERIC_VALUE_OUT_OF_RANGE),
)


def _throw_if_sqlstate(first_line: str) -> str:
    for text, state in _THROW_IF_SQLSTATES:
        if first_line.startswith(text) or f" {text}" in first_line.split(":")[0]:
            return state
    return FDW_ERROR


def clickhouse_error(code: int | None, text: str, *, name: str | None = None,
                     context: str | None = None) -> ChFdwError:
    """Build the PostgreSQL error for an exception ClickHouse returned.

    code is ClickHouse's numeric error code, text its message.  The message
    names the code so users can look it up; the detail keeps the server text.
    """
    text = server_text(text)
    first_line = text.splitlines()[0] if text else "unknown error"
    label = f"ClickHouse error {code}" if code is not None else "ClickHouse error"
    if name:
        label += f" ({name})"
    message = f"{label}: {first_line}"
    if context:
        message = f"{context}: {message}"
    sqlstate = _CLICKHOUSE_SQLSTATE.get(code or -1, FDW_ERROR)
    if code == 395:     # FUNCTION_THROW_IF_VALUE_IS_NON_ZERO: the translators' checks
        sqlstate = _throw_if_sqlstate(first_line)
    detail = text if text and text != first_line else None
    return ChFdwError(message, sqlstate, detail, ch_code=code)


_STACK_TRACE_RE = re.compile(r"\s*Stack trace\b.*", re.S)


def server_text(text: str | None) -> str:
    """ClickHouse's error text without the "Code: N. DB::Exception:" preamble
    and without the server's C++ stack trace (old servers append it to
    every exception they send over the native protocol)."""
    t = (text or "").strip()
    t = re.sub(r"^Code:\s*\d+\.\s*", "", t)
    t = re.sub(r"^(?:e\.displayText\(\) = )?(?:DB::Exception:\s*)+", "", t)
    t = _STACK_TRACE_RE.sub("", t).rstrip()
    if t.endswith(".."):
        t = t[:-1]
    return t
