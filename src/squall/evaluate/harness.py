"""The evaluation harness: run a detector on labelled series and score it (``squall evaluate``).

The NAB protocol: every series is on its own and unsupervised. The detector's model trains on the
very series it scores, without its labels; events are then matched with the labels. Series are
named as in the labels file (``realKnownCause/nyc_taxi.csv``, relative to ``root``); the dataset
of a series is the folder part of its name (``realKnownCause``).

Metrics (per series, and per dataset with tp/fp/fn and the NAB raw scores summed over its
series): the event-level overlap rule of :mod:`squall.evaluate.metrics` (precision, recall,
F1) and the NAB score of :mod:`squall.evaluate.nab` (single-track series only: NAB's rows are
one time line).

Threshold-free metrics (:mod:`squall.evaluate.scoremetrics`: AUC-ROC, AUC-PR, VUS-ROC and
VUS-PR) from the per-step scores the threshold was applied to, a step being anomalous when it
overlaps a labelled window of its series (and track); per series, and their mean per dataset.

Outputs (:func:`write_results`): ``events.csv`` (``series``, ``start``, ``end``, ``score``,
``track``), ``scores.csv`` (per series and step: ``series``, ``track``, ``timestamp`` (the
step's first report), ``score``, ``label``), ``series.csv`` (one row per series),
``summary.csv`` (``dataset``, ``tp``, ``fp``, ``fn``, ``precision``, ``recall``, ``f1``, then
the NAB score, the threshold-free metrics and counts) and ``results.json`` (the detector
configuration and both tables).
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from squall.data.labels import labels_for, nab_frame, read_label_csv, read_nab_labels
from squall.errors import NAME, ParameterError, SquallError
from squall.evaluate.detectors import CLASSICAL, DetectorConfig
from squall.evaluate.family import detect_series
from squall.evaluate.metrics import confusion, pooled, prf
from squall.evaluate.nab import nab_score, normalise
from squall.text import plural

#: Threshold-free metrics of the per-step scores, per series and (their mean) per dataset.
SCORE_METRICS = ("auc_roc", "auc_pr", "vus_roc", "vus_pr")
SUMMARY_COLUMNS = [
    "dataset",
    "tp",
    "fp",
    "fn",
    "precision",
    "recall",
    "f1",
    "nab_score",
    *SCORE_METRICS,
    "series",
    "labels",
    "events",
    "intervals",
    "seconds",
]
EVENT_COLUMNS = ["series", "start", "end", "score", "track"]
SCORE_COLUMNS = ["series", "track", "timestamp", "score", "label"]
OUTPUTS = ("events.csv", "scores.csv", "series.csv", "summary.csv", "results.json")


@dataclass
class Evaluation:
    """What :func:`evaluate` measured: events, one row per series, one per dataset."""

    config: DetectorConfig
    events: pd.DataFrame
    series: pd.DataFrame
    summary: pd.DataFrame
    scores: pd.DataFrame | None = None

    def to_json(self) -> dict:
        return {
            "detector": self.config.to_dict(),
            "datasets": _records(self.summary),
            "series": _records(self.series),
        }


def _records(frame: pd.DataFrame) -> list[dict]:
    out = []
    for row in frame.to_dict(orient="records"):
        out.append(
            {
                k: (
                    None
                    if isinstance(v, float) and not math.isfinite(v)
                    else v.item()
                    if isinstance(v, np.generic)
                    else v
                )
                for k, v in row.items()
            }
        )
    return out


def dataset_of(name: str) -> str:
    """The folder part of a series name (``.`` for a file at the root)."""
    return Path(name).parent.as_posix()


def load_labels(path: str | os.PathLike[str], series: Sequence[str]) -> pd.DataFrame:
    """Labels of ``series`` from NAB's JSON (every series must be a key) or a labels CSV."""
    path = Path(path)
    if path.suffix.lower() == ".json":
        nab = read_nab_labels(path)
        missing = [s for s in series if Path(s).as_posix() not in nab]
        if missing:
            raise ParameterError(
                "root",
                f"series {missing[0]} is not in the labels file {path} (it names "
                f"{len(nab)} series, e.g. {next(iter(nab), 'none')}); name series "
                f"as in the labels file, relative to {NAME}",
            )
        return nab_frame(nab, [Path(s).as_posix() for s in series])
    return read_label_csv(path)


