"""The batch engine: NumPy, whole batches at once, float32 by default.

How it is fast (every trick is exact algebra; only rounding differs from the textbook step):

* **Feature-major layout.** Inside the engine a batch is stored transposed, (features, n), so a
  gate block is a run of whole rows and every ufunc streams over contiguous memory (on (n, H)
  column views NumPy loops row by row and is several times slower).
* **One transcendental per gate block.** ``sigmoid(x) = 0.5 * tanh(x / 2) + 0.5``. The gate
  blocks are reordered to o, i, f, g and the o, i, f rows of ``W``, ``U`` and ``b`` are halved
  once, at construction, so each step makes one ``np.tanh`` call over the whole (4H, n) block;
  ``+ 1`` then turns the o, i, f rows into ``2 sigmoid``.
* **Doubled hidden state.** With ``2 sigmoid(o)`` the step computes ``2h = 2 sigmoid(o) tanh(c)``
  directly; every weight that reads an LSTM output (the next ``W``, the own ``U``, a dense ``W``)
  is halved at construction instead. A model that ends with an LSTM (its hidden size is the
  feature count) has its output halved once, at the end. Halving and doubling are exact in
  binary floating point.
* **Few ufunc calls per step.** The cell state lives right after the gates, rows
  ``[o; i; f; g; c]``, so ``[i; f] * [g; c]`` is a single multiply. A step is one matmul and
  seven ufuncs, all with preallocated ``out`` (passed positionally: the keyword costs ~0.5 us).
* **One matrix product per layer and step, bias included.** A run of LSTM layers shares one
  buffer with rows ``[x; 1; h1; 1; h2; ...]``; layer j multiplies ``[W | b | U]`` (4H, in+1+H)
  by its row range ``[input; 1; h_j]``. Layer j writes its new state into its ``h_j`` rows,
  which are also layer j+1's input: the layers advance in lockstep, one time step at a time, so a
  chunk's working set stays in cache and nothing is copied between layers.
* **No separate input projection for all steps (measured).** The textbook alternative computes
  a layer's ``W x_t + b`` for all T steps in one product and keeps only ``U h`` in the loop.
  Only a segment's first layer can do that (the others read states made in the same step); done
  there (one (4H, in + 1) x (in + 1, T n) product, then per step ``U h`` and an add of the step's
  projection) it was slower on the seed model (docs/benchmarks.md, "Design choices of the numpy
  engine, measured").
  The (T, 4H, n) projection (12.6 MB per 512-window chunk at 4H = 256) falls out of cache and
  costs an extra pass over the gates per step, while fusing adds only in + 1 = 7 columns to U's
  64.
* **Repeat costs nothing per step.** After a ``repeat`` every step's input is the same latent
  vector, so that layer's input projection ``W v + b`` is computed once per window.
* **At t = 0, h = 0:** the first step multiplies only the input rows.
* **Chunks in threads, BLAS single-threaded.** The batch is cut into chunks of at most ``chunk``
  windows, taken in turn by ``threads`` threads, the calling thread one of them (NumPy releases
  the GIL in matmul and ufuncs). Letting the caller work instead of waiting on two pool threads
  was faster (docs/benchmarks.md): one thread fewer to wake and to hand the GIL to.
  While the engine runs, NumPy's BLAS is set to one thread (threadpoolctl): its own threads
  would compete with ours, and they degrade badly when another process holds a core.
"""

from __future__ import annotations

import math
import os
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cache
from typing import Any, Protocol

import numpy as np
from numpy.typing import ArrayLike, NDArray

from squall.bundle import Bundle
from squall.engines.base import Engine, Windows
from squall.errors import SquallError
from squall.model import Conv1d, Decoder, Dense, Gru, Layer, Lstm, Repeat, Rfft

#: Threads share a batch only if each gets at least this many windows; below that the second
#: thread costs more than it saves (measured: docs/benchmarks.md).
MIN_CHUNK = 48

#: The engine's working arrays: float32 (the default) or float64, as the engine's ``dtype`` says.
Floats = NDArray[np.floating[Any]]
#: One layer's record of :meth:`NumpyEngine.trace`: (layer index, kind, {signal: array}).
TraceItem = tuple[int, str, dict[str, Floats]]


@dataclass
class _Lstm:
    """One LSTM layer, weights prepared for the fused step (gate order o, i, f, g)."""

    index: int  # in the bundle's layer list
    inputs: int
    hidden: int
    stacked: Floats  # (4H, in + 1 + H) = [W | b | U]; (4H, H) = U after a repeat
    project: Floats | None  # (4H, in + 1) = [W | b], only after a repeat
    return_sequences: bool
    input_scale: float = 1.0  # 0.5: the input arrives doubled (an LSTM output), W halved

    def projection(self) -> Floats:
        """``[W | b]`` of a layer after a repeat (the planner prepares it for those only)."""
        assert self.project is not None, f"layer {self.index} does not follow a repeat"
        return self.project


