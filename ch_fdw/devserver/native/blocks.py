"""Data blocks between chDB's Native format and the native protocol.

chDB reads and writes `Native` as protocol revision 0: per block the column
count, the row count, then per column its name, type and data. Over TCP a
block also carries a BlockInfo prefix (revision >= 51903) and, per column, a
custom-serialization flag between type and data (revision >= 54454). Adding
or removing that flag needs each column's data length, so this module knows
how every type lays out its bytes in Native: fixed widths, String's varint
lengths, Nullable's null map, Array offsets, Tuple/Map elements and
LowCardinality's state prefix, index flags and dictionary.
"""

import re
import struct

from .wire import (REV_BLOCK_INFO, REV_CUSTOM_SERIALIZATION, ProtocolError,
                   read_varint_at, string, varint)

BLOCK_INFO = b"\x01\x00\x02\xff\xff\xff\xff\x00"   # is_overflows=0, bucket_num=-1
_U64 = struct.Struct("<Q")

_FIXED = {
    "UInt8": 1, "Int8": 1, "Bool": 1, "Enum8": 1, "Nothing": 1,
    "UInt16": 2, "Int16": 2, "Date": 2, "Enum16": 2, "BFloat16": 2,
    "UInt32": 4, "Int32": 4, "Float32": 4, "DateTime": 4, "Date32": 4, "IPv4": 4,
    "Decimal32": 4, "Time": 4,
    "UInt64": 8, "Int64": 8, "Float64": 8, "DateTime64": 8, "Decimal64": 8, "Time64": 8,
    "UInt128": 16, "Int128": 16, "UUID": 16, "IPv6": 16, "Decimal128": 16,
    "UInt256": 32, "Int256": 32, "Decimal256": 32,
}
_ALIASES = {
    "Point": "Tuple(Float64, Float64)", "Ring": "Array(Point)", "LineString": "Array(Point)",
    "Polygon": "Array(Ring)", "MultiLineString": "Array(LineString)",
    "MultiPolygon": "Array(Polygon)",
}
_INDEX_WIDTH = (1, 2, 4, 8)
_LC_GLOBAL_DICTIONARY = 1 << 8
_LC_ADDITIONAL_KEYS = 1 << 9


class NeedMore(Exception):
    """The buffer ends inside the block: read more and parse again."""


class Unsupported(ProtocolError):
    pass


class Type:
    """A parsed ClickHouse type: its layout kind and what is nested in it."""
    __slots__ = ("name", "kind", "width", "args", "lc_count")

    def __init__(self, name, kind, width=0, args=()):
        self.name, self.kind, self.width, self.args = name, kind, width, tuple(args)
        self.lc_count = (kind == "lc") + sum(a.lc_count for a in self.args)


def _split_args(s):
    """Top-level comma-separated arguments of 'A, B(C, D), 'x,y''."""
    out, depth, start, i, n = [], 0, 0, 0, len(s)
    while i < n:
        c = s[i]
        if c in "'`\"":
            i += 1
            while i < n and s[i] != c:
                i += 2 if s[i] == "\\" else 1
        elif c == "(":
            depth += 1
        elif c == ")":
            depth -= 1
        elif c == "," and depth == 0:
            out.append(s[start:i].strip())
            start = i + 1
        i += 1
    out.append(s[start:].strip())
    return [a for a in out if a]


_NAMED_ELEMENT = re.compile(r"^(?:`(?:[^`\\]|\\.)*`|[A-Za-z_][\w.]*)\s+(?=[A-Z])")
_cache = {}


def parse_type(text):
    t = _cache.get(text)
    if t is None:
        t = _cache[text] = _parse(text.strip())
    return t


