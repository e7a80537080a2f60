"""A detection as files: the scores table of a detector's result, and the run directory
``squall detect`` writes (scores, flagged windows, events with their explanations, the
original reports behind them, per-step errors, the windows and a plot)."""

from __future__ import annotations

import os
import warnings

import numpy as np
import pandas as pd

from squall.bundle import Bundle
from squall.data.windowset import WindowSet
from squall.detect import scoring
from squall.detect.detector import DetectionResult, Detector
from squall.engines import get_engine
from squall.errors import SquallError
from squall.io import output_files, write_csv
from squall.text import plural

#: Files ``detect`` owns in its output directory (an earlier run's leftovers are removed).
DETECT_OUTPUTS = (
    "scores.csv",
    "anomalies.csv",
    "events.csv",
    "anomaly_windows.csv",
    "step_errors.csv",
    "windows.npz",
    "scores.png",
)


def run_detector(
    bundle: Bundle,
    ws: WindowSet,
    engine: str = "numpy",
    threshold: float | None = None,
    threshold_quantile: float | None = None,
    require_threshold: bool = True,
    since: pd.Timestamp | None = None,
) -> tuple[pd.DataFrame, DetectionResult, dict]:
    """The bundle's detector (:meth:`Detector.from_bundle`) run on ``ws``: the scores table
    (one row per window, ``flagged`` as the detector decided), the in-memory result and the
    threshold used.

    ``threshold`` replaces the fitted value, ``threshold_quantile`` fits a quantile of the
    scored data's own scores (the original pipeline's rule, for comparison): both apply to what
    the detector thresholds (smoothed step scores, or window scores for a window detector).
    Without any threshold and ``require_threshold=False`` nothing is flagged (threshold NaN).
    ``since``: only steps from that time on are flagged (the rest is look-back).
    In ``step`` mode the table has a ``step_score`` column (the peak smoothed step score in the
    window): a window is flagged when it holds a flagged step, i.e. ``step_score > threshold``.
    """
    from squall.detect.thresholds import QuantileThreshold, resolve_threshold
    from squall.report.tables import predicted_cells, scores_frame

    if len(ws) == 0:
        raise SquallError(
            "no windows to score: the data is too short or too sparse for windows "
            f"of {plural(bundle.length, 'step')} (skipped {ws.meta.get('skipped', 0)})"
        )
    det = Detector.from_bundle(bundle, engine)
    scores = det.score_samples(ws)
    if threshold is not None:
        resolve_threshold(None, threshold)  # checks the value
        det.threshold.value_ = float(threshold)
        fitted_on = "user"
    elif threshold_quantile is not None:
        det.threshold = QuantileThreshold(threshold_quantile).fit(scores.values)
        fitted_on = "scored data"
    else:
        fitted_on = det.fitted_on_ or "reference"
    chosen: dict
    if det.threshold.value_ is None:
        if require_threshold:
            resolve_threshold(None)  # the one-line "no threshold" error
        det.threshold.value_ = float("inf")
        chosen = {"method": "none", "value": float("nan"), "scoring": det.scoring}
    else:
        chosen = det.threshold.to_dict() | {
            "method": det.threshold.rule,
            "fitted_on": fitted_on,
            "scoring": det.scoring,
        }
    result = det.detect(ws, scores, since=since)
    table = scores_frame(ws, scores.windows, float(chosen["value"]), predicted_cells(bundle))
    if scores.steps is not None:
        smoothed = np.full(int(ws.steps.max()) + 1, np.nan)
        smoothed[scores.steps.step] = scores.smoothed
        peak = np.empty(len(ws))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # windows without a scored step
            for part in scoring.chunks(len(ws)):  # no (N, T) array at once
                peak[part] = np.nanmax(smoothed[ws.steps[part]], axis=1)
        table.insert(table.columns.get_loc("threshold"), "step_score", peak)
    table["flagged"] = result.window_flags
    return table, result, chosen


def write_detection(
    bundle: Bundle,
    ws: WindowSet,
    table: pd.DataFrame,
    result: DetectionResult,
    chosen: dict,
    out: str | os.PathLike[str],
    *,
    engine: str = "numpy",
    plot: bool = True,
    stuck: pd.DataFrame | None = None,
) -> None:
    """Write a detection (see :func:`detect`) into the run directory ``out``; the result's
    ``explanations`` are filled in on the way. ``stuck``: stuck-sensor runs
    (:meth:`Detector.stuck_events`), appended to ``events.csv`` as events of kind ``stuck``."""
    from squall.detect.explain import explain, explanation_columns
    from squall.report.tables import anomaly_windows_frame, step_errors_frame

    result.check_windows()
    flagged = table[table["flagged"]]
    idx = flagged["window"].to_numpy()
    scores = scoring.with_residuals(
        result.scores.windows, scoring.predictor(get_engine(engine, bundle), bundle), ws, idx
    )
    ids = result.window_event
    events = event_table(table, ws, result)
    explanations = (
        explain(table, ws, scores, bundle.scaler, bundle.units, ids=ids) if ws.traceable else []
    )
    result.explanations = explanations
    events = pd.concat([events, explanation_columns(explanations, ws.features)], axis=1)
    events = with_stuck(events, stuck)
    rows = (
        anomaly_windows_frame(ws, idx)
        if ws.traceable
        else pd.DataFrame(columns=["window", "track", "file", "row", "line"])
    )
    steps = step_errors_frame(ws, scores, idx)
    with output_files(out, DETECT_OUTPUTS, "detect") as tmp:
        write_csv(table, tmp / "scores.csv")
        write_csv(flagged, tmp / "anomalies.csv")
        write_csv(rows, tmp / "anomaly_windows.csv")
        write_csv(events, tmp / "events.csv")
        write_csv(steps, tmp / "step_errors.csv")
        if ws.traceable:
            ws.save(tmp / "windows.npz")
        if plot:
            from squall.report.plots import plot_scores

            if "step_score" in table:
                plot_scores(
                    table.assign(score=table["step_score"]),
                    tmp / "scores.png",
                    chosen["value"],
                    title="Peak smoothed step score per window",
                    what="peak smoothed step score in the window",
                )
            else:
                plot_scores(table, tmp / "scores.png", chosen["value"])


