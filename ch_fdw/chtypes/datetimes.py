"""Date and time of day: DateTime, DateTime64(p), Time, Time64(p).

DateTime and DateTime64 map to timestamptz (the instant) or timestamp (the
wall clock in the column's time zone, the server's when it has none).
DateTime64 with precision > 6 is truncated (floored) to microseconds on
reads; writes round digits the column cannot hold as PostgreSQL rounds a
timestamp(p) (half away from zero, counted from PostgreSQL's epoch
2000-01-01), so now() into DateTime stores what timestamp(0) would.  Time/Time64 map to
interval (they can be negative and exceed 24 hours) and are not written."""

from __future__ import annotations

import datetime as _dt
import re as _re
from typing import Callable

from ch_fdw import errors

from .base import Bad, Refuse, quote_string, show
from .dates import date_token
from .model import ChType
from .pgtext import text_token

NAMES = frozenset({"DateTime", "DateTime64", "Time", "Time64"})
WRITABLE = frozenset({"DateTime", "DateTime64"})
_UNIX_EPOCH = _dt.datetime(1970, 1, 1)
_DATETIME_MAX = 2 ** 32 - 1


def pg_type(t: ChType) -> str:
    """IMPORT declares the column's precision (timestamp(0) for DateTime),
    so PostgreSQL itself rounds values to what ClickHouse stores."""
    if t.name in ("Time", "Time64"):
        return "interval"
    p = 0 if t.name == "DateTime" else t.precision
    if p is not None and p <= 6:
        return f"timestamp({p}) with time zone"
    return "timestamp with time zone"


def read(t: ChType, cat: str, f, driver: str):
    if t.name in ("Time", "Time64"):
        if cat in ("interval", "time"):
            return "toString({})", None
        raise Refuse("")
    return _read_datetime(t, cat, f)


def read_text(t: ChType, f):
    if t.name == "DateTime" and not f.valid_utf8:
        return "toString({})", _zero_datetime_fix(t.timezone)
    return None


def element(t: ChType, cat: str, f):
    if t.name in ("Time", "Time64"):
        if cat in ("interval", "time"):
            return "toString({})", text_token
        raise Refuse("")
    if cat == "timestamptz":
        return "toString({}, 'UTC')", _utc_ts_token
    if cat == "timestamp":
        wall = _epoch_wall(t.timezone)
        return "toString({})", lambda v: _ts_token(
            wall if v == "0000-00-00 00:00:00" else v)
    if cat == "date":
        return ("toString(toDate32({}))" if (t.name == "DateTime64" and f.date32)
                else "toString(toDate({}))"), date_token
    raise Refuse("")


def write(t: ChType, pg_cat: str, server_tz) -> Callable:
    if pg_cat not in ("timestamp", "timestamptz", "text") and not pg_cat.startswith("other:"):
        raise Refuse("only timestamp, timestamptz (or their text) can be stored in a ClickHouse " + t.name)
    return _write(t, "timestamptz" if pg_cat == "timestamptz" else
                  ("timestamp" if pg_cat == "timestamp" else "text"), server_tz)


def literal(t: ChType, v) -> str:
    if t.name == "DateTime":
        return f"toDateTime({int(v)})"
    p = t.precision if t.precision is not None else 3
    return f"toDateTime64({quote_string(_ticks_text(int(v), p))}, {p}, 'UTC')"


def _ticks_text(ticks: int, p: int) -> str:
    secs, frac = divmod(ticks, 10 ** p)
    s = (_UNIX_EPOCH + _dt.timedelta(seconds=secs)).strftime("%Y-%m-%d %H:%M:%S")
    return s + (f".{frac:0{p}d}" if p else "")


# -- reads --------------------------------------------------------------------

def _epoch_wall(tz: str | None) -> str:
    if tz:
        try:
            from zoneinfo import ZoneInfo
            return _dt.datetime.fromtimestamp(0, ZoneInfo(tz)).strftime(
                "%Y-%m-%d %H:%M:%S")
        except Exception:
            pass
    return "1970-01-01 00:00:00"


def _wall_micros(tz: str):
    """Converter: Unix seconds -> wall-clock microseconds in zone tz (None
    when Python does not know the zone)."""
    try:
        from zoneinfo import ZoneInfo
        zone = ZoneInfo(tz)
    except Exception:
        return None
    naive_epoch = _dt.datetime(1970, 1, 1)
    fromts = _dt.datetime.fromtimestamp

    def micros(v: int) -> int:
        d = fromts(v, zone).replace(tzinfo=None) - naive_epoch
        return (d.days * 86400 + d.seconds) * 1000000

    def conv(values: list) -> list:
        return [None if v is None else micros(v) for v in values]
    return conv


