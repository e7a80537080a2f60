"""Fixed-point types as explicit values, and the integer helpers a bit-accurate model is built of.

A :class:`FixedType` is a frozen value: total ``width`` in bits, ``frac`` fraction bits, ``signed``
(two's complement) or not, a ``rounding`` mode and an ``overflow`` mode. A number of that type is
an integer *code*; its value is ``code * 2**-frac``. Names follow the Q notation with the sign
counted among the integer bits:

``Q4.12``   signed, 4 integer bits (sign included) + 12 fraction bits = 16 bits, [-8, 8 - 2**-12]
``UQ1.15``  unsigned, 1 integer bit + 15 fraction bits = 16 bits, [0, 2 - 2**-15]
``Q2.14``   signed, [-2, 2 - 2**-14]

:meth:`FixedType.parse` reads ``"Q4.12"`` (optionally ``"Q4.12/rnd/sat"``); ``str(t)`` prints
``Q4.12``; :attr:`FixedType.spec` prints the full ``Q4.12/rnd/sat`` (the JSON form).

Rounding modes (the SystemC / apytypes names; the value shifted out is the *remainder*):

``trn``       truncate: toward minus infinity (floor; drop the bits; the cheapest)
``trn_zero``  toward zero (magnitude truncation)
``rnd``       round half up: to nearest, ties toward plus infinity (add half an LSB, truncate)
``rnd_zero``  to nearest, ties toward zero
``rnd_inf``   to nearest, ties away from zero
``rnd_conv``  convergent: to nearest, ties to even (unbiased)

Overflow modes: ``sat`` (clamp to the type's range) or ``wrap`` (keep the low ``width`` bits,
two's complement for signed types). Every conversion is *shift with rounding, then saturate or
wrap*, on Python integers (or, identically, on numpy int64 arrays: :func:`shift_round` and
:func:`overflow` use only ``>>``, ``&``, comparisons and ``clip``, which mean the same for both;
the tests check both against apytypes bit for bit). Nothing here computes with floats except the
two conversions at the boundary, :meth:`FixedType.quantize` (exact: a float is a dyadic rational,
read with ``float.as_integer_ratio``) and :meth:`FixedType.to_float`.

Products and sums are plain integer ``*`` and ``+``: the product of codes with ``fa`` and ``fb``
fraction bits has ``fa + fb`` fraction bits, and the sum of ``n`` such products needs at most
:func:`accumulator_bits` bits, so a register that wide never wraps.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from dataclasses import dataclass
from fractions import Fraction
from typing import TYPE_CHECKING, TypeVar

from squall.errors import SquallError

if TYPE_CHECKING:  # no numpy at run time: the helpers only use operators both kinds have
    import numpy as np
    from numpy.typing import NDArray

#: Codes: a Python int, or a numpy int64 array of them (the helpers take either and return the
#: same kind).
Codes = TypeVar("Codes", int, "NDArray[np.int64]")

#: Rounding modes, see the module docstring.
ROUNDING = ("trn", "trn_zero", "rnd", "rnd_zero", "rnd_inf", "rnd_conv")
#: Overflow modes.
OVERFLOW = ("sat", "wrap")
#: Readable aliases accepted wherever a mode is parsed.
ALIASES = {
    "floor": "trn",
    "truncate": "trn",
    "half_up": "rnd",
    "half_even": "rnd_conv",
    "convergent": "rnd_conv",
    "half_away": "rnd_inf",
    "half_down": "rnd_zero",
    "toward_zero": "trn_zero",
    "saturate": "sat",
}

_Q = re.compile(r"^(U?)Q(-?\d+)\.(-?\d+)(?:/(\w+))?(?:/(\w+))?$")


class FixedPointError(SquallError):
    """A fixed-point format or value that cannot be used (one line)."""


#: Largest ``|frac|`` of any format: float64 has no value finer than 2**-1074 nor coarser than
#: 2**1023, so a format beyond that cannot come from or go back to a float (and 2**frac of a
#: hostile configuration would grow without bound).
MAX_FRAC = 1074


def _mode(name: str, known: tuple[str, ...], what: str) -> str:
    key = ALIASES.get(str(name).lower(), str(name).lower())
    if key not in known:
        raise FixedPointError(f"unknown {what} mode {name!r}; choose one of {', '.join(known)}")
    return key


@dataclass(frozen=True)
class FixedType:
    """A fixed-point number format (see the module docstring)."""

    width: int
    frac: int
    signed: bool = True
    rounding: str = "rnd"
    overflow: str = "sat"

    def __post_init__(self) -> None:
        if not isinstance(self.width, int) or isinstance(self.width, bool) or self.width < 1:
            raise FixedPointError(f"width must be a positive integer, got {self.width!r}")
        if not isinstance(self.frac, int) or isinstance(self.frac, bool):
            raise FixedPointError(f"fraction bits must be an integer, got {self.frac!r}")
        if abs(self.frac) > MAX_FRAC:
            raise FixedPointError(
                f"fraction bits must be within +-{MAX_FRAC} (float64's range), got {self.frac}"
            )
        if self.signed and self.width < 2:
            raise FixedPointError("a signed type needs at least 2 bits")
        object.__setattr__(self, "rounding", _mode(self.rounding, ROUNDING, "rounding"))
        object.__setattr__(self, "overflow", _mode(self.overflow, OVERFLOW, "overflow"))

    # ------------------------------------------------------------ naming

    @classmethod
    def parse(
        cls, text: str, rounding: str | None = None, overflow: str | None = None
    ) -> FixedType:
        """``"Q4.12"``, ``"UQ1.15"``, ``"Q4.12/rnd_conv/wrap"``; the arguments override."""
        m = _Q.match(str(text).strip())
        if not m:
            raise FixedPointError(
                f"cannot read fixed-point format {text!r}; expected e.g. Q4.12 "
                f"(signed, sign among the 4 integer bits) or UQ1.15 (unsigned), "
                f"optionally /ROUNDING/OVERFLOW"
            )
        unsigned, ints, frac = m.group(1) == "U", int(m.group(2)), int(m.group(3))
        return cls(
            ints + frac,
            frac,
            not unsigned,
            rounding or m.group(4) or "rnd",
            overflow or m.group(5) or "sat",
        )

    @property
    def int_bits(self) -> int:
        """Integer bits, the sign bit included for a signed type."""
        return self.width - self.frac

    @property
    def name(self) -> str:
        return f"{'' if self.signed else 'U'}Q{self.int_bits}.{self.frac}"

    @property
    def spec(self) -> str:
        """The full description, ``Q4.12/rnd/sat``: what :meth:`parse` reads back."""
        return f"{self.name}/{self.rounding}/{self.overflow}"

    def __str__(self) -> str:
        return self.name

    def with_modes(self, rounding: str | None = None, overflow: str | None = None) -> FixedType:
        return FixedType(
            self.width, self.frac, self.signed, rounding or self.rounding, overflow or self.overflow
        )

    # ------------------------------------------------------------ range

    @property
    def min_code(self) -> int:
        return -(1 << (self.width - 1)) if self.signed else 0

    @property
    def max_code(self) -> int:
        return (1 << (self.width - 1)) - 1 if self.signed else (1 << self.width) - 1

    @property
    def lsb(self) -> Fraction:
        """The value of one code step, ``2**-frac``, exactly."""
        return Fraction(1, 1 << self.frac) if self.frac >= 0 else Fraction(1 << -self.frac)

    @property
    def min_value(self) -> float:
        return self.to_float(self.min_code)

    @property
    def max_value(self) -> float:
        return self.to_float(self.max_code)

    def fits(self, code: int) -> bool:
        return self.min_code <= code <= self.max_code

    # ------------------------------------------------------------ conversions

    def quantize(self, x: float) -> int:
        """The code of the float ``x`` (rounded, then saturated or wrapped), computed exactly."""
        x = float(x)
        if not math.isfinite(x):
            raise FixedPointError(f"cannot quantize {x} to {self.name}")
        num, den = x.as_integer_ratio()  # den is a power of two
        return self.requantize(num, den.bit_length() - 1)

    def requantize(self, code: Codes, src_frac: int) -> Codes:
        """A code with ``src_frac`` fraction bits (an int or an int64 array) in this type:
        shift with this type's rounding, then saturate or wrap."""
        return overflow(shift_round(code, src_frac - self.frac, self.rounding), self)

    def to_float(self, code: int) -> float:
        """The value of ``code`` as a float (exact while ``width <= 53``)."""
        return math.ldexp(int(code), -self.frac)

    def to_fraction(self, code: int) -> Fraction:
        return int(code) * self.lsb

    def to_hex(self, code: int) -> str:
        """Two's complement (or plain, unsigned) hex of ``code``, ``ceil(width / 4)`` digits."""
        if not self.fits(code):
            raise FixedPointError(f"code {code} does not fit {self.name}")
        return format(code & ((1 << self.width) - 1), f"0{(self.width + 3) // 4}x")

    def from_hex(self, text: str) -> int:
        """The code a :meth:`to_hex` word stands for (sign-extended for a signed type)."""
        try:
            raw = int(text, 16)
        except ValueError:
            raise FixedPointError(f"{text!r} is not a hex word") from None
        if raw >> self.width:
            raise FixedPointError(f"hex word {text} has more than {self.width} bits")
        if self.signed and raw >> (self.width - 1):
            raw -= 1 << self.width
        return raw


