"""Batch scoring speed: the numpy engine (float32) against the torch reference (float32).

    python benchmarks/bench_engines.py [--repeats 7] [--sizes 273,10000] [--json OUT] [--check]

Both engines run the same bundle on the same windows. The seed model and its 273 windows come
from ../shared/data/seed-model next to the repository; larger sizes tile the seed windows and add
N(0, 0.01) jitter with a fixed seed. Without the shared data a random-weight seed-shaped bundle
and random windows are used (and the output says so).

Timing: one untimed warm-up call per engine and size, then ``--repeats`` rounds. In each round
both engines run, in alternating order (A B, B A, ...), so machine noise hits both. Before each
timed call the same engine makes ``--settle`` untimed calls (default 1): torch's OpenMP workers
spin for a few milliseconds after every call and would otherwise steal the second core from
whichever engine runs next. ``--settle 0`` gives strict A B A B timing.

Reported per engine: median and min wall time of ``engine.reconstruct(x)``; per size the ratio
torch median / numpy median. Targets: 2x at 273 windows, 1.25x at 10000; with ``--check`` the
exit status is 1 when a target is missed.

Floor (``--no-floor`` skips it): what the numpy engine's design can reach at best on this
machine. One chunk of each width the engine uses is run once with every ``np.matmul`` and
``np.tanh`` call of the engine recorded (the very arrays, views and ``out`` buffers); those calls
alone are then replayed, single-threaded, best of ``--repeats`` replays. The floor of a batch is
the sum over its chunks divided by the engine's thread count: perfect scaling and every other
ufunc and all Python overhead free, so a lower bound on the engine's time. ``torch median /
floor`` is then the largest ratio this design can show here; the same with the matrix products
alone says what it could show if the transcendentals were free as well.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
SEED = REPO.parent / "shared" / "data" / "seed-model"
TARGETS = {273: 2.0, 10000: 1.25}          # windows -> required torch/numpy median ratio

if str(REPO / "src") not in sys.path:        # run from a checkout without installing
    sys.path.insert(0, str(REPO / "src"))


def load_seed() -> tuple[object, np.ndarray, str]:
    """The bundle and base windows: the seed model if present, else random weights."""
    if (SEED / "lstm_weights.npz").is_file():
        from squall.convert import import_keras

        bundle = import_keras(SEED / "lstm_weights.npz", SEED / "scaler.json")
        windows = np.load(SEED / "new_data_sequences.npz")["sequences"]
        return bundle, windows, f"seed model and windows from {SEED}"
    from squall.bundle import random_bundle, seed_layers

    rng = np.random.default_rng(0)
    F, T = 6, 24
    bundle = random_bundle(seed_layers(F, T, (64, 32)), F, T, scale=0.2)
    windows = rng.uniform(0, 1, (273, T, F))
    return bundle, windows, f"NO SHARED DATA at {SEED}: random-weight seed-shaped bundle"


def make_windows(base: np.ndarray, n: int) -> np.ndarray:
    """``n`` windows: the base windows tiled, jittered beyond the first copy (fixed seed)."""
    if n <= len(base):
        return base[:n].copy()
    rng = np.random.default_rng(12345)
    tiled = np.resize(base, (n, *base.shape[1:]))
    tiled[len(base):] += rng.normal(0, 0.01, tiled[len(base):].shape)
    return tiled


def blas_info() -> str:
    """The BLAS NumPy uses, with the kernel OpenBLAS picked at run time."""
    try:
        deps = np.show_config(mode="dicts")["Build Dependencies"]["blas"]
        text = f"{deps['name']} {deps.get('version', '')}".strip()
    except (KeyError, TypeError, AttributeError):
        text = "unknown BLAS"
    try:
        import ctypes

        for lib_path in (Path(np.__file__).parent.parent / "numpy.libs").glob("*openblas*"):
            lib = ctypes.CDLL(str(lib_path))
            for name in ("scipy_openblas_get_corename64_", "openblas_get_corename"):
                if hasattr(lib, name):
                    getattr(lib, name).restype = ctypes.c_char_p
                    text += f", kernel {getattr(lib, name)().decode()}"
                    break
    except OSError:
        pass
    return text


class _Recorder:
    """Stands in for the ``np`` module of :mod:`squall.engines.numpy_engine` for one run:
    passes every attribute through, counts the calls, and records each ``matmul`` and ``tanh``
    call with its arguments (the engine's own arrays) for replay."""

    RECORDED = ("matmul", "tanh")

    def __init__(self) -> None:
        self.calls: list[tuple[str, tuple]] = []
        self.count = 0

    def __getattr__(self, name: str):
        target = getattr(np, name)
        if not callable(target) or isinstance(target, type):
            return target

        def call(*args, **kwargs):
            self.count += 1
            if name in self.RECORDED:
                self.calls.append((name, args))
            return target(*args, **kwargs)
        return call


def record_chunk(engine, x: np.ndarray) -> _Recorder:
    """Run one chunk through the engine's forward pass with its numpy calls recorded."""
    from squall.engines import numpy_engine

    recorder = _Recorder()
    numpy_engine.np = recorder
    try:
        engine._forward(x)
    finally:
        numpy_engine.np = np
    return recorder


def replay(calls: list[tuple[str, tuple]], repeats: int) -> float:
    """Best wall time of replaying ``calls`` (single-threaded BLAS), seconds."""
    from threadpoolctl import threadpool_limits

    funcs = {"matmul": np.matmul, "tanh": np.tanh}
    best = float("inf")
    with threadpool_limits(limits=1, user_api="blas"):
        for _ in range(repeats + 1):                 # the first replay warms the caches
            start = time.perf_counter()
            for name, args in calls:
                funcs[name](*args)
            best = min(best, time.perf_counter() - start)
    return best


def floor(engine, x: np.ndarray, repeats: int) -> dict:
    """Lower bound on the numpy engine's time for ``x`` (see the module docstring)."""
    per_width: dict[int, dict] = {}
    totals = {"products_ms": 0.0, "products_tanh_ms": 0.0}
    for a, b in engine.chunks(len(x)):
        width = b - a
        if width not in per_width:
            rec = record_chunk(engine, x[a:b])
            products = [c for c in rec.calls if c[0] == "matmul"]
            flops = sum(2 * args[0].shape[-2] * args[0].shape[-1] * args[1].shape[-1]
                        * (args[1].shape[0] if args[1].ndim == 3 else 1)
                        for _, args in products)
            tanh = sum(args[0].size for name, args in rec.calls if name == "tanh")
            t_products = replay(products, repeats)
            t_all = replay(rec.calls, repeats)
            per_width[width] = {"numpy_calls": rec.count, "matmul_calls": len(products),
                                "matmul_gflop": flops / 1e9, "tanh_elements": tanh,
                                "products_ms": t_products * 1e3,
                                "products_tanh_ms": t_all * 1e3,
                                "products_gflops": flops / t_products / 1e9,
                                "tanh_ns_per_element": max(t_all - t_products, 0) / tanh * 1e9}
        totals["products_ms"] += per_width[width]["products_ms"] / engine.threads
        totals["products_tanh_ms"] += per_width[width]["products_tanh_ms"] / engine.threads
    return {"chunks": {str(w): v for w, v in per_width.items()}, **totals}


def time_call(engine, x: np.ndarray, settle: int) -> float:
    for _ in range(settle):
        engine.reconstruct(x)
    start = time.perf_counter()
    engine.reconstruct(x)
    return time.perf_counter() - start


def bench_size(engines: dict, x: np.ndarray, repeats: int, settle: int,
               with_floor: bool = True) -> dict:
    names = list(engines)
    outputs = {name: engine.reconstruct(x) for name, engine in engines.items()}   # warm-up
    times: dict[str, list[float]] = {name: [] for name in names}
    for r in range(repeats):
        for name in (names if r % 2 == 0 else names[::-1]):
            times[name].append(time_call(engines[name], x, settle))
    row = {"windows": len(x),
           "max_abs_diff": float(np.max(np.abs(outputs["numpy"] - outputs["torch"])))}
    for name in names:
        row[name] = {"median_ms": statistics.median(times[name]) * 1e3,
                     "min_ms": min(times[name]) * 1e3,
                     "runs_ms": [t * 1e3 for t in times[name]]}
    row["ratio"] = row["torch"]["median_ms"] / row["numpy"]["median_ms"]
    row["target"] = TARGETS.get(len(x))
    if with_floor:
        row["floor"] = floor(engines["numpy"], x, repeats)
        for key in ("products_tanh_ms", "products_ms"):
            row["floor"]["best_ratio_" + key[:-3]] = (row["torch"]["median_ms"]
                                                      / row["floor"][key])
    return row


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=7, help="timed rounds per size")
    parser.add_argument("--sizes", default="273,10000", help="comma-separated window counts")
    parser.add_argument("--settle", type=int, default=1,
                        help="untimed calls of the same engine before each timed call")
    parser.add_argument("--threads", type=int, default=None, help="numpy engine threads")
    parser.add_argument("--chunk", type=int, default=None, help="numpy engine chunk size")
    parser.add_argument("--json", type=Path, default=None, metavar="OUT",
                        help="also write the results as JSON")
    parser.add_argument("--check", action="store_true", help="exit 1 if a target is missed")
    parser.add_argument("--no-floor", dest="floor", action="store_false",
                        help="skip the floor (replayed matrix products and tanh calls)")
    args = parser.parse_args(argv)

    import torch

    from squall.engines.numpy_engine import NumpyEngine
    from squall.engines.torch_engine import TorchEngine

    bundle, base, source = load_seed()
    options = {k: v for k, v in (("threads", args.threads), ("chunk", args.chunk)) if v}
    engines = {"numpy": NumpyEngine(bundle, "float32", **options),
               "torch": TorchEngine(bundle, "float32")}
    env = {k: os.environ.get(k, "(unset)") for k in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE",
                                                     "OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS")}
    machine = {"cpus": os.cpu_count(), "cpu": platform.processor() or platform.machine(),
               "python": platform.python_version(), "numpy": np.__version__,
               "torch": torch.__version__, "torch_threads": torch.get_num_threads(),
               "blas": blas_info(), "env": env,
               "numpy_engine": {"threads": engines["numpy"].threads,
                                "chunk": engines["numpy"].chunk},
               "loadavg_before": os.getloadavg()[0]}
    print(f"data: {source}")
    print(f"machine: {machine['cpus']} cpus, numpy {np.__version__} ({machine['blas']}), "
          f"torch {torch.__version__} ({machine['torch_threads']} threads)")
    print("env: " + ", ".join(f"{k}={v}" for k, v in env.items()))
    print(f"numpy engine: float32, threads={engines['numpy'].threads}, "
          f"chunk={engines['numpy'].chunk}; repeats={args.repeats}, settle={args.settle}")

    rows = []
    for n in (int(s) for s in args.sizes.split(",") if s.strip()):
        rows.append(bench_size(engines, make_windows(base, n), args.repeats, args.settle,
                               args.floor))
    machine["loadavg_after"] = os.getloadavg()[0]

    print(f"\n{'windows':>8} {'numpy med':>10} {'numpy min':>10} {'torch med':>10} "
          f"{'torch min':>10} {'ratio':>6} {'target':>7}")
    missed = []
    for row in rows:
        target = row["target"]
        ok = target is None or row["ratio"] >= target
        if not ok:
            missed.append(row["windows"])
        mark = "-" if target is None else f"{target:g}x {'ok' if ok else 'MISS'}"
        print(f"{row['windows']:>8} {row['numpy']['median_ms']:>8.2f}ms "
              f"{row['numpy']['min_ms']:>8.2f}ms {row['torch']['median_ms']:>8.2f}ms "
              f"{row['torch']['min_ms']:>8.2f}ms {row['ratio']:>5.2f}x {mark:>7}")
    if args.floor:
        print(f"\nfloor of the numpy engine's design (its matmul and tanh calls replayed, "
              f"/{engines['numpy'].threads} threads):")
        print(f"{'windows':>8} {'products':>10} {'+ tanh':>10} {'best ratio':>11} "
              f"{'if tanh free':>13} {'GFLOP/s':>8} {'tanh ns/el':>11} {'np calls/chunk':>15}")
        for row in rows:
            fl = row["floor"]
            chunk = max(fl["chunks"].values(), key=lambda c: c["products_ms"])
            print(f"{row['windows']:>8} {fl['products_ms']:>8.2f}ms "
                  f"{fl['products_tanh_ms']:>8.2f}ms {fl['best_ratio_products_tanh']:>10.2f}x "
                  f"{fl['best_ratio_products']:>12.2f}x {chunk['products_gflops']:>8.1f} "
                  f"{chunk['tanh_ns_per_element']:>11.2f} {chunk['numpy_calls']:>15}")
    print(f"(max |numpy - torch| over all outputs: "
          f"{max(r['max_abs_diff'] for r in rows):.2e}; load average "
          f"{machine['loadavg_before']:.2f} before, {machine['loadavg_after']:.2f} after)")

    if args.json:
        args.json.write_text(json.dumps({"source": source, "machine": machine,
                                         "repeats": args.repeats, "settle": args.settle,
                                         "results": rows}, indent=1) + "\n")
    if args.check and missed:
        print(f"target missed for {', '.join(map(str, missed))} windows", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
