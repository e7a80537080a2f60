"""Event-level detection metrics: the overlap rule of Orion's contextual F1 (``weighted=False``).

For one series, with labelled intervals ``L`` and detected events ``D`` (both ends inclusive):

* a label is a true positive when at least one detected event overlaps it (``d.start <= l.end``
  and ``d.end >= l.start``: touching counts);
* a label no detected event overlaps is a false negative;
* a detected event that overlaps no label is a false positive.

So one long detection over two labels gives two true positives and no false positive, and the
width of a detection is not penalised. (Implemented from this description of Orion's rule in
issue 4, not from Orion's code.) On a multi-track series a label with a track only matches
events of that track; a label without one (NAB) matches any. ``tp``, ``fp`` and ``fn`` are
summed over all series of a dataset before precision ``tp / (tp + fp)``, recall
``tp / (tp + fn)`` and F1 ``2 tp / (2 tp + fp + fn)`` (the harmonic mean of the two, also
defined, as 0, when nothing was detected). Precision is NaN without detections, recall without
labels, F1 when there is neither.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd


def overlap_matrix(labels: pd.DataFrame, events: pd.DataFrame) -> np.ndarray:
    """``(n_labels, n_events)`` True where an event overlaps a label (inclusive ends; tracks
    compatible when either is empty or both are equal)."""
    ls = pd.to_datetime(labels["start"]).to_numpy("datetime64[ns]")[:, None]
    le = pd.to_datetime(labels["end"]).to_numpy("datetime64[ns]")[:, None]
    es = pd.to_datetime(events["start"]).to_numpy("datetime64[ns]")[None, :]
    ee = pd.to_datetime(events["end"]).to_numpy("datetime64[ns]")[None, :]
    hit = (es <= le) & (ee >= ls)
    lt = _tracks(labels)[:, None]
    et = _tracks(events)[None, :]
    return hit & ((lt == "") | (et == "") | (lt == et))


def _tracks(frame: pd.DataFrame) -> np.ndarray:
    if "track" not in frame:
        return np.full(len(frame), "", dtype=object)
    return frame["track"].fillna("").astype(str).to_numpy(dtype=object)


def confusion(labels: pd.DataFrame, events: pd.DataFrame) -> dict[str, int]:
    """``tp``, ``fp``, ``fn`` of ``events`` against ``labels`` of one series."""
    if len(labels) == 0 or len(events) == 0:
        return {"tp": 0, "fp": int(len(events)), "fn": int(len(labels))}
    hit = overlap_matrix(labels, events)
    tp = int(hit.any(axis=1).sum())
    return {"tp": tp, "fp": int((~hit.any(axis=0)).sum()), "fn": int(len(labels) - tp)}


def prf(tp: int, fp: int, fn: int) -> dict[str, float]:
    """Precision, recall and F1 from pooled counts (see the module docstring for NaN)."""
    precision = tp / (tp + fp) if tp + fp else math.nan
    recall = tp / (tp + fn) if tp + fn else math.nan
    f1 = 2 * tp / (2 * tp + fp + fn) if tp + fp + fn else math.nan
    return {"precision": precision, "recall": recall, "f1": f1}


def pooled(per_series: pd.DataFrame, by: str = "dataset") -> pd.DataFrame:
    """Sum ``tp``, ``fp``, ``fn`` of a per-series table over ``by`` and add precision, recall
    and F1 of the sums."""
    sums = per_series.groupby(by, sort=True)[["tp", "fp", "fn"]].sum().reset_index()
    scores = [prf(int(r.tp), int(r.fp), int(r.fn)) for r in sums.itertuples(index=False)]
    return pd.concat([sums, pd.DataFrame(scores, index=sums.index)], axis=1)
