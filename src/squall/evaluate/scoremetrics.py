"""Threshold-free metrics of per-step anomaly scores against 0/1 step labels.

* ``auc_roc``: the area under the ROC curve (ties count half: the Mann-Whitney statistic, as
  scikit-learn's ``roc_auc_score``).
* ``auc_pr``: average precision, ``sum_k (R_k - R_{k-1}) P_k`` over the distinct score
  thresholds (scikit-learn's ``average_precision_score``, the AUC-PR TSB-AD reports).
* ``range_auc_roc`` / ``range_auc_pr`` with buffer ``l`` and ``vus_roc`` / ``vus_pr`` (their mean
  over ``l = 0 .. window``), after Paparrizos et al., "Volume Under the Surface", PVLDB 15(11),
  2022, as the TSB-AD benchmark computes them: each labelled range gets a ramp of ``l // 2``
  steps on both sides with weight ``sqrt(1 - d / l)`` at distance ``d`` (overlaps added, clipped
  at 1); at a threshold, ``TP`` = flagged anomaly steps + the ramp weight of flagged other
  steps, ``P' = P + ramp/2``, recall ``min(TP / P', 1)`` times the share of ranges (widened by
  the ramp) with any flagged step, ``FPR = (flagged - TP) / (n - P')``, precision
  ``TP / flagged``; ROC by the trapezoid from (0, 0) to (1, 1), PR as a step sum. Thresholds:
  ``thresholds`` evenly spaced ranks of the sorted scores (TSB-AD's 250).

NaN scores (steps nothing scored) rank below every score. Without both labelled and unlabelled
steps every metric is NaN.
"""

from __future__ import annotations

import math
import warnings

import numpy as np

from squall.errors import SquallError, SquallWarning


def _inputs(labels, scores) -> tuple[np.ndarray, np.ndarray]:
    y = np.asarray(labels, dtype=np.float64).reshape(-1)
    s = np.asarray(scores, dtype=np.float64).reshape(-1)
    if len(y) != len(s):
        raise SquallError(f"{len(y)} labels for {len(s)} scores")
    return (y > 0).astype(np.float64), np.where(np.isfinite(s), s, -np.inf)


def auc_roc(labels, scores) -> float:
    """Area under the ROC curve (ties half; NaN without both classes)."""
    y, s = _inputs(labels, scores)
    pos, neg = y.sum(), len(y) - y.sum()
    if pos == 0 or neg == 0:
        return math.nan
    order = np.argsort(s, kind="mergesort")
    ranks = np.empty(len(s))
    sorted_s = s[order]
    # average ranks of ties
    _, first, counts = np.unique(sorted_s, return_index=True, return_counts=True)
    avg = first + (counts + 1) / 2.0
    ranks[order] = np.repeat(avg, counts)
    return float((ranks[y == 1].sum() - pos * (pos + 1) / 2) / (pos * neg))


def auc_pr(labels, scores) -> float:
    """Average precision over the distinct score thresholds (NaN without both classes)."""
    y, s = _inputs(labels, scores)
    pos = y.sum()
    if pos == 0 or pos == len(y):
        return math.nan
    order = np.argsort(-s, kind="mergesort")
    ys, ss = y[order], s[order]
    last = np.r_[np.flatnonzero(np.diff(ss) != 0), len(ss) - 1]  # end of each tie group
    tp = np.cumsum(ys)[last]
    flagged = last + 1
    recall = tp / pos
    precision = tp / flagged
    return float(np.sum(np.diff(np.r_[0.0, recall]) * precision))


def _ranges(y: np.ndarray) -> list[tuple[int, int]]:
    edges = np.diff(np.r_[0, y.astype(np.int8), 0])
    return list(zip(np.flatnonzero(edges == 1), np.flatnonzero(edges == -1) - 1, strict=True))


