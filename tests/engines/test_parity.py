"""The parity ladder: every engine against the float64 reference on the same bundles and windows.

One tolerance per engine, stated against the reference (torch in float64), max absolute
difference of the reconstructions (outputs are O(1)):

* float64 engines (numpy64, pure): 1e-12. The same arithmetic in another summation order;
  rounding differences of ~1e-16 per operation grow by at most a few hundred through 24 steps
  and 4-5 layers (observed: < 1e-14). This holds for float64 weights too: every float64 engine,
  the reference included, uses them unrounded.
* float32 engines (numpy32, torch32): 1e-5. With float32 weights only the arithmetic differs:
  float32's 6e-8 relative rounding, carried through the recurrence (observed at most 9e-7 on
  these shapes, 10x margin). With float64 weights these engines also round every weight once to
  float32, a perturbation of the same 6e-8 relative size (observed: no larger). A real error is
  far larger: changing one layer-0 bias vector by 0.25 moves the outputs by more than 10x the
  tolerance even through the deepest model here (tested below).

Bundles: the seed autoencoder's layer list at several sizes (``SHAPES``; one with float64
weights), and hand-built layer lists that end with an LSTM whose hidden size is the feature
count (``LSTM_LAST``), which :func:`squall.bundle.check_layers` allows.

* fixed-point engines (fixed16: the 16-bit preset, tables of 1024 entries; fixed16-pwl: the
  same formats, piecewise-linear activations): ``parity_tolerance(config)`` =
  ``LADDER_GAIN`` (8) x one step's local error bound derived from the formats
  (:func:`squall.engines.fixed.error_budget`: ``4 e_sigmoid + 2 e_tanh + 1.75 u_preact + u_cell
  + u_data``, the activation units' worst error over every input code and the registers' half
  LSBs). That is 0.13 for fixed16 (its tanh table alone is off by up to 0.0038) and 0.0077 for
  fixed16-pwl; observed at most 0.027 and 0.0026 on these shapes (the seed-shaped bundle's
  random weights amplify most) and 0.0074 and 0.00085 on the seed model. A bias change of 0.25
  moves some of these bundles' outputs by less than that resolution (the deep one by 2.5e-4),
  so for these engines the wrong-weight check changes the output layer's bias by 20x the
  tolerance instead (every float output moves by exactly that); models ending in an LSTM,
  whose outputs are bounded by 1, skip it. Bit-exactness of the fixed engine is tested in
  ``tests/hw/test_fixed_engine.py``.

Later engines (onnx) join ``ENGINES`` with their own stated tolerance.
"""

import numpy as np
import pytest

from squall.bundle import Bundle, seed_layers
from squall.bundle import random_bundle as make_random_bundle
from squall.engines import get_engine
from squall.engines.fixed import parity_tolerance
from squall.model import Dense

torch = pytest.importorskip("torch")

ENGINES = {  # name -> (engine, options, tolerance against torch float64)
    "numpy64": ("numpy", {"dtype": "float64"}, 1e-12),
    "pure": ("pure", {}, 1e-12),
    "numpy32": ("numpy", {"dtype": "float32"}, 1e-5),
    "torch32": ("torch", {"dtype": "float32"}, 1e-5),
    "fixed16": ("fixed", {"config": "16"}, parity_tolerance("16")),
    "fixed16-pwl": ("fixed", {"config": "16-pwl"}, parity_tolerance("16-pwl")),
}
#: Engines whose resolution can exceed what a 0.25 bias change does to some bundles' outputs.
QUANTIZED = {"fixed16", "fixed16-pwl"}
SHAPES = {  # name -> (features, window length, encoder sizes, weight dtype)
    "seed-shaped": (6, 24, (64, 32), np.float32),
    "small": (3, 10, (8, 4), np.float32),
    "univariate": (1, 16, (5,), np.float32),
    "deep": (4, 8, (16, 8, 4), np.float32),
    "float64-weights": (5, 12, (16, 8), np.float64),
}


def _lstm(width: int, hidden: int, sequences: bool) -> dict:
    return {"type": "lstm", "input": width, "hidden": hidden, "return_sequences": sequences}


