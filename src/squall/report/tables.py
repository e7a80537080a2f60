"""The CSV tables a detection run writes, built from scores and the windows' way back to the data.

* ``scores.csv``: one row per window (index, track, ISO start/end, score, threshold, flagged,
  position range, observed cells, mean squared error per feature ``err_<F>`` over the
  feature's observed cells, whose number is ``n_<F>``).
* ``step_errors.csv``: per time step of each flagged window, the error and each feature's
  signed residual.
* ``anomalies.csv``: the flagged rows of ``scores.csv``.
* ``events.csv``: flagged windows merged per track (see :func:`squall.detect.events.merge_events`),
  with the peak score and the features that contributed most to the error.
* ``anomaly_windows.csv``: every original report inside each flagged window, all its original
  columns as written in the source file, with the window index, the file and its data row.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from squall.data.noaa import read_table
from squall.data.sensor_csv import read_raw
from squall.data.windowset import WindowSet
from squall.detect.events import merge_events
from squall.detect.scoring import Scores
from squall.errors import SquallError


def _iso(times: np.ndarray) -> np.ndarray:
    return np.asarray(pd.to_datetime(times).strftime("%Y-%m-%dT%H:%M:%S").fillna(""), dtype=object)


def _positions(ws: WindowSet) -> np.ndarray:
    """(N, 4) lat min/max, lon min/max over each window's reports (NaN when unknown)."""
    out = np.full((len(ws), 4), np.nan)
    if not ws.traceable or "lat" not in ws.obs:
        return out
    lat, lon = ws.obs["lat"].to_numpy(float), ws.obs["lon"].to_numpy(float)
    for i in range(len(ws)):
        rows = ws.rows(i)
        if len(rows) and np.isfinite(lat[rows]).any():
            out[i] = (np.nanmin(lat[rows]), np.nanmax(lat[rows]), np.nanmin(lon[rows]),
                      np.nanmax(lon[rows]))
    return out


def scores_frame(ws: WindowSet, scores: Scores, threshold: float) -> pd.DataFrame:
    pos = _positions(ws)
    frame = pd.DataFrame({
        "window": np.arange(len(ws)), "track": ws.track.astype(str), "start": _iso(ws.start),
        "end": _iso(ws.end), "score": scores.window, "threshold": threshold,
        "flagged": scores.window > threshold, "observed": scores.observed,
        "lat_min": pos[:, 0], "lat_max": pos[:, 1], "lon_min": pos[:, 2], "lon_max": pos[:, 3]})
    counts = ws.mask.sum(axis=1)                                   # (N, F) observed steps
    for k, name in enumerate(ws.features):
        frame[f"err_{name}"] = scores.feature[:, k]
    for k, name in enumerate(ws.features):
        frame[f"n_{name}"] = counts[:, k]
    return frame


def step_errors_frame(ws: WindowSet, scores: Scores, windows: np.ndarray) -> pd.DataFrame:
    """Per time step of each window in ``windows``: the step's time, its masked squared error and,
    per feature, the signed residual (reconstruction - observed, scaled units; empty when the
    value is missing)."""
    rows = []
    for w in windows:
        w = int(w)
        times = _iso(ws.step_time[ws.steps[w]])
        for t in range(ws.x.shape[1]):
            row = {"window": w, "track": str(ws.track[w]), "step": t, "time": times[t],
                   "error": scores.step[w, t]}
            row.update({f"residual_{f}": scores.residual[w, t, k]
                        for k, f in enumerate(ws.features)})
            rows.append(row)
    columns = ["window", "track", "step", "time", "error"] + [f"residual_{f}"
                                                              for f in ws.features]
    return pd.DataFrame(rows, columns=columns)


