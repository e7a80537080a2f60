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
    flops = bench.matmul_flops(rec.of("matmul"))
    tanh = sum(args[0].size for _, _, args, _ in rec.of("tanh"))
    assert (flops, tanh) == expected_work(bundle.layers, T, n)
    steps = T * sum(layer["type"] == "lstm" for layer in bundle.layers)
    assert len(rec.of("multiply")) >= 3 * steps             # the cell update is recorded too
    np.testing.assert_allclose(engine.reconstruct(x), reference, atol=2e-6)  # recording is inert


def test_floors_replay_every_chunk_and_grow_with_each_tier(bench):
    bundle = random_bundle(seed_layers(6, 24, (64, 32)), 6, 24, seed=1)
    engine = NumpyEngine(bundle, chunk=64)
    x = np.random.default_rng(2).uniform(0, 1, (150, 24, 6))
    tiers, stats = bench.floors(engine, x)
    assert sorted(stats) == ["50"]                          # three chunks of 50, one recording
    assert stats["50"]["tanh_elements"] == 24 * 5 * (64 + 32 + 32 + 64) * 50
    assert tiers["products"].widths == [50, 50, 50]
    calls = {t: len(f.calls[50]) for t, f in tiers.items()}
    assert calls["products"] < calls["products_tanh"] < calls["numpy_calls"]
    assert calls["numpy_calls"] == stats["50"]["numpy_calls"]
    best = {t: min(f.replay() for _ in range(3)) for t, f in tiers.items()}
    assert 0 < best["products"] < best["products_tanh"]


def test_script_runs_and_writes_json(bench, tmp_path, capsys):
    out = tmp_path / "bench.json"
    assert bench.main(["--sizes", "30", "--repeats", "3", "--json", str(out)]) == 0
    result = json.loads(out.read_text())
    row = result["results"][0]
    assert row["windows"] == 30 and row["max_abs_diff"] < 1e-5
    assert len(row["floor_products"]["runs_ms"]) == 3
    floor = row["floor"]
    assert floor["best_ratio_products"] > floor["best_ratio_numpy_calls"] > 0
    assert floor["products_gflops_per_core"] > 0 and floor["tanh_ns_per_element"] > 0
    assert "floors of the numpy engine's design" in capsys.readouterr().out
