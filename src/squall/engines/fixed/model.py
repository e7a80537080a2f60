"""The fixed engine's model: a bundle's layers in integer codes, run bit-accurately, two backends.

Every number is an integer code of a :class:`squall.engines.fixedpoint.FixedType` named in a
:class:`FixedConfig` (a JSON-able value with presets). Floats appear only at the boundary: the
weights and the scaled windows are quantized once (exactly, :meth:`FixedType.quantize`), the
activation tables are built once from ``math.exp``/``math.tanh``, and the output codes are turned
back into floats. In between, per LSTM step (``d``: the data format of x and h, ``w``: weights,
``b``: bias, ``z``: pre-activations, ``s``/``t``: sigmoid/tanh outputs, ``cell``: c)::

    acc[r] = sum_j W[r][j] x[j] + sum_j U[r][j] h[j] + (b[r] << (w.frac + d.frac - b.frac))
             exact, w.frac + d.frac fraction bits, accumulator_bits(w, d, n + H + 1) wide
    z      = requantize(acc -> z)                     round and saturate #1 (before activations)
    i, f, o = sigmoid(z_i, z_f, z_o)   in s          table / piecewise-linear lookups
    g       = tanh(z_g)                in t
    c'     = requantize((f c << a) + (i g << a') -> cell)   round and saturate #2 (state register)
    h'     = requantize(o * tanh(c') -> d)                   round and saturate #3 (state register)

where ``f c`` (``s.frac + cell.frac`` fraction bits) and ``i g`` (``s.frac + t.frac``) are aligned
to the larger of the two by exact left shifts. A dense layer is ``acc = W x + (b << ...)``, then
one round and saturate to ``d``. After a ``repeat`` the projection ``W v + b`` is kept as the
exact accumulator value and each step adds ``U h`` to it: the same integers as the fused sum, so
the hardware may do either.

A GRU step (gate order r, z, n; ``a`` and ``u`` exact, bias aligned as above)::

    a      = W x + (b_i << ...)         (after a repeat: once per window)
    u      = U h + (b_h << ...)
    r, z   = sigmoid(requantize(a + u -> z))               round and saturate #1, r and z rows
    a_n, u_n = requantize(a_n -> z), requantize(u_n -> z)  #1 for the n rows, each apart
    n      = tanh(requantize((a_n << s.frac) + r u_n -> z))          #2 (z.frac + s.frac bits)
    h'     = requantize((n << s.frac) + z (h - n) -> d)              #3, h' = (1 - z) n + z h

with n (tanh codes) and h (data codes) aligned to the larger of their fraction counts by exact
left shifts. The n and h sums are :attr:`FixedModel.gru_bits` wide (36 for the 16-bit preset).
:class:`FixedModel` builds GRU and decoder layers only with ``all_layers=True`` (the engine
passes it): the RTL generator and ``squall hw export`` build it directly and know LSTM and dense
layers only, so for them a GRU or a decoder stays a one-line refusal. A dense layer also runs on
one vector per window (after an LSTM or GRU without ``return_sequences``; after a repeat its
output is spread over the steps).
Every task runs (a forecaster's lookback in, its horizon out; a classifier's vector out); each
layer runs its own number of steps (the walk's: a repeat's count after one). A decoder is its
parts: the projection and ``Wo h + bo`` as dense layers (rounded to data codes), the cell as a
GRU or LSTM step (an LSTM cell's two biases added in float, then quantized once), its output fed
back as data codes. A dense layer's activation (``relu``, ``tanh``,
``sigmoid``) works on its rounded output: ``max(y, 0)`` on data codes, or the pre-activation
rounding, the LSTM's table and a rounding of the table's output to data codes (the hardware
tools: linear only). A conv1d layer is an exact sum over its k taps (zeros before step 0 when
causal) rounded to data codes, as a dense layer. An rfft layer: exact sums with cos and sin in
weight codes, then a CORDIC for the phase and amplitude (:class:`FixedRfft`), both rounded to
data codes. Every layer type of :mod:`squall.model` runs.

The accumulator width rule (:func:`squall.engines.fixedpoint.accumulator_bits`): ``w.width + d.width
+ ceil(log2(n + H + 1))`` bits, with ``n + H`` products and the bias as one more term (checked:
the aligned bias is no larger than a product's bound). For the 16-bit preset and the seed model's
widest layer (64 + 32 inputs) that is 16 + 16 + 7 = 39 bits. The cell update needs
``max(s.width + cell.width + a, s.width + t.width + a') + 1`` bits (36 for the 16-bit preset).
Python integers never wrap; the batch backend uses numpy int64 and refuses a configuration whose
accumulators would need more than 62 bits.

Two backends compute the same integers: ``python`` (plain ints, one window at a time; the
reference, and what the golden vectors come from) and ``numpy`` (int64, all windows at once, the
default; ``tests/engines/test_fixed_engine.py`` checks it equals ``python`` bit for bit).
"""

from __future__ import annotations

import math
import operator
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from squall.bundle import Bundle
from squall.engines.base import Engine, Windows
from squall.engines.fixed.config import ConfigLike, FixedConfig, resolve_config
from squall.engines.fixed.tables import Activation, ActivationUnit
from squall.engines.fixedpoint import FixedType, accumulator_bits, is_tie, shift_round, signed_bits
from squall.errors import SquallError
from squall.model import Conv1d, Decoder, Dense, Gru, Layer, Lstm, Repeat, Rfft

#: Largest accumulator the numpy backend accepts (int64, one bit spare for rounding offsets).
INT64_BITS = 62

#: Integer codes of the numpy backend (all windows at once).
CodeArray = NDArray[np.int64]
#: A layer's weights for the numpy backend: ``(W, U, b_acc)``; ``U`` is None for a dense layer.
LayerArrays = tuple[CodeArray, CodeArray | None, CodeArray]
#: The numpy backend's requantization: ``rq(values, src_frac, to_type, point)``.
Requantize = Callable[[CodeArray, int, FixedType, str], CodeArray]
#: A replacement for an LSTM layer's steps: ``(layer, x, h, c) -> (h, c)`` on codes.
StepFunction = Callable[["FixedLstm", list[int], list[int], list[int]], tuple[list[int], list[int]]]
#: One record of a trace (:meth:`FixedModel.reconstruct_codes`).
TraceRecord = dict[str, Any]


# ---------------------------------------------------------------- requantization on ints


def requantizer(src_frac: int, t: FixedType) -> Callable[[int], int]:
    """A fast ``int -> int`` function equal to ``t.requantize(v, src_frac)``."""
    shift, lo, hi = src_frac - t.frac, t.min_code, t.max_code
    if t.overflow == "sat" and t.rounding == "rnd" and shift > 0:
        half = 1 << (shift - 1)

        def rq(v: int) -> int:
            v = (v + half) >> shift
            return lo if v < lo else hi if v > hi else v

        return rq
    if t.overflow == "sat" and t.rounding == "trn" and shift > 0:

        def rq_trn(v: int) -> int:
            v >>= shift
            return lo if v < lo else hi if v > hi else v

        return rq_trn
    return lambda v: t.requantize(v, src_frac)


# ---------------------------------------------------------------- the model


