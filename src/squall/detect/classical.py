"""Classical per-step anomaly scorers on multivariate series (issue 15, section 2).

Each scorer is a small class: ``fit(X_train)`` returns the scorer, ``score(X)`` one float per
row of ``X`` (higher = more anomalous, NaN only where a step cannot be scored), ``params()``
its parameters as JSON and ``state()`` / :func:`from_state` its fitted state as JSON
parameters plus numpy arrays (no pickle). ``X`` is ``(n_steps, n_features)`` in time order
(a 1-D array is one feature); one call is one track.

``PcaDetector``
    PCA on subsequences: every window of ``m`` consecutive steps over all features, the series
    first standardised per feature with the training mean and standard deviation. The ``k``
    leading components explain ``variance`` (90 %) of the training windows' variance; a
    window's score is its mean squared reconstruction error (over its ``m * n_features``
    values) after projection on them. Fitted from the ``(m F) x (m F)`` covariance
    accumulated in chunks (never an ``n x n`` or whole ``n x m F`` copy).
``IsolationForestDetector``
    scikit-learn's ``IsolationForest`` (``n_estimators`` trees, ``max_samples`` per tree,
    ``random_state=seed``) on the same standardised windows; a window's score is
    ``-score_samples`` (the forest's anomaly score in (0, 1]). Its state is the training series
    and the seed: :func:`from_state` refits the forest on them, which gives identical scores
    (the fit is deterministic for a seed and a scikit-learn version; the version is recorded).
    A lone one-step spike moves its windows along one coordinate out of ``m F``, which a random
    split rarely picks: the forest ranks it above normal steps, but weakly (AUC 0.71 in the
    tests, where PCA and the matrix profile exceed 0.95).
``MatrixProfileDetector``
    The matrix profile (stumpy): a window's score is the z-normalised Euclidean distance to its
    nearest training window (an AB-join, ``stumpy.stump(T_A=X, m, T_B=train,
    ignore_trivial=False)``), per feature, the largest over features. When ``X`` is the
    training series or a contiguous piece of it, the nearest neighbour is sought elsewhere in
    the training series (a self-join with stumpy's exclusion zone), so scoring the training
    data is not trivially zero. Windows are z-normalised one by one: the profile sees shapes,
    so a level shift shows at its edges only. Cost is O(n_X n_train) time.
``RobustZDetector``
    ``|x - median| / (1.4826 MAD)`` per feature with the training median and MAD (the scale
    rule of :func:`squall.detect.dynamic.robust_z`: a feature with MAD 0 uses 1.2533 x the mean
    absolute deviation, and never scores when that is 0 too); a step's score is the largest
    over its observed features.

Subsequence length ``m`` (default: the training data's own dominant period)
    The lag of the highest local maximum of the training data's autocorrelation (averaged over
    the standardised features), searched over lags 4 .. min(256, n_train // 4); 32 when no
    local maximum exceeds 4 / sqrt(n_train) (twice white noise's 95 % band: no periodicity to
    follow; 32 is a plain choice, short enough for short series). A window of one period holds
    one whole cycle, whatever the sampling; 256 caps the covariance of PCA ((256 F)^2) and the
    matrix profile's cost, and n_train // 4 keeps at least four periods to learn from.
Windows to steps
    A step's score is the mean of the scores of the scorable windows that cover it (up to
    ``m``): the mean localises an anomaly better than the max, which would spread one bad window
    over ``2 m - 1`` steps at full height.
Missing values (NaN or +-inf in ``X``)
    Per feature, interior gaps of at most ``max_gap`` consecutive missing steps (default
    ``m // 4``) are filled by linear interpolation; longer gaps and missing values at the ends
    stay missing. A window holding a missing value is neither fitted nor scored, and a step
    with no observed feature scores NaN (nothing was observed there), as does a step no
    scorable window covers. ``RobustZDetector`` scores each observed value alone and needs no
    filling.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, ClassVar

import numpy as np

from squall.errors import SquallError

#: Longest default subsequence (steps).
MAX_M = 256
#: Shortest subsequence the period search considers (steps).
MIN_M = 4
#: Default subsequence when the training data show no period (steps).
FALLBACK_M = 32
#: Windows per chunk when fitting or scoring.
CHUNK = 4096
#: At most this many training windows are given to the isolation forest (chosen with the seed).
IF_MAX_TRAIN = 65536

KINDS = ("pca", "iforest", "matrix-profile", "robust-z")


def _require(module: str) -> Any:
    """Import ``module`` (sklearn, stumpy) or say which extra installs it."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError:
        raise SquallError(
            f"{module} is not installed: pip install 'squall[detect]' (the detect extra)"
        ) from None


