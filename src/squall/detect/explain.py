"""Why was this flagged: per event, which features, which way, how far in physical units, which
NOAA QC flags the reports carry, which station and where.

For every event (flagged windows merged per track, see :mod:`squall.detect.events`) and feature:

``share``      the feature's part of the event's squared reconstruction error, over its scored
               cells (observed cells with a prediction: a forecaster's horizon of its target
               features; a feature it only reads has no entry);
``deviation``  observed minus expected (the reconstruction) in the feature's physical unit, at
               the cell of the event where that difference is largest in size, and its time;
``qc``         counts of NCDC QC flags 2-9 (correctable, suspect, erroneous) and TRIM flags
               2-7 (outside climatology) among the event's reports.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import numpy as np
import pandas as pd

from squall.data.scaling import Scaler
from squall.data.windowset import WindowSet
from squall.detect.events import merge_events
from squall.detect.scoring import Scores
from squall.limits import SCALED_LIMIT

#: NCDC QC flag characters worth reporting (1 = correct, A = not checked / missing).
NCDC_NOTABLE = set("23456789")
#: TRIM_FLAG characters meaning "outside climatology" (1 = within 2.8 sigma).
TRIM_NOTABLE = set("234567")


def event_ids(table: pd.DataFrame) -> np.ndarray:
    """Event id of every window of a scores table (-1 when not flagged)."""
    return merge_events(
        table["track"].to_numpy(),
        pd.to_datetime(table["start"]).to_numpy(),
        pd.to_datetime(table["end"]).to_numpy(),
        table["flagged"].to_numpy(),
    )


def explain(
    table: pd.DataFrame,
    ws: WindowSet,
    scores: Scores,
    scaler: Scaler,
    units: dict[str, str],
    top: int = 3,
    ids: np.ndarray | None = None,
) -> list[dict[str, Any]]:
    """One explanation per event, in event order (as :func:`squall.report.tables.events_frame`).

    Each is a dict: ``event``, ``track``, ``features`` (per feature: share, deviation, unit,
    time), ``qc`` (flag text -> count), ``text`` (one readable line). ``ids``: the event of
    each window (-1: none), as the detector grouped them; default: overlapping flagged windows
    of the table merged (:func:`event_ids`).
    """
    ids = event_ids(table) if ids is None else np.asarray(ids, dtype=np.int64)
    features = ws.features
    out = []
    for e in range(ids.max() + 1 if len(ids) else 0):
        windows = np.flatnonzero(ids == e)
        part = table.iloc[windows]
        # each feature's error weighted by its cells with a residual (a forecaster's residual
        # covers its targets' horizon only, not the whole window the table's n_ counted once)
        scored = np.isfinite(scores.residual_of(windows)).sum(axis=1)
        share = shares(part[[f"err_{f}" for f in features]].to_numpy(float), scored)
        dev = deviations(ws, scores, scaler, windows)
        feats: dict[str, dict[str, Any]] = {}
        for k, name in enumerate(features):
            cells = dev[:, :, k]
            if np.isnan(cells).all():
                continue
            w, t = np.unravel_index(np.nanargmax(np.abs(cells)), cells.shape)
            when = ws.step_time[ws.steps[windows[w], t]]
            feats[name] = {
                "share": float(share[k]),
                "deviation": float(cells[w, t]),
                "unit": units.get(name, ""),
                "time": "" if pd.isna(when) else pd.Timestamp(when).strftime("%Y-%m-%dT%H:%M:%S"),
            }
        qc = _qc_counts(ws, windows, features)
        ranked = sorted(feats, key=lambda f: -feats[f]["share"])[:top]
        parts = [_phrase(f, feats[f]) for f in ranked if feats[f]["share"] >= 0.1]
        text = "; ".join(parts)
        if qc:
            text += " | QC: " + ", ".join(f"{k} x{v}" for k, v in qc.items())
        out.append(
            {
                "event": e,
                "track": str(part["track"].iloc[0]),
                "features": feats,
                "qc": qc,
                "text": text,
            }
        )
    return out


def deviations(ws: WindowSet, scores: Scores, scaler: Scaler, windows: np.ndarray) -> np.ndarray:
    """Observed minus expected in physical units (``(w, T, F)``, NaN unobserved). The residual
    (recon - observed, scaled) times the scale, except in cells clipped to +-SCALED_LIMIT when
    the windows were built: there the observed physical value itself minus the expected one,
    so a 1e308 reading is reported as 1e308 and not as the clip bound."""
    residual = scores.residual_of(windows)
    dev: np.ndarray = -residual * scaler.scale_
    x = ws.inputs(windows)
    clipped = np.abs(x) >= SCALED_LIMIT
    if clipped.any():
        with np.errstate(over="ignore", invalid="ignore"):
            expected = (x + residual) * scaler.scale_ + scaler.offset_
            dev = np.where(clipped, ws.window_values(windows) - expected, dev)
    return dev


def shares(err: np.ndarray, n: np.ndarray) -> np.ndarray:
    """Each feature's share of the squared error of some windows: per window and feature the
    mean squared error ``err`` (NaN = unobserved) times its observed cells ``n``, summed over
    windows, as fractions. Errors are divided by their largest value first, so the sums never
    overflow to inf (inf / inf would leave every share NaN and the event's ``why`` empty);
    infinite errors, if any, share the whole error among them."""
    err = np.nan_to_num(np.asarray(err, dtype=np.float64), nan=0.0, posinf=np.inf)
    if np.isinf(err).any():
        weighted = np.isinf(err) * n
    else:
        top = err.max(initial=0.0)
        weighted = err / top * n if top > 0 else np.zeros_like(err)
    sse = weighted.sum(axis=0)
    total = sse.sum()
    return sse / total if total > 0 else np.zeros(err.shape[1])


def _phrase(name: str, info: dict[str, Any]) -> str:
    dev, unit = info["deviation"], info["unit"]
    way = "above" if dev > 0 else "below"
    size = f"{abs(dev):.3g}" + (f" {unit}" if unit and unit != "1" else "")
    return f"{name} {size} {way} expected at {info['time']} ({info['share']:.0%} of the error)"


def _qc_counts(ws: WindowSet, windows: np.ndarray, features: list[str]) -> dict[str, int]:
    """Notable QC flags among the reports behind ``windows`` (each report counted once)."""
    if not ws.traceable:
        return {}
    rows = np.unique(np.concatenate([ws.rows(int(w)) for w in windows]))
    counts: Counter[str] = Counter()
    for name in features:
        for prefix, notable, label in (
            ("flag_", NCDC_NOTABLE, "NCDC"),
            ("trim_", TRIM_NOTABLE, "TRIM"),
        ):
            col = f"{prefix}{name}"
            if col not in ws.obs:
                continue
            for flag in ws.obs[col].to_numpy()[rows].astype(str):
                if flag in notable:
                    counts[f"{name} {label} {flag}"] += 1
    return dict(sorted(counts.items()))


def explanation_columns(explanations: list[dict[str, Any]], features: list[str]) -> pd.DataFrame:
    """The explanations as columns for ``events.csv``: ``why``, ``qc_flags`` and per feature
    ``dev_<F>`` (observed - expected at the largest difference, physical units)."""
    rows = []
    for ex in explanations:
        row = {
            "why": ex["text"].split(" | QC: ")[0],
            "qc_flags": "; ".join(f"{k} x{v}" for k, v in ex["qc"].items()),
        }
        for f in features:
            row[f"dev_{f}"] = ex["features"].get(f, {}).get("deviation", np.nan)
        rows.append(row)
    return pd.DataFrame(rows, columns=["why", "qc_flags"] + [f"dev_{f}" for f in features])