def _parse(text):
    m = re.match(r"^(\w+)\s*(?:\((.*)\))?$", text, re.S)
    if not m:
        raise Unsupported(f"Cannot parse type {text}")
    name, inner = m.group(1), m.group(2)
    if name in _ALIASES and inner is None:
        return _parse(_ALIASES[name])
    if name in _FIXED:
        return Type(text, "fixed", _FIXED[name])
    if name == "Decimal":
        precision = int(_split_args(inner)[0])
        return Type(text, "fixed", 4 if precision <= 9 else 8 if precision <= 18 else 16 if precision <= 38 else 32)
    if name.startswith("Interval"):
        return Type(text, "fixed", 8)
    if name == "FixedString":
        return Type(text, "fixed", int(inner))
    if name == "String":
        return Type(text, "string")
    args = _split_args(inner or "")
    if name == "Nullable":
        return Type(text, "nullable", args=[_parse(args[0])])
    if name == "Array":
        return Type(text, "array", args=[_parse(args[0])])
    if name == "Map":
        return Type(text, "array", args=[Type(text, "tuple", args=[_parse(a) for a in args])])
    if name == "Tuple" or name == "Nested":
        elems = [_parse(_NAMED_ELEMENT.sub("", a, count=1)) for a in args]
        kind = "tuple" if name == "Tuple" else "array"
        return Type(text, "tuple", args=elems) if kind == "tuple" else \
            Type(text, "array", args=[Type(text, "tuple", args=elems)])
    if name == "LowCardinality":
        inner_t = _parse(args[0])
        keys = inner_t.args[0] if inner_t.kind == "nullable" else inner_t
        return Type(text, "lc", args=[keys])
    if name == "SimpleAggregateFunction":
        return _parse(args[-1])
    raise Unsupported(f"Type {text} is not supported by ch-fdw-devserver's native protocol "
                      "(use the HTTP interface for it)")


def skip_column(t, data, pos, n):
    """Position after n rows of type t serialized from data[pos] (state
    prefix included); NeedMore if the data ends first."""
    pos += 8 * t.lc_count   # LowCardinality's key-version prefix, for each one nested
    pos = _skip(t, data, pos, n)
    if pos > len(data):
        raise NeedMore()
    return pos


def _skip(t, data, pos, n):
    kind = t.kind
    if not n:
        return pos
    if kind == "fixed":
        return pos + n * t.width
    if kind == "string":
        return _skip_strings(data, pos, n)
    if kind == "nullable":
        return _skip(t.args[0], data, pos + n, n)
    if kind == "array":
        end = pos + 8 * n
        if end > len(data):
            raise NeedMore()
        return _skip(t.args[0], data, end, _U64.unpack_from(data, end - 8)[0])
    if kind == "tuple":
        for a in t.args:
            pos = _skip(a, data, pos, n)
        return pos
    if kind == "lc":
        if pos + 8 > len(data):
            raise NeedMore()
        flags = _U64.unpack_from(data, pos)[0]
        pos += 8
        if flags & _LC_GLOBAL_DICTIONARY:
            raise Unsupported("LowCardinality with a global dictionary is not supported")
        if flags & _LC_ADDITIONAL_KEYS:
            if pos + 8 > len(data):
                raise NeedMore()
            keys = _U64.unpack_from(data, pos)[0]
            pos = _skip(t.args[0], data, pos + 8, keys)
        if pos + 8 > len(data):
            raise NeedMore()
        rows = _U64.unpack_from(data, pos)[0]
        return pos + 8 + rows * _INDEX_WIDTH[flags & 0xFF]
    raise Unsupported(f"Type {t.name} is not supported")


def _skip_strings(data, pos, n):
    try:
        for _ in range(n):
            b = data[pos]
            if b < 0x80:
                pos += 1 + b
            else:
                length, pos = read_varint_at(data, pos)
                pos += length
    except IndexError:
        raise NeedMore() from None
    if pos > len(data):
        raise NeedMore()
    return pos


def header(columns, revision):
    """A block with these (name, type) columns and no rows, in wire framing."""
    out = [BLOCK_INFO if revision >= REV_BLOCK_INFO else b"", varint(len(columns)), varint(0)]
    flag = b"\x00" if revision >= REV_CUSTOM_SERIALIZATION else b""
    for name, type_ in columns:
        out += [string(name), string(type_), flag]
    return b"".join(out)


