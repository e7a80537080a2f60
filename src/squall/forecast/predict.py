"""``squall forecast``: a forecasting bundle's next ``H`` steps of each track, from the end of
the data (and from earlier origins), in physical units with their times.

An origin is the time of the last step the forecast reads (``origin``); step ``h`` is
``origin + h x interval`` (no time without a grid: a bundle made on unresampled reports). A
lookback must have at least half of each input feature's steps observed (gaps filled by linear
interpolation), as in the backtest; origins without are left out.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from squall.errors import ParameterError, SquallError
from squall.forecast.backtest import MIN_OBSERVED
from squall.forecast.model import BundleForecaster
from squall.forecast.series import TrackSeries, fill_gaps

__all__ = ["FORECAST_COLUMNS", "forecast_tracks"]

#: The columns of forecasts.csv.
FORECAST_COLUMNS = ("track", "origin", "step", "time", "feature", "forecast")


def forecast_tracks(
    series: Sequence[TrackSeries],
    features: Sequence[str],
    model: BundleForecaster,
    *,
    extra_origins: int = 0,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Forecasts (:data:`FORECAST_COLUMNS`) of every track from its end and its
    ``extra_origins`` positions before; and the targets' history (track, feature, time,
    value) for the plot."""
    col = {f: k for k, f in enumerate(features)}
    need = [col[f] for f in model.inputs]
    L, H = model.lookback, model.horizon
    if not series or max(len(s.times) for s in series) < L:
        longest = max((len(s.times) for s in series), default=0)
        raise ParameterError(
            "lookback",
            f"the bundle's lookback {L} is longer than any track (the longest has {longest} "
            "steps on the bundle's grid)",
        )
    parts, hist = [], []
    for s in series:
        n = len(s.times)
        ends = np.arange(max(L, n - extra_origins), n + 1)  # first forecast step
        if not len(ends):
            continue
        look = s.values[ends[:, None] + np.arange(-L, 0)[None, :]][:, :, need]
        ok = ((~np.isnan(look)).mean(axis=1) >= MIN_OBSERVED).all(axis=1)
        ends, look = ends[ok], look[ok]
        if not len(ends):
            continue
        x = np.stack(
            [np.stack([fill_gaps(w[:, j]) for j in range(len(need))], axis=-1) for w in look]
        )
        out = model(x)  # (origins, H, targets)
        origin = s.times[ends - 1]
        steps = np.arange(1, H + 1)
        for t, f in enumerate(model.targets):
            when = (
                origin[:, None] + steps[None, :] * np.timedelta64(model.interval.value, "ns")
                if model.interval is not None
                else np.full((len(ends), H), np.datetime64("NaT"), dtype="datetime64[ns]")
            )
            parts.append(
                pd.DataFrame(
                    {
                        "track": s.track,
                        "origin": np.repeat(origin, H),
                        "step": np.tile(steps, len(ends)),
                        "time": when.reshape(-1),
                        "feature": f,
                        "forecast": out[:, :, t].reshape(-1),
                    }
                )
            )
            hist.append(
                pd.DataFrame(
                    {"track": s.track, "feature": f, "time": s.times, "value": s.values[:, col[f]]}
                )
            )
    if not parts:
        raise SquallError(
            f"no track has a lookback of {L} steps with half of each input observed: nothing "
            "to forecast from"
        )
    return pd.concat(parts, ignore_index=True), pd.concat(hist, ignore_index=True)
