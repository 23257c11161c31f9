"""multipart/form-data request bodies, as ClickHouse's HTTP interface takes
them: plain fields (`query`, `param_<name>`, settings) and file parts that
are external data tables (their structure in `<name>_structure` or
`<name>_types`, their format in `<name>_format`)."""

from dataclasses import dataclass
from email.parser import BytesParser
from email.policy import HTTP

from .engine import ChError

_MAX_BODY = 1 << 30


@dataclass
class ExternalTable:
    name: str
    data: bytes
    structure: str
    fmt: str


def parse_form(content_type, body):
    """(fields {name: str}, [(name, filename, bytes)] for file parts)."""
    if len(body) > _MAX_BODY:
        raise ChError(1, "multipart body too large for ch-fdw-devserver. (UNSUPPORTED_METHOD)")
    msg = BytesParser(policy=HTTP).parsebytes(
        b"Content-Type: " + content_type.encode("latin-1") + b"\r\nMIME-Version: 1.0\r\n\r\n" + body)
    if not msg.is_multipart():
        raise ChError(33, "Cannot parse multipart/form-data body (no boundary?). (CANNOT_READ_ALL_DATA)")
    fields, files = {}, []
    for part in msg.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if name is None:
            continue
        data = part.get_payload(decode=True) or b""
        filename = part.get_param("filename", header="content-disposition")
        if filename is not None:
            files.append((name, filename, data))
        else:
            fields[name] = data.decode(part.get_content_charset() or "utf-8")
    return fields, files


def external_tables(files, params):
    """The file parts as external tables, described by the request's params."""
    out = []
    for name, _filename, data in files:
        structure = params.get(f"{name}_structure")
        if structure is None and f"{name}_types" in params:
            types = [t.strip() for t in params[f"{name}_types"].split(",")]
            structure = ", ".join(f"_{i + 1} {t}" for i, t in enumerate(types))
        if not structure:
            raise ChError(36, f"Neither structure nor types have not been provided for external table {name}. "
                              f"Use fields {name}_structure or {name}_types to do so. (BAD_ARGUMENTS)")
        out.append(ExternalTable(name, data, structure, params.get(f"{name}_format") or "TabSeparated"))
    return out


def external_table_params(tables):
    """The URL/form params that describe external tables (not settings)."""
    names = set()
    for t in tables:
        names |= {f"{t.name}_structure", f"{t.name}_types", f"{t.name}_format"}
    return names
