"""``squall spectrum``: periodogram on regular tracks, Lomb-Scargle on gappy ones, CSV + PNG,
extrapolation, one-line errors."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from squall.data.synthetic import generate_harmonics


def _csv(path, frame):
    frame.to_csv(path, index=False)
    return path


def test_spectrum_of_synthetic_harmonics_finds_the_known_periods(tmp_path, cli):
    data = generate_harmonics(tmp_path / "d", components=3, tracks=3, steps=600, seed=3)
    code, _, err = cli(
        "spectrum", data["harmonics"], "--track-column", "track", "--out", tmp_path / "s",
        "--extrapolate", "24", "--window-function", "hamming",
    )  # fmt: skip
    assert code == 0, err
    periods = pd.read_csv(tmp_path / "s" / "periods.csv")
    truth = pd.read_csv(data["components"])
    assert set(periods["method"]) == {"periodogram"}
    for track, comps in truth.groupby("track"):
        found = periods[periods["track"] == track]
        for _, c in comps[comps["amplitude"] > 0.15].iterrows():
            near = found[
                (found["period_hours"] - c["period_steps"]).abs() < 0.02 * c["period_steps"]
            ]
            assert len(near) == 1, (track, c["period_steps"], found)
            assert near["amplitude"].iloc[0] == pytest.approx(c["amplitude"], abs=0.05)
    spec = pd.read_csv(tmp_path / "s" / "spectrum.csv")
    assert list(spec.columns) == [
        "track", "feature", "method", "frequency_per_hour", "period_hours", "amplitude",
    ]  # fmt: skip
    extra = pd.read_csv(tmp_path / "s" / "extrapolation.csv", parse_dates=["time"])
    assert extra.groupby("track").size().tolist() == [24, 24, 24]
    assert extra["time"].min() == pd.Timestamp("2025-01-01") + pd.Timedelta(hours=600)
    for name in ("spectrum.png", "extrapolation.png"):
        assert (tmp_path / "s" / name).read_bytes()[:4] == b"\x89PNG"


def test_gappy_irregular_track_uses_lomb_scargle(tmp_path, cli):
    rng = np.random.default_rng(1)
    hours = np.sort(rng.uniform(0, 24 * 30, 250))  # a ship-like track: irregular, sparse
    hours = hours[(hours < 200) | (hours > 300)]
    value = 2.0 * np.sin(2 * np.pi * hours / 24) + rng.normal(0, 0.3, len(hours))
    times = pd.Timestamp("2025-03-01") + pd.to_timedelta(hours, unit="h")
    path = _csv(tmp_path / "ship.csv", pd.DataFrame({"timestamp": times, "temp": value}))
    code, _, err = cli("spectrum", path, "--out", tmp_path / "s", "--resample", "1h", "--quiet")
    assert code == 0, err
    periods = pd.read_csv(tmp_path / "s" / "periods.csv")
    assert periods["method"].iloc[0] == "lomb-scargle"
    assert periods["period_hours"].iloc[0] == pytest.approx(24, rel=0.01)
    assert periods["amplitude"].iloc[0] == pytest.approx(2.0, rel=0.1)


def test_spectrum_errors_are_one_line(tmp_path, cli):
    path = _csv(tmp_path / "few.csv", pd.DataFrame({"timestamp": ["2025-01-01", "2025-01-02"],
                                                    "v": [1.0, 2.0]}))  # fmt: skip
    code, _, err = cli("spectrum", path, "--out", tmp_path / "s")
    assert code == 2 and err.count("\n") == 1 and "nothing to analyse" in err
    assert not (tmp_path / "s").exists()
    code, _, err = cli("spectrum", path, "--out", path)
    assert code == 2 and err.count("\n") == 1
    code, _, err = cli("spectrum", path, "--out", tmp_path / "s", "--resample", "-1h")
    assert code == 2 and "resample" in err and err.count("\n") == 1