class _RecurrentArrays:
    """The integer arrays of a recurrent layer's numpy backend: input weights, recurrent
    weights and the bias aligned to the accumulator (shared by the LSTM and the GRU)."""

    W: list[list[int]]
    U: list[list[int]]
    b_acc: list[int]

    def arrays(self) -> LayerArrays:
        return (
            np.array(self.W, dtype=np.int64),
            np.array(self.U, dtype=np.int64),
            np.array(self.b_acc, dtype=np.int64),
        )


@dataclass
class FixedLstm(_RecurrentArrays):
    index: int
    inputs: int
    hidden: int
    return_sequences: bool
    W: list[list[int]]  # (4H, n) weight codes, gate order i, f, g, o
    U: list[list[int]]  # (4H, H)
    b: list[int]  # (4H) bias codes
    b_acc: list[int]  # bias aligned to the accumulator's fraction bits
    WU: list[list[int]]  # row r: W[r] + U[r], for the fused pass over [x, h]
    acc_bits: int  # the width rule for this layer
    steps: int = 0  # input steps (the walk's: a repeat's count after one); 0: the window's

    def codes(
        self,
        m: FixedModel,
        seq: list[list[int]] | None,
        latent: list[int] | None,
        trace: list[TraceRecord] | None,
        steps: Mapping[int, StepFunction] | None,
    ) -> tuple[list[list[int]] | None, list[int] | None]:
        """Python backend: this layer over one window; (sequence, latent vector) out."""
        H = self.hidden
        h, c = [0] * H, [0] * H
        proj = None if latent is None else m.projection(self, latent)
        rows: Sequence[list[int]] = () if seq is None else seq
        outs = []
        for t in range(self.steps or m.length):
            x = latent if latent is not None else rows[t]
            if steps is not None and self.index in steps:
                h_new, c_new = steps[self.index](self, list(x), list(h), list(c))
            else:
                h_new, c_new = m.lstm_step(self, x, h, c, proj)
            if trace is not None:
                trace.append(
                    {
                        "layer": self.index,
                        "kind": "lstm",
                        "step": t,
                        "x": list(x),
                        "h_prev": h,
                        "c_prev": c,
                        "h": h_new,
                        "c": c_new,
                    }
                )
            h, c = h_new, c_new
            outs.append(h)
        return (outs, None) if self.return_sequences else (None, h)

    def run_array(
        self,
        m: FixedModel,
        arr: LayerArrays,
        seq: CodeArray | None,
        latent: CodeArray | None,
        rq: Requantize,
    ) -> tuple[CodeArray | None, CodeArray | None]:
        """numpy backend: this layer over all windows (N, T, n) or a latent (N, n)."""
        W, U, b = arr
        assert U is not None, "an LSTM layer's arrays hold U"
        source = seq if latent is None else latent
        assert source is not None, "an LSTM layer reads a sequence or a repeated vector"
        H, N, T = self.hidden, source.shape[0], self.steps or m.length
        h: CodeArray = np.zeros((N, H), dtype=np.int64)
        c: CodeArray = np.zeros((N, H), dtype=np.int64)
        proj = None if latent is None else latent @ W.T + b
        outs = np.empty((N, T, H), dtype=np.int64)
        for t in range(T):
            if proj is None:
                assert seq is not None  # no latent: the input is a sequence
                acc = seq[:, t] @ W.T + h @ U.T + b
            else:
                acc = proj + h @ U.T
            h, c = self.array_update(m, acc, c, rq)
            outs[:, t] = h
        return (outs, None) if self.return_sequences else (None, h)

    def array_update(
        self, m: FixedModel, acc: CodeArray, c: CodeArray, rq: Requantize
    ) -> tuple[CodeArray, CodeArray]:
        """numpy backend: gates, c and h of one step from the exact accumulators (N, 4H)."""
        cfg, H = m.config, self.hidden
        z = rq(acc, m.acc_frac, cfg.preact, "z")
        s = m.sig_z.many(z)
        i, f, o = s[:, :H], s[:, H : 2 * H], s[:, 3 * H :]
        g = m.tanh_z.many(z[:, 2 * H : 3 * H])
        c = rq(((f * c) << m.fc_shift) + ((i * g) << m.ig_shift), m.cell_frac, cfg.cell, "c")
        h = rq(o * m.tanh_c.many(c), m.h_frac, cfg.data, "h")
        return h, c


@dataclass
class FixedDense:
    index: int
    W: list[list[int]]
    b: list[int]
    b_acc: list[int]
    acc_bits: int
    repeated: bool = False  # the input is a vector a repeat spreads over ``steps``
    steps: int = 0  # input steps (the walk's); 0: the window's
    activation: str = "linear"  # see FixedModel.activate

    def codes(
        self,
        m: FixedModel,
        seq: list[list[int]] | None,
        latent: list[int] | None,
        trace: list[TraceRecord] | None,
        steps: Mapping[int, StepFunction] | None,
    ) -> tuple[list[list[int]] | None, list[int] | None]:
        if seq is None:  # one vector per window: y once (at every step after a repeat)
            assert latent is not None, "a dense layer reads a sequence or a vector"
            y = m.dense(self, latent)
            if trace is not None:
                trace.append(
                    {"layer": self.index, "kind": "dense", "step": 0, "x": list(latent), "y": y}
                )
            return ([y] * (self.steps or m.length), None) if self.repeated else (None, y)
        out = []
        for t, x in enumerate(seq):
            y = m.dense(self, x)
            if trace is not None:
                trace.append(
                    {"layer": self.index, "kind": "dense", "step": t, "x": list(x), "y": y}
                )
            out.append(y)
        return out, None

    def arrays(self) -> LayerArrays:
        return (np.array(self.W, dtype=np.int64), None, np.array(self.b_acc, dtype=np.int64))

    def run_array(
        self,
        m: FixedModel,
        arr: LayerArrays,
        seq: CodeArray | None,
        latent: CodeArray | None,
        rq: Requantize,
    ) -> tuple[CodeArray | None, CodeArray | None]:
        W, _, b = arr
        if seq is None:  # one vector per window
            assert latent is not None, "a dense layer reads a sequence or a vector"
            y = m.activate_array(self.activation, latent @ W.T + b, rq)  # (N, m)
            if self.repeated:
                return np.repeat(y[:, None], self.steps or m.length, axis=1), None
            return None, y
        return m.activate_array(self.activation, seq @ W.T + b, rq), None


