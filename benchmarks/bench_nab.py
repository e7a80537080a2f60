"""Detection quality on NAB: the default detector against the two baselines, in one run.

Runs the evaluation harness (``squall.evaluate``, the NAB protocol: every series unsupervised,
the model trained on the series it scores) on NAB's artificialWithAnomaly and realKnownCause
files in ``../shared/data/nab/`` with

* ``autoencoder``: the project's default detector (``DetectorConfig()``),
* ``original``: the original pipeline (pooled windows, scaler and 95th percentile of the scored
  data),
* ``robust-z``: ``|x - median| / (1.4826 MAD) > 3.5`` on the raw values,

and prints a table of F1, precision, recall (Orion's event overlap rule, tp/fp/fn pooled per
dataset) and the NAB score (standard profile) per dataset and detector. With several
``--seeds`` the default detector runs once per seed and the table shows each seed and the mean
(the baselines run with the first seed). Each run's outputs (``events.csv``, ``series.csv``,
``summary.csv``, ``results.json``) go to ``OUT/<detector>[-seed<N>]/``, the table to
``OUT/table.csv`` and ``OUT/table.md``.

    .venv/bin/python benchmarks/bench_nab.py                      # seed 0, about 10 min
    .venv/bin/python benchmarks/bench_nab.py --seeds 0,1,2 --detectors autoencoder
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from squall.data.labels import read_nab_labels  # noqa: E402
from squall.evaluate.detectors import DetectorConfig  # noqa: E402
from squall.evaluate.harness import describe, evaluate, write_results  # noqa: E402

DATASETS = ("artificialWithAnomaly", "realKnownCause")
DETECTORS = ("autoencoder", "original", "robust-z")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument(
        "--root",
        default=str(ROOT.parent / "shared" / "data" / "nab"),
        help="NAB data directory (default ../shared/data/nab)",
    )
    ap.add_argument("--labels", help="labels JSON (default ROOT/combined_windows.json)")
    ap.add_argument("--datasets", default=",".join(DATASETS))
    ap.add_argument("--detectors", default=",".join(DETECTORS))
    ap.add_argument("--seeds", default="0", help="comma-separated training seeds (default 0)")
    ap.add_argument(
        "--threads",
        type=int,
        default=1,
        help="torch threads (default 1: on two "
        "shared cores one thread trained these small models faster)",
    )
    ap.add_argument(
        "--out",
        default=str(Path(tempfile.gettempdir()) / "squall-bench-nab"),
        help="output directory (default: squall-bench-nab in the temp directory)",
    )
    a = ap.parse_args(argv)

    root = Path(a.root)
    labels = Path(a.labels) if a.labels else root / "combined_windows.json"
    if not labels.is_file():
        print(
            f"bench_nab: no labels file {labels} (the shared NAB data is needed)", file=sys.stderr
        )
        return 2
    datasets = [d for d in a.datasets.split(",") if d]
    names = [k for k in read_nab_labels(labels) if k.split("/")[0] in datasets]
    seeds = [int(s) for s in a.seeds.split(",")]
    try:
        import torch

        torch.set_num_threads(a.threads)
    except ImportError:
        pass
    out = Path(a.out)
    rows = []
    for kind in a.detectors.split(","):
        runs = seeds if kind == "autoencoder" else seeds[:1]
        for seed in runs:
            config = DetectorConfig(kind=kind, seed=seed)
            tag = kind if len(runs) == 1 else f"{kind}-seed{seed}"
            print(f"== {tag}: {describe(config)}", flush=True)
            result = evaluate(names, labels, root=root, config=config, log=_progress)
            write_results(result, out / tag)
            for r in result.summary.itertuples(index=False):
                rows.append(
                    {
                        "dataset": r.dataset,
                        "detector": kind,
                        "seed": seed,
                        "f1": r.f1,
                        "precision": r.precision,
                        "recall": r.recall,
                        "nab_score": r.nab_score,
                        "tp": r.tp,
                        "fp": r.fp,
                        "fn": r.fn,
                        "interval": r.intervals,
                        "minutes": r.seconds / 60,
                    }
                )
    table = pd.DataFrame(rows)
    out.mkdir(parents=True, exist_ok=True)
    table.to_csv(out / "table.csv", index=False, float_format="%.4f")
    text = markdown(table)
    (out / "table.md").write_text(text + "\n", encoding="utf-8")
    print()
    print(text)
    return 0


def _progress(message: str) -> None:
    if not message.endswith("..."):
        print("  " + message, flush=True)


def markdown(table: pd.DataFrame) -> str:
    lines = [
        "| dataset | detector | seed | F1 | precision | recall | NAB | tp/fp/fn | minutes |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for (ds, det), part in table.groupby(["dataset", "detector"], sort=False):
        for r in part.itertuples(index=False):
            lines.append(
                f"| {ds} | {det} | {r.seed} | {r.f1:.3f} | {r.precision:.3f} | "
                f"{r.recall:.3f} | {r.nab_score:.1f} | {r.tp}/{r.fp}/{r.fn} | "
                f"{r.minutes:.1f} |"
            )
        if len(part) > 1:
            lines.append(
                f"| {ds} | {det} | mean | {np.mean(part.f1):.3f} | "
                f"{np.mean(part.precision):.3f} | {np.mean(part.recall):.3f} | "
                f"{np.mean(part.nab_score):.1f} | | |"
            )
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
