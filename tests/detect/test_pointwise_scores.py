"""Per-step scores from overlapping windows, smoothing and events from flagged steps."""

import numpy as np
import pandas as pd
import pytest

from squall.data import windowset
from squall.data.scaling import Scaler
from squall.data.sensor_csv import read_sensor_csv
from squall.data.windows import WindowSettings, make_windows, resolve_settings
from squall.detect.pointwise import smooth, step_events, step_scores
from squall.errors import SquallError


@pytest.fixture
def ws(tmp_path):
    t = pd.date_range("2024-01-01", periods=40, freq="1h")
    a = pd.DataFrame({"timestamp": t, "x": np.sin(np.arange(40) / 3), "y": np.arange(40.0)})
    b = a.assign(x=a["x"] * 2)
    a.to_csv(tmp_path / "a.csv", index=False)
    b.iloc[:30].to_csv(tmp_path / "b.csv", index=False)
    obs = read_sensor_csv([tmp_path / "a.csv", tmp_path / "b.csv"])
    settings = resolve_settings(WindowSettings(length=5), obs)
    windows = make_windows(obs, settings)
    return windowset.build(windows, obs, Scaler("minmax", obs.features).fit(obs.values()))


def test_step_scores_cover_every_step_once_per_track_in_time_order(ws):
    s = step_scores(ws, ws.x.copy())
    assert len(s) == 70 and sorted(set(s.track)) == ["a", "b"]
    assert np.all(s.score == 0)
    for _, idx in s.tracks():
        assert np.all(np.diff(s.start[idx].astype("int64")) > 0)
    assert str(s.start[0]).startswith("2024-01-01T00:00")


def test_median_reconstruction_ignores_one_bad_window_the_mean_does_not(ws):
    recon = ws.x.copy()
    recon[10, 2, 0] += 1.0  # one window reconstructs one step badly
    step = ws.steps[10, 2]
    med = step_scores(ws, recon, "recon-median")
    mean = step_scores(ws, recon, "error-mean")
    emed = step_scores(ws, recon, "error-median")
    at = lambda s: s.score[np.flatnonzero(s.step == step)[0]]  # noqa: E731
    assert at(med) == 0 and at(emed) == 0
    assert at(mean) == pytest.approx(0.5 / 5)  # |1| on 1 of 2 features, 1 of 5 windows
    # every window off by 0.2 on feature x at every step: score 0.1 everywhere
    shifted = ws.x + np.array([0.2, 0.0])
    assert np.allclose(step_scores(ws, shifted).score, 0.1)


def test_step_scores_check_shapes(ws):
    with pytest.raises(SquallError, match="per-step score"):
        step_scores(ws, ws.x, "nope")
    with pytest.raises(SquallError, match="shape"):
        step_scores(ws, ws.x[:3], "recon-median")


def test_ewma_smoothing_with_a_warm_start():
    x = np.zeros(50)
    x[0] = 10.0
    y = smooth(x, 9)
    assert y[0] == pytest.approx(10.0 * 0.2 / (1 - 0.8**10), rel=0.01) and y[0] < 3
    z = np.ones(20)
    z[5] = np.nan
    out = smooth(z, 5)
    assert np.isnan(out[5]) and np.allclose(out[~np.isnan(out)], 1.0)
    assert np.array_equal(smooth(x, None), x) and np.array_equal(smooth(x, 1), x)


def test_step_events_pad_merge_and_stay_within_a_track(ws):
    s = step_scores(ws, ws.x.copy())
    flags = np.zeros(len(s), bool)
    (a, ia), (b, ib) = s.tracks()
    flags[ia[[5, 6, 9]]] = True
    flags[ib[0]] = True
    ev = step_events(s, flags, values=np.arange(len(s), dtype=float))
    assert ev["track"].tolist() == ["a", "a", "b"]
    assert ev["steps"].tolist() == [2, 1, 1]
    merged = step_events(s, flags, merge_gap=2)
    assert merged["steps"].tolist() == [5, 1]
    padded = step_events(s, flags, pad=1, merge_gap=0)
    # 4-7 and 8-10 touch after padding: one event; the track b event is cut at its first step
    assert padded["steps"].tolist() == [7, 2]
    assert padded["start"].iloc[1] == pd.Timestamp("2024-01-01 00:00")
    assert ev["score"].iloc[0] == float(ia[6])


def test_split_points_cut_at_deep_valleys_only():
    from squall.detect.pointwise import split_points

    two = np.array([1, 5, 9, 5, 1, 5, 9, 5, 1], dtype=float)
    # the valley at index 4 is 8 below both peaks: the whole range (8) deep
    assert split_points(two, 0.5) == [4]
    shallow = np.array([1, 5, 9, 8, 7, 8, 9, 5, 1], dtype=float)
    # a dip of 2 in a range of 8 is not a valley at half-prominence
    assert split_points(shallow, 0.5) == [] and split_points(shallow, 0.2) == [4]
    # each part keeps min_steps steps: a valley 2 steps from the end cannot cut with min_steps 3
    edge = np.array([9, 1, 9, 9, 9, 9, 9], dtype=float)
    assert split_points(edge, 0.5, min_steps=1) == [1]
    assert split_points(edge, 0.5, min_steps=3) == []
    # three peaks: both valleys, found by cutting the parts again
    three = np.array([0, 9, 0, 9, 0, 9, 0], dtype=float)
    assert split_points(three, 0.5) == [2, 4]
    # scale-free: the same shape at any scale gives the same cuts
    assert split_points(1e-6 * two + 3.0, 0.5) == [4]
    # NaN steps count as the lowest; too few scores or no valley rule: no cut
    assert split_points(np.array([9, np.nan, 1, 9.0]), 0.5) == [1]
    assert split_points(np.array([9, np.nan, 9.0]), 0.5) == []  # two scores: nothing to cut
    assert split_points(np.array([1.0, 2.0]), 0.5) == [] and split_points(two, 0) == []


def test_step_events_summarise_or_split_long_events(ws):
    s = step_scores(ws, ws.x.copy())
    (_, ia), _ = s.tracks()
    flags = np.zeros(len(s), bool)
    flags[ia[2:11]] = True  # one run of 9 steps with two peaks
    values = np.zeros(len(s))
    values[ia[2:11]] = [1, 5, 9, 5, 1, 5, 9.5, 5, 1]
    whole = step_events(s, flags, values=values)
    assert len(whole) == 1 and whole["peaks"].iloc[0] == 2 and whole["steps"].iloc[0] == 9
    assert whole["peak"].iloc[0] == s.start[ia[8]]  # the higher peak, 9.5
    parts = step_events(s, flags, values=values, split=True)
    assert parts["steps"].tolist() == [5, 4] and parts["peaks"].tolist() == [1, 1]
    assert parts["score"].tolist() == [9.0, 9.5]
    assert parts["first"].iloc[1] == parts["last"].iloc[0] + 1  # contiguous, no step lost