def events_frame(scores: pd.DataFrame, features: list[str], top: int = 3) -> pd.DataFrame:
    """Merge flagged windows of ``scores`` (a scores table) into events."""
    start = pd.to_datetime(scores["start"]).to_numpy()
    end = pd.to_datetime(scores["end"]).to_numpy()
    event = merge_events(scores["track"].to_numpy(), start, end, scores["flagged"].to_numpy())
    rows = []
    err_cols = [f"err_{f}" for f in features]
    n_cols = [f"n_{f}" for f in features]
    for e in range(event.max() + 1 if len(event) else 0):
        part = scores[event == e]
        peak = part.loc[part["score"].idxmax()]
        # squared error summed over each feature's own observed cells (mean x count)
        err = np.nan_to_num(part[err_cols].to_numpy(float))
        contrib = (err * part[n_cols].to_numpy(float)).sum(axis=0)
        share = contrib / contrib.sum() if contrib.sum() > 0 else np.zeros(len(features))
        order = np.argsort(-share)[:top]
        row = {"event": e, "track": peak["track"], "start": part["start"].min(),
               "end": part["end"].max(), "score": float(peak["score"]),
               "peak_window": int(peak["window"]), "peak_start": peak["start"],
               "n_windows": len(part), "lat_min": part["lat_min"].min(),
               "lat_max": part["lat_max"].max(), "lon_min": part["lon_min"].min(),
               "lon_max": part["lon_max"].max(),
               "top_features": "; ".join(f"{features[k]} {share[k]:.0%}" for k in order
                                         if share[k] > 0)}
        row.update({f"share_{f}": float(share[k]) for k, f in enumerate(features)})
        rows.append(row)
    columns = ["event", "track", "start", "end", "score", "peak_window", "peak_start",
               "n_windows", "lat_min", "lat_max", "lon_min", "lon_max", "top_features"] + [
        f"share_{f}" for f in features]
    return pd.DataFrame(rows, columns=columns)


def _original_table(path: str, kind: str, sha256: str | None) -> pd.DataFrame:
    """The source file re-read exactly as its reader numbered the rows (refused when the file
    changed since the windows were made: its row numbers may no longer mean the same rows)."""
    p = Path(path)
    if not p.is_file():
        raise SquallError(f"source file {path} (listed in the windows file) no longer exists")
    if sha256 is not None:
        from squall.pipeline import _sha256

        if _sha256(str(p)) != sha256:
            raise SquallError(f"source file {path} changed since the windows were made; "
                              f"rebuild them with: squall windows BUNDLE DATA --out FILE.npz")
    return read_table(p) if kind == "noaa" else read_raw(p)


def anomaly_windows_frame(ws: WindowSet, windows: np.ndarray) -> pd.DataFrame:
    """Every original report behind each window in ``windows``, with all its original columns."""
    if not ws.traceable:
        raise SquallError("these windows carry no link to the original reports (a bare "
                          "'sequences' file); build them with 'squall windows' to trace them")
    tables: dict[int, pd.DataFrame] = {}
    parts = []
    for w in windows:
        rows = ws.rows(int(w))
        obs = ws.obs.iloc[rows]
        for source, group in obs.groupby("source", sort=False):
            source = int(source)
            if source not in tables:
                kind = (ws.meta.get("reader") or {}).get("kind") or (
                    "noaa" if any(c.startswith("flag_") for c in ws.obs.columns) else "csv")
                shas = ws.meta.get("sources_sha256") or [None] * len(ws.sources)
                tables[source] = _original_table(ws.sources[source], kind, shas[source])
            original = tables[source].loc[group["row"].to_numpy()].reset_index(drop=True)
            head = pd.DataFrame({"window": int(w), "track": group["track"].to_numpy(),
                                 "file": ws.sources[source], "row": group["row"].to_numpy()})
            if "line" in group:
                head["line"] = group["line"].to_numpy()
            parts.append(pd.concat([head, original], axis=1))
    if not parts:
        return pd.DataFrame(columns=["window", "track", "file", "row"])
    return pd.concat(parts, ignore_index=True)
