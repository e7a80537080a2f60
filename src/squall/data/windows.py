"""Windows: fixed-length sequences per track that remember which original reports they came from.

Two modes:

``track`` (default)
    Each track (NOAA ``STATION``) on its own, in time order, optionally resampled to a regular
    interval (mean of the reports in each interval; empty intervals are missing steps). Each
    track is first cut into segments where two consecutive observed steps (steps with at least
    one observed value: a report's grid interval, or the report itself without resampling) are
    more than ``max_gap`` apart; a segment runs from its first to its last observed step, and
    only segments are laid out as steps. A window lies inside one segment, so it never crosses
    a track boundary and never reaches into a gap longer than ``max_gap``; reports outside every
    segment (only reports without any observed value can be) are in no step. A resampled grid
    of more than ``MAX_GRID_STEPS`` steps in all is an error (e.g. ``--resample 1s`` with a long
    ``max_gap``), not a memory blow-up.
``pooled``
    The original pipeline, for comparison: every report of the file sorted by time (pandas'
    default sort, as the original did), reports lacking any feature dropped, one sequence, and
    windows starting at ``0 .. n - T - 1`` (the original stopped one window short).

Defaults (see :func:`resolve_settings`):

``resample="auto"``
    The median, over tracks with at least ``T`` reports, of each track's median report interval,
    rounded up to a standard interval (1, 5, 10, 15, 30 min, 1, 2, 3, 6, 12 h, 1 d). All tracks
    are put on that one grid, so every window spans the same ``T x interval`` of time whether it
    comes from a tide gauge, a buoy or a ship, and the typical platform has most steps observed.
``span="1D"`` (with ``resample="auto"``; an autoencoder's windows, see :func:`span_for`)
    The least time a window covers: when ``length`` steps of the data's own interval span less,
    the interval is made coarser (the next standard one of at least ``span / length``). One day
    holds one daily cycle, the dominant period of weather, human-driven and machine series: a
    window that sees less judges only local shape (24 raw 5-minute reports are 2 hours, and
    missed the level and pattern anomalies of NAB's artificialWithAnomaly; see
    docs/benchmarks.md). ``None``: the data's own interval. ``squall train`` and
    ``squall evaluate`` resolve windows with this one rule; a forecaster's steps stay the
    data's own interval (its lookback and horizon count them).
``max_gap``
    Six intervals: a track is split where two observed steps are further apart.
``min_observed=0.25``
    A window is kept when at least a quarter of its steps have an observed value; the others
    are skipped and counted (windows inside segments only: a long gap holds no windows). Missing
    cells are masked, so sparse windows are valid input; a quarter keeps a ship reporting every
    6 h on a 2 h grid (a third of its steps observed), which half would lose entirely (measured
    on the demo data: 8 of 8 tracks kept instead of 7 of 8).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd

from squall.data.observations import Observations
from squall.errors import NAME, ParameterError, SquallError, mark

NICE_INTERVALS = [
    pd.Timedelta(s)
    for s in ("1min", "5min", "10min", "15min", "30min", "1h", "2h", "3h", "6h", "12h", "1D")
]
MODES = ("track", "pooled")
#: The least time a window spans by default with ``resample="auto"`` (see the module docstring).
DEFAULT_SPAN = "1D"
#: Most steps a resampled step table may have (about 0.4 GB per feature in ``step_values``);
#: more is a mistake such as ``--resample 1s`` with a long ``--max-gap``.
MAX_GRID_STEPS = 50_000_000


@dataclass(frozen=True)
class WindowSettings:
    """How windows are cut. ``resample``/``max_gap`` are pandas offset strings or None."""

    length: int = 24
    stride: int = 1
    mode: str = "track"
    resample: str | None = "auto"
    max_gap: str | None = None
    min_observed: float = 0.25

    def to_dict(self) -> dict:
        return asdict(self)


def check_window_settings(
    settings: WindowSettings | dict, *, resolved: bool = False, what: str = "window settings"
) -> WindowSettings:
    """The one check of window settings' own rules (types, ranges, durations), before any data
    is read: for options (``resolved=False``: ``resample`` may be ``auto``, ``max_gap``
    unset) and for stored settings (``resolved=True``: a bundle's or a windows file's, which
    need concrete values). ``settings`` may be the JSON object itself; unknown keys are
    refused. Errors name the parameters (``length``), not command-line flags. Returns the
    settings as a :class:`WindowSettings`."""
    from squall.limits import MAX_STRIDE, MAX_WINDOW_LENGTH, is_number

    if isinstance(settings, dict):
        unknown = set(settings) - set(WindowSettings.__dataclass_fields__)
        if unknown:
            raise SquallError(f"{what} have unknown keys {sorted(unknown)}")
        settings = WindowSettings(**settings)
    if not isinstance(settings, WindowSettings):
        raise SquallError(f"{what} must be a WindowSettings, got {type(settings).__name__}")
    s = settings
    if s.mode not in MODES:
        raise SquallError(f"window mode must be one of {', '.join(MODES)}, got {s.mode!r}")
    for name, value, low, top in (
        ("length", s.length, 2, MAX_WINDOW_LENGTH),
        ("stride", s.stride, 1, MAX_STRIDE),
    ):
        if not is_number(value, integer=True) or value < low:
            raise SquallError(f"window {name} must be an integer >= {low}, got {value!r}"[:200])
        if value > top:
            raise SquallError(
                f"window {name} {value} is beyond the limit: at most {top} "
                f"steps (see squall.limits)"[:200]
            )
    if not is_number(s.min_observed) or not 0 < s.min_observed <= 1:
        raise SquallError(f"min_observed must be in (0, 1], got {s.min_observed!r}")
    for name, text in (("resample", s.resample), ("max_gap", s.max_gap)):
        if text is None or (name == "resample" and text == "auto" and not resolved):
            continue
        if not isinstance(text, str):
            raise SquallError(f"window {name} must be a duration string, got {text!r}"[:200])
        _delta(text, name)
    if resolved and s.mode == "track" and s.max_gap is None:
        raise SquallError(f"{what} lack max_gap (resolved at training time)")
    return s


def typical_interval(obs: Observations, length: int) -> pd.Timedelta:
    """Median over tracks (with >= ``length`` reports, else all) of the median report interval."""
    frame = obs.frame.sort_values(["track", "time"], kind="stable")
    gaps = frame["time"].diff()
    gaps[frame["track"].ne(frame["track"].shift())] = pd.NaT
    gaps = gaps[gaps > pd.Timedelta(0)]
    per_track = gaps.groupby(frame.loc[gaps.index, "track"]).median()
    counts = frame.groupby("track").size()
    long = per_track[counts.reindex(per_track.index) >= length]
    chosen = long if len(long) else per_track
    if chosen.empty:
        raise ParameterError(
            "resample",
            "cannot choose a step interval: no track has two reports at different times; "
            f"give {NAME} explicitly",
        )
    return chosen.median()


def span_for(span: str | None, forecasting: bool) -> str | None:
    """The span a training uses: ``"auto"`` is :data:`DEFAULT_SPAN` for an autoencoder's
    windows and None for a forecaster (its lookback and horizon count the data's own steps:
    a coarser interval would change what "the next H steps" means)."""
    if span == "auto":
        return None if forecasting else DEFAULT_SPAN
    return span


def check_span(span: object) -> None:
    """A window span (see :func:`resolve_settings`) must be None, ``"auto"`` or a duration."""
    if span is None or span == "auto":
        return
    if not isinstance(span, str):
        raise ParameterError("span", f"{NAME} must be a duration string or None, got {span!r}")
    try:
        _delta(span, "span")
    except SquallError:
        raise ParameterError(
            "span", f"{NAME}: cannot read {span!r} as a duration (e.g. 1D, 12h), or 'none'"
        ) from None


def resolve_settings(
    settings: WindowSettings, obs: Observations, span: str | None = None
) -> WindowSettings:
    """Replace ``auto``/default values by concrete ones (what gets stored in a bundle).

    ``span`` (with ``resample="auto"``): the least time ``length`` steps cover, e.g.
    :data:`DEFAULT_SPAN`; None: the data's own interval."""
    check_window_settings(settings)
    if settings.mode == "pooled":
        return WindowSettings(
            settings.length, settings.stride, "pooled", None, None, settings.min_observed
        )
    resample = settings.resample
    if resample == "auto":
        typical = typical_interval(obs, settings.length)
        if span is not None:
            typical = max(typical, _delta(span, "span") / settings.length)
        nice = next((n for n in NICE_INTERVALS if n >= typical), NICE_INTERVALS[-1])
        resample = format_duration(nice)
    elif resample is not None:
        resample = format_duration(_delta(resample, "resample"))
    max_gap = settings.max_gap
    if max_gap is None:
        base = _delta(resample, "resample") if resample else typical_interval(obs, settings.length)
        max_gap = format_duration(6 * base)
    else:
        max_gap = format_duration(_delta(max_gap, "max_gap"))
    return WindowSettings(
        settings.length, settings.stride, "track", resample, max_gap, settings.min_observed
    )


