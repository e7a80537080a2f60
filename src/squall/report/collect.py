"""Everything the HTML report shows, computed once: scores, events and their explanations,
reconstructions in physical units, labels and metrics, exploratory statistics.

Two ways in: a bundle and data files (scored here, as ``squall detect`` would), or the output
directory of a ``squall detect`` run (its ``windows.npz`` and ``scores.csv``: the run's threshold
and flags as recorded; only the reconstructions are recomputed, to draw them).
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from squall.bundle import Bundle, load_bundle
from squall.data.windowset import WindowSet
from squall.detect.detector import Detector
from squall.detect.explain import explain, explanation_columns
from squall.detect.scoring import Scores, predictor, score
from squall.engines import get_engine
from squall.errors import NAME, ParameterError, SquallError, mark
from squall.io import verify_run_files
from squall.limits import regular_file
from squall.prepare import load_windows, parse_since, read_new, windows_since
from squall.report.detection import event_table, run_detector, windows_and_stuck
from squall.report.eda import Eda, eda
from squall.text import plural


@dataclass
class Run:
    """One scored data set and what was found in it."""

    bundle: Bundle
    bundle_path: str
    ws: WindowSet
    table: pd.DataFrame  # scores.csv: one row per window
    scores: Scores
    recon: np.ndarray  # (N, T, F) reconstructions in physical units
    threshold: dict
    events: pd.DataFrame  # events.csv: events with their ``why``
    window_event: np.ndarray  # the event of each window (-1: none), as the detector found
    explanations: list[dict]
    engine: str
    detect_dir: str | None
    labels: pd.DataFrame | None  # labels overlapping the data (columns of evaluate.labels)
    evaluation: dict | None
    eda: Eda
    stuck: pd.DataFrame | None = None  # stuck-sensor runs (squall.detect.stuck), if any


def collect(
    bundle_dir: str | os.PathLike[str],
    data=None,
    *,
    from_dir: str | os.PathLike[str] | None = None,
    engine: str = "numpy",
    threshold: float | None = None,
    threshold_quantile: float | None = None,
    labels: str | os.PathLike[str] | None = None,
    since: str | pd.Timestamp | None = None,
    log: Callable[[str], None] = lambda m: None,
) -> Run:
    """Score ``data`` with the bundle (or read the detect run in ``from_dir``) and gather the
    report's contents. ``labels``: a labels CSV (``squall synth``'s ``labels.csv``) or NAB's
    ``combined_windows.json``; only labels on the data's tracks and time range are used.
    ``since`` (with data): score only the windows reaching that time, events from it on."""
    when = parse_since(since)
    bundle = load_bundle(bundle_dir)
    if labels is not None:  # checked before any data is read
        regular_file(Path(labels), "labels file", "no such labels file: {p}")
    if from_dir is not None:
        if data:
            raise ParameterError(
                "from_dir", f"give either data files or {NAME} a detect run's folder, not both"
            )
        if threshold is not None or threshold_quantile is not None:
            raise ParameterError(
                "from_dir",
                f"{NAME} uses the detect run's threshold; drop {mark('threshold')} and "
                f"{mark('threshold_quantile')} (or report from the data instead)",
            )
        if when is not None:
            raise ParameterError(
                "from_dir", f"{NAME} reports a detect run as it was; give {mark('since')} to detect"
            )
        ws, recorded = _from_detect_run(bundle, Path(from_dir))
        stuck = None  # found from the run's data files below, once they are known to exist
        log(f"scoring {plural(len(ws), 'window')} of {from_dir} again with the {engine} engine")
        # the run's own threshold, as recorded in its scores.csv
        own = _recorded_threshold(bundle, recorded)
        table, result, chosen = run_detector(bundle, ws, engine, own)
        differ = table["flagged"].to_numpy() != recorded["flagged"].to_numpy()
        # the run scored its data in float64, the file's windows are float32: values within
        # a relative 1e-5 of the threshold may fall on either side
        column = "step_score" if "step_score" in recorded else "score"
        value = recorded[column].to_numpy(float)
        limit = float(recorded["threshold"].iloc[0])
        differ &= ~np.isclose(value, limit, rtol=1e-5, atol=0.0)
        if differ.any():
            raise SquallError(
                f"{Path(from_dir) / 'scores.csv'} flags other windows than this "
                f"bundle's detector does: the run was made with another bundle "
                f"or detector; report from the data instead"
            )
        if own is not None:
            chosen["fitted_on"] = "detect run"
    else:
        if not data:
            raise ParameterError(
                "from_dir", f"no data: give data files, or {NAME} a detect run's folder"
            )
        if (
            bundle.threshold is None
            and bundle.detector is None
            and threshold is None
            and threshold_quantile is None
        ):
            raise ParameterError(
                "threshold",
                f"the bundle has no threshold; give {NAME} VALUE or {mark('threshold_quantile')} Q",
            )
        ws, stuck = windows_and_stuck(bundle, data, when)
        if not ws.traceable:
            raise SquallError(
                "the report needs data files or a windows file from 'squall "
                "windows' (a bare sequences file has no times or tracks)"
            )
        ws = windows_since(ws, when)
        if len(ws) == 0:
            raise SquallError(
                f"no windows to score: the data is too short or too sparse for "
                f"windows of {bundle.length} steps"
            )
        log(f"scoring {plural(len(ws), 'window')} with the {engine} engine")
        table, result, chosen = run_detector(
            bundle, ws, engine, threshold, threshold_quantile, since=when
        )
    result.check_windows()
    # what the model predicts of each window: a reconstruction, or a forecaster's horizon
    recon = predictor(get_engine(engine, bundle), bundle)(ws.x)
    scores = score(ws.x, recon, ws.mask)
    ids = result.window_event
    explanations = explain(table, ws, scores, bundle.scaler, bundle.units, ids=ids)
    events = event_table(table, ws, result)
    events = pd.concat([events, explanation_columns(explanations, ws.features)], axis=1)
    label_table = evaluation = None
    if labels is not None:
        label_table = load_labels(labels, ws)
        evaluation = evaluate_events(label_table, events)
    log(f"describing the data ({len(ws.sources)} file(s))")
    missing = [src for src in ws.sources if not Path(src).exists()]
    if missing:
        raise ParameterError(
            "from_dir",
            f"the report needs the run's data files for its data section and the "
            f"original reports, and {missing[0]} is gone; give the data again "
            f"instead of {NAME}",
        )
    if from_dir is not None and ws.sources:  # the run's reports, read again for stuck sensors
        stuck = Detector.from_bundle(bundle).stuck_events(read_new(bundle, ws.sources))
    stats = eda(
        ws.sources, reader=dict(ws.meta.get("reader") or bundle.provenance.get("reader") or {})
    )
    return Run(
        bundle=bundle,
        bundle_path=str(bundle_dir),
        ws=ws,
        table=table,
        scores=scores,
        recon=bundle.scaler.inverse_transform(recon),
        threshold=chosen,
        events=events,
        window_event=ids,
        explanations=explanations,
        engine=engine,
        detect_dir=None if from_dir is None else str(from_dir),
        labels=label_table,
        evaluation=evaluation,
        eda=stats,
        stuck=stuck,
    )


def _from_detect_run(bundle: Bundle, folder: Path) -> tuple[WindowSet, pd.DataFrame]:
    """The windows and the scores table of a detect run, checked to belong together: both
    listed with their hashes in the run's complete manifest (:func:`squall.io.verify_run_files`),
    so an interrupted run or files of two runs are refused."""
    if not folder.is_dir():
        raise ParameterError(
            "from_dir", f"{NAME} {folder}: no such directory (expected a 'squall detect' run)"
        )
    for name in ("windows.npz", "scores.csv"):
        if not (folder / name).is_file():
            raise ParameterError(
                "from_dir",
                f"{NAME} {folder}: no {name} (expected a 'squall detect' run of traceable data)",
            )
    verify_run_files(folder, ("windows.npz", "scores.csv"))  # one complete run, unchanged
    ws = load_windows(bundle, [folder / "windows.npz"])
    try:
        table = pd.read_csv(folder / "scores.csv", dtype={"track": str}, keep_default_na=True)
    except (pd.errors.EmptyDataError, pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise SquallError(f"cannot read {folder / 'scores.csv'} ({exc})") from None
    needed = {"window", "track", "start", "end", "score", "threshold", "flagged"}
    if not needed <= set(table.columns) or len(table) != len(ws):
        raise SquallError(
            f"{folder / 'scores.csv'} does not describe the windows of "
            f"{folder / 'windows.npz'} ({plural(len(table), 'row')}, {plural(len(ws), 'window')})"
        )
    table["track"] = table["track"].fillna("")
    table["flagged"] = table["flagged"].astype(str).str.lower().eq("true")
    if (table["track"].to_numpy() != ws.track.astype(str)).any():
        raise SquallError(
            f"{folder / 'scores.csv'} and windows.npz name other tracks: they "
            f"are not from one detect run"
        )
    return ws, table


def _recorded_threshold(bundle: Bundle, table: pd.DataFrame) -> float | None:
    """The threshold a detect run recorded, or None when it is the bundle's own fitted one."""
    value = float(table["threshold"].iloc[0])
    section = bundle.detector or {}
    stored = (
        (section.get("threshold") or {}).get("value")
        if section
        else (bundle.threshold or {}).get("value")
    )
    if stored is not None and math.isclose(value, stored, rel_tol=1e-9):
        return None
    return value


