"""The layer types of the model family (issue 14): dense activations, ``gru``, ``conv1d``; every
engine against the torch reference in float64 (tolerance 1e-12, as the parity ladder's float64
engines) and numpy float32 at 1e-5, with a check that a small weight change exceeds it."""

from __future__ import annotations

import numpy as np
import pytest

from squall.bundle import Bundle, random_bundle
from squall.engines import get_engine
from squall.errors import SquallError
from squall.model import Conv1d, Dense, Gru, Lstm, Repeat

torch = pytest.importorskip("torch")

TOL64, TOL32 = 1e-12, 1e-5


def _windows(bundle: Bundle, n: int = 4, seed: int = 1) -> np.ndarray:
    shape = bundle.model.input_shape if hasattr(bundle.model, "input_shape") else None
    if shape is None:
        shape = (bundle.length, len(bundle.features))
    return np.random.default_rng(seed).uniform(-1, 1, (n, *shape))


def _run(engine: str, bundle: Bundle, x: np.ndarray, **options) -> np.ndarray:
    eng = get_engine(engine, bundle, **options)
    return eng.run(x) if hasattr(eng, "run") else eng.reconstruct(x)


def check_parity(bundle: Bundle, n: int = 4) -> np.ndarray:
    """numpy64, pure and numpy32 against torch float64; a changed bias moves the output."""
    x = _windows(bundle, n)
    ref = _run("torch", bundle, x, dtype="float64")
    np.testing.assert_allclose(_run("numpy", bundle, x, dtype="float64"), ref, rtol=0, atol=TOL64)
    np.testing.assert_allclose(_run("pure", bundle, x), ref, rtol=0, atol=TOL64)
    np.testing.assert_allclose(_run("numpy", bundle, x, dtype="float32"), ref, rtol=0, atol=TOL32)
    np.testing.assert_allclose(_run("torch", bundle, x, dtype="float32"), ref, rtol=0, atol=TOL32)
    last = len(bundle.layers) - 1
    changed = (
        Bundle(
            bundle.layers,
            {
                k: (v + 0.25 if k == f"layers.{last}.b" else v)  # the output layer's bias
                for k, v in bundle.weights.items()
            },
            bundle.features,
            bundle.units,
            bundle.windows,
            bundle.scaler,
            task=bundle.task,
        )
        if hasattr(bundle, "task")
        else None
    )
    if changed is not None and isinstance(bundle.layers[-1], Dense):
        moved = np.abs(_run("numpy", changed, x, dtype="float64") - ref).max()
        assert moved > 10 * TOL32
    return ref


@pytest.mark.parametrize("activation", ["linear", "relu", "tanh", "sigmoid"])
def test_dense_activations_agree_in_every_engine(activation):
    layers = [Lstm(3, 6, True), Dense(6, 5, activation), Dense(5, 3, activation)]
    bundle = random_bundle(layers, 3, 7, seed=2, scale=0.8, dtype=np.float64)
    out = check_parity(bundle)
    if activation == "relu":
        assert out.min() >= 0 and (out == 0).any() and (out > 0).any()
    if activation == "sigmoid":
        assert 0 < out.min() and out.max() < 1
    if activation == "tanh":
        assert -1 < out.min() and out.max() < 1


def test_dense_activation_equations_by_hand():
    """One dense layer, weights chosen so each activation's value is known exactly."""
    for activation, expected in (
        ("linear", [2.0, -2.0]),
        ("relu", [2.0, 0.0]),
        ("tanh", [np.tanh(2.0), np.tanh(-2.0)]),
        ("sigmoid", [1 / (1 + np.exp(-2.0)), 1 / (1 + np.exp(2.0))]),
    ):
        bundle = random_bundle([Dense(2, 2, activation)], 2, 2, dtype=np.float64)
        bundle.weights["layers.0.W"][:] = [[1.0, 0.0], [-1.0, 0.0]]
        bundle.weights["layers.0.b"][:] = [1.0, -1.0]
        x = np.array([[[1.0, 0.3], [1.0, -0.7]]])
        for engine in ("numpy", "pure", "torch"):
            options = {} if engine == "pure" else {"dtype": "float64"}
            got = get_engine(engine, bundle, **options).reconstruct(x)[0, 0]
            np.testing.assert_allclose(got, expected, rtol=0, atol=1e-15)


def test_unknown_activation_is_one_line():
    with pytest.raises(SquallError, match="dense: unknown activation 'gelu'"):
        Dense(3, 3, "gelu")


