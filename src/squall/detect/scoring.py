"""Reconstruction error per window, per feature and per time step, counting observed cells only.

:func:`score` scores windows and reconstructions held in memory (all residuals kept).
:func:`score_windows` scores a whole :class:`~squall.data.windowset.WindowSet` a chunk of windows
at a time: it reconstructs a chunk, keeps its per-window, per-feature and per-step scores and
drops the chunk, so nothing of size (N, T, F) is alive at once; residuals are kept only for the
windows asked for (:func:`with_residuals`: e.g. the flagged ones, after the threshold is known).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

import numpy as np

from squall.errors import SquallError

if TYPE_CHECKING:
    from squall.data.windowset import WindowSet

#: Windows scored at once by :func:`score_windows` (a chunk's float64 temporaries are about
#: 8 x CHUNK x T x F bytes each: 19 MB at T = 24, F = 6).
CHUNK = 16_384
#: A last chunk smaller than this joins the one before: engines may compute a batch of one
#: window another way (a matrix-vector product: other rounding), and scores must not depend
#: on where the chunks fall.
MIN_CHUNK = 64


@dataclass
class Scores:
    """Masked squared reconstruction errors. Higher is more anomalous.

    ``window`` (N,) mean over observed cells; ``feature`` (N, F) mean over each feature's
    observed steps (NaN when a feature is unobserved in a window); ``step`` (N, T) mean over each
    step's observed features (NaN for an empty step), or None when not kept (the per-step
    detector: 0.3 GB at 1.7 million windows); :meth:`step_of` then derives it from the
    residuals; ``observed`` (N,) observed cells.
    ``residual`` (reconstruction minus input, in scaled units, NaN where unobserved; sign =
    direction of the deviation) is kept for the windows ``residual_windows`` only (sorted; None:
    all windows, ``residual`` is then (N, T, F)); read it with :meth:`residual_of`.
    """

    window: np.ndarray
    feature: np.ndarray
    step: np.ndarray | None
    residual: np.ndarray
    observed: np.ndarray
    residual_windows: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.window)

    def step_of(self, windows: np.ndarray) -> np.ndarray:
        """Step errors (len(windows), T) of ``windows``: from ``step`` when kept, else from the
        kept residuals (the same numbers: the mean square over each step's observed cells)."""
        windows = np.asarray(windows, dtype=np.int64).reshape(-1)
        if self.step is not None:
            return self.step[windows]
        residual = self.residual_of(windows)
        observed = np.isfinite(residual).sum(axis=2)
        with np.errstate(invalid="ignore", divide="ignore"):
            step: np.ndarray = np.where(np.isnan(residual), 0.0, residual**2).sum(axis=2) / observed
        return step

    def residual_of(self, windows: np.ndarray) -> np.ndarray:
        """Residuals (len(windows), T, F) of ``windows``, which must be among those kept."""
        windows = np.asarray(windows, dtype=np.int64).reshape(-1)
        if self.residual_windows is None:
            return self.residual[windows]
        at = np.searchsorted(self.residual_windows, windows)
        at = np.minimum(at, len(self.residual_windows) - 1) if len(self.residual_windows) else at
        if len(windows) and (
            not len(self.residual_windows) or (self.residual_windows[at] != windows).any()
        ):
            raise SquallError(
                "residuals of these windows were not kept (score them with "
                "squall.detect.scoring.with_residuals first)"
            )
        return self.residual[at]


def score(x: np.ndarray, recon: np.ndarray, mask: np.ndarray) -> Scores:
    """Score reconstructions ``recon`` of windows ``x`` (both scaled) where ``mask`` is True
    and ``recon`` holds a prediction (a forecaster predicts only its horizon's targets: NaN
    elsewhere, see :func:`predictor`).

    Computed in float64 whatever the inputs' dtypes: windows within +-SCALED_LIMIT
    (:mod:`squall.limits`) then always give finite scores."""
    mask = np.asarray(mask).astype(bool) & np.isfinite(recon)  # NaN: a cell not predicted
    residual = np.where(mask, np.asarray(recon, dtype=np.float64) - x, np.nan)
    sq = np.where(mask, residual, 0.0) ** 2
    n = mask.sum(axis=(1, 2))
    with np.errstate(invalid="ignore", divide="ignore"):
        window = sq.sum(axis=(1, 2)) / n
        feature = sq.sum(axis=1) / mask.sum(axis=1)
        step = sq.sum(axis=2) / mask.sum(axis=2)
    return Scores(window, feature, step, residual, n)


def chunks(n: int, size: int = CHUNK) -> list[slice]:
    """Slices of at most ``size`` windows covering ``n`` (a last one under MIN_CHUNK joined to
    the one before)."""
    starts = list(range(0, n, size))
    if not starts:
        return []
    if len(starts) > 1 and n - starts[-1] < MIN_CHUNK:
        starts.pop()
    return [slice(a, b) for a, b in zip(starts, starts[1:] + [n], strict=True)]


def score_windows(
    reconstruct: Callable[[np.ndarray], np.ndarray], ws: WindowSet, chunk: int = CHUNK
) -> Scores:
    """Scores of every window of ``ws`` (a WindowSet), ``reconstruct`` (an engine's) called on
    one chunk of scaled windows at a time; no residuals kept (see :func:`with_residuals`).

    Each chunk is scored exactly as :func:`score` would score it, so the numbers are those of
    scoring all windows at once."""
    n, T, F = len(ws), ws.steps.shape[1], len(ws.features)
    window, observed = np.empty(n), np.empty(n, dtype=np.int64)
    feature, step = np.empty((n, F)), np.empty((n, T))
    for part in chunks(n, chunk):
        x = ws.inputs(part)
        s = score(x, reconstruct(x), ws.mask_of(part))
        window[part], feature[part], step[part], observed[part] = (
            s.window,
            s.feature,
            s.step,
            s.observed,
        )
    return Scores(
        window,
        feature,
        step,
        np.zeros((0, T, F)),
        observed,
        residual_windows=np.zeros(0, dtype=np.int64),
    )


def with_residuals(
    scores: Scores,
    reconstruct: Callable[[np.ndarray], np.ndarray],
    ws: WindowSet,
    windows: np.ndarray,
    chunk: int = CHUNK,
) -> Scores:
    """``scores`` with the residuals of ``windows`` kept (reconstructed again, a chunk at a
    time, so the same numbers as :func:`score_windows`: a single window of a larger set is
    reconstructed as a batch of two copies, since a batch of one may be computed another way,
    see :data:`MIN_CHUNK`)."""
    windows = np.unique(np.asarray(windows, dtype=np.int64))
    T, F = ws.steps.shape[1], len(ws.features)
    residual = np.empty((len(windows), T, F))
    for part in chunks(len(windows), chunk):
        idx = windows[part]
        padded = np.repeat(idx, 2) if len(idx) == 1 and len(ws) > 1 else idx
        x = ws.inputs(padded)
        s = score(x, reconstruct(x), ws.mask_of(padded))
        residual[part] = s.residual[: len(idx)]
    return replace(scores, residual=residual, residual_windows=windows)


def predictor(engine: Any, bundle: Any) -> Callable[[np.ndarray], np.ndarray]:
    """What a detector compares with the data, as windows (N, T, F) -> (N, T, F) in scaled
    units: an autoencoder's reconstruction; for a forecaster (``task.kind == "forecast"``,
    windows of L + H steps), its forecast of the last H steps of the target features from the
    first L steps of the input features, NaN in every other cell (not predicted, not scored).
    A classifier predicts no values: refused in one line."""
    task = bundle.task
    if task.kind == "reconstruct":
        recon: Callable[[np.ndarray], np.ndarray] = engine.reconstruct
        return recon
    if task.kind != "forecast":
        raise SquallError(
            f"detection compares predicted values with the data: it needs an autoencoder or a "
            f"forecaster, and this bundle's task is {task.kind}"
        )
    features = list(bundle.features)
    inputs = [features.index(f) for f in (task.inputs or features)]
    targets = [features.index(f) for f in (task.targets or features)]
    lookback = int(task.lookback)

    def forecast(x: np.ndarray) -> np.ndarray:
        out = np.full(np.shape(x), np.nan)
        out[:, lookback:, targets] = engine.run(np.asarray(x)[:, :lookback][:, :, inputs])
        return out

    return forecast