@dataclass
class _Segment:
    """A run of LSTM layers that advance together; input is a sequence or a repeated vector."""

    layers: list[_Lstm]
    repeated: bool  # True: the input is one vector per window (after ``repeat``)

    def forward(
        self,
        seq: Floats | None,
        vec: Floats | None,
        steps: int,
        trace: list[TraceItem] | None = None,
    ) -> tuple[Floats | None, Floats | None]:
        """(sequence (T, H, n), None) or (None, vector (H, n)) out of this segment."""
        res = _run_segment(self, seq, vec, steps, trace)
        return (res, None) if res.ndim == 3 else (None, res)


def _activate(name: str, a: Floats) -> Floats:
    """A dense layer's activation (:data:`squall.model.DENSE_ACTIVATIONS`), in place of ``a``."""
    if name == "relu":
        np.maximum(a, 0, out=a)
    elif name == "tanh":
        np.tanh(a, a)
    elif name == "sigmoid":  # 1 / (1 + exp(-a)) = tanh(a / 2) / 2 + 1 / 2, no overflow
        np.multiply(a, 0.5, a)
        np.tanh(a, a)
        np.multiply(a, 0.5, a)
        np.add(a, 0.5, a)
    elif name != "linear":
        raise SquallError(f"the numpy engine has no dense activation {name!r}")
    return a


@dataclass
class _Dense:
    index: int  # in the bundle's layer list
    weight: Floats  # (out, in)
    bias: Floats  # (out, 1)
    input_scale: float  # 0.5 when the input is a doubled LSTM output
    activation: str = "linear"
    repeated: bool = False  # the input is a vector spread over ``steps`` by a repeat

    def forward(
        self,
        seq: Floats | None,
        vec: Floats | None,
        steps: int,
        trace: list[TraceItem] | None = None,
    ) -> tuple[Floats | None, Floats | None]:
        if seq is None:  # one vector per window: y = act(W v + b), once
            assert vec is not None
            y = _activate(self.activation, np.matmul(self.weight, vec) + self.bias)  # (out, n)
            if trace is not None:
                x = np.broadcast_to(vec * self.input_scale, (steps, *vec.shape))
                trace.append((self.index, "dense", {"x": x, "y": _spread(y, steps)}))
            if self.repeated:  # the same output at every step
                return _spread(y, steps), None
            return None, y
        wx = np.matmul(self.weight, seq)  # (T, out, n)
        a = wx + self.bias
        y = a if self.activation == "linear" else _activate(self.activation, a.copy())
        if trace is not None:
            x = seq * self.input_scale  # exact
            signals = {"x": x, "Wx": wx, "y": y}
            if self.activation != "linear":
                signals["a"] = a
            trace.append((self.index, "dense", signals))
        return y, None


def _spread(vec: Floats, steps: int) -> Floats:
    """One vector per window (width, n) as the sequence (steps, width, n) a repeat makes."""
    return np.ascontiguousarray(np.broadcast_to(vec, (steps, *vec.shape)))


def _sigmoid(a: Floats) -> Floats:
    """``1 / (1 + exp(-a))`` in place, as ``tanh(a / 2) / 2 + 1 / 2`` (no overflow)."""
    return _activate("sigmoid", a)


@dataclass
class _Gru:
    """One GRU layer (gate order r, z, n; see :mod:`squall.model`). ``W``, ``b``: input
    weights and bias, ``W`` scaled for inputs that arrive doubled; ``U``, ``bh``: recurrent.
    The input projections ``W x + b`` of all steps are one product (after a repeat: once)."""

    index: int
    hidden: int
    W: Floats  # (3H, in)
    b: Floats  # (3H, 1)
    U: Floats  # (3H, H)
    bh: Floats  # (3H, 1)
    return_sequences: bool
    input_scale: float = 1.0

    def forward(
        self,
        seq: Floats | None,
        vec: Floats | None,
        steps: int,
        trace: list[TraceItem] | None = None,
    ) -> tuple[Floats | None, Floats | None]:
        H = self.hidden
        if seq is None:  # after a repeat: the same input at every step
            assert vec is not None
            once = np.matmul(self.W, vec) + self.b  # (3H, n)
            n = vec.shape[-1]
            projections: Floats | None = None
            inputs = vec
        else:
            projections = np.matmul(self.W, seq) + self.b  # (T, 3H, n)
            steps, n = seq.shape[0], seq.shape[-1]
            inputs = seq
        h = np.zeros((H, n), self.U.dtype)
        out = np.empty((steps, H, n), h.dtype) if self.return_sequences else None
        sig: dict[str, Floats] | None = None
        if trace is not None:
            sig = {k: np.empty((steps, H, n), h.dtype) for k in ("r", "z", "n", "h")}
        for t in range(steps):
            a = once if projections is None else projections[t]
            u = np.matmul(self.U, h) + self.bh  # (3H, n)
            rz = _sigmoid(a[: 2 * H] + u[: 2 * H])  # r; z
            cand = np.tanh(a[2 * H :] + rz[:H] * u[2 * H :])
            h = cand + rz[H:] * (h - cand)  # (1 - z) n + z h
            if out is not None:
                out[t] = h
            if sig is not None:
                sig["r"][t], sig["z"][t], sig["n"][t], sig["h"][t] = rz[:H], rz[H:], cand, h
        if trace is not None and sig is not None:
            x = inputs if seq is not None else _spread(inputs, steps)
            trace.append((self.index, "gru", {"x": x * self.input_scale, **sig}))
        return (out, None) if out is not None else (None, h)


