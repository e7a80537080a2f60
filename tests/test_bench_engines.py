"""benchmarks/bench_engines.py: the floor's recorded work is the engine's, and the script runs.

The floor replays the numpy engine's own ``matmul`` and ``tanh`` calls, so what it records must be
exactly the work the engine's design does. Counted here independently from the layer list: an
LSTM step multiplies ``[W | b | U]`` (4H x (in + 1 + H)) by ``[x; 1; h]``, only ``[W | b]`` at
t = 0 (h = 0); after a repeat, ``W v`` once per window and ``U h`` at steps 1..T-1; a dense layer
``W`` at every step; one ``tanh`` over the 4H gates and one over the H cell states per step.
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest

from squall.bundle import random_bundle, seed_layers
from squall.engines import numpy_engine
from squall.engines.numpy_engine import NumpyEngine

BENCH = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_engines.py"


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("bench_engines", BENCH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def expected_work(layers: list[dict], T: int, n: int) -> tuple[int, int]:
    """(matmul FLOPs, tanh elements) of one chunk of ``n`` windows, from the layer list."""
    flops = tanh = 0
    repeated = False
    for layer in layers:
        if layer["type"] == "repeat":
            repeated = True
            continue
        if layer["type"] == "dense":
            flops += 2 * T * layer["output"] * layer["input"] * n
            continue
        H, k = layer["hidden"], layer["input"]
        if repeated:
            macs = 4 * H * k + (T - 1) * 4 * H * H         # W v once; U h from t = 1
        else:
            macs = 4 * H * (k + 1) + (T - 1) * 4 * H * (k + 1 + H)
        flops += 2 * macs * n
        tanh += T * 5 * H * n
        repeated = False
    return flops, tanh


@pytest.mark.parametrize("hidden", [(64, 32), (16, 8), (5,)])
def test_recorded_work_is_the_engines_design(bench, hidden):
    T, F, n = 12, 3, 37
    bundle = random_bundle(seed_layers(F, T, hidden), F, T, seed=4)
    engine = NumpyEngine(bundle)
    x = np.random.default_rng(0).uniform(0, 1, (n, T, F))
    reference = engine.reconstruct(x)
    rec = bench.record_chunk(engine, x)
    assert numpy_engine.np is np                           # the module is put back
    flops = sum(2 * a[0].shape[-2] * a[0].shape[-1] * a[1].shape[-1]
                * (a[1].shape[0] if a[1].ndim == 3 else 1)
                for name, a in rec.calls if name == "matmul")
    tanh = sum(a[0].size for name, a in rec.calls if name == "tanh")
    assert (flops, tanh) == expected_work(bundle.layers, T, n)
    assert rec.count > len(rec.calls)                       # the other ufuncs are counted too
    np.testing.assert_allclose(engine.reconstruct(x), reference, atol=2e-6)  # recording is inert


def test_floor_is_below_the_engines_time_and_covers_each_chunk(bench):
    bundle = random_bundle(seed_layers(6, 24, (64, 32)), 6, 24, seed=1)
    engine = NumpyEngine(bundle, chunk=64)
    x = np.random.default_rng(2).uniform(0, 1, (150, 24, 6))
    floor = bench.floor(engine, x, repeats=2)
    widths = sorted(int(w) for w in floor["chunks"])
    assert widths == sorted({b - a for a, b in engine.chunks(len(x))})   # 50 (three chunks)
    assert 0 < floor["products_ms"] < floor["products_tanh_ms"]
    chunk = floor["chunks"][str(widths[0])]
    assert chunk["tanh_elements"] == 24 * 5 * (64 + 32 + 32 + 64) * widths[0]
    assert chunk["tanh_ns_per_element"] > 0


def test_script_runs_and_writes_json(bench, tmp_path, capsys):
    out = tmp_path / "bench.json"
    assert bench.main(["--sizes", "30", "--repeats", "1", "--json", str(out)]) == 0
    result = json.loads(out.read_text())
    row = result["results"][0]
    assert row["windows"] == 30 and row["max_abs_diff"] < 1e-5
    assert row["floor"]["best_ratio_products_tanh"] <= row["floor"]["best_ratio_products"]
    assert "floor of the numpy engine's design" in capsys.readouterr().out
