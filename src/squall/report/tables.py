"""The CSV tables a detection run writes, built from scores and the windows' way back to the data.

* ``scores.csv``: one row per window (index, track, ISO start/end, score, threshold, flagged,
  position range, observed cells, mean squared error per feature ``err_<F>`` over the
  feature's scored cells, whose number is ``n_<F>``). A scored cell is an observed cell the
  model predicts: every cell for an autoencoder; for a forecaster only the horizon's steps of
  its target features (:func:`predicted_cells`), so a feature it only reads has ``n_<F>`` 0
  and an empty ``err_<F>``.
* ``step_errors.csv``: per time step of each flagged window, the error and each feature's
  signed residual.
* ``anomalies.csv``: the flagged rows of ``scores.csv``.
* ``events.csv``: flagged windows merged per track (see :func:`squall.detect.events.merge_events`),
  with the peak score and the features that contributed most to the error. Events are numbered
  from 0 in time order of the detector (the ``event`` column); the report's figures, page and
  messages name an event by that number, ``#N``.
* ``anomaly_windows.csv``: every original report inside each flagged window, all its original
  columns as written in the source file, with the window index, the file and its data row.
"""

from __future__ import annotations

import csv
import io
import os
import warnings
from pathlib import Path
from typing import IO, TYPE_CHECKING

import numpy as np
import pandas as pd

from squall.data.noaa import iter_table
from squall.data.sensor_csv import iter_raw
from squall.data.windowset import WindowSet
from squall.detect.events import merge_events
from squall.detect.scoring import Scores
from squall.errors import SquallError
from squall.io import atomic_path

if TYPE_CHECKING:
    from squall.bundle import Bundle


def _iso(times: np.ndarray) -> np.ndarray:
    return np.asarray(pd.to_datetime(times).strftime("%Y-%m-%dT%H:%M:%S").fillna(""), dtype=object)


#: Windows handled at once where a per-window table is built (bounds the (chunk, T) arrays).
CHUNK_WINDOWS = 100_000


def _positions(ws: WindowSet) -> np.ndarray:
    """(N, 4) lat min/max, lon min/max over each window's reports (NaN when unknown).

    Vectorized: the extremes of each step's reports first (one ``reduceat``), then of each
    window's steps, a chunk of windows at a time.
    """
    out = np.full((len(ws), 4), np.nan)
    if not ws.traceable or "lat" not in ws.obs or not len(ws.step_obs):
        return out
    lat = ws.obs["lat"].to_numpy(float)[ws.step_obs]
    lon = ws.obs["lon"].to_numpy(float)[ws.step_obs]
    known = np.isfinite(lat)
    per_step = np.full((len(ws.step_ptr) - 1, 4), np.nan)
    starts = ws.step_ptr[:-1]
    has = np.diff(ws.step_ptr) > 0
    for k, (values, fill, reduce) in enumerate(
        (
            (lat, np.inf, np.minimum),
            (lat, -np.inf, np.maximum),
            (lon, np.inf, np.minimum),
            (lon, -np.inf, np.maximum),
        )
    ):
        clean = np.where(known & np.isfinite(values), values, fill)
        per_step[has, k] = reduce.reduceat(clean, starts[has])
    per_step[~np.isfinite(per_step)] = np.nan
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN windows stay NaN
        for lo in range(0, len(ws), CHUNK_WINDOWS):
            steps = ws.steps[lo : lo + CHUNK_WINDOWS]
            out[lo : lo + len(steps), [0, 2]] = np.nanmin(per_step[steps][..., [0, 2]], axis=1)
            out[lo : lo + len(steps), [1, 3]] = np.nanmax(per_step[steps][..., [1, 3]], axis=1)
    return out


def _names(track: np.ndarray) -> np.ndarray:
    """Track names as an object array of str that shares the window set's str objects (as
    ``astype(str)`` would read, without a new str per window: 1.7 million windows, 0.1 GB)."""
    if track.dtype == object and all(type(t) is str for t in dict.fromkeys(track.tolist())):
        return track
    return track.astype(str)


def predicted_cells(bundle: Bundle) -> np.ndarray | None:
    """The cells (T, F) of a window the bundle's model predicts, as
    :func:`squall.detect.scoring.predictor` fills them: None (every cell) for an autoencoder;
    for a forecaster the steps after its lookback of its target features."""
    task = bundle.task
    if task.kind != "forecast" or task.lookback is None:
        return None
    features = list(bundle.features)
    cells = np.zeros((int(bundle.length), len(features)), dtype=bool)
    targets = [features.index(f) for f in (task.targets or features)]
    cells[int(task.lookback) :, targets] = True
    return cells


