"""Analytic costs of one window, per layer, from the layer sizes alone: what the engines do.

:func:`window_costs` is the one place the formulas live. ``squall graph`` draws them; the pure
engine counts the same quantities as it runs (:class:`squall.engines.pure.Counters`, with the
same definitions) and the tests check that the two agree. With H hidden units, n inputs, T steps
and w bytes a word, for one window:

============  ====================================  =====================================
              LSTM (``n -> H``)                     LSTM after ``repeat`` (input v, once)
============  ====================================  =====================================
step calls    T                                     T
MACs          T 4H (n + H)                          4H n + T 4H H
activations   T 5H (sigmoid i, f, o; tanh g, c)     T 5H
weight bytes  T (4H (n + H) + 4H) w                 (4H n + 4H) w + T 4H H w
state in      T (n + 2H) w  (x, h, c)               T (4H + 2H) w  (projection, h, c)
state out     T 2H w  (h, c)                        T 2H w
============  ====================================  =====================================

A GRU (``n -> H``, gate order r, z, n): T calls, ``T 3H (n + H)`` MACs (after a repeat ``3H n``
once plus ``T 3H H``), ``T 3H`` activations (sigmoid r, z; tanh n), weight bytes ``T (3H (n + H)
+ 6H) w`` (after a repeat ``(3H n + 3H) w`` once plus ``T (3H H + 3H) w``: U and b_h), state in
``T (n + H) w`` (x, h; after a repeat ``T (3H + H) w``), state out ``T H w``.

A conv1d layer (``c -> m`` channels, kernel k) over its L' output steps: L' calls, ``L' m k c``
MACs, ``L' (m k c + m) w`` weight bytes, ``L' k c w`` in (the k input steps each output sees,
padding included), ``L' m w`` out, no activations.

A dense layer ``n -> m`` applied per step: T calls, ``T n m`` MACs, ``T (n m + m) w`` weight
bytes, ``T n w`` in, ``T m w`` out, no activations (its activation, when not linear, is not
counted); on one vector per window (or a repeated one, computed once): one call.
An rfft layer (F features, L steps, K bins): one call, ``2 F K L`` MACs (the cosine and sine
terms of the direct DFT the pure engine computes; an FFT does fewer), no weights, no
activations counted (the ``2 F K`` hypot and atan2 of the amplitudes and phases are not sigmoid
or tanh), ``L F w`` in, its output out (``2 F K w``, or ``L (F + 2 F K) w`` with ``append``).

A decoder (``n -> H``, m outputs, S steps, G = 3 for a GRU cell, 4 for an LSTM cell): ``H n``
MACs and ``(H n + H) w`` weight bytes once when it projects the vector (``n != H``); per step
``G H (m + H) + m H`` MACs (the cell on the fed-back output, then ``Wo h``), ``3H`` (GRU) or
``5H`` (LSTM) activations, weight bytes ``(G H (m + H) + B + m H + m) w`` with B the biases read
(GRU ``2 G H``: ``b`` and ``b_h`` apart; LSTM ``G H``: ``b + b_h`` added once), state in ``(m +
H) w`` (GRU; LSTM ``(m + 2H) w``: x, h, c), out ``(H + m) w`` (LSTM ``(2H + m) w``).

T is each layer's own input length (a repeat's ``times`` after it). A repeat layer costs
nothing: the next LSTM
reads the same vector at every step and projects it once. MACs are the multiply-accumulates of
the mat-vecs; weights are counted each time they are read (no reuse across steps assumed).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass
from typing import Any

from squall.errors import SquallError
from squall.model import (
    Conv1d,
    Decoder,
    Dense,
    Gru,
    Layer,
    LayerStep,
    Lstm,
    Repeat,
    Rfft,
    walk_layers,
)

#: The per-window counts, named as in :class:`squall.engines.pure.Counters`.
COUNTS = ("step_calls", "macs", "activations", "weight_bytes", "state_bytes_in", "state_bytes_out")


@dataclass(frozen=True)
class LayerCost:
    """One layer's analytic costs for one window (bytes with ``word_bytes`` a value)."""

    index: int
    kind: str  # the layer's type: "lstm", "gru", "conv1d", "dense", "repeat", "rfft", ...
    params: int  # weights and biases
    step_calls: int
    macs: int  # per window
    macs_step: int  # of one step call (4H H after a repeat)
    macs_once: int  # per window outside the steps: W v after a repeat, else 0
    activations: int
    weight_bytes: int
    state_bytes_in: int
    state_bytes_out: int
    out_shape: tuple[int, ...]  # the layer's output for one window
    out_bytes: int

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _lstm_window(step: LayerStep, T: int, w: int) -> LayerCost:
    layer = step.layer
    assert isinstance(layer, Lstm)
    n, H = layer.input, layer.hidden
    params = 4 * H * (n + H) + 4 * H
    if step.repeated:  # W v + b once, then U h added to it at every step
        once, per = 4 * H * n, 4 * H * H
        weights = (4 * H * n + 4 * H) * w + T * 4 * H * H * w
        state_in = T * (4 * H + 2 * H) * w
    else:
        once, per = 0, 4 * H * (n + H)
        weights = T * (4 * H * (n + H) + 4 * H) * w
        state_in = T * (n + 2 * H) * w
    shape = (T, H) if layer.return_sequences else (H,)
    return LayerCost(
        step.index,
        layer.kind,
        params,
        T,
        once + T * per,
        per,
        once,
        T * 5 * H,
        weights,
        state_in,
        T * 2 * H * w,
        shape,
        _size(shape) * w,
    )