# ---------------------------------------------------------------- integer helpers


def shift_round(v: Codes, shift: int, rounding: str = "rnd") -> Codes:
    """``v / 2**shift`` rounded to an integer per ``rounding`` (exact ``v << -shift`` when
    ``shift <= 0``). ``v`` is a Python int or a numpy integer array (same operators, same result;
    ``>>`` is an arithmetic shift, i.e. floor, for negative values in both)."""
    if shift <= 0:
        return v << -shift
    if rounding == "trn":
        return v >> shift
    if rounding == "rnd":
        return (v + (1 << (shift - 1))) >> shift
    half, mask = 1 << (shift - 1), (1 << shift) - 1
    q, r = v >> shift, v & mask  # v = q * 2**shift + r, 0 <= r < 2**shift
    # (numpy's stubs type an int64 array plus a bool array as Any: the result is declared)
    rounded: Codes
    if rounding == "trn_zero":
        rounded = q + ((r != 0) & (v < 0))
    elif rounding == "rnd_conv":
        rounded = q + ((r > half) | ((r == half) & ((q & 1) == 1)))
    elif rounding == "rnd_inf":
        rounded = q + ((r > half) | ((r == half) & (v >= 0)))
    elif rounding == "rnd_zero":
        rounded = q + ((r > half) | ((r == half) & (v < 0)))
    else:
        raise FixedPointError(
            f"unknown rounding mode {rounding!r}; choose one of {', '.join(ROUNDING)}"
        )
    return rounded


