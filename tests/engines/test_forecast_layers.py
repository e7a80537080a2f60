"""The forecasting layers of issue 14: ``rfft`` features and the ``decoder`` (a cell run on its own
output); every engine against ``numpy.fft`` / a hand-unrolled torch loop, and the seq2seq-gru-fft
chain of docs/model-description.md on every engine."""

from __future__ import annotations

import json

import numpy as np
import pytest

from squall.bundle import Bundle, load_bundle, random_bundle
from squall.engines import get_engine
from squall.errors import SquallError
from squall.model import (
    Conv1d,
    Decoder,
    Dense,
    Gru,
    Lstm,
    ModelSpec,
    Repeat,
    Rfft,
    seq2seq_gru_fft_layers,
)

torch = pytest.importorskip("torch")

TOL64, TOL32 = 1e-12, 1e-5
ENGINES64 = (("numpy", {"dtype": "float64"}), ("pure", {}), ("torch", {"dtype": "float64"}))


def _spectrum_bundle(F: int, L: int, bins: int | None = None) -> Bundle:
    """The rfft layer alone: one vector of 2 F K per window (run as a classifier)."""
    layer = Rfft(F, L, bins)
    classes = [f"c{k}" for k in range(layer.spectrum_width)]
    task = {"kind": "classify", "classes": classes}
    return random_bundle([layer], F, L, dtype=np.float64, task=task)


def _expected(x: np.ndarray, bins: int | None) -> np.ndarray:
    """numpy.fft directly: (N, L, F) -> (N, 2 F K), amplitudes then phases, feature-major."""
    spec = np.fft.rfft(x, axis=1, norm="forward")[:, :bins]  # (N, K, F)
    amp = np.abs(spec).transpose(0, 2, 1).reshape(len(x), -1)
    phase = np.angle(spec).transpose(0, 2, 1).reshape(len(x), -1)
    return np.concatenate([amp, phase], axis=1)


def _all_engines(bundle: Bundle, x: np.ndarray) -> dict[str, np.ndarray]:
    return {e: get_engine(e, bundle, **o).run(x) for e, o in ENGINES64}


# ---------------------------------------------------------------- rfft


@pytest.mark.parametrize("L, bins", [(8, None), (9, None), (10, 3), (7, 1)])
def test_rfft_agrees_with_numpy_fft_in_every_engine(L, bins):
    F = 2
    bundle = _spectrum_bundle(F, L, bins)
    K = bins if bins is not None else L // 2 + 1
    assert bundle.model.output_shape == (2 * F * K,)
    x = np.random.default_rng(L).normal(size=(4, L, F))
    x[0, :, 0] -= 3.0  # a negative mean: the DC bin's phase is pi
    expected = _expected(x, bins)
    for engine, got in _all_engines(bundle, x).items():
        np.testing.assert_allclose(got, expected, rtol=0, atol=TOL64, err_msg=engine)
    got32 = get_engine("numpy", bundle, dtype="float32").run(x)
    np.testing.assert_allclose(got32, expected, rtol=0, atol=TOL32)
    assert expected[0, F * K] == np.pi  # feature 0, bin 0: phase pi, not -pi


def test_rfft_phase_conventions_by_hand():
    """norm="forward": a cosine of amplitude 1 at bin 2 gives |X_2| = 1/2 (not doubled), phase
    0; a sine gives phase -pi/2; a constant -1 gives DC amplitude 1, phase pi; the Nyquist bin
    of an even L has phase 0 or pi only; an all-zero window gives amplitudes and phases 0."""
    L = 8
    t = np.arange(L)
    x = np.stack([np.cos(2 * np.pi * 2 * t / L), np.sin(2 * np.pi * 2 * t / L), -np.ones(L)], 1)
    alternating = (-1.0) ** t * -0.5  # the Nyquist bin, negative
    windows = np.stack([x, np.zeros((L, 3)), np.stack([alternating] * 3, 1)])
    bundle = _spectrum_bundle(3, L)
    K = L // 2 + 1
    for engine, got in _all_engines(bundle, windows).items():
        amp, phase = got[:, : 3 * K].reshape(3, 3, K), got[:, 3 * K :].reshape(3, 3, K)
        np.testing.assert_allclose(amp[0, 0, 2], 0.5, atol=1e-15, err_msg=engine)
        np.testing.assert_allclose(phase[0, 0, 2], 0.0, atol=1e-13, err_msg=engine)
        np.testing.assert_allclose(amp[0, 1, 2], 0.5, atol=1e-15, err_msg=engine)
        np.testing.assert_allclose(phase[0, 1, 2], -np.pi / 2, atol=1e-13, err_msg=engine)
        assert amp[0, 2, 0] == 1.0 and phase[0, 2, 0] == np.pi, engine
        assert (got[1] == 0).all(), engine  # all zero: phase atan2(0, 0) = 0
        np.testing.assert_allclose(amp[2, :, K - 1], 0.5, atol=1e-15, err_msg=engine)
        assert (phase[2, :, K - 1] == np.pi).all(), engine  # exactly pi, never -pi


