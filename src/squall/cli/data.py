"""Commands that make, describe and trace data: ``synth``, ``windows``, ``eda``, ``extract``.

Each command is a ``add_<name>`` function that adds its parser and a ``cmd_<name>`` function that
runs it; :data:`PARSERS` lists the adders for :mod:`squall.cli.parser`.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

from squall.cli.common import check_out, messages, read_csv_arg
from squall.cli.options import (
    BUNDLE,
    BUNDLE_HELP,
    COUNT,
    DATA,
    POSITIVE,
    add_quiet,
    ranged,
    reader,
    reader_options,
)
from squall.errors import SquallError
from squall.text import plural


def add_windows(sub: Any) -> None:
    p = sub.add_parser("windows", help="window and scale new data with a bundle's settings")
    p.add_argument("bundle", metavar=BUNDLE, help=BUNDLE_HELP)
    p.add_argument(
        "data", metavar=DATA, nargs="+", help="CSV files or globs to window (NOAA or generic)"
    )
    p.add_argument("--out", required=True, help="windows file to write (.npz)")
    add_quiet(p)
    p.set_defaults(func=cmd_windows)


def cmd_windows(a: argparse.Namespace) -> None:
    from squall import load_bundle, pipeline

    check_out(a, [a.bundle], a.data, suffixes=(".npz",))
    ws = pipeline.make_windowset(load_bundle(a.bundle), a.data)
    ws.save(a.out)
    messages(a)(
        f"{plural(len(ws), 'window')} ({ws.meta.get('skipped', 0)} skipped) written to {a.out}"
    )


def add_extract(sub: Any) -> None:
    p = sub.add_parser("extract", help="every original report inside flagged windows")
    p.add_argument(
        "windows",
        metavar="WINDOWS",
        help="windows .npz (from 'squall windows' or 'squall detect')",
    )
    p.add_argument(
        "anomalies", metavar="SCORES", help="anomalies.csv or scores.csv (its flagged rows)"
    )
    p.add_argument("--out", required=True, help="CSV file to write (anomaly_windows.csv format)")
    add_quiet(p)
    p.set_defaults(func=cmd_extract)


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
    table = read_csv_arg(a.anomalies, "window")
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
            f"{plural(len(ws), 'window')}: they do not belong together"
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
    messages(a)(
        f"{plural(len(rows), 'original report')} from {plural(len(idx), 'window')} "
        f"written to {a.out}"
    )


def add_eda(sub: Any) -> None:
    p = sub.add_parser(
        "eda", help="exploratory statistics of data files: summary, correlations, histograms"
    )
    p.add_argument("data", metavar=DATA, nargs="+", help="CSV files or globs (NOAA or generic)")
    p.add_argument(
        "--out",
        required=True,
        help="directory for summary.csv, correlation.csv, "
        "top_pairs.csv, histograms.png, correlation.png",
    )
    p.add_argument("--until", help="only reports before this date/time (UTC)")
    p.add_argument(
        "--pairs",
        type=ranged("--pairs", integer=True, **POSITIVE),
        default=10,
        help="pairs in top_pairs.csv (default 10)",
    )
    add_quiet(p)
    reader_options(p)
    p.set_defaults(func=cmd_eda)


def cmd_eda(a: argparse.Namespace) -> None:
    from squall.data.observations import parse_time
    from squall.report.eda import eda, write_eda

    check_out(a, [], a.data, directory=True)
    if a.until is not None:
        parse_time(a.until, "until")
    result = eda(a.data, reader=reader(a), until=a.until, n_pairs=a.pairs)
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
            f"(r={top['correlation']:.3f} over {plural(int(top['reports']), 'report', fmt=',')})"
        )
    messages(a)(
        f"{plural(result.reports, 'report', fmt=',')} from {plural(result.tracks, 'track')}; "
        f"written to {a.out}: " + ", ".join(names)
    )


def add_synth(sub: Any) -> None:
    p = sub.add_parser(
        "synth",
        help="write synthetic data: NOAA-format with labelled events, or sums of harmonics",
    )
    p.add_argument(
        "--out",
        required=True,
        help="directory for train.csv, test.csv, labels.csv (--kind demo) or harmonics.csv, "
        "components.csv (--kind harmonics)",
    )
    p.add_argument(
        "--kind",
        choices=("demo", "harmonics"),
        default="demo",
        help="demo: NOAA box files with storms and sensor faults (default); harmonics: seed "
        "001's signals, each a sum of 1..K random sinusoids plus noise (timestamp, track, "
        "value; read with --track-column track)",
    )
    p.add_argument(
        "--components",
        type=ranged("--components", integer=True, **POSITIVE),
        default=5,
        metavar="K",
        help="harmonics: most sinusoids per track (each track draws 1..K; default 5)",
    )
    p.add_argument(
        "--tracks",
        type=ranged("--tracks", integer=True, **POSITIVE),
        default=4,
        help="harmonics: number of signals (default 4)",
    )
    p.add_argument(
        "--steps",
        type=ranged("--steps", integer=True, low=2, high=10_000_000),
        default=1000,
        help="harmonics: hourly steps per signal (default 1000)",
    )
    p.add_argument(
        "--noise",
        type=ranged("--noise", low=0),
        default=0.1,
        help="harmonics: standard deviation of the Gaussian noise (default 0.1, the seed's)",
    )
    p.add_argument(
        "--seed",
        type=ranged("--seed", integer=True, **COUNT),
        default=0,
        help="random seed of the data and its events (default 0)",
    )
    add_quiet(p)
    p.set_defaults(func=cmd_synth)


def cmd_synth(a: argparse.Namespace) -> None:
    from squall.data.synthetic import generate_demo_data, generate_harmonics

    check_out(a, directory=True)
    if a.kind == "harmonics":
        paths = generate_harmonics(
            a.out,
            components=int(a.components),
            tracks=int(a.tracks),
            steps=int(a.steps),
            noise=float(a.noise),
            seed=int(a.seed),
        )
    else:
        paths = generate_demo_data(a.out, seed=a.seed)
    messages(a)("written: " + ", ".join(str(p) for p in paths.values()))


#: Command name -> the function adding its parser (in :mod:`squall.cli.parser`'s order).
PARSERS: dict[str, Callable[[Any], None]] = {
    "windows": add_windows,
    "extract": add_extract,
    "eda": add_eda,
    "synth": add_synth,
}
