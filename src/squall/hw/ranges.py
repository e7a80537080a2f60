"""Measured ranges of every weight and every intermediate signal, and a fixed-point format for
each from a stated headroom rule (``squall hw ranges``).

The signals come from :func:`trace_signals`: the numpy engine's own step run in float64 with a
per-step trace of every intermediate of every window
(:meth:`squall.engines.numpy_engine.NumpyEngine.trace`; checked against the pure engine's trace
in ``tests/hw/test_fixed_tools.py``). Per LSTM layer: the input ``x``, the mat-vec results
``Wx`` (input) and ``Uh`` (recurrent), the pre-activations ``z_i, z_f, z_g, z_o`` (the sigmoid
and tanh inputs), the products ``fc = f c_prev`` and ``ig = i g`` of the cell update, the activation
outputs ``i, f, o`` (sigmoid) and ``g`` (tanh), the cell state ``c`` (also tanh's input),
``tanh_c`` and ``h``. Per dense layer: ``x``, ``Wx`` and the output ``y``.

The format rule (``bits`` total, 16 by default), per signal:

* **weights and biases** (constants, known exactly): no headroom. Integer bits (sign included)
  ``I = floor(log2(max|w|)) + 2``, the fewest whose range ``[-2**(I-1), 2**(I-1))`` holds the
  largest magnitude; ``Q{I}.{bits-I}``.
* **measured signals**: one guard bit, i.e. the same rule applied to ``2 max|v|``, because real
  data can exceed what these windows showed.
* **activation outputs**: their analytic bounds, not the measurement: sigmoid in [0, 1] is
  unsigned with one integer bit, ``UQ1.{bits-1}`` (1.0 exactly representable); tanh in [-1, 1] is
  ``Q1.{bits-1}`` (+1 saturates to 1 - 1 LSB).
* **activation inputs** (the pre-activations) saturate harmlessly where the function is flat,
  so they need at most the range where sigmoid or tanh still changes by more than ``FLAT``
  (1e-3): |z| < 6.9 for sigmoid, 3.8 for tanh; the rule's format is capped there (sigmoid: 4
  integer bits, [-8, 8); tanh: 3, [-4, 4)). The cell state c is tanh's input too, but it is also
  a state fed back through ``f c``, so it is not capped: it gets the measured-signal rule.

A group recommendation then gives the formats a datapath shares: *weights* (W, U, b of every
layer; and W, U alone), *vectors* (x, h, the pre-activations and the dense outputs: the widest
of their formats), the *cell state* c, *sigmoid outputs* and *tanh outputs*. On the seed model
this reproduces the user's choice, Q4.12 vectors, Q2.14 weights (the biases reach 1.06; W and U
alone fit Q1.15) and UQ1.15 sigmoid outputs, and adds one finding: c reaches 8.1 in layer 1,
beyond Q4.12's range, so c would want Q6.10 (the 16-bit preset keeps Q4.12 and saturates c
there; ``squall hw accuracy`` counts how often).
"""

from __future__ import annotations

import csv
import io
import math
import os
from dataclasses import dataclass, field

import numpy as np

from squall.bundle import Bundle
from squall.engines.fixedpoint import FixedType
from squall.engines.numpy_engine import NumpyEngine
from squall.errors import NAME, ParameterError, SquallError
from squall.io import write_report as _write_report
from squall.text import plural

#: Percentiles reported by default.
PERCENTILES = (0.1, 1.0, 50.0, 99.0, 99.9)
#: An activation input beyond the point where the function is within FLAT of its limit may
#: saturate.
FLAT = 1e-3
#: Measured signals get this factor of headroom (one guard bit).
HEADROOM = 2.0

DENSE_SIGNALS = ("x", "Wx", "y")
SIGMOID_OUT, TANH_OUT = ("i", "f", "o"), ("g", "tanh_c")
SIGMOID_IN, TANH_IN = ("z_i", "z_f", "z_o"), ("z_g",)
VECTORS = ("x", "h", "z_i", "z_f", "z_g", "z_o", "y")


def trace_signals(bundle: Bundle, x: np.ndarray):
    """Yield ``(layer index, kind, {signal: float64 array})`` for every LSTM and dense layer of
    the model run on scaled windows ``x`` (N, T, F); each array is (N, T, width). The numpy
    engine's own step computes them, in float64 (:meth:`NumpyEngine.trace`); the arrays of one
    run of LSTM layers advancing together are alive at a time."""
    x = np.asarray(x, dtype=np.float64)
    yield from NumpyEngine(bundle, dtype="float64", threads=1).trace(x)


