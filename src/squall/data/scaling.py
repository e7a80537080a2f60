"""Feature scaling fitted on training data only and stored as plain numbers."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from squall.errors import SquallError

SCALER_KINDS = ("minmax", "standard")


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
            raise SquallError(f"scaler has {len(self.features)} feature names but the data has "
                              f"{flat.shape[1]} columns")
        observed = ~np.isnan(flat)
        empty = [f for f, ok in zip(self.features, observed.any(axis=0), strict=True) if not ok]
        if empty:
            raise SquallError(f"feature(s) {', '.join(empty)} have no observed values in the "
                              f"training data; drop them with --features")
        if self.kind == "minmax":
            lo, hi = np.nanmin(flat, axis=0), np.nanmax(flat, axis=0)
            offset, scale = lo, hi - lo
        else:
            offset, scale = np.nanmean(flat, axis=0), np.nanstd(flat, axis=0)
        scale = np.where(scale > 0, scale, 1.0)  # a constant feature scales to 0, not to inf
        self.offset_, self.scale_ = offset, scale
        self.fill_ = (np.nanmean(flat, axis=0) - offset) / scale
        return self

    def _check(self, values: np.ndarray) -> None:
        if self.offset_ is None or self.scale_ is None:
            raise SquallError("scaler is not fitted; call fit() or load it from a bundle")
        if values.shape[-1] != len(self.offset_):
            raise SquallError(f"scaler expects {len(self.offset_)} features, "
                              f"got {values.shape[-1]}")

    def transform(self, values: np.ndarray) -> np.ndarray:
        """Scale physical values; NaN stays NaN (see :meth:`fill`)."""
        self._check(values)
        return (np.asarray(values, dtype=np.float64) - self.offset_) / self.scale_

    def inverse_transform(self, scaled: np.ndarray) -> np.ndarray:
        """Physical values from scaled ones."""
        self._check(scaled)
        return np.asarray(scaled, dtype=np.float64) * self.scale_ + self.offset_

    def fill(self, scaled: np.ndarray) -> np.ndarray:
        """Replace missing (NaN) scaled values by the scaled training mean."""
        assert self.fill_ is not None
        return np.where(np.isnan(scaled), self.fill_, scaled)

    def to_dict(self) -> dict:
        self._check(np.zeros((1, len(self.features))))
        return {"kind": self.kind, "features": list(self.features),
                "offset": [float(v) for v in self.offset_],
                "scale": [float(v) for v in self.scale_],
                "fill": [float(v) for v in self.fill_]}

    @classmethod
    def from_dict(cls, data: dict) -> Scaler:
        try:
            features = [str(f) for f in data["features"]]
            arrays = [np.asarray(data[k], dtype=np.float64) for k in ("offset", "scale", "fill")]
            kind = str(data["kind"])
        except (KeyError, TypeError, ValueError, OverflowError) as exc:
            raise SquallError(f"scaler description is incomplete or malformed ({exc})") from None
        if any(a.shape != (len(features),) for a in arrays):
            raise SquallError(f"scaler arrays must each have {len(features)} numbers "
                              f"(one per feature)")
        if not all(np.isfinite(a).all() for a in arrays) or (arrays[1] <= 0).any():
            raise SquallError("scaler has non-finite numbers or a scale <= 0")
        return cls(kind, features, *arrays)

    @classmethod
    def from_minmax(cls, features: Sequence[str], data_min: Sequence[float],
                    data_max: Sequence[float], fill: Sequence[float] | None = None) -> Scaler:
        """A min-max scaler from known ranges (e.g. the seed pipeline's scikit-learn scaler)."""
        lo, hi = np.asarray(data_min, dtype=np.float64), np.asarray(data_max, dtype=np.float64)
        scale = np.where(hi - lo > 0, hi - lo, 1.0)
        fill_ = np.asarray(fill, dtype=np.float64) if fill is not None else np.full(len(lo), 0.5)
        return cls("minmax", list(features), lo, scale, fill_)
