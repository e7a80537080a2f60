import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from squall.bundle import Bundle, check_layers, load_bundle, seed_layers, weight_shapes
from squall.bundle import random_bundle as make_random_bundle
from squall.data.scaling import Scaler
from squall.errors import SquallError
from squall.model import Dense, Lstm, Repeat

#: A bundle written by squall before the layers were typed (dict layer list; see its note).
OLD_BUNDLE = Path(__file__).parent / "fixtures" / "bundle-v1-dict-layers"


def random_bundle(features=3, length=6, sizes=(8, 4), seed=0) -> Bundle:
    rng = np.random.default_rng(seed)
    layers = seed_layers(features, length, sizes)
    weights = {
        k: (rng.standard_normal(s) * 0.4).astype(np.float32)
        for k, s in weight_shapes(layers).items()
    }
    names = [f"x{k}" for k in range(features)]
    return Bundle(
        layers,
        weights,
        names,
        {n: "u" for n in names},
        {
            "length": length,
            "stride": 1,
            "mode": "track",
            "resample": "1h",
            "max_gap": "6h",
            "min_observed": 0.5,
        },
        Scaler.from_minmax(names, [0] * features, [1] * features),
        {"method": "quantile", "q": 0.99, "value": 0.1},
        {"note": "test"},
    )


def test_seed_layers_are_the_seed_autoencoder():
    layers = seed_layers(6, 24)
    assert layers == (
        Lstm(6, 64, True),
        Lstm(64, 32, False),
        Repeat(24),
        Lstm(32, 32, True),
        Lstm(32, 64, True),
        Dense(64, 6),
    )
    shapes = weight_shapes(layers)
    assert shapes["layers.0.W"] == (256, 6) and shapes["layers.0.U"] == (256, 64)
    assert shapes["layers.5.W"] == (6, 64)


def test_round_trip_keeps_everything(tmp_path):
    b = random_bundle()
    b.save(tmp_path / "b")
    assert sorted(p.name for p in (tmp_path / "b").iterdir()) == [
        "bundle.json",
        "weights.safetensors",
    ]
    loaded = load_bundle(tmp_path / "b")
    assert loaded.layers == b.layers and loaded.features == b.features
    assert loaded.threshold == b.threshold and loaded.windows == b.windows
    for k, v in b.weights.items():
        np.testing.assert_array_equal(loaded.weights[k], v)
    np.testing.assert_array_equal(loaded.scaler.scale_, b.scaler.scale_)
    # plain JSON, no pickle anywhere
    meta = json.loads((tmp_path / "b" / "bundle.json").read_text())
    assert (
        meta["format"] == "squall-bundle"
        and meta["version"] == 2
        and meta["task"] == {"kind": "reconstruct"}
    )


def test_save_failure_leaves_no_bundle(tmp_path):
    b = random_bundle()
    b.weights["layers.0.W"] = b.weights["layers.0.W"][:, :2]  # mis-shaped
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


@pytest.mark.parametrize(
    "layers, message",
    [
        ([{"type": "conv"}], "unknown type"),
        ([{"type": "lstm", "input": 5, "hidden": 4, "return_sequences": True}], "input size 5"),
        ([{"type": "repeat", "times": 6}], "repeat needs a single vector"),
        (
            [
                {"type": "lstm", "input": 3, "hidden": 4, "return_sequences": False},
                {"type": "repeat", "times": 5},
            ],
            "ends with a sequence of 5 steps",
        ),
        ([{"type": "lstm", "input": 3, "hidden": 4, "return_sequences": True}], "ends with"),
    ],
)
def test_layer_chain_errors(layers, message):
    with pytest.raises(SquallError, match=message):
        check_layers(layers, 3, 6)


# ---------------------------------------------------------------- typed layers on disk


def test_a_bundle_saved_before_the_typed_layers_loads_unchanged(tmp_path):
    b = load_bundle(OLD_BUNDLE)
    assert b.layers == (Lstm(2, 3, False), Repeat(5), Lstm(3, 3, True), Dense(3, 2))
    assert b.detector is None and b.threshold["value"] == 0.25 and len(b.history) == 1
    before = json.loads((OLD_BUNDLE / "bundle.json").read_text())
    b.save(tmp_path / "again")
    after = json.loads((tmp_path / "again" / "bundle.json").read_text())
    # the same bundle.json, key for key, saved as version 2 with its (implicit) task stated
    assert after == {**before, "version": 2, "task": {"kind": "reconstruct"}}
    x = np.random.default_rng(0).uniform(0, 1, (3, 5, 2))
    from squall.engines import get_engine

    np.testing.assert_allclose(
        get_engine("pure", b).reconstruct(x),
        get_engine("numpy", b, dtype="float64").reconstruct(x),
        atol=1e-12,
    )


def test_the_seed_model_saves_and_loads_with_the_same_layer_list(shared_data, tmp_path):
    from squall.convert import import_keras

    d = shared_data / "seed-model"
    b = import_keras(d / "lstm_weights.npz", d / "scaler.json")
    assert b.layers == seed_layers(6, 24)
    b.save(tmp_path / "seed")
    meta = json.loads((tmp_path / "seed" / "bundle.json").read_text())
    assert meta["layers"] == [
        {"type": "lstm", "input": 6, "hidden": 64, "return_sequences": True},
        {"type": "lstm", "input": 64, "hidden": 32, "return_sequences": False},
        {"type": "repeat", "times": 24},
        {"type": "lstm", "input": 32, "hidden": 32, "return_sequences": True},
        {"type": "lstm", "input": 32, "hidden": 64, "return_sequences": True},
        {"type": "dense", "input": 64, "output": 6},
    ]
    assert "detector" not in meta
    assert load_bundle(tmp_path / "seed").layers == b.layers