@dataclass
class _Conv1d:
    """One conv1d layer: ``y[t] = b + sum_j W[:, :, j] x[t + j - P]`` (see
    :mod:`squall.model`), one (out, in) x (L, in, n) product per kernel tap."""

    index: int
    W: Floats  # (out, in, k), scaled for inputs that arrive doubled
    b: Floats  # (out, 1)
    causal: bool
    input_scale: float = 1.0
    repeated: bool = False

    def forward(
        self,
        seq: Floats | None,
        vec: Floats | None,
        steps: int,
        trace: list[TraceItem] | None = None,
    ) -> tuple[Floats | None, Floats | None]:
        if seq is None:  # a repeated vector: the sequence it stands for
            assert vec is not None
            seq = _spread(vec, steps)
        k = self.W.shape[2]
        if self.causal and k > 1:
            pad = np.zeros((k - 1, *seq.shape[1:]), seq.dtype)
            seq = np.concatenate([pad, seq])
        length = seq.shape[0] - k + 1
        y = np.matmul(self.W[:, :, 0], seq[:length]) + self.b  # (L, out, n)
        for j in range(1, k):
            y += np.matmul(self.W[:, :, j], seq[j : j + length])
        if trace is not None:
            trace.append((self.index, "conv1d", {"x": seq * self.input_scale, "y": y}))
        return y, None


@dataclass
class _Rfft:
    """The rfft layer: ``numpy.fft.rfft(x, axis=time, norm="forward")`` per feature; amplitudes
    then phases (``np.angle``: ``atan2(Im, Re)``), feature-major, the first ``bins``
    frequencies; with ``append``, the input sequence with that vector at every step."""

    index: int
    bins: int
    append: bool
    input_scale: float = 1.0

    def forward(
        self,
        seq: Floats | None,
        vec: Floats | None,
        steps: int,
        trace: list[TraceItem] | None = None,
    ) -> tuple[Floats | None, Floats | None]:
        if seq is None:  # a repeated vector: the sequence it stands for
            assert vec is not None
            seq = _spread(vec, steps)
        x = seq * self.input_scale if self.input_scale != 1.0 else seq  # (T, F, n)
        spectrum = np.fft.rfft(x, axis=0, norm="forward")[: self.bins]  # (K, F, n)
        amp = np.abs(spectrum).astype(x.dtype).transpose(1, 0, 2)  # (F, K, n)
        phase = np.angle(spectrum).astype(x.dtype).transpose(1, 0, 2)
        F, n = x.shape[1], x.shape[2]
        out = np.concatenate([amp.reshape(F * self.bins, n), phase.reshape(F * self.bins, n)])
        if trace is not None:
            half = F * self.bins
            trace.append(
                (self.index, "rfft", {"amplitude": out[None, :half], "phase": out[None, half:]})
            )
        if not self.append:
            return None, out  # (2 F K, n)
        spread = np.broadcast_to(out, (x.shape[0], *out.shape))
        return np.concatenate([x, spread], axis=1), None  # (T, F + 2 F K, n)


