"""Thresholds fitted on reference scores (training or validation), stored in the bundle.

A threshold is a plain dict so it serialises as it is: ``{"method": "quantile", "q": 0.99,
"value": 0.0123, "fitted_on": "validation", "n": 512}``. The original pipeline took the 95th
percentile of the very data it was scoring, which flags 5 % of anything; here the value is fixed
at training time and only overridden on purpose.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from squall.errors import NAME, ParameterError, SquallError, mark

METHODS = ("quantile", "value")

#: Default quantile of the reference (validation) window scores. Windows overlap (stride 1), so
#: one unusual stretch of a track raises many neighbouring windows: 0.99 keeps the false-event
#: rate on normal data low while a real storm or fault exceeds it by a wide margin.
DEFAULT_Q = 0.99


def fit_threshold(
    scores: np.ndarray,
    method: str = "quantile",
    q: float = DEFAULT_Q,
    fitted_on: str = "validation",
) -> dict[str, Any]:
    """Fit a threshold on reference window scores."""
    scores = np.asarray(scores, dtype=np.float64)
    scores = scores[np.isfinite(scores)]
    if method != "quantile":
        raise SquallError(f"threshold method must be 'quantile' when fitting, got {method!r}")
    if not 0.0 < q < 1.0:
        raise SquallError(f"threshold quantile must be in (0, 1), got {q}")
    if len(scores) == 0:
        raise SquallError("no finite reference scores to fit a threshold on")
    return {
        "method": "quantile",
        "q": float(q),
        "value": float(np.quantile(scores, q)),
        "fitted_on": fitted_on,
        "n": int(len(scores)),
    }


def resolve_threshold(
    stored: dict[str, Any] | None,
    value: float | None = None,
    quantile: float | None = None,
    scores: np.ndarray | None = None,
) -> dict[str, Any]:
    """The threshold to use: an explicit ``value``, else a ``quantile`` of the scores being
    scored (the original pipeline's rule, for comparison only), else the stored one."""
    if value is not None:
        if not np.isfinite(value):
            raise ParameterError("threshold", f"{NAME} must be a finite number, got {value}")
        return {"method": "value", "value": float(value), "fitted_on": "user"}
    if quantile is not None:
        if scores is None:
            raise SquallError("a threshold quantile of the scored data needs the scores")
        return fit_threshold(scores, q=quantile, fitted_on="scored data")
    if stored is None or "value" not in stored:
        raise ParameterError(
            "threshold",
            f"the bundle has no threshold; give {NAME} VALUE or {mark('threshold_quantile')} Q",
        )
    return dict(stored)


def fit_pot_threshold(
    scores: np.ndarray,
    q: float = 1e-3,
    level: float = 0.98,
    fitted_on: str = "validation",
    method: str = "grimshaw",
) -> dict[str, Any]:
    """A peaks-over-threshold (SPOT) threshold at risk ``q`` over the ``level`` quantile of
    reference scores, as a threshold dict (see :func:`squall.detect.dynamic.pot_threshold`)."""
    from squall.detect.dynamic import pot_threshold

    fit = pot_threshold(scores, q=q, level=level, method=method)
    if not np.isfinite(fit["value"]):
        raise SquallError("no finite reference scores to fit a threshold on")
    return {
        "method": "pot",
        "q": float(q),
        "level": float(level),
        "value": fit["value"],
        "gamma": fit["gamma"],
        "sigma": fit["sigma"],
        "peaks": fit["peaks"],
        "fitted_on": fitted_on,
        "n": fit["n"],
    }


# ---------------------------------------------------------------------------------------------
# Fittable threshold rules: one small class per rule, one base that checks the input once.
# ---------------------------------------------------------------------------------------------


class Threshold:
    """A threshold rule fitted on reference scores (scikit-learn style: the constructor stores
    parameters only, :meth:`fit` learns ``value_``, :meth:`flags` applies it).

    The base checks the scores once for every rule: a 1-D array of numbers, of which the finite
    ones are used (NaN = no score, e.g. a step no window observed); at least one must be finite.
    Subclasses implement :meth:`_fit` on those finite scores only. A fitted rule serialises with
    :meth:`to_dict` (``{"rule": ..., parameters..., "value": ..., "n": ...}``) and comes back
    with :func:`threshold_from_dict`.
    """

    rule = "base"
    params: tuple[str, ...] = ()

    def __init__(self) -> None:
        self.value_: float | None = None
        self.n_: int = 0
        self.extra_: dict[str, Any] = {}

    def fit(self, scores: np.ndarray) -> Threshold:
        x = np.asarray(scores)
        if x.ndim != 1 or x.dtype.kind not in "fiu":
            raise SquallError(
                f"threshold scores must be a 1-D array of numbers, got shape "
                f"{x.shape} of dtype {x.dtype}"
            )
        x = x.astype(np.float64)
        x = x[np.isfinite(x)]
        if len(x) == 0:
            raise SquallError(f"no finite reference scores to fit the {self.rule} threshold on")
        self.value_ = float(self._fit(x))
        self.n_ = int(len(x))
        return self

    def _fit(self, x: np.ndarray) -> float:
        raise NotImplementedError

    def flags(self, scores: np.ndarray) -> np.ndarray:
        """True where a score exceeds the fitted value (NaN scores are never flagged)."""
        if self.value_ is None:
            raise SquallError(f"the {self.rule} threshold is not fitted; call fit() first")
        x = np.asarray(scores, dtype=np.float64)
        with np.errstate(invalid="ignore"):
            return np.where(np.isfinite(x), x > self.value_, False)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"rule": self.rule}
        out.update({p: getattr(self, p) for p in self.params})
        if self.value_ is not None:
            out.update({"value": self.value_, "n": self.n_})
        out.update(self.extra_)
        return out

    def __repr__(self) -> str:
        args = ", ".join(f"{p}={getattr(self, p)!r}" for p in self.params)
        return f"{type(self).__name__}({args})"