@dataclass
class FixedGru(_RecurrentArrays):
    """One GRU layer on codes (gate order r, z, n; see the module docstring for its rounding
    points). ``b_acc``, ``bh_acc``: the input and recurrent biases aligned to the accumulator."""

    index: int
    inputs: int
    hidden: int
    return_sequences: bool
    W: list[list[int]]  # (3H, n)
    U: list[list[int]]  # (3H, H)
    b_acc: list[int]  # (3H)
    bh_acc: list[int]  # (3H)
    acc_bits: int  # the width rule for a + u (n + H products and two biases)
    steps: int = 0  # input steps (the walk's); 0: the window's

    def codes(
        self,
        m: FixedModel,
        seq: list[list[int]] | None,
        latent: list[int] | None,
        trace: list[TraceRecord] | None,
        steps: Mapping[int, StepFunction] | None,
    ) -> tuple[list[list[int]] | None, list[int] | None]:
        """Python backend: this layer over one window; (sequence, latent vector) out."""
        mul = operator.mul
        h = [0] * self.hidden
        proj = None
        if latent is not None:  # after a repeat: W v + b once, exact
            proj = [
                sum(map(mul, row, latent)) + b for row, b in zip(self.W, self.b_acc, strict=True)
            ]
        rows: Sequence[list[int]] = () if seq is None else seq
        outs = []
        for t in range(self.steps or m.length):
            x = latent if latent is not None else rows[t]
            h_new = m.gru_step(self, x, h, proj)
            if trace is not None:
                trace.append(
                    {
                        "layer": self.index,
                        "kind": "gru",
                        "step": t,
                        "x": list(x),
                        "h_prev": h,
                        "h": h_new,
                    }
                )
            h = h_new
            outs.append(h)
        return (outs, None) if self.return_sequences else (None, h)

    def run_array(
        self,
        m: FixedModel,
        arr: LayerArrays,
        seq: CodeArray | None,
        latent: CodeArray | None,
        rq: Requantize,
    ) -> tuple[CodeArray | None, CodeArray | None]:
        """numpy backend: this layer over all windows (N, T, n) or a latent (N, n)."""
        W, U, b = arr
        assert U is not None, "a GRU layer's arrays hold U"
        bh = np.array(self.bh_acc, dtype=np.int64)
        source = seq if latent is None else latent
        assert source is not None, "a GRU layer reads a sequence or a repeated vector"
        H, N, T = self.hidden, source.shape[0], self.steps or m.length
        h: CodeArray = np.zeros((N, H), dtype=np.int64)
        proj = None if latent is None else latent @ W.T + b
        outs = np.empty((N, T, H), dtype=np.int64)
        for t in range(T):
            if proj is None:
                assert seq is not None
                a = seq[:, t] @ W.T + b
            else:
                a = proj
            h = self.array_update(m, a, h, U, bh, rq)
            outs[:, t] = h
        return (outs, None) if self.return_sequences else (None, h)

    def array_update(
        self, m: FixedModel, a: CodeArray, h: CodeArray, U: CodeArray, bh: CodeArray, rq: Requantize
    ) -> CodeArray:
        """numpy backend: one step from the exact input accumulators ``a`` (N, 3H)."""
        cfg, H = m.config, self.hidden
        sfrac, nsh, hsh = cfg.sigmoid.frac, m.gru_n_shift, m.gru_h_shift
        u = h @ U.T + bh
        rz = m.sig_z.many(rq(a[:, : 2 * H] + u[:, : 2 * H], m.acc_frac, cfg.preact, "z"))
        an = rq(a[:, 2 * H :], m.acc_frac, cfg.preact, "z")
        un = rq(u[:, 2 * H :], m.acc_frac, cfg.preact, "z")
        pre = rq((an << sfrac) + rz[:, :H] * un, m.acc_frac_n, cfg.preact, "z")
        n = m.tanh_z.many(pre) << nsh
        return rq((n << sfrac) + rz[:, H:] * ((h << hsh) - n), m.gru_h_frac, cfg.data, "h")


def _fixed_gru(
    m: FixedModel,
    spec: Gru,
    i: int,
    weights: Mapping[str, NDArray[Any]],
    product_bound: int,
    bias_bound: int,
) -> FixedGru:
    qw, qb = m.config.weight.quantize, m.config.bias.quantize
    W = [[qw(v) for v in row] for row in weights[f"layers.{i}.W"].tolist()]
    U = [[qw(v) for v in row] for row in weights[f"layers.{i}.U"].tolist()]
    b = [qb(v) << m.bias_shift for v in weights[f"layers.{i}.b"].tolist()]
    bh = [qb(v) << m.bias_shift for v in weights[f"layers.{i}.bh"].tolist()]
    bits = m._acc_bits(spec.input + spec.hidden + 1, product_bound, 2 * bias_bound)
    return FixedGru(i, spec.input, spec.hidden, spec.return_sequences, W, U, b, bh, bits)


def _fixed_lstm(
    m: FixedModel,
    spec: Lstm,
    i: int,
    weights: Mapping[str, NDArray[Any]],
    product_bound: int,
    bias_bound: int,
) -> FixedLstm:
    qw, qb = m.config.weight.quantize, m.config.bias.quantize
    W = [[qw(v) for v in row] for row in weights[f"layers.{i}.W"].tolist()]
    U = [[qw(v) for v in row] for row in weights[f"layers.{i}.U"].tolist()]
    b = [qb(v) for v in weights[f"layers.{i}.b"].tolist()]
    return FixedLstm(
        i,
        spec.input,
        spec.hidden,
        spec.return_sequences,
        W,
        U,
        b,
        [v << m.bias_shift for v in b],
        [w + u for w, u in zip(W, U, strict=True)],
        m._acc_bits(spec.input + spec.hidden, product_bound, bias_bound),
    )


def _fixed_dense(
    m: FixedModel,
    spec: Dense,
    i: int,
    weights: Mapping[str, NDArray[Any]],
    product_bound: int,
    bias_bound: int,
) -> FixedDense:
    qw, qb = m.config.weight.quantize, m.config.bias.quantize
    W = [[qw(v) for v in row] for row in weights[f"layers.{i}.W"].tolist()]
    b = [qb(v) for v in weights[f"layers.{i}.b"].tolist()]
    bits = m._acc_bits(spec.input, product_bound, bias_bound)
    return FixedDense(i, W, b, [v << m.bias_shift for v in b], bits, activation=spec.activation)


