"""Thresholds beyond a fixed quantile, for per-timestamp anomaly scores (numpy only).

Everything here works on one 1-D array of scores in time order (one track), NaN = no score.

``sigma_threshold``
    ``mean + k * std`` of the scores (the "fixed" threshold of Orion's ``find_anomalies``).
``hundman_epsilon``
    Hundman et al. (2018, "Detecting spacecraft anomalies using LSTMs and nonparametric dynamic
    thresholding", KDD, section 3.2): among ``eps = mean + z * std`` for ``z`` on a grid, the one
    maximising ``(dmean / mean + dstd / std) / (n_above + n_sequences ** 2)``, where ``dmean`` and
    ``dstd`` are the drops in mean and standard deviation when the points above ``eps`` are
    removed, ``n_above`` those points and ``n_sequences`` the runs they form.
``dynamic_flags``
    Either threshold in sliding windows (Hundman's "dynamic" thresholding: each window of
    ``window`` points, moved by ``step``, gets its own threshold; a point is anomalous when it
    exceeds the threshold of any window holding it), optionally with Hundman's pruning.
``prune_sequences``
    Hundman's pruning of weak sequences: the maxima of the anomalous sequences, sorted
    descending, followed by the largest nominal score; walking down that list, each sequence
    whose maximum is within ``min_percent`` of the next one (relative decrease) is put back to
    nominal, from the first such drop on: all sequences after the last drop larger than
    ``min_percent`` are pruned.
``fit_gpd`` / ``pot_threshold``
    Peaks over threshold as in SPOT (Siffer et al. 2017, "Anomaly detection in streams with
    extreme value theory", KDD): the excesses over a high initial quantile ``t`` of the scores
    follow a generalized Pareto distribution (shape ``gamma``, scale ``sigma``), fitted by
    Grimshaw's maximum-likelihood trick (roots of ``u(x) v(x) = 1``, found here by a grid and
    bisection instead of scipy) or by the method of moments; the threshold for risk ``q`` is
    ``t + sigma / gamma * ((q * n / n_t) ** -gamma - 1)`` (``t - sigma * log(q n / n_t)`` when
    ``gamma = 0``). This is SPOT's initial calibration applied to the whole series; the
    streaming update (refitting as new peaks arrive) is not done.
``robust_z``
    ``(x - median) / (1.4826 * MAD)`` per column (the baseline on raw values).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from squall.errors import SquallError

#: Hundman's grid of z values (standard deviations above the mean).
Z_GRID = tuple(np.arange(2.5, 12.01, 0.5))


def runs(flags: np.ndarray) -> np.ndarray:
    """``(k, 2)`` start and end indices (both inclusive) of the runs of True in ``flags``."""
    flags = np.asarray(flags, dtype=bool)
    if not flags.any():
        return np.zeros((0, 2), dtype=np.int64)
    edges = np.diff(np.concatenate([[0], flags.astype(np.int8), [0]]))
    return np.stack([np.flatnonzero(edges == 1), np.flatnonzero(edges == -1) - 1], axis=1)


def _finite(scores: np.ndarray) -> np.ndarray:
    scores = np.asarray(scores, dtype=np.float64)
    finite: np.ndarray = scores[np.isfinite(scores)]
    return finite


def sigma_threshold(scores: np.ndarray, k: float = 4.0) -> float:
    """``mean + k * std`` of the finite scores (``inf`` when there are none)."""
    s = _finite(scores)
    if len(s) == 0:
        return math.inf
    return float(s.mean() + k * s.std())


def hundman_epsilon(scores: np.ndarray, z_grid: tuple[float, ...] = Z_GRID) -> float:
    """Hundman's non-parametric threshold for one window of scores (see the module docstring).

    When no ``z`` removes anything (or all candidates score 0) the largest ``z`` is used, so a
    window of normal scores gets a high threshold rather than a low one.
    """
    s = np.asarray(scores, dtype=np.float64)
    ok = np.isfinite(s)
    x = s[ok]
    if len(x) == 0:
        return math.inf
    mean, std = x.mean(), x.std()
    if std == 0 or mean == 0:
        return float(mean + max(z_grid) * std)
    best, best_eps = 0.0, mean + max(z_grid) * std
    for z in z_grid:
        eps = mean + z * std
        above = x > eps
        n_above = int(above.sum())
        if n_above == 0 or n_above == len(x):
            continue
        below = x[~above]
        dmean = mean - below.mean()
        dstd = std - below.std()
        n_seq = len(runs(np.where(ok, s > eps, False)))
        value = (dmean / mean + dstd / std) / (n_above + n_seq**2)
        if value > best:
            best, best_eps = value, eps
    return float(best_eps)


def prune_sequences(scores: np.ndarray, flags: np.ndarray, min_percent: float = 0.1) -> np.ndarray:
    """Hundman's pruning (see the module docstring); returns the new flags."""
    s = np.asarray(scores, dtype=np.float64)
    flags = np.asarray(flags, dtype=bool).copy()
    seq = runs(flags)
    if len(seq) == 0 or min_percent <= 0:
        return flags
    maxima = np.array([np.nanmax(s[a : b + 1]) for a, b in seq])
    nominal = s[~flags & np.isfinite(s)]
    floor = float(nominal.max()) if len(nominal) else 0.0
    order = np.argsort(-maxima, kind="stable")
    chain = np.append(maxima[order], floor)
    with np.errstate(divide="ignore", invalid="ignore"):
        drop = (chain[:-1] - chain[1:]) / chain[:-1]
    big = np.flatnonzero(drop > min_percent)
    keep = big[-1] + 1 if len(big) else 0  # sequences ranked before the last big drop stay
    for i in order[keep:]:
        a, b = seq[i]
        flags[a : b + 1] = False
    return flags


