"""Adding a layer type is one class and one function per engine (docs/architecture.md, "Adding a
layer type"): a ``scale`` layer (``y = k x`` at every step, no weights) is added here the way the
document says, and every engine runs it; an engine without its function says so in one line."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import pytest

from squall.bundle import Bundle, random_bundle, seed_layers
from squall.engines import get_engine, numpy_engine, pure
from squall.errors import SquallError
from squall.limits import MAX_UNITS
from squall.model import LAYER_TYPES, Layer, as_layers


# ---- the class (in squall/model.py it would carry @layer_type instead of the monkeypatch)
@dataclass(frozen=True)
class Scale(Layer):
    """``y = factor * x`` at every step (any width; sequences only)."""

    factor: float

    kind: ClassVar[str] = "scale"

    def __post_init__(self) -> None:
        if (
            not isinstance(self.factor, (int, float))
            or isinstance(self.factor, bool)
            or not abs(self.factor) <= MAX_UNITS
        ):
            raise SquallError(f"scale: factor must be a number, got {self.factor!r}")

    def out_width(self, width: int) -> int:
        return width

    def describe(self) -> str:
        return f"scale(x{self.factor:g})"


# ---- pure engine: one function in pure.BUILD (its layer object's run computes it)
@dataclass
class PureScale:
    factor: float

    def run(self, model, idx, seq, latent):
        return [[self.factor * v for v in row] for row in seq], None


def pure_scale(spec: Scale, i: int, tensors: dict) -> PureScale:
    return PureScale(spec.factor)


# ---- numpy engine: one function in numpy_engine.PLAN (its op's forward computes it)
@dataclass
class NumpyScale:
    factor: float

    def forward(self, seq, vec, steps, trace=None):
        return seq * self.factor, vec  # a doubled LSTM output stays doubled


def numpy_scale(layer: Scale, i: int, repeated: bool, w: dict, p) -> None:
    p.plan.append(NumpyScale(layer.factor))


# ---- torch: one function in models.autoencoder.MODULES
def torch_scale(layer: Scale):
    from torch import nn

    class Mul(nn.Module):
        def forward(self, x):
            return x * layer.factor

    return Mul()


@pytest.fixture
def scale_type(monkeypatch):
    monkeypatch.setitem(LAYER_TYPES, "scale", Scale)
    return Scale


def _with_scale(factor: float) -> Bundle:
    """The seed-shaped model with a scale layer before its dense layer, and the same model
    without it but with the dense weights multiplied by ``factor`` (the same function)."""
    base = random_bundle(seed_layers(3, 6, (5, 4)), 3, 6, seed=3, dtype=np.float64)
    layers = (*base.layers[:-1], Scale(factor), base.layers[-1])
    last = len(base.layers) - 1
    weights = {k: v for k, v in base.weights.items() if not k.startswith(f"layers.{last}.")}
    weights[f"layers.{last + 1}.W"] = base.weights[f"layers.{last}.W"]
    weights[f"layers.{last + 1}.b"] = base.weights[f"layers.{last}.b"]
    scaled = Bundle(layers, weights, base.features, base.units, base.windows, base.scaler)
    base.weights[f"layers.{last}.W"] = base.weights[f"layers.{last}.W"] * factor
    return scaled.validate(), base


def test_a_new_layer_type_needs_one_class_and_one_function_per_engine(scale_type, monkeypatch):
    monkeypatch.setitem(pure.BUILD, Scale, pure_scale)
    monkeypatch.setitem(numpy_engine.PLAN, Scale, numpy_scale)
    scaled, reference = _with_scale(-0.75)
    assert scaled.meta()["layers"][5] == {"type": "scale", "factor": -0.75}
    assert as_layers(scaled.meta()["layers"]) == scaled.layers
    x = np.random.default_rng(0).uniform(0, 1, (5, 6, 3))
    expected = get_engine("numpy", reference, dtype="float64").reconstruct(x)
    np.testing.assert_allclose(
        get_engine("numpy", scaled, dtype="float64").reconstruct(x), expected, atol=1e-12
    )
    np.testing.assert_allclose(get_engine("pure", scaled).reconstruct(x), expected, atol=1e-12)
    torch = pytest.importorskip("torch")
    del torch
    from squall.models import autoencoder

    monkeypatch.setitem(autoencoder.MODULES, Scale, torch_scale)
    np.testing.assert_allclose(
        get_engine("torch", scaled, dtype="float64").reconstruct(x), expected, atol=1e-12
    )


@pytest.mark.parametrize("engine", ["numpy", "pure", "fixed"])
def test_an_engine_without_the_function_names_the_layer(scale_type, engine):
    scaled, _ = _with_scale(2.0)
    with pytest.raises(SquallError, match=f"layer 5: the {engine} engine has no 'scale' layer"):
        get_engine(engine, scaled)


def test_the_engine_tables_cover_every_built_in_layer_type():
    from squall.engines import fixed
    from squall.model import Decoder, Gru

    for table in (pure.BUILD, numpy_engine.PLAN):
        assert set(table) == set(LAYER_TYPES.values())
    # the fixed engine: every type (the hw tools refuse those they do not know, in one line)
    assert set(fixed.BUILD) == set(LAYER_TYPES.values())
    assert Gru in fixed.BUILD and Decoder in fixed.BUILD