def test_a_dense_activation_is_stored_and_read_back(tmp_path):
    from squall.bundle import load_bundle

    bundle = random_bundle([Lstm(2, 3, True), Dense(3, 2, "tanh")], 2, 4)
    assert bundle.meta()["layers"][1] == {
        "type": "dense",
        "input": 3,
        "output": 2,
        "activation": "tanh",
    }
    assert load_bundle(bundle.save(tmp_path / "b")).layers == bundle.layers


@pytest.mark.parametrize("activation", ["relu", "tanh", "sigmoid"])
def test_the_fixed_engine_runs_non_linear_activations_and_the_hw_tools_refuse_them(activation):
    """(Bit-exactness of the fixed activations: tests/engines/test_fixed_gru.py.)"""
    from squall.engines.fixed import PRESETS, FixedModel

    bundle = random_bundle([Lstm(2, 3, True), Dense(3, 2, activation)], 2, 4)
    x = _windows(bundle)
    ref = get_engine("numpy", bundle, dtype="float64").reconstruct(x)
    assert np.abs(get_engine("fixed", bundle).reconstruct(x) - ref).max() < 0.02
    with pytest.raises(
        SquallError, match=f"layer 1: the hardware tools have no dense activation '{activation}'"
    ):
        FixedModel(bundle, PRESETS["16"])  # as the RTL generator and hw export build it


# ---------------------------------------------------------------- gru

GRU_MODELS = {  # name -> (features, length, layers)
    "gru-gru-dense": (3, 9, [Gru(3, 6, True), Gru(6, 5, True), Dense(5, 3)]),
    "gru-repeat-gru": (2, 7, [Gru(2, 5, False), Repeat(7), Gru(5, 4, True), Dense(4, 2)]),
    "lstm-gru-lstm": (3, 8, [Lstm(3, 5, True), Gru(5, 4, True), Lstm(4, 3, True)]),
    "gru-last": (4, 6, [Gru(4, 4, True)]),
}


@pytest.mark.parametrize("name", GRU_MODELS)
def test_gru_models_agree_in_every_engine(name):
    features, length, layers = GRU_MODELS[name]
    check_parity(random_bundle(layers, features, length, seed=4, scale=0.5, dtype=np.float64))


def test_gru_matches_torch_nn_gru_with_random_weights():
    """The canonical layout is nn.GRU's: W, U, b and bh are weight_ih, weight_hh, bias_ih,
    bias_hh; the pure engine's GRU step against nn.GRU directly, float64."""
    bundle = random_bundle([Gru(3, 5, True), Dense(5, 3)], 3, 11, seed=7, dtype=np.float64)
    gru = torch.nn.GRU(3, 5, batch_first=True).double()
    with torch.no_grad():
        for ours, theirs in (
            ("W", "weight_ih_l0"),
            ("U", "weight_hh_l0"),
            ("b", "bias_ih_l0"),
            ("bh", "bias_hh_l0"),
        ):
            getattr(gru, theirs).copy_(torch.from_numpy(bundle.weights[f"layers.0.{ours}"]))
    x = _windows(bundle, 3)
    with torch.no_grad():
        h_torch = gru(torch.from_numpy(x))[0].numpy()
    for engine, options in (("numpy", {"dtype": "float64"}), ("pure", {})):
        eng = get_engine(engine, bundle, **options)
        trace = list(eng.trace(x)) if engine == "numpy" else None
        if trace is not None:
            np.testing.assert_allclose(trace[0][2]["h"], h_torch, rtol=0, atol=1e-13)
    model = get_engine("pure", bundle).model
    model.trace = []
    model.reconstruct(x[0].tolist())
    h_pure = [r["h"] for r in model.trace if r["kind"] == "gru"]
    np.testing.assert_allclose(h_pure, h_torch[0], rtol=0, atol=1e-13)


def test_gru_weights_are_stored_with_both_biases(tmp_path):
    from squall.bundle import load_bundle

    bundle = random_bundle(GRU_MODELS["gru-gru-dense"][2], 3, 9)
    assert bundle.model.weight_shapes()["layers.0.bh"] == (18,)
    again = load_bundle(bundle.save(tmp_path / "gru"))
    assert again.layers == bundle.layers
    assert set(again.weights) == set(bundle.weights)


def test_the_fixed_engine_runs_a_gru():
    """(Bit-exactness and tolerance: tests/engines/test_fixed_gru.py.)"""
    bundle = random_bundle(GRU_MODELS["gru-gru-dense"][2], 3, 9)
    x = _windows(bundle)
    ref = get_engine("numpy", bundle, dtype="float64").reconstruct(x)
    assert np.abs(get_engine("fixed", bundle).reconstruct(x) - ref).max() < 0.02


# ---------------------------------------------------------------- conv1d

