"""The sections of the HTML report, each a function of the collected run returning HTML."""

from __future__ import annotations

import html
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

from squall.errors import SquallError
from squall.report import figures
from squall.report.collect import Run
from squall.text import plural

#: Original reports listed per event (the rest are in a detect run's anomaly_windows.csv).
MAX_REPORT_ROWS = 100
#: Columns of a NOAA box file listed per report (the file has 67).
NOAA_COLUMNS = (
    "STATION",
    "DATE",
    "LATITUDE",
    "LONGITUDE",
    "AIR_TEMP",
    "SEA_SURF_TEMP",
    "SEA_LVL_PRES",
    "WIND_SPEED",
    "WIND_DIR",
    "WAVE_HGT",
    "WAVE_PERIOD",
    "NCDC_QC_FLAGS",
    "TRIM_FLAG",
)
#: Section anchors and their names in the navigation bar, in page order.
NAV = (
    ("run", "What was run"),
    ("timeline", "Timeline"),
    ("events", "Events"),
    ("map", "Map"),
    ("evaluation", "Evaluation"),
    ("training", "Training"),
    ("data", "Data"),
)


def headline(run: Run) -> str:
    flagged = int(run.table["flagged"].sum())
    text = (
        f"{plural(len(run.table), 'window', fmt=',')} scored, {flagged:,} above the threshold "
        f"{run.threshold['value']:.4g} &rarr; <b>{plural(len(run.events), 'event')}</b>"
    )
    stuck = 0 if run.stuck is None else len(run.stuck)
    return (
        text
        + period_split(run.events)
        + (f"; {plural(stuck, 'stuck sensor run')}" if stuck else "")
    )


def period_split(events: pd.DataFrame) -> str:
    """How many events fall in new data and how many inside the training period (the model saw
    those reports: a detection there is a look back, not news)."""
    if "period" not in events or not len(events):
        return ""
    new = int((events["period"] == "new").sum())
    old = len(events) - new
    return f": <b>{new:,} in new data</b>, {old:,} inside the training period"


def describe_threshold(t: dict) -> str:
    """How the threshold was chosen, in words."""
    fitted_on = t.get("fitted_on")
    what = "smoothed step scores" if t.get("scoring") == "step" else "window scores"
    n = f"{t['n']:,} " if t.get("n") else ""
    if fitted_on == "user":
        return "given with --threshold"
    if fitted_on == "detect run":
        return (
            "as recorded in the detect run's scores.csv (set there with --threshold or "
            "--threshold-quantile; not the bundle's)"
        )
    if t.get("method") == "quantile" and fitted_on == "scored data":
        return (
            f"the {t['q']:g} quantile of the scored data's own {what} (--threshold-"
            f"quantile: the original pipeline's rule, for comparison only)"
        )
    fitted = f"of the {n}{fitted_on} {what}, fitted when the bundle was trained"
    if t.get("method") == "quantile":
        return f"the {t['q']:g} quantile {fitted}"
    if t.get("method") == "sigma":
        return f"mean + {t['k']:g} standard deviations {fitted}"
    if t.get("method") == "hundman":
        return f"Hundman's non-parametric threshold {fitted}"
    if t.get("method") == "pot":
        return f"peaks over threshold at risk {t['q']:g} above the {t['level']:g} quantile {fitted}"
    return ", ".join(f"{k} {v}" for k, v in t.items())


def model_summary(layers) -> str:
    """``LSTM 6&rarr;64, ..., repeat &times;24, dense 64&rarr;6`` from the typed layers."""
    from squall.model import Dense, Lstm, Repeat, as_layers

    parts = []
    for layer in as_layers(layers):
        if isinstance(layer, Lstm):
            parts.append(f"LSTM {layer.input}&rarr;{layer.hidden}")
        elif isinstance(layer, Repeat):
            parts.append(f"repeat &times;{layer.times}")
        elif isinstance(layer, Dense):
            parts.append(f"dense {layer.input}&rarr;{layer.output}")
        else:
            parts.append(esc(layer.describe()))
    return ", ".join(parts)


