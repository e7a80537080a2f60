"""Classical forecasts from one lookback: each maps a lookback ``(L,)`` of regularly spaced,
finite values to a forecast ``(H,)`` of the next ``H`` steps.

* ``naive``: the last value, ``f_h = y_L``.
* ``seasonal_naive``: the value one season earlier, ``f_h = y_{L - m + ((h - 1) mod m)}``
  (``m <= L``).
* ``harmonic``: harmonic regression: the mean plus the ``k`` strongest sinusoids of the lookback
  (:func:`squall.forecast.spectrum.strongest_frequencies`: zero-padded DFT peaks, refined,
  fitted jointly by least squares), evaluated beyond it. Unlike the plain DFT extrapolation
  (which repeats the lookback), a period that does not divide ``L`` is continued correctly.
* ``ar``: linear autoregression ``y_t = c + sum_{i=1..p} a_i y_{t-i}`` fitted by least squares
  on the lookback, forecast recursively (each forecast feeds the next).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from numpy.typing import ArrayLike, NDArray

from squall.errors import SquallError
from squall.forecast.spectrum import eval_sinusoids, fit_sinusoids, strongest_frequencies

__all__ = [
    "BASELINES",
    "DEFAULT_AR_ORDER",
    "DEFAULT_HARMONICS",
    "ar",
    "ar_order",
    "fit_ar",
    "harmonic",
    "naive",
    "seasonal_naive",
]

Array = NDArray[np.float64]
#: Sinusoids of the harmonic baseline (``k``): enough for a daily cycle, its first overtones
#: and one slower swing, few enough not to fit the noise of a short lookback.
DEFAULT_HARMONICS = 5
#: Largest AR order by default; :func:`ar_order` lowers it for short lookbacks.
DEFAULT_AR_ORDER = 8


def _lookback(values: ArrayLike, horizon: int, least: int = 1) -> Array:
    y = np.asarray(values, dtype=np.float64)
    if y.ndim != 1 or len(y) < least:
        raise SquallError(f"a lookback must be 1-D with at least {least} values, got {y.shape}")
    if not np.isfinite(y).all():
        raise SquallError("a lookback must hold finite values (fill its gaps first)")
    if not isinstance(horizon, (int, np.integer)) or horizon < 1:
        raise SquallError(f"horizon must be an integer >= 1, got {horizon!r}")
    return y


def naive(lookback: ArrayLike, horizon: int) -> Array:
    """The last value, repeated."""
    y = _lookback(lookback, horizon)
    return np.full(horizon, y[-1])


def seasonal_naive(lookback: ArrayLike, horizon: int, m: int) -> Array:
    """The last season, repeated: ``f_h = y[L - m + (h - 1) % m]``."""
    y = _lookback(lookback, horizon)
    if not isinstance(m, (int, np.integer)) or m < 1 or m > len(y):
        raise SquallError(f"season must be an integer in [1, lookback {len(y)}], got {m!r}")
    return np.asarray(y[len(y) - m + np.arange(horizon) % m], dtype=np.float64)


def harmonic(lookback: ArrayLike, horizon: int, k: int = DEFAULT_HARMONICS) -> Array:
    """Mean + the ``k`` strongest sinusoids of the lookback, continued ``horizon`` steps."""
    y = _lookback(lookback, horizon, least=4)
    freqs = strongest_frequencies(y, k)
    t = np.arange(len(y), dtype=np.float64)
    coef = fit_sinusoids(t, y, freqs)
    return eval_sinusoids(coef, freqs, len(y) + np.arange(horizon, dtype=np.float64))


def ar_order(lookback: int, p: int = DEFAULT_AR_ORDER) -> int:
    """The AR order used for a lookback of ``lookback`` steps: ``p``, lowered so that the least
    squares fit has at least twice as many equations (``L - p``) as unknowns (``p + 1``)."""
    return max(1, min(p, (lookback - 2) // 3))


def fit_ar(values: ArrayLike, p: int) -> tuple[float, Array]:
    """Least-squares AR(p) on a series: ``(c, a)`` with ``y_t = c + sum_i a[i-1] y_{t-i}``."""
    y = np.asarray(values, dtype=np.float64)
    if p < 1 or len(y) < 2 * p + 1:
        raise SquallError(f"AR({p}) needs at least {2 * p + 1} values, got {len(y)}")
    rows = np.column_stack([np.ones(len(y) - p)] + [y[p - i : len(y) - i] for i in range(1, p + 1)])
    coef, *_ = np.linalg.lstsq(rows, y[p:], rcond=None)
    return float(coef[0]), np.asarray(coef[1:], dtype=np.float64)


def ar(lookback: ArrayLike, horizon: int, p: int | None = None) -> Array:
    """AR(p) fitted on the lookback (``p``: :func:`ar_order`), forecast recursively."""
    y = _lookback(lookback, horizon, least=3)
    order = ar_order(len(y)) if p is None else p
    c, a = fit_ar(y, order)
    hist = list(y[-order:])
    out = np.empty(horizon)
    for h in range(horizon):
        nxt = c + float(np.dot(a, hist[::-1][:order]))
        out[h] = nxt
        hist.append(nxt)
    return out


#: The baselines of ``squall backtest``, by their ``model`` name in metrics.csv: each takes the
#: lookback, the horizon and the season (used by seasonal naive only).
BASELINES: dict[str, Callable[[Array, int, int], Array]] = {
    "naive": lambda y, h, m: naive(y, h),
    "seasonal-naive": lambda y, h, m: seasonal_naive(y, h, m),
    "harmonic": lambda y, h, m: harmonic(y, h),
    "ar": lambda y, h, m: ar(y, h),
}