def _positive(name: str, value: object, *, below_one: bool = False) -> float:
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float, np.integer, np.floating))
        or not np.isfinite(value)
        or value <= 0
        or (below_one and value >= 1)
    ):
        rule = "in (0, 1)" if below_one else "a positive number"
        raise SquallError(f"threshold {name} must be {rule}, got {value!r}")
    return float(value)


class QuantileThreshold(Threshold):
    """The ``q`` quantile of the reference scores: about ``1 - q`` of normal scores exceed it."""

    rule = "quantile"
    params = ("q",)

    def __init__(self, q: float = DEFAULT_Q) -> None:
        super().__init__()
        self.q = _positive("q", q, below_one=True)

    def _fit(self, x: np.ndarray) -> float:
        return float(np.quantile(x, self.q))


class SigmaThreshold(Threshold):
    """``mean + k * std`` of the reference scores (Orion's fixed threshold; ``k`` 4 by
    default: on light-tailed smoothed scores few normal steps exceed four deviations)."""

    rule = "sigma"
    params = ("k",)

    def __init__(self, k: float = 4.0) -> None:
        super().__init__()
        self.k = _positive("k", k)

    def _fit(self, x: np.ndarray) -> float:
        from squall.detect.dynamic import sigma_threshold

        return sigma_threshold(x, self.k)


class HundmanThreshold(Threshold):
    """Hundman et al. (2018)'s non-parametric threshold: the ``mean + z std`` (``z`` on a grid)
    whose removal lowers the scores' mean and spread most per flagged point and run (see
    :func:`squall.detect.dynamic.hundman_epsilon`)."""

    rule = "hundman"

    def _fit(self, x: np.ndarray) -> float:
        from squall.detect.dynamic import hundman_epsilon

        return hundman_epsilon(x)


