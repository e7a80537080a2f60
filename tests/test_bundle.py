import json

import numpy as np
import pytest

from squall.bundle import Bundle, check_layers, load_bundle, seed_layers, weight_shapes
from squall.data.scaling import Scaler
from squall.errors import SquallError


def random_bundle(features=3, length=6, sizes=(8, 4), seed=0) -> Bundle:
    rng = np.random.default_rng(seed)
    layers = seed_layers(features, length, sizes)
    weights = {k: (rng.standard_normal(s) * 0.4).astype(np.float32)
               for k, s in weight_shapes(layers).items()}
    names = [f"x{k}" for k in range(features)]
    return Bundle(layers, weights, names, {n: "u" for n in names},
                  {"length": length, "stride": 1, "mode": "track", "resample": "1h",
                   "max_gap": "6h", "min_observed": 0.5},
                  Scaler.from_minmax(names, [0] * features, [1] * features),
                  {"method": "quantile", "q": 0.99, "value": 0.1}, {"note": "test"})


def test_seed_layers_are_the_seed_autoencoder():
    layers = seed_layers(6, 24)
    assert [(lay["type"], lay.get("input"), lay.get("hidden") or lay.get("output")
             or lay.get("times")) for lay in layers] == [
        ("lstm", 6, 64), ("lstm", 64, 32), ("repeat", None, 24), ("lstm", 32, 32),
        ("lstm", 32, 64), ("dense", 64, 6)]
    assert [lay.get("return_sequences") for lay in layers] == [True, False, None, True, True, None]
    shapes = weight_shapes(layers)
    assert shapes["layers.0.W"] == (256, 6) and shapes["layers.0.U"] == (256, 64)
    assert shapes["layers.5.W"] == (6, 64)


def test_round_trip_keeps_everything(tmp_path):
    b = random_bundle()
    b.save(tmp_path / "b")
    assert sorted(p.name for p in (tmp_path / "b").iterdir()) == ["bundle.json",
                                                                  "weights.safetensors"]
    loaded = load_bundle(tmp_path / "b")
    assert loaded.layers == b.layers and loaded.features == b.features
    assert loaded.threshold == b.threshold and loaded.windows == b.windows
    for k, v in b.weights.items():
        np.testing.assert_array_equal(loaded.weights[k], v)
    np.testing.assert_array_equal(loaded.scaler.scale_, b.scaler.scale_)
    # plain JSON, no pickle anywhere
    meta = json.loads((tmp_path / "b" / "bundle.json").read_text())
    assert meta["format"] == "squall-bundle" and meta["version"] == 1


def test_save_failure_leaves_no_bundle(tmp_path):
    b = random_bundle()
    b.weights["layers.0.W"] = b.weights["layers.0.W"][:, :2]   # mis-shaped
    with pytest.raises(SquallError, match="layers.0.W"):
        b.save(tmp_path / "b")
    assert not (tmp_path / "b").exists()
    assert list(tmp_path.iterdir()) == []


def test_other_version_is_refused(tmp_path):
    random_bundle().save(tmp_path / "b")
    meta = json.loads((tmp_path / "b" / "bundle.json").read_text())
    meta["version"] = 99
    (tmp_path / "b" / "bundle.json").write_text(json.dumps(meta))
    with pytest.raises(SquallError, match="version 99"):
        load_bundle(tmp_path / "b")


def test_corrupted_weights_are_refused(tmp_path):
    random_bundle().save(tmp_path / "b")
    path = tmp_path / "b" / "weights.safetensors"
    path.write_bytes(path.read_bytes()[:100])
    with pytest.raises(SquallError, match="corrupted"):
        load_bundle(tmp_path / "b")


def test_misshaped_weights_are_refused(tmp_path):
    from safetensors.numpy import load_file, save_file

    random_bundle().save(tmp_path / "b")
    path = tmp_path / "b" / "weights.safetensors"
    w = load_file(str(path))
    w["layers.1.U"] = np.ascontiguousarray(w["layers.1.U"].T[:3])
    save_file(w, str(path))
    with pytest.raises(SquallError, match=r"layers\.1\.U has shape"):
        load_bundle(tmp_path / "b")


def test_nan_weights_are_refused():
    b = random_bundle()
    b.weights["layers.5.b"][0] = np.nan
    with pytest.raises(SquallError, match="NaN"):
        b.validate()


@pytest.mark.parametrize("missing", ["bundle.json", "weights.safetensors"])
def test_missing_files(tmp_path, missing):
    random_bundle().save(tmp_path / "b")
    (tmp_path / "b" / missing).unlink()
    with pytest.raises(SquallError, match=missing):
        load_bundle(tmp_path / "b")


def test_not_a_bundle(tmp_path):
    with pytest.raises(SquallError, match="no bundle directory"):
        load_bundle(tmp_path / "nothing")
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "bundle.json").write_text("{not json")
    (tmp_path / "b" / "weights.safetensors").write_bytes(b"")
    with pytest.raises(SquallError, match="not valid JSON"):
        load_bundle(tmp_path / "b")


@pytest.mark.parametrize("layers, message", [
    ([{"type": "conv"}], "unknown type"),
    ([{"type": "lstm", "input": 5, "hidden": 4, "return_sequences": True}], "input size 5"),
    ([{"type": "repeat", "times": 6}], "repeat needs a single vector"),
    ([{"type": "lstm", "input": 3, "hidden": 4, "return_sequences": False},
      {"type": "repeat", "times": 5}], "repeat times 5"),
    ([{"type": "lstm", "input": 3, "hidden": 4, "return_sequences": True}], "ends with"),
])
def test_layer_chain_errors(layers, message):
    with pytest.raises(SquallError, match=message):
        check_layers(layers, 3, 6)
