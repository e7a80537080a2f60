"""Stuck sensors: runs where a feature stops varying, judged against the track's own repeats.

A real sensor reports at a finite resolution (NOAA temperatures and pressures in tenths, wave
heights in 0.5 m), so a slowly varying quantity repeats the same reported value for a few reports
in a row as a matter of course; how often depends on the track (its sensor, its report interval,
its weather). What marks a stuck sensor is a run of exact repeats far longer than the track's
own repeat behaviour explains. The rule:

1. Per track and feature, the reports *carrying* the feature, in time order. A missing value
   (NaN) is not a repeat: it neither extends nor breaks a run, so a run is the consecutive
   reported values that are exactly equal (``reports`` counts the reports with the value, the
   run spans its first to its last such report).
2. The track's probability of repeating, ``p``: the fraction of its steps (one reported value to
   the next) that repeat exactly, the maximum-likelihood ``p`` of a geometric model of run
   lengths. It is the track's resolution and variability in one number: a feature that moves by
   many quanta between reports has ``p`` near 0, a calm sea reported in 0.5 m units has ``p``
   near 1. It is estimated from the fitted history of the track plus the data being judged,
   leaving out the run under test (its repeats and the two changes that bound it: a stuck run
   does not excuse itself), and shrunk toward the feature's repeat fraction over all fitted
   tracks by ``prior_steps`` pseudo-steps, so a track with a handful of reports borrows from
   the others and a long record speaks for itself.
3. Weather has spells: a calm week repeats more than the track's month does, and one ``p`` for
   the whole track would call a long calm spell stuck. So the run is also judged by its
   neighbourhood, the steps among as many reported values on each side of it as it has
   reports (steps touching the run left out, shrunk toward the track's ``p`` by the same
   ``prior_steps``), and the larger of the two probabilities is used. A sensor that sticks in
   the middle of ordinary weather has ordinary neighbours; a calm sea has calm ones.
4. Under that model a run reaches ``reports`` reports with probability ``p ** (reports - 1)``
   once it has started. A run is stuck when that probability is below ``level`` (default
   ``1e-4``: a run this long arises by chance less than once in 10,000 runs, and a week of the
   shared NOAA box holds about 2,900 runs over all tracks and features, so under the model
   fewer than one chance flag in three weeks), it has at least ``min_reports`` reports (4) and
   it lasts at least ``min_hours`` (6 h: a stuck sensor is a state that lasts, not a burst of
   reports).

Stated rules for the edge cases:

* Constant for ever: when, apart from the run under test, the track's reports of a feature never
  change (a sensor that always reports the same value, or a track whose only record is this
  run), the track has shown no variability of its own to judge by; its own counts are dropped
  and ``p`` is the feature's repeat fraction over all fitted tracks. Such a run is reported
  when it is improbable for the feature in general, and its ``why`` says the track never
  changed.
* When ``p`` is 1 nothing is flagged: no fitted track ever changed the feature (or, with
  ``prior_steps`` 0, the track or the neighbourhood never did).
* While fitting, runs that the rule flags in the fitted data itself are counted as one report
  each (their repeats removed from the counts), so a stuck stretch in the history does not
  teach the detector that the track repeats.

:func:`stuck_runs` judges one data set by itself (the pure function); :class:`StuckDetector`
fits the repeat counts on training observations and judges new ones against them (plus their
own reports), its parameters a JSON-ready dict (:meth:`StuckDetector.to_dict`).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from squall.errors import SquallError
from squall.text import plural

if TYPE_CHECKING:
    from squall.data.observations import Observations

#: Name stored with the parameters (:meth:`StuckDetector.to_dict`).
NAME = "squall.StuckDetector"
#: Columns of the stuck-run table.
COLUMNS = (
    "track",
    "feature",
    "start",
    "end",
    "reports",
    "value",
    "repeat_probability",
    "probability",
    "why",
)
#: Defaults (see the module docstring for their reasons).
LEVEL = 1e-4
MIN_REPORTS = 4
MIN_HOURS = 6.0
PRIOR_STEPS = 10.0
#: "usually changes within N reports": the run length only this share of runs exceeds.
_USUAL = 0.1

# counts per (track, feature): steps between consecutive reported values, and repeats among them
Counts = dict[str, dict[str, list[float]]]


def _runs(obs: Observations, features: list[str]) -> pd.DataFrame:
    """Every run of exactly equal reported values, per track and feature (NaN skipped):
    track, feature, start, end, reports, value; ``resolution`` of the track's feature;
    ``edges``, the steps into and out of the run (0-2: a run at either end of the track has
    none there); ``near_steps``/``near_repeats``, the steps and repeats among the ``reports``
    reported values on each side of the run (steps touching the run left out)."""
    frame = obs.frame
    order = np.lexsort((frame["time"].to_numpy(), frame["track"].astype(str).to_numpy()))
    track_all = frame["track"].astype(str).to_numpy()[order]
    time_all = frame["time"].to_numpy("datetime64[ns]")[order]
    parts = []
    for feature in features:
        values = frame[feature].to_numpy(dtype=np.float64)[order]
        ok = np.isfinite(values)
        v, tr, t = values[ok], track_all[ok], time_all[ok]
        if len(v) == 0:
            continue
        same_track = np.r_[False, tr[1:] == tr[:-1]]
        repeat = same_track & np.r_[False, v[1:] == v[:-1]]  # report i repeats report i - 1
        first = np.flatnonzero(~repeat)
        last = np.r_[first[1:], len(v)] - 1
        # each report's track: its first and last index
        track_first = np.maximum.accumulate(np.where(~same_track, np.arange(len(v)), 0))
        ends = np.flatnonzero(np.r_[~same_track[1:], True])
        track_last = ends[np.cumsum(~same_track) - 1]
        lo, hi = track_first[first], track_last[last]
        n = last - first + 1
        cum = np.r_[0, np.cumsum(repeat)]  # cum[i]: repeats among reports < i
        before_lo = np.maximum(lo, first - n)  # reports before_lo .. first - 1
        after_hi = np.minimum(hi, last + n)  # reports last + 1 .. after_hi
        near_steps = np.maximum(first - 1 - before_lo, 0) + np.maximum(after_hi - last - 1, 0)
        near_repeats = _between(cum, before_lo + 1, first) + _between(cum, last + 2, after_hi + 1)
        part = pd.DataFrame(
            {
                "track": tr[first],
                "feature": feature,
                "start": t[first],
                "end": t[last],
                "reports": n.astype(np.int64),
                "value": v[first],
                "edges": ((first > lo).astype(np.int64) + (last < hi)),
                "near_steps": near_steps.astype(np.int64),
                "near_repeats": near_repeats.astype(np.int64),
            }
        )
        part["resolution"] = part["track"].map(_resolution(tr, v)).astype(np.float64)
        parts.append(part)
    if not parts:
        return pd.DataFrame(
            {
                "track": pd.Series(dtype=str),
                "feature": pd.Series(dtype=str),
                "start": pd.Series(dtype="datetime64[ns]"),
                "end": pd.Series(dtype="datetime64[ns]"),
                "reports": pd.Series(dtype=np.int64),
                "value": pd.Series(dtype=np.float64),
                "edges": pd.Series(dtype=np.int64),
                "near_steps": pd.Series(dtype=np.int64),
                "near_repeats": pd.Series(dtype=np.int64),
                "resolution": pd.Series(dtype=np.float64),
            }
        )
    return pd.concat(parts, ignore_index=True)


def _between(cum: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Repeats among reports ``a .. b - 1`` (0 where empty), from ``cum`` (``cum[i]``: repeats
    among reports before ``i``)."""
    a = np.minimum(a, len(cum) - 1)
    b = np.clip(b, a, len(cum) - 1)
    out: np.ndarray = cum[b] - cum[a]
    return out