class PotThreshold(Threshold):
    """Peaks over threshold (SPOT, Siffer et al. 2017): a generalized Pareto tail fitted to the
    scores above their ``level`` quantile, threshold at risk ``q`` (see
    :func:`squall.detect.dynamic.pot_threshold`)."""

    rule = "pot"
    params = ("q", "level")

    def __init__(self, q: float = 1e-2, level: float = 0.95) -> None:
        super().__init__()
        self.q = _positive("q", q, below_one=True)
        self.level = _positive("level", level, below_one=True)

    def _fit(self, x: np.ndarray) -> float:
        from squall.detect.dynamic import pot_threshold

        fit = pot_threshold(x, q=self.q, level=self.level)
        self.extra_ = {
            "gamma": _json_number(fit["gamma"]),
            "sigma": _json_number(fit["sigma"]),
            "peaks": fit["peaks"],
        }
        value: float = fit["value"]
        return value


class DynamicThreshold(Threshold):
    """A rule refitted on the scores being flagged, per track (Hundman et al. 2018, Orion's
    ``find_anomalies``): unsupervised, for a series scored on its own, where no separate
    reference exists (the NAB protocol of ``squall evaluate``).

    ``base`` (a sigma, Hundman, POT or quantile rule) is fitted on each track's own scores; for
    sigma and Hundman, ``window`` and ``step`` (fractions of the track's steps below 1, else
    steps; 0 = the whole track) refit it in sliding windows, a step being flagged when it
    exceeds the threshold of any window holding it; ``prune`` (Hundman's minimum relative drop
    between sequence maxima, 0 = none) puts weak sequences back to nominal. Tracks with fewer
    than ``min_track_steps`` scores share one threshold (over all their steps, no sliding
    windows) rather than each being fitted on too few points.

    :meth:`fit` fits ``base`` on reference scores (``value_``: what a fixed rule would use,
    reported); :meth:`flags` and :meth:`flags_by_track` refit on the scores given, and
    ``level_`` is the lowest threshold the last call used.
    """

    rule = "dynamic"
    params = ("window", "step", "prune", "min_track_steps")

    def __init__(
        self,
        base: Threshold | str = "sigma",
        window: float = 0.0,
        step: float = 0.1,
        prune: float = 0.0,
        min_track_steps: float = 100,
    ) -> None:
        super().__init__()
        self.base = make_threshold(base)
        if isinstance(self.base, DynamicThreshold):
            raise SquallError("a dynamic threshold's base must be a fixed rule")
        for name, value in (("window", window), ("step", step), ("prune", prune)):
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
                raise SquallError(f"threshold {name} must be a number >= 0, got {value!r}")
        self.window, self.step, self.prune = float(window), float(step), float(prune)
        self.min_track_steps = int(_positive("min_track_steps", min_track_steps))
        self.level_: float = float("inf")

    def _fit(self, x: np.ndarray) -> float:
        value = self.base.fit(x).value_
        assert value is not None
        return value

    def flags(self, scores: np.ndarray) -> np.ndarray:
        """Flags of one series (one track), the rule refitted on ``scores`` themselves."""
        x = np.asarray(scores, dtype=np.float64)
        flags, self.level_ = self._track(x, self.window)
        return flags

    def flags_by_track(
        self, scores: np.ndarray, tracks: list[tuple[str, np.ndarray]]
    ) -> np.ndarray:
        """Flags of ``scores`` with the rule refitted per track (``tracks``: ``(name, indices)``
        in time order, as :meth:`squall.detect.pointwise.StepScores.tracks` gives them)."""
        x = np.asarray(scores, dtype=np.float64)
        flags = np.zeros(len(x), dtype=bool)
        levels, short = [], []
        for _, idx in tracks:
            if len(idx) < self.min_track_steps:
                short.append(idx)
                continue
            flags[idx], level = self._track(x[idx], self.window)
            levels.append(level)
        if short:
            idx = np.concatenate(short)
            flags[idx], level = self._track(x[idx], 0.0)
            levels.append(level)
        self.level_ = float(min(levels)) if levels else float("inf")
        return flags

    def _track(self, v: np.ndarray, window: float) -> tuple[np.ndarray, float]:
        from squall.detect.dynamic import dynamic_flags, prune_sequences

        if isinstance(self.base, (SigmaThreshold, HundmanThreshold)):
            size = _steps(window, len(v))
            flags, level = dynamic_flags(
                v,
                method=self.base.rule,
                k=getattr(self.base, "k", 4.0),
                window=size or None,
                step=(_steps(self.step, len(v)) or None) if size else None,
                min_percent=self.prune,
            )
            return flags, float(np.min(level)) if len(level) else float("inf")
        if not np.isfinite(v).any():
            return np.zeros(len(v), dtype=bool), float("inf")
        value = type(self.base)(**{p: getattr(self.base, p) for p in self.base.params}).fit(v)
        assert value.value_ is not None
        with np.errstate(invalid="ignore"):
            flags = np.where(np.isfinite(v), v > value.value_, False)
        if self.prune > 0:
            flags = prune_sequences(v, flags, self.prune)
        return flags, value.value_

    def to_dict(self) -> dict[str, Any]:
        return super().to_dict() | {"base": self.base.to_dict()}

    def __repr__(self) -> str:
        args = ", ".join(f"{p}={getattr(self, p)!r}" for p in ("base", *self.params))
        return f"{type(self).__name__}({args})"