def test_rfft_append_puts_the_spectrum_on_every_step():
    from squall.engines import numpy_engine, pure

    F, L = 2, 6
    layer = Rfft(F, L, 2, append=True)
    assert layer.out_width(F) == F + 2 * F * 2
    x = np.random.default_rng(3).normal(size=(3, L, F))
    spec = _expected(x, 2)
    op = numpy_engine._Rfft(0, 2, True)
    seq, vec = op.forward(np.ascontiguousarray(x.transpose(1, 2, 0)), None, L)
    assert vec is None
    got = seq.transpose(2, 0, 1)  # (N, L, F + 2 F K)
    np.testing.assert_array_equal(got[:, :, :F], x)
    for t in range(L):
        np.testing.assert_allclose(got[:, t, F:], spec, rtol=0, atol=TOL64)
    model = pure.PureModel([pure._rfft(layer, 0, {})], ["a", "b"], L)
    rows, _ = model.layers[0].run(model, 0, x[0].tolist(), None)
    np.testing.assert_allclose(rows, got[0], rtol=0, atol=TOL64)
    module = __import__("squall.models.autoencoder", fromlist=["Spectrum"]).Spectrum(2, True)
    np.testing.assert_allclose(module(torch.from_numpy(x)).numpy(), got, rtol=0, atol=TOL64)


@pytest.mark.parametrize(
    "layer, message",
    [
        (dict(input=2, length=8, bins=0), "rfft: bins must be a positive integer"),
        (dict(input=2, length=8, bins=6), "rfft: bins 6 is beyond the limit: at most 5"),
        (dict(input=2, length=8, append="yes"), "rfft: append must be true or false"),
    ],
)
def test_rfft_fields_are_checked_in_one_line(layer, message):
    with pytest.raises(SquallError, match=message):
        Rfft(**layer)


def test_rfft_length_is_checked_by_the_chain():
    with pytest.raises(SquallError, match="layer 0: rfft is built for 8 steps, gets 9"):
        ModelSpec((Rfft(1, 8), Dense(10, 1)), 1, 9, (1,))


# ---------------------------------------------------------------- decoder


def _unrolled(bundle: Bundle, index: int, v: np.ndarray) -> np.ndarray:
    """The decoder layer ``index`` by hand in torch float64: cell functions of torch.nn and an
    explicit loop feeding each output back (zeros first)."""
    layer = bundle.layers[index]
    assert isinstance(layer, Decoder)
    w = {
        k: torch.from_numpy(np.asarray(bundle.weights[f"layers.{index}.{k}"], np.float64))
        for k in layer.weight_shapes()
    }
    cell = (
        torch.nn.GRUCell(layer.outputs, layer.hidden)
        if layer.cell == "gru"
        else torch.nn.LSTMCell(layer.outputs, layer.hidden)
    )
    cell = cell.double()
    with torch.no_grad():
        cell.weight_ih.copy_(w["W"])
        cell.weight_hh.copy_(w["U"])
        cell.bias_ih.copy_(w["b"])
        cell.bias_hh.copy_(w["bh"])
        vt = torch.from_numpy(v)
        h = vt @ w["P"].T + w["p"] if layer.projected else vt
        c = torch.zeros_like(h)
        y = torch.zeros(len(v), layer.outputs, dtype=torch.float64)
        out = []
        for _ in range(layer.steps):
            if layer.cell == "gru":
                h = cell(y, h)
            else:
                h, c = cell(y, (h, c))
            y = h @ w["Wo"].T + w["bo"]
            out.append(y)
    return torch.stack(out, 1).numpy()