def _resolution(track: np.ndarray, values: np.ndarray) -> dict[str, float]:
    """Per track: the smallest positive difference between its distinct values (9 significant
    digits, so data in tenths reads 0.1, not 0.09999999), NaN for one distinct value."""
    out: dict[str, float] = {}
    for name, v in pd.Series(values).groupby(track, sort=False):
        step = np.diff(np.unique(v.to_numpy()))
        out[str(name)] = float(f"{step.min():.9g}") if len(step) else math.nan
    return out


def _counts(runs: pd.DataFrame) -> Counts:
    """Per track and feature: ``[steps, repeats, resolution]``: steps between consecutive
    reported values, how many of them repeat exactly, and the track's resolution."""
    out: Counts = {}
    if runs.empty:
        return out
    g = runs.groupby(["track", "feature"], sort=True)
    agg = g.agg(
        reports=("reports", "sum"), runs=("reports", "size"), resolution=("resolution", "first")
    )
    for (track, feature), row in agg.iterrows():
        steps = float(row["reports"] - 1)
        repeats = float(row["reports"] - row["runs"])
        res = float(row["resolution"])
        out.setdefault(str(track), {})[str(feature)] = [steps, repeats, res]
    return out


def _pooled(counts: Counts) -> dict[str, list[float]]:
    """Per feature: ``[steps, repeats]`` summed over the tracks."""
    out: dict[str, list[float]] = {}
    for per in counts.values():
        for feature, (steps, repeats, _res) in per.items():
            acc = out.setdefault(feature, [0.0, 0.0])
            acc[0] += steps
            acc[1] += repeats
    return out


