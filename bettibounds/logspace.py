"""Log-space evaluation of products of integer powers, exact only when small.

Every bound of this package has the form ``coef * prod_i base_i ** exp_i`` with
non-negative integer bases and exponents and a rational coefficient. We evaluate
log2 and log10 with mpmath at a scoped precision, and the exact integer
``floor(coef * prod ...)`` only when it has at most ``max_digits`` digits, so that a
10^8-digit integer is never built.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction

import mpmath

__all__ = ["Evaluated", "evaluate_product", "MAX_EXACT_DIGITS", "log_factorial2", "format_log10",
           "format_log10_up", "log10_text", "safe_float"]

#: the exact integer is computed when the value has at most this many digits
MAX_EXACT_DIGITS = 4000
_DPS = 40  # ~20 correct fractional digits even for log10 ~ 1e18


@dataclass(frozen=True)
class Evaluated:
    """A non-negative number known through log2/log10, exactly when small.

    ``log2`` is ``-inf`` for zero. ``exact`` is an int (floor of the value) or None.
    """

    log2: mpmath.mpf
    log10: mpmath.mpf
    exact: int | None

    @property
    def is_zero(self) -> bool:
        return self.exact == 0

    def decimal(self) -> str | None:
        """The exact value as a decimal string, or None when too large."""
        return None if self.exact is None else str(self.exact)

    def scientific(self, digits: int = 4, direction: str = "up") -> str:
        """``m.mmme N`` from log10, for any size (``0`` for zero).

        ``direction="up"`` rounds the mantissa up (for upper bounds: the printed number is
        still an upper bound), ``"down"`` rounds it down (for lower bounds).
        """
        if self.exact is not None and self.exact < 10**6:
            return str(self.exact)
        if self.log10 == mpmath.ninf:
            return "0"
        if self.exact is not None:  # round the exact integer itself
            e = len(str(self.exact)) - 1
            if e + 1 >= digits:
                q, rest = divmod(self.exact, 10 ** (e + 1 - digits))
                q += 1 if direction == "up" and rest else 0
            else:  # fewer digits than asked for: pad with zeros
                q = self.exact * 10 ** (digits - e - 1)
        else:
            with mpmath.workdps(_DPS + len(str(int(self.log10)))):
                e = int(mpmath.floor(self.log10))
                scaled = mpmath.power(10, self.log10 - e + digits - 1)  # in [10^(digits-1), 10^digits)
                # mpmath's error is far below 1e-9 here: step that far to the safe side before rounding
                margin = mpmath.mpf("1e-9")
                q = (int(mpmath.ceil(scaled + margin)) if direction == "up"
                     else int(mpmath.floor(scaled - margin)))
        if q >= 10**digits:
            q //= 10
            e += 1
        s = str(q)
        return f"{s[0]}.{s[1:]}e{e}" if digits > 1 else f"{s}e{e}"


def _exact_fraction(x: mpmath.mpf | float) -> Fraction:
    """An mpf (or float) as the exact rational it is."""
    sign: int
    man: int
    exp: int
    sign, man, exp, _ = mpmath.mpf(x)._mpf_  # x = (-1)^sign man 2^exp exactly
    magnitude = Fraction(man) * Fraction(2) ** exp
    return -magnitude if sign else magnitude


def format_log10(x: mpmath.mpf | float, direction: str = "up", sig: int = 4) -> str:
    """``x`` (the log10 of a bound: a float or an mpf) with ``sig`` significant digits, rounded
    *up* (``direction="up"``, for upper bounds) or *down* (``"down"``, for lower bounds) in exact
    rational arithmetic, so that ``10^<printed>`` is still a bound of the same kind (plain
    ``f"{x:.4g}"`` prints 19.35 for 19.3516). An ``x`` of ``10^sig - 1`` or more in size is written
    without an exponent, with every digit of its integer part and one decimal (``689031.6``, not
    ``6.891e+05``: ``10^6.891e+05`` reads as a power of a power)."""
    from decimal import Decimal

    if direction not in ("up", "down"):
        raise ValueError(f"direction must be 'up' or 'down', got {direction!r}")
    x = mpmath.mpf(x)
    if not mpmath.isfinite(x) or x == 0:
        return "-inf" if x == mpmath.ninf else ("inf" if x == mpmath.inf else "0")
    exact = _exact_fraction(x)
    if abs(exact) >= 10**sig - 1:  # (9999.5 would round to 10^4 at 4 digits)
        sig = len(str(int(abs(exact)))) + 1  # the integer part and one decimal
    k = int(mpmath.floor(mpmath.log10(abs(x)))) - sig + 1
    while abs(exact) >= Fraction(10) ** (k + sig):  # mpmath's log10 can be off by one at powers of 10
        k += 1
    while abs(exact) < Fraction(10) ** (k + sig - 1):
        k -= 1
    scaled = exact / Fraction(10) ** k
    q = math.ceil(scaled) if direction == "up" else math.floor(scaled)
    # Decimal from a string is exact (scaleb would round to the context's 28 digits); exponent as in
    # Python's float format (e+05, not e+5)
    text = format(Decimal(f"{q}E{k}"), f".{sig}g")
    mant, _, exp = text.partition("e")
    return text if not exp else f"{mant}e{exp[0]}{exp[1:].zfill(2)}"


def format_log10_up(x: mpmath.mpf | float, sig: int = 4) -> str:
    """:func:`format_log10` rounded up: for the log10 of an upper bound."""
    return format_log10(x, "up", sig)


def log10_text(x: mpmath.mpf | float, direction: str, min_sig: int = 8) -> str:
    """The log10 of a bound for a table: at least ``min_sig`` significant digits and at least 3
    after the decimal point (a log10 of 1.35e14 printed to 8 digits would move the bound by a factor
    10^600000), rounded to the bound's safe side."""
    x = mpmath.mpf(x)
    if not mpmath.isfinite(x) or x == 0:
        return format_log10(x, direction, min_sig)
    whole = len(str(abs(int(mpmath.floor(abs(x))))))
    return format_log10(x, direction, max(min_sig, whole + 3))