def _delta(text: str, name: str) -> pd.Timedelta:
    try:
        value = pd.Timedelta(text)
    except (ValueError, TypeError) as exc:
        raise SquallError(
            f"{name}: cannot read {text!r} as a duration (e.g. 1h, 30min, 3h)"
        ) from exc
    if value < pd.Timedelta(seconds=1) or value % pd.Timedelta(seconds=1):
        raise SquallError(f"{name} must be a positive whole number of seconds, got {text!r}")
    return value


def format_duration(delta: pd.Timedelta) -> str:
    """A duration as a pandas offset string (1D, 3h, 10min, 45s)."""
    seconds = int(delta.total_seconds())
    for unit, size in (("D", 86400), ("h", 3600), ("min", 60)):
        if seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


@dataclass
class Windows:
    """Windows cut from Observations, with the way back to the original reports.

    ``step_values`` (S, F) is the step table: each step's physical values, NaN where missing.
    ``steps`` (N, T) index it: window ``i`` is ``step_values[steps[i]]`` (a window's values are
    never stored per window: with overlapping windows that is a T-fold copy of the table; see
    :meth:`window_values`). ``step_time`` (S,) is each step's time and its original reports are
    ``step_obs[step_ptr[s]:step_ptr[s + 1]]``, indices into ``obs`` (the Observations frame's
    rows). ``track``, ``start`` and ``end`` (N,) describe each window (start/end are the times of
    its first and last original report).
    """

    step_values: np.ndarray
    steps: np.ndarray
    step_time: np.ndarray
    step_ptr: np.ndarray
    step_obs: np.ndarray
    track: np.ndarray
    start: np.ndarray
    end: np.ndarray
    features: list[str]
    settings: WindowSettings
    skipped: int = 0

    @property
    def values(self) -> np.ndarray:
        """(N, T, F) physical values of all windows, NaN where missing: a full (N, T, F) copy,
        for small sets only (the large paths use :meth:`window_values` and :meth:`mask_of`)."""
        return self.window_values(slice(None))

    @property
    def mask(self) -> np.ndarray:
        """(N, T, F) observed cells of all windows (small sets only, as :attr:`values`)."""
        return self.mask_of(slice(None))

    def window_values(self, idx) -> np.ndarray:
        """Physical values (len(idx), T, F) of the windows ``idx`` (indices or a slice)."""
        return self.step_values[self.steps[idx]]

    def mask_of(self, idx) -> np.ndarray:
        """Observed cells (len(idx), T, F) of the windows ``idx`` (indices or a slice)."""
        return ~np.isnan(self.step_values)[self.steps[idx]]

    def feature_counts(self) -> np.ndarray:
        """(N, F) observed steps of each window and feature, a chunk of windows at a time."""
        observed = ~np.isnan(self.step_values)
        out = np.zeros((len(self), len(self.features)), dtype=np.int64)
        for lo in range(0, len(self), CHUNK_WINDOWS):
            out[lo : lo + CHUNK_WINDOWS] = observed[self.steps[lo : lo + CHUNK_WINDOWS]].sum(axis=1)
        return out

    def __len__(self) -> int:
        return len(self.steps)

    def rows(self, i: int) -> np.ndarray:
        """Indices into the Observations frame of every report behind window ``i``."""
        return self.reports(np.array([i]))[1]

    def reports(self, windows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Every (window, report) pair behind ``windows``: two int64 arrays, by window (in the
        order given), then step, then report (a report in k of the windows appears k times).

        Vectorized over all windows at once (no per-window Python loop): each window's steps
        are looked up in ``step_ptr`` and their reports gathered from ``step_obs``.
        """
        windows = np.asarray(windows, dtype=np.int64).reshape(-1)
        steps = self.steps[windows].reshape(-1)
        lo = self.step_ptr[steps]
        counts = self.step_ptr[steps + 1] - lo
        total = int(counts.sum())
        within = np.arange(total, dtype=np.int64) - np.repeat(np.cumsum(counts) - counts, counts)
        reports = self.step_obs[np.repeat(lo, counts) + within].astype(np.int64, copy=False)
        win = np.repeat(np.repeat(windows, self.steps.shape[1]), counts)
        return win, reports


def _segments(frame: pd.DataFrame, features: list[str], settings: WindowSettings):
    """Split each track at long gaps, then lay each segment out as steps (see the docstring).

    Works on the reports alone, so the size of the step table is known before it is built.
    """
    track_codes, track_names = pd.factorize(frame["track"], sort=True)
    names = np.asarray(track_names, dtype=object)
    ns = frame["time"].to_numpy("datetime64[ns]").astype(np.int64)
    order = np.lexsort((ns, track_codes))  # stable: ties keep file order
    tr, t_ns = track_codes[order], ns[order]
    vals = frame[features].to_numpy(dtype=np.float64)[order]
    observed = ~np.isnan(vals).all(axis=1)
    if settings.resample:
        width = pd.Timedelta(settings.resample).value
        coord = t_ns // width  # grid step of each report (its bin)
        coord_time = coord * width
    else:
        width = 0
        coord = np.arange(len(order))  # one step per report
        coord_time = t_ns
    # Segments from the observed reports alone: split at track changes and long gaps.
    o = np.flatnonzero(observed)
    brk = np.ones(len(o), dtype=bool)
    if len(o) > 1:
        same_track = tr[o[1:]] == tr[o[:-1]]
        gap = np.diff(coord_time[o]) > pd.Timedelta(settings.max_gap).value
        brk[1:] = ~same_track | gap
    first_o = o[brk]  # each segment's first and last observed report (sorted positions)
    last_o = o[np.append(brk[1:], True)] if len(o) else o
    seg_first, seg_last = coord[first_o], coord[last_o]
    seg_track = tr[first_o]
    sizes = seg_last - seg_first + 1
    total = int(sizes.sum())
    if settings.resample and total > MAX_GRID_STEPS:
        raise ParameterError(
            "resample",
            f"{NAME} {settings.resample} would put the data on a grid of "
            f"{total:,} steps (limit {MAX_GRID_STEPS:,}); choose a longer "
            f"interval or a shorter {mark('max_gap')}",
        )
    offsets = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
    # The segment of each report: runs of reports sharing a step, segments cover whole runs.
    run = np.zeros(len(order), dtype=np.int64)
    if len(order) > 1:
        run[1:] = np.cumsum((tr[1:] != tr[:-1]) | (coord[1:] != coord[:-1]))
    seg_run_first, seg_run_last = run[first_o], run[last_o]
    seg = np.searchsorted(seg_run_first, run, side="right") - 1
    inside = seg >= 0
    inside[inside] = run[inside] <= seg_run_last[seg[inside]]
    rep = np.flatnonzero(inside)  # sorted positions of the reports that belong to a segment
    step_of_rep = offsets[seg[rep]] + (coord[rep] - seg_first[seg[rep]])
    # Mean of the reports in each step (one report per step without resampling).
    occupied, inverse = np.unique(step_of_rep, return_inverse=True)
    sums = np.zeros((len(occupied), len(features)))
    counts = np.zeros((len(occupied), len(features)))
    seen = ~np.isnan(vals[rep])
    np.add.at(sums, inverse, np.where(seen, vals[rep], 0.0))
    np.add.at(counts, inverse, seen)
    values = np.full((total, len(features)), np.nan)
    with np.errstate(invalid="ignore", divide="ignore"):
        values[occupied] = np.where(counts > 0, sums / np.maximum(counts, 1), np.nan)
    step_track = np.repeat(seg_track, sizes)
    if settings.resample:
        within = np.arange(total) - np.repeat(offsets[:-1], sizes)
        step_time = ((np.repeat(seg_first, sizes) + within) * width).astype("datetime64[ns]")
    else:
        step_time = np.zeros(total, dtype=np.int64)
        step_time[step_of_rep] = t_ns[rep]
        step_time = step_time.astype("datetime64[ns]")
    # step_of_rep is non-decreasing (reports sorted by track and time): steps in time order
    step_obs = order[rep].astype(np.int64)
    step_ptr = np.searchsorted(step_of_rep, np.arange(total + 1))
    return values, step_time, step_track, names, step_ptr, step_obs, offsets


def make_windows(obs: Observations, settings: WindowSettings) -> Windows:
    """Cut windows from ``obs`` with resolved ``settings`` (see :func:`resolve_settings`)."""
    frame, features, T = obs.frame.reset_index(drop=True), obs.features, settings.length
    if len(frame) == 0:
        raise SquallError("no reports to cut windows from")
    if settings.mode == "pooled":
        order = frame.sort_values("time").index.to_numpy()  # quicksort, as the original pipeline
        vals = frame[features].to_numpy(dtype=np.float64)[order]
        complete = ~np.isnan(vals).any(axis=1)
        order, vals = order[complete], vals[complete]
        n = len(order)
        starts = np.arange(0, max(n - T, 0), settings.stride)
        step_time = frame["time"].to_numpy("datetime64[ns]")[order]
        steps = starts[:, None] + np.arange(T)[None, :]
        return _assemble(
            vals,
            step_time,
            np.zeros(n, dtype=np.int64),
            np.array(["pooled"], object),
            np.arange(n + 1),
            order.astype(np.int64),
            steps,
            frame,
            features,
            settings,
            skipped=0,
        )

    values, step_time, step_track, names, step_ptr, step_obs, offsets = _segments(
        frame, features, settings
    )
    # Windows lie inside one segment; stride counts from each segment's first step.
    sizes = np.diff(offsets)
    n_win = np.where(sizes >= T, (sizes - T) // settings.stride + 1, 0)
    first_win = np.concatenate([[0], np.cumsum(n_win)])
    starts = np.repeat(offsets[:-1], n_win) + settings.stride * (
        np.arange(first_win[-1]) - np.repeat(first_win[:-1], n_win)
    )
    observed = ~np.isnan(values).all(axis=1)
    n_observed = np.concatenate([[0], np.cumsum(observed)])
    keep = (n_observed[starts + T] - n_observed[starts]) / T >= settings.min_observed
    steps = starts[keep][:, None] + np.arange(T)[None, :]
    return _assemble(
        values,
        step_time,
        step_track,
        names,
        step_ptr,
        step_obs,
        steps,
        frame,
        features,
        settings,
        skipped=int((~keep).sum()),
    )


def _assemble(
    values,
    step_time,
    step_track,
    names,
    step_ptr,
    step_obs,
    steps,
    frame,
    features,
    settings,
    skipped,
) -> Windows:
    times = frame["time"].to_numpy("datetime64[ns]")
    n_obs = np.diff(step_ptr)
    # first/last original report of each window: min/max over its steps' reports
    step_first = np.full(len(n_obs), np.datetime64("NaT"), dtype="datetime64[ns]")
    step_last = step_first.copy()
    has = n_obs > 0
    if len(step_obs):
        t = times[step_obs]
        step_first[has] = np.minimum.reduceat(t, step_ptr[:-1][has])
        step_last[has] = np.maximum.reduceat(t, step_ptr[:-1][has])
    steps = steps if len(steps) else np.zeros((0, settings.length), dtype=np.int64)
    start, end = _window_extremes(step_first, step_last, steps)
    track = names[step_track[steps[:, 0]]] if len(steps) else np.zeros(0, dtype=object)
    return Windows(
        values,
        steps.astype(np.int64, copy=False),
        step_time,
        np.asarray(step_ptr, np.int64),
        step_obs,
        np.asarray(track, dtype=object),
        start,
        end,
        list(features),
        settings,
        skipped,
    )


#: Windows handled at once by :func:`_window_extremes` (bounds its (chunk, T) temporaries).
CHUNK_WINDOWS = 100_000


def _window_extremes(
    step_first: np.ndarray, step_last: np.ndarray, steps: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Each window's first and last report time over its steps (NaT steps ignored), a chunk of
    windows at a time: an (N, T) gather of times for all windows at once is 24 copies of the
    step table."""
    start = np.empty(len(steps), dtype="datetime64[ns]")
    end = np.empty(len(steps), dtype="datetime64[ns]")
    for lo in range(0, len(steps), CHUNK_WINDOWS):
        part = steps[lo : lo + CHUNK_WINDOWS]
        start[lo : lo + len(part)] = np.nanmin(step_first[part], axis=1)
        end[lo : lo + len(part)] = np.nanmax(step_last[part], axis=1)
    return start, end
