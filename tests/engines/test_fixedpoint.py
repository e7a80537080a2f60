"""squall.engines.fixedpoint against apytypes, bit for bit.

apytypes implements the hardware rounding and overflow modes (its names are the SystemC ones we
use); it only has signed (two's complement) types, so unsigned results are checked through a
signed type one bit wider: wrapping that and keeping the low ``width`` bits is unsigned wrapping,
saturating it and clamping below at zero is unsigned saturation.
"""

import math
import random

import numpy as np
import pytest

from squall.engines.fixedpoint import (
    OVERFLOW,
    ROUNDING,
    FixedPointError,
    FixedType,
    accumulator_bits,
    align,
    dot,
    is_tie,
    overflow,
    product_bits,
    shift_round,
    signed_bits,
)

apy = pytest.importorskip("apytypes")

QMODE = {
    "trn": "TRN",
    "trn_zero": "TRN_ZERO",
    "rnd": "RND",
    "rnd_zero": "RND_ZERO",
    "rnd_inf": "RND_INF",
    "rnd_conv": "RND_CONV",
}
OMODE = {"sat": "SAT", "wrap": "WRAP"}
SRC = (40, 26)  # source codes: 40 bits, 26 fraction bits (a Q2.14 x Q4.12 accumulator)
TARGETS = ["Q4.12", "Q2.14", "Q1.7", "Q4.8", "Q1.15", "Q8.0", "Q3.27"]


def _signed(bits: int, width: int) -> int:
    return bits - (1 << width) if bits >> (width - 1) else bits


def _oracle(codes, src_width, src_frac, t: FixedType) -> list[int]:
    """Requantize with apytypes (signed source codes of src_width bits)."""
    signed = t.signed
    width = t.width if signed else t.width + 1
    arr = apy.APyFixedArray(
        [c & ((1 << src_width) - 1) for c in codes],
        int_bits=src_width - src_frac,
        frac_bits=src_frac,
    )
    out = arr.cast(
        int_bits=width - t.frac,
        frac_bits=t.frac,
        quantization=getattr(apy.QuantizationMode, QMODE[t.rounding]),
        overflow=getattr(apy.OverflowMode, OMODE[t.overflow]),
    )
    got = [_signed(int(b), width) for b in out.to_bits()]
    if signed:
        return got
    if t.overflow == "wrap":
        return [g & ((1 << t.width) - 1) for g in got]
    return [max(g, 0) for g in got]


def _codes(rng: random.Random, n: int, width: int, shift: int) -> list[int]:
    """Random source codes: uniform, near zero, exact ties and near-ties of a ``shift``-bit
    right shift, and the extremes."""
    lo, hi = -(1 << (width - 1)), (1 << (width - 1)) - 1
    out = [lo, hi, 0, -1, 1]
    for _ in range(n):
        kind = rng.randrange(4)
        if kind == 0:
            out.append(rng.randint(lo, hi))
        elif kind == 1:
            out.append(rng.randint(-(1 << (shift + 16)), 1 << (shift + 16)))
        else:
            base = rng.randint(-(1 << (width - shift - 2)), 1 << (width - shift - 2)) << shift
            tie = (1 << (shift - 1)) if shift > 0 else 0
            out.append(base + tie + (0 if kind == 2 else rng.choice((-1, 1))))
    return [min(max(c, lo), hi) for c in out]


@pytest.mark.parametrize("overflow_mode", OVERFLOW)
@pytest.mark.parametrize("rounding", ROUNDING)
def test_requantize_matches_apytypes(rounding, overflow_mode):
    rng = random.Random(f"{rounding}-{overflow_mode}")
    for target in TARGETS + ["UQ1.15", "UQ0.8"]:
        t = FixedType.parse(target, rounding, overflow_mode)
        codes = _codes(rng, 400, SRC[0], max(SRC[1] - t.frac, 1))
        want = _oracle(codes, *SRC, t)
        assert [t.requantize(c, SRC[1]) for c in codes] == want, target
        # the same helpers on numpy int64 arrays give the same codes
        got = t.requantize(np.array(codes, dtype=np.int64), SRC[1])
        assert got.dtype == np.int64 and got.tolist() == want, target


@pytest.mark.parametrize("rounding", ROUNDING)
def test_quantize_floats_matches_apytypes(rounding):
    rng = random.Random(rounding)
    for target in ("Q4.12", "Q2.14", "Q1.7", "UQ1.15"):
        t = FixedType.parse(target, rounding)
        lsb = math.ldexp(1.0, -t.frac)
        xs = [rng.uniform(-10, 10) for _ in range(300)]
        xs += [(rng.randint(-40000, 40000) + 0.5) * lsb for _ in range(100)]  # exact ties
        xs += [rng.uniform(-1e-3, 1e-3) for _ in range(50)] + [0.0, -0.0, 1e6, -1e6, 7.99999]
        # exact in apytypes: 120 fraction bits hold every float of these magnitudes exactly
        width = t.width if t.signed else t.width + 1
        big = apy.APyFixedArray.from_float(xs, int_bits=70, frac_bits=120)
        cast = big.cast(
            int_bits=width - t.frac,
            frac_bits=t.frac,
            quantization=getattr(apy.QuantizationMode, QMODE[rounding]),
            overflow=apy.OverflowMode.SAT,
        )
        want = [_signed(int(b), width) for b in cast.to_bits()]
        if not t.signed:
            want = [max(w, 0) for w in want]
        assert [t.quantize(x) for x in xs] == want, target


