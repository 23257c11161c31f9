"""UUID, IPv4 and IPv6 (PostgreSQL uuid and inet)."""

from __future__ import annotations

import ipaddress as _ip
import uuid as _uuid
from typing import Callable

from ch_fdw import errors

from .base import Bad, Refuse, quote_string, show
from .model import ChType
from .pgtext import text_token

NAMES = frozenset({"UUID", "IPv4", "IPv6"})


def pg_type(t: ChType) -> str:
    return "uuid" if t.name == "UUID" else "inet"


def read(t: ChType, cat: str, f, driver: str):
    if t.name == "UUID":
        if cat == "uuid":
            return "{}", None
        raise Refuse("")
    if cat == "inet":
        return "toString({})", None
    if t.name == "IPv4" and cat in ("bigint", "numeric"):
        return "toUInt32({})", None
    raise Refuse("")


def element(t: ChType, cat: str, f):
    if cat == ("uuid" if t.name == "UUID" else "inet"):
        return "toString({})", text_token
    raise Refuse("")


def write(t: ChType, pg_cat: str, server_tz) -> Callable:
    if t.name == "UUID":
        return _uuid_write
    return _ip_write(t)


def _uuid_write(v):
    try:
        return v if isinstance(v, _uuid.UUID) else _uuid.UUID(str(v).strip())
    except ValueError:
        raise Bad(f'invalid UUID "{show(v)}"', errors.INVALID_TEXT_REPRESENTATION) from None


def _ip_write(t: ChType) -> Callable:
    v4 = t.name == "IPv4"

    def conv(v):
        s = str(v).strip()
        if s.endswith("/32") and "." in s:
            s = s[:-3]
        elif s.endswith("/128"):
            s = s[:-4]
        try:
            a = _ip.ip_address(s)
        except ValueError:
            raise Bad(f'"{show(v)}" is not a single {t.name} address (networks cannot be stored)',
                      errors.INVALID_TEXT_REPRESENTATION) from None
        if v4:
            if a.version != 4:
                raise Bad(f'"{show(v)}" is not an IPv4 address', errors.INVALID_TEXT_REPRESENTATION)
            return a
        return a if a.version == 6 else _ip.IPv6Address("::ffff:" + str(a))
    return conv


def literal(t: ChType, v) -> str:
    return f"to{t.name}({quote_string(str(v))})"