def resolve_series(name: str, root: str | os.PathLike[str] | None) -> Path:
    path = Path(root) / name if root is not None else Path(name)
    if not path.is_file():
        where = f" under {NAME} {root}" if root is not None else ""
        raise ParameterError("root", f"no such series file: {name}{where} ({path})")
    return path


def evaluate(
    series: Sequence[str],
    labels: str | os.PathLike[str] | pd.DataFrame,
    *,
    root: str | os.PathLike[str] | None = None,
    config: DetectorConfig | None = None,
    train: str | os.PathLike[str] | None = None,
    reader: dict | None = None,
    log=lambda *_: None,
) -> Evaluation:
    """Run ``config`` on each series (NAB protocol: trained on the series itself, or on
    ``train`` when given) and score the events against ``labels`` (a path or a label table)."""
    if not series:
        raise SquallError("no series to evaluate")
    config = config or DetectorConfig()
    table = labels if isinstance(labels, pd.DataFrame) else load_labels(labels, series)
    paths = [resolve_series(s, root) for s in series]
    if train is not None and not Path(train).is_file():
        raise SquallError(f"no such training file: {train}")
    all_events, rows, all_scores = [], [], []
    for k, (name, path) in enumerate(zip(series, paths, strict=True)):
        head = f"[{k + 1}/{len(series)}] {name}"
        doing = "robust z-scores" if config.kind == "robust-z" else f"training the {config.kind}"
        log(f"{head}: {doing} ...")
        found = detect_series(
            path,
            config,
            train_paths=train,
            reader=reader,
            log=lambda message, head=head: log(f"{head}: {message}"),
        )
        ev = found.events
        mine = labels_for(table, name)
        counts = confusion(mine, ev)
        row = (
            {
                "dataset": dataset_of(name),
                "series": Path(name).as_posix(),
                "detector": config.kind,
                "interval": found.info.get("interval"),
                "reports": found.info.get("reports"),
                "labels": int(len(mine)),
                "events": int(len(ev)),
            }
            | counts
            | prf(**counts)
        )
        steps = _labelled_steps(found.steps, mine)
        row |= _score_metrics(steps, config.length)
        if steps is not None:
            all_scores.append(steps.assign(series=Path(name).as_posix())[SCORE_COLUMNS])
        if found.info.get("tracks", 1) <= 1:
            windows = list(zip(mine["start"], mine["end"], strict=True))
            row |= nab_score(found.times, windows, ev["start"]).to_dict()
        else:  # NAB scores one time line
            row |= {"nab_score": math.nan}
        row |= {
            k: found.info[k]
            for k in ("threshold", "epochs_run", "train_stride", "seconds")
            if k in found.info
        }
        rows.append(row)
        took = found.info.get("seconds")
        log(
            f"{head}: {plural(len(ev), 'event')}, tp {counts['tp']} fp {counts['fp']} "
            f"fn {counts['fn']}" + (f" ({took:g} s)" if took is not None else "")
        )
        ev = ev.assign(series=Path(name).as_posix())
        all_events.append(ev)
    per_series = pd.DataFrame(rows)
    events = (
        pd.concat(all_events, ignore_index=True)
        if all_events
        else pd.DataFrame(columns=EVENT_COLUMNS)
    )
    events = events[EVENT_COLUMNS].astype({"score": float, "series": str, "track": str})
    scores = pd.concat(all_scores, ignore_index=True) if all_scores else None
    return Evaluation(config, events, per_series, summarise(per_series), scores)