@dataclass
class FixedDecoder:
    """The decoder layer on codes: ``h_0`` the vector (data codes) or ``init`` (a dense layer,
    rounded to data codes) of it, ``c_0 = 0``, ``y_0 = 0``; per step the cell (a
    :class:`FixedGru` or a :class:`FixedLstm` with bias ``b + bh`` quantized once, as an LSTM's)
    on the previous output, then ``y = out(h)`` (a dense layer, rounded to data codes)."""

    index: int
    steps: int
    outputs: int
    cell: FixedGru | FixedLstm
    out: FixedDense
    init: FixedDense | None
    acc_bits: int
    _arrays: dict[str, CodeArray] | None = None

    def codes(
        self,
        m: FixedModel,
        seq: list[list[int]] | None,
        latent: list[int] | None,
        trace: list[TraceRecord] | None,
        steps: Mapping[int, StepFunction] | None,
    ) -> tuple[list[list[int]] | None, list[int] | None]:
        assert latent is not None, "a decoder reads one vector per window"
        h = m.dense(self.init, latent) if self.init is not None else list(latent)
        c, y = [0] * len(h), [0] * self.outputs
        outs = []
        for t in range(self.steps):
            x = y
            if isinstance(self.cell, FixedGru):
                h = m.gru_step(self.cell, x, h)
            else:
                h, c = m.lstm_step(self.cell, x, h, c)
            y = m.dense(self.out, h)
            if trace is not None:
                trace.append(
                    {"layer": self.index, "kind": "decoder", "step": t, "x": x, "h": h, "y": y}
                )
            outs.append(y)
        return outs, None

    def arrays(self) -> LayerArrays:
        parts = {"W": self.cell.W, "U": self.cell.U, "Wo": self.out.W}
        self._arrays = {k: np.array(v, dtype=np.int64) for k, v in parts.items()}
        self._arrays["b"] = np.array(self.cell.b_acc, dtype=np.int64)
        self._arrays["bo"] = np.array(self.out.b_acc, dtype=np.int64)
        if isinstance(self.cell, FixedGru):
            self._arrays["bh"] = np.array(self.cell.bh_acc, dtype=np.int64)
        if self.init is not None:
            self._arrays["P"] = np.array(self.init.W, dtype=np.int64)
            self._arrays["p"] = np.array(self.init.b_acc, dtype=np.int64)
        return self._arrays["W"], self._arrays["U"], self._arrays["b"]

    def run_array(
        self,
        m: FixedModel,
        arr: LayerArrays,
        seq: CodeArray | None,
        latent: CodeArray | None,
        rq: Requantize,
    ) -> tuple[CodeArray | None, CodeArray | None]:
        assert latent is not None and self._arrays is not None, "a decoder reads a vector"
        A, data = self._arrays, m.config.data
        h = rq(latent @ A["P"].T + A["p"], m.acc_frac, data, "y") if "P" in A else latent
        c: CodeArray = np.zeros_like(h)
        y: CodeArray = np.zeros((len(h), self.outputs), dtype=np.int64)
        outs = np.empty((len(h), self.steps, self.outputs), dtype=np.int64)
        for t in range(self.steps):
            if isinstance(self.cell, FixedGru):
                h = self.cell.array_update(m, y @ A["W"].T + A["b"], h, A["U"], A["bh"], rq)
            else:
                h, c = self.cell.array_update(m, y @ A["W"].T + h @ A["U"].T + A["b"], c, rq)
            y = rq(h @ A["Wo"].T + A["bo"], m.acc_frac, data, "y")
            outs[:, t] = y
        return outs, None


def _fixed_decoder(
    m: FixedModel,
    spec: Decoder,
    i: int,
    weights: Mapping[str, NDArray[Any]],
    product_bound: int,
    bias_bound: int,
) -> FixedDecoder:
    qw, qb = m.config.weight.quantize, m.config.bias.quantize

    def rows(name: str) -> list[list[int]]:
        return [[qw(v) for v in row] for row in weights[f"layers.{i}.{name}"].tolist()]

    def bias(values: NDArray[Any]) -> list[int]:
        return [qb(v) << m.bias_shift for v in values.tolist()]

    def dense(name: str, bias_name: str, inputs: int) -> FixedDense:
        codes = [qb(v) for v in weights[f"layers.{i}.{bias_name}"].tolist()]
        aligned = [v << m.bias_shift for v in codes]
        return FixedDense(
            i, rows(name), codes, aligned, m._acc_bits(inputs, product_bound, bias_bound)
        )

    H, n, k = spec.hidden, spec.input, spec.outputs
    W, U = rows("W"), rows("U")
    b, bh = weights[f"layers.{i}.b"], weights[f"layers.{i}.bh"]
    cell: FixedGru | FixedLstm
    if spec.cell == "gru":
        bits = m._acc_bits(k + H + 1, product_bound, 2 * bias_bound)
        cell = FixedGru(i, k, H, True, W, U, bias(b), bias(bh), bits)
    else:  # PyTorch's two LSTM biases added in float64, then quantized once (as an LSTM's)
        codes = [qb(v) for v in (np.asarray(b, np.float64) + np.asarray(bh, np.float64)).tolist()]
        bits = m._acc_bits(k + H, product_bound, bias_bound)
        WU = [w + u for w, u in zip(W, U, strict=True)]
        cell = FixedLstm(i, k, H, True, W, U, codes, [v << m.bias_shift for v in codes], WU, bits)
    out = dense("Wo", "bo", H)
    init = dense("P", "p", n) if spec.projected else None
    worst = max(cell.acc_bits, out.acc_bits, init.acc_bits if init is not None else 0)
    return FixedDecoder(i, spec.steps, k, cell, out, init, worst)


@dataclass
class FixedConv1d:
    """A conv1d layer on codes: per output step the exact sum over the k input steps it sees
    (zeros before step 0 when causal) plus the aligned bias, rounded to data codes."""

    index: int
    taps: list[list[int]]  # (out, k * in): row o = W[o][c][j] for j, then c
    b_acc: list[int]
    kernel: int
    causal: bool
    acc_bits: int
    steps: int = 0  # input steps (the walk's); 0: the window's

    def _padded(
        self, m: FixedModel, seq: list[list[int]] | None, latent: list[int] | None
    ) -> list[list[int]]:
        rows = seq if seq is not None else [list(latent or [])] * (self.steps or m.length)
        width = len(rows[0]) if rows else 0
        return ([[0] * width] * (self.kernel - 1) if self.causal else []) + list(rows)

    def codes(
        self,
        m: FixedModel,
        seq: list[list[int]] | None,
        latent: list[int] | None,
        trace: list[TraceRecord] | None,
        steps: Mapping[int, StepFunction] | None,
    ) -> tuple[list[list[int]] | None, list[int] | None]:
        padded, k, mul = self._padded(m, seq, latent), self.kernel, operator.mul
        out = []
        for t in range(len(padded) - k + 1):
            window = [v for row in padded[t : t + k] for v in row]
            y = [
                m.rq_y(sum(map(mul, row, window)) + b)
                for row, b in zip(self.taps, self.b_acc, strict=True)
            ]
            if trace is not None:
                trace.append(
                    {"layer": self.index, "kind": "conv1d", "step": t, "x": window, "y": y}
                )
            out.append(y)
        return out, None

    def arrays(self) -> LayerArrays:
        return np.array(self.taps, dtype=np.int64), None, np.array(self.b_acc, dtype=np.int64)

    def run_array(
        self,
        m: FixedModel,
        arr: LayerArrays,
        seq: CodeArray | None,
        latent: CodeArray | None,
        rq: Requantize,
    ) -> tuple[CodeArray | None, CodeArray | None]:
        taps, _, b = arr
        if seq is None:
            assert latent is not None, "a conv1d layer reads a sequence or a repeated vector"
            seq = np.repeat(latent[:, None], self.steps or m.length, axis=1)
        k, width = self.kernel, seq.shape[2]
        if self.causal and k > 1:
            seq = np.concatenate([np.zeros((len(seq), k - 1, width), np.int64), seq], axis=1)
        length = seq.shape[1] - k + 1
        acc = np.zeros((len(seq), length, len(taps)), np.int64) + b
        for j in range(k):
            acc += seq[:, j : j + length] @ taps[:, j * width : (j + 1) * width].T
        return rq(acc, m.acc_frac, m.config.data, "y"), None


def _fixed_conv1d(
    m: FixedModel,
    spec: Conv1d,
    i: int,
    weights: Mapping[str, NDArray[Any]],
    product_bound: int,
    bias_bound: int,
) -> FixedConv1d:
    qw, qb = m.config.weight.quantize, m.config.bias.quantize
    W = np.asarray(weights[f"layers.{i}.W"], np.float64)  # (out, in, k)
    taps = [
        [qw(float(W[o, c, j])) for j in range(spec.kernel) for c in range(spec.input)]
        for o in range(spec.output)
    ]
    b = [qb(v) << m.bias_shift for v in weights[f"layers.{i}.b"].tolist()]
    bits = m._acc_bits(spec.kernel * spec.input, product_bound, bias_bound)
    return FixedConv1d(i, taps, b, spec.kernel, spec.padding == "causal", bits)