def safe_float(x: mpmath.mpf | float, direction: str) -> float:
    """``float(x)``, moved one step to the bound's safe side when the rounding went the other way
    (for JSON: a float log10 of an upper bound that is never below the true log10)."""
    f = float(x)
    if not math.isfinite(f):
        return f
    exact = _exact_fraction(x)
    if direction == "up" and Fraction(f) < exact:
        f = math.nextafter(f, math.inf)
    elif direction == "down" and Fraction(f) > exact:
        f = math.nextafter(f, -math.inf)
    return f


def _log2_int(b: int) -> mpmath.mpf:
    # mpmath handles Python ints of any size; b >= 1 here
    return mpmath.log(mpmath.mpf(b), 2)


def evaluate_product(
    factors: Sequence[tuple[int, int]], coef: Fraction | int = 1, max_digits: int = MAX_EXACT_DIGITS
) -> Evaluated:
    """Evaluate ``coef * prod base**exp`` in log space (exactly when small).

    Parameters
    ----------
    factors : sequence of (base, exp)
        Integer bases and non-negative integer exponents. A zero base with a positive
        exponent makes the product zero (then negative bases elsewhere are allowed:
        they only occur beside a zero factor in degenerate formats); a negative base
        otherwise raises ValueError.
    coef : Fraction or int
        Positive rational prefactor (e.g. 1/2 in Milnor's bound for {f >= 0}).

    Examples
    --------
    >>> e = evaluate_product([(2, 10), (3, 2)])
    >>> e.exact, float(e.log2)
    (9216, 13.169925001442312)
    >>> evaluate_product([(2, 10**12)]).exact is None
    True
    """
    coef = Fraction(coef)
    if coef <= 0:
        raise ValueError(f"coefficient must be positive, got {coef}")
    live = [(int(b), int(e)) for b, e in factors if int(e) != 0]
    if any(e < 0 for _, e in live):
        raise ValueError(f"negative exponent in {live}")
    zero = Evaluated(mpmath.ninf, mpmath.ninf, 0)
    if any(b == 0 for b, _ in live):
        return zero
    if any(b < 0 for b, _ in live):
        raise ValueError(f"negative base with no zero factor in {live}: not a valid bound")
    # enough digits for ~20 correct fractional digits of sum e_i log2(b_i), whatever the exponents' size
    dps = _DPS + max((len(str(e)) for _, e in live), default=0)
    with mpmath.workdps(dps):
        log2 = mpmath.log(mpmath.mpf(coef.numerator), 2) - mpmath.log(mpmath.mpf(coef.denominator), 2)
        for b, e in live:
            if b != 1:
                log2 += e * _log2_int(b)
        log10 = log2 * mpmath.log10(2)
        exact = None
        if log10 < max_digits:
            value = Fraction(1)
            for b, e in live:
                value *= b**e
            exact = math.floor(value * coef)
        return Evaluated(+log2, +log10, exact)


def log_factorial2(k: int) -> mpmath.mpf:
    """log2(k!) via log-gamma (any k >= 0), with ~20 correct fractional digits."""
    with mpmath.workdps(_DPS + len(str(k))):
        return +(mpmath.loggamma(k + 1) / mpmath.log(2))