def _gru_window(step: LayerStep, T: int, w: int) -> LayerCost:
    layer = step.layer
    assert isinstance(layer, Gru)
    n, H = layer.input, layer.hidden
    params = 3 * H * (n + H) + 6 * H
    if step.repeated:  # W v + b_i once, then U h + b_h at every step
        once, per = 3 * H * n, 3 * H * H
        weights = (3 * H * n + 3 * H) * w + T * (3 * H * H + 3 * H) * w
        state_in = T * (3 * H + H) * w
    else:
        once, per = 0, 3 * H * (n + H)
        weights = T * (3 * H * (n + H) + 6 * H) * w
        state_in = T * (n + H) * w
    shape = (T, H) if layer.return_sequences else (H,)
    return LayerCost(
        step.index,
        layer.kind,
        params,
        T,
        once + T * per,
        per,
        once,
        T * 3 * H,
        weights,
        state_in,
        T * H * w,
        shape,
        _size(shape) * w,
    )


def _conv1d_window(step: LayerStep, T: int, w: int) -> LayerCost:
    layer = step.layer
    assert isinstance(layer, Conv1d)
    c, m, k = layer.input, layer.output, layer.kernel
    L = layer.out_length(T)
    shape = (L, m)
    return LayerCost(
        step.index,
        layer.kind,
        m * c * k + m,
        L,
        L * m * k * c,
        m * k * c,
        0,
        0,
        L * (m * k * c + m) * w,
        L * k * c * w,
        L * m * w,
        shape,
        _size(shape) * w,
    )


def _dense_window(step: LayerStep, T: int, w: int) -> LayerCost:
    layer = step.layer
    assert isinstance(layer, Dense)
    n, m = layer.input, layer.output
    shape: tuple[int, ...] = (T, m)
    if not step.sequence_in or step.repeated:  # one vector: computed once
        shape = (m,) if not step.sequence_in else (T, m)
        T = 1
    return LayerCost(
        step.index,
        layer.kind,
        n * m + m,
        T,
        T * n * m,
        n * m,
        0,
        0,
        T * (n * m + m) * w,
        T * n * w,
        T * m * w,
        shape,
        _size(shape) * w,
    )


def _repeat_window(step: LayerStep, T: int, w: int) -> LayerCost:
    shape = (T, step.in_width) if step.in_width else (T,)
    return LayerCost(
        step.index, step.layer.kind, 0, 0, 0, 0, 0, 0, 0, 0, 0, shape, _size(shape) * w
    )


def _rfft_window(step: LayerStep, T: int, w: int) -> LayerCost:
    layer = step.layer
    assert isinstance(layer, Rfft)
    F, L, K = layer.input, layer.length, layer.frequencies
    shape = (L, F + 2 * F * K) if layer.append else (2 * F * K,)
    macs = 2 * F * K * L
    out = _size(shape) * w
    return LayerCost(step.index, layer.kind, 0, 1, macs, macs, 0, 0, 0, L * F * w, out, shape, out)


def _decoder_window(step: LayerStep, T: int, w: int) -> LayerCost:
    layer = step.layer
    assert isinstance(layer, Decoder)
    n, H, m, S, G = layer.input, layer.hidden, layer.outputs, layer.steps, layer.gates
    lstm = layer.cell == "lstm"
    once = H * n if layer.projected else 0
    per = G * H * (m + H) + m * H
    biases = G * H if lstm else 2 * G * H
    state = 2 * H if lstm else H
    params = sum(_size(s) for s in layer.weight_shapes().values())
    shape = (S, m)
    return LayerCost(
        step.index,
        layer.kind,
        params,
        S,
        once + S * per,
        per,
        once,
        S * (5 if lstm else 3) * H,
        ((H * n + H) if layer.projected else 0) * w
        + S * (G * H * (m + H) + biases + m * H + m) * w,
        S * (m + state) * w,
        S * (state + m) * w,
        shape,
        _size(shape) * w,
    )


#: Layer type -> its per-window cost formulas (a new layer type adds one entry).
WINDOW_COSTS: dict[type[Layer], Callable[[LayerStep, int, int], LayerCost]] = {
    Lstm: _lstm_window,
    Gru: _gru_window,
    Conv1d: _conv1d_window,
    Dense: _dense_window,
    Repeat: _repeat_window,
    Rfft: _rfft_window,
    Decoder: _decoder_window,
}


def window_costs(
    layers: Iterable[Layer | Mapping[str, Any]], length: int, word_bytes: int = 4
) -> list[LayerCost]:
    """Per-layer costs of one window of ``length`` steps through ``layers`` (a bundle's typed
    layers, :mod:`squall.model`, or their JSON objects); each layer's formulas get its own input
    length (the walk's: a repeat or a valid convolution changes it)."""
    w = int(word_bytes)
    out: list[LayerCost] = []
    for step in walk_layers(layers, None, int(length)):
        cost = WINDOW_COSTS.get(type(step.layer))
        if cost is None:
            raise SquallError(f"layer {step.index}: no cost formula for {step.layer.kind!r}")
        out.append(cost(step, step.in_length, w))
    return out


def as_tables(costs: list[LayerCost]) -> dict[str, dict[int, int]]:
    """``{count: {layer index: n}}`` for the layers that do work (the shape of
    ``Counters.as_dict()``; zero entries, e.g. a dense layer's activations, are left out)."""
    return {name: {c.index: getattr(c, name) for c in costs if getattr(c, name)} for name in COUNTS}


def _size(shape: tuple[int, ...]) -> int:
    size = 1
    for d in shape:
        size *= d
    return size