def _labelled_steps(steps: pd.DataFrame | None, labels: pd.DataFrame) -> pd.DataFrame | None:
    """``steps`` (``track``, ``start``, ``end``, ``score``) with ``timestamp`` and ``label``:
    1 when the step overlaps a labelled window of its track (labels without a track apply to
    every track)."""
    if steps is None:
        return None
    label = np.zeros(len(steps), dtype=np.int8)
    start = steps["start"].to_numpy("datetime64[ns]")
    end = steps["end"].to_numpy("datetime64[ns]")
    track = steps["track"].astype(str).to_numpy()
    has_track = "track" in labels.columns
    for row in labels.itertuples(index=False):
        a = np.datetime64(pd.Timestamp(row.start), "ns")
        b = np.datetime64(pd.Timestamp(row.end), "ns")
        hit = (start <= b) & (end >= a)
        if has_track and str(row.track):
            hit &= track == str(row.track)
        label[hit] = 1
    return steps.assign(timestamp=steps["start"], label=label)


def _score_metrics(steps: pd.DataFrame | None, window: int) -> dict:
    """AUC-ROC, AUC-PR, VUS-ROC and VUS-PR of one series' per-step scores (NaN without per-step
    scores, or without both labelled and unlabelled steps); VUS buffers up to ``window`` steps
    (the detector's window length)."""
    from squall.evaluate.scoremetrics import score_metrics

    out = dict.fromkeys(SCORE_METRICS, math.nan)
    if steps is None or steps["label"].nunique() < 2:
        return out
    parts = [part for _, part in steps.groupby("track", sort=False)]  # time lines, one by one
    found = score_metrics(
        np.concatenate([p["label"].to_numpy() for p in parts]),
        np.concatenate([p["score"].to_numpy(dtype=np.float64) for p in parts]),
        window=window,
    )
    return out | {k: float(found[k]) for k in SCORE_METRICS if k in found}


def summarise(per_series: pd.DataFrame) -> pd.DataFrame:
    """Per dataset: tp, fp, fn summed, precision/recall/F1 of the sums, the NAB score of the
    summed raw, null and perfect scores, and counts."""
    out = pooled(per_series, "dataset")
    extra = []
    for ds, part in per_series.groupby("dataset", sort=True):
        means = {
            k: float(part[k].mean()) if k in part and part[k].notna().any() else math.nan
            for k in SCORE_METRICS
        }
        nab = math.nan
        if "nab_raw" in part and part["nab_raw"].notna().all():
            nab = normalise(
                part["nab_raw"].sum(), part["nab_null"].sum(), part["nab_perfect"].sum()
            )
        extra.append(
            {
                "dataset": ds,
                "nab_score": nab,
                "series": int(len(part)),
                "labels": int(part["labels"].sum()),
                "events": int(part["events"].sum()),
                "intervals": ",".join(sorted(set(part["interval"].astype(str)))),
                "seconds": float(part.get("seconds", pd.Series([0.0])).sum()),
            }
            | means
        )
    return out.merge(pd.DataFrame(extra), on="dataset")[SUMMARY_COLUMNS]


def write_results(result: Evaluation, out: str | os.PathLike[str]) -> list[Path]:
    """Write ``events.csv``, ``scores.csv``, ``series.csv``, ``summary.csv`` and
    ``results.json`` into ``out``
    (all together, recorded in ``out``'s run manifest; files squall did not write are left
    alone)."""
    from squall.io import output_files

    with output_files(out, OUTPUTS, "evaluate") as tmp:
        events = result.events.copy()
        for col in ("start", "end"):
            events[col] = pd.to_datetime(events[col]).dt.strftime("%Y-%m-%d %H:%M:%S")
        events.to_csv(tmp / "events.csv", index=False, float_format="%.6g")
        scores = result.scores
        if scores is None:
            scores = pd.DataFrame(columns=SCORE_COLUMNS)
        scores = scores.assign(
            timestamp=pd.to_datetime(scores["timestamp"]).dt.strftime("%Y-%m-%d %H:%M:%S")
        )
        scores.to_csv(tmp / "scores.csv", index=False, float_format="%.6g")
        result.series.to_csv(tmp / "series.csv", index=False, float_format="%.6g")
        result.summary.to_csv(tmp / "summary.csv", index=False, float_format="%.6g")
        (tmp / "results.json").write_text(
            json.dumps(result.to_json(), indent=1, default=str) + "\n", encoding="utf-8"
        )
    return [Path(out) / name for name in OUTPUTS]


