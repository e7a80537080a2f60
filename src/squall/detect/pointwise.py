"""Per-timestamp anomaly scores from overlapping windows, smoothing, and events from flagged steps.

A window model scores windows; an anomaly happens at times. With stride 1 every step of a track
is covered by up to ``T`` windows, each with its own reconstruction of that step. Three ways to
get one score per step (``how``):

``recon-median`` (default)
    The median over the covering windows of each feature's reconstruction, then the mean over
    the step's observed features of ``|observed - median reconstruction|`` (scaled units). This
    is Orion's ``reconstruction_errors(rec_error_type="point")``: the median makes one step's
    reconstruction robust to the windows that see it at their badly reconstructed edges.
``error-median`` / ``error-mean``
    The median (mean) over the covering windows of each window's absolute error at that step
    (mean over observed features).

Absolute, not squared, errors: the thresholds that follow (mean + k sigma, Hundman's search)
assume roughly light tails, and squaring turns a few large errors into extreme outliers that
inflate the standard deviation for the rest of the series.

``smooth`` applies an EWMA (pandas ``ewm(span=...)``, NaN skipped) per track, in step order,
started from a history of ``span`` median scores (so the first steps are smoothed like the rest);
``step_events`` turns flagged steps into events per track, optionally padded and merged.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from squall.data.windows import Windows
from squall.data.windowset import WindowSet
from squall.errors import SquallError

if TYPE_CHECKING:
    from squall.detect.scoring import Scores

HOW = ("recon-median", "error-median", "error-mean")


@dataclass
class StepScores:
    """One score per step covered by at least one window, in (track, time) order.

    ``step`` indexes the window set's step table; ``start``/``end`` are the times of the first
    and last original report in each step (the step's grid time when it holds no report);
    ``value`` (S, F) the step's scaled observed values (NaN where missing) and ``recon`` (S, F)
    the reconstruction used for the score (NaN for the ``error-*`` methods).
    """

    step: np.ndarray
    track: np.ndarray
    start: np.ndarray
    end: np.ndarray
    score: np.ndarray
    value: np.ndarray
    recon: np.ndarray
    _tracks: list[tuple[str, np.ndarray]] | None = field(default=None, repr=False, compare=False)

    def __len__(self) -> int:
        return len(self.step)

    def tracks(self) -> list[tuple[str, np.ndarray]]:
        """``(track, indices)`` of each track's steps, in time order (tracks in order of their
        first step). One hash pass and one stable sort for all tracks: linear in the steps
        whatever their number, and no fixed-width copy of the names. Computed once."""
        if self._tracks is None:
            codes, uniq = pd.factorize(self.track, use_na_sentinel=False)  # by first appearance
            order = np.argsort(codes, kind="stable")  # each track's steps keep their order
            groups = np.split(order, np.cumsum(np.bincount(codes, minlength=len(uniq)))[:-1])
            self._tracks = [(str(uniq[i]), groups[i]) for i in range(len(uniq))]
        return self._tracks


def _grouped_median(keys: np.ndarray, values: np.ndarray, n_groups: int) -> np.ndarray:
    """Median of ``values`` per group ``keys`` (0..n_groups-1), NaN ignored; NaN for empty."""
    ok = np.isfinite(values)
    keys, values = keys[ok], values[ok]
    order = np.lexsort((values, keys))
    keys, values = keys[order], values[order]
    counts = np.bincount(keys, minlength=n_groups)
    offsets = np.concatenate([[0], np.cumsum(counts)[:-1]])
    out = np.full(n_groups, np.nan)
    has = counts > 0
    lo = offsets[has] + (counts[has] - 1) // 2
    hi = offsets[has] + counts[has] // 2
    out[has] = 0.5 * (values[lo] + values[hi])
    return out


def step_scores(ws: WindowSet, recon: np.ndarray, how: str = "recon-median") -> StepScores:
    """Per-step scores of ``ws`` from the reconstructions ``recon`` (N, T, F, scaled)."""
    if how not in HOW:
        raise SquallError(f"per-step score must be one of {', '.join(HOW)}, got {how!r}")
    if recon.shape != ws.x.shape:
        raise SquallError(f"reconstructions of shape {recon.shape} for windows {ws.x.shape}")
    n, T, F = ws.x.shape
    if n == 0:
        raise SquallError("no windows to score")
    flat_step = ws.steps.reshape(-1)
    used, key = np.unique(flat_step, return_inverse=True)
    S = len(used)
    mask = ws.mask.reshape(-1, F)
    x = np.where(mask, ws.x.reshape(-1, F), np.nan)
    r = recon.reshape(-1, F).astype(np.float64)
    # the observed value of a step is the same in every window holding it: take any
    value = np.full((S, F), np.nan)
    value[key] = x
    track = np.empty(S, dtype=object)
    track[key] = np.repeat(ws.track.astype(object), T)
    if how == "recon-median":
        rec = np.stack([_grouped_median(key, r[:, f], S) for f in range(F)], axis=1)
        with np.errstate(invalid="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            score = np.nanmean(np.abs(value - rec), axis=1)
    else:
        rec = np.full((S, F), np.nan)
        with np.errstate(invalid="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN rows: unobserved steps
            err = np.nanmean(np.abs(np.where(mask, r - x, np.nan)), axis=1)
        if how == "error-median":
            score = _grouped_median(key, err, S)
        else:
            ok = np.isfinite(err)
            total = np.bincount(key[ok], weights=err[ok], minlength=S)
            count = np.bincount(key[ok], minlength=S)
            with np.errstate(invalid="ignore", divide="ignore"):
                score = np.where(count > 0, total / count, np.nan)
    start, end = _step_times(ws, used)
    order = np.lexsort((start, track.astype(str)))
    return StepScores(
        used[order], track[order], start[order], end[order], score[order], value[order], rec[order]
    )


def step_table(windows: Windows, report_times: np.ndarray | None = None) -> StepScores:
    """The steps covered by at least one of ``windows``, in (track, time) order, with their
    physical values (``value``; NaN where missing) and NaN scores: what a scorer that works on
    whole series rather than windows (:mod:`squall.detect.classical`) fills in. Step times are
    those of the original reports when ``report_times`` (the Observations' ``time`` column) is
    given, else the grid's."""
    n, T = windows.steps.shape
    if n == 0:
        raise SquallError("no windows to score")
    used, key = np.unique(windows.steps.reshape(-1), return_inverse=True)
    track = np.empty(len(used), dtype=object)
    track[key] = np.repeat(np.asarray(windows.track, dtype=object), T)
    start, end = _step_times(windows, used, report_times)
    order = np.lexsort((start, track.astype(str)))
    value = np.asarray(windows.step_values, dtype=np.float64)[used[order]]
    return StepScores(
        used[order],
        track[order],
        start[order],
        end[order],
        np.full(len(used), np.nan),
        value,
        np.full(value.shape, np.nan),
    )


def _step_times(
    ws: Windows, steps: np.ndarray, times: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    grid = np.asarray(ws.step_time, dtype="datetime64[ns]")[steps]
    start, end = grid.copy(), grid.copy()
    if times is None:
        if not (isinstance(ws, WindowSet) and ws.traceable and "time" in ws.obs):
            return start, end
        times = ws.obs["time"].to_numpy("datetime64[ns]")
    times = np.asarray(times, dtype="datetime64[ns]")
    lo, hi = ws.step_ptr[steps], ws.step_ptr[steps + 1]
    has = hi > lo
    if len(ws.step_obs) and has.any():
        t = times[ws.step_obs]
        # reports of one step are contiguous in step_obs: min/max over each [lo, hi)
        first = np.minimum.reduceat(t, ws.step_ptr[:-1].clip(max=len(t) - 1))
        last = np.maximum.reduceat(t, ws.step_ptr[:-1].clip(max=len(t) - 1))
        start[has] = first[steps[has]]
        end[has] = last[steps[has]]
    return start, end


def smooth(scores: StepScores | np.ndarray, span: float | None) -> np.ndarray:
    """EWMA of the scores with ``span`` steps, per track (an array is one track); ``None``,
    0 or 1: unchanged. NaN scores are skipped and stay NaN."""
    if isinstance(scores, StepScores):
        out = scores.score.astype(np.float64).copy()
        for _, idx in scores.tracks():
            out[idx] = smooth(scores.score[idx], span)
        return out
    values = np.asarray(scores, dtype=np.float64)
    if not span or span <= 1:
        return values.copy()
    ok = np.isfinite(values)
    if not ok.any():
        return values.copy()
    # warm start: a history of ``span`` typical (median) scores before the first step, so the
    # first steps are not their own unsmoothed average (a spike at step 0 would stay a spike)
    lead = int(math.ceil(span))
    padded = np.concatenate([np.full(lead, np.median(values[ok])), values])
    smoothed = pd.Series(padded).ewm(span=float(span), ignore_na=True).mean().to_numpy()[lead:]
    return np.where(ok, smoothed, np.nan)


def step_events(
    scores: StepScores,
    flags: np.ndarray,
    *,
    values: np.ndarray | None = None,
    pad: int = 0,
    merge_gap: int = 0,
    valley: float = 0.5,
    split: bool = False,
    min_steps: int = 1,
) -> pd.DataFrame:
    """Events from flagged steps: runs of flagged steps of one track, each run widened by ``pad``
    steps on both sides (within the track) and runs at most ``merge_gap`` steps apart merged.

    Long events: the score of an event may fall back between peaks (:func:`split_points`: a
    valley at least ``valley`` times the event's range deep, each side keeping ``min_steps``
    steps). ``split``: such an event becomes one event per peak; otherwise it stays whole and
    ``peaks`` says how many it has.

    Returns ``track``, ``start``, ``end`` (times of the first and last report), ``score`` (the
    peak of ``values``, default the step scores), ``peak`` (the time of that peak), ``peaks``,
    ``steps`` (number of steps) and ``first``/``last`` (indices into ``scores``).
    """
    from squall.detect.dynamic import runs

    flags = np.asarray(flags, dtype=bool)
    vals = scores.score if values is None else np.asarray(values, dtype=np.float64)
    rows = []
    for track, idx in scores.tracks():
        f = flags[idx]
        seq = runs(f)
        if len(seq) == 0:
            continue
        seq = seq + np.array([-pad, pad])
        seq = seq.clip(0, len(idx) - 1)
        merged = [list(seq[0])]
        for a, b in seq[1:]:
            if a - merged[-1][1] - 1 <= merge_gap:
                merged[-1][1] = max(merged[-1][1], b)
            else:
                merged.append([a, b])
        pieces = []
        for a, b in merged:
            cuts = split_points(vals[idx[a : b + 1]], valley, min_steps)
            if not split:
                pieces.append((a, b, len(cuts) + 1))
                continue
            bounds = [a, *(a + c + 1 for c in cuts), b + 1]
            pieces += [(lo, hi - 1, 1) for lo, hi in zip(bounds[:-1], bounds[1:], strict=True)]
        for a, b, peaks in pieces:
            part = vals[idx[a : b + 1]]
            ok = np.isfinite(part)
            top = int(np.argmax(np.where(ok, part, -np.inf))) if ok.any() else 0
            rows.append(
                {
                    "track": track,
                    "start": scores.start[idx[a]],
                    "end": scores.end[idx[b]],
                    "score": float(part[top]) if ok.any() else np.nan,
                    "peak": scores.start[idx[a + top]],
                    "peaks": int(peaks),
                    "steps": int(b - a + 1),
                    "first": int(idx[a]),
                    "last": int(idx[b]),
                }
            )
    cols = ["track", "start", "end", "score", "peak", "peaks", "steps", "first", "last"]
    ints = {c: np.int64 for c in ("peaks", "steps", "first", "last")}
    frame = pd.DataFrame(rows, columns=cols).astype({"track": str, "score": float} | ints)
    frame["peak"] = pd.to_datetime(frame["peak"])
    frame["start"] = pd.to_datetime(frame["start"])
    frame["end"] = pd.to_datetime(frame["end"])
    return frame


def split_points(values: np.ndarray, valley: float = 0.5, min_steps: int = 1) -> list[int]:
    """Where to cut one event's scores ``values`` (steps in time order) into events of their
    own: the indices after which a cut falls, ascending.

    A cut goes at the deepest valley whose depth (the lower of the highest scores before and
    after it, minus its own score) is at least ``valley`` times the event's range (its highest
    minus its lowest score; 0.5: the half-prominence rule, as a peak's width is read at half its
    height); both parts keep at least ``min_steps`` steps; the parts are then
    cut the same way, against the same (whole-event) range. Scale-free: only the shape of the
    event's own scores matters. NaN scores (unscored steps) count as the event's lowest.
    """
    v = np.asarray(values, dtype=np.float64)
    ok = np.isfinite(v)
    if valley <= 0 or ok.sum() < 3:
        return []
    v = np.where(ok, v, v[ok].min())
    need = valley * (v.max() - v.min())
    if need <= 0:
        return []
    min_steps = max(1, int(min_steps))
    cuts: list[int] = []
    todo = [(0, len(v))]
    while todo:
        lo, hi = todo.pop()
        part = v[lo:hi]
        n = len(part)
        if n < 2 * min_steps + 1:
            continue
        left = np.maximum.accumulate(part)  # highest score up to each step
        right = np.maximum.accumulate(part[::-1])[::-1]  # from each step on
        depth = np.full(n, -np.inf)
        inner = slice(min_steps, n - min_steps)  # a valley leaving min_steps on both sides
        depth[inner] = np.minimum(left[inner], right[inner]) - part[inner]
        at = int(np.argmax(depth))
        if depth[at] < need:
            continue
        cuts.append(lo + at)  # the valley step ends the left part
        todo += [(lo, lo + at + 1), (lo + at + 1, hi)]
    return sorted(cuts)


def score_all(
    reconstruct: Callable[[np.ndarray], np.ndarray],
    ws: WindowSet,
    how: str = "recon-median",
    chunk: int | None = None,
) -> tuple[Scores, StepScores]:
    """Window scores and per-step scores of ``ws`` in one pass over its windows, a chunk at a
    time: ``(Scores, StepScores)``, the numbers of :func:`squall.detect.scoring.score_windows`
    and of :func:`step_scores` on all reconstructions at once, without holding the (N, T, F)
    reconstructions.

    A step's score needs every window that covers it. Each step's last covering window is known
    from the step table, so after each chunk the steps whose windows have all been seen are
    finished and their cells dropped; only the cells of steps still open (those of the last
    ``T - 1`` windows of each track, for ordered windows) are carried to the next chunk.
    """
    from squall.detect.scoring import CHUNK, Scores, chunks, score

    if how not in HOW:
        raise SquallError(f"per-step score must be one of {', '.join(HOW)}, got {how!r}")
    n, T = ws.steps.shape
    F = len(ws.features)
    if n == 0:
        raise SquallError("no windows to score")
    total = int(ws.steps.max()) + 1
    # windows in the order of their first step (a no-op for the sets squall makes, which are in
    # (track, time) order): a step's windows then come one after another, so only the cells of
    # the last T - 1 windows of a track stay open, whatever order a windows file stored them in
    order = np.argsort(ws.steps[:, 0], kind="stable")
    parts: list[slice | np.ndarray] = list(chunks(n, chunk or CHUNK))
    if not (order == np.arange(n)).all():
        parts = [order[p] for p in parts]
    last = np.full(total, -1, dtype=np.int64)  # the last chunk covering each step
    for c, part in enumerate(parts):  # by chunk: no (N * T) index array at once
        np.maximum.at(last, ws.steps[part].reshape(-1), c)
    used = np.flatnonzero(last >= 0)
    # tracks as codes into the sorted names (codes sort as the names do): one small integer per
    # step instead of a Python string per window
    window_code, names = pd.factorize(
        np.asarray(ws.track, dtype=object), sort=True, use_na_sentinel=False
    )
    names = np.asarray(names, dtype=object)
    code = np.full(total, -1, dtype=np.int64)
    value = np.full((total, F), np.nan)
    rec = np.full((total, F), np.nan)
    score_out = np.full(total, np.nan)
    window, observed = np.empty(n), np.empty(n, dtype=np.int64)
    feature = np.empty((n, F))
    keys = np.zeros(0, dtype=np.int64)
    cells = np.zeros((0, F if how == "recon-median" else 1))
    for c, part in enumerate(parts):
        x = ws.inputs(part)
        r = reconstruct(x)
        mask = ws.mask_of(part)
        s = score(x, r, mask)
        window[part], feature[part], observed[part] = s.window, s.feature, s.observed
        k = ws.steps[part].reshape(-1)
        m = mask.reshape(-1, F)
        xv = np.where(m, x.reshape(-1, F), np.nan)
        value[k] = xv
        code[k] = np.repeat(window_code[part], T)
        rv = r.reshape(-1, F).astype(np.float64)
        if how == "recon-median":
            new = rv
        else:
            with np.errstate(invalid="ignore"), warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)
                new = np.nanmean(np.abs(np.where(m, rv - xv, np.nan)), axis=1)[:, None]
        keys = np.concatenate([keys, k])
        cells = np.concatenate([cells, new])
        done = last[keys] <= c
        if done.any():
            _finish(keys[done], cells[done], how, value, rec, score_out)
            keys, cells = keys[~done], cells[~done]
    start, end = _step_times(ws, used)
    order = np.lexsort((start, code[used]))
    idx = used[order]  # one gather per array
    steps = StepScores(
        idx,
        names[code[idx]],
        start[order],
        end[order],
        score_out[idx],
        value[idx],
        rec[idx],
    )
    scores = Scores(  # step errors not kept: Scores.step_of derives them from residuals
        window,
        feature,
        None,
        np.zeros((0, T, F)),
        observed,
        residual_windows=np.zeros(0, dtype=np.int64),
    )
    return scores, steps


def _finish(
    keys: np.ndarray,
    cells: np.ndarray,
    how: str,
    value: np.ndarray,
    rec: np.ndarray,
    out: np.ndarray,
) -> None:
    """Per-step scores of the steps in ``keys`` from all their cells (see :func:`score_all`)."""
    ids, key = np.unique(keys, return_inverse=True)
    S = len(ids)
    if how == "recon-median":
        med = np.stack(
            [_grouped_median(key, cells[:, f], S) for f in range(cells.shape[1])], axis=1
        )
        rec[ids] = med
        with np.errstate(invalid="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            out[ids] = np.nanmean(np.abs(value[ids] - med), axis=1)
        return
    err = cells[:, 0]
    if how == "error-median":
        out[ids] = _grouped_median(key, err, S)
        return
    ok = np.isfinite(err)
    total = np.bincount(key[ok], weights=err[ok], minlength=S)
    count = np.bincount(key[ok], minlength=S)
    with np.errstate(invalid="ignore", divide="ignore"):
        out[ids] = np.where(count > 0, total / count, np.nan)