DECODERS = {  # name -> decoder layer (its input: a dense embedding of 5 values)
    "gru-projected": Decoder(5, 7, 2, 4, "gru"),
    "gru-same-size": Decoder(5, 5, 1, 3, "gru"),
    "lstm-projected": Decoder(5, 6, 2, 4, "lstm"),
    "lstm-same-size": Decoder(5, 5, 3, 2, "lstm"),
}


@pytest.mark.parametrize("name", DECODERS)
def test_the_decoder_matches_a_hand_unrolled_torch_loop(name):
    dec = DECODERS[name]
    F, L = 2, 6
    layers = [Gru(F, 4, False), Dense(4, 5, "tanh"), dec]
    features = max(F, dec.outputs)
    names = [f"f{k}" for k in range(features)]
    task = {"kind": "forecast", "lookback": L, "horizon": dec.steps}
    task.update(inputs=names[:F], targets=names[: dec.outputs])
    bundle = random_bundle(
        layers, features, L + dec.steps, seed=3, scale=0.6, dtype=np.float64, task=task
    )
    x = np.random.default_rng(5).uniform(-1, 1, (3, L, F))
    # the embedding the decoder gets, from the numpy engine's trace of the dense layer
    trace = {i: s for i, _, s in get_engine("numpy", bundle, dtype="float64").trace(x)}
    v = trace[1]["y"][:, 0]
    expected = _unrolled(bundle, 2, v)
    assert expected.shape == (3, dec.steps, dec.outputs)
    for engine, got in _all_engines(bundle, x).items():
        np.testing.assert_allclose(got, expected, rtol=0, atol=TOL64, err_msg=engine)
    got32 = get_engine("numpy", bundle, dtype="float32").run(x)
    np.testing.assert_allclose(got32, expected, rtol=0, atol=TOL32)


def test_the_torch_decoder_is_differentiable_through_its_fed_back_output():
    from squall.models.autoencoder import DecoderCell

    module = DecoderCell(Decoder(3, 4, 2, 5, "gru")).double()
    v = torch.randn(2, 3, dtype=torch.float64, requires_grad=True)
    module(v).sum().backward()
    assert v.grad is not None and v.grad.abs().sum() > 0
    for name, p in module.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, name
    # the last output depends on the first through the feedback: its gradient reaches W
    module.zero_grad()
    module(v)[:, -1].sum().backward()
    assert module.cell.weight_ih.grad.abs().sum() > 0


def test_decoder_fields_and_chain_are_checked_in_one_line():
    with pytest.raises(SquallError, match="decoder: unknown cell 'rnn'"):
        Decoder(3, 3, 1, 2, "rnn")
    with pytest.raises(SquallError, match="decoder: steps must be a positive integer"):
        Decoder(3, 3, 1, 0)
    with pytest.raises(SquallError, match="layer 1: decoder needs a single vector"):
        ModelSpec((Gru(2, 3, True), Decoder(3, 3, 2, 4)), 2, 6, (4, 2))
    assert Decoder(3, 3, 1, 2).weight_shapes().keys() == {"W", "U", "b", "bh", "Wo", "bo"}
    assert set(Decoder(3, 4, 1, 2, "lstm").weight_shapes()) >= {"P", "p"}
    assert Decoder(3, 4, 1, 2, "lstm").weight_shapes()["U"] == (16, 4)


# ---------------------------------------------------------------- seq2seq-gru-fft


def seq2seq_gru_fft(F: int, L: int, H: int, targets: int, bins: int | None = None) -> list:
    """The chain docs/model-description.md documents for seq2seq-gru-fft (smaller sizes)."""
    layers = list(seq2seq_gru_fft_layers(F, L, H, targets, (10, 16), bins))
    assert layers[:3] == [Rfft(F, L, bins, True), layers[1], Dense(10, 16, "tanh")]
    assert layers[3] == Decoder(16, 16, targets, H, "gru")
    return layers


def test_the_documented_seq2seq_gru_fft_example_is_the_helper():
    """docs/model-description.md's worked example (lookback 100, horizon 10, one feature)."""
    layers = seq2seq_gru_fft_layers(1, 100, 10, 1)
    assert [layer.to_json() for layer in layers] == [
        {"type": "rfft", "input": 1, "length": 100, "append": True},
        {"type": "gru", "input": 103, "hidden": 10, "return_sequences": False},
        {"type": "dense", "input": 10, "output": 64, "activation": "tanh"},
        {"type": "decoder", "input": 64, "hidden": 64, "outputs": 1, "steps": 10, "cell": "gru"},
    ]
    spec = ModelSpec(layers, 1, 100, (10, 1))
    assert spec.output_shape == (10, 1)


