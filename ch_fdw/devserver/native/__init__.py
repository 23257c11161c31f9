"""ClickHouse's native TCP protocol on top of the devserver's chDB engine
(what clickhouse-driver and other native clients speak)."""

from .server import NativeServer

__all__ = ["NativeServer"]