@dataclass
class _Decoder:
    """The decoder layer (see :mod:`squall.model`): ``h_0 = P v + p`` (or ``v``), then per step
    the cell on the previous output (zeros first) and ``y = Wo h + bo``. GRU gate order r, z,
    n; LSTM i, f, g, o with ``b + bh`` added once."""

    index: int
    hidden: int
    steps: int
    lstm: bool
    P: Floats | None  # (H, in), scaled for an input that arrives doubled; None: h_0 = v
    p: Floats | None  # (H, 1)
    W: Floats  # (GH, m)
    U: Floats  # (GH, H)
    b: Floats  # (GH, 1); LSTM: b + bh
    bh: Floats  # (GH, 1)
    Wo: Floats  # (m, H)
    bo: Floats  # (m, 1)
    input_scale: float = 1.0

    def forward(
        self,
        seq: Floats | None,
        vec: Floats | None,
        steps: int,
        trace: list[TraceItem] | None = None,
    ) -> tuple[Floats | None, Floats | None]:
        assert vec is not None, "a decoder reads one vector per window"
        H, n = self.hidden, vec.shape[-1]
        if self.P is not None:
            assert self.p is not None
            h = np.matmul(self.P, vec) + self.p  # (H, n)
        else:
            h = vec * self.input_scale
        c = np.zeros_like(h)
        y = np.zeros((self.Wo.shape[0], n), h.dtype)
        out = np.empty((self.steps, *y.shape), h.dtype)  # (S, m, n)
        hs = np.empty((self.steps, H, n), h.dtype) if trace is not None else None
        for t in range(self.steps):
            if self.lstm:
                z = np.matmul(self.W, y) + np.matmul(self.U, h) + self.b  # (4H, n)
                ifo = _sigmoid(np.concatenate([z[: 2 * H], z[3 * H :]]))  # i, f, o
                c = ifo[H : 2 * H] * c + ifo[:H] * np.tanh(z[2 * H : 3 * H])
                h = ifo[2 * H :] * np.tanh(c)
            else:
                a = np.matmul(self.W, y) + self.b  # (3H, n)
                u = np.matmul(self.U, h) + self.bh
                rz = _sigmoid(a[: 2 * H] + u[: 2 * H])  # r; z
                cand = np.tanh(a[2 * H :] + rz[:H] * u[2 * H :])
                h = cand + rz[H:] * (h - cand)  # (1 - z) n + z h
            y = np.matmul(self.Wo, h) + self.bo  # (m, n)
            out[t] = y
            if hs is not None:
                hs[t] = h
        if trace is not None and hs is not None:
            inputs = np.concatenate([np.zeros_like(out[:1]), out[:-1]])
            trace.append((self.index, "decoder", {"input": inputs, "h": hs, "output": out}))
        return out, None


def _prepare_lstm(
    index: int,
    W: Floats,
    U: Floats,
    b: Floats,
    input_scale: float,
    repeated: bool,
    return_sequences: bool,
    dtype: np.dtype[np.floating[Any]],
) -> _Lstm:
    """Reorder gates to o, i, f, g; halve the sigmoid rows; scale inputs that arrive doubled."""
    H = U.shape[1]
    order = np.r_[3 * H : 4 * H, 0 : 2 * H, 2 * H : 3 * H]  # i, f, g, o -> o, i, f, g
    gate_scale = np.r_[np.full(3 * H, 0.5), np.ones(H)][:, None]  # sigmoid(x) via tanh(x / 2)
    W = W.astype(np.float64)[order] * gate_scale * input_scale  # (4H, in)
    U = U.astype(np.float64)[order] * gate_scale * 0.5  # (4H, H), h arrives doubled
    b = b.astype(np.float64)[order, None] * gate_scale  # (4H, 1)
    head = np.hstack([W, b])  # (4H, in + 1)
    n = W.shape[1]
    if repeated:
        return _Lstm(
            index,
            n,
            H,
            np.ascontiguousarray(U, dtype),
            np.ascontiguousarray(head, dtype),
            return_sequences,
            input_scale,
        )
    stacked = np.hstack([head, U])  # (4H, in + 1 + H)
    return _Lstm(
        index, n, H, np.ascontiguousarray(stacked, dtype), None, return_sequences, input_scale
    )


@dataclass
class _Planner:
    """What :func:`_plan` knows between layers."""

    dtype: np.dtype[np.floating[Any]]
    plan: list[Any]  # ops with ``forward`` (_Segment, _Dense, _Gru, _Conv1d, ...)
    doubled: bool = False  # does the current tensor hold 2h (an LSTM output)?
    #: input steps of each op of ``plan`` (a repeat or a valid convolution changes them)
    steps: list[int] = field(default_factory=list)


def _plan_lstm(layer: Lstm, i: int, repeated: bool, w: dict[str, Floats], p: _Planner) -> None:
    lstm = _prepare_lstm(
        i,
        w["W"],
        w["U"],
        w["b"],
        0.5 if p.doubled else 1.0,
        repeated,
        layer.return_sequences,
        p.dtype,
    )
    last = p.plan[-1] if p.plan else None
    if isinstance(last, _Segment) and last.layers[-1].return_sequences and not repeated:
        last.layers.append(lstm)  # advances in lockstep with the layers before it
    else:
        p.plan.append(_Segment([lstm], repeated))
    p.doubled = True


def _plan_dense(layer: Dense, i: int, repeated: bool, w: dict[str, Floats], p: _Planner) -> None:
    scale = 0.5 if p.doubled else 1.0
    weight = w["W"].astype(np.float64) * scale  # (out, in)
    p.plan.append(
        _Dense(
            i,
            np.ascontiguousarray(weight, p.dtype),
            w["b"].astype(p.dtype)[:, None],  # (out, 1)
            scale,
            layer.activation,
            repeated,
        )
    )
    p.doubled = False