def test_seq2seq_gru_fft_runs_on_every_engine(tmp_path):
    from squall.engines import pure

    F, L, H = 1, 20, 5
    layers = seq2seq_gru_fft(F, L, H, 1)
    task = {"kind": "forecast", "lookback": L, "horizon": H}
    bundle = random_bundle(layers, F, L + H, seed=4, scale=0.4, dtype=np.float64, task=task)
    assert [s.out_width for s in bundle.model.walk()] == [1 + 2 * 11, 10, 16, 1]
    assert bundle.model.output_shape == (H, 1)
    t = np.arange(L)  # periods that are no divisor of L: no bin at rounding level (its phase
    # would be rounding, different in each engine: docs/model-description.md)
    x = np.stack([np.sin(2 * np.pi * t / p + p)[:, None] for p in (4.3, 7.5, 13.0)])
    results = _all_engines(bundle, x)
    ref = results["torch"]
    assert ref.shape == (3, H, 1) and np.ptp(ref[:, 0, 0]) > 1e-3
    for engine, got in results.items():
        np.testing.assert_allclose(got, ref, rtol=0, atol=TOL64, err_msg=engine)
    for engine in ("numpy", "torch"):
        np.testing.assert_allclose(get_engine(engine, bundle).run(x), ref, rtol=0, atol=TOL32)
    saved = bundle.save(tmp_path / "s2s")
    meta = json.loads((saved / "bundle.json").read_text())
    assert meta["layers"][0] == {"type": "rfft", "input": 1, "length": 20, "append": True}
    assert meta["layers"][3]["type"] == "decoder" and meta["layers"][3]["cell"] == "gru"
    assert load_bundle(saved).layers == bundle.layers
    np.testing.assert_allclose(
        pure.load(saved).run(x.tolist(), outputs=True), ref, rtol=0, atol=1e-5
    )


def test_an_lstm_encoder_then_spectrum_as_a_vector_into_a_decoder():
    """Another chain the two layers allow: the spectrum alone, embedded, decoded by an LSTM
    cell (an LSTM encoder before the rfft reads doubled states in the numpy engine)."""
    F, L, H = 2, 8, 3
    layers = [Lstm(F, 2, True), Rfft(2, L, 3), Dense(12, 6, "relu"), Decoder(6, 4, 2, H, "lstm")]
    task = {"kind": "forecast", "lookback": L, "horizon": H}
    bundle = random_bundle(layers, F, L + H, seed=6, scale=0.5, dtype=np.float64, task=task)
    x = np.random.default_rng(2).uniform(-1, 1, (3, L, F))
    results = _all_engines(bundle, x)
    for engine, got in results.items():
        np.testing.assert_allclose(got, results["torch"], rtol=0, atol=TOL64, err_msg=engine)


def test_the_hardware_tools_refuse_rfft_and_decoder_in_one_line():
    from squall.engines.fixed import PRESETS, FixedModel

    bundle = random_bundle([Rfft(2, 6, None, True), Gru(2 + 2 * 2 * 4, 2, True)], 2, 6)
    with pytest.raises(SquallError, match="layer 0: the hardware tools have no 'rfft'") as err:
        FixedModel(bundle, PRESETS["16"])  # as the RTL generator and hw export build it
    assert "\n" not in str(err.value)


# ---------------------------------------------------------------- costs, counters, tools


