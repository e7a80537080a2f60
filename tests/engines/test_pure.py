"""The pure-Python engine: standard library only, correct, counted, traced."""

import json
import math
import subprocess
import sys
from fractions import Fraction
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from squall.bundle import seed_layers
from squall.engines import pure

SRC = Path(__file__).resolve().parents[2] / "src"

BLOCK_NUMPY = """
import sys
class Block:
    def find_spec(self, name, path=None, target=None):
        if name.split('.')[0] in ('numpy', 'pandas', 'torch', 'safetensors', 'scipy'):
            raise ImportError('blocked: ' + name)
sys.meta_path.insert(0, Block())
try:
    import numpy
    raise SystemExit('numpy was importable')
except ImportError:
    pass
"""


@pytest.fixture(scope="module")
def seed_dir(shared_data, tmp_path_factory):
    from squall.convert import import_keras

    d = shared_data / "seed-model"
    out = tmp_path_factory.mktemp("pure") / "seed"
    import_keras(d / "lstm_weights.npz", d / "scaler.json").save(out)
    return out


def test_loads_and_runs_where_numpy_cannot_be_imported(seed_dir, shared_data):
    x = np.load(shared_data / "seed-model" / "new_data_sequences.npz")["sequences"][:2]
    code = (
        BLOCK_NUMPY
        + f"""
import json
import squall.engines.pure as pure
model = pure.load({str(seed_dir)!r})
windows = json.loads({json.dumps(x.tolist())!r})
out = [model.reconstruct(w) for w in windows]
assert len(out[0]) == 24 and len(out[0][0]) == 6 and isinstance(out[0][0][0], float)
bad = [m for m in sys.modules if m.split('.')[0] in ('numpy', 'pandas', 'torch')]
print(json.dumps({{"scores": [model.score(w) for w in windows], "bad": bad}}))
"""
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env={"PYTHONPATH": str(SRC)}
    )
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert result["bad"] == []
    expected = pd.read_csv(shared_data / "seed-model" / "expected_mse_new_data.csv")["mse"]
    np.testing.assert_allclose(result["scores"], expected[:2], rtol=1e-9)


