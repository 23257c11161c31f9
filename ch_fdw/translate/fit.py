"""[fit] A constant compared with a column, in the column's own type.

ClickHouse prunes granules with its primary and partition keys only when a
filter compares the column as stored with a constant it can convert to the
column's type: `id < toDecimal128('1000', 0)` on a UInt64 key reads every
granule on modern servers and is an error on 18.16 ("Key expression contains
comparison between inconvertible types").  So both translators send
`column op constant` through fit_compare(), which rewrites it to an
equivalent comparison with a literal of the column's type, or to its
constant outcome when the constant is not one of the column's values.

The column's values are a discrete set: k * unit for integers k in
[lo, hi] (integers: unit 1; Decimal(P, S): unit 10^-S, |k| < 10^P).  For
a constant c (exact, as a Fraction), with q = c / unit:
  =   q an integer in [lo, hi] -> `col = q`;  otherwise FALSE
  <>  q an integer in [lo, hi] -> `col <> q`; otherwise every non-NULL row
  >=, >, <=, <  become an inclusive bound on k (ceil/floor of q), then
      beyond the range -> FALSE, covering the whole range -> every non-NULL
      row, else the bound (written with the original operator when q is
      exact, so `id < 1000` stays `id < 1000`).
Examples on UInt64: id = -1 / id = 1.5 -> FALSE, id < -1 -> FALSE,
id > 2^64 -> FALSE, id <> -1 -> non-NULL rows, id >= 0.5 -> id >= 1.

The outcomes are returned abstractly (Fitted) so each translator writes
them in its own NULL discipline.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction

from .kinds import ch_type

#: Fitted.outcome values
FALSE = "false"          # no row satisfies the comparison
NOT_NULL = "not null"    # exactly the rows where the column is not NULL

_INT_RANGES = {
    "Int8": (-(1 << 7), (1 << 7) - 1), "UInt8": (0, (1 << 8) - 1),
    "Int16": (-(1 << 15), (1 << 15) - 1), "UInt16": (0, (1 << 16) - 1),
    "Int32": (-(1 << 31), (1 << 31) - 1), "UInt32": (0, (1 << 32) - 1),
    "Int64": (-(1 << 63), (1 << 63) - 1), "UInt64": (0, (1 << 64) - 1),
    "Int128": (-(1 << 127), (1 << 127) - 1), "UInt128": (0, (1 << 128) - 1),
    "Int256": (-(1 << 255), (1 << 255) - 1), "UInt256": (0, (1 << 256) - 1),
}
_DECIMAL_WIDTH = {"Decimal32": 9, "Decimal64": 18, "Decimal128": 38, "Decimal256": 76}


@dataclass(frozen=True)
class Domain:
    """The values of a ClickHouse numeric column: k * 10^-scale, lo <= k <= hi."""
    lo: int
    hi: int
    scale: int = 0
    precision: int = 0       # Decimal: P (chooses the literal's width); 0 for integers
    base: str = ""           # integers: the ClickHouse type

    def literal(self, k: int) -> str:
        if self.precision == 0:
            if not -(1 << 63) <= k < (1 << 64):
                # beyond 64 bits ClickHouse may read a bare literal as Float64
                return f"to{self.base}('{k}')"
            return str(k) if k >= 0 else f"({k})"
        text = _decimal_text(k, self.scale)
        width = next(w for w in (32, 64, 128, 256) if self.precision <= _DECIMAL_WIDTH[f"Decimal{w}"])
        return f"toDecimal{width}('{text}', {self.scale})"


def _decimal_text(k: int, scale: int) -> str:
    sign = "-" if k < 0 else ""
    digits = str(abs(k)).rjust(scale + 1, "0")
    if scale == 0:
        return sign + digits
    return f"{sign}{digits[:-scale]}.{digits[-scale:]}"


def numeric_domain(ch_type_text: str | None) -> Domain | None:
    """The Domain of an integer or Decimal ClickHouse type (Nullable and
    LowCardinality unwrapped), None for any other type."""
    ch = ch_type(ch_type_text)
    if ch is None:
        return None
    if ch.base in _INT_RANGES:
        lo, hi = _INT_RANGES[ch.base]
        return Domain(lo, hi, base=ch.base)
    if ch.base != "Decimal":
        return None
    inner = re.search(r"Decimal(32|64|128|256)?\s*\(([^()]*)\)", ch_type_text)
    if inner is None:
        return None
    try:
        args = [int(a) for a in inner.group(2).split(",")]
        if inner.group(1):                      # Decimal64(S)
            p, s = _DECIMAL_WIDTH["Decimal" + inner.group(1)], args[0]
        else:                                    # Decimal(P, S)
            p, s = args[0], args[1] if len(args) > 1 else 0
    except (ValueError, IndexError):
        return None
    if not 0 <= s <= p <= 76:
        return None
    bound = 10 ** p - 1
    return Domain(-bound, bound, s, p)


@dataclass(frozen=True)
class Fitted:
    """`column op literal`, or (op None) a constant outcome: FALSE or NOT_NULL."""
    op: str | None
    literal: str | None = None
    outcome: str | None = None
    items: tuple[str, ...] = ()   # IN / NOT IN: the literals

    def comparison(self, ref: str) -> str:
        """`ref op literal` in ClickHouse SQL (op not None)."""
        return f"({ref} {'!=' if self.op == '<>' else self.op} {self.literal})"


def exact_value(const) -> Fraction | None:
    """A numeric constant as an exact Fraction (None: not a finite number)."""
    if isinstance(const, bool) or const is None:
        return None
    if isinstance(const, int):
        return Fraction(const)
    if isinstance(const, Decimal) and const.is_finite():
        return Fraction(const)
    return None


def fit_compare(domain: Domain, op: str, value: Fraction) -> Fitted:
    """`column op value` for a column of the given domain (see module doc)."""
    q = value * 10 ** domain.scale
    exact = q.denominator == 1
    if op in ("=", "<>"):
        if exact and domain.lo <= q <= domain.hi:
            return Fitted(op, domain.literal(int(q)))
        return Fitted(None, outcome=FALSE if op == "=" else NOT_NULL)
    if op in (">", ">="):
        k = math.floor(q) + 1 if op == ">" and exact else math.ceil(q)
        if k > domain.hi:
            return Fitted(None, outcome=FALSE)
        if k <= domain.lo:
            return Fitted(None, outcome=NOT_NULL)
        if exact:
            return Fitted(op, domain.literal(int(q)))
        return Fitted(">=", domain.literal(k))
    if op in ("<", "<="):
        k = math.ceil(q) - 1 if op == "<" and exact else math.floor(q)
        if k < domain.lo:
            return Fitted(None, outcome=FALSE)
        if k >= domain.hi:
            return Fitted(None, outcome=NOT_NULL)
        if exact:
            return Fitted(op, domain.literal(int(q)))
        return Fitted("<=", domain.literal(k))
    raise ValueError(f"operator {op!r}")


def fit_in_list(domain: Domain, values: list[Fraction], negated: bool
                ) -> tuple[list[str], str | None]:
    """`column [NOT] IN (values)` as the literals of the column's type that
    matter, plus an outcome when none does: values that are not column values
    never equal the column (IN drops them; NOT IN is then TRUE for them)."""
    lits = []
    for v in values:
        f = fit_compare(domain, "=", v)
        if f.op is not None and f.literal not in lits:
            lits.append(f.literal)
    if lits:
        return lits, None
    return [], NOT_NULL if negated else FALSE


# ------------------------------------------------------------------ FixedString, Enum

@dataclass(frozen=True)
class TextDomain:
    """A ClickHouse FixedString(n) or Enum8/16 column read as PostgreSQL text.

    FixedString(n): PostgreSQL sees the value without its trailing NUL
    padding.  ClickHouse compares a FixedString with a string constant of at
    most n bytes by padding the constant, and padded values order like the
    unpadded ones (bytewise, a prefix first), so such constants are compared
    as stored; a longer constant never equals a value.
    Enum: PostgreSQL compares labels as text, ClickHouse orders an Enum by
    its number, so every comparison becomes the set of labels that satisfy
    it (`e IN ('a', 'b')`), computed here: exact, and key-usable."""
    n: int = 0                           # FixedString(n)
    labels: tuple[str, ...] | None = None  # Enum

    def literal(self, value: str, quote) -> str:
        """A constant as the column's type (18.16 does not pad a String
        compared with a FixedString: 'a' would not equal the stored 'a\\0')."""
        if self.labels is not None:
            return quote(value)
        return f"toFixedString({quote(value)}, {self.n})"

    def value_sql(self, ref: str) -> str:
        """The column as PostgreSQL reads it (for any use but comparisons)."""
        if self.labels is not None:
            return f"toString({ref})"
        # only the trailing padding: an inner NUL still reaches PostgreSQL
        # (which rejects it, as when the column is read)
        return f"replaceRegexpOne(toString({ref}), '\\\\x00+$', '')"


_ENUM_LABEL = re.compile(r"\s*'((?:[^'\\]|\\.|'')*)'\s*=\s*-?\d+\s*")


def text_domain(ch_type_text: str | None) -> TextDomain | None:
    ch = ch_type(ch_type_text)
    if ch is None:
        return None
    if ch.base == "FixedString" and len(ch.args) == 1 and ch.args[0].strip().isdigit():
        return TextDomain(n=int(ch.args[0]))
    if ch.base in ("Enum8", "Enum16"):
        # the labels from the type text itself (a label may hold escaped quotes)
        t = ch_type_text.strip()
        while (w := re.fullmatch(r"(?:Nullable|LowCardinality)\((.*)\)", t, re.S)) is not None:
            t = w.group(1).strip()
        m = re.fullmatch(r"Enum(?:8|16)\((.*)\)", t, re.S)
        if m is None:
            return None
        body, pos, labels = m.group(1), 0, []
        while pos < len(body):
            lm = _ENUM_LABEL.match(body, pos)
            if lm is None:
                return None
            label = _unescape(lm.group(1))
            if label is None:
                return None
            labels.append(label)
            pos = lm.end()
            if pos < len(body):
                if body[pos] != ",":
                    return None
                pos += 1
        return TextDomain(labels=tuple(labels)) if labels else None
    return None


_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "b": "\b", "f": "\f", "0": "\0", "a": "\a",
            "v": "\v", "\\": "\\", "'": "'", '"': '"', "`": "`"}


def _unescape(body: str) -> str | None:
    """A label as ClickHouse quotes it in a type name; None for an escape
    not known here (the column is then not compared by label)."""
    out, i = [], 0
    while i < len(body):
        ch = body[i]
        if ch == "'" and body[i + 1:i + 2] == "'":
            out.append("'")
            i += 2
        elif ch == "\\":
            nxt = body[i + 1:i + 2]
            if nxt == "x" and re.fullmatch(r"[0-9A-Fa-f]{2}", body[i + 2:i + 4]):
                code = int(body[i + 2:i + 4], 16)
                if code > 0x7F:
                    return None        # a byte of a multibyte character
                out.append(chr(code))
                i += 4
            elif nxt in _ESCAPES:
                out.append(_ESCAPES[nxt])
                i += 2
            else:
                return None
        else:
            out.append(ch)
            i += 1
    return "".join(out)


_TEXT_OPS = {"=": lambda a, b: a == b, "<>": lambda a, b: a != b, "<": lambda a, b: a < b,
             "<=": lambda a, b: a <= b, ">": lambda a, b: a > b, ">=": lambda a, b: a >= b}


def _label_set(labels: list[str], quote) -> Fitted:
    if not labels:
        return Fitted(None, outcome=FALSE)
    if len(labels) == 1:
        return Fitted("=", quote(labels[0]))
    items = tuple(quote(x) for x in labels)
    return Fitted("IN", "(" + ", ".join(items) + ")", items=items)


def fit_text_compare(domain: TextDomain, op: str, value: str, quote) -> Fitted | None:
    """`column op value` (C collation for orderings: the caller checks), or
    None when it cannot be written exactly."""
    if domain.labels is not None:
        hits = [x for x in domain.labels if _TEXT_OPS[op](x, value)]
        if len(hits) == len(domain.labels):
            return Fitted(None, outcome=NOT_NULL)
        return _label_set(hits, quote)
    if len(value.encode()) <= domain.n and "\0" not in value:
        return Fitted(op, domain.literal(value, quote))
    if op in ("=", "<>"):
        return Fitted(None, outcome=FALSE if op == "=" else NOT_NULL)
    return None


def fit_text_in(domain: TextDomain, values: list[str], negated: bool, quote) -> Fitted:
    """`column [NOT] IN (values)` (NOT IN only for Enum: the other labels)."""
    if domain.labels is not None:
        inside = [x for x in domain.labels if (x in values) != negated]
        if len(inside) == len(domain.labels):
            return Fitted(None, outcome=NOT_NULL)
        return _label_set(inside, quote)
    fits = []
    for v in values:
        lit = domain.literal(v, quote)
        if len(v.encode()) <= domain.n and "\0" not in v and lit not in fits:
            fits.append(lit)
    if not fits:
        return Fitted(None, outcome=NOT_NULL if negated else FALSE)
    if len(fits) == 1:
        return Fitted("<>" if negated else "=", fits[0])
    return Fitted("NOT IN" if negated else "IN", "(" + ", ".join(fits) + ")", items=tuple(fits))


def like_regex(pattern: str) -> re.Pattern | None:
    """PostgreSQL LIKE (backslash escape) as a Python regex; None for a
    pattern PostgreSQL rejects (a trailing escape)."""
    out, i = [], 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "\\":
            if i + 1 >= len(pattern):
                return None
            out.append(re.escape(pattern[i + 1]))
            i += 2
            continue
        out.append(".*" if ch == "%" else "." if ch == "_" else re.escape(ch))
        i += 1
    return re.compile("".join(out), re.S)


def fit_enum_like(domain: TextDomain, pattern: str, negate: bool, quote) -> Fitted | None:
    """`e [NOT] LIKE pattern` on an Enum: the labels that match."""
    rx = like_regex(pattern)
    if rx is None or domain.labels is None:
        return None
    hits = [x for x in domain.labels if (rx.fullmatch(x) is not None) != negate]
    if len(hits) == len(domain.labels):
        return Fitted(None, outcome=NOT_NULL)
    return _label_set(hits, quote)