def _fmt(value: float) -> str:
    return f"{value:.6g}"


def _hours(delta: float) -> str:
    return f"{delta / 24:.1f} days" if delta >= 48 else f"{delta:.1f} h"


def _judge(
    runs: pd.DataFrame,
    fitted: Counts,
    pooled: dict[str, list[float]],
    units: dict[str, str],
    *,
    level: float,
    min_reports: int,
    min_hours: float,
    prior_steps: float,
) -> pd.DataFrame:
    """The runs of ``runs`` that are stuck, with their probabilities and why."""
    own = _counts(runs)
    cand = runs[runs["reports"] >= max(min_reports, 2)]
    hours = (cand["end"] - cand["start"]) / pd.Timedelta(hours=1)
    cand = cand[hours.to_numpy() >= min_hours]
    rows = []
    for r in cand.itertuples(index=False):
        track, feature, n = str(r.track), str(r.feature), int(r.reports)
        steps, repeats, _ = own[track][feature]
        f_steps, f_repeats, f_res = fitted.get(track, {}).get(feature, [0.0, 0.0, math.nan])
        # the run under test left out: its n - 1 repeats and the changes into and out of it
        # (a run is maximal, so those are changes by definition)
        steps_t = steps - (n - 1) - int(r.edges) + f_steps
        repeats_t = repeats - (n - 1) + f_repeats
        p_steps, p_repeats = pooled.get(feature, [0.0, 0.0])
        if p_steps <= 0:
            continue  # no fitted track reports this feature: nothing to judge against
        p_pool = p_repeats / p_steps
        constant = steps_t - repeats_t <= 0
        if constant:
            p_track = p_pool
        else:
            p_track = (repeats_t + prior_steps * p_pool) / (steps_t + prior_steps)
        # the same run length of reports on each side: a calm spell repeats more than the
        # track does on average, and a run inside one is judged by it
        p_near = (int(r.near_repeats) + prior_steps * p_track) / (int(r.near_steps) + prior_steps)
        p = max(p_track, p_near)
        if p >= 1.0:
            continue
        prob = p ** (n - 1)
        if not prob < level:
            continue
        unit = units.get(feature, "")
        value = f"{_fmt(float(r.value))}{' ' + unit if unit else ''}"
        span = _hours(float((r.end - r.start) / pd.Timedelta(hours=1)))
        usual = 1 + (max(1, math.ceil(math.log(_USUAL) / math.log(p))) if p > 0 else 0)
        res = float(r.resolution) if math.isfinite(float(r.resolution)) else f_res
        res_text = f", resolution {_fmt(res)}" if math.isfinite(res) else ""
        where = " around this run" if p_near > p_track else ""
        if constant:
            reason = (
                f"this track's {feature} never changes otherwise, so it is judged by all "
                f"tracks' {feature}, which repeat from one report to the next with "
                f"probability {p:.2f}"
            )
        else:
            reason = (
                f"this track's value usually changes within {plural(usual, 'report')}{where} "
                f"(it repeats from one report to the next with probability {p:.2f}{res_text})"
            )
        why = (
            f"{feature} repeated {value} for {n} reports over {span}; {reason}; "
            f"a run this long has probability {prob:.1e}"
        )
        rows.append((track, feature, r.start, r.end, n, float(r.value), p, prob, why))
    out = pd.DataFrame(rows, columns=list(COLUMNS)).sort_values(
        ["track", "feature", "start"], kind="stable"
    )
    return out.astype(
        {
            "track": str,
            "feature": str,
            "start": "datetime64[ns]",
            "end": "datetime64[ns]",
            "reports": np.int64,
            "value": np.float64,
            "repeat_probability": np.float64,
            "probability": np.float64,
        }
    ).reset_index(drop=True)