def _plan_gru(layer: Gru, i: int, repeated: bool, w: dict[str, Floats], p: _Planner) -> None:
    scale = 0.5 if p.doubled else 1.0

    def prepared(a: Floats, k: float = 1.0) -> Floats:
        return np.ascontiguousarray(a.astype(np.float64) * k, p.dtype)

    p.plan.append(
        _Gru(
            i,
            layer.hidden,
            prepared(w["W"], scale),
            prepared(w["b"][:, None]),
            prepared(w["U"]),
            prepared(w["bh"][:, None]),
            layer.return_sequences,
            scale,
        )
    )
    p.doubled = False


def _plan_conv1d(layer: Conv1d, i: int, repeated: bool, w: dict[str, Floats], p: _Planner) -> None:
    scale = 0.5 if p.doubled else 1.0
    p.plan.append(
        _Conv1d(
            i,
            np.ascontiguousarray(w["W"].astype(np.float64) * scale, p.dtype),
            w["b"].astype(p.dtype)[:, None],
            layer.padding == "causal",
            scale,
            repeated,
        )
    )
    p.doubled = False


def _plan_rfft(layer: Rfft, i: int, repeated: bool, w: dict[str, Floats], p: _Planner) -> None:
    p.plan.append(_Rfft(i, layer.frequencies, layer.append, 0.5 if p.doubled else 1.0))
    p.doubled = False


def _plan_decoder(
    layer: Decoder, i: int, repeated: bool, w: dict[str, Floats], p: _Planner
) -> None:
    scale = 0.5 if p.doubled else 1.0

    def prepared(a: Floats, k: float = 1.0) -> Floats:
        return np.ascontiguousarray(a.astype(np.float64) * k, p.dtype)

    lstm = layer.cell == "lstm"
    b = w["b"].astype(np.float64) + w["bh"] if lstm else w["b"]  # added in float64, as torch
    p.plan.append(
        _Decoder(
            i,
            layer.hidden,
            layer.steps,
            lstm,
            prepared(w["P"], scale) if layer.projected else None,
            prepared(w["p"][:, None]) if layer.projected else None,
            prepared(w["W"]),
            prepared(w["U"]),
            prepared(b[:, None]),
            prepared(w["bh"][:, None]),
            prepared(w["Wo"]),
            prepared(w["bo"][:, None]),
            scale,
        )
    )
    p.doubled = False


def _plan_repeat(layer: Repeat, i: int, repeated: bool, w: dict[str, Floats], p: _Planner) -> None:
    """Nothing to prepare: the next LSTM segment reads the vector at every step."""


#: Layer type -> the function that adds it to the plan, weights prepared (``(layer, index,
#: repeated, weights, planner)``; ``repeated``: the input is a vector spread by a repeat). A new
#: layer type adds one entry (and an op with ``forward`` if it is not an LSTM or dense).
PLAN: dict[type[Layer], Callable[..., None]] = {
    Lstm: _plan_lstm,
    Gru: _plan_gru,
    Conv1d: _plan_conv1d,
    Dense: _plan_dense,
    Repeat: _plan_repeat,
    Rfft: _plan_rfft,
    Decoder: _plan_decoder,
}


def _plan(bundle: Bundle, dtype: np.dtype[np.floating[Any]]) -> _Planner:
    """Group the layer list into LSTM segments and other ops, weights prepared; each op with
    its input steps."""
    planner = _Planner(dtype, [])
    for step in bundle.model.walk():
        i, layer = step.index, step.layer
        add = PLAN.get(type(layer))
        if add is None:
            raise SquallError(f"layer {i}: the numpy engine has no {layer.kind!r} layer")
        w = {k: bundle.weights[f"layers.{i}.{k}"] for k in layer.weight_shapes()}
        before = len(planner.plan)
        add(layer, i, step.repeated, w, planner)
        planner.steps.extend([step.in_length] * (len(planner.plan) - before))
    return planner