def as_series(X: Any, name: str = "X") -> np.ndarray:
    """``X`` as a float64 ``(n_steps, n_features)`` array, +-inf as NaN (missing)."""
    arr = np.array(X, dtype=np.float64)
    if arr.ndim == 1:
        arr = arr[:, None]
    if arr.ndim != 2 or arr.shape[1] == 0:
        raise SquallError(f"{name} must be (n_steps, n_features), got shape {np.shape(X)}")
    arr[np.isinf(arr)] = np.nan
    return arr


def fill_gaps(X: np.ndarray, max_gap: int) -> np.ndarray:
    """A copy of ``X`` with each feature's interior gaps of at most ``max_gap`` missing steps
    filled by linear interpolation (longer gaps and the ends stay NaN)."""
    out = np.array(X, dtype=np.float64)
    if max_gap <= 0:
        return out
    idx = np.arange(len(out))
    for j in range(out.shape[1]):
        col = out[:, j]
        miss = np.isnan(col)
        if not miss.any() or miss.all():
            continue
        edges = np.diff(np.concatenate([[0], miss.astype(np.int8), [0]]))
        starts, ends = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
        ok = ~miss
        for a, b in zip(starts, ends, strict=True):
            if a == 0 or b == len(col) or b - a > max_gap:
                continue
            col[a:b] = np.interp(idx[a:b], idx[ok], col[ok])
    return out


def window_ok(X: np.ndarray, m: int) -> np.ndarray:
    """For each of the ``n - m + 1`` windows of ``X``: True when it holds no NaN."""
    n = len(X)
    if n < m:
        return np.zeros(0, dtype=bool)
    bad = np.concatenate([[0], np.cumsum(np.isnan(X).any(axis=1))])
    ok: np.ndarray = (bad[m:] - bad[: n - m + 1]) == 0
    return ok


def to_steps(window_scores: np.ndarray, n: int, m: int) -> np.ndarray:
    """Per-step scores: the mean of the finite scores of the windows covering each step."""
    w = np.asarray(window_scores, dtype=np.float64)
    out = np.full(n, np.nan)
    if len(w) == 0:
        return out
    finite = np.isfinite(w)
    s = np.concatenate([[0.0], np.cumsum(np.where(finite, w, 0.0))])
    c = np.concatenate([[0], np.cumsum(finite)])
    t = np.arange(n)
    lo = np.maximum(0, t - m + 1)
    hi = np.minimum(t, len(w) - 1) + 1
    count = c[hi] - c[lo]
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = (s[hi] - s[lo]) / count
    out[count > 0] = mean[count > 0]
    return out


