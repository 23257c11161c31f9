"""Values of the per-table scan translator (scan.py): column references,
parameters, constants, casts and arithmetic, each translated value-exactly
(the same value PostgreSQL computes) or refused.  A value knows its kind,
whether it may be NULL or NaN, and for timestamp columns their fixed zone;
a timestamp constant stays zone-less until compared with a column, whose
zone renders it.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from sqlglot import exp

from . import literals as L
from .fit import text_domain
from .kinds import ch_type, compatible, fixed_offset_tz, pg_type
from .literals import Unsupported
from .pgparse import pg_type_name
from .quoting import quote_identifier
from .remote import SLOT_MARK, Slot
from .zones import pg_zone
from .shared import checked_int, checked_int_range, const_int_bits, param_id, strip_parens

_NOCONST = object()
# zone names ClickHouse's tz database knows as PostgreSQL does (not POSIX specs)
_ZONE_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_+-]*(/[A-Za-z0-9_+-]+)*")


def _fixed_zone_name(zone) -> str | None:
    """A ClickHouse name for a zone of constant UTC offset (whole hours), else None."""
    if zone.name is not None:
        return zone.name if fixed_offset_tz(zone.name) else None
    hours, rest = divmod(-zone.offset, 3600)
    if rest:
        return None
    return "UTC" if hours == 0 else f"Etc/GMT{hours:+d}"   # Etc/GMT+5 is UTC-5


@dataclass
class _Val:
    sql: str | None          # None only for timestamp constants (zone-dependent)
    kind: str                # int float4 float8 numeric text bool date timestamp timestamptz
    const: object = _NOCONST  # Python value for constants (None = SQL NULL)
    nullable: bool = True
    maybe_nan: bool = False
    column: bool = False     # a bare column reference
    tz: str | None = None    # timestamp columns: their (fixed) zone
    param: bool = False
    bits: int = 64           # int: PostgreSQL's width (int2/int4/int8)
    ch: str | None = None    # a bare column: its ClickHouse type (see fit.py)
    stored: str | None = None  # FixedString/Enum column: its reference (sql reads it as text)
    bounded: int | None = None  # a date/timestamptz parameter's id (scan_bounds.py)
    date_floor: bool = False  # toDate() in a zone west of UTC: 1969-12-31 reads as 1970-01-01

    @property
    def is_const(self) -> bool:
        return self.const is not _NOCONST

    @property
    def is_null(self) -> bool:
        return self.const is None


_NUMERIC_KINDS = ("int", "numeric")
_FLOAT_KINDS = ("float4", "float8")
_PARAM_KINDS = ("int", "float4", "float8", "text", "bool")
_BOUNDED_KINDS = ("date", "timestamptz")   # pushed only compared with a column


def _is_float(v: _Val) -> bool:
    return v.kind in _FLOAT_KINDS


def _unrendered(text):
    raise Unsupported("a date/timestamptz parameter outside a column comparison")


class ScanValues:
    """value() and its helpers, mixed into scan._Translator."""

    def value(self, node) -> _Val:
        node = strip_parens(node)
        if isinstance(node, exp.Column):
            return self.column(node)
        if isinstance(node, exp.Parameter):
            return self.parameter(node)
        if isinstance(node, exp.Literal):
            if node.is_string:
                raise Unsupported("untyped string literal")
            t = str(node.this)
            if t.isdigit():
                v = int(t)
                kind = "int"
                if v >= (1 << 63):
                    raise Unsupported("integer literal too large")
                return _Val(L.int_sql(v), kind, const=v, nullable=False, bits=const_int_bits(v))
            d = L.numeric_value(t)
            return _Val(L.numeric_sql(d), "numeric", const=d, nullable=False)
        if isinstance(node, exp.Null):
            raise Unsupported("untyped NULL")
        if isinstance(node, exp.Boolean):
            return _Val(L.bool_sql(bool(node.this)), "bool", const=bool(node.this), nullable=False)
        if isinstance(node, exp.Cast):
            return self.cast(node)
        if isinstance(node, exp.AtTimeZone):
            return self.at_time_zone(node)
        if isinstance(node, exp.Neg):
            return self.negate(self.value(node.this))
        if isinstance(node, (exp.Add, exp.Sub, exp.Mul, exp.Div, exp.Mod)):
            return self.arith(node)
        if isinstance(node, exp.DPipe):
            a, b = self.value(node.this), self.value(node.expression)
            if a.kind != "text" or b.kind != "text" or a.is_const and a.param is False and False:
                raise Unsupported("|| on non-text")
            if a.is_null or b.is_null:
                return _Val("NULL", "text", const=None)
            return _Val(f"concat({a.sql}, {b.sql})", "text",
                        nullable=a.nullable or b.nullable)
        if isinstance(node, exp.Coalesce):
            args = [self.value(node.this)] + [self.value(e) for e in node.expressions]
            k = args[0].kind
            if any(x.kind != k for x in args) or k in ("timestamp",) or _is_float(args[0]):
                raise Unsupported("COALESCE over mixed or unsupported types")
            if any(x.kind == "int" for x in args) and any(
                    x.kind != "int" for x in args):
                raise Unsupported("COALESCE mixed")
            live = [x for x in args if not x.is_null]
            if not live:
                return _Val("NULL", k, const=None)
            return _Val(f"coalesce({', '.join(x.sql for x in live)})", k,
                        nullable=all(x.nullable for x in live))
        raise Unsupported(f"unsupported expression {type(node).__name__}")

    def column(self, node: exp.Column) -> _Val:
        if node.table or node.args.get("db"):
            raise Unsupported("qualified column")
        name = node.name
        info = self.columns.get(name)
        if info is None:
            raise Unsupported(f"unknown column {name!r}")
        pg = pg_type(info.pg_type)
        ch = ch_type(info.ch_type)
        tdom = text_domain(info.ch_type) if pg is not None and pg.kind == "text" else None
        if tdom is not None:
            # FixedString/Enum read as text: compared as stored (fit.py)
            ref = quote_identifier(info.remote_name)
            return _Val(tdom.value_sql(ref), "text", nullable=ch.nullable, column=True,
                        ch=info.ch_type, stored=ref)
        if pg is None or not compatible(pg, ch):
            raise Unsupported(f"column {name!r}: types {info.pg_type}/{info.ch_type} not pushable")
        if ch is not None and ch.low_cardinality and pg.kind != "text":
            raise Unsupported("LowCardinality non-string")
        tz = ch.timezone if ch is not None else None
        return _Val(quote_identifier(info.remote_name), pg.kind,
                    nullable=(ch is None or ch.nullable),
                    maybe_nan=pg.kind in _FLOAT_KINDS, column=True, tz=tz, bits=pg.bits or 64,
                    ch=info.ch_type)

    def parameter(self, node: exp.Parameter) -> _Val:
        pid = param_id(node)
        tname = self.param_types.get(pid)
        pg = pg_type(tname) if tname else None
        if pg is not None and pg.kind in _BOUNDED_KINDS:
            # a placeholder: scan.compare() replaces it by a whole comparison;
            # a condition still holding it is refused (translate_condition)
            self.slots.append(Slot(pid, _unrendered))
            self.bounded_slots.append(len(self.slots) - 1)
            return _Val(f"{SLOT_MARK}{len(self.slots) - 1}{SLOT_MARK}", pg.kind, param=True,
                        bounded=pid)
        if pg is None or pg.kind not in _PARAM_KINDS:
            # date/time/numeric values may be outside ClickHouse's range,
            # which is only known at execution: do not push those.
            raise Unsupported(f"parameter ${pid} of type {tname!r} not pushable")
        kind = pg.kind

        def render(text: str | None, kind=kind) -> str:
            if text is None:
                return "NULL"
            if kind == "int":
                return L.int_sql(L.int_value(text))
            if kind == "float8":
                return L.float_sql(L.float8_value(text))
            if kind == "float4":
                return L.float4_sql(L.float4_value(text))
            if kind == "bool":
                return L.bool_sql(L.bool_value(text))
            return L.text_sql(text)

        if kind in _FLOAT_KINDS:
            def render(text, _inner=render):   # noqa: F811  (subnormals etc.)
                try:
                    return _inner(text)
                except Unsupported:
                    if text is not None and kind == "float8":
                        return f"toFloat64({L.text_sql(repr(L.float8_value(text)))})"
                    raise
        self.slots.append(Slot(pid, render))
        marker = f"{SLOT_MARK}{len(self.slots) - 1}{SLOT_MARK}"
        return _Val(marker, kind, nullable=True, maybe_nan=kind in _FLOAT_KINDS, param=True,
                    bits=pg.bits or 64)

    def const_of(self, text: str, type_name: str) -> _Val:
        pg = pg_type(type_name)
        if pg is None:
            raise Unsupported(f"constant of type {type_name}")
        k = pg.kind
        if k == "int":
            v = L.int_value(text)
            lo, hi = -(1 << (pg.bits - 1)), (1 << (pg.bits - 1)) - 1
            if not lo <= v <= hi:
                raise Unsupported(f"integer constant {v} out of range for its type (PG raises)")
            return _Val(L.int_sql(v), k, const=v, nullable=False, bits=pg.bits)
        if k == "float8":
            v = L.float8_value(text)
            return _Val(L.float_sql(v), k, const=v, nullable=False, maybe_nan=math.isnan(v))
        if k == "float4":
            v = L.float4_value(text)
            return _Val(L.float4_sql(v), k, const=v, nullable=False, maybe_nan=math.isnan(v))
        if k == "numeric":
            if pg.has_typmod:
                raise Unsupported("numeric constant with typmod")
            v = L.numeric_value(text)
            return _Val(L.numeric_sql(v), k, const=v, nullable=False)
        if k == "text":
            if pg.has_typmod:
                raise Unsupported("varchar(n) constant")
            return _Val(L.text_sql(text), k, const=text, nullable=False)
        if k == "bool":
            v = L.bool_value(text)
            return _Val(L.bool_sql(v), k, const=v, nullable=False)
        if k == "date":
            v = L.date_value(text)
            return _Val(L.date_sql(v), k, const=v, nullable=False)
        if k == "timestamptz":
            v = L.timestamptz_value(text)
            return _Val(L.datetime_sql(v, "UTC", self.dialect.version), k, const=v, nullable=False)
        if k == "timestamp":
            v = L.timestamp_value(text)
            return _Val(None, k, const=v, nullable=False)
        raise Unsupported(f"constant of kind {k}")

    def cast(self, node: exp.Cast) -> _Val:
        tname = pg_type_name(node.to)
        if tname is None:
            raise Unsupported("cast to unsupported type")
        inner = strip_parens(node.this)
        if isinstance(inner, exp.Literal) and inner.is_string:
            return self.const_of(inner.this, tname)
        if isinstance(inner, exp.Null):
            pg = pg_type(tname)
            if pg is None:
                raise Unsupported("NULL of unsupported type")
            return _Val("NULL", pg.kind, const=None)
        if isinstance(inner, exp.Literal) or (isinstance(inner, exp.Neg)
                                              and isinstance(strip_parens(inner.this), exp.Literal)
                                              and not strip_parens(inner.this).is_string):
            # (1.5)::double precision, (1)::bigint: convert the constant's text
            if isinstance(inner, exp.Neg):
                text = "-" + str(strip_parens(inner.this).this)
            else:
                text = str(inner.this)
            pg = pg_type(tname)
            if pg is not None and pg.kind == "int" and not text.lstrip("-").isdigit():
                raise Unsupported("numeric to integer cast rounds")
            return self.const_of(text, tname)
        v = self.value(inner)
        pg = pg_type(tname)
        if pg is None:
            raise Unsupported("cast to unsupported type")
        src, dst = v.kind, pg.kind
        if v.is_null:
            return _Val("NULL", dst, const=None)
        if dst == src and not pg.has_typmod and src != "int":
            return v
        if src == "int" and dst == "int":
            if pg.bits >= v.bits:
                return _Val(v.sql, "int", const=v.const, nullable=v.nullable, param=v.param,
                            bits=pg.bits)
            if v.is_const:
                return self.const_of(str(v.const), tname)
            # [int-overflow] narrowing: the value, or PG's "out of range"
            return _Val(checked_int_range(v.sql, pg.bits, self.dialect.version), "int",
                        nullable=v.nullable, bits=pg.bits)
        if src == "int" and dst == "numeric" and not pg.has_typmod:
            # exact widening: a column stays comparable in its own type (fit.py)
            return _Val(v.sql, "numeric", nullable=v.nullable, const=v.const,
                        column=v.column, ch=v.ch)
        if src == "int" and dst == "float8":
            if v.is_const:
                return self.const_of(str(v.const), "double precision")
            return _Val(f"toFloat64({v.sql})", "float8", nullable=v.nullable)
        if src == "float4" and dst == "float8":
            return _Val(f"toFloat64({v.sql})", "float8", nullable=v.nullable,
                        maybe_nan=v.maybe_nan)
        if src == "text" and dst == "text" and not pg.has_typmod:
            return v
        if dst == "date" and src in ("timestamp", "timestamptz") and not v.is_const:
            return self.to_date(v, v.tz if src == "timestamp" else self.dialect.timezone,
                                session=src == "timestamptz")
        if src == "int" and dst == "text" and not v.is_const:
            return _Val(f"toString({v.sql})", "text", nullable=v.nullable)
        raise Unsupported(f"cast {src} -> {tname}")

    def at_time_zone(self, node: exp.AtTimeZone) -> _Val:
        """timestamptz AT TIME ZONE '<fixed-offset zone>' (Django's __date
        lookups write it with 'UTC'): the same instant read as wall clock in
        that zone, a timestamp value with that zone (see column())."""
        v = self.value(node.this)
        zone = strip_parens(node.args.get("zone"))
        if isinstance(zone, exp.Cast):
            zone = strip_parens(zone.this)
        if not (isinstance(zone, exp.Literal) and zone.is_string):
            raise Unsupported("AT TIME ZONE with a non-constant zone")
        name = _fixed_zone_name(pg_zone(zone.this))      # PostgreSQL's reading of the zone
        if v.kind != "timestamptz" or v.is_const or name is None:
            # a DST zone's wall clock does not order like its instants
            raise Unsupported("AT TIME ZONE other than timestamptz in a fixed-offset zone")
        return _Val(v.sql, "timestamp", nullable=v.nullable, tz=name, ch=v.ch)

    def to_date(self, v: _Val, tz: str | None, session: bool) -> _Val:
        """The calendar date of an instant in zone tz (toDate keeps the
        primary key usable: it is monotonic).  West of UTC the first hours
        of 1970 fall on 1969-12-31, which Date cannot hold (toDate gives
        1970-01-01): such a date is then only compared with dates after
        1970-01-01 (scan.compare), where the two agree.  The session's zone
        may change before execution, so it is never taken as safe."""
        ch = ch_type(v.ch) if v.ch else None
        if tz is None or not _ZONE_NAME.fullmatch(tz):
            raise Unsupported(f"date in time zone {tz!r}")
        if ch is None or ch.base != "DateTime":
            # DateTime64 reaches before 1970, where Date cannot follow
            raise Unsupported("date of a value that is not a DateTime column")
        east = not session and (tz == "UTC" or re.fullmatch(r"Etc/(UTC|GMT(-[0-9]+)?)", tz))
        return _Val(f"toDate({v.sql}, {L.text_sql(tz)})", "date", nullable=v.nullable,
                    column=True, ch="Date", date_floor=not east)

    def negate(self, v: _Val) -> _Val:
        if v.is_null:
            return v
        if v.kind == "int":
            if v.is_const:
                return self.const_of(str(-v.const), "bigint" if v.bits == 64 else "integer")
            return _Val(checked_int("-", v.sql, None, v.bits, self.dialect.version), "int",
                        nullable=v.nullable, bits=v.bits)
        if v.kind == "numeric":
            if v.is_const:
                return _Val(L.numeric_sql(-v.const), "numeric", const=-v.const, nullable=False)
            return _Val(f"(-{v.sql})", "numeric", nullable=v.nullable)
        if v.kind == "float8":
            if v.is_const:
                c = -v.const
                return _Val(L.float_sql(c), "float8", const=c, nullable=False,
                            maybe_nan=math.isnan(c))
            return _Val(f"(-{v.sql})", "float8", nullable=v.nullable, maybe_nan=v.maybe_nan)
        raise Unsupported(f"unary minus on {v.kind}")

    def arith(self, node) -> _Val:
        a, b = self.value(node.this), self.value(node.expression)
        op = {exp.Add: "+", exp.Sub: "-", exp.Mul: "*", exp.Div: "/", exp.Mod: "%"}[type(node)]
        nullable = a.nullable or b.nullable
        if a.is_null or b.is_null:
            kind = a.kind if a.kind == b.kind else None
            if kind is None:
                raise Unsupported("NULL arithmetic of mixed types")
            return _Val("NULL", kind, const=None)
        if a.kind == "int" and b.kind == "int":
            # [int-overflow] PG computes in the wider operand type and raises
            # on overflow; checked_int gives the same value or the same error
            bits = max(a.bits, b.bits)
            if op == "%" and b.is_const and b.const != -1:
                return _Val(f"({self._int64(a)} % {b.sql})", "int", nullable=nullable, bits=bits)
            if op == "%":
                # x % -1 is 0 in PG; Int64's minimum % -1 is computed in Int128
                wide = "toInt128" if bits > 32 else "toInt64"
                return _Val(f"toInt64({wide}({a.sql}) % {wide}({b.sql}))", "int",
                            nullable=nullable, bits=bits)
            if op == "/" and b.is_const and b.const == -1 and tuple(self.dialect.version) < (20, 1):
                # 18.16's intDiv(column, -1) returns 0
                raise Unsupported("integer division by -1 on old ClickHouse")
            if op == "/" and b.is_const and b.const not in (0, -1):
                # |a / b| <= |a|: cannot overflow
                return _Val(f"intDiv({self._int64(a)}, {b.sql})", "int", nullable=nullable, bits=bits)
            return _Val(checked_int(op, a.sql, b.sql, bits, self.dialect.version), "int",
                        nullable=nullable, bits=bits)
        if a.kind in _NUMERIC_KINDS and b.kind in _NUMERIC_KINDS:
            if op not in "+-":
                # scale rules of * / % differ (18.16 even loses scale in *)
                raise Unsupported(f"numeric {op}")
            return _Val(f"({a.sql} {op} {b.sql})", "numeric", nullable=nullable)
        if a.kind == "float8" and b.kind == "float8":
            if op == "%":
                raise Unsupported("float %")
            if op == "/" and not (b.is_const and b.const != 0 and not math.isnan(b.const)
                                  and not math.isinf(b.const)):
                raise Unsupported("float division (PG errors on /0, ClickHouse gives inf)")
            return _Val(f"({a.sql} {op} {b.sql})", "float8", nullable=nullable,
                        maybe_nan=True)
        raise Unsupported(f"arithmetic {a.kind} {op} {b.kind}")

    @staticmethod
    def _int64(v: _Val) -> str:
        if v.is_const:
            return v.sql
        return f"toInt64({v.sql})"