class _Cell:
    """Buffers and views of one LSTM layer for one chunk of ``n`` windows.

    ``buf`` is the segment's shared buffer; this layer reads rows ``lo:h_at + H`` (its input,
    a ones row and its own state) and writes its state to rows ``h_at:h_at + H``.
    """

    def __init__(self, lstm: _Lstm, buf: Floats, lo: int, h_at: int, vector: Floats | None) -> None:
        H, n, dtype = lstm.hidden, buf.shape[1], buf.dtype
        m = np.zeros((5 * H, n), dtype)  # rows: gates o, i, f, g; then c
        self.z, self.oif = m[: 4 * H], m[: 3 * H]  # (4H, n), (3H, n)
        self.o, self.i, self.f = m[:H], m[H : 2 * H], m[2 * H : 3 * H]  # (H, n) each
        self.i_f, self.g_c = m[H : 3 * H], m[3 * H :]  # (2H, n): [i; f] and [g; c]
        self.c = m[4 * H :]  # (H, n) cell state
        self.tanh_c = np.empty((H, n), dtype)  # (H, n)
        self.h = buf[h_at : h_at + H]  # (H, n) doubled state
        self.x = buf[lo : h_at + H]  # (in + 1 + H, n), or (H, n)
        self.x0 = buf[lo:h_at]  # the same without h (zero at t = 0)
        self.w, self.w0 = lstm.stacked, lstm.stacked[:, : h_at - lo]
        self.once: Floats | None = None
        if vector is not None:  # W v + b, once per window
            project = lstm.projection()
            self.once = np.matmul(project[:, :-1], vector) + project[:, -1:]  # (4H, n)

    def step(self, t: int) -> None:
        self.products(t)
        self.update()

    def products(self, t: int) -> None:
        """The gate pre-activations ``z`` (o, i, f rows halved) of step ``t``."""
        z = self.z
        if t == 0:
            np.matmul(self.w0, self.x0, z)  # (4H, n)
        else:
            np.matmul(self.w, self.x, z)  # (4H, n)
        if self.once is not None:
            np.add(z, self.once, z)

    def update(self) -> None:
        """Gates, cell state ``c`` and doubled state ``h`` from ``z``, in place."""
        self.activate()
        self.combine()

    def activate(self) -> None:
        """The gates in place of ``z``: rows ``2 s(o), 2 s(i), 2 s(f), tanh(g)``."""
        z = self.z
        np.tanh(z, z)
        np.add(self.oif, 1, self.oif)  # 2 sigmoid(o), 2 sigmoid(i, f)

    def combine(self) -> None:
        """``[i; f]`` rows become ``[2 i g; 2 f c]``; then ``c``, ``tanh(c)`` and ``2h``."""
        np.multiply(self.i_f, self.g_c, self.i_f)  # [2 s(i) g; 2 s(f) c]
        np.add(self.i, self.f, self.c)
        np.multiply(self.c, 0.5, self.c)  # c = s(i) g + s(f) c
        np.tanh(self.c, self.tanh_c)
        np.multiply(self.o, self.tanh_c, self.h)  # 2h = 2 s(o) tanh(c)


#: The signals :class:`_TracedCell` records per step (named as :mod:`squall.hw.ranges` reports).
LSTM_SIGNALS = (
    "x",
    "Wx",
    "Uh",
    "z_i",
    "z_f",
    "z_g",
    "z_o",
    "i",
    "f",
    "g",
    "o",
    "fc",
    "ig",
    "c",
    "tanh_c",
    "h",
)


def _canonical(rows: Floats, H: int, halved: bool = True) -> Floats:
    """Gate rows o, i, f, g (the o, i, f rows halved) back to i, f, g, o, unhalved (exact)."""
    o, i, f, g = rows[:H], rows[H : 2 * H], rows[2 * H : 3 * H], rows[3 * H :]
    k = 2.0 if halved else 1.0
    return np.concatenate([i * k, f * k, g, o * k])


class _TracedCell(_Cell):
    """A :class:`_Cell` that also keeps every intermediate of every step, in the bundle's
    units and gate order (the engine's halvings and doublings undone, which is exact): the
    step itself is the engine's (``products``, ``activate``, ``combine``); only ``Wx`` and
    ``Uh``, which the fused product never forms apart, are extra products of the same prepared
    weights."""

    def __init__(
        self,
        lstm: _Lstm,
        buf: Floats,
        lo: int,
        h_at: int,
        vector: Floats | None,
        steps: int,
    ) -> None:
        super().__init__(lstm, buf, lo, h_at, vector)
        H, n, N = lstm.hidden, lstm.inputs, buf.shape[1]
        self.lstm, self.vector = lstm, vector
        self.inp = buf[lo : lo + n] if vector is None else vector  # (in, N), as stored
        self.W = lstm.projection()[:, :-1] if vector is not None else lstm.stacked[:, :n]
        self.U = lstm.stacked[:, -H:]
        widths = {"x": n, "Wx": 4 * H, "Uh": 4 * H}
        self.sig: dict[str, NDArray[np.float64]] = {
            k: np.empty((steps, widths.get(k, H), N)) for k in LSTM_SIGNALS
        }

    def step(self, t: int) -> None:
        H, s, half = self.lstm.hidden, self.sig, 0.5
        s["x"][t] = self.inp * self.lstm.input_scale
        s["Wx"][t] = _canonical(np.matmul(self.W, self.inp), H)
        s["Uh"][t] = _canonical(np.matmul(self.U, self.h), H)
        self.products(t)
        z = _canonical(self.z, H)
        for k, name in enumerate(("z_i", "z_f", "z_g", "z_o")):
            s[name][t] = z[k * H : (k + 1) * H]
        self.activate()
        s["o"][t], s["i"][t], s["f"][t] = self.o * half, self.i * half, self.f * half
        s["g"][t] = self.z[3 * H :]
        self.combine()
        s["ig"][t], s["fc"][t] = self.i * half, self.f * half
        s["c"][t], s["tanh_c"][t], s["h"][t] = self.c, self.tanh_c, self.h * half

    def signals(self) -> dict[str, Floats]:
        """Every signal as (N, T, width) float64."""
        return {k: v.transpose(2, 0, 1) for k, v in self.sig.items()}


