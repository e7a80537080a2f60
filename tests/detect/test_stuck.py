"""Stuck-sensor runs (``squall.detect.stuck``): synthetic cases and the real NOAA box."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from squall.data.inject import inject_file
from squall.data.noaa import read_noaa
from squall.data.observations import Observations
from squall.detect.stuck import COLUMNS, StuckDetector, stuck_runs
from squall.errors import SquallError

T0 = pd.Timestamp("2025-03-01")


def _obs(series: dict[str, dict[str, np.ndarray]], hours: dict[str, np.ndarray]) -> Observations:
    """Observations of several tracks: ``series[track][feature]`` values at ``hours[track]``."""
    features = sorted({f for per in series.values() for f in per})
    parts = []
    for track, per in series.items():
        h = hours[track]
        part = pd.DataFrame(
            {
                "source": 0,
                "row": 0,
                "line": 0,
                "track": track,
                "time": T0 + pd.to_timedelta(h, unit="h"),
                "lat": 5.0,
                "lon": 105.0,
            }
        )
        for f in features:
            part[f] = per.get(f, np.full(len(h), np.nan))
        parts.append(part)
    frame = pd.concat(parts, ignore_index=True)
    frame["row"] = np.arange(len(frame))
    units = {f: "degC" for f in features}
    return Observations(frame, features, units, ["memory"])


def _tenths_walk(rng: np.random.Generator, n: int, sd: float = 0.15, base: float = 27.0):
    """A slowly wandering temperature reported in tenths: short exact repeats are normal."""
    return np.round(base + np.cumsum(rng.normal(0.0, sd, n)), 1)


def _max_run(values: np.ndarray) -> int:
    v = values[np.isfinite(values)]
    edges = np.flatnonzero(np.r_[True, v[1:] != v[:-1], True])
    return int(np.diff(edges).max())


def test_tenths_sensor_with_natural_repeats_is_not_flagged():
    rng = np.random.default_rng(1)
    n = 600
    air = _tenths_walk(rng, n)
    obs = _obs({"BUOY": {"AIR_TEMP": air}}, {"BUOY": np.arange(n, dtype=float)})
    assert _max_run(air) >= 4  # repeats of several reports happen naturally
    found = stuck_runs(obs)
    assert list(found.columns) == list(COLUMNS)
    assert found.empty


def test_injected_flat_line_is_found_with_its_start_and_end():
    rng = np.random.default_rng(2)
    n = 600
    hours = np.arange(n, dtype=float)
    air = _tenths_walk(rng, n)
    a, b = 400, 430  # the sensor repeats the last good value (report a - 1) for 30 reports
    air[a:b] = air[a - 1]
    air[b] = air[a - 1] + 0.5  # and recovers
    obs = _obs({"BUOY": {"AIR_TEMP": air}}, {"BUOY": hours})
    for found in (
        stuck_runs(obs),
        StuckDetector()
        .fit(_obs({"BUOY": {"AIR_TEMP": air[:300]}}, {"BUOY": hours[:300]}))
        .detect(obs),
    ):
        assert len(found) == 1
        run = found.iloc[0]
        first = a - 1  # the run starts where the value did (the walk may have held it before)
        while air[first - 1] == air[a - 1]:
            first -= 1
        assert run["track"] == "BUOY" and run["feature"] == "AIR_TEMP"
        assert run["start"] == T0 + pd.Timedelta(hours=first)
        assert run["end"] == T0 + pd.Timedelta(hours=b - 1)
        assert run["reports"] == b - first
        assert run["value"] == air[a - 1]
        assert run["probability"] < 1e-4
        assert f"AIR_TEMP repeated {air[a - 1]:g} degC for {b - first} reports" in run["why"]
        assert "usually changes within" in run["why"]


def test_calm_sea_with_frequent_repeats_is_not_flagged_but_a_lively_feature_is():
    """Wave height in 0.5 m units, small and slowly varying: runs of many 3-hourly reports are
    normal for it. The same run length in a feature that changes almost every report is not."""
    rng = np.random.default_rng(3)
    n = 160  # 20 days of 3-hourly reports
    hours = 3.0 * np.arange(n)
    calm = 0.5 * np.round(2 * (0.8 + 0.35 * np.sin(hours / 90.0) + rng.normal(0, 0.12, n)))
    calm = np.maximum(calm, 0.5)
    longest = _max_run(calm)
    assert longest >= 6  # repeats of a day and more
    lively = np.round(27 + rng.normal(0, 0.8, n), 1)
    lively[40 : 40 + longest] = lively[39]
    lively[40 + longest] = lively[39] + 1.0
    obs = _obs({"SHIP": {"WAVE_HGT": calm, "AIR_TEMP": lively}}, {"SHIP": hours})
    found = stuck_runs(obs)
    assert list(found["feature"]) == ["AIR_TEMP"]
    assert found["reports"].iloc[0] >= longest
    assert found["repeat_probability"].iloc[0] < 0.2


def test_missing_values_neither_extend_nor_break_a_run():
    rng = np.random.default_rng(4)
    n = 500
    hours = np.arange(n, dtype=float)
    air = _tenths_walk(rng, n)
    air[300:320] = 99.9  # stuck at a value the walk never reaches
    air[320] = 27.0
    with_gaps = air.copy()
    with_gaps[[303, 307, 308, 315]] = np.nan  # missing reports inside the run
    with_gaps[100:160] = np.nan  # a long gap elsewhere is no run of repeats
    found = stuck_runs(_obs({"B": {"AIR_TEMP": with_gaps}}, {"B": hours}))
    assert len(found) == 1
    run = found.iloc[0]
    assert run["start"] == T0 + pd.Timedelta(hours=300)
    assert run["end"] == T0 + pd.Timedelta(hours=319)
    assert run["reports"] == 16  # 20 reports, 4 of them missing
    # a NaN between two equal values: the run continues; between different ones, no repeat
    short = np.array([1.0, 2.0, np.nan, 2.0, 3.0, np.nan, 4.0])
    obs = _obs({"S": {"AIR_TEMP": short}}, {"S": 10.0 * np.arange(7)})
    runs = stuck_runs(obs, min_reports=2, min_hours=0, level=1.0)
    assert list(runs["reports"]) == [2]  # the two 2.0 around the NaN, nothing else


def test_a_feature_constant_for_ever_is_judged_by_the_other_tracks():
    rng = np.random.default_rng(5)
    n = 300
    hours = np.arange(n, dtype=float)
    series = {f"B{k}": {"AIR_TEMP": _tenths_walk(rng, n)} for k in range(3)}
    series["DEAD"] = {"AIR_TEMP": np.full(n, 25.0)}
    obs = _obs(series, dict.fromkeys(series, hours))
    found = stuck_runs(obs)
    assert list(found["track"]) == ["DEAD"]
    assert found["reports"].iloc[0] == n
    assert "never changes otherwise" in found["why"].iloc[0]
    # the same constant sensor seen at fit time: still stuck in new data
    det = StuckDetector().fit(obs)
    again = det.detect(_obs({"DEAD": {"AIR_TEMP": np.full(50, 25.0)}}, {"DEAD": hours[:50]}))
    assert list(again["track"]) == ["DEAD"]
    # when no track ever changes the feature there is nothing to judge against: no flags
    flat = {f"C{k}": {"AIR_TEMP": np.full(n, 20.0 + k)} for k in range(3)}
    assert stuck_runs(_obs(flat, dict.fromkeys(flat, hours))).empty


def test_minimum_duration_and_reports():
    rng = np.random.default_rng(6)
    n = 400
    air = _tenths_walk(rng, n)
    air[200:230] = air[199]
    air[230] = air[199] + 1.0
    hours = np.arange(n, dtype=float)
    hours[200:] -= 0.9 * (np.minimum(np.arange(n - 200), 30))  # the 30 reports within 3 h
    hours[230:] = hours[230:] - hours[230] + hours[229] + 1.0
    obs = _obs({"B": {"AIR_TEMP": air}}, {"B": np.sort(hours)})
    assert stuck_runs(obs).empty  # lasts less than 6 h
    assert len(stuck_runs(obs, min_hours=2.0)) == 1
    assert stuck_runs(obs, min_hours=2.0, min_reports=40).empty


def test_fitted_detector_round_trips_through_json_and_refuses_junk():
    rng = np.random.default_rng(7)
    n = 400
    hours = np.arange(n, dtype=float)
    air = _tenths_walk(rng, n)
    air[300:330] = air[299]
    air[330] = air[299] - 0.7
    train = _obs({"B": {"AIR_TEMP": air[:250]}}, {"B": hours[:250]})
    test = _obs(
        {"B": {"AIR_TEMP": air[250:]}, "NEW": {"AIR_TEMP": air[::-1]}},
        {
            "B": hours[250:],
            "NEW": hours,
        },
    )
    det = StuckDetector(level=1e-5).fit(train)
    with pytest.raises(SquallError, match="not fitted"):
        StuckDetector().detect(test)
    data = json.loads(json.dumps(det.to_dict(), allow_nan=False))
    back = StuckDetector.from_dict(data)
    assert back.level == 1e-5
    pd.testing.assert_frame_equal(back.detect(test), det.detect(test))
    assert set(det.detect(test)["track"]) == {"B", "NEW"}  # an unseen track judged by itself
    with pytest.raises(SquallError, match="unknown keys"):
        StuckDetector.from_dict(data | {"extra": 1})
    bad = json.loads(json.dumps(data))
    bad["counts"]["B"]["AIR_TEMP"] = [3, 5, 0.1]
    with pytest.raises(SquallError, match="repeats <= steps"):
        StuckDetector.from_dict(bad)
    with pytest.raises(SquallError, match="level"):
        StuckDetector(level=2.0)


def test_a_stuck_stretch_in_the_training_data_is_not_learnt_as_normal():
    rng = np.random.default_rng(8)
    n = 300
    hours = np.arange(n, dtype=float)
    air = _tenths_walk(rng, n)
    air[100:160] = air[99]  # stuck in the training data
    air[160] = air[99] + 1.0
    det = StuckDetector().fit(_obs({"B": {"AIR_TEMP": air}}, {"B": hours}))
    steps, repeats, _ = det.counts_["B"]["AIR_TEMP"]  # type: ignore[index]
    own = (np.diff(air) == 0).sum()
    assert repeats <= own - 55  # the stuck run's repeats were taken out
    assert steps <= n - 1 - 55


# -- the real NOAA box with stuck sensors injected by squall's own injector -----------------

UNTIL = "2025-03-25"


@pytest.fixture(scope="module")
def real_box(shared_data) -> Path:
    return shared_data / "noaa" / "10_100_00_110.csv"


def _track_days(obs: Observations) -> float:
    span = obs.frame.groupby("track")["time"].agg(["min", "max"])
    return float((span["max"] - span["min"]).dt.total_seconds().sum() / 86400)


def test_real_box_injected_stuck_sensors_found_and_few_false_runs(real_box, tmp_path):
    det = StuckDetector().fit(read_noaa(real_box).until(UNTIL))
    clean_path = tmp_path / "clean.csv"
    inject_file(real_box, clean_path, start=UNTIL, period_only=True)
    clean = read_noaa(clean_path)
    false = det.detect(clean)
    days = _track_days(clean)
    assert days > 100
    # measured: 0 runs over 153 track-days of the clean week
    assert 10 * len(false) / days <= 0.2
    labels_all, found_all = 0, 0
    for seed in (0, 1):
        path = tmp_path / f"stuck-{seed}.csv"
        labels = inject_file(
            real_box,
            path,
            start=UNTIL,
            period_only=True,
            seed=seed,
            n_faults=9,
            fault_types=("stuck",),
        )
        runs = det.detect(read_noaa(path))
        for lb in labels.itertuples(index=False):
            hit = (
                (runs["track"] == str(lb.track))
                & (runs["feature"] == lb.features)
                & (runs["start"] <= lb.end)
                & (runs["end"] >= lb.start)
            )
            labels_all += 1
            found_all += bool(hit.any())
        # every flagged run is an injected one or one the clean week has too
        extra = runs.merge(false, on=["track", "feature", "start"], how="left", indicator=True)
        for r in extra[extra["_merge"] == "left_only"].itertuples(index=False):
            assert ((labels["track"] == r.track) & (labels["end"] >= r.start)).any()
    assert labels_all == 18
    assert found_all == labels_all
