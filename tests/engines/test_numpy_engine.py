"""The numpy batch engine: seed-model references, agreement with torch, chunking and threads.

Tolerances (reconstructions are O(0.1-1); float32 eps is 1.2e-7):

* Seed model vs the reference MSE (``expected_mse_*.csv``): 1e-6 relative for float32, 1e-9 for
  float64 (max over windows), as required. Observed: ~1.1e-7 and ~5e-13.
* numpy float32 vs torch float32 on random-weight bundles: ``atol=1e-5``. Both round every
  product and sum to float32 but in different orders (the fused ``[W | b | U]`` product, sigmoid
  through tanh, halved weights), and an output depends on ~T x layers (~100) chained steps of
  sums of up to ~100 terms, so differences of a few 1e-7 are expected (observed: <= 2.4e-7 over
  four shapes and four seeds; each engine is as far from the float64 result as from the other).
  1e-5 leaves 40x headroom and is still ~1000x below what a real bug does: adding 0.1 to one
  gate's bias changes these outputs by >= 8e-3.
* numpy float64 vs torch float64 (same bundle): ``atol=1e-12``: the same maths in double.
* Chunked vs single-chunk: float64 to 1e-13 (observed: identical); float32 to ``atol=2e-6``
  because OpenBLAS's sgemm rounds a column differently depending on how many columns it gets
  (observed <= 2e-7). Threaded and sequential runs of the same chunks are bit-identical.
"""

from __future__ import annotations

import threading
import time

import numpy as np
import pandas as pd
import pytest

from squall.bundle import Bundle, check_layers, seed_layers, weight_shapes
from squall.data.scaling import Scaler
from squall.engines import numpy_engine
from squall.engines.numpy_engine import NumpyEngine
from squall.errors import SquallError
from squall.model import Lstm, as_layer

#: Random weights are uniform within GAIN / sqrt(fan) (fan: H for an LSTM, in for a dense
#: layer): twice PyTorch's default initialisation, so the gates work in their nonlinear range.
GAIN = 2.0


def _bundle(layers: list[dict], features: int, length: int, seed: int = 0) -> Bundle:
    """A bundle with random weights for ``layers`` (float32-exact values, see ``GAIN``)."""
    rng = np.random.default_rng(seed)
    weights = {}
    for name, shape in weight_shapes(layers).items():  # "layers.{i}.W" etc.
        layer = as_layer(layers[int(name.split(".")[1])])
        k = GAIN / np.sqrt(layer.hidden if isinstance(layer, Lstm) else layer.input)
        weights[name] = rng.uniform(-k, k, shape).astype(np.float32).astype(np.float64)
    names = [f"f{i}" for i in range(features)]
    windows = {
        "length": length,
        "stride": 1,
        "mode": "pooled",
        "resample": None,
        "max_gap": None,
        "min_observed": 0.5,
    }
    scaler = Scaler.from_minmax(names, [0] * features, [1] * features)
    return Bundle(
        layers, weights, names, {n: "" for n in names}, windows=windows, scaler=scaler
    ).validate()


def _windows(n: int, length: int, features: int, seed: int = 1) -> np.ndarray:
    return np.random.default_rng(seed).uniform(0, 1, (n, length, features))


def _mixed_layers(features: int) -> list[dict]:
    """LSTM -> dense -> two LSTMs -> dense: dense layers between LSTMs, no repeat."""
    return [
        {"type": "lstm", "input": features, "hidden": 8, "return_sequences": True},
        {"type": "dense", "input": 8, "output": 5},
        {"type": "lstm", "input": 5, "hidden": 6, "return_sequences": True},
        {"type": "lstm", "input": 6, "hidden": 4, "return_sequences": True},
        {"type": "dense", "input": 4, "output": features},
    ]


def _lstm_last_layers(features: int, length: int, repeat: bool) -> list[dict]:
    """No dense layer at the end: the last LSTM's hidden size is the feature count."""
    first = {"type": "lstm", "input": features, "hidden": 8, "return_sequences": not repeat}
    last = {"type": "lstm", "input": 8, "hidden": features, "return_sequences": True}
    middle = [{"type": "repeat", "times": length}] if repeat else []
    return [first, *middle, last]