LSTM_LAST = {  # name -> (features, window length, layers, weight dtype): no dense layer at the end
    "lstm-repeat-lstm": (
        3,
        10,
        [_lstm(3, 8, False), {"type": "repeat", "times": 10}, _lstm(8, 3, True)],
        np.float32,
    ),
    "lstm-lstm": (4, 9, [_lstm(4, 8, True), _lstm(8, 4, True)], np.float32),
    "lstm-lstm-float64-weights": (4, 9, [_lstm(4, 8, True), _lstm(8, 4, True)], np.float64),
}


def random_bundle(
    layers: list[dict], features: int, length: int, dtype: type = np.float32, seed: int = 0
) -> Bundle:
    return make_random_bundle(layers, features, length, seed=seed, dtype=dtype)


def _build(name: str) -> Bundle:
    if name in SHAPES:
        F, T, sizes, dtype = SHAPES[name]
        return random_bundle(seed_layers(F, T, sizes), F, T, dtype)
    F, T, layers, dtype = LSTM_LAST[name]
    return random_bundle(layers, F, T, dtype)


@pytest.fixture(scope="module", params=[*SHAPES, *LSTM_LAST])
def case(request):
    bundle = _build(request.param)
    x = np.random.default_rng(1).uniform(-0.2, 1.2, (12, bundle.length, len(bundle.features)))
    return bundle, x, get_engine("torch", bundle, dtype="float64").reconstruct(x)


@pytest.mark.parametrize("name", list(ENGINES))
def test_engine_matches_reference(case, name):
    bundle, x, ref = case
    engine, options, tol = ENGINES[name]
    got = get_engine(engine, bundle, **options).reconstruct(x)
    assert got.shape == ref.shape
    assert np.abs(got - ref).max() <= tol


@pytest.mark.parametrize("name", list(ENGINES))
def test_tolerance_catches_a_wrong_weight(case, name):
    """The ladder is not vacuous: a small change of one bias exceeds every tolerance."""
    bundle, x, ref = case
    engine, options, tol = ENGINES[name]
    broken = Bundle(**{**bundle.__dict__, "weights": dict(bundle.weights)})
    if name in QUANTIZED:
        # fixed-point tolerances are coarse: change the output layer's bias by 20x the
        # tolerance, which moves every float output by exactly that much
        last = len(bundle.layers) - 1
        if not isinstance(bundle.layers[last], Dense):
            pytest.skip(
                "an LSTM-last model's outputs are bounded by 1, less than 10x the "
                f"{name} tolerance; its bit-exact tests cover it"
            )
        key = f"layers.{last}.b"
        broken.weights[key] = bundle.weights[key] + bundle.weights[key].dtype.type(20 * tol)
    else:
        broken.weights["layers.0.b"] = bundle.weights["layers.0.b"] + 0.25  # keeps the dtype
    got = get_engine(engine, broken, **options).reconstruct(x)
    assert np.abs(got - ref).max() > 10 * tol


@pytest.mark.parametrize(
    "name", [n for n, v in {**SHAPES, **LSTM_LAST}.items() if v[-1] == np.float64]
)
def test_float64_weights_are_not_float32_values(name):
    """The float64-weight bundles test what they claim: rounding them to float32 changes them,
    so an engine that does (instead of running in float64) misses the 1e-12 tolerance."""
    for w in _build(name).weights.values():
        assert w.dtype == np.float64
        assert np.abs(w - w.astype(np.float32)).max() > 1e-9


@pytest.fixture(scope="module")
def seed(shared_data):
    from squall.convert import import_keras

    d = shared_data / "seed-model"
    bundle = import_keras(d / "lstm_weights.npz", d / "scaler.json")
    x = np.load(d / "new_data_sequences.npz")["sequences"][:40]
    return bundle, x, get_engine("torch", bundle, dtype="float64").reconstruct(x)


@pytest.mark.parametrize("name", list(ENGINES))
def test_seed_model_on_the_ladder(seed, name):
    bundle, x, ref = seed
    engine, options, tol = ENGINES[name]
    assert np.abs(get_engine(engine, bundle, **options).reconstruct(x) - ref).max() <= tol


def test_public_reconstruct_pure_equals_numpy(seed):
    import squall

    bundle, x, _ = seed
    pure = squall.reconstruct(bundle, x[:5], engine="pure")
    fast = squall.reconstruct(bundle, x[:5], engine="numpy")
    np.testing.assert_allclose(pure, fast, rtol=0, atol=1e-5)  # numpy runs in float32