def _kv(rows: list[tuple[str, str]]) -> str:
    body = "".join(f"<tr><th>{esc(k)}</th><td>{v}</td></tr>" for k, v in rows)
    return f'<table class="kv"><tbody>{body}</tbody></table>'


def run_section(run: Run) -> str:
    b, ws = run.bundle, run.ws
    prov = b.provenance
    trained = ", ".join(esc(Path(d["path"]).name) for d in prov.get("data", [])) or "unknown"
    if prov.get("until"):
        trained += f" (reports before {esc(str(prov['until']))})"
    epochs = (prov.get("training") or {}).get("epochs_run")
    sources = "<br>".join(esc(s) for s in ws.sources)
    first, last = pd.Timestamp(ws.start.min()), pd.Timestamp(ws.end.max())
    t = run.threshold
    rows = [
        ("Bundle", f"{esc(str(Path(run.bundle_path).resolve()))}"),
        (
            "Model",
            f"{model_summary(b.layers)}; features "
            + ", ".join(f"{esc(f)} ({esc(b.units.get(f, '') or '-')})" for f in b.features),
        ),
        ("Trained on", trained + (f"; {plural(epochs, 'epoch')}" if epochs else "")),
        ("Data", sources),
        ("Time range", f"{first:%Y-%m-%d %H:%M} to {last:%Y-%m-%d %H:%M} UTC"),
        (
            "Windows",
            f"{plural(len(ws), 'window', fmt=',')} of {b.length} steps x "
            f"{esc(str(b.windows.get('resample')))}"
            f" on {plural(len(np.unique(ws.track.astype(str))), 'track')} "
            f"({ws.meta.get('skipped', 0)} skipped with too little data)",
        ),
        (
            "Engine",
            esc(run.engine)
            + (
                " (reconstructions; scores and flags from the detect run)" if run.detect_dir else ""
            ),
        ),
        ("Threshold", f"<b>{t['value']:.5g}</b>: {esc(describe_threshold(t))}"),
    ]
    if run.detect_dir:
        rows.append(("Detect run", esc(str(Path(run.detect_dir).resolve()))))
    return f'<section id="run"><h2>What was run</h2>{_kv(rows)}</section>'


def _thresholded(run: Run) -> pd.DataFrame:
    """The scores table with ``score`` the value the detector thresholds: the peak smoothed step
    score of each window for a step detector, the window score otherwise."""
    if "step_score" in run.table:
        return run.table.assign(score=run.table["step_score"])
    return run.table


def _tracks_shown(run: Run, limit: int) -> list[str]:
    best = _thresholded(run).groupby("track")["score"].max()
    with_events = set(run.events["track"])
    order = sorted(best.index, key=lambda tr: (tr not in with_events, -best[tr]))
    return order[:limit]


def timeline_section(run: Run, page, max_tracks: int) -> str:
    tracks = _tracks_shown(run, max_tracks)
    fig = figures.timeline_figure(
        _thresholded(run), run.events, tracks, run.threshold["value"], run.labels
    )
    what = (
        "Peak smoothed step score per window and track"
        if "step_score" in run.table
        else "Reconstruction error per window and track"
    )
    img = page.figure(
        fig, "timeline.png", f"{what}, with the threshold and the events", id_="timeline-img"
    )
    hidden = run.table["track"].nunique() - len(tracks)
    note = (
        f'<p class="note">{plural(hidden, "more track")} '
        f"without events {'is' if hidden == 1 else 'are'} not drawn (their scores "
        f"are in scores.csv); --max-tracks shows more.</p>"
        if hidden > 0
        else ""
    )
    return f'<section id="timeline"><h2>Error timeline</h2>{img}{note}</section>'


