"""Forecasting commands: ``spectrum``, ``backtest``, ``forecast``.

Each command is a ``add_<name>`` function that adds its parser and a ``cmd_<name>`` function that
runs it; :data:`PARSERS` lists the adders for :mod:`squall.cli.parser`. The work is done by
:mod:`squall.forecast`; outputs are run directories (:func:`squall.io.output_files`).
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path
from typing import Any

from squall.cli.common import check_out, messages
from squall.cli.options import (
    BUNDLE,
    BUNDLE_HELP,
    COUNT,
    DATA,
    POSITIVE,
    add_engine,
    add_quiet,
    ranged,
    reader,
    reader_options,
)
from squall.errors import SquallError
from squall.text import plural

SPECTRUM_OUTPUTS = ("spectrum.csv", "periods.csv", "spectrum.png")
EXTRAPOLATION_OUTPUTS = ("extrapolation.csv", "extrapolation.png")
BACKTEST_OUTPUTS = ("metrics.csv", "seasons.csv", "errors.png")
FORECAST_OUTPUTS = ("forecasts.csv", "forecasts.png")


def _resample_option(p: Any, extra: str = "") -> None:
    p.add_argument(
        "--resample",
        default="auto",
        help="grid step of each track, e.g. 1h or 30min (default auto: the median report "
        "interval rounded up to 1/5/10/15/30 min, 1/2/3/6/12 h or 1 d, as windows do)" + extra,
    )


def _read(paths: list[str], config: Any) -> Any:
    """The data read with ``config``; files without a single data row (a header only) are a
    one-line error: there is nothing to analyse, and an empty table would fail further on
    with a misleading message (no grid step to choose, no track)."""
    from squall.data.readers import read_data

    obs = read_data(paths, config)
    if len(obs) == 0:
        files = ", ".join(obs.sources)
        raise SquallError(
            f"no data rows in {files}: only a header (or nothing but blank lines) to read"
        )
    return obs


def _interval(a: argparse.Namespace, obs: Any) -> Any:
    from squall.forecast.series import auto_interval, parse_interval

    return auto_interval(obs) if a.resample == "auto" else parse_interval(a.resample)


def add_spectrum(sub: Any) -> None:
    p = sub.add_parser(
        "spectrum",
        help="spectrum and dominant periods per track and feature (periodogram or "
        "Lomb-Scargle), optionally continued beyond the data",
    )
    p.add_argument("data", metavar=DATA, nargs="+", help="CSV files or globs (NOAA or generic)")
    p.add_argument(
        "--out",
        required=True,
        help="directory for spectrum.csv, periods.csv, spectrum.png (and extrapolation.csv, "
        "extrapolation.png with --extrapolate)",
    )
    p.add_argument(
        "--window-function",
        choices=("hann", "hamming", "none"),
        default="hann",
        help="window of the periodogram of regularly sampled tracks (default hann: lower "
        "side lobes than hamming far from a peak; none: the plain DFT)",
    )
    p.add_argument(
        "--top",
        type=ranged("--top", integer=True, low=1, high=50),
        default=5,
        help="dominant periods per track and feature (default 5)",
    )
    p.add_argument(
        "--extrapolate",
        type=ranged("--extrapolate", integer=True, low=0, high=100_000),
        default=0,
        metavar="N",
        help="continue the dominant sinusoids N grid steps beyond each track's end (default 0)",
    )
    _resample_option(p)
    add_quiet(p)
    reader_options(p)
    p.set_defaults(func=cmd_spectrum)


def cmd_spectrum(a: argparse.Namespace) -> None:
    from squall.forecast import plots
    from squall.forecast.analysis import analyze
    from squall.io import output_files, write_csv

    check_out(a, [], a.data, directory=True)
    obs = _read(a.data, reader(a))
    interval = _interval(a, obs)
    r = analyze(obs, interval, window=a.window_function, top=a.top, extrapolate=a.extrapolate)
    names = SPECTRUM_OUTPUTS + (EXTRAPOLATION_OUTPUTS if a.extrapolate else ())
    with output_files(a.out, names, "spectrum") as tmp:
        write_csv(r.spectrum, tmp / "spectrum.csv")
        write_csv(r.periods, tmp / "periods.csv")
        plots.save(plots.spectrum_figure(r.spectrum, r.periods), tmp / "spectrum.png")
        if a.extrapolate:
            write_csv(r.extrapolation, tmp / "extrapolation.csv")
            fig = plots.history_figure(r.history, r.extrapolation, "value", "extrapolation")
            plots.save(fig, tmp / "extrapolation.png")
    pairs = r.spectrum.groupby(["track", "feature"]).ngroups
    methods = r.spectrum.drop_duplicates(["track", "feature"])["method"].value_counts()
    how = ", ".join(f"{plural(int(n), 'series', 'series')} by {m}" for m, n in methods.items())
    skipped = f"; {len(r.skipped)} skipped (fewer than 8 values)" if r.skipped else ""
    messages(a)(
        f"spectra of {plural(pairs, 'track-feature pair')} ({how}){skipped}; written to "
        f"{a.out}: " + ", ".join(names)
    )


def _bundle_and_data(paths: list[str]) -> tuple[str | None, list[str]]:
    """``[BUNDLE] DATA...``: the first path is the bundle when it is a directory holding a
    bundle.json."""
    if len(paths) > 1 and (Path(paths[0]) / "bundle.json").is_file():
        return paths[0], paths[1:]
    if Path(paths[0]).is_dir():
        raise SquallError(f"{paths[0]} is a directory without bundle.json: not a bundle")
    return None, paths


_READER_FLAGS = ("features", "time_column", "track_column", "time_format")


def _model_source(a: argparse.Namespace, bundle_path: str | None) -> Any:
    """The bundle as a forecaster (None without one); reader options and --resample are
    the bundle's then, so giving them is an error."""
    if bundle_path is None:
        return None
    from squall import load_bundle
    from squall.forecast.model import forecaster

    given = [f"--{k.replace('_', '-')}" for k in _READER_FLAGS if getattr(a, k, None)]
    given += ["--dayfirst"] * bool(a.dayfirst) + ["--keep-codes"] * bool(a.keep_codes)
    if a.resample != "auto":
        given.append("--resample")
    if given:
        raise SquallError(
            f"{given[0]} is the bundle's: with a bundle the data are read and resampled as it "
            "was trained; leave it out"
        )
    return forecaster(load_bundle(bundle_path), a.engine)


