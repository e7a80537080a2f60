"""Detection quality with a protocol that measures generalisation: every detector on every labelled
data set, and leave-one-dataset-out selection of the default.

Data sets (each a folder of series with labels):

* NAB's ``artificialWithAnomaly`` and ``realKnownCause`` in ``../shared/data/nab/`` (the NAB
  protocol: every series unsupervised, the model trained on the series it scores);
* ``noaa-injected``: the shared NOAA box with storms and sensor faults injected into its last week
  by ``squall.data.inject`` (one file per seed, as ``bench_injection.py`` makes them; the model
  trained on the box's reports before that week, the way a user runs ``squall train --until``).

Every detector of ``--detectors`` (``squall evaluate --detector``) runs on every data set with
``--seeds`` training seeds through the evaluation harness (``squall.evaluate.harness``): event
F1 (Orion's overlap rule, tp/fp/fn pooled per data set), the NAB score, and the threshold-free
AUC-PR and VUS-PR of the per-step scores.

Then the protocol (docs/benchmarks.md, "How defaults are chosen"): for each data set D, the
detector with the best mean event F1 over the *other* data sets is chosen and its F1 on D is
reported (the held-out side). Nothing is tuned on the data set it is reported on. The detector
chosen on all data sets is what the protocol recommends as the default.

    .venv/bin/python benchmarks/bench_nab.py --seeds 0,1,2            # about 40 min, 2 cores
    .venv/bin/python benchmarks/bench_nab.py --quick                  # smoke run, one series each

Outputs in ``--out``: ``runs.csv`` (one row per data set, detector and seed), ``table.md`` (the
measurement table and the leave-one-dataset-out table), and each run's ``squall evaluate``
outputs under ``OUT/<dataset>/<detector>-seed<N>/``.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from squall.data.labels import read_nab_labels  # noqa: E402
from squall.evaluate.detectors import DetectorConfig  # noqa: E402
from squall.evaluate.harness import describe, evaluate, write_results  # noqa: E402

NAB_SETS = ("artificialWithAnomaly", "realKnownCause")
DETECTORS = ("autoencoder", "forecaster", "pca", "iforest", "ensemble", "robust-z")
#: Detectors whose result does not depend on a training seed (run once).
SEEDLESS = ("robust-z", "pca")
NOAA = ROOT.parent / "shared" / "data" / "noaa" / "10_100_00_110.csv"
UNTIL = "2025-03-25"


def nab_sets(root: Path, labels: Path, quick: bool) -> list[dict]:
    """The NAB data sets: series names (relative to ``root``) and the labels file."""
    names = list(read_nab_labels(labels))
    out = []
    for ds in NAB_SETS:
        series = sorted(n for n in names if n.split("/")[0] == ds)
        if quick:
            series = series[:1]
        out.append({"name": ds, "series": series, "root": root, "labels": labels, "train": None})
    return out


def noaa_set(work: Path, seeds: list[int], quick: bool) -> dict:
    """The NOAA box with storms and faults injected into its last week, one file per seed, and
    the training file: the box's reports before that week."""
    from squall.data.inject import inject_file

    folder = work / "noaa-injected"
    folder.mkdir(parents=True, exist_ok=True)
    text = NOAA.read_text()
    lines = text[text.index('"STATION"') :].splitlines(keepends=True)
    keep = [lines[0]] + [ln for ln in lines[1:] if ln.split(",")[1].strip('"') < UNTIL]
    train = folder / "train.csv"
    train.write_text("".join(keep))
    tables, series = [], []
    for seed in seeds[:1] if quick else seeds:
        name = f"injected-{seed}.csv"
        labels = inject_file(
            NOAA,
            folder / name,
            start=UNTIL,
            period_only=True,
            seed=seed,
            n_storms=4,
            n_faults=8,
        )
        tables.append(labels.assign(series=f"noaa-injected/{name}"))
        series.append(f"noaa-injected/{name}")
    path = folder / "labels.csv"
    pd.concat(tables, ignore_index=True).to_csv(path, index=False)
    return {"name": "noaa-injected", "series": series, "root": work, "labels": path, "train": train}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--root", default=str(ROOT.parent / "shared" / "data" / "nab"))
    ap.add_argument("--detectors", default=",".join(DETECTORS))
    ap.add_argument("--seeds", default="0", help="comma-separated training seeds (default 0)")
    ap.add_argument("--no-noaa", action="store_true", help="NAB data sets only")
    ap.add_argument("--quick", action="store_true", help="one series per data set, few updates")
    ap.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    ap.add_argument(
        "--out",
        default=str(Path(tempfile.gettempdir()) / "squall-bench-nab"),
        help="output directory (default: squall-bench-nab in the temp directory)",
    )
    a = ap.parse_args(argv)
    root = Path(a.root)
    labels = root / "combined_windows.json"
    if not labels.is_file():
        print(
            f"bench_nab: no labels file {labels} (the shared NAB data is needed)", file=sys.stderr
        )
        return 2
    try:
        import torch

        torch.set_num_threads(a.threads)
    except ImportError:
        pass
    seeds = [int(s) for s in a.seeds.split(",") if s.strip()]
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    sets = nab_sets(root, labels, a.quick)
    if not a.no_noaa and NOAA.is_file():
        sets.append(noaa_set(out / "data", seeds, a.quick))
    rows = []
    for kind in [d for d in a.detectors.split(",") if d]:
        for seed in seeds[:1] if kind in SEEDLESS else seeds:
            config = DetectorConfig(kind=kind, seed=seed)
            if a.quick:
                config = config.with_options(updates=100)
            print(f"== {kind} seed {seed}: {describe(config)}", flush=True)
            for ds in sets:
                t0 = time.perf_counter()
                result = evaluate(
                    ds["series"],
                    ds["labels"],
                    root=ds["root"],
                    config=config,
                    train=ds["train"],
                    log=_progress,
                )
                write_results(result, out / ds["name"] / f"{kind}-seed{seed}")
                s = result.summary.set_index("dataset")
                # one data set may span folders in the harness's sense: pool them here
                tp, fp, fn = (int(s[c].sum()) for c in ("tp", "fp", "fn"))
                per = result.series
                rows.append(
                    {
                        "dataset": ds["name"],
                        "detector": kind,
                        "seed": seed,
                        "f1": 2 * tp / (2 * tp + fp + fn) if tp + fp + fn else np.nan,
                        "tp": tp,
                        "fp": fp,
                        "fn": fn,
                        "nab_score": float(s["nab_score"].mean()),
                        "auc_pr": float(per["auc_pr"].mean()),
                        "vus_pr": float(per["vus_pr"].mean()),
                        "minutes": (time.perf_counter() - t0) / 60,
                        "series": len(ds["series"]),
                    }
                )
                r = rows[-1]
                print(
                    f"   {ds['name']}: F1 {r['f1']:.3f} (tp {tp} fp {fp} fn {fn}), "
                    f"AUC-PR {r['auc_pr']:.3f}, VUS-PR {r['vus_pr']:.3f}, "
                    f"{r['minutes']:.1f} min",
                    flush=True,
                )
                pd.DataFrame(rows).to_csv(out / "runs.csv", index=False, float_format="%.4f")
    runs = pd.DataFrame(rows)
    text = markdown(runs) + "\n\n" + lodo_markdown(lodo(runs))
    (out / "table.md").write_text(text + "\n", encoding="utf-8")
    print()
    print(text)
    return 0