def _event_reports(run: Run, windows: dict[int, np.ndarray]) -> dict[int, pd.DataFrame | str]:
    """The original reports behind each event's windows (or why they cannot be shown)."""
    from squall.report.tables import anomaly_windows_frame

    everything = np.concatenate(list(windows.values())) if windows else np.zeros(0, int)
    try:
        rows = anomaly_windows_frame(run.ws, everything)
    except SquallError as exc:
        return {e: f"the original reports cannot be shown: {exc}" for e in windows}
    out: dict[int, pd.DataFrame | str] = {}
    for e, ws in windows.items():
        part = rows[rows["window"].isin(ws)].drop_duplicates(["file", "row"])
        part = part.sort_values(["file", "row"]).assign(
            file=part["file"].map(lambda p: Path(p).name)
        )
        keep = ["file"] + (["line"] if "line" in part else ["row"])
        if "STATION" in part:
            keep += [c for c in NOAA_COLUMNS if c in part]
        else:
            keep += [c for c in part.columns if c not in ("window", "track", "file", "row", "line")]
        out[e] = part[keep].reset_index(drop=True)
    return out


def stuck_table(run: Run) -> str:
    """The stuck-sensor runs (judged on the raw reports, not by the model), as a table."""
    if run.stuck is None or not len(run.stuck):
        return ""
    st = run.stuck.assign(
        start=pd.to_datetime(run.stuck["start"]).dt.strftime("%Y-%m-%d %H:%M"),
        end=pd.to_datetime(run.stuck["end"]).dt.strftime("%Y-%m-%d %H:%M"),
    )[["track", "feature", "start", "end", "reports", "value", "why"]]
    return (
        f"<h3>Stuck sensors</h3><p>{plural(len(st), 'run')} of exactly repeated reports, "
        "far longer than the track's own repeats explain (events of kind <i>stuck</i> in "
        "events.csv):</p>" + table_html(st, "stuck")
    )


def events_section(run: Run, page, max_events: int, log: Callable[[str], None]) -> str:
    ev = run.events
    if len(ev) == 0:
        return (
            '<section id="events"><h2>Events</h2><p>No window scored above the threshold: '
            f"no events.</p>{stuck_table(run)}</section>"
        )
    chosen = ev.nlargest(max_events, "score").sort_values("event")
    drawn = set(chosen["event"])
    columns = (
        ["event", "track", "start", "end", "score", "n_windows"]
        + [c for c in ("hours", "peak", "peaks", "basis", "period") if c in ev]
        + [c for c in ("lat_min", "lat_max", "lon_min", "lon_max") if ev[c].notna().any()]
        + ["why"]
    )
    overview = ev.assign(
        event=[f'<a href="#event-{e}">#{e}</a>' if e in drawn else f"#{e}" for e in ev["event"]],
        start=pd.to_datetime(ev["start"]).dt.strftime("%Y-%m-%d %H:%M"),
        end=pd.to_datetime(ev["end"]).dt.strftime("%Y-%m-%d %H:%M"),
    )[columns]
    parts = [
        '<section id="events"><h2>Events</h2>',
        table_html(overview, "events", raw=("event",)),
        stuck_table(run),
    ]
    if len(chosen) < len(ev):
        parts.append(
            f'<p class="note">Panels for the {plural(len(chosen), "event")} with the highest '
            f"peak scores (--max-events); all {len(ev)} are in the table.</p>"
        )
    ids = run.window_event
    windows = {int(e): np.flatnonzero(ids == e) for e in chosen["event"]}
    reports = _event_reports(run, windows)
    span = pd.to_datetime(run.table["end"]) - pd.to_datetime(run.table["start"])
    for k, (_, row) in enumerate(chosen.iterrows()):
        e = int(row["event"])
        log(f"event panel {k + 1} of {len(chosen)}: event #{e}")
        parts.append(_event_panel(run, page, row, ids, span, reports[e]))
    parts.append("</section>")
    return "".join(parts)