class EngineBlocks:
    """Splits chDB's Native output into blocks and re-frames each for the
    client's revision. Remembers the columns (for a header block)."""

    def __init__(self, revision, describe=None):
        self.revision = revision
        self.columns = None
        # chDB's revision-0 Native names DateTime('Zone') plain DateTime (as
        # ClickHouse does for pre-54337 clients); describe() gives the real
        # types of the result, asked for only when such a column appears.
        self._describe = describe
        self._retype = {}

    def frame(self, data, rows_hint=None):
        """[(rows, wire bytes)] for the Native blocks in data."""
        out, pos, view = [], 0, memoryview(data)
        while pos < len(data):
            pos, block = self._one(data, view, pos, rows_hint if not out else None)
            out.append(block)
        return out

    def _one(self, data, view, pos, rows_hint):
        block_start = pos
        ncols, pos = read_varint_at(data, pos)
        nrows, pos = read_varint_at(data, pos)
        custom = self.revision >= REV_CUSTOM_SERIALIZATION
        parts = [BLOCK_INFO if self.revision >= REV_BLOCK_INFO else b"", view[block_start:pos]]
        cols = []
        for i in range(ncols):
            start = pos
            length, pos = read_varint_at(data, pos)
            name = bytes(view[pos:pos + length]).decode("utf-8", "replace")
            pos += length
            length, pos = read_varint_at(data, pos)
            type_ = bytes(view[pos:pos + length]).decode("utf-8", "replace")
            pos += length
            if self.columns is None and type_ == "DateTime" and self._describe is not None:
                real = self._describe() or []
                self._retype = {j: t for j, (_, t) in enumerate(real) if t.startswith("DateTime(")}
                self._describe = None
            shown = self._retype.get(i, type_)
            cols.append((name, shown))
            # The last column of a buffer holding just this block ends with
            # the buffer: no need to walk its values (nor know its layout).
            last = i == ncols - 1 and rows_hint == nrows and block_start == 0
            end = len(data) if last and _fixed_width(type_) is None else self._data_end(data, pos, type_, nrows)
            head = view[start:pos] if shown is type_ else string(name) + string(shown)
            if custom:
                parts += [head, b"\x00", view[pos:end]]
            else:
                parts += [head, view[pos:end]]
            pos = end
        if self.columns is None:
            self.columns = cols
        return pos, (nrows, b"".join(parts))

    @staticmethod
    def _data_end(data, pos, type_, nrows):
        if not nrows:
            return pos
        t = parse_type(type_)
        if t.kind == "fixed":
            return pos + nrows * t.width
        try:
            return skip_column(t, data, pos, nrows)
        except NeedMore:
            raise ProtocolError("Native block from the engine is cut short") from None


def _fixed_width(type_):
    try:
        t = parse_type(type_)
    except Unsupported:
        return None
    return t.width if t.kind == "fixed" else None


def read_client_block(src, revision):
    """Read one Data block from src (SocketReader or FrameReader) and return
    (rows, columns, Native bytes in revision-0 framing for the engine)."""
    while True:
        try:
            end, rows, cols, native = _client_block(src.buf, src.pos, revision)
        except (NeedMore, IndexError):
            src.grow()
            continue
        src.pos = end
        return rows, cols, native


def _client_block(buf, pos, revision):
    data = buf
    if revision >= REV_BLOCK_INFO:
        while True:
            field, pos = read_varint_at(data, pos)
            if field == 0:
                break
            pos += 1 if field == 1 else 4 if field == 2 else 0
            if field not in (1, 2):
                raise ProtocolError(f"Unknown BlockInfo field {field}")
    head_start = pos
    ncols, pos = read_varint_at(data, pos)
    nrows, pos = read_varint_at(data, pos)
    parts = [bytes(data[head_start:pos])]
    cols = []
    for _ in range(ncols):
        start = pos
        length, pos = read_varint_at(data, pos)
        name = bytes(data[pos:pos + length]).decode("utf-8", "replace")
        pos += length
        length, pos = read_varint_at(data, pos)
        type_ = bytes(data[pos:pos + length]).decode("utf-8", "replace")
        pos += length
        if pos > len(data):
            raise NeedMore()
        parts.append(bytes(data[start:pos]))
        cols.append((name, type_))
        if revision >= REV_CUSTOM_SERIALIZATION:
            if data[pos]:
                raise Unsupported("Columns with custom (sparse) serialization are not supported")
            pos += 1
        end = skip_column(parse_type(type_), data, pos, nrows)
        parts.append(bytes(data[pos:end]))
        pos = end
    return pos, nrows, cols, b"".join(parts)
