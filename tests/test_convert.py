import numpy as np
import pandas as pd
import pytest

from squall.bundle import seed_layers, weight_shapes
from squall.convert import (
    bundle_weights_from_keras,
    bundle_weights_from_torch,
    import_keras,
    torch_state_from_bundle,
)
from squall.errors import SquallError


@pytest.fixture(scope="module")
def seed_bundle(shared_data):
    d = shared_data / "seed-model"
    return import_keras(d / "lstm_weights.npz", d / "scaler.json")


def test_keras_transposes(shared_data, seed_bundle):
    raw = np.load(shared_data / "seed-model" / "lstm_weights.npz")
    # Keras kernel (in, 4H) is the transpose of the bundle's W (4H, in)
    np.testing.assert_array_equal(seed_bundle.weights["layers.0.W"], raw["arr_0"].T)
    np.testing.assert_array_equal(seed_bundle.weights["layers.0.U"], raw["arr_1"].T)
    np.testing.assert_array_equal(seed_bundle.weights["layers.5.W"], raw["arr_12"].T)
    # the repeat layer has no weights: the decoder's first LSTM is layer 3
    np.testing.assert_array_equal(seed_bundle.weights["layers.3.W"], raw["arr_6"].T)


def test_seed_scaler_in_physical_units(seed_bundle):
    s = seed_bundle.scaler
    # raw tenths 10025..10186 hPa*10 -> 1002.5..1018.6 hPa; wave height units of 0.5 m
    k = s.features.index("SEA_LVL_PRES")
    assert s.offset_[k] == pytest.approx(1002.5) and s.scale_[k] == pytest.approx(16.1)
    k = s.features.index("WAVE_HGT")
    assert s.scale_[k] == pytest.approx(5.0)


@pytest.mark.parametrize(
    "engine, dtype",
    [("numpy", "float64"), ("numpy", "float32"), ("torch", "float32"), ("torch", "float64")],
)
@pytest.mark.parametrize("name", ["training", "new_data"])
def test_seed_model_reproduces_expected_mse(shared_data, seed_bundle, engine, dtype, name):
    from squall.engines import get_engine

    x = np.load(shared_data / "seed-model" / f"{name}_sequences.npz")["sequences"]
    expected = pd.read_csv(shared_data / "seed-model" / f"expected_mse_{name}.csv")["mse"]
    recon = get_engine(engine, seed_bundle, dtype=dtype).reconstruct(x)
    mse = ((recon - x) ** 2).mean(axis=(1, 2))
    np.testing.assert_allclose(mse, expected.to_numpy(), rtol=1e-6)


def test_torch_round_trip_is_exact():
    pytest.importorskip("torch")
    from squall.models.autoencoder import LSTMAutoencoder

    layers = seed_layers(4, 5, (6, 3))
    model = LSTMAutoencoder(layers)
    weights = bundle_weights_from_torch(model.state_numpy(), layers)
    state = model.state_numpy()
    # the two PyTorch biases add into the bundle's one
    np.testing.assert_allclose(
        weights["layers.0.b"], state["layers.0.bias_ih_l0"] + state["layers.0.bias_hh_l0"]
    )
    from squall.bundle import Bundle
    from squall.data.scaling import Scaler

    b = Bundle(
        layers,
        weights,
        list("abcd"),
        {},
        {"length": 5},
        Scaler.from_minmax(list("abcd"), [0] * 4, [1] * 4),
    )
    back = torch_state_from_bundle(b)
    np.testing.assert_array_equal(back["layers.4.weight_hh_l0"], state["layers.4.weight_hh_l0"])


def test_keras_wrong_orientation_is_refused():
    layers = seed_layers(3, 4, (5, 2))
    arrays = []
    for shape in weight_shapes(layers).values():
        arrays.append(np.zeros(shape[::-1], dtype=np.float32))  # Keras orientation
    arrays[0] = arrays[0].T  # one array in the wrong orientation
    with pytest.raises(SquallError, match="layer 0 kernel has shape"):
        bundle_weights_from_keras(arrays, layers)
    arrays[0] = arrays[0].T  # back to the right orientation
    with pytest.raises(SquallError, match="fewer arrays"):
        bundle_weights_from_keras(arrays[:3], layers)
    with pytest.raises(SquallError, match="1 more array"):
        bundle_weights_from_keras(arrays + [arrays[-1]], layers)
    assert len(bundle_weights_from_keras(arrays, layers)) == len(arrays)


def test_import_keras_missing_file(tmp_path):
    with pytest.raises(SquallError, match="no such file"):
        import_keras(tmp_path / "w.npz", tmp_path / "s.json")


# ---------------------------------------------------------------- any Keras LSTM / Dense stack


def _keras_npz(path, layers, seed=0):
    """Random Keras-layout arrays (every 2-D weight transposed) for ``layers``, as arr_0.."""
    rng = np.random.default_rng(seed)
    arrays = [
        rng.normal(0, 0.3, shape[::-1]).astype(np.float32)
        for shape in weight_shapes(layers).values()
    ]
    np.savez(path, *arrays)
    return arrays


def _scaler(path, features):
    import json

    path.write_text(
        json.dumps(
            {
                "kind": "minmax",
                "features": features,
                "data_min": [0.0] * len(features),
                "data_max": [1.0] * len(features),
            }
        )
    )
    return path