def test_rfft_and_decoder_costs_pinned_by_hand_and_counted_by_the_pure_engine():
    """rfft(1 x 8, 3 bins) -> decoder(gru, 6 -> 4 -> 1, x2), 8-byte words; then an LSTM cell."""
    from squall.engines.pure import Counters
    from squall.engines.tools.costs import as_tables, window_costs

    layers = [Rfft(1, 8, 3), Decoder(6, 4, 1, 2, "gru")]
    costs = window_costs(layers, 8, 8)
    # rfft: 2 F K L = 2 * 1 * 3 * 8; decoder: H n = 24 once, per step 3H (m + H) + m H = 64
    assert [c.macs for c in costs] == [48, 24 + 2 * 64]
    assert [c.activations for c in costs] == [0, 2 * 12]
    assert [c.step_calls for c in costs] == [1, 2]
    assert costs[0].weight_bytes == 0 and costs[0].params == 0
    assert costs[0].state_bytes_in == 8 * 8 and costs[0].state_bytes_out == 6 * 8
    # decoder weights: P, p once; per step W (12x1), U (12x4), b, bh (12 each), Wo (1x4), bo
    assert costs[1].weight_bytes == (24 + 4) * 8 + 2 * (12 * 5 + 24 + 4 + 1) * 8
    assert costs[1].params == 24 + 4 + 12 * 5 + 24 + 4 + 1
    assert costs[1].state_bytes_in == 2 * (1 + 4) * 8 and costs[1].state_bytes_out == 2 * 5 * 8
    task = {"kind": "forecast", "lookback": 8, "horizon": 2}
    bundle = random_bundle(layers, 1, 10, dtype=np.float64, task=task)
    assert bundle.model.weight_shapes()["layers.1.P"] == (4, 6)
    engine = get_engine("pure", bundle)
    engine.model.counters = Counters()
    engine.run(np.random.default_rng(0).normal(size=(1, 8, 1)))
    assert engine.model.counters.as_dict() == as_tables(costs)

    lstm = [Rfft(1, 8, 3), Decoder(6, 6, 2, 3, "lstm")]  # no projection; 4 gates, 5H act.
    costs = window_costs(lstm, 8, 4)
    assert costs[1].macs == 3 * (4 * 6 * (2 + 6) + 2 * 6) and costs[1].activations == 3 * 30
    assert costs[1].weight_bytes == 3 * (4 * 6 * 8 + 24 + 12 + 2) * 4
    task = {"kind": "forecast", "lookback": 8, "horizon": 3, "inputs": ["f0"]}
    bundle = random_bundle(lstm, 2, 11, dtype=np.float64, task={**task, "targets": ["f0", "f1"]})
    engine = get_engine("pure", bundle)
    engine.model.counters = Counters()
    engine.run(np.random.default_rng(0).normal(size=(1, 8, 1)))
    assert engine.model.counters.as_dict() == as_tables(window_costs(lstm, 8, 8))


def test_graph_and_trace_know_rfft_and_decoder(tmp_path):
    from squall.engines.tools.graph import to_dot
    from squall.engines.tools.trace import write_trace

    layers = seq2seq_gru_fft(1, 8, 3, 1, bins=2)
    task = {"kind": "forecast", "lookback": 8, "horizon": 3}
    bundle = random_bundle(layers, 1, 11, task=task)
    dot = to_dot(bundle)
    assert "rfft 1x8 2 bins, appended per step" in dot
    assert "decoder GRU 16-\\>16-\\>1 x3" in dot and "forecast\\|3 x 1" not in dot
    assert "{forecast|3 x 1}" in dot and "{input|8 x 1|f0}" in dot
    window = np.random.default_rng(1).uniform(-1, 1, (8, 1))
    count = write_trace(bundle, window, 0, tmp_path / "t.csv")
    assert count == 1 + 8 + 1 + 3  # rfft once, gru per step, dense once, decoder per step
    text = (tmp_path / "t.csv").read_text()
    assert ",rfft,0,amplitude,1," in text and ",rfft,0,phase,1," in text
    assert ",decoder,2,h,15," in text and ",decoder,0,input,0,0.0" in text


# ---------------------------------------------------------------- the family on the ladder

FAMILY = {  # name -> (features, lookback, horizon, layers): the models, small
    "lstm-forecaster": (2, 12, 4, [Lstm(2, 6, False), Repeat(4), Lstm(6, 6, True), Dense(6, 2)]),
    "cnn-lstm": (
        2,
        10,
        3,
        [Conv1d(2, 4, 3), Lstm(4, 5, False), Repeat(3), Lstm(5, 5, True), Dense(5, 2)],
    ),
    "seq2seq-gru-fft": (1, 16, 4, None),
    # an LSTM's last state straight into a decoder (the numpy engine's doubled state, halved)
    "lstm-state-decoder": (2, 8, 3, [Lstm(2, 5, False), Decoder(5, 5, 2, 3, "gru")]),
    "lstm-state-projected": (2, 8, 3, [Lstm(2, 4, False), Decoder(4, 6, 2, 3, "lstm")]),
    "gru-decoder-linear": (2, 10, 3, [Gru(2, 6, False), Dense(6, 4), Decoder(4, 5, 2, 3)]),
    "gru-decoder-lstm": (
        2,
        10,
        3,
        [Gru(2, 6, False), Dense(6, 4, "relu"), Decoder(4, 5, 2, 3, "lstm")],
    ),
}