def _steps(fraction_or_steps: float, n: int) -> int:
    """A size in steps: a fraction of ``n`` below 1 (at least one step), else a count."""
    if fraction_or_steps <= 0:
        return 0
    if fraction_or_steps < 1:
        return max(1, int(round(fraction_or_steps * n)))
    return int(fraction_or_steps)


def _json_number(value: float) -> float | None:
    return float(value) if np.isfinite(value) else None


#: Threshold rules by name.
RULES: dict[str, type[Threshold]] = {
    c.rule: c
    for c in (QuantileThreshold, SigmaThreshold, HundmanThreshold, PotThreshold, DynamicThreshold)
}


def make_threshold(rule: str | Threshold, **params: Any) -> Threshold:
    """A threshold rule by name (``quantile``, ``sigma``, ``hundman``, ``pot``) with its
    parameters, or ``rule`` itself when it is already a :class:`Threshold`."""
    if isinstance(rule, Threshold):
        if params:
            raise SquallError("threshold parameters go to the Threshold object, not beside it")
        return rule
    if rule not in RULES:
        raise SquallError(f"threshold rule must be one of {', '.join(RULES)}, got {rule!r}")
    cls = RULES[rule]
    unknown = set(params) - set(cls.params) - ({"base"} if cls is DynamicThreshold else set())
    if unknown:
        raise SquallError(
            f"the {rule} threshold takes {', '.join(cls.params) or 'no'} "
            f"parameters, not {', '.join(sorted(unknown))}"
        )
    return cls(**params)


def threshold_from_dict(data: object) -> Threshold:
    """A fitted (or unfitted) rule back from :meth:`Threshold.to_dict`."""
    if not isinstance(data, dict) or not isinstance(data.get("rule"), str):
        raise SquallError(f"a threshold must be an object with a 'rule', got {data!r}"[:200])
    cls = RULES.get(data["rule"])
    if cls is None:
        raise SquallError(f"unknown threshold rule {data['rule']!r} (known: {', '.join(RULES)})")
    given = {p: data[p] for p in cls.params if p in data}
    if cls is DynamicThreshold:
        given["base"] = threshold_from_dict(data.get("base"))
    out = make_threshold(data["rule"], **given)
    if "value" in data:
        value = data["value"]
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not np.isfinite(value):
            raise SquallError(f"threshold value must be a finite number, got {value!r}"[:200])
        out.value_ = float(value)
        n = data.get("n", 0)
        out.n_ = int(n) if isinstance(n, int) and not isinstance(n, bool) else 0
        skip = ("rule", "value", "n", "base", *cls.params)
        out.extra_ = {k: v for k, v in data.items() if k not in skip}
    return out
