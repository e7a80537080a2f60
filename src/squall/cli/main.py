"""``squall`` command line: one small function per command, parsing options and calling the library.

Errors in the user's input print one line (``squall: error: ...``) and exit with status 2.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from typing import Any, NoReturn

from squall.cli.common import check_out, check_run_inputs, data_inputs, log
from squall.errors import ParameterError, SquallError

COMMANDS: dict[str, Callable[[argparse.Namespace], int | None]] = {}

# Library parameters whose flag is not the parameter's name with dashes (ParameterError.option).
_FLAGS = {"sizes": "--hidden", "threshold_q": "--threshold-quantile"}


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:  # one line, not the usage block
        raise SquallError(f"{self.prog}: {message} (see {self.prog} --help)")


def _csv_list(text: str) -> list[str]:
    items = [t.strip() for t in text.split(",") if t.strip()]
    if not items:
        raise argparse.ArgumentTypeError("expected a comma-separated list")
    return items


def _engine(text: str) -> str:
    """An engine name, checked when the options are parsed (before any data is read)."""
    from squall.engines import ENGINES

    if text not in ENGINES:
        raise argparse.ArgumentTypeError(
            f"unknown engine {text!r}; available: {', '.join(ENGINES)}"
        )
    return text


def _int_list(text: str) -> tuple[int, ...]:
    try:
        return tuple(int(t) for t in _csv_list(text))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected integers like 64,32, got {text!r}") from None


def _ranged(option: str, *, integer: bool = False, **bounds) -> Callable[[str], float]:
    """An argparse type: a number (an int with ``integer``) within ``bounds`` (the keywords of
    :func:`squall.pipeline.check_number`, the one place the range rules live), checked while
    the options are parsed, before any work."""

    def parse(text: str) -> float:
        try:
            value = int(text) if integer else float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"expected {'an integer' if integer else 'a number'}, got {text!r}"
            ) from None
        from squall.errors import SquallError
        from squall.pipeline import check_number

        try:  # a SquallError is a ValueError, which argparse would replace by its own text
            check_number(option, value, integer=integer, **bounds)
        except SquallError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None
        return value

    return parse


_QUANTILE: dict[str, Any] = {"low": 0, "high": 1, "low_open": True, "high_open": True}
_COUNT: dict[str, Any] = {"low": 0}  # an integer >= 0 (--limit N: 0 means all)
_POSITIVE: dict[str, Any] = {"low": 1}  # an integer >= 1


def _positive_list(text: str) -> tuple[int, ...]:
    sizes = _int_list(text)
    if any(n < 1 for n in sizes):
        raise argparse.ArgumentTypeError(f"sizes must be integers >= 1, got {text!r}")
    return sizes


def _reader_options(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("reading data")
    g.add_argument(
        "--features",
        type=_csv_list,
        help="feature columns, comma-separated "
        "(NOAA default: AIR_TEMP,SEA_SURF_TEMP,SEA_LVL_PRES,WIND_SPEED,WAVE_HGT,"
        "WAVE_PERIOD; generic CSV default: every column but time/track)",
    )
    g.add_argument(
        "--time-column",
        help="generic CSV: the time column (default 'timestamp'); "
        "giving it selects the generic reader",
    )
    g.add_argument(
        "--track-column",
        help="generic CSV: column naming each series (default: one track per file)",
    )
    g.add_argument(
        "--qc",
        choices=["keep", "drop"],
        default="keep",
        help="NOAA QC flags: keep flagged values and report the flags (default), or "
        "drop them as ICOADS does (position flag 7-9 drops the report, value flag 8-9 "
        "the value)",
    )
    g.add_argument(
        "--keep-codes",
        action="store_true",
        help="NOAA: keep special codes (wave "
        "period 99, wind direction 361/362) as values, as the original pipeline did; "
        "only for reproducing it",
    )
    g.add_argument(
        "--time-format",
        metavar="FMT",
        help="strftime format of the time column, "
        "e.g. '%%d/%%m/%%Y %%H:%%M' (default: inferred, one format per column); for "
        "generic CSV files only (NOAA DATE is ISO 8601)",
    )
    g.add_argument(
        "--dayfirst",
        action="store_true",
        help="read ambiguous dates such as "
        "01/02/2014 day first; for generic CSV files only (NOAA DATE is ISO 8601)",
    )


def _reader(a: argparse.Namespace, features: bool = True) -> dict:
    """The reader configuration of the reader options (the keys of
    :func:`squall.pipeline.read_data`); ``features=False`` leaves them out (``train`` passes
    them on its own)."""
    reader = {
        "kind": "csv" if a.time_column else "auto",
        "time_column": a.time_column,
        "track_column": a.track_column,
        "qc": a.qc,
        "keep_codes": a.keep_codes,
        "time_format": a.time_format,
        "dayfirst": a.dayfirst,
    }
    if features:
        reader["features"] = a.features
    return reader


def _build() -> argparse.ArgumentParser:
    from squall import __version__

    parser = _Parser(
        prog="squall", description="LSTM anomaly detection on marine and weather sensor data."
    )
    parser.add_argument("--version", action="version", version=f"squall {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    p = sub.add_parser("train", help="train an autoencoder on data files, write a bundle")
    p.add_argument("data", nargs="+", help="CSV files or globs")
    p.add_argument("--out", required=True, help="bundle directory to write")
    p.add_argument("--until", help="train on reports before this date/time (UTC)")
    _reader_options(p)
    g = p.add_argument_group("windows")
    g.add_argument(
        "--length",
        type=_ranged("--length", integer=True, low=2),
        default=24,
        help="steps per window (default 24)",
    )
    g.add_argument(
        "--stride",
        type=_ranged("--stride", integer=True, **_POSITIVE),
        default=1,
        help="steps between windows (default 1)",
    )
    g.add_argument(
        "--mode",
        choices=["track", "pooled"],
        default="track",
        help="per-track windows (default) or the original pooled sequence",
    )
    g.add_argument(
        "--resample",
        default="auto",
        help="step interval: 'auto' (the typical "
        "report interval, rounded up to 1/5/10/15/30 min or 1/2/3/6/12 h), 'none' "
        "(one step per report) or a duration like 1h",
    )
    g.add_argument("--max-gap", help="split tracks at gaps longer than this (default 6 steps)")
    g.add_argument(
        "--min-observed",
        default=0.25,
        type=_ranged("--min-observed", low=0, high=1, low_open=True),
        help="fraction of steps with data a window needs (default 0.25)",
    )
    g = p.add_argument_group("model and training")
    g.add_argument(
        "--hidden",
        type=_positive_list,
        default=(64, 32),
        help="encoder LSTM sizes, mirrored in the decoder (default 64,32)",
    )
    g.add_argument("--scaler", choices=["minmax", "standard"], default="minmax")
    g.add_argument(
        "--epochs",
        type=_ranged("--epochs", integer=True, **_POSITIVE),
        default=40,
        help="maximum epochs (default 40; early stopping after 6 without improvement)",
    )
    g.add_argument("--seed", type=_ranged("--seed", integer=True, **_COUNT), default=0)
    g.add_argument(
        "--val-fraction",
        default=0.2,
        type=_ranged("--val-fraction", low=0, high=1, high_open=True),
        help="last part of each track's time used for validation (default 0.2)",
    )
    g.add_argument(
        "--threshold-quantile",
        type=_ranged("--threshold-quantile", **_QUANTILE),
        default=0.99,
        help="the window-score threshold stored beside the detector: this quantile of the "
        "validation windows' scores (default 0.99; used by window-mode detection and hw "
        "accuracy; squall detect uses the detector's own threshold)",
    )
    g.add_argument("--quiet", action="store_true", help="no progress output")
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("windows", help="window and scale new data with a bundle's settings")
    p.add_argument("bundle")
    p.add_argument("data", nargs="+")
    p.add_argument("--out", required=True, help=".npz file to write")
    p.set_defaults(func=cmd_windows)

    for name, func, what in (
        ("score", cmd_score, "score windows, write scores.csv"),
        ("detect", cmd_detect, "score, flag, merge events, trace reports"),
    ):
        p = sub.add_parser(name, help=what)
        p.add_argument("bundle")
        p.add_argument("data", nargs="+", help="CSV files/globs, or one windows .npz")
        p.add_argument("--out", required=True, help="output CSV (score) or directory (detect)")
        p.add_argument(
            "--engine", type=_engine, default="numpy", help="numpy (default), torch, pure or fixed"
        )
        p.add_argument(
            "--threshold", type=_ranged("--threshold"), help="override the bundle's threshold"
        )
        p.add_argument(
            "--threshold-quantile",
            type=_ranged("--threshold-quantile", **_QUANTILE),
            help="threshold = this quantile of the scored data (the original "
            "pipeline's rule; for comparison)",
        )
        if name == "detect":
            p.add_argument("--no-plot", action="store_true", help="skip scores.png")
        p.set_defaults(func=func)

    p = sub.add_parser("extract", help="every original report inside flagged windows")
    p.add_argument("windows", help="windows .npz (from 'squall windows' or 'squall detect')")
    p.add_argument("anomalies", help="anomalies.csv or scores.csv (its flagged rows)")
    p.add_argument("--out", required=True, help="CSV to write")
    p.set_defaults(func=cmd_extract)

    p = sub.add_parser("plot", help="plot error per window with the threshold line")
    p.add_argument("scores", help="scores.csv")
    p.add_argument("--out", required=True, help="PNG to write")
    p.add_argument("--threshold", type=float, help="default: the threshold column of scores.csv")
    p.set_defaults(func=cmd_plot)

    p = sub.add_parser(
        "report",
        help="one self-contained HTML page of a run: timeline, event "
        "panels, map, metrics, training curves, data statistics",
    )
    p.add_argument("bundle")
    p.add_argument("data", nargs="*", help="CSV files/globs or one windows .npz (or --from)")
    p.add_argument(
        "--from",
        dest="from_dir",
        metavar="OUT_DIR",
        help="report on a 'squall "
        "detect' run instead of DATA: its windows.npz, scores and threshold",
    )
    p.add_argument(
        "--out",
        required=True,
        help="HTML file to write (works offline: figures embedded, no network)",
    )
    p.add_argument(
        "--labels",
        help="labels CSV (labels.csv of 'squall synth': start,end[,track,"
        "type]) or NAB combined_windows.json: adds precision, recall, F1",
    )
    p.add_argument(
        "--figures",
        metavar="DIR",
        help="directory for every figure as a PNG (default: OUT without .html, plus '-figures')",
    )
    p.add_argument("--no-figures", action="store_true", help="write only the HTML page")
    p.add_argument(
        "--engine",
        type=_engine,
        default="numpy",
        help="engine for the reconstructions: numpy (default), torch, pure or fixed",
    )
    p.add_argument(
        "--threshold", type=_ranged("--threshold"), help="override the bundle's threshold"
    )
    p.add_argument(
        "--threshold-quantile",
        type=_ranged("--threshold-quantile", **_QUANTILE),
        help="threshold = this quantile of the scored data (the original pipeline's "
        "rule; for comparison)",
    )
    p.add_argument(
        "--max-events",
        type=_ranged("--max-events", integer=True, **_POSITIVE),
        default=30,
        help="event panels to draw, highest "
        "peak scores first (default 30; every event is in the table)",
    )
    p.add_argument(
        "--max-tracks",
        type=_ranged("--max-tracks", integer=True, **_POSITIVE),
        default=12,
        help="tracks in the error timeline, tracks with events first (default 12)",
    )
    p.add_argument("--title", help="page title (default: bundle and data file names)")
    p.add_argument("--quiet", action="store_true", help="no progress output")
    p.set_defaults(func=cmd_report)

    p = sub.add_parser(
        "eda", help="exploratory statistics of data files: summary, correlations, histograms"
    )
    p.add_argument("data", nargs="+", help="CSV files or globs")
    p.add_argument(
        "--out",
        required=True,
        help="directory for summary.csv, correlation.csv, "
        "top_pairs.csv, histograms.png, correlation.png",
    )
    p.add_argument("--until", help="only reports before this date/time (UTC)")
    p.add_argument(
        "--pairs",
        type=_ranged("--pairs", integer=True, **_POSITIVE),
        default=10,
        help="pairs in top_pairs.csv (default 10)",
    )
    _reader_options(p)
    p.set_defaults(func=cmd_eda)

    p = sub.add_parser("import-keras", help="convert the seed Keras weights to a bundle")
    p.add_argument("weights", help="Keras .npz (arr_0..arr_13)")
    p.add_argument("--scaler", required=True, help="scaler.json with data_min/data_max")
    p.add_argument("--out", required=True, help="bundle directory to write")
    p.add_argument("--length", type=_ranged("--length", integer=True, low=2), default=24)
    p.set_defaults(func=cmd_import_keras)

    p = sub.add_parser("synth", help="write synthetic NOAA-format data with labelled events")
    p.add_argument("--out", required=True, help="directory for train.csv, test.csv, labels.csv")
    p.add_argument("--seed", type=_ranged("--seed", integer=True, **_COUNT), default=0)
    p.set_defaults(func=cmd_synth)

    p = sub.add_parser("demo", help="synthetic data -> train -> detect -> precision and recall")
    p.add_argument("--out", default="demo-out", help="directory for everything (default demo-out)")
    p.add_argument("--seed", type=_ranged("--seed", integer=True, **_COUNT), default=0)
    p.add_argument("--epochs", type=_ranged("--epochs", integer=True, **_POSITIVE), default=40)
    p.add_argument("--quiet", action="store_true")
    p.set_defaults(func=cmd_demo)

    p = sub.add_parser("profile", help="profile an engine (cProfile .prof for snakeviz)")
    p.add_argument("bundle")
    p.add_argument("data", nargs="+", help="CSV files/globs, or one windows .npz")
    p.add_argument(
        "--engine", type=_engine, default="pure", help="engine to profile (default pure)"
    )
    p.add_argument("--out", default="squall.prof", help="cProfile output (default squall.prof)")
    p.add_argument(
        "--limit",
        type=_ranged("--limit", integer=True, **_COUNT),
        default=0,
        help="profile only the first N windows",
    )
    p.add_argument(
        "--top",
        type=_ranged("--top", integer=True, **_POSITIVE),
        default=15,
        help="functions to print (default 15)",
    )
    p.add_argument(
        "--lines",
        action="store_true",
        help="add a line_profiler report of the pure engine's step functions (needs line_profiler)",
    )
    p.set_defaults(func=cmd_profile)

    p = sub.add_parser("trace", help="every intermediate of one window (golden vectors)")
    p.add_argument("bundle")
    p.add_argument("data", nargs="+", help="CSV files/globs, or one windows .npz")
    p.add_argument(
        "--window",
        type=_ranged("--window", integer=True, **_COUNT),
        required=True,
        help="window index (as in scores.csv)",
    )
    p.add_argument("--out", required=True, help="trace.csv (long format) or trace.json")
    p.set_defaults(func=cmd_trace)

    p = sub.add_parser("graph", help="the model's dataflow as Graphviz DOT (and SVG)")
    p.add_argument("bundle")
    p.add_argument(
        "--out",
        default="model.dot",
        help="DOT file (an SVG is written beside it when Graphviz is installed)",
    )
    p.set_defaults(func=cmd_graph)

    from squall.cli import hw

    hw.register(sub)

    p = sub.add_parser(
        "evaluate",
        help="run a detector on labelled series (NAB protocol: "
        "trained on each series itself) and score its events: F1, NAB score",
    )
    p.add_argument(
        "series",
        nargs="+",
        help="series named as in the labels file, e.g. "
        "realKnownCause/nyc_taxi.csv (paths relative to --root)",
    )
    p.add_argument(
        "--labels",
        required=True,
        help="NAB combined_windows.json, or a labels CSV "
        "with start,end[,track,type] such as the labels.csv of 'squall synth'",
    )
    p.add_argument("--root", help="directory the series names are relative to (default .)")
    p.add_argument(
        "--out",
        required=True,
        help="directory for events.csv, series.csv, summary.csv and results.json",
    )
    p.add_argument("--train", help="train on this file instead of on each series itself")
    p.add_argument("--quiet", action="store_true", help="no progress output")
    _reader_options(p)
    g = p.add_argument_group("detector (defaults: the project's default detector)")
    g.add_argument(
        "--detector",
        choices=["autoencoder", "original", "robust-z"],
        default="autoencoder",
        help="the LSTM autoencoder (default); baselines: the "
        "original pipeline, a robust z-score on the raw values",
    )
    g.add_argument(
        "--epochs",
        type=_ranged("--epochs", integer=True, **_POSITIVE),
        help="training epochs (default: a budget of 3000 "
        "optimiser updates, whatever the series length)",
    )
    g.add_argument(
        "--seed",
        type=_ranged("--seed", integer=True, **_COUNT),
        default=0,
        help="training seed (default 0)",
    )
    g.add_argument("--hidden", type=_positive_list, help="encoder LSTM sizes (default 32,16)")
    g.add_argument(
        "--length",
        type=_ranged("--length", integer=True, low=2),
        help="steps per window (default 24)",
    )
    g.add_argument(
        "--resample", help="step interval: 'auto' (default), a duration like 1h, or 'none'"
    )
    g.add_argument(
        "--span",
        help="with --resample auto, the least time a window covers "
        "(default 1D; 'none': the data's own interval)",
    )
    g.add_argument(
        "--updates",
        type=_ranged("--updates", integer=True, **_POSITIVE),
        help="training budget in updates (default 3000)",
    )
    g.add_argument(
        "--point",
        choices=["recon-median", "error-median", "error-mean"],
        help="per-step score from the windows covering a step (default recon-median)",
    )
    g.add_argument(
        "--smoothing",
        type=float,
        help="EWMA span: a fraction of the series below 1, else steps (default 0.01; 0: none)",
    )
    g.add_argument(
        "--threshold",
        choices=["sigma", "hundman", "pot", "quantile"],
        help="sigma: mean + k sd (default); hundman: Hundman's z search; pot: peaks "
        "over threshold (SPOT); quantile: a quantile of the series' scores",
    )
    g.add_argument("--k", type=float, help="sigma threshold: mean + k sd (default 4)")
    g.add_argument(
        "--window",
        type=float,
        help="dynamic threshold in sliding windows of this "
        "fraction of the series (default 0: one threshold; Orion uses 0.33)",
    )
    g.add_argument(
        "--step",
        type=float,
        help="step between sliding windows, a fraction of the series (default 0.1)",
    )
    g.add_argument(
        "--prune",
        type=float,
        help="Hundman's pruning of weak sequences: minimum "
        "relative drop (default 0: off; Hundman uses 0.1)",
    )
    g.add_argument("--pot-q", type=_ranged("--pot-q", **_QUANTILE), help="pot: risk (default 0.01)")
    g.add_argument(
        "--pot-level",
        type=_ranged("--pot-level", **_QUANTILE),
        help="pot: initial quantile (default 0.95)",
    )
    g.add_argument(
        "--quantile",
        type=_ranged("--quantile", **_QUANTILE),
        help="quantile threshold (default 0.99)",
    )
    g.add_argument(
        "--merge-gap",
        type=int,
        help="flagged steps at most this many steps apart "
        "are one event (default: the window length)",
    )
    g.add_argument("--pad", type=int, help="widen events by this many steps (default 0)")
    g.add_argument("--z-k", type=float, help="robust-z: |z| limit (default 3.5)")
    p.set_defaults(func=cmd_evaluate)

    p = sub.add_parser("info", help="describe a bundle")
    p.add_argument("bundle")
    p.set_defaults(func=cmd_info)
    return parser


def cmd_train(a: argparse.Namespace) -> None:
    from squall import pipeline
    from squall.data.windows import WindowSettings

    resample = None if a.resample.lower() == "none" else a.resample
    settings = WindowSettings(a.length, a.stride, a.mode, resample, a.max_gap, a.min_observed)
    bundle = pipeline.train(
        a.data,
        a.out,
        features=a.features,
        until=a.until,
        reader=_reader(a, features=False),
        settings=settings,
        sizes=a.hidden,
        scaler=a.scaler,
        epochs=a.epochs,
        seed=a.seed,
        val_fraction=a.val_fraction,
        threshold_q=a.threshold_quantile,
        progress=not a.quiet,
        log=(lambda *_: None) if a.quiet else log,
    )
    t = (bundle.detector or {}).get("threshold") or {}
    log(
        f"bundle written to {a.out}: {len(bundle.history)} epochs, final validation loss "
        f"{bundle.history[-1]['val_loss']:.5g}; detector threshold "
        f"{t.get('value', float('nan')):.5g} ({t.get('rule')} of the "
        f"{(bundle.detector or {}).get('fitted_on')} smoothed step scores)"
    )


def cmd_windows(a: argparse.Namespace) -> None:
    from squall import load_bundle, pipeline

    check_out(a, [a.bundle], a.data, suffixes=(".npz",))
    ws = pipeline.make_windowset(load_bundle(a.bundle), a.data)
    ws.save(a.out)
    log(f"{len(ws)} windows ({ws.meta.get('skipped', 0)} skipped) written to {a.out}")


def cmd_score(a: argparse.Namespace) -> None:
    from squall import load_bundle, pipeline

    check_out(a, [a.bundle], a.data, suffixes=(".csv",))
    bundle = load_bundle(a.bundle)
    ws = pipeline.load_windows(bundle, a.data)
    table, _, t = pipeline.score_table(
        bundle, ws, a.engine, a.threshold, a.threshold_quantile, require_threshold=False
    )
    pipeline.write_csv(table, a.out)
    log(
        f"{len(table)} windows scored with {a.engine}; {int(table['flagged'].sum())} above "
        f"threshold {t['value']:.5g}; written to {a.out}"
    )


def cmd_detect(a: argparse.Namespace) -> None:
    from squall import load_bundle, pipeline

    check_out(a, [a.bundle], a.data, directory=True)
    r = pipeline.detect(
        load_bundle(a.bundle),
        a.data,
        a.out,
        engine=a.engine,
        threshold=a.threshold,
        threshold_quantile=a.threshold_quantile,
        plot=not a.no_plot,
    )
    log(
        f"{r['windows']} windows, {r['flagged']} flagged (threshold {r['threshold']['value']:.5g}"
        f"), {r['events']} events; outputs in {r['out']}"
    )


def cmd_extract(a: argparse.Namespace) -> None:
    import numpy as np
    import pandas as pd

    from squall import pipeline
    from squall.data import windowset
    from squall.io import check_run_file
    from squall.report.tables import anomaly_windows_frame

    check_out(a, [a.windows, a.anomalies], suffixes=(".csv",))
    runs = {check_run_file(a.windows), check_run_file(a.anomalies)} - {None}
    if len(runs) > 1:
        raise SquallError(
            f"{a.windows} and {a.anomalies} come from two runs; use the files of one run"
        )
    ws = windowset.load(a.windows)
    table = _read_csv_arg(a.anomalies, "window")
    if not pd.api.types.is_integer_dtype(table["window"]):
        raise SquallError(f"{a.anomalies}: the 'window' column must hold integers")
    if "flagged" in table:
        if not pd.api.types.is_bool_dtype(table["flagged"]):
            raise SquallError(f"{a.anomalies}: the 'flagged' column must be True/False")
        table = table[table["flagged"]]
    idx = table["window"].to_numpy()
    if len(idx) and (idx.min() < 0 or idx.max() >= len(ws)):
        raise SquallError(
            f"{a.anomalies} names window {idx.max()}, but {a.windows} has only "
            f"{len(ws)} windows: they do not belong together"
        )
    for col, mine in (
        ("track", ws.track.astype(str)),
        ("start", pd.to_datetime(ws.start).strftime("%Y-%m-%dT%H:%M:%S")),
    ):
        if col in table and len(idx):
            theirs = table[col].fillna("").astype(str).to_numpy()
            ours = np.asarray(mine, dtype=object)[idx]
            ours = np.where(pd.isna(ours), "", ours).astype(str)
            if (theirs != ours).any():
                raise SquallError(
                    f"{a.anomalies} does not describe the windows of {a.windows} "
                    f"(window {idx[np.argmax(theirs != ours)]} has another {col}); "
                    f"use the scores of these windows"
                )
    rows = anomaly_windows_frame(ws, idx)
    pipeline.write_csv(rows, a.out)
    log(f"{len(rows)} original reports from {len(idx)} windows written to {a.out}")


def cmd_plot(a: argparse.Namespace) -> None:
    from squall.report.plots import plot_scores

    check_out(a, [a.scores], suffixes=(".png",))
    table = _read_csv_arg(a.scores, "score")
    if "step_score" in table:  # a step detector's run: its flags are step_score > threshold
        table = table.assign(score=table["step_score"])
        plot_scores(
            table,
            a.out,
            a.threshold,
            title="Peak smoothed step score per window",
            what="peak smoothed step score in the window",
        )
    else:
        plot_scores(table, a.out, a.threshold)
    log(f"plot written to {a.out}")


def cmd_report(a: argparse.Namespace) -> None:
    from pathlib import Path

    from squall.report.html import build_report, check_targets, write_report

    figures = None if a.no_figures else (a.figures or str(Path(a.out).with_suffix("")) + "-figures")
    _check_report_inputs(a)
    check_run_inputs(a.data)
    check_targets(a.out, figures, inputs=[a.bundle, a.from_dir, a.labels, *data_inputs(a.data)])
    report = build_report(
        a.bundle,
        a.data,
        from_dir=a.from_dir,
        engine=a.engine,
        threshold=a.threshold,
        threshold_quantile=a.threshold_quantile,
        labels=a.labels,
        max_events=a.max_events,
        max_tracks=a.max_tracks,
        title=a.title,
        log=(lambda *_: None) if a.quiet else log,
    )
    written = write_report(report, a.out, figures)
    log(
        f"report written to {a.out}"
        + (f"; {len(report.figures)} figures in {figures}" if len(written) > 1 else "")
    )


def _check_report_inputs(a: argparse.Namespace) -> None:
    """What ``report`` can refuse before any data is read or scored: a ``--labels`` file that
    is missing, unreadable or not a labels file, and (scoring DATA) a bundle without a
    threshold when neither --threshold nor --threshold-quantile is given."""
    if a.labels is not None:
        from squall.data.labels import read_label_csv, read_nab_labels

        reader = read_nab_labels if str(a.labels).lower().endswith(".json") else read_label_csv
        try:
            reader(a.labels)
        except OSError as exc:
            raise SquallError(f"cannot read --labels {a.labels}: {exc.strerror or exc}") from None
    if a.from_dir is None and a.threshold is None and a.threshold_quantile is None:
        from squall import load_bundle

        bundle = load_bundle(a.bundle)
        if bundle.threshold is None and bundle.detector is None:
            raise SquallError(
                f"the bundle {a.bundle} has no threshold; give --threshold VALUE "
                f"or --threshold-quantile Q"
            )


def cmd_eda(a: argparse.Namespace) -> None:
    from squall.data.observations import parse_time
    from squall.report.eda import eda, write_eda

    check_out(a, [], a.data, directory=True)
    if a.until is not None:
        parse_time(a.until, "until")
    result = eda(a.data, reader=_reader(a), until=a.until, n_pairs=a.pairs)
    names = write_eda(result, a.out)
    print(
        result.summary[
            ["feature", "unit", "count", "missing_share", "mean", "std", "min", "q50", "max"]
        ].to_string(index=False, float_format="%.4g")
    )
    if len(result.top_pairs):
        top = result.top_pairs.iloc[0]
        print(
            f"most correlated: {top['feature_a']} and {top['feature_b']} "
            f"(r={top['correlation']:.3f} over {top['reports']:,} reports)"
        )
    log(
        f"{result.reports:,} reports from {result.tracks} tracks; written to {a.out}: "
        + ", ".join(names)
    )


def cmd_import_keras(a: argparse.Namespace) -> None:
    from squall.bundle import replaceable as bundle_replaceable
    from squall.convert import import_keras

    check_out(a, [a.weights, a.scaler], directory=True, replaceable=bundle_replaceable)
    import_keras(a.weights, a.scaler, a.length).save(a.out)
    log(f"bundle written to {a.out}")


def cmd_synth(a: argparse.Namespace) -> None:
    from squall.data.synthetic import generate_demo_data

    check_out(a, directory=True)
    paths = generate_demo_data(a.out, seed=a.seed)
    log("written: " + ", ".join(str(p) for p in paths.values()))


def cmd_demo(a: argparse.Namespace) -> None:
    from squall.demo import run_demo

    run_demo(a.out, seed=a.seed, epochs=a.epochs, progress=not a.quiet)


def cmd_profile(a: argparse.Namespace) -> None:
    from squall import load_bundle, pipeline
    from squall.engines.tools.profiling import profile_run

    check_out(a, [a.bundle], a.data, suffixes=(".prof",))
    bundle = load_bundle(a.bundle)
    x = pipeline.load_windows(bundle, a.data).x
    x = x[: a.limit] if a.limit else x
    if len(x) == 0:
        raise SquallError("no windows to profile")
    r = profile_run(bundle, x, a.out, a.engine, a.top, lines=a.lines)
    print(
        f"{a.engine} engine: {r.windows} windows in {r.seconds:.3f} s "
        f"({1000 * r.seconds / r.windows:.2f} ms per window, under cProfile)"
    )
    print(r.top.rstrip())
    if r.counters:
        print(
            "step calls per layer:",
            ", ".join(f"{k} {v:,}" for k, v in r.counters["step_calls"].items()),
        )
        print(r.step_check)
    print(f"profile written to {a.out}; view it with: snakeviz {a.out}")
    if r.lines:
        print(r.lines)
    for note in r.notes:
        log(f"note: {note}")


def cmd_trace(a: argparse.Namespace) -> None:
    from squall import load_bundle, pipeline
    from squall.engines.tools.trace import write_trace

    check_out(a, [a.bundle], a.data, suffixes=(".csv", ".json"))
    bundle = load_bundle(a.bundle)
    ws = pipeline.load_windows(bundle, a.data)
    if not 0 <= a.window < len(ws):
        raise SquallError(
            f"--window {a.window} is out of range: the data has {len(ws)} windows "
            f"(0..{len(ws) - 1})"
        )
    n = write_trace(bundle, ws.x[a.window], a.window, a.out)
    log(f"{n} step records of window {a.window} written to {a.out}")


def cmd_graph(a: argparse.Namespace) -> None:
    from pathlib import Path

    from squall import load_bundle
    from squall.engines.tools.graph import write_graph
    from squall.io import check_output

    check_out(a, [a.bundle], suffixes=(".dot",))
    # the SVG written beside the DOT is an output too: checked by the same rules
    check_output(
        Path(a.out).with_suffix(".svg"),
        inputs=[a.bundle],
        suffixes=(".svg",),
        option="--out (its .svg)",
    )
    written = write_graph(load_bundle(a.bundle), a.out)
    log(
        "written: "
        + ", ".join(written)
        + ("" if len(written) > 1 else " (install Graphviz for an SVG)")
    )


def cmd_evaluate(a: argparse.Namespace) -> None:
    from pathlib import Path

    from squall.evaluate.detectors import DetectorConfig
    from squall.evaluate.harness import evaluate, format_summary, write_results

    config = DetectorConfig(kind=a.detector).with_options(
        epochs=a.epochs,
        seed=a.seed,
        hidden=a.hidden,
        length=a.length,
        resample=a.resample,
        span=a.span,
        updates=a.updates,
        point=a.point,
        smoothing=a.smoothing,
        threshold=a.threshold,
        k=a.k,
        window=a.window,
        step=a.step,
        prune=a.prune,
        pot_q=a.pot_q,
        pot_level=a.pot_level,
        quantile=a.quantile,
        merge_gap=a.merge_gap,
        pad=a.pad,
        z_k=a.z_k,
    )
    series = [Path(a.root or ".") / name for name in a.series]  # missing ones: evaluate says
    check_out(a, [a.labels, a.train, *series], directory=True)
    reader = None
    if (
        a.time_column
        or a.track_column
        or a.features
        or a.qc != "keep"
        or a.keep_codes
        or a.time_format
        or a.dayfirst
    ):
        reader = _reader(a)
        if a.track_column or a.time_format or a.dayfirst:
            reader["kind"] = "csv"
    result = evaluate(
        a.series,
        a.labels,
        root=a.root,
        config=config,
        train=a.train,
        reader=reader,
        log=(lambda *_: None) if a.quiet else log,
    )
    write_results(result, a.out)
    print(format_summary(result, a.out))


def cmd_info(a: argparse.Namespace) -> None:
    import json

    from squall import load_bundle

    b = load_bundle(a.bundle)
    print(json.dumps({k: v for k, v in b.meta().items() if k != "scaler"}, indent=1))


def _read_csv_arg(path: str, column: str):
    """A CSV the user names on the command line, with ``column`` required."""
    import pandas as pd

    from squall.limits import regular_file

    try:
        table = pd.read_csv(regular_file(path, "CSV file"))
    except (pd.errors.EmptyDataError, pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise SquallError(f"cannot read {path} as CSV ({str(exc).splitlines()[0]})") from None
    if column not in table:
        raise SquallError(f"{path} has no '{column}' column (expected a table squall wrote)")
    return table


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status (0 ok, 2 bad input, 130 interrupted,
    141 when the reader of standard output went away, as a shell reports SIGPIPE)."""
    import warnings

    from squall.errors import SquallWarning

    with warnings.catch_warnings():
        warnings.simplefilter("always", SquallWarning)  # _OneLine shows each text once
        warnings.showwarning = _OneLine(warnings.showwarning)
        return _run(argv)