def dynamic_flags(
    scores: np.ndarray,
    *,
    method: str = "sigma",
    k: float = 4.0,
    window: int | None = None,
    step: int | None = None,
    min_percent: float = 0.0,
) -> tuple[np.ndarray, np.ndarray]:
    """Flags from thresholds in sliding windows, and the threshold per point (the lowest of the
    windows holding it).

    ``method`` is ``sigma`` (``mean + k std`` per window) or ``hundman`` (the z search).
    ``window``/``step`` default to the whole series (one global threshold). Pruning with
    ``min_percent`` is done per window, before the windows' flags are combined, as Hundman does.
    """
    if method not in ("sigma", "hundman"):
        raise SquallError(f"dynamic threshold method must be sigma or hundman, got {method!r}")
    s = np.asarray(scores, dtype=np.float64)
    n = len(s)
    flags = np.zeros(n, dtype=bool)
    level = np.full(n, np.inf)
    if n == 0:
        return flags, level
    window = n if not window or window >= n else int(window)
    step = window if not step else max(1, int(step))
    starts = list(range(0, max(n - window, 0) + 1, step))
    if starts[-1] + window < n:
        starts.append(n - window)  # the last window ends at the last point
    for a in starts:
        part = s[a : a + window]
        eps = sigma_threshold(part, k) if method == "sigma" else hundman_epsilon(part)
        part_flags = np.where(np.isfinite(part), part > eps, False)
        if min_percent > 0:
            part_flags = prune_sequences(part, part_flags, min_percent)
        flags[a : a + window] |= part_flags
        level[a : a + window] = np.minimum(level[a : a + window], eps)
    return flags, level


def fit_gpd(excesses: np.ndarray, method: str = "grimshaw") -> tuple[float, float]:
    """Shape ``gamma`` and scale ``sigma`` of a generalized Pareto distribution fitted to
    positive ``excesses`` (``grimshaw`` maximum likelihood or ``moments``)."""
    y = _finite(excesses)
    y = y[y > 0]
    if len(y) < 2:
        raise SquallError(
            f"a generalized Pareto fit needs at least 2 positive excesses, got {len(y)}"
        )
    mean, var = float(y.mean()), float(y.var())
    if method == "moments":
        if var == 0:
            return 0.0, mean
        ratio = mean * mean / var
        return 0.5 * (1.0 - ratio), 0.5 * mean * (ratio + 1.0)
    if method != "grimshaw":
        raise SquallError(f"GPD fit method must be grimshaw or moments, got {method!r}")
    return _grimshaw(y)


def _gpd_loglik(y: np.ndarray, gamma: float, sigma: float) -> float:
    if sigma <= 0:
        return -math.inf
    if abs(gamma) < 1e-12:
        return float(-len(y) * math.log(sigma) - y.sum() / sigma)
    z = 1.0 + gamma * y / sigma
    if np.any(z <= 0):
        return -math.inf
    return float(-len(y) * math.log(sigma) - (1.0 + 1.0 / gamma) * np.log(z).sum())