@pytest.mark.parametrize("sizes", [(16, 8), (5,), (7, 6, 3)])
def test_import_keras_reads_the_sizes_from_the_arrays(tmp_path, sizes):
    from squall.engines import get_engine

    layers = seed_layers(3, 10, sizes)
    arrays = _keras_npz(tmp_path / "w.npz", layers)
    b = import_keras(tmp_path / "w.npz", _scaler(tmp_path / "s.json", ["a", "b", "c"]), length=10)
    assert b.layers == layers
    np.testing.assert_array_equal(b.weights["layers.0.W"], arrays[0].T)
    np.testing.assert_array_equal(b.weights[f"layers.{len(layers) - 1}.W"], arrays[-2].T)
    x = np.random.default_rng(1).uniform(0, 1, (4, 10, 3))
    np.testing.assert_allclose(
        get_engine("numpy", b, dtype="float64").reconstruct(x),
        get_engine("pure", b).reconstruct(x),
        atol=1e-12,
    )
    assert (
        import_keras(tmp_path / "w.npz", tmp_path / "s.json", length=10, sizes=sizes).layers
        == layers
    )
    with pytest.raises(SquallError, match="encoder LSTM sizes are"):
        import_keras(tmp_path / "w.npz", tmp_path / "s.json", length=10, sizes=(64, 32))


def test_import_keras_places_the_repeat(tmp_path):
    from squall.convert import keras_layers
    from squall.model import Dense, Lstm, Repeat

    # a sequence-to-sequence stack (sizes do not mirror): no repeat
    seq = (Lstm(3, 4, True), Lstm(4, 5, True), Dense(5, 3))
    arrays = _keras_npz(tmp_path / "seq.npz", seq)
    assert keras_layers(arrays, 6) == seq
    b = import_keras(tmp_path / "seq.npz", _scaler(tmp_path / "s.json", ["a", "b", "c"]), length=6)
    assert b.layers == seq
    # mirrored sizes: the seed autoencoder, unless told otherwise
    mirrored = _keras_npz(tmp_path / "m.npz", (Lstm(3, 4, True), Lstm(4, 4, True), Dense(4, 3)))
    assert keras_layers(mirrored, 6) == (
        Lstm(3, 4, False),
        Repeat(6),
        Lstm(4, 4, True),
        Dense(4, 3),
    )
    assert keras_layers(mirrored, 6, repeat_after=0) == (
        Lstm(3, 4, True),
        Lstm(4, 4, True),
        Dense(4, 3),
    )
    with pytest.raises(SquallError, match="repeat_after must be between 0 and"):
        keras_layers(mirrored, 6, repeat_after=3)


def test_import_keras_refuses_arrays_that_are_no_stack(tmp_path):
    s = _scaler(tmp_path / "s.json", ["a", "b", "c"])
    np.savez(
        tmp_path / "w.npz",
        np.zeros((3, 8), np.float32),
        np.zeros((5, 8), np.float32),
        np.zeros((8,), np.float32),
    )
    with pytest.raises(SquallError, match=r"arr_0 of shape \(3, 8\) starts neither an LSTM"):
        import_keras(tmp_path / "w.npz", s, length=6)
    _keras_npz(tmp_path / "w4.npz", seed_layers(4, 6, (5,)))  # 4 features, not 3
    with pytest.raises(SquallError, match="first layer takes 4 inputs, the scaler"):
        import_keras(tmp_path / "w4.npz", s, length=6)


def test_import_keras_seed_layout_matches_the_historical_sizes(shared_data, seed_bundle):
    assert seed_bundle.layers == seed_layers(6, 24, (64, 32))


# ---------------------------------------------------------------- torch state dict checks


def _state(layers, seed=0):
    from squall.convert import torch_state_shapes

    rng = np.random.default_rng(seed)
    return {
        k: rng.normal(0, 0.3, s).astype(np.float32) for k, s in torch_state_shapes(layers).items()
    }


def test_torch_state_keys_and_shapes_come_from_the_layers():
    from squall.convert import torch_state_shapes

    shapes = torch_state_shapes(seed_layers(4, 5, (6, 3)))
    assert shapes["layers.0.weight_ih_l0"] == (24, 4) and shapes["layers.0.bias_hh_l0"] == (24,)
    assert shapes["layers.5.weight"] == (4, 6) and "layers.2.weight" not in shapes
    assert len(shapes) == 4 * 4 + 2


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda s: s.pop("layers.3.bias_hh_l0"), "missing key 'layers.3.bias_hh_l0'"),
        (lambda s: s.update({"layers.5.extra": np.zeros(1)}), "unexpected key 'layers.5.extra'"),
        (
            lambda s: s.update({"layers.0.weight_ih_l0": np.zeros((4, 24))}),
            r"layers.0.weight_ih_l0 has shape \(4, 24\), expected \(24, 4\)",
        ),
        (
            lambda s: s.update({"layers.5.bias": np.zeros((4, 1))}),
            r"layers.5.bias has shape \(4, 1\), expected \(4,\)",
        ),
    ],
)
def test_torch_state_dict_is_checked_before_reading(change, message):
    layers = seed_layers(4, 5, (6, 3))
    state = _state(layers)
    bundle_weights_from_torch(state, layers)  # the good one reads
    change(state)
    with pytest.raises(SquallError, match=message) as err:
        bundle_weights_from_torch(state, layers)
    assert "\n" not in str(err.value) and str(err.value).startswith("torch state dict: ")


def test_torch_state_round_trip_through_the_bundle():
    from squall.bundle import random_bundle

    b = random_bundle(seed_layers(4, 5, (6, 3)), 4, 5)
    state = torch_state_from_bundle(b)
    back = bundle_weights_from_torch(state, b.layers)
    assert set(back) == set(b.weights)
    for k, v in b.weights.items():
        np.testing.assert_array_equal(back[k], v)