def _range_curve(y: np.ndarray, s: np.ndarray, buffer: int, thresholds: int):
    """(FPR, TPR, precision) at the thresholds, for buffer ``buffer``."""
    n = len(y)
    half = buffer // 2
    ramp = np.zeros(n)
    ranges = _ranges(y)
    if half > 0:
        for a, b in ranges:
            d = np.arange(1, half + 1)
            w = np.sqrt(1 - d / buffer)
            after = b + d
            ok = after < n
            np.add.at(ramp, after[ok], w[ok])
            before = a - d
            ok = before >= 0
            np.add.at(ramp, before[ok], w[ok])
    ramp = np.minimum(ramp, 1.0) * (1 - y)
    positives = y.sum()
    p_new = positives + ramp.sum() / 2
    # ranges widened by the ramp, merged where they touch: the existence reward
    segments: list[list[int]] = []
    for a, b in ranges:
        a, b = max(0, a - half), min(n - 1, b + half)
        if segments and a <= segments[-1][1] + 1:
            segments[-1][1] = max(segments[-1][1], b)
        else:
            segments.append([a, b])
    order = np.argsort(-s, kind="mergesort")
    rank = np.empty(n, dtype=np.int64)
    rank[order] = np.arange(n)
    cum = np.cumsum((y + ramp)[order])
    counts = np.unique(np.linspace(0, n - 1, thresholds).astype(int)) + 1
    # with ties, a threshold flags every step scoring at least the threshold score
    sorted_s = s[order]
    counts = np.searchsorted(-sorted_s, -sorted_s[counts - 1], side="right")
    tp = cum[counts - 1]
    first_rank = np.array([rank[a : b + 1].min() for a, b in segments])
    exist = (first_rank[None, :] < counts[:, None]).sum(axis=1) / max(len(segments), 1)
    recall = np.minimum(tp / p_new, 1.0) * exist
    fpr = (counts - tp) / max(n - p_new, 1e-12)
    precision = tp / counts
    return fpr, recall, precision


def range_auc(labels, scores, buffer: int, thresholds: int = 250) -> tuple[float, float]:
    """(range AUC-ROC, range AUC-PR) with buffer ``buffer`` (see the module docstring)."""
    y, s = _inputs(labels, scores)
    if y.sum() == 0 or y.sum() == len(y):
        return math.nan, math.nan
    fpr, tpr, prec = _range_curve(y, s, int(buffer), thresholds)
    x = np.r_[0.0, fpr, 1.0]
    t = np.r_[0.0, tpr, 1.0]
    roc = float(np.sum(np.diff(x) * (t[1:] + t[:-1]) / 2))
    pr = float(np.sum(np.diff(np.r_[0.0, tpr]) * prec))
    return roc, pr


def vus(labels, scores, window: int = 100, thresholds: int = 250) -> tuple[float, float]:
    """(VUS-ROC, VUS-PR): range AUCs averaged over buffers 0 .. ``window``."""
    pairs = [range_auc(labels, scores, b, thresholds) for b in range(int(window) + 1)]
    return float(np.mean([p[0] for p in pairs])), float(np.mean([p[1] for p in pairs]))


def point_adjusted_f1(labels, flags) -> float:
    """F1 after point adjustment (a labelled range counts as found whole when any of its steps
    is flagged). Warns: point adjustment inflates scores (Kim et al., AAAI 2022)."""
    warnings.warn(
        "point-adjusted F1 inflates scores (Kim et al., AAAI 2022): a random detector can reach "
        "a high value; report it beside event F1 and AUC-PR, never alone",
        SquallWarning,
        stacklevel=2,
    )
    y, _ = _inputs(labels, np.zeros(len(np.asarray(labels))))
    f = np.asarray(flags, dtype=bool).reshape(-1).copy()
    for a, b in _ranges(y):
        if f[a : b + 1].any():
            f[a : b + 1] = True
    tp = float((f & (y == 1)).sum())
    fp = float((f & (y == 0)).sum())
    fn = float((~f & (y == 1)).sum())
    return 2 * tp / (2 * tp + fp + fn) if tp + fp + fn else math.nan


def score_metrics(labels, scores, *, window: int = 100) -> dict[str, float]:
    """AUC-ROC, AUC-PR, VUS-ROC and VUS-PR of one series' per-step scores."""
    v_roc, v_pr = vus(labels, scores, window)
    return {
        "auc_roc": auc_roc(labels, scores),
        "auc_pr": auc_pr(labels, scores),
        "vus_roc": v_roc,
        "vus_pr": v_pr,
    }