def _check(name: str, value: object, *, low: float, high: float = math.inf) -> float:
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float, np.integer, np.floating))
        or not math.isfinite(value)
        or not low <= value <= high
    ):
        raise SquallError(f"{name} must be a number in [{low:g}, {high:g}], got {value!r}"[:200])
    return float(value)


class StuckDetector:
    """Stuck-sensor runs, fitted on training observations (see the module docstring).

    ``level``: the chance probability below which a run is stuck; ``min_reports``,
    ``min_hours``: the least run flagged; ``prior_steps``: how many pseudo-steps of the
    feature's repeat fraction over all tracks each track's own estimate is shrunk toward;
    ``features``: the features judged (default: every feature of the data).

    ``fit(obs)`` counts, per track and feature, steps and exact repeats (runs it flags in
    ``obs`` itself count as one report each); ``detect(obs)`` returns the stuck runs of new
    observations (columns :data:`COLUMNS`: ``track``, ``feature``, ``start``, ``end``,
    ``reports``, ``value``, ``repeat_probability`` (the ``p`` used), ``probability`` (the
    chance of the run, ``p ** (reports - 1)``), ``why``); ``to_dict``/``from_dict`` keep the
    configuration and counts as plain JSON.
    """

    def __init__(
        self,
        *,
        level: float = LEVEL,
        min_reports: int = MIN_REPORTS,
        min_hours: float = MIN_HOURS,
        prior_steps: float = PRIOR_STEPS,
        features: list[str] | None = None,
    ) -> None:
        self.level = _check("level", level, low=0, high=1)
        if isinstance(min_reports, bool) or not isinstance(min_reports, (int, np.integer)):
            raise SquallError(f"min_reports must be an integer >= 2, got {min_reports!r}")
        if min_reports < 2:
            raise SquallError(f"min_reports must be an integer >= 2, got {min_reports!r}")
        self.min_reports = int(min_reports)
        self.min_hours = _check("min_hours", min_hours, low=0)
        self.prior_steps = _check("prior_steps", prior_steps, low=0)
        self.features = None if features is None else [str(f) for f in features]
        self.counts_: Counts | None = None
        self.units_: dict[str, str] = {}

    def __repr__(self) -> str:
        return (
            f"StuckDetector(level={self.level!r}, min_reports={self.min_reports!r}, "
            f"min_hours={self.min_hours!r}, prior_steps={self.prior_steps!r}, "
            f"features={self.features!r})"
        )

    def _features(self, obs: Observations) -> list[str]:
        if self.features is None:
            return list(obs.features)
        missing = [f for f in self.features if f not in obs.frame.columns]
        if missing:
            raise SquallError(f"feature(s) {', '.join(missing)} not in the data")
        return list(self.features)

    def _options(self) -> dict[str, Any]:
        return {
            "level": self.level,
            "min_reports": self.min_reports,
            "min_hours": self.min_hours,
            "prior_steps": self.prior_steps,
        }

    def fit(self, obs: Observations) -> StuckDetector:
        """Count each track's steps and repeats in ``obs`` (training observations); runs the
        rule flags in ``obs`` itself are counted as one report each. Returns ``self``."""
        features = self._features(obs)
        runs = _runs(obs, features)
        counts = _counts(runs)
        units = {f: obs.units.get(f, "") for f in features}
        flagged = _judge(runs, {}, _pooled(counts), units, **self._options())
        for r in flagged.itertuples(index=False):
            c = counts[str(r.track)][str(r.feature)]
            c[0] -= int(r.reports) - 1
            c[1] -= int(r.reports) - 1
        self.counts_ = counts
        self.units_ = units
        return self

    def detect(self, obs: Observations) -> pd.DataFrame:
        """The stuck runs of ``obs``, judged against the fitted counts plus ``obs``'s own
        reports (each run left out of its own reference). Sorted by track, feature, start."""
        if self.counts_ is None:
            raise SquallError("this StuckDetector is not fitted: fit() it on training data")
        features = self._features(obs)
        units = dict(self.units_) | {f: obs.units.get(f, "") for f in features}
        return _judge(
            _runs(obs, features), self.counts_, _pooled(self.counts_), units, **self._options()
        )

    def to_dict(self) -> dict[str, Any]:
        """Configuration and fitted counts, JSON-ready (no NaN: an unknown resolution is
        None)."""
        counts = None
        if self.counts_ is not None:
            counts = {
                t: {f: [c[0], c[1], c[2] if math.isfinite(c[2]) else None] for f, c in per.items()}
                for t, per in self.counts_.items()
            }
        return {
            "name": NAME,
            **self._options(),
            "features": self.features,
            "units": dict(self.units_),
            "counts": counts,
        }

    @classmethod
    def from_dict(cls, data: object) -> StuckDetector:
        """A detector from :meth:`to_dict`'s dict (fitted when it holds counts)."""
        if not isinstance(data, dict) or data.get("name") != NAME:
            raise SquallError(
                f"stuck detector parameters must be named {NAME!r}, got {data!r}"[:200]
            )
        known = {
            "name",
            "level",
            "min_reports",
            "min_hours",
            "prior_steps",
            "features",
            "units",
            "counts",
        }
        unknown = sorted(set(data) - known)
        if unknown:
            raise SquallError(f"stuck detector parameters have unknown keys {unknown}")
        det = cls(
            level=data.get("level", LEVEL),
            min_reports=data.get("min_reports", MIN_REPORTS),
            min_hours=data.get("min_hours", MIN_HOURS),
            prior_steps=data.get("prior_steps", PRIOR_STEPS),
            features=data.get("features"),
        )
        units = data.get("units") or {}
        if not isinstance(units, dict):
            raise SquallError("stuck detector units must be an object")
        det.units_ = {str(k): str(v) for k, v in units.items()}
        counts = data.get("counts")
        if counts is not None:
            det.counts_ = _read_counts(counts)
        return det


