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


@pytest.mark.parametrize("engine, dtype", [("numpy", "float64"), ("numpy", "float32"),
                                           ("torch", "float32"), ("torch", "float64")])
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
    np.testing.assert_allclose(weights["layers.0.b"],
                               state["layers.0.bias_ih_l0"] + state["layers.0.bias_hh_l0"])
    from squall.bundle import Bundle
    from squall.data.scaling import Scaler
    b = Bundle(layers, weights, list("abcd"), {}, {"length": 5},
               Scaler.from_minmax(list("abcd"), [0] * 4, [1] * 4))
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