def overflow(code: Codes, t: FixedType) -> Codes:
    """``code`` brought into ``t``'s range by ``t.overflow`` (saturate or wrap)."""
    lo, hi = t.min_code, t.max_code
    if t.overflow == "sat":
        if isinstance(code, int):
            return lo if code < lo else hi if code > hi else code
        return code.clip(lo, hi)
    return ((code - lo) & ((1 << t.width) - 1)) + lo


def is_tie(v: int, shift: int) -> bool:
    """Whether shifting ``v`` right by ``shift`` bits drops exactly half an LSB."""
    return shift > 0 and (v & ((1 << shift) - 1)) == 1 << (shift - 1)


def saturates(v: int, src_frac: int, t: FixedType) -> bool:
    """Whether requantizing ``v`` (``src_frac`` fraction bits) to ``t`` overflows its range."""
    q = shift_round(v, src_frac - t.frac, t.rounding)
    return not t.fits(q)


def mul(a: int, b: int) -> int:
    """Product of two codes; its fraction bits are the sum of theirs (exact, never rounded)."""
    return a * b


def mac(acc: int, a: int, b: int) -> int:
    """``acc + a * b`` (``acc`` must already have the product's fraction bits)."""
    return acc + a * b


def dot(a: Iterable[int], b: Iterable[int]) -> int:
    """Exact dot product of two equal-length sequences of codes."""
    return sum(x * y for x, y in zip(a, b, strict=True))


def align(code: Codes, from_frac: int, to_frac: int) -> Codes:
    """``code`` with ``from_frac`` fraction bits expressed with ``to_frac >= from_frac`` (exact)."""
    if to_frac < from_frac:
        raise FixedPointError(
            f"aligning {from_frac} to {to_frac} fraction bits would drop bits; use requantize"
        )
    return code << (to_frac - from_frac)


def product_bits(a: FixedType, b: FixedType) -> int:
    """Width of a signed register that holds any product of an ``a`` and a ``b`` code:
    ``a.width + b.width`` (one more when both are unsigned, for the sign bit)."""
    return a.width + b.width + (0 if a.signed or b.signed else 1)


def accumulator_bits(a: FixedType, b: FixedType, terms: int) -> int:
    """The width rule: a signed register of ``product_bits(a, b) + ceil(log2(terms))`` bits holds
    any sum of ``terms`` products of an ``a`` and a ``b`` code, so it never wraps. (Each product
    is at most ``2**(product_bits - 2)`` in magnitude for signed inputs; a bias aligned to the
    product's fraction bits counts as one more term when it is no larger.)"""
    if terms < 1:
        raise FixedPointError("an accumulator needs at least one term")
    return product_bits(a, b) + (terms - 1).bit_length()


def signed_bits(v: int) -> int:
    """Width of the smallest two's complement register that holds ``v``."""
    return (v.bit_length() if v >= 0 else (~v).bit_length()) + 1