def _layout(seg: _Segment, width: int) -> tuple[int, list[int], list[tuple[int, int]]]:
    """Rows of a segment's buffer: ``[x; 1; h1; 1; h2; ...]`` (no x or first 1 after a repeat).

    Returns the row count, the rows holding ones, and per layer (first row read, first h row).
    """
    rows, lo = width, 0
    ones: list[int] = []
    spans: list[tuple[int, int]] = []
    for k, lstm in enumerate(seg.layers):
        if k > 0 or not seg.repeated:
            ones.append(rows)
            rows += 1
        spans.append((lo, rows))
        lo, rows = rows, rows + lstm.hidden
    return rows, ones, spans


def _run_segment(
    seg: _Segment,
    xs: Floats | None,
    vector: Floats | None,
    steps: int,
    trace: list[TraceItem] | None = None,
) -> Floats:
    """Run a segment for ``steps`` steps on xs (T, in, n) or a repeated vector (in, n).

    Returns the last layer's doubled states, (T, H, n), or (H, n) if it returns a vector.
    With ``trace`` a list, each layer's ``(index, "lstm", signals)`` is appended to it
    (:class:`_TracedCell`).
    """
    if seg.repeated:
        assert vector is not None, "a segment after a repeat reads a vector"
        src: Floats = vector
        inputs: Floats | None = None
    else:
        assert xs is not None, "a segment reads a sequence"
        src, inputs = xs, xs
    width = 0 if inputs is None else inputs.shape[1]
    rows, ones, spans = _layout(seg, width)
    buf = np.zeros((rows, src.shape[-1]), src.dtype)  # (rows, n)
    buf[ones] = 1
    cells: list[_Cell] = [
        _Cell(lstm, buf, lo, h_at, vector if k == 0 else None)
        if trace is None
        else _TracedCell(lstm, buf, lo, h_at, vector if k == 0 else None, steps)
        for k, (lstm, (lo, h_at)) in enumerate(zip(seg.layers, spans, strict=True))
    ]
    last = cells[-1]
    out: Floats | None = None
    if seg.layers[-1].return_sequences:
        out = np.empty((steps, *last.h.shape), buf.dtype)  # (T, H, n)
    for t in range(steps):
        if inputs is not None:  # not after a repeat
            buf[:width] = inputs[t]  # (in, n)
        for cell in cells:
            cell.step(t)
        if out is not None:
            out[t] = last.h
    if trace is not None:
        trace.extend(
            (c.lstm.index, "lstm", c.signals()) for c in cells if isinstance(c, _TracedCell)
        )
    return out if out is not None else last.h.copy()


class _Limits(Protocol):
    """What the engine uses of threadpoolctl's limiter (threadpoolctl ships no types)."""

    def restore_original_limits(self) -> None: ...


class _Controller(Protocol):
    """What the engine uses of ``threadpoolctl.ThreadpoolController``."""

    def limit(self, *, limits: int, user_api: str) -> _Limits: ...


@cache
def _blas_controller() -> _Controller | None:
    """threadpoolctl's view of the BLAS libraries loaded in this process (None without it)."""
    try:
        from threadpoolctl import ThreadpoolController
    except ImportError:  # pragma: no cover - a core dependency; the engine still works
        return None
    controller: _Controller = ThreadpoolController()
    return controller


_blas_lock = threading.Lock()
_blas_users = 0
_blas_limiter: _Limits | None = None


@contextmanager
def _one_blas_thread() -> Iterator[None]:
    """Run NumPy's BLAS single-threaded inside the block, then restore its setting.

    The setting is process-wide, so concurrent users are counted and the last one out restores
    the original limits (threadpoolctl finds the library: OpenBLAS, MKL or BLIS).
    """
    global _blas_users, _blas_limiter
    controller = _blas_controller()
    if controller is None:
        yield
        return
    with _blas_lock:
        if _blas_users == 0:
            _blas_limiter = controller.limit(limits=1, user_api="blas")
        _blas_users += 1
    try:
        yield
    finally:
        with _blas_lock:
            _blas_users -= 1
            if _blas_users == 0 and _blas_limiter is not None:
                _blas_limiter.restore_original_limits()
                _blas_limiter = None


