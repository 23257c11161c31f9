"""Time: time zones, timestamp/date conversions, interval constants and
date arithmetic, EXTRACT / date_part and date_trunc.

Rules owned here:
  [tz]           timestamptz operations that depend on the session TimeZone
                 (date_trunc/extract on timestamptz, date <-> timestamptz)
                 are pushed only when the caller passes PostgreSQL's TimeZone,
                 which is then given to every ClickHouse date function.
                 timestamp (without time zone) is held as its UTC wall clock.
  [interval]     intervals are (months, days, microseconds) like PG; month
                 and day parts are applied with calendar arithmetic
                 (addMonths/addDays) in PG's order, microseconds exactly;
                 on timestamptz, month/day steps happen in the session
                 TimeZone like PG.
  [at-time-zone] AT TIME ZONE / timezone(zone, v) with a constant or
                 parameter zone: the rule is ../zones.py's (shared with the
                 per-table translator).
  [wide-dates]   intermediates that can leave ClickHouse's Date (1970..2149)
                 or DateTime (1970..2106) range are computed in Date32 /
                 DateTime64 (1900..2299; extended results for toStartOf*);
                 a value past those raises a FALLBACK_MARK check, so the
                 query falls back and PostgreSQL computes it (or raises its
                 own "out of range").
"""

from __future__ import annotations

import datetime as _dt
import re

from sqlglot import exp

from .. import literals as L
from ..literals import Unsupported
from ..quoting import quote_string as qs
from ..zones import local_to_tstz, pg_zone, tstz_to_local
from ...refusals import FALLBACK_MARK
from .context import T

_DATE32_DAYS = (-25567, 120529)                  # 1900-01-01 .. 2299-12-31
_DT64_RANGE = (_dt.datetime(1900, 1, 1), _dt.datetime(2299, 12, 31))