def _fmt(value, digits: int = 3) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "-"
    return f"{value:.{digits}f}"


def describe(config: DetectorConfig) -> str:
    """One line saying what the detector is."""
    if config.kind == "robust-z":
        return f"robust-z (|x - median| / 1.4826 MAD > {config.z_k:g} on raw values)"
    if config.kind == "original":
        return (
            f"original pipeline (pooled 24-report windows, hidden 64,32, scaler and "
            f"{config.original_q:.0%} quantile of the scored data)"
        )
    budget = f"{config.epochs} epochs" if config.epochs else f"{config.updates} updates"
    if config.kind in CLASSICAL:
        budget = "no training"
    thr = {
        "sigma": f"mean + {config.k:g} sd",
        "hundman": "Hundman z search",
        "pot": f"POT q={config.pot_q:g} over the {config.pot_level:g} quantile",
        "quantile": f"{config.quantile:g} quantile",
    }[config.threshold]
    if config.threshold in ("sigma", "hundman") and config.window:
        thr += f" in windows of {config.window:g} of the series"
    if config.prune:
        thr += f", pruning {config.prune:g}"
    sizes = ",".join(map(str, config.sizes)) if config.sizes else "default"
    if config.kind == "forecaster":
        model = f"{config.model} forecasting {config.horizon} from {config.length} steps"
    elif config.kind in CLASSICAL:
        model = f"{config.kind} (steps of {config.length}-step windows"
    else:
        model = f"autoencoder ({config.length}-step windows"
    return (
        f"{model} spanning >= {config.span or '-'}, "
        f"hidden {sizes}, {budget}, seed {config.seed}; "
        f"{config.point} scores, EWMA {config.smoothing:g}; {thr})"
    )


def format_summary(
    result: Evaluation, out: str | os.PathLike[str] | None = None, max_series: int = 20
) -> str:
    """A one-screen summary: the detector, each series (up to ``max_series``), each dataset."""
    lines = [f"squall evaluate: {describe(result.config)}"]
    s = result.series
    if len(s) <= max_series:
        width = max(20, *(len(x) for x in s["series"]))
        lines.append(f"{'series':<{width}} interval labels events  tp  fp  fn    NAB")
        for r in s.itertuples(index=False):
            lines.append(
                f"{r.series:<{width}} {str(r.interval):>8} {r.labels:>6} {r.events:>6} "
                f"{r.tp:>3} {r.fp:>3} {r.fn:>3} {_fmt(r.nab_score, 1):>6}"
            )
    width = max(20, *(len(x) for x in result.summary["dataset"]))
    lines.append(
        f"{'dataset':<{width}} series  tp  fp  fn precision recall    F1    NAB AUC-PR VUS-PR"
    )
    for r in result.summary.itertuples(index=False):
        lines.append(
            f"{r.dataset:<{width}} {r.series:>6} {r.tp:>3} {r.fp:>3} {r.fn:>3} "
            f"{_fmt(r.precision):>9} {_fmt(r.recall):>6} {_fmt(r.f1):>5} "
            f"{_fmt(r.nab_score, 1):>6} {_fmt(r.auc_pr):>6} {_fmt(r.vus_pr):>6}"
        )
    if out is not None:
        lines.append(
            f"outputs: {Path(out) / 'events.csv'}, scores.csv, series.csv, summary.csv, "
            "results.json"
        )
    return "\n".join(lines)
