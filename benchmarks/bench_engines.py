"""Batch scoring speed: the numpy engine (float32) against the torch reference (float32).

    python benchmarks/bench_engines.py [--repeats 7] [--sizes 273,10000] [--json OUT] [--check]

Both engines run the same bundle on the same windows. The seed model and its 273 windows come
from ../shared/data/seed-model next to the repository; larger sizes tile the seed windows and add
N(0, 0.01) jitter with a fixed seed. Without the shared data a random-weight seed-shaped bundle
and random windows are used (and the output says so).

Timing: one untimed warm-up call per engine and size, then ``--repeats`` rounds. In each round
every contender (the two engines and the floors below) runs once, each round in another order
(rotated, and reversed every other round), so machine noise hits all of them. Before each timed
call the same contender makes ``--settle`` untimed calls (default 1): torch's OpenMP workers
spin for a few milliseconds after every call and would otherwise steal the second core from
whichever engine runs next. ``--settle 0`` gives back-to-back timing.

Reported per engine: median and min wall time of ``engine.reconstruct(x)``; per size the ratio
torch median / numpy median. Targets: 2x at 273 windows, 1.25x at 10000; with ``--check`` the
exit status is 1 when a target is missed.

Floors (``--no-floor`` skips them): what the numpy engine's design can reach at best on this
machine. One chunk of each width the engine uses is run once with every NumPy call of the engine
recorded (the very arrays, views and ``out`` buffers); the calls are then replayed in order,
single-threaded, in the same rounds as the engines (medians), in three tiers: the matrix
products alone; the products and the ``tanh`` calls; all the NumPy calls (the engine's work
without the Python code around the calls). A tier's floor for a batch is the sum over its chunks
divided by the engine's thread count, i.e. perfect scaling on the cores: a lower bound on the
engine's time, and ``torch median / floor`` the largest ratio the design can show here with that
much of its work left in.
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
TARGETS = {273: 2.0, 10000: 1.25}  # windows -> required torch/numpy median ratio

if str(REPO / "src") not in sys.path:  # run from a checkout without installing
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
    tiled[len(base) :] += rng.normal(0, 0.01, tiled[len(base) :].shape)
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
    passes every attribute through and records each call of a NumPy function with its
    arguments (the engine's own arrays, views and ``out`` buffers) for replay."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, object, tuple, dict]] = []

    def __getattr__(self, name: str):
        target = getattr(np, name)
        if not callable(target) or isinstance(target, type):
            return target  # constants, dtypes

        def call(*args, **kwargs):
            self.calls.append((name, target, args, kwargs))
            return target(*args, **kwargs)

        return call

    def of(self, *names: str) -> list[tuple[str, object, tuple, dict]]:
        return [c for c in self.calls if c[0] in names]


def record_chunk(engine, x: np.ndarray) -> _Recorder:
    """Run one chunk through the engine's forward pass with its NumPy calls recorded."""
    from squall.engines import numpy_engine

    recorder = _Recorder()
    numpy_engine.np = recorder
    try:
        engine._forward(x)
    finally:
        numpy_engine.np = np
    return recorder


def matmul_flops(calls) -> int:
    """FLOPs of recorded ``matmul`` calls (2-D weights times 2-D or stacked 3-D operands)."""
    return sum(
        2
        * a[0].shape[-2]
        * a[0].shape[-1]
        * a[1].shape[-1]
        * (a[1].shape[0] if a[1].ndim == 3 else 1)
        for _, _, a, _ in calls
    )


#: The floor's tiers: which of the engine's recorded NumPy calls each one replays.
TIERS = {"products": ("matmul",), "products_tanh": ("matmul", "tanh"), "numpy_calls": None}


class Floor:
    """One tier of the floor for a batch: the engine's recorded calls of the tier replayed for
    every chunk of the batch, single-threaded; a call's time is divided by the engine's threads
    (perfect scaling). Chunks of one width share one recording."""

    def __init__(
        self, recordings: dict[int, _Recorder], widths: list[int], tier: str, threads: int
    ) -> None:
        names = TIERS[tier]
        self.calls = {w: (rec.of(*names) if names else rec.calls) for w, rec in recordings.items()}
        self.widths, self.threads = widths, threads

    def replay(self) -> float:
        from squall.engines.numpy_engine import _one_blas_thread

        with _one_blas_thread():  # the engine's own BLAS setting
            start = time.perf_counter()
            for width in self.widths:
                for _, func, args, kwargs in self.calls[width]:
                    func(*args, **kwargs)
            return (time.perf_counter() - start) / self.threads