SHAPES = {  # name -> (layers, features, length)
    "seed 6-64-32": (seed_layers(6, 24, (64, 32)), 6, 24),
    "one layer 3-16": (seed_layers(3, 10, (16,)), 3, 10),
    "three layers 4-32-16-8": (seed_layers(4, 12, (32, 16, 8)), 4, 12),
    "dense between lstms": (_mixed_layers(5), 5, 7),
    "lstm last, after repeat": (_lstm_last_layers(3, 10, repeat=True), 3, 10),
    "lstm last, sequence in": (_lstm_last_layers(4, 9, repeat=False), 4, 9),
}


# --- the seed model against its reference MSE ---------------------------------------------


@pytest.fixture(scope="module")
def seed(shared_data):
    from squall.convert import import_keras

    root = shared_data / "seed-model"
    bundle = import_keras(root / "lstm_weights.npz", root / "scaler.json")
    cases = []
    for windows, expected in (
        ("new_data_sequences.npz", "expected_mse_new_data.csv"),
        ("training_sequences.npz", "expected_mse_training.csv"),
    ):
        x = np.load(root / windows)["sequences"]
        cases.append((x, pd.read_csv(root / expected)["mse"].to_numpy()))
    return bundle, cases


@pytest.mark.parametrize(("dtype", "rtol"), [("float32", 1e-6), ("float64", 1e-9)])
def test_seed_model_reproduces_expected_mse(seed, dtype, rtol):
    bundle, cases = seed
    engine = NumpyEngine(bundle, dtype)
    for x, expected in cases:
        mse = ((engine.reconstruct(x) - x) ** 2).mean(axis=(1, 2))
        assert mse.shape == expected.shape
        assert np.max(np.abs(mse - expected) / expected) < rtol


def test_default_dtype_is_float32_and_output_float64():
    layers, f, t = SHAPES["one layer 3-16"]
    engine = NumpyEngine(_bundle(layers, f, t))
    assert engine.dtype == np.float32
    assert engine.reconstruct(_windows(3, t, f)).dtype == np.float64


def test_rejects_other_dtypes():
    layers, f, t = SHAPES["one layer 3-16"]
    with pytest.raises(SquallError, match="float32 or float64"):
        NumpyEngine(_bundle(layers, f, t), "float16")


# --- agreement with the torch reference -----------------------------------------------------


@pytest.mark.parametrize("shape", list(SHAPES))
def test_matches_torch(shape):
    pytest.importorskip("torch")
    from squall.engines.torch_engine import TorchEngine

    layers, f, t = SHAPES[shape]
    check_layers(layers, f, t)
    bundle = _bundle(layers, f, t)
    x = _windows(150, t, f)
    ours = NumpyEngine(bundle, "float32", chunk=64).reconstruct(x)
    ref = TorchEngine(bundle, "float32").reconstruct(x)
    np.testing.assert_allclose(ours, ref, rtol=0, atol=1e-5)
    ours64 = NumpyEngine(bundle, "float64", chunk=64).reconstruct(x)
    ref64 = TorchEngine(bundle, "float64").reconstruct(x)
    np.testing.assert_allclose(ours64, ref64, rtol=0, atol=1e-12)


# --- chunks, threads, odd batch sizes -------------------------------------------------------


@pytest.fixture(scope="module")
def seed_shaped():
    layers, f, t = SHAPES["seed 6-64-32"]
    return _bundle(layers, f, t, seed=3), _windows(301, t, f, seed=4)