def windows_and_stuck(
    bundle: Bundle, data, since: pd.Timestamp | None = None
) -> tuple[WindowSet, pd.DataFrame | None]:
    """The windows of ``data`` for ``bundle`` and the stuck-sensor runs of its reports (None
    for a windows ``.npz``, which holds no raw reports, or a bundle without a stuck detector).
    The reports are read once and released before scoring."""
    from squall.prepare import _as_list, load_windows, make_windowset, read_new

    items = _as_list(data)
    if len(items) == 1 and str(items[0]).endswith(".npz"):
        return load_windows(bundle, items), None
    obs = read_new(bundle, items)
    stuck = Detector.from_bundle(bundle).stuck_events(obs, since)
    return make_windowset(bundle, items, obs), stuck


def stuck_rows(stuck: pd.DataFrame | None, first: int, columns) -> pd.DataFrame:
    """Stuck-sensor runs as rows of ``events.csv`` (``kind`` ``stuck``), numbered from
    ``first``: ``score`` is -log10 of the run's chance probability, ``top_features`` the
    feature, ``why`` the detector's sentence; window columns stay empty (no window is behind
    a stuck run: it is judged on the raw reports)."""
    if stuck is None or not len(stuck):
        return pd.DataFrame(columns=list(columns))
    prob = stuck["probability"].to_numpy(dtype=np.float64)
    rows = pd.DataFrame(
        {
            "event": np.arange(first, first + len(stuck)),
            "kind": "stuck",
            "track": stuck["track"].astype(str).to_numpy(),
            "start": _iso_times(stuck["start"]),
            "end": _iso_times(stuck["end"]),
            "score": -np.log10(np.clip(prob, 1e-300, None)),
            "hours": (
                pd.to_datetime(stuck["end"]) - pd.to_datetime(stuck["start"])
            ).dt.total_seconds()
            / 3600.0,
            "n_windows": 0,
            "top_features": stuck["feature"].astype(str).to_numpy(),
            "why": stuck["why"].astype(str).to_numpy(),
        }
    )
    if "period" in stuck:
        rows["period"] = stuck["period"].to_numpy()
    return rows.reindex(columns=list(columns))


def found_events(result: DetectionResult, stuck: pd.DataFrame | None) -> pd.DataFrame:
    """Everything a detection found, for matching against labels: ``track``, ``start``,
    ``end``, ``score`` and ``kind`` (``model`` events, then ``stuck`` sensor runs)."""
    cols = ["track", "start", "end", "score"]
    parts = [result.events[cols].assign(kind="model")]
    if stuck is not None and len(stuck):
        prob = stuck["probability"].to_numpy(dtype=np.float64)
        parts.append(
            stuck[["track", "start", "end"]].assign(
                score=-np.log10(np.clip(prob, 1e-300, None)), kind="stuck"
            )
        )
    return pd.concat(parts, ignore_index=True)


def with_stuck(events: pd.DataFrame, stuck: pd.DataFrame | None) -> pd.DataFrame:
    """``events`` (the model's, ``kind`` ``model``) followed by the stuck-sensor runs."""
    events = events.copy()
    events.insert(1 if "event" in events else 0, "kind", "model")
    if stuck is None or not len(stuck):
        return events
    first = int(events["event"].max()) + 1 if len(events) else 0
    return pd.concat([events, stuck_rows(stuck, first, events.columns)], ignore_index=True)


#: What the detector says of each event beyond its windows, in events.csv after ``score``.
EVENT_SUMMARY = ("peak", "peaks", "hours", "basis", "period")


def event_table(table: pd.DataFrame, ws: WindowSet, result: DetectionResult) -> pd.DataFrame:
    """The events of a detection as ``events.csv`` and the report show them: the flagged
    windows of each event (:func:`squall.report.tables.events_frame`) with the detector's own
    event times and peak scores, and its :data:`EVENT_SUMMARY` (how long each event lasted,
    where it peaked, what it was judged against, training period or new data)."""
    from squall.report.tables import events_frame

    if not ws.traceable:
        return events_frame(table.iloc[:0], ws.features)
    events = events_frame(table, ws.features, event=result.window_event)
    if len(events):
        events["start"] = _iso_times(result.events["start"])
        events["end"] = _iso_times(result.events["end"])
        events["score"] = result.events["score"].to_numpy()
        at = events.columns.get_loc("score") + 1
        for col in EVENT_SUMMARY:
            if col in result.events:
                values = result.events[col]
                values = _iso_times(values) if col == "peak" else values.to_numpy()
                events.insert(at, col, values)
                at += 1
    return events


def _iso_times(values: pd.Series) -> np.ndarray:
    return pd.to_datetime(values).dt.strftime("%Y-%m-%dT%H:%M:%S").to_numpy()