def add_backtest(sub: Any) -> None:
    p = sub.add_parser(
        "backtest",
        help="rolling-origin evaluation of the baselines (and a forecasting bundle): MAE, "
        "RMSE, MASE, sMAPE per horizon step",
    )
    p.add_argument(
        "paths",
        metavar="[BUNDLE] DATA",
        nargs="+",
        help="an optional forecasting bundle directory, then CSV files or globs",
    )
    p.add_argument(
        "--out", required=True, help="directory for metrics.csv, seasons.csv, errors.png"
    )
    p.add_argument(
        "--lookback",
        type=ranged("--lookback", integer=True, low=1, high=100_000),
        help="steps each forecast reads, at least 4 (the harmonic baseline's minimum; required "
        "without a bundle; a bundle's own otherwise)",
    )
    p.add_argument(
        "--horizon",
        type=ranged("--horizon", integer=True, low=1, high=100_000),
        help="steps each forecast covers (required without a bundle; a bundle's own otherwise)",
    )
    p.add_argument(
        "--season",
        type=ranged("--season", integer=True, **POSITIVE),
        metavar="M",
        help="season in steps for seasonal naive and the MASE scale (default: per track and "
        "feature, the period of the strongest sinusoid before the first origin, 1 when it "
        "is not in 2..lookback)",
    )
    p.add_argument(
        "--origins",
        type=ranged("--origins", integer=True, low=1, high=1_000_000),
        default=20,
        metavar="N",
        help="forecast origins per track: the last N positions, one step apart (default 20)",
    )
    _resample_option(p, "; with a bundle, its own")
    add_engine(p, "numpy", "engine that runs the bundle (default numpy)")
    add_quiet(p)
    reader_options(p)
    p.set_defaults(func=cmd_backtest)