CONV_MODELS = {  # name -> (features, length, layers, output shape)
    "causal-conv-dense": (
        3,
        10,
        [Conv1d(3, 5, 3, "causal"), Dense(5, 3, "relu"), Conv1d(3, 3, 2)],
        None,
    ),
    "cnn-lstm": (
        4,
        12,
        [Conv1d(4, 6, 3), Lstm(6, 8, False), Repeat(12), Lstm(8, 5, True), Dense(5, 4)],
        None,
    ),
    "valid-conv-forecast": (
        3,
        12,
        [Conv1d(3, 4, 5, "valid"), Gru(4, 6, False), Repeat(4), Gru(6, 5, True), Dense(5, 2)],
        (4, 2),
    ),
    "valid-conv-seq": (3, 9, [Conv1d(3, 3, 4, "valid"), Conv1d(3, 2, 1, "valid")], (6, 2)),
    "conv-after-repeat": (
        2,
        6,
        [Lstm(2, 4, False), Repeat(6), Conv1d(4, 3, 3), Lstm(3, 2, True)],
        None,
    ),
}


def _spec_bundle(features, length, layers, output, seed=5):
    """A random float64 bundle; a model whose output is not (length, features) runs as a
    forecaster (``task``) once bundles know tasks, else through ``ModelSpec`` directly."""
    from squall.model import ModelSpec

    ModelSpec(tuple(layers), features, length, output)  # the chain and lengths check
    return layers


@pytest.mark.parametrize("name", [k for k, v in CONV_MODELS.items() if v[3] is None])
def test_conv1d_models_agree_in_every_engine(name):
    features, length, layers, _ = CONV_MODELS[name]
    check_parity(random_bundle(layers, features, length, seed=6, scale=0.5, dtype=np.float64))


@pytest.mark.parametrize("padding", ["causal", "valid"])
def test_conv1d_matches_torch_nn_conv1d(padding):
    from squall.model import ModelSpec

    layer = Conv1d(3, 4, 4, padding)
    spec = ModelSpec((layer,), 3, 9, (9 if padding == "causal" else 6, 4))
    rng = np.random.default_rng(8)
    W, b = rng.normal(size=(4, 3, 4)), rng.normal(size=4)
    x = rng.normal(size=(2, 9, 3))
    conv = torch.nn.Conv1d(3, 4, 4).double()
    with torch.no_grad():
        conv.weight.copy_(torch.from_numpy(W))
        conv.bias.copy_(torch.from_numpy(b))
        xt = torch.from_numpy(x).transpose(1, 2)
        if padding == "causal":
            xt = torch.nn.functional.pad(xt, (3, 0))
        expected = conv(xt).transpose(1, 2).numpy()
    assert expected.shape[1:] == spec.output_shape
    from squall.engines import numpy_engine, pure

    op = numpy_engine._Conv1d(0, W, b[:, None], padding == "causal")
    got, _ = op.forward(np.ascontiguousarray(x.transpose(1, 2, 0)), None, 9)
    np.testing.assert_allclose(got.transpose(2, 0, 1), expected, rtol=0, atol=1e-13)
    tensors = {"layers.0.W": ([4, 3, 4], W.ravel().tolist()), "layers.0.b": ([4], b.tolist())}
    layer_p = pure._conv1d(layer, 0, tensors)
    model = pure.PureModel([layer_p], ["a", "b", "c"], 9)
    for n in range(2):
        np.testing.assert_allclose(
            model.conv1d_layer(0, layer_p, x[n].tolist()), expected[n], rtol=0, atol=1e-13
        )


def test_valid_padding_changes_the_length_and_the_chain_check_tracks_it():
    from squall.model import ModelSpec

    features, length, layers, output = CONV_MODELS["valid-conv-seq"]
    spec = ModelSpec(tuple(layers), features, length, output)
    assert [(s.in_length, s.out_length) for s in spec.walk()] == [(9, 6), (6, 6)]
    with pytest.raises(SquallError, match="ends with a sequence of 6 steps x 2 features"):
        ModelSpec(tuple(layers), features, length)


def test_the_fixed_engine_runs_a_conv1d():
    """(Bit-exactness: tests/engines/test_fixed_gru.py.)"""
    features, length, layers, _ = CONV_MODELS["cnn-lstm"]
    bundle = random_bundle(layers, features, length)
    x = _windows(bundle)
    ref = get_engine("numpy", bundle, dtype="float64").reconstruct(x)
    assert np.abs(get_engine("fixed", bundle).reconstruct(x) - ref).max() < 0.02


# ---------------------------------------------------------------- counters, costs, tools


