"""Seed 001's task: forecast harmonic signals, each learned model against the classical baselines.

    python benchmarks/bench_forecast_quality.py [--components 1,5,15,45] [--epochs 20]
        [--models lstm-forecaster,cnn-lstm,seq2seq-gru-fft] [--json OUT]

Per K in ``--components``: ``squall.data.synthetic.generate_harmonics`` writes ``--tracks``
signals of ``--steps`` hourly steps, each a sum of 1..K sinusoids with random integer periods
2-100 and Gaussian noise (``--noise``), seed ``--seed``. Each model trains
(``squall.pipeline.train``, ``--epochs``, the catalog's default sizes, lookback ``--lookback``
and horizon ``--horizon``) on every track's reports before the backtest part only (``until`` =
the first forecast origin), then ``squall.forecast.backtest`` forecasts from ``--origins``
rolling origins at the end of every track, for the model and for the baselines on the same
origins (naive, seasonal naive, harmonic regression, AR). Reported per K and model: the MSE
over every forecast step (physical units) and the mean MASE over the horizon.

Protocol: the model and the baselines see the same lookbacks; nothing is tuned on the
backtest part (the epochs, sizes and lookback are the catalog's and the options', the same for
every K). Training time is printed: the issue's goal is 30 minutes per model on 2 cores; a
short ``--epochs`` run shows where a model stands, not what it can reach.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parents[1]
if str(REPO / "src") not in sys.path:  # run from a checkout without installing
    sys.path.insert(0, str(REPO / "src"))

READER = {"kind": "csv", "time_column": "timestamp", "track_column": "track"}


def summary(metrics: pd.DataFrame) -> pd.DataFrame:
    """Per model: MSE over every forecast (rmse^2 weighted by n) and mean MASE over steps."""
    m = metrics.assign(sq=metrics["rmse"] ** 2 * metrics["n"])
    out = m.groupby("model", sort=False).agg(
        sq=("sq", "sum"), n=("n", "sum"), mase=("mase", "mean")
    )
    out["mse"] = out["sq"] / out["n"]
    return out[["mse", "mase"]]


def run_k(k: int, a: argparse.Namespace, work: Path) -> list[dict]:
    from squall import pipeline
    from squall.data.readers import read_data
    from squall.data.synthetic import generate_harmonics
    from squall.forecast.backtest import backtest
    from squall.forecast.model import forecaster
    from squall.forecast.series import track_series

    data = generate_harmonics(
        work / f"k{k}", components=k, tracks=a.tracks, steps=a.steps, noise=a.noise, seed=a.seed
    )["harmonics"]
    first_origin = a.steps - a.horizon - a.origins + 1  # the backtest's first forecast step
    until = (pd.Timestamp("2025-01-01") + pd.Timedelta(hours=first_origin)).isoformat()
    rows = []
    baselines_done = False
    for name in a.models.split(","):
        t0 = time.perf_counter()
        bundle = pipeline.train(
            [data],
            reader=READER,
            until=until,
            model=name,
            lookback=a.lookback,
            horizon=a.horizon,
            epochs=a.epochs,
            seed=a.seed,
            progress=False,
            log=lambda *_: None,
        )
        seconds = time.perf_counter() - t0
        model = forecaster(bundle)
        obs = read_data([data], model.reader)
        r = backtest(
            track_series(obs, model.interval),
            obs.features,
            lookback=model.lookback,
            horizon=model.horizon,
            origins=a.origins,
            targets=list(model.targets),
            inputs=list(model.inputs),
            model=model,
        )
        table = summary(r.metrics)
        for who, row in table.iterrows():
            if who != "model" and baselines_done:
                continue
            rows.append(
                {
                    "components": k,
                    "model": name if who == "model" else who,
                    "mse": float(row["mse"]),
                    "mase": float(row["mase"]),
                    "train_seconds": round(seconds, 1) if who == "model" else None,
                    "epochs": len(bundle.history) if who == "model" else None,
                }
            )
        baselines_done = True
    return rows


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--components", default="1,5,15,45")
    ap.add_argument("--models", default="lstm-forecaster,cnn-lstm,seq2seq-gru-fft")
    ap.add_argument("--epochs", type=int, default=20)
    ap.add_argument("--lookback", type=int, default=100)
    ap.add_argument("--horizon", type=int, default=10)
    ap.add_argument("--tracks", type=int, default=8)
    ap.add_argument("--steps", type=int, default=1500)
    ap.add_argument("--origins", type=int, default=100)
    ap.add_argument("--noise", type=float, default=0.1)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", default=None)
    a = ap.parse_args(argv)
    from squall.text import plural

    rows = []
    with tempfile.TemporaryDirectory(prefix="bench-forecast-") as tmp:
        for k in (int(c) for c in a.components.split(",")):
            rows += run_k(k, a, Path(tmp))
    table = pd.DataFrame(rows)
    print("| K | model | MSE | mean MASE | training |")
    print("|---|---|---|---|---|")
    for _, r in table.iterrows():
        train = (
            f"{r['train_seconds']:.0f} s, {plural(int(r['epochs']), 'epoch')}"
            if pd.notna(r["train_seconds"])
            else "-"
        )
        print(f"| {r['components']} | {r['model']} | {r['mse']:.4g} | {r['mase']:.3f} | {train} |")
    for k, part in table.groupby("components", sort=False):
        best = part.loc[part["mse"].idxmin()]
        print(f"K = {k}: lowest MSE {best['model']} ({best['mse']:.4g})")
    if a.json:
        Path(a.json).write_text(json.dumps(rows, indent=1) + "\n")
    return 0 if np.isfinite(table["mse"]).all() else 1


if __name__ == "__main__":
    sys.exit(main())