def scored_counts(ws: WindowSet, cells: np.ndarray | None = None) -> np.ndarray:
    """(N, F) scored cells of each window and feature: observed cells among ``cells`` (T, F)
    (None: all of them), a chunk of windows at a time."""
    if cells is None:
        return ws.feature_counts()
    cells = np.asarray(cells, dtype=bool)
    if cells.shape != (ws.steps.shape[1], len(ws.features)):
        raise SquallError(
            f"predicted cells of shape {cells.shape} do not fit windows of "
            f"{ws.steps.shape[1]} steps and {len(ws.features)} features"
        )
    observed = ~np.isnan(ws.step_values)
    out = np.zeros((len(ws), len(ws.features)), dtype=np.int64)
    for lo in range(0, len(ws), CHUNK_WINDOWS):
        steps = ws.steps[lo : lo + CHUNK_WINDOWS]
        out[lo : lo + len(steps)] = (observed[steps] & cells).sum(axis=1)
    return out


def scores_frame(
    ws: WindowSet, scores: Scores, threshold: float, cells: np.ndarray | None = None
) -> pd.DataFrame:
    """``scores.csv`` (see the module doc). ``cells``: the (T, F) cells the model predicts
    (:func:`predicted_cells`; None: every cell): ``n_<F>`` counts the observed ones among
    them, the cells ``err_<F>`` is the mean of; a window and feature without any (no error)
    counts 0."""
    pos = _positions(ws)
    frame = pd.DataFrame(
        {
            "window": np.arange(len(ws)),
            "track": _names(ws.track),
            "start": _iso(ws.start),
            "end": _iso(ws.end),
            "score": scores.window,
            "threshold": threshold,
            "flagged": scores.window > threshold,
            "observed": scores.observed,
            "lat_min": pos[:, 0],
            "lat_max": pos[:, 1],
            "lon_min": pos[:, 2],
            "lon_max": pos[:, 3],
        }
    )
    # (N, F) scored cells: only those with an error (a forecaster's horizon targets)
    counts = np.where(np.isfinite(scores.feature), scored_counts(ws, cells), 0)
    for k, name in enumerate(ws.features):
        frame[f"err_{name}"] = scores.feature[:, k]
    for k, name in enumerate(ws.features):
        frame[f"n_{name}"] = counts[:, k]
    return frame


def step_errors_frame(ws: WindowSet, scores: Scores, windows: np.ndarray) -> pd.DataFrame:
    """Per time step of each window in ``windows``: the step's time, its masked squared error and,
    per feature, the signed residual (reconstruction - observed, scaled units; empty when the
    value is missing). Built column by column for all windows at once."""
    windows = np.asarray(windows, dtype=np.int64).reshape(-1)
    T = ws.steps.shape[1]
    frame = pd.DataFrame(
        {
            "window": np.repeat(windows, T),
            "track": np.repeat(ws.track[windows].astype(str), T),
            "step": np.tile(np.arange(T), len(windows)),
            "time": _iso(ws.step_time[ws.steps[windows].reshape(-1)]),
            "error": scores.step_of(windows).reshape(-1),
        }
    )
    residual = scores.residual_of(windows).reshape(len(windows) * T, len(ws.features))
    for k, f in enumerate(ws.features):
        frame[f"residual_{f}"] = residual[:, k]
    return frame


