"""Activation tables on integer codes: sigmoid and tanh as a table (LUT) or piecewise linear.

Activations (:class:`ActivationSpec`), one table per function shared by every layer:

``lut``  ``size`` entries (a power of two) over the input range ``[lo, hi)`` (its span a power of
         two). Index rule: clamp the input code to the range, subtract the code of ``lo`` and
         shift right so that the top ``log2(size)`` bits remain:
         ``k = (clamp(code) - lo_code) >> (log2(hi - lo) + frac - log2(size))``. Entry ``k`` is
         ``f`` at the centre of the values its codes stand for, ``lo + (k + 1/2) step - lsb/2``
         (``step = (hi - lo) / size``; ``lsb/2`` because the pre-activation was rounded to
         nearest, so code ``c`` stands for ``[c - 1/2, c + 1/2)`` LSB; no such term after a
         truncating format), rounded to the output format.
``pwl``  ``size`` segments over ``[lo, hi)``, same index rule; breakpoint values ``Y[k] =
         f(lo + k step)`` in the output format and slopes ``(Y[k+1] - Y[k]) / step`` in the
         ``slope`` format; ``y = requantize((Y[k] << ...) + slope[k] * d -> out)`` with ``d``
         the input's offset inside its segment (its low bits).
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import NDArray

from squall.engines.fixed.config import ActivationSpec
from squall.engines.fixedpoint import FixedType
from squall.errors import SquallError

#: Input formats up to this width get a table of every input code (the same integers, faster).
EXPAND_BITS = 20


def _sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x)) if x >= 0 else math.exp(x) / (1.0 + math.exp(x))


FUNCTIONS = {"sigmoid": _sigmoid, "tanh": math.tanh}


class Activation:
    """One activation's table (LUT or PWL) and its evaluation on integer codes."""

    def __init__(self, fn: str, spec: ActivationSpec, out: FixedType, inp: FixedType) -> None:
        self.fn, self.spec, self.out = fn, spec, out
        f = FUNCTIONS[fn]
        n = spec.size
        step = (spec.hi - spec.lo) / n  # a power of two: exact
        if spec.method == "lut":
            # the centre of the values a bin's codes stand for: a code rounded to nearest
            # stands for [code - 1/2, code + 1/2) LSB, a truncated one for [code, code + 1)
            centre = 0.5 * step - (
                0.0 if inp.rounding in ("trn", "trn_zero") else 0.5 * 2.0**-inp.frac
            )
            self.table = [out.quantize(f(spec.lo + k * step + centre)) for k in range(n)]
            self.slopes: list[int] = []
        else:
            slope_t = FixedType.parse(spec.slope)
            ys = [out.quantize(f(spec.lo + k * step)) for k in range(n + 1)]
            # slope code = (Y[k+1] - Y[k]) * 2**-out.frac / step, in the slope format
            self.table = ys[:n]
            self.slopes = [
                slope_t.quantize(out.to_float(ys[k + 1] - ys[k]) / step) for k in range(n)
            ]
            self.slope_type = slope_t

    def unit(self, inp: FixedType) -> ActivationUnit:
        return ActivationUnit(self, inp)


class ActivationUnit:
    """An :class:`Activation` reading codes of one input format (the index shift depends on the
    input's fraction bits)."""

    def __init__(self, act: Activation, inp: FixedType) -> None:
        spec = act.spec
        self.act, self.inp = act, inp
        self.shift = spec.span_bits + inp.frac - spec.size_bits
        if self.shift < 0:
            raise SquallError(
                f"{act.fn} table of {spec.size} entries over [{spec.lo}, "
                f"{spec.hi}) is finer than the input format {inp} resolves"
            )
        lo = spec.lo * 2.0**inp.frac
        if lo != int(lo):
            raise SquallError(f"{act.fn} range start {spec.lo} is not a multiple of {inp}'s LSB")
        self.lo_code = int(lo)
        self.hi_code = self.lo_code + (spec.size << self.shift) - 1  # last code in range
        self.expanded: list[int] | None = None
        if inp.width <= EXPAND_BITS:
            codes = np.arange(inp.min_code, inp.max_code + 1, dtype=np.int64)
            self.array = self.direct_many(codes)
            self.expanded = self.array.tolist()

    def index(self, code: int) -> int:
        """The table index of an input code (clamped into the range first)."""
        c = min(max(code, self.lo_code), self.hi_code)
        return (c - self.lo_code) >> self.shift

    def direct(self, code: int) -> int:
        """The output code for an input code, computed from the table (the hardware's way)."""
        c = min(max(code, self.lo_code), self.hi_code)
        k = (c - self.lo_code) >> self.shift
        act = self.act
        if act.spec.method == "lut":
            return act.table[k]
        d = c - self.lo_code - (k << self.shift)  # offset in the segment, inp.frac bits
        frac = act.slope_type.frac + self.inp.frac
        acc = (act.table[k] << (frac - act.out.frac)) + act.slopes[k] * d
        return act.out.requantize(acc, frac)

    def direct_many(self, codes: NDArray[np.int64]) -> NDArray[np.int64]:
        """:meth:`direct` on an int64 array (the same operations; tested equal on every code)."""
        c = codes.clip(self.lo_code, self.hi_code)
        k = (c - self.lo_code) >> self.shift
        act = self.act
        table = np.array(act.table, dtype=np.int64)
        if act.spec.method == "lut":
            looked_up: NDArray[np.int64] = table[k]  # (numpy's stubs type this indexing Any)
            return looked_up
        d = c - self.lo_code - (k << self.shift)
        frac = act.slope_type.frac + self.inp.frac
        acc = (table[k] << (frac - act.out.frac)) + np.array(act.slopes, dtype=np.int64)[k] * d
        return act.out.requantize(acc, frac)

    def outputs(self) -> NDArray[np.int64]:
        """Every distinct output code (the inputs outside the table's range repeat its ends)."""
        if self.expanded is not None:
            return np.unique(self.array)
        lo, hi = max(self.inp.min_code, self.lo_code), min(self.inp.max_code, self.hi_code)
        return np.unique(self.direct_many(np.arange(lo, hi + 1, dtype=np.int64)))

    def __call__(self, code: int) -> int:
        if self.expanded is not None:
            return self.expanded[code - self.inp.min_code]
        return self.direct(code)

    def many(self, codes: NDArray[np.int64]) -> NDArray[np.int64]:
        if self.expanded is not None:
            looked_up: NDArray[np.int64] = self.array[codes - self.inp.min_code]  # (stubs: Any)
            return looked_up
        return self.direct_many(codes)
