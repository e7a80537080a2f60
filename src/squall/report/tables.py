"""The CSV tables a detection run writes, built from scores and the windows' way back to the data.

* ``scores.csv``: one row per window (index, track, ISO start/end, score, threshold, flagged,
  position range, observed cells, mean squared error per feature).
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
    for k, name in enumerate(ws.features):
        frame[f"err_{name}"] = scores.feature[:, k]
    return frame


def events_frame(scores: pd.DataFrame, features: list[str], top: int = 3) -> pd.DataFrame:
    """Merge flagged windows of ``scores`` (a scores table) into events."""
    start = pd.to_datetime(scores["start"]).to_numpy()
    end = pd.to_datetime(scores["end"]).to_numpy()
    event = merge_events(scores["track"].to_numpy(), start, end, scores["flagged"].to_numpy())
    rows = []
    err_cols = [f"err_{f}" for f in features]
    for e in range(event.max() + 1 if len(event) else 0):
        part = scores[event == e]
        peak = part.loc[part["score"].idxmax()]
        err = part[err_cols].to_numpy(float)
        weight = part["observed"].to_numpy(float)[:, None]
        contrib = np.nansum(np.nan_to_num(err) * weight, axis=0)
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


def _original_table(path: str) -> pd.DataFrame:
    p = Path(path)
    if not p.is_file():
        raise SquallError(f"source file {path} (listed in the windows file) no longer exists")
    try:
        return read_table(p)
    except SquallError:
        return pd.read_csv(p, dtype=str, keep_default_na=False)


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
                tables[source] = _original_table(ws.sources[source])
            original = tables[source].loc[group["row"].to_numpy()].reset_index(drop=True)
            head = pd.DataFrame({"window": int(w), "track": group["track"].to_numpy(),
                                 "file": ws.sources[source], "row": group["row"].to_numpy()})
            parts.append(pd.concat([head, original], axis=1))
    if not parts:
        return pd.DataFrame(columns=["window", "track", "file", "row"])
    return pd.concat(parts, ignore_index=True)