def _imports(path):
    import ast

    tree = ast.parse(path.read_text())
    names = {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    return names | {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module}


def test_module_imports_only_the_standard_library():
    """pure.py may use squall's own standard-library-only helpers (errors, io, limits): each
    of them is checked the same way, recursively."""
    allowed = set(sys.stdlib_module_names) | {"__future__"}
    todo, seen = [SRC / "squall" / "engines" / "pure.py"], set()
    while todo:
        path = todo.pop()
        for name in _imports(path) - seen:
            seen.add(name)
            if name in ("squall.errors", "squall.io", "squall.limits", "squall.model"):
                todo.append(SRC / (name.replace(".", "/") + ".py"))
            else:
                assert name.split(".")[0] in allowed, (path.name, name)


@pytest.mark.parametrize("name", ["new_data", "training"])
def test_reproduces_expected_mse_to_1e9(seed_dir, shared_data, name):
    d = shared_data / "seed-model"
    x = np.load(d / f"{name}_sequences.npz")["sequences"]
    expected = pd.read_csv(d / f"expected_mse_{name}.csv")["mse"].to_numpy()
    model = pure.load(seed_dir)
    step = 1 if name == "new_data" else 7  # every new-data window, every 7th training one
    scores = [model.score(w) for w in x[::step].tolist()]
    np.testing.assert_allclose(scores, expected[::step], rtol=1e-9)


def test_class_api_and_batch_runner(seed_dir, shared_data):
    x = np.load(shared_data / "seed-model" / "new_data_sequences.npz")["sequences"][:3].tolist()
    model = pure.load(seed_dir)
    seen = []
    out = model.run(x, progress=lambda i, n: seen.append((i, n)))
    assert seen == [(1, 3), (2, 3), (3, 3)]
    assert out[1] == model.reconstruct(x[1])
    mask = [[k != 2 for k in range(6)] for _ in range(24)]  # ignore one feature
    full, masked = model.score(x[0]), model.score(x[0], mask)
    recon = np.array(out[0])
    expected = np.delete((recon - np.array(x[0])) ** 2, 2, axis=1).mean()
    assert masked == pytest.approx(expected, rel=1e-12) and masked != pytest.approx(full)


def random_model(layers, T, features, scale=0.1, seed=0):
    """A pure model with random weights for ``layers`` (and its rng for inputs)."""
    from squall.bundle import weight_shapes

    rng = np.random.default_rng(seed)
    tensors = {
        k: (list(s), rng.normal(0, scale, int(np.prod(s))).tolist())
        for k, s in weight_shapes(layers).items()
    }
    meta = {
        "layers": layers,
        "features": [f"f{k}" for k in range(features)],
        "windows": {"length": T},
    }
    return pure.from_arrays(meta, tensors), rng


@pytest.mark.parametrize("sizes", [(64, 32), (8, 4, 2), (5,)])
def test_counters_equal_the_cost_model(sizes):
    """What the engine counts as it runs is what hw.costmodel predicts from the layer sizes."""
    from squall.engines.tools.costs import as_tables, window_costs

    F, T = 6, 24
    layers = seed_layers(F, T, sizes)
    model, rng = random_model(layers, T, F)
    window = rng.uniform(0, 1, (T, F)).tolist()
    plain = model.reconstruct(window)
    model.counters = pure.Counters()
    counted = model.reconstruct(window)
    model.reconstruct(window)
    assert counted == plain  # counting changes nothing
    expected = as_tables(window_costs(layers, T))
    got = model.counters.as_dict()
    assert set(got) == set(expected)
    for kind, table in expected.items():
        assert got[kind] == {i: 2 * v for i, v in table.items()}, kind


def test_seed_model_counts_by_hand(seed_dir, shared_data):
    """The seed model 6->64->32->repeat 24->32->64->dense 6, counted by hand, by the cost model
    and by the engine on a real window."""
    from squall.engines.tools.costs import window_costs

    model = pure.load(seed_dir)
    model.counters = pure.Counters()
    x = np.load(shared_data / "seed-model" / "new_data_sequences.npz")["sequences"][0]
    model.reconstruct(x.tolist())
    got = model.counters.as_dict()
    costs = {c.index: c for c in window_costs(seed_layers(6, 24, (64, 32)), 24)}
    by_hand = {
        0: 24 * 4 * 64 * (6 + 64),  # 430,080
        1: 24 * 4 * 32 * (64 + 32),  # 294,912
        3: 4 * 32 * 32 + 24 * 4 * 32 * 32,  # after repeat: W v once, then U h
        4: 24 * 4 * 64 * (32 + 64),  # 589,824
        5: 24 * 64 * 6,  # dense, per step
    }
    assert by_hand[0] == 430_080 and by_hand[3] == 102_400
    assert sum(by_hand.values()) == 1_426_432
    assert got["macs"] == by_hand
    assert {i: c.macs for i, c in costs.items() if c.macs} == by_hand
    assert sum(c.macs for c in costs.values()) == 1_426_432
    assert got["step_calls"] == {0: 24, 1: 24, 3: 24, 4: 24, 5: 24}
    assert got["activations"] == {0: 24 * 5 * 64, 1: 24 * 5 * 32, 3: 24 * 5 * 32, 4: 24 * 5 * 64}
    # float32 bundle: 4-byte words; after the repeat each step reads the 4H projection, h, c
    assert model.word_bytes == 4
    assert got["state_bytes_in"][3] == 24 * (4 * 32 + 2 * 32) * 4 == costs[3].state_bytes_in
    assert got["weight_bytes"][3] == (4 * 32 * 32 + 4 * 32) * 4 + 24 * 4 * 32 * 32 * 4


def test_worked_example_through_the_counters():
    """The user's worked example: one step of a single 6 -> 32 LSTM layer moves
    4*6 + 4*32 + 4*32 = 280 state bytes in, 256 out, and reads 4*(4*32*(6 + 32) + 4*32) bytes of
    weights."""
    from squall.engines.tools.costs import window_costs

    layers = [{"type": "lstm", "input": 6, "hidden": 32, "return_sequences": True}]
    model, rng = random_model(layers, 1, 6)
    model.counters = pure.Counters()
    out = model.reconstruct(rng.uniform(0, 1, (1, 6)).tolist())
    assert len(out) == 1 and len(out[0]) == 32
    got = model.counters.as_dict()
    assert got["step_calls"] == {0: 1}
    assert got["state_bytes_in"] == {0: 280}
    assert got["state_bytes_out"] == {0: 256}
    assert got["weight_bytes"] == {0: 19_968}
    assert got["macs"] == {0: 4 * 32 * (6 + 32)}
    assert got["activations"] == {0: 5 * 32}
    (cost,) = window_costs(layers, 1)
    assert (cost.state_bytes_in, cost.state_bytes_out, cost.weight_bytes) == (280, 256, 19_968)


# ---------------------------------------------------------------- how dot products are computed

AVAILABLE_METHODS = [m for m in pure.DOT_METHODS if m != "sumprod" or hasattr(math, "sumprod")]


@pytest.fixture
def restore_dot_method():
    saved = pure.DOT_METHOD
    yield
    pure.use_dot_method(saved)


def test_default_dot_method():
    assert pure.DOT_METHOD == ("sumprod" if sys.version_info >= (3, 12) else "polarization")


@pytest.mark.usefixtures("restore_dot_method")
def test_dot_method_switch_is_checked():
    with pytest.raises(pure.PureError, match="unknown dot method"):
        pure.use_dot_method("fast")
    if not hasattr(math, "sumprod"):
        with pytest.raises(pure.PureError, match="3.12"):
            pure.use_dot_method("sumprod")
    previous = pure.use_dot_method("plain")
    assert pure.DOT_METHOD == "plain" and pure.use_dot_method(previous) == "plain"


def exact_dot(row, v):
    return float(sum(Fraction(a) * Fraction(b) for a, b in zip(row, v, strict=True)))


@pytest.mark.usefixtures("restore_dot_method")
@pytest.mark.parametrize("scale", [1.0, 1000.0])
def test_gates_error_bounds_of_each_method(scale):
    """Against exact rational arithmetic: the polarization method within its documented bound
    (n/2 + 8) u (|w|^2 + |v|^2), the plain sum within n u sum |w_i v_i|."""
    rng = np.random.default_rng(1)
    n, u = 96, 2.0**-53
    rows = rng.normal(0, 0.3, (64, n)).tolist()
    v = (scale * rng.uniform(-1, 1, n)).tolist()
    zero = [0.0] * len(rows)
    norms = pure.squared_norms(rows)
    exact = [exact_dot(r, v) for r in rows]
    vv = exact_dot(v, v)
    results = {}
    for method in AVAILABLE_METHODS:
        pure.use_dot_method(method)
        results[method] = pure.gates(rows, v, zero, norms)
    for r, e, got in zip(rows, exact, results["polarization"], strict=True):
        assert abs(got - e) <= (n / 2 + 8) * u * (exact_dot(r, r) + vv)
    for r, e, got in zip(rows, exact, results["plain"], strict=True):
        assert abs(got - e) <= n * u * sum(abs(a * b) for a, b in zip(r, v, strict=True))
    if "sumprod" in results:
        for r, e, got in zip(rows, exact, results["sumprod"], strict=True):
            assert abs(got - e) <= n * u * sum(abs(a * b) for a, b in zip(r, v, strict=True))
    # the scale of the difference: polarization error grows with |v|^2, the plain sum's with |v|
    worst_polar = max(abs(g - e) for g, e in zip(results["polarization"], exact, strict=True))
    worst_plain = max(abs(g - e) for g, e in zip(results["plain"], exact, strict=True))
    assert worst_plain <= 1e-11 * scale and worst_polar <= 1e-13 * scale**2


@pytest.mark.usefixtures("restore_dot_method")
def test_every_dot_method_reproduces_the_reference(seed_dir, shared_data):
    d = shared_data / "seed-model"
    x = np.load(d / "new_data_sequences.npz")["sequences"][::9].tolist()
    expected = pd.read_csv(d / "expected_mse_new_data.csv")["mse"].to_numpy()[::9]
    model = pure.load(seed_dir)
    recon, scores = {}, {}
    for method in AVAILABLE_METHODS:
        pure.use_dot_method(method)
        recon[method] = np.array(model.run(x))
        scores[method] = [model.score(w) for w in x]
        np.testing.assert_allclose(scores[method], expected, rtol=1e-9, err_msg=method)
    for method in AVAILABLE_METHODS:  # and each other, far closer than the reference
        np.testing.assert_allclose(recon[method], recon["plain"], rtol=0, atol=1e-12)
        np.testing.assert_allclose(scores[method], scores["plain"], rtol=1e-11)


def test_trace_records_every_intermediate():
    layers = seed_layers(2, 5, (3,))
    rng = np.random.default_rng(0)
    from squall.bundle import weight_shapes

    tensors = {
        k: (list(s), rng.normal(0, 0.5, int(np.prod(s))).tolist())
        for k, s in weight_shapes(layers).items()
    }
    model = pure.from_arrays(
        {"layers": layers, "features": ["a", "b"], "windows": {"length": 5}}, tensors
    )
    model.trace = []
    window = rng.uniform(0, 1, (5, 2)).tolist()
    out = model.reconstruct(window)
    lstm = [r for r in model.trace if r["kind"] == "lstm"]
    assert len(lstm) == 2 * 5 and len([r for r in model.trace if r["kind"] == "dense"]) == 5
    for r in lstm:  # the trace is self-consistent: c and h follow from the gates
        i, f, g, o = (np.array(r[k]) for k in "ifgo")
        assert np.allclose(i, 1 / (1 + np.exp(-np.array(r["pre_i"]))))
        assert np.allclose(np.array(r["h"]), o * np.tanh(np.array(r["c"])))
    first = lstm[0]
    assert first["input"] == window[0]
    assert np.allclose(first["c"], i0 := np.array(first["i"]) * np.array(first["g"]))  # c0 = 0
    assert np.abs(i0).max() > 0
    assert [r["output"] for r in model.trace if r["kind"] == "dense"] == out


def write_bundle(root, meta=None, header=None, payload=b""):
    """A bundle directory with ``meta`` as bundle.json and a safetensors file of ``header``."""
    meta = {"format": "squall-bundle", "version": 1, "layers": []} if meta is None else meta
    (root / "bundle.json").write_text(json.dumps(meta))
    raw = json.dumps(header if header is not None else {}).encode()
    (root / "weights.safetensors").write_bytes(len(raw).to_bytes(8, "little") + raw + payload)
    return root


@pytest.mark.parametrize("text", ["{not json", "", "\xff\xfe\x00garbage"])
def test_bad_bundle_json_is_a_pure_error(tmp_path, text):
    write_bundle(tmp_path)
    (tmp_path / "bundle.json").write_bytes(text.encode("latin-1"))
    with pytest.raises(pure.PureError, match="bundle.json is not valid JSON") as err:
        pure.load(tmp_path)
    assert "\n" not in str(err.value)


def test_bundle_json_that_is_not_a_bundle(tmp_path):
    write_bundle(tmp_path, meta=[1, 2])
    with pytest.raises(pure.PureError, match="not a version 1 or 2 squall bundle"):
        pure.load(tmp_path)
    with pytest.raises(pure.PureError, match="bundle.json is missing"):
        pure.load(tmp_path / "nowhere")


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ({"shape": [2], "data_offsets": [0, 8]}, "lacks 'dtype'"),
        ({"dtype": "F32", "data_offsets": [0, 8]}, "lacks 'shape'"),
        ({"dtype": "F32", "shape": [2]}, "lacks 'data_offsets'"),
        ({"dtype": "F32", "shape": [2], "data_offsets": [0]}, "malformed header entry"),
        ({"dtype": "F32", "shape": 2, "data_offsets": [0, 8]}, "malformed header entry"),
        ({"dtype": "F32", "shape": [2], "data_offsets": ["0", "8"]}, "malformed shape"),
        ("F32", "malformed header entry"),
        ({"dtype": "I8", "shape": [2], "data_offsets": [0, 2]}, "unsupported dtype"),
        ({"dtype": "F32", "shape": [3], "data_offsets": [0, 8]}, "inconsistent offsets"),
    ],
)
def test_malformed_safetensors_header_entries(tmp_path, entry, message):
    write_bundle(tmp_path, header={"layers.0.b": entry}, payload=bytes(8))
    with pytest.raises(pure.PureError, match=message) as err:
        pure.load(tmp_path)
    assert "layers.0.b" in str(err.value) and "\n" not in str(err.value)