class Temporal:
    def need_tz(self, what) -> str:
        if not self.tz:
            raise Unsupported(f"{what} depends on the session TimeZone")           # [tz]
        return self.tz

    def date_to_tstz(self, v: T) -> T:
        tz = self.need_tz("date to timestamptz")
        # [wide-dates] DateTime ends in 2106, Date in 2149
        return T(f"toDateTime64({v.sql}, 6, {qs(tz)})", "timestamptz", nullable=v.nullable, agg=v.agg)

    def date_add_days(self, d: T, n: T, sign: int) -> T:
        """[wide-dates] date +/- integer in Date32, checked against its range."""
        days = (f"(toInt64(toInt32(toDate32({d.sql}))) {'+' if sign > 0 else '-'} "
                f"{n.sql if n.is_const else f'toInt64({n.sql})'})")
        lo, hi = _DATE32_DAYS
        check = (f"toInt64(throwIf(ifNull(({days}) NOT BETWEEN {lo} AND {hi}, 0), "
                 f"'date beyond Date32 {FALLBACK_MARK}'))")
        return T(f"addDays(toDate32('1970-01-01'), {days} + {check})", "date",
                 nullable=d.nullable or n.nullable, agg=d.agg or n.agg)

    def _wide_base_check(self, base: str, tz: str, months: int, days: int, micros: int) -> str:
        """[wide-dates] base, unless base +/- the interval could pass
        DateTime64's range (then a FALLBACK_MARK check fires)."""
        reach = _dt.timedelta(days=abs(months) * 31 + abs(days) + 2, microseconds=abs(micros))
        lo, hi = _DT64_RANGE[0] + reach, _DT64_RANGE[1] - reach
        if lo >= hi:
            raise Unsupported("interval wider than DateTime64's range")
        cond = (f"ifNull(NOT ({base} BETWEEN {self._dt64(lo, 'UTC')} AND {self._dt64(hi, 'UTC')}), 0)")
        # the error branch has base's type (time zone included: steps are in tz)
        return (f"if({cond}, toDateTime64(throwIf({cond}, 'timestamp beyond DateTime64 {FALLBACK_MARK}'), "
                f"6, {tz}), {base})")

    def ts_to_tstz(self, v: T) -> T:
        tz = self.need_tz("timestamp to timestamptz")
        # wall clock (held as UTC) -> the instant of that wall clock in tz
        # [wide-dates] DateTime64 with its microseconds
        return T(f"toDateTime64(formatDateTime(toDateTime64({v.sql}, 6), '%Y-%m-%d %H:%i:%S.%f', 'UTC'), "
                 f"6, {qs(tz)})", "timestamptz", nullable=v.nullable, agg=v.agg)

    def _tstz_to_ts(self, v: T, tz) -> T:
        return T(f"toDateTime64(formatDateTime(toDateTime64({v.sql}, 6), '%Y-%m-%d %H:%i:%S.%f', "
                 f"{qs(tz)}), 6, 'UTC')", "timestamp", nullable=v.nullable, agg=v.agg)

    def _ts_const(self, ts: _dt.datetime) -> T:
        if not (L._DT_MIN <= ts <= L._DT_MAX):
            raise Unsupported("timestamp outside ClickHouse DateTime range")
        return T(self._dt64(ts, "UTC"), "timestamp", const=ts, nullable=False)

    _IV_UNITS = {"year": (12, 0, 0), "years": (12, 0, 0), "mon": (1, 0, 0), "mons": (1, 0, 0),
                 "month": (1, 0, 0), "months": (1, 0, 0), "day": (0, 1, 0), "days": (0, 1, 0),
                 "week": (0, 7, 0), "weeks": (0, 7, 0),
                 "hour": (0, 0, 3600_000000), "hours": (0, 0, 3600_000000),
                 "minute": (0, 0, 60_000000), "minutes": (0, 0, 60_000000),
                 "min": (0, 0, 60_000000), "mins": (0, 0, 60_000000),
                 "second": (0, 0, 1_000000), "seconds": (0, 0, 1_000000),
                 "sec": (0, 0, 1_000000), "secs": (0, 0, 1_000000)}

    def interval_const(self, text: str) -> T:
        """IntervalStyle=postgres output: '1 year 2 mons 3 days 04:05:06.5'."""
        months = days = micros = 0
        t = text.strip()
        m = re.search(r"(-?)(\d+):(\d{2}):(\d{2})(?:\.(\d{1,6}))?$", t)
        if m:
            sign = -1 if m.group(1) else 1
            micros += sign * ((int(m.group(2)) * 3600 + int(m.group(3)) * 60 + int(m.group(4))) * 1_000000
                              + int((m.group(5) or "").ljust(6, "0") or 0))
            t = t[:m.start()].strip()
        toks = t.split()
        if len(toks) % 2:
            raise Unsupported(f"interval {text!r}")
        for i in range(0, len(toks), 2):
            if not re.fullmatch(r"[+-]?\d+", toks[i]) or toks[i + 1].lower() not in self._IV_UNITS:
                raise Unsupported(f"interval {text!r}")
            k = int(toks[i])
            mo, d, us = self._IV_UNITS[toks[i + 1].lower()]
            months += k * mo
            days += k * d
            micros += k * us
        return T("", "interval", const=(months, days, micros), nullable=False)

    def _add_interval_const(self, base, iv, sign) -> object:
        months, days, micros = (sign * x for x in iv)
        if isinstance(base, _dt.datetime):
            d = base
        else:
            d = _dt.datetime.combine(base, _dt.time())
        if months:
            y, mo = divmod(d.month - 1 + months, 12)
            y += d.year
            import calendar
            last = calendar.monthrange(y, mo + 1)[1]
            d = d.replace(year=y, month=mo + 1, day=min(d.day, last))
        d = d + _dt.timedelta(days=days, microseconds=micros)
        return d

    def _interval_apply(self, v: T, iv: T, sign: int) -> T:
        months, days, micros = (sign * x for x in iv.const)
        if v.kind == "date":
            if v.is_const:
                return self._ts_const(self._add_interval_const(v.const, iv.const, sign))
            base, tzq = f"toDateTime64({v.sql}, 6, 'UTC')", "'UTC'"
            kind = "timestamp"
        elif v.kind == "timestamp":
            if v.is_const:
                return self._ts_const(self._add_interval_const(v.const, iv.const, sign))
            base, kind, tzq = f"toDateTime64({v.sql}, 6, 'UTC')", "timestamp", "'UTC'"
        elif v.kind == "timestamptz":
            if months or days:
                tz = self.need_tz("timestamptz +/- interval with days or months")
                tzq = qs(tz)
            else:
                tzq = "'UTC'"
            base = f"toDateTime64({v.sql}, 6, {tzq})"
            kind = "timestamptz"
        else:
            raise Unsupported(f"{v.kind} +/- interval")
        # [wide-dates] in DateTime64, and only where the result stays in its range
        s = self._wide_base_check(base, tzq, months, days, micros)
        if months:
            s = f"addMonths({s}, {months})"
        if days:
            s = f"addDays({s}, {days})"
        if micros:
            if micros % 1_000000 == 0:
                s = f"addSeconds({s}, {micros // 1_000000})"
            else:
                s = f"addMicroseconds({s}, {micros})"
        return T(s, kind, nullable=v.nullable, agg=v.agg)

    _EXTRACT_DATE = {"year": "toYear", "month": "toMonth", "day": "toDayOfMonth",
                     "quarter": "toQuarter", "doy": "toDayOfYear", "isoyear": "toISOYear",
                     "week": "toISOWeek", "dow": None, "isodow": "toDayOfWeek"}

    def extract(self, node, scope) -> T:
        unit = node.this.name.lower() if isinstance(node.this, (exp.Var, exp.Identifier)) else str(node.this).lower()
        v = self.value(node.expression, scope)
        if v.kind not in ("date", "timestamp", "timestamptz"):
            raise Unsupported(f"EXTRACT from {v.kind}")
        tzarg = ""
        if v.kind == "timestamptz":
            tzarg = f", {qs(self.need_tz('EXTRACT from timestamptz'))}"
        if v.kind == "date" and unit in ("hour", "minute", "second", "epoch"):
            if unit == "epoch":
                return T(f"toDecimal128(toInt64(toInt32(toDate32({v.sql}))) * 86400, 0)", "numeric",
                         scale=0, nullable=v.nullable, agg=v.agg)
            raise Unsupported(f"EXTRACT({unit} FROM date) is an error in PostgreSQL")
        fmap = dict(self._EXTRACT_DATE)
        fmap.update({"hour": "toHour", "minute": "toMinute"})
        if unit == "dow":
            sql = f"(toDayOfWeek({v.sql}, 0{tzarg}) % 7)"
        elif unit == "isodow":
            sql = f"toDayOfWeek({v.sql}, 0{tzarg})"
        elif unit == "second":
            if v.kind == "date":
                raise Unsupported("EXTRACT(second FROM date)")
            # numeric(…,6): seconds with microseconds
            frac = (f"toDecimal128(toSecond({v.sql}{tzarg}), 6) + toDecimal128(toUnixTimestamp64Micro(toDateTime64({v.sql}, 6)) % 1000000, 0) / 1000000"
                    if self.version >= (20, 5) else None)
            if frac is None:
                raise Unsupported("EXTRACT(second) on old ClickHouse")
            return T(f"toDecimal128({frac}, 6)", "numeric", scale=6, nullable=v.nullable, agg=v.agg)
        elif unit == "epoch":
            if v.kind == "date":
                raise Unsupported("epoch")
            return self._epoch(v)
        elif unit in fmap and fmap[unit]:
            sql = f"{fmap[unit]}({v.sql}{tzarg})"
        else:
            raise Unsupported(f"EXTRACT({unit})")
        return T(f"toDecimal128({sql}, 0)", "numeric", scale=0, nullable=v.nullable, agg=v.agg)

    def _epoch(self, v: T) -> T:
        self.need((20, 5), "EXTRACT(epoch)")
        # timestamptz: the instant; timestamp: held as its UTC wall clock
        us = f"toUnixTimestamp64Micro(toDateTime64({v.sql}, 6))"
        return T(f"divideDecimal(toDecimal128({us}, 6), toDecimal128(1000000, 0), 6)",
                 "numeric", scale=6, nullable=v.nullable, agg=v.agg)

    def at_time_zone(self, value_node, zone_node, scope) -> T:
        z = self.known(zone_node, scope, "UTC")                            # [at-time-zone]
        if not z.is_const or not isinstance(z.const, str) or z.kind not in ("text", "unknown"):
            raise Unsupported("AT TIME ZONE with a zone that is not a constant or parameter")
        zone = pg_zone(z.const)
        v = self.value(value_node, scope)
        if v.kind == "timestamptz":
            return T(tstz_to_local(v.sql, zone), "timestamp", nullable=v.nullable, agg=v.agg)
        if v.kind == "timestamp":
            return T(local_to_tstz(v.sql, zone), "timestamptz", nullable=v.nullable, agg=v.agg)
        raise Unsupported(f"AT TIME ZONE on {v.kind}")

    _TRUNC = {"year": "toStartOfYear", "quarter": "toStartOfQuarter", "month": "toStartOfMonth",
              "week": "toMonday", "day": "toStartOfDay", "hour": "toStartOfHour",
              "minute": "toStartOfMinute", "second": "toStartOfSecond"}

    def date_trunc(self, node, scope) -> T:
        unit_node = node.args.get("unit")
        u = self.known(unit_node, scope, "day") \
            if isinstance(unit_node, exp.Expression) and not isinstance(unit_node, exp.Var) else None
        if u is not None:
            if not u.is_const or not isinstance(u.const, str):
                raise Unsupported("date_trunc with a non-constant unit")
            unit = u.const.lower()
        else:
            unit = str(unit_node.name if hasattr(unit_node, "name") else unit_node).lower()
        v = self.value(node.this, scope)
        if node.args.get("zone") is not None:
            raise Unsupported("date_trunc with a time zone argument")
        if unit not in self._TRUNC:
            raise Unsupported(f"date_trunc('{unit}')")
        f = self._TRUNC[unit]
        if v.kind == "date":
            raise Unsupported("date_trunc on date (implicit timestamptz cast)")
        if v.kind == "timestamp":
            tz = "'UTC'"
            kind = "timestamp"
        elif v.kind == "timestamptz":
            tz = qs(self.need_tz("date_trunc on timestamptz"))
            kind = "timestamptz"
        else:
            raise Unsupported(f"date_trunc on {v.kind}")
        # [wide-dates] DateTime64 in and out (a truncation before the epoch
        # in tz lies before DateTime's range); toStartOf* give Date32 /
        # DateTime64 under enable_extended_results_for_datetime_functions
        w = f"toDateTime64({v.sql}, 6)"
        if unit == "second":
            sql = f"toDateTime64(toStartOfSecond({w}), 6, {tz})"
        else:
            sql = f"toDateTime64({f}({w}, {tz}), 6, {tz})"
        return T(sql, kind, nullable=v.nullable, agg=v.agg)