@pytest.mark.parametrize("name", list(FAMILY))
def test_the_forecasting_family_on_the_parity_ladder(name):
    """Every engine against torch float64 with the ladder's tolerances (tests/engines/
    test_parity.py), fixed16 included (it runs every layer type)."""
    from squall.engines.fixed import parity_tolerance

    F, L, H, layers = FAMILY[name]
    if layers is None:
        layers = seq2seq_gru_fft(F, L, H, F)
    task = {"kind": "forecast", "lookback": L, "horizon": H}
    bundle = random_bundle(layers, F, L + H, seed=8, scale=0.5, task=task)
    x = np.random.default_rng(9).uniform(-0.2, 1.2, (6, L, F))
    ref = get_engine("torch", bundle, dtype="float64").run(x)
    ladder = {
        "numpy64": ("numpy", {"dtype": "float64"}, 1e-12),
        "pure": ("pure", {}, 1e-12),
        "numpy32": ("numpy", {"dtype": "float32"}, 1e-5),
        "torch32": ("torch", {"dtype": "float32"}, 1e-5),
        "fixed16": ("fixed", {"config": "16"}, parity_tolerance("16")),
    }
    for label, (engine, options, tol) in ladder.items():
        got = get_engine(engine, bundle, **options).run(x)
        assert np.abs(got - ref).max() <= tol, label


def test_the_torch_spectrum_has_finite_gradients_on_constant_windows():
    """A constant (or all-zero) window leaves every non-DC bin at amplitude 0 exactly: the
    phase's gradient there is zero in torch, so a training batch with such windows stays
    finite."""
    from squall.models.autoencoder import Spectrum

    for value in (0.0, 1.0):
        x = torch.full((2, 8, 1), value, dtype=torch.float64, requires_grad=True)
        Spectrum(5, True)(x).sum().backward()
        assert torch.isfinite(x.grad).all()


def test_count_and_profile_runs_take_a_forecaster(tmp_path):
    """The profiler runs any task; a decoder's LSTM cell steps are lstm_step calls, counted."""
    from squall.engines.tools.profiling import count_run, profile_run

    F, L, H, layers = FAMILY["lstm-state-projected"]
    task = {"kind": "forecast", "lookback": L, "horizon": H}
    bundle = random_bundle(layers, F, L + H, seed=2, task=task)
    x = np.random.default_rng(0).uniform(-1, 1, (2, L, F))
    counts = count_run(bundle, x)
    assert counts["step_calls"] == {"0:lstm(2->4)": 2 * L, "1:decoder(lstm, 4->6->2, x3)": 2 * H}
    result = profile_run(bundle, x, tmp_path / "p.prof")
    assert result.steps_agree and result.step_calls["lstm_step (counters)"] == 2 * (L + H)


def test_a_trained_torch_model_converts_to_the_bundle_layout_and_back():
    """The torch modules' parameters are named as the layers' torch_names: a state dict of the
    training model becomes canonical weights (both decoder cells, with and without the
    projection) and the bundle runs the same outputs."""
    from squall.convert import bundle_weights_from_torch, torch_state_from_bundle
    from squall.models.autoencoder import LSTMAutoencoder

    F, L, H = 1, 12, 3
    layers = [*seq2seq_gru_fft(F, L, H, F, bins=4)[:3], Decoder(16, 7, 1, H, "lstm")]
    torch.manual_seed(0)
    model = LSTMAutoencoder(layers).double()
    weights = bundle_weights_from_torch(model.state_numpy(), layers)
    assert set(weights) == set(ModelSpec(tuple(layers), F, L, (H, F)).weight_shapes())
    task = {"kind": "forecast", "lookback": L, "horizon": H}
    bundle = random_bundle(layers, F, L + H, task=task)
    bundle.weights.update(weights)
    x = np.random.default_rng(1).uniform(-1, 1, (2, L, F))
    with torch.no_grad():
        expected = model(torch.from_numpy(x)).numpy()
    for engine, got in _all_engines(bundle, x).items():
        np.testing.assert_allclose(got, expected, rtol=0, atol=1e-6, err_msg=engine)  # float32
    state = torch_state_from_bundle(bundle)
    assert "layers.3.cell.bias_hh" in state and "layers.3.init.weight" in state