@pytest.mark.parametrize(("dtype", "atol"), [("float32", 2e-6), ("float64", 1e-13)])
def test_chunked_threaded_equals_single_chunk(seed_shaped, dtype, atol):
    bundle, x = seed_shaped
    single = NumpyEngine(bundle, dtype, chunk=10_000, threads=1).reconstruct(x)
    threaded = NumpyEngine(bundle, dtype, chunk=64, threads=2)
    sequential = NumpyEngine(bundle, dtype, chunk=64, threads=1)
    assert [b - a for a, b in threaded.chunks(len(x))] == [61, 61, 61, 61, 57]  # <= 64 each
    got = threaded.reconstruct(x)
    np.testing.assert_array_equal(got, sequential.reconstruct(x))
    np.testing.assert_allclose(got, single, rtol=0, atol=atol)


@pytest.mark.parametrize("n", [1, 2, 95, 96, 97, 129, 130])
def test_batch_sizes(seed_shaped, n):
    bundle, x = seed_shaped
    engine = NumpyEngine(bundle, "float64", chunk=64, threads=2)
    spans = engine.chunks(n)
    assert spans[0][0] == 0 and spans[-1][1] == n
    assert all(a[1] == b[0] for a, b in zip(spans, spans[1:], strict=False))
    full = NumpyEngine(bundle, "float64", threads=1).reconstruct(x[:n])
    got = engine.reconstruct(x[:n])
    assert got.shape == (n, *x.shape[1:])
    np.testing.assert_allclose(got, full, rtol=0, atol=1e-13)


def test_single_window_equals_its_row_in_a_batch(seed_shaped):
    bundle, x = seed_shaped
    engine = NumpyEngine(bundle, "float64")
    np.testing.assert_allclose(
        engine.reconstruct(x[5:6])[0], engine.reconstruct(x)[5], rtol=0, atol=1e-13
    )


def test_blas_thread_setting_is_held_at_one_and_restored(seed_shaped, monkeypatch):
    controller = numpy_engine._blas_controller()
    blas = [lib for lib in controller.info() if lib["user_api"] == "blas"]
    assert blas, "threadpoolctl sees no BLAS library in this process"
    before = [lib["num_threads"] for lib in blas]
    seen = []
    bundle, x = seed_shaped
    engine = NumpyEngine(bundle, chunk=64, threads=2)
    forward = engine._forward

    def spy(chunk):
        seen.append(
            [
                lib["num_threads"]
                for lib in numpy_engine._blas_controller().info()
                if lib["user_api"] == "blas"
            ]
        )
        return forward(chunk)

    monkeypatch.setattr(engine, "_forward", spy)
    engine.reconstruct(x)
    assert seen and all(s == [1] * len(blas) for s in seen)
    assert [lib["num_threads"] for lib in controller.info() if lib["user_api"] == "blas"] == before


def test_every_chunk_runs_once_and_the_caller_takes_chunks_too(seed_shaped, monkeypatch):
    bundle, x = seed_shaped
    engine = NumpyEngine(bundle, chunk=64, threads=2)
    forward, ran = engine._forward, []

    def spy(chunk):
        out = forward(chunk)
        ran.append((len(chunk), float(chunk[0, 0, 0]), threading.current_thread().name))
        return out

    monkeypatch.setattr(engine, "_forward", spy)
    got = engine.reconstruct(x)
    spans = engine.chunks(len(x))
    assert sorted(r[:2] for r in ran) == sorted((b - a, float(x[a, 0, 0])) for a, b in spans)
    assert threading.current_thread().name in {r[2] for r in ran}
    np.testing.assert_array_equal(got, NumpyEngine(bundle, chunk=64, threads=1).reconstruct(x))


def test_an_error_in_a_helper_thread_reaches_the_caller(seed_shaped, monkeypatch):
    bundle, x = seed_shaped
    engine = NumpyEngine(bundle, chunk=64, threads=2)
    forward = engine._forward

    def failing(chunk):
        if threading.current_thread() is not threading.main_thread():
            raise MemoryError("helper failed")
        time.sleep(0.05)  # leave the helper chunks to take
        return forward(chunk)

    monkeypatch.setattr(engine, "_forward", failing)
    with pytest.raises(MemoryError, match="helper failed"):
        engine.reconstruct(x)