#: CORDIC of the fixed rfft: iterations, fraction bits of its angles, guard bits of its vector,
#: fraction bits of its gain correction.
CORDIC_STEPS, CORDIC_FRAC, CORDIC_GUARD, CORDIC_GAIN_FRAC = 28, 30, 12, 15


@dataclass
class FixedRfft:
    """The rfft layer on codes. Per feature and bin the exact sums ``Re = sum_t x_t C[kt mod L]``
    and ``Im = -sum_t x_t S[kt mod L]`` (``C``, ``S``: cos and sin of ``2 pi j / L`` in weight
    codes; the DC and Nyquist bins' ``S`` entries are 0, so their ``Im`` is exactly 0); then a
    CORDIC in vectoring mode (:data:`CORDIC_STEPS` shift-and-add steps on the sums shifted left by
    :data:`CORDIC_GUARD` bits, angles in :data:`CORDIC_FRAC` fraction bits, the left half-plane
    first rotated by pi: ``atan2(+0, x < 0) = pi``; ``(0, 0)`` gives 0; every step rotates, so
    the gain K is the same for every bin) gives the phase and
    ``K |X|``; the amplitude is ``|X| = (K |X| >> guard) * round(2**15 / K) / L`` (rounded
    integer division), both rounded to data codes."""

    index: int
    length: int
    bins: int
    append: bool
    cos: list[int]  # (L,) weight codes
    sin: list[int]
    angles: list[int]  # atan(2**-i) in CORDIC_FRAC fraction bits
    pi: int
    inv_gain: int  # round(2**CORDIC_GAIN_FRAC / K)
    acc_bits: int
    steps: int = 0

    def _index(self) -> list[list[int]]:
        L = self.length
        return [[(k * t) % L for t in range(L)] for k in range(self.bins)]

    def codes(
        self,
        m: FixedModel,
        seq: list[list[int]] | None,
        latent: list[int] | None,
        trace: list[TraceRecord] | None,
        steps: Mapping[int, StepFunction] | None,
    ) -> tuple[list[list[int]] | None, list[int] | None]:
        rows = seq if seq is not None else [list(latent or [])] * self.length
        idx, amps, phases = self._index(), [], []
        for f in range(len(rows[0])):
            x = [row[f] for row in rows]
            for k in range(self.bins):
                re = sum(v * self.cos[j] for v, j in zip(x, idx[k], strict=True))
                im = -sum(v * self.sin[j] for v, j in zip(x, idx[k], strict=True))
                amp, phase = self._polar(m, re, im)
                amps.append(amp)
                phases.append(phase)
        out = amps + phases
        if trace is not None:
            trace.append({"layer": self.index, "kind": "rfft", "step": 0, "y": out})
        if not self.append:
            return None, out
        return [list(row) + out for row in rows], None

    def _polar(self, m: FixedModel, re: int, im: int) -> tuple[int, int]:
        """(amplitude, phase) codes of one bin from its exact sums (python backend)."""
        x, y, z = re << CORDIC_GUARD, im << CORDIC_GUARD, 0
        if x < 0:
            x, y, z = -x, -y, (self.pi if im >= 0 else -self.pi)
        for i, a in enumerate(self.angles):  # every step rotates: the gain K is constant
            if y >= 0:
                x, y, z = x + (y >> i), y - (x >> i), z + a
            else:
                x, y, z = x - (y >> i), y + (x >> i), z - a
        L, data = self.length, m.config.data
        amp = (2 * ((x >> CORDIC_GUARD) * self.inv_gain) + L) // (2 * L)
        if re == 0 and im == 0:  # atan2(0, 0) = 0
            z = 0
        return (
            data.requantize(amp, m.acc_frac + CORDIC_GAIN_FRAC),
            data.requantize(z, CORDIC_FRAC),
        )

    def arrays(self) -> LayerArrays:
        idx = self._index()
        C = np.array([[self.cos[j] for j in row] for row in idx], dtype=np.int64)
        S = np.array([[self.sin[j] for j in row] for row in idx], dtype=np.int64)
        return C, S, np.zeros(0, np.int64)

    def run_array(
        self,
        m: FixedModel,
        arr: LayerArrays,
        seq: CodeArray | None,
        latent: CodeArray | None,
        rq: Requantize,
    ) -> tuple[CodeArray | None, CodeArray | None]:
        C, S, _ = arr
        assert S is not None
        if seq is None:
            assert latent is not None, "an rfft layer reads a sequence or a repeated vector"
            seq = np.repeat(latent[:, None], self.length, axis=1)
        re = np.einsum("ntf,kt->nfk", seq, C)  # (N, F, K), exact
        im = -np.einsum("ntf,kt->nfk", seq, S)
        x, y = re << CORDIC_GUARD, im << CORDIC_GUARD
        left = x < 0
        z = np.where(left, np.where(im >= 0, self.pi, -self.pi), 0).astype(np.int64)
        x, y = np.where(left, -x, x), np.where(left, -y, y)
        for i, a in enumerate(self.angles):
            up = y >= 0
            dx, dy = y >> i, x >> i
            x, y, z = (
                np.where(up, x + dx, x - dx),
                np.where(up, y - dy, y + dy),
                z + (a * up - a * ~up),
            )
        L, data = self.length, m.config.data
        z = np.where((re == 0) & (im == 0), 0, z)  # atan2(0, 0) = 0
        amp = (2 * ((x >> CORDIC_GUARD) * self.inv_gain) + L) // (2 * L)
        amp = rq(amp, m.acc_frac + CORDIC_GAIN_FRAC, data, "y")
        phase = rq(z, CORDIC_FRAC, data, "y")
        N = len(seq)
        out = np.concatenate([amp.reshape(N, -1), phase.reshape(N, -1)], axis=1)
        if not self.append:
            return None, out
        spread = np.repeat(out[:, None], seq.shape[1], axis=1)
        return np.concatenate([seq, spread], axis=2), None


def _fixed_rfft(
    m: FixedModel,
    spec: Rfft,
    i: int,
    weights: Mapping[str, NDArray[Any]],
    product_bound: int,
    bias_bound: int,
) -> FixedRfft:
    L, qw = spec.length, m.config.weight.quantize
    cos = [qw(math.cos(2 * math.pi * j / L)) for j in range(L)]
    sin = [0 if 2 * j % L == 0 else qw(math.sin(2 * math.pi * j / L)) for j in range(L)]
    angles = [round(math.atan(2.0**-k) * 2**CORDIC_FRAC) for k in range(CORDIC_STEPS)]
    gain = math.prod(math.sqrt(1 + 2.0 ** (-2 * k)) for k in range(CORDIC_STEPS))
    inv_gain = round(2**CORDIC_GAIN_FRAC / gain)
    # the CORDIC vector: the sums shifted by the guard bits, grown by the gain (< 2) and sqrt 2
    vector = signed_bits(2 * (L * product_bound << CORDIC_GUARD)) + 1
    amp = signed_bits(2 * (L * product_bound) * inv_gain + L)
    bits = max(vector, amp, signed_bits(4 * round(math.pi * 2**CORDIC_FRAC)))
    pi = round(math.pi * 2**CORDIC_FRAC)
    return FixedRfft(i, L, spec.frequencies, spec.append, cos, sin, angles, pi, inv_gain, bits)