def _event_panel(
    run: Run, page, row: pd.Series, ids: np.ndarray, span: pd.Series, reports: pd.DataFrame | str
) -> str:
    e = int(row["event"])
    start, end = pd.Timestamp(row["start"]), pd.Timestamp(row["end"])
    # the surroundings: every window of the track within one window span of the event
    margin = span.iloc[int(row["peak_window"])]
    t_start = pd.to_datetime(run.table["start"])
    t_end = pd.to_datetime(run.table["end"])
    near = np.flatnonzero(
        (
            (run.table["track"] == row["track"])
            & (t_end >= start - margin)
            & (t_start <= end + margin)
        ).to_numpy()
    )
    series = figures.step_series(run.ws, run.recon, near)
    ex = run.explanations[e]
    fig = figures.event_figure(
        series,
        run.ws.features,
        run.bundle.units,
        start,
        end,
        f"Event #{e}: {row['track']}, {start:%Y-%m-%d %H:%M} to {end:%Y-%m-%d %H:%M}",
        ex["features"],
    )
    img = page.figure(
        fig,
        f"event-{e:03d}.png",
        f"Event #{e}: observed values (physical units) and the model's reconstruction",
        cls="event-plot",
    )
    qc = ", ".join(f"{k} &times;{v}" for k, v in ex["qc"].items())
    place = ""
    if np.isfinite(row["lat_min"]):
        place = (
            f"; position {row['lat_min']:.2f} to {row['lat_max']:.2f} N, "
            f"{row['lon_min']:.2f} to {row['lon_max']:.2f} E"
        )
    head = (
        f'<h3>Event #{e}: {esc(str(row["track"]))}</h3><p class="note">{start} to {end}, '
        f"{plural(int(row['n_windows']), 'flagged window')}, peak score {row['score']:.4g} (window "
        f"{int(row['peak_window'])}){place}</p>"
    )
    why = f'<div class="why"><b>Why:</b> {esc(str(row["why"]) or "-")}'
    why += f"<br><b>QC flags:</b> {qc}</div>" if qc else "</div>"
    if isinstance(reports, str):
        listing = f'<p class="note">{esc(reports)}</p>'
    else:
        shown = reports.head(MAX_REPORT_ROWS)
        more = (
            f" (the first {MAX_REPORT_ROWS}; all are in anomaly_windows.csv of a detect run)"
            if len(reports) > MAX_REPORT_ROWS
            else ""
        )
        listing = (
            f"<details><summary>{plural(len(reports), 'original report')} in the flagged windows"
            f"{more}, as written in the file</summary>{table_html(shown, 'reports')}"
            f"</details>"
        )
    return f'<section class="event" id="event-{e}">{head}{why}{img}{listing}</section>'


def map_section(run: Run, page) -> str:
    has = np.isfinite(run.table[["lat_min", "lon_min"]].to_numpy(float)).all(axis=1).any()
    if not has:
        return (
            '<section id="map"><h2>Map</h2><p class="note">The data has no positions '
            "(latitude/longitude): no map.</p></section>"
        )

    fig = figures.map_figure(run.table, run.events, run.window_event)
    img = page.figure(
        fig,
        "map.png",
        "Event positions (red: each event's path, a dot at its "
        "peak window) among all scored windows (grey)",
        id_="map-img",
    )
    return f'<section id="map"><h2>Map</h2>{img}</section>'


def evaluation_section(run: Run) -> str:
    if run.evaluation is None:
        return (
            '<section id="evaluation"><h2>Evaluation</h2><p class="note">No labels given '
            "(--labels): no metrics.</p></section>"
        )
    m = run.evaluation
    rows = [
        ("Labels in the data", f"{len(m['per_label'])}"),
        ("Found (tp)", f"{m['tp']}"),
        ("Missed (fn)", f"{m['fn']}"),
        (
            "False events (fp)",
            f"{m['fp']}"
            + (": " + ", ".join(f"#{e}" for e in m["false_events"]) if m["false_events"] else ""),
        ),
        (
            "Precision / recall / F1",
            " / ".join(
                "-" if np.isnan(m[k]) else f"{m[k]:.3f}" for k in ("precision", "recall", "f1")
            ),
        ),
    ]
    rows += [(f"Recall: {t}", f"{v['found']} of {v['labels']}") for t, v in m["per_type"].items()]
    labels = m["per_label"].assign(
        start=lambda f: f["start"].dt.strftime("%Y-%m-%d %H:%M"),
        end=lambda f: f["end"].dt.strftime("%Y-%m-%d %H:%M"),
    )[["type", "track", "start", "end", "found_by"]]
    return (
        '<section id="evaluation"><h2>Evaluation</h2><p class="note">Event level, Orion\'s '
        "overlap rule: a label is found when an event on its track overlaps it; an event "
        "overlapping no label is false.</p>"
        + _kv(rows)
        + "<details open><summary>Every label</summary>"
        + table_html(labels, "labels")
        + "</details></section>"
    )


