"""Quoting of ClickHouse identifiers and string literals.

Everything the translator emits that comes from outside (table and column
names, string values) goes through these two functions, so no name or value
can change the structure of the generated SQL.  Both escape backslash, the
quote character, and every control character (including NUL, which the
translator uses internally as a parameter marker and must therefore never
appear raw in generated SQL).
"""

from __future__ import annotations

_ESCAPES = {
    "\\": "\\\\",
    "\0": "\\0",
    "\b": "\\b",
    "\f": "\\f",
    "\r": "\\r",
    "\n": "\\n",
    "\t": "\\t",
}


def _escape(text: str, quote: str) -> str:
    if not isinstance(text, str):
        raise TypeError(f"expected str, got {type(text).__name__}")
    out = []
    for ch in text:
        if ch == quote:
            out.append("\\" + ch)
        elif ch in _ESCAPES:
            out.append(_ESCAPES[ch])
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append("\\x%02X" % ord(ch))
        elif 0xD800 <= ord(ch) <= 0xDFFF:
            # A lone surrogate cannot be encoded as UTF-8 at all.
            raise ValueError("string contains a lone UTF-16 surrogate")
        else:
            out.append(ch)
    return quote + "".join(out) + quote


def quote_identifier(name: str) -> str:
    """A ClickHouse identifier, always backtick-quoted and escaped."""
    if name == "":
        raise ValueError("empty identifier")
    return _escape(name, "`")


def quote_string(value: str) -> str:
    """A ClickHouse string literal ('...' with backslash escapes)."""
    return _escape(value, "'")