def _fixed_repeat(
    m: FixedModel,
    spec: Repeat,
    i: int,
    weights: Mapping[str, NDArray[Any]],
    product_bound: int,
    bias_bound: int,
) -> int:
    return spec.times  # a repeat is its count: the next LSTM reads the vector


#: Layer type -> the function building its integer-code layer from the float weights (``(model,
#: layer, index, weights, product bound, bias bound)``). A new layer type adds one entry.
#: (Each takes its own spec type, so the value type cannot name the second argument.)
BUILD: dict[type[Layer], Callable[..., FixedLayer]] = {
    Lstm: _fixed_lstm,
    Gru: _fixed_gru,
    Decoder: _fixed_decoder,
    Conv1d: _fixed_conv1d,
    Rfft: _fixed_rfft,
    Dense: _fixed_dense,
    Repeat: _fixed_repeat,
}


#: A layer of the fixed model: an LSTM, a GRU, a dense layer, or a repeat as its count.
FixedLayer = FixedLstm | FixedGru | FixedDense | FixedDecoder | FixedConv1d | FixedRfft | int


class FixedModel:
    """A bundle's model in integer codes of ``config``'s formats (see the module docstring)."""

    def __init__(self, bundle: Bundle, config: FixedConfig, all_layers: bool = False) -> None:
        """``all_layers``: build every layer type this engine knows (the fixed engine does);
        off, only those the RTL generator and ``squall hw export`` know (LSTM, linear dense,
        repeat: they build this model directly), the others one-line refusals."""
        cfg = self.config = config
        # the model's input: a forecaster's lookback of its input features
        self.length, width = bundle.model.input_shape
        task = bundle.task
        self.features = list(task.inputs if task.kind == "forecast" else bundle.features)
        assert len(self.features) == width
        if cfg.bias.frac > cfg.weight.frac + cfg.data.frac:
            raise SquallError(
                f"bias format {cfg.bias} has more fraction bits than a product "
                f"{cfg.weight} x {cfg.data}"
            )
        self.acc_frac = cfg.weight.frac + cfg.data.frac
        self.bias_shift = self.acc_frac - cfg.bias.frac
        # cell update: f*c and i*g aligned to the larger fraction count
        fc, ig = cfg.sigmoid.frac + cfg.cell.frac, cfg.sigmoid.frac + cfg.tanh.frac
        self.cell_frac = max(fc, ig)
        self.fc_shift, self.ig_shift = self.cell_frac - fc, self.cell_frac - ig
        self.h_frac = cfg.sigmoid.frac + cfg.tanh.frac
        self.cell_bits = (
            max(
                signed_bits(_extreme(cfg.sigmoid, cfg.cell) << self.fc_shift),
                signed_bits(_extreme(cfg.sigmoid, cfg.tanh) << self.ig_shift),
            )
            + 1
        )
        self.rq_z = requantizer(self.acc_frac, cfg.preact)
        self.rq_c = requantizer(self.cell_frac, cfg.cell)
        self.rq_h = requantizer(self.h_frac, cfg.data)
        self.rq_y = requantizer(self.acc_frac, cfg.data)
        self.rq_tanh = requantizer(cfg.tanh.frac, cfg.data)  # a dense tanh's output
        self.rq_sig = requantizer(cfg.sigmoid.frac, cfg.data)
        self.sigmoid = Activation("sigmoid", cfg.sigmoid_fn, cfg.sigmoid, cfg.preact)
        self.tanh = Activation("tanh", cfg.tanh_fn, cfg.tanh, cfg.preact)
        self.sig_z = self.sigmoid.unit(cfg.preact)
        self.tanh_z = self.tanh.unit(cfg.preact)
        self.tanh_c = self.tanh.unit(cfg.cell)
        # GRU: n = tanh(rq(a_n << s.frac + r u_n)) in tanh codes, aligned with h (data codes)
        # to the larger fraction count for h' = n + z (h - n)
        self.acc_frac_n = cfg.preact.frac + cfg.sigmoid.frac
        gru_frac = max(cfg.tanh.frac, cfg.data.frac)
        self.gru_n_shift, self.gru_h_shift = gru_frac - cfg.tanh.frac, gru_frac - cfg.data.frac
        self.gru_h_frac = gru_frac + cfg.sigmoid.frac
        self.rq_n = requantizer(self.acc_frac_n, cfg.preact)
        self.rq_gh = requantizer(self.gru_h_frac, cfg.data)
        P, S = _largest(cfg.preact), _largest(cfg.sigmoid)
        n_max, h_max = (
            _largest(cfg.tanh) << self.gru_n_shift,
            _largest(cfg.data) << self.gru_h_shift,
        )
        self.gru_bits = max(  # the n gate's sum and h's update, before their rounding
            signed_bits((P << cfg.sigmoid.frac) + P * S),
            signed_bits((n_max << cfg.sigmoid.frac) + S * (h_max + n_max)),
        )
        self.layers: list[FixedLayer] = []
        self._np_layers: (
            list[
                tuple[
                    FixedLstm | FixedGru | FixedDense | FixedDecoder | FixedConv1d | FixedRfft,
                    LayerArrays,
                ]
            ]
            | None
        ) = None
        bias_bound = max(-cfg.bias.min_code, cfg.bias.max_code) << self.bias_shift
        product_bound = max(
            abs(a * b)
            for a in (cfg.weight.min_code, cfg.weight.max_code)
            for b in (cfg.data.min_code, cfg.data.max_code)
        )
        walk = list(bundle.model.walk())
        for i, spec in enumerate(bundle.layers):
            build = BUILD.get(type(spec))
            if build is None:
                raise SquallError(f"layer {i}: the fixed engine has no {spec.kind!r} layer")
            if isinstance(spec, (Gru, Decoder, Conv1d, Rfft)) and not all_layers:
                raise SquallError(
                    f"layer {i}: the hardware tools have no {spec.kind!r} layer (the fixed "
                    f"engine runs it)"
                )
            if isinstance(spec, Dense) and spec.activation != "linear" and not all_layers:
                raise SquallError(
                    f"layer {i}: the hardware tools have no dense activation "
                    f"{spec.activation!r} (linear only; the fixed engine runs it)"
                )
            layer = build(self, spec, i, bundle.weights, product_bound, bias_bound)
            if isinstance(layer, FixedDense):
                layer.repeated = walk[i].repeated
            if isinstance(layer, (FixedLstm, FixedGru, FixedDense, FixedConv1d)):
                layer.steps = walk[i].in_length  # (a decoder runs its own ``steps``)
            self.layers.append(layer)

    def _acc_bits(self, products: int, product_bound: int, bias_bound: int) -> int:
        """The width rule for ``products`` products plus the bias as one more term; when the
        aligned bias can exceed a product's bound, the exact bound's width."""
        rule = accumulator_bits(self.config.weight, self.config.data, products + 1)
        if bias_bound <= product_bound:
            return rule
        return max(rule, signed_bits(products * product_bound + bias_bound))

    # ------------------------------------------------------------ python backend

    def quantize_window(self, window: Sequence[Sequence[float]]) -> list[list[int]]:
        q = self.config.data.quantize
        return [[q(v) for v in row] for row in window]

    def lstm_step(
        self,
        L: FixedLstm,
        x: list[int] | None,
        h: list[int],
        c: list[int],
        proj: list[int] | None = None,
    ) -> tuple[list[int], list[int]]:
        """One step on codes: returns (h, c). With ``proj`` (the exact accumulator value of
        ``W v + b`` after a repeat) only ``U h`` is added."""
        mul = operator.mul
        if proj is None:
            assert x is not None, "x is needed without a projection"
            xh = x + h
            acc = [sum(map(mul, row, xh)) + b for row, b in zip(L.WU, L.b_acc, strict=True)]
        else:
            acc = [sum(map(mul, row, h)) + p for row, p in zip(L.U, proj, strict=True)]
        return self.cell_update(list(map(self.rq_z, acc)), c, L.hidden)

    def cell_update(self, z: list[int], c: list[int], H: int) -> tuple[list[int], list[int]]:
        sig, th, thc = self.sig_z, self.tanh_z, self.tanh_c
        rq_c, rq_h, a, a2 = self.rq_c, self.rq_h, self.fc_shift, self.ig_shift
        c_new = [
            rq_c((sig(z[H + k]) * c[k] << a) + (sig(z[k]) * th(z[2 * H + k]) << a2))
            for k in range(H)
        ]
        h_new = [rq_h(sig(z[3 * H + k]) * thc(c_new[k])) for k in range(H)]
        return h_new, c_new

    def step_detail(self, L: FixedLstm, x: list[int], h: list[int], c: list[int]) -> dict[str, Any]:
        """One step with every intermediate (``acc``, ``z``, ``i``, ``f``, ``g``, ``o``,
        ``c_acc``, ``c``, ``tanh_c``, ``h_acc``, ``h``) and ``events``: how many values hit an
        exact rounding tie (``tie_z``, ``tie_c``, ``tie_h``) or saturated/wrapped (``sat_z``,
        ``sat_c``, ``sat_h``) at each of the three round-and-saturate points, and how many
        activation inputs lay outside their table's range (``clip_sigmoid``, ``clip_tanh``).
        Written out plainly (slow); equal to :meth:`lstm_step` (tested)."""
        cfg, H = self.config, L.hidden
        events = dict.fromkeys(
            ("tie_z", "sat_z", "tie_c", "sat_c", "tie_h", "sat_h", "clip_sigmoid", "clip_tanh"), 0
        )

        def rq(v: int, src_frac: int, t: FixedType, point: str) -> int:
            shift = src_frac - t.frac
            events["tie_" + point] += is_tie(v, shift)
            events["sat_" + point] += not t.fits(shift_round(v, shift, t.rounding))
            return t.requantize(v, src_frac)

        def act(unit: ActivationUnit, v: int, name: str) -> int:
            events["clip_" + name] += not unit.lo_code <= v <= unit.hi_code
            return unit(v)

        xh = list(x) + list(h)
        acc = [
            sum(w * v for w, v in zip(row, xh, strict=True)) + b
            for row, b in zip(L.WU, L.b_acc, strict=True)
        ]
        z = [rq(a, self.acc_frac, cfg.preact, "z") for a in acc]
        i = [act(self.sig_z, v, "sigmoid") for v in z[:H]]
        f = [act(self.sig_z, v, "sigmoid") for v in z[H : 2 * H]]
        g = [act(self.tanh_z, v, "tanh") for v in z[2 * H : 3 * H]]
        o = [act(self.sig_z, v, "sigmoid") for v in z[3 * H :]]
        c_acc = [(f[k] * c[k] << self.fc_shift) + (i[k] * g[k] << self.ig_shift) for k in range(H)]
        c_new = [rq(v, self.cell_frac, cfg.cell, "c") for v in c_acc]
        tanh_c = [act(self.tanh_c, v, "tanh") for v in c_new]
        h_acc = [o[k] * tanh_c[k] for k in range(H)]
        h_new = [rq(v, self.h_frac, cfg.data, "h") for v in h_acc]
        return {
            "acc": acc,
            "z": z,
            "i": i,
            "f": f,
            "g": g,
            "o": o,
            "c_acc": c_acc,
            "c": c_new,
            "tanh_c": tanh_c,
            "h_acc": h_acc,
            "h": h_new,
            "events": events,
        }

    def dense_detail(self, L: FixedDense, x: list[int]) -> dict[str, Any]:
        """A dense step with its accumulators and events (``tie_y``, ``sat_y``)."""
        t = self.config.data
        shift = self.acc_frac - t.frac
        acc = [
            sum(w * v for w, v in zip(row, x, strict=True)) + b
            for row, b in zip(L.W, L.b_acc, strict=True)
        ]
        return {
            "acc": acc,
            "y": [t.requantize(a, self.acc_frac) for a in acc],
            "events": {
                "tie_y": sum(is_tie(a, shift) for a in acc),
                "sat_y": sum(not t.fits(shift_round(a, shift, t.rounding)) for a in acc),
            },
        }

    def gru_step(
        self, L: FixedGru, x: list[int], h: list[int], proj: list[int] | None = None
    ) -> list[int]:
        """One GRU step on codes: ``a = W x + b`` (or ``proj``), ``u = U h + b_h`` exact;
        ``r, z = sigmoid(rq_z(a + u))``; ``a_n``, ``u_n`` rounded to the pre-activation format;
        ``n = tanh(rq_z((a_n << s.frac) + r u_n))``; ``h' = rq_data((n << s.frac) + z (h - n))``
        with n and h aligned to the larger of their fraction counts."""
        mul, H = operator.mul, L.hidden
        rq_z, sig, th = self.rq_z, self.sig_z, self.tanh_z
        sfrac, nsh, hsh = self.config.sigmoid.frac, self.gru_n_shift, self.gru_h_shift
        if proj is None:
            a = [sum(map(mul, row, x)) + b for row, b in zip(L.W, L.b_acc, strict=True)]
        else:
            a = proj
        u = [sum(map(mul, row, h)) + b for row, b in zip(L.U, L.bh_acc, strict=True)]
        rz = [sig(rq_z(a[k] + u[k])) for k in range(2 * H)]
        n = [
            th(self.rq_n((rq_z(a[2 * H + k]) << sfrac) + rz[k] * rq_z(u[2 * H + k]))) << nsh
            for k in range(H)
        ]
        return [self.rq_gh((n[k] << sfrac) + rz[H + k] * ((h[k] << hsh) - n[k])) for k in range(H)]

    def projection(self, L: FixedLstm, v: list[int]) -> list[int]:
        mul = operator.mul
        return [sum(map(mul, row, v)) + b for row, b in zip(L.W, L.b_acc, strict=True)]

    def dense(self, L: FixedDense, x: list[int]) -> list[int]:
        mul = operator.mul
        return self.activate(
            L.activation, [sum(map(mul, row, x)) + b for row, b in zip(L.W, L.b_acc, strict=True)]
        )

    def activate(self, name: str, acc: list[int]) -> list[int]:
        """A dense layer's outputs in data codes from its exact accumulators: ``linear``
        rounds to data codes; ``relu`` too, then ``max(y, 0)``; ``tanh`` and ``sigmoid`` round
        to the pre-activation format, look up the LSTM's tables and round their output to data
        codes."""
        if name == "linear":
            return list(map(self.rq_y, acc))
        if name == "relu":
            return [max(self.rq_y(a), 0) for a in acc]
        unit, out = (self.tanh_z, self.rq_tanh) if name == "tanh" else (self.sig_z, self.rq_sig)
        return [out(unit(self.rq_z(a))) for a in acc]

    def activate_array(self, name: str, acc: CodeArray, rq: Requantize) -> CodeArray:
        """numpy backend: :meth:`activate` on (N, ..., m) accumulators."""
        cfg = self.config
        if name == "linear":
            return rq(acc, self.acc_frac, cfg.data, "y")
        if name == "relu":
            return np.maximum(rq(acc, self.acc_frac, cfg.data, "y"), 0)
        z = rq(acc, self.acc_frac, cfg.preact, "z")
        if name == "tanh":
            return rq(self.tanh_z.many(z), cfg.tanh.frac, cfg.data, "y")
        return rq(self.sig_z.many(z), cfg.sigmoid.frac, cfg.data, "y")

    def reconstruct_codes(
        self,
        window: Sequence[Sequence[int]],
        trace: list[TraceRecord] | None = None,
        steps: Mapping[int, StepFunction] | None = None,
    ) -> list[list[int]] | list[int]:
        """Run one window of data codes (T lists of F codes); returns the output codes (a
        sequence, or one vector for a model that ends in one). With
        ``trace`` a list, every LSTM step's (layer, step, x, h_prev, c_prev, h, c) and every
        dense step's (layer, step, x, y) is appended to it. ``steps`` maps a layer index to a
        function ``(layer, x, h, c) -> (h, c)`` that does that layer's steps instead (e.g. the
        simulated RTL; after a repeat it gets the repeated vector as x)."""
        seq: list[list[int]] | None = [list(r) for r in window]
        latent: list[int] | None = None
        for L in self.layers:
            if not isinstance(L, int):  # a repeat (its count): the next LSTM reads latent
                seq, latent = L.codes(self, seq, latent, trace, steps)
        out = seq if seq is not None else latent
        assert out is not None, "the model gives an output"
        return out

    # ------------------------------------------------------------ numpy backend

    def _arrays(
        self,
    ) -> list[
        tuple[
            FixedLstm | FixedGru | FixedDense | FixedDecoder | FixedConv1d | FixedRfft, LayerArrays
        ]
    ]:
        """The layers that compute (a repeat is its count: the next LSTM reads the vector),
        each with its int64 arrays, made once."""
        if self._np_layers is None:
            worst = max((L.acc_bits for L in self.layers if not isinstance(L, int)), default=0)
            if any(
                isinstance(L, FixedGru)
                or (isinstance(L, FixedDecoder) and isinstance(L.cell, FixedGru))
                for L in self.layers
            ):
                worst = max(worst, self.gru_bits)
            if max(worst, self.cell_bits) > INT64_BITS:
                raise SquallError(
                    f"accumulators of {max(worst, self.cell_bits)} bits do not "
                    f"fit int64; use backend='python'"
                )
            self._np_layers = [(L, L.arrays()) for L in self.layers if not isinstance(L, int)]
        return self._np_layers

    def run_codes(self, x: ArrayLike, saturations: dict[str, int] | None = None) -> CodeArray:
        """All windows at once: data codes (N, T, F) int64 in, output codes (N, T, F) out. With
        ``saturations`` a dict, the values that saturated (or wrapped) at each round-and-
        saturate point are counted into it: ``z``, ``c``, ``h``, ``y`` (dense outputs)."""
        arrays = self._arrays()

        def rq(v: CodeArray, src_frac: int, t: FixedType, point: str) -> CodeArray:
            if saturations is not None:
                q = shift_round(v, src_frac - t.frac, t.rounding)
                over = int(np.count_nonzero((q < t.min_code) | (q > t.max_code)))
                saturations[point] = saturations.get(point, 0) + over
            return t.requantize(v, src_frac)

        seq: CodeArray | None = np.asarray(x, dtype=np.int64)
        latent: CodeArray | None = None
        for L, arr in arrays:  # a repeat is not among them: the next LSTM reads latent
            seq, latent = L.run_array(self, arr, seq, latent, rq)
        out = seq if seq is not None else latent
        assert out is not None, "the model gives an output"
        return out

    # ------------------------------------------------------------ floats at the boundary

    def quantize_windows(
        self, x: ArrayLike, saturations: dict[str, int] | None = None
    ) -> CodeArray:
        t = self.config.data
        q = t.quantize
        values = np.asarray(x, dtype=np.float64)
        flat = [q(v) for v in values.ravel().tolist()]
        if saturations is not None:  # quantized into a wider type: does it fit t?
            wide = FixedType(t.width + 40, t.frac, t.signed, t.rounding, "sat").quantize
            saturations["x"] = saturations.get("x", 0) + sum(
                not t.fits(wide(v)) for v in values.ravel().tolist()
            )
        return np.array(flat, dtype=np.int64).reshape(np.shape(x))

    def to_float(self, codes: ArrayLike) -> NDArray[np.float64]:
        return np.ldexp(np.asarray(codes, dtype=np.float64), -self.config.data.frac)

    def reconstruct(
        self, x: ArrayLike, backend: str = "numpy", saturations: dict[str, int] | None = None
    ) -> NDArray[np.float64]:
        """Float windows in, float reconstructions out (quantized and dequantized here only).
        ``saturations`` (numpy backend): see :meth:`run_codes`; ``x`` counts the inputs."""
        codes = self.quantize_windows(x, saturations)
        if backend == "numpy":
            out = self.run_codes(codes, saturations)
        elif backend == "python":
            out = np.array([self.reconstruct_codes(w) for w in codes.tolist()], dtype=np.int64)
        else:
            raise SquallError(f"unknown fixed backend {backend!r}; choose numpy or python")
        return self.to_float(out)


def _largest(t: FixedType) -> int:
    """The largest magnitude of a code of ``t``."""
    return max(-t.min_code, t.max_code)


def _extreme(a: FixedType, b: FixedType) -> int:
    return max(abs(x * y) for x in (a.min_code, a.max_code) for y in (b.min_code, b.max_code))


class FixedEngine(Engine):
    """The fixed engine behind the common interface: ``get_engine("fixed", bundle,
    config="16" | "12" | "8w" | FixedConfig | dict | "file.json", backend="numpy" | "python")``."""

    name = "fixed"

    def __init__(self, bundle: Bundle, config: ConfigLike = "16", backend: str = "numpy") -> None:
        super().__init__(bundle)
        if backend not in ("numpy", "python"):
            raise SquallError(f"unknown fixed backend {backend!r}; choose numpy or python")
        self.config = resolve_config(config)
        self.backend = backend
        self.model = FixedModel(bundle, self.config, all_layers=True)

    def _reconstruct(self, x: Windows) -> NDArray[np.float64]:
        return self.model.reconstruct(x, self.backend)
