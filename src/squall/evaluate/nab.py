"""The NAB score (Numenta Anomaly Benchmark; Lavin and Ahmad 2015), standard profile.

What is implemented, following NAB's ``nab/sweeper.py`` (``calcSweepScore`` and
``calcScoreByThreshold``) for one file with binary detections:

* Rows are the file's data rows in time order. A label window covers the rows with
  ``start <= time <= end``; its width ``w`` is its number of rows and ``right`` its last row.
* ``scaledSigmoid(y) = 2 / (1 + exp(5 y)) - 1`` for ``y < 3``, and ``-1`` for ``y >= 3``.
* A detection at row ``i`` inside a window scores ``A_TP * scaledSigmoid(-(right - i + 1) / w) /
  scaledSigmoid(-1)``: 1.0 at the window's first row, near 0 at its last. Only the best (that
  is, the earliest) detection of a window counts; a window without one scores ``-A_FN``.
* A detection outside every window scores ``A_FP * scaledSigmoid(|i - right_prev| /
  (w_prev - 1))``, relative to the preceding window (``right_prev``, ``w_prev``), and
  ``-A_FP`` when no window precedes it. Every such detection counts.
* The first ``min(floor(0.15 n), 0.15 * 5000)`` rows are probationary: detections there are
  ignored, and a window lying entirely in that period is not scored at all.
* Standard profile: ``A_TP = 1``, ``A_FP = 0.11``, ``A_FN = 1`` (``A_TN`` is never used).
* Normalisation: ``100 * (raw - null) / (perfect - null)`` where, over the same windows,
  ``perfect = A_TP * n_windows`` (each window found at its first row) and
  ``null = -A_FN * n_windows`` (nothing detected), summed over the files of a dataset before
  dividing.

Where this differs from NAB's reference code:

* NAB takes an anomaly *score* per row and sweeps a threshold to the one that maximises the
  score over the corpus (its "optimize" step). Here the detector's own threshold is final, and
  each detected event becomes one detection at the first data row at or after its start; an
  event starting before a window but reaching into it is therefore a false positive here
  (while the overlap rule of :mod:`squall.evaluate.metrics` counts it as found).
* NAB normalises with the raw score of its "null" detector run through the same optimisation
  (a constant score, which the optimiser turns into no detection at all); here ``null`` is
  computed directly as no detection at all, which is the same number.
* NAB matches window limits to row timestamps exactly (``timestamps.index``); here windows are
  mapped to rows by time, so limits between rows also work.
* NAB's normalised score is over its whole corpus; here it is per series and per dataset (the
  files given), so the numbers are comparable with NAB's per-category tables, not its
  headline score.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

STANDARD = {"tp": 1.0, "fp": 0.11, "fn": 1.0, "tn": 1.0}
PROBATION = 0.15


def scaled_sigmoid(y: float) -> float:
    """NAB's ``scaledSigmoid``: ``2 sigmoid(-5 y) - 1``, and ``-1`` from ``y >= 3`` on."""
    if y >= 3.0:
        return -1.0
    return 2.0 / (1.0 + math.exp(5.0 * y)) - 1.0


def probation_rows(n: int, percent: float = PROBATION) -> float:
    """NAB's probationary length: ``min(floor(percent * n), percent * 5000)``."""
    return min(math.floor(percent * n), percent * 5000)


@dataclass
class NabResult:
    raw: float
    null: float
    perfect: float
    windows: int  # windows scored (not entirely probationary)
    tp: int  # windows with a detection
    fn: int
    fp: int  # counted detections outside windows

    @property
    def normalised(self) -> float:
        return normalise(self.raw, self.null, self.perfect)

    def to_dict(self) -> dict:
        return {
            "nab_raw": self.raw,
            "nab_null": self.null,
            "nab_perfect": self.perfect,
            "nab_score": self.normalised,
            "nab_windows": self.windows,
            "nab_tp": self.tp,
            "nab_fn": self.fn,
            "nab_fp": self.fp,
        }


def normalise(raw: float, null: float, perfect: float) -> float:
    """``100 * (raw - null) / (perfect - null)`` (NaN when perfect == null, i.e. no window)."""
    if perfect == null:
        return math.nan
    return 100.0 * (raw - null) / (perfect - null)


def nab_score(
    times, windows, detections, profile: dict | None = None, probation: float = PROBATION
) -> NabResult:
    """Score point ``detections`` (times) on a file with data row ``times`` and label
    ``windows`` (``(start, end)`` pairs), per the module docstring."""
    profile = STANDARD if profile is None else profile
    t = np.sort(pd.to_datetime(pd.Series(times)).to_numpy("datetime64[ns]"))
    n = len(t)
    wins = sorted(
        (pd.Timestamp(s).to_datetime64(), pd.Timestamp(e).to_datetime64()) for s, e in windows
    )
    left = np.array([np.searchsorted(t, s, "left") for s, _ in wins], dtype=np.int64)
    right = np.array([np.searchsorted(t, e, "right") - 1 for _, e in wins], dtype=np.int64)
    keep = right >= left  # a window holding no row cannot be scored
    left, right = left[keep], right[keep]
    prob = probation_rows(n, probation)
    # a window counts when at least one of its rows is past the probationary period
    counted = right >= prob
    det = pd.to_datetime(pd.Series(detections, dtype=object)).to_numpy("datetime64[ns]")
    rows = np.unique(np.searchsorted(t, det, "left"))
    rows = rows[(rows < n) & (rows >= prob)]
    max_tp = scaled_sigmoid(-1.0)
    best: dict[int, float] = {}
    fp_total, fp = 0.0, 0
    for i in rows:
        inside = np.flatnonzero((left <= i) & (i <= right))
        if len(inside):
            w = int(inside[0])
            width = right[w] - left[w] + 1
            value = scaled_sigmoid(-(right[w] - i + 1) / width) * profile["tp"] / max_tp
            best[w] = max(best.get(w, -math.inf), value)
            continue
        before = np.flatnonzero(right < i)
        if len(before) == 0:
            pos = 3.0
        else:
            p = int(before[-1])
            width = right[p] - left[p] + 1
            pos = abs(i - right[p]) / (width - 1) if width > 1 else 3.0
        fp_total += scaled_sigmoid(pos) * profile["fp"]
        fp += 1
    n_win = int(counted.sum())
    raw = fp_total
    for window in np.flatnonzero(counted):
        raw += best.get(int(window), -profile["fn"])
    tp = sum(1 for w in best if counted[w])
    return NabResult(
        raw=float(raw),
        null=-profile["fn"] * n_win,
        perfect=profile["tp"] * n_win,
        windows=n_win,
        tp=tp,
        fn=n_win - tp,
        fp=fp,
    )