def floors(engine, x: np.ndarray) -> tuple[dict[str, Floor], dict]:
    """The floor tiers for ``x`` and what one chunk of each width records."""
    spans = engine.chunks(len(x))
    recordings, stats = {}, {}
    for a, b in spans:
        if b - a not in recordings:
            rec = recordings[b - a] = record_chunk(engine, x[a:b])
            stats[str(b - a)] = {
                "numpy_calls": len(rec.calls),
                "matmul_calls": len(rec.of("matmul")),
                "matmul_gflop": matmul_flops(rec.of("matmul")) / 1e9,
                "tanh_elements": sum(args[0].size for _, _, args, _ in rec.of("tanh")),
            }
    widths = [b - a for a, b in spans]
    return {t: Floor(recordings, widths, t, engine.threads) for t in TIERS}, stats


def time_call(run, settle: int) -> float:
    """Seconds of one timed ``run()`` after ``settle`` untimed ones (``run`` may return its own
    time, as the floors do)."""
    for _ in range(settle):
        run()
    start = time.perf_counter()
    own = run()
    return own if isinstance(own, float) else time.perf_counter() - start


def bench_size(
    engines: dict, x: np.ndarray, repeats: int, settle: int, with_floor: bool = True
) -> dict:
    outputs = {name: engine.reconstruct(x) for name, engine in engines.items()}  # warm-up
    runs = {name: (lambda e=engine: e.reconstruct(x)) for name, engine in engines.items()}
    stats = {}
    if with_floor:
        tiers, stats = floors(engines["numpy"], x)
        runs.update({f"floor_{t}": f.replay for t, f in tiers.items()})
    names = list(runs)
    times: dict[str, list[float]] = {name: [] for name in names}
    for r in range(repeats):  # each round in another order
        k = r % len(names)
        for name in (names[k:] + names[:k])[:: 1 if r % 2 == 0 else -1]:
            times[name].append(time_call(runs[name], settle))
    row = {
        "windows": len(x),
        "max_abs_diff": float(np.max(np.abs(outputs["numpy"] - outputs["torch"]))),
    }
    for name in names:
        row[name] = {
            "median_ms": statistics.median(times[name]) * 1e3,
            "min_ms": min(times[name]) * 1e3,
            "runs_ms": [t * 1e3 for t in times[name]],
        }
        if name in outputs:
            row[name]["max_abs_diff_torch"] = float(
                np.max(np.abs(outputs[name] - outputs["torch"]))
            )
    row["ratio"] = row["torch"]["median_ms"] / row["numpy"]["median_ms"]
    row["target"] = TARGETS.get(len(x))
    if with_floor:
        widths = [str(w) for w in tiers["products"].widths]
        single = {
            t: row[f"floor_{t}"]["median_ms"] / 1e3 * engines["numpy"].threads for t in TIERS
        }  # one core doing every chunk, seconds
        gflop = sum(stats[w]["matmul_gflop"] for w in widths)
        tanh = sum(stats[w]["tanh_elements"] for w in widths)
        row["floor"] = {
            "chunks": stats,
            **{
                f"best_ratio_{t}": row["torch"]["median_ms"] / row[f"floor_{t}"]["median_ms"]
                for t in TIERS
            },
            "products_gflops_per_core": gflop / single["products"],
            "tanh_ns_per_element": (single["products_tanh"] - single["products"]) / tanh * 1e9,
        }
    return row


