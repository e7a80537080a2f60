"""``squall spectrum``: per track and feature, the spectrum, the dominant periods and
(optionally) the strongest components continued beyond the data.

Which method: a track-feature whose grid series (:func:`squall.forecast.series.track_series`)
has at most :data:`MAX_MISSING_SHARE` of its steps missing between its first and last observed
step counts as regularly sampled: its gaps are filled by linear interpolation and its windowed
periodogram is taken. Otherwise (ships every 3-6 h, outages) the Lomb-Scargle periodogram of the
reports themselves is used, at their own times (no window: Lomb-Scargle fits each frequency).
Frequencies are in cycles per hour, periods in hours.

Dominant periods: on a regular series, the harmonic baseline's frequencies
(:func:`squall.forecast.spectrum.strongest_frequencies`: zero-padded DFT peaks of what is left
unexplained, refined off the DFT grid); on an irregular one, Lomb-Scargle peaks with
prewhitening (:func:`squall.forecast.spectrum.components`). Either way the amplitudes are those
of one joint least-squares fit of the mean and all the sinusoids, and ``--extrapolate``
evaluates that fit beyond the last step.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from squall.data.observations import Observations
from squall.errors import SquallError
from squall.forecast import spectrum as sp
from squall.forecast.series import fill_gaps, track_series

__all__ = ["MAX_MISSING_SHARE", "MIN_VALUES", "SpectrumResult", "analyze"]

#: Largest share of missing grid steps for which a series counts as regularly sampled.
MAX_MISSING_SHARE = 0.05
#: Fewest observed values a track-feature needs to get a spectrum.
MIN_VALUES = 8
_HOUR = np.timedelta64(3600, "s").astype("timedelta64[ns]").astype(np.int64)


@dataclass
class SpectrumResult:
    """``spectrum`` (track, feature, method, frequency_per_hour, period_hours, amplitude),
    ``periods`` (track, feature, method, rank, period_hours, frequency_per_hour, amplitude),
    ``extrapolation`` (track, feature, step, time, value; empty without ``extrapolate``),
    ``history`` (track, feature, time, value: the series the plots show), ``skipped``
    track-features with too few values."""

    spectrum: pd.DataFrame
    periods: pd.DataFrame
    extrapolation: pd.DataFrame
    history: pd.DataFrame
    skipped: list[str]


def _hours(times: NDArray[np.datetime64], t0: np.datetime64) -> NDArray[np.float64]:
    delta = (times.astype("datetime64[ns]") - t0).astype(np.int64)
    return np.asarray(delta / _HOUR, dtype=np.float64)


def _fitted(
    t: NDArray[np.float64], v: NDArray[np.float64], freqs: NDArray[np.float64]
) -> list[tuple[float, float]]:
    """``(frequency, amplitude)`` of the joint least-squares fit at ``freqs``."""
    if not len(freqs):
        return []
    coef = sp.fit_sinusoids(t, v, freqs)
    k = len(freqs)
    amps = np.hypot(coef[1 : k + 1], coef[k + 1 :])
    return [(float(f), float(a)) for f, a in zip(freqs, amps, strict=True)]


def _lomb_scargle_of(
    t: NDArray[np.float64], freqs: NDArray[np.float64], r: NDArray[np.float64]
) -> sp.Spectrum:
    return sp.lomb_scargle(t, r, freqs)


def analyze(
    obs: Observations,
    interval: pd.Timedelta,
    *,
    window: str = "hann",
    top: int = 5,
    extrapolate: int = 0,
) -> SpectrumResult:
    """The spectra of every track and feature of ``obs`` on the grid of ``interval``."""
    if window not in sp.WINDOWS:
        raise SquallError(f"window function must be one of {', '.join(sp.WINDOWS)}")
    dt = interval / pd.Timedelta("1h")
    spec_rows: list[pd.DataFrame] = []
    period_rows: list[tuple[object, ...]] = []
    extra_rows: list[pd.DataFrame] = []
    hist_rows: list[pd.DataFrame] = []
    skipped: list[str] = []
    for series in track_series(obs, interval):
        t0 = series.times[0]
        grid_hours = _hours(series.times, t0)
        for j, feature in enumerate(obs.features):
            y = series.values[:, j]
            seen = np.flatnonzero(~np.isnan(y))
            raw_ok = ~np.isnan(series.report_values[:, j])
            if raw_ok.sum() < MIN_VALUES or len(seen) < 2:
                skipped.append(f"{series.track}/{feature}")
                continue
            y = y[seen[0] : seen[-1] + 1]
            hours = grid_hours[seen[0] : seen[-1] + 1]
            missing = float(np.isnan(y).mean())
            if missing <= MAX_MISSING_SHARE and len(y) >= MIN_VALUES:
                filled = fill_gaps(y)
                spec = sp.periodogram(filled, window, dt)
                t, v = hours, filled
                found = _fitted(t, v, sp.strongest_frequencies(filled, top) / dt)
            else:
                t = _hours(series.report_times[raw_ok], t0)
                v = series.report_values[raw_ok, j]
                spec = sp.lomb_scargle(t, v)
                found = sp.components(t, v, top, partial(_lomb_scargle_of, t, spec.frequency))

            keep = spec.frequency > 0
            spec_rows.append(
                pd.DataFrame(
                    {
                        "track": series.track,
                        "feature": feature,
                        "method": spec.method,
                        "frequency_per_hour": spec.frequency[keep],
                        "period_hours": 1.0 / spec.frequency[keep],
                        "amplitude": spec.amplitude[keep],
                    }
                )
            )
            for rank, (f, a) in enumerate(found, start=1):
                period_rows.append((series.track, feature, spec.method, rank, 1 / f, f, a))
            hist_rows.append(
                pd.DataFrame(
                    {"track": series.track, "feature": feature, "time": t0, "hours": t, "value": v}
                )
            )
            if extrapolate and found:
                freqs_found = np.array([f for f, _ in found])
                coef = sp.fit_sinusoids(t, v, freqs_found)
                ahead = hours[-1] + dt * np.arange(1, extrapolate + 1)
                extra_rows.append(
                    pd.DataFrame(
                        {
                            "track": series.track,
                            "feature": feature,
                            "step": np.arange(1, extrapolate + 1),
                            "time": t0 + (ahead * _HOUR).astype("timedelta64[ns]"),
                            "value": sp.eval_sinusoids(coef, freqs_found, ahead),
                        }
                    )
                )
    if not spec_rows:
        raise SquallError(
            f"no track has {MIN_VALUES} observed values of any feature: nothing to analyse"
        )
    history = pd.concat(hist_rows, ignore_index=True)
    history["time"] = history["time"] + (history.pop("hours") * _HOUR).astype("timedelta64[ns]")
    columns = ["track", "feature", "method", "rank", "period_hours", "frequency_per_hour"]
    return SpectrumResult(
        pd.concat(spec_rows, ignore_index=True),
        pd.DataFrame(period_rows, columns=[*columns, "amplitude"]),
        pd.concat(extra_rows, ignore_index=True)
        if extra_rows
        else pd.DataFrame(columns=["track", "feature", "step", "time", "value"]),
        history,
        skipped,
    )
