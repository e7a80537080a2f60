"""Detected events against labelled events: the one matcher every command and benchmark uses.

The rule is Orion's event overlap rule (``contextual_f1_score(weighted=False)``), implemented
from its description: for one series, with labelled intervals ``L`` and detected events ``D``
(both ends inclusive):

* a label is a true positive when at least one detected event overlaps it (``d.start <= l.end``
  and ``d.end >= l.start``: touching counts);
* a label no detected event overlaps is a false negative;
* a detected event that overlaps no label is a false positive.

So one long detection over two labels gives two true positives and no false positive, and the
width of a detection is not penalised. A label with a track only matches events of that track;
a label or event without one (NAB's single series) matches any. Precision is ``tp / (tp + fp)``,
recall ``tp / (tp + fn)``, F1 ``2 tp / (2 tp + fp + fn)`` (0 when nothing was detected).
Precision is NaN without detections, recall without labels, F1 when there is neither.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd


def overlap_matrix(labels: pd.DataFrame, events: pd.DataFrame) -> np.ndarray:
    """``(n_labels, n_events)`` True where an event overlaps a label (inclusive ends; tracks
    compatible when either is empty or both are equal)."""
    if len(labels) == 0 or len(events) == 0:
        return np.zeros((len(labels), len(events)), dtype=bool)
    ls = pd.to_datetime(labels["start"]).to_numpy("datetime64[ns]")[:, None]
    le = pd.to_datetime(labels["end"]).to_numpy("datetime64[ns]")[:, None]
    es = pd.to_datetime(events["start"]).to_numpy("datetime64[ns]")[None, :]
    ee = pd.to_datetime(events["end"]).to_numpy("datetime64[ns]")[None, :]
    hit = (es <= le) & (ee >= ls)
    lt = _tracks(labels)[:, None]
    et = _tracks(events)[None, :]
    matrix: np.ndarray = hit & ((lt == "") | (et == "") | (lt == et))
    return matrix


def _tracks(frame: pd.DataFrame) -> np.ndarray:
    if "track" not in frame:
        return np.full(len(frame), "", dtype=object)
    tracks: np.ndarray = frame["track"].fillna("").astype(str).to_numpy(dtype=object)
    return tracks


def confusion(labels: pd.DataFrame, events: pd.DataFrame) -> dict[str, int]:
    """``tp``, ``fp``, ``fn`` of ``events`` against ``labels`` of one series."""
    hit = overlap_matrix(labels, events)
    tp = int(hit.any(axis=1).sum())
    return {"tp": tp, "fp": int((~hit.any(axis=0)).sum()), "fn": int(len(labels) - tp)}


def prf(tp: int, fp: int, fn: int) -> dict[str, float]:
    """Precision, recall and F1 from (pooled) counts (see the module docstring for NaN)."""
    precision = tp / (tp + fp) if tp + fp else math.nan
    recall = tp / (tp + fn) if tp + fn else math.nan
    f1 = 2 * tp / (2 * tp + fp + fn) if tp + fp + fn else math.nan
    return {"precision": precision, "recall": recall, "f1": f1}


def match_events(events: pd.DataFrame, labels: pd.DataFrame) -> dict[str, Any]:
    """Everything about ``events`` against ``labels`` by the one rule above: the counts ``tp``,
    ``fp``, ``fn``, precision, recall and F1, ``events``/``labels`` (how many),
    ``true_events``/``false_events`` (events overlapping a label or none), ``per_type``
    (labels and found per label ``type``), ``found_by`` (per label, the indices of the events
    overlapping it) and ``false`` (indices of the events overlapping no label)."""
    hit = overlap_matrix(labels, events)
    counts = confusion(labels, events)
    found = np.asarray(hit.any(axis=1))
    true_events = np.asarray(hit.any(axis=0))
    types = (
        labels["type"].astype(str).to_numpy() if "type" in labels else np.full(len(labels), "event")
    )
    per_type = {
        t: {"labels": int((types == t).sum()), "found": int(found[types == t].sum())}
        for t in sorted(set(types))
    }
    return {
        **counts,
        **prf(**counts),
        "events": int(len(events)),
        "labels": int(len(labels)),
        "true_events": int(true_events.sum()),
        "false_events": int((~true_events).sum()),
        "per_type": per_type,
        "found_by": [np.flatnonzero(row).tolist() for row in hit],
        "false": np.flatnonzero(~true_events).tolist(),
    }
