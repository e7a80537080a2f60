"""Thresholds fitted on reference scores (training or validation), stored in the bundle.

A threshold is a plain dict so it serialises as it is: ``{"method": "quantile", "q": 0.99,
"value": 0.0123, "fitted_on": "validation", "n": 512}``. The original pipeline took the 95th
percentile of the very data it was scoring, which flags 5 % of anything; here the value is fixed
at training time and only overridden on purpose.
"""

from __future__ import annotations

import numpy as np

from squall.errors import SquallError

METHODS = ("quantile", "value")

#: Default quantile of the reference (validation) window scores. Windows overlap (stride 1), so
#: one unusual stretch of a track raises many neighbouring windows: 0.99 keeps the false-event
#: rate on normal data low while a real storm or fault exceeds it by a wide margin.
DEFAULT_Q = 0.99


def fit_threshold(scores: np.ndarray, method: str = "quantile", q: float = DEFAULT_Q,
                  fitted_on: str = "validation") -> dict:
    """Fit a threshold on reference window scores."""
    scores = np.asarray(scores, dtype=np.float64)
    scores = scores[np.isfinite(scores)]
    if method != "quantile":
        raise SquallError(f"threshold method must be 'quantile' when fitting, got {method!r}")
    if not 0.0 < q < 1.0:
        raise SquallError(f"threshold quantile must be in (0, 1), got {q}")
    if len(scores) == 0:
        raise SquallError("no finite reference scores to fit a threshold on")
    return {"method": "quantile", "q": float(q), "value": float(np.quantile(scores, q)),
            "fitted_on": fitted_on, "n": int(len(scores))}


def resolve_threshold(stored: dict | None, value: float | None = None,
                      quantile: float | None = None, scores: np.ndarray | None = None) -> dict:
    """The threshold to use: an explicit ``value``, else a ``quantile`` of the scores being
    scored (the original pipeline's rule, for comparison only), else the stored one."""
    if value is not None:
        if not np.isfinite(value):
            raise SquallError(f"--threshold must be a finite number, got {value}")
        return {"method": "value", "value": float(value), "fitted_on": "user"}
    if quantile is not None:
        if scores is None:
            raise SquallError("a threshold quantile of the scored data needs the scores")
        return fit_threshold(scores, q=quantile, fitted_on="scored data")
    if stored is None or "value" not in stored:
        raise SquallError("the bundle has no threshold; give --threshold VALUE or "
                          "--threshold-quantile Q")
    return dict(stored)


def fit_pot_threshold(scores: np.ndarray, q: float = 1e-3, level: float = 0.98,
                      fitted_on: str = "validation", method: str = "grimshaw") -> dict:
    """A peaks-over-threshold (SPOT) threshold at risk ``q`` over the ``level`` quantile of
    reference scores, as a threshold dict (see :func:`squall.detect.dynamic.pot_threshold`)."""
    from squall.detect.dynamic import pot_threshold

    fit = pot_threshold(scores, q=q, level=level, method=method)
    if not np.isfinite(fit["value"]):
        raise SquallError("no finite reference scores to fit a threshold on")
    return {"method": "pot", "q": float(q), "level": float(level), "value": fit["value"],
            "gamma": fit["gamma"], "sigma": fit["sigma"], "peaks": fit["peaks"],
            "fitted_on": fitted_on, "n": fit["n"]}