def _read_counts(data: object) -> Counts:
    if not isinstance(data, dict):
        raise SquallError("stuck detector counts must be an object of tracks")
    out: Counts = {}
    for track, per in data.items():
        if not isinstance(per, dict):
            raise SquallError(f"stuck detector counts of track {track!r} must be an object")
        for feature, c in per.items():
            if (
                not isinstance(c, list)
                or len(c) != 3
                or not all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in c[:2])
                or not 0 <= c[1] <= c[0]
                or not (c[2] is None or isinstance(c[2], (int, float)))
            ):
                raise SquallError(
                    f"stuck detector counts of {track!r} {feature!r} must be "
                    f"[steps, repeats <= steps, resolution or null], got {c!r}"[:200]
                )
            res = math.nan if c[2] is None else float(c[2])
            out.setdefault(str(track), {})[str(feature)] = [float(c[0]), float(c[1]), res]
    return out


def stuck_runs(
    obs: Observations,
    *,
    level: float = LEVEL,
    min_reports: int = MIN_REPORTS,
    min_hours: float = MIN_HOURS,
    prior_steps: float = PRIOR_STEPS,
    features: list[str] | None = None,
) -> pd.DataFrame:
    """The stuck runs of ``obs`` judged by ``obs`` alone: each track against its own other
    reports, shrunk toward the feature's repeat fraction over all tracks of ``obs`` (see the
    module docstring; same columns as :meth:`StuckDetector.detect`)."""
    det = StuckDetector(
        level=level,
        min_reports=min_reports,
        min_hours=min_hours,
        prior_steps=prior_steps,
        features=features,
    )
    feats = det._features(obs)
    runs = _runs(obs, feats)
    return _judge(
        runs, {}, _pooled(_counts(runs)), {f: obs.units.get(f, "") for f in feats}, **det._options()
    )