def test_layers_are_typed_whether_given_typed_or_as_json():
    b = random_bundle()
    assert all(isinstance(layer, (Lstm, Repeat, Dense)) for layer in b.layers)
    assert isinstance(b.layers, tuple)
    as_json = [layer.to_json() for layer in b.layers]
    again = Bundle(as_json, b.weights, b.features, b.units, b.windows, b.scaler).validate()
    assert again.layers == b.layers
    typed = make_random_bundle(seed_layers(2, 4, (3,)), 2, 4)
    dicts = make_random_bundle([layer.to_json() for layer in seed_layers(2, 4, (3,))], 2, 4)
    assert typed.layers == dicts.layers
    for k in typed.weights:
        np.testing.assert_array_equal(typed.weights[k], dicts.weights[k])
    assert b.model.features == 3 and b.model.length == 6


def test_a_bad_layer_in_bundle_json_is_one_line(tmp_path):
    shutil.copytree(OLD_BUNDLE, tmp_path / "b")
    meta = json.loads((tmp_path / "b" / "bundle.json").read_text())
    meta["layers"][2]["units"] = 3
    (tmp_path / "b" / "bundle.json").write_text(json.dumps(meta))
    with pytest.raises(SquallError, match=r"layer 2 \(lstm\): unknown field 'units'"):
        load_bundle(tmp_path / "b")


# ---------------------------------------------------------------- the detector section


DETECTOR = {
    "name": "pointwise",
    "scoring": {"mode": "step", "smoothing": 5},
    "threshold": {"rule": "k-sigma", "k": 4, "value": 0.0123, "fitted_on": "validation"},
    "flags": [True, None, "x", [1, 2.5]],
}


def test_detector_section_round_trips(tmp_path):
    b = random_bundle()
    b.detector = json.loads(json.dumps(DETECTOR))
    fingerprint = b.fingerprint()
    b.save(tmp_path / "b")
    meta = json.loads((tmp_path / "b" / "bundle.json").read_text())
    assert meta["detector"] == DETECTOR and meta["version"] == 2
    loaded = load_bundle(tmp_path / "b")
    assert loaded.detector == DETECTOR
    assert loaded.fingerprint() == fingerprint  # not part of the windows
    b.detector = {"name": "other"}
    assert b.fingerprint() == fingerprint and b.meta()["detector"] == {"name": "other"}
    b.detector = None
    assert "detector" not in b.meta()


@pytest.mark.parametrize(
    "detector, message",
    [
        ([1, 2], "detector must be a JSON object, got list"),
        ("quantile", "detector must be a JSON object, got str"),
        ({"threshold": {"value": float("nan")}}, r"detector.threshold.value is nan"),
        ({"k": float("inf")}, "detector.k is inf"),
        ({"steps": [1, (2, 3)]}, r"detector.steps\[1\] is of type tuple"),
        ({"arr": np.int64(1)}, "detector.arr is of type int64"),
        ({1: "x"}, "non-string key 1"),
    ],
)
def test_detector_section_is_checked(detector, message):
    b = random_bundle()
    b.detector = detector
    with pytest.raises(SquallError, match=message) as err:
        b.validate()
    assert "\n" not in str(err.value)


def test_a_malformed_detector_in_bundle_json_is_refused(tmp_path):
    shutil.copytree(OLD_BUNDLE, tmp_path / "b")
    meta = json.loads((tmp_path / "b" / "bundle.json").read_text())
    meta["detector"] = ["not", "an", "object"]
    (tmp_path / "b" / "bundle.json").write_text(json.dumps(meta))
    with pytest.raises(SquallError, match="detector must be a JSON object"):
        load_bundle(tmp_path / "b")
    meta["detector"] = {"value": 1e999}  # json writes Infinity
    (tmp_path / "b" / "bundle.json").write_text(json.dumps(meta))
    with pytest.raises(SquallError):
        load_bundle(tmp_path / "b")


def test_a_bundle_directory_with_its_training_log_may_be_replaced(tmp_path):
    """squall train keeps training-log.jsonl beside a bundle's files: the directory is still
    a bundle squall wrote (import-keras and Bundle.save may replace it), and anything else
    in it still protects it."""
    from squall.bundle import TRAINING_LOG, random_bundle, seed_layers

    out = tmp_path / "b"
    random_bundle(seed_layers(1, 4, (3,)), 1, 4).save(out)
    (out / TRAINING_LOG).write_text('{"event": "start"}\n')
    random_bundle(seed_layers(1, 4, (5,)), 1, 4).save(out)
    assert load_bundle(out).layers[0].hidden == 5
    (out / "notes.txt").write_text("mine")
    with pytest.raises(SquallError):
        random_bundle(seed_layers(1, 4, (3,)), 1, 4).save(out)
    assert (out / "notes.txt").read_text() == "mine"