def timing_parser(doc: str) -> argparse.ArgumentParser:
    """The options every engine benchmark here shares: rounds, sizes, settle calls, JSON."""
    parser = argparse.ArgumentParser(description=doc.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=7, help="timed rounds per size")
    parser.add_argument("--sizes", default="273,10000", help="comma-separated window counts")
    parser.add_argument(
        "--settle",
        type=int,
        default=1,
        help="untimed calls of the same engine before each timed call",
    )
    parser.add_argument(
        "--json", type=Path, default=None, metavar="OUT", help="also write the results as JSON"
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = timing_parser(__doc__)
    parser.add_argument("--threads", type=int, default=None, help="numpy engine threads")
    parser.add_argument("--chunk", type=int, default=None, help="numpy engine chunk size")
    parser.add_argument("--check", action="store_true", help="exit 1 if a target is missed")
    parser.add_argument(
        "--no-floor",
        dest="floor",
        action="store_false",
        help="skip the floors (the engine's recorded NumPy calls replayed)",
    )
    args = parser.parse_args(argv)

    import torch

    from squall.engines.numpy_engine import NumpyEngine
    from squall.engines.torch_engine import TorchEngine

    bundle, base, source = load_seed()
    options = {k: v for k, v in (("threads", args.threads), ("chunk", args.chunk)) if v}
    engines = {
        "numpy": NumpyEngine(bundle, "float32", **options),
        "torch": TorchEngine(bundle, "float32"),
    }
    env = {
        k: os.environ.get(k, "(unset)")
        for k in (
            "OPENBLAS_CORETYPE",
            "OPENBLAS_L2_SIZE",
            "OPENBLAS_NUM_THREADS",
            "OMP_NUM_THREADS",
        )
    }
    machine = {
        "cpus": os.cpu_count(),
        "cpu": platform.processor() or platform.machine(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "torch": torch.__version__,
        "torch_threads": torch.get_num_threads(),
        "blas": blas_info(),
        "env": env,
        "numpy_engine": {"threads": engines["numpy"].threads, "chunk": engines["numpy"].chunk},
        "loadavg_before": os.getloadavg()[0],
    }
    print(f"data: {source}")
    print(
        f"machine: {machine['cpus']} cpus, numpy {np.__version__} ({machine['blas']}), "
        f"torch {torch.__version__} ({machine['torch_threads']} threads)"
    )
    print("env: " + ", ".join(f"{k}={v}" for k, v in env.items()))
    print(
        f"numpy engine: float32, threads={engines['numpy'].threads}, "
        f"chunk={engines['numpy'].chunk}; repeats={args.repeats}, settle={args.settle}"
    )

    rows = []
    for n in (int(s) for s in args.sizes.split(",") if s.strip()):
        rows.append(
            bench_size(engines, make_windows(base, n), args.repeats, args.settle, args.floor)
        )
    machine["loadavg_after"] = os.getloadavg()[0]

    print(
        f"\n{'windows':>8} {'numpy med':>10} {'numpy min':>10} {'torch med':>10} "
        f"{'torch min':>10} {'ratio':>6} {'target':>7}"
    )
    missed = []
    for row in rows:
        target = row["target"]
        ok = target is None or row["ratio"] >= target
        if not ok:
            missed.append(row["windows"])
        mark = "-" if target is None else f"{target:g}x {'ok' if ok else 'MISS'}"
        print(
            f"{row['windows']:>8} {row['numpy']['median_ms']:>8.2f}ms "
            f"{row['numpy']['min_ms']:>8.2f}ms {row['torch']['median_ms']:>8.2f}ms "
            f"{row['torch']['min_ms']:>8.2f}ms {row['ratio']:>5.2f}x {mark:>7}"
        )
    if args.floor:
        print(
            f"\nfloors of the numpy engine's design: its own NumPy calls replayed without "
            f"the Python around them, / {engines['numpy'].threads} threads (medians), and the "
            f"largest torch/numpy ratio each allows:"
        )
        print(
            f"{'windows':>8} {'products':>16} {'+ tanh':>16} {'all np calls':>16} "
            f"{'GFLOP/s/core':>13} {'tanh ns/el':>11} {'np calls/chunk':>15}"
        )
        for row in rows:
            fl = row["floor"]
            cells = " ".join(
                f"{row[f'floor_{t}']['median_ms']:>7.2f}ms {fl[f'best_ratio_{t}']:>5.2f}x"
                for t in TIERS
            )
            calls = max(c["numpy_calls"] for c in fl["chunks"].values())
            print(
                f"{row['windows']:>8} {cells} {fl['products_gflops_per_core']:>13.1f} "
                f"{fl['tanh_ns_per_element']:>11.2f} {calls:>15}"
            )
    print(
        f"(max |numpy - torch| over all outputs: "
        f"{max(r['max_abs_diff'] for r in rows):.2e}; load average "
        f"{machine['loadavg_before']:.2f} before, {machine['loadavg_after']:.2f} after)"
    )

    if args.json:
        args.json.write_text(
            json.dumps(
                {
                    "source": source,
                    "machine": machine,
                    "repeats": args.repeats,
                    "settle": args.settle,
                    "results": rows,
                },
                indent=1,
            )
            + "\n"
        )
    if args.check and missed:
        print(f"target missed for {', '.join(map(str, missed))} windows", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
