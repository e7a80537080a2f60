"""``squall backtest`` and ``squall forecast``: metrics by hand on a ramp, baselines on synthetic
harmonics and on the shared NOAA buoy, a forecasting bundle run through the engines, bad input
as one line with nothing written."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest

import squall
from squall.bundle import random_bundle
from squall.data.scaling import Scaler
from squall.data.synthetic import generate_harmonics
from squall.errors import SquallError
from squall.forecast.backtest import METRIC_COLUMNS, backtest
from squall.forecast.model import forecaster
from squall.forecast.series import TrackSeries
from squall.model import Dense, Lstm, Repeat, Task

BASELINE_NAMES = {"naive", "seasonal-naive", "harmonic", "ar"}


def _ramp(n: int = 40) -> TrackSeries:
    times = np.datetime64("2025-01-01T00:00", "ns") + np.arange(n) * np.timedelta64(1, "h")
    values = np.arange(1.0, n + 1.0)[:, None]
    return TrackSeries("r", times, values, times, values)


def test_metrics_by_hand_on_a_ramp():
    # y_t = t + 1; origins o = 33..37 (n - H - 5 + 1 = 33), the training part y[:33] has
    # naive in-sample MAE 1, so the naive forecast's MASE at step h is its error h
    r = backtest([_ramp()], ["v"], lookback=10, horizon=3, origins=5, season=1)
    assert list(r.metrics.columns) == list(METRIC_COLUMNS)
    naive = r.metrics[r.metrics["model"] == "naive"].set_index("step")
    for h in (1, 2, 3):
        assert naive.loc[h, "mae"] == pytest.approx(h) and naive.loc[h, "rmse"] == pytest.approx(h)
        assert naive.loc[h, "mase"] == pytest.approx(h) and naive.loc[h, "n"] == 5
        # actual y = o + h, forecast y = o (o = 33..37, 1-based values)
        expect = np.mean([200 * h / (o + h + o) for o in range(33, 38)])
        assert naive.loc[h, "smape"] == pytest.approx(expect)
    ar = r.metrics[r.metrics["model"] == "ar"]
    assert ar["mae"].max() < 1e-6  # a ramp is AR(1) with intercept 1 exactly
    assert set(r.metrics["model"]) == BASELINE_NAMES and r.origins == 5
    assert r.seasons[["season", "scale"]].values.tolist() == [[1, 1.0]]


def test_bad_backtest_input_is_one_line():
    ramp = [_ramp()]
    with pytest.raises(SquallError, match="41 steps is longer than any track"):
        backtest(ramp, ["v"], lookback=36, horizon=5, origins=1)
    with pytest.raises(SquallError, match="too few steps for 30 origins"):
        backtest(ramp, ["v"], lookback=10, horizon=3, origins=30)
    with pytest.raises(SquallError, match="season 12 is longer than the lookback 10"):
        backtest(ramp, ["v"], lookback=10, horizon=3, origins=2, season=12)
    with pytest.raises(
        SquallError, match=r"season 50 is longer than the data \(the longest track has 40 steps\)"
    ):
        backtest(ramp, ["v"], lookback=10, horizon=3, origins=2, season=50)
    gappy = TrackSeries("g", ramp[0].times, np.where(np.arange(40)[:, None] < 34, np.nan, 1.0),
                        ramp[0].times, ramp[0].values)  # fmt: skip
    with pytest.raises(SquallError, match="no track has 2 origins"):
        backtest([gappy], ["v"], lookback=10, horizon=3, origins=2)


def test_backtest_command_on_synthetic_harmonics(tmp_path, cli):
    data = generate_harmonics(tmp_path / "d", components=2, tracks=3, steps=400, noise=0.02)
    out = tmp_path / "bt"
    code, stdout, err = cli(
        "backtest", data["harmonics"], "--track-column", "track", "--out", out,
        "--lookback", "100", "--horizon", "10", "--origins", "8",
    )  # fmt: skip
    assert code == 0, err
    assert "mean MASE over the horizon" in stdout and "24 origins on 3 tracks" in err
    m = pd.read_csv(out / "metrics.csv")
    assert list(m.columns) == list(METRIC_COLUMNS)
    assert set(m["model"]) == BASELINE_NAMES and sorted(set(m["step"])) == list(range(1, 11))
    assert (m["n"] == 24).all()
    mean = m.groupby("model")["mase"].mean()
    assert mean["harmonic"] < 0.5 * mean["naive"]
    seasons = pd.read_csv(out / "seasons.csv")
    assert len(seasons) == 3 and (out / "errors.png").read_bytes()[:4] == b"\x89PNG"


def test_backtest_on_the_shared_noaa_buoy(shared_data, tmp_path, cli):
    lines = (shared_data / "noaa" / "10_100_00_110.csv").read_text().splitlines()
    buoy = tmp_path / "buoy.csv"
    buoy.write_text("\n".join([lines[0], *[x for x in lines[1:] if x.startswith('"5201768"')]]))
    code, _, err = cli(
        "backtest", buoy, "--out", tmp_path / "bt", "--features", "SEA_SURF_TEMP",
        "--resample", "1h", "--lookback", "48", "--horizon", "6", "--origins", "12",
        "--season", "24",
    )  # fmt: skip
    assert code == 0, err
    m = pd.read_csv(tmp_path / "bt" / "metrics.csv")
    assert set(m["feature"]) == {"SEA_SURF_TEMP"} and set(m["model"]) == BASELINE_NAMES
    assert (m["n"] > 0).all() and np.isfinite(m[["mae", "rmse", "mase", "smape"]]).all().all()
    assert pd.read_csv(tmp_path / "bt" / "seasons.csv")["season"].tolist() == [24]


def _forecast_bundle(tmp_path, lookback=24, horizon=6):
    b = random_bundle(
        [Lstm(1, 6, False), Repeat(horizon), Lstm(6, 6, True), Dense(6, 1)],
        1,
        lookback + horizon,
        task={"kind": "forecast", "lookback": lookback, "horizon": horizon},
    )
    b = dataclasses.replace(
        b,
        features=["value"],
        units={"value": ""},
        scaler=Scaler.from_minmax(["value"], [-1.0], [1.0]),
        windows={**b.windows, "mode": "track", "resample": "1h", "max_gap": "6h"},
        provenance={"reader": {"kind": "csv", "track_column": "track", "features": ["value"]}},
        task=Task("forecast", lookback, horizon, ("value",), ("value",)),
    ).validate()
    return b, b.save(tmp_path / "bundle")


def test_bundle_forecaster_scales_runs_and_unscales(tmp_path):
    b, _ = _forecast_bundle(tmp_path)
    f = forecaster(b)
    x = np.random.default_rng(0).uniform(-1, 1, (4, 24, 1))
    by_hand = squall.run(b, (x + 1.0) / 2.0) * 2.0 - 1.0  # min-max over [-1, 1]
    assert np.allclose(f(x), by_hand)
    auto = random_bundle([Lstm(1, 4, False), Repeat(5), Lstm(4, 4, True), Dense(4, 1)], 1, 5)
    with pytest.raises(SquallError, match="autoencoder .* needs a forecasting bundle"):
        forecaster(auto)


def test_backtest_and_forecast_with_a_bundle(tmp_path, cli):
    _, path = _forecast_bundle(tmp_path)
    data = generate_harmonics(tmp_path / "d", components=1, tracks=2, steps=120, noise=0.0)
    code, _, err = cli("backtest", path, data["harmonics"], "--out", tmp_path / "bt",
                       "--origins", "5", "--quiet")  # fmt: skip
    assert code == 0, err
    m = pd.read_csv(tmp_path / "bt" / "metrics.csv")
    assert set(m["model"]) == BASELINE_NAMES | {"model"} and (m["n"] == 10).all()
    code, _, err = cli("forecast", path, data["harmonics"], "--out", tmp_path / "f",
                       "--origins", "2", "--quiet")  # fmt: skip
    assert code == 0, err
    f = pd.read_csv(tmp_path / "f" / "forecasts.csv", parse_dates=["origin", "time"])
    assert list(f.columns) == ["track", "origin", "step", "time", "feature", "forecast"]
    assert len(f) == 2 * 3 * 6  # tracks x (end + 2 origins) x horizon
    assert ((f["time"] - f["origin"]) == pd.to_timedelta(f["step"], unit="h")).all()
    assert f["origin"].max() == pd.Timestamp("2025-01-01") + pd.Timedelta(hours=119)
    assert (tmp_path / "f" / "forecasts.png").read_bytes()[:4] == b"\x89PNG"


def test_bundle_problems_are_one_line_and_write_nothing(tmp_path, cli):
    _, path = _forecast_bundle(tmp_path)
    data = generate_harmonics(tmp_path / "d", components=1, tracks=1, steps=28)
    for args, needle in (
        (["--lookback", "12"], "--lookback 12 differs from the bundle's lookback 24"),
        (["--resample", "2h"], "--resample is the bundle's"),
        ([], "lookback 24 + horizon 6 = 30 steps is longer than any track"),
    ):
        code, _, err = cli("backtest", path, data["harmonics"], "--out", tmp_path / "bt", *args)
        assert code == 2 and err.count("\n") == 1 and needle in err, err
        assert not (tmp_path / "bt").exists()
    auto = random_bundle([Lstm(1, 4, False), Repeat(5), Lstm(4, 4, True), Dense(4, 1)], 1, 5)
    auto.save(tmp_path / "auto")
    code, _, err = cli("forecast", tmp_path / "auto", data["harmonics"], "--out", tmp_path / "f")
    assert code == 2 and err.count("\n") == 1 and "needs a forecasting bundle" in err
    code, _, err = cli("forecast", path, data["harmonics"], "--out", tmp_path / "f")  # 28 steps
    assert code == 0, err
    short = generate_harmonics(tmp_path / "s", tracks=1, steps=20)
    code, _, err = cli("forecast", path, short["harmonics"], "--out", tmp_path / "f2")
    assert code == 2 and err.count("\n") == 1 and "lookback 24 is longer than any track" in err
    assert not (tmp_path / "f2").exists()
    code, _, err = cli("backtest", data["harmonics"], "--out", tmp_path / "bt")
    assert code == 2 and "--lookback and --horizon required without a bundle" in err
    code, _, err = cli("backtest", path, data["harmonics"], "--out", data["harmonics"])
    assert code == 2 and err.count("\n") == 1


def test_season_estimate_is_the_strongest_period_within_the_lookback():
    from squall.forecast.backtest import estimate_season

    t = np.arange(600.0)
    slow_and_daily = 5 * np.sin(2 * np.pi * t / 300) + np.sin(2 * np.pi * t / 24)
    assert estimate_season(slow_and_daily, 48) == 24  # the slow swing is beyond the lookback
    assert estimate_season(np.ones(100), 48) == 1 and estimate_season(t[:5], 48) == 1


def test_a_season_equal_to_the_lookback_is_found():
    """The periodogram bin nearest a 24-step period lies at 24.46 steps: it is a season of 24
    and fits a lookback of 24 (it was dropped before rounding and 23 came out, which made
    every MASE about 15 times too small on such data)."""
    from squall.forecast.backtest import estimate_season

    y = np.sin(2 * np.pi * np.arange(587) / 24)
    assert estimate_season(y, 24) == 24
    assert estimate_season(y, 30) == 24
    assert estimate_season(np.sin(2 * np.pi * np.arange(587) / 12), 24) == 12


@pytest.mark.parametrize("lookback", [2, 3])
def test_a_lookback_too_short_for_the_harmonic_baseline_names_the_requirement(
    tmp_path, cli, lookback
):
    """--lookback 2 or 3 used to get past the checks and fail inside the harmonic baseline
    ('a lookback must be 1-D with at least 4 values, got (2,)')."""
    data = generate_harmonics(tmp_path / "d", components=1, tracks=1, steps=60)
    code, _, err = cli("backtest", data["harmonics"], "--track-column", "track", "--out",
                       tmp_path / "bt", "--lookback", lookback, "--horizon", "2")  # fmt: skip
    assert code == 2 and err.count("\n") == 1, err
    assert f"--lookback must be at least 4 steps for the backtest, got {lookback}" in err
    assert "harmonic baseline" in err and not (tmp_path / "bt").exists()
    with pytest.raises(SquallError, match="lookback must be at least 4 steps"):
        backtest([_ramp()], ["v"], lookback=lookback, horizon=2, origins=2)
    r = backtest([_ramp()], ["v"], lookback=4, horizon=2, origins=2)  # the minimum works
    assert set(r.metrics["model"]) == BASELINE_NAMES and (r.metrics["n"] == 2).all()


def test_a_bundle_with_a_lookback_below_the_minimum_is_one_line(tmp_path, cli):
    _, path = _forecast_bundle(tmp_path, lookback=3, horizon=2)
    data = generate_harmonics(tmp_path / "d", components=1, tracks=1, steps=60)
    code, _, err = cli("backtest", path, data["harmonics"], "--out", tmp_path / "bt")
    assert code == 2 and err.count("\n") == 1, err
    assert "the bundle's lookback is 3 steps; the backtest needs at least 4" in err
    assert not (tmp_path / "bt").exists()


@pytest.mark.parametrize("text", ["timestamp,track,value\n", "timestamp,track,value", "\n\n"
                                  "timestamp,track,value\n\n"])  # fmt: skip
def test_a_header_only_csv_is_one_line(tmp_path, cli, text):
    """A CSV with a header and no data rows: each command says so in one line (it was a
    misleading 'cannot choose a step interval ... give --resample', or worse)."""
    _, bundle = _forecast_bundle(tmp_path)
    data = tmp_path / "empty.csv"
    data.write_text(text)
    for args in (
        ["spectrum", data, "--track-column", "track"],
        ["spectrum", data, "--track-column", "track", "--resample", "1h"],
        ["backtest", data, "--track-column", "track", "--lookback", "8", "--horizon", "2"],
        ["backtest", bundle, data],
        ["forecast", bundle, data],
    ):
        code, _, err = cli(*args, "--out", tmp_path / "out")
        assert code == 2 and err.count("\n") == 1, (args, err)
        assert f"no data rows in {data}: only a header" in err, (args, err)
        assert not (tmp_path / "out").exists()
