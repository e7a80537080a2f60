"""``squall demo``: synthetic marine data -> train -> detect -> precision and recall.

Everything it uses is generated here, so it runs on a fresh machine without downloads.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pandas as pd

from squall import pipeline
from squall.data.labels import read_label_csv
from squall.detect.evaluate import match_events
from squall.io import check_output, output_files, prepare_run_dir
from squall.report.detection import found_events, windows_and_stuck
from squall.text import plural


def run_demo(
    out: str | os.PathLike[str] = "demo-out",
    *,
    seed: int = 0,
    epochs: int = 40,
    progress: bool = True,
) -> dict:
    """Run the whole pipeline on synthetic data in ``out``; print and return a summary.

    ``out`` is a run directory (:func:`squall.io.output_files`) holding ``data/`` (a ``synth``
    run), ``bundle/``, ``detect/`` (a ``detect`` run) and ``summary.json``; every target is
    checked before any work, and ``out`` is claimed with squall's manifest first, so a failed
    demo can be rerun into it.
    """
    from squall.bundle import replaceable as bundle_replaceable
    from squall.data.synthetic import generate_demo_data

    pipeline.check_number("epochs", epochs, low=1, integer=True)
    pipeline.check_number("seed", seed, low=0, integer=True)
    out = Path(out)
    check_output(out, directory=True)
    for sub in ("data", "detect"):
        check_output(out / sub, directory=True)
    check_output(out / "bundle", directory=True, replaceable=bundle_replaceable)
    prepare_run_dir(out, "demo")
    log = (lambda m: print(m, file=sys.stderr)) if progress else (lambda m: None)
    paths = generate_demo_data(out / "data", seed=seed)
    log(
        f"[1/3] synthetic data: {paths['train']} (normal), {paths['test']} (with events), "
        f"{paths['labels']}"
    )
    log("[2/3] training")
    bundle = pipeline.train(
        paths["train"], out / "bundle", epochs=epochs, seed=seed, progress=progress, log=log
    )
    log("[3/3] detecting")
    ws, stuck = windows_and_stuck(bundle, paths["test"])
    table, result, chosen = pipeline.run_detector(bundle, ws)
    pipeline.write_detection(bundle, ws, table, result, chosen, out / "detect", stuck=stuck)
    labels = read_label_csv(paths["labels"])
    match = match_events(found_events(result, stuck), labels)
    # scored time per track: from its first window's start to its last window's end
    spans = pd.DataFrame({"track": ws.track.astype(str), "start": ws.start, "end": ws.end})
    per_track = spans.groupby("track").agg(start=("start", "min"), end=("end", "max"))
    days = float((per_track["end"] - per_track["start"]).dt.total_seconds().sum() / 86400)
    summary = {
        "bundle": str(out / "bundle"),
        "detect": str(out / "detect"),
        "windows": len(ws),
        "flagged_windows": int(table["flagged"].sum()),
        "threshold": chosen["value"],
        "track_days": round(days, 1),
        "false_events_per_10_track_days": round(10 * match["false_events"] / days, 2)
        if days
        else None,
        **match,
    }
    with output_files(out, ("summary.json",), "demo") as tmp:
        (tmp / "summary.json").write_text(json.dumps(summary, indent=1) + "\n")
    print(format_summary(summary))
    return summary


def format_summary(s: dict) -> str:
    lines = [
        f"squall demo: {plural(s['windows'], 'window')} scored, {s['flagged_windows']} above "
        f"the threshold {s['threshold']:.4g} -> {plural(s['events'], 'event')}",
        f"  labelled events found: {s['labels'] and round(100 * s['recall'])}% "
        f"({sum(v['found'] for v in s['per_type'].values())} of {s['labels']})",
    ]
    for kind, v in s["per_type"].items():
        lines.append(f"    {kind:6s} {v['found']} of {v['labels']}")
    lines.append(
        f"  precision: {s['true_events']} of {plural(s['events'], 'event')} "
        f"{'matches' if s['events'] == 1 else 'match'} a label "
        f"({s['false_events']} false, {s['false_events_per_10_track_days']} per 10 "
        f"track-days over {s['track_days']} track-days)"
    )
    lines.append(
        f"  outputs: {s['detect']}/events.csv, anomaly_windows.csv, scores.png; "
        f"model: {s['bundle']}"
    )
    return "\n".join(lines)