def events_frame(
    scores: pd.DataFrame, features: list[str], top: int = 3, event: np.ndarray | None = None
) -> pd.DataFrame:
    """One row per event of ``scores`` (a scores table): ``event`` the event of each window
    (-1: none) as the detector grouped them; default: overlapping flagged windows merged.

    An event's peak window is the one with the highest score the detector thresholds: the
    peak smoothed step score (``step_score``) for a step detector, else the window score. The
    windows of each event are found by one sort, not a scan of the table per event."""
    if event is None:
        start = pd.to_datetime(scores["start"]).to_numpy()
        end = pd.to_datetime(scores["end"]).to_numpy()
        event = merge_events(scores["track"].to_numpy(), start, end, scores["flagged"].to_numpy())
    event = np.asarray(event, dtype=np.int64)
    rows = []
    err_cols = [f"err_{f}" for f in features]
    n_cols = [f"n_{f}" for f in features]
    peak_by = "step_score" if "step_score" in scores else "score"
    member = np.flatnonzero(event >= 0)
    member = member[np.argsort(event[member], kind="stable")]  # by event, table order within
    bounds = np.searchsorted(event[member], np.arange(event.max() + 2 if len(event) else 0))
    for e in range(len(bounds) - 1):
        part = scores.iloc[member[bounds[e] : bounds[e + 1]]]
        if part.empty:
            continue
        peak = part.loc[part[peak_by].idxmax()] if part[peak_by].notna().any() else part.iloc[0]
        # squared error summed over each feature's own scored cells (mean x count); a feature
        # without any in the event (one a forecaster only reads, or unobserved) has no share
        err = np.nan_to_num(part[err_cols].to_numpy(float))
        n = np.nan_to_num(part[n_cols].to_numpy(float))
        contrib = (err * n).sum(axis=0)
        share = contrib / contrib.sum() if contrib.sum() > 0 else np.zeros(len(features))
        share = np.where(n.sum(axis=0) > 0, share, np.nan)
        order = np.argsort(-share)[:top]
        row = {
            "event": e,
            "track": peak["track"],
            "start": part["start"].min(),
            "end": part["end"].max(),
            "score": float(peak["score"]),
            "peak_window": int(peak["window"]),
            "peak_start": peak["start"],
            "n_windows": len(part),
            "lat_min": part["lat_min"].min(),
            "lat_max": part["lat_max"].max(),
            "lon_min": part["lon_min"].min(),
            "lon_max": part["lon_max"].max(),
            "top_features": "; ".join(
                f"{features[k]} {share[k]:.0%}" for k in order if share[k] > 0
            ),
        }
        row.update({f"share_{f}": float(share[k]) for k, f in enumerate(features)})
        rows.append(row)
    columns = [
        "event",
        "track",
        "start",
        "end",
        "score",
        "peak_window",
        "peak_start",
        "n_windows",
        "lat_min",
        "lat_max",
        "lon_min",
        "lon_max",
        "top_features",
    ] + [f"share_{f}" for f in features]
    return pd.DataFrame(rows, columns=columns)


def _source_kind(ws: WindowSet) -> str:
    return (ws.meta.get("reader") or {}).get("kind") or (
        "noaa" if any(c.startswith("flag_") for c in ws.obs.columns) else "csv"
    )


def _check_source(ws: WindowSet, source: int) -> Path:
    """The path of source ``source``, opened only when it is a regular file whose SHA-256 is the
    one recorded when the windows were made: a changed file's row numbers may no longer mean the
    same rows, and a windows file naming a path without its hash could make squall read any file
    on the machine into anomaly_windows.csv."""
    from squall.io import sha256_file
    from squall.limits import regular_file

    path = ws.sources[source]
    shas = ws.meta.get("sources_sha256") or []
    if source >= len(shas) or not isinstance(shas[source], str):
        raise SquallError(
            f"the windows name source file {path} without its SHA-256; squall "
            f"opens only sources it can check: rebuild the windows with: squall "
            f"windows BUNDLE DATA --out FILE.npz"
        )
    if not Path(path).exists():
        raise SquallError(f"source file {path} (listed in the windows file) no longer exists")
    p = regular_file(path, "source file")
    if sha256_file(p) != shas[source]:
        raise SquallError(
            f"source file {path} changed since the windows were made; "
            f"rebuild them with: squall windows BUNDLE DATA --out FILE.npz"
        )
    return p


def _blocks(path: Path, kind: str):
    """The source re-read a block at a time, rows numbered exactly as its reader numbered them."""
    return iter_table(path) if kind == "noaa" else iter_raw(path)


def _columns(path: Path, kind: str) -> list[str]:
    return list(next(iter(_blocks(path, kind)))[0].columns)


def _original_rows(ws: WindowSet, path: Path, rows: np.ndarray, columns: list[str]) -> np.ndarray:
    """The CSV text (``columns``, quoted as needed, no newline) of data rows ``rows`` (sorted,
    unique) of one source (``path``, checked by :func:`_check_source`), read once, a block at a
    time, keeping only those rows."""
    kind = _source_kind(ws)
    out = np.empty(len(rows), dtype=object)
    found = np.zeros(len(rows), dtype=bool)
    for block, _ in _blocks(path, kind):
        lo, hi = (
            np.searchsorted(rows, [block.index[0], block.index[-1] + 1]) if len(block) else (0, 0)
        )
        if hi == lo:
            continue
        wanted = rows[lo:hi]
        present = np.isin(wanted, block.index.to_numpy())
        text = _csv_lines(block.loc[wanted[present]].reindex(columns=columns))
        out[lo:hi][present] = text
        found[lo:hi] |= present
    if not found.all():
        raise SquallError(
            f"source file {path} has no data row {int(rows[~found][0])} "
            f"(listed in the windows file)"
        )
    return out


