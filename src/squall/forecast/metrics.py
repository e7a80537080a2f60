"""Forecast error metrics: MAE, RMSE, MASE and sMAPE, with their exact definitions.

For actual values ``y`` and forecasts ``f`` (arrays of one shape; pairs where either is NaN are
left out of every metric):

* ``mae = mean |y - f|``; ``rmse = sqrt(mean (y - f)^2)``.
* ``mase = mean |y - f| / s`` where ``s`` is :func:`mase_scale` of the training part: the
  in-sample mean absolute error of the seasonal naive forecast with period ``m`` (Hyndman and
  Koehler 2006, "Another look at measures of forecast accuracy"; ``m = 1`` is the naive
  forecast). Below 1 the forecast beats the in-sample seasonal naive forecast on average.
* ``smape = mean 200 |y - f| / (|y| + |f|)`` in percent, 0-200 (the variant of Makridakis
  1993 with absolute values in the denominator, as in the M4 competition); a pair with
  ``y = f = 0`` counts 0 (a perfect forecast).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

from squall.errors import SquallError

__all__ = ["mae", "mase", "mase_scale", "rmse", "smape"]


def _pairs(
    actual: ArrayLike, forecast: ArrayLike
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    y = np.asarray(actual, dtype=np.float64)
    f = np.asarray(forecast, dtype=np.float64)
    if y.shape != f.shape:
        raise SquallError(f"actual values {y.shape} and forecasts {f.shape} differ in shape")
    keep = ~(np.isnan(y) | np.isnan(f))
    return y[keep], f[keep]


def mae(actual: ArrayLike, forecast: ArrayLike) -> float:
    """Mean absolute error (NaN when no pair is complete)."""
    y, f = _pairs(actual, forecast)
    return float(np.mean(np.abs(y - f))) if y.size else float("nan")


def rmse(actual: ArrayLike, forecast: ArrayLike) -> float:
    """Root mean squared error (NaN when no pair is complete)."""
    y, f = _pairs(actual, forecast)
    return float(np.sqrt(np.mean((y - f) ** 2))) if y.size else float("nan")


def smape(actual: ArrayLike, forecast: ArrayLike) -> float:
    """Symmetric MAPE in percent, ``mean 200 |y - f| / (|y| + |f|)``, 0-200; ``0/0`` is 0."""
    y, f = _pairs(actual, forecast)
    if not y.size:
        return float("nan")
    den = np.abs(y) + np.abs(f)
    safe = np.where(den > 0, den, 1.0)
    return float(np.mean(np.where(den > 0, 200.0 * np.abs(y - f) / safe, 0.0)))


def mase_scale(train: ArrayLike, m: int = 1) -> float:
    """The MASE denominator: ``mean_{t=m..n-1} |y_t - y_{t-m}|`` over the training values
    ``train`` (pairs with a NaN left out). A season ``m`` of at least the training length is an
    error (no in-sample seasonal naive forecast exists); a constant training part gives 0 (MASE
    is then infinite or NaN, as the definition says)."""
    y = np.asarray(train, dtype=np.float64).reshape(-1)
    if not isinstance(m, (int, np.integer)) or isinstance(m, bool) or m < 1:
        raise SquallError(f"season must be an integer >= 1, got {m!r}")
    if m >= len(y):
        raise SquallError(
            f"season {m} is not shorter than the training part ({len(y)} steps): "
            "no in-sample seasonal naive forecast to scale by"
        )
    d = np.abs(y[m:] - y[:-m])
    d = d[~np.isnan(d)]
    if not d.size:
        raise SquallError(f"no two observed values {m} steps apart in the training part")
    return float(np.mean(d))


def mase(actual: ArrayLike, forecast: ArrayLike, scale: float) -> float:
    """Mean absolute scaled error: :func:`mae` divided by ``scale`` (:func:`mase_scale`)."""
    error = mae(actual, forecast)
    if scale == 0:
        return float("nan") if error == 0 or np.isnan(error) else float("inf")
    return error / scale
