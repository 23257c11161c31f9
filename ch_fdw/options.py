"""Option names and values accepted on each catalog object.

Names follow postgres_fdw where the concept is the same (host, port, dbname,
user, password, table_name, column_name).  Validation runs at CREATE/ALTER
time through the FDW validator, so a typo fails there, not at query time.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from .errors import (ChFdwError, FDW_INVALID_ATTRIBUTE_VALUE,
                     FDW_INVALID_OPTION_NAME)

_TRUE = {"true", "on", "yes", "1"}
_FALSE = {"false", "off", "no", "0"}


def parse_bool(name: str, value: str) -> bool:
    v = value.strip().lower()
    if v in _TRUE:
        return True
    if v in _FALSE:
        return False
    raise ChFdwError(f'invalid value for boolean option "{name}": "{value}"',
                     FDW_INVALID_ATTRIBUTE_VALUE,
                     hint="Use true or false.")


def _int_checker(low: int, high: int) -> Callable[[str, str], int]:
    def check(name: str, value: str) -> int:
        try:
            n = int(value.strip())
        except ValueError:
            n = None
        if n is None or not low <= n <= high:
            raise ChFdwError(f'invalid value for option "{name}": "{value}"',
                             FDW_INVALID_ATTRIBUTE_VALUE,
                             hint=f"Use an integer between {low} and {high}.")
        return n
    return check


def _float_checker(low: float, high: float) -> Callable[[str, str], float]:
    def check(name: str, value: str) -> float:
        try:
            n = float(value.strip())
        except ValueError:
            n = None
        if n is None or not low <= n <= high:
            raise ChFdwError(f'invalid value for option "{name}": "{value}"',
                             FDW_INVALID_ATTRIBUTE_VALUE,
                             hint=f"Use a number of seconds between {low} and {high}.")
        return n
    return check


def _choice(*choices: str) -> Callable[[str, str], str]:
    def check(name: str, value: str) -> str:
        v = value.strip().lower()
        if v not in choices:
            raise ChFdwError(f'invalid value for option "{name}": "{value}"',
                             FDW_INVALID_ATTRIBUTE_VALUE,
                             hint="Valid values: " + ", ".join(choices) + ".")
        return v
    return check


def _nonempty(name: str, value: str) -> str:
    if not value.strip():
        raise ChFdwError(f'option "{name}" must not be empty',
                         FDW_INVALID_ATTRIBUTE_VALUE)
    return value


def _any(name: str, value: str) -> str:
    return value


def _settings(name: str, value: str) -> dict[str, str]:
    return parse_settings(value, name)


def parse_settings(value: str, name: str = "settings") -> dict[str, str]:
    """'max_threads=4, join_use_nulls=1' -> {'max_threads': '4', ...}"""
    out: dict[str, str] = {}
    for part in value.split(","):
        part = part.strip()
        if not part:
            continue
        key, sep, val = part.partition("=")
        key = key.strip()
        if not sep or not key.replace("_", "").isalnum():
            raise ChFdwError(f'invalid value for option "{name}": "{value}"',
                             FDW_INVALID_ATTRIBUTE_VALUE,
                             hint="Use a comma-separated list of ClickHouse setting=value pairs.")
        out[key] = val.strip()
    return out


@dataclass(frozen=True)
class OptionSpec:
    check: Callable[[str, str], object]
    help: str


SERVER_OPTIONS: dict[str, OptionSpec] = {
    "host": OptionSpec(_nonempty, "ClickHouse host name or address (default 127.0.0.1)"),
    "port": OptionSpec(_int_checker(1, 65535), "port (default 9000 native, 8123 http; 9440/8443 with secure)"),
    "dbname": OptionSpec(_nonempty, "default ClickHouse database (default 'default')"),
    "protocol": OptionSpec(_choice("native", "http"), "native (TCP, clickhouse-driver) or http (clickhouse-connect)"),
    "secure": OptionSpec(parse_bool, "use TLS"),
    "verify": OptionSpec(parse_bool, "verify the server certificate (default true)"),
    "ca_cert": OptionSpec(_nonempty, "CA bundle file for TLS verification"),
    "client_cert": OptionSpec(_nonempty, "client certificate file for TLS"),
    "client_key": OptionSpec(_nonempty, "client private key file for TLS"),
    "server_hostname": OptionSpec(_nonempty, "host name to verify the certificate against (SNI)"),
    "connect_timeout": OptionSpec(_float_checker(0.1, 3600), "seconds to wait for a connection (default 10)"),
    "receive_timeout": OptionSpec(_float_checker(0, 86400),
                                  "seconds any one wait for ClickHouse may take once connected (default 300, 0 = no limit)"),
    "fetch_size": OptionSpec(_int_checker(1, 10_000_000), "rows per batch streamed to PostgreSQL (default 65536)"),
    "settings": OptionSpec(_settings, "ClickHouse settings sent with every query"),
    "batch_size": OptionSpec(_int_checker(1, 1_000_000), "rows per INSERT sent to ClickHouse (default 65536)"),
    "insert_settings": OptionSpec(_settings, "ClickHouse settings sent with every INSERT (e.g. insert_deduplication_token)"),
    "async_insert": OptionSpec(parse_bool, "send INSERTs with ClickHouse's async_insert (server >= 21.11; default false)"),
    "wait_for_async_insert": OptionSpec(parse_bool,
                                        "with async_insert: wait until ClickHouse has stored the rows (default true)"),
}

USER_MAPPING_OPTIONS: dict[str, OptionSpec] = {
    "user": OptionSpec(_any, "ClickHouse user (default 'default')"),
    "password": OptionSpec(_any, "ClickHouse password"),
}

TABLE_OPTIONS: dict[str, OptionSpec] = {
    "dbname": OptionSpec(_nonempty, "ClickHouse database of the table (default: the server's)"),
    "table_name": OptionSpec(_nonempty, "ClickHouse table name (default: the foreign table's name)"),
    "fetch_size": SERVER_OPTIONS["fetch_size"],
    "batch_size": SERVER_OPTIONS["batch_size"],
    "insert_settings": SERVER_OPTIONS["insert_settings"],
    "async_insert": SERVER_OPTIONS["async_insert"],
    "wait_for_async_insert": SERVER_OPTIONS["wait_for_async_insert"],
}

COLUMN_OPTIONS: dict[str, OptionSpec] = {
    "column_name": OptionSpec(_nonempty, "ClickHouse column name (default: the column's name)"),
}

_BY_CATALOG = {
    "wrapper": {},
    "server": SERVER_OPTIONS,
    "user_mapping": USER_MAPPING_OPTIONS,
    "foreign_table": TABLE_OPTIONS,
    "column": COLUMN_OPTIONS,
}

_OBJECT_NAMES = {
    "wrapper": "foreign-data wrapper",
    "server": "server",
    "user_mapping": "user mapping",
    "foreign_table": "foreign table",
    "column": "column",
}


def validate(catalog: str, options: dict[str, str]) -> None:
    """Raise ChFdwError for an unknown option or a malformed value."""
    allowed = _BY_CATALOG.get(catalog, {})
    for name, value in options.items():
        spec = allowed.get(name)
        if spec is None:
            hint = None
            if name == "password" and catalog == "server":
                hint = "The password belongs in the user mapping: CREATE USER MAPPING ... OPTIONS (user '...', password '...')."
            elif allowed:
                hint = "Valid options in this context are: " + ", ".join(sorted(allowed)) + "."
            else:
                hint = f"The {_OBJECT_NAMES.get(catalog, catalog)} takes no options."
            raise ChFdwError(f'invalid option "{name}"', FDW_INVALID_OPTION_NAME, hint=hint)
        spec.check(name, value)


@dataclass(frozen=True)
class ServerConfig:
    """Everything needed to open a connection, with defaults applied."""
    host: str
    port: int
    dbname: str
    protocol: str
    secure: bool
    verify: bool
    ca_cert: str | None
    client_cert: str | None
    client_key: str | None
    server_hostname: str | None
    connect_timeout: float
    receive_timeout: float
    fetch_size: int
    settings: tuple[tuple[str, str], ...]
    user: str
    password: str

    @classmethod
    def from_options(cls, server: dict[str, str], user: dict[str, str]) -> "ServerConfig":
        validate("server", server)
        validate("user_mapping", user)
        protocol = server.get("protocol", "native").strip().lower()
        secure = parse_bool("secure", server["secure"]) if "secure" in server else False
        default_port = {("native", False): 9000, ("native", True): 9440,
                        ("http", False): 8123, ("http", True): 8443}[(protocol, secure)]
        return cls(
            host=server.get("host", "127.0.0.1"),
            port=int(server.get("port", default_port)),
            dbname=server.get("dbname", "default"),
            protocol=protocol,
            secure=secure,
            verify=parse_bool("verify", server["verify"]) if "verify" in server else True,
            ca_cert=server.get("ca_cert"),
            client_cert=server.get("client_cert"),
            client_key=server.get("client_key"),
            server_hostname=server.get("server_hostname"),
            connect_timeout=float(server.get("connect_timeout", 10)),
            receive_timeout=float(server.get("receive_timeout", 300)),
            fetch_size=int(server.get("fetch_size", 65536)),
            settings=tuple(sorted(parse_settings(server.get("settings", "")).items())),
            user=user.get("user", "default"),
            password=user.get("password", ""),
        )