class NumpyEngine(Engine):
    """Batch engine.

    ``dtype`` float32 (default, fast; ~1e-7 relative to the references) or float64 (~1e-12).
    Batches are cut into chunks of at most ``chunk`` windows that ``threads`` worker threads run
    (default: 2, or 1 on a single core).
    """

    name = "numpy"

    def __init__(
        self, bundle: Bundle, dtype: str = "float32", chunk: int = 512, threads: int | None = None
    ) -> None:
        super().__init__(bundle)
        self.dtype: np.dtype[np.floating[Any]] = np.dtype(dtype)
        if self.dtype not in (np.float32, np.float64):
            raise SquallError(f"numpy engine dtype must be float32 or float64, got {dtype!r}")
        self.chunk = max(1, int(chunk))
        self.threads = max(1, int(threads if threads is not None else min(2, os.cpu_count() or 1)))
        planner = _plan(bundle, self.dtype)
        self.plan, self.steps = planner.plan, planner.steps
        #: the last layer is an LSTM: the plan's result is 2h, halved once at the end
        self.doubled_output = planner.doubled
        self._pool: ThreadPoolExecutor | None = None

    def _forward(self, x: Windows) -> Floats:
        """One chunk: (n, T, F) in, (T', F', n) out (or (C, n) for a vector output)."""
        seq: Floats | None = np.ascontiguousarray(x.transpose(1, 2, 0), dtype=self.dtype)
        vec: Floats | None = None  # seq: (T, F, n)
        for op, steps in zip(self.plan, self.steps, strict=True):
            seq, vec = op.forward(seq, vec, steps)  # (T, width, n), or a vector (H, n)
        out = seq if seq is not None else vec
        assert out is not None
        if self.doubled_output:
            out = out * 0.5  # 2h -> h, exact
        return out

    def trace(self, x: ArrayLike) -> Iterator[TraceItem]:
        """Yield ``(layer index, kind, {signal: (N, T, width) array})`` for every LSTM and
        dense layer run on scaled windows ``x`` (N, T, F), in one chunk, by this engine's own
        step (:class:`_TracedCell`); signals in the bundle's units and gate order. LSTM:
        :data:`LSTM_SIGNALS`; dense: ``x``, ``Wx``, ``y``. The signals of one segment (LSTM
        layers advancing together) are alive at a time."""
        windows = np.asarray(x, dtype=self.dtype)
        seq: Floats | None = np.ascontiguousarray(windows.transpose(1, 2, 0))  # (T, F, N)
        vec: Floats | None = None
        for op, steps in zip(self.plan, self.steps, strict=True):
            records: list[TraceItem] = []
            seq, vec = op.forward(seq, vec, steps, records)
            for index, kind, signals in records:
                yield (
                    index,
                    kind,
                    {
                        k: (v.transpose(2, 0, 1) if kind != "lstm" else v)
                        for k, v in signals.items()
                    },
                )

    def chunks(self, n: int) -> list[tuple[int, int]]:
        """(start, stop) of each work item for a batch of ``n``: equal chunks of at most
        ``chunk`` windows, at least one per thread when each gets ``MIN_CHUNK`` windows."""
        count = max(1, math.ceil(n / self.chunk))
        if n >= self.threads * MIN_CHUNK:
            count = max(count, self.threads)
        size = math.ceil(n / count) if n else 1
        return [(a, min(a + size, n)) for a in range(0, n, size)]

    def _reconstruct(self, x: Windows) -> NDArray[np.float64]:
        result = np.empty((len(x), *self.bundle.model.output_shape), np.float64)

        def work(span: tuple[int, int]) -> None:
            a, b = span
            out = self._forward(x[a:b])
            result[a:b] = out.transpose(2, 0, 1) if out.ndim == 3 else out.T  # (n, T, F)

        spans = self.chunks(len(x))
        helpers = min(self.threads, len(spans)) - 1
        pending = iter(spans)
        lock = threading.Lock()

        def drain() -> None:
            while True:
                with lock:
                    span = next(pending, None)
                if span is None:
                    return
                work(span)

        with _one_blas_thread():
            if helpers == 0:
                drain()
                return result
            if self._pool is None:
                self._pool = ThreadPoolExecutor(self.threads - 1, thread_name_prefix="squall-np")
            futures = [self._pool.submit(drain) for _ in range(helpers)]
            try:
                drain()  # the calling thread works too
            except BaseException:  # e.g. Ctrl-C: helpers stop after their chunk
                with lock:
                    for _ in pending:
                        pass
                raise
            finally:
                for future in futures:  # helpers' errors surface here
                    future.result()
        return result
