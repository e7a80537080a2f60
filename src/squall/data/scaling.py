"""Feature scaling fitted on training data only and stored as plain numbers."""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from squall.errors import NAME, ParameterError, SquallError, SquallWarning
from squall.limits import is_number

SCALER_KINDS = ("minmax", "standard")

#: A feature is "dominated by a few values" when the range of its training data exceeds
#: DOMINANCE times the range of its 1st-99th percentiles. For any sample of a light-tailed
#: series the ratio is small whatever its length: about 1.02 for uniform data, under 5 for a
#: Gaussian of 1e20 values, under 20 for an exponential one of 1e40. At 100 the other 98 % of
#: the values share less than 1 % of the scaled range, so the model sees them as a constant and
#: flags nothing: the extreme values are almost surely errors or codes to remove before training.
DOMINANCE = 100.0
#: Rows the percentiles of :func:`warn_dominated` are estimated from (their error is then far
#: below what a factor of 100 could notice).
PERCENTILE_ROWS = 1_000_000


@dataclass
class Scaler:
    """Per-feature affine scaling, ``scaled = (x - offset_) / scale_``.

    ``minmax`` (the default, as in the original pipeline) maps the training range to [0, 1];
    ``standard`` maps the training mean and standard deviation to 0 and 1. Missing values are
    ignored when fitting; after scaling they are filled with ``fill_`` (the scaled training mean)
    so the network sees a neutral value, and a mask tells the loss and the scores to ignore them.
    """

    kind: str = "minmax"
    features: list[str] = field(default_factory=list)
    offset_: np.ndarray | None = None
    scale_: np.ndarray | None = None
    fill_: np.ndarray | None = None

    def fit(self, values: np.ndarray) -> Scaler:
        """Fit on physical values of shape (..., F) with NaN for missing; returns self."""
        if self.kind not in SCALER_KINDS:
            raise SquallError(f"scaler must be one of {', '.join(SCALER_KINDS)}, got {self.kind!r}")
        flat = np.asarray(values, dtype=np.float64).reshape(-1, values.shape[-1])
        if len(self.features) != flat.shape[1]:
            raise SquallError(
                f"scaler has {len(self.features)} feature names but the data has "
                f"{flat.shape[1]} columns"
            )
        observed = np.asarray((~np.isnan(flat)).any(axis=0))  # per feature
        empty = [f for f, ok in zip(self.features, observed, strict=True) if not ok]
        if empty:
            raise ParameterError(
                "features",
                f"feature(s) {', '.join(empty)} have no observed values in the "
                f"training data; drop them with {NAME}",
            )
        with np.errstate(over="ignore", invalid="ignore"):
            if self.kind == "minmax":
                lo, hi = np.nanmin(flat, axis=0), np.nanmax(flat, axis=0)
                offset, scale = lo, hi - lo
            else:
                offset, scale = np.nanmean(flat, axis=0), np.nanstd(flat, axis=0)
            scale = np.where(scale > 0, scale, 1.0)  # a constant feature scales to 0, not to inf
            fill = (np.nanmean(flat, axis=0) - offset) / scale
        check_stats(self.features, offset, scale, fill)
        warn_dominated(flat, self.features)
        self.offset_, self.scale_, self.fill_ = offset, scale, fill
        return self

    def _check(self, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The scaler is fitted and ``values`` have its number of features; returns
        ``(offset_, scale_)``."""
        if self.offset_ is None or self.scale_ is None:
            raise SquallError("scaler is not fitted; call fit() or load it from a bundle")
        if values.shape[-1] != len(self.offset_):
            raise SquallError(
                f"scaler expects {len(self.offset_)} features, got {values.shape[-1]}"
            )
        return self.offset_, self.scale_

    def transform(self, values: np.ndarray) -> np.ndarray:
        """Scale physical values; NaN stays NaN (see :meth:`fill`)."""
        offset, scale = self._check(values)
        return (np.asarray(values, dtype=np.float64) - offset) / scale

    def inverse_transform(self, scaled: np.ndarray) -> np.ndarray:
        """Physical values from scaled ones."""
        offset, scale = self._check(scaled)
        return np.asarray(scaled, dtype=np.float64) * scale + offset

    def fill(self, scaled: np.ndarray) -> np.ndarray:
        """Replace missing (NaN) scaled values by the scaled training mean."""
        assert self.fill_ is not None
        return np.where(np.isnan(scaled), self.fill_, scaled)

    def to_dict(self) -> dict:
        """Plain numbers for ``bundle.json``; a scaler that is not fitted or has non-finite
        statistics is refused (see :func:`check_stats`)."""
        offset, scale = self._check(np.zeros((1, len(self.features))))
        assert self.fill_ is not None  # set with offset_ and scale_ (see fit, from_dict)
        check_stats(self.features, offset, scale, self.fill_)
        return {
            "kind": self.kind,
            "features": list(self.features),
            "offset": [float(v) for v in offset],
            "scale": [float(v) for v in scale],
            "fill": [float(v) for v in self.fill_],
        }

    @classmethod
    def from_dict(cls, data: dict) -> Scaler:
        if not isinstance(data, dict) or not isinstance(data.get("features"), list):
            raise SquallError("scaler description must be an object with a list of features")
        for key in ("offset", "scale", "fill"):
            values = data.get(key)
            if not isinstance(values, list) or not all(is_number(v) for v in values):
                raise SquallError(f"scaler {key} must be a list of numbers")
        try:
            features = [str(f) for f in data["features"]]
            arrays = [np.asarray(data[k], dtype=np.float64) for k in ("offset", "scale", "fill")]
            kind = str(data["kind"])
        except (KeyError, TypeError, ValueError, OverflowError) as exc:
            raise SquallError(f"scaler description is incomplete or malformed ({exc})") from None
        if any(a.shape != (len(features),) for a in arrays):
            raise SquallError(
                f"scaler arrays must each have {len(features)} numbers (one per feature)"
            )
        check_stats(features, *arrays)
        if kind not in SCALER_KINDS:
            raise SquallError(f"scaler kind must be one of {', '.join(SCALER_KINDS)}, got {kind!r}")
        return cls(kind, features, *arrays)

    @classmethod
    def from_minmax(
        cls,
        features: Sequence[str],
        data_min: Sequence[float],
        data_max: Sequence[float],
        fill: Sequence[float] | None = None,
    ) -> Scaler:
        """A min-max scaler from known ranges (e.g. the seed pipeline's scikit-learn scaler)."""
        lo, hi = np.asarray(data_min, dtype=np.float64), np.asarray(data_max, dtype=np.float64)
        scale = np.where(hi - lo > 0, hi - lo, 1.0)
        fill_ = np.asarray(fill, dtype=np.float64) if fill is not None else np.full(len(lo), 0.5)
        return cls("minmax", list(features), lo, scale, fill_)


def check_stats(
    features: Sequence[str], offset: np.ndarray, scale: np.ndarray, fill: np.ndarray
) -> None:
    """Refuse non-finite statistics or a scale <= 0, naming the features. Values near the
    float64 limit (e.g. +-1e308) overflow the range, mean or standard deviation when fitting,
    and an infinite scale maps everything to 0 (and would be written as ``Infinity``)."""
    bad = [
        f
        for f, *v in zip(features, offset, scale, fill, strict=True)
        if not np.isfinite(v).all() or v[1] <= 0
    ]
    if bad:
        raise SquallError(
            f"the scaler of feature(s) {', '.join(map(str, bad))} has non-finite "
            f"statistics or a scale <= 0 (values near +-1e308 in the training "
            f"data?); remove such values first"
        )


def warn_dominated(flat: np.ndarray, features: Sequence[str]) -> None:
    """A ``SquallWarning`` naming the features whose range is dominated by a few values (the
    rule and its reason: :data:`DOMINANCE`). Features whose 1st and 99th percentiles are equal
    (mostly one value, e.g. rain) are not named: there the few other values are the signal.
    Percentiles come from at most :data:`PERCENTILE_ROWS` evenly spaced rows (a view, so a large
    training set is not copied); the range from all rows."""
    sample = flat[:: -(-len(flat) // PERCENTILE_ROWS)] if len(flat) > PERCENTILE_ROWS else flat
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN columns are refused earlier
        p1, p99 = np.nanpercentile(sample, [1, 99], axis=0)
        with np.errstate(over="ignore", invalid="ignore"):
            ratio = (np.nanmax(flat, axis=0) - np.nanmin(flat, axis=0)) / (p99 - p1)
    named = [
        f"{f} ({r:.3g}x)"
        for f, r, w in zip(features, ratio, p99 - p1, strict=True)
        if w > 0 and r > DOMINANCE
    ]
    if named:
        warnings.warn(
            f"a few values dominate the scaler of {', '.join(named)}: the data's range "
            f"exceeds {DOMINANCE:g} times its 1st-99th percentile range, so the model "
            f"will barely see the rest; check for outliers or error codes",
            SquallWarning,
            stacklevel=3,
        )