def test_gru_costs_pinned_by_hand_and_counted_by_the_pure_engine():
    """gru(2->3) -> repeat(4) -> gru(3->2) -> dense(2->2), T = 4, 8-byte words."""
    from squall.engines.pure import Counters
    from squall.engines.tools.costs import as_tables, window_costs

    layers = [Gru(2, 3, False), Repeat(4), Gru(3, 2, True), Dense(2, 2)]
    costs = window_costs(layers, 4, 8)
    # layer 0: T 3H (n + H) = 4 * 9 * 5; layer 2 after the repeat: 3H n once + T 3H H
    assert [c.macs for c in costs] == [180, 0, 18 + 4 * 12, 4 * 4]
    assert [c.activations for c in costs] == [36, 0, 24, 0]
    assert costs[0].weight_bytes == 4 * (9 * 5 + 18) * 8
    assert costs[2].weight_bytes == (6 * 3 + 6) * 8 + 4 * (6 * 2 + 6) * 8
    assert costs[0].state_bytes_in == 4 * (2 + 3) * 8 and costs[0].state_bytes_out == 4 * 3 * 8
    assert costs[2].state_bytes_in == 4 * (6 + 2) * 8
    assert costs[0].params == 9 * 5 + 18
    bundle = random_bundle(layers, 2, 4, dtype=np.float64)
    engine = get_engine("pure", bundle)
    engine.model.counters = Counters()
    engine.reconstruct(_windows(bundle, 1))
    assert engine.model.counters.as_dict() == as_tables(costs)


@pytest.mark.parametrize("name", ["cnn-lstm", "causal-conv-dense", "conv-after-repeat"])
def test_conv_models_counters_equal_the_costs(name):
    from squall.engines.pure import Counters
    from squall.engines.tools.costs import as_tables, window_costs

    features, length, layers, _ = CONV_MODELS[name]
    bundle = random_bundle(layers, features, length)
    engine = get_engine("pure", bundle)
    engine.model.counters = Counters()
    engine.reconstruct(_windows(bundle, 1))
    assert engine.model.counters.as_dict() == as_tables(window_costs(layers, length, 4))


def test_graph_and_trace_know_the_new_layers(tmp_path):
    from squall.engines.tools.graph import to_dot
    from squall.engines.tools.trace import write_trace

    layers = [Conv1d(3, 4, 2), Gru(4, 5, True), Dense(5, 3, "tanh")]
    bundle = random_bundle(layers, 3, 6)
    dot = to_dot(bundle)
    assert "conv1d 3-\\>4 k2 causal" in dot and "GRU 4-\\>5" in dot and "dense 5-\\>3 tanh" in dot
    window = _windows(bundle, 1)[0]
    assert write_trace(bundle, window, 0, tmp_path / "t.csv") == 3 * 6
    text = (tmp_path / "t.csv").read_text()
    assert ",gru,0,r,0," in text and ",conv1d,5,output,3," in text


# ---------------------------------------------------------------- tasks and squall.run

FORECAST = {
    "kind": "forecast",
    "lookback": 12,
    "horizon": 4,
    "inputs": ["f0", "f1", "f2"],
    "targets": ["f0", "f2"],
}


def _forecaster(seed: int = 9) -> Bundle:
    _, _, layers, _ = CONV_MODELS["valid-conv-forecast"]
    return random_bundle(layers, 3, 16, seed=seed, scale=0.5, dtype=np.float64, task=FORECAST)


def test_a_forecaster_runs_in_every_engine_and_squall_run_gives_its_output():
    import squall

    bundle = _forecaster()
    assert bundle.model.input_shape == (12, 3) and bundle.model.output_shape == (4, 2)
    x = np.random.default_rng(3).uniform(-1, 1, (5, 12, 3))
    ref = squall.run(bundle, x, engine="torch")
    assert ref.shape == (5, 4, 2)
    np.testing.assert_allclose(squall.run(bundle, x), ref, rtol=0, atol=TOL32)
    np.testing.assert_allclose(squall.run(bundle, x, engine="pure"), ref, rtol=0, atol=1e-6)
    ref64 = get_engine("torch", bundle, dtype="float64").run(x)
    for engine, options in (("numpy", {"dtype": "float64"}), ("pure", {})):
        np.testing.assert_allclose(
            get_engine(engine, bundle, **options).run(x), ref64, rtol=0, atol=TOL64
        )
    with pytest.raises(SquallError, match="task is 'forecast', not 'reconstruct'"):
        squall.reconstruct(bundle, x)
    with pytest.raises(SquallError, match=r"windows must have shape \(N, 12, 3\)"):
        squall.run(bundle, np.zeros((2, 16, 3)))
    fixed = get_engine("fixed", bundle).run(x)  # bit-exactness: tests/engines/test_fixed_gru.py
    assert np.abs(fixed - ref).max() < 0.02