def _csv_lines(frame: pd.DataFrame) -> list[str]:
    """One CSV record per row of a text frame (missing = empty), without line terminators."""
    buf = io.StringIO()
    # the terminator's characters are quoted inside fields: "\r\n", then cut off each record
    writer = csv.writer(buf, lineterminator="\r\n")
    lines = []
    for values in frame.itertuples(index=False, name=None):
        buf.seek(0)
        buf.truncate()
        writer.writerow(
            ["" if v is None or (isinstance(v, float) and np.isnan(v)) else v for v in values]
        )
        lines.append(buf.getvalue()[:-2])
    return lines


#: Output rows written at once by :func:`write_anomaly_windows`.
CHUNK_ROWS = 200_000


def write_anomaly_windows(
    ws: WindowSet, windows: np.ndarray, out: str | os.PathLike[str] | IO
) -> int:
    """Write ``anomaly_windows.csv`` (every original report behind each window in ``windows``,
    with all its original columns) to a path or an open text handle; returns the rows written.

    Linear in the reports written and bounded in memory: the (window, report) pairs come from
    :meth:`Windows.reports` in one vectorized step, each source file is read once, a block at a
    time, keeping the text of the rows needed only (each once, however many windows hold it),
    and the output is written ``CHUNK_ROWS`` rows at a time.
    """
    if not ws.traceable:
        raise SquallError(
            "these windows carry no link to the original reports (a bare "
            "'sequences' file); build them with 'squall windows' to trace them"
        )
    if isinstance(out, (str, os.PathLike)):
        with atomic_path(out) as tmp, open(tmp, "w", newline="", encoding="utf-8") as fh:
            return write_anomaly_windows(ws, windows, fh)
    win, rep = ws.reports(windows)
    uniq, inverse = np.unique(rep, return_inverse=True)
    head = ["window", "track", "file", "row"] + (["line"] if "line" in ws.obs else [])
    kind = _source_kind(ws)
    sources = ws.obs["source"].to_numpy()[uniq]
    # each source checked (hashed) once per call, not once per use: a file may change between
    # calls, so nothing is kept across them
    checked = {int(s): _check_source(ws, int(s)) for s in np.unique(sources)}
    columns: list[str] = []
    for path in checked.values():  # the union of the sources' columns, in order
        columns += [c for c in _columns(path, kind) if c not in columns]
    text = _report_texts(ws, uniq, sources, columns, checked)
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(head + columns)
    for lo in range(0, len(win), CHUNK_ROWS):
        part = slice(lo, lo + CHUNK_ROWS)
        out.write(
            "".join(
                f"{w},{t}\n" for w, t in zip(win[part].tolist(), text[inverse[part]], strict=True)
            )
        )
    return len(win)


def _report_texts(
    ws: WindowSet,
    uniq: np.ndarray,
    sources: np.ndarray,
    columns: list[str],
    checked: dict[int, Path],
) -> np.ndarray:
    """Per report in ``uniq``: its output record after the window column (track, file, row,
    line, then the original columns); ``checked``: each source's checked path."""
    obs = ws.obs.iloc[uniq]
    rows = obs["row"].to_numpy(dtype=np.int64)
    head = pd.DataFrame(
        {
            "track": obs["track"].astype(str).to_numpy(),
            "file": np.asarray(ws.sources, dtype=object)[sources],
            "row": rows,
        }
    )
    if "line" in ws.obs:
        head["line"] = obs["line"].to_numpy(dtype=np.int64)
    prefix = np.asarray(_csv_lines(head), dtype=object)
    text = np.empty(len(uniq), dtype=object)
    for source in np.unique(sources):
        sel = np.flatnonzero(sources == source)
        wanted = np.unique(rows[sel])
        original = _original_rows(ws, checked[int(source)], wanted, columns)
        where = np.searchsorted(wanted, rows[sel])
        text[sel] = prefix[sel] + "," + original[where]
    return text


def anomaly_windows_frame(ws: WindowSet, windows: np.ndarray) -> pd.DataFrame:
    """:func:`write_anomaly_windows` as a frame (for small uses; original columns as text)."""
    buf = io.StringIO()
    write_anomaly_windows(ws, windows, buf)
    buf.seek(0)
    frame = pd.read_csv(buf, dtype=str, keep_default_na=False, na_values=[""])
    for col in ("window", "row", "line"):
        if col in frame:
            frame[col] = frame[col].astype(np.int64)
    return frame
