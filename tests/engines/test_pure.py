"""The pure-Python engine: standard library only, correct, counted, traced."""

import json
import subprocess
import sys
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
    code = BLOCK_NUMPY + f"""
import json
import squall.engines.pure as pure
model = pure.load({str(seed_dir)!r})
windows = json.loads({json.dumps(x.tolist())!r})
out = [model.reconstruct(w) for w in windows]
assert len(out[0]) == 24 and len(out[0][0]) == 6 and isinstance(out[0][0][0], float)
bad = [m for m in sys.modules if m.split('.')[0] in ('numpy', 'pandas', 'torch')]
print(json.dumps({{"scores": [model.score(w) for w in windows], "bad": bad}}))
"""
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env={"PYTHONPATH": str(SRC)})
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert result["bad"] == []
    expected = pd.read_csv(shared_data / "seed-model" / "expected_mse_new_data.csv")["mse"]
    np.testing.assert_allclose(result["scores"], expected[:2], rtol=1e-9)


def test_module_imports_only_the_standard_library():
    import ast

    tree = ast.parse((SRC / "squall" / "engines" / "pure.py").read_text())
    imported = {a.name.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.Import)
                for a in n.names}
    imported |= {n.module.split(".")[0] for n in ast.walk(tree)
                 if isinstance(n, ast.ImportFrom) and n.module}
    assert imported <= set(sys.stdlib_module_names) | {"__future__"}, imported


@pytest.mark.parametrize("name", ["new_data", "training"])
def test_reproduces_expected_mse_to_1e9(seed_dir, shared_data, name):
    d = shared_data / "seed-model"
    x = np.load(d / f"{name}_sequences.npz")["sequences"]
    expected = pd.read_csv(d / f"expected_mse_{name}.csv")["mse"].to_numpy()
    model = pure.load(seed_dir)
    step = 1 if name == "new_data" else 7   # every new-data window, every 7th training one
    scores = [model.score(w) for w in x[::step].tolist()]
    np.testing.assert_allclose(scores, expected[::step], rtol=1e-9)


def test_class_api_and_batch_runner(seed_dir, shared_data):
    x = np.load(shared_data / "seed-model" / "new_data_sequences.npz")["sequences"][:3].tolist()
    model = pure.load(seed_dir)
    seen = []
    out = model.run(x, progress=lambda i, n: seen.append((i, n)))
    assert seen == [(1, 3), (2, 3), (3, 3)]
    assert out[1] == model.reconstruct(x[1])
    mask = [[k != 2 for k in range(6)] for _ in range(24)]      # ignore one feature
    full, masked = model.score(x[0]), model.score(x[0], mask)
    recon = np.array(out[0])
    expected = np.delete((recon - np.array(x[0])) ** 2, 2, axis=1).mean()
    assert masked == pytest.approx(expected, rel=1e-12) and masked != pytest.approx(full)


def predicted_counts(layers, T, word=4):
    """What the layer sizes predict for one window (see PureModel._count_step)."""
    out = {k: {} for k in ("step_calls", "macs", "activations", "weight_bytes",
                           "state_bytes_in", "state_bytes_out")}
    after_repeat = False
    for i, layer in enumerate(layers):
        if layer["type"] == "repeat":
            after_repeat = True
            continue
        if layer["type"] == "dense":
            n, m = layer["input"], layer["output"]
            for k, v in (("step_calls", T), ("macs", T * n * m),
                         ("weight_bytes", T * (n * m + m) * word),
                         ("state_bytes_in", T * n * word), ("state_bytes_out", T * m * word)):
                out[k][i] = v
            continue
        n, H = layer["input"], layer["hidden"]
        out["step_calls"][i] = T
        out["activations"][i] = T * 5 * H
        out["state_bytes_out"][i] = T * 2 * H * word
        if after_repeat:   # W v + b once per window, then U h per step
            out["macs"][i] = 4 * H * n + T * 4 * H * H
            out["weight_bytes"][i] = (4 * H * n + 4 * H + T * 4 * H * H) * word
            out["state_bytes_in"][i] = T * (4 * H + 2 * H) * word
        else:
            out["macs"][i] = T * 4 * H * (n + H)
            out["weight_bytes"][i] = T * (4 * H * (n + H) + 4 * H) * word
            out["state_bytes_in"][i] = T * (n + 2 * H) * word
        after_repeat = False
    return out


@pytest.mark.parametrize("sizes", [(64, 32), (8, 4, 2)])
def test_counters_equal_what_the_layer_sizes_predict(sizes):
    F, T = 6, 24
    layers = seed_layers(F, T, sizes)
    rng = np.random.default_rng(0)
    from squall.bundle import weight_shapes

    tensors = {k: (list(s), rng.normal(0, 0.1, int(np.prod(s))).tolist())
               for k, s in weight_shapes(layers).items()}
    model = pure.from_arrays({"layers": layers, "features": list("abcdef"),
                              "windows": {"length": T}}, tensors)
    window = rng.uniform(0, 1, (T, F)).tolist()
    plain = model.reconstruct(window)
    model.counters = pure.Counters()
    counted = model.reconstruct(window)
    model.reconstruct(window)
    assert counted == plain                              # counting changes nothing
    expected = predicted_counts(layers, T)
    got = model.counters.as_dict()
    for kind, table in expected.items():
        assert got[kind] == {i: 2 * v for i, v in table.items()}, kind
    # the user's worked example: a 6 -> 32 LSTM step moves 4*6 + 4*32 + 4*32 = 280 bytes in
    # and 256 out
    small = seed_layers(6, T, (32,))
    assert predicted_counts(small, 1)["state_bytes_in"][0] == 280
    assert predicted_counts(small, 1)["state_bytes_out"][0] == 256


def test_trace_records_every_intermediate():
    layers = seed_layers(2, 5, (3,))
    rng = np.random.default_rng(0)
    from squall.bundle import weight_shapes

    tensors = {k: (list(s), rng.normal(0, 0.5, int(np.prod(s))).tolist())
               for k, s in weight_shapes(layers).items()}
    model = pure.from_arrays({"layers": layers, "features": ["a", "b"],
                              "windows": {"length": 5}}, tensors)
    model.trace = []
    window = rng.uniform(0, 1, (5, 2)).tolist()
    out = model.reconstruct(window)
    lstm = [r for r in model.trace if r["kind"] == "lstm"]
    assert len(lstm) == 2 * 5 and len([r for r in model.trace if r["kind"] == "dense"]) == 5
    for r in lstm:   # the trace is self-consistent: c and h follow from the gates
        i, f, g, o = (np.array(r[k]) for k in "ifgo")
        assert np.allclose(i, 1 / (1 + np.exp(-np.array(r["pre_i"]))))
        assert np.allclose(np.array(r["h"]), o * np.tanh(np.array(r["c"])))
    first = lstm[0]
    assert first["input"] == window[0]
    assert np.allclose(first["c"], i0 := np.array(first["i"]) * np.array(first["g"]))  # c0 = 0
    assert np.abs(i0).max() > 0
    assert [r["output"] for r in model.trace if r["kind"] == "dense"] == out


def test_corrupted_weights_file(tmp_path):
    (tmp_path / "bundle.json").write_text(json.dumps({"format": "squall-bundle", "version": 1,
                                                      "layers": []}))
    (tmp_path / "weights.safetensors").write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{}")
    with pytest.raises(pure.PureError, match="header length"):
        pure.load(tmp_path)