def training_section(run: Run, page) -> str:
    from squall.report.plots import training_figure

    history = run.bundle.history
    if not history:
        return (
            '<section id="training"><h2>Training</h2><p class="note">The bundle has no '
            "training history (history.csv): it was not trained by squall.</p></section>"
        )
    img = page.figure(
        training_figure(history),
        "training.png",
        "Training and validation loss per epoch (the bundle's history.csv)",
        id_="training-img",
    )
    final = history[-1]
    note = (
        f'<p class="note">{plural(len(history), "epoch")}; final training loss '
        f"{final.get('train_loss', float('nan')):.4g}, validation loss "
        f"{final.get('val_loss', float('nan')):.4g}.</p>"
    )
    return f'<section id="training"><h2>Training</h2>{img}{note}</section>'


def eda_section(run: Run, page) -> str:
    from squall.report.plots import correlation_figure, histograms_figure

    s = run.eda
    hist = page.figure(
        histograms_figure(s.values, s.units),
        "histograms.png",
        "Histogram of each feature (physical units)",
        id_="histograms-img",
    )
    pairs = ""
    if len(s.correlation) > 1:  # one feature has no pairs to show
        corr = page.figure(
            correlation_figure(s.correlation),
            "correlation.png",
            "Correlation matrix",
            id_="correlation-img",
        )
        pairs = f"<h3>Most correlated pairs</h3>{table_html(s.top_pairs, 'pairs')}{corr}"
    return (
        f'<section id="data"><h2>The data</h2><p class="note">'
        f"{plural(s.reports, 'report', fmt=',')} from {plural(s.tracks, 'track')}, "
        f"{s.time_range[0]} to {s.time_range[1]} (the same tables as "
        f"'squall eda').</p>{table_html(s.summary, 'summary')}{hist}{pairs}</section>"
    )


def table_html(frame: pd.DataFrame, cls: str = "", raw: tuple[str, ...] = ()) -> str:
    """A table: numbers right-aligned with 4 significant digits, empty cells for NaN; text is
    escaped except in the ``raw`` columns (HTML made here, such as links)."""
    head = "".join(f"<th>{esc(str(c))}</th>" for c in frame.columns)
    keep = [c in raw for c in frame.columns]
    rows = []
    for values in frame.itertuples(index=False):
        cells = []
        for v, as_is in zip(values, keep, strict=True):
            if as_is:
                cells.append(f"<td>{v}</td>")
            elif isinstance(v, (bool, np.bool_)):
                cells.append(f"<td>{'yes' if v else 'no'}</td>")
            elif isinstance(v, (int, np.integer)):
                cells.append(f'<td class="num">{int(v):,}</td>')
            elif isinstance(v, (float, np.floating)):
                cells.append(f'<td class="num">{"" if not np.isfinite(v) else _num(float(v))}</td>')
            else:
                cells.append(f"<td>{esc('' if v is None or v is pd.NA else str(v))}</td>")
        rows.append("<tr>" + "".join(cells) + "</tr>")
    return (
        f'<div class="scroll"><table class="{cls}"><thead><tr>{head}</tr></thead>'
        f"<tbody>{''.join(rows)}</tbody></table></div>"
    )


def esc(text: str) -> str:
    return html.escape(text, quote=True)


def _num(v: float) -> str:
    """A table number: 4 significant digits, but never fewer than 2 decimals' worth for values
    of 100 and more (positions, pressures: 107.98, 1008.73)."""
    return f"{v:.2f}" if 100 <= abs(v) < 1e6 else f"{v:.4g}"