# ---------------------------------------------------------------- formats


def int_bits(magnitude: float) -> int:
    """Integer bits (sign included) of the smallest signed format holding ``magnitude``:
    ``floor(log2(magnitude)) + 2``, at least 1."""
    if not magnitude > 0:
        return 1
    return max(1, math.floor(math.log2(magnitude)) + 2)


def _flat_limit(fn: str) -> float:
    """The input beyond which ``fn`` is within :data:`FLAT` of its limit."""
    if fn == "sigmoid":
        return math.log(1 / FLAT - 1)  # sigmoid(x) = 1 - FLAT
    return math.atanh(1 - FLAT)


def recommend(signal: str, absmax: float, bits: int, constant: bool = False) -> tuple[str, str]:
    """A format for one signal and the rule that chose it (see the module docstring)."""
    if signal in SIGMOID_OUT:
        return f"UQ1.{bits - 1}", "sigmoid output: analytic [0, 1], unsigned"
    if signal in TANH_OUT:
        return f"Q1.{bits - 1}", "tanh output: analytic [-1, 1] (+1 saturates by 1 LSB)"
    if constant:
        ints = int_bits(absmax)
        return f"Q{ints}.{bits - ints}", f"constant: holds max |w| {absmax:.3g}, no headroom"
    ints = int_bits(HEADROOM * absmax)
    rule = f"measured: {HEADROOM:g} x max |v| = {HEADROOM * absmax:.3g}"
    fn = "sigmoid" if signal in SIGMOID_IN else "tanh" if signal in TANH_IN else None
    if fn is not None:
        cap = int_bits(_flat_limit(fn))
        if ints > cap:
            ints = cap
            rule += f", capped: {fn} is within {FLAT:g} of its limit beyond {_flat_limit(fn):.2g}"
    return f"Q{ints}.{bits - ints}", rule


# ---------------------------------------------------------------- the report


@dataclass
class SignalRange:
    name: str  # e.g. "layer0.z_f" or "layers.0.W"
    layer: int
    signal: str  # W, U, b for weights
    kind: str  # weight | signal
    count: int
    min: float
    max: float
    absmax: float
    percentiles: dict[str, float]
    format: str
    rule: str

    def as_dict(self) -> dict:
        return dict(self.__dict__)


@dataclass
class RangeReport:
    windows: int
    bits: int
    percentiles: tuple[float, ...]
    rows: list[SignalRange] = field(default_factory=list)
    groups: dict[str, dict] = field(default_factory=dict)

    def as_dict(self) -> dict:
        return {
            "windows": self.windows,
            "bits": self.bits,
            "percentiles": list(self.percentiles),
            "rule": RULE,
            "groups": self.groups,
            "signals": [r.as_dict() for r in self.rows],
        }

    def csv(self) -> str:
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        pcols = [_pname(p) for p in self.percentiles]
        w.writerow(
            [
                "name",
                "layer",
                "signal",
                "kind",
                "count",
                "min",
                "max",
                "absmax",
                *pcols,
                "format",
                "rule",
            ]
        )
        for r in self.rows:
            w.writerow(
                [
                    r.name,
                    r.layer,
                    r.signal,
                    r.kind,
                    r.count,
                    repr(r.min),
                    repr(r.max),
                    repr(r.absmax),
                    *(repr(r.percentiles[p]) for p in pcols),
                    r.format,
                    r.rule,
                ]
            )
        return buf.getvalue()

    def table(self) -> str:
        pcols = [_pname(p) for p in self.percentiles]
        head = ["signal", "min", *pcols, "max", "format"]
        rows = [
            [
                r.name,
                f"{r.min:.4g}",
                *(f"{r.percentiles[p]:.4g}" for p in pcols),
                f"{r.max:.4g}",
                r.format,
            ]
            for r in self.rows
        ]
        widths = [max(len(str(x)) for x in col) for col in zip(head, *rows, strict=True)]
        fmt = "  ".join(f"{{:{'<' if k == 0 else '>'}{w}}}" for k, w in enumerate(widths))
        lines = [
            f"ranges over {plural(self.windows, 'window')}; formats for {self.bits}-bit words",
            "",
            fmt.format(*head),
        ] + [fmt.format(*r) for r in rows]
        lines += ["", "recommended formats:"]
        for name, g in self.groups.items():
            lines.append(f"  {name:16s} {g['format']:8s} ({g['why']})")
        lines += ["", "rule: " + RULE]
        return "\n".join(lines)


