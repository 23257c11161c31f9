"""`AT TIME ZONE` with PostgreSQL's semantics, as ClickHouse SQL; the one
place both translators take the rule from.

  [at-time-zone] timestamptz AT TIME ZONE z -> timestamp: the wall clock of
                 the instant in z.  timestamp AT TIME ZONE z -> timestamptz:
                 the instant whose wall clock in z it is; where the wall
                 clock does not exist (a DST gap) PostgreSQL takes the UTC
                 offset in force before the transition, where it exists
                 twice (a fold) the offset after it
                 (DetermineTimeZoneOffsetInternal) -- so the later instant
                 in both cases.  Zones: IANA names (PostgreSQL matches them
                 case-insensitively) and POSIX-style fixed offsets ('+02' is
                 two hours WEST of Greenwich in PostgreSQL).  Abbreviations
                 (EST, CET, ...) are refused: PostgreSQL reads them from
                 timezone_abbreviations first, as fixed offsets, where
                 ClickHouse has DST-aware zones of the same names.

A timestamp (without time zone) is held as its wall clock in a
DateTime64(6, 'UTC') (or DateTime('UTC')); a timestamptz is the instant.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

from .literals import Unsupported
from .quoting import quote_string as qs


@dataclass(frozen=True)
class Zone:
    name: str | None          # canonical IANA name, or None for a fixed offset
    offset: int = 0           # fixed offset east of UTC, in seconds


@functools.lru_cache(maxsize=1)
def _iana_names() -> dict[str, str]:
    import zoneinfo
    return {n.lower(): n for n in zoneinfo.available_timezones()}


_UTC_NAMES = {"utc", "gmt", "z", "zulu", "etc/utc", "etc/gmt", "uct", "universal", "etc/universal",
              "etc/zulu", "etc/uct", "greenwich", "etc/greenwich", "gmt0", "etc/gmt0"}

_POSIX_OFFSET = re.compile(r"(?:utc|gmt)?([+-])(\d{1,2})(?::(\d{2}))?", re.I)


def pg_zone(text: str) -> Zone:
    """The zone PostgreSQL's AT TIME ZONE reads from text; Unsupported where
    its reading cannot be reproduced exactly."""
    t = text.strip()
    low = t.lower()
    if low in _UTC_NAMES:
        return Zone(None, 0)
    m = _POSIX_OFFSET.fullmatch(t)
    if m:
        hours, minutes = int(m.group(2)), int(m.group(3) or 0)
        if hours > 15 or minutes > 59:
            raise Unsupported(f"time zone {text!r}")
        east = -1 if m.group(1) == "+" else 1          # POSIX: + is west
        return Zone(None, east * (hours * 3600 + minutes * 60))
    if "/" not in t:
        # EST, CET, MSK, ...: PostgreSQL's abbreviation table comes first
        raise Unsupported(f"time zone {text!r} (PostgreSQL may read it as an abbreviation)")
    name = _iana_names().get(low)
    if name is None or low.startswith(("posix/", "right/")):
        raise Unsupported(f"time zone {text!r}")
    return Zone(name)


def tstz_to_local(sql: str, zone: Zone) -> str:
    """timestamptz AT TIME ZONE zone: the wall clock, as DateTime64(6, 'UTC')."""
    inst = f"toDateTime64({sql}, 6, 'UTC')"
    if zone.name is None:
        return f"addSeconds({inst}, {zone.offset})" if zone.offset else inst
    return f"addSeconds({inst}, timeZoneOffset(toTimeZone({sql}, {qs(zone.name)})))"


def local_to_tstz(sql: str, zone: Zone) -> str:
    """timestamp AT TIME ZONE zone: the instant, as DateTime64(6, 'UTC')."""
    wall = f"toDateTime64({sql}, 6, 'UTC')"
    if zone.name is None:
        return f"addSeconds({wall}, {-zone.offset})" if zone.offset else wall
    z = qs(zone.name)
    us = f"toUnixTimestamp64Micro({wall})"
    u0 = f"intDiv({us} - ({us} < 0) * 999999, 1000000)"    # the wall clock read as UTC, floored
    # the offsets a day before and after: those on either side of any
    # transition near this wall clock (transitions are further apart)
    before = f"timeZoneOffset(toDateTime64({u0} - 86400, 0, {z}))"
    after = f"timeZoneOffset(toDateTime64({u0} + 86400, 0, {z}))"
    # the after-offset when it reads back (no transition, or a fold);
    # else the before-offset (a gap, or only it reads back)
    chosen = f"if(timeZoneOffset(toDateTime64({u0} - {after}, 0, {z})) = {after}, {after}, {before})"
    return f"addSeconds({wall}, -{chosen})"