def test_a_classifier_gives_one_vector_per_window():
    import squall

    layers = [Gru(3, 5, False), Dense(5, 4, "relu"), Dense(4, 2, "sigmoid")]
    task = {"kind": "classify", "classes": ["calm", "storm"]}
    bundle = random_bundle(layers, 3, 8, seed=2, scale=0.6, dtype=np.float64, task=task)
    x = np.random.default_rng(4).uniform(-1, 1, (6, 8, 3))
    ref = get_engine("torch", bundle, dtype="float64").run(x)
    assert ref.shape == (6, 2)
    for engine, options in (("numpy", {"dtype": "float64"}), ("pure", {})):
        np.testing.assert_allclose(
            get_engine(engine, bundle, **options).run(x), ref, rtol=0, atol=TOL64
        )
    assert squall.run(bundle, x[:0]).shape == (0, 2)


def test_autoencoders_run_as_before():
    import squall

    bundle = random_bundle(GRU_MODELS["gru-repeat-gru"][2], 2, 7)
    x = _windows(bundle)
    np.testing.assert_array_equal(squall.run(bundle, x), squall.reconstruct(bundle, x))


def test_tasks_are_stored_in_version_2_and_version_1_still_loads(tmp_path):
    import json
    import shutil
    from pathlib import Path

    from squall.bundle import VERSION, load_bundle

    bundle = _forecaster()
    meta = bundle.meta()
    assert VERSION == 2 and meta["version"] == 2 and meta["task"] == FORECAST
    again = load_bundle(bundle.save(tmp_path / "f"))
    assert again.task == bundle.task and again.model.output_shape == (4, 2)
    from squall.engines import pure

    x = np.random.default_rng(3).uniform(-1, 1, (2, 12, 3))
    np.testing.assert_allclose(
        pure.load(tmp_path / "f").run(x.tolist(), outputs=True),
        get_engine("pure", bundle).run(x),
        rtol=0,
        atol=1e-6,  # float32 weights on disk, float64 in memory
    )
    fixture = Path(__file__).parents[1] / "fixtures" / "bundle-v1-dict-layers"
    old = load_bundle(fixture)
    assert old.task.kind == "reconstruct" and old.meta()["version"] == 2
    for version in (3, 0, "2", True):
        copy = tmp_path / f"v{version}"
        shutil.copytree(fixture, copy)
        meta = json.loads((copy / "bundle.json").read_text())
        meta["version"] = version
        (copy / "bundle.json").write_text(json.dumps(meta))
        with pytest.raises(SquallError, match="format version") as err:
            load_bundle(copy)
        assert "\n" not in str(err.value)


@pytest.mark.parametrize(
    "task, message",
    [
        ({"kind": "predict"}, "unknown kind 'predict'"),
        ({"kind": "forecast", "lookback": 12}, "horizon is missing"),
        ({"kind": "forecast", "lookback": 0, "horizon": 4}, "lookback must be a positive"),
        ({**FORECAST, "inputs": ["f0", "wind"]}, "inputs name 'wind', not a bundle feature"),
        ({**FORECAST, "targets": ["f0", "f0"]}, "targets repeat a name"),
        ({**FORECAST, "lookback": 11}, "lookback 11 \\+ horizon 4 != window length 16"),
        ({**FORECAST, "extra": 1}, "unknown field 'extra'"),
        ({"kind": "classify"}, "classes is missing"),
        ({"kind": "classify", "classes": []}, "classes must be a non-empty list"),
        ("forecast", "task must be a JSON object"),
    ],
)
def test_task_fields_are_checked_in_one_line(task, message):
    _, _, layers, _ = CONV_MODELS["valid-conv-forecast"]
    with pytest.raises(SquallError, match=message) as err:
        random_bundle(layers, 3, 16, task=task)
    assert "\n" not in str(err.value)


def test_an_unknown_layer_type_in_a_bundle_is_one_line(tmp_path):
    import json

    from squall.bundle import load_bundle

    path = random_bundle([Gru(2, 2, True)], 2, 4).save(tmp_path / "b")
    meta = json.loads((path / "bundle.json").read_text())
    meta["layers"][0]["type"] = "transformer"
    (path / "bundle.json").write_text(json.dumps(meta))
    with pytest.raises(SquallError, match="layer 0: unknown type 'transformer'") as err:
        load_bundle(path)
    assert "\n" not in str(err.value)
