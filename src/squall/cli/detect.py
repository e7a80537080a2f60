"""Commands that score data with a model and show or judge the result: ``score``, ``detect``,
``plot``, ``report``, ``evaluate``, ``demo``.

Each command is a ``add_<name>`` function that adds its parser and a ``cmd_<name>`` function that
runs it; :data:`PARSERS` lists the adders for :mod:`squall.cli.parser`.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

from squall.cli.common import check_out, check_run_inputs, data_inputs, messages
from squall.cli.options import (
    BUNDLE,
    BUNDLE_HELP,
    COUNT,
    DATA,
    DATA_HELP,
    POSITIVE,
    QUANTILE,
    DeprecatedAlias,
    add_engine,
    add_quiet,
    positive_list,
    ranged,
    reader,
    reader_options,
)
from squall.errors import SquallError
from squall.evaluate.detectors import COMBINERS, KINDS, NORMALISERS
from squall.models.catalog import FORECASTERS
from squall.text import plural

THRESHOLD_HELP = "flag threshold: replaces the bundle's fitted threshold (a number)"
THRESHOLD_QUANTILE_HELP = (
    "threshold = this quantile of the scored data's own scores (the original pipeline's "
    "rule; for comparison only)"
)


def _add_score_or_detect(sub: Any, name: str, what: str, out: str) -> argparse.ArgumentParser:
    p = sub.add_parser(name, help=what)
    p.add_argument("bundle", metavar=BUNDLE, help=BUNDLE_HELP)
    p.add_argument("data", metavar=DATA, nargs="+", help=DATA_HELP)
    p.add_argument("--out", required=True, help=out)
    add_engine(p, "numpy", "engine that reconstructs the windows (default numpy)")
    p.add_argument("--threshold", type=ranged("--threshold"), help=THRESHOLD_HELP)
    p.add_argument(
        "--threshold-quantile",
        type=ranged("--threshold-quantile", **QUANTILE),
        help=THRESHOLD_QUANTILE_HELP,
    )
    add_quiet(p)
    return p


def add_score(sub: Any) -> None:
    p = _add_score_or_detect(
        sub,
        "score",
        "score windows, write scores.csv",
        "CSV file to write: one row per window with its score, threshold and flag",
    )
    p.set_defaults(func=cmd_score)


def add_detect(sub: Any) -> None:
    p = _add_score_or_detect(
        sub,
        "detect",
        "score, flag, merge events, trace reports",
        "directory to write: scores.csv, anomalies.csv, events.csv, anomaly_windows.csv, "
        "step_errors.csv, windows.npz, scores.png",
    )
    p.add_argument("--no-plot", action="store_true", help="skip scores.png")
    add_since(p)
    p.set_defaults(func=cmd_detect)


def add_since(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--since",
        metavar="TIME",
        help="score only new data: events from TIME on (e.g. 2025-03-22), the windows "
        "reaching it scored with the look-back they need",
    )


def cmd_score(a: argparse.Namespace) -> None:
    from squall import load_bundle, pipeline

    check_out(a, [a.bundle], a.data, suffixes=(".csv",))
    bundle = load_bundle(a.bundle)
    ws = pipeline.load_windows(bundle, a.data)
    table, _, t = pipeline.score_table(
        bundle, ws, a.engine, a.threshold, a.threshold_quantile, require_threshold=False
    )
    pipeline.write_csv(table, a.out)
    messages(a)(
        f"{plural(len(table), 'window')} scored with {a.engine}; "
        f"{int(table['flagged'].sum())} above threshold {t['value']:.5g}; written to {a.out}"
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
        since=a.since,
    )
    messages(a)(
        f"{plural(r['windows'], 'window')}, {r['flagged']} flagged (threshold "
        f"{r['threshold']['value']:.5g}), {plural(r['events'], 'event')}; outputs in {r['out']}"
    )


def add_plot(sub: Any) -> None:
    p = sub.add_parser("plot", help="plot error per window with the threshold line")
    p.add_argument("scores", metavar="SCORES", help="scores.csv (from 'squall score' or 'detect')")
    p.add_argument("--out", required=True, help="PNG file to write")
    p.add_argument(
        "--threshold", type=float, help="threshold line (default: the threshold column of SCORES)"
    )
    add_quiet(p)
    p.set_defaults(func=cmd_plot)


def cmd_plot(a: argparse.Namespace) -> None:
    from squall.cli.common import read_csv_arg
    from squall.report.plots import plot_scores

    check_out(a, [a.scores], suffixes=(".png",))
    table = read_csv_arg(a.scores, "score")
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
    messages(a)(f"plot written to {a.out}")


def add_report(sub: Any) -> None:
    p = sub.add_parser(
        "report",
        help="one self-contained HTML page of a run: timeline, event "
        "panels, map, metrics, training curves, data statistics",
    )
    p.add_argument("bundle", metavar=BUNDLE, help=BUNDLE_HELP)
    p.add_argument(
        "data",
        metavar=DATA,
        nargs="*",
        help="CSV files or globs, or one windows .npz, to score (or --from a detect run)",
    )
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
    add_engine(p, "numpy", "engine for the reconstructions (default numpy)")
    p.add_argument("--threshold", type=ranged("--threshold"), help=THRESHOLD_HELP)
    p.add_argument(
        "--threshold-quantile",
        type=ranged("--threshold-quantile", **QUANTILE),
        help=THRESHOLD_QUANTILE_HELP,
    )
    p.add_argument(
        "--max-events",
        type=ranged("--max-events", integer=True, **POSITIVE),
        default=30,
        help="event panels to draw, highest "
        "peak scores first (default 30; every event is in the table)",
    )
    p.add_argument(
        "--max-tracks",
        type=ranged("--max-tracks", integer=True, **POSITIVE),
        default=12,
        help="tracks in the error timeline, tracks with events first (default 12)",
    )
    p.add_argument("--title", help="page title (default: bundle and data file names)")
    add_since(p)
    add_quiet(p)
    p.set_defaults(func=cmd_report)


def cmd_report(a: argparse.Namespace) -> None:
    from pathlib import Path

    from squall.report.html import build_report, check_targets, write_report

    say = messages(a)
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
        since=a.since,
        max_events=a.max_events,
        max_tracks=a.max_tracks,
        title=a.title,
        log=say,
    )
    written = write_report(report, a.out, figures)
    say(
        f"report written to {a.out}"
        + (f"; {plural(len(report.figures), 'figure')} in {figures}" if len(written) > 1 else "")
    )


def _check_report_inputs(a: argparse.Namespace) -> None:
    """What ``report`` can refuse before any data is read or scored: a ``--labels`` file that
    is missing, unreadable or not a labels file, and (scoring DATA) a bundle without a
    threshold when neither --threshold nor --threshold-quantile is given."""
    if a.labels is not None:
        from squall.data.labels import read_label_csv, read_nab_labels

        read = read_nab_labels if str(a.labels).lower().endswith(".json") else read_label_csv
        try:
            read(a.labels)
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


def add_demo(sub: Any) -> None:
    p = sub.add_parser("demo", help="synthetic data -> train -> detect -> precision and recall")
    p.add_argument("--out", default="demo-out", help="directory for everything (default demo-out)")
    p.add_argument(
        "--seed",
        type=ranged("--seed", integer=True, **COUNT),
        default=0,
        help="seed of the synthetic data and of training (default 0)",
    )
    p.add_argument(
        "--epochs",
        type=ranged("--epochs", integer=True, **POSITIVE),
        default=40,
        help="maximum training epochs (default 40; early stopping after 6 without improvement)",
    )
    add_quiet(p)
    p.set_defaults(func=cmd_demo)


def cmd_demo(a: argparse.Namespace) -> None:
    from squall.demo import run_demo

    run_demo(a.out, seed=a.seed, epochs=a.epochs, progress=not a.quiet)


THRESHOLD_RULES = ["sigma", "hundman", "pot", "quantile"]


def add_evaluate(sub: Any) -> None:
    p = sub.add_parser(
        "evaluate",
        help="run a detector on labelled series (NAB protocol: "
        "trained on each series itself) and score its events: F1, NAB score",
    )
    p.add_argument(
        "series",
        metavar="SERIES",
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
    add_quiet(p)
    reader_options(p)
    g = p.add_argument_group("detector (defaults: the project's default detector)")
    g.add_argument(
        "--detector",
        choices=list(KINDS),
        default="autoencoder",
        help="the LSTM autoencoder (default); forecaster: forecast residuals "
        "(Hundman-style); classical scorers on the same step grid: pca (PCA on subsequences), "
        "iforest (Isolation Forest), matrix-profile (stumpy); ensemble: several of these "
        "combined (--members); baselines: the original pipeline, a robust z-score on the raw "
        "values",
    )
    g.add_argument(
        "--members",
        type=lambda text: tuple(t.strip() for t in text.split(",") if t.strip()),
        help="ensemble: its detectors, comma-separated (default autoencoder,pca)",
    )
    g.add_argument(
        "--normalise",
        choices=list(NORMALISERS),
        help="ensemble: each member's scores on one scale per series, robust-z (default) or "
        "rank (then --threshold-rule quantile)",
    )
    g.add_argument(
        "--combine", choices=list(COMBINERS), help="ensemble: mean (default) or max of the members"
    )
    g.add_argument(
        "--model",
        choices=list(FORECASTERS),
        help="forecaster: the forecasting model (default lstm-forecaster)",
    )
    g.add_argument(
        "--horizon",
        type=ranged("--horizon", integer=True, **POSITIVE),
        help="forecaster: steps forecast from each window (default 1; its lookback is --length)",
    )
    g.add_argument(
        "--epochs",
        type=ranged("--epochs", integer=True, **POSITIVE),
        help="training epochs (default: a budget of 3000 "
        "optimiser updates, whatever the series length)",
    )
    g.add_argument(
        "--seed",
        type=ranged("--seed", integer=True, **COUNT),
        default=0,
        help="training seed (default 0)",
    )
    g.add_argument(
        "--hidden",
        type=positive_list,
        help="hidden sizes (default: autoencoder 32,16; a forecaster's own default)",
    )
    g.add_argument(
        "--length",
        type=ranged("--length", integer=True, low=2),
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
        type=ranged("--updates", integer=True, **POSITIVE),
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
        "--threshold-rule",
        choices=THRESHOLD_RULES,
        help="sigma: mean + k sd (default); hundman: Hundman's z search; pot: peaks "
        "over threshold (SPOT); quantile: a quantile of the series' scores",
    )
    g.add_argument(
        "--threshold",
        dest="threshold_rule",
        action=DeprecatedAlias,
        new="--threshold-rule",
        choices=THRESHOLD_RULES,
        help=argparse.SUPPRESS,
    )
    g.add_argument("--k", type=float, help="sigma threshold: mean + k sd (default 4)")
    g.add_argument(
        "--threshold-window",
        type=float,
        metavar="FRACTION",
        help="dynamic threshold in sliding windows of this fraction of the series (default "
        "0: one threshold for the whole series; Orion uses 0.33)",
    )
    g.add_argument(
        "--window",
        dest="threshold_window",
        action=DeprecatedAlias,
        new="--threshold-window",
        type=float,
        help=argparse.SUPPRESS,
    )
    g.add_argument(
        "--step",
        type=float,
        metavar="FRACTION",
        help="step between the sliding threshold windows, a fraction of the series (default 0.1)",
    )
    g.add_argument(
        "--prune",
        type=float,
        help="Hundman's pruning of weak sequences: minimum "
        "relative drop (default 0: off; Hundman uses 0.1)",
    )
    g.add_argument("--pot-q", type=ranged("--pot-q", **QUANTILE), help="pot: risk (default 0.01)")
    g.add_argument(
        "--pot-level",
        type=ranged("--pot-level", **QUANTILE),
        help="pot: initial quantile (default 0.95)",
    )
    g.add_argument(
        "--quantile",
        type=ranged("--quantile", **QUANTILE),
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


def cmd_evaluate(a: argparse.Namespace) -> None:
    from pathlib import Path

    from squall.evaluate.detectors import DetectorConfig
    from squall.evaluate.harness import evaluate, format_summary, write_results

    config = DetectorConfig(kind=a.detector).with_options(
        epochs=a.epochs,
        seed=a.seed,
        hidden=a.hidden,
        model=a.model,
        horizon=a.horizon,
        members=a.members,
        normalise=a.normalise,
        combine=a.combine,
        length=a.length,
        resample=a.resample,
        span=a.span,
        updates=a.updates,
        point=a.point,
        smoothing=a.smoothing,
        threshold=a.threshold_rule,
        k=a.k,
        window=a.threshold_window,
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
    config_reader = None
    if (
        a.time_column
        or a.track_column
        or a.features
        or a.qc != "keep"
        or a.keep_codes
        or a.time_format
        or a.dayfirst
    ):
        config_reader = reader(a)
        if a.track_column or a.time_format or a.dayfirst:
            config_reader["kind"] = "csv"
    result = evaluate(
        a.series,
        a.labels,
        root=a.root,
        config=config,
        train=a.train,
        reader=config_reader,
        log=messages(a),
    )
    write_results(result, a.out)
    print(format_summary(result, a.out))


#: Command name -> the function adding its parser (in :mod:`squall.cli.parser`'s order).
PARSERS: dict[str, Callable[[Any], None]] = {
    "score": add_score,
    "detect": add_detect,
    "plot": add_plot,
    "report": add_report,
    "demo": add_demo,
    "evaluate": add_evaluate,
}
