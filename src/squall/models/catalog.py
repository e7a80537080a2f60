"""The named models ``squall train --model NAME`` trains: their layer lists, in one place.

Every model is a plain layer list of :mod:`squall.model` (so every engine runs it and the
bundle stores it as any other); this module only says which list each name means, its default
sizes and, for a forecaster, its default lookback and horizon.

``autoencoder`` (the default)
    The seed LSTM autoencoder (:func:`squall.model.seed_layers`): encoder LSTMs ``sizes`` (the
    last gives its final state), repeat over the window, mirrored decoder LSTMs, dense back to
    every feature. Task ``reconstruct``. Sizes default ``(64, 32)``.
``lstm-forecaster``
    A small sequence-to-sequence LSTM: encoder LSTMs ``sizes`` over the lookback (the last
    gives its final state: a summary of the lookback), ``repeat(H)`` hands it to each of the H
    horizon steps, a decoder LSTM of ``sizes[-1]`` units walks the horizon, and a dense layer
    gives the targets at every step. The whole horizon comes out at once (no autoregressive
    feedback: a forecast step never sees the model's own earlier, possibly wrong, outputs, and
    every engine runs it as it runs the autoencoder). Sizes default ``(32,)``; lookback 100 ->
    horizon 10 by default (seed 001's task).
``cnn-lstm``
    Seed 004's compact CNN + LSTM multivariate forecaster: a causal ``conv1d`` of
    ``sizes[0]`` channels and kernel :data:`CNN_KERNEL` over the lookback (step t sees steps
    t-2..t; the layer is linear, the LSTM's gates are the non-linearity), an LSTM of
    ``sizes[-1]`` units giving its final state, ``repeat(H)``, a decoder LSTM and a dense layer
    to the targets. Sizes default ``(32, 32)``; lookback 30 -> horizon 10 by default.
``seq2seq-gru-fft``
    Seed 001's final model as a chain (``docs/model-description.md``, "seq2seq-gru-fft as a
    chain"): ``rfft`` appends the amplitudes and phases of the whole lookback (every bin,
    ``norm="forward"``) to every lookback step, a GRU of ``sizes[0]`` units reads that and gives
    its last state, a tanh dense layer of ``sizes[-1]`` units embeds it, and a GRU ``decoder``
    of ``sizes[-1]`` units runs H steps on its own output (no teacher forcing, from zeros),
    giving the targets. Sizes default ``(10, 64)``; lookback 100 -> horizon 10 by default.
    Available when the model description has the ``rfft`` and ``decoder`` layer types.
"""

from __future__ import annotations

from squall.errors import NAME, ParameterError
from squall.model import (
    LAYER_TYPES,
    Conv1d,
    Dense,
    Layer,
    Lstm,
    Repeat,
    seed_layers,
    seq2seq_gru_fft_layers,
)

#: Every model name ``--model`` knows, the default first.
MODELS = ("autoencoder", "lstm-forecaster", "cnn-lstm", "seq2seq-gru-fft")
#: Models that forecast (task ``forecast``); the others reconstruct.
FORECASTERS = ("lstm-forecaster", "cnn-lstm", "seq2seq-gru-fft")
#: Default hidden sizes per model (``--hidden``).
DEFAULT_SIZES: dict[str, tuple[int, ...]] = {
    "autoencoder": (64, 32),
    "lstm-forecaster": (32,),
    "cnn-lstm": (32, 32),
    "seq2seq-gru-fft": (10, 64),
}
#: Default (lookback, horizon) per forecaster when ``--lookback``/``--horizon`` are not given.
DEFAULT_WINDOW: dict[str, tuple[int, int]] = {
    "lstm-forecaster": (100, 10),
    "cnn-lstm": (30, 10),
    "seq2seq-gru-fft": (100, 10),
}
#: Kernel of the cnn-lstm's causal convolution (shortened to the lookback when it is shorter).
CNN_KERNEL = 3
#: Layer types seq2seq-gru-fft needs beyond today's.
_FFT_LAYERS = ("rfft", "decoder")


def check_model(name: object) -> str:
    """``name`` if it is a model squall can train now; a one-line error otherwise."""
    if not isinstance(name, str) or name not in MODELS:
        raise ParameterError(
            "model", f"{NAME} must be one of {', '.join(MODELS)}, got {name!r}"[:300]
        )
    missing = [t for t in _FFT_LAYERS if t not in LAYER_TYPES]
    if name == "seq2seq-gru-fft" and missing:
        raise ParameterError(
            "model",
            f"{NAME} seq2seq-gru-fft is not available yet: the model description has no "
            f"{' and no '.join(missing)} layer; use lstm-forecaster or cnn-lstm",
        )
    return name


def is_forecaster(name: str) -> bool:
    """Does model ``name`` forecast (task ``forecast``)?"""
    return name in FORECASTERS


def layers(
    name: str,
    *,
    inputs: int,
    targets: int,
    length: int,
    horizon: int = 0,
    sizes: tuple[int, ...] | None = None,
) -> tuple[Layer, ...]:
    """The layer list of model ``name``: ``inputs`` features per step in; an autoencoder's
    windows of ``length`` steps, a forecaster's lookback of ``length`` steps and ``horizon``
    steps of ``targets`` features out. ``sizes`` default :data:`DEFAULT_SIZES`."""
    check_model(name)
    chosen = tuple(int(s) for s in (sizes or DEFAULT_SIZES[name]))
    if name in ("cnn-lstm", "seq2seq-gru-fft") and len(chosen) > 2:
        raise ParameterError(
            "sizes",
            f"{NAME} of {name}: at most two sizes ({'channels' if name == 'cnn-lstm' else 'GRU'}"
            f", {'LSTM' if name == 'cnn-lstm' else 'embedding'}), got {len(chosen)}",
        )
    if name == "autoencoder":
        return seed_layers(inputs, length, chosen)
    if name == "lstm-forecaster":
        encoder = seed_layers(inputs, horizon, chosen)[: len(chosen)]
        last = chosen[-1]
        return (*encoder, Repeat(horizon), Lstm(last, last, True), Dense(last, targets))
    if name == "seq2seq-gru-fft":  # the chain squall.model documents, every bin of the lookback
        return seq2seq_gru_fft_layers(inputs, length, horizon, targets, (chosen[0], chosen[-1]))
    # cnn-lstm
    channels, hidden = chosen[0], chosen[-1]
    return (
        Conv1d(inputs, channels, min(CNN_KERNEL, length), "causal"),
        Lstm(channels, hidden, False),
        Repeat(horizon),
        Lstm(hidden, hidden, True),
        Dense(hidden, targets),
    )


__all__ = [
    "CNN_KERNEL",
    "DEFAULT_SIZES",
    "DEFAULT_WINDOW",
    "FORECASTERS",
    "MODELS",
    "check_model",
    "is_forecaster",
    "layers",
]