def test_an_error_in_the_caller_stops_the_helpers_after_their_chunk(seed_shaped, monkeypatch):
    bundle, x = seed_shaped
    engine = NumpyEngine(bundle, chunk=20, threads=2)  # 16 chunks
    forward, ran = engine._forward, []

    def failing(chunk):
        if threading.current_thread() is threading.main_thread():
            time.sleep(0.02)  # a helper is mid-chunk
            raise KeyboardInterrupt
        ran.append(len(chunk))
        time.sleep(0.05)
        return forward(chunk)

    monkeypatch.setattr(engine, "_forward", failing)
    with pytest.raises(KeyboardInterrupt):
        engine.reconstruct(x)
    assert 1 <= len(ran) <= 3 < len(engine.chunks(len(x)))  # not all 15 others


@pytest.mark.parametrize("far", [1e30, -1e30])
def test_inputs_beyond_the_limit_either_way_are_clipped_in_a_copy(seed_shaped, far):
    """The input check finds values beyond +-SCALED_LIMIT on either side (max and min, no
    full-size abs copy) and clips a copy: the caller's windows are left as they were."""
    from squall.limits import SCALED_LIMIT

    bundle, x = seed_shaped
    engine = NumpyEngine(bundle, "float64")
    far_x = x[:4].copy()
    far_x[1, 2, 0] = far
    clipped = far_x.copy()
    clipped[1, 2, 0] = np.sign(far) * SCALED_LIMIT
    np.testing.assert_array_equal(engine.reconstruct(far_x), engine.reconstruct(clipped))
    assert far_x[1, 2, 0] == far


def test_trace_is_the_engines_own_step_in_the_bundles_units():
    """NumpyEngine.trace records every intermediate of its step (halvings undone, gate order
    i, f, g, o): the equations hold, the last layer's output is the reconstruction, and each
    LSTM step agrees with the pure engine's trace."""
    from squall.engines.base import PureEngine

    b = _bundle(seed_layers(3, 7, (6, 4)), 3, 7, seed=2)
    x = _windows(5, 7, 3)
    engine = NumpyEngine(b, dtype="float64")
    records = list(engine.trace(x))
    assert [(i, kind) for i, kind, _ in records] == [
        (0, "lstm"),
        (1, "lstm"),
        (3, "lstm"),
        (4, "lstm"),
        (5, "dense"),
    ]
    np.testing.assert_array_equal(records[-1][2]["y"], engine.reconstruct(x))
    sig = lambda v: 1 / (1 + np.exp(-v))  # noqa: E731
    for i, _kind, s in records[:-1]:
        W, U, bias = (np.asarray(b.weights[f"layers.{i}.{k}"]) for k in "WUb")
        np.testing.assert_allclose(s["Wx"], s["x"] @ W.T, atol=1e-12)
        h_prev = np.concatenate([np.zeros_like(s["h"][:, :1]), s["h"][:, :-1]], axis=1)
        np.testing.assert_allclose(s["Uh"], h_prev @ U.T, atol=1e-12)
        z = np.concatenate([s[k] for k in ("z_i", "z_f", "z_g", "z_o")], axis=-1)
        np.testing.assert_allclose(s["Wx"] + s["Uh"] + bias, z, atol=1e-12)
        for gate, f in (("i", sig), ("f", sig), ("g", np.tanh), ("o", sig)):
            np.testing.assert_allclose(s[gate], f(s[f"z_{gate}"]), atol=1e-14)
        np.testing.assert_allclose(s["h"], s["o"] * np.tanh(s["c"]), atol=1e-15)
        assert s["x"].shape[:2] == (5, 7)
    model = PureEngine(b).model
    model.trace = []
    model.reconstruct(x[3].tolist())
    ours = {i: s for i, _, s in records}
    for rec in (r for r in model.trace if r["kind"] == "lstm"):
        np.testing.assert_allclose(ours[rec["layer"]]["c"][3, rec["step"]], rec["c"], atol=1e-12)
        np.testing.assert_allclose(
            ours[rec["layer"]]["z_g"][3, rec["step"]], rec["pre_g"], atol=1e-12
        )
