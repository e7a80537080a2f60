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

A dense layer ``n -> m`` applied per step: T calls, ``T n m`` MACs, ``T (n m + m) w`` weight
bytes, ``T n w`` in, ``T m w`` out, no activations. A repeat layer costs nothing: the next LSTM
reads the same vector at every step and projects it once. MACs are the multiply-accumulates of
the mat-vecs; weights are counted each time they are read (no reuse across steps assumed).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass
from typing import Any

from squall.errors import SquallError
from squall.model import Dense, Layer, LayerStep, Lstm, Repeat, walk_layers

#: The per-window counts, named as in :class:`squall.engines.pure.Counters`.
COUNTS = ("step_calls", "macs", "activations", "weight_bytes", "state_bytes_in", "state_bytes_out")


@dataclass(frozen=True)
class LayerCost:
    """One layer's analytic costs for one window (bytes with ``word_bytes`` a value)."""

    index: int
    kind: str  # "lstm", "dense" or "repeat"
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


def _dense_window(step: LayerStep, T: int, w: int) -> LayerCost:
    layer = step.layer
    assert isinstance(layer, Dense)
    n, m = layer.input, layer.output
    shape = (T, m)
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


#: Layer type -> its per-window cost formulas (a new layer type adds one entry).
WINDOW_COSTS: dict[type[Layer], Callable[[LayerStep, int, int], LayerCost]] = {
    Lstm: _lstm_window,
    Dense: _dense_window,
    Repeat: _repeat_window,
}


def window_costs(
    layers: Iterable[Layer | Mapping[str, Any]], length: int, word_bytes: int = 4
) -> list[LayerCost]:
    """Per-layer costs of one window of ``length`` steps through ``layers`` (a bundle's typed
    layers, :mod:`squall.model`, or their JSON objects)."""
    T, w = int(length), int(word_bytes)
    out: list[LayerCost] = []
    for step in walk_layers(layers):
        cost = WINDOW_COSTS.get(type(step.layer))
        if cost is None:
            raise SquallError(f"layer {step.index}: no cost formula for {step.layer.kind!r}")
        out.append(cost(step, T, w))
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