def dominant_period(X: np.ndarray, cap: int = MAX_M) -> int:
    """The subsequence length default (see the module docstring): the lag of the highest local
    maximum of the mean autocorrelation of the standardised features, ``MIN_M`` ..
    ``min(cap, n // 4)``, above ``4 / sqrt(n)``; ``FALLBACK_M`` (capped the same way) when
    there is none."""
    X = as_series(X)
    n = len(X)
    hi = min(cap, n // 4)
    if hi < MIN_M:
        return max(1, min(FALLBACK_M, n // 2))
    acf = np.zeros(hi + 2)
    used = 0
    idx = np.arange(n)
    for j in range(X.shape[1]):
        col = X[:, j]
        ok = np.isfinite(col)
        if ok.sum() < 2:
            continue
        col = np.interp(idx, idx[ok], col[ok])
        col = col - col.mean()
        var = float(col @ col)
        if var == 0:
            continue
        size = 1 << int(np.ceil(np.log2(2 * n)))
        f = np.fft.rfft(col, size)
        acf += np.fft.irfft(f * np.conj(f), size)[: hi + 2] / var
        used += 1
    if used == 0:
        return min(FALLBACK_M, hi)
    acf /= used
    lags = np.arange(MIN_M, hi + 1)
    strong = acf[lags] > 4 / np.sqrt(n)  # well outside white noise's +-2 / sqrt(n) band
    peak = (acf[lags] > acf[lags - 1]) & (acf[lags] >= acf[lags + 1]) & strong
    if not peak.any():
        return min(FALLBACK_M, hi)
    cand = lags[peak]
    return int(cand[np.argmax(acf[cand])])


def _chunks(total: int, size: int = CHUNK) -> Iterator[slice]:
    for a in range(0, total, size):
        yield slice(a, min(total, a + size))


def _flat_windows(Z: np.ndarray, m: int, rows: np.ndarray) -> np.ndarray:
    """The windows starting at ``rows`` as ``(len(rows), m * F)`` rows (step-major: the F
    features of the first step, then the second step's, ...)."""
    view = np.lib.stride_tricks.sliding_window_view(Z, m, axis=0)  # (W, F, m)
    return np.ascontiguousarray(view[rows].transpose(0, 2, 1)).reshape(len(rows), -1)


class ClassicalDetector:
    """What every classical scorer has (see the module docstring)."""

    kind: ClassVar[str] = ""

    def fit(self, X_train: Any) -> ClassicalDetector:
        raise NotImplementedError

    def score(self, X: Any) -> np.ndarray:
        raise NotImplementedError

    def params(self) -> dict[str, Any]:
        raise NotImplementedError

    def _arrays(self) -> dict[str, np.ndarray]:
        raise NotImplementedError

    def _restore(self, arrays: dict[str, np.ndarray]) -> None:
        raise NotImplementedError

    @property
    def fitted(self) -> bool:
        raise NotImplementedError

    def _check_fitted(self) -> None:
        if not self.fitted:
            raise SquallError(f"{self.kind} detector is not fitted: call fit(X_train) first")

    def state(self) -> dict[str, Any]:
        """``{"params": JSON-able parameters, "arrays": numpy arrays}``: everything
        :func:`from_state` needs (store the arrays with ``np.savez``, no pickle)."""
        self._check_fitted()
        return {"params": {"kind": self.kind, **self.params()}, "arrays": self._arrays()}


class _Subsequence(ClassicalDetector):
    """Shared by the window scorers: ``m``, ``max_gap``, standardisation, window bookkeeping."""

    def __init__(self, m: int | None = None, max_gap: int | None = None) -> None:
        if m is not None and (not isinstance(m, int | np.integer) or m < 1):
            raise SquallError(f"m must be a positive integer or None, got {m!r}")
        if max_gap is not None and (not isinstance(max_gap, int | np.integer) or max_gap < 0):
            raise SquallError(f"max_gap must be a non-negative integer or None, got {max_gap!r}")
        self.m = None if m is None else int(m)
        self.max_gap = None if max_gap is None else int(max_gap)
        self.m_: int | None = None
        self.n_features_: int | None = None

    @property
    def gap_(self) -> int:
        assert self.m_ is not None
        return self.max_gap if self.max_gap is not None else self.m_ // 4

    def _fit_m(self, X: np.ndarray) -> None:
        self.m_ = self.m if self.m is not None else dominant_period(X)
        self.n_features_ = X.shape[1]
        if len(X) < self.m_:
            raise SquallError(
                f"{self.kind}: {len(X)} training steps, fewer than the subsequence length "
                f"m={self.m_}"
            )

    def _input(self, X: Any) -> np.ndarray:
        self._check_fitted()
        arr = as_series(X)
        if arr.shape[1] != self.n_features_:
            raise SquallError(
                f"{self.kind}: X has {arr.shape[1]} features, the detector was fitted on "
                f"{self.n_features_}"
            )
        return arr

    def _finish(self, raw: np.ndarray, window_scores: np.ndarray) -> np.ndarray:
        """Window scores to steps; steps with no observed feature NaN."""
        assert self.m_ is not None
        out = to_steps(window_scores, len(raw), self.m_)
        out[np.isnan(raw).all(axis=1)] = np.nan
        return out

    def params(self) -> dict[str, Any]:
        return {"m": self.m_ if self.m_ is not None else self.m, "max_gap": self.max_gap}


class _Standardised(_Subsequence):
    """Window scorers on the series standardised with the training mean and sd per feature."""

    center_: np.ndarray
    scale_: np.ndarray

    def _standardise_fit(self, filled: np.ndarray) -> None:
        with np.errstate(invalid="ignore"):
            center = np.nanmean(filled, axis=0)
            scale = np.nanstd(filled, axis=0)
        center = np.where(np.isfinite(center), center, 0.0)
        scale = np.where(np.isfinite(scale) & (scale > 0), scale, 1.0)
        self.center_, self.scale_ = center, scale

    def _standardise(self, filled: np.ndarray) -> np.ndarray:
        out: np.ndarray = (filled - self.center_) / self.scale_
        return out


class PcaDetector(_Standardised):
    """PCA reconstruction error of standardised subsequences (see the module docstring).

    ``m``: subsequence length (None: the training data's dominant period); ``variance``: the
    share of the training windows' variance the kept components explain (0.9: most of the
    normal shape kept, the rest, where anomalies go, left out); ``max_gap``: longest gap filled
    (None: ``m // 4``).
    """

    kind = "pca"

    def __init__(
        self, m: int | None = None, variance: float = 0.9, max_gap: int | None = None
    ) -> None:
        super().__init__(m, max_gap)
        if not 0 < float(variance) <= 1:
            raise SquallError(f"variance must be in (0, 1], got {variance!r}")
        self.variance = float(variance)
        self.k_: int | None = None
        self.mean_: np.ndarray | None = None
        self.components_: np.ndarray | None = None

    @property
    def fitted(self) -> bool:
        return self.components_ is not None

    def fit(self, X_train: Any) -> PcaDetector:
        raw = as_series(X_train, "X_train")
        self._fit_m(raw)
        assert self.m_ is not None
        filled = fill_gaps(raw, self.gap_)
        self._standardise_fit(filled)
        Z = self._standardise(filled)
        rows = np.flatnonzero(window_ok(Z, self.m_))
        if len(rows) < 2:
            raise SquallError(f"pca: fewer than 2 complete training windows of {self.m_} steps")
        d = self.m_ * Z.shape[1]
        total = np.zeros(d)
        for sl in _chunks(len(rows)):
            total += _flat_windows(Z, self.m_, rows[sl]).sum(axis=0)
        mean = total / len(rows)
        cov = np.zeros((d, d))
        for sl in _chunks(len(rows)):
            w = _flat_windows(Z, self.m_, rows[sl]) - mean
            cov += w.T @ w
        cov /= len(rows) - 1
        vals, vecs = np.linalg.eigh(cov)
        order = np.argsort(vals)[::-1]
        vals, vecs = np.clip(vals[order], 0, None), vecs[:, order]
        if vals.sum() > 0:
            share = np.cumsum(vals) / vals.sum()
            k = int(np.searchsorted(share, self.variance - 1e-12) + 1)
        else:
            k = 0
        self.k_ = min(k, d)
        self.mean_ = mean
        self.components_ = vecs[:, : self.k_]
        return self

    def window_scores(self, X: Any) -> np.ndarray:
        """Each window's mean squared reconstruction error (NaN when not scorable)."""
        raw = self._input(X)
        assert self.m_ is not None and self.components_ is not None and self.mean_ is not None
        Z = self._standardise(fill_gaps(raw, self.gap_))
        ok = window_ok(Z, self.m_)
        out = np.full(len(ok), np.nan)
        rows = np.flatnonzero(ok)
        V = self.components_
        for sl in _chunks(len(rows)):
            w = _flat_windows(Z, self.m_, rows[sl]) - self.mean_
            r = w - (w @ V) @ V.T
            out[rows[sl]] = np.mean(r * r, axis=1)
        return out

    def score(self, X: Any) -> np.ndarray:
        raw = self._input(X)
        return self._finish(raw, self.window_scores(raw))

    def params(self) -> dict[str, Any]:
        return {**super().params(), "variance": self.variance}

    def _arrays(self) -> dict[str, np.ndarray]:
        assert self.mean_ is not None and self.components_ is not None
        return {
            "center": self.center_,
            "scale": self.scale_,
            "mean": self.mean_,
            "components": self.components_,
        }

    def _restore(self, arrays: dict[str, np.ndarray]) -> None:
        self.center_ = np.asarray(arrays["center"], dtype=np.float64)
        self.scale_ = np.asarray(arrays["scale"], dtype=np.float64)
        self.mean_ = np.asarray(arrays["mean"], dtype=np.float64)
        self.components_ = np.asarray(arrays["components"], dtype=np.float64)
        self.n_features_ = len(self.center_)
        self.m_ = self.m
        self.k_ = self.components_.shape[1]
        if self.m_ is None or self.components_.shape[0] != self.m_ * self.n_features_:
            raise SquallError("pca state: components do not match m and the features")


class IsolationForestDetector(_Standardised):
    """scikit-learn's IsolationForest on standardised subsequences (see the module docstring).

    ``n_estimators`` 100 and ``max_samples`` 256 are the defaults of Liu et al. (2008) and of
    scikit-learn (path lengths converge by then); ``seed`` fixes the forest; ``m``,
    ``max_gap`` as for :class:`PcaDetector`. At most ``IF_MAX_TRAIN`` training windows (a
    seeded sample) are handed to the forest, which draws ``max_samples`` per tree anyway.
    """

    kind = "iforest"

    def __init__(
        self,
        m: int | None = None,
        n_estimators: int = 100,
        max_samples: int = 256,
        seed: int = 0,
        max_gap: int | None = None,
    ) -> None:
        super().__init__(m, max_gap)
        if int(n_estimators) < 1 or int(max_samples) < 1:
            raise SquallError("n_estimators and max_samples must be positive integers")
        self.n_estimators = int(n_estimators)
        self.max_samples = int(max_samples)
        self.seed = int(seed)
        self.forest_: Any = None
        self.train_: np.ndarray | None = None
        self.sklearn_version_: str | None = None

    @property
    def fitted(self) -> bool:
        return self.forest_ is not None

    def fit(self, X_train: Any) -> IsolationForestDetector:
        ensemble = _require("sklearn.ensemble")
        sklearn = _require("sklearn")
        raw = as_series(X_train, "X_train")
        self._fit_m(raw)
        assert self.m_ is not None
        filled = fill_gaps(raw, self.gap_)
        self._standardise_fit(filled)
        Z = self._standardise(filled)
        rows = np.flatnonzero(window_ok(Z, self.m_))
        if len(rows) < 2:
            raise SquallError(f"iforest: fewer than 2 complete training windows of {self.m_} steps")
        if len(rows) > IF_MAX_TRAIN:
            pick = np.random.default_rng(self.seed).choice(len(rows), IF_MAX_TRAIN, replace=False)
            rows = rows[np.sort(pick)]
        forest = ensemble.IsolationForest(
            n_estimators=self.n_estimators,
            max_samples=min(self.max_samples, len(rows)),
            random_state=self.seed,
        )
        forest.fit(_flat_windows(Z, self.m_, rows))
        self.forest_ = forest
        self.train_ = raw
        self.sklearn_version_ = str(sklearn.__version__)
        return self

    def window_scores(self, X: Any) -> np.ndarray:
        """Each window's ``-score_samples`` (NaN when not scorable)."""
        raw = self._input(X)
        assert self.m_ is not None
        Z = self._standardise(fill_gaps(raw, self.gap_))
        ok = window_ok(Z, self.m_)
        out = np.full(len(ok), np.nan)
        rows = np.flatnonzero(ok)
        for sl in _chunks(len(rows)):
            out[rows[sl]] = -self.forest_.score_samples(_flat_windows(Z, self.m_, rows[sl]))
        return out

    def score(self, X: Any) -> np.ndarray:
        raw = self._input(X)
        return self._finish(raw, self.window_scores(raw))

    def params(self) -> dict[str, Any]:
        out = {
            **super().params(),
            "n_estimators": self.n_estimators,
            "max_samples": self.max_samples,
            "seed": self.seed,
        }
        return out

    def state(self) -> dict[str, Any]:
        st = super().state()
        st["params"]["sklearn_version"] = self.sklearn_version_
        return st

    def _arrays(self) -> dict[str, np.ndarray]:
        assert self.train_ is not None
        return {"train": self.train_}

    def _restore(self, arrays: dict[str, np.ndarray]) -> None:
        self.fit(np.asarray(arrays["train"], dtype=np.float64))


class MatrixProfileDetector(_Subsequence):
    """Distance to the nearest training subsequence (stumpy; see the module docstring).

    ``m``, ``max_gap`` as for :class:`PcaDetector`. Scores are z-normalised Euclidean
    distances, in [0, 2 sqrt(m)].
    """

    kind = "matrix-profile"

    def __init__(self, m: int | None = None, max_gap: int | None = None) -> None:
        super().__init__(m, max_gap)
        self.train_: np.ndarray | None = None
        self._self_profile: np.ndarray | None = None

    @property
    def fitted(self) -> bool:
        return self.train_ is not None

    def fit(self, X_train: Any) -> MatrixProfileDetector:
        _require("stumpy")
        raw = as_series(X_train, "X_train")
        self._fit_m(raw)
        assert self.m_ is not None
        if len(raw) < self.m_ + 1:
            raise SquallError(f"matrix-profile: need more than m={self.m_} training steps")
        self.train_ = raw
        self._self_profile = None
        return self

    def _prepared(self, raw: np.ndarray) -> np.ndarray:
        """Gaps filled (stumpy gives any window still holding a NaN an infinite distance, so it
        is never a nearest neighbour and scores NaN)."""
        assert self.m_ is not None
        return fill_gaps(raw, self.gap_)

    def _locate(self, raw: np.ndarray) -> int | None:
        """Where ``raw`` sits in the training series as a contiguous piece, else None."""
        train = self.train_
        assert train is not None
        n = len(raw)
        if n > len(train) or n == 0:
            return None
        span = len(train) - n + 1

        def same(rows: np.ndarray, row: np.ndarray) -> np.ndarray:
            eq: np.ndarray = np.all((rows == row) | (np.isnan(rows) & np.isnan(row)), axis=1)
            return eq

        cand = np.flatnonzero(same(train[:span], raw[0]) & same(train[n - 1 :], raw[-1]))
        for c in cand:
            if np.array_equal(train[c : c + n], raw, equal_nan=True):
                return int(c)
        return None

    def _profile(self, A: np.ndarray, B: np.ndarray | None) -> np.ndarray:
        """Per-window distance, the largest over features (``B`` None: self-join of ``A``)."""
        stumpy = _require("stumpy")
        assert self.m_ is not None
        out = np.full(len(A) - self.m_ + 1, -np.inf)
        for j in range(A.shape[1]):
            if B is None:
                mp = stumpy.stump(A[:, j], self.m_, ignore_trivial=True)
            else:
                mp = stumpy.stump(A[:, j], self.m_, T_B=B[:, j], ignore_trivial=False)
            d = np.asarray(mp[:, 0], dtype=np.float64)
            out = np.maximum(out, d)
        out[~np.isfinite(out)] = np.nan
        out[~window_ok(A, self.m_)] = np.nan
        return out

    def window_scores(self, X: Any) -> np.ndarray:
        """Each window's distance to its nearest training window (NaN when not scorable)."""
        raw = self._input(X)
        assert self.m_ is not None and self.train_ is not None
        if len(raw) < self.m_:
            return np.zeros(0)
        at = self._locate(raw)
        if at is not None:
            if self._self_profile is None:
                self._self_profile = self._profile(self._prepared(self.train_), None)
            return self._self_profile[at : at + len(raw) - self.m_ + 1].copy()
        return self._profile(self._prepared(raw), self._prepared(self.train_))

    def score(self, X: Any) -> np.ndarray:
        raw = self._input(X)
        return self._finish(raw, self.window_scores(raw))

    def _arrays(self) -> dict[str, np.ndarray]:
        assert self.train_ is not None
        return {"train": self.train_}

    def _restore(self, arrays: dict[str, np.ndarray]) -> None:
        self.fit(np.asarray(arrays["train"], dtype=np.float64))


class RobustZDetector(ClassicalDetector):
    """``|x - median| / (1.4826 MAD)`` per feature from the training data, the largest over a
    step's observed features (see the module docstring). No parameters."""

    kind = "robust-z"

    def __init__(self) -> None:
        self.median_: np.ndarray | None = None
        self.scale_: np.ndarray | None = None

    @property
    def fitted(self) -> bool:
        return self.median_ is not None

    def fit(self, X_train: Any) -> RobustZDetector:
        raw = as_series(X_train, "X_train")
        med = np.full(raw.shape[1], np.nan)
        scale = np.full(raw.shape[1], np.nan)
        for j in range(raw.shape[1]):
            col = raw[:, j][np.isfinite(raw[:, j])]
            if len(col) == 0:
                continue
            med[j] = np.median(col)
            dev = np.abs(col - med[j])
            s = 1.4826 * np.median(dev)
            if s == 0:
                s = 1.2533 * dev.mean()
            scale[j] = s
        self.median_, self.scale_ = med, scale
        return self

    def score(self, X: Any) -> np.ndarray:
        self._check_fitted()
        assert self.median_ is not None and self.scale_ is not None
        raw = as_series(X)
        if raw.shape[1] != len(self.median_):
            raise SquallError(
                f"robust-z: X has {raw.shape[1]} features, the detector was fitted on "
                f"{len(self.median_)}"
            )
        usable = np.isfinite(self.scale_) & (self.scale_ > 0)
        with np.errstate(invalid="ignore", divide="ignore"):
            z = np.abs(raw - self.median_) / np.where(usable, self.scale_, 1.0)
        z[:, ~usable] = np.where(np.isnan(raw[:, ~usable]), np.nan, 0.0)
        out = np.full(len(raw), np.nan)
        seen = np.isfinite(z).any(axis=1)
        out[seen] = np.nanmax(z[seen], axis=1)
        return out

    def params(self) -> dict[str, Any]:
        return {}

    def _arrays(self) -> dict[str, np.ndarray]:
        assert self.median_ is not None and self.scale_ is not None
        return {"median": self.median_, "scale": self.scale_}

    def _restore(self, arrays: dict[str, np.ndarray]) -> None:
        self.median_ = np.asarray(arrays["median"], dtype=np.float64)
        self.scale_ = np.asarray(arrays["scale"], dtype=np.float64)


CLASSES: dict[str, type[ClassicalDetector]] = {
    "pca": PcaDetector,
    "iforest": IsolationForestDetector,
    "matrix-profile": MatrixProfileDetector,
    "robust-z": RobustZDetector,
}


def make(kind: str, /, seed: int | None = None, **params: Any) -> ClassicalDetector:
    """A new scorer of ``kind`` (``pca``, ``iforest``, ``matrix-profile``, ``robust-z``) with
    ``params``; ``seed`` goes to the scorers that draw random numbers (``iforest``)."""
    if kind not in CLASSES:
        raise SquallError(f"unknown classical detector {kind!r}: one of {', '.join(KINDS)}")
    params = {k: v for k, v in params.items() if k not in ("kind", "sklearn_version")}
    if seed is not None and kind == "iforest":
        params["seed"] = seed
    try:
        return CLASSES[kind](**params)
    except TypeError as exc:
        raise SquallError(f"{kind}: bad parameters {sorted(params)} ({exc})") from None


def from_state(kind: str, state: dict[str, Any]) -> ClassicalDetector:
    """The fitted scorer that :meth:`ClassicalDetector.state` described (``iforest`` and
    ``matrix-profile`` are refitted on their stored training series: identical scores)."""
    params = dict(state["params"])
    if params.get("kind", kind) != kind:
        raise SquallError(f"state is of a {params['kind']!r} detector, not {kind!r}")
    det = make(kind, **params)
    det._restore({k: np.asarray(v) for k, v in state["arrays"].items()})
    return det