def test_parse_and_print():
    t = FixedType.parse("Q4.12")
    assert (t.width, t.frac, t.signed, t.int_bits) == (16, 12, True, 4)
    assert str(t) == "Q4.12" and t.spec == "Q4.12/rnd/sat"
    assert (t.min_code, t.max_code, t.min_value, t.max_value) == (-32768, 32767, -8.0, 8 - 2**-12)
    u = FixedType.parse("UQ1.15")
    assert (u.width, u.frac, u.signed, u.min_code, u.max_code) == (16, 15, False, 0, 65535)
    assert u.name == "UQ1.15" and u.max_value == 2 - 2**-15
    w = FixedType.parse("Q2.14/rnd_conv/wrap")
    assert (w.rounding, w.overflow) == ("rnd_conv", "wrap")
    assert FixedType.parse(w.spec) == w
    assert FixedType.parse("Q4.12", "half_even", "saturate").rounding == "rnd_conv"
    assert FixedType.parse("Q-2.10").width == 8  # values below 2**-3: fine for tiny weights
    for bad in ("Q4", "4.12", "Q4.12/nearest", "Q4.12/rnd/clip", "UQ0.0", "Q1.0"):
        with pytest.raises(FixedPointError):
            FixedType.parse(bad)
    with pytest.raises(FixedPointError, match="cannot quantize"):
        t.quantize(float("nan"))


def test_hex_words_round_trip():
    t, u = FixedType.parse("Q4.12"), FixedType.parse("UQ1.15")
    assert t.to_hex(-1) == "ffff" and t.to_hex(-32768) == "8000" and t.to_hex(4096) == "1000"
    assert FixedType.parse("Q2.10").to_hex(-1) == "fff"
    assert FixedType.parse("Q1.7").to_hex(-128) == "80"
    assert u.to_hex(65535) == "ffff" and u.from_hex("ffff") == 65535
    for code in (-32768, -1, 0, 1, 32767, -12345):
        assert t.from_hex(t.to_hex(code)) == code
    with pytest.raises(FixedPointError):
        t.to_hex(40000)
    with pytest.raises(FixedPointError):
        t.from_hex("1ffff")


def test_value_conversions_are_exact():
    t = FixedType.parse("Q4.12")
    assert t.quantize(1.0) == 4096 and t.to_float(4096) == 1.0
    assert t.quantize(100.0) == 32767 and t.quantize(-100.0) == -32768  # saturates
    assert FixedType.parse("Q4.12/rnd/wrap").quantize(8.0) == -32768  # wraps
    assert t.quantize(2**-13) == 1 and FixedType.parse("Q4.12/rnd_conv").quantize(2**-13) == 0
    assert t.to_fraction(3) * 4096 == 3
    assert align(3, 12, 26) == 3 << 14
    with pytest.raises(FixedPointError):
        align(3, 26, 12)


def test_shift_round_small_cases():
    # -2.5, -1.5, -0.5, 0.5, 1.5, 2.5 (in halves) for each mode
    halves = [-5, -3, -1, 1, 3, 5]
    want = {
        "trn": [-3, -2, -1, 0, 1, 2],
        "trn_zero": [-2, -1, 0, 0, 1, 2],
        "rnd": [-2, -1, 0, 1, 2, 3],
        "rnd_zero": [-2, -1, 0, 0, 1, 2],
        "rnd_inf": [-3, -2, -1, 1, 2, 3],
        "rnd_conv": [-2, -2, 0, 0, 2, 2],
    }
    for mode, expected in want.items():
        assert [shift_round(v, 1, mode) for v in halves] == expected, mode
    assert shift_round(3, -2) == 12
    assert is_tie(0b1010_1000, 4) and not is_tie(0b1010_1001, 4) and not is_tie(5, 0)
    with pytest.raises(FixedPointError):
        shift_round(5, 1, "nearest")


def test_overflow_modes():
    t = FixedType.parse("Q1.3")
    assert [overflow(c, t) for c in (-9, -8, 7, 8, 100)] == [-8, -8, 7, 7, 7]
    w = t.with_modes(overflow="wrap")
    assert [overflow(c, w) for c in (-9, -8, 7, 8, 17)] == [7, -8, 7, -8, 1]


@pytest.mark.parametrize("a,b", [("Q2.3", "Q3.2"), ("Q1.3", "UQ1.3"), ("UQ1.2", "UQ2.1")])
def test_accumulator_width_rule_is_enough_and_tight(a, b):
    """Exhaustively: the extreme sums of ``terms`` products fit the stated width, and for
    signed inputs the rule is tight (one bit fewer does not hold min*min summed)."""
    ta, tb = FixedType.parse(a), FixedType.parse(b)
    prods = [x * y for x in (ta.min_code, ta.max_code) for y in (tb.min_code, tb.max_code)]
    for terms in (1, 2, 3, 5, 8, 97):
        bits = accumulator_bits(ta, tb, terms)
        assert signed_bits(terms * max(prods)) <= bits and signed_bits(terms * min(prods)) <= bits
    assert signed_bits(max(prods)) == product_bits(ta, tb) or not (ta.signed and tb.signed)
    assert accumulator_bits(FixedType.parse("Q2.14"), FixedType.parse("Q4.12"), 97) == 39


def test_dot_is_exact():
    rng = random.Random(0)
    a = [rng.randint(-32768, 32767) for _ in range(97)]
    b = [rng.randint(-32768, 32767) for _ in range(97)]
    assert dot(a, b) == int(np.dot(np.array(a, dtype=object), np.array(b, dtype=object)))
    assert signed_bits(dot(a, b)) <= 39
    assert signed_bits(-1) == 1 and signed_bits(0) == 1 and signed_bits(127) == 8
    assert signed_bits(-128) == 8 and signed_bits(128) == 9