def cmd_backtest(a: argparse.Namespace) -> None:
    from squall.forecast import plots
    from squall.forecast.backtest import MIN_LOOKBACK, backtest, check_lookback
    from squall.forecast.series import track_series
    from squall.io import output_files, write_csv

    bundle_path, data = _bundle_and_data(a.paths)
    if a.lookback is not None:
        check_lookback(a.lookback)  # before any work: the message names the requirement
    check_out(a, [bundle_path] if bundle_path else [], data, directory=True)
    model = _model_source(a, bundle_path)
    lookback, horizon = a.lookback, a.horizon
    if model is not None:
        for name, mine, theirs in (
            ("lookback", lookback, model.lookback),
            ("horizon", horizon, model.horizon),
        ):
            if mine is not None and mine != theirs:
                raise SquallError(
                    f"--{name} {mine} differs from the bundle's {name} {theirs}; leave it out"
                )
        lookback, horizon = model.lookback, model.horizon
        if lookback < MIN_LOOKBACK:
            raise SquallError(
                f"the bundle's lookback is {lookback} steps; the backtest needs at least "
                f"{MIN_LOOKBACK} (its harmonic baseline fits a mean and a sinusoid to every "
                "lookback): forecast with it by squall forecast --origins N instead"
            )
        obs = _read(data, model.reader)
        interval = model.interval
    else:
        missing = [f"--{n}" for n in ("lookback", "horizon") if getattr(a, n) is None]
        if missing:
            raise SquallError(f"{' and '.join(missing)} required without a bundle")
        obs = _read(data, reader(a))
        interval = _interval(a, obs)
    from squall.data.windows import format_duration

    step = "one report" if interval is None else format_duration(interval)
    r = backtest(
        track_series(obs, interval),
        obs.features,
        lookback=lookback,
        horizon=horizon,
        origins=a.origins,
        season=a.season,
        targets=list(model.targets) if model else None,
        inputs=list(model.inputs) if model else None,
        model=model,
        step=step,
    )
    with output_files(a.out, BACKTEST_OUTPUTS, "backtest") as tmp:
        write_csv(r.metrics, tmp / "metrics.csv")
        write_csv(r.seasons, tmp / "seasons.csv")
        plots.save(plots.error_by_horizon_figure(r.metrics), tmp / "errors.png")
    summary = r.metrics.groupby("model", sort=False)["mase"].mean()
    print("mean MASE over the horizon: " + ", ".join(f"{m} {v:.3f}" for m, v in summary.items()))
    skipped = f" ({len(r.skipped)} skipped: too short or too sparse)" if r.skipped else ""
    messages(a)(
        f"{plural(r.origins, 'origin')} on {plural(len(r.tracks), 'track')}{skipped}; "
        f"written to {a.out}: " + ", ".join(BACKTEST_OUTPUTS)
    )


def add_forecast(sub: Any) -> None:
    p = sub.add_parser(
        "forecast", help="the next steps of each track from a forecasting bundle, as CSV + plot"
    )
    p.add_argument("bundle", metavar=BUNDLE, help=BUNDLE_HELP + "; a forecasting one")
    p.add_argument("data", metavar=DATA, nargs="+", help="CSV files or globs (NOAA or generic)")
    p.add_argument("--out", required=True, help="directory for forecasts.csv, forecasts.png")
    p.add_argument(
        "--origins",
        type=ranged("--origins", integer=True, **COUNT),
        default=0,
        metavar="N",
        help="forecast from the last N positions of each track as well (one step apart; "
        "default 0: only from the end of the data)",
    )
    add_engine(p, "numpy", "engine that runs the bundle (default numpy)")
    add_quiet(p)
    p.set_defaults(func=cmd_forecast)


def cmd_forecast(a: argparse.Namespace) -> None:
    from squall import load_bundle
    from squall.forecast import plots
    from squall.forecast.model import forecaster
    from squall.forecast.predict import forecast_tracks
    from squall.forecast.series import track_series
    from squall.io import output_files, write_csv

    check_out(a, [a.bundle], a.data, directory=True)
    model = forecaster(load_bundle(a.bundle), a.engine)
    obs = _read(a.data, model.reader)
    series = track_series(obs, model.interval)
    table, history = forecast_tracks(series, obs.features, model, extra_origins=a.origins)
    last = table[table["origin"] == table.groupby("track")["origin"].transform("max")]
    with output_files(a.out, FORECAST_OUTPUTS, "forecast") as tmp:
        write_csv(table, tmp / "forecasts.csv")
        fig = plots.history_figure(history, last, "forecast", "forecast")
        plots.save(fig, tmp / "forecasts.png")
    messages(a)(
        f"{plural(len(table), 'forecast value')} for {plural(table['track'].nunique(), 'track')}"
        f"; written to {a.out}: " + ", ".join(FORECAST_OUTPUTS)
    )


#: Command name -> the function adding its parser (in :mod:`squall.cli.parser`'s order).
PARSERS: dict[str, Callable[[Any], None]] = {
    "spectrum": add_spectrum,
    "backtest": add_backtest,
    "forecast": add_forecast,
}