def _grimshaw(y: np.ndarray, grid: int = 400) -> tuple[float, float]:
    """Grimshaw (1993): the likelihood's stationary points are the roots ``x`` of
    ``w(x) = u(x) v(x) - 1`` with ``u = mean(1 / (1 + x y))`` and ``v = 1 + mean(log(1 + x y))``,
    giving ``gamma = v(x) - 1`` and ``sigma = gamma / x``. The roots lie in
    ``(-1 / y_max, 0)`` and ``(0, 2 (mean - y_min) / (mean * y_min))``; they are bracketed on a
    grid and refined by bisection, and the candidate (the exponential ``gamma = 0`` included) with
    the highest log-likelihood wins."""
    ymin, ymax, ymean = float(y.min()), float(y.max()), float(y.mean())

    def w(x: float) -> float:
        t = 1.0 + x * y
        return float(np.mean(1.0 / t) * (1.0 + np.mean(np.log(t))) - 1.0)

    eps = 1e-8 / ymean
    lo_a, lo_b = -1.0 / ymax + eps, -eps
    hi_a, hi_b = eps, 2.0 * (ymean - ymin) / (ymean * ymin) if ymin > 0 else 1e6 / ymean
    candidates: list[float] = []
    for a, b in ((lo_a, lo_b), (hi_a, max(hi_b, 2 * eps))):
        if not a < b:
            continue
        # geometric spacing towards both ends of the bracket, where roots tend to sit
        if a < 0:
            xs = -np.geomspace(-a, -b, grid)
        else:
            xs = np.geomspace(a, b, grid)
        ws = np.array([w(x) for x in xs])
        sign = np.sign(ws)
        for i in np.flatnonzero(sign[:-1] * sign[1:] < 0):
            left, right, wl = xs[i], xs[i + 1], ws[i]
            for _ in range(60):
                mid = 0.5 * (left + right)
                wm = w(mid)
                if np.sign(wm) == np.sign(wl):
                    left, wl = mid, wm
                else:
                    right = mid
            candidates.append(0.5 * (left + right))
    best = (0.0, ymean)  # exponential distribution: gamma = 0, sigma = mean
    best_ll = _gpd_loglik(y, *best)
    for x in candidates:
        gamma = float(np.mean(np.log1p(x * y)))
        if x == 0 or gamma == 0:
            continue
        sigma = gamma / x
        ll = _gpd_loglik(y, gamma, sigma)
        if ll > best_ll:
            best, best_ll = (gamma, sigma), ll
    return best


def pot_threshold(
    scores: np.ndarray, q: float = 1e-3, level: float = 0.98, method: str = "grimshaw"
) -> dict[str, Any]:
    """SPOT's threshold at risk ``q`` from the peaks over the ``level`` quantile of ``scores``.

    Returns ``{"value", "initial", "gamma", "sigma", "peaks", "n"}``. With fewer than 10 peaks
    the fit is not trusted and the value is the largest score (nothing but the maximum can
    exceed it: too little data to extrapolate).
    """
    if not 0 < q < 1:
        raise SquallError(f"POT risk q must be in (0, 1), got {q}")
    if not 0 < level < 1:
        raise SquallError(f"POT initial level must be in (0, 1), got {level}")
    x = _finite(scores)
    if len(x) == 0:
        return {
            "value": math.inf,
            "initial": math.inf,
            "gamma": math.nan,
            "sigma": math.nan,
            "peaks": 0,
            "n": 0,
        }
    t = float(np.quantile(x, level))
    peaks = x[x > t] - t
    out = {"initial": t, "peaks": int(len(peaks)), "n": int(len(x))}
    if len(peaks) < 10:
        return out | {"value": float(x.max()), "gamma": math.nan, "sigma": math.nan}
    gamma, sigma = fit_gpd(peaks, method)
    r = q * len(x) / len(peaks)
    if abs(gamma) < 1e-12:
        value = t - sigma * math.log(r)
    else:
        value = t + sigma / gamma * (r ** (-gamma) - 1.0)
    return out | {"value": float(value), "gamma": float(gamma), "sigma": float(sigma)}


def robust_z(values: np.ndarray) -> np.ndarray:
    """``(x - median) / (1.4826 * MAD)`` per column of ``values`` (NaN stays NaN). A column with
    MAD 0 uses the mean absolute deviation from the median (times 1.2533, its normal-consistency
    factor) instead, and all zeros when that is 0 too."""
    v = np.asarray(values, dtype=np.float64)
    flat = v.reshape(len(v), -1)
    out = np.zeros_like(flat)
    for j in range(flat.shape[1]):
        col = flat[:, j]
        ok = np.isfinite(col)
        if not ok.any():
            out[:, j] = np.nan
            continue
        med = np.median(col[ok])
        dev = np.abs(col[ok] - med)
        scale = 1.4826 * np.median(dev)
        if scale == 0:
            scale = 1.2533 * dev.mean()
        out[:, j] = (col - med) / scale if scale > 0 else np.where(ok, 0.0, np.nan)
    return out.reshape(v.shape)