def _progress(message: str) -> None:
    if not message.endswith("..."):
        print("    " + message, flush=True)


def lodo(runs: pd.DataFrame) -> pd.DataFrame:
    """Leave one data set out: for each data set, the detector with the best mean F1 (over
    seeds, then over the other data sets) and its F1 there; the last row chooses on all."""
    mean = runs.groupby(["detector", "dataset"])["f1"].mean().unstack("dataset")
    rows = []
    for held in list(mean.columns) + [None]:
        others = [c for c in mean.columns if c != held]
        score = mean[others].mean(axis=1)
        chosen = str(score.idxmax())
        rows.append(
            {
                "held_out": held or "(none: all data sets)",
                "chosen": chosen,
                "f1_on_others": float(score.max()),
                "f1_held_out": float(mean.loc[chosen, held]) if held else np.nan,
                "best_on_held_out": str(mean[held].idxmax()) if held else "",
            }
        )
    return pd.DataFrame(rows)


def markdown(runs: pd.DataFrame) -> str:
    lines = [
        "| dataset | detector | seeds | F1 (mean) | F1 per seed | NAB | AUC-PR | VUS-PR | "
        "min/seed |",
        "|---|---|---:|---:|---|---:|---:|---:|---:|",
    ]
    for (ds, det), part in runs.groupby(["dataset", "detector"], sort=False):
        lines.append(
            f"| {ds} | {det} | {len(part)} | {part.f1.mean():.3f} | "
            f"{' / '.join(f'{v:.2f}' for v in part.f1)} | {part.nab_score.mean():.1f} | "
            f"{part.auc_pr.mean():.3f} | {part.vus_pr.mean():.3f} | {part.minutes.mean():.1f} |"
        )
    return "\n".join(lines)


def lodo_markdown(table: pd.DataFrame) -> str:
    lines = [
        "| held out | chosen on the others | its F1 there | F1 held out | best on held out |",
        "|---|---|---:|---:|---|",
    ]
    for r in table.itertuples(index=False):
        held = "" if np.isnan(r.f1_held_out) else f"{r.f1_held_out:.3f}"
        lines.append(
            f"| {r.held_out} | {r.chosen} | {r.f1_on_others:.3f} | {held} | {r.best_on_held_out} |"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
