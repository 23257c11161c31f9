"""The native protocol's packets that carry more than a block: the client's
Hello and Query, the server's Hello, Progress, ProfileInfo and Exception."""

import os
import re
from dataclasses import dataclass, field

from .wire import (REV_CLIENT_INFO, REV_CLIENT_WRITE_INFO, REV_DISTRIBUTED_DEPTH,
                   REV_INITIAL_QUERY_START_TIME, REV_INTERSERVER_SECRET,
                   REV_INTERSERVER_SECRET_V2, REV_OPENTELEMETRY, REV_PARALLEL_REPLICAS,
                   REV_PARAMETERS, REV_PASSWORD_COMPLEXITY_RULES,
                   REV_QUERY_TIME_IN_PROGRESS, REV_QUOTA_KEY_IN_CLIENT_INFO,
                   REV_SERVER_DISPLAY_NAME, REV_SERVER_TIMEZONE,
                   REV_SETTINGS_AS_STRINGS, REV_TOTAL_BYTES_IN_PROGRESS,
                   REV_TOTAL_ROWS_IN_PROGRESS, REV_VERSION_PATCH, S_EXCEPTION, S_HELLO,
                   S_PROFILE_INFO, S_PROGRESS, SERVER_REVISION, ProtocolError, i32,
                   string, u8, varint)


@dataclass
class Hello:
    client_name: str
    revision: int          # the client's
    database: str
    user: str


def read_hello(r):
    name = r.string()
    r.varint()  # version major
    r.varint()  # version minor
    revision = r.varint()
    database, user = r.string(), r.string()
    r.bytes_()  # password: any is accepted
    return Hello(name, revision, database, user)


def server_hello(revision, version, timezone):
    parts = [int(p) for p in re.findall(r"\d+", version)[:3]] + [0, 0, 0]
    out = [varint(S_HELLO), string("ClickHouse"), varint(parts[0]), varint(parts[1]),
           varint(SERVER_REVISION)]
    if revision >= REV_SERVER_TIMEZONE:
        out.append(string(timezone))
    if revision >= REV_SERVER_DISPLAY_NAME:
        out.append(string("ch-fdw-devserver"))
    if revision >= REV_VERSION_PATCH:
        out.append(varint(parts[2]))
    if revision >= REV_PASSWORD_COMPLEXITY_RULES:
        out.append(varint(0))
    if revision >= REV_INTERSERVER_SECRET_V2:
        out.append(os.urandom(8))
    return b"".join(out)


@dataclass
class Query:
    query_id: str
    settings: dict = field(default_factory=dict)
    compression: bool = False
    sql: str = ""
    params: dict = field(default_factory=dict)


def _read_settings(r, revision):
    out = {}
    if revision < REV_SETTINGS_AS_STRINGS:
        # Before 54429 each setting's value is in its own binary type, which
        # only a table of all settings could read.
        if r.string():
            raise ProtocolError("Settings from clients older than protocol revision 54429 are not supported")
        return out
    while True:
        name = r.string()
        if not name:
            return out
        r.varint()  # flags (important / custom)
        out[name] = r.string()


def _skip_client_info(r, revision):
    if r.uint8() == 0:   # query kind NO_QUERY: nothing follows
        return
    r.string(), r.string(), r.string()  # initial user, query id, address
    if revision >= REV_INITIAL_QUERY_START_TIME:
        r.read(8)
    interface = r.uint8()
    if interface == 1:  # TCP
        r.string(), r.string(), r.string()  # os user, hostname, client name
        r.varint(), r.varint(), r.varint()  # version major, minor, revision
    elif interface == 2:  # HTTP (a server forwarding a query)
        r.uint8(), r.string(), r.string()
    if revision >= REV_QUOTA_KEY_IN_CLIENT_INFO:
        r.string()
    if revision >= REV_DISTRIBUTED_DEPTH:
        r.varint()
    if interface == 1 and revision >= REV_VERSION_PATCH:
        r.varint()
    if revision >= REV_OPENTELEMETRY and r.uint8():
        r.read(16 + 8), r.string(), r.uint8()
    if revision >= REV_PARALLEL_REPLICAS:
        r.varint(), r.varint(), r.varint()


def read_query(r, revision):
    q = Query(r.string())
    if revision >= REV_CLIENT_INFO:
        _skip_client_info(r, revision)
    q.settings = _read_settings(r, revision)
    if revision >= REV_INTERSERVER_SECRET:
        r.string()
    r.varint()  # stage: always up to Complete for a client
    q.compression = bool(r.varint())
    q.sql = r.string()
    if revision >= REV_PARAMETERS:
        q.params = {k: field_dump_to_text(v) for k, v in _read_settings(r, revision).items()}
    return q


_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "0": "\0", "b": "\b", "f": "\f", "a": "\a", "v": "\v",
            "e": "\x1b"}


def field_dump_to_text(value):
    """A parameter as clients send it (a quoted ClickHouse literal: 'abc',
    42, NULL) to the text form the engine's query parameters take."""
    if value == "NULL":
        return "\\N"
    if len(value) >= 2 and value[0] == value[-1] == "'":
        return re.sub(r"\\(x[0-9a-fA-F]{2}|.)", lambda m: chr(int(m.group(1)[1:], 16))
                      if m.group(1)[0] == "x" and len(m.group(1)) == 3 else _ESCAPES.get(m.group(1), m.group(1)),
                      value[1:-1], flags=re.S)
    return value


def progress(revision, rows=0, nbytes=0, written_rows=0, written_bytes=0, elapsed_ns=0):
    out = [varint(S_PROGRESS), varint(rows), varint(nbytes)]
    if revision >= REV_TOTAL_ROWS_IN_PROGRESS:
        out.append(varint(0))
    if revision >= REV_TOTAL_BYTES_IN_PROGRESS:
        out.append(varint(0))
    if revision >= REV_CLIENT_WRITE_INFO:
        out += [varint(written_rows), varint(written_bytes)]
    if revision >= REV_QUERY_TIME_IN_PROGRESS:
        out.append(varint(elapsed_ns))
    return b"".join(out)


def profile_info(rows, blocks, nbytes):
    return b"".join([varint(S_PROFILE_INFO), varint(rows), varint(blocks), varint(nbytes),
                     u8(0), varint(0), u8(0)])


_VERSION_TAIL = re.compile(r"\s*\(version [^)]*\)\.?\s*$")


def exception(code, text):
    """ClickHouse's Exception packet: the message as a real server words it
    ('DB::Exception: ... (NAME)'), without 'Code: N.' and the version."""
    msg = re.sub(r"^Code: \d+\.\s*", "", text.strip())
    msg = _VERSION_TAIL.sub("", msg)
    if not msg.startswith("DB::Exception: "):
        msg = "DB::Exception: " + msg
    return b"".join([varint(S_EXCEPTION), i32(code), string("DB::Exception"), string(msg),
                     string(""), u8(0)])

