"""Rolling-origin evaluation (``squall backtest``): on the last part of each track, forecasts
from many origins by the baselines and, when given, a forecasting bundle, scored per horizon
step and feature with the same origins for every model.

Per track (a :class:`squall.forecast.series.TrackSeries` on the data's grid) of ``n`` steps the
origins are the last ``origins`` positions ``o`` (the first forecast step), one step apart,
``o = n - H - origins + 1 .. n - H``: each forecasts ``y[o : o + H]`` from the lookback
``y[o - L : o]``. The steps before the first origin are the training part: the MASE scale is the
in-sample seasonal naive MAE there (:func:`squall.forecast.metrics.mase_scale`), per track and
feature. An origin is scored for a target feature when at least half of that feature's lookback
is observed and, with a model, half of each of its input features' (the gaps are filled by
linear interpolation): every model is scored on the same origins. A missing actual value is
left out of every metric (``n`` counts the pairs scored); a feature without any scored origin
has no rows. The metrics pool all tracks and origins: MAE,
RMSE and sMAPE over every pair, MASE as the mean of ``|error| / scale`` of the pair's track.

Season ``m`` (seasonal naive and the MASE scale): ``season`` when given; else per track and
feature :func:`estimate_season`: the period, rounded to whole steps, of the highest periodogram
peak of the training part (its last 2000 steps) among periods of 2 to ``lookback`` steps (a
seasonal naive forecast can only repeat what the lookback holds); 1 (the naive forecast) when
there is none.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from squall.errors import NAME, ParameterError, SquallError, mark
from squall.forecast.baselines import BASELINES
from squall.forecast.metrics import mase_scale
from squall.forecast.series import TrackSeries, fill_gaps
from squall.forecast.spectrum import periodogram

__all__ = [
    "METRIC_COLUMNS",
    "MIN_LOOKBACK",
    "BacktestResult",
    "ModelFn",
    "backtest",
    "check_lookback",
    "estimate_season",
]

Array = NDArray[np.float64]
#: A learned model as the backtest runs it: physical lookbacks (N, L, inputs) -> physical
#: forecasts (N, H, targets).
ModelFn = Callable[[Array], Array]
#: The columns of metrics.csv.
METRIC_COLUMNS = ("model", "feature", "step", "mae", "rmse", "mase", "smape", "n")
#: Share of a lookback's steps that must be observed for an origin to be used.
MIN_OBSERVED = 0.5
#: Steps of the training part the season is estimated on (its end).
SEASON_STEPS = 2000
#: The shortest lookback every baseline can forecast from: the harmonic baseline fits a mean
#: and at least one sinusoid (three unknowns) and needs one value more than that.
MIN_LOOKBACK = 4


@dataclass
class BacktestResult:
    """``metrics`` (:data:`METRIC_COLUMNS`), ``seasons`` (track, feature, season, scale: the
    MASE denominators), the tracks used and skipped, and the (origin, feature) pairs scored."""

    metrics: pd.DataFrame
    seasons: pd.DataFrame
    tracks: list[str]
    skipped: list[str] = field(default_factory=list)
    origins: int = 0


def estimate_season(train: Array, lookback: int) -> int:
    """The season of a training part: the period (in steps, rounded) of the highest peak of the
    Hann-windowed periodogram of its last :data:`SEASON_STEPS` steps (gaps filled) among the
    periods that round to 2 .. ``lookback`` steps; 1 when there is none (too short, constant)."""
    y = fill_gaps(np.asarray(train, dtype=np.float64)[-SEASON_STEPS:])
    if len(y) < 8 or not np.isfinite(y).all() or np.ptp(y) == 0:
        return 1
    spec = periodogram(y, "hann")
    with np.errstate(divide="ignore"):
        period = 1.0 / spec.frequency
    # the periods as they will be used (whole steps): a bin at 24.46 steps is a season of 24
    # and belongs to a lookback of 24 (filtered before rounding, the next bin, 23, won)
    rounded = np.round(np.where(np.isfinite(period), period, 0.0))
    inside = (rounded >= 2) & (rounded <= lookback) & (period < len(y))
    if not inside.any():
        return 1
    return int(rounded[inside][np.argmax(spec.amplitude[inside])])


class _Sums:
    """Running sums of one (model, feature) over origins, per horizon step."""

    def __init__(self, horizon: int) -> None:
        self.abs = np.zeros(horizon)
        self.sq = np.zeros(horizon)
        self.smape = np.zeros(horizon)
        self.n = np.zeros(horizon, dtype=np.int64)
        self.scaled = np.zeros(horizon)
        self.n_scaled = np.zeros(horizon, dtype=np.int64)

    def add(self, actual: Array, forecast: Array, scale: float) -> None:
        ok = ~(np.isnan(actual) | np.isnan(forecast))
        e = np.where(ok, actual - forecast, 0.0)
        self.abs += np.abs(e)
        self.sq += e * e
        den = np.abs(actual) + np.abs(forecast)
        self.smape += np.where(ok & (den > 0), 200.0 * np.abs(e) / np.where(den > 0, den, 1), 0)
        self.n += ok
        if np.isfinite(scale) and scale > 0:
            self.scaled += np.abs(e) / scale
            self.n_scaled += ok

    def rows(self, model: str, feature: str) -> list[tuple[object, ...]]:
        with np.errstate(invalid="ignore", divide="ignore"):
            n = np.where(self.n > 0, self.n, np.nan)
            ns = np.where(self.n_scaled > 0, self.n_scaled, np.nan)
            cols = (self.abs / n, np.sqrt(self.sq / n), self.scaled / ns, self.smape / n)
        return [
            (model, feature, h + 1, *(float(c[h]) for c in cols), int(self.n[h]))
            for h in range(len(self.n))
        ]


def _check_int(name: str, value: object, low: int) -> int:
    if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < low:
        raise ParameterError(name, f"{NAME} must be an integer >= {low}, got {value!r}")
    return int(value)


def check_lookback(lookback: object) -> int:
    """``lookback`` as an int, at least :data:`MIN_LOOKBACK` (a one-line error naming the
    requirement otherwise)."""
    value = _check_int("lookback", lookback, 1)
    if value < MIN_LOOKBACK:
        raise ParameterError(
            "lookback",
            f"{NAME} must be at least {MIN_LOOKBACK} steps for the backtest, got {value}: its "
            f"harmonic baseline fits a mean and a sinusoid (3 unknowns) to every lookback",
        )
    return value


def backtest(
    series: Sequence[TrackSeries],
    features: Sequence[str],
    *,
    lookback: int,
    horizon: int,
    origins: int = 20,
    season: int | None = None,
    targets: Sequence[str] | None = None,
    model: ModelFn | None = None,
    inputs: Sequence[str] | None = None,
    step: str = "",
) -> BacktestResult:
    """Backtest the baselines (and ``model``, reading ``inputs``) on ``targets`` (default:
    every feature) of ``series``. ``step`` names the grid's step in messages (e.g. ``1h``)."""
    of = f" of {step}" if step else ""
    lookback = check_lookback(lookback)
    horizon = _check_int("horizon", horizon, 1)
    origins = _check_int("origins", origins, 1)
    if season is not None:
        season = _check_int("season", season, 1)
        longest_track = max((len(t.times) for t in series), default=0)
        if season >= longest_track:
            raise ParameterError(
                "season",
                f"{NAME} {season} is longer than the data (the longest track has "
                f"{longest_track} steps{of})",
            )
        if season > lookback:
            raise ParameterError(
                "season",
                f"{NAME} {season} is longer than the lookback {lookback}: the seasonal naive "
                "forecast repeats the lookback's last season",
            )
    features = list(features)
    targets = list(targets or features)
    inputs = list(inputs or targets)
    col = {f: k for k, f in enumerate(features)}
    unknown = [f for f in [*targets, *inputs] if f not in col]
    if unknown:
        raise SquallError(f"the data has no feature {unknown[0]!r} (features: {features})")
    if not series:
        raise SquallError("no track to backtest")
    longest = max(len(s.times) for s in series)
    if longest < lookback + horizon:
        raise ParameterError(
            "lookback",
            f"lookback {lookback} + horizon {horizon} = {lookback + horizon} steps is longer "
            f"than any track (the longest has {longest} steps{of}); lower {NAME} or "
            f"{mark('horizon')}",
        )
    if longest < lookback + horizon + origins - 1 + 1:
        most = longest - lookback - horizon
        raise ParameterError(
            "origins",
            f"too few steps for {origins} origins: the longest track ({longest} steps{of}) "
            f"allows at most {most} with lookback {lookback} and horizon {horizon} "
            f"(one step before the first origin is kept for the MASE scale); lower {NAME}",
        )
    names = [*BASELINES, *(["model"] if model else [])]
    sums = {(m, f): _Sums(horizon) for m in names for f in targets}
    season_rows: list[tuple[str, str, int, float]] = []
    used: list[str] = []
    skipped: list[str] = []
    scored = 0
    for s in series:
        n = len(s.times)
        first = n - horizon - origins + 1
        if first < lookback + 1:
            skipped.append(s.track)
            continue
        starts = np.arange(first, n - horizon + 1)
        idx = starts[:, None] + np.arange(-lookback, 0)[None, :]
        look = s.values[idx]  # (origins, L, F)
        seen = (~np.isnan(look)).mean(axis=1) >= MIN_OBSERVED  # (origins, F)
        need = [col[f] for f in inputs] if model is not None else []
        ready = seen[:, need].all(axis=1) if need else np.ones(len(starts), dtype=bool)
        actual = s.values[starts[:, None] + np.arange(horizon)[None, :]]  # (origins, H, F)
        out = None
        if model is not None and ready.any():
            x = np.stack(
                [
                    np.stack([fill_gaps(look[k, :, j]) for j in need], axis=-1)
                    for k in range(len(look))
                ]
            )
            out = np.full((len(starts), horizon, len(targets)), np.nan)
            out[ready] = model(x[ready])
        track_used = False
        for t, f in enumerate(targets):
            j = col[f]
            use = np.flatnonzero(seen[:, j] & ready)
            if not len(use):
                continue
            track_used = True
            train = s.values[:first, j]
            m = season if season is not None else estimate_season(train, lookback)
            try:
                scale = mase_scale(train, m)
            except SquallError:
                scale = float("nan")
            season_rows.append((s.track, f, m, scale))
            for k in use:
                lb = fill_gaps(look[k, :, j])
                for name, fn in BASELINES.items():
                    sums[name, f].add(actual[k, :, j], fn(lb, horizon, m), scale)
                if out is not None:
                    sums["model", f].add(actual[k, :, j], out[k, :, t], scale)
            scored += len(use)
        (used if track_used else skipped).append(s.track)
    if not used:
        raise ParameterError(
            "origins",
            f"no track has {origins} origins with lookback {lookback}, horizon {horizon}"
            + f" and half of each lookback observed; lower {NAME} or the lookback",
        )
    rows = [r for (m, f), acc in sums.items() if acc.n.any() for r in acc.rows(m, f)]
    return BacktestResult(
        pd.DataFrame(rows, columns=list(METRIC_COLUMNS)),
        pd.DataFrame(season_rows, columns=["track", "feature", "season", "scale"]),
        used,
        skipped,
        scored,
    )
