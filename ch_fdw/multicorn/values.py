"""Values between the core's bridge forms and what multicorn converts.

Scans: the core's converters (ch_fdw/types.py fetch plans) produce the forms
the C bridge turns into Datums (dates as days, timestamps as microseconds,
...).  multicorn instead prints every value with str() (isoformat() for
dates) and feeds it to the column type's input function, so those forms are
turned into objects that print as PostgreSQL input text.

Writes: multicorn converts each Datum to Python its own way (numeric as
float, timestamp without its fractional seconds, most types as output
text).  The core's writer takes most of those as they are; the lossy ones
are accepted only where nothing can have been lost (see writable()).
"""

from __future__ import annotations

import ctypes
import datetime as _dt
from typing import Callable

from .. import errors
from ..errors import ChFdwError
from ..chtypes import normalize_pg_type

_EPOCH_ORDINAL = _dt.date(1970, 1, 1).toordinal()
_EPOCH = _dt.datetime(1970, 1, 1)
_EPOCH_UTC = _dt.datetime(1970, 1, 1, tzinfo=_dt.timezone.utc)
_MICRO = _dt.timedelta(microseconds=1)


def _dates(values: list) -> list:
    fo, e = _dt.date.fromordinal, _EPOCH_ORDINAL
    return [v if v.__class__ is not int else fo(e + v) for v in values]


def _timestamps(epoch: _dt.datetime) -> Callable[[list], list]:
    def conv(values: list) -> list:
        return [v if v.__class__ is not int else epoch + v * _MICRO for v in values]
    return conv


def _no_nul(label: str) -> Callable[[list], list]:
    def conv(values: list) -> list:
        for v in values:
            if v.__class__ is str and "\x00" in v:
                raise ChFdwError(f"string value of {label} contains a NUL byte (0x00), "
                                 "which PostgreSQL text cannot hold", "22P05",
                                 hint="Declare the column as bytea, or strip NULs in ClickHouse.")
        return values
    return conv


def scan_adapter(pg_type: str, label: str) -> Callable[[list], list] | None:
    """Per-batch adapter from bridge forms to multicorn-printable values
    (None: identity)."""
    cat, dims = normalize_pg_type(pg_type)
    if dims:
        return _no_nul(label)              # array literal text
    if cat == "date":
        return _dates
    if cat == "timestamp":
        return _timestamps(_EPOCH)
    if cat == "timestamptz":
        return _timestamps(_EPOCH_UTC)     # aware: prints with +00:00
    if cat in ("smallint", "integer", "bigint", "real", "double precision", "numeric",
               "boolean", "bytea", "uuid"):
        return None
    # text and everything fed through an input function: a NUL would cut it
    return _no_nul(label)


# ---------------------------------------------------------------- writes

def _extra_float_digits() -> int | None:
    """The backend's extra_float_digits (float output text is exact from 1
    up), read from the running postgres process; None outside PostgreSQL."""
    try:
        return ctypes.c_int.in_dll(ctypes.CDLL(None), "extra_float_digits").value
    except (OSError, ValueError, AttributeError):
        return None


def _check_float_digits(label: str) -> None:
    efd = _extra_float_digits()
    if efd is None or efd < 1:
        raise ChFdwError(f"{label}: floating-point values reach the multicorn wrapper as text, which is "
                         f"exact only with extra_float_digits >= 1 (it is {efd})",
                         errors.FEATURE_NOT_SUPPORTED,
                         hint="SET extra_float_digits = 1 (PostgreSQL's default).")


def _numeric_text(values: list) -> list:
    # writable() made sure the float's shortest text is the numeric's value
    return [repr(v) if v.__class__ is float else v for v in values]


def _timestamp_text(values: list) -> list:
    return [v.isoformat(" ") if v.__class__ is _dt.datetime else v for v in values]


def _bools(values: list) -> list:
    # multicorn prints booleans as 't' / 'f'; the writer takes bool
    return [v == "t" if v.__class__ is str and v in ("t", "f") else v for v in values]


def _typmod_args(pg_type: str) -> list[int] | None:
    if "(" not in pg_type:
        return None
    inner = pg_type[pg_type.index("(") + 1:pg_type.index(")")]
    try:
        return [int(x) for x in inner.split(",")]
    except ValueError:
        return None


def write_adapter(pg_type: str, label: str) -> Callable[[list], list] | None:
    """Per-batch adapter from multicorn's values to the writer's forms, or
    an error (raised before anything is sent) for a type multicorn converts
    with loss."""
    cat, dims = normalize_pg_type(pg_type)
    args = _typmod_args(pg_type)
    if cat == "numeric":
        # multicorn passes numeric as float: exact only up to 15 digits
        if not args or args[0] > 15 or (len(args) > 1 and not -300 <= args[1] <= 300):
            raise ChFdwError(f"{label}: multicorn passes numeric values to Python as float, which cannot "
                             "hold every value of this column exactly", errors.FEATURE_NOT_SUPPORTED,
                             hint="Declare the column as numeric(p,s) with p <= 15, or write through the "
                                  "ch_fdw extension.")
        return _numeric_text
    if cat == "timestamp":
        if args != [0]:
            raise ChFdwError(f"{label}: multicorn passes timestamp values to Python without their "
                             "fractional seconds", errors.FEATURE_NOT_SUPPORTED,
                             hint="Declare the column as timestamp(0) or timestamp with time zone, or "
                                  "write through the ch_fdw extension.")
        return _timestamp_text
    if cat in ("real", "double precision"):
        def floats(values: list, _label=label) -> list:
            _check_float_digits(_label)
            return values
        return floats
    if cat == "boolean":
        return _bools
    return None   # the writer reads output text ('123', '1.5', uuids, ...) as it is


def check_array_writable(pg_type: str, label: str) -> None:
    cat, dims = normalize_pg_type(pg_type)
    if dims and cat in ("numeric", "timestamp", "real", "double precision"):
        raise ChFdwError(f"{label}: multicorn converts the elements of {pg_type} with loss",
                         errors.FEATURE_NOT_SUPPORTED,
                         hint="Write through the ch_fdw extension.")
