"""Inference speed of the forecasting family: numpy engine against torch, and the pure engine.

    python benchmarks/bench_forecasters.py [--sizes 1,273,10000] [--repeats 7] [--json OUT]

Every forecaster of ``squall train --model`` (``squall.models.catalog``: lstm-forecaster,
cnn-lstm, seq2seq-gru-fft) at its default sizes, lookback and horizon, with random weights
(``squall.bundle.random_bundle``, seed 0; speed does not depend on the values) and ``--features``
input features (3: the cnn-lstm is seed 004's multivariate model), on random windows. Both
engines run in float32 with ``squall.run``'s engine method ``Engine.run``.

Timing, per model and size: one untimed warm-up call per engine, then ``--repeats`` rounds in
which both engines run once, in alternating order (the machine's noise hits both); reported are
the medians and the ratio torch median / numpy median (above 1: numpy faster). The pure engine
(standard library only, one window at a time) is timed on ``--pure-windows`` windows and
reported per window. Torch runs with its default threads unless ``--torch-threads`` is given.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
if str(REPO / "src") not in sys.path:  # run from a checkout without installing
    sys.path.insert(0, str(REPO / "src"))


def bundle_for(name: str, features: int):
    """A random-weight bundle of forecaster ``name`` at its catalog defaults."""
    from squall.bundle import random_bundle
    from squall.models import catalog

    lookback, horizon = catalog.DEFAULT_WINDOW[name]
    layers = catalog.layers(
        name, inputs=features, targets=features, length=lookback, horizon=horizon
    )
    task = {"kind": "forecast", "lookback": lookback, "horizon": horizon}
    return random_bundle(layers, features, lookback + horizon, task=task, seed=0)


def timed(call, x) -> float:
    t0 = time.perf_counter()
    call(x)
    return time.perf_counter() - t0


def measure(name: str, sizes, repeats: int, features: int, pure_windows: int) -> dict:
    from squall.engines import get_engine

    bundle = bundle_for(name, features)
    lookback = bundle.task.lookback
    engines = {e: get_engine(e, bundle) for e in ("numpy", "torch")}
    rng = np.random.default_rng(1)
    rows = []
    for n in sizes:
        x = rng.uniform(0, 1, (n, lookback, features))
        times: dict[str, list[float]] = {e: [] for e in engines}
        for e in engines.values():
            e.run(x)  # warm-up
        for r in range(repeats):
            order = list(engines) if r % 2 == 0 else list(reversed(engines))
            for e in order:
                times[e].append(timed(engines[e].run, x))
        med = {e: statistics.median(t) for e, t in times.items()}
        rows.append(
            {
                "windows": n,
                "numpy_ms": med["numpy"] * 1e3,
                "torch_ms": med["torch"] * 1e3,
                "torch_over_numpy": med["torch"] / med["numpy"],
            }
        )
    pure = get_engine("pure", bundle)
    x = rng.uniform(0, 1, (pure_windows, lookback, features))
    pure_s = timed(pure.run, x) / pure_windows
    agree = float(np.max(np.abs(pure.run(x[:1]) - engines["numpy"].run(x[:1]))))
    return {"model": name, "rows": rows, "pure_ms_per_window": pure_s * 1e3, "pure_vs_numpy": agree}


def main(argv=None) -> int:
    from squall.models import catalog

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="1,273,10000")
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--features", type=int, default=3)
    ap.add_argument("--pure-windows", type=int, default=3)
    ap.add_argument("--models", default=",".join(catalog.FORECASTERS))
    ap.add_argument("--torch-threads", type=int, default=None)
    ap.add_argument("--json", default=None)
    a = ap.parse_args(argv)
    if a.torch_threads:
        import torch

        torch.set_num_threads(a.torch_threads)
    sizes = [int(s) for s in a.sizes.split(",")]
    results = []
    print("| model | windows | numpy ms | torch ms | torch / numpy |")
    print("|---|---|---|---|---|")
    for name in a.models.split(","):
        res = measure(name, sizes, a.repeats, a.features, a.pure_windows)
        results.append(res)
        for row in res["rows"]:
            print(
                f"| {name} | {row['windows']:,} | {row['numpy_ms']:.3f} | {row['torch_ms']:.3f} "
                f"| {row['torch_over_numpy']:.2f} |"
            )
    print()
    for res in results:
        print(
            f"pure engine, {res['model']}: {res['pure_ms_per_window']:.1f} ms per window "
            f"(max |pure - numpy| {res['pure_vs_numpy']:.1e})"
        )
    if a.json:
        Path(a.json).write_text(json.dumps(results, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
