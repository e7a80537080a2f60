"""benchmarks/bench_engines.py and bench_native_cell.py: the floors' recorded work is the
engine's, the native cell computes the engine's cell, and both scripts run.

The floor replays the numpy engine's own ``matmul`` and ``tanh`` calls, so what it records must be
exactly the work the engine's design does. Counted here independently from the layer list: an
LSTM step multiplies ``[W | b | U]`` (4H x (in + 1 + H)) by ``[x; 1; h]``, only ``[W | b]`` at
t = 0 (h = 0); after a repeat, ``W v`` once per window and ``U h`` at steps 1..T-1; a dense layer
``W`` at every step; one ``tanh`` over the 4H gates and one over the H cell states per step.
"""

from __future__ import annotations

import importlib.util
import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from squall.bundle import random_bundle, seed_layers
from squall.engines import numpy_engine
from squall.engines.numpy_engine import NumpyEngine
from squall.model import Dense, Lstm, Repeat

pytestmark = pytest.mark.bench

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"


def _load(name: str):
    spec = importlib.util.spec_from_file_location(name, BENCHMARKS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def bench():
    return _load("bench_engines")


@pytest.fixture(scope="module")
def native(tmp_path_factory):
    if shutil.which("cc") is None and shutil.which("gcc") is None:
        pytest.skip("no C compiler (cc or gcc) to build benchmarks/native/cell.c")
    module = _load("bench_native_cell")
    # the baseline target, not -march=native: FMA contraction on AVX-512 hosts moves the
    # result by ~1e-5, so a native build is not the same computation on every CPU
    return module, module.build(tmp_path_factory.mktemp("cell"), native=False)


def expected_work(layers, T: int, n: int) -> tuple[int, int]:
    """(matmul FLOPs, tanh elements) of one chunk of ``n`` windows, from the layer list."""
    flops = tanh = 0
    repeated = False
    for layer in layers:
        if isinstance(layer, Repeat):
            repeated = True
            continue
        if isinstance(layer, Dense):
            flops += 2 * T * layer.output * layer.input * n
            continue
        assert isinstance(layer, Lstm)
        H, k = layer.hidden, layer.input
        if repeated:
            macs = 4 * H * k + (T - 1) * 4 * H * H  # W v once; U h from t = 1
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
    assert numpy_engine.np is np  # the module is put back
    flops = bench.matmul_flops(rec.of("matmul"))
    tanh = sum(args[0].size for _, _, args, _ in rec.of("tanh"))
    assert (flops, tanh) == expected_work(bundle.layers, T, n)
    steps = T * sum(isinstance(layer, Lstm) for layer in bundle.layers)
    assert len(rec.of("multiply")) >= 3 * steps  # the cell update is recorded too
    np.testing.assert_allclose(engine.reconstruct(x), reference, atol=2e-6)  # recording is inert


def test_floors_replay_every_chunk_and_grow_with_each_tier(bench):
    bundle = random_bundle(seed_layers(6, 24, (64, 32)), 6, 24, seed=1)
    engine = NumpyEngine(bundle, chunk=64)
    x = np.random.default_rng(2).uniform(0, 1, (150, 24, 6))
    tiers, stats = bench.floors(engine, x)
    assert sorted(stats) == ["50"]  # three chunks of 50, one recording
    assert stats["50"]["tanh_elements"] == 24 * 5 * (64 + 32 + 32 + 64) * 50
    assert tiers["products"].widths == [50, 50, 50]
    calls = {t: len(f.calls[50]) for t, f in tiers.items()}
    assert calls["products"] < calls["products_tanh"] < calls["numpy_calls"]
    assert calls["numpy_calls"] == stats["50"]["numpy_calls"]
    # the replays run and take some time; which is faster is the benchmark's to measure (a
    # test must not depend on wall-clock time: under load the order can flip)
    best = {t: min(f.replay() for _ in range(3)) for t, f in tiers.items()}
    assert all(value > 0 for value in best.values())


def test_script_runs_and_writes_json(bench, tmp_path, capsys):
    out = tmp_path / "bench.json"
    assert bench.main(["--sizes", "30", "--repeats", "3", "--json", str(out)]) == 0
    result = json.loads(out.read_text())
    row = result["results"][0]
    assert row["windows"] == 30 and row["max_abs_diff"] < 1e-5
    assert len(row["floor_products"]["runs_ms"]) == 3
    floor = row["floor"]
    assert floor["best_ratio_products"] > 0 and floor["best_ratio_numpy_calls"] > 0
    assert floor["products_gflops_per_core"] > 0 and floor["tanh_ns_per_element"] > 0
    assert "floors of the numpy engine's design" in capsys.readouterr().out


def test_native_cell_is_the_engines_cell(native):
    module, lib = native
    assert module.cell_error(lib) < 2e-6  # c and 2h against float64
    bundle = random_bundle(seed_layers(6, 24, (64, 32)), 6, 24, seed=5)
    x = np.random.default_rng(3).uniform(0, 1, (90, 24, 6))
    engine = NumpyEngine(bundle, chunk=40)
    plain = engine.reconstruct(x)
    got = module.NativeEngine(engine, module.native_cell_class(lib)).reconstruct(x)
    assert numpy_engine._Cell.__name__ == "_Cell"  # swapped back after the call
    np.testing.assert_allclose(got, plain, rtol=0, atol=1e-5)  # as numpy vs torch
    assert np.abs(got - plain).max() > 0  # it did run the other cell


def test_native_cell_script_runs(native, tmp_path):
    module, _ = native
    out = tmp_path / "native.json"
    assert module.main(["--sizes", "30", "--repeats", "1", "--portable", "--json", str(out)]) == 0
    row = json.loads(out.read_text())["results"][0]
    assert row["native_max_abs_diff"] < 1e-5 and row["native_cell"]["median_ms"] > 0


def test_forecaster_speed_script_runs_every_model_and_writes_json(tmp_path, capsys):
    """benchmarks/bench_forecasters.py: every forecaster of the catalog on numpy and torch, and
    the pure engine agreeing with numpy (the speed itself is the benchmark's to report)."""
    from squall.models import catalog

    module = _load("bench_forecasters")
    out = tmp_path / "f.json"
    assert module.main(["--sizes", "1,3", "--repeats", "1", "--pure-windows", "1",
                        "--json", str(out)]) == 0  # fmt: skip
    results = json.loads(out.read_text())
    assert [r["model"] for r in results] == list(catalog.FORECASTERS)
    for r in results:
        assert [row["windows"] for row in r["rows"]] == [1, 3]
        assert all(row["numpy_ms"] > 0 and row["torch_ms"] > 0 for row in r["rows"])
        assert r["pure_vs_numpy"] < 1e-4
    assert "| seq2seq-gru-fft | 3 |" in capsys.readouterr().out


@pytest.mark.slow
def test_forecast_quality_script_trains_backtests_and_reports(tmp_path, capsys):
    """benchmarks/bench_forecast_quality.py on a tiny case: a model trained before the
    backtest part and the four baselines scored on the same origins."""
    module = _load("bench_forecast_quality")
    out = tmp_path / "q.json"
    argv = ["--components", "2", "--epochs", "1", "--tracks", "2", "--steps", "300",
            "--origins", "10", "--lookback", "24", "--horizon", "4",
            "--models", "cnn-lstm", "--json", str(out)]  # fmt: skip
    assert module.main(argv) == 0
    rows = json.loads(out.read_text())
    assert {r["model"] for r in rows} == {"naive", "seasonal-naive", "harmonic", "ar", "cnn-lstm"}
    assert all(r["mse"] > 0 and r["mase"] > 0 for r in rows)
    assert "K = 2: lowest MSE" in capsys.readouterr().out
