"""PostgreSQL's result scale of numeric division (numeric.c select_div_scale)
and the ClickHouse SQL that reproduces it per row.

Rule owned here:
  [div-scale]  a / b is rounded half away from zero to
               rscale = max(16 - 4 * qweight, dscale(a), dscale(b)), where
               qweight = weight(a) - weight(b) - (first(a) <= first(b)) in
               base-10000 digits (weight 0, first digit 0 for zero).  The
               dscale of a column value is its Decimal scale, of a literal
               its written scale.  avg() is sum / count under the same rule
               (aggregates._avg_exact).
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Context, Decimal

MIN_SIG_DIGITS = 16       # NUMERIC_MIN_SIG_DIGITS
_CTX = Context(prec=2000)


def _dscale(v: Decimal) -> int:
    return max(0, -v.as_tuple().exponent)


def weight_first(v: Decimal) -> tuple[int, int]:
    """PostgreSQL's normalized base-10000 weight and first digit of v."""
    if v == 0:
        return 0, 0
    digits = "".join(map(str, v.as_tuple().digits)).lstrip("0")
    e = v.copy_abs().adjusted()                  # decimal exponent of the first digit
    w = e // 4
    return w, int((digits + "000")[: e - 4 * w + 1])


def div_scale(a: Decimal, b: Decimal) -> int:
    (w1, f1), (w2, f2) = weight_first(a), weight_first(b)
    qweight = w1 - w2 - (1 if f1 <= f2 else 0)
    return max(MIN_SIG_DIGITS - 4 * qweight, _dscale(a), _dscale(b), 0)


def numeric_div(a: Decimal, b: Decimal) -> Decimal:
    """a / b exactly as PostgreSQL's numeric_div (b != 0)."""
    rscale = div_scale(a, b)
    q = _CTX.divide(a, b).quantize(Decimal(1).scaleb(-rscale), rounding=ROUND_HALF_UP, context=_CTX)
    return q.copy_abs() if q == 0 else q        # numeric has no negative zero


# ------------------------------------------------------------ per-row SQL

def weight_first_sql(x: str, scale: int) -> tuple[str, str]:
    """SQL for (weight, first digit) of the Decimal expression x of the given
    scale, from its digits (floating-point logarithms misjudge powers of 10)."""
    digits = (f"replaceRegexpOne(replaceOne(toDecimalString(abs({x}), {scale}), '.', ''), "
              f"'^0+', '')")
    e = f"(toInt32(length({digits})) - 1 - {scale})"
    w = f"toInt32(floor({e} / 4))"
    f = f"toUInt32(substring(concat({digits}, '000'), 1, toUInt64({e} - 4 * {w} + 1)))"
    return f"if({x} = 0, 0, {w})", f"if({x} = 0, 0, {f})"


def min_weight(scale: int) -> int:
    """The smallest weight of a non-zero value of that scale (10^-scale)."""
    return (-scale) // 4


def max_weight(digits: int, scale: int) -> int:
    """The largest weight of a value below 10^(digits - scale)."""
    return (digits - scale - 1) // 4


def div_scale_sql(a: tuple[str, str], b: tuple[str, str], scales: tuple[int, int]) -> str:
    (w1, f1), (w2, f2) = a, b
    return (f"toUInt8(greatest({max(scales)}, {MIN_SIG_DIGITS} - 4 * "
            f"({w1} - {w2} - toInt32({f1} <= {f2}))))")