def test_corrupted_weights_file(tmp_path):
    (tmp_path / "bundle.json").write_text(
        json.dumps({"format": "squall-bundle", "version": 1, "layers": []})
    )
    (tmp_path / "weights.safetensors").write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{}")
    with pytest.raises(pure.PureError, match="header length"):
        pure.load(tmp_path)
    (tmp_path / "weights.safetensors").write_bytes(b"\x02\x00\x00\x00\x00\x00\x00\x00[]")
    with pytest.raises(pure.PureError, match="not a JSON object"):
        pure.load(tmp_path)
    (tmp_path / "weights.safetensors").unlink()
    with pytest.raises(pure.PureError, match="weights.safetensors is missing"):
        pure.load(tmp_path)


def test_load_reads_each_file_once(seed_dir, monkeypatch):
    reads = []
    original = Path.read_bytes

    def counting(self):
        reads.append(self.name)
        return original(self)

    monkeypatch.setattr(Path, "read_bytes", counting)
    model = pure.load(seed_dir)
    assert sorted(reads) == ["bundle.json", "weights.safetensors"]
    assert model.word_bytes == 4


@pytest.mark.parametrize(
    ("window", "got"),
    [
        ([[0.5] * 6] * 30, "(30, 6)"),
        ([[0.5] * 6] * 23, "(23, 6)"),
        ([[0.5] * 5] * 24, "(24, 5)"),
        ([[0.5] * 6] * 23 + [[0.5] * 7], "(24, rows of 6 to 7 values)"),
        ([], "(0, ?)"),
        ([0.5] * 24, "not a list of rows"),
    ],
)
def test_reconstruct_checks_the_window_shape(seed_dir, window, got):
    model = pure.load(seed_dir)
    with pytest.raises(pure.PureError) as err:
        model.reconstruct(window)
    assert "(T, F) = (24, 6)" in str(err.value) and got in str(err.value)


def test_features_must_match_the_first_layer():
    layers = seed_layers(3, 4, (2,))
    with pytest.raises(pure.PureError, match="layer 0 takes 3 inputs but the bundle has 2"):
        random_model(layers, 4, 2)


@pytest.mark.parametrize(
    ("layers", "message"),
    [
        # one LSTM returning its last h: the model ends in a vector (reconstruct returned None)
        (
            [{"type": "lstm", "input": 2, "hidden": 2, "return_sequences": False}],
            "ends in one vector per window",
        ),
        # a dense layer after that vector: one vector out (dense takes either)
        (
            [
                {"type": "lstm", "input": 2, "hidden": 3, "return_sequences": False},
                {"type": "dense", "input": 3, "output": 2},
            ],
            "ends in one vector per window",
        ),
    ],
)
def test_an_unchecked_chain_that_ends_or_continues_in_a_vector_is_a_pure_error(layers, message):
    """from_arrays does not check the chain (a single layer runs); what cannot run is one line."""
    model, rng = random_model(layers, 4, 2)
    with pytest.raises(pure.PureError, match=message):
        model.reconstruct(rng.uniform(0, 1, (4, 2)).tolist())
