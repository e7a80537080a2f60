"""The fixed engine's GRU, decoder, conv1d, rfft, dense activations and dense on one vector, and
its forecasters and classifiers: the numpy int64 backend equals the plain-int reference bit for bit,
the output stays within the parity tolerance of the float reference, the stated widths hold, and
the hardware tools still refuse those layers in one line."""

from __future__ import annotations

import numpy as np
import pytest

from squall.bundle import random_bundle
from squall.engines import get_engine
from squall.engines.fixed import PRESETS, FixedModel, parity_tolerance, with_formats
from squall.engines.fixedpoint import signed_bits
from squall.errors import SquallError
from squall.model import Conv1d, Decoder, Dense, Gru, Lstm, Repeat, Rfft, seq2seq_gru_fft_layers

BUNDLES = {  # name -> (features, length, layers)
    "gru-gru-dense": (3, 7, [Gru(3, 6, True), Gru(6, 4, True), Dense(4, 3)]),
    "gru-repeat-gru": (2, 6, [Gru(2, 5, False), Repeat(6), Gru(5, 4, True), Dense(4, 2)]),
    "lstm-gru": (3, 6, [Lstm(3, 5, True), Gru(5, 4, True), Dense(4, 3)]),
    "activations": (
        3,
        6,
        [Gru(3, 5, True), Dense(5, 4, "relu"), Dense(4, 4, "tanh"), Dense(4, 3, "sigmoid")],
    ),
    "conv-after-repeat": (
        2,
        6,
        [Lstm(2, 4, False), Repeat(6), Conv1d(4, 3, 3), Lstm(3, 2, True)],
    ),
    "dense-on-vector": (3, 5, [Gru(3, 6, False), Dense(6, 4), Repeat(5), Gru(4, 3, True)]),
}
MODES = {  # the generic requantizer path: other rounding and overflow modes
    "conv-wrap": with_formats(
        PRESETS["16"], data="Q4.12/rnd_conv/wrap", preact="Q4.12/trn", weight="Q2.14/trn_zero"
    ),
}


def _bundle(name: str):
    features, length, layers = BUNDLES[name]
    return random_bundle(layers, features, length, seed=4, scale=0.5)


@pytest.mark.parametrize("config", [*PRESETS, *MODES])
@pytest.mark.parametrize("name", list(BUNDLES))
def test_gru_numpy_backend_is_bit_exact(name, config):
    b = _bundle(name)
    cfg = MODES.get(config) or PRESETS[config]
    x = np.random.default_rng(2).uniform(-1.5, 2.5, (4, b.length, len(b.features)))
    x[0, 0, 0] = 100.0  # saturates at the input
    model = FixedModel(b, cfg, all_layers=True)
    codes = model.quantize_windows(x)
    fast = model.run_codes(codes)
    assert fast.dtype == np.int64 and fast.tolist() == [
        model.reconstruct_codes(w) for w in codes.tolist()
    ]
    assert np.array_equal(
        get_engine("fixed", b, config=cfg, backend="python").reconstruct(x),
        get_engine("fixed", b, config=cfg).reconstruct(x),
    )


@pytest.mark.parametrize("config", ["16", "16-pwl"])
@pytest.mark.parametrize("name", list(BUNDLES))
def test_gru_models_are_within_the_parity_tolerance(name, config):
    """The LSTM step's budget (parity_tolerance) as the GRU's tolerance: a GRU step has fewer
    rounding points on its path to h (no cell register); observed at most 0.006 (fixed16) and
    0.0005 (fixed16-pwl) on these shapes, against 0.13 and 0.0077."""
    b = _bundle(name)
    x = np.random.default_rng(3).uniform(-1, 1, (5, b.length, len(b.features)))
    ref = get_engine("numpy", b, dtype="float64").reconstruct(x)
    got = get_engine("fixed", b, config=config).reconstruct(x)
    assert np.abs(got - ref).max() < parity_tolerance(config)
    assert np.abs(got - ref).max() < parity_tolerance(config) / 10  # far from the bound


def test_gru_widths_are_stated_and_hold_for_extreme_values():
    """16-bit preset: the n gate's sum (a_n << 15) + r u_n and h's update (n << 15) + z (h - n)
    (n, tanh codes Q1.15, and h, data codes Q4.12 shifted by 3, aligned to 15 fraction bits)."""
    m = FixedModel(_bundle("gru-gru-dense"), PRESETS["16"], all_layers=True)
    P, S = 2**15, 2**16 - 1  # largest preact code magnitude; largest sigmoid code
    assert m.gru_bits == 36
    n_sum = (P << 15) + P * S
    h_sum = (P << 15) + S * ((P << 3) + P)
    assert max(signed_bits(n_sum), signed_bits(h_sum)) == m.gru_bits
    assert m.layers[0].acc_bits == 16 + 16 + 4  # 3 + 6 products, two biases: ceil(log2(11))


def test_the_hardware_tools_still_refuse_a_gru_in_one_line():
    b = _bundle("gru-gru-dense")
    with pytest.raises(SquallError, match="layer 0: the hardware tools have no 'gru' layer"):
        FixedModel(b, PRESETS["16"])  # as the RTL generator and hw export build it
    features, length, layers, task = TASK_MODELS["lstm-decoder"]
    dec = random_bundle(layers, features, length, task=task)
    with pytest.raises(SquallError, match="layer 1: the hardware tools have no 'decoder' layer"):
        FixedModel(dec, PRESETS["16"])
    features, length, layers, task = TASK_MODELS["cnn-lstm"]
    with pytest.raises(SquallError, match="layer 0: the hardware tools have no 'conv1d' layer"):
        FixedModel(random_bundle(layers, features, length, task=task), PRESETS["16"])
    spectrum = random_bundle([Rfft(2, 4, None, True), Gru(14, 2, True)], 2, 4)
    with pytest.raises(SquallError, match="layer 0: the hardware tools have no 'rfft' layer"):
        FixedModel(spectrum, PRESETS["16"])


