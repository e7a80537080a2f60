"""Tracks as regular series: each track's reports put on one grid of steps (the mean of the
reports in each interval, NaN where none), as :mod:`squall.data.windows` does for windows."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from squall.data.observations import Observations
from squall.data.windows import NICE_INTERVALS, typical_interval
from squall.errors import SquallError

__all__ = ["TrackSeries", "auto_interval", "parse_interval", "track_series"]


@dataclass(frozen=True)
class TrackSeries:
    """One track on its grid: ``times`` (n,) datetime64[ns] of each step, ``values`` (n, F)
    with NaN where no report fell; the reports themselves (``report_times``, ``report_values``)
    for methods that need no grid (Lomb-Scargle)."""

    track: str
    times: NDArray[np.datetime64]
    values: NDArray[np.float64]
    report_times: NDArray[np.datetime64]
    report_values: NDArray[np.float64]


def parse_interval(text: str) -> pd.Timedelta:
    """A step interval such as ``1h`` or ``30min``, positive."""
    try:
        delta = pd.Timedelta(text)
    except (ValueError, TypeError):
        raise SquallError(
            f"resample must be a duration such as 1h or 30min, got {text!r}"
        ) from None
    if delta <= pd.Timedelta(0):
        raise SquallError(f"resample must be a positive duration, got {text!r}")
    return delta


def auto_interval(obs: Observations) -> pd.Timedelta:
    """The windows' ``auto`` rule: the median of each track's median report interval, rounded
    up to a standard interval (1, 5, 10, 15, 30 min, 1, 2, 3, 6, 12 h, 1 d)."""
    typical = typical_interval(obs, 2)
    return next((n for n in NICE_INTERVALS if n >= typical), NICE_INTERVALS[-1])


def track_series(obs: Observations, interval: pd.Timedelta | None) -> list[TrackSeries]:
    """Every track as a :class:`TrackSeries` on the grid of ``interval`` (multiples of it since
    the Unix epoch; from the track's first to its last report); ``interval`` None: one step per
    report time (reports at one time averaged), no grid."""
    out = []
    frame = obs.frame.sort_values(["track", "time"], kind="stable")
    for track, part in frame.groupby("track", sort=True):
        times = part["time"].to_numpy(dtype="datetime64[ns]")
        values = part[obs.features].to_numpy(dtype=np.float64)
        if interval is None:
            ns = times.astype(np.int64)
            keys, inverse = np.unique(ns, return_inverse=True)
            grid_times = keys.astype("datetime64[ns]")
        else:
            step = np.int64(interval.value)
            idx = times.astype(np.int64) // step
            first = int(idx.min())
            n = int(idx.max()) - first + 1
            if n > 10_000_000:
                raise SquallError(
                    f"track {track}: {n} steps of {interval} is too fine a grid; "
                    "choose a longer resample interval"
                )
            inverse = idx - first
            grid_times = ((first + np.arange(n)) * step).astype("datetime64[ns]")
        sums = np.zeros((len(grid_times), len(obs.features)))
        counts = np.zeros_like(sums)
        ok = ~np.isnan(values)
        np.add.at(sums, inverse, np.where(ok, values, 0.0))
        np.add.at(counts, inverse, ok)
        with np.errstate(invalid="ignore"):
            grid = np.where(counts > 0, sums / np.where(counts > 0, counts, 1), np.nan)
        out.append(TrackSeries(str(track), grid_times, grid, times, values))
    return out


def fill_gaps(values: NDArray[np.float64]) -> NDArray[np.float64]:
    """Missing steps of a 1-D series filled by linear interpolation between the observed ones
    (before the first and after the last: the nearest observed value)."""
    y = np.asarray(values, dtype=np.float64)
    ok = ~np.isnan(y)
    if ok.all() or not ok.any():
        return y.copy()
    x = np.arange(len(y))
    return np.asarray(np.interp(x, x[ok], y[ok]), dtype=np.float64)
