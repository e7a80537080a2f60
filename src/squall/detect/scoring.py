"""Reconstruction error per window, per feature and per time step, counting observed cells only."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class Scores:
    """Masked squared reconstruction errors. Higher is more anomalous.

    ``window`` (N,) mean over observed cells; ``feature`` (N, F) mean over each feature's
    observed steps (NaN when a feature is unobserved in a window); ``step`` (N, T) mean over each
    step's observed features (NaN for an empty step); ``residual`` (N, T, F) reconstruction minus
    input, in scaled units, NaN where unobserved (sign = direction of the deviation).
    """

    window: np.ndarray
    feature: np.ndarray
    step: np.ndarray
    residual: np.ndarray
    observed: np.ndarray

    def __len__(self) -> int:
        return len(self.window)


def score(x: np.ndarray, recon: np.ndarray, mask: np.ndarray) -> Scores:
    """Score reconstructions ``recon`` of windows ``x`` (both scaled) where ``mask`` is True.

    Computed in float64 whatever the inputs' dtypes: windows within +-SCALED_LIMIT
    (:mod:`squall.limits`) then always give finite scores."""
    mask = np.asarray(mask).astype(bool)
    residual = np.where(mask, np.asarray(recon, dtype=np.float64) - x, np.nan)
    sq = np.where(mask, residual, 0.0) ** 2
    n = mask.sum(axis=(1, 2))
    with np.errstate(invalid="ignore", divide="ignore"):
        window = sq.sum(axis=(1, 2)) / n
        feature = sq.sum(axis=1) / mask.sum(axis=1)
        step = sq.sum(axis=2) / mask.sum(axis=2)
    return Scores(window, feature, step, residual, n)