def _zero_datetime_fix(tz: str | None):
    """ClickHouse < 20 prints the epoch instant as 0000-00-00 00:00:00."""
    wall = _epoch_wall(tz)

    def conv(values: list) -> list:
        if "0000-00-00 00:00:00" not in values:
            return values
        return [wall if v == "0000-00-00 00:00:00" else v for v in values]
    return conv


def _floor_nano_to_micro(values: list) -> list:
    return [None if v is None else v // 1000 for v in values]


def _datetime_py_to_micros(values: list) -> list:
    """Fallback for DateTime64 on servers without toUnixTimestamp64Micro:
    the driver's datetime objects (aware, or naive = UTC)."""
    out = []
    epoch = _dt.datetime(1970, 1, 1, tzinfo=_dt.timezone.utc)
    for v in values:
        if v is None:
            out.append(None)
            continue
        if v.tzinfo is None:
            v = v.replace(tzinfo=_dt.timezone.utc)
        d = v - epoch
        out.append((d.days * 86400 + d.seconds) * 1000000 + d.microseconds)
    return out


def _read_datetime(t: ChType, cat: str, f):
    dt64 = t.name == "DateTime64"
    p = t.precision or 0
    if cat == "timestamptz":
        if not dt64:
            return "toInt64(toUnixTimestamp({})) * 1000000", None
        if not f.unix64:
            return "{}", _datetime_py_to_micros
        if p <= 6:
            return "toUnixTimestamp64Micro({})", None
        return "toUnixTimestamp64Nano({})", _floor_nano_to_micro
    if cat == "timestamp":
        # the wall clock in the column's time zone, read as if it were UTC
        if not dt64:
            if not f.valid_utf8 and t.timezone:
                # ClickHouse < 20's DateLUT gets the local time of instants in
                # the first hours of 1970 wrong (toMinute() = 198 at the
                # epoch in Asia/Kolkata): wall clock from the instant here.
                conv = _wall_micros(t.timezone)
                if conv is not None:
                    return "toUInt32({})", conv
            # wall-clock parts in the column's time zone; no string parsing
            # (ClickHouse 18 prints the epoch as 0000-00-00 00:00:00)
            return ("(toInt64(toInt32(toDate({0}))) * 86400 + toHour({0}) * 3600"
                    " + toMinute({0}) * 60 + toSecond({0})) * 1000000"), None
        if not f.unix64:
            return "toString({})", None
        fn = "toUnixTimestamp64Micro" if p <= 6 else "toUnixTimestamp64Nano"
        expr = f"{fn}(toDateTime64(toString({{}}), {p}, 'UTC'))"
        return expr, (None if p <= 6 else _floor_nano_to_micro)
    if cat == "date":
        if dt64 and f.date32:
            return "toInt32(toDate32({}))", None
        return "toInt32(toDate({}))", None
    raise Refuse("")


def _trunc_frac(s: str) -> str:
    dot = s.find(".")
    if dot >= 0 and len(s) - dot - 1 > 6:
        s = s[:dot + 7]
    return s


def _utc_ts_token(v) -> str:
    if v is None:
        return "NULL"
    if v == "0000-00-00 00:00:00":
        v = "1970-01-01 00:00:00"
    return '"' + _trunc_frac(str(v)) + '+00"'


def _ts_token(v) -> str:
    if v is None:
        return "NULL"
    return '"' + _trunc_frac(str(v)) + '"'


# -- writes -------------------------------------------------------------------

_TS_RE = _re.compile(r"(\d{4,})-(\d\d)-(\d\d)[ T](\d\d):(\d\d):(\d\d)(?:\.(\d{1,9}))?"
                     r"(?:\s*(Z|[+-]\d\d(?::?\d\d(?::?\d\d)?)?))?")


def _zone(name: str | None):
    if not name or name in ("UTC", "Etc/UTC", "UCT", "Zulu", "Etc/UCT"):
        return None
    from zoneinfo import ZoneInfo
    try:
        return ZoneInfo(name)
    except Exception:
        raise errors.ChFdwError(f"unknown time zone {name!r}", errors.FDW_INVALID_DATA_TYPE) from None


def _micros_of(v, wall_zone, tz_input: bool) -> int:
    """Microseconds since the Unix epoch (UTC) of a timestamp in bridge form.
    Ints from a timestamp (wall clock) column are read in wall_zone."""
    if v.__class__ is int:
        if tz_input or wall_zone is None:
            return v
        return _wall_to_utc(v, wall_zone)
    if isinstance(v, str):
        s = v.strip()
        m = _TS_RE.fullmatch(s)
        if m:
            frac = (m[7] or "")
            if len(frac) > 6 and int(frac[6:]):
                raise Bad(f'timestamp "{show(v)}" has sub-microsecond digits')
            try:
                wall = _dt.datetime(int(m[1]), int(m[2]), int(m[3]), int(m[4]), int(m[5]), int(m[6]))
            except ValueError:
                raise Bad(f'invalid timestamp "{show(v)}"', errors.INVALID_TEXT_REPRESENTATION) from None
            us = ((wall - _UNIX_EPOCH) // _dt.timedelta(microseconds=1)) + int((frac + "000000")[:6] or 0)
            off = m[8]
            if off:
                if off != "Z":
                    sign = -1 if off[0] == "-" else 1
                    digits = off[1:].replace(":", "")
                    secs = int(digits[0:2]) * 3600 + int(digits[2:4] or 0) * 60 + int(digits[4:6] or 0)
                    us -= sign * secs * 1_000_000
                return us
            return us if wall_zone is None else _wall_to_utc(us, wall_zone)
        raise Bad(f'timestamp "{show(v)}" cannot be stored in ClickHouse', errors.INVALID_PARAMETER_VALUE)
    raise Bad(f"cannot convert {type(v).__name__} to a timestamp", errors.DATATYPE_MISMATCH)


def _wall_to_utc(us: int, zone) -> int:
    try:
        wall = _UNIX_EPOCH + _dt.timedelta(microseconds=us)
    except OverflowError:
        raise Bad("timestamp is out of range for ClickHouse") from None
    off = wall.replace(tzinfo=zone).utcoffset()
    return us - off // _dt.timedelta(microseconds=1)


def _write(t: ChType, pg_cat: str, server_tz: str | None) -> Callable:
    """DateTime -> int seconds; DateTime64(p) -> int ticks.  timestamptz
    input is the instant; timestamp input is the wall clock in the column's
    zone (the server's when the column has none), as ch_fdw reads it."""
    tz_input = pg_cat == "timestamptz"
    wall_zone = None if tz_input else _zone(t.timezone or server_tz)
    if t.name == "DateTime":
        def conv(v):
            us = round_micros(_micros_of(v, wall_zone, tz_input), 0)
            secs = us // 1_000_000
            if not 0 <= secs <= _DATETIME_MAX:
                raise Bad(f"timestamp {_ts_text(us)} is out of range for ClickHouse type "
                           f"{t.text or t.name} (1970-01-01 00:00:00 .. 2106-02-07 06:28:15 UTC)")
            return secs

        def fast(values: list, nullable: bool):
            if not (tz_input or wall_zone is None):
                return None
            vals = [v for v in values if v is not None] if nullable else values
            try:
                out = [None if v is None else v // 1_000_000 for v in values]
                if any(v % 1_000_000 for v in vals):
                    return None
                if vals and (min(vals) < 0 or max(vals) > _DATETIME_MAX * 1_000_000):
                    return None
            except TypeError:
                return None
            return out
        conv.fast = fast
        return conv
    p = t.precision if t.precision is not None else 3
    # DateTime64 range 1900-01-01 .. 2299-12-31 23:59:59.99999999
    lo_us = (_dt.datetime(1900, 1, 1) - _UNIX_EPOCH) // _dt.timedelta(microseconds=1)
    hi_us = (_dt.datetime(2300, 1, 1) - _UNIX_EPOCH) // _dt.timedelta(microseconds=1) - 1

    def conv64(v):
        us = _micros_of(v, wall_zone, tz_input)
        if p < 6:
            us = round_micros(us, p)
        if not lo_us <= us <= hi_us:
            raise Bad(f"timestamp {_ts_text(us)} is out of range for ClickHouse type {t.text} "
                       "(1900-01-01 .. 2299-12-31)")
        if p >= 6:
            return us * 10 ** (p - 6)
        return us // 10 ** (6 - p)
    return conv64


_PG_EPOCH_US = 946_684_800_000_000     # 2000-01-01 in Unix microseconds


def round_micros(us: int, p: int) -> int:
    """us rounded to p (< 6) fractional digits exactly as PostgreSQL's
    AdjustTimestampForTypmod: half away from zero, relative to 2000-01-01."""
    scale = 10 ** (6 - p)
    rel = us - _PG_EPOCH_US
    half = scale // 2
    if rel >= 0:
        rel = (rel + half) // scale * scale
    else:
        rel = -((-rel + half) // scale * scale)
    return rel + _PG_EPOCH_US


def _ts_text(us: int) -> str:
    try:
        return str(_UNIX_EPOCH + _dt.timedelta(microseconds=us))
    except OverflowError:
        return f"{us} us"