RULE = (
    f"weights: integer bits (sign included) I = floor(log2(max|w|)) + 2, no headroom; "
    f"measured signals: the same on {HEADROOM:g} x max|v| (one guard bit); activation inputs "
    f"capped where sigmoid/tanh is within {FLAT:g} of its limit; sigmoid outputs UQ1.(n-1), "
    f"tanh outputs Q1.(n-1) (analytic bounds)"
)


def _pname(p: float) -> str:
    return f"p{p:g}"


def _stats(values: np.ndarray, percentiles) -> tuple[int, float, float, float, dict]:
    v = values.ravel()
    ps = np.percentile(v, list(percentiles)) if len(v) else [math.nan] * len(percentiles)
    return (
        len(v),
        float(v.min()),
        float(v.max()),
        float(np.abs(v).max()),
        {_pname(p): float(q) for p, q in zip(percentiles, ps, strict=True)},
    )


def measure(
    bundle: Bundle, x: np.ndarray, bits: int = 16, percentiles: tuple[float, ...] = PERCENTILES
) -> RangeReport:
    """Ranges of every weight tensor and every signal on the scaled windows ``x``."""
    if not 4 <= bits <= 32:
        raise ParameterError("bits", f"{NAME} must be between 4 and 32, got {bits}")
    for p in percentiles:
        if not 0 <= p <= 100:
            raise SquallError(f"percentiles must be between 0 and 100, got {p}")
    x = np.asarray(x)
    if x.ndim != 3 or len(x) == 0:
        raise SquallError("no windows to measure")
    report = RangeReport(len(x), bits, tuple(percentiles))
    for i in range(len(bundle.layers)):
        for k in ("W", "U", "b"):
            name = f"layers.{i}.{k}"
            if name in bundle.weights:
                n, lo, hi, am, ps = _stats(
                    np.asarray(bundle.weights[name], np.float64), percentiles
                )
                fmt, rule = recommend(k, am, bits, constant=True)
                report.rows.append(SignalRange(name, i, k, "weight", n, lo, hi, am, ps, fmt, rule))
    for i, _kind, signals in trace_signals(bundle, x):
        for k, v in signals.items():
            n, lo, hi, am, ps = _stats(v, percentiles)
            fmt, rule = recommend(k, am, bits)
            report.rows.append(
                SignalRange(f"layer{i}.{k}", i, k, "signal", n, lo, hi, am, ps, fmt, rule)
            )
    report.groups = _groups(report.rows, bits)
    return report


def _widest(rows: list[SignalRange]) -> SignalRange:
    return max(rows, key=lambda r: (FixedType.parse(r.format).int_bits, r.absmax))


def _groups(rows: list[SignalRange], bits: int) -> dict[str, dict]:
    weights = [r for r in rows if r.kind == "weight"]
    vectors = [r for r in rows if r.kind == "signal" and r.signal in VECTORS]
    out = {}
    if weights:
        w = _widest(weights)
        out["weights"] = {"format": w.format, "why": f"widest: {w.name}, max |w| {w.absmax:.3g}"}
        wu = [r for r in weights if r.signal in ("W", "U")]
        if wu:
            m = _widest(wu)
            out["W, U only"] = {
                "format": m.format,
                "why": f"widest: {m.name}, max |w| {m.absmax:.3g}",
            }
    if vectors:
        v = _widest(vectors)
        out["vectors"] = {
            "format": v.format,
            "why": f"widest: {v.name}, max |v| {v.absmax:.3g}; {v.rule}",
        }
    cells = [r for r in rows if r.kind == "signal" and r.signal == "c"]
    if cells:
        c = _widest(cells)
        why = f"widest: {c.name}, max |c| {c.absmax:.3g}; {c.rule}"
        if (
            vectors
            and FixedType.parse(c.format).int_bits
            > FixedType.parse(out["vectors"]["format"]).int_bits
        ):
            lim = 2.0 ** (FixedType.parse(out["vectors"]["format"]).int_bits - 1)
            if c.absmax >= lim:
                why += f"; in the vectors' format c would saturate at {lim:g}"
        out["cell state c"] = {"format": c.format, "why": why}
    out["sigmoid outputs"] = {"format": f"UQ1.{bits - 1}", "why": "analytic [0, 1]"}
    out["tanh outputs"] = {"format": f"Q1.{bits - 1}", "why": "analytic [-1, 1]"}
    return out


def write_report(report: RangeReport, path: str | os.PathLike[str]) -> None:
    """Write the report as CSV or JSON (by the suffix)."""
    _write_report(path, report.as_dict, report.csv)