def _iso_times(values: pd.Series) -> np.ndarray:
    return pd.to_datetime(values).dt.strftime("%Y-%m-%dT%H:%M:%S").to_numpy()


def load_labels(path: str | os.PathLike[str], ws: WindowSet) -> pd.DataFrame:
    """Labels of the data in ``ws``: a labels CSV, or NAB's JSON (the series whose name ends
    one of the data files' paths), kept when on a track of the data (or on none) and
    overlapping the data's time span."""
    from squall.data.labels import nab_frame, read_label_csv, read_nab_labels

    if str(path).lower().endswith(".json"):
        nab = read_nab_labels(path)
        names = [k for k in nab if any(Path(s).as_posix().endswith("/" + k) for s in ws.sources)]
        frame = nab_frame(nab, names)
    else:
        frame = read_label_csv(path)
    tracks = set(ws.track.astype(str))
    first, last = pd.Timestamp(ws.start.min()), pd.Timestamp(ws.end.max())
    keep = (
        ((frame["track"] == "") | frame["track"].isin(tracks))
        & (frame["end"] >= first)
        & (frame["start"] <= last)
    )
    return frame[keep].reset_index(drop=True)


def evaluate_events(labels: pd.DataFrame, events: pd.DataFrame) -> dict:
    """The one matcher's counts, precision, recall and F1 (:func:`squall.detect.evaluate.
    match_events`), the recall per label type, and per label the events that overlap it."""
    from squall.detect.evaluate import match_events

    m = match_events(events, labels)
    found_by = ["; ".join(f"#{int(events['event'].iloc[j])}" for j in row) for row in m["found_by"]]
    per_label = labels.assign(found_by=found_by)
    false_events = [int(events["event"].iloc[j]) for j in m["false"]]
    return {
        "tp": m["tp"],
        "fp": m["fp"],
        "fn": m["fn"],
        "precision": m["precision"],
        "recall": m["recall"],
        "f1": m["f1"],
        "per_type": m["per_type"],
        "per_label": per_label,
        "false_events": false_events,
    }
