"""Byte-level I/O of ClickHouse's native TCP protocol: varints, strings,
fixed-width integers, packet codes and the compressed-frame format
(CityHash128 checksum, method byte, sizes, LZ4/ZSTD payload)."""

import struct

# Revisions (ClickHouse's DBMS_MIN_*): what each one adds to the protocol.
REV_BLOCK_INFO = 51903
REV_TOTAL_ROWS_IN_PROGRESS = 51554
REV_TEMPORARY_TABLES = 50264
REV_CLIENT_INFO = 54032
REV_SERVER_TIMEZONE = 54058
REV_QUOTA_KEY_IN_CLIENT_INFO = 54060
REV_SERVER_DISPLAY_NAME = 54372
REV_VERSION_PATCH = 54401
REV_LOW_CARDINALITY = 54405
REV_CLIENT_WRITE_INFO = 54420
REV_SETTINGS_AS_STRINGS = 54429
REV_INTERSERVER_SECRET = 54441
REV_OPENTELEMETRY = 54442
REV_DISTRIBUTED_DEPTH = 54448
REV_INITIAL_QUERY_START_TIME = 54449
REV_PARALLEL_REPLICAS = 54453
REV_CUSTOM_SERIALIZATION = 54454
REV_PROFILE_EVENTS_IN_INSERT = 54456
REV_ADDENDUM = 54458
REV_PARAMETERS = 54459
REV_QUERY_TIME_IN_PROGRESS = 54460
REV_PASSWORD_COMPLEXITY_RULES = 54461
REV_INTERSERVER_SECRET_V2 = 54462
REV_TOTAL_BYTES_IN_PROGRESS = 54463
REV_TIMEZONE_UPDATES = 54464
# The newest revision served; a client with a newer one speaks ours (the
# handshake settles on the smaller of the two).
SERVER_REVISION = 54468

# Client packets
C_HELLO, C_QUERY, C_DATA, C_CANCEL, C_PING, C_TABLES_STATUS = 0, 1, 2, 3, 4, 5
# Server packets
S_HELLO, S_DATA, S_EXCEPTION, S_PROGRESS, S_PONG, S_END_OF_STREAM, S_PROFILE_INFO = 0, 1, 2, 3, 4, 5, 6
S_PROFILE_EVENTS = 14

_U32 = struct.Struct("<I")
_I32 = struct.Struct("<i")
_U64 = struct.Struct("<Q")


class ProtocolError(Exception):
    pass


def varint(n):
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def string(s):
    b = s.encode("utf-8") if isinstance(s, str) else s
    return varint(len(b)) + b


def u8(n):
    return bytes((n & 0xFF,))


def i32(n):
    return _I32.pack(n)


def u64(n):
    return _U64.pack(n)


def read_varint_at(data, pos):
    """(value, new position) of the varint at data[pos]; IndexError if cut."""
    b = data[pos]
    if b < 0x80:
        return b, pos + 1
    value, shift = 0, 0
    while True:
        b = data[pos]
        pos += 1
        value |= (b & 0x7F) << shift
        if b < 0x80:
            return value, pos
        shift += 7


class SocketReader:
    """Buffered reads from a socket; `buf`/`pos` are exposed so block parsing
    can work on the buffer in place and ask for more with `more()`."""

    def __init__(self, sock):
        self.sock = sock
        self.buf = bytearray()
        self.pos = 0

    def buffered(self):
        return len(self.buf) - self.pos

    def more(self, at_least=1):
        if self.pos > (1 << 20) and self.pos > len(self.buf) // 2:
            del self.buf[:self.pos]
            self.pos = 0
        want = self.pos + at_least
        while len(self.buf) < want:
            chunk = self.sock.recv(max(1 << 16, want - len(self.buf)))
            if not chunk:
                raise EOFError("client closed the connection")
            self.buf += chunk

    def grow(self):
        """Read whatever the client has sent next (at least one byte)."""
        if self.pos > (1 << 20) and self.pos > len(self.buf) // 2:
            del self.buf[:self.pos]
            self.pos = 0
        chunk = self.sock.recv(max(1 << 16, len(self.buf) - self.pos))
        if not chunk:
            raise EOFError("client closed the connection")
        self.buf += chunk

    def read(self, n):
        if len(self.buf) - self.pos < n:
            self.more(n - (len(self.buf) - self.pos))
        out = bytes(self.buf[self.pos:self.pos + n])
        self.pos += n
        return out

    def uint8(self):
        return self.read(1)[0]

    def varint(self):
        value, shift = 0, 0
        while True:
            if self.pos >= len(self.buf):
                self.more()
            b = self.buf[self.pos]
            self.pos += 1
            value |= (b & 0x7F) << shift
            if b < 0x80:
                return value
            shift += 7

    def bytes_(self):
        return self.read(self.varint())

    def string(self):
        return self.bytes_().decode("utf-8", "replace")

    def int32(self):
        return _I32.unpack(self.read(4))[0]

    def uint64(self):
        return _U64.unpack(self.read(8))[0]


# -- compression --------------------------------------------------------------

METHOD_NONE, METHOD_LZ4, METHOD_ZSTD = 0x02, 0x82, 0x90
FRAME_MAX = 1 << 20   # ClickHouse's max_compress_block_size


def _cityhash128(data):
    from clickhouse_cityhash.cityhash import CityHash128
    h = CityHash128(data)
    return _U64.pack(h >> 64 & 0xFFFFFFFFFFFFFFFF) + _U64.pack(h & 0xFFFFFFFFFFFFFFFF)


def compress(data, method):
    """data as one or more checksummed frames."""
    out = []
    view = memoryview(data)
    for start in range(0, max(len(view), 1), FRAME_MAX):
        piece = bytes(view[start:start + FRAME_MAX])
        if method == METHOD_ZSTD:
            import zstd
            payload = zstd.compress(piece, 1)
        elif method == METHOD_LZ4:
            from lz4 import block
            payload = block.compress(piece, store_size=False)
        else:
            payload = piece
        body = u8(method) + _U32.pack(9 + len(payload)) + _U32.pack(len(piece)) + payload
        out.append(_cityhash128(body) + body)
    return b"".join(out)


class FrameReader:
    """The decompressed stream of a client's compressed Data blocks, with the
    same buf/pos/more() shape as SocketReader."""

    def __init__(self, raw):
        self.raw = raw
        self.buf = bytearray()
        self.pos = 0

    def grow(self):
        """Decompress the next frame onto the buffer."""
        if self.pos:
            del self.buf[:self.pos]
            self.pos = 0
        self.buf += self._frame()

    def _frame(self):
        raw = self.raw
        checksum = raw.read(16)
        head = raw.read(9)
        method = head[0]
        size, plain = _U32.unpack_from(head, 1)[0], _U32.unpack_from(head, 5)[0]
        if size < 9 or size > (1 << 30) or plain > (1 << 30):
            raise ProtocolError(f"Too large size ({size}) passed to compressed frame. (TOO_LARGE_SIZE_COMPRESSED)")
        payload = raw.read(size - 9)
        if _cityhash128(head + payload) != checksum:
            raise ProtocolError("Checksum doesn't match: corrupted data. (CHECKSUM_DOESNT_MATCH)")
        if method == METHOD_LZ4:
            from lz4 import block
            return block.decompress(payload, uncompressed_size=plain)
        if method == METHOD_ZSTD:
            import zstd
            return zstd.decompress(payload)
        if method == METHOD_NONE:
            return payload
        raise ProtocolError(f"Unknown compression method {method:#x}. (UNKNOWN_COMPRESSION_METHOD)")
