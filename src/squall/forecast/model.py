"""A forecasting bundle as a function of physical lookbacks: scaled with its scaler, run with
an engine (:meth:`squall.engines.base.Engine.run`), its output scaled back to physical units."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from squall.bundle import Bundle
from squall.errors import SquallError

__all__ = ["BundleForecaster", "forecaster"]


@dataclass(frozen=True)
class BundleForecaster:
    """What a forecasting bundle reads and writes: ``lookback`` steps of ``inputs``, ``horizon``
    steps of ``targets``, on the grid of ``interval`` (None: one step per report time), read
    with ``reader``. Calling it maps physical (N, lookback, inputs) to physical (N, horizon,
    targets)."""

    bundle: Bundle
    engine: str
    lookback: int
    horizon: int
    inputs: tuple[str, ...]
    targets: tuple[str, ...]
    interval: pd.Timedelta | None
    reader: dict[str, Any]

    def _affine(self, names: tuple[str, ...]) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        scaler = self.bundle.scaler
        assert scaler.offset_ is not None and scaler.scale_ is not None
        idx = [self.bundle.features.index(f) for f in names]
        return (
            np.asarray(scaler.offset_, dtype=np.float64)[idx],
            np.asarray(scaler.scale_, dtype=np.float64)[idx],
        )

    def __call__(self, lookbacks: NDArray[np.float64]) -> NDArray[np.float64]:
        from squall.engines import get_engine

        x = np.asarray(lookbacks, dtype=np.float64)
        off, scale = self._affine(self.inputs)
        out = get_engine(self.engine, self.bundle).run((x - off) / scale)
        off_t, scale_t = self._affine(self.targets)
        return np.asarray(out * scale_t + off_t, dtype=np.float64)


def forecaster(bundle: Bundle, engine: str = "numpy") -> BundleForecaster:
    """The bundle as a :class:`BundleForecaster`; a bundle whose task is not ``forecast`` (an
    autoencoder, a classifier) is a one-line error."""
    task = bundle.task
    if task.kind != "forecast" or task.lookback is None or task.horizon is None:
        what = {"reconstruct": "an autoencoder", "classify": "a classifier"}.get(task.kind, "")
        raise SquallError(
            f"the bundle is {what or 'not a forecaster'} (task {task.kind}); this command "
            "needs a forecasting bundle (task forecast, e.g. squall train --model "
            "lstm-forecaster --lookback L --horizon H)"
        )
    resample = bundle.windows.get("resample")
    interval = pd.Timedelta(resample) if isinstance(resample, str) else None
    reader = dict(bundle.provenance.get("reader") or {})
    reader["features"] = list(bundle.features)
    return BundleForecaster(
        bundle,
        engine,
        int(task.lookback),
        int(task.horizon),
        tuple(task.inputs or bundle.features),
        tuple(task.targets or bundle.features),
        interval,
        reader,
    )