@pytest.mark.parametrize("config", ["16", "12", "conv-wrap"])
@pytest.mark.parametrize("L, bins", [(8, None), (9, None), (10, 3), (16, None)])
def test_fixed_rfft_is_bit_exact_and_close_to_numpy_fft(L, bins, config):
    """Amplitudes and phases on codes (exact sums with quantized twiddles, a CORDIC): both
    backends give the same integers; with the 16-bit preset within 1e-3 of numpy.fft
    (observed 6e-4); the conventions hold: a negative mean's DC phase is pi (its data code), an
    all-zero window gives zeros."""
    F = 2
    layer = Rfft(F, L, bins)
    task = {"kind": "classify", "classes": [f"c{k}" for k in range(layer.spectrum_width)]}
    b = random_bundle([layer], F, L, task=task)
    cfg = MODES.get(config) or PRESETS[config]
    x = np.random.default_rng(L).uniform(-1, 1, (4, L, F))
    x[0, :, 0] -= 0.5
    x[1] = 0.0
    fast = get_engine("fixed", b, config=cfg).run(x)
    assert np.array_equal(get_engine("fixed", b, config=cfg, backend="python").run(x), fast)
    if config != "16":
        return
    K = layer.frequencies
    spec = np.fft.rfft(x, axis=1, norm="forward")[:, :K].transpose(0, 2, 1).reshape(4, -1)
    expected = np.concatenate([np.abs(spec), np.angle(spec)], axis=1)
    assert np.abs(fast - expected).max() < 1e-3
    assert fast[0, F * K] == round(np.pi * 2**12) / 2**12  # DC phase of feature 0: pi
    assert (fast[1] == 0).all()


TASK_MODELS = {  # name -> (features, length, layers, task)
    "lstm-forecaster": (
        3,
        12,
        [Lstm(2, 6, False), Repeat(4), Lstm(6, 6, True), Dense(6, 1)],
        {
            "kind": "forecast",
            "lookback": 8,
            "horizon": 4,
            "inputs": ["f0", "f1"],
            "targets": ["f2"],
        },
    ),
    "gru-forecaster": (
        2,
        9,
        [Gru(2, 5, False), Repeat(3), Gru(5, 4, True), Dense(4, 2)],
        {"kind": "forecast", "lookback": 6, "horizon": 3},
    ),
    "gru-decoder": (
        2,
        11,
        [Gru(2, 5, False), Dense(5, 4), Decoder(4, 6, 2, 3, "gru")],
        {"kind": "forecast", "lookback": 8, "horizon": 3},
    ),
    "lstm-decoder": (
        2,
        12,
        [Lstm(2, 4, False), Decoder(4, 4, 1, 4, "lstm")],
        {"kind": "forecast", "lookback": 8, "horizon": 4, "targets": ["f1"]},
    ),
    "cnn-lstm": (
        2,
        13,
        [Conv1d(2, 4, 3), Lstm(4, 5, False), Repeat(3), Lstm(5, 5, True), Dense(5, 2)],
        {"kind": "forecast", "lookback": 10, "horizon": 3},
    ),
    "valid-conv-forecast": (
        3,
        15,
        [Conv1d(3, 4, 4, "valid"), Gru(4, 4, True), Dense(4, 2)],
        {"kind": "forecast", "lookback": 9, "horizon": 6, "targets": ["f0", "f2"]},
    ),
    "seq2seq-gru-fft": (
        1,
        20,
        list(seq2seq_gru_fft_layers(1, 16, 4, 1, (6, 8))),
        {"kind": "forecast", "lookback": 16, "horizon": 4},
    ),
    "gru-classifier": (
        3,
        7,
        [Gru(3, 5, False), Dense(5, 2)],
        {"kind": "classify", "classes": ["calm", "storm"]},
    ),
}


@pytest.mark.parametrize("config", ["16", "16-pwl", "12", "conv-wrap"])
@pytest.mark.parametrize("name", list(TASK_MODELS))
def test_forecasters_decoders_and_classifiers_run_in_the_fixed_engine(name, config):
    """Each layer runs its own steps (a forecaster's lookback, then its horizon after the
    repeat; a decoder its own steps on its fed-back output codes); both backends give the same
    integers; the output is within the tolerance."""
    features, length, layers, task = TASK_MODELS[name]
    b = random_bundle(layers, features, length, seed=6, scale=0.5, task=task)
    cfg = MODES.get(config) or PRESETS[config]
    x = np.random.default_rng(7).uniform(-1, 1, (4, *b.model.input_shape))
    ref = get_engine("numpy", b, dtype="float64").run(x)
    fast = get_engine("fixed", b, config=cfg).run(x)
    assert fast.shape == ref.shape == (4, *b.model.output_shape)
    assert np.array_equal(get_engine("fixed", b, config=cfg, backend="python").run(x), fast)
    if config in ("16", "16-pwl"):
        assert np.abs(fast - ref).max() < parity_tolerance(config) / 10