def _run(argv: Sequence[str] | None) -> int:
    try:
        args = _build().parse_args(argv)
        if not getattr(args, "func", None):
            (getattr(args, "parser", None) or _build()).print_help()
            return 2
        args.func(args)
        sys.stdout.flush()  # a closed pipe shows here, inside the handlers below
        return 0
    except ParameterError as exc:  # the library names its parameter, the user typed a flag
        flag = _FLAGS.get(exc.param) or exc.option()
        print(f"squall: error: {exc.for_option(flag)}", file=sys.stderr)
        return 2
    except SquallError as exc:
        print(f"squall: error: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # `squall ... | head`: the reader has all it wanted
        return _broken_pipe()
    except OSError as exc:  # the file system said no: permissions, a full disk, ...
        where = f": {exc.filename}" if exc.filename else ""
        print(f"squall: error: {exc.strerror or exc}{where}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("squall: interrupted", file=sys.stderr)
        return 130


def _broken_pipe() -> int:
    """Exit quietly with 141 (128 + SIGPIPE, what a shell shows for a command killed by it).
    Standard output is pointed at devnull, as the Python documentation recommends, so the
    interpreter's final flush does not fail again and print 'Exception ignored'."""
    import os

    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):
        pass
    return 141


class _OneLine:
    """``warnings.showwarning`` for a run: a :class:`squall.errors.SquallWarning` as one line
    ``squall: warning: MSG`` on stderr, each text once (no file and line of the code that
    warned: the message is for the user); other warnings as Python shows them."""

    def __init__(self, show) -> None:
        self.show = show
        self.seen: set[str] = set()

    def __call__(self, message, category, filename, lineno, file=None, line=None) -> None:
        from squall.errors import SquallWarning

        if not issubclass(category, SquallWarning):
            self.show(message, category, filename, lineno, file, line)
            return
        text = " ".join(str(message).split())
        if text not in self.seen:
            self.seen.add(text)
            print(f"squall: warning: {text}", file=sys.stderr)


def run() -> None:
    sys.exit(main())
